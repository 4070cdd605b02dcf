//! Users in groups, as the REST API's user-group calls make them: a user in a group means every
//! connection of that user, those connected now and those that connect later, until the
//! membership's ttl passes. The hub asks this store at send time which users a group holds,
//! so nothing has to happen when a user's connection comes or goes.
//!
//! Time is the hub's clock (milliseconds), passed in, so expiry is tested without waiting.
//! Memory is bounded: at most [`MAX_MEMBERSHIPS`] entries per hub (expired ones are dropped
//! first), and at most [`MAX_FOREVER_PER_USER`] groups without a ttl per user, the least
//! recently updated giving way, as the service documents for its 2022-06-01 API.

use std::collections::{HashMap, HashSet};

/// User memberships one hub keeps.
pub(super) const MAX_MEMBERSHIPS: usize = 10_000;

/// Groups one user may be in without a ttl; adding one more drops the least recently updated.
pub(super) const MAX_FOREVER_PER_USER: usize = 100;

/// One user's membership of one group.
#[derive(Debug, Clone, Copy)]
struct Membership {
    /// When it ends (hub clock, ms); `None`: never.
    expires: Option<u64>,
    /// Order of the last update, for dropping the least recently updated.
    updated: u64,
}

impl Membership {
    fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }
}

/// Which users are in which groups.
#[derive(Debug, Default)]
pub(super) struct UserGroups {
    /// Group → user → membership.
    by_group: HashMap<String, HashMap<String, Membership>>,
    /// User → the groups they are in (the same entries, found from the other side).
    by_user: HashMap<String, HashSet<String>>,
    len: usize,
    updates: u64,
}

impl UserGroups {
    /// Puts `user` in `group` until `expires` (`None`: for good), replacing an earlier
    /// membership of the same pair. `Err` when the hub keeps as many as it may.
    pub(super) fn add(&mut self, group: &str, user: &str, expires: Option<u64>, now: u64) -> Result<(), String> {
        let known = self.by_group.get(group).is_some_and(|users| users.contains_key(user));
        if !known && self.len >= MAX_MEMBERSHIPS {
            self.drop_expired(now);
            if self.len >= MAX_MEMBERSHIPS {
                return Err(format!("this hub already keeps {MAX_MEMBERSHIPS} user group memberships"));
            }
        }
        if expires.is_none() {
            self.make_room_forever(group, user);
        }
        self.updates += 1;
        let membership = Membership { expires, updated: self.updates };
        if self.by_group.entry(group.to_string()).or_default().insert(user.to_string(), membership).is_none() {
            self.len += 1;
        }
        self.by_user.entry(user.to_string()).or_default().insert(group.to_string());
        Ok(())
    }

    /// Before a membership without ttl: drops the user's least recently updated one if they
    /// already have as many as they may (`group` itself aside).
    fn make_room_forever(&mut self, group: &str, user: &str) {
        let Some(groups) = self.by_user.get(user) else { return };
        let forever: Vec<(u64, &String)> = groups
            .iter()
            .filter(|g| g.as_str() != group)
            .filter_map(|g| self.by_group.get(g)?.get(user).filter(|m| m.expires.is_none()).map(|m| (m.updated, g)))
            .collect();
        if forever.len() >= MAX_FOREVER_PER_USER {
            if let Some((_, oldest)) = forever.iter().min() {
                let oldest = (*oldest).clone();
                self.remove(&oldest, user);
            }
        }
    }

    /// Takes `user` out of `group`; false if they were not in it.
    pub(super) fn remove(&mut self, group: &str, user: &str) -> bool {
        let Some(users) = self.by_group.get_mut(group) else { return false };
        let removed = users.remove(user).is_some();
        if users.is_empty() {
            self.by_group.remove(group);
        }
        if let Some(groups) = self.by_user.get_mut(user) {
            groups.remove(group);
            if groups.is_empty() {
                self.by_user.remove(user);
            }
        }
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Takes `user` out of every group; returns how many they were in.
    pub(super) fn remove_user(&mut self, user: &str) -> usize {
        let groups: Vec<String> = self.by_user.get(user).map(|g| g.iter().cloned().collect()).unwrap_or_default();
        groups.iter().filter(|group| self.remove(group, user)).count()
    }

    /// Whether `user` is in `group` now.
    pub(super) fn contains(&mut self, group: &str, user: &str, now: u64) -> bool {
        let live = self.by_group.get(group).and_then(|users| users.get(user)).map(|m| m.live(now));
        if live == Some(false) {
            self.remove(group, user);
        }
        live == Some(true)
    }

    /// The users in `group` now (the expired ones are dropped on the way).
    pub(super) fn users_in(&mut self, group: &str, now: u64) -> Vec<String> {
        let Some(users) = self.by_group.get(group) else { return Vec::new() };
        let (live, expired): (Vec<_>, Vec<_>) = users.iter().partition(|(_, m)| m.live(now));
        let live: Vec<String> = live.into_iter().map(|(user, _)| user.clone()).collect();
        let expired: Vec<String> = expired.into_iter().map(|(user, _)| user.clone()).collect();
        for user in expired {
            self.remove(group, &user);
        }
        live
    }

    /// The groups `user` is in now.
    pub(super) fn groups_of(&self, user: &str, now: u64) -> Vec<String> {
        let Some(groups) = self.by_user.get(user) else { return Vec::new() };
        groups
            .iter()
            .filter(|g| self.by_group.get(*g).and_then(|users| users.get(user)).is_some_and(|m| m.live(now)))
            .cloned()
            .collect()
    }

    /// Memberships kept, expired ones not yet dropped included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn drop_expired(&mut self, now: u64) {
        let expired: Vec<(String, String)> = self
            .by_group
            .iter()
            .flat_map(|(group, users)| {
                users.iter().filter(|(_, m)| !m.live(now)).map(move |(user, _)| (group.clone(), user.clone()))
            })
            .collect();
        for (group, user) in expired {
            self.remove(&group, &user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_lasts_until_its_ttl_and_one_without_lasts() {
        let mut store = UserGroups::default();
        store.add("g", "ann", Some(1_000), 0).unwrap();
        store.add("g", "bob", None, 0).unwrap();
        assert!(store.contains("g", "ann", 999));
        let mut users = store.users_in("g", 999);
        users.sort();
        assert_eq!(users, ["ann", "bob"]);
        assert_eq!(store.users_in("g", 1_000), ["bob"], "ann's ttl passed");
        assert!(!store.contains("g", "ann", 1_000));
        assert_eq!(store.len(), 1, "the expired membership is dropped");
        assert!(store.contains("g", "bob", u64::MAX));
        // A new PUT replaces the old membership, ttl included.
        store.add("g", "bob", Some(5), 0).unwrap();
        assert!(!store.contains("g", "bob", 5));
    }

    #[test]
    fn a_user_leaves_one_group_or_all() {
        let mut store = UserGroups::default();
        for group in ["a", "b", "c"] {
            store.add(group, "ann", None, 0).unwrap();
        }
        store.add("a", "bob", None, 0).unwrap();
        assert!(store.remove("b", "ann"));
        assert!(!store.remove("b", "ann"));
        let mut groups = store.groups_of("ann", 0);
        groups.sort();
        assert_eq!(groups, ["a", "c"]);
        assert_eq!(store.remove_user("ann"), 2);
        assert!(store.groups_of("ann", 0).is_empty());
        assert_eq!(store.users_in("a", 0), ["bob"]);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn memory_is_bounded_per_hub_and_per_user() {
        let mut store = UserGroups::default();
        for n in 0..MAX_FOREVER_PER_USER + 5 {
            store.add(&format!("g{n}"), "ann", None, 0).unwrap();
        }
        assert_eq!(store.groups_of("ann", 0).len(), MAX_FOREVER_PER_USER);
        assert!(!store.contains("g0", "ann", 0), "the least recently updated gave way");
        assert!(store.contains(&format!("g{}", MAX_FOREVER_PER_USER + 4), "ann", 0));

        let mut store = UserGroups::default();
        for n in 0..MAX_MEMBERSHIPS {
            store.add("g", &format!("u{n}"), Some(10), 0).unwrap();
        }
        assert!(store.add("g", "one-more", Some(10), 0).is_err(), "full");
        store.add("g", "u0", Some(20), 0).expect("an update of a kept membership still works");
        // Once the others expired, there is room again.
        store.add("g", "one-more", None, 10).unwrap();
        assert_eq!(store.len(), 2);
    }
}

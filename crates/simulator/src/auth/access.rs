//! Who may do what: the roles (`viewer` reads, `operator` also acts) and the sites of a signed-in
//! user, from their token's claims and the `--access` file, and the rules that combine them.
//!
//! The access file (JSON) grants roles and sites to users, and sites to roles:
//!
//! ```json
//! {
//!   "users": {
//!     "alice": { "roles": ["operator"], "sites": ["harbour"] },
//!     "username:victor@example.com": { "roles": ["viewer"] }
//!   },
//!   "roles": {
//!     "viewer": { "sites": ["harbour", "airport"] },
//!     "operator": { "sites": ["*"] }
//!   }
//! }
//! ```
//!
//! A user entry is found by the token's `sub` (the user's id, which the provider never gives
//! anyone else). A key `username:<name>` matches the token's `preferred_username` instead: only
//! for providers where no one can change their own username (at Microsoft Entra ID it can be
//! changed, and Microsoft advises against authorizing by it: key by `sub` there). `"*"` among sites
//! is every site. Both parts are optional; unknown fields, unknown roles and site ids a
//! `site:<id>` group cannot carry are refused when the file is read, with the place named.
//!
//! The rules ([`Access::grant`]): the roles are those of the token's roles claim and those of
//! the user's entry together (other role names are ignored). The sites are the token's sites
//! claim when it has one; else the user entry's `sites`; else the union of the sites of the
//! user's roles in the file's `roles`; else, with no access file at all, every site; else none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

/// An access file's key that names a user by `preferred_username` rather than by `sub`.
pub const USERNAME_PREFIX: &str = "username:";
use telemetry::auth::{ROLE_OPERATOR, ROLE_VIEWER};

/// The sites a user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sites {
    /// Every site, those to come included.
    All,
    /// These only (possibly none).
    Only(BTreeSet<String>),
}

impl Sites {
    /// Whether `site` is among them.
    pub fn contains(&self, site: &str) -> bool {
        match self {
            Sites::All => true,
            Sites::Only(sites) => sites.contains(site),
        }
    }

    /// Sites from a list in which `"*"` means every site.
    fn from_list<'a>(list: impl IntoIterator<Item = &'a String>) -> Self {
        let mut only = BTreeSet::new();
        for site in list {
            if site == "*" {
                return Sites::All;
            }
            only.insert(site.clone());
        }
        Sites::Only(only)
    }

    /// Both together.
    fn union(self, other: Sites) -> Sites {
        match (self, other) {
            (Sites::Only(mut a), Sites::Only(b)) => {
                a.extend(b);
                Sites::Only(a)
            }
            _ => Sites::All,
        }
    }
}

/// A role the functions know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads: snapshot, catalog, history and live data of their sites.
    Viewer,
    /// Also acknowledges, shelves, takes out of service and edits geofences.
    Operator,
}

impl Role {
    /// The role a name stands for (`viewer`, `operator`); `None` for any other.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            ROLE_VIEWER => Some(Role::Viewer),
            ROLE_OPERATOR => Some(Role::Operator),
            _ => None,
        }
    }

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => ROLE_VIEWER,
            Role::Operator => ROLE_OPERATOR,
        }
    }
}

/// What the token says about its user, as far as access goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenGrants {
    /// `sub`.
    pub subject: String,
    /// `preferred_username`, if any (the access file may name users by it).
    pub username: Option<String>,
    /// The roles claim's entries (any names; only `viewer` and `operator` count).
    pub roles: Vec<String>,
    /// The sites claim's entries, `None` when the token has no such claim.
    pub sites: Option<Vec<String>>,
}

/// The roles and sites granted to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub roles: BTreeSet<Role>,
    pub sites: Sites,
}

/// The `--access` file, read and checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    users: BTreeMap<String, Entry>,
    roles: BTreeMap<Role, Sites>,
}

/// One user's entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    roles: BTreeSet<Role>,
    sites: Option<Sites>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    users: BTreeMap<String, UserShape>,
    #[serde(default)]
    roles: BTreeMap<String, RoleShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserShape {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    sites: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleShape {
    sites: Vec<String>,
}

/// Whether `site` may stand in a list of sites: `"*"`, or an id a `site:<id>` group carries.
fn check_site(site: &str, place: &str) -> Result<(), String> {
    if site == "*" || telemetry::groups::is_valid(&telemetry::groups::site(site)) {
        return Ok(());
    }
    Err(format!(
        "{place}: site {site:?} is not a site id (1 to 128 of letters, digits, '-', '_', '.'; or \"*\" for every site)"
    ))
}

fn role_of(name: &str, place: &str) -> Result<Role, String> {
    Role::parse(name).ok_or_else(|| format!("{place}: unknown role {name:?} ({ROLE_VIEWER:?} or {ROLE_OPERATOR:?})"))
}

impl Access {
    /// Reads the file at `path`; `Err` names the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--access {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("--access {}: {e}", path.display()))
    }

    /// Reads an access file's text; `Err` says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected {\"users\": {...}, \"roles\": {...}}";
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not an access file ({e}); {expected}"))?;
        if !value.is_object() {
            return Err(format!("not an access file (not a JSON object); {expected}"));
        }
        let shape: FileShape =
            serde_json::from_value(value).map_err(|e| format!("not an access file ({e}); {expected}"))?;
        let mut access = Access::default();
        for (user, entry) in shape.users {
            let place = format!("users.{user:?}");
            if user.trim().is_empty() {
                return Err("users: a user's name is empty".into());
            }
            let roles = entry.roles.iter().map(|r| role_of(r, &format!("{place}.roles"))).collect::<Result<_, _>>()?;
            if let Some(sites) = &entry.sites {
                for site in sites {
                    check_site(site, &format!("{place}.sites"))?;
                }
            }
            let sites = entry.sites.as_ref().map(Sites::from_list);
            access.users.insert(user, Entry { roles, sites });
        }
        for (name, entry) in shape.roles {
            let role = role_of(&name, "roles")?;
            for site in &entry.sites {
                check_site(site, &format!("roles.{name:?}.sites"))?;
            }
            access.roles.insert(role, Sites::from_list(&entry.sites));
        }
        Ok(access)
    }

    /// The roles and sites of the user `token` describes, under `file` (`None`: no access file
    /// was given). See the module's rules.
    pub fn grant(file: Option<&Access>, token: &TokenGrants) -> Granted {
        let entry = file.and_then(|file| {
            file.users.get(&token.subject).or_else(|| {
                token.username.as_ref().and_then(|name| file.users.get(&format!("{USERNAME_PREFIX}{name}")))
            })
        });
        let mut roles: BTreeSet<Role> = token.roles.iter().filter_map(|r| Role::parse(r)).collect();
        if let Some(entry) = entry {
            roles.extend(entry.roles.iter().copied());
        }
        let sites = match (&token.sites, file) {
            (Some(claimed), _) => Sites::from_list(claimed),
            (None, None) => Sites::All,
            (None, Some(file)) => match entry.and_then(|e| e.sites.clone()) {
                Some(sites) => sites,
                None => roles
                    .iter()
                    .filter_map(|role| file.roles.get(role).cloned())
                    .fold(Sites::Only(BTreeSet::new()), Sites::union),
            },
        };
        Granted { roles, sites }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(sites: &[&str]) -> Sites {
        Sites::Only(sites.iter().map(|s| s.to_string()).collect())
    }

    fn token(subject: &str, roles: &[&str], sites: Option<&[&str]>) -> TokenGrants {
        TokenGrants {
            subject: subject.into(),
            username: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            sites: sites.map(|s| s.iter().map(|s| s.to_string()).collect()),
        }
    }

    const FILE: &str = r#"{
        "users": {
            "alice": {"roles": ["operator"], "sites": ["harbour"]},
            "victor": {"roles": ["viewer"]},
            "root": {"sites": ["*"]}
        },
        "roles": {"viewer": {"sites": ["harbour", "airport"]}, "operator": {"sites": ["old-town"]}}
    }"#;

    #[test]
    fn the_token_claim_wins_then_the_user_entry_then_the_roles_then_every_site_without_a_file() {
        let file = Access::parse(FILE).unwrap();
        // The token's sites claim, whatever the file says.
        let granted = Access::grant(Some(&file), &token("alice", &[], Some(&["airport"])));
        assert_eq!(granted.sites, only(&["airport"]));
        assert_eq!(granted.roles, BTreeSet::from([Role::Operator]), "the file's roles");
        // The user entry's sites.
        assert_eq!(Access::grant(Some(&file), &token("alice", &[], None)).sites, only(&["harbour"]));
        // The union of the sites of the user's roles: the file's and the token's.
        let victor = Access::grant(Some(&file), &token("victor", &["operator"], None));
        assert_eq!(victor.roles, BTreeSet::from([Role::Viewer, Role::Operator]));
        assert_eq!(victor.sites, only(&["airport", "harbour", "old-town"]));
        // "*" is every site.
        assert_eq!(Access::grant(Some(&file), &token("root", &["viewer"], None)).sites, Sites::All);
        assert_eq!(Access::grant(Some(&file), &token("x", &[], Some(&["a", "*"]))).sites, Sites::All);
        // Nobody in the file, no role with sites: none.
        let stranger = Access::grant(Some(&file), &token("mallory", &["admin"], None));
        assert_eq!((stranger.roles.len(), stranger.sites), (0, only(&[])));
        // No file: every site, the token's roles only.
        let open = Access::grant(None, &token("bob", &["viewer", "admin"], None));
        assert_eq!((open.roles, open.sites), (BTreeSet::from([Role::Viewer]), Sites::All));
        // A username is no id: it finds no entry keyed by `sub`, only one keyed `username:`.
        let mut by_name = token("0f3c-uuid", &[], None);
        by_name.username = Some("alice".into());
        assert_eq!(Access::grant(Some(&file), &by_name).sites, only(&[]));
        let with_prefix =
            Access::parse(r#"{"users": {"username:alice": {"roles": ["viewer"], "sites": ["airport"]}}}"#).unwrap();
        let granted = Access::grant(Some(&with_prefix), &by_name);
        assert_eq!((granted.roles, granted.sites), (BTreeSet::from([Role::Viewer]), only(&["airport"])));
    }

    #[test]
    fn a_bad_access_file_says_what_and_where() {
        let cases = [
            ("[]", "not an access file"),
            (r#"{"user": {}}"#, "unknown field `user`"),
            (r#"{"users": {"a": {"roles": ["admin"]}}}"#, "users.\"a\".roles: unknown role \"admin\""),
            (r#"{"users": {"a": {"sites": ["no spaces"]}}}"#, "users.\"a\".sites: site \"no spaces\""),
            (r#"{"users": {"a": {"role": []}}}"#, "unknown field `role`"),
            (r#"{"roles": {"boss": {"sites": []}}}"#, "roles: unknown role \"boss\""),
            (r#"{"roles": {"viewer": {}}}"#, "missing field `sites`"),
            (r#"{"roles": {"viewer": {"sites": [""]}}}"#, "roles.\"viewer\".sites: site \"\""),
            (r#"{"users": {" ": {}}}"#, "a user's name is empty"),
        ];
        for (text, expected) in cases {
            let error = Access::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
        assert_eq!(Access::parse("{}").unwrap(), Access::default());
    }
}

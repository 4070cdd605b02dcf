//! The catch-up after every connect, retried until it succeeds: the snapshot loaded and every
//! site's group joined (see [`crate::model::sync`]). While it has not, the page is connected
//! but says it is syncing, with the reason and a countdown; the data that does arrive is
//! applied meanwhile. A site the live data names that was never joined starts it again.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use leptos::prelude::{Set, Update, WithUntracked};
use leptos::task::spawn_local;

use super::api::Api;
use crate::model::sync::{retry_delay, SyncState};
use crate::store::Store;

/// Runs the catch-up of the current connection; `Clone` shares it.
#[derive(Clone)]
pub struct Syncer {
    inner: Rc<Inner>,
}

struct Inner {
    api: Api,
    store: Store,
    /// Bumped on every connect: an older catch-up stops at its next step.
    generation: Cell<u64>,
    connection_id: RefCell<Option<String>>,
    /// Sites joined, or to join.
    sites: RefCell<HashSet<String>>,
    /// A catch-up is running (it joins every site known when it asks).
    running: Cell<bool>,
    /// Sites joined at most (config `maxSites`): a wire that names made-up sites cannot grow
    /// the set, or the group joins, without bound.
    max_sites: usize,
}

impl Syncer {
    pub fn new(api: Api, store: Store, max_sites: usize) -> Self {
        let inner = Inner {
            api,
            store,
            generation: Cell::new(0),
            connection_id: RefCell::new(None),
            sites: RefCell::new(HashSet::new()),
            running: Cell::new(false),
            max_sites,
        };
        Self { inner: Rc::new(inner) }
    }

    /// A new connection (the first, or after a reconnect): catch up from the start.
    pub fn connected(&self, connection_id: String) {
        *self.inner.connection_id.borrow_mut() = Some(connection_id);
        self.restart();
    }

    /// Sites named by live data. One not joined yet (a site that appeared after the snapshot)
    /// is joined, with retries like the catch-up; names that are not valid group ids are left
    /// out (the functions would refuse them).
    pub fn saw_sites<'a>(&self, sites: impl Iterator<Item = &'a str>) {
        let mut last = "";
        let mut new = Vec::new();
        for site in sites {
            // Batches come per site: compare with the last one before hashing.
            if site != last && !self.inner.sites.borrow().contains(site) {
                let room = self.inner.sites.borrow().len() < self.inner.max_sites;
                // A signed-in user's sites, as the functions said: others (named by a pushed
                // catalog) are not asked for, since one refused group fails the whole call.
                let theirs = self.inner.store.identity.with_untracked(|i| i.as_ref().is_none_or(|i| i.sees(site)));
                if !theirs {
                    // Neither joined nor counted as refused for want of room.
                } else if !telemetry::groups::is_valid(&telemetry::groups::site(site)) {
                    // Not a group the functions would take: its data still shows.
                } else if room {
                    self.inner.sites.borrow_mut().insert(site.to_string());
                    new.push(site.to_string());
                } else {
                    self.inner.store.refused_sites.update(|r| r.refuse(site));
                }
            }
            last = site;
        }
        // While a catch-up runs it joins every site known by then.
        if !new.is_empty() && !self.inner.running.get() {
            let generation = self.inner.generation.get();
            spawn_local(self.clone().join(new, generation));
        }
    }

    /// The connection is gone (reconnecting, or closed for good): its catch-up stops; the next
    /// connection starts its own.
    pub fn disconnected(&self) {
        self.inner.generation.set(self.inner.generation.get() + 1);
        *self.inner.connection_id.borrow_mut() = None;
        self.inner.running.set(false);
        self.inner.store.sync.set(SyncState::Idle);
    }

    /// Stateful reconnect resumed the same connection: nothing was lost, so the catch-up stands
    /// where it stood (a running one goes on by itself).
    pub fn resumed(&self) {
        if !self.inner.running.get() {
            self.inner.store.sync.set(SyncState::Synced);
        }
    }

    fn restart(&self) {
        let generation = self.inner.generation.get() + 1;
        self.inner.generation.set(generation);
        spawn_local(self.clone().run(generation));
    }

    /// The catch-up of connection `generation`: the snapshot and every group, until both work.
    async fn run(self, generation: u64) {
        self.inner.running.set(true);
        let store = self.inner.store;
        store.sync.set(SyncState::started());
        let mut failures = 0;
        while self.inner.generation.get() == generation {
            let Some(connection_id) = self.inner.connection_id.borrow().clone() else { break };
            let seen: Vec<String> = self.inner.sites.borrow().iter().cloned().collect();
            let result = super::resynchronise(&self.inner.api, &connection_id, store, seen, self.inner.max_sites).await;
            if self.inner.generation.get() != generation {
                return;
            }
            match result {
                Ok(joined) => {
                    // What is joined now, then the sites seen while the attempt ran and not in
                    // it, joined next while there is room (the rest are counted as refused).
                    let missed: Vec<String> = {
                        let mut sites = self.inner.sites.borrow_mut();
                        let mut missed = Vec::new();
                        // Nothing joined: a hub without a snapshot, or no sites at all yet.
                        let seen = if joined.is_empty() { HashSet::new() } else { std::mem::take(&mut *sites) };
                        sites.extend(joined);
                        for site in seen {
                            if sites.contains(&site) {
                                continue;
                            }
                            if sites.len() < self.inner.max_sites {
                                sites.insert(site.clone());
                                missed.push(site);
                            } else {
                                store.refused_sites.update(|r| r.refuse(&site));
                            }
                        }
                        missed
                    };
                    self.inner.running.set(false);
                    store.sync_error.set(None);
                    store.sync.set(SyncState::Synced);
                    if !missed.is_empty() {
                        spawn_local(self.clone().join(missed, generation));
                    }
                    return;
                }
                Err(problem) => {
                    failures += 1;
                    self.wait_to_retry(failures, problem).await;
                }
            }
        }
        // Only this connection's catch-up may say none runs (a newer one may be running).
        if self.inner.generation.get() == generation {
            self.inner.running.set(false);
        }
    }

    /// Joins the groups of `sites` on connection `generation`, retrying until it works.
    async fn join(self, sites: Vec<String>, generation: u64) {
        let store = self.inner.store;
        let groups: Vec<String> = sites.iter().map(|site| telemetry::groups::site(site)).collect();
        let mut failures = 0;
        while self.inner.generation.get() == generation && !self.inner.running.get() {
            let Some(connection_id) = self.inner.connection_id.borrow().clone() else { return };
            match super::subscribe_all(&self.inner.api, &connection_id, &groups).await {
                Ok(()) => {
                    if failures > 0 && !self.inner.running.get() {
                        store.sync_error.set(None);
                        store.sync.set(SyncState::Synced);
                    }
                    return;
                }
                Err(problem) => {
                    failures += 1;
                    self.wait_to_retry(failures, problem).await;
                }
            }
        }
    }

    async fn wait_to_retry(&self, failures: u32, problem: String) {
        let store = self.inner.store;
        let delay = retry_delay(failures, js_sys::Math::random());
        let retry_at = Some(signalr::web::now() + delay);
        store.sync_error.set(Some(problem.clone()));
        store.sync.set(SyncState::Syncing { failures, retry_at, problem: Some(problem) });
        sleep(delay).await;
    }
}

/// Resolves after `ms` milliseconds.
async fn sleep(ms: u64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms.min(i32::MAX as u64) as i32);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

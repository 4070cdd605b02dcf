//! Data in, redraw once per frame: hub batches change the plain data in the store at once
//! (untracked), and the views hear about it at the next animation frame, however many batches
//! came in between. A burst of a hundred batches then costs a hundred cheap updates and one
//! render, and a batch is applied without waiting for the views it changes.

use std::cell::Cell;

use leptos::prelude::{request_animation_frame, Notify};

use crate::store::Store;

/// Parts of the store whose views are owed a notification.
#[derive(Clone, Copy)]
pub enum Part {
    Fleet = 1,
    Equipment = 2,
    Traffic = 4,
}

thread_local! {
    static DIRTY: Cell<u8> = const { Cell::new(0) };
}

/// `part` changed: its views re-run at the next animation frame.
pub fn changed(store: Store, part: Part) {
    let before = DIRTY.with(|d| d.replace(d.get() | part as u8));
    if before == 0 {
        request_animation_frame(move || notify(store));
    }
}

fn notify(store: Store) {
    let dirty = DIRTY.with(|d| d.replace(0));
    if dirty & Part::Fleet as u8 != 0 {
        store.fleet.notify();
    }
    if dirty & Part::Equipment as u8 != 0 {
        store.equipment.notify();
    }
    if dirty & Part::Traffic as u8 != 0 {
        store.traffic.notify();
        store.messages.notify();
    }
}

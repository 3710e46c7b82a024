//! Per-thread scratch buffers, reused across calls: each kernel declares its
//! own `thread_local!` `Cell<Vec<f32>>` slots and borrows them through
//! [`take_scratch`] / [`give_back_scratch`].

use std::cell::Cell;
use std::thread::LocalKey;

/// Takes this thread's cached buffer out of `key`, grown to at least `len`
/// (contents unspecified).  Re-entrant use (a rayon thread running a nested
/// kernel while it waits) finds the slot empty and simply allocates.
pub(crate) fn take_scratch(key: &'static LocalKey<Cell<Vec<f32>>>, len: usize) -> Vec<f32> {
    let mut v = key.take();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

/// Returns a buffer to this thread's cache, keeping the larger of the two.
pub(crate) fn give_back_scratch(key: &'static LocalKey<Cell<Vec<f32>>>, v: Vec<f32>) {
    let old = key.take();
    key.set(if old.len() > v.len() { old } else { v });
}

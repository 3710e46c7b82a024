//! A process-wide request to stop long work at the next consistent point.
//! Training stops after the current epoch's checkpoint, surfaces after the
//! current grid point, Hessian jobs between their probes; what was written
//! stays resumable. The command line sets the request from SIGINT/SIGTERM;
//! a Rust user may set it from any thread.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks running jobs to stop at their next consistent point. Safe to call
/// from a signal handler (one atomic store).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop has been requested.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Withdraws a stop request (before starting new work in the same process).
pub fn clear_stop() {
    STOP.store(false, Ordering::SeqCst);
}

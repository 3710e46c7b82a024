//! Progress reports of long library runs. The library calls a [`Progress`];
//! the command line draws bars from it, a Rust caller may ignore it
//! ([`Quiet`]). Calls may come from several threads at once.

/// Receives the progress of a run.
pub trait Progress: Sync {
    /// A stage of `total` steps counted in `unit` (e.g. "points") begins.
    fn start(&self, _total: usize, _unit: &str) {}
    /// The current stage is now doing `what` (e.g. "trace").
    fn phase(&self, _what: &str) {}
    /// One step is done.
    fn tick(&self) {}
    /// The stage is over.
    fn finish(&self) {}
    /// A line worth telling the user (e.g. which direction of several).
    fn note(&self, _text: &str) {}
}

/// Progress that goes nowhere.
pub struct Quiet;

impl Progress for Quiet {}

//! Progress bars on stderr for the library's [`Progress`] reports.

use indicatif::{ProgressBar, ProgressStyle};
use landscape::Progress;
use std::sync::Mutex;

/// One bar per stage (none when quiet); notes go to stderr above it.
pub struct Bars {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars, or none at all with `quiet` (notes are still printed).
    pub fn new(quiet: bool) -> Bars {
        Bars { quiet, bar: Mutex::new(None) }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            f(b);
        }
    }
}

impl Progress for Bars {
    fn start(&self, total: usize, unit: &str) {
        if self.quiet || total == 0 {
            return;
        }
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template(&format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit}, ETA {{eta}}"))
                .expect("template")
                .progress_chars("=> "),
        );
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(b);
    }
    fn phase(&self, what: &str) {
        self.with(|b| b.set_message(what.to_string()));
    }
    fn tick(&self) {
        self.with(|b| b.inc(1));
    }
    fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }
    fn note(&self, text: &str) {
        match self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(b) => b.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

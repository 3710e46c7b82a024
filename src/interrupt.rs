//! SIGINT and SIGTERM ask running jobs to stop at their next consistent
//! point (`nn::interrupt`): a training run after its checkpoint, a surface
//! after its grid point, so `--resume` continues from there. A second
//! signal ends the process at once.

#[cfg(unix)]
mod unix {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
        fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    }
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    const SIG_DFL: usize = 0;
    const MESSAGE: &[u8] = b"\nllv: stopping at the next consistent point (a second Ctrl-C stops at once)\n";

    extern "C" fn on_signal(sig: i32) {
        nn::interrupt::request_stop();
        // SAFETY: write and signal are async-signal-safe; MESSAGE is static.
        unsafe {
            write(2, MESSAGE.as_ptr(), MESSAGE.len());
            signal(sig, SIG_DFL);
        }
    }

    pub fn install() {
        let handler = on_signal as extern "C" fn(i32) as usize;
        // SAFETY: installs a handler that only stores an atomic flag and
        // calls async-signal-safe functions.
        unsafe {
            signal(SIGINT, handler);
            signal(SIGTERM, handler);
        }
    }
}

/// Installs the handlers (a no-op off Unix).
pub fn install() {
    #[cfg(unix)]
    unix::install();
}

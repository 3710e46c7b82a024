//! What commands print and write besides the library's files.

use super::CliError;
use std::path::{Path, PathBuf};

/// Writes `text` to stdout. A closed pipe (`llv models | head`) ends the
/// program quietly instead of panicking like `println!` would.
pub fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `1234567` → `"1,234,567"`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// " and a, b, c" for a list of written files (empty when none).
pub fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        String::new()
    } else {
        format!(" and {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
    }
}

/// Writes `bytes` to `path` atomically (a temporary file, then a rename), so
/// a kill never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    landscape::export::write_atomic(path, bytes).map_err(CliError::from)
}

/// Output folders of commands that write files.
pub mod out_dir {
    use super::CliError;
    use std::path::Path;

    /// Makes `out` ready for a new or resumed run and locks it for this
    /// process ([`landscape::out_dir::open`]); hold the lock while writing.
    pub fn open(out: &Path, resume: bool, force: bool) -> Result<nn::OutLock, CliError> {
        landscape::out_dir::open(out, resume, force).map_err(CliError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(272_186), "272,186");
        assert_eq!(thousands(1_730_426), "1,730,426");
    }
}

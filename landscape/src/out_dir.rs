//! Output folders of runs that write several files: made ready and locked
//! for one writer ([`nn::OutLock`]) for as long as the run holds the lock.

use crate::error::{LandscapeError, Result};
use nn::out_lock::{OutLock, LOCK_FILE};
use std::path::Path;

fn lock(out: &Path) -> Result<OutLock> {
    OutLock::acquire(out).map_err(|e| LandscapeError::config("out", e.to_string()))
}

/// Makes `out` ready for a run and locks it; keep the returned lock until
/// the run ends (dropping it removes the lock file).
///
/// A new run (`resume = false`) creates the folder, or takes an existing
/// empty one; a non-empty one is refused unless `force`, which empties it.
/// A resumed run needs the folder to exist. Either way a folder another
/// live process is writing is refused, naming that process (even with
/// `force`), so two runs can never append to the same files. Errors name
/// the field `out`.
pub fn open(out: &Path, resume: bool, force: bool) -> Result<OutLock> {
    let err = |e: std::io::Error| LandscapeError::config("out", format!("{}: {e}", out.display()));
    if resume {
        if !out.is_dir() {
            return Err(LandscapeError::config("out", format!("{}: no such folder to resume", out.display())));
        }
        return lock(out);
    }
    if !out.exists() {
        std::fs::create_dir_all(out).map_err(err)?;
        return lock(out);
    }
    if !out.is_dir() {
        return Err(LandscapeError::config("out", format!("{}: exists and is not a folder", out.display())));
    }
    let held = lock(out)?;
    let others: Vec<std::fs::DirEntry> = std::fs::read_dir(out)
        .map_err(err)?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(err)?
        .into_iter()
        .filter(|e| e.file_name() != LOCK_FILE)
        .collect();
    if !others.is_empty() && !force {
        return Err(LandscapeError::config(
            "out",
            format!("{}: exists and is not empty; resume to continue that run or force to replace it", out.display()),
        ));
    }
    for e in others {
        let p = e.path();
        if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) }.map_err(err)?;
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_folder_is_refused_even_with_force_and_freed_on_drop() {
        let out = std::env::temp_dir().join(format!("llv-out-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let held = open(&out, false, false).unwrap();
        std::fs::write(out.join("surface.jsonl"), "x").unwrap();
        for (resume, force) in [(true, false), (false, true), (false, false)] {
            let e = open(&out, resume, force).unwrap_err().to_string();
            assert!(e.starts_with("out: ") && e.contains("another llv"), "{e}");
        }
        assert!(out.join("surface.jsonl").exists(), "a refused force must not empty the folder");
        drop(held);
        let e = open(&out, false, false).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        let again = open(&out, false, true).unwrap();
        assert!(!out.join("surface.jsonl").exists());
        drop(again);
        assert!(open(&out, true, false).is_ok());
        std::fs::remove_dir_all(&out).unwrap();
        assert!(open(&out, true, false).unwrap_err().to_string().contains("no such folder"));
    }
}

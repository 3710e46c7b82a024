//! Output folders of runs that write several files.

use crate::error::{LandscapeError, Result};
use std::path::Path;

/// Makes `out` ready for a new run: creates it, refuses an existing
/// non-empty folder unless `force` (which empties it first). Errors name
/// the field `out`.
pub fn prepare(out: &Path, force: bool) -> Result<()> {
    let err = |e: std::io::Error| LandscapeError::config("out", format!("{}: {e}", out.display()));
    if out.exists() {
        if !out.is_dir() {
            return Err(LandscapeError::config("out", format!("{}: exists and is not a folder", out.display())));
        }
        let non_empty = std::fs::read_dir(out).map_err(err)?.next().is_some();
        if non_empty && !force {
            return Err(LandscapeError::config(
                "out",
                format!("{}: exists and is not empty; resume to continue that run or force to replace it", out.display()),
            ));
        }
        if non_empty {
            std::fs::remove_dir_all(out).map_err(err)?;
        }
    }
    std::fs::create_dir_all(out).map_err(err)
}

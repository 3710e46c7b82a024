//! [`NnError`]: the one error type of the `nn` crate.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in `nn` because of user input: model names
/// and configurations, checkpoint files.
#[derive(Debug)]
pub enum NnError {
    /// A model name the zoo does not know.
    UnknownModel {
        /// The name asked for.
        name: String,
        /// What would have been accepted.
        valid: Vec<String>,
    },
    /// A model that cannot be built for this configuration (e.g. an image
    /// too small for lenet).
    BadConfig {
        /// The model.
        model: String,
        /// What is wrong.
        detail: String,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("read", "write", ...).
        action: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file that is not a valid safetensors file (truncated, corrupt,
    /// not safetensors at all).
    CorruptCheckpoint {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },
    /// A tensor stored with a dtype llv cannot load.
    BadDtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Its dtype as written in the file (e.g. `F64`).
        dtype: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A checkpoint whose names or shapes do not match the model.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// `name: expected [..], file has [..]` for each tensor whose shape differs.
        shapes: Vec<String>,
        /// Names the model has but the file lacks.
        missing: Vec<String>,
        /// Names the file has but the model lacks.
        unexpected: Vec<String>,
    },
    /// An output folder another process is writing (see [`crate::out_lock`]).
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// Who holds it, when the file says so.
        holder: Option<crate::out_lock::LockHolder>,
    },
}

impl NnError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> NnError {
        NnError::Io { path: path.to_path_buf(), action, source }
    }
}

/// Writes at most `max` items of a list, then "(and N more)".
fn list(f: &mut fmt::Formatter<'_>, items: &[String], max: usize) -> fmt::Result {
    for (i, it) in items.iter().take(max).enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{it}")?;
    }
    if items.len() > max {
        write!(f, " (and {} more)", items.len() - max)?;
    }
    Ok(())
}

impl fmt::Display for NnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NnError::UnknownModel { name, valid } => {
                write!(f, "unknown model {name:?}; valid models: {} (and any resnet<6n+2>[-noshort])", valid.join(", "))
            }
            NnError::BadConfig { model, detail } => write!(f, "cannot build {model}: {detail}"),
            NnError::Io { path, action, source } => write!(f, "cannot {action} {}: {source}", path.display()),
            NnError::CorruptCheckpoint { path, detail } => write!(f, "{} is not a readable safetensors file: {detail}", path.display()),
            NnError::BadDtype { path, name, dtype, expected } => {
                write!(f, "{}: tensor {name} has dtype {dtype}, expected {expected}", path.display())
            }
            NnError::Mismatch { path, shapes, missing, unexpected } => {
                write!(f, "checkpoint {} does not fit the model: ", path.display())?;
                let mut first = true;
                let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
                    if !std::mem::take(&mut first) {
                        write!(f, "; ")?;
                    }
                    Ok(())
                };
                if !shapes.is_empty() {
                    sep(f)?;
                    list(f, shapes, 5)?;
                }
                if !missing.is_empty() {
                    sep(f)?;
                    write!(f, "missing from the file: ")?;
                    list(f, missing, 8)?;
                }
                if !unexpected.is_empty() {
                    sep(f)?;
                    write!(f, "unexpected in the file: ")?;
                    list(f, unexpected, 8)?;
                }
                Ok(())
            }
            NnError::Locked { lock, holder } => {
                let dir = lock.parent().unwrap_or(lock).display();
                match holder {
                    Some(h) => write!(f, "{dir} is being written by another llv (pid {} on {})", h.pid, h.host)?,
                    None => write!(f, "{dir} is locked by another llv (its lock file is unreadable)")?,
                }
                write!(f, "; wait for it to finish, or, if it is no longer running, delete {}", lock.display())
            }
        }
    }
}

impl std::error::Error for NnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NnError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

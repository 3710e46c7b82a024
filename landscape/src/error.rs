//! The landscape crate's error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong with user input to landscape tools.
#[derive(Debug)]
pub enum LandscapeError {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file's content is malformed.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. "line 7 is truncated".
        detail: String,
    },
    /// A direction has zero norm (e.g. interpolating between identical
    /// checkpoints), so it cannot be normalized or used as an axis.
    ZeroDirection(String),
    /// An invalid argument (range, grid, option), named in the message.
    Invalid(String),
    /// Two plans that must agree (resume, merge) differ.
    PlanMismatch(String),
    /// A field of a request or configuration holds a bad value. `field` is
    /// the struct field's name (the CLI turns `batch_size` into `--batch-size`).
    Config {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// A stop was requested ([`nn::interrupt`], e.g. by SIGINT) between two
    /// points: everything finished so far is written and resumable.
    Interrupted,
}

impl fmt::Display for LandscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LandscapeError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LandscapeError::Format { path, detail } => write!(f, "{}: {detail}", path.display()),
            LandscapeError::ZeroDirection(what) => write!(f, "{what} has zero norm, so it cannot span an axis"),
            LandscapeError::Invalid(msg) => write!(f, "{msg}"),
            LandscapeError::PlanMismatch(msg) => write!(f, "plans differ: {msg}"),
            LandscapeError::Config { field, message } => write!(f, "{field}: {message}"),
            LandscapeError::Interrupted => {
                write!(f, "stopped; the points computed so far are written: continue with --resume")
            }
        }
    }
}

impl std::error::Error for LandscapeError {}

/// Result with [`LandscapeError`].
pub type Result<T> = std::result::Result<T, LandscapeError>;

impl LandscapeError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LandscapeError::Io { path: path.into(), source }
    }
    /// A bad value of the configuration field `field`.
    pub fn config(field: &'static str, message: impl Into<String>) -> Self {
        LandscapeError::Config { field, message: message.into() }
    }
    /// A format error in `path`.
    pub fn format(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        LandscapeError::Format { path: path.into(), detail: detail.into() }
    }
}

/// Checks that the field `field` holds a positive finite number.
pub fn positive(field: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(LandscapeError::config(field, format!("{v}: must be a positive number")))
    }
}

/// Checks that the field `field` is at least `min`.
pub fn at_least(field: &'static str, v: usize, min: usize) -> Result<()> {
    if v >= min {
        Ok(())
    } else {
        Err(LandscapeError::config(field, format!("must be at least {min}")))
    }
}

//! The one-line error of a failing command.

use landscape::LandscapeError;
use std::fmt;

/// A command's failure: one line for the user (`main` prints it as
/// `error: …` and exits with status 1). Messages name the flag or file
/// at fault.
#[derive(Debug)]
pub struct CliError(String);

impl CliError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

/// The flag of a request field: `batch_size` → `--batch-size` (every
/// request field the library names has a flag of that name).
pub fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

impl From<LandscapeError> for CliError {
    /// Library errors as they are; a field error reads `--flag message`
    /// (messages start with the value at fault or with what is wrong).
    fn from(e: LandscapeError) -> CliError {
        match e {
            LandscapeError::Config { field, message } => CliError(format!("{} {message}", flag(field))),
            other => CliError(other.to_string()),
        }
    }
}

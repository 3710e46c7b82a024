//! The subcommands of `llv`, one file each, and what they share: the
//! one-line error type and loading classification data for a zoo model.

pub mod bench;
pub mod data;
pub mod demo;
pub mod eval;
pub mod figures;
pub mod hessian;
pub mod models;
pub mod plot;
pub mod surface;
pub mod train;
pub mod trajectory;
pub mod view;

use datasets::{ClassificationData, DataSpec};
use nn::zoo::{self, InputKind, ModelConfig};
use std::fmt;
use std::path::Path;

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

/// Parses and loads `--data SPEC`, which must be a classification set, and
/// derives the model configuration from it: images `[c, s, s]` give
/// `in_channels = c`, `image_size = s`; vectors `[f]` give
/// `in_channels = f`, `image_size = 1` (what `mlp` needs). Errors name
/// `--data`.
pub fn load_classification(spec: &str) -> Result<(ClassificationData, ModelConfig), CliError> {
    let parsed = DataSpec::parse(spec).map_err(|e| CliError::new(format!("--data: {e}")))?;
    let data = parsed.load().map_err(|e| CliError::new(format!("--data {parsed}: {e}")))?;
    let Some(c) = data.as_classification() else {
        return Err(CliError::new(format!(
            "--data {parsed}: a text corpus; this command needs a classification data set (mnist, cifar10:DIR, spirals, ...)"
        )));
    };
    let base = ModelConfig { num_classes: c.num_classes(), ..ModelConfig::default() };
    let cfg = match (c.in_channels(), c.image_size(), c.example_shape()) {
        (Some(ch), Some(s), _) => ModelConfig { in_channels: ch, image_size: s, ..base },
        (_, _, &[f]) => ModelConfig { in_channels: f, image_size: 1, ..base },
        (_, _, shape) => {
            return Err(CliError::new(format!(
                "--data {parsed}: examples of shape {shape:?}; zoo models need square images or feature vectors"
            )))
        }
    };
    Ok((c.clone(), cfg))
}

/// The `--model` error for a name the zoo does not know (it lists the valid names).
pub fn unknown_model(model: &str) -> CliError {
    let e = nn::NnError::UnknownModel { name: model.into(), valid: zoo::catalog().iter().map(|m| m.name.to_string()).collect() };
    CliError::new(format!("--model: {e}"))
}

/// Checks that zoo model `model` exists and can run on `data` (image
/// models need images; `mlp` takes anything; `char-lstm` needs text).
pub fn check_model_fits(model: &str, data: &ClassificationData, data_spec: &str) -> Result<(), CliError> {
    match zoo::input_kind(model) {
        None => Err(unknown_model(model)),
        Some(InputKind::Tokens) => {
            Err(CliError::new(format!("--model {model}: a language model; it cannot run on the classification data {data_spec}")))
        }
        Some(InputKind::Image) if model != "mlp" && data.image_size().is_none() => Err(CliError::new(format!(
            "--model {model} needs square images, but --data {data_spec} has examples of shape {:?} (use --model mlp)",
            data.example_shape()
        ))),
        Some(InputKind::Image) => Ok(()),
    }
}

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

/// Writes `bytes` to `path` atomically (a temporary file, then a rename), so
/// a kill never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| CliError::new(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

/// Output folders of commands that write files.
pub mod out_dir {
    use super::CliError;
    use std::path::Path;

    /// Makes `out` ready for a new run: creates it, refuses an existing
    /// non-empty folder unless `force` (which empties it first).
    pub fn prepare(out: &Path, force: bool) -> Result<(), CliError> {
        if out.exists() {
            if !out.is_dir() {
                return Err(CliError::new(format!("--out {}: exists and is not a folder", out.display())));
            }
            let non_empty = std::fs::read_dir(out).map_err(|e| CliError::new(format!("--out {}: {e}", out.display())))?.next().is_some();
            if non_empty && !force {
                return Err(CliError::new(format!(
                    "--out {}: exists and is not empty; pass --resume to continue that run or --force to replace it",
                    out.display()
                )));
            }
            if non_empty {
                std::fs::remove_dir_all(out).map_err(|e| CliError::new(format!("--out {}: {e}", out.display())))?;
            }
        }
        std::fs::create_dir_all(out).map_err(|e| CliError::new(format!("--out {}: {e}", out.display())))
    }
}

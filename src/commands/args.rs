//! Arguments several commands share: the model/data/evaluation flags, the
//! checkpoint-probe flags of `hessian` and `sharpness`, and value parsers.

use super::CliError;
use clap::{Args, ValueEnum};
use landscape::{EvalConfig, Split};
use std::path::PathBuf;

/// Which part of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// The training examples.
    Train,
    /// The test examples.
    Test,
    /// Both (surfaces, interpolations and trajectories only).
    Both,
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Split {
        match s {
            SplitArg::Train => Split::Train,
            SplitArg::Test => Split::Test,
            SplitArg::Both => Split::Both,
        }
    }
}

/// The model, the data and how it is evaluated (eval, surface, interpolate,
/// trajectory, hessian, sharpness).
#[derive(Args, Debug, Clone)]
pub struct ModelDataArgs {
    /// Zoo model (see `llv models`).
    #[arg(long)]
    pub model: String,
    /// Data set (see `llv data --help`): mnist, mnist:DIR, fashion-mnist:DIR, cifar10:DIR, spirals[:...], blobs[:...]; for char-lstm shakespeare[:val=F] or text:FILE.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Which split: train, test, or both (both: surface, interpolate, trajectory) [default: test; hessian, sharpness: train].
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
    /// Only the first N examples (windows, for a text corpus) of each split [default: all; hessian, sharpness: 1000].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Examples per forward pass (memory vs. speed; results do not depend on it beyond float rounding).
    #[arg(long, value_name = "B", default_value_t = 500)]
    pub batch_size: usize,
    /// Characters per window of a text corpus (consecutive windows, each from a zero state; as `llv train`).
    #[arg(long, value_name = "L", default_value_t = 64)]
    pub seq_len: usize,
}

impl ModelDataArgs {
    /// The library configuration, with this command's default split and limit.
    pub fn config(&self, default_split: Split, default_limit: Option<usize>) -> EvalConfig {
        EvalConfig {
            model: self.model.clone(),
            data: self.data.clone(),
            split: self.split.map_or(default_split, Split::from),
            limit: self.limit.or(default_limit),
            batch_size: self.batch_size,
            seq_len: self.seq_len,
        }
    }
}

/// The checkpoint and output of `hessian` and `sharpness`.
#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// Checkpoint: a safetensors file with the model's PyTorch names.
    #[arg(long)]
    pub weights: PathBuf,
    /// Seed of the random vectors and directions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

impl ProbeArgs {
    /// The library's probe configuration over `data` (train split and the
    /// first 1000 examples unless given).
    pub fn config(&self, data: &ModelDataArgs) -> landscape::model_data::ProbeConfig {
        landscape::model_data::ProbeConfig { eval: data.config(Split::Train, Some(1000)), weights: self.weights.clone() }
    }
}

/// The output of surface, interpolate and trajectory.
#[derive(Args, Debug, Clone)]
pub struct OutArgs {
    /// Continue an interrupted run in --out.
    #[arg(long)]
    pub resume: bool,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Figure size WxH.
    #[arg(long, default_value = "800x600")]
    pub size: String,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parses `value` of `flag`; the error names the flag.
pub fn parse<T: std::str::FromStr<Err = String>>(flag: &str, value: &str) -> Result<T, CliError> {
    value.parse::<T>().map_err(|e| CliError::new(if e.starts_with("--") { e } else { format!("{flag}: {e}") }))
}

/// Parses `--size WxH` (the library checks the limits).
pub fn parse_size(s: &str) -> Result<(u32, u32), CliError> {
    let bad = || CliError::new(format!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 800x600"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?))
}

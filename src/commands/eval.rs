//! `llv eval`: loss and accuracy of a checkpoint on a data set.

use super::{check_model_fits, load_classification, print, unknown_model, CliError};
use clap::{Args, ValueEnum};
use nn::eval::evaluate;
use nn::{checkpoint, zoo, ModuleExt};
use std::path::PathBuf;

/// Which part of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    /// The training examples.
    Train,
    /// The test examples.
    Test,
}

/// Arguments of `llv eval`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv eval --model lenet --weights runs/lenet/final.safetensors --data mnist
  llv eval --model resnet20 --weights w.safetensors --data mnist --split train --limit 1000
  llv eval --model resnet20 --weights w.safetensors --data cifar10:~/data/cifar --json

With --json the last line of stdout is one JSON object:
  {\"loss\": 2.3062, \"accuracy\": 0.104, \"examples\": 500}
Checkpoints are safetensors files with PyTorch names (reference/zoo.py's
`export` writes them; `llv train` too).")]
pub struct EvalArgs {
    /// Zoo model the checkpoint belongs to (see `llv models`).
    #[arg(long)]
    pub model: String,
    /// Checkpoint: a safetensors file with the model's PyTorch names.
    #[arg(long)]
    pub weights: PathBuf,
    /// Data set (see `llv data --help`): mnist, mnist:DIR, fashion-mnist:DIR, cifar10:DIR, spirals[:...], blobs[:...].
    #[arg(long)]
    pub data: String,
    /// Which split to evaluate.
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
    /// Only the first N examples of the split.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Examples per forward pass (memory vs. speed; results do not depend on it beyond float rounding).
    #[arg(long, value_name = "B", default_value_t = 500)]
    pub batch_size: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A JSON number, or `null` for NaN / infinity (which JSON cannot hold).
fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// Runs `llv eval`.
pub fn run(a: EvalArgs) -> Result<(), CliError> {
    if a.batch_size == 0 {
        return Err(CliError::new("--batch-size must be at least 1"));
    }
    if a.limit == Some(0) {
        return Err(CliError::new("--limit must be at least 1"));
    }
    if zoo::input_kind(&a.model).is_none() {
        return Err(unknown_model(&a.model));
    }
    if !a.weights.is_file() {
        return Err(CliError::new(format!("--weights {}: no such file", a.weights.display())));
    }
    let (data, cfg) = load_classification(&a.data)?;
    check_model_fits(&a.model, &data, &a.data)?;
    let mut model = zoo::build(&a.model, &cfg, 0).map_err(|e| CliError::new(format!("--model: {e}")))?;
    checkpoint::load(&mut *model, &a.weights).map_err(|e| CliError::new(format!("--weights: {e}")))?;
    let split = match a.split {
        Split::Train => &data.train,
        Split::Test => &data.test,
    };
    let set = match a.limit {
        Some(n) => split.first(n),
        None => split.clone(),
    };
    if set.is_empty() {
        return Err(CliError::new(format!(
            "--data {}: the {} split is empty",
            a.data,
            if a.split == Split::Train { "train" } else { "test" }
        )));
    }
    let start = std::time::Instant::now();
    let r = evaluate(&mut *model, &set, a.batch_size);
    if a.json {
        print(&format!("{{\"loss\": {}, \"accuracy\": {}, \"examples\": {}}}\n", json_num(r.loss), json_num(r.accuracy), r.examples));
    } else {
        let split_name = if a.split == Split::Train { "train" } else { "test" };
        print(&format!(
            "model:     {} ({} parameters)\nweights:   {}\ndata:      {} ({split_name} split, {} examples)\nloss:      {:.6}\naccuracy:  {:.2}% ({} of {})\ntime:      {:.2} s\n",
            a.model,
            super::thousands(model.num_parameters()),
            a.weights.display(),
            a.data,
            r.examples,
            r.loss,
            100.0 * r.accuracy,
            (r.accuracy * r.examples as f64).round(),
            r.examples,
            start.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

//! `llv eval`: loss and accuracy of a checkpoint on a data set
//! ([`landscape::model_data::Probe`]).

use super::args::ModelDataArgs;
use super::output::{print, thousands};
use super::CliError;
use clap::Args;
use landscape::model_data::{Probe, ProbeConfig};
use landscape::Split;
use nn::ModuleExt;
use std::path::PathBuf;

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
    #[command(flatten)]
    pub eval: ModelDataArgs,
    /// Checkpoint: a safetensors file with the model's PyTorch names.
    #[arg(long)]
    pub weights: PathBuf,
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
    let config = ProbeConfig { eval: a.eval.config(Split::Test, None), weights: a.weights.clone() };
    let mut probe = Probe::load(&config)?;
    let start = std::time::Instant::now();
    let r = probe.evaluate();
    if a.json {
        print(&format!("{{\"loss\": {}, \"accuracy\": {}, \"examples\": {}}}\n", json_num(r.loss), json_num(r.accuracy), r.examples));
    } else {
        print(&format!(
            "model:     {} ({} parameters)\nweights:   {}\ndata:      {} ({} split, {} examples)\nloss:      {:.6}\naccuracy:  {:.2}% ({} of {})\ntime:      {:.2} s\n",
            config.eval.model,
            thousands(probe.model.num_parameters()),
            a.weights.display(),
            config.eval.data,
            config.eval.split.as_str(),
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

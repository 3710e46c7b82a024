//! `llv eval`: loss and accuracy of a checkpoint on a data set
//! ([`landscape::model_data::Probe`]).

use super::args::ModelDataArgs;
use super::output::{print, thousands};
use super::CliError;
use clap::Args;
use landscape::model_data::{Probe, ProbeConfig, ProbeEval};
use landscape::Split;
use nn::ModuleExt;
use std::path::PathBuf;

/// Arguments of `llv eval`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv eval --model lenet --weights runs/lenet/final.safetensors --data mnist
  llv eval --model resnet20 --weights w.safetensors --data mnist --split train --limit 1000
  llv eval --model resnet20 --weights w.safetensors --data cifar10:~/data/cifar --json
  llv eval --model char-lstm --weights runs/lm/final.safetensors --data shakespeare --seq-len 64

With --json the last line of stdout is one JSON object:
  {\"loss\": 2.3062, \"accuracy\": 0.104, \"examples\": 500}
For a language model (char-lstm on shakespeare or text:FILE) the loss is the
mean cross-entropy in nats per character over consecutive windows of
--seq-len characters (each from a zero state; --split test is the held-out
text, --limit counts windows), the accuracy next-character top-1:
  {\"loss\": 1.52, \"accuracy\": 0.55, \"perplexity\": 4.57, \"bits_per_char\": 2.19, \"windows\": 4, \"tokens\": 256}
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
    let seconds = start.elapsed().as_secs_f64();
    let e = &config.eval;
    let head =
        format!("model:     {} ({} parameters)\nweights:   {}\n", e.model, thousands(probe.model.num_parameters()), a.weights.display());
    match r {
        ProbeEval::Classifier(r) if a.json => {
            print(&format!("{{\"loss\": {}, \"accuracy\": {}, \"examples\": {}}}\n", json_num(r.loss), json_num(r.accuracy), r.examples))
        }
        ProbeEval::Classifier(r) => print(&format!(
            "{head}data:      {} ({} split, {} examples)\nloss:      {:.6}\naccuracy:  {:.2}% ({} of {})\ntime:      {seconds:.2} s\n",
            e.data,
            e.split.as_str(),
            r.examples,
            r.loss,
            100.0 * r.accuracy,
            (r.accuracy * r.examples as f64).round(),
            r.examples,
        )),
        ProbeEval::Language(r) if a.json => print(&format!(
            "{{\"loss\": {}, \"accuracy\": {}, \"perplexity\": {}, \"bits_per_char\": {}, \"windows\": {}, \"tokens\": {}, \"seq_len\": {}}}\n",
            json_num(r.loss),
            json_num(r.accuracy),
            json_num(r.perplexity),
            json_num(r.bits_per_char()),
            r.windows,
            r.tokens,
            e.seq_len
        )),
        ProbeEval::Language(r) => print(&format!(
            "{head}data:      {} ({} split, {} windows of {} characters, {} tokens)\nloss:      {:.6} nats/char ({:.4} bits/char)\nperplexity: {:.4}\naccuracy:  {:.2}% next character\ntime:      {seconds:.2} s\n",
            e.data,
            e.split.as_str(),
            r.windows,
            e.seq_len,
            r.tokens,
            r.loss,
            r.bits_per_char(),
            r.perplexity,
            100.0 * r.accuracy,
        )),
    }
    Ok(())
}

//! `llv interpolate`: loss and accuracy along the line between two
//! checkpoints ([`landscape::interpolation::run`]).

use super::args::{parse, parse_size, ModelDataArgs, OutArgs};
use super::output::list;
use super::progress::Bars;
use super::CliError;
use clap::Args;
use landscape::interpolation::{self, InterpolationRequest};
use landscape::Split;
use std::path::PathBuf;

/// Arguments of `llv interpolate`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv interpolate --model lenet --from runs/a/checkpoints/epoch-000.safetensors --to runs/a/final.safetensors --out line
  llv interpolate --model lenet --from small/final.safetensors --to large/final.safetensors --range -0.5:1.5:41 --out between")]
pub struct InterpolateArgs {
    #[command(flatten)]
    pub eval: ModelDataArgs,
    /// Weights at alpha = 0.
    #[arg(long)]
    pub from: PathBuf,
    /// Weights at alpha = 1.
    #[arg(long)]
    pub to: PathBuf,
    /// alpha grid START:END:NUM.
    #[arg(long, default_value = "-0.5:1.5:41", allow_hyphen_values = true)]
    pub range: String,
    #[command(flatten)]
    pub output: OutArgs,
}

/// Runs `llv interpolate`.
pub fn run(a: InterpolateArgs) -> Result<(), CliError> {
    let req = InterpolationRequest {
        eval: a.eval.config(Split::Test, None),
        from: a.from,
        to: a.to,
        range: parse("--range", &a.range)?,
        resume: a.output.resume,
        force: a.output.force,
        size: parse_size(&a.output.size)?,
        out: a.output.out,
    };
    let done = interpolation::run(&req, &Bars::new(false))?;
    println!("wrote {}{}", done.results.display(), list(&done.written));
    Ok(())
}

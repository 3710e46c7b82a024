//! `llv trajectory`: the training path on the PCA plane of its checkpoints
//! (Li et al. 2018), over the loss surface of that plane
//! ([`landscape::trajectory_run::run`]).

use super::args::{parse, parse_size, ModelDataArgs, OutArgs};
use super::output::list;
use super::progress::Bars;
use super::CliError;
use clap::Args;
use landscape::trajectory_run::{self, TrajectoryRequest};
use landscape::Split;
use std::path::PathBuf;

/// Arguments of `llv trajectory`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv train --model lenet --optimizer sgd --out runs/sgd
  llv trajectory --model lenet --checkpoints runs/sgd --limit 1000 --out runs/sgd/pca")]
pub struct TrajectoryArgs {
    #[command(flatten)]
    pub eval: ModelDataArgs,
    /// A training run folder (its checkpoints/epoch-NNN.safetensors and final.safetensors) or a folder of checkpoints.
    #[arg(long)]
    pub checkpoints: PathBuf,
    /// Grid points per axis of the plane.
    #[arg(long, default_value_t = 21)]
    pub grid: usize,
    /// One-dimensional tensors (biases, BN): biasbn leaves them out of the PCA, none keeps them.
    #[arg(long, default_value = "biasbn")]
    pub ignore: String,
    /// Seed of the random-walk baseline.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutArgs,
}

/// Runs `llv trajectory`.
pub fn run(a: TrajectoryArgs) -> Result<(), CliError> {
    let req = TrajectoryRequest {
        eval: a.eval.config(Split::Test, None),
        checkpoints: a.checkpoints,
        grid: a.grid,
        ignore: parse("--ignore", &a.ignore)?,
        seed: a.seed,
        resume: a.output.resume,
        force: a.output.force,
        size: parse_size(&a.output.size)?,
        out: a.output.out,
    };
    let done = trajectory_run::run(&req, &Bars::new(false))?;
    let (e, w) = (done.explained, done.random_walk_explained);
    println!(
        "PCA plane of {} checkpoints: PC1 {:.1}%, PC2 {:.1}% of the variance (a random walk of as many steps: {:.1}%, {:.1}%)",
        done.checkpoints,
        100.0 * e[0],
        100.0 * e[1],
        100.0 * w[0],
        100.0 * w[1]
    );
    println!("wrote {}{}", done.results.display(), list(&done.written));
    Ok(())
}

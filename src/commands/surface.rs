//! `llv surface`: loss and accuracy on a line or plane of directions
//! through a checkpoint ([`landscape::slice::run`]).

use super::args::{parse, parse_size, ModelDataArgs, OutArgs};
use super::output::list;
use super::progress::Bars;
use super::CliError;
use clap::Args;
use landscape::slice::{self, DirectionsChoice, SurfaceOutcome, SurfaceRequest};
use landscape::{DirectionOptions, Split};
use std::path::PathBuf;

/// Arguments of `llv surface`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv surface --model lenet --weights runs/lenet-sgd/final.safetensors --x -1:1:51 --out surf1d
  llv surface --model lenet --weights final.safetensors --x -1:1:41 --y -1:1:41 --limit 1000 --out surf2d
  llv surface ... --shard 1/4 --out part1     # then: llv merge part1 part2 part3 part4 --out all
  llv surface ... --out surf2d --resume       # continue an interrupted run
  llv surface ... --out surf2d --plot-every level   # contour.png etc. redrawn as each level completes

Points are computed coarse to fine: first the grid's corners, then 3×3, 5×5, 9×9, 17×17, ... (for sizes
that are not 2^k+1, the nearest nested subsets), each level's new points row by row. Stopped at any time,
the results file holds a complete coarser grid: `llv plot` draws its finest complete level and says how
much of the grid that is. Each point's values do not depend on the order.")]
pub struct SurfaceArgs {
    #[command(flatten)]
    pub eval: ModelDataArgs,
    /// The center: a checkpoint of the model.
    #[arg(long)]
    pub weights: PathBuf,
    /// x grid START:END:NUM.
    #[arg(long, default_value = "-1:1:51", allow_hyphen_values = true)]
    pub x: String,
    /// y grid START:END:NUM (makes a 2-D surface).
    #[arg(long, allow_hyphen_values = true)]
    pub y: Option<String>,
    /// Direction normalization: filter (Li et al.), layer, model, none.
    #[arg(long, default_value = "filter")]
    pub norm: String,
    /// One-dimensional tensors (biases, BN): biasbn keeps them fixed, none moves them.
    #[arg(long, default_value = "biasbn")]
    pub ignore: String,
    /// weights: BN running statistics stay; states: they get a direction too.
    #[arg(long, default_value = "weights")]
    pub dir_type: String,
    /// Load directions from a directions.safetensors file instead of drawing them, or `hessian`: the top two
    /// Hessian eigenvectors at the center (unit norm, so choose a wider --x/--y, e.g. -5:5:41), computed on the
    /// evaluation set by Lanczos.
    #[arg(long)]
    pub directions: Option<PathBuf>,
    /// Make the y direction orthogonal to the x direction.
    #[arg(long)]
    pub orthogonal: bool,
    /// Directions from checkpoints instead of random draws: x = B − center (and y = C − center) for `--through B[,C]`,
    /// unnormalized, so x = 1 is model B (the plane through three models).
    #[arg(long, value_delimiter = ',', num_args = 1..=2)]
    pub through: Vec<PathBuf>,
    /// 1-D only: repeat with R random directions (seeds seed, seed+2, ...) and draw their mean and spread as a band.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    /// Seed of the random directions.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute only part k of N of the grid (1 <= k <= N): every N-th point of the coarse-to-fine order, so each
    /// shard holds a share of every level.
    #[arg(long)]
    pub shard: Option<String>,
    /// Rewrite the default figures during the run, from the finest complete level: `level` (each time one
    /// completes) or MINUTES (at most that often). Drawn by the worker that finishes the level.
    #[arg(long, value_name = "MINUTES|level")]
    pub plot_every: Option<String>,
    #[command(flatten)]
    pub output: OutArgs,
}

impl SurfaceArgs {
    /// The library request these flags describe.
    fn request(&self) -> Result<SurfaceRequest, CliError> {
        let directions = match (&self.directions, self.through.is_empty()) {
            (Some(_), false) => return Err(CliError::new("--directions and --through both choose the directions: give one")),
            (_, false) => DirectionsChoice::Through(self.through.clone()),
            (Some(p), true) if p.as_os_str() == "hessian" => DirectionsChoice::Hessian,
            (Some(p), true) => DirectionsChoice::File(p.clone()),
            (None, true) => DirectionsChoice::Random,
        };
        Ok(SurfaceRequest {
            eval: self.eval.config(Split::Test, None),
            weights: self.weights.clone(),
            x: parse("--x", &self.x)?,
            y: self.y.as_deref().map(|v| parse("--y", v)).transpose()?,
            directions,
            options: DirectionOptions {
                norm: parse("--norm", &self.norm)?,
                ignore: parse("--ignore", &self.ignore)?,
                dir_type: parse("--dir-type", &self.dir_type)?,
            },
            orthogonal: self.orthogonal,
            repeats: self.repeats,
            seed: self.seed,
            shard: self.shard.as_deref().map(|v| parse("--shard", v)).transpose()?,
            resume: self.output.resume,
            force: self.output.force,
            size: parse_size(&self.output.size)?,
            plot_every: self.plot_every.as_deref().map(|v| parse("--plot-every", v)).transpose()?,
            out: self.output.out.clone(),
        })
    }
}

/// Runs `llv surface`.
pub fn run(a: SurfaceArgs) -> Result<(), CliError> {
    match slice::run(&a.request()?, &Bars::new(false))? {
        SurfaceOutcome::Surface { results, points, written } => {
            println!("wrote {} ({points} points){}", results.display(), list(&written))
        }
        SurfaceOutcome::Repeats(r) => println!("wrote {} and {} ({} directions)", r.csv.display(), r.figure.display(), r.repeats),
    }
    Ok(())
}

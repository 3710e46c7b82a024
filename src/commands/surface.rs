//! `llv surface` and `llv interpolate`: loss and accuracy along a line or
//! over a plane around trained weights, resumable and shardable.

use super::{figures, load_classification, out_dir, CliError};
use clap::Args;
use landscape::{DirType, Direction, DirectionOptions, EvalSet, Ignore, Norm, Range, Results, ResultsWriter, Shard, SurfaceJob};
use nn::{checkpoint, zoo, ModuleExt, Named};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where and on what a surface is evaluated (shared by several commands).
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// Zoo model (see `llv models`).
    #[arg(long)]
    pub model: String,
    /// Data set (see `llv data --help`).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Which split to evaluate on: train, test, or both.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Evaluate on the first N examples of each split (all when absent).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Forward batch size.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Arguments of `llv surface`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv surface --model lenet --weights runs/lenet-sgd/final.safetensors --x -1:1:51 --out surf1d
  llv surface --model lenet --weights final.safetensors --x -1:1:41 --y -1:1:41 --limit 1000 --out surf2d
  llv surface ... --shard 1/4 --out part1     # then: llv merge part1 part2 part3 part4 --out all
  llv surface ... --out surf2d --resume       # continue an interrupted run")]
pub struct SurfaceArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
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
    /// Compute only part k of N of the grid (1 <= k <= N).
    #[arg(long)]
    pub shard: Option<String>,
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

/// Arguments of `llv interpolate`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv interpolate --model lenet --from runs/a/checkpoints/epoch-000.safetensors --to runs/a/final.safetensors --out line
  llv interpolate --model lenet --from small/final.safetensors --to large/final.safetensors --range -0.5:1.5:41 --out between")]
pub struct InterpolateArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
    /// Weights at alpha = 0.
    #[arg(long)]
    pub from: PathBuf,
    /// Weights at alpha = 1.
    #[arg(long)]
    pub to: PathBuf,
    /// alpha grid START:END:NUM.
    #[arg(long, default_value = "-0.5:1.5:41", allow_hyphen_values = true)]
    pub range: String,
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

/// A model with its data, ready to evaluate points.
pub struct Setup {
    pub model_name: String,
    pub cfg: zoo::ModelConfig,
    pub sets: Vec<(String, datasets::ClassificationSet)>,
}

impl Setup {
    /// Loads the data and checks the model name.
    pub fn new(a: &EvalArgs) -> Result<Setup, CliError> {
        if a.batch_size == 0 {
            return Err(CliError::new("--batch-size must be at least 1"));
        }
        let (data, cfg) = load_classification(&a.data)?;
        let limit = |s: &datasets::ClassificationSet| match a.limit {
            Some(n) => s.first(n),
            None => s.clone(),
        };
        let sets = match a.split.as_str() {
            "train" => vec![("train".to_string(), limit(&data.train))],
            "test" => vec![("test".to_string(), limit(&data.test))],
            "both" => vec![("train".to_string(), limit(&data.train)), ("test".to_string(), limit(&data.test))],
            other => return Err(CliError::new(format!("--split {other:?}: expected train, test or both"))),
        };
        if a.limit == Some(0) {
            return Err(CliError::new("--limit must be at least 1"));
        }
        zoo::build(&a.model, &cfg, 0).map_err(|e| CliError::new(format!("--model: {e}")))?;
        Ok(Setup { model_name: a.model.clone(), cfg, sets })
    }

    /// A fresh model (weights are overwritten by each point).
    pub fn factory(&self) -> impl Fn() -> Box<dyn nn::Module> + Sync + '_ {
        move || zoo::build(&self.model_name, &self.cfg, 0).expect("checked in Setup::new")
    }

    /// The state of the model loaded from `path` (errors name the file and
    /// the first mismatched parameter).
    pub fn load_state(&self, path: &Path, flag: &str) -> Result<Vec<Named>, CliError> {
        let mut m = (self.factory())();
        checkpoint::load(&mut *m, path).map_err(|e| CliError::new(format!("{flag}: {e}")))?;
        Ok(m.state())
    }

    /// The evaluation sets of a job.
    pub fn eval_sets(&self) -> Vec<EvalSet<'_>> {
        self.sets.iter().map(|(n, s)| EvalSet { name: n.clone(), set: s }).collect()
    }
}

fn parse<T: std::str::FromStr<Err = String>>(flag: &str, v: &str) -> Result<T, CliError> {
    v.parse::<T>().map_err(|e| CliError::new(if e.starts_with("--") { e } else { format!("{flag}: {e}") }))
}

/// Computes a job into `out/surface.jsonl`, resuming when asked; prints
/// progress. Returns the complete results.
pub fn run_job(
    job: &SurfaceJob,
    setup: &Setup,
    plan: serde_json::Value,
    out: &Path,
    resume: bool,
    quiet: bool,
) -> Result<Results, CliError> {
    let path = out.join("surface.jsonl");
    let metrics = job.metric_names();
    let (writer, done) = if resume && path.exists() {
        let (w, r) = ResultsWriter::resume(&path, &plan, &metrics).map_err(|e| CliError::new(e.to_string()))?;
        (w, r.points.keys().copied().collect::<BTreeSet<usize>>())
    } else {
        (ResultsWriter::create(&path, &plan, &metrics).map_err(|e| CliError::new(e.to_string()))?, BTreeSet::new())
    };
    let pending = job.pending(&done).len();
    let bar = (!quiet && pending > 0).then(|| {
        let b = indicatif::ProgressBar::new(pending as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} points, ETA {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        b.set_message("evaluating");
        b
    });
    let count = AtomicUsize::new(0);
    let factory = setup.factory();
    landscape::compute(job, &factory, &done, &|i, x, y, v| {
        writer.append(i, x, y, v)?;
        count.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &bar {
            b.inc(1);
        }
        Ok(())
    })
    .map_err(|e| CliError::new(e.to_string()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(writer);
    let (r, _) = Results::read(&path, false).map_err(|e| CliError::new(e.to_string()))?;
    Ok(r)
}

/// Runs `llv surface`.
pub fn run_surface(a: SurfaceArgs) -> Result<(), CliError> {
    let x: Range = parse("--x", &a.x)?;
    let y: Option<Range> = a.y.as_deref().map(|v| parse("--y", v)).transpose()?;
    let opts = DirectionOptions {
        norm: parse::<Norm>("--norm", &a.norm)?,
        ignore: parse::<Ignore>("--ignore", &a.ignore)?,
        dir_type: parse::<DirType>("--dir-type", &a.dir_type)?,
    };
    let shard: Option<Shard> = a.shard.as_deref().map(|v| parse("--shard", v)).transpose()?;
    let size = figures::parse_size(&a.size)?;
    if !a.resume {
        out_dir::prepare(&a.out, a.force)?;
    }
    let setup = Setup::new(&a.eval)?;
    let center = setup.load_state(&a.weights, "--weights")?;
    if a.repeats == 0 {
        return Err(CliError::new("--repeats must be at least 1"));
    }
    if a.repeats > 1 && (y.is_some() || !a.through.is_empty() || a.directions.is_some() || shard.is_some()) {
        return Err(CliError::new(
            "--repeats draws several random 1-D directions: it cannot be combined with --y, --through, --directions or --shard",
        ));
    }
    if a.through.len() == 2 && y.is_none() {
        return Err(CliError::new("--through B,C spans a plane: give --y too (or --through B alone for a line)"));
    }
    if a.through.len() == 1 && y.is_some() {
        return Err(CliError::new("--through B gives one direction: add a third model (--through B,C) for a plane, or drop --y"));
    }
    if a.repeats > 1 {
        return run_repeats(&a, &setup, &center, x, opts, size);
    }
    let dirs_path = a.out.join("directions.safetensors");
    let (dx, dy) = if !a.through.is_empty() {
        let other = |i: usize, what: &str| -> Result<Direction, CliError> {
            let s = setup.load_state(&a.through[i], "--through")?;
            Direction::between(&center, &s).map_err(|e| CliError::new(format!("--through {}: {e} ({what})", a.through[i].display())))
        };
        let dx = other(0, "x direction")?;
        let dy = if a.through.len() == 2 { Some(other(1, "y direction")?) } else { None };
        (dx, dy)
    } else {
        match &a.directions {
            Some(p) if p.as_os_str() == "hessian" && !(a.resume && dirs_path.exists()) => {
                hessian_directions(&setup, &center, y.is_some(), a.seed)?
            }
            Some(p) if p.as_os_str() == "hessian" => figures::load_directions(&dirs_path, &center, y.is_some())?,
            Some(p) => figures::load_directions(p, &center, y.is_some())?,
            None if a.resume && dirs_path.exists() => figures::load_directions(&dirs_path, &center, y.is_some())?,
            None => random_directions(&center, opts, a.seed, y.is_some(), a.orthogonal)?,
        }
    };
    dx.check_nonzero("the x direction").map_err(|e| CliError::new(e.to_string()))?;
    if let Some(d) = &dy {
        d.check_nonzero("the y direction").map_err(|e| CliError::new(e.to_string()))?;
    }
    if !dirs_path.exists() {
        figures::save_directions(&dirs_path, &dx, dy.as_ref())?;
    }
    let job =
        SurfaceJob { center: &center, x_dir: &dx, y_dir: dy.as_ref(), x, y, sets: setup.eval_sets(), batch_size: a.eval.batch_size, shard };
    let norm = match (&a.directions, a.through.is_empty()) {
        (_, false) => "through".to_string(),
        (Some(p), _) if p.as_os_str() == "hessian" => "hessian".to_string(),
        _ => a.norm.clone(),
    };
    let plan = json!({
        "kind": if y.is_some() { "surface2d" } else { "surface1d" },
        "model": a.eval.model, "data": a.eval.data, "split": a.eval.split, "limit": a.eval.limit,
        "center": figures::fingerprint(&center), "directions": figures::direction_fingerprint(&dx, dy.as_ref()),
        "x": a.x, "y": a.y, "norm": norm, "ignore": a.ignore, "dir_type": a.dir_type,
        "shard": a.shard,
    });
    let results = run_job(&job, &setup, plan, &a.out, a.resume, false)?;
    let written = if shard.is_some() { Vec::new() } else { figures::default_figures(&results, &a.out, size)? };
    println!("wrote {} ({} points){}", a.out.join("surface.jsonl").display(), results.points.len(), figures::list(&written));
    Ok(())
}

/// The top one or two Hessian eigenvectors of the mean loss on the first
/// evaluation set at `center`, as directions (unit norm, sign fixed so the
/// largest entry is positive).
fn hessian_directions(setup: &Setup, center: &[Named], two_d: bool, seed: u64) -> Result<(Direction, Option<Direction>), CliError> {
    use landscape::hessian::{top_eigen_lanczos, ModelHessian, Operator};
    let mut model = (setup.factory())();
    model.set_state(&center.iter().map(|n| n.tensor.clone()).collect::<Vec<_>>());
    let set = &setup.sets[0].1;
    let mut op = ModelHessian::new(&mut *model, set, 500).map_err(|e| CliError::new(e.to_string()))?;
    let k = if two_d { 2 } else { 1 };
    let steps = 30.min(op.dim());
    eprintln!("computing the top {k} Hessian eigenvector(s) on {} examples ({steps} Lanczos steps)", set.len());
    let (vals, mut vecs) = top_eigen_lanczos(&mut op, k, steps, seed);
    for v in &mut vecs {
        super::hessian::canonical_sign(v);
    }
    eprintln!("top eigenvalue(s): {vals:?}");
    let dx = super::hessian::to_direction(&vecs[0], center);
    let dy = vecs.get(1).map(|v| super::hessian::to_direction(v, center));
    Ok((dx, dy))
}

/// Random directions for a surface: x from `seed`, y from `seed + 1`.
fn random_directions(
    center: &[Named],
    opts: DirectionOptions,
    seed: u64,
    two_d: bool,
    orthogonal: bool,
) -> Result<(Direction, Option<Direction>), CliError> {
    let err = |e: landscape::LandscapeError| CliError::new(e.to_string());
    let dx = Direction::random(center, opts, seed).map_err(err)?;
    let mut dy = if two_d { Some(Direction::random(center, opts, seed.wrapping_add(1)).map_err(err)?) } else { None };
    if let (Some(d), true) = (&mut dy, orthogonal) {
        d.orthogonalize_against(&dx).map_err(err)?;
    }
    Ok((dx, dy))
}

/// `--repeats R`: R 1-D slices along random directions (each in
/// `repeat-NN/`, resumable), then their mean and min–max band per metric
/// (`repeats.csv`, `line-repeats.png`).
fn run_repeats(
    a: &SurfaceArgs,
    setup: &Setup,
    center: &[Named],
    x: Range,
    opts: DirectionOptions,
    size: (u32, u32),
) -> Result<(), CliError> {
    use landscape::render::{self, FigureOptions, Series};
    let mut all = Vec::new();
    for k in 0..a.repeats {
        let out = a.out.join(format!("repeat-{k:02}"));
        std::fs::create_dir_all(&out).map_err(|e| CliError::new(format!("{}: {e}", out.display())))?;
        let seed = a.seed.wrapping_add(2 * k as u64);
        let dirs_path = out.join("directions.safetensors");
        let (dx, _) = if dirs_path.exists() {
            figures::load_directions(&dirs_path, center, false)?
        } else {
            random_directions(center, opts, seed, false, false)?
        };
        if !dirs_path.exists() {
            figures::save_directions(&dirs_path, &dx, None)?;
        }
        let job =
            SurfaceJob { center, x_dir: &dx, y_dir: None, x, y: None, sets: setup.eval_sets(), batch_size: a.eval.batch_size, shard: None };
        let plan = json!({
            "kind": "surface1d", "model": a.eval.model, "data": a.eval.data, "split": a.eval.split, "limit": a.eval.limit,
            "center": figures::fingerprint(center), "directions": figures::direction_fingerprint(&dx, None),
            "x": a.x, "y": null, "norm": a.norm, "ignore": a.ignore, "dir_type": a.dir_type, "seed": seed, "shard": null,
        });
        eprintln!("direction {} of {}", k + 1, a.repeats);
        all.push(run_job(&job, setup, plan, &out, a.resume, false)?);
    }
    let xs = x.values();
    let n = xs.len();
    let metrics = all[0].metrics.clone();
    let mut csv = String::from("x");
    for m in &metrics {
        csv.push_str(&format!(",{m}_mean,{m}_std,{m}_min,{m}_max"));
    }
    csv.push('\n');
    let stats: Vec<Vec<(f64, f64, f64, f64)>> = metrics
        .iter()
        .map(|m| {
            let cols: Vec<Vec<f64>> = all.iter().map(|r| r.column(m, n).expect("same metrics")).collect();
            (0..n)
                .map(|i| {
                    let v: Vec<f64> = cols.iter().map(|c| c[i]).collect();
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0).max(1.0)).sqrt();
                    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
                    (mean, std, lo, hi)
                })
                .collect()
        })
        .collect();
    for (i, xv) in xs.iter().enumerate() {
        csv.push_str(&xv.to_string());
        for st in &stats {
            let (m, s, lo, hi) = st[i];
            csv.push_str(&format!(",{m},{s},{lo},{hi}"));
        }
        csv.push('\n');
    }
    let csv_path = a.out.join("repeats.csv");
    super::write_atomic(&csv_path, csv.as_bytes())?;
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for (m, st) in metrics.iter().zip(&stats) {
        let scale = if m.ends_with("_accuracy") { 100.0 } else { 1.0 };
        let mut s =
            Series::new(&format!("{} (mean of {})", m.replace('_', " "), a.repeats), xs.clone(), st.iter().map(|t| scale * t.0).collect());
        s.band = Some((st.iter().map(|t| scale * t.2).collect(), st.iter().map(|t| scale * t.3).collect()));
        if m.ends_with("_accuracy") {
            right.push(s);
        } else {
            left.push(s);
        }
    }
    let mut fo = FigureOptions::new(
        &format!("{}: {} random filter-normalized directions (band: min to max)", a.eval.model, a.repeats),
        "x (filter-normalized direction)",
        "loss",
    )
    .with_size(size.0, size.1);
    fo.right_range = Some((0.0, 100.0));
    fo.vlines = vec![(0.0, "center".into())];
    let png = a.out.join("line-repeats.png");
    render::save_png(&render::line_plot(&fo, &left, "loss", &right, "accuracy (%)", false), &png)
        .map_err(|e| CliError::new(format!("{}: {e}", png.display())))?;
    println!("wrote {} and {} ({} directions)", csv_path.display(), png.display(), a.repeats);
    Ok(())
}

/// Runs `llv interpolate`.
pub fn run_interpolate(a: InterpolateArgs) -> Result<(), CliError> {
    let range: Range = parse("--range", &a.range)?;
    let size = figures::parse_size(&a.size)?;
    if !a.resume {
        out_dir::prepare(&a.out, a.force)?;
    }
    let setup = Setup::new(&a.eval)?;
    let from = setup.load_state(&a.from, "--from")?;
    let to = setup.load_state(&a.to, "--to")?;
    let d = Direction::between(&from, &to).map_err(|e| CliError::new(format!("--from/--to: {e}")))?;
    let job = SurfaceJob {
        center: &from,
        x_dir: &d,
        y_dir: None,
        x: range,
        y: None,
        sets: setup.eval_sets(),
        batch_size: a.eval.batch_size,
        shard: None,
    };
    let plan = json!({
        "kind": "interpolation", "model": a.eval.model, "data": a.eval.data, "split": a.eval.split, "limit": a.eval.limit,
        "from": figures::fingerprint(&from), "to": figures::fingerprint(&to), "x": a.range,
    });
    let results = run_job(&job, &setup, plan, &a.out, a.resume, false)?;
    let written = figures::default_figures(&results, &a.out, size)?;
    println!("wrote {}{}", a.out.join("surface.jsonl").display(), figures::list(&written));
    Ok(())
}

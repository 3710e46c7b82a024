//! `llv plot` and `llv merge`: figures from a results file, and joining
//! the shards of a grid computed on several machines.

use super::{figures, out_dir, CliError};
use clap::Args;
use landscape::{Results, ResultsWriter};
use std::path::PathBuf;

/// Arguments of `llv plot`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv plot surf2d/surface.jsonl --kind contour --out contour.png
  llv plot surf2d/surface.jsonl --kind surface3d --elevation 40 --azimuth -120 --out view.png
  llv plot line/surface.jsonl --kind line --log --out line.png")]
pub struct PlotArgs {
    /// A results file (surface.jsonl) written by surface, interpolate, trajectory or merge.
    pub results: PathBuf,
    /// Figure kind.
    #[arg(long, value_enum, default_value = "contour")]
    pub kind: figures::Kind,
    /// Metric to draw (e.g. test_loss, train_accuracy); default: the first loss.
    #[arg(long)]
    pub metric: Option<String>,
    /// Log scale for the values.
    #[arg(long)]
    pub log: bool,
    /// 3-D view elevation in degrees.
    #[arg(long, default_value_t = 30.0)]
    pub elevation: f64,
    /// 3-D view azimuth in degrees.
    #[arg(long, default_value_t = -60.0, allow_negative_numbers = true)]
    pub azimuth: f64,
    /// Figure size WxH.
    #[arg(long, default_value = "800x600")]
    pub size: String,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `llv plot`.
pub fn run_plot(a: PlotArgs) -> Result<(), CliError> {
    let size = figures::parse_size(&a.size)?;
    if a.out.extension().and_then(|e| e.to_str()) != Some("png") {
        return Err(CliError::new(format!("--out {}: must end in .png", a.out.display())));
    }
    let (r, _) = Results::read(&a.results, false).map_err(|e| CliError::new(e.to_string()))?;
    let img = figures::draw(&r, a.kind, a.metric.as_deref(), size, a.log, (a.elevation, a.azimuth))?;
    landscape::render::save_png(&img, &a.out).map_err(|e| CliError::new(format!("--out {}: {e}", a.out.display())))?;
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Arguments of `llv merge`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Example:
  llv surface ... --shard 1/2 --out part1 ; llv surface ... --shard 2/2 --out part2
  llv merge part1/surface.jsonl part2/surface.jsonl --out whole")]
pub struct MergeArgs {
    /// Shard results files (or folders holding surface.jsonl).
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output folder for the merged results and figures.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Figure size WxH.
    #[arg(long, default_value = "800x600")]
    pub size: String,
}

/// Runs `llv merge`.
pub fn run_merge(a: MergeArgs) -> Result<(), CliError> {
    let size = figures::parse_size(&a.size)?;
    let parts: Vec<PathBuf> = a.parts.iter().map(|p| if p.is_dir() { p.join("surface.jsonl") } else { p.clone() }).collect();
    let mut merged = landscape::merge(&parts).map_err(|e| CliError::new(e.to_string()))?;
    if let Some(obj) = merged.plan.as_object_mut() {
        obj.insert("shard".into(), serde_json::Value::Null);
    }
    let (x, y) = figures::grid_axes(&merged)?;
    let total = x.len() * y.len().max(1);
    out_dir::prepare(&a.out, a.force)?;
    let path = a.out.join("surface.jsonl");
    ResultsWriter::write_all(&path, &merged).map_err(|e| CliError::new(e.to_string()))?;
    let missing = total - merged.points.len();
    let written = if missing == 0 { figures::default_figures(&merged, &a.out, size)? } else { Vec::new() };
    println!(
        "wrote {} ({} of {total} points{}){}",
        path.display(),
        merged.points.len(),
        if missing > 0 { ", shards missing: no figures" } else { "" },
        figures::list(&written)
    );
    Ok(())
}

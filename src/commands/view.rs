//! `llv view`: one self-contained interactive HTML page of results files
//! ([`landscape::view::page`]).

use super::CliError;
use clap::Args;
use landscape::render::ZScale;
use landscape::view::{self, ViewOptions};
use landscape::Results;
use std::path::PathBuf;

/// The value scale the page opens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// Log when all values are positive and span two decades, else linear.
    Auto,
    /// Linear.
    Linear,
    /// Logarithmic.
    Log,
}

/// Arguments of `llv view`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "The page holds its script and data inline: it opens from a file, offline, in any browser.
2-D results: a 3-D surface (drag to rotate, wheel to zoom) and contours; 1-D results: a line chart.
Several results are drawn side by side on one scale with one camera; hover shows x, y and every metric.

Examples:
  llv view surf/surface.jsonl --out surf.html
  llv view runs/batch64-surf runs/batch2048-surf --out compare.html --title \"batch 64 vs 2048\"
  llv view line/surface.jsonl --scale log --out line.html")]
pub struct ViewArgs {
    /// Results files (surface.jsonl) or the folders holding them, one panel each.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Page title.
    #[arg(long, default_value = "llv: loss landscape")]
    pub title: String,
    /// Metric shown first (e.g. test_loss, test_accuracy); default: the first loss.
    #[arg(long)]
    pub metric: Option<String>,
    /// Value scale shown first.
    #[arg(long, value_enum, default_value = "auto")]
    pub scale: Scale,
}

/// Runs `llv view`.
pub fn run(a: ViewArgs) -> Result<(), CliError> {
    if !matches!(a.out.extension().and_then(|e| e.to_str()), Some("html" | "htm")) {
        return Err(CliError::new(format!("--out {}: must end in .html", a.out.display())));
    }
    let loaded: Vec<(String, Results)> = a.results.iter().map(|p| view::load(p)).collect::<Result<_, _>>()?;
    let named: Vec<(&str, &Results)> = loaded.iter().map(|(n, r)| (n.as_str(), r)).collect();
    let scale = match a.scale {
        Scale::Auto => ZScale::Auto,
        Scale::Linear => ZScale::Linear,
        Scale::Log => ZScale::Log,
    };
    let opts = ViewOptions { title: a.title, metric: a.metric, scale };
    let html = view::page(&named, &opts)?;
    super::write_atomic(&a.out, html.as_bytes()).map_err(|e| CliError::new(format!("--out {}: {e}", a.out.display())))?;
    let points: usize = loaded.iter().map(|(_, r)| r.points.len()).sum();
    let files = if loaded.len() == 1 { "1 results file".to_string() } else { format!("{} results files", loaded.len()) };
    println!("wrote {} ({files}, {points} points)", a.out.display());
    Ok(())
}

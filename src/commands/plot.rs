//! `llv plot`: a figure from a results file ([`landscape::figures::draw`]).

use super::args::parse_size;
use super::CliError;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use landscape::figures::{self, FigureKind, FigureRequest};
use landscape::Results;
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
    /// Figure kind: line (1-D curves), contour, filled, heatmap, surface3d (2-D), trajectory (`llv trajectory` results).
    #[arg(long, default_value = "contour", value_parser = PossibleValuesParser::new(FigureKind::NAMES).map(|s| s.parse::<FigureKind>().expect("a listed name")))]
    pub kind: FigureKind,
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
pub fn run(a: PlotArgs) -> Result<(), CliError> {
    let req = FigureRequest { kind: a.kind, metric: a.metric, size: parse_size(&a.size)?, log: a.log, view: (a.elevation, a.azimuth) };
    if a.out.extension().and_then(|e| e.to_str()) != Some("png") {
        return Err(CliError::new(format!("--out {}: must end in .png", a.out.display())));
    }
    // A run still going (or killed mid-line) is drawn from its complete lines.
    let (r, _) = Results::read(&a.results, true)?;
    let level = r.drawn_level().map_err(|e| CliError::new(format!("{}: {e}", a.results.display())))?;
    figures::save_png(&figures::draw(&r, &req)?, &a.out).map_err(|e| CliError::new(format!("--out {e}")))?;
    if level.is_complete() {
        println!("wrote {}", a.out.display());
    } else {
        println!("wrote {} (unfinished: drew {})", a.out.display(), level.describe());
    }
    Ok(())
}

//! `llv merge`: joins the shards of a surface computed on several machines
//! ([`landscape::results::merge_into`]).

use super::args::parse_size;
use super::output::list;
use super::CliError;
use clap::Args;
use landscape::results::{self, MergeRequest};
use std::path::PathBuf;

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
pub fn run(a: MergeArgs) -> Result<(), CliError> {
    let req = MergeRequest { parts: a.parts, out: a.out, force: a.force, size: parse_size(&a.size)? };
    let m = results::merge_into(&req)?;
    println!(
        "wrote {} ({} of {} points{}){}",
        m.results.display(),
        m.points,
        m.grid_points,
        if m.points < m.grid_points { ", shards missing: no figures" } else { "" },
        list(&m.written)
    );
    Ok(())
}

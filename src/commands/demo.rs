//! `llv demo`: the first thing to run. Trains LeNet on the embedded MNIST
//! at a small and a large batch size, then draws what the loss landscape
//! literature draws, with an `index.html` that explains each figure.

use super::{out_dir, CliError};
use clap::Args;
use landscape::compare;
use landscape::figures::FigureKind;
use landscape::render::{self, FigureOptions};
use landscape::view::{self, ViewOptions};
use landscape::Results;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `llv demo`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Example:
  llv demo                 # writes llv-demo/ with figures and index.html, a few minutes on 2 cores
  llv demo --out /tmp/d --force")]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "llv-demo")]
    pub out: PathBuf,
    /// Overwrite a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Grid points per axis of the 2-D surfaces.
    #[arg(long, default_value_t = 31)]
    pub grid: usize,
    /// Test images each grid point is evaluated on.
    #[arg(long, default_value_t = 500)]
    pub limit: usize,
    /// A fast smoke run (1,024 training images, 2 epochs each, 5×5 grids): checks the pipeline, not the science.
    #[arg(long)]
    pub quick: bool,
}

/// Runs another llv command in this process, as if typed: `line` holds the
/// fixed words, `paths` the flags whose values are paths (which may hold spaces).
fn llv(line: &str, paths: &[(&str, &Path)]) -> Result<(), CliError> {
    let mut argv: Vec<std::ffi::OsString> = std::iter::once("llv").chain(line.split_whitespace()).map(Into::into).collect();
    for (flag, path) in paths {
        argv.push(flag.into());
        argv.push(path.as_os_str().to_owned());
    }
    let cli = <crate::Cli as clap::Parser>::try_parse_from(&argv).map_err(|e| CliError::new(format!("demo: {e}")))?;
    crate::run(cli.command)
}

fn read(dir: &Path) -> Result<Results, CliError> {
    Ok(Results::read(&dir.join("surface.jsonl"), false)?.0)
}

fn save(img: &render::RgbImage, path: &Path) -> Result<(), CliError> {
    Ok(landscape::figures::save_png(img, path)?)
}

/// Options of one panel of a side-by-side comparison.
fn panel(title: &str) -> FigureOptions {
    FigureOptions::new(title, "x", "y").with_z_label("test loss").with_size(640, 560)
}

/// Runs `llv demo`.
pub fn run(a: DemoArgs) -> Result<(), CliError> {
    let start = Instant::now();
    let _lock = out_dir::open(&a.out, false, a.force)?;
    let (small, large) = (a.out.join("train-batch64"), a.out.join("train-batch2048"));
    let (grid_n, limit) = if a.quick { (5, "100".to_string()) } else { (a.grid, a.limit.to_string()) };
    let grid = format!("-1:1:{grid_n}");
    let (small_epochs, large_epochs) = if a.quick { ("2", "2") } else { ("8", "40") };
    let train_limit = if a.quick { "1024" } else { "8000" };
    // Adam at both batch sizes, as in Keskar et al. (2017); SGD with momentum
    // does not train LeNet at batch 2048 without further tuning.
    let common = format!("--model lenet --limit {limit}");
    let train = format!("train --model lenet --optimizer adam --seed 1 --limit {train_limit}");
    eprintln!("[1/6] training LeNet at batch 64 (Adam, {small_epochs} epochs)");
    llv(&format!("{train} --batch-size 64 --epochs {small_epochs} --checkpoint-every 1"), &[("--out", &small)])?;
    eprintln!("[2/6] training LeNet at batch 2048 (Adam, lr 5e-3, {large_epochs} epochs: 32× fewer steps per epoch)");
    llv(&format!("{train} --batch-size 2048 --lr 5e-3 --epochs {large_epochs} --checkpoint-every 5"), &[("--out", &large)])?;

    eprintln!("[3/6] lines: initialization → solution, small-batch → large-batch solution");
    let line = a.out.join("line-init-to-solution");
    let (init, small_final, large_final) =
        (small.join("checkpoints/epoch-000.safetensors"), small.join("final.safetensors"), large.join("final.safetensors"));
    llv(&format!("interpolate {common} --range -0.25:1.25:31"), &[("--from", &init), ("--to", &small_final), ("--out", &line)])?;
    let between = a.out.join("line-small-to-large");
    llv(&format!("interpolate {common} --range -0.5:1.5:41"), &[("--from", &small_final), ("--to", &large_final), ("--out", &between)])?;

    eprintln!("[4/6] 1-D filter-normalized slices around both solutions");
    let (s1, l1) = (a.out.join("slice1d-batch64"), a.out.join("slice1d-batch2048"));
    for (dir, weights) in [(&s1, &small_final), (&l1, &large_final)] {
        llv(&format!("surface {common} --x -1:1:41 --seed 7"), &[("--weights", weights), ("--out", dir)])?;
    }
    eprintln!("[5/6] 2-D filter-normalized surfaces around both solutions ({grid_n}×{grid_n} points each)");
    let (s2, l2) = (a.out.join("surface2d-batch64"), a.out.join("surface2d-batch2048"));
    for (dir, weights) in [(&s2, &small_final), (&l2, &large_final)] {
        llv(&format!("surface {common} --x {grid} --y {grid} --seed 7"), &[("--weights", weights), ("--out", dir)])?;
    }
    eprintln!("[6/6] the training path on its PCA plane");
    let pca = a.out.join("trajectory-batch64");
    let pca_grid = if a.quick { 5 } else { 21 };
    llv(&format!("trajectory {common} --grid {pca_grid}"), &[("--checkpoints", &small), ("--out", &pca)])?;

    // Shared-scale comparisons.
    let figs = a.out.join("figures");
    std::fs::create_dir_all(&figs).map_err(|e| CliError::new(format!("{}: {e}", figs.display())))?;
    let (rs1, rl1, rs2, rl2) = (read(&s1)?, read(&l1)?, read(&s2)?, read(&l2)?);
    let mut opts =
        FigureOptions::new("LeNet, 1-D filter-normalized slice: batch 64 vs batch 2048", "x (filter-normalized direction)", "test loss");
    opts.right_range = Some((0.0, 100.0));
    opts.vlines = vec![(0.0, "solution".into())];
    save(&compare::curves(&[("batch 64", &rs1), ("batch 2048", &rl1)], &opts)?, &figs.join("slice1d-small-vs-large.png"))?;
    for (name, src) in [("goodfellow-line.png", &line), ("small-to-large-line.png", &between)] {
        std::fs::copy(src.join("line.png"), figs.join(name)).map_err(|e| CliError::new(e.to_string()))?;
    }
    let (gs, gl) = (rs2.grid("test_loss")?, rl2.grid("test_loss")?);
    let (o64, o2048) = (panel("batch 64"), panel("batch 2048"));
    for (kind, title, file) in [
        (FigureKind::Contour, "LeNet test loss around the solution: contours (shared levels)", "contour-small-vs-large.png"),
        (FigureKind::Filled, "LeNet test loss: filled contours (shared scale)", "filled-small-vs-large.png"),
        (FigureKind::Surface3d, "LeNet test loss: 3-D surfaces (shared scale)", "surface3d-small-vs-large.png"),
    ] {
        save(&compare::panels(&[(&o64, &gs), (&o2048, &gl)], kind, title), &figs.join(file))?;
    }
    std::fs::copy(pca.join("trajectory.png"), figs.join("trajectory.png")).map_err(|e| CliError::new(e.to_string()))?;
    let view_opts = ViewOptions { title: "LeNet test loss around both solutions (interactive)".into(), ..ViewOptions::default() };
    let page = view::page(&[("batch 64", &rs2), ("batch 2048", &rl2)], &view_opts).map_err(|e| CliError::new(e.to_string()))?;
    super::write_atomic(&a.out.join("view.html"), page.as_bytes())?;

    let pages = [
        ("goodfellow-line.png", "The loss along the straight line from the initial weights (α = 0) to the trained ones (α = 1), as in Goodfellow et al. (2015): it falls smoothly, with no barrier on the way."),
        ("small-to-large-line.png", "The line from the batch-64 solution (α = 0) to the batch-2048 solution (α = 1): whether a barrier separates the two minima, and which one is wider."),
        ("slice1d-small-vs-large.png", "The same random filter-normalized direction (Li et al. 2018) through both solutions, on one scale: the flatter curve is the wider minimum."),
        ("contour-small-vs-large.png", "2-D filter-normalized slices around both solutions with the same contour levels: compare the area inside each level."),
        ("filled-small-vs-large.png", "The same slices as filled contours on one color scale."),
        ("surface3d-small-vs-large.png", "The same slices as shaded 3-D surfaces on one height and color scale."),
        ("trajectory.png", "The batch-64 training path projected on the top two principal components of its checkpoints, over the loss on that plane; the axis labels give the variance each component explains."),
    ];
    let mut html = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>llv demo</title><style>body{font-family:sans-serif;max-width:900px;margin:auto}img{max-width:100%;border:1px solid #ddd}</style></head><body><h1>llv demo: LeNet on MNIST, batch 64 vs batch 2048</h1>\n");
    html.push_str("<h2>Interactive view</h2><p>Both 2-D slices on one scale with one camera: drag to rotate, wheel to zoom, hover for values (<a href=\"view.html\">open it alone</a>; made with <code>llv view</code>).</p><iframe src=\"view.html\" title=\"interactive view\" style=\"width:100%;height:580px;border:1px solid #ddd\"></iframe>\n");
    for (file, text) in pages {
        html.push_str(&format!("<h2>{file}</h2><p>{text}</p><img src=\"figures/{file}\">\n"));
    }
    html.push_str("<p>Every folder next to this page holds the data behind its figure (surface.jsonl, CSV, NPY, VTK) and the training runs' metrics and checkpoints.</p></body></html>\n");
    super::write_atomic(&a.out.join("index.html"), html.as_bytes())?;
    println!("demo finished in {:.0} s: open {}", start.elapsed().as_secs_f64(), a.out.join("index.html").display());
    Ok(())
}

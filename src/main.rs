//! `llv`: the command line over the llv engine.
//!
//! Each subcommand lives in `commands/`; a failing command prints one line
//! `error: …` naming the flag or file at fault and exits with status 1.

mod commands;
mod interrupt;

/// Large buffers (tensors, packing scratch) on transparent huge pages.
#[global_allocator]
static ALLOC: autodiff::alloc::HugePages = autodiff::alloc::HugePages;

use clap::{Parser, Subcommand};

/// llv: see and measure the loss landscapes of neural networks.
#[derive(Parser)]
#[command(name = "llv", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train small models on the embedded MNIST and draw their loss landscapes (start here).
    ///
    /// Example: `llv demo` (writes llv-demo/index.html)
    Demo(commands::demo::DemoArgs),
    /// Time the cases of ../shared/bench/torch_ref.py (same names and rules) and llv's own SGEMM.
    ///
    /// Example: `llv bench --json > llv_bench.jsonl`
    Bench(commands::bench::BenchArgs),
    /// Print what this build of llv runs on (threads, SIMD features).
    ///
    /// Example: `llv info`
    Info,
    /// Mean cross-entropy and top-1 accuracy of a checkpoint on a data set.
    ///
    /// Example: `llv eval --model lenet --weights w.safetensors --data mnist --limit 500 --json`
    Eval(commands::eval::EvalArgs),
    /// List the model zoo with parameter counts.
    ///
    /// Example: `llv models`
    Models(commands::models::ModelsArgs),
    /// Describe a data set: sizes, shapes, classes, normalization.
    ///
    /// Example: `llv data mnist`
    Data(commands::data::DataArgs),
    /// Train a zoo model (SGD, Adam, AdamW, PAL, Entropy-SGD, SAM), writing config, metrics and checkpoints.
    ///
    /// Example: `llv train --model lenet --data mnist --optimizer sgd --epochs 10 --out runs/lenet-sgd`
    Train(commands::train::TrainArgs),
    /// Loss and accuracy along the line between two checkpoints (Goodfellow et al.).
    ///
    /// Example: `llv interpolate --model lenet --from init.safetensors --to final.safetensors --out line`
    Interpolate(commands::interpolate::InterpolateArgs),
    /// Loss and accuracy on a 1-D or 2-D filter-normalized random slice around a checkpoint (Li et al.).
    ///
    /// Example: `llv surface --model lenet --weights final.safetensors --x -1:1:41 --y -1:1:41 --out surf`
    Surface(commands::surface::SurfaceArgs),
    /// The training path on the PCA plane of its checkpoints, over that plane's loss surface.
    ///
    /// Example: `llv trajectory --model lenet --checkpoints runs/sgd --out runs/sgd/pca`
    Trajectory(commands::trajectory::TrajectoryArgs),
    /// Hessian spectrum of a checkpoint: top eigenvalues, smallest eigenvalue, trace, spectral density, curvature map.
    ///
    /// Example: `llv hessian --model lenet --weights final.safetensors --top-k 5 --trace --density --out hess`
    Hessian(commands::hessian::HessianArgs),
    /// Sharpness of a minimum: ε-sharpness (Keskar et al.), random-perturbation loss increase, local entropy.
    ///
    /// Example: `llv sharpness --model lenet --weights final.safetensors --metric eps,random,entropy --out sharp`
    Sharpness(commands::sharpness::SharpnessArgs),
    /// Join the shards of a surface computed with --shard.
    ///
    /// Example: `llv merge part1 part2 --out whole`
    Merge(commands::merge::MergeArgs),
    /// Draw a figure from a results file.
    ///
    /// Example: `llv plot surf/surface.jsonl --kind surface3d --out surf.png`
    Plot(commands::plot::PlotArgs),
    /// One self-contained interactive HTML page of results files: 3-D surface, contours, line charts.
    ///
    /// Example: `llv view surf/surface.jsonl --out surf.html`
    View(commands::view::ViewArgs),
}

/// Runs one command.
fn run(command: Command) -> Result<(), commands::CliError> {
    match command {
        Command::Demo(a) => commands::demo::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Info => {
            commands::info::run();
            Ok(())
        }
        Command::Eval(a) => commands::eval::run(a),
        Command::Models(a) => commands::models::run(a),
        Command::Data(a) => commands::data::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Interpolate(a) => commands::interpolate::run(a),
        Command::Surface(a) => commands::surface::run(a),
        Command::Trajectory(a) => commands::trajectory::run(a),
        Command::Hessian(a) => commands::hessian::run(a),
        Command::Sharpness(a) => commands::sharpness::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::Plot(a) => commands::plot::run(a),
        Command::View(a) => commands::view::run(a),
    }
}

/// Keeps freed memory in the heap for reuse. glibc's malloc hands blocks
/// above 128 KiB back to the kernel on every free, so each large activation
/// is page-faulted in again on every op: for a landscape grid that is as
/// much system time as compute. Never mapping and never trimming (what
/// `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=…`
/// does) removes it; one arena keeps the rayon workers' blocks in the same
/// reusable heap (peak RSS of a ResNet-20 eval 1137 -> 787 MB). Numerics are
/// unchanged.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_MAX: i32 = -4;
        const M_ARENA_MAX: i32 = -8;
        // SAFETY: mallopt only adjusts glibc's allocator parameters; it is
        // called once, before any other thread exists.
        unsafe {
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_ARENA_MAX, 1);
            mallopt(M_TRIM_THRESHOLD, i32::MAX);
        }
    }
}

fn main() {
    tune_allocator();
    interrupt::install();
    let cli = Cli::parse();
    if let Err(e) = run(cli.command) {
        eprintln!("error: {e}");
        // 130 = 128 + SIGINT, what shells report for a job stopped by Ctrl-C.
        std::process::exit(if nn::interrupt::stop_requested() { 130 } else { 1 });
    }
}

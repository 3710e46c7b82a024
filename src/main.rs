//! `llv`: the command line over the llv engine.
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
    /// Print what this build of llv runs on (threads, SIMD features).
    ///
    /// Example: `llv info`
    Info,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Info => {
            println!("llv {}", env!("CARGO_PKG_VERSION"));
            println!("threads: {}", rayon::current_num_threads());
            #[cfg(target_arch = "x86_64")]
            {
                let yes = |b: bool| if b { "yes" } else { "no" };
                println!("avx2+fma: {}", yes(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")));
                println!("avx512f: {}", yes(is_x86_feature_detected!("avx512f")));
            }
        }
    }
}

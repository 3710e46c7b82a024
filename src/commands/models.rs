//! `llv models`: the model zoo with parameter counts.

use super::{print, thousands, CliError};
use clap::Args;
use nn::zoo::{self, InputKind, ModelConfig};
use nn::ModuleExt;
use std::fmt::Write;

/// Arguments of `llv models`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  llv models                                  # counts for MNIST-shaped input (1x28x28, 10 classes)
  llv models --in-channels 3 --image-size 32  # counts for CIFAR-10-shaped input

Any resnet<6n+2> and resnet<6n+2>-noshort (depth 8 to 1202) also builds.")]
pub struct ModelsArgs {
    /// Input channels the counts are for.
    #[arg(long, default_value_t = 1)]
    pub in_channels: usize,
    /// Image side the counts are for.
    #[arg(long, default_value_t = 28)]
    pub image_size: usize,
    /// Number of classes the counts are for.
    #[arg(long, default_value_t = 10)]
    pub num_classes: usize,
    /// Vocabulary size for the language models.
    #[arg(long, default_value_t = 76)]
    pub vocab: usize,
}

/// Runs `llv models`.
pub fn run(a: ModelsArgs) -> Result<(), CliError> {
    let cfg = ModelConfig { in_channels: a.in_channels, image_size: a.image_size, num_classes: a.num_classes, vocab: a.vocab };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "parameter counts for {}x{}x{} input and {} classes{}; char-lstm for a {}-token vocabulary",
        cfg.in_channels,
        cfg.image_size,
        cfg.image_size,
        cfg.num_classes,
        if (cfg.in_channels, cfg.image_size, cfg.num_classes) == (1, 28, 10) { " (MNIST-shaped)" } else { "" },
        cfg.vocab
    );
    let _ = writeln!(out, "\n{:<18} {:>11}  description", "model", "parameters");
    for m in zoo::catalog() {
        let count = match zoo::build(m.name, &cfg, 0) {
            Ok(mut net) => thousands(net.num_parameters()),
            Err(zoo_err) => {
                if m.input == InputKind::Tokens {
                    return Err(CliError::new(format!("--vocab: {zoo_err}")));
                }
                "-".to_string()
            }
        };
        let _ = writeln!(out, "{:<18} {:>11}  {}", m.name, count, m.description);
    }
    print(&out);
    Ok(())
}

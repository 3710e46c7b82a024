//! `llv data SPEC`: what a data set holds.

use super::{print, CliError};
use clap::Args;
use datasets::DataSpec;

/// Arguments of `llv data`.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Data specs:
  mnist                 the embedded 10k MNIST subset (8,000 train / 2,000 test)
  mnist:DIR             MNIST from the four IDX files in DIR (raw or .gz)
  fashion-mnist:DIR     Fashion-MNIST, same file names
  cifar10:DIR           CIFAR-10 binary batches in DIR (or DIR/cifar-10-batches-bin)
  shakespeare[:val=F]   the embedded plays, last F held out (default 0.1)
  text:FILE             any text file as a byte-level corpus
  spirals[:k=v,...]     keys n, noise, turns, test, seed
  blobs[:k=v,...]       keys n, classes, dim, std, spread, test, seed

Examples:
  llv data mnist
  llv data cifar10:~/data/cifar
  llv data spirals:n=500,noise=0.2")]
pub struct DataArgs {
    /// The data spec.
    pub spec: String,
}

/// Runs `llv data`.
pub fn run(a: DataArgs) -> Result<(), CliError> {
    let spec = DataSpec::parse(&a.spec).map_err(|e| CliError::new(e.to_string()))?;
    let data = spec.load().map_err(|e| CliError::new(format!("{spec}: {e}")))?;
    print(&format!("{}\n", data.describe()));
    Ok(())
}

//! # datasets: data sets and batching for llv
//!
//! A leaf crate (no workspace dependencies): everything comes out as plain
//! `Vec<f32>` / `Vec<usize>` data that `nn` turns into tensors.
//!
//! Layout:
//! - [`dataset`]: the [`Dataset`] trait, the in-memory [`ClassificationSet`]
//!   (subsets by first N, by seed, train/test split), [`ClassificationData`]
//!   (a train/test pair), [`Normalization`] (MNIST and CIFAR-10 as llv's
//!   `zoo.py`), and the plain-data [`Batch`].
//! - [`loader`]: [`DataLoader`]: seeded per-epoch shuffling, batching,
//!   drop-last, seeded [`Augmentation`] (random crop with padding, flips).
//! - [`idx`]: IDX readers (MNIST, Fashion-MNIST; raw or gzip).
//! - [`cifar`]: CIFAR-10 binary batches.
//! - [`text`]: byte-level character corpora ([`TextData`], [`Vocab`]) and
//!   contiguous truncated-BPTT batches ([`BpttBatches`], [`TokenBatch`]).
//! - [`text_windows`]: the fixed evaluation windows of a language model
//!   ([`LmWindows`], [`TextSplit`]): consecutive, non-overlapping, zero
//!   state per window.
//! - [`synthetic`]: two spirals and Gaussian blobs, seeded.
//! - [`embedded`]: the MNIST 10k subset and Shakespeare, compiled in
//!   (provenance: `datasets/data/README.md`).
//! - [`spec`]: [`DataSpec`] (the CLI's `--data SPEC`), [`load`], [`Data`],
//!   and the printable [`DataDescription`].
//! - [`error`]: [`DataError`], the one error type.
//!
//! ```
//! use datasets::{DataLoader, DataSpec, Dataset};
//! let data = DataSpec::parse("spirals:n=200,seed=1").unwrap().load().unwrap();
//! let c = data.as_classification().unwrap();
//! let loader = DataLoader::new(&c.train, 32).unwrap().shuffled(7).drop_last(true);
//! for batch in loader.epoch(0) {
//!     assert_eq!(batch.shape, vec![32, 2]);
//! }
//! ```

pub mod cifar;
pub mod dataset;
pub mod embedded;
pub mod error;
pub mod idx;
pub mod loader;
pub mod spec;
pub mod synthetic;
pub mod text;
pub mod text_windows;

pub use dataset::{Batch, ClassificationData, ClassificationSet, Dataset, Normalization};
pub use error::{DataError, Result};
pub use loader::{Augmentation, DataLoader, Epoch};
pub use spec::{load, Data, DataDescription, DataSpec, Task};
pub use synthetic::{blobs, spirals, BlobsParams, SpiralsParams};
pub use text::{BpttBatches, TextData, TokenBatch, Vocab};
pub use text_windows::{LmWindows, TextSplit};

//! # nn: layers, the model zoo and checkpoints
//!
//! Built from `autodiff` tensor ops, so every model is differentiable to
//! second order. Names, shapes, initialization and numerics follow PyTorch
//! (`reference/zoo.py`), and checkpoints are safetensors files, so
//! weights move between llv and PyTorch both ways.
//!
//! * [`module`]: the [`Module`] trait (forward, a visitor over named
//!   tensors in `state_dict` order, training mode) and [`ModuleExt`].
//! * [`layers`]: Linear, Conv2d, BatchNorm1d/2d, pooling, ReLU, Tanh,
//!   Dropout, Embedding, LSTM, Sequential, Flatten.
//! * [`zoo`]: `mlp`, `lenet`, `resnet<6n+2>[-noshort]`, `vgg9`,
//!   `char-lstm`, built by name with [`zoo::build`].
//! * [`checkpoint`]: safetensors [`checkpoint::save`] / [`checkpoint::load`].
//! * [`eval`]: mean cross-entropy and accuracy of a classifier ([`eval::evaluate`]).
//! * [`eval_lm`]: mean cross-entropy per character, top-1 accuracy and
//!   perplexity of a language model on fixed windows ([`eval_lm::evaluate_lm`]).
//! * [`error`]: the crate's one error type, [`NnError`].
//! * [`out_lock`]: one writer per output folder; [`interrupt`]: stop long
//!   work at a consistent point (SIGINT/SIGTERM in the command line).
//!
//! ```
//! use nn::{zoo, Module, ModuleExt};
//! let mut model = zoo::build("lenet", &zoo::ModelConfig::mnist(), 0).unwrap();
//! model.set_training(false);
//! let logits = model.forward(&autodiff::Tensor::zeros(&[2, 1, 28, 28]));
//! assert_eq!(logits.shape(), [2, 10]);
//! assert_eq!(model.num_parameters(), 61_706);
//! ```

#![warn(missing_docs)]

pub mod checkpoint;
pub mod error;
pub mod eval;
pub mod eval_lm;
pub mod interrupt;
pub mod layers;
pub mod module;
pub mod out_lock;
pub mod zoo;

pub use error::NnError;
pub use eval::{evaluate, EvalResult};
pub use eval_lm::{evaluate_lm, lm_loss, LmEvalResult};
pub use module::{Kind, Module, ModuleExt, Named};
pub use out_lock::OutLock;

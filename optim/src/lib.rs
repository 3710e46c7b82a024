//! # optim: optimizers, schedules and the training loop
//!
//! The [`Optimizer`] trait lets a step call back into the model through an
//! [`Objective`] (see [`optimizer`] for how to add one, with SAM as the
//! worked example). Implemented: [`Sgd`], [`Adam`] (and AdamW), [`Pal`],
//! [`EntropySgd`] and [`Sam`] (around any [`GradientStep`] base).
//! [`train()`] runs classification, [`train_lm()`] character-level language
//! models (truncated-BPTT windows, validation loss and perplexity).

pub mod adam;
pub mod entropy_sgd;
pub mod optimizer;
pub mod pal;
pub mod sam;
pub mod schedule;
pub mod sgd;
pub mod train;
pub mod train_lm;

pub use adam::{Adam, AdamConfig};
pub use entropy_sgd::{EntropySgd, EntropySgdConfig};
pub use optimizer::{dot, global_norm, FnObjective, GradientStep, Objective, Optimizer, StepReport};
pub use pal::{Pal, PalConfig, PalMeasurement};
pub use sam::{Sam, SamConfig};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};
pub use train::{train, BatchObjective, EpochMetrics, NoHooks, TrainConfig, TrainError, TrainHooks};
pub use train_lm::{clip_grad_norm, evaluate_lm, lm_loss, token_tensor, train_lm, LmConfig, LmEpochMetrics, LmHooks, LmObjective};

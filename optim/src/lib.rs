//! # optim: optimizers, schedules and the training loop
//!
//! The [`Optimizer`] trait lets a step call back into the model through an
//! [`Objective`] (see [`optimizer`] for how to add one, with SAM as the
//! worked example). Implemented: [`Sgd`], [`Adam`] (and AdamW).

pub mod adam;
pub mod optimizer;
pub mod schedule;
pub mod sgd;
pub mod train;

pub use adam::{Adam, AdamConfig};
pub use optimizer::{dot, global_norm, FnObjective, GradientStep, Objective, Optimizer, StepReport};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};
pub use train::{evaluate, train, BatchObjective, EpochMetrics, NoHooks, TrainConfig, TrainError, TrainHooks};

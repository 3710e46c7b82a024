//! # optim: optimizers, schedules and the training loop
//!
//! The [`Optimizer`] trait lets a step call back into the model through an
//! [`Objective`]. Update rules that treat each parameter on its own
//! implement the smaller [`Rule`] and become optimizers through the
//! [`PerParam`] adaptor. Every optimizer registers itself
//! ([`registry`]: name, hyperparameters, builder), which is how `llv train
//! --optimizer NAME --opt key=value` finds it; `llv train
//! --list-optimizers` prints the list. [`train()`] runs classification,
//! [`train_lm()`] character-level language models; [`resume`] saves and
//! restores a run between epochs.

pub mod hyper;
pub mod optimizer;
pub mod optimizers;
pub mod registry;
pub mod resume;
pub mod rule;
pub mod schedule;
pub mod state;
pub mod train;
pub mod train_lm;

pub use hyper::{ConfigError, Hyper, Kind, Range, Value};
pub use optimizer::{dot, global_norm, FnObjective, GradientStep, Objective, Optimizer, StepReport};
pub use optimizers::*;
pub use registry::{Hypers, OptimizerSpec};
pub use resume::ResumeState;
pub use rule::{PerParam, Rule, StepInfo};
pub use schedule::Schedule;
pub use state::OptimizerState;
pub use train::{train, BatchObjective, EpochMetrics, NoHooks, TrainConfig, TrainError, TrainHooks};
pub use train_lm::{clip_grad_norm, evaluate_lm, lm_loss, token_tensor, train_lm, LmConfig, LmEpochMetrics, LmHooks, LmObjective};

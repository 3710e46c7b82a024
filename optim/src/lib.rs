//! # optim: optimizers and the training loop
//!
//! Filled by the "Optimizers" issue: the `Optimizer` trait, SGD, Adam / AdamW,
//! PAL, Entropy-SGD, SAM, learning-rate schedules and the shared training loop.

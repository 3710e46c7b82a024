//! # nn: layers, the model zoo and checkpoints
//!
//! Built from `autodiff` tensor ops, so every model is differentiable to
//! second order. Names, shapes, initialization and numerics follow PyTorch
//! (`../shared/reference/zoo.py`), and checkpoints are safetensors files, so
//! weights move between llv and PyTorch both ways.

pub mod module;

pub use module::{Kind, Module, ModuleExt, Named};

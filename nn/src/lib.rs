//! # nn: layers, the model zoo and checkpoints
//!
//! Filled by the "nn and datasets" issue: the `Module` trait with PyTorch
//! `state_dict` names, layers (Linear, Conv2d, BatchNorm, pooling, Embedding,
//! LSTM, Dropout), the zoo of `../shared/reference/zoo.py`, and safetensors
//! checkpoints. Everything here is built from `autodiff` tensor ops.

//! # autodiff: llv's tensor engine
//!
//! Reverse-mode automatic differentiation over n-dimensional `f32`
//! [`Tensor`]s, exact to second order, on our own CPU kernels.
//!
//! * **Tensors** are contiguous, row-major, immutable handles with shared
//!   storage ([`tensor`]). Creation: [`Tensor::from_vec`], [`Tensor::zeros`],
//!   [`Tensor::randn`] (seeded), …
//! * **Ops** ([`ops`]) each come with a backward rule written with the same
//!   public ops, so every gradient can be differentiated again.
//! * **Gradients**: [`grad`] (with `create_graph` for higher order),
//!   [`Tensor::backward`], [`hvp`] (exact Hessian-vector products),
//!   [`no_grad`] for evaluation. See [`graph`] for accumulation semantics.
//! * **Memory**: [`alloc::HugePages`], a global allocator for binaries that
//!   puts large buffers on transparent huge pages.
//! * **Checking**: [`gradcheck`] compares all of it with finite differences.
//! * **Kernels** ([`kernels`]): plain slice functions (GEMM, convolution,
//!   pooling, elementwise, reductions, fused batch norm), rayon-parallel and deterministic
//!   whatever the thread count.
//!
//! **Errors.** Shape mismatches inside an op are programmer errors: the op
//! panics with a message naming itself and the shapes (e.g. `add: shapes
//! [2, 3] and [2] do not broadcast`). Input that comes from users (files,
//! flags) is validated by the calling crates and reported through `Result`.
//!
//! ```
//! use autodiff::{grad, Tensor};
//! let w = Tensor::from_vec(vec![0.5, -1.0], &[2, 1]).requires_grad_();
//! let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
//! let loss = x.matmul(&w).tanh().sum_all();
//! let g = grad(&[loss], &[w], false);
//! assert_eq!(g[0].shape(), &[2, 1]);
//! ```

pub mod alloc;
pub mod gradcheck;
pub mod graph;
pub mod kernels;
pub mod ops;
pub mod shape;
pub mod tensor;

pub use graph::{enable_grad, grad, grad_with_seeds, hvp, is_grad_enabled, no_grad, Backward, Gradients};
pub use ops::norm::{batch_norm, BatchNormConfig};
pub use tensor::{live_tensor_count, Tensor, TensorId};

//! The layers, one file each. Every layer implements [`Module`](crate::Module)
//! with PyTorch's tensor names (`weight`, `bias`, `running_mean`, …) and
//! PyTorch's default initialization, drawn from a caller's `rand::Rng` so a
//! whole model comes from one seeded stream.
//!
//! | layer | PyTorch | tensors |
//! | --- | --- | --- |
//! | [`Linear`] | `nn.Linear` | `weight [out, in]`, `bias [out]` |
//! | [`Conv2d`] | `nn.Conv2d` | `weight [out, in, kh, kw]`, `bias [out]` |
//! | [`BatchNorm1d`], [`BatchNorm2d`] | `nn.BatchNorm1d/2d` | `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` |
//! | [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`] | same | none |
//! | [`ReLU`], [`Tanh`], [`Flatten`] | same | none |
//! | [`Dropout`] | `nn.Dropout` | none (seeded masks) |
//! | [`Embedding`] | `nn.Embedding` | `weight [vocab, dim]` |
//! | [`Lstm`] | `nn.LSTM(batch_first=True)` | `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` |
//! | [`Sequential`] | `nn.Sequential` | children named `0`, `1`, … |

pub mod adaptive_avg_pool2d;
pub mod avg_pool2d;
pub mod batch_norm;
pub mod conv2d;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod fold;
pub mod linear;
pub mod lstm;
pub mod max_pool2d;
pub mod relu;
pub mod sequential;
pub mod tanh;

pub use adaptive_avg_pool2d::AdaptiveAvgPool2d;
pub use avg_pool2d::AvgPool2d;
pub use batch_norm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use fold::{conv_bn, conv_bn_act, conv_bn_pair};
pub use linear::Linear;
pub use lstm::Lstm;
pub use max_pool2d::MaxPool2d;
pub use relu::ReLU;
pub use sequential::Sequential;
pub use tanh::Tanh;

use autodiff::Tensor;
use rand::Rng;

/// `U(-bound, bound)` draws from `rng` (PyTorch's `uniform_(-b, b)`).
pub fn uniform(shape: &[usize], bound: f32, rng: &mut impl Rng) -> Tensor {
    Tensor::rand_uniform_with(shape, -bound, bound, rng)
}

/// Calls `f` with `prefix + name` for one tensor: the helper every
/// [`Module::visit_mut`](crate::Module::visit_mut) uses.
pub fn visit_one(prefix: &str, name: &str, t: &mut Tensor, kind: crate::Kind, f: &mut dyn FnMut(&str, &mut Tensor, crate::Kind)) {
    f(&format!("{prefix}{name}"), t, kind);
}

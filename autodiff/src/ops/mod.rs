//! The ops. Each file holds one family: the forward computation (calling a
//! kernel), its backward rule written with these same public ops (so the
//! rule set is closed and every rule can itself be differentiated), and its
//! gradient and second-order checks.
//!
//! Shape errors inside an op are programmer errors: the op panics with a
//! message naming itself and the shapes involved.

pub mod activation;
pub mod arith;
pub mod conv;
pub mod index;
pub mod layout;
pub mod linalg;
pub mod loss;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod rnn;

use crate::graph::Backward;
use crate::tensor::Tensor;

/// A tensor that never requires a gradient, for masks built inside rules.
pub(crate) fn constant(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape)
}

/// Runs an elementwise unary op: forward by `f`, recorded as `op`.
pub(crate) fn unary(x: &Tensor, f: impl Fn(f32) -> f32 + Sync, op: impl Backward + 'static) -> Tensor {
    let data = crate::kernels::elementwise::map(x.data(), f);
    Tensor::from_op(data, x.shape().to_vec(), op, vec![x.clone()])
}

/// Splits `shape` around `axis` into `(outer, dim, inner)`.
pub(crate) fn around_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

//! The `Tensor`: an n-dimensional, contiguous, row-major array of `f32` that
//! can remember how it was made.
//!
//! A `Tensor` is a cheap handle (`Arc`) to an immutable node. The node holds
//! the shape, the storage (itself reference counted, so `reshape` and
//! `detach` share it) and, when the tensor requires a gradient and was made
//! by an op while recording was on, the op and its input tensors. Dropping
//! the last handle to a loss frees the whole graph behind it.

use crate::graph::{self, Backward, GradNode};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Uniform};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static LIVE_TENSORS: AtomicUsize = AtomicUsize::new(0);

/// Number of tensor nodes alive in the whole process. Used by tests to show
/// that graphs are freed when their loss is dropped.
pub fn live_tensor_count() -> usize {
    LIVE_TENSORS.load(Ordering::SeqCst)
}

/// A unique identity for a tensor node (two handles to one node share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

pub(crate) struct Inner {
    pub(crate) id: TensorId,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Arc<Vec<f32>>,
    pub(crate) requires_grad: bool,
    pub(crate) node: Option<GradNode>,
}

impl Drop for Inner {
    /// Frees the graph iteratively: a long chain (an unrolled LSTM, a deep
    /// ResNet) would otherwise recurse once per node and could overflow the
    /// stack.
    fn drop(&mut self) {
        LIVE_TENSORS.fetch_sub(1, Ordering::SeqCst);
        let Some(node) = self.node.take() else { return };
        let mut stack: Vec<Tensor> = node.inputs;
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0) {
                if let Some(n) = inner.node.take() {
                    stack.extend(n.inputs);
                }
            }
        }
    }
}

/// An n-dimensional `f32` array with reverse-mode automatic differentiation.
///
/// Cloning is cheap (a reference count). Tensors are immutable: every op
/// returns a new tensor. See the crate docs for the gradient API.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

/// Number of elements of a shape (1 for a scalar `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    fn make(data: Arc<Vec<f32>>, shape: Vec<usize>, requires_grad: bool, node: Option<GradNode>) -> Tensor {
        assert_eq!(data.len(), numel(&shape), "Tensor: data of length {} does not fit shape {:?}", data.len(), shape);
        LIVE_TENSORS.fetch_add(1, Ordering::SeqCst);
        Tensor(Arc::new(Inner { id: TensorId(NEXT_ID.fetch_add(1, Ordering::Relaxed)), shape, data, requires_grad, node }))
    }

    /// Output of an op: `data` laid out in `shape`, computed from `inputs`.
    /// Records `op` (the backward rule) and `inputs` when recording is on
    /// and any input requires a gradient; otherwise a plain constant.
    ///
    /// This is how an op is defined, inside this crate or outside it: compute
    /// the output's values, then call `from_op` with a [`Backward`] rule
    /// written with tensor ops, so the gradient can be differentiated again.
    /// Check a new op with [`crate::gradcheck::check_all`]; `docs/extending.md`
    /// walks through one. Panics if `data.len()` is not the product of `shape`.
    pub fn from_op(data: Vec<f32>, shape: Vec<usize>, op: impl Backward + 'static, inputs: Vec<Tensor>) -> Tensor {
        Tensor::from_op_shared(Arc::new(data), shape, op, inputs)
    }

    pub(crate) fn from_op_shared(data: Arc<Vec<f32>>, shape: Vec<usize>, op: impl Backward + 'static, inputs: Vec<Tensor>) -> Tensor {
        let record = graph::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
        if record {
            let node = GradNode { op: Box::new(op), inputs };
            Tensor::make(data, shape, true, Some(node))
        } else {
            Tensor::make(data, shape, false, None)
        }
    }

    /// A constant tensor from data laid out row-major in `shape`.
    /// Panics if `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::make(Arc::new(data), shape.to_vec(), false, None)
    }

    /// A 0-dimensional tensor holding `value`.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_vec(vec![value], &[])
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::from_vec(vec![value; numel(shape)], shape)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// Zeros shaped like `self`.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape())
    }

    /// Standard normal draws from `rng`.
    pub fn randn_with(shape: &[usize], rng: &mut impl Rng) -> Tensor {
        let dist = Normal::new(0.0f32, 1.0).expect("unit normal");
        Tensor::from_vec((0..numel(shape)).map(|_| dist.sample(rng)).collect(), shape)
    }

    /// Standard normal draws, seeded: the same seed gives the same tensor.
    pub fn randn(shape: &[usize], seed: u64) -> Tensor {
        Tensor::randn_with(shape, &mut StdRng::seed_from_u64(seed))
    }

    /// Uniform draws in `[low, high)` from `rng`.
    pub fn rand_uniform_with(shape: &[usize], low: f32, high: f32, rng: &mut impl Rng) -> Tensor {
        assert!(low < high, "rand_uniform: empty range [{low}, {high})");
        let dist = Uniform::new(low, high);
        Tensor::from_vec((0..numel(shape)).map(|_| dist.sample(rng)).collect(), shape)
    }

    /// Uniform draws in `[low, high)`, seeded.
    pub fn rand_uniform(shape: &[usize], low: f32, high: f32, seed: u64) -> Tensor {
        Tensor::rand_uniform_with(shape, low, high, &mut StdRng::seed_from_u64(seed))
    }

    /// Kaiming (He) normal draws: N(0, 2 / fan_in), for ReLU networks.
    pub fn kaiming_normal_with(shape: &[usize], fan_in: usize, rng: &mut impl Rng) -> Tensor {
        let std = (2.0 / fan_in.max(1) as f32).sqrt();
        let dist = Normal::new(0.0f32, std).expect("finite std");
        Tensor::from_vec((0..numel(shape)).map(|_| dist.sample(rng)).collect(), shape)
    }

    /// Kaiming uniform draws: U(-b, b) with b = gain * sqrt(3 / fan_in).
    /// PyTorch's default Linear / Conv weight init is gain = 1/sqrt(3)
    /// (i.e. `kaiming_uniform_(a = sqrt(5))`), giving b = 1 / sqrt(fan_in).
    pub fn kaiming_uniform_with(shape: &[usize], fan_in: usize, gain: f32, rng: &mut impl Rng) -> Tensor {
        let bound = gain * (3.0 / fan_in.max(1) as f32).sqrt();
        Tensor::rand_uniform_with(shape, -bound, bound, rng)
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.0.shape.len()
    }

    /// Size of dimension `axis`.
    pub fn dim(&self, axis: usize) -> usize {
        self.0.shape[axis]
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.data.len()
    }

    /// This node's identity (stable across clones of the handle).
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.0.data
    }

    /// The shared storage (no copy).
    pub(crate) fn storage(&self) -> &Arc<Vec<f32>> {
        &self.0.data
    }

    /// A copy of the values, row-major.
    pub fn to_vec(&self) -> Vec<f32> {
        self.0.data.to_vec()
    }

    /// The values, row-major, moved out without a copy when this handle is
    /// the only owner of its storage (copied otherwise): lets an optimizer
    /// update its state buffers in place.
    pub fn into_vec(self) -> Vec<f32> {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => Arc::try_unwrap(std::mem::take(&mut inner.data)).unwrap_or_else(|shared| shared.to_vec()),
            Err(shared) => shared.data.to_vec(),
        }
    }

    /// The value of a one-element tensor. Panics otherwise.
    pub fn item(&self) -> f32 {
        assert_eq!(self.numel(), 1, "item: tensor of shape {:?} has {} elements", self.shape(), self.numel());
        self.0.data[0]
    }

    /// Whether gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Whether this tensor is a leaf (made by the user, not recorded by an op).
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// A new leaf sharing this tensor's storage that requires a gradient:
    /// how parameters are made.
    pub fn requires_grad_(&self) -> Tensor {
        Tensor::make(self.0.data.clone(), self.0.shape.clone(), true, None)
    }

    /// A new leaf sharing this tensor's storage, cut from the graph.
    pub fn detach(&self) -> Tensor {
        Tensor::make(self.0.data.clone(), self.0.shape.clone(), false, None)
    }

    /// Name of the op that made this tensor, if it was recorded.
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.node.as_ref().map(|n| n.op.name())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 8;
        let d = self.data();
        write!(f, "Tensor{:?} [", self.shape())?;
        for (i, v) in d.iter().take(SHOW).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v:.5}")?;
        }
        if d.len() > SHOW {
            write!(f, ", … ({} more)", d.len() - SHOW)?;
        }
        write!(f, "]")?;
        if let Some(op) = self.op_name() {
            write!(f, " grad_fn={op}")?;
        } else if self.requires_grad() {
            write!(f, " requires_grad")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Tensor;

    #[test]
    fn into_vec_moves_unique_storage_and_copies_shared() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]);
        let ptr = t.data().as_ptr();
        let v = t.into_vec();
        assert_eq!((v.as_ptr(), v), (ptr, vec![1.0, 2.0, 3.0]));
        // Shared storage (a clone, a detached view): copied, the other handle intact.
        let t = Tensor::from_vec(vec![4.0, 5.0], &[2]);
        for other in [t.clone(), t.detach()] {
            let v = other.into_vec();
            assert_ne!(v.as_ptr(), t.data().as_ptr());
            assert_eq!((v, t.to_vec()), (vec![4.0, 5.0], vec![4.0, 5.0]));
        }
    }
}

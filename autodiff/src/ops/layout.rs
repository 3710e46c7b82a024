//! Shape and layout: reshape (shares storage), permute / transpose,
//! broadcast_to, concat, narrow / split, and narrow's adjoint pad_axis.

use super::around_axis;
use crate::graph::Backward;
use crate::kernels::{elementwise, layout as k};
use crate::shape::{broadcast_shape, normalize_axis};
use crate::tensor::{numel, Tensor};

struct Reshape;
impl Backward for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.reshape(i[0].shape()))]
    }
}

struct Permute(Vec<usize>);
impl Backward for Permute {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let mut inv = vec![0; self.0.len()];
        for (i, &p) in self.0.iter().enumerate() {
            inv[p] = i;
        }
        vec![Some(g.permute(&inv))]
    }
}

struct BroadcastTo;
impl Backward for BroadcastTo {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.sum_to(i[0].shape()))]
    }
}

struct Narrow {
    axis: usize,
    start: usize,
}
impl Backward for Narrow {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.pad_axis(self.axis, self.start, i[0].shape()[self.axis]))]
    }
}

struct PadAxis {
    axis: usize,
    start: usize,
}
impl Backward for PadAxis {
    fn name(&self) -> &'static str {
        "pad_axis"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.narrow(self.axis, self.start, i[0].shape()[self.axis]))]
    }
}

struct Concat(usize);
impl Backward for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let mut start = 0;
        i.iter()
            .map(|t| {
                let len = t.shape()[self.0];
                let part = t.requires_grad().then(|| g.narrow(self.0, start, len));
                start += len;
                part
            })
            .collect()
    }
}

impl Tensor {
    /// The same data in a new shape with as many elements (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        assert_eq!(numel(shape), self.numel(), "reshape: cannot view {:?} as {:?}", self.shape(), shape);
        if shape == self.shape() {
            return self.clone();
        }
        Tensor::from_op_shared(self.storage().clone(), shape.to_vec(), Reshape, vec![self.clone()])
    }

    /// Collapses axes `start..` into one: `[n, c, h, w].flatten_from(1)` is `[n, c·h·w]`.
    pub fn flatten_from(&self, start: usize) -> Tensor {
        let mut shape = self.shape()[..start].to_vec();
        shape.push(self.shape()[start..].iter().product());
        self.reshape(&shape)
    }

    /// Inserts an axis of size 1 at `axis`.
    pub fn unsqueeze(&self, axis: usize) -> Tensor {
        let mut shape = self.shape().to_vec();
        assert!(axis <= shape.len(), "unsqueeze: axis {axis} out of range for {:?}", self.shape());
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// Reorders axes: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        assert!(
            perm.len() == nd && perm.iter().all(|&p| p < nd && !std::mem::replace(&mut seen[p], true)),
            "permute: {:?} is not a permutation of the axes of {:?}",
            perm,
            self.shape()
        );
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape()[p]).collect();
        let data = k::permute(self.data(), self.shape(), perm);
        Tensor::from_op(data, shape, Permute(perm.to_vec()), vec![self.clone()])
    }

    /// Swaps axes `a` and `b` (negative counts from the end).
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        let nd = self.ndim();
        let (a, b) = (normalize_axis(a, nd, "transpose"), normalize_axis(b, nd, "transpose"));
        let mut perm: Vec<usize> = (0..nd).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Materializes the NumPy broadcast of `self` to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        assert!(
            broadcast_shape(self.shape(), shape).as_deref() == Some(shape),
            "broadcast_to: {:?} does not broadcast to {:?}",
            self.shape(),
            shape
        );
        if self.shape() == shape {
            return self.clone();
        }
        let data = elementwise::broadcast_to(self.data(), self.shape(), shape);
        Tensor::from_op(data, shape.to_vec(), BroadcastTo, vec![self.clone()])
    }

    /// Elements `start..start + len` along `axis`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor {
        assert!(
            axis < self.ndim() && start + len <= self.shape()[axis],
            "narrow: range {start}..{} on axis {axis} is outside {:?}",
            start + len,
            self.shape()
        );
        if len == self.shape()[axis] {
            return self.clone();
        }
        let (outer, dim, inner) = around_axis(self.shape(), axis);
        let data = k::narrow(self.data(), outer, dim, inner, start, len);
        let mut shape = self.shape().to_vec();
        shape[axis] = len;
        Tensor::from_op(data, shape, Narrow { axis, start }, vec![self.clone()])
    }

    /// Places `self` at offset `start` along `axis` of a zero tensor whose
    /// `axis` has size `dim` (the adjoint of [`Tensor::narrow`]).
    pub fn pad_axis(&self, axis: usize, start: usize, dim: usize) -> Tensor {
        let len = self.shape()[axis];
        assert!(start + len <= dim, "pad_axis: {len} elements at {start} do not fit in {dim}");
        let (outer, _, inner) = around_axis(self.shape(), axis);
        let data = k::pad_axis(self.data(), outer, len, inner, start, dim);
        let mut shape = self.shape().to_vec();
        shape[axis] = dim;
        Tensor::from_op(data, shape, PadAxis { axis, start }, vec![self.clone()])
    }

    /// Splits along `axis` into pieces of the given sizes.
    pub fn split(&self, axis: usize, sizes: &[usize]) -> Vec<Tensor> {
        assert_eq!(
            sizes.iter().sum::<usize>(),
            self.shape()[axis],
            "split: sizes {:?} do not add up to axis {axis} of {:?}",
            sizes,
            self.shape()
        );
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let t = self.narrow(axis, start, len);
                start += len;
                t
            })
            .collect()
    }

    /// Splits along `axis` into `n` equal pieces.
    pub fn chunk(&self, n: usize, axis: usize) -> Vec<Tensor> {
        let d = self.shape()[axis];
        assert!(n > 0 && d.is_multiple_of(n), "chunk: axis {axis} of {:?} does not split into {n} equal parts", self.shape());
        self.split(axis, &vec![d / n; n])
    }

    /// Joins tensors along `axis`; all other axes must agree.
    pub fn concat(tensors: &[Tensor], axis: usize) -> Tensor {
        assert!(!tensors.is_empty(), "concat: no tensors");
        let first = tensors[0].shape();
        for t in tensors {
            let ok = t.ndim() == first.len() && axis < first.len() && (0..first.len()).all(|d| d == axis || t.shape()[d] == first[d]);
            assert!(ok, "concat: shape {:?} does not match {:?} outside axis {axis}", t.shape(), first);
        }
        let total: usize = tensors.iter().map(|t| t.shape()[axis]).sum();
        let (outer, _, inner) = around_axis(first, axis);
        let mut data = Vec::with_capacity(outer * total * inner);
        for o in 0..outer {
            for t in tensors {
                let len = t.shape()[axis] * inner;
                data.extend_from_slice(&t.data()[o * len..(o + 1) * len]);
            }
        }
        let mut shape = first.to_vec();
        shape[axis] = total;
        Tensor::from_op(data, shape, Concat(axis), tensors.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    fn t(shape: &[usize], seed: u64) -> Tensor {
        Tensor::rand_uniform(shape, -1.0, 1.0, seed)
    }

    #[test]
    fn values() {
        let x = Tensor::from_vec((0..6).map(|i| i as f32).collect(), &[2, 3]);
        assert_eq!(x.transpose(0, 1).to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(x.narrow(1, 1, 2).to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
        assert_eq!(Tensor::concat(&[x.clone(), x.narrow(1, 0, 1)], 1).to_vec(), vec![0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 5.0, 3.0]);
        assert_eq!(x.reshape(&[3, 2]).data().as_ptr(), x.data().as_ptr(), "reshape shares storage");
        let parts = x.split(1, &[1, 2]);
        assert_eq!(parts[1].to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
        assert_eq!(Tensor::from_vec(vec![1.0, 2.0], &[2, 1]).broadcast_to(&[2, 2]).to_vec(), vec![1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn gradients() {
        let cfg = GradCheck::default();
        let x = t(&[2, 3, 4], 31);
        check_all("reshape", |x| x[0].reshape(&[4, 6]), [x.clone()], &cfg);
        check_all("permute", |x| x[0].permute(&[2, 0, 1]), [x.clone()], &cfg);
        check_all("transpose", |x| x[0].transpose(-1, 0), [x.clone()], &cfg);
        check_all("broadcast_to", |x| x[0].broadcast_to(&[2, 2, 3, 4]), [x.clone()], &cfg);
        check_all("broadcast_to-size1", |x| x[0].broadcast_to(&[3, 5]), [t(&[3, 1], 32)], &cfg);
        check_all("narrow", |x| x[0].narrow(2, 1, 2), [x.clone()], &cfg);
        check_all("pad_axis", |x| x[0].pad_axis(1, 2, 6), [x.clone()], &cfg);
        check_all("split", |x| x[0].split(1, &[1, 2])[1].clone(), [x.clone()], &cfg);
        check_all("concat", |x| Tensor::concat(&[x[0].clone(), x[1].clone(), x[0].clone()], 1), [x.clone(), t(&[2, 1, 4], 33)], &cfg);
    }
}

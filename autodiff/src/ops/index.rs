//! Indexing: index_select / index_add, gather / scatter_add (each the
//! other's adjoint), embedding lookup, and `where_` selection by a mask.

use super::{around_axis, constant};
use crate::graph::Backward;
use crate::kernels::layout as k;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;
use std::sync::Arc;

struct IndexSelect {
    axis: usize,
    idx: Arc<Vec<usize>>,
}
impl Backward for IndexSelect {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.index_add_shared(self.axis, self.idx.clone(), i[0].shape()[self.axis]))]
    }
}

struct IndexAdd {
    axis: usize,
    idx: Arc<Vec<usize>>,
}
impl Backward for IndexAdd {
    fn name(&self) -> &'static str {
        "index_add"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.index_select_shared(self.axis, self.idx.clone()))]
    }
}

struct Gather {
    axis: usize,
    idx: Arc<Vec<usize>>,
}
impl Backward for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.scatter_add_shared(self.axis, self.idx.clone(), i[0].shape()[self.axis]))]
    }
}

struct ScatterAdd {
    axis: usize,
    idx: Arc<Vec<usize>>,
}
impl Backward for ScatterAdd {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.gather_shared(self.axis, self.idx.clone()))]
    }
}

struct Where {
    mask: Arc<Vec<bool>>,
}
impl Backward for Where {
    fn name(&self) -> &'static str {
        "where"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let zeros = g.zeros_like();
        vec![
            i[0].requires_grad().then(|| Tensor::where_shared(self.mask.clone(), g, &zeros)),
            i[1].requires_grad().then(|| Tensor::where_shared(self.mask.clone(), &zeros, g)),
        ]
    }
}

fn check_indices(op: &str, idx: &[usize], dim: usize) {
    if let Some(&bad) = idx.iter().find(|&&i| i >= dim) {
        panic!("{op}: index {bad} out of range for an axis of size {dim}");
    }
}

impl Tensor {
    /// Slices `idx` of `axis`, in order (repeats allowed).
    pub fn index_select(&self, axis: usize, idx: &[usize]) -> Tensor {
        self.index_select_shared(axis, Arc::new(idx.to_vec()))
    }

    fn index_select_shared(&self, axis: usize, idx: Arc<Vec<usize>>) -> Tensor {
        let (outer, dim, inner) = around_axis(self.shape(), axis);
        check_indices("index_select", &idx, dim);
        let data = k::index_select(self.data(), outer, dim, inner, &idx);
        let mut shape = self.shape().to_vec();
        shape[axis] = idx.len();
        Tensor::from_op(data, shape, IndexSelect { axis, idx }, vec![self.clone()])
    }

    /// Adjoint of `index_select`: slice `j` of `self` along `axis` is added
    /// into slice `idx[j]` of a zero tensor whose `axis` has size `dim`.
    pub fn index_add(&self, axis: usize, idx: &[usize], dim: usize) -> Tensor {
        self.index_add_shared(axis, Arc::new(idx.to_vec()), dim)
    }

    fn index_add_shared(&self, axis: usize, idx: Arc<Vec<usize>>, dim: usize) -> Tensor {
        let (outer, k_len, inner) = around_axis(self.shape(), axis);
        assert_eq!(k_len, idx.len(), "index_add: {} indices for an axis of size {k_len}", idx.len());
        check_indices("index_add", &idx, dim);
        let data = k::index_add(self.data(), outer, dim, inner, &idx);
        let mut shape = self.shape().to_vec();
        shape[axis] = dim;
        Tensor::from_op(data, shape, IndexAdd { axis, idx }, vec![self.clone()])
    }

    /// `out[.., j, ..] = self[.., idx[.., j, ..], ..]` along `axis`, where
    /// `idx` is laid out in the output's shape: `self`'s shape with `axis`
    /// of size `idx.len() / (outer·inner)`. PyTorch's `gather`.
    pub fn gather(&self, axis: isize, idx: &[usize]) -> Tensor {
        let axis = normalize_axis(axis, self.ndim(), "gather");
        self.gather_shared(axis, Arc::new(idx.to_vec()))
    }

    fn gather_shared(&self, axis: usize, idx: Arc<Vec<usize>>) -> Tensor {
        let (outer, dim, inner) = around_axis(self.shape(), axis);
        let per = outer * inner;
        assert!(
            per > 0 && idx.len().is_multiple_of(per),
            "gather: {} indices do not fit shape {:?} along axis {axis}",
            idx.len(),
            self.shape()
        );
        check_indices("gather", &idx, dim);
        let kk = idx.len() / per;
        let data = k::gather(self.data(), outer, dim, inner, &idx, kk);
        let mut shape = self.shape().to_vec();
        shape[axis] = kk;
        Tensor::from_op(data, shape, Gather { axis, idx }, vec![self.clone()])
    }

    /// Adjoint of `gather`: `out[.., idx[.., j, ..], ..] += self[.., j, ..]`
    /// into a zero tensor whose `axis` has size `dim`.
    pub fn scatter_add(&self, axis: isize, idx: &[usize], dim: usize) -> Tensor {
        let axis = normalize_axis(axis, self.ndim(), "scatter_add");
        self.scatter_add_shared(axis, Arc::new(idx.to_vec()), dim)
    }

    fn scatter_add_shared(&self, axis: usize, idx: Arc<Vec<usize>>, dim: usize) -> Tensor {
        let (outer, kk, inner) = around_axis(self.shape(), axis);
        assert_eq!(idx.len(), self.numel(), "scatter_add: {} indices for {:?}", idx.len(), self.shape());
        check_indices("scatter_add", &idx, dim);
        let data = k::scatter_add(self.data(), outer, dim, inner, &idx, kk);
        let mut shape = self.shape().to_vec();
        shape[axis] = dim;
        Tensor::from_op(data, shape, ScatterAdd { axis, idx }, vec![self.clone()])
    }

    /// Rows of an embedding table `self` (`[vocab, dim]`) for token ids laid
    /// out in `ids_shape`: the result has shape `ids_shape + [dim]`.
    pub fn embedding(&self, ids: &[usize], ids_shape: &[usize]) -> Tensor {
        assert_eq!(self.ndim(), 2, "embedding: table must be [vocab, dim], got {:?}", self.shape());
        assert_eq!(ids.len(), ids_shape.iter().product::<usize>(), "embedding: {} ids for shape {:?}", ids.len(), ids_shape);
        let mut shape = ids_shape.to_vec();
        shape.push(self.shape()[1]);
        self.index_select(0, ids).reshape(&shape)
    }

    /// Elementwise `mask ? a : b`; all three have the same shape. Gradients
    /// flow to the selected side only.
    pub fn where_(mask: &[bool], a: &Tensor, b: &Tensor) -> Tensor {
        Tensor::where_shared(Arc::new(mask.to_vec()), a, b)
    }

    fn where_shared(mask: Arc<Vec<bool>>, a: &Tensor, b: &Tensor) -> Tensor {
        assert!(
            a.shape() == b.shape() && mask.len() == a.numel(),
            "where: mask of {} elements, a {:?}, b {:?} must agree",
            mask.len(),
            a.shape(),
            b.shape()
        );
        let data = mask.iter().zip(a.data().iter().zip(b.data())).map(|(&m, (&x, &y))| if m { x } else { y }).collect();
        Tensor::from_op(data, a.shape().to_vec(), Where { mask }, vec![a.clone(), b.clone()])
    }

    /// A constant 0/1 mask (no gradient) where `pred` holds.
    pub fn mask_where(&self, pred: impl Fn(f32) -> bool) -> Tensor {
        constant(self.data().iter().map(|&v| if pred(v) { 1.0 } else { 0.0 }).collect(), self.shape())
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
        let x = Tensor::from_vec((0..6).map(|i| i as f32).collect(), &[3, 2]);
        assert_eq!(x.index_select(0, &[2, 0, 2]).to_vec(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
        assert_eq!(x.gather(1, &[1, 0, 1]).to_vec(), vec![1.0, 2.0, 5.0]);
        assert_eq!(x.embedding(&[1, 1], &[1, 2]).shape(), &[1, 2, 2]);
        let w = Tensor::where_(&[true, false], &Tensor::ones(&[2]), &Tensor::zeros(&[2]));
        assert_eq!(w.to_vec(), vec![1.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "index_select: index 3 out of range for an axis of size 3")]
    fn bad_index_panics_with_op_name() {
        t(&[3, 2], 1).index_select(0, &[3]);
    }

    #[test]
    fn gradients() {
        let cfg = GradCheck::default();
        let x = t(&[4, 3, 2], 41);
        check_all("index_select", |x| x[0].index_select(1, &[2, 0, 2, 2]), [x.clone()], &cfg);
        check_all("index_add", |x| x[0].index_add(0, &[1, 1, 0, 3], 5), [x.clone()], &cfg);
        let idx: Vec<usize> = (0..12).map(|i| (i * 5) % 3).collect(); // values in 0..3
        check_all("gather", |x| x[0].gather(1, &idx[..8]), [x.clone()], &cfg);
        check_all("scatter_add", |x| x[0].scatter_add(1, &idx, 4), [t(&[4, 3, 1], 42)], &cfg);
        check_all("embedding", |x| x[0].embedding(&[3, 0, 3, 1, 2, 2], &[2, 3]), [t(&[4, 5], 43)], &cfg);
        let mask: Vec<bool> = (0..24).map(|i| i % 3 == 0).collect();
        check_all("where", |x| Tensor::where_(&mask, &x[0], &x[1]), [x.clone(), t(&[4, 3, 2], 44)], &cfg);
    }
}

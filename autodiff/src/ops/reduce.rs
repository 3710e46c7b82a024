//! Reductions over axes: sum, mean, max / argmax, var.

use super::{around_axis, constant};
use crate::graph::Backward;
use crate::kernels::reduce as k;
use crate::shape::normalize_axis;
use crate::tensor::Tensor;

struct SumKeep;
impl Backward for SumKeep {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(g.broadcast_to(i[0].shape()))]
    }
}

struct MaxAxis {
    mask: std::sync::Arc<Vec<f32>>,
}
impl Backward for MaxAxis {
    fn name(&self) -> &'static str {
        "max"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        // The gradient goes to the (first) arg max; g has the keepdim shape.
        let mask = constant(self.mask.to_vec(), i[0].shape());
        vec![Some(g.mul(&mask))]
    }
}

fn axes_mask(shape: &[usize], axes: &[isize], op: &str) -> Vec<bool> {
    let mut mask = vec![false; shape.len()];
    for &a in axes {
        mask[normalize_axis(a, shape.len(), op)] = true;
    }
    mask
}

impl Tensor {
    /// Sum over `axes` (negative counts from the end), keeping them as size 1.
    pub fn sum_keepdim(&self, axes: &[usize]) -> Tensor {
        let axes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
        self.sum(&axes, true)
    }

    /// Sum over `axes`; with `keepdim` the reduced axes stay as size 1.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let mask = axes_mask(self.shape(), axes, "sum");
        let keep_shape: Vec<usize> = self.shape().iter().zip(&mask).map(|(&s, &r)| if r { 1 } else { s }).collect();
        let data = k::sum_axes(self.data(), self.shape(), &mask);
        let out = Tensor::from_op(data, keep_shape, SumKeep, vec![self.clone()]);
        if keepdim {
            out
        } else {
            let shape: Vec<usize> = self.shape().iter().zip(&mask).filter(|(_, &r)| !r).map(|(&s, _)| s).collect();
            out.reshape(&shape)
        }
    }

    /// Sum of all elements, as a 0-d tensor.
    pub fn sum_all(&self) -> Tensor {
        let axes: Vec<isize> = (0..self.ndim() as isize).collect();
        self.sum(&axes, false)
    }

    /// Mean over `axes`.
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let mask = axes_mask(self.shape(), axes, "mean");
        let count: usize = self.shape().iter().zip(&mask).filter(|(_, &r)| r).map(|(&s, _)| s).product();
        self.sum(axes, keepdim).mul_scalar(1.0 / count.max(1) as f32)
    }

    /// Mean of all elements, as a 0-d tensor.
    pub fn mean_all(&self) -> Tensor {
        self.sum_all().mul_scalar(1.0 / self.numel().max(1) as f32)
    }

    /// Biased (population) variance over `axes`: `mean((x - mean(x))²)`,
    /// as batch norm uses in its forward pass.
    pub fn var(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let centered = self.sub(&self.mean(axes, true));
        centered.square().mean(axes, keepdim)
    }

    /// Maximum along `axis`; the gradient flows to the first arg max.
    pub fn max(&self, axis: isize, keepdim: bool) -> Tensor {
        let ax = normalize_axis(axis, self.ndim(), "max");
        let (outer, dim, inner) = around_axis(self.shape(), ax);
        let (vals, idx) = k::max_axis(self.data(), outer, dim, inner);
        let mut mask = vec![0.0; self.numel()];
        for o in 0..outer {
            for j in 0..inner {
                mask[(o * dim + idx[o * inner + j]) * inner + j] = 1.0;
            }
        }
        let mut keep = self.shape().to_vec();
        keep[ax] = 1;
        let out = Tensor::from_op(vals, keep, MaxAxis { mask: std::sync::Arc::new(mask) }, vec![self.clone()]);
        if keepdim {
            out
        } else {
            let mut shape = self.shape().to_vec();
            shape.remove(ax);
            out.reshape(&shape)
        }
    }

    /// Index of the first maximum along `axis` (the axis removed).
    pub fn argmax(&self, axis: isize) -> Vec<usize> {
        let ax = normalize_axis(axis, self.ndim(), "argmax");
        let (outer, dim, inner) = around_axis(self.shape(), ax);
        k::max_axis(self.data(), outer, dim, inner).1
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    #[test]
    fn values() {
        let x = Tensor::from_vec(vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0], &[2, 3]);
        assert_eq!(x.sum(&[1], false).to_vec(), vec![9.0, 12.0]);
        assert_eq!(x.sum(&[0], true).shape(), &[1, 3]);
        assert_eq!(x.mean(&[-1], false).to_vec(), vec![3.0, 4.0]);
        assert_eq!(x.max(1, false).to_vec(), vec![5.0, 6.0]);
        assert_eq!(x.argmax(1), vec![1, 2]);
        assert_eq!(x.argmax(0), vec![1, 0, 1]);
        let v = x.var(&[1], false).to_vec();
        assert!((v[0] - 8.0 / 3.0).abs() < 1e-6 && (v[1] - 8.0 / 3.0).abs() < 1e-6);
        assert_eq!(x.sum_all().item(), 21.0);
    }

    #[test]
    fn gradients() {
        let cfg = GradCheck::default();
        let x = Tensor::rand_uniform(&[3, 1, 4, 2], -1.0, 1.0, 21);
        for keep in [false, true] {
            check_all("sum", |x| x[0].sum(&[0, 2], keep), [x.clone()], &cfg);
            check_all("sum-last", |x| x[0].sum(&[-1], keep), [x.clone()], &cfg);
            check_all("mean", |x| x[0].mean(&[1, 3], keep), [x.clone()], &cfg);
            check_all("var", |x| x[0].var(&[0, 2, 3], keep), [x.clone()], &cfg);
        }
        check_all("sum_all", |x| x[0].sum_all(), [x.clone()], &cfg);
        // Max: distinct values, gaps well above the FD step.
        let vals: Vec<f32> = (0..24).map(|i| ((i * 7) % 24) as f32 * 0.1 - 1.2).collect();
        let m = Tensor::from_vec(vals, &[2, 3, 4]);
        for axis in [0, 1, 2] {
            check_all("max", |x| x[0].max(axis, false), [m.clone()], &cfg);
        }
        check_all("max-keepdim", |x| x[0].max(-1, true), [m], &cfg);
    }
}

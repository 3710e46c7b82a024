//! Pooling: max (through a gather of the arg-max positions, whose adjoint
//! is a scatter-add), average and adaptive average (each paired with its
//! adjoint op), PyTorch semantics including `ceil_mode`.

use crate::graph::Backward;
use crate::kernels::pool::{self as k, Pool2dGeom};
use crate::tensor::Tensor;
use std::sync::Arc;

/// `y[p, i] = x[p, idx[p, i]]` per plane: max pooling's forward.
struct PlaneGather {
    idx: Arc<Vec<u32>>,
}
impl Backward for PlaneGather {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let s = i[0].shape();
        vec![Some(plane_scatter(g, self.idx.clone(), (s[2], s[3])))]
    }
}

/// The adjoint of [`PlaneGather`]: max pooling's backward.
struct PlaneScatter {
    idx: Arc<Vec<u32>>,
}
impl Backward for PlaneScatter {
    fn name(&self) -> &'static str {
        "max_pool2d_backward"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let s = i[0].shape();
        vec![Some(plane_gather(g, self.idx.clone(), (s[2], s[3])))]
    }
}

fn plane_gather(x: &Tensor, idx: Arc<Vec<u32>>, out_hw: (usize, usize)) -> Tensor {
    let s = x.shape();
    let planes = s[0] * s[1];
    let out_plane = out_hw.0 * out_hw.1;
    let mut y = vec![0.0; planes * out_plane];
    k::gather_plane(planes, s[2] * s[3], out_plane, x.data(), &idx, &mut y);
    Tensor::from_op(y, vec![s[0], s[1], out_hw.0, out_hw.1], PlaneGather { idx }, vec![x.clone()])
}

fn plane_scatter(g: &Tensor, idx: Arc<Vec<u32>>, in_hw: (usize, usize)) -> Tensor {
    let s = g.shape();
    let planes = s[0] * s[1];
    let in_plane = in_hw.0 * in_hw.1;
    let mut gx = vec![0.0; planes * in_plane];
    k::scatter_add_plane(planes, in_plane, s[2] * s[3], g.data(), &idx, &mut gx);
    Tensor::from_op(gx, vec![s[0], s[1], in_hw.0, in_hw.1], PlaneScatter { idx }, vec![g.clone()])
}

struct AvgPool {
    geom: Pool2dGeom,
    count_include_pad: bool,
}
impl Backward for AvgPool {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(avg_adjoint(g, self.geom, self.count_include_pad))]
    }
}

struct AvgPoolAdjoint {
    geom: Pool2dGeom,
    count_include_pad: bool,
}
impl Backward for AvgPoolAdjoint {
    fn name(&self) -> &'static str {
        "avg_pool2d_backward"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(avg(g, self.geom, self.count_include_pad))]
    }
}

fn avg(x: &Tensor, geom: Pool2dGeom, cip: bool) -> Tensor {
    let mut y = vec![0.0; geom.n * geom.c * geom.out_h() * geom.out_w()];
    k::avg_pool2d(&geom, cip, x.data(), &mut y);
    Tensor::from_op(y, vec![geom.n, geom.c, geom.out_h(), geom.out_w()], AvgPool { geom, count_include_pad: cip }, vec![x.clone()])
}

fn avg_adjoint(g: &Tensor, geom: Pool2dGeom, cip: bool) -> Tensor {
    let mut gx = vec![0.0; geom.n * geom.c * geom.h * geom.w];
    k::avg_pool2d_adjoint(&geom, cip, g.data(), &mut gx);
    Tensor::from_op(gx, vec![geom.n, geom.c, geom.h, geom.w], AvgPoolAdjoint { geom, count_include_pad: cip }, vec![g.clone()])
}

struct Adaptive {
    in_hw: (usize, usize),
    out_hw: (usize, usize),
}
impl Backward for Adaptive {
    fn name(&self) -> &'static str {
        "adaptive_avg_pool2d"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(adaptive_adjoint(g, self.in_hw, self.out_hw))]
    }
}

struct AdaptiveAdjoint {
    in_hw: (usize, usize),
    out_hw: (usize, usize),
}
impl Backward for AdaptiveAdjoint {
    fn name(&self) -> &'static str {
        "adaptive_avg_pool2d_backward"
    }
    fn backward(&self, _: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        vec![Some(adaptive(g, self.in_hw, self.out_hw))]
    }
}

fn adaptive(x: &Tensor, in_hw: (usize, usize), out_hw: (usize, usize)) -> Tensor {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let mut y = vec![0.0; n * c * out_hw.0 * out_hw.1];
    k::adaptive_avg_pool2d(n, c, in_hw, out_hw, x.data(), &mut y);
    Tensor::from_op(y, vec![n, c, out_hw.0, out_hw.1], Adaptive { in_hw, out_hw }, vec![x.clone()])
}

fn adaptive_adjoint(g: &Tensor, in_hw: (usize, usize), out_hw: (usize, usize)) -> Tensor {
    let (n, c) = (g.shape()[0], g.shape()[1]);
    let mut gx = vec![0.0; n * c * in_hw.0 * in_hw.1];
    k::adaptive_avg_pool2d_adjoint(n, c, in_hw, out_hw, g.data(), &mut gx);
    Tensor::from_op(gx, vec![n, c, in_hw.0, in_hw.1], AdaptiveAdjoint { in_hw, out_hw }, vec![g.clone()])
}

fn pool_geometry(
    op: &str,
    s: &[usize],
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    ceil_mode: bool,
) -> Pool2dGeom {
    assert_eq!(s.len(), 4, "{op}: input {s:?} must be [n, c, h, w]");
    assert!(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0, "{op}: kernel {kernel:?} and stride {stride:?} must be positive");
    assert!(padding.0 <= kernel.0 / 2 && padding.1 <= kernel.1 / 2, "{op}: padding {padding:?} must be at most half the kernel {kernel:?}");
    assert!(
        s[2] + 2 * padding.0 >= kernel.0 && s[3] + 2 * padding.1 >= kernel.1,
        "{op}: kernel {kernel:?} is larger than the padded input {s:?}"
    );
    Pool2dGeom { n: s[0], c: s[1], h: s[2], w: s[3], kh: kernel.0, kw: kernel.1, stride, padding, ceil_mode }
}

impl Tensor {
    /// Max pooling over `[n, c, h, w]`; the gradient flows to the first
    /// maximum of each window. Padding never wins.
    pub fn max_pool2d(&self, kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize), ceil_mode: bool) -> Tensor {
        let geom = pool_geometry("max_pool2d", self.shape(), kernel, stride, padding, ceil_mode);
        let (oh, ow) = (geom.out_h(), geom.out_w());
        let mut y = vec![0.0; geom.n * geom.c * oh * ow];
        let mut idx = vec![0u32; y.len()];
        k::max_pool2d(&geom, self.data(), &mut y, &mut idx);
        Tensor::from_op(y, vec![geom.n, geom.c, oh, ow], PlaneGather { idx: Arc::new(idx) }, vec![self.clone()])
    }

    /// Average pooling over `[n, c, h, w]`. With `count_include_pad` the
    /// divisor counts padded positions (PyTorch's default).
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Tensor {
        let geom = pool_geometry("avg_pool2d", self.shape(), kernel, stride, padding, ceil_mode);
        avg(self, geom, count_include_pad)
    }

    /// Adaptive average pooling to `out_hw` (PyTorch's windows:
    /// `floor(i·h/oh) .. ceil((i+1)·h/oh)`). `(1, 1)` is global average pooling.
    pub fn adaptive_avg_pool2d(&self, out_hw: (usize, usize)) -> Tensor {
        let s = self.shape();
        assert!(
            s.len() == 4 && out_hw.0 > 0 && out_hw.1 > 0,
            "adaptive_avg_pool2d: input {s:?} must be [n, c, h, w], output {out_hw:?} positive"
        );
        adaptive(self, (s[2], s[3]), out_hw)
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    /// Distinct values spaced well above the finite-difference step, so no
    /// window has a near-tie.
    fn spaced(shape: &[usize], seed: usize) -> Tensor {
        let n: usize = shape.iter().product();
        let v = (0..n).map(|i| (((i * 37 + seed * 11) % n) as f32 - n as f32 / 2.0) * 0.05).collect();
        Tensor::from_vec(v, shape)
    }

    #[test]
    fn values() {
        let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
        assert_eq!(x.max_pool2d((2, 2), (2, 2), (0, 0), false).to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
        assert_eq!(x.avg_pool2d((2, 2), (2, 2), (0, 0), false, true).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
        assert_eq!(x.adaptive_avg_pool2d((1, 1)).to_vec(), vec![7.5]);
        // ceil mode on 5×5 with kernel 2: 3×3 output, last window partial.
        let y = Tensor::ones(&[1, 1, 5, 5]).max_pool2d((2, 2), (2, 2), (0, 0), true);
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
    }

    #[test]
    fn gradients_over_geometries() {
        let cfg = GradCheck::default();
        type Pair = (usize, usize);
        // (shape, kernel, stride, padding, ceil)
        let cases: [([usize; 4], Pair, Pair, Pair, bool); 5] = [
            ([2, 2, 4, 4], (2, 2), (2, 2), (0, 0), false),
            ([1, 2, 5, 5], (2, 2), (2, 2), (0, 0), true),
            ([1, 1, 7, 6], (3, 3), (2, 2), (1, 1), true),
            ([2, 1, 5, 4], (3, 2), (1, 2), (1, 0), false),
            ([1, 3, 1, 1], (1, 1), (1, 1), (0, 0), false),
        ];
        for (i, (s, kk, st, p, ceil)) in cases.into_iter().enumerate() {
            let x = spaced(&s, i);
            check_all("max_pool2d", |v| v[0].max_pool2d(kk, st, p, ceil), [x.clone()], &cfg);
            for cip in [true, false] {
                check_all("avg_pool2d", |v| v[0].avg_pool2d(kk, st, p, ceil, cip), [x.clone()], &cfg);
            }
        }
        let x = spaced(&[2, 2, 5, 7], 9);
        for out in [(1, 1), (2, 3), (5, 7), (3, 2)] {
            check_all("adaptive_avg_pool2d", |v| v[0].adaptive_avg_pool2d(out), [x.clone()], &cfg);
        }
    }
}

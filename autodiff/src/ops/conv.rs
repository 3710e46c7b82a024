//! 2-D convolution (NCHW, weights `[c_out, c_in, kh, kw]`) and its two
//! companions, the input gradient (a transposed convolution) and the
//! weight gradient. All three are bilinear, and each one's rule is written
//! with the other two, so the set is closed under differentiation:
//!
//! | op | inputs | rule for incoming `G` |
//! |---|---|---|
//! | `y = conv(x, w) (+ b)` | x, w (, b) | `dx = input_grad(G, w)`, `dw = weight_grad(x, G)` (, `db = Σ G` over n, h, w) |
//! | `gx = input_grad(gy, w)` | gy, w | `d gy = conv(G, w)`, `dw = weight_grad(G, gy)` |
//! | `gw = weight_grad(x, gy)` | x, gy | `dx = input_grad(gy, G)`, `d gy = conv(x, G)` |

use crate::graph::Backward;
use crate::kernels::conv::{self as k, Conv2dGeom};
use crate::tensor::Tensor;

struct Conv {
    geom: Conv2dGeom,
}
impl Backward for Conv {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (x, w) = (&i[0], &i[1]);
        let mut grads =
            vec![x.requires_grad().then(|| input_grad(g, w, self.geom)), w.requires_grad().then(|| weight_grad(x, g, self.geom))];
        if let Some(b) = i.get(2) {
            grads.push(b.requires_grad().then(|| g.sum(&[0, 2, 3], false)));
        }
        grads
    }
}

struct InputGrad {
    geom: Conv2dGeom,
}
impl Backward for InputGrad {
    fn name(&self) -> &'static str {
        "conv2d_input_grad"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (gy, w) = (&i[0], &i[1]);
        vec![gy.requires_grad().then(|| conv(g, w, self.geom)), w.requires_grad().then(|| weight_grad(g, gy, self.geom))]
    }
}

struct WeightGrad {
    geom: Conv2dGeom,
}
impl Backward for WeightGrad {
    fn name(&self) -> &'static str {
        "conv2d_weight_grad"
    }
    fn backward(&self, i: &[Tensor], _: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
        let (x, gy) = (&i[0], &i[1]);
        vec![x.requires_grad().then(|| input_grad(gy, g, self.geom)), gy.requires_grad().then(|| conv(x, g, self.geom))]
    }
}

/// `conv(x, w)`, plus `bias` added as the output is written (one op, so
/// no separate pass over the output).
fn conv_bias(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, geom: Conv2dGeom) -> Tensor {
    let y = forward_new(&geom, x, w, k::ConvEpilogue { bias: bias.map(|b| b.data()), ..k::ConvEpilogue::default() });
    let mut inputs = vec![x.clone(), w.clone()];
    inputs.extend(bias.cloned());
    Tensor::from_op(y, vec![geom.n, geom.c_out, geom.out_h(), geom.out_w()], Conv { geom }, inputs)
}

/// The forward convolution written straight into a new vector (no zero fill).
fn forward_new(geom: &Conv2dGeom, x: &Tensor, w: &Tensor, epi: k::ConvEpilogue) -> Vec<f32> {
    let len = geom.n * geom.c_out * geom.out_h() * geom.out_w();
    let mut y = Vec::with_capacity(len);
    k::conv2d_forward_into(geom, x.data(), w.data(), epi, &mut y.spare_capacity_mut()[..len]);
    // SAFETY: conv2d_forward_into wrote all `len` elements.
    unsafe { y.set_len(len) };
    y
}

fn conv(x: &Tensor, w: &Tensor, geom: Conv2dGeom) -> Tensor {
    conv_bias(x, w, None, geom)
}

fn input_grad(gy: &Tensor, w: &Tensor, geom: Conv2dGeom) -> Tensor {
    let mut gx = vec![0.0; geom.n * geom.c_in * geom.h * geom.w];
    k::conv2d_input_grad(&geom, gy.data(), w.data(), &mut gx);
    Tensor::from_op(gx, vec![geom.n, geom.c_in, geom.h, geom.w], InputGrad { geom }, vec![gy.clone(), w.clone()])
}

fn weight_grad(x: &Tensor, gy: &Tensor, geom: Conv2dGeom) -> Tensor {
    let mut gw = vec![0.0; geom.c_out * geom.c_in * geom.kh * geom.kw];
    k::conv2d_weight_grad(&geom, x.data(), gy.data(), &mut gw);
    Tensor::from_op(gw, vec![geom.c_out, geom.c_in, geom.kh, geom.kw], WeightGrad { geom }, vec![x.clone(), gy.clone()])
}

/// Stride, padding and dilation of a convolution, each `(height, width)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvParams {
    /// Step between windows.
    pub stride: (usize, usize),
    /// Zeros added on each side.
    pub padding: (usize, usize),
    /// Spacing between kernel taps.
    pub dilation: (usize, usize),
}

fn geometry(op: &str, x_shape: &[usize], w_shape: &[usize], p: ConvParams) -> Conv2dGeom {
    assert!(
        x_shape.len() == 4 && w_shape.len() == 4 && x_shape[1] == w_shape[1],
        "{op}: input {x_shape:?} and weight {w_shape:?} need shapes [n, c, h, w] and [c_out, c, kh, kw]"
    );
    assert!(
        p.stride.0 > 0 && p.stride.1 > 0 && p.dilation.0 > 0 && p.dilation.1 > 0,
        "{op}: stride and dilation must be positive, got {p:?}"
    );
    let g = Conv2dGeom {
        n: x_shape[0],
        c_in: x_shape[1],
        h: x_shape[2],
        w: x_shape[3],
        c_out: w_shape[0],
        kh: w_shape[2],
        kw: w_shape[3],
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
    };
    let span = |k: usize, d: usize| d * (k - 1) + 1;
    assert!(
        g.h + 2 * g.padding.0 >= span(g.kh, g.dilation.0) && g.w + 2 * g.padding.1 >= span(g.kw, g.dilation.1),
        "{op}: kernel {:?} (dilation {:?}) is larger than the padded input {x_shape:?} (padding {:?})",
        (g.kh, g.kw),
        g.dilation,
        g.padding
    );
    g
}

impl Tensor {
    /// 2-D convolution of `self` (`[n, c_in, h, w]`) with `weight`
    /// (`[c_out, c_in, kh, kw]`), plus `bias` (`[c_out]`) when given.
    /// Output `[n, c_out, oh, ow]` with `oh = (h + 2p − d(kh − 1) − 1)/s + 1`.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Tensor {
        let geom = geometry("conv2d", self.shape(), weight.shape(), ConvParams { stride, padding, dilation });
        if let Some(b) = bias {
            assert_eq!(b.shape(), [geom.c_out], "conv2d: bias {:?} for {} output channels", b.shape(), geom.c_out);
        }
        conv_bias(self, weight, bias, geom)
    }

    /// `relu(conv2d(self, weight, bias) + residual)` (the residual and the
    /// ReLU each optional): a convolution block's tail in one pass over the
    /// output when no graph is recorded (evaluation, landscapes), and the
    /// ops one after the other when one is (so gradients of every order
    /// come from their rules). Both give the same values bit for bit.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d_fused(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        residual: Option<&Tensor>,
        relu: bool,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Tensor {
        let geom = geometry("conv2d", self.shape(), weight.shape(), ConvParams { stride, padding, dilation });
        let out_shape = [geom.n, geom.c_out, geom.out_h(), geom.out_w()];
        let records = crate::is_grad_enabled()
            && (self.requires_grad()
                || weight.requires_grad()
                || bias.is_some_and(|b| b.requires_grad())
                || residual.is_some_and(|r| r.requires_grad()));
        if records || residual.is_some_and(|r| r.shape() != out_shape) {
            let y = self.conv2d(weight, bias, stride, padding, dilation);
            let y = match residual {
                Some(r) => y.add(r),
                None => y,
            };
            return if relu { y.relu() } else { y };
        }
        if let Some(b) = bias {
            assert_eq!(b.shape(), [geom.c_out], "conv2d: bias {:?} for {} output channels", b.shape(), geom.c_out);
        }
        let epi = k::ConvEpilogue { bias: bias.map(|b| b.data()), residual: residual.map(|r| r.data()), relu };
        Tensor::from_vec(forward_new(&geom, self, weight, epi), &out_shape)
    }

    /// `relu(conv2d(relu(conv2d(self, w1, b1)), w2, b2) + residual)` with
    /// stride 1 and `padding` (a residual block's body, the residual
    /// optional): when no graph is recorded and the second convolution reads
    /// an output the size of `self`, the intermediate map goes straight into
    /// the second convolution's padded copy, per group of images, instead of
    /// through memory; otherwise (and with a graph) two
    /// [`Tensor::conv2d_fused`]. The same values bit for bit either way.
    pub fn conv2d_pair_fused(
        &self,
        (w1, b1): (&Tensor, Option<&Tensor>),
        (w2, b2): (&Tensor, Option<&Tensor>),
        residual: Option<&Tensor>,
        padding: (usize, usize),
    ) -> Tensor {
        let geom = geometry("conv2d", self.shape(), w1.shape(), ConvParams { stride: (1, 1), padding, dilation: (1, 1) });
        let tensors = [Some(self), Some(w1), b1, Some(w2), b2, residual];
        let records = crate::is_grad_enabled() && tensors.iter().flatten().any(|t| t.requires_grad());
        let same = geom.c_in == geom.c_out && geom.out_h() == geom.h && geom.out_w() == geom.w;
        let fits = w2.shape() == w1.shape()
            && [b1, b2].iter().flatten().all(|b| b.shape() == [geom.c_out])
            && residual.is_none_or(|r| r.shape() == self.shape());
        if records || !same || !fits {
            let mid = self.conv2d_fused(w1, b1, None, true, (1, 1), padding, (1, 1));
            return mid.conv2d_fused(w2, b2, residual, true, (1, 1), padding, (1, 1));
        }
        let epi1 = k::ConvEpilogue { bias: b1.map(|b| b.data()), residual: None, relu: true };
        let epi2 = k::ConvEpilogue { bias: b2.map(|b| b.data()), residual: residual.map(|r| r.data()), relu: true };
        let len = self.numel();
        let mut y = Vec::with_capacity(len);
        let (first, second) = ((w1.data(), epi1), (w2.data(), epi2));
        k::conv2d_forward_pair(&geom, self.data(), first, second, &mut y.spare_capacity_mut()[..len]);
        // SAFETY: conv2d_forward_pair wrote all `len` elements.
        unsafe { y.set_len(len) };
        Tensor::from_vec(y, self.shape())
    }

    /// The adjoint of [`Tensor::conv2d`] with respect to its input (a
    /// transposed convolution): maps `gy` (`[n, c_out, oh, ow]`) to an input
    /// of spatial size `input_hw`.
    pub fn conv2d_input_grad(gy: &Tensor, weight: &Tensor, input_hw: (usize, usize), p: ConvParams) -> Tensor {
        let ws = weight.shape();
        let x_shape = [gy.shape()[0], ws[1], input_hw.0, input_hw.1];
        let geom = geometry("conv2d_input_grad", &x_shape, ws, p);
        assert_eq!(
            gy.shape(),
            [geom.n, geom.c_out, geom.out_h(), geom.out_w()],
            "conv2d_input_grad: gradient shape does not match the geometry"
        );
        input_grad(gy, weight, geom)
    }

    /// The adjoint of [`Tensor::conv2d`] with respect to its weight: the
    /// weight gradient for input `x` and output gradient `gy`.
    pub fn conv2d_weight_grad(x: &Tensor, gy: &Tensor, kernel: (usize, usize), p: ConvParams) -> Tensor {
        let w_shape = [gy.shape()[1], x.shape()[1], kernel.0, kernel.1];
        let geom = geometry("conv2d_weight_grad", x.shape(), &w_shape, p);
        assert_eq!(
            gy.shape(),
            [geom.n, geom.c_out, geom.out_h(), geom.out_w()],
            "conv2d_weight_grad: gradient shape does not match the geometry"
        );
        weight_grad(x, gy, geom)
    }
}

#[cfg(test)]
mod tests {
    use super::ConvParams;
    use crate::gradcheck::{check_all, GradCheck};
    use crate::Tensor;

    fn t(shape: &[usize], seed: u64) -> Tensor {
        Tensor::rand_uniform(shape, -1.0, 1.0, seed)
    }

    /// The fused tail equals the ops one after the other, with and without
    /// a graph, and its gradients are theirs.
    #[test]
    fn fused_tail_matches_the_ops() {
        let (x, w, b, r) = (t(&[2, 3, 6, 5], 1), t(&[4, 3, 3, 3], 2), t(&[4], 3), t(&[2, 4, 6, 5], 4));
        let ops = |x: &Tensor| x.conv2d(&w, Some(&b), (1, 1), (1, 1), (1, 1)).add(&r).relu();
        let fused = |x: &Tensor| x.conv2d_fused(&w, Some(&b), Some(&r), true, (1, 1), (1, 1), (1, 1));
        let want = ops(&x).to_vec();
        let got = {
            let _g = crate::no_grad();
            fused(&x).to_vec()
        };
        assert_eq!(want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), got.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        let xg = x.detach().requires_grad_();
        let (ya, yb) = (ops(&xg).sum_all(), fused(&xg).sum_all());
        let xs = std::slice::from_ref(&xg);
        let (ga, gb) = (crate::grad(&[ya], xs, false)[0].to_vec(), crate::grad(&[yb], xs, false)[0].to_vec());
        assert_eq!(ga, gb);
    }

    /// The fused block body equals two fused convolutions bit for bit
    /// without a graph (the Winograd pair at 16 channels and 32 wide, the
    /// fallback at 3 channels), and with one its gradients are theirs.
    #[test]
    fn fused_pair_matches_two_convolutions() {
        for (c, hw) in [(16, 32), (3, 5)] {
            let (x, r) = (t(&[2, c, 4, hw], 5), t(&[2, c, 4, hw], 6));
            let (w1, b1, w2, b2) = (t(&[c, c, 3, 3], 7), t(&[c], 8), t(&[c, c, 3, 3], 9), t(&[c], 10));
            let two = |x: &Tensor| {
                let mid = x.conv2d_fused(&w1, Some(&b1), None, true, (1, 1), (1, 1), (1, 1));
                mid.conv2d_fused(&w2, Some(&b2), Some(&r), true, (1, 1), (1, 1), (1, 1))
            };
            let pair = |x: &Tensor| x.conv2d_pair_fused((&w1, Some(&b1)), (&w2, Some(&b2)), Some(&r), (1, 1));
            let bits = |t: Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let (want, got) = {
                let _g = crate::no_grad();
                (bits(two(&x)), bits(pair(&x)))
            };
            assert_eq!(want, got, "{c} channels");
            let xg = x.detach().requires_grad_();
            let (ya, yb) = (two(&xg).sum_all(), pair(&xg).sum_all());
            let xs = std::slice::from_ref(&xg);
            assert_eq!(crate::grad(&[ya], xs, false)[0].to_vec(), crate::grad(&[yb], xs, false)[0].to_vec());
        }
    }

    #[test]
    fn values() {
        // 1×1 input channel, 3×3 ones kernel, padding 1: sums of neighbourhoods.
        let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
        let w = Tensor::ones(&[1, 1, 3, 3]);
        let y = x.conv2d(&w, Some(&Tensor::from_vec(vec![0.5], &[1])), (1, 1), (1, 1), (1, 1));
        assert_eq!(y.to_vec(), vec![12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5]);
        let y = x.conv2d(&w, None, (2, 2), (1, 1), (1, 1));
        assert_eq!(y.to_vec(), vec![12.0, 16.0, 24.0, 28.0]);
    }

    #[test]
    #[should_panic(expected = "conv2d: input [1, 2, 5, 5] and weight [3, 1, 3, 3]")]
    fn channel_mismatch_panics() {
        t(&[1, 2, 5, 5], 1).conv2d(&t(&[3, 1, 3, 3], 2), None, (1, 1), (0, 0), (1, 1));
    }

    #[test]
    fn gradients_over_geometries() {
        let cfg = GradCheck::default();
        type Pair = (usize, usize);
        type Case = ([usize; 4], [usize; 4], Pair, Pair, Pair);
        // (x shape, w shape, stride, padding, dilation)
        let cases: [Case; 6] = [
            ([2, 3, 5, 5], [2, 3, 3, 3], (1, 1), (1, 1), (1, 1)),
            ([1, 2, 6, 5], [3, 2, 3, 2], (2, 1), (0, 1), (1, 1)),
            ([2, 1, 7, 7], [2, 1, 3, 3], (2, 2), (2, 2), (2, 2)),
            ([1, 2, 4, 4], [2, 2, 1, 1], (1, 1), (0, 0), (1, 1)),
            ([1, 1, 5, 3], [1, 1, 3, 3], (3, 2), (1, 0), (1, 1)),
            ([3, 2, 1, 1], [2, 2, 1, 1], (1, 1), (0, 0), (1, 1)),
        ];
        for (xs, ws, s, p, d) in cases {
            let (x, w, b) = (t(&xs, 91), t(&ws, 92).mul_scalar(0.5), t(&[ws[0]], 93));
            check_all("conv2d", |v| v[0].conv2d(&v[1], Some(&v[2]), s, p, d), [x.clone(), w.clone(), b], &cfg);
            let params = ConvParams { stride: s, padding: p, dilation: d };
            let y = x.conv2d(&w, None, s, p, d);
            let gy = t(y.shape(), 94);
            check_all(
                "conv2d_input_grad",
                |v| Tensor::conv2d_input_grad(&v[0], &v[1], (xs[2], xs[3]), params),
                &[gy.clone(), w.clone()],
                &cfg,
            );
            check_all("conv2d_weight_grad", |v| Tensor::conv2d_weight_grad(&v[0], &v[1], (ws[2], ws[3]), params), [x.clone(), gy], &cfg);
        }
    }
}

//! The input gradient: a convolution itself for stride 1, else a GEMM per
//! image and col2im.

use rayon::prelude::*;

use super::im2col::{col2im, with_col};
use super::{conv2d_forward, Conv2dGeom};
use crate::kernels::gemm::{gemm, MatMut, MatRef};

/// For stride 1, the input gradient is itself a convolution: of `gy` with the
/// weights transposed (`c_in ↔ c_out`) and flipped spatially, padded by
/// `d·(k−1) − p`.  Returns that geometry and weight when it applies.
pub(super) fn input_grad_as_forward(g: &Conv2dGeom, w: &[f32]) -> Option<(Conv2dGeom, Vec<f32>)> {
    let (dh, dw) = g.dilation;
    let span = (dh * (g.kh.max(1) - 1), dw * (g.kw.max(1) - 1));
    if g.stride != (1, 1) || g.padding.0 > span.0 || g.padding.1 > span.1 || g.out_plane() == 0 || g.n < 2 {
        return None;
    }
    let g2 = Conv2dGeom {
        n: g.n,
        c_in: g.c_out,
        h: g.out_h(),
        w: g.out_w(),
        c_out: g.c_in,
        kh: g.kh,
        kw: g.kw,
        stride: (1, 1),
        padding: (span.0 - g.padding.0, span.1 - g.padding.1),
        dilation: g.dilation,
    };
    debug_assert_eq!((g2.out_h(), g2.out_w()), (g.h, g.w));
    let taps = g.kh * g.kw;
    let mut wt = vec![0.0; w.len()];
    for co in 0..g.c_out {
        for ci in 0..g.c_in {
            let src = &w[(co * g.c_in + ci) * taps..][..taps];
            let dst = &mut wt[(ci * g.c_out + co) * taps..][..taps];
            for (d, &v) in dst.iter_mut().zip(src.iter().rev()) {
                *d = v;
            }
        }
    }
    Some((g2, wt))
}

/// `gx [n, c_in, h, w]` = adjoint wrt `x` (a transposed convolution of
/// `gy [n, c_out, oh, ow]` with `w`); overwrites `gx`.
pub fn conv2d_input_grad(g: &Conv2dGeom, gy: &[f32], w: &[f32], gx: &mut [f32]) {
    g.check(gx.len(), w.len(), gy.len());
    let (kd, no, xs) = (g.k_dim(), g.out_plane(), g.x_size());
    let ys = g.c_out * no;
    if gx.is_empty() {
        return;
    }
    if no == 0 {
        gx.fill(0.0);
        return;
    }
    if let Some((g2, wt)) = input_grad_as_forward(g, w) {
        conv2d_forward(&g2, gy, &wt, gx);
        return;
    }
    if g.is_pointwise() {
        // gx_i [c_in × hw] = Wᵀ · gy_i, with W stored [c_out × c_in].
        gx.par_chunks_mut(xs).enumerate().for_each(|(i, gxi)| {
            let gyi = &gy[i * ys..(i + 1) * ys];
            gemm(MatRef::new(w, g.c_out, g.c_in, kd).t(), MatRef::new(gyi, g.c_out, no, no), MatMut::new(gxi, g.c_in, no, no), false);
        });
    } else {
        gx.par_chunks_mut(xs).enumerate().for_each(|(i, gxi)| {
            with_col(kd * no, |col| {
                let gyi = &gy[i * ys..(i + 1) * ys];
                gemm(MatRef::new(w, g.c_out, kd, kd).t(), MatRef::new(gyi, g.c_out, no, no), MatMut::new(col, kd, no, no), false);
                col2im(g, col, gxi);
            })
        });
    }
}

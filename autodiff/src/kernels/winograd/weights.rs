//! The weight transform `U = G g Gᵀ`, once per call.

use rayon::prelude::*;

use crate::kernels::conv::Conv2dGeom;

/// `G` applied to a filter row or column `(a, b, c)`: `α` values.
#[inline(always)]
pub(super) fn g_1d<const M: usize, const A: usize>([a, b, c]: [f32; 3]) -> [f32; A] {
    let mut r = [0.0; A];
    if M == 2 {
        r[..4].copy_from_slice(&[a, 0.5 * (a + b + c), 0.5 * (a - b + c), c]);
    } else {
        let (s, t) = (a + c, a / 24.0 + c / 6.0);
        r[..6].copy_from_slice(&[a / 4.0, -(s + b) / 6.0, -(s - b) / 6.0, t + b / 12.0, t - b / 12.0, c]);
    }
    r
}

/// `U[co][ξ][ci] = (G g Gᵀ)[ξ]` for every filter `g = w[co][ci]` (`A = M + 2`),
/// output channels in parallel: `U[ξ]` is the `c_out × c_in` matrix at
/// offset `ξ·c_in` with row stride `α²·c_in`.  Each product runs over all
/// input channels at once (loops the compiler vectorizes).
pub(super) fn transform_weights<const M: usize, const A: usize>(g: &Conv2dGeom, w: &[f32]) -> Vec<f32> {
    let ci_n = g.c_in;
    // G[i][a]: column a of G is G applied to the unit vector e_a.
    let cols: [[f32; A]; 3] = std::array::from_fn(|a| g_1d::<M, A>(std::array::from_fn(|k| if k == a { 1.0 } else { 0.0 })));
    // `dst += G[i][a] · src` over the terms where G is not zero.
    let axpy = |dst: &mut [f32], c: f32, src: &[f32]| {
        if c != 0.0 {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d += c * s);
        }
    };
    let mut u = vec![0.0; A * A * g.c_out * ci_n];
    u.par_chunks_mut(A * A * ci_n).enumerate().for_each(|(co, uc)| {
        // f[k][ci] = w[co][ci][k]; t[i][b][ci] = (G f)[i][b] = Σ_a G[i][a] f[3a + b].
        let mut f = vec![0.0f32; 9 * ci_n];
        for (ci, wf) in w[co * ci_n * 9..][..ci_n * 9].chunks_exact(9).enumerate() {
            for (k, &v) in wf.iter().enumerate() {
                f[k * ci_n + ci] = v;
            }
        }
        let mut t = vec![0.0f32; A * 3 * ci_n];
        for (ib, ti) in t.chunks_exact_mut(ci_n).enumerate() {
            let (i, b) = (ib / 3, ib % 3);
            for (a, col) in cols.iter().enumerate() {
                axpy(ti, col[i], &f[(3 * a + b) * ci_n..][..ci_n]);
            }
        }
        // U[i][j] = (G f Gᵀ)[i][j] = Σ_b G[j][b] t[i][b].
        for (ij, uij) in uc.chunks_exact_mut(ci_n).enumerate() {
            let (i, j) = (ij / A, ij % A);
            for (b, col) in cols.iter().enumerate() {
                axpy(uij, col[j], &t[(3 * i + b) * ci_n..][..ci_n]);
            }
        }
    });
    u
}

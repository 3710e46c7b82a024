//! The pointwise part of an LSTM cell, forward and backward, fused into one
//! pass over each batch row (PyTorch's gate order i, f, g, o).
//!
//! Forward, per row with `z = [zi, zf, zg, zo]` (`4h` pre-activations) and
//! the previous cell state `c`:
//! `i, f, o = σ(zi, zf, zo)`, `g = tanh(zg)`, `c' = f·c + i·g`,
//! `h' = o·tanh(c')`. Rows are independent, so results never depend on the
//! thread count.

use super::gemm::{gemm, gemm_packed, PackedB};
use super::math::{sigmoid, tanh};
use super::PARALLEL_MIN;
use rayon::prelude::*;

/// One row of the forward pass. `z`: `4h` pre-activations; `c`: `h`;
/// writes `out = [h', c']` (`2h`), `act = [i, f, g, o]` (`4h`) and
/// `tc = tanh(c')` (`h`), the last two being what the backward pass needs.
#[inline(always)]
fn forward_row(z: &[f32], c: &[f32], out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    let h = c.len();
    // σ for i, f (the first 2h) and o (the last h), tanh for g.
    let (a_if, rest) = act.split_at_mut(2 * h);
    let (a_g, a_o) = rest.split_at_mut(h);
    for (a, &v) in a_if.iter_mut().zip(&z[..2 * h]) {
        *a = sigmoid(v);
    }
    for (a, &v) in a_g.iter_mut().zip(&z[2 * h..3 * h]) {
        *a = tanh(v);
    }
    for (a, &v) in a_o.iter_mut().zip(&z[3 * h..]) {
        *a = sigmoid(v);
    }
    let (ai, rest) = act.split_at(h);
    let (af, rest) = rest.split_at(h);
    let (ag, ao) = rest.split_at(h);
    let (oh, oc) = out.split_at_mut(h);
    for j in 0..h {
        oc[j] = af[j] * c[j] + ai[j] * ag[j];
    }
    for (t, &v) in tc.iter_mut().zip(oc.iter()) {
        *t = tanh(v);
    }
    for j in 0..h {
        oh[j] = ao[j] * tc[j];
    }
}

type ForwardRow = fn(&[f32], &[f32], &mut [f32], &mut [f32], &mut [f32]);

/// [`forward_row`] compiled with AVX2 (8 lanes instead of SSE2's 4).
/// Rust never contracts `a·b + c` into an FMA on its own, so the results are
/// bit-identical to the baseline build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_row_avx2_impl(z: &[f32], c: &[f32], out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    forward_row(z, c, out, act, tc)
}

#[cfg(target_arch = "x86_64")]
fn forward_row_avx2(z: &[f32], c: &[f32], out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    // SAFETY: only handed out by `select_forward_row` after
    // `is_x86_feature_detected!("avx2")` confirmed the CPU supports AVX2,
    // the only requirement of the `target_feature` function. The activations
    // dominate the LSTM cell, and twice the lanes make them ~2x faster.
    unsafe { forward_row_avx2_impl(z, c, out, act, tc) }
}

/// The fastest version of [`forward_row`] the running CPU supports.
fn select_forward_row() -> ForwardRow {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            return forward_row_avx2;
        }
    }
    forward_row
}

/// Forward over `b = z.len() / 4h` rows: `z` is `[b, 4h]`, `c` is `[b, h]`
/// with row stride `ldc`; `out` (`[b, 2h]`), `act` (`[b, 4h]`) and `tc`
/// (`[b, h]`) are overwritten.
pub fn lstm_cell_forward(h: usize, z: &[f32], c: &[f32], ldc: usize, out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    let b = z.len() / (4 * h).max(1);
    assert!(h > 0 && z.len() == 4 * b * h && out.len() == 2 * b * h && act.len() == z.len() && tc.len() == b * h);
    assert!(ldc >= h && (b == 0 || c.len() >= (b - 1) * ldc + h), "lstm_cell_forward: cell state too short");
    let f = select_forward_row();
    let row = |r: usize, o: &mut [f32], a: &mut [f32], t: &mut [f32]| f(&z[r * 4 * h..][..4 * h], &c[r * ldc..][..h], o, a, t);
    if z.len() >= PARALLEL_MIN {
        let rows = out.par_chunks_mut(2 * h).zip(act.par_chunks_mut(4 * h)).zip(tc.par_chunks_mut(h));
        rows.enumerate().for_each(|(r, ((o, a), t))| row(r, o, a, t));
    } else {
        let rows = out.chunks_mut(2 * h).zip(act.chunks_mut(4 * h)).zip(tc.chunks_mut(h));
        rows.enumerate().for_each(|(r, ((o, a), t))| row(r, o, a, t));
    }
}

/// One row of the backward pass. Inputs: saved `act` (`4h`) and `tc`
/// (`h`), the previous cell state `c`, and the gradients `dh`, `dc` flowing
/// into `h'` and `c'`. Writes `dz` (`4h`) and the gradient `dc_prev` (`h`)
/// for the previous cell state.
#[inline(always)]
fn backward_row(act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [f32], dc_prev: &mut [f32]) {
    let h = c.len();
    let (ai, rest) = act.split_at(h);
    let (af, rest) = rest.split_at(h);
    let (ag, ao) = rest.split_at(h);
    let (dzi, rest) = dz.split_at_mut(h);
    let (dzf, rest) = rest.split_at_mut(h);
    let (dzg, dzo) = rest.split_at_mut(h);
    for j in 0..h {
        let (i, f, g, o, t) = (ai[j], af[j], ag[j], ao[j], tc[j]);
        let dct = dc[j] + dh[j] * o * (1.0 - t * t);
        dzo[j] = dh[j] * t * (o * (1.0 - o));
        dzi[j] = dct * g * (i * (1.0 - i));
        dzf[j] = dct * c[j] * (f * (1.0 - f));
        dzg[j] = dct * i * (1.0 - g * g);
        dc_prev[j] = dct * f;
    }
}

type BackwardRow = fn(&[f32], &[f32], &[f32], &[f32], &[f32], &mut [f32], &mut [f32]);

/// [`backward_row`] compiled with AVX2 (only multiplies and adds: the same
/// bits as the baseline build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn backward_row_avx2_impl(act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [f32], dc_prev: &mut [f32]) {
    backward_row(act, tc, c, dh, dc, dz, dc_prev)
}

#[cfg(target_arch = "x86_64")]
fn backward_row_avx2(act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [f32], dc_prev: &mut [f32]) {
    // SAFETY: only handed out by `select_backward_row` after
    // `is_x86_feature_detected!("avx2")` confirmed the CPU supports AVX2, the
    // only requirement of the `target_feature` function.
    unsafe { backward_row_avx2_impl(act, tc, c, dh, dc, dz, dc_prev) }
}

/// The fastest version of [`backward_row`] the running CPU supports.
fn select_backward_row() -> BackwardRow {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            return backward_row_avx2;
        }
    }
    backward_row
}

/// Backward over `b` rows (shapes as in [`lstm_cell_forward`], `c` with
/// row stride `ldc`); `dh` and `dc` are `[b, h]`, `dz` (`[b, 4h]`) and
/// `dc_prev` (`[b, h]`) are overwritten.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(
    h: usize,
    act: &[f32],
    tc: &[f32],
    c: &[f32],
    ldc: usize,
    dh: &[f32],
    dc: &[f32],
    dz: &mut [f32],
    dc_prev: &mut [f32],
) {
    let n = tc.len();
    let b = n / h.max(1);
    assert!(h > 0 && act.len() == 4 * n && dh.len() == n && dc.len() == n && dz.len() == 4 * n && dc_prev.len() == n);
    assert!(ldc >= h && (b == 0 || c.len() >= (b - 1) * ldc + h), "lstm_cell_backward: cell state too short");
    let f = select_backward_row();
    let row = |r: usize, dz: &mut [f32], dp: &mut [f32]| {
        let (a, s) = (&act[r * 4 * h..][..4 * h], r * h..(r + 1) * h);
        f(a, &tc[s.clone()], &c[r * ldc..][..h], &dh[s.clone()], &dc[s], dz, dp)
    };
    if dz.len() >= PARALLEL_MIN {
        dz.par_chunks_mut(4 * h).zip(dc_prev.par_chunks_mut(h)).enumerate().for_each(|(r, (dz, dp))| row(r, dz, dp));
    } else {
        dz.chunks_mut(4 * h).zip(dc_prev.chunks_mut(h)).enumerate().for_each(|(r, (dz, dp))| row(r, dz, dp));
    }
}

/// Sizes of an LSTM sequence: `t` steps of `b` rows with hidden size `h`.
#[derive(Clone, Copy, Debug)]
pub struct SeqDims {
    /// Time steps.
    pub t: usize,
    /// Batch rows.
    pub b: usize,
    /// Hidden size.
    pub h: usize,
}

/// Runs an LSTM layer over a sequence. `xp`: the input projections
/// (biases included), `[t, b, 4h]`; `w`: `W_hh`, `[4h, h]`; `h0`, `c0`:
/// `[b, h]`. Per step `z = xp[s] + h·Wᵀ`, then the fused cell. Overwrites
/// `out` (`[t, b, 2h]`, each step's `[h', c']`), `act` (`[t, b, 4h]`) and
/// `tc` (`[t, b, h]`), the last two being saved for [`lstm_sequence_backward`].
#[allow(clippy::too_many_arguments)]
pub fn lstm_sequence_forward(d: SeqDims, xp: &[f32], w: &[f32], h0: &[f32], c0: &[f32], out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    let SeqDims { t, b, h } = d;
    let (bh, bh2, bh4) = (b * h, 2 * b * h, 4 * b * h);
    assert!(xp.len() == t * bh4 && w.len() == 4 * h * h && h0.len() == bh && c0.len() == bh);
    assert!(out.len() == t * bh2 && act.len() == t * bh4 && tc.len() == t * bh);
    let mut z = vec![0.0f32; bh4];
    let wt = PackedB::new(h, 4 * h, w, h, true); // Wᵀ, packed once for all steps
    for s in 0..t {
        let (done, rest) = out.split_at_mut(s * bh2);
        // The previous state: (h0, c0), or the previous step's output rows [h, c].
        let (hp, ldh, cp, ldc) = if s == 0 { (h0, h, c0, h) } else { (&done[(s - 1) * bh2..], 2 * h, &done[(s - 1) * bh2 + h..], 2 * h) };
        z.copy_from_slice(&xp[s * bh4..(s + 1) * bh4]);
        gemm_packed(b, hp, ldh, false, &wt, &mut z, 4 * h, true);
        lstm_cell_forward(h, &z, cp, ldc, &mut rest[..bh2], &mut act[s * bh4..(s + 1) * bh4], &mut tc[s * bh..(s + 1) * bh]);
    }
}

/// Gradients of [`lstm_sequence_forward`] given `g` (`[t, b, 2h]`, the
/// gradient of `out`) and the saved `out`, `act`, `tc`. Overwrites `dxp`
/// (`[t, b, 4h]`), `dw` (`[4h, h]`), `dh0` and `dc0` (`[b, h]`).
#[allow(clippy::too_many_arguments)]
pub fn lstm_sequence_backward(
    d: SeqDims,
    w: &[f32],
    h0: &[f32],
    c0: &[f32],
    saved: (&[f32], &[f32], &[f32]),
    g: &[f32],
    dxp: &mut [f32],
    dw: &mut [f32],
    dh0: &mut [f32],
    dc0: &mut [f32],
) {
    let SeqDims { t, b, h } = d;
    let (out, act, tc) = saved;
    let (bh, bh2, bh4) = (b * h, 2 * b * h, 4 * b * h);
    assert!(g.len() == t * bh2 && out.len() == t * bh2 && dxp.len() == t * bh4 && dw.len() == 4 * h * h);
    assert!(t > 0 && dh0.len() == bh && dc0.len() == bh);
    // Carried gradients of the state entering step s + 1.
    let (mut dh_carry, mut dc_carry) = (vec![0.0f32; bh], vec![0.0f32; bh]);
    let (mut dh, mut dc) = (vec![0.0f32; bh], vec![0.0f32; bh]);
    let wp = PackedB::new(4 * h, h, w, h, false); // W, packed once for all steps
    for s in (0..t).rev() {
        let gs = &g[s * bh2..(s + 1) * bh2];
        for (r, row) in gs.chunks(2 * h).enumerate() {
            let span = r * h..(r + 1) * h;
            for ((o, &x), p) in dh[span.clone()].iter_mut().zip(&row[..h]).zip(&dh_carry[span.clone()]) {
                *o = x + p;
            }
            for ((o, &x), p) in dc[span.clone()].iter_mut().zip(&row[h..]).zip(&dc_carry[span]) {
                *o = x + p;
            }
        }
        let (cp, ldc) = if s == 0 { (c0, h) } else { (&out[(s - 1) * bh2 + h..], 2 * h) };
        let dz = &mut dxp[s * bh4..(s + 1) * bh4];
        lstm_cell_backward(h, &act[s * bh4..(s + 1) * bh4], &tc[s * bh..(s + 1) * bh], cp, ldc, &dh, &dc, dz, &mut dc_carry);
        // dh_{s-1} = dz·W.
        gemm_packed(b, dz, 4 * h, false, &wp, &mut dh_carry, h, false);
    }
    dh0.copy_from_slice(&dh_carry);
    dc0.copy_from_slice(&dc_carry);
    // dW = Σ_s dz_sᵀ·h_{s-1}: step 0 against h0, the rest in one product
    // against the h halves of the output rows (row stride 2h).
    gemm(4 * h, h, b, dxp, 4 * h, true, h0, h, false, dw, h, false);
    if t > 1 {
        gemm(4 * h, h, (t - 1) * b, &dxp[bh4..], 4 * h, true, out, 2 * h, false, dw, h, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::TestRng;

    #[test]
    fn forward_row_versions_are_bit_identical() {
        let mut rng = TestRng::new(3);
        let h = 37;
        let z: Vec<f32> = rng.vec(4 * h).iter().map(|v| v * 12.0).collect();
        let c: Vec<f32> = rng.vec(h).iter().map(|v| v * 3.0).collect();
        let run = |f: ForwardRow| {
            let (mut o, mut a, mut t) = (vec![0.0; 2 * h], vec![0.0; 4 * h], vec![0.0; h]);
            f(&z, &c, &mut o, &mut a, &mut t);
            [o, a, t].concat().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(forward_row), run(select_forward_row()));
    }

    #[test]
    fn backward_row_versions_are_bit_identical() {
        let mut rng = TestRng::new(4);
        let h = 37;
        let v: Vec<Vec<f32>> = [4 * h, h, h, h, h].iter().map(|&n| rng.vec(n)).collect();
        let run = |f: BackwardRow| {
            let (mut dz, mut dp) = (vec![0.0; 4 * h], vec![0.0; h]);
            f(&v[0], &v[1], &v[2], &v[3], &v[4], &mut dz, &mut dp);
            [dz, dp].concat().iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(backward_row), run(select_backward_row()));
    }
}

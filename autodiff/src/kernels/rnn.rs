//! The pointwise part of an LSTM cell, forward and backward, fused into one
//! pass over each batch row (PyTorch's gate order i, f, g, o).
//!
//! Forward, per row with `z = [zi, zf, zg, zo]` (`4h` pre-activations) and
//! the previous cell state `c`:
//! `i, f, o = σ(zi, zf, zo)`, `g = tanh(zg)`, `c' = f·c + i·g`,
//! `h' = o·tanh(c')`. Rows are independent, so results never depend on the
//! thread count.

use super::math::{sigmoid, tanh};
use super::PARALLEL_MIN;
use rayon::prelude::*;

/// One row of the forward pass. `z`: `4h` pre-activations; `c`: `h`;
/// writes `out = [h', c']` (`2h`), `act = [i, f, g, o]` (`4h`) and
/// `tc = tanh(c')` (`h`), the last two being what the backward pass needs.
#[inline]
fn forward_row(z: &[f32], c: &[f32], out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    let h = c.len();
    for (a, &v) in act.iter_mut().zip(z) {
        *a = sigmoid(v);
    }
    for (a, &v) in act[2 * h..3 * h].iter_mut().zip(&z[2 * h..3 * h]) {
        *a = tanh(v);
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

/// Forward over `b = c.len() / h` rows: `z` is `[b, 4h]`, `c` is `[b, h]`;
/// `out` (`[b, 2h]`), `act` (`[b, 4h]`) and `tc` (`[b, h]`) are overwritten.
pub fn lstm_cell_forward(h: usize, z: &[f32], c: &[f32], out: &mut [f32], act: &mut [f32], tc: &mut [f32]) {
    assert!(h > 0 && z.len() == 4 * c.len() && out.len() == 2 * c.len() && act.len() == z.len() && tc.len() == c.len());
    let row = |r: usize, o: &mut [f32], a: &mut [f32], t: &mut [f32]| forward_row(&z[r * 4 * h..][..4 * h], &c[r * h..][..h], o, a, t);
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
#[inline]
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

/// Backward over `b` rows (shapes as in [`lstm_cell_forward`]); `dh` and
/// `dc` are `[b, h]`, `dz` (`[b, 4h]`) and `dc_prev` (`[b, h]`) are
/// overwritten.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(h: usize, act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [f32], dc_prev: &mut [f32]) {
    let n = c.len();
    assert!(h > 0 && act.len() == 4 * n && tc.len() == n && dh.len() == n && dc.len() == n && dz.len() == 4 * n && dc_prev.len() == n);
    let row = |r: usize, dz: &mut [f32], dp: &mut [f32]| {
        let (a, s) = (&act[r * 4 * h..][..4 * h], r * h..(r + 1) * h);
        backward_row(a, &tc[s.clone()], &c[s.clone()], &dh[s.clone()], &dc[s], dz, dp)
    };
    if dz.len() >= PARALLEL_MIN {
        dz.par_chunks_mut(4 * h).zip(dc_prev.par_chunks_mut(h)).enumerate().for_each(|(r, (dz, dp))| row(r, dz, dp));
    } else {
        dz.chunks_mut(4 * h).zip(dc_prev.chunks_mut(h)).enumerate().for_each(|(r, (dz, dp))| row(r, dz, dp));
    }
}

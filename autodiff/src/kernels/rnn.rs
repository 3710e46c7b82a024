//! The pointwise part of an LSTM cell, forward and backward, fused into one
//! pass over each batch row (PyTorch's gate order i, f, g, o).
//!
//! Forward, per row with `z = [zi, zf, zg, zo]` (`4h` pre-activations) and
//! the previous cell state `c`:
//! `i, f, o = σ(zi, zf, zo)`, `g = tanh(zg)`, `c' = f·c + i·g`,
//! `h' = o·tanh(c')`. Rows are independent, so results never depend on the
//! thread count.

use super::gemm::{gemm, gemm_packed, gemm_packed_serial, gemm_uninit, Epilogue, MatMut, MatRef, PackedB, SharedMut};
use super::math::{sigmoid, tanh};
use super::{as_uninit, PARALLEL_MIN};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// One row of the forward pass. `z`: `4h` pre-activations; `c`: `h`;
/// writes `out = [h', c']` (`2h`), `act = [i, f, g, o]` (`4h`) and
/// `tc = tanh(c')` (`h`), the last two being what the backward pass needs.
/// The outputs may start uninitialized: every element is written, none read.
#[inline(always)]
fn forward_row(z: &[f32], c: &[f32], out: &mut [MaybeUninit<f32>], act: &mut [MaybeUninit<f32>], tc: &mut [MaybeUninit<f32>]) {
    let h = c.len();
    let (zi, rest) = z[..4 * h].split_at(h);
    let (zf, rest) = rest.split_at(h);
    let (zg, zo) = rest.split_at(h);
    let (ai, rest) = act[..4 * h].split_at_mut(h);
    let (af, rest) = rest.split_at_mut(h);
    let (ag, ao) = rest.split_at_mut(h);
    let (oh, oc) = out[..2 * h].split_at_mut(h);
    let tc = &mut tc[..h];
    for j in 0..h {
        // σ for i, f and o, tanh for g.
        let (i, f, g, o) = (sigmoid(zi[j]), sigmoid(zf[j]), tanh(zg[j]), sigmoid(zo[j]));
        let c2 = f * c[j] + i * g;
        let t = tanh(c2);
        ai[j].write(i);
        af[j].write(f);
        ag[j].write(g);
        ao[j].write(o);
        oc[j].write(c2);
        tc[j].write(t);
        oh[j].write(o * t);
    }
}

type ForwardRow = fn(&[f32], &[f32], &mut [MaybeUninit<f32>], &mut [MaybeUninit<f32>], &mut [MaybeUninit<f32>]);

/// [`forward_row`] compiled with AVX2 (8 lanes instead of SSE2's 4).
/// Rust never contracts `a·b + c` into an FMA on its own, so the results are
/// bit-identical to the baseline build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_row_avx2_impl(z: &[f32], c: &[f32], out: &mut [MaybeUninit<f32>], act: &mut [MaybeUninit<f32>], tc: &mut [MaybeUninit<f32>]) {
    forward_row(z, c, out, act, tc)
}

#[cfg(target_arch = "x86_64")]
fn forward_row_avx2(z: &[f32], c: &[f32], out: &mut [MaybeUninit<f32>], act: &mut [MaybeUninit<f32>], tc: &mut [MaybeUninit<f32>]) {
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
pub fn lstm_cell_forward(h: usize, z: &[f32], (c, ldc): (&[f32], usize), (out, act, tc): (&mut [f32], &mut [f32], &mut [f32])) {
    let b = z.len() / (4 * h).max(1);
    assert!(h > 0 && z.len() == 4 * b * h && out.len() == 2 * b * h && act.len() == z.len() && tc.len() == b * h);
    assert!(ldc >= h && (b == 0 || c.len() >= (b - 1) * ldc + h), "lstm_cell_forward: cell state too short");
    let f = select_forward_row();
    let row = |r: usize, o: &mut [f32], a: &mut [f32], t: &mut [f32]| {
        // SAFETY (as_uninit): the row kernel writes initialized floats only.
        let (o, a, t) = unsafe { (as_uninit(o), as_uninit(a), as_uninit(t)) };
        f(&z[r * 4 * h..][..4 * h], &c[r * ldc..][..h], o, a, t)
    };
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
/// into `h'` and `c'`. Writes `dz` (`4h`, may start uninitialized) and the
/// gradient `dc_prev` (`h`) for the previous cell state.
#[inline(always)]
fn backward_row(act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [MaybeUninit<f32>], dc_prev: &mut [f32]) {
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
        dzo[j].write(dh[j] * t * (o * (1.0 - o)));
        dzi[j].write(dct * g * (i * (1.0 - i)));
        dzf[j].write(dct * c[j] * (f * (1.0 - f)));
        dzg[j].write(dct * i * (1.0 - g * g));
        dc_prev[j] = dct * f;
    }
}

type BackwardRow = fn(&[f32], &[f32], &[f32], &[f32], &[f32], &mut [MaybeUninit<f32>], &mut [f32]);

/// [`backward_row`] compiled with AVX2 (only multiplies and adds: the same
/// bits as the baseline build).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn backward_row_avx2_impl(act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [MaybeUninit<f32>], dc_prev: &mut [f32]) {
    backward_row(act, tc, c, dh, dc, dz, dc_prev)
}

#[cfg(target_arch = "x86_64")]
fn backward_row_avx2(act: &[f32], tc: &[f32], c: &[f32], dh: &[f32], dc: &[f32], dz: &mut [MaybeUninit<f32>], dc_prev: &mut [f32]) {
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

/// Backward over `b` rows given the forward's saved `(act, tc)` and the
/// cell state `(c, ldc)` (shapes as in [`lstm_cell_forward`]); the output
/// gradients `(dh, dc)` are `[b, h]`; `dz` (`[b, 4h]`) and `dc_prev`
/// (`[b, h]`) are overwritten.
pub fn lstm_cell_backward(
    h: usize,
    (act, tc): (&[f32], &[f32]),
    (c, ldc): (&[f32], usize),
    (dh, dc): (&[f32], &[f32]),
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
        // SAFETY (as_uninit): the row kernel writes initialized floats only.
        f(a, &tc[s.clone()], &c[r * ldc..][..h], &dh[s.clone()], &dc[s], unsafe { as_uninit(dz) }, dp)
    };
    if dz.len() >= PARALLEL_MIN {
        dz.par_chunks_mut(4 * h).zip(dc_prev.par_chunks_mut(h)).enumerate().for_each(|(r, (dz, dp))| row(r, dz, dp));
    } else {
        dz.chunks_mut(4 * h).zip(dc_prev.chunks_mut(h)).enumerate().for_each(|(r, (dz, dp))| row(r, dz, dp));
    }
}

/// What [`lstm_sequence_forward`] writes, `(out, act, tc)`: possibly
/// uninitialized buffers of `[t, b, 2h]`, `[t, b, 4h]` and `[t, b, h]`.
pub type SeqOutputs<'a> = (&'a mut [MaybeUninit<f32>], &'a mut [MaybeUninit<f32>], &'a mut [MaybeUninit<f32>]);

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

/// The batch rows the recurrences are split into, one range per worker:
/// rows never interact within a layer, so each range runs all its steps on
/// its own thread with no synchronization per step, and every row's
/// arithmetic is the same whatever the split.
fn row_chunks(b: usize) -> Vec<std::ops::Range<usize>> {
    let k = rayon::current_num_threads().min(b).max(1);
    (0..k).map(|i| i * b / k..(i + 1) * b / k).collect()
}

/// `len` possibly uninitialized floats at `p`: a task's part of an output,
/// written by the row kernels.
///
/// # Safety
/// `p` is valid for `len` writes and nothing else refers to them while the
/// slice lives.
unsafe fn uninit<'a>(p: *mut f32, len: usize) -> &'a mut [MaybeUninit<f32>] {
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(p.cast(), len) }
}

/// `C (+)= A·B` with the packed `B`, on this thread when the caller already
/// runs one task per worker.
fn product(serial: bool, a: MatRef, b: &PackedB, c: MatMut, accumulate: bool) {
    if serial {
        gemm_packed_serial(a, b, c, accumulate);
    } else {
        gemm_packed(a, b, c, accumulate);
    }
}

/// Runs an LSTM layer over a sequence. `xp`: the input projections
/// (biases included), `[t, b, 4h]`, overwritten: step `s` becomes
/// `z = xp[s] + h·Wᵀ` in place (no copy per step); `w`: `W_hh`, `[4h, h]`;
/// `(h0, c0)`: `[b, h]` each. Overwrites `(out, act, tc)`: `out` (`[t, b, 2h]`, each step's
/// `[h', c']`), `act` (`[t, b, 4h]`) and `tc` (`[t, b, h]`), the last two
/// being saved for [`lstm_bptt`]; all three may start uninitialized (every
/// element is written).
/// The batch is split into `row_chunks`, each running the whole sequence.
pub fn lstm_sequence_forward(d: SeqDims, xp: &mut [f32], w: &[f32], (h0, c0): (&[f32], &[f32]), saved: SeqOutputs) {
    let (out, act, tc) = saved;
    let SeqDims { t, b, h } = d;
    let (bh, bh2, bh4) = (b * h, 2 * b * h, 4 * b * h);
    assert!(xp.len() == t * bh4 && w.len() == 4 * h * h && h0.len() == bh && c0.len() == bh);
    assert!(out.len() == t * bh2 && act.len() == t * bh4 && tc.len() == t * bh);
    let wt = PackedB::new(MatRef::new(w, 4 * h, h, h).t()); // Wᵀ, packed once for all steps
    let chunks = row_chunks(b);
    let serial = chunks.len() > 1;
    let (outp, actp, tcp) = (SharedMut(out.as_mut_ptr().cast()), SharedMut(act.as_mut_ptr().cast()), SharedMut(tc.as_mut_ptr().cast()));
    let xpp = SharedMut(xp.as_mut_ptr());
    let f = select_forward_row();
    chunks.into_par_iter().for_each(|rows| {
        let (r0, nr) = (rows.start, rows.len());
        for s in 0..t {
            // SAFETY: this task touches only rows r0..r0+nr of every step of
            // `xp`, `out`, `act` and `tc` (other tasks have other rows); it
            // reads step s − 1 (written by this task before) and writes step
            // s, which do not overlap.
            let (z, o, a, tcs, prev) = unsafe {
                (
                    std::slice::from_raw_parts_mut(xpp.get().add(s * bh4 + r0 * 4 * h), nr * 4 * h),
                    uninit(outp.get().add(s * bh2 + r0 * 2 * h), nr * 2 * h),
                    uninit(actp.get().add(s * bh4 + r0 * 4 * h), nr * 4 * h),
                    uninit(tcp.get().add(s * bh + r0 * h), nr * h),
                    (s > 0).then(|| std::slice::from_raw_parts(outp.get().add((s - 1) * bh2 + r0 * 2 * h) as *const f32, nr * 2 * h)),
                )
            };
            // The previous state: (h0, c0), or the previous step's output rows [h, c].
            let (hp, ldh, cp, ldc) = match prev {
                None => (&h0[r0 * h..(r0 + nr) * h], h, &c0[r0 * h..(r0 + nr) * h], h),
                Some(p) => (p, 2 * h, &p[h..], 2 * h),
            };
            product(serial, MatRef::new(hp, nr, h, ldh), &wt, MatMut::new(z, nr, 4 * h, 4 * h), true);
            for r in 0..nr {
                f(
                    &z[r * 4 * h..][..4 * h],
                    &cp[r * ldc..][..h],
                    &mut o[r * 2 * h..][..2 * h],
                    &mut a[r * 4 * h..][..4 * h],
                    &mut tcs[r * h..][..h],
                );
            }
        }
    });
}

/// Backpropagation through time for [`lstm_sequence_forward`], given `g`
/// (`[t, b, 2h]`, the gradient of `out`) and the saved `out`, `act`, `tc`.
/// Overwrites `dxp` (`[t, b, 4h]`, the gradients of the projections, which
/// may start uninitialized) and `(dh0, dc0)` (`[b, h]` each). The recurrence runs
/// per `row_chunks`; the weight gradients are left to
/// [`lstm_sequence_weight_grad`] or [`lstm_layer_weight_grads`].
pub fn lstm_bptt(
    d: SeqDims,
    w: &[f32],
    c0: &[f32],
    saved: (&[f32], &[f32], &[f32]),
    g: &[f32],
    dxp: &mut [MaybeUninit<f32>],
    (dh0, dc0): (&mut [f32], &mut [f32]),
) {
    let SeqDims { t, b, h } = d;
    let (out, act, tc) = saved;
    let (bh, bh2, bh4) = (b * h, 2 * b * h, 4 * b * h);
    assert!(g.len() == t * bh2 && out.len() == t * bh2 && dxp.len() == t * bh4 && w.len() == 4 * h * h);
    assert!(act.len() == t * bh4 && tc.len() == t * bh && c0.len() == bh);
    assert!(t > 0 && dh0.len() == bh && dc0.len() == bh);
    let wp = PackedB::new(MatRef::new(w, 4 * h, h, h)); // W, packed once for all steps
    let chunks = row_chunks(b);
    let serial = chunks.len() > 1;
    let fb = select_backward_row();
    let (dxpp, dh0p, dc0p) = (SharedMut(dxp.as_mut_ptr().cast()), SharedMut(dh0.as_mut_ptr()), SharedMut(dc0.as_mut_ptr()));
    chunks.into_par_iter().for_each(|rows| {
        let (r0, nr) = (rows.start, rows.len());
        // Carried gradients of the state entering step s + 1.
        let (mut dh_carry, mut dc_carry) = (vec![0.0f32; nr * h], vec![0.0f32; nr * h]);
        let (mut dh, mut dc) = (vec![0.0f32; nr * h], vec![0.0f32; nr * h]);
        for s in (0..t).rev() {
            let gs = &g[s * bh2 + r0 * 2 * h..][..nr * 2 * h];
            for (r, row) in gs.chunks(2 * h).enumerate() {
                let span = r * h..(r + 1) * h;
                for ((o, &x), p) in dh[span.clone()].iter_mut().zip(&row[..h]).zip(&dh_carry[span.clone()]) {
                    *o = x + p;
                }
                for ((o, &x), p) in dc[span.clone()].iter_mut().zip(&row[h..]).zip(&dc_carry[span]) {
                    *o = x + p;
                }
            }
            let (cp, ldc) = if s == 0 { (&c0[r0 * h..], h) } else { (&out[(s - 1) * bh2 + r0 * 2 * h + h..], 2 * h) };
            // Rows r0..r0+nr of step s of `dxp`, which belong to this task only.
            let dz_ptr = dxpp.get().wrapping_add(s * bh4 + r0 * 4 * h);
            // SAFETY: as just said.
            let dz = unsafe { uninit(dz_ptr, nr * 4 * h) };
            let (a, tcs) = (&act[s * bh4 + r0 * 4 * h..][..nr * 4 * h], &tc[s * bh + r0 * h..][..nr * h]);
            for r in 0..nr {
                let span = r * h..(r + 1) * h;
                fb(
                    &a[r * 4 * h..][..4 * h],
                    &tcs[span.clone()],
                    &cp[r * ldc..][..h],
                    &dh[span.clone()],
                    &dc[span.clone()],
                    &mut dz[r * 4 * h..][..4 * h],
                    &mut dc_carry[span],
                );
            }
            // SAFETY: the row kernels wrote every element of dz.
            let dz = unsafe { std::slice::from_raw_parts(dz_ptr as *const f32, nr * 4 * h) };
            // dh_{s-1} = dz·W.
            product(serial, MatRef::new(dz, nr, 4 * h, 4 * h), &wp, MatMut::new(&mut dh_carry, nr, h, h), false);
        }
        // SAFETY: rows r0..r0+nr of dh0 and dc0 belong to this task only.
        unsafe {
            std::slice::from_raw_parts_mut(dh0p.get().add(r0 * h), nr * h).copy_from_slice(&dh_carry);
            std::slice::from_raw_parts_mut(dc0p.get().add(r0 * h), nr * h).copy_from_slice(&dc_carry);
        }
    });
}

/// `dW_hh = Σ_s dz_sᵀ·h_{s-1}` (`[4h, h]`) from the projection gradients
/// `dz` of [`lstm_bptt`] and the saved `out`: step 0 against `h0`, the rest
/// in one product against the h halves of the output rows (row stride 2h).
pub fn lstm_sequence_weight_grad(d: SeqDims, dz: &[f32], h0: &[f32], out: &[f32], dw: &mut [f32]) {
    let SeqDims { t, b, h } = d;
    assert!(dz.len() == t * b * 4 * h && h0.len() == b * h && out.len() == t * b * 2 * h && dw.len() == 4 * h * h);
    gemm(MatRef::new(dz, b, 4 * h, 4 * h).t(), MatRef::new(h0, b, h, h), MatMut::new(dw, 4 * h, h, h), false);
    if t > 1 {
        gemm(
            MatRef::new(&dz[4 * b * h..], (t - 1) * b, 4 * h, 4 * h).t(),
            MatRef::new(out, (t - 1) * b, h, 2 * h),
            MatMut::new(dw, 4 * h, h, h),
            true,
        );
    }
}

/// Both weight gradients of an LSTM layer whose projections are `x·W_ihᵀ +
/// bias` (`x`: `[t, b, n_in]`), in one product `dzᵀ·[h_prev | x]`: the
/// transposed `dz` (the biggest operand) is packed once for both. Returns
/// `(dW_hh [4h, h], dW_ih [4h, n_in])`.
pub fn lstm_layer_weight_grads(d: SeqDims, n_in: usize, dz: &[f32], h0: &[f32], out: &[f32], x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let SeqDims { t, b, h } = d;
    assert!(dz.len() == t * b * 4 * h && h0.len() == b * h && out.len() == t * b * 2 * h && x.len() == t * b * n_in);
    // Row (s, r) of `y`: [h_{s-1}[r] | x_s[r]], with h_{-1} = h0.
    let w = h + n_in;
    let mut y: Vec<f32> = Vec::with_capacity(t * b * w);
    let fill = |(i, row): (usize, &mut [MaybeUninit<f32>])| {
        let (s, r) = (i / b, i % b);
        let hp = if s == 0 { &h0[r * h..][..h] } else { &out[((s - 1) * b + r) * 2 * h..][..h] };
        let (lo, hi) = row.split_at_mut(h);
        for (d, src) in [(lo, hp), (hi, &x[i * n_in..][..n_in])] {
            d.iter_mut().zip(src).for_each(|(d, &v)| {
                d.write(v);
            });
        }
    };
    let rows = &mut y.spare_capacity_mut()[..t * b * w];
    if rows.len() >= PARALLEL_MIN {
        rows.par_chunks_mut(w).enumerate().for_each(fill);
    } else {
        rows.chunks_mut(w).enumerate().for_each(fill);
    }
    // SAFETY: `fill` wrote all w elements of every row.
    unsafe { y.set_len(t * b * w) };
    let mut dw: Vec<f32> = Vec::with_capacity(4 * h * w);
    gemm_uninit(
        MatRef::new(dz, t * b, 4 * h, 4 * h).t(),
        MatRef::new(&y, t * b, w, w),
        MatMut::new(&mut dw.spare_capacity_mut()[..4 * h * w], 4 * h, w, w),
        Epilogue::default(),
    );
    // SAFETY: gemm_uninit wrote every element of the 4h × w product.
    unsafe { dw.set_len(4 * h * w) };
    let (mut dw_hh, mut dw_ih) = (Vec::with_capacity(4 * h * h), Vec::with_capacity(4 * h * n_in));
    for row in dw.chunks(w) {
        dw_hh.extend_from_slice(&row[..h]);
        dw_ih.extend_from_slice(&row[h..]);
    }
    (dw_hh, dw_ih)
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
            let (mut o, mut a, mut t) = (vec![0.0f32; 2 * h], vec![0.0f32; 4 * h], vec![0.0f32; h]);
            // SAFETY (as_uninit): the row kernel writes initialized floats only.
            f(&z, &c, unsafe { as_uninit(&mut o) }, unsafe { as_uninit(&mut a) }, unsafe { as_uninit(&mut t) });
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
            let (mut dz, mut dp) = (vec![0.0f32; 4 * h], vec![0.0; h]);
            // SAFETY (as_uninit): the row kernel writes initialized floats only.
            f(&v[0], &v[1], &v[2], &v[3], &v[4], unsafe { as_uninit(&mut dz) }, &mut dp);
            [dz, dp].concat().iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(backward_row), run(select_backward_row()));
    }
}

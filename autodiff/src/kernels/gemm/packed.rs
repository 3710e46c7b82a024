//! Operands packed once for many products: [`PackedB`] (public) and
//! [`PackedLhs`], and the parallel packing pass that fills them.

use rayon::prelude::*;

use super::blocking::{round_up, slice_depth, MR, NC, NR};
use super::macrokernel::{multiply_packed, BlockC, PanelsA};
use super::microkernel::{select_kernel, PanelB};
use super::pack_a::pack_a;
use super::pack_b::pack_b_panel;
use super::transpose::transpose_simd_available;
use super::MatRef;

/// A right operand `op(B)` (`k × n`) packed once, for several products with
/// the same `B` (e.g. the recurrent weight of an RNN, used at every step).
/// [`gemm_packed`](super::gemm_packed) with it gives bit-identical results
/// to [`gemm`](super::gemm).
pub struct PackedB {
    pub(super) k: usize,
    pub(super) n: usize,
    /// `NC`-column blocks one after the other: block `jc` starts at `k·jc`.
    pub(super) data: Vec<f32>,
}

impl PackedB {
    /// Packs `b` (`k × n`; any view, transposed or not).
    pub fn new(b: MatRef) -> PackedB {
        let (k, n) = (b.rows, b.cols);
        b.check("B");
        let parallel = k.saturating_mul(n) >= 1 << 16;
        let mut data = vec![0.0; k * round_up(n, NR)];
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            pack_operands(k, None, Some((&b, jc, nc, &mut data[k * jc..k * (jc + round_up(nc, NR))])), parallel);
        }
        PackedB { k, n, data }
    }
}

/// `op(A)` (`m × k`) packed once into `MR`-row panels for every slice of the
/// reduction dimension, for products that reuse the same left-hand side
/// against many right-hand sides (the weights of a convolution).
pub(crate) struct PackedLhs {
    data: Vec<f32>,
    m: usize,
    k: usize,
}

impl PackedLhs {
    /// Packs `a` (`m × k`; any view).
    pub(crate) fn new(a: MatRef) -> PackedLhs {
        let (m, k) = (a.rows, a.cols);
        a.check("A");
        let mp = round_up(m, MR);
        let mut data = vec![0.0; mp * k];
        let kd = slice_depth(k);
        for pc in (0..k).step_by(kd.max(1)) {
            let kc = kd.min(k - pc);
            pack_a(&a, 0, m, pc, kc, &mut data[pc * mp..(pc + kc) * mp]);
        }
        PackedLhs { data, m, k }
    }

    /// The panels of slice `pc..pc + kc`.
    pub(crate) fn slice(&self, pc: usize, kc: usize) -> PanelsA<'_> {
        let mp = round_up(self.m, MR);
        PanelsA { data: &self.data[pc * mp..(pc + kc) * mp], rows: self.m, kc }
    }

    /// `C[m × c.cols] (+)= op(A)[:, pc..pc+kc] · B` where `b` gives rows
    /// `pc..pc+kc` of `B`; `pc`, `kc` must be a slice of [`slice_depth`]`(k)`.
    /// Does not count flops: callers report the work of their algorithm
    /// through [`count_flops`](super::count_flops).
    ///
    /// # Safety
    /// As [`multiply_packed`]: `b` covers `kc` rows of `round_up(c.cols, NR)`
    /// columns, `c` is valid for `m` rows of `c.cols` at stride `c.ld`, unaliased.
    pub(crate) unsafe fn multiply_slice<B: PanelB>(&self, pc: usize, kc: usize, b: B, c: BlockC, accumulate: bool) {
        assert!(pc + kc <= self.k && pc.is_multiple_of(slice_depth(self.k).max(1)));
        // SAFETY: forwarded caller contract.
        unsafe { multiply_packed(select_kernel::<B>(), self.slice(pc, kc), b, c, accumulate) }
    }
}

/// What [`pack_operands`] packs of `op(A)`: the operand, `m`, the output.
pub(super) type PackAJob<'a, 'b> = Option<(&'a MatRef<'a>, usize, &'b mut [f32])>;
/// What [`pack_operands`] packs of `op(B)`: the operand, `jc`, `nc`, the output.
pub(super) type PackBJob<'a, 'b> = Option<(&'a MatRef<'a>, usize, usize, &'b mut [f32])>;

/// Packs, in one pass (parallel when `parallel`), `op(A)` whole when `a` is
/// given and columns `jc..jc+nc` of `op(B)` when `b` is given.
///
/// `a = (op, m, out)`: `out` (`round_up(m, MR) · k` elements) gets the
/// `slice_depth(k)`-deep slices one after the other, slice `pc` at
/// `pc · round_up(m, MR)` holding `MR`-row panels of `kc × MR` ([`PackedLhs`]'s layout).
/// `b = (op, jc, nc, out)`: `out` (`k · round_up(nc, NR)` elements) gets the
/// slices of `op(B)`, slice `pc` at `pc · round_up(nc, NR)` holding `NR`-column
/// panels of `kc × NR`.  Everything is zero padded.
pub(super) fn pack_operands(k: usize, a: PackAJob, b: PackBJob, parallel: bool) {
    /// Row panels of A per job: whole cache lines of a transposed A's rows.
    const A_PANELS: usize = 8;
    enum Job<'o> {
        A { pc: usize, kc: usize, i0: usize, mc: usize, out: &'o mut [f32] },
        B { pc: usize, kc: usize, j0: usize, nr: usize, out: &'o mut [f32] },
    }
    let kd = slice_depth(k);
    let mut jobs = Vec::new();
    let (mut a_op, mut b_op) = (None, None);
    if let Some((op, m, out)) = a {
        a_op = Some(op);
        let mp = round_up(m, MR);
        let mut rest = &mut out[..mp * k];
        for pc in (0..k).step_by(kd) {
            let kc = kd.min(k - pc);
            let (slice, tail) = rest.split_at_mut(mp * kc);
            rest = tail;
            for (g, out) in slice.chunks_mut(A_PANELS * MR * kc).enumerate() {
                let i0 = g * A_PANELS * MR;
                jobs.push(Job::A { pc, kc, i0, mc: (A_PANELS * MR).min(m - i0), out });
            }
        }
    }
    if let Some((op, jc, nc, out)) = b {
        b_op = Some(op);
        let ncp = round_up(nc, NR);
        let mut rest = &mut out[..k * ncp];
        for pc in (0..k).step_by(kd) {
            let kc = kd.min(k - pc);
            let (slice, tail) = rest.split_at_mut(ncp * kc);
            rest = tail;
            for (p, out) in slice.chunks_mut(NR * kc).enumerate() {
                let j0 = jc + p * NR;
                jobs.push(Job::B { pc, kc, j0, nr: NR.min(jc + nc - j0), out });
            }
        }
    }
    let simd = transpose_simd_available();
    let run = |job: Job| match job {
        Job::A { pc, kc, i0, mc, out } => pack_a(a_op.expect("A job without A"), i0, mc, pc, kc, out),
        Job::B { pc, kc, j0, nr, out } => pack_b_panel(b_op.expect("B job without B"), pc, kc, j0, nr, out, simd),
    };
    if parallel && jobs.len() > 1 {
        jobs.into_par_iter().for_each(run);
    } else {
        jobs.into_iter().for_each(run);
    }
}

//! The portable microkernel.

use super::{PanelB, MR, NR};

/// Portable microkernel (separate multiply and add), written over arrays so
/// that LLVM vectorizes it with whatever the baseline target offers.
///
/// # Safety
/// The [`Kernel`](super::Kernel) contract.
pub(crate) unsafe fn kernel_scalar<B: PanelB>(kc: usize, rows: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    // SAFETY: forwarded Kernel contract.
    unsafe {
        match rows {
            0..=2 => scalar_body::<B, 2>(kc, a, b, c, ldc, accumulate),
            3..=4 => scalar_body::<B, 4>(kc, a, b, c, ldc, accumulate),
            _ => scalar_body::<B, MR>(kc, a, b, c, ldc, accumulate),
        }
    }
}

/// [`kernel_scalar`] over the first `ROWS` rows.
///
/// # Safety
/// The [`Kernel`](super::Kernel) contract.
#[inline(always)]
unsafe fn scalar_body<B: PanelB, const ROWS: usize>(kc: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    // SAFETY: the caller guarantees these extents (Kernel contract).
    let a = unsafe { std::slice::from_raw_parts(a, kc * MR) };
    let mut acc = [[0.0f32; NR]; ROWS];
    for (kk, ap) in a.chunks_exact(MR).enumerate() {
        // SAFETY: kk < kc (Kernel contract): both halves hold NR / 2 floats.
        let (lo, hi) = unsafe { (&*(b.row(kk) as *const [f32; NR / 2]), &*(b.row_hi(kk) as *const [f32; NR / 2])) };
        let bp: [f32; NR] = std::array::from_fn(|j| if j < NR / 2 { lo[j] } else { hi[j - NR / 2] });
        for (row, &ai) in acc.iter_mut().zip(ap) {
            for (c, &bj) in row.iter_mut().zip(&bp) {
                *c += ai * bj;
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        // SAFETY: row r < MR of the tile is valid for NR writes and unaliased (Kernel contract).
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), NR) };
        if accumulate {
            row.iter_mut().zip(accr).for_each(|(d, &v)| *d += v);
        } else {
            row.copy_from_slice(accr);
        }
    }
}

//! The AVX2 + FMA microkernel.

use super::{PanelB, MR};

/// AVX2 + FMA microkernel: twelve 8-wide accumulators (6 rows × 2 vectors),
/// per step two loads of `B`, six broadcasts of `A` and twelve FMAs.
///
/// # Safety
/// The [`Kernel`](super::Kernel) contract, and the CPU must support AVX2 and FMA (only
/// handed out by `select_kernel` or tests after `avx2_fma_available()`).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn kernel_avx2_fma<B: PanelB>(kc: usize, rows: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    // SAFETY: forwarded Kernel contract; AVX2 and FMA are enabled here.
    unsafe {
        match rows {
            0..=2 => avx2_body::<B, 2>(kc, a, b, c, ldc, accumulate),
            3..=4 => avx2_body::<B, 4>(kc, a, b, c, ldc, accumulate),
            _ => avx2_body::<B, MR>(kc, a, b, c, ldc, accumulate),
        }
    }
}

/// [`kernel_avx2_fma`] over the first `ROWS` rows.
///
/// # Safety
/// As [`kernel_avx2_fma`].
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn avx2_body<B: PanelB, const ROWS: usize>(kc: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
    let mut a = a;
    // SAFETY: every pointer offset stays inside the extents of the Kernel contract.
    unsafe {
        // Fetch the C tile while the k loop runs, so the final update does
        // not wait on cache misses.
        for r in 0..ROWS {
            let p = c.add(r * ldc) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.add(60));
        }
        for kk in 0..kc {
            let b0 = _mm256_loadu_ps(b.row(kk));
            let b1 = _mm256_loadu_ps(b.row_hi(kk));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let ar = _mm256_broadcast_ss(&*a.add(r));
                acc_r[0] = _mm256_fmadd_ps(ar, b0, acc_r[0]);
                acc_r[1] = _mm256_fmadd_ps(ar, b1, acc_r[1]);
            }
            a = a.add(MR);
        }
        for (r, acc_r) in acc.iter().enumerate() {
            let p = c.add(r * ldc);
            let (mut v0, mut v1) = (acc_r[0], acc_r[1]);
            if accumulate {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p.add(8)));
            }
            _mm256_storeu_ps(p, v0);
            _mm256_storeu_ps(p.add(8), v1);
        }
    }
}

/// Whether the CPU supports AVX2 and FMA.
pub(crate) fn avx2_fma_available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

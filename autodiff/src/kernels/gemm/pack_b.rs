//! Packing `op(B)` into `NR`-column panels.

use super::blocking::PREFETCH_ROWS;
#[cfg(target_arch = "x86_64")]
use super::transpose::transpose8;
use super::{MatRef, NR};

/// Packs one `kc × NR` panel of `op(B)` starting at row `pc`, column `j0`, with
/// `nr` valid columns.
/// `simd`: a full transposed panel may use [`transpose_panel_avx`].
pub(super) fn pack_b_panel(b: &MatRef, pc: usize, kc: usize, j0: usize, nr: usize, out: &mut [f32], simd: bool) {
    if b.trans {
        #[cfg(target_arch = "x86_64")]
        if simd && nr == NR {
            let src = &b.data[j0 * b.ld + pc..];
            assert!(kc == 0 || src.len() >= (NR - 1) * b.ld + kc);
            assert!(out.len() >= kc * NR);
            // SAFETY: AVX is available (simd); the extents were just checked.
            unsafe { transpose_panel_avx(src.as_ptr(), b.ld, kc, out.as_mut_ptr()) };
            return;
        }
        let _ = simd;
        if nr < NR {
            out.fill(0.0);
        }
        for c in 0..nr {
            let src = &b.data[(j0 + c) * b.ld + pc..][..kc];
            for (o, &v) in out.chunks_exact_mut(NR).zip(src) {
                o[c] = v;
            }
        }
    } else if nr == NR {
        for (kk, o) in out.chunks_exact_mut(NR).enumerate() {
            // Rows ≥ 4 KB apart are beyond the hardware prefetchers' reach:
            // fetch the row PREFETCH_ROWS ahead (its NR floats may straddle
            // two cache lines).
            #[cfg(target_arch = "x86_64")]
            if let Some(ahead) = b.data.get((pc + kk + PREFETCH_ROWS) * b.ld + j0..(pc + kk + PREFETCH_ROWS) * b.ld + j0 + NR) {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                // SAFETY: prefetching never faults; both addresses are inside `b.data`.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().cast());
                    _mm_prefetch::<_MM_HINT_T0>(ahead[NR - 1..].as_ptr().cast());
                }
            }
            let o: &mut [f32; NR] = o.try_into().unwrap();
            let src: &[f32; NR] = b.data[(pc + kk) * b.ld + j0..][..NR].try_into().unwrap();
            *o = *src;
        }
    } else {
        for (kk, o) in out.chunks_exact_mut(NR).enumerate() {
            let src = &b.data[(pc + kk) * b.ld + j0..][..nr];
            o[..nr].copy_from_slice(src);
            o[nr..].fill(0.0);
        }
    }
}

/// A full transposed panel: `out[kk·NR + c] = src[c·ld + kk]` for `c < NR`,
/// `kk < kc`, by 8 × 8 register transposes (the `kc % 8` last steps one by one).
///
/// # Safety
/// The CPU supports AVX; `src` is valid for reads of `NR` rows of `kc` floats
/// at stride `ld`, `out` for `kc · NR` writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_panel_avx(src: *const f32, ld: usize, kc: usize, out: *mut f32) {
    use std::arch::x86_64::*;
    let k8 = kc / 8 * 8;
    // SAFETY: every read is below src + (NR-1)·ld + kc and every write below out + kc·NR.
    unsafe {
        for h in [0, 8] {
            let rows: [*const f32; 8] = std::array::from_fn(|r| src.add((h + r) * ld));
            for kb in (0..k8).step_by(8) {
                let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(rows[i].add(kb)));
                let o = transpose8(r);
                for (j, v) in o.iter().enumerate() {
                    _mm256_storeu_ps(out.add((kb + j) * NR + h), *v);
                }
            }
            for kk in k8..kc {
                for (r, row) in rows.iter().enumerate() {
                    *out.add(kk * NR + h + r) = *row.add(kk);
                }
            }
        }
    }
}

//! Packing `op(A)` into `MR`-row panels.

use super::blocking::PREFETCH_ROWS;
#[cfg(target_arch = "x86_64")]
use super::transpose::{transpose8, transpose_simd_available};
use super::{MatRef, MR};

/// Packs rows `i0..i0+mc`, reduction indices `pc..pc+kc` of `op(A)` into `MR`-row
/// panels: `out[p*kc*MR + kk*MR + r] = op(A)[i0 + p*MR + r][pc + kk]`, zero padded.
pub(super) fn pack_a(a: &MatRef, i0: usize, mc: usize, pc: usize, kc: usize, out: &mut [f32]) {
    if a.trans {
        // Stored A is k × m: walk its rows once each (one page per row rather
        // than one per row and panel), scattering each row over the panels.
        let npanels = out.len() / (kc * MR);
        for kk in 0..kc {
            let start = (pc + kk) * a.ld + i0;
            // Each row is in another page, where the hardware prefetchers stop:
            // fetch the strip of the row PREFETCH_ROWS ahead.
            #[cfg(target_arch = "x86_64")]
            if let Some(ahead) = a.data.get(start + PREFETCH_ROWS * a.ld..start + PREFETCH_ROWS * a.ld + mc) {
                for line in ahead.chunks(16) {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    // SAFETY: prefetching never faults; the address is inside `a.data`.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
                }
            }
            // Full panels and two readable values past them (not at the last
            // kk): copies of MR + 2 values (one vector), whose last two land
            // in slot kk + 1 of the same panel, written right after.
            if npanels * MR <= mc && kk + 1 < kc && start + npanels * MR + 2 <= a.data.len() {
                let src = &a.data[start..start + npanels * MR + 2];
                for p in 0..npanels {
                    out[(p * kc + kk) * MR..][..MR + 2].copy_from_slice(&src[p * MR..][..MR + 2]);
                }
                continue;
            }
            let src = &a.data[start..][..mc];
            for p in 0..npanels {
                let o = &mut out[(p * kc + kk) * MR..][..MR];
                let mr = MR.min(mc - p * MR);
                if mr == MR {
                    // A constant-length copy compiles to two moves, not a memcpy call.
                    o.copy_from_slice(&src[p * MR..][..MR]);
                } else {
                    o[..mr].copy_from_slice(&src[p * MR..][..mr]);
                    o[mr..].fill(0.0);
                }
            }
        }
        return;
    }
    for (p, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let r0 = i0 + p * MR;
        let mr = MR.min(i0 + mc - r0);
        if mr == MR {
            let rows: [&[f32]; MR] = std::array::from_fn(|r| &a.data[(r0 + r) * a.ld + pc..][..kc]);
            #[cfg(target_arch = "x86_64")]
            if transpose_simd_available() {
                // SAFETY: AVX is available; each row holds kc floats and the panel kc·MR.
                unsafe { pack_rows_avx(rows.map(|r| r.as_ptr()), kc, panel.as_mut_ptr()) };
                continue;
            }
            for (kk, o) in panel.chunks_exact_mut(MR).enumerate() {
                for (dst, row) in o.iter_mut().zip(&rows) {
                    *dst = row[kk];
                }
            }
        } else {
            for (kk, o) in panel.chunks_exact_mut(MR).enumerate() {
                for (r, dst) in o.iter_mut().enumerate() {
                    *dst = if r < mr { a.data[(r0 + r) * a.ld + pc + kk] } else { 0.0 };
                }
            }
        }
    }
}

/// A full panel of a row-major `A`: `out[kk·MR + r] = rows[r][kk]` for
/// `r < MR`, `kk < kc`, by 8 × 8 register transposes (two rows repeated as
/// padding; the `kc % 8` last steps one by one).
///
/// # Safety
/// The CPU supports AVX; each of `rows` is valid for `kc` reads and `out`
/// for `kc · MR` writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn pack_rows_avx(rows: [*const f32; MR], kc: usize, out: *mut f32) {
    use std::arch::x86_64::*;
    let k8 = kc / 8 * 8;
    // SAFETY: every read is below rows[r] + kc, every write below out + kc·MR.
    unsafe {
        for kb in (0..k8).step_by(8) {
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(rows[i.min(MR - 1)].add(kb)));
            let o = transpose8(r);
            // Step kk's MR values are the low MR lanes of o[kk - kb]: a whole
            // vector store spills 8 - MR = 2 lanes into step kk + 1, which the
            // next store overwrites; the panel's very last step stores 4 + 2.
            for (j, v) in o.iter().enumerate() {
                let dst = out.add((kb + j) * MR);
                if kb + j + 1 < kc {
                    _mm256_storeu_ps(dst, *v);
                } else {
                    _mm_storeu_ps(dst, _mm256_castps256_ps128(*v));
                    _mm_storel_pd(dst.add(4).cast(), _mm_castps_pd(_mm256_extractf128_ps::<1>(*v)));
                }
            }
        }
        for kk in k8..kc {
            for (r, row) in rows.iter().enumerate() {
                *out.add(kk * MR + r) = *row.add(kk);
            }
        }
    }
}

//! Zero-padded copies of the input with columns split by phase, so that
//! the inputs of consecutive tiles are contiguous.

use std::mem::MaybeUninit;

use super::passes::{transform, Block, Isa, Pass};
use crate::kernels::as_uninit;
use crate::kernels::lanes::{Lanes, LANES};

/// Zeroes what the output transform does not write of padded, phase-split
/// planes (`hp × wp`, padding 1) of an `oh × ow` image: the first and last
/// padded rows, and per row padded column 0 and the columns after the image.
pub(super) fn zero_split_borders<const M: usize>(planes: &mut [f32], (hp, wp): (usize, usize), (oh, ow): (usize, usize)) {
    let phase = wp / M;
    for plane in planes.chunks_exact_mut(hp * wp) {
        for (r, row) in plane.chunks_exact_mut(wp).enumerate() {
            if r == 0 || r > oh {
                row.fill(0.0);
                continue;
            }
            // Padded column x sits at phase x mod M, entry x / M.
            for x in std::iter::once(0).chain(ow + 1..M * phase) {
                row[(x % M) * phase + x / M] = 0.0;
            }
        }
    }
}

/// Copies images `src` (planes `h × w`) into zero-padded planes `hp × wp`
/// (`wp` a multiple of `M`) at offset `pad`, each row stored as `M` phases of
/// `wp/M` columns (padded column `x` at `(x mod M)·wp/M + x/M`): tile column
/// `tx` then reads phase `p` at `tx` and `tx + 1`, contiguous over `tx`.
/// Rows or columns that fall outside `hp × wp` are dropped.
///
/// The last, partial vector of each phase is stored whole, before the others
/// and in increasing address order: it spills into the next phase or the
/// next row, which are written (or zeroed) afterwards.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
pub(super) unsafe fn pad_split<S: Lanes, const M: usize>(
    src: &[f32],
    (h, w): (usize, usize),
    pad: (usize, usize),
    (hp, wp): (usize, usize),
    out: &mut [MaybeUninit<f32>],
) {
    let rows_in = h.min(hp.saturating_sub(pad.0));
    if h == 0 || w == 0 || rows_in == 0 {
        out.fill(MaybeUninit::new(0.0));
        return;
    }
    let planes = src.len() / (h * w);
    assert_eq!(out.len(), planes * hp * wp, "pad_split: output length");
    let phase = wp / M;
    let whole = phase / LANES * LANES;
    // Each row is copied into one of two padded lines one row before it is
    // split (loads right after the copy's stores would stall on store
    // forwarding), then split M·LANES columns at a time.  The lines are long
    // enough for a last, partial chunk (zeros past `wp`).
    let line_len = wp.max(M * (whole + LANES));
    let mut lines = [vec![0.0f32; line_len], vec![0.0f32; line_len]];
    let len = w.min(wp.saturating_sub(pad.1));
    let row_of = |plane: usize, iy: usize| &src[plane * h * w + iy * w..][..len];
    // SAFETY (both copies): forwarded.
    unsafe { copy_row::<S>(&mut lines[0][pad.1..pad.1 + len], row_of(0, 0)) };
    let mut cur = 0;
    // Plane and row loops (no divisions per row: they showed on small images).
    for plane in 0..planes {
        let first = plane * hp * wp;
        // Padding rows are zeroed around the image rows: the top ones before
        // (over a spill of the previous plane), the bottom ones after.
        out[first..first + pad.0 * wp].fill(MaybeUninit::new(0.0));
        for iy in 0..rows_in {
            let (np, ny) = if iy + 1 < rows_in { (plane, iy + 1) } else { (plane + 1, 0) };
            if np < planes {
                unsafe { copy_row::<S>(&mut lines[1 - cur][pad.1..pad.1 + len], row_of(np, ny)) };
            }
            let line = &lines[cur];
            cur = 1 - cur;
            let at = first + (iy + pad.0) * wp;
            // The partial chunk at `whole` goes first, phase by phase as whole
            // vectors, when its spill stays inside `out`: each spills into the
            // next phase's whole chunks (or the next row), stored afterwards.
            let spill = whole < phase && at + (M - 1) * phase + whole + LANES <= out.len();
            let d = out.as_mut_ptr().cast::<f32>().add(at);
            let tail = if spill { Some(whole) } else { None };
            for c0 in tail.into_iter().chain((0..whole).step_by(LANES)) {
                // SAFETY: line[M·c0..M·(c0 + LANES)] lies inside `line` (M·(c0 + LANES) ≤
                // line_len); the stores write d[p·phase + c0..][..LANES], inside the row
                // when c0 + LANES ≤ whole, else inside `out` by `spill`.
                unsafe {
                    let p = line.as_ptr().add(M * c0);
                    let (e0, o0) = S::unzip(S::load(p), S::load(p.add(LANES)));
                    if M == 2 {
                        S::store(d.add(c0), e0);
                        S::store(d.add(phase + c0), o0);
                    } else {
                        // Evens of the evens are phase 0, odds of the evens phase 2, …
                        let (e1, o1) = S::unzip(S::load(p.add(2 * LANES)), S::load(p.add(3 * LANES)));
                        let ((p0, p2), (p1, p3)) = (S::unzip(e0, e1), S::unzip(o0, o1));
                        for (k, v) in [p0, p1, p2, p3].into_iter().enumerate() {
                            S::store(d.add(k * phase + c0), v);
                        }
                    }
                }
            }
            if !spill {
                let row = &mut out[at..at + wp];
                for c in whole..phase {
                    for k in 0..M {
                        row[k * phase + c] = MaybeUninit::new(line[M * c + k]);
                    }
                }
            }
        }
        out[first + (pad.0 + rows_in) * wp..first + hp * wp].fill(MaybeUninit::new(0.0));
    }
}

/// Zero-padded copy of `planes` images of `h × w` into planes of `hp × wp`
/// with columns split into two phases (see [`pad_split`]; `wp` even): the
/// layout of the strided convolution's packing, whose stride-2 column runs
/// then are contiguous.
pub(crate) fn pad_split_pairs(src: &[f32], (h, w): (usize, usize), pad: (usize, usize), (hp, wp): (usize, usize), out: &mut [f32]) {
    assert!(wp % 2 == 0, "pad_split_pairs: odd padded width {wp}");
    let split = Pass::Split { src, h, w, pad, hp, wp };
    // SAFETY (as_uninit): the pass writes f32 values only.
    transform::<2, 4>(Isa::detect(), split, Block::default(), unsafe { as_uninit(out) });
}

/// Copies `imgs` images `src` (planes `h × w`) for [`Layout::Images`]
/// (F(4×4), images two tiles wide): per unit of `LANES/2` images and per
/// plane, `hp` padded rows (offset `pad`) of `A` column arrays of [`LANES`]
/// values, where array `c` holds padded column `4·tx + c` of image `k` at
/// lane `2k + tx`.  The input transform then reads column `c` of the unit's
/// `LANES` tiles of a tile row as one vector.  Lanes of images past `imgs`
/// are zero.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
pub(super) unsafe fn pad_split_images<S: Lanes, const A: usize>(
    src: &[f32],
    imgs: usize,
    (h, w): (usize, usize),
    pad: (usize, usize),
    hp: usize,
    out: &mut [MaybeUninit<f32>],
) {
    assert!(A == 6, "pad_split_images: image lanes are F(4×4) only");
    let per_unit = LANES / 2;
    let row_len = A * LANES;
    let planes = src.len().checked_div(imgs * h * w).unwrap_or(0);
    let units = imgs.div_ceil(per_unit);
    if planes == 0 {
        out.fill(MaybeUninit::new(0.0));
        return;
    }
    assert_eq!(out.len(), units * planes * hp * row_len, "pad_split_images: output length");
    // Padded columns 0..8 and 4..12 of a row, as lanes of the source row read
    // from its start shifted by the padding (pointers wrap: only the lanes
    // inside the row are read).
    let (lo_a, hi_a) = (pad.1, (pad.1 + w).min(LANES));
    let (lo_b, hi_b) = (pad.1.saturating_sub(4), (pad.1 + w).saturating_sub(4).min(LANES));
    let d = out.as_mut_ptr().cast::<f32>();
    let zero = S::splat(0.0);
    for u in 0..units {
        for ci in 0..planes {
            for yp in 0..hp {
                let at = ((u * planes + ci) * hp + yp) * row_len;
                let iy = yp.wrapping_sub(pad.0);
                if iy >= h {
                    out[at..at + row_len].fill(MaybeUninit::new(0.0));
                    continue;
                }
                for k in 0..per_unit {
                    let img = u * per_unit + k;
                    // SAFETY: the loads read lanes lo..hi < pad.1 + w of the row, i.e.
                    // row entries 0..w; the stores write pairs 2k, 2k+1 of the A arrays
                    // of this row, inside `out` (its length is asserted above).
                    unsafe {
                        let (z0, z1) = if img < imgs {
                            let row = src.as_ptr().add(((img * planes + ci) * h + iy) * w);
                            let a = S::load_range(row.wrapping_sub(pad.1), lo_a, hi_a);
                            let b = S::load_range(row.wrapping_add(4).wrapping_sub(pad.1), lo_b, hi_b);
                            // (P0 P4 P1 P5 P2 P6 P3 P7), (P4 P8 P5 P9 …): columns c and c + 4.
                            S::zip(a, b)
                        } else {
                            (zero, zero)
                        };
                        let p = d.add(at + 2 * k);
                        S::store_pair(p, z0, 0);
                        S::store_pair(p.add(LANES), z0, 1);
                        S::store_pair(p.add(2 * LANES), z0, 2);
                        S::store_pair(p.add(3 * LANES), z0, 3);
                        S::store_pair(p.add(4 * LANES), z1, 0);
                        S::store_pair(p.add(5 * LANES), z1, 1);
                    }
                }
            }
        }
    }
}

/// `dst = src` (equal lengths) in vectors, without a call to `memcpy`.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
pub(super) unsafe fn copy_row<S: Lanes>(dst: &mut [f32], src: &[f32]) {
    let whole = src.len() / LANES * LANES;
    for j in (0..whole).step_by(LANES) {
        // SAFETY: j + LANES ≤ whole ≤ both lengths.
        unsafe { S::store(dst.as_mut_ptr().add(j), S::load(src.as_ptr().add(j))) };
    }
    for (d, &v) in dst[whole..].iter_mut().zip(&src[whole..]) {
        *d = v;
    }
}

//! The input and output transforms, written once over [`Lanes`] vectors.

use std::mem::MaybeUninit;

use super::passes::{Block, IMAGES, PAIRS, ROW};
use crate::kernels::conv::ConvEpilogue;
use crate::kernels::lanes::{Lanes, LANES};

/// What the input transform reads and writes: `c_in` padded, phase-split
/// planes of `plane` values, rows `wp` wide (see [`pad_split`](super::split::pad_split)),
/// into `V`, whose tile positions are `v_xi` values apart.
#[derive(Clone, Copy)]
pub(super) struct InputPass<'a> {
    pub(super) xp: &'a [f32],
    pub(super) c_in: usize,
    pub(super) plane: usize,
    pub(super) wp: usize,
    pub(super) v_xi: usize,
}

/// What the output transform reads and writes: the products `M` (`c_out`
/// rows per tile position, positions `m_xi` apart) into an `oh × ow`
/// output finished by `epi`, or with `split: Some(wp)` into padded,
/// phase-split planes (padding 1, rows `wp` wide; see
/// [`forward_pair`](super::forward_pair)).
#[derive(Clone, Copy)]
pub(super) struct OutputPass<'a> {
    pub(super) m: &'a [f32],
    pub(super) c_out: usize,
    pub(super) m_xi: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) epi: ConvEpilogue<'a>,
    pub(super) split: Option<usize>,
}

/// `V[ξ][ci][t] = (Bᵀ d B)[ξ]` for the tiles of tile rows `ty0..ty0+rows`
/// (`t` counted from the block's first tile), [`LANES`] tiles of a tile row
/// (or as the layout `L` says, see [`Layout`]) at a time, from planes
/// stored by [`pad_split`] (or [`pad_split_images`]).
///
/// # Safety
/// `S`'s instructions must be available.
// The passes index columns of row-major tiles, which iterators do not express.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub(super) unsafe fn input_transform<S: Lanes, const M: usize, const A: usize, const L: u8>(
    pass: InputPass,
    blk: Block,
    v: &mut [MaybeUninit<f32>],
) {
    let (InputPass { xp, c_in, plane, wp, v_xi }, Block { tw, ty0, rows, tbp, .. }) = (pass, blk);
    let phase = wp / M;
    assert!(xp.len() >= c_in * plane + 2 * LANES && (M * (ty0 + rows) + 2) * wp <= plane);
    assert!(c_in * tbp <= v_xi && v.len() >= (A * A - 1) * v_xi + (c_in - 1) * tbp + rows * tw + LANES);
    let pairs = L == PAIRS;
    debug_assert!(L != IMAGES || tw == LANES);
    for ci in 0..c_in {
        for r in (0..rows).step_by(if pairs { 2 } else { 1 }) {
            let ty = ty0 + r;
            // With row pairs, the upper half of the lanes is the next tile row
            // (this one again at the block's end: those lanes are not used).
            let next = if pairs && r + 1 < rows { M * wp } else { 0 };
            for tx0 in (0..tw).step_by(LANES) {
                // SAFETY: rows M·ty+k (and M·ty+k+M with row pairs) of plane ci lie inside
                // `xp` with 2·LANES values after them (asserted above); the loads read
                // LANES (or LANES/2) values from phase entry tx0 + 0 or 1 ≤ phase of
                // them; the stores write tiles r·tw+tx0.. +LANES, inside each V row's
                // tbp ≥ rows·tw + LANES or, when tw is a multiple of LANES, ≤ rows·tw.
                unsafe {
                    // h[k][j]: row k of the tiles after the horizontal pass (d B), column j.
                    let mut h = [[S::splat(0.0); A]; A];
                    for (k, hk) in h.iter_mut().enumerate() {
                        let row = xp.as_ptr().add(ci * plane + (M * ty + k) * wp + tx0);
                        // Column c of every tile: phase c mod M, entry tx + c / M (column
                        // array c with image lanes).
                        let at = |c: usize| if L == IMAGES { row.add(c * LANES) } else { row.add((c % M) * phase + c / M) };
                        let cols: [S::V; A] =
                            std::array::from_fn(|c| if pairs { S::load_halves(at(c), at(c).add(next)) } else { S::load(at(c)) });
                        *hk = b_t::<S, M, A>(cols);
                    }
                    for j in 0..A {
                        let col = b_t::<S, M, A>(std::array::from_fn(|k| h[k][j]));
                        for (i, &val) in col.iter().enumerate() {
                            S::store(v.as_mut_ptr().cast::<f32>().add((i * A + j) * v_xi + ci * tbp + r * tw + tx0), val);
                        }
                    }
                }
            }
        }
    }
}

/// `Bᵀ x` for one column of α tiles' values.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
pub(super) unsafe fn b_t<S: Lanes, const M: usize, const A: usize>(x: [S::V; A]) -> [S::V; A] {
    // SAFETY: forwarded.
    unsafe {
        let mut r = x;
        if M == 2 {
            r[0] = S::sub(x[0], x[2]);
            r[1] = S::add(x[1], x[2]);
            r[2] = S::sub(x[2], x[1]);
            r[3] = S::sub(x[1], x[3]);
        } else {
            let (four, minus_four, minus_five) = (S::splat(4.0), S::splat(-4.0), S::splat(-5.0));
            // 4x0 − 5x2 + x4, then the pairs (t1 ± t2), (t3 ± 2·d), then 4x1 − 5x3 + x5.
            r[0] = S::mul_add(four, x[0], S::mul_add(minus_five, x[2], x[4]));
            let (t1, t2) = (S::mul_add(minus_four, x[2], x[4]), S::mul_add(minus_four, x[1], x[3]));
            r[1] = S::add(t1, t2);
            r[2] = S::sub(t1, t2);
            let (t3, d) = (S::sub(x[4], x[2]), S::sub(x[3], x[1]));
            r[3] = S::mul_add(S::splat(2.0), d, t3);
            r[4] = S::mul_add(S::splat(-2.0), d, t3);
            r[5] = S::mul_add(four, x[1], S::mul_add(minus_five, x[3], x[5]));
        }
        r
    }
}

/// `Aᵀ x` for one column of α products: M outputs.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
pub(super) unsafe fn a_t<S: Lanes, const M: usize, const A: usize>(x: [S::V; A]) -> [S::V; M] {
    // SAFETY: forwarded.
    unsafe {
        let mut r = [x[0]; M];
        if M == 2 {
            r[0] = S::add(S::add(x[0], x[1]), x[2]);
            r[1] = S::sub(S::sub(x[1], x[2]), x[3]);
        } else {
            let (s12, d12, s34, d34) = (S::add(x[1], x[2]), S::sub(x[1], x[2]), S::add(x[3], x[4]), S::sub(x[3], x[4]));
            r[0] = S::add(S::add(x[0], s12), s34);
            r[1] = S::mul_add(S::splat(2.0), d34, d12);
            r[2] = S::mul_add(S::splat(4.0), s34, s12);
            r[3] = S::add(S::mul_add(S::splat(8.0), d34, d12), x[5]);
        }
        r
    }
}

/// `Y = Aᵀ m A` finished by `epi` (bias, residual of this image, ReLU) for
/// every tile of the block, written into the unit's output, [`LANES`]
/// tiles of a tile row (or as the layout `L` says, see [`Layout`]) at a
/// time; the M output columns of each tile are interleaved into the output
/// rows.  With `split: Some(wp)` (no residual) the output goes instead into
/// the next convolution's padded, phase-split planes (see [`forward_pair`]).
///
/// # Safety
/// `S`'s instructions must be available.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub(super) unsafe fn output_transform<S: Lanes, const M: usize, const A: usize, const L: u8>(
    pass: OutputPass,
    blk: Block,
    y: &mut [MaybeUninit<f32>],
) {
    let (OutputPass { m, c_out, m_xi, oh, ow, epi, split }, Block { tw, ty0, rows, tbp, .. }) = (pass, blk);
    assert!(c_out * tbp <= m_xi && m.len() >= (A * A - 1) * m_xi + (c_out - 1) * tbp + rows * tw + LANES && y.len() >= c_out * oh * ow);
    assert!(epi.residual.is_none_or(|r| r.len() >= c_out * oh * ow));
    let pairs = L == PAIRS;
    // With `split`, `y` holds c_out padded planes of M·th + 2 rows of `wp`,
    // every tile whole (see [`forward_pair`]).
    let split_plane = y.len() / c_out.max(1);
    if let Some(wp) = split {
        assert!(L == ROW && epi.residual.is_none() && oh.is_multiple_of(M) && ow == M * tw && tw.is_multiple_of(LANES));
        assert!(split_plane >= (oh + 2) * wp && wp >= M * (tw + 1));
    }
    // Output vectors per tile row of a lane group.
    let per_row = if pairs { M / 2 } else { M };
    // With image lanes, the unit's images (M of them, LANES/2 tiles wide).
    let (ys, unit_imgs) = (c_out * oh * ow, y.len() / (c_out * oh * ow).max(1));
    debug_assert!(L != IMAGES || (tw == LANES && M * 2 == LANES && ow <= LANES && unit_imgs <= M));
    for co in 0..c_out {
        // SAFETY: the instructions are available (caller); every load reads tiles
        // r·tw+tx0.. +LANES of a row of M, inside its tbp ≥ rows·tw + LANES
        // (asserted above); every store writes columns x.. +len ≤ ow of output
        // row oy < oh of plane co.
        unsafe {
            let b = S::splat(epi.bias.map_or(0.0, |b| b[co]));
            let zero = S::splat(0.0);
            let yo = y.as_mut_ptr().cast::<f32>().add(co * oh * ow);
            for r in (0..rows).step_by(if pairs { 2 } else { 1 }) {
                let ty = ty0 + r;
                // Tile rows of this lane group inside the block.
                let group_rows = if pairs { 2.min(rows - r) } else { 1 };
                for tx0 in (0..tw).step_by(LANES) {
                    let at = |xi: usize| S::load(m.as_ptr().add(xi * m_xi + co * tbp + r * tw + tx0));
                    // s[i] = (m A)[i]: row i of the tile reduced to its M columns.
                    let s: [[S::V; M]; A] = std::array::from_fn(|i| a_t::<S, M, A>(std::array::from_fn(|j| at(i * A + j))));
                    // q[c][a]: output row a, column c of each tile.
                    let q: [[S::V; M]; M] = std::array::from_fn(|c| a_t::<S, M, A>(std::array::from_fn(|i| s[i][c])));
                    for a in 0..M {
                        if let Some(wp) = split {
                            // Into the next convolution's padded, phase-split planes: output
                            // column M·tx + c is padded column M·tx + c + 1, i.e. phase
                            // (c + 1) mod M, entry tx + (c + 1) / M, of padded row M·ty + a + 1.
                            let (phase, row) = (wp / M, co * split_plane + (M * ty + a + 1) * wp);
                            for (c, qc) in q.iter().enumerate() {
                                let v = S::add(qc[a], b);
                                let v = if epi.relu { S::max(v, zero) } else { v };
                                S::store(y.as_mut_ptr().cast::<f32>().add(row + ((c + 1) % M) * phase + tx0 + (c + 1) / M), v);
                            }
                            continue;
                        }
                        // The M columns of each tile interleaved: M vectors of output
                        // columns, `per_row` of them per tile row of the group.
                        let mut out = [b; M];
                        if M == 2 {
                            (out[0], out[1]) = S::zip(S::add(q[0][a], b), S::add(q[1][a], b));
                        } else {
                            let (ac, bd) = (S::zip(q[0][a], q[2][a]), S::zip(q[1][a], q[3][a]));
                            let (lo, hi) = (S::zip(ac.0, bd.0), S::zip(ac.1, bd.1));
                            for (o, v) in out.iter_mut().zip([lo.0, lo.1, hi.0, hi.1]) {
                                *o = S::add(v, b);
                            }
                        }
                        if L == IMAGES {
                            // Vector k is output row oy of the unit's image k.
                            let oy = M * ty + a;
                            if oy >= oh {
                                break;
                            }
                            for (k, &o) in out.iter().enumerate().take(unit_imgs) {
                                finish_store::<S>(o, &epi, y.as_mut_ptr().cast(), k * ys + co * oh * ow + oy * ow, ow);
                            }
                            continue;
                        }
                        for gr in 0..group_rows {
                            let oy = M * (ty + gr) + a;
                            if oy >= oh {
                                break;
                            }
                            let x0 = M * tx0;
                            let vecs = &mut out[gr * per_row..(gr + 1) * per_row];
                            let row = co * oh * ow + oy * ow;
                            if x0 + per_row * LANES <= ow {
                                // Whole vectors: straight from the residual, straight to the output.
                                if let Some(res) = epi.residual {
                                    let rp = res[row + x0..row + x0 + per_row * LANES].as_ptr();
                                    for (k, o) in vecs.iter_mut().enumerate() {
                                        *o = S::add(*o, S::load(rp.add(k * LANES)));
                                    }
                                }
                                for (k, o) in vecs.iter_mut().enumerate() {
                                    let v = if epi.relu { S::max(*o, zero) } else { *o };
                                    S::store(yo.add(oy * ow + x0 + k * LANES), v);
                                }
                                continue;
                            }
                            for (k, &o) in vecs.iter().enumerate() {
                                let x = x0 + k * LANES;
                                let len = LANES.min(ow.saturating_sub(x));
                                if len == 0 {
                                    break;
                                }
                                finish_store::<S>(o, &epi, y.as_mut_ptr().cast(), row + x, len);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y[at..at + len] = epi(v)` for the first `len ≤ LANES` lanes of `v`:
/// plus `residual[at..]`, then ReLU, as `epi` says (bias already added);
/// partial vectors go through a buffer.
///
/// # Safety
/// `S`'s instructions must be available; `y[at..at + len]` must be writable
/// (and `epi`'s residual, if any, at least `at + len` long).
#[inline(always)]
pub(super) unsafe fn finish_store<S: Lanes>(v: S::V, epi: &ConvEpilogue, y: *mut f32, at: usize, len: usize) {
    // SAFETY: forwarded; the buffer holds LANES values.
    unsafe {
        let mut v = v;
        let mut buf = [0.0f32; LANES];
        if let Some(res) = epi.residual {
            let res = &res[at..at + len];
            v = S::add(
                v,
                if len == LANES {
                    S::load(res.as_ptr())
                } else {
                    buf[..len].copy_from_slice(res);
                    S::load(buf.as_ptr())
                },
            );
        }
        if epi.relu {
            v = S::max(v, S::splat(0.0));
        }
        if len == LANES {
            S::store(y.add(at), v);
        } else {
            S::store(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), y.add(at), len);
        }
    }
}

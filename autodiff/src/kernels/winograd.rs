//! Winograd F(m×m, 3×3) for 3×3, stride-1, undilated convolutions (Lavin &
//! Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), with
//! output tiles of m = 2 or m = 4.
//!
//! Each m×m block of outputs comes from an α×α input tile `d` (α = m + 2):
//! `Y = Aᵀ [ Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B) ] A`.  For m = 2:
//!
//! ```text
//!      ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢ ½    ½    ½ ⎥    Aᵀ = ⎡1 1  1  0⎤
//!      ⎢0 −1  1  0⎥        ⎢ ½   −½    ½ ⎥         ⎣0 1 −1 −1⎦
//!      ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! and for m = 4 (interpolation points 0, ±1, ±2, ∞):
//!
//! ```text
//!      ⎡4  0 −5  0  1  0⎤        ⎡ 1/4     0     0 ⎤
//!      ⎢0 −4 −4  1  1  0⎥        ⎢−1/6  −1/6  −1/6 ⎥         ⎡1 1  1 1  1 0⎤
//! Bᵀ = ⎢0  4 −4 −1  1  0⎥    G = ⎢−1/6   1/6  −1/6 ⎥    Aᵀ = ⎢0 1 −1 2 −2 0⎥
//!      ⎢0 −2 −1  2  1  0⎥        ⎢1/24  1/12   1/6 ⎥         ⎢0 1  1 4  4 0⎥
//!      ⎢0  2 −1 −2  1  0⎥        ⎢1/24 −1/12   1/6 ⎥         ⎣0 1 −1 8 −8 1⎦
//!      ⎣0  4  0 −5  0  1⎦        ⎣ 0      0     1  ⎦
//! ```
//!
//! The sum over input channels is, for each of the α² tile positions `ξ`, a
//! matrix product `M[ξ] (c_out × tiles) = U[ξ] (c_out × c_in) · V[ξ] (c_in × tiles)`,
//! run by the GEMM microkernel: α² multiplications per m² outputs instead of
//! 9·m², so 2.25× (m = 2) or 4× (m = 4) fewer than the direct convolution.
//! The m = 2 transforms only add and halve, so the result differs from the
//! direct sum by a few f32 ulps of the tile's partial sums; the m = 4 ones
//! scale by up to 8 and 1/24, which costs about one more decimal digit.
//!
//! The transforms run on [`LANES`] tiles of a tile row at a time: the image is
//! first copied zero-padded with its columns split by phase (column `x` goes
//! to phase `x mod m`), so the inputs of consecutive tiles are contiguous.
//! Images too narrow to fill the lanes use two tile rows per vector, or a
//! tile row of each of four images ([`Layout`]).
//! Tiles are processed in blocks of whole tile rows small enough for L2;
//! images run in parallel; nothing depends on the thread count.

use rayon::prelude::*;
use std::cell::Cell;
use std::mem::MaybeUninit;

use super::as_uninit;
use super::conv::{Conv2dGeom, ConvEpilogue};
use super::gemm::{round_up, slice_depth, BlockC, MatRef, Offsets, PackedLhs, NR};
use super::scratch::{give_back_scratch, take_scratch};

/// Bytes of transformed inputs and products per block of tiles.  Measured
/// with `bench_winograd_vs_direct` (1 thread, ms, 256 KiB → 512 KiB → 1 MiB):
/// 16 channels F(4×4) 5.2 → 4.6 → 5.5, 32 channels F(4×4) 4.6 → 4.4 → 4.8,
/// 64 channels F(2×2) 4.6 → 4.8 → 4.8.
const BLOCK_BYTES: usize = 1 << 19;

/// Tiles per vector in the transforms.
const LANES: usize = 8;

/// Channels from which the transforms pay for themselves.  Measured with
/// `bench_winograd_vs_direct` (batch 128, one thread, best of 3 runs of
/// best-of-7, ms): 16 channels at 32×32 F(4×4) 6.2, F(2×2) 7.1, direct 8.4;
/// 32 at 16×16 F(4×4) 4.7, F(2×2) 5.2, direct 8.7; 64 at 8×8 F(4×4) 2.9
/// (image lanes), F(2×2) 5.0, direct 8.6.
const MIN_CHANNELS: usize = 16;

/// Whether [`forward`] handles `g`: 3×3 kernel, stride 1, no dilation, a
/// batch, and enough channels for the GEMMs to pay for the transforms.
pub(crate) fn applies(g: &Conv2dGeom) -> bool {
    applies_with(g, MIN_CHANNELS)
}

/// [`applies`] with a channel threshold (tests use smaller ones).
fn applies_with(g: &Conv2dGeom, min_channels: usize) -> bool {
    let shape_ok = g.kh == 3 && g.kw == 3 && g.stride == (1, 1) && g.dilation == (1, 1);
    shape_ok && g.n >= 2 && g.c_in >= min_channels && g.c_out >= min_channels && g.out_h() > 0 && g.out_w() > 0
}

/// Output tile size for `g`: 4 when a tile row fills whole vectors of
/// F(4×4) tiles, half of one or a quarter (see [`Layout`]): the 4× saving and
/// fewer transformed values per output; else 2 (small images, where 4×4
/// tiles would leave most vector lanes empty).
fn tile_size(g: &Conv2dGeom) -> usize {
    let tw = g.out_w().div_ceil(4);
    if tw >= LANES || layout(4, tw) != Layout::Row {
        4
    } else {
        2
    }
}

/// `G` applied to a filter row or column `(a, b, c)`: `α` values.
#[inline(always)]
fn g_1d<const M: usize, const A: usize>([a, b, c]: [f32; 3]) -> [f32; A] {
    let mut r = [0.0; A];
    if M == 2 {
        r[..4].copy_from_slice(&[a, 0.5 * (a + b + c), 0.5 * (a - b + c), c]);
    } else {
        let (s, t) = (a + c, a / 24.0 + c / 6.0);
        r[..6].copy_from_slice(&[a / 4.0, -(s + b) / 6.0, -(s - b) / 6.0, t + b / 12.0, t - b / 12.0, c]);
    }
    r
}

/// `U[co][ξ][ci] = (G g Gᵀ)[ξ]` for every filter `g = w[co][ci]` (`A = M + 2`),
/// output channels in parallel: `U[ξ]` is the `c_out × c_in` matrix at
/// offset `ξ·c_in` with row stride `α²·c_in`.  Each product runs over all
/// input channels at once (loops the compiler vectorizes).
fn transform_weights<const M: usize, const A: usize>(g: &Conv2dGeom, w: &[f32]) -> Vec<f32> {
    let ci_n = g.c_in;
    // G[i][a]: column a of G is G applied to the unit vector e_a.
    let cols: [[f32; A]; 3] = std::array::from_fn(|a| g_1d::<M, A>(std::array::from_fn(|k| if k == a { 1.0 } else { 0.0 })));
    // `dst += G[i][a] · src` over the terms where G is not zero.
    let axpy = |dst: &mut [f32], c: f32, src: &[f32]| {
        if c != 0.0 {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d += c * s);
        }
    };
    let mut u = vec![0.0; A * A * g.c_out * ci_n];
    u.par_chunks_mut(A * A * ci_n).enumerate().for_each(|(co, uc)| {
        // f[k][ci] = w[co][ci][k]; t[i][b][ci] = (G f)[i][b] = Σ_a G[i][a] f[3a + b].
        let mut f = vec![0.0f32; 9 * ci_n];
        for (ci, wf) in w[co * ci_n * 9..][..ci_n * 9].chunks_exact(9).enumerate() {
            for (k, &v) in wf.iter().enumerate() {
                f[k * ci_n + ci] = v;
            }
        }
        let mut t = vec![0.0f32; A * 3 * ci_n];
        for (ib, ti) in t.chunks_exact_mut(ci_n).enumerate() {
            let (i, b) = (ib / 3, ib % 3);
            for (a, col) in cols.iter().enumerate() {
                axpy(ti, col[i], &f[(3 * a + b) * ci_n..][..ci_n]);
            }
        }
        // U[i][j] = (G f Gᵀ)[i][j] = Σ_b G[j][b] t[i][b].
        for (ij, uij) in uc.chunks_exact_mut(ci_n).enumerate() {
            let (i, j) = (ij / A, ij % A);
            for (b, col) in cols.iter().enumerate() {
                axpy(uij, col[j], &t[(3 * i + b) * ci_n..][..ci_n]);
            }
        }
    });
    u
}

thread_local! {
    static PADDED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PADDED_2: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static TRANSFORMED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PRODUCTS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `y [n, c_out, oh, ow] = conv(x, w)` by Winograd; requires [`applies`].
/// Writes every element of `y` (which need not be initialized).
pub(crate) fn forward(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>]) {
    forward_with(g, x, w, epi, None, y, Isa::detect(), tile_size(g))
}

/// Whether [`forward_pair`] handles two convolutions of geometry `g` in a
/// row: F(4×4) with whole vectors of whole tiles, "same" padding of 1 and
/// as many output channels as input ones, so that the first one's output
/// can be written straight into the second one's padded, phase-split copy.
pub(crate) fn pair_applies(g: &Conv2dGeom) -> bool {
    let (oh, ow) = (g.out_h(), g.out_w());
    // Tile rows of a multiple of LANES tiles: F(4×4) (tile_size) in Layout::Row.
    applies(g) && g.padding == (1, 1) && g.c_in == g.c_out && oh.is_multiple_of(4) && ow.is_multiple_of(4 * LANES)
}

/// `y = epi2(conv(epi1(conv(x, w1)), w2))` for two convolutions of geometry
/// `g` (see [`pair_applies`]; `epi1` without residual): per group of
/// images, the first one's output goes straight into the second one's
/// padded copy and never to memory as an image.  The same bits as two calls
/// of [`forward`].
pub(crate) fn forward_pair(
    g: &Conv2dGeom,
    x: &[f32],
    (w1, epi1): (&[f32], ConvEpilogue),
    (w2, epi2): (&[f32], ConvEpilogue),
    y: &mut [MaybeUninit<f32>],
) {
    assert!(pair_applies(g) && epi1.residual.is_none(), "forward_pair: unsupported geometry {g:?}");
    assert_eq!(w2.len(), w1.len(), "forward_pair: second weights");
    forward_tiles::<4, 6>(g, x, w1, epi1, Some((w2, epi2)), y, Isa::detect())
}

/// [`forward`] (and [`forward_pair`] with `second`) with the vectors and the
/// tile size (2 or 4) chosen by the caller.
#[allow(clippy::too_many_arguments)]
fn forward_with(
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    epi: ConvEpilogue,
    second: Option<(&[f32], ConvEpilogue)>,
    y: &mut [MaybeUninit<f32>],
    isa: Isa,
    m: usize,
) {
    match m {
        2 => forward_tiles::<2, 4>(g, x, w, epi, second, y, isa),
        4 => forward_tiles::<4, 6>(g, x, w, epi, second, y, isa),
        _ => unreachable!("Winograd tile size {m}"),
    }
}

/// Winograd F(M×M, 3×3) forward (`A = M + 2`), followed with `second`
/// (weights and epilogue of a second convolution of the same geometry, see
/// [`forward_pair`]) by that one on the first one's output.
fn forward_tiles<const M: usize, const A: usize>(
    g: &Conv2dGeom,
    x: &[f32],
    w: &[f32],
    epi: ConvEpilogue,
    second: Option<(&[f32], ConvEpilogue)>,
    y: &mut [MaybeUninit<f32>],
    isa: Isa,
) {
    debug_assert!(applies_with(g, 1) && A == M + 2);
    let xis = A * A;
    let (c_in, c_out) = (g.c_in, g.c_out);
    let (oh, ow) = (g.out_h(), g.out_w());
    let (th, tw) = (oh.div_ceil(M), ow.div_ceil(M));
    let layout = layout(M, tw);
    debug_assert!(second.is_none() || (layout == Layout::Row && c_in == c_out && epi.residual.is_none()));
    // The transforms work on units: one image, or with `Layout::Images` a
    // set of `per_unit` images whose tile rows side by side fill the lanes.
    let (per_unit, tw_u) = if layout == Layout::Images { (LANES / tw, LANES) } else { (1, tw) };
    // Padded input covering every tile: rows 0..M·th+2, columns 0..M·(tw+1)
    // (a whole number of phases of tw+1 columns each); with `Layout::Images`
    // rows of A column arrays of LANES values (see [`pad_split_images`]).
    let (hp, wp) = (M * th + 2, if layout == Layout::Images { A * LANES } else { M * (tw + 1) });
    let plane = hp * wp;
    let pack = |w: &[f32]| -> Vec<PackedLhs> {
        let u = transform_weights::<M, A>(g, w);
        (0..xis).into_par_iter().map(|xi| PackedLhs::new(MatRef::new(&u[xi * c_in..], c_out, c_in, xis * c_in))).collect()
    };
    let lhs = pack(w);
    let second = second.map(|(w2, epi2)| (pack(w2), epi2));
    // A block holds the tiles of whole units (several when they are small)
    // or of some tile rows of one unit, so that V and M fit the budget.
    let budget = (BLOCK_BYTES / (4 * xis * (c_in + c_out))).max(tw_u);
    let t_unit = th * tw_u;
    let (group, rows_per_block) = if t_unit <= budget {
        ((budget / t_unit).clamp(1, g.n.div_ceil(per_unit)), th)
    } else {
        // Blocks of equal height (a last block of one tile row would run its
        // GEMMs on a sliver of columns); an even one for row pairs.
        let step = if layout == Layout::Pairs { 2 } else { 1 };
        let most = (budget / tw_u / step * step).clamp(step, th);
        (1, round_up(th.div_ceil(th.div_ceil(most)), step))
    };
    // LANES columns of slack when tile rows end inside a vector: the input
    // transform stores whole vectors.
    let slack = if tw_u % LANES == 0 { 0 } else { LANES };
    let tbp = round_up(group * rows_per_block * tw_u + slack, NR);
    // The α² matrices of V (and of M) are `*_xi` floats apart: one cache line
    // more than their size, so the transforms' α² streams do not all map to
    // the same L1 set (4 KiB aliasing) when c·tbp is a multiple of 1024.
    let (v_xi, m_xi) = (c_in * tbp + NR, c_out * tbp + NR);
    let kds = slice_depth(c_in);
    let offsets: Vec<usize> = (0..c_in).map(|ci| ci * tbp).collect();
    let (xs, ys) = (c_in * g.h * g.w, c_out * oh * ow);
    y.par_chunks_mut(group * per_unit * ys).enumerate().for_each(|(gi, ychunk)| {
        let imgs = ychunk.len() / ys;
        let units = imgs.div_ceil(per_unit);
        // 2·LANES values of slack: the input transform loads whole vectors.
        let mut xpv = take_scratch(&PADDED, units * c_in * plane + 2 * LANES);
        let xp = &mut xpv[..units * c_in * plane + 2 * LANES];
        let first = gi * group * per_unit;
        let (planes, slack) = xp.split_at_mut(units * c_in * plane);
        let src = &x[first * xs..(first + imgs) * xs];
        let split = if layout == Layout::Images {
            Pass::SplitImages { src, imgs, h: g.h, w: g.w, pad: g.padding, hp }
        } else {
            Pass::Split { src, h: g.h, w: g.w, pad: g.padding, hp, wp }
        };
        // SAFETY (as_uninit): the pass writes f32 values only.
        transform::<M, A>(isa, split, Block::default(), unsafe { as_uninit(planes) });
        slack.fill(0.0);
        // V: [α²][c_in][tbp] (+ NR so panels may read past the last tile); M: [α²][c_out][tbp].
        let mut vv = take_scratch(&TRANSFORMED, xis * v_xi);
        let mut mv = take_scratch(&PRODUCTS, xis * m_xi);
        // One convolution of the chunk's units from their padded copy `xp`,
        // its output written by `out(k, m, blk)` for unit k.
        let mut conv = |xp: &[f32], lhs: &[PackedLhs], out: &mut dyn FnMut(usize, &[f32], Block)| {
            for ty0 in (0..th).step_by(rows_per_block) {
                let rows = rows_per_block.min(th - ty0);
                let per = rows * tw_u;
                let nb = units * per;
                let blk = Block { tw: tw_u, ty0, rows, tbp, layout };
                // The unit's tiles in V are followed by the next unit's (or the
                // slack), so the input transform may spill whole vectors past them.
                for k in 0..units {
                    let xk = &xp[k * c_in * plane..];
                    let v = unsafe { as_uninit(&mut vv[k * per..]) }; // SAFETY: the pass writes f32 values only.
                    transform::<M, A>(isa, Pass::Input { xp: xk, c_in, plane, wp, v_xi }, blk, v);
                }
                for (xi_, l) in lhs.iter().enumerate() {
                    for pc in (0..c_in).step_by(kds) {
                        let kc = kds.min(c_in - pc);
                        let b = Offsets { base: vv[xi_ * v_xi + pc * tbp..].as_ptr(), offsets: offsets[..kc].as_ptr() };
                        // SAFETY: row ci of the slice starts at ξ·v_xi + (pc + ci)·tbp and is
                        // read for round_up(nb, NR) ≤ tbp columns (+NR slack after each V[ξ]);
                        // M[ξ] holds c_out rows of tbp ≥ nb columns; both buffers are this task's.
                        unsafe { l.multiply_slice(pc, kc, b, BlockC { ptr: mv[xi_ * m_xi..].as_mut_ptr(), ld: tbp, cols: nb }, pc > 0) };
                    }
                }
                for k in 0..units {
                    out(k, &mv[k * per..], blk);
                }
            }
        };
        // With `second`, the first convolution's output goes into `xp2`, padded
        // and phase-split like `xp`, and the second one reads it from there.
        let mut xp2v = if second.is_some() { take_scratch(&PADDED_2, units * c_out * plane + 2 * LANES) } else { Vec::new() };
        let (input, last_lhs, last_epi) = match &second {
            None => (&*xp, &lhs[..], epi),
            Some((lhs2, epi2)) => {
                let xp2 = &mut xp2v[..units * c_out * plane + 2 * LANES];
                zero_split_borders::<M>(&mut xp2[..units * c_out * plane], (hp, wp), (oh, ow));
                xp2[units * c_out * plane..].fill(0.0);
                conv(xp, &lhs, &mut |k, m, blk| {
                    // SAFETY (as_uninit): the pass writes f32 values only.
                    let out = unsafe { as_uninit(&mut xp2[k * c_out * plane..(k + 1) * c_out * plane]) };
                    transform::<M, A>(isa, Pass::Output { m, c_out, m_xi, oh, ow, epi, split: Some(wp) }, blk, out);
                });
                (&*xp2, &lhs2[..], *epi2)
            }
        };
        conv(input, last_lhs, &mut |k, m, blk| {
            let yk = unit_slice(ychunk, k, per_unit * ys);
            let epi = last_epi.images(first + k * per_unit, ys);
            transform::<M, A>(isa, Pass::Output { m, c_out, m_xi, oh, ow, epi, split: None }, blk, yk);
        });
        if second.is_some() {
            give_back_scratch(&PADDED_2, xp2v);
        }
        give_back_scratch(&PADDED, xpv);
        give_back_scratch(&TRANSFORMED, vv);
        give_back_scratch(&PRODUCTS, mv);
    });
}

/// Unit `k`'s part (`len` values, fewer for a last, partial unit) of `y`.
fn unit_slice(y: &mut [MaybeUninit<f32>], k: usize, len: usize) -> &mut [MaybeUninit<f32>] {
    let end = ((k + 1) * len).min(y.len());
    &mut y[k * len..end]
}

/// Zeroes what the output transform does not write of padded, phase-split
/// planes (`hp × wp`, padding 1) of an `oh × ow` image: the first and last
/// padded rows, and per row padded column 0 and the columns after the image.
fn zero_split_borders<const M: usize>(planes: &mut [f32], (hp, wp): (usize, usize), (oh, ow): (usize, usize)) {
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
unsafe fn pad_split<S: Lanes, const M: usize>(
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
unsafe fn pad_split_images<S: Lanes, const A: usize>(
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
unsafe fn copy_row<S: Lanes>(dst: &mut [f32], src: &[f32]) {
    let whole = src.len() / LANES * LANES;
    for j in (0..whole).step_by(LANES) {
        // SAFETY: j + LANES ≤ whole ≤ both lengths.
        unsafe { S::store(dst.as_mut_ptr().add(j), S::load(src.as_ptr().add(j))) };
    }
    for (d, &v) in dst[whole..].iter_mut().zip(&src[whole..]) {
        *d = v;
    }
}

/// `V[ξ][ci][t] = (Bᵀ d B)[ξ]` for the tiles of tile rows `ty0..ty0+rows`
/// (`t` counted from the block's first tile), [`LANES`] tiles of a tile row
/// (or as the layout `L` says, see [`Layout`]) at a time, from planes
/// stored by [`pad_split`] (or [`pad_split_images`]).
///
/// # Safety
/// `S`'s instructions must be available.
// The passes index columns of row-major tiles, which iterators do not express.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn input_transform<S: Lanes, const M: usize, const A: usize, const L: u8>(
    xp: &[f32],
    (c_in, v_xi): (usize, usize),
    (plane, wp): (usize, usize),
    tw: usize,
    ty0: usize,
    rows: usize,
    tbp: usize,
    v: &mut [MaybeUninit<f32>],
) {
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
unsafe fn b_t<S: Lanes, const M: usize, const A: usize>(x: [S::V; A]) -> [S::V; A] {
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
unsafe fn a_t<S: Lanes, const M: usize, const A: usize>(x: [S::V; A]) -> [S::V; M] {
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
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn output_transform<S: Lanes, const M: usize, const A: usize, const L: u8>(
    m: &[f32],
    (c_out, m_xi): (usize, usize),
    epi: ConvEpilogue,
    split: Option<usize>,
    tbp: usize,
    tw: usize,
    ty0: usize,
    rows: usize,
    oh: usize,
    ow: usize,
    y: &mut [MaybeUninit<f32>],
) {
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
unsafe fn finish_store<S: Lanes>(v: S::V, epi: &ConvEpilogue, y: *mut f32, at: usize, len: usize) {
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

/// How the [`LANES`] lanes of the transforms cover tiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Layout {
    /// `LANES` tiles of one tile row.
    #[default]
    Row,
    /// Two tile rows of `LANES/2` tiles (images exactly that many tiles
    /// wide: ResNet's 16×16 maps with F(4×4), 8×8 ones with F(2×2)).
    Pairs,
    /// A tile row of each of `LANES/2` images two F(4×4) tiles wide (8×8
    /// maps), side by side (see [`pad_split_images`]).
    Images,
}

/// The [`Layout`] for tile size `m` and tile rows of `tw` tiles.
fn layout(m: usize, tw: usize) -> Layout {
    if 2 * tw == LANES {
        Layout::Pairs
    } else if m == 4 && 4 * tw == LANES {
        Layout::Images
    } else {
        Layout::Row
    }
}

/// The layouts as constants for the transforms' generic parameter `L`.
const ROW: u8 = Layout::Row as u8;
const PAIRS: u8 = Layout::Pairs as u8;
const IMAGES: u8 = Layout::Images as u8;

/// Eight `f32` lanes, as AVX2 registers or as a portable array, for the
/// transforms (which are written once, generic over this).
trait Lanes {
    /// A vector of [`LANES`] values.
    type V: Copy;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// [`LANES`] values from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES/2` values from `lo`, then `LANES/2` from `hi` (unaligned).
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self::V;
    /// Lanes `lo..hi` from `p + lane`, the others zero (and not read).
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self::V;
    /// Writes [`LANES`] values to `p` (unaligned).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Writes lanes `2i` and `2i + 1` of `v` to `p` and `p + 1`.
    unsafe fn store_pair(p: *mut f32, v: Self::V, i: usize);
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c` (fused where the vectors have FMA).
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a` where `a > b`, else `b` (so `max(NaN, 0) = 0`, like `f32::max`).
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// `(a0 b0 a1 b1 a2 b2 a3 b3, a4 b4 … a7 b7)`.
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V);
    /// The inverse of [`Lanes::zip`]: `(a0 a2 a4 a6 b0 b2 b4 b6, a1 a3 … b7)`.
    unsafe fn unzip(a: Self::V, b: Self::V) -> (Self::V, Self::V);
}

/// Plain arrays (any CPU).
struct Portable;

impl Lanes for Portable {
    type V = [f32; LANES];
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        [x; LANES]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES readable values at `p`.
        unsafe { p.cast::<[f32; LANES]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES/2 readable values at each.
        unsafe { std::array::from_fn(|l| if l < LANES / 2 { *lo.add(l) } else { *hi.add(l - LANES / 2) }) }
    }
    #[inline(always)]
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self::V {
        // SAFETY: the caller guarantees readable values at p + lo..hi.
        std::array::from_fn(|l| if lo <= l && l < hi { unsafe { *p.wrapping_add(l) } } else { 0.0 })
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees LANES writable values at `p`.
        unsafe { p.cast::<[f32; LANES]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn store_pair(p: *mut f32, v: Self::V, i: usize) {
        // SAFETY: the caller guarantees two writable values at `p`.
        unsafe { p.cast::<[f32; 2]>().write_unaligned([v[2 * i], v[2 * i + 1]]) }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] + b[l])
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] - b[l])
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] * b[l] + c[l])
    }
    #[inline(always)]
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| if a[l] > b[l] { a[l] } else { b[l] })
    }
    #[inline(always)]
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        (
            std::array::from_fn(|k| if k % 2 == 0 { a[k / 2] } else { b[k / 2] }),
            std::array::from_fn(|k| if k % 2 == 0 { a[4 + k / 2] } else { b[4 + k / 2] }),
        )
    }
    #[inline(always)]
    unsafe fn unzip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        let pick = |k: usize| if k < 4 { a[2 * k] } else { b[2 * k - 8] };
        (std::array::from_fn(pick), std::array::from_fn(|k| if k < 4 { a[2 * k + 1] } else { b[2 * k - 7] }))
    }
}

/// AVX2 registers (and FMA for `mul_add`).
#[cfg(target_arch = "x86_64")]
struct Avx2;

/// The [`Avx2`] methods that are one intrinsic on two vectors.
#[cfg(target_arch = "x86_64")]
macro_rules! avx2_lanewise {
    ($($name:ident => $intrinsic:ident),*) => {$(
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn $name(a: Self::V, b: Self::V) -> Self::V {
            std::arch::x86_64::$intrinsic(a, b)
        }
    )*};
}

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2 {
    type V = std::arch::x86_64::__m256;
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn splat(x: f32) -> Self::V {
        std::arch::x86_64::_mm256_set1_ps(x)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES readable values at `p`.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(p) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_halves(lo: *const f32, hi: *const f32) -> Self::V {
        // SAFETY: the caller guarantees LANES/2 readable values at each.
        unsafe { std::arch::x86_64::_mm256_loadu2_m128(hi, lo) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load_range(p: *const f32, lo: usize, hi: usize) -> Self::V {
        use std::arch::x86_64::*;
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let (lo, hi) = (_mm256_set1_epi32(lo.min(LANES) as i32), _mm256_set1_epi32(hi.min(LANES) as i32));
        // lo ≤ lane < hi, i.e. not (lo > lane) and (hi > lane).
        let mask = _mm256_andnot_si256(_mm256_cmpgt_epi32(lo, lane), _mm256_cmpgt_epi32(hi, lane));
        // SAFETY: maskload reads only the selected lanes, which the caller guarantees.
        unsafe { _mm256_maskload_ps(p, mask) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees LANES writable values at `p`.
        unsafe { std::arch::x86_64::_mm256_storeu_ps(p, v) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_pair(p: *mut f32, v: Self::V, i: usize) {
        use std::arch::x86_64::*;
        let half = _mm256_castps_pd(v);
        let half = if i < 2 { _mm256_castpd256_pd128(half) } else { _mm256_extractf128_pd::<1>(half) };
        // SAFETY: the caller guarantees two writable values at `p`.
        unsafe {
            if i.is_multiple_of(2) {
                _mm_storel_pd(p.cast(), half)
            } else {
                _mm_storeh_pd(p.cast(), half)
            }
        }
    }
    // maxps returns its second operand unless a > b, as `Lanes::max` asks.
    avx2_lanewise!(add => _mm256_add_ps, sub => _mm256_sub_ps, max => _mm256_max_ps);
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::arch::x86_64::_mm256_fmadd_ps(a, b, c)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        use std::arch::x86_64::*;
        let (l, h) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
        (_mm256_permute2f128_ps::<0x20>(l, h), _mm256_permute2f128_ps::<0x31>(l, h))
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn unzip(a: Self::V, b: Self::V) -> (Self::V, Self::V) {
        use std::arch::x86_64::*;
        // Per 128-bit half: (a0 a2 b0 b2 | a4 a6 b4 b6); then order the 64-bit pairs 0, 2, 1, 3.
        let fix = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
        (fix(_mm256_shuffle_ps::<0b10_00_10_00>(a, b)), fix(_mm256_shuffle_ps::<0b11_01_11_01>(a, b)))
    }
}

/// Where a transform pass works: tile rows `ty0..ty0+rows` of `tw` tiles
/// (of all the unit's images with [`Layout::Images`]), stored `tbp` apart
/// per row of `V`/`M`, their lanes laid out as `layout` says (unused by the
/// split copies).
#[derive(Clone, Copy, Default)]
struct Block {
    tw: usize,
    ty0: usize,
    rows: usize,
    tbp: usize,
    layout: Layout,
}

/// The vectorized passes: padding, and both transforms of one block.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Padded, phase-split copy of images (see [`pad_split`]).
    Split { src: &'a [f32], h: usize, w: usize, pad: (usize, usize), hp: usize, wp: usize },
    /// Padded copy of `imgs` images for [`Layout::Images`] (see [`pad_split_images`]).
    SplitImages { src: &'a [f32], imgs: usize, h: usize, w: usize, pad: (usize, usize), hp: usize },
    /// Input transform into `V`.
    Input { xp: &'a [f32], c_in: usize, plane: usize, wp: usize, v_xi: usize },
    /// Output transform from `M` into the image, or with `split: Some(wp)`
    /// into planes padded and phase-split as [`pad_split`] stores them
    /// (padding 1, rows `wp` wide; see [`forward_pair`]).
    Output { m: &'a [f32], c_out: usize, m_xi: usize, oh: usize, ow: usize, epi: ConvEpilogue<'a>, split: Option<usize> },
}

/// Runs one pass with `S`'s vectors for tile size `M` (`buf` is the padded
/// copy, `V`, or the image's output).
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
unsafe fn run_pass<S: Lanes, const M: usize, const A: usize>(pass: Pass, blk: Block, buf: &mut [MaybeUninit<f32>]) {
    let Block { tw, ty0, rows, tbp, layout } = blk;
    // SAFETY: forwarded.
    unsafe {
        match pass {
            Pass::Split { src, h, w, pad, hp, wp } => pad_split::<S, M>(src, (h, w), pad, (hp, wp), buf),
            Pass::SplitImages { src, imgs, h, w, pad, hp } => pad_split_images::<S, A>(src, imgs, (h, w), pad, hp, buf),
            // The layout as a constant, so that neither loop tests it per vector.
            Pass::Input { xp, c_in, plane, wp, v_xi } => {
                let (sizes, dims) = ((c_in, v_xi), (plane, wp));
                match layout {
                    Layout::Row => input_transform::<S, M, A, ROW>(xp, sizes, dims, tw, ty0, rows, tbp, buf),
                    Layout::Pairs => input_transform::<S, M, A, PAIRS>(xp, sizes, dims, tw, ty0, rows, tbp, buf),
                    Layout::Images => input_transform::<S, M, A, IMAGES>(xp, sizes, dims, tw, ty0, rows, tbp, buf),
                }
            }
            Pass::Output { m, c_out, m_xi, oh, ow, epi, split } => {
                let sizes = (c_out, m_xi);
                assert!(split.is_none() || layout == Layout::Row, "Winograd: split output needs whole tile rows");
                match layout {
                    Layout::Row => output_transform::<S, M, A, ROW>(m, sizes, epi, split, tbp, tw, ty0, rows, oh, ow, buf),
                    Layout::Pairs => output_transform::<S, M, A, PAIRS>(m, sizes, epi, None, tbp, tw, ty0, rows, oh, ow, buf),
                    Layout::Images => output_transform::<S, M, A, IMAGES>(m, sizes, epi, None, tbp, tw, ty0, rows, oh, ow, buf),
                }
            }
        }
    }
}

/// [`run_pass`] with AVX2 vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_pass_avx2<const M: usize, const A: usize>(pass: Pass, blk: Block, buf: &mut [MaybeUninit<f32>]) {
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { run_pass::<Avx2, M, A>(pass, blk, buf) }
}

/// Which vectors the transforms use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    /// [`Portable`] arrays.
    Portable,
    /// [`Avx2`] registers (only after detection).
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The widest vectors the running CPU supports.
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
        Isa::Portable
    }
}

/// [`run_pass`] with the vectors of `isa`.
fn transform<const M: usize, const A: usize>(isa: Isa, pass: Pass, blk: Block, buf: &mut [MaybeUninit<f32>]) {
    match isa {
        // SAFETY: Isa::Avx2 is only handed out after detection.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_pass_avx2::<M, A>(pass, blk, buf) },
        // SAFETY: the portable vectors need no special instructions.
        Isa::Portable => unsafe { run_pass::<Portable, M, A>(pass, blk, buf) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::conv2d_forward_direct_for_tests as direct;
    use crate::kernels::TestRng as Rng;

    fn geom(n: usize, c_in: usize, h: usize, w: usize, c_out: usize, pad: (usize, usize)) -> Conv2dGeom {
        Conv2dGeom { n, c_in, h, w, c_out, kh: 3, kw: 3, stride: (1, 1), padding: pad, dilation: (1, 1) }
    }

    /// Against the direct convolution (itself tested against the naive sum):
    /// odd and even sizes, padding 0/1/2, channels above one GEMM slice.
    #[test]
    fn matches_direct_convolution() {
        let mut rng = Rng::new(9);
        for g in [
            geom(2, 8, 8, 8, 8, (1, 1)),
            geom(3, 9, 7, 5, 10, (1, 1)),
            geom(2, 16, 6, 9, 8, (0, 0)),
            geom(2, 8, 5, 5, 11, (2, 1)),
            geom(2, 300, 4, 4, 8, (1, 1)),
            geom(2, 8, 3, 3, 8, (0, 0)),
            geom(4, 16, 32, 32, 16, (1, 1)),
            geom(7, 8, 6, 6, 8, (1, 1)),   // several images per block, a partial last group
            geom(2, 8, 34, 37, 8, (1, 1)), // several vectors of tiles per row, odd width
            // Row pairs (4 tiles per row): F(4×4) at 16 wide, F(2×2) at 8; partial
            // vectors, an odd number of tile rows.
            geom(2, 8, 16, 16, 8, (1, 1)),
            geom(3, 8, 13, 15, 8, (1, 1)),
            geom(2, 8, 10, 7, 8, (1, 1)),
            geom(2, 300, 10, 8, 300, (1, 1)),
            // Images cut into blocks of some tile rows, with and without row pairs.
            geom(2, 300, 26, 8, 300, (1, 1)),
            geom(2, 160, 20, 20, 160, (1, 1)),
            // F(4×4) image lanes (images two tiles wide, see Layout::Images): several
            // units per block and a partial last unit; tall images; no padding.
            geom(30, 16, 8, 8, 16, (1, 1)),
            geom(5, 8, 21, 6, 8, (1, 1)),
            geom(6, 16, 9, 10, 8, (0, 0)),
        ] {
            assert!(applies_with(&g, 8));
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.c_in * 9);
            let bias = rng.vec(g.c_out);
            let len = g.n * g.c_out * g.out_h() * g.out_w();
            let mut b = vec![0.0; len];
            direct(&g, &x, &w, &mut b);
            let plane = g.out_h() * g.out_w();
            let scale = (g.c_in * 9) as f32;
            let mut isas = vec![Isa::Portable];
            if Isa::detect() != Isa::Portable {
                isas.push(Isa::detect());
            }
            for (m, tol) in [(2, 2e-7), (4, 2e-6)] {
                for &isa in &isas {
                    // Stale values in the output must not survive.
                    let mut a = vec![f32::NAN; len];
                    forward_with(
                        &g,
                        &x,
                        &w,
                        ConvEpilogue { bias: Some(&bias), ..ConvEpilogue::default() },
                        None,
                        unsafe { as_uninit(&mut a) },
                        isa,
                        m,
                    );
                    let mut worst = 0.0f32;
                    for (k, (p, q)) in a.iter().zip(&b).enumerate() {
                        let q = q + bias[(k / plane) % g.c_out];
                        assert!((p - q).abs() <= tol * scale, "{g:?} F({m}) {isa:?} [{k}]: winograd {p} direct {q}");
                        worst = worst.max((p - q).abs() / scale);
                    }
                    println!("{g:?} F({m}) {isa:?}: worst error / (9·c_in) = {worst:e}");
                }
            }
        }
    }

    #[test]
    fn bit_identical_across_thread_counts() {
        let mut rng = Rng::new(10);
        // Whole vectors of tiles and row pairs, for both tile sizes.
        for (g, m) in [
            (geom(5, 16, 12, 10, 24, (1, 1)), 2),
            (geom(5, 16, 12, 16, 24, (1, 1)), 4),
            (geom(5, 16, 9, 8, 24, (1, 1)), 2),
            (geom(21, 16, 8, 8, 24, (1, 1)), 4),
        ] {
            let x = rng.vec(g.n * g.c_in * g.h * g.w);
            let w = rng.vec(g.c_out * g.c_in * 9);
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut y = vec![0.0; g.n * g.c_out * g.out_h() * g.out_w()];
                // SAFETY (as_uninit): the pass writes f32 values only.
                pool.install(|| forward_with(&g, &x, &w, ConvEpilogue::default(), None, unsafe { as_uninit(&mut y) }, Isa::detect(), m));
                y
            };
            let (a, b) = (run(1), run(3));
            assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "F({m})");
        }
    }

    /// Two convolutions in a row through the padded copy ([`forward_pair`])
    /// give the bits of two [`forward`] calls, with bias and ReLU on the first
    /// and bias, residual and ReLU on the second, for both vector kinds, one
    /// or several images per block and row blocks of an image, at 1 and 3
    /// threads (each pool runs every geometry, so the padded copy's borders
    /// must be cleared of the previous geometry's values).
    #[test]
    fn pair_matches_two_convolutions() {
        let mut rng = Rng::new(11);
        let mut isas = vec![Isa::Portable];
        if Isa::detect() != Isa::Portable {
            isas.push(Isa::detect());
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for g in [geom(3, 16, 32, 32, 16, (1, 1)), geom(2, 16, 4, 64, 16, (1, 1)), geom(2, 160, 24, 32, 160, (1, 1))] {
                assert!(pair_applies(&g), "{g:?}");
                let x = rng.vec(g.n * g.c_in * g.h * g.w);
                let (w1, w2) = (rng.vec(g.c_out * g.c_in * 9), rng.vec(g.c_out * g.c_in * 9));
                let (b1, b2) = (rng.vec(g.c_out), rng.vec(g.c_out));
                let epi1 = ConvEpilogue { bias: Some(&b1), residual: None, relu: true };
                let epi2 = ConvEpilogue { bias: Some(&b2), residual: Some(&x), relu: true };
                for &isa in &isas {
                    let (mut mid, mut want, mut got) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![f32::NAN; x.len()]);
                    // SAFETY (as_uninit): the passes write f32 values only.
                    pool.install(|| {
                        forward_with(&g, &x, &w1, epi1, None, unsafe { as_uninit(&mut mid) }, isa, 4);
                        forward_with(&g, &mid, &w2, epi2, None, unsafe { as_uninit(&mut want) }, isa, 4);
                        forward_with(&g, &x, &w1, epi1, Some((&w2[..], epi2)), unsafe { as_uninit(&mut got) }, isa, 4);
                    });
                    let same = got.iter().zip(&want).all(|(p, q)| p.to_bits() == q.to_bits());
                    assert!(same, "{g:?} {isa:?} {threads} threads");
                }
            }
        }
    }

    /// Winograd against the direct path on ResNet-20 shapes (batch 128), on
    /// one thread and on two: `cargo test --release -p autodiff bench_winograd
    /// -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bench_winograd_vs_direct() {
        let mut rng = Rng::new(4);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for &(c, hw) in &[(16, 32), (32, 16), (64, 8)] {
                let g = geom(128, c, hw, hw, c, (1, 1));
                let x = rng.vec(g.n * c * hw * hw);
                let w = rng.vec(c * c * 9);
                let mut y = vec![0.0; g.n * c * hw * hw];
                let time = |f: &mut (dyn FnMut() + Send)| {
                    pool.install(|| {
                        f();
                        let mut best = f64::MAX;
                        for _ in 0..7 {
                            let t = std::time::Instant::now();
                            f();
                            best = best.min(t.elapsed().as_secs_f64());
                        }
                        best * 1e3
                    })
                };
                let isa = Isa::detect();
                let t2 = time(&mut || forward_with(&g, &x, &w, ConvEpilogue::default(), None, unsafe { as_uninit(&mut y) }, isa, 2));
                let t4 = time(&mut || forward_with(&g, &x, &w, ConvEpilogue::default(), None, unsafe { as_uninit(&mut y) }, isa, 4));
                let td = time(&mut || direct(&g, &x, &w, &mut y));
                println!(
                    "{threads} thread(s) {c:>2}ch {hw:>2}x{hw:<2}: F(2x2) {t2:.2} ms, F(4x4) {t4:.2} ms, direct {td:.2} ms (best of 7)"
                );
            }
        }
    }
}

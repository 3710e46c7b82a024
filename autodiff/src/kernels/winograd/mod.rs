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
//! The transforms run on `LANES` tiles of a tile row at a time: the image is
//! first copied zero-padded with its columns split by phase (column `x` goes
//! to phase `x mod m`), so the inputs of consecutive tiles are contiguous.
//! Images too narrow to fill the lanes use two tile rows per vector, or a
//! tile row of each of four images (`Layout`).
//! Tiles are processed in blocks of whole tile rows small enough for L2;
//! images run in parallel; nothing depends on the thread count.
//!
//! Files: `weights` (the weight transform), `split` (padded, phase-split
//! input copies), `transforms` (input and output transforms over
//! `kernels::lanes` vectors), `passes` (the vectorized passes and their
//! per-ISA dispatch), `tests`.

mod passes;
mod split;
#[cfg(test)]
mod tests;
mod transforms;
mod weights;

use rayon::prelude::*;
use std::cell::Cell;
use std::mem::MaybeUninit;

use super::as_uninit;
use super::conv::{Conv2dGeom, ConvEpilogue};
use super::gemm::{round_up, slice_depth, BlockC, MatRef, Offsets, PackedLhs, NR};
use super::lanes::LANES;
use super::scratch::{give_back_scratch, take_scratch};
use passes::{layout, transform, Block, Isa, Layout, Pass};
pub(crate) use split::pad_split_pairs;
use split::zero_split_borders;
use transforms::{InputPass, OutputPass};
use weights::transform_weights;

/// Bytes of transformed inputs and products per block of tiles: small
/// enough for L2, large enough that each block's GEMM is efficient.
const BLOCK_BYTES: usize = 1 << 19;

/// Channels from which the transforms pay for themselves against the
/// direct convolution (`winograd` in the kernel benchmarks compares them).
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

thread_local! {
    /// Padded, phase-split input images of a unit.
    static PADDED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// The second convolution's padded input (see [`forward_pair`]).
    static PADDED_2: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Transformed inputs `V` of a block.
    static TRANSFORMED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Products `M` of a block.
    static PRODUCTS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `y [n, c_out, oh, ow] = conv(x, w)` by Winograd; requires [`applies`].
/// Writes every element of `y` (which need not be initialized).
pub(crate) fn forward(g: &Conv2dGeom, x: &[f32], w: &[f32], epi: ConvEpilogue, y: &mut [MaybeUninit<f32>]) {
    forward_with(g, x, (w, epi), None, y, Isa::detect(), tile_size(g))
}

/// [`forward`] with output tiles of `m` (2 or 4) whatever the geometry
/// would pick, for benchmarks; needs a 3×3, stride-1, undilated `g`.
pub(crate) fn forward_tile_size(g: &Conv2dGeom, x: &[f32], w: &[f32], y: &mut [MaybeUninit<f32>], m: usize) {
    assert!(applies_with(g, 1) && (m == 2 || m == 4), "Winograd F({m}×{m}) does not apply to {g:?}");
    forward_with(g, x, (w, ConvEpilogue::default()), None, y, Isa::detect(), m)
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
    forward_tiles::<4, 6>(g, x, (w1, epi1), Some((w2, epi2)), y, Isa::detect())
}

/// [`forward`] (and [`forward_pair`] with `second`) with the vectors and the
/// tile size (2 or 4) chosen by the caller.
fn forward_with(
    g: &Conv2dGeom,
    x: &[f32],
    (w, epi): (&[f32], ConvEpilogue),
    second: Option<(&[f32], ConvEpilogue)>,
    y: &mut [MaybeUninit<f32>],
    isa: Isa,
    m: usize,
) {
    match m {
        2 => forward_tiles::<2, 4>(g, x, (w, epi), second, y, isa),
        4 => forward_tiles::<4, 6>(g, x, (w, epi), second, y, isa),
        _ => unreachable!("Winograd tile size {m}"),
    }
}

/// Winograd F(M×M, 3×3) forward (`A = M + 2`), followed with `second`
/// (weights and epilogue of a second convolution of the same geometry, see
/// [`forward_pair`]) by that one on the first one's output.
fn forward_tiles<const M: usize, const A: usize>(
    g: &Conv2dGeom,
    x: &[f32],
    (w, epi): (&[f32], ConvEpilogue),
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
                    transform::<M, A>(isa, Pass::Input(InputPass { xp: xk, c_in, plane, wp, v_xi }), blk, v);
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
                    transform::<M, A>(isa, Pass::Output(OutputPass { m, c_out, m_xi, oh, ow, epi, split: Some(wp) }), blk, out);
                });
                (&*xp2, &lhs2[..], *epi2)
            }
        };
        conv(input, last_lhs, &mut |k, m, blk| {
            let yk = unit_slice(ychunk, k, per_unit * ys);
            let epi = last_epi.images(first + k * per_unit, ys);
            transform::<M, A>(isa, Pass::Output(OutputPass { m, c_out, m_xi, oh, ow, epi, split: None }), blk, yk);
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

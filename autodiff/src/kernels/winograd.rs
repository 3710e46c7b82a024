//! Winograd F(2×2, 3×3) for 3×3, stride-1, undilated convolutions (Lavin &
//! Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//!
//! Each 2×2 block of outputs comes from a 4×4 input tile `d`:
//! `Y = Aᵀ [ Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B) ] A`, with
//!
//! ```text
//!      ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢ ½    ½    ½ ⎥    Aᵀ = ⎡1 1  1  0⎤
//!      ⎢0 −1  1  0⎥        ⎢ ½   −½    ½ ⎥         ⎣0 1 −1 −1⎦
//!      ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! The sum over input channels is, for each of the 16 tile positions `ξ`, a
//! matrix product `M[ξ] (c_out × tiles) = U[ξ] (c_out × c_in) · V[ξ] (c_in × tiles)`,
//! run by the GEMM microkernel: 16 multiplications per 4 outputs instead of
//! 36, so 2.25× fewer than the direct convolution.  The transforms only add
//! and halve, so the result differs from the direct sum by a few f32 ulps of
//! the tile's partial sums.  Tiles are processed in blocks of whole tile rows
//! small enough for L2; images run in parallel; nothing depends on the thread
//! count.

use rayon::prelude::*;
use std::cell::Cell;

use super::conv::Conv2dGeom;
use super::gemm::{give_back_scratch, round_up, slice_depth, take_scratch, Offsets, PackedLhs, NR};

/// Bytes of transformed inputs and products per block of tiles.
const BLOCK_BYTES: usize = 1 << 18;

/// Channels from which the transforms pay for themselves (measured with
/// `bench_winograd_vs_direct`, batch 128, one thread while the other core
/// was busy: 16 channels at 32×32 7.6–7.9 ms vs 8.7–9.0 ms direct, 32 at
/// 16×16 5.6–6.0 vs 8.8–9.1, 64 at 8×8 4.9–5.6 vs 8.8–9.1; at two threads
/// 16 channels was on par with the direct path, so it stays direct).
const MIN_CHANNELS: usize = 32;

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

/// `U[ξ][co][ci] = (G g Gᵀ)[ξ]` for every filter `g = w[co][ci]`.
fn transform_weights(g: &Conv2dGeom, w: &[f32]) -> Vec<f32> {
    let (co_n, ci_n) = (g.c_out, g.c_in);
    let mut u = vec![0.0; 16 * co_n * ci_n];
    // G applied to a 3-vector.
    let gv = |a: f32, b: f32, c: f32| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    for co in 0..co_n {
        for ci in 0..ci_n {
            let f = &w[(co * ci_n + ci) * 9..][..9];
            // Columns first: t[i][j] = (G f)[i][j] for i in 0..4, j in 0..3.
            let cols: [[f32; 4]; 3] = std::array::from_fn(|j| gv(f[j], f[3 + j], f[6 + j]));
            for i in 0..4 {
                let row = gv(cols[0][i], cols[1][i], cols[2][i]);
                for (j, &v) in row.iter().enumerate() {
                    u[((i * 4 + j) * co_n + co) * ci_n + ci] = v;
                }
            }
        }
    }
    u
}

thread_local! {
    static PADDED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static TRANSFORMED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PRODUCTS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `y [n, c_out, oh, ow] = conv(x, w)` by Winograd F(2×2, 3×3); requires [`applies`].
pub(crate) fn forward(g: &Conv2dGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    forward_with(g, x, w, bias, y, Isa::detect())
}

/// [`forward`] with the transforms' vectors chosen by the caller (tests run both).
fn forward_with(g: &Conv2dGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32], isa: Isa) {
    debug_assert!(applies_with(g, 1));
    let (c_in, c_out) = (g.c_in, g.c_out);
    let (oh, ow) = (g.out_h(), g.out_w());
    let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
    // Padded input covering every tile: rows/cols 0..2·th+2 / 2·tw+2.
    let (hp, wp) = (2 * th + 2, 2 * tw + 2);
    let plane = hp * wp;
    let u = transform_weights(g, w);
    let lhs: Vec<PackedLhs> = (0..16).map(|xi| PackedLhs::new(&u[xi * c_out * c_in..][..c_out * c_in], c_in, false, c_out, c_in)).collect();
    // A block holds the tiles of whole images (several when they are small)
    // or of some tile rows of one image, so that V and M fit the budget.
    let budget = (BLOCK_BYTES / (4 * 16 * (c_in + c_out))).max(tw);
    let t_img = th * tw;
    let (group, rows_per_block) = if t_img <= budget { ((budget / t_img).clamp(1, g.n), th) } else { (1, (budget / tw).clamp(1, th)) };
    // LANES columns of slack: the input transform stores whole vectors.
    let tbp = round_up(group * rows_per_block * tw + LANES, NR);
    // The 16 matrices of V (and of M) are `*_xi` floats apart: one cache line
    // more than their size, so the transforms' 16 streams do not all map to
    // the same L1 set (4 KiB aliasing) when c·tbp is a multiple of 1024.
    let (v_xi, m_xi) = (c_in * tbp + NR, c_out * tbp + NR);
    let kds = slice_depth(c_in);
    let offsets: Vec<usize> = (0..c_in).map(|ci| ci * tbp).collect();
    let (xs, ys) = (c_in * g.h * g.w, c_out * oh * ow);
    y.par_chunks_mut(group * ys).enumerate().for_each(|(gi, ychunk)| {
        let imgs = ychunk.len() / ys;
        // LANES values of slack: the input transform loads whole vectors.
        let mut xpv = take_scratch(&PADDED, imgs * c_in * plane + LANES);
        let xp = &mut xpv[..imgs * c_in * plane + LANES];
        let first = gi * group * xs;
        let (planes, slack) = xp.split_at_mut(imgs * c_in * plane);
        transform(isa, Pass::Split { src: &x[first..first + imgs * xs], h: g.h, w: g.w, pad: g.padding, hp, wp }, 0, 0, 0, 0, planes);
        slack.fill(0.0);
        let xp = &*xp;
        // V: [16][c_in][tbp] (+ NR so panels may read past the last tile); M: [16][c_out][tbp].
        let mut vv = take_scratch(&TRANSFORMED, 16 * v_xi);
        let mut mv = take_scratch(&PRODUCTS, 16 * m_xi);
        for ty0 in (0..th).step_by(rows_per_block) {
            let rows = rows_per_block.min(th - ty0);
            let per = rows * tw;
            let nb = imgs * per;
            for k in 0..imgs {
                let xk = &xp[k * c_in * plane..];
                transform(isa, Pass::Input { xp: xk, c_in, plane, wp, v_xi }, tw, ty0, rows, tbp, &mut vv[k * per..]);
            }
            for (xi_, l) in lhs.iter().enumerate() {
                for pc in (0..c_in).step_by(kds) {
                    let kc = kds.min(c_in - pc);
                    let b = Offsets { base: vv[xi_ * v_xi + pc * tbp..].as_ptr(), offsets: offsets[..kc].as_ptr() };
                    // SAFETY: row ci of the slice starts at ξ·v_xi + (pc + ci)·tbp and is
                    // read for round_up(nb, NR) ≤ tbp columns (+NR slack after each V[ξ]);
                    // M[ξ] holds c_out rows of tbp ≥ nb columns; both buffers are this task's.
                    unsafe { l.multiply_slice(pc, kc, b, nb, mv[xi_ * m_xi..].as_mut_ptr(), tbp, pc > 0) };
                }
            }
            // The image's tiles in V are followed by the next image's (or the
            // slack), so the input transform may spill whole vectors past them.
            for (k, yk) in ychunk.chunks_exact_mut(ys).enumerate() {
                transform(isa, Pass::Output { m: &mv[k * per..], c_out, m_xi, oh, ow, bias }, tw, ty0, rows, tbp, yk);
            }
        }
        give_back_scratch(&PADDED, xpv);
        give_back_scratch(&TRANSFORMED, vv);
        give_back_scratch(&PRODUCTS, mv);
    });
}

/// Tiles per vector chunk of the transforms.
const LANES: usize = 8;

/// Copies images `src` (planes `h × w`) into zero-padded planes `hp × wp`
/// (`wp` even) at offset `pad`, each row stored with its even columns first
/// and its odd columns second (`wp/2` each): tile column `tx` of an input row
/// then reads `even[tx], odd[tx], even[tx+1], odd[tx+1]`, all contiguous over
/// `tx`.  Rows or columns that fall outside `hp × wp` are dropped.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
unsafe fn pad_split<S: Lanes>(src: &[f32], (h, w): (usize, usize), pad: (usize, usize), (hp, wp): (usize, usize), out: &mut [f32]) {
    out.fill(0.0);
    if h == 0 || w == 0 {
        return;
    }
    let half = wp / 2;
    // One padded row, then split 2·LANES columns at a time.
    let mut line = vec![0.0f32; wp];
    let len = w.min(wp.saturating_sub(pad.1));
    for (plane, dst) in src.chunks_exact(h * w).zip(out.chunks_exact_mut(hp * wp)) {
        for (iy, row) in plane.chunks_exact(w).enumerate().take(hp.saturating_sub(pad.0)) {
            line[pad.1..pad.1 + len].copy_from_slice(&row[..len]);
            let d = &mut dst[(iy + pad.0) * wp..][..wp];
            let whole = half / LANES * LANES;
            for c0 in (0..whole).step_by(LANES) {
                // SAFETY: line[2·c0..2·c0 + 2·LANES] lies inside `line` (2·c0 + 2·LANES ≤ wp);
                // the stores write d[c0..c0+LANES] and d[half+c0..half+c0+LANES] ⊂ d[..wp].
                unsafe {
                    let p = line.as_ptr().add(2 * c0);
                    let (even, odd) = S::unzip(S::load(p), S::load(p.add(LANES)));
                    S::store(d.as_mut_ptr().add(c0), even);
                    S::store(d.as_mut_ptr().add(half + c0), odd);
                }
            }
            for c in whole..half {
                (d[c], d[half + c]) = (line[2 * c], line[2 * c + 1]);
            }
        }
    }
}

/// `V[ξ][ci][t] = (Bᵀ d B)[ξ]` for the tiles of tile rows `ty0..ty0+rows`
/// (`t` counted from the block's first tile), [`LANES`] tiles of a tile row
/// at a time, from planes stored by [`pad_split`].
///
/// # Safety
/// `S`'s instructions must be available.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_transform<S: Lanes>(
    xp: &[f32],
    (c_in, v_xi): (usize, usize),
    (plane, wp): (usize, usize),
    tw: usize,
    ty0: usize,
    rows: usize,
    tbp: usize,
    v: &mut [f32],
) {
    let half = wp / 2;
    assert!(xp.len() >= c_in * plane + LANES && (2 * (ty0 + rows) + 2) * wp <= plane);
    assert!(c_in * tbp <= v_xi && v.len() >= 15 * v_xi + (c_in - 1) * tbp + rows * tw + LANES);
    for ci in 0..c_in {
        for r in 0..rows {
            let ty = ty0 + r;
            for tx0 in (0..tw).step_by(LANES) {
                // SAFETY: row 2ty+k of plane ci lies inside `xp` with LANES values after
                // it (asserted above); the loads read LANES values from even/odd entry
                // tx0 + 0 or 1 ≤ half of it; the stores write tiles r·tw+tx0.. +LANES,
                // inside each V row's tbp ≥ rows·tw + LANES.
                unsafe {
                    // h[k][j]: row k of the tiles after the horizontal pass (d B), column j.
                    let mut h = [[S::splat(0.0); 4]; 4];
                    for (k, hk) in h.iter_mut().enumerate() {
                        let e = xp.as_ptr().add(ci * plane + (2 * ty + k) * wp + tx0);
                        let o = e.add(half);
                        let [x0, x1, x2, x3] = [S::load(e), S::load(o), S::load(e.add(1)), S::load(o.add(1))];
                        *hk = b_t::<S>(x0, x1, x2, x3);
                    }
                    let [h0, h1, h2, h3] = h;
                    for j in 0..4 {
                        let col = b_t::<S>(h0[j], h1[j], h2[j], h3[j]);
                        for (i, &val) in col.iter().enumerate() {
                            S::store(v.as_mut_ptr().add((i * 4 + j) * v_xi + ci * tbp + r * tw + tx0), val);
                        }
                    }
                }
            }
        }
    }
}

/// `Bᵀ (x0, x1, x2, x3) = (x0 − x2, x1 + x2, x2 − x1, x1 − x3)`.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
unsafe fn b_t<S: Lanes>(x0: S::V, x1: S::V, x2: S::V, x3: S::V) -> [S::V; 4] {
    // SAFETY: forwarded.
    unsafe { [S::sub(x0, x2), S::add(x1, x2), S::sub(x2, x1), S::sub(x1, x3)] }
}

/// `Aᵀ (x0, x1, x2, x3) = (x0 + x1 + x2, x1 − x2 − x3)`.
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
unsafe fn a_t<S: Lanes>(x0: S::V, x1: S::V, x2: S::V, x3: S::V) -> [S::V; 2] {
    // SAFETY: forwarded.
    unsafe { [S::add(S::add(x0, x1), x2), S::sub(S::sub(x1, x2), x3)] }
}

/// `Y = Aᵀ m A` (+ bias) for every tile of the block, written into the
/// image's output, [`LANES`] tiles of a tile row at a time; the two output
/// columns of each tile are interleaved into the output rows.
///
/// # Safety
/// `S`'s instructions must be available.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_transform<S: Lanes>(
    m: &[f32],
    (c_out, m_xi): (usize, usize),
    bias: Option<&[f32]>,
    tbp: usize,
    tw: usize,
    ty0: usize,
    rows: usize,
    oh: usize,
    ow: usize,
    y: &mut [f32],
) {
    assert!(c_out * tbp <= m_xi && m.len() >= 15 * m_xi + (c_out - 1) * tbp + rows * tw + LANES && y.len() >= c_out * oh * ow);
    for co in 0..c_out {
        // SAFETY: the instructions are available (caller); every load reads tiles
        // r·tw+tx0.. +LANES of a row of M, inside its tbp ≥ rows·tw + LANES
        // (asserted above); every store writes columns 2tx0.. +len ≤ ow of
        // output row oy < oh of plane co.
        unsafe {
            let b = S::splat(bias.map_or(0.0, |b| b[co]));
            let yo = y.as_mut_ptr().add(co * oh * ow);
            for r in 0..rows {
                let ty = ty0 + r;
                for tx0 in (0..tw).step_by(LANES) {
                    let cnt = LANES.min(tw - tx0);
                    let at = |xi: usize| S::load(m.as_ptr().add(xi * m_xi + co * tbp + r * tw + tx0));
                    // s[i] = (m A)[i]: each row of the tile reduced to its two columns.
                    let s: [[S::V; 2]; 4] = [
                        a_t::<S>(at(0), at(1), at(2), at(3)),
                        a_t::<S>(at(4), at(5), at(6), at(7)),
                        a_t::<S>(at(8), at(9), at(10), at(11)),
                        a_t::<S>(at(12), at(13), at(14), at(15)),
                    ];
                    // q[c][a]: output row a, column c of each tile.
                    let q = [a_t::<S>(s[0][0], s[1][0], s[2][0], s[3][0]), a_t::<S>(s[0][1], s[1][1], s[2][1], s[3][1])];
                    let ox0 = 2 * tx0;
                    let len = (2 * cnt).min(ow - ox0);
                    let [q0, q1] = q;
                    for a in 0..2 {
                        let oy = 2 * ty + a;
                        if oy >= oh {
                            break;
                        }
                        let (lo, hi) = S::zip(S::add(q0[a], b), S::add(q1[a], b));
                        let p = yo.add(oy * ow + ox0);
                        if len == 2 * LANES {
                            S::store(p, lo);
                            S::store(p.add(LANES), hi);
                        } else {
                            let mut pairs = [0.0f32; 2 * LANES];
                            S::store(pairs.as_mut_ptr(), lo);
                            S::store(pairs.as_mut_ptr().add(LANES), hi);
                            std::ptr::copy_nonoverlapping(pairs.as_ptr(), p, len);
                        }
                    }
                }
            }
        }
    }
}

/// Eight `f32` lanes, as AVX2 registers or as a portable array, for the
/// transforms (which are written once, generic over this).
trait Lanes {
    /// A vector of [`LANES`] values.
    type V: Copy;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// [`LANES`] values from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// Writes [`LANES`] values to `p` (unaligned).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
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
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees LANES writable values at `p`.
        unsafe { p.cast::<[f32; LANES]>().write_unaligned(v) }
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

/// AVX2 registers.
#[cfg(target_arch = "x86_64")]
struct Avx2;

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
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the caller guarantees LANES writable values at `p`.
        unsafe { std::arch::x86_64::_mm256_storeu_ps(p, v) }
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        std::arch::x86_64::_mm256_add_ps(a, b)
    }
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        std::arch::x86_64::_mm256_sub_ps(a, b)
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

/// The vectorized passes: padding, and both transforms of one block.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Padded, column-split copy of images (see [`pad_split`]).
    Split { src: &'a [f32], h: usize, w: usize, pad: (usize, usize), hp: usize, wp: usize },
    /// Input transform into `V`.
    Input { xp: &'a [f32], c_in: usize, plane: usize, wp: usize, v_xi: usize },
    /// Output transform from `M`.
    Output { m: &'a [f32], c_out: usize, m_xi: usize, oh: usize, ow: usize, bias: Option<&'a [f32]> },
}

/// Runs one transform pass with `S`'s vectors (`buf` is `V` for the input
/// pass, the image's output otherwise).
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
unsafe fn run_pass<S: Lanes>(pass: Pass, tw: usize, ty0: usize, rows: usize, tbp: usize, buf: &mut [f32]) {
    // SAFETY: forwarded.
    unsafe {
        match pass {
            Pass::Split { src, h, w, pad, hp, wp } => pad_split::<S>(src, (h, w), pad, (hp, wp), buf),
            Pass::Input { xp, c_in, plane, wp, v_xi } => input_transform::<S>(xp, (c_in, v_xi), (plane, wp), tw, ty0, rows, tbp, buf),
            Pass::Output { m, c_out, m_xi, oh, ow, bias } => output_transform::<S>(m, (c_out, m_xi), bias, tbp, tw, ty0, rows, oh, ow, buf),
        }
    }
}

/// [`run_pass`] with AVX2 vectors.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_pass_avx2(pass: Pass, tw: usize, ty0: usize, rows: usize, tbp: usize, buf: &mut [f32]) {
    // SAFETY: AVX2 is enabled here.
    unsafe { run_pass::<Avx2>(pass, tw, ty0, rows, tbp, buf) }
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
        if is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
        Isa::Portable
    }
}

/// [`run_pass`] with the vectors of `isa`.
fn transform(isa: Isa, pass: Pass, tw: usize, ty0: usize, rows: usize, tbp: usize, buf: &mut [f32]) {
    match isa {
        // SAFETY: Isa::Avx2 is only handed out after detection.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_pass_avx2(pass, tw, ty0, rows, tbp, buf) },
        // SAFETY: the portable vectors need no special instructions.
        Isa::Portable => unsafe { run_pass::<Portable>(pass, tw, ty0, rows, tbp, buf) },
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
            geom(7, 8, 6, 6, 8, (1, 1)), // several images per block, a partial last group
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
            for isa in isas {
                // Stale values in the output must not survive.
                let mut a = vec![f32::NAN; len];
                forward_with(&g, &x, &w, Some(&bias), &mut a, isa);
                for (k, (p, q)) in a.iter().zip(&b).enumerate() {
                    let q = q + bias[(k / plane) % g.c_out];
                    assert!((p - q).abs() <= 2e-6 * scale, "{g:?} {isa:?} [{k}]: winograd {p} direct {q}");
                }
            }
        }
    }

    #[test]
    fn bit_identical_across_thread_counts() {
        let mut rng = Rng::new(10);
        let g = geom(5, 16, 12, 10, 24, (1, 1));
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let w = rng.vec(g.c_out * g.c_in * 9);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut y = vec![0.0; g.n * g.c_out * g.out_h() * g.out_w()];
            pool.install(|| forward(&g, &x, &w, None, &mut y));
            y
        };
        let (a, b) = (run(1), run(3));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
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
                let tw = time(&mut || forward(&g, &x, &w, None, &mut y));
                let td = time(&mut || direct(&g, &x, &w, &mut y));
                println!("{threads} thread(s) {c:>2}ch {hw:>2}x{hw:<2}: winograd {tw:.2} ms, direct {td:.2} ms (best of 7)");
            }
        }
    }
}

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

use super::conv::{pad_planes, Conv2dGeom};
use super::gemm::{give_back_scratch, round_up, slice_depth, take_scratch, Offsets, PackedLhs, NR};

/// Bytes of transformed inputs and products per block of tiles.
const BLOCK_BYTES: usize = 1 << 19;

/// Channels from which the transforms pay for themselves (measured with
/// `bench_resnet_convs`, batch 128, 2 threads: 16 channels 5.9 ms vs 5.0 ms
/// direct, 32 channels on par, 64 channels 4.1 ms vs 4.8 ms).
const MIN_CHANNELS: usize = 64;

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
    let tbp = round_up(group * rows_per_block * tw, NR);
    let kds = slice_depth(c_in);
    let offsets: Vec<usize> = (0..c_in).map(|ci| ci * tbp).collect();
    let (xs, ys) = (c_in * g.h * g.w, c_out * oh * ow);
    y.par_chunks_mut(group * ys).enumerate().for_each(|(gi, ychunk)| {
        let imgs = ychunk.len() / ys;
        let mut xpv = take_scratch(&PADDED, imgs * c_in * plane);
        let xp = &mut xpv[..imgs * c_in * plane];
        let first = gi * group * xs;
        pad_planes(&x[first..first + imgs * xs], (g.h, g.w), g.padding, (hp, wp), xp);
        let xp = &*xp;
        // V: [16][c_in][tbp] (+ NR so panels may read past the last tile); M: [16][c_out][tbp].
        let mut vv = take_scratch(&TRANSFORMED, 16 * c_in * tbp + NR);
        let mut mv = take_scratch(&PRODUCTS, 16 * c_out * tbp);
        for ty0 in (0..th).step_by(rows_per_block) {
            let rows = rows_per_block.min(th - ty0);
            let per = rows * tw;
            let nb = imgs * per;
            for k in 0..imgs {
                let xk = &xp[k * c_in * plane..(k + 1) * c_in * plane];
                transform(Pass::Input { xp: xk, c_in, plane, wp }, tw, ty0, rows, tbp, &mut vv[k * per..]);
            }
            for (xi_, l) in lhs.iter().enumerate() {
                for pc in (0..c_in).step_by(kds) {
                    let kc = kds.min(c_in - pc);
                    let b = Offsets { base: vv[(xi_ * c_in + pc) * tbp..].as_ptr(), offsets: offsets[..kc].as_ptr() };
                    // SAFETY: row ci of the slice starts at (ξ·c_in + pc + ci)·tbp and is
                    // read for round_up(nb, NR) ≤ tbp columns (+NR slack at the end of vv);
                    // M[ξ] holds c_out rows of tbp ≥ nb columns; both buffers are this task's.
                    unsafe { l.multiply_slice(pc, kc, b, nb, mv[xi_ * c_out * tbp..].as_mut_ptr(), tbp, pc > 0) };
                }
            }
            for (k, yk) in ychunk.chunks_exact_mut(ys).enumerate() {
                transform(Pass::Output { m: &mv[k * per..], c_out, oh, ow, bias }, tw, ty0, rows, tbp, yk);
            }
        }
        give_back_scratch(&PADDED, xpv);
        give_back_scratch(&TRANSFORMED, vv);
        give_back_scratch(&PRODUCTS, mv);
    });
}

/// `V[ξ][ci][t] = (Bᵀ d B)[ξ]` for the tiles of tile rows `ty0..ty0+rows`
/// (`t` counted from the block's first tile).  Both passes run on contiguous
/// arrays (even and odd input columns split first; the vertical pass over
/// the whole block), so they vectorize.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn input_transform(xp: &[f32], c_in: usize, plane: usize, wp: usize, tw: usize, ty0: usize, rows: usize, tbp: usize, v: &mut [f32]) {
    let nb = rows * tw;
    // even[tx] = row[2tx], odd[tx] = row[2tx+1], tx in 0..=tw.
    let mut even = vec![0.0f32; tw + 1];
    let mut odd = vec![0.0f32; tw + 1];
    // h[k][j][t]: horizontal transform of input row k of each tile.
    let mut h = vec![0.0f32; 16 * nb];
    for ci in 0..c_in {
        for r in 0..rows {
            let ty = ty0 + r;
            for k in 0..4 {
                let row = &xp[ci * plane + (2 * ty + k) * wp..][..wp];
                for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                    *e = pair[0];
                    *o = pair[1];
                }
                let (e0, e1, o0, o1) = (&even[..tw], &even[1..], &odd[..tw], &odd[1..]);
                let at = |j: usize| (k * 4 + j) * nb + r * tw;
                // (x0, x1, x2, x3) = (e0, o0, e1, o1)
                zip2(&mut h[at(0)..][..tw], e0, e1, |x0, x2| x0 - x2);
                zip2(&mut h[at(1)..][..tw], o0, e1, |x1, x2| x1 + x2);
                zip2(&mut h[at(2)..][..tw], e1, o0, |x2, x1| x2 - x1);
                zip2(&mut h[at(3)..][..tw], o0, o1, |x1, x3| x1 - x3);
            }
        }
        for j in 0..4 {
            let d: [&[f32]; 4] = std::array::from_fn(|k| &h[(k * 4 + j) * nb..][..nb]);
            let out = |i: usize| ((i * 4 + j) * c_in + ci) * tbp;
            zip2(&mut v[out(0)..][..nb], d[0], d[2], |a, c| a - c);
            zip2(&mut v[out(1)..][..nb], d[1], d[2], |b, c| b + c);
            zip2(&mut v[out(2)..][..nb], d[2], d[1], |c, b| c - b);
            zip2(&mut v[out(3)..][..nb], d[1], d[3], |b, d| b - d);
        }
    }
}

/// `Y = Aᵀ m A` for every tile of the block, written into the image's output;
/// vectorized over the block's tiles, then interleaved into output rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn output_transform(
    m: &[f32],
    c_out: usize,
    bias: Option<&[f32]>,
    tbp: usize,
    tw: usize,
    ty0: usize,
    rows: usize,
    oh: usize,
    ow: usize,
    y: &mut [f32],
) {
    let nb = rows * tw;
    // s[i*2+b][t]: row i of a tile's m reduced to column b; q[a*2+b][t]: the 2×2 outputs.
    let mut s = vec![0.0f32; 8 * nb];
    let mut q = vec![0.0f32; 4 * nb];
    for co in 0..c_out {
        let yo = &mut y[co * oh * ow..(co + 1) * oh * ow];
        let ms: [&[f32]; 16] = std::array::from_fn(|xi| &m[(xi * c_out + co) * tbp..][..nb]);
        for i in 0..4 {
            let (s0, s1) = s[i * 2 * nb..][..2 * nb].split_at_mut(nb);
            zip3(s0, ms[4 * i], ms[4 * i + 1], ms[4 * i + 2], |a, b, c| a + b + c);
            zip3(s1, ms[4 * i + 1], ms[4 * i + 2], ms[4 * i + 3], |b, c, d| b - c - d);
        }
        for b in 0..2 {
            let si: [&[f32]; 4] = std::array::from_fn(|i| &s[(i * 2 + b) * nb..][..nb]);
            let (top, bottom) = q.split_at_mut(2 * nb);
            zip3(&mut top[b * nb..][..nb], si[0], si[1], si[2], |a, b, c| a + b + c);
            zip3(&mut bottom[b * nb..][..nb], si[1], si[2], si[3], |b, c, d| b - c - d);
        }
        // Interleave the two output columns of each tile into the output rows.
        for r in 0..rows {
            for a in 0..2 {
                let oy = 2 * (ty0 + r) + a;
                if oy >= oh {
                    break;
                }
                let (c0, c1) = (&q[(2 * a) * nb + r * tw..][..tw], &q[(2 * a + 1) * nb + r * tw..][..tw]);
                let yrow = &mut yo[oy * ow..(oy + 1) * ow];
                let bc = bias.map(|b| b[co]);
                for (pair, (&v0, &v1)) in yrow.chunks_exact_mut(2).zip(c0.iter().zip(c1)) {
                    (pair[0], pair[1]) = match bc {
                        Some(b) => (v0 + b, v1 + b),
                        None => (v0, v1),
                    };
                }
                if ow % 2 == 1 {
                    yrow[ow - 1] = bc.map_or(c0[tw - 1], |b| c0[tw - 1] + b);
                }
            }
        }
    }
}

/// Both transforms of one block, compiled for the baseline target or
/// (through [`transforms_avx2`]) with AVX2.
#[derive(Clone, Copy)]
enum Pass<'a> {
    /// Input transform into `V`.
    Input { xp: &'a [f32], c_in: usize, plane: usize, wp: usize },
    /// Output transform from `M`.
    Output { m: &'a [f32], c_out: usize, oh: usize, ow: usize, bias: Option<&'a [f32]> },
}

/// Runs one transform pass (`buf` is `V` for the input pass, the image's output otherwise).
#[inline(always)]
fn run_pass(pass: Pass, tw: usize, ty0: usize, rows: usize, tbp: usize, buf: &mut [f32]) {
    match pass {
        Pass::Input { xp, c_in, plane, wp } => input_transform(xp, c_in, plane, wp, tw, ty0, rows, tbp, buf),
        Pass::Output { m, c_out, oh, ow, bias } => output_transform(m, c_out, bias, tbp, tw, ty0, rows, oh, ow, buf),
    }
}

/// [`run_pass`] compiled with AVX2 (8-wide loops).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_pass_avx2(pass: Pass, tw: usize, ty0: usize, rows: usize, tbp: usize, buf: &mut [f32]) {
    run_pass(pass, tw, ty0, rows, tbp, buf)
}

/// [`run_pass`] with the widest vectors the CPU has.
fn transform(pass: Pass, tw: usize, ty0: usize, rows: usize, tbp: usize, buf: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just detected.
        return unsafe { run_pass_avx2(pass, tw, ty0, rows, tbp, buf) };
    }
    run_pass(pass, tw, ty0, rows, tbp, buf)
}

/// `out[t] = f(a[t], b[t])` over equal-length slices (a loop LLVM vectorizes).
#[inline(always)]
fn zip2(out: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for (o, (&x, &y)) in out.iter_mut().zip(a.iter().zip(b)) {
        *o = f(x, y);
    }
}

/// `out[t] = f(a[t], b[t], c[t])` over equal-length slices.
#[inline(always)]
fn zip3(out: &mut [f32], a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) {
    for (o, ((&x, &y), &z)) in out.iter_mut().zip(a.iter().zip(b).zip(c)) {
        *o = f(x, y, z);
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
            let len = g.n * g.c_out * g.out_h() * g.out_w();
            let (mut a, mut b) = (vec![0.0; len], vec![0.0; len]);
            forward(&g, &x, &w, None, &mut a);
            direct(&g, &x, &w, &mut b);
            let scale = (g.c_in * 9) as f32;
            for (k, (p, q)) in a.iter().zip(&b).enumerate() {
                assert!((p - q).abs() <= 2e-6 * scale, "{g:?} [{k}]: winograd {p} direct {q}");
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
}

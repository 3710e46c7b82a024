use std::mem::MaybeUninit;

use super::epilogue::assume_init;
use super::im2col::forward_im2col;
use super::weight_grad::weight_grad_direct;
use super::*;
use crate::kernels::gemm::{slice_depth, NR};

use crate::kernels::TestRng as Rng;

/// Calls `f(x_index, w_index, y_index)` for every in-bounds term of the
/// convolution sum (the naive 7-loop nest).
fn for_each_term(g: &Conv2dGeom, mut f: impl FnMut(usize, usize, usize)) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for b in 0..g.n {
        for co in 0..g.c_out {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ci in 0..g.c_in {
                        for ki in 0..g.kh {
                            for kj in 0..g.kw {
                                let iy = (oy * g.stride.0 + ki * g.dilation.0) as isize - g.padding.0 as isize;
                                let ix = (ox * g.stride.1 + kj * g.dilation.1) as isize - g.padding.1 as isize;
                                if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                    continue;
                                }
                                let xi = ((b * g.c_in + ci) * g.h + iy as usize) * g.w + ix as usize;
                                let wi = ((co * g.c_in + ci) * g.kh + ki) * g.kw + kj;
                                let yi = ((b * g.c_out + co) * oh + oy) * ow + ox;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn naive_forward(g: &Conv2dGeom, x: &[f32], w: &[f32]) -> Vec<f64> {
    let mut y = vec![0.0f64; g.n * g.c_out * g.out_h() * g.out_w()];
    for_each_term(g, |xi, wi, yi| y[yi] += x[xi] as f64 * w[wi] as f64);
    y
}

fn naive_input_grad(g: &Conv2dGeom, gy: &[f32], w: &[f32]) -> Vec<f64> {
    let mut gx = vec![0.0f64; g.n * g.c_in * g.h * g.w];
    for_each_term(g, |xi, wi, yi| gx[xi] += gy[yi] as f64 * w[wi] as f64);
    gx
}

fn naive_weight_grad(g: &Conv2dGeom, x: &[f32], gy: &[f32]) -> Vec<f64> {
    let mut gw = vec![0.0f64; g.c_out * g.c_in * g.kh * g.kw];
    for_each_term(g, |xi, wi, yi| gw[wi] += gy[yi] as f64 * x[xi] as f64);
    gw
}

fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str, g: &Conv2dGeom) {
    assert_eq!(got.len(), want.len(), "{what} length {g:?}");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!((a as f64 - b).abs() <= tol, "{what}[{i}] = {a}, want {b}, {g:?}");
    }
}

#[allow(clippy::too_many_arguments)]
fn geom(
    n: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride: (usize, usize),
    padding: (usize, usize),
    dilation: (usize, usize),
) -> Conv2dGeom {
    Conv2dGeom { n, c_in, h, w, c_out, kh, kw, stride, padding, dilation }
}

/// Reading a stride-2 convolution's im2col rows in place from the split
/// image gives the same bits as packing them (8-, 16- and 32-wide
/// outputs, 3×3 and 1×1 (which the policy leaves packed), dilation,
/// several k slices, bias and ReLU).
#[test]
fn split_read_in_place_matches_packing() {
    let mut rng = Rng::new(91);
    for g in [
        geom(2, 8, 32, 32, 12, 3, 3, (2, 2), (1, 1), (1, 1)),
        geom(3, 5, 31, 32, 7, 1, 1, (2, 2), (0, 0), (1, 1)),
        geom(2, 48, 9, 66, 5, 3, 3, (1, 2), (1, 1), (1, 2)),
        geom(2, 48, 16, 16, 12, 3, 3, (2, 2), (1, 1), (1, 1)),
        geom(3, 5, 8, 15, 7, 3, 3, (1, 2), (0, 1), (1, 1)),
    ] {
        assert!(g.stride.1 == 2 && (g.out_w().is_multiple_of(NR) || (g.out_w() == NR / 2 && g.out_h() % 2 == 0)), "{g:?}");
        let (x, w, b) = (rng.vec(g.n * g.c_in * g.h * g.w), rng.vec(g.c_out * g.k_dim()), rng.vec(g.c_out));
        let epi = ConvEpilogue { bias: Some(&b), relu: true, ..ConvEpilogue::default() };
        let run = |in_place: bool| {
            let mut y = vec![MaybeUninit::new(f32::NAN); g.n * g.c_out * g.out_plane()];
            forward_im2col(&g, &x, &w, epi, &mut y, in_place);
            // SAFETY: forward_im2col wrote every element.
            unsafe { assume_init(&mut y) }.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(true), run(false), "{g:?}");
    }
}

/// The shared geometries keep covering products of several `k` slices
/// (stride 1 and column stride 2) whatever `KC` is.
#[test]
fn geometries_cover_several_k_slices() {
    let several = |g: &Conv2dGeom| slice_depth(g.k_dim()) < g.k_dim();
    assert!(geometries().iter().any(|g| several(g) && g.stride == (1, 1)), "KC = {}", crate::kernels::gemm::KC);
    assert!(geometries().iter().any(|g| several(g) && g.stride.1 == 2), "KC = {}", crate::kernels::gemm::KC);
}

fn geometries() -> Vec<Conv2dGeom> {
    vec![
        geom(1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1)),
        geom(3, 2, 5, 7, 4, 3, 3, (1, 1), (1, 1), (1, 1)),
        geom(3, 1, 9, 6, 2, 3, 2, (2, 3), (0, 1), (1, 1)),
        geom(1, 3, 8, 11, 5, 3, 3, (2, 2), (2, 2), (2, 2)),
        geom(3, 4, 6, 6, 3, 1, 1, (1, 1), (0, 0), (1, 1)),
        geom(2, 4, 7, 5, 3, 1, 1, (2, 1), (0, 0), (1, 1)),
        geom(2, 2, 5, 5, 3, 1, 1, (1, 1), (1, 2), (1, 1)),
        geom(3, 2, 2, 3, 2, 5, 5, (1, 1), (2, 2), (1, 1)),  // kernel > unpadded input
        geom(1, 1, 1, 9, 2, 1, 3, (1, 3), (0, 1), (1, 2)),  // height 1
        geom(3, 3, 10, 1, 4, 3, 1, (3, 1), (1, 0), (2, 1)), // width 1
        geom(2, 2, 13, 9, 3, 4, 2, (3, 2), (2, 0), (2, 3)),
        geom(3, 5, 12, 12, 7, 3, 3, (1, 1), (1, 1), (1, 1)),
        geom(2, 1, 4, 4, 1, 3, 3, (3, 3), (0, 0), (1, 1)),
        geom(20, 2, 4, 5, 3, 2, 2, (1, 2), (1, 0), (1, 1)), // > MAX_CHUNKS images
        // Direct stride-1 path: dilation, unequal padding, several k slices (c_in·9 = 432 > KC = 384).
        geom(2, 48, 6, 7, 9, 3, 3, (1, 1), (2, 1), (2, 1)),
        geom(2, 3, 17, 19, 20, 3, 3, (1, 1), (1, 1), (1, 1)),
        // Column stride 2 (phase-split packing): ResNet's downsampling 3×3 and 1×1,
        // odd sizes, dilation with several k slices, more positions than one column block.
        geom(3, 16, 16, 16, 32, 3, 3, (2, 2), (1, 1), (1, 1)),
        geom(2, 16, 15, 13, 8, 1, 1, (2, 2), (0, 0), (1, 1)),
        geom(2, 48, 9, 11, 6, 3, 3, (1, 2), (1, 2), (1, 2)),
        // Outputs 16 and 32 wide: the im2col rows read in place from the split image.
        geom(2, 8, 32, 32, 12, 3, 3, (2, 2), (1, 1), (1, 1)),
        geom(2, 48, 9, 66, 5, 3, 3, (1, 2), (1, 1), (1, 2)),
        geom(2, 1, 140, 141, 2, 1, 1, (2, 2), (0, 0), (1, 1)),
        // Big enough to make the inner gemm go parallel and to chunk the batch.
        geom(5, 16, 20, 18, 24, 3, 3, (1, 1), (1, 1), (1, 1)),
    ]
}

/// The epilogue (bias, residual, ReLU, each alone and together) is
/// applied inside every forward path (direct, Winograd F(2×2) and F(4×4),
/// packed im2col, single image): bit for bit the same as applying it
/// afterwards in that order.
#[test]
fn epilogue_on_every_path() {
    let mut rng = Rng::new(78);
    let mut gs = geometries();
    gs.push(geom(2, 64, 4, 3, 64, 3, 3, (1, 1), (1, 1), (1, 1))); // Winograd F(2×2)
    gs.push(geom(2, 64, 3, 3, 64, 3, 3, (1, 1), (0, 0), (1, 1))); // Winograd, odd output
    gs.push(geom(2, 16, 6, 35, 16, 3, 3, (1, 1), (1, 1), (1, 1))); // Winograd F(4×4), partial vectors
    gs.push(geom(2, 64, 8, 8, 64, 3, 3, (1, 1), (1, 1), (1, 1))); // F(4×4), image lanes
    gs.push(geom(5, 16, 8, 7, 16, 3, 3, (1, 1), (1, 1), (1, 1))); // image lanes, a partial unit, partial vectors
    gs.push(geom(2, 64, 5, 6, 64, 3, 3, (1, 1), (1, 1), (1, 1))); // image lanes, a partial tile row
    gs.push(geom(2, 32, 10, 7, 32, 3, 3, (1, 1), (1, 1), (1, 1))); // image lanes, odd tile rows
    gs.push(geom(2, 16, 16, 15, 16, 3, 3, (1, 1), (1, 1), (1, 1))); // F(4×4), row pairs, partial vectors
    for g in gs {
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let w = rng.vec(g.c_out * g.k_dim());
        let b = rng.vec(g.c_out);
        let len = g.n * g.c_out * g.out_plane();
        let r = rng.vec(len);
        let mut plain = vec![0.0; len];
        conv2d_forward(&g, &x, &w, &mut plain);
        for (bias, residual, relu) in [(true, false, false), (false, true, false), (false, false, true), (true, true, true)] {
            let epi = ConvEpilogue { bias: bias.then_some(&b[..]), residual: residual.then_some(&r[..]), relu };
            let mut fused = vec![f32::NAN; len];
            conv2d_forward_fused(&g, &x, &w, epi, &mut fused);
            for (i, (&p, &q)) in fused.iter().zip(&plain).enumerate() {
                let co = (i / g.out_plane().max(1)) % g.c_out;
                let mut want = if bias { q + b[co] } else { q };
                if residual {
                    want += r[i];
                }
                if relu {
                    want = want.max(0.0);
                }
                assert_eq!(p.to_bits(), want.to_bits(), "{g:?} {epi:?} [{i}]");
            }
        }
    }
}

#[test]
fn portable_weight_grad_kernel_matches_naive() {
    let mut rng = Rng::new(77);
    for g in geometries().into_iter().filter(|g| g.stride == (1, 1) && g.out_plane() > 0) {
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
        let mut gw = vec![0.0; g.c_out * g.k_dim()];
        weight_grad_direct(&g, &x, &gy, &mut gw, false);
        let tol = 1e-5 * (g.n * g.out_plane()) as f64 + 1e-5;
        assert_close(&gw, &naive_weight_grad(&g, &x, &gy), tol, "portable weight grad", &g);
    }
}

#[test]
fn out_dims() {
    let g = geom(1, 1, 7, 8, 1, 3, 2, (2, 3), (1, 0), (2, 1));
    assert_eq!(g.out_h(), (7 + 2 - 2 * 2 - 1) / 2 + 1);
    assert_eq!(g.out_w(), (8 - 1 - 1) / 3 + 1);
    assert_eq!(geom(1, 1, 2, 2, 1, 5, 5, (1, 1), (1, 1), (1, 1)).out_h(), 0);
}

#[test]
fn matches_naive() {
    let mut rng = Rng::new(0x1234_5678_9abc_def1);
    for g in geometries() {
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
        let ylen = g.n * g.c_out * g.out_h() * g.out_w();
        let gy = rng.vec(ylen);
        let tol = 1e-5 * (g.c_in * g.kh * g.kw + g.n * g.out_h() * g.out_w()) as f64;

        let mut y = vec![f32::NAN; ylen];
        conv2d_forward(&g, &x, &w, &mut y);
        assert_close(&y, &naive_forward(&g, &x, &w), tol, "forward", &g);

        let mut gx = vec![f32::NAN; x.len()];
        conv2d_input_grad(&g, &gy, &w, &mut gx);
        assert_close(&gx, &naive_input_grad(&g, &gy, &w), tol, "input_grad", &g);

        let mut gw = vec![f32::NAN; w.len()];
        conv2d_weight_grad(&g, &x, &gy, &mut gw);
        assert_close(&gw, &naive_weight_grad(&g, &x, &gy), tol, "weight_grad", &g);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

#[test]
fn adjoint_identity() {
    let mut rng = Rng::new(0xdead_beef_cafe_f00d);
    for g in geometries() {
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
        let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
        let mut y = vec![0.0; gy.len()];
        let mut gx = vec![0.0; x.len()];
        let mut gw = vec![0.0; w.len()];
        conv2d_forward(&g, &x, &w, &mut y);
        conv2d_input_grad(&g, &gy, &w, &mut gx);
        conv2d_weight_grad(&g, &x, &gy, &mut gw);
        let (a, b, c) = (dot(&y, &gy), dot(&x, &gx), dot(&w, &gw));
        let tol = 1e-4 * (1.0 + a.abs()) + 1e-5 * gy.len() as f64;
        assert!((a - b).abs() <= tol && (a - c).abs() <= tol, "{a} {b} {c} {g:?}");
    }
}

#[test]
fn empty_output_zeroes_grads() {
    let g = geom(2, 2, 2, 2, 3, 5, 5, (1, 1), (0, 0), (1, 1));
    assert_eq!(g.out_h(), 0);
    let x = vec![1.0; 16];
    let w = vec![1.0; 150];
    let mut y: Vec<f32> = vec![];
    conv2d_forward(&g, &x, &w, &mut y);
    let mut gx = vec![f32::NAN; 16];
    conv2d_input_grad(&g, &y, &w, &mut gx);
    assert!(gx.iter().all(|&v| v == 0.0));
    let mut gw = vec![f32::NAN; 150];
    conv2d_weight_grad(&g, &x, &y, &mut gw);
    assert!(gw.iter().all(|&v| v == 0.0));
}

#[test]
fn bit_identical_across_thread_counts() {
    let mut rng = Rng::new(77);
    // Small weights => many batch chunks; big planes => parallel inner gemm.
    for g in [
        geom(11, 3, 17, 15, 5, 3, 3, (1, 1), (1, 1), (1, 1)),
        geom(4, 32, 24, 24, 48, 3, 3, (2, 2), (1, 1), (1, 1)),
        geom(7, 16, 12, 12, 16, 1, 1, (1, 1), (0, 0), (1, 1)),
    ] {
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
        let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut y = vec![0.0; gy.len()];
                let mut gx = vec![0.0; x.len()];
                let mut gw = vec![0.0; w.len()];
                conv2d_forward(&g, &x, &w, &mut y);
                conv2d_input_grad(&g, &gy, &w, &mut gx);
                conv2d_weight_grad(&g, &x, &gy, &mut gw);
                [y, gx, gw].concat()
            })
        };
        let (a, b) = (run(1), run(3));
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

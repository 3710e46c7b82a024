//! Kernel benchmarks and a fixed workload for instruction counts.
//!
//! `cargo bench -p autodiff --bench kernels -- [NAME...]` runs the named
//! benchmarks (all timing ones when none is named):
//! - `gemm`: GFLOP/s of square and convolution-shaped products, and of the portable microkernel;
//! - `conv`: GFLOP/s of the three convolution passes on a few shapes;
//! - `resnet_convs`: the three passes on ResNet-20's 3×3 shapes (batch 128);
//! - `split_in_place`: stride-2 convolutions reading im2col rows in place vs packing them;
//! - `winograd`: Winograd vs the direct stride-1 forward;
//! - `workload`: a fixed single-threaded run of every kernel path (GEMM 256,
//!   Winograd, direct, stride-2 and strided convolutions, a convolution pair,
//!   an LSTM sequence), printing a checksum of all output bits.  Not timed:
//!   meant for `valgrind --tool=callgrind` instruction counts, which a shared
//!   machine does not disturb.

use std::mem::MaybeUninit;
use std::time::Instant;

use autodiff::kernels::conv::{
    conv2d_forward, conv2d_forward_pair, conv2d_forward_path, conv2d_input_grad, conv2d_weight_grad, Conv2dGeom, ConvEpilogue, ForwardPath,
};
use autodiff::kernels::gemm::{gemm, gemm_portable, gemm_uninit, Epilogue, MatMut, MatRef};
use autodiff::kernels::rnn::{lstm_sequence_forward, SeqDims};

/// A deterministic generator (xorshift) of values in [-1, 1).
struct Rng(u64);

impl Rng {
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }
}

/// FNV-1a over the bits of `v`, folded into `h`.
fn fold(h: &mut u64, v: &[f32]) {
    for x in v {
        *h = (*h ^ x.to_bits() as u64).wrapping_mul(0x100_0000_01b3);
    }
}

/// `v` as initialized values (every element was written).
fn init(v: &[MaybeUninit<f32>]) -> Vec<f32> {
    // SAFETY: the callers pass outputs whose every element a kernel wrote.
    v.iter().map(|x| unsafe { x.assume_init() }).collect()
}

/// A square convolution: `n` images of `c_in × hw × hw`, `k × k` kernel, "same" padding.
fn geom(n: usize, c_in: usize, hw: usize, c_out: usize, k: usize, stride: usize) -> Conv2dGeom {
    Conv2dGeom { n, c_in, h: hw, w: hw, c_out, kh: k, kw: k, stride: (stride, stride), padding: (k / 2, k / 2), dilation: (1, 1) }
}

/// Seconds of the fastest of `reps` calls of `f`.
fn best_of(reps: usize, f: &mut dyn FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// The three passes of `g` on random data, folded into `h`.
fn conv_passes(h: &mut u64, rng: &mut Rng, g: Conv2dGeom) {
    let x = rng.vec(g.n * g.c_in * g.h * g.w);
    let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
    let mut y = vec![0.0; g.n * g.c_out * g.out_h() * g.out_w()];
    conv2d_forward(&g, &x, &w, &mut y);
    let mut gx = vec![0.0; x.len()];
    conv2d_input_grad(&g, &y, &w, &mut gx);
    let mut gw = vec![0.0; w.len()];
    conv2d_weight_grad(&g, &x, &y, &mut gw);
    fold(h, &y);
    fold(h, &gx);
    fold(h, &gw);
}

fn workload() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut sum = 0xcbf2_9ce4_8422_2325u64;
        let s = 256;
        let (a, b) = (rng.vec(s * s), rng.vec(s * s));
        for t in 0..4 {
            let mut c = vec![0.0; s * s];
            let (av, bv) = (MatRef::new(&a, s, s, s).t_if(t & 1 == 1), MatRef::new(&b, s, s, s).t_if(t & 2 == 2));
            gemm(av, bv, MatMut::new(&mut c, s, s, s), t == 3);
            fold(&mut sum, &c);
        }
        let (m, n, k) = (32, 1024, 200);
        let (a, b, bias) = (rng.vec(m * k), rng.vec(k * n), rng.vec(n));
        let mut c = vec![MaybeUninit::new(0.0); m * n];
        gemm_uninit(
            MatRef::new(&a, m, k, k),
            MatRef::new(&b, k, n, n),
            MatMut::new(&mut c, m, n, n),
            Epilogue { bias: Some(&bias), relu: true },
        );
        fold(&mut sum, &init(&c));
        conv_passes(&mut sum, &mut rng, geom(8, 16, 32, 16, 3, 1)); // Winograd
        conv_passes(&mut sum, &mut rng, geom(8, 8, 32, 8, 3, 1)); // direct
        conv_passes(&mut sum, &mut rng, geom(8, 16, 32, 32, 3, 2)); // stride 2, read in place
        conv_passes(&mut sum, &mut rng, geom(8, 16, 32, 32, 1, 2)); // stride 2 1×1, packed split
        conv_passes(&mut sum, &mut rng, geom(8, 5, 17, 7, 3, 3)); // stride 3: im2col packing
        conv_passes(&mut sum, &mut rng, geom(1, 16, 16, 16, 3, 1)); // single image
        let g = geom(8, 32, 16, 32, 3, 1);
        let (x, w1, w2) = (rng.vec(g.n * g.c_in * g.h * g.w), rng.vec(32 * 32 * 9), rng.vec(32 * 32 * 9));
        let mut y = vec![MaybeUninit::new(0.0); x.len()];
        let epi = ConvEpilogue { relu: true, ..ConvEpilogue::default() };
        conv2d_forward_pair(&g, &x, (&w1, epi), (&w2, epi), &mut y);
        fold(&mut sum, &init(&y));
        let d = SeqDims { t: 8, b: 16, h: 64 };
        let mut xp = rng.vec(d.t * d.b * 4 * d.h);
        let (w, h0, c0) = (rng.vec(4 * d.h * d.h), rng.vec(d.b * d.h), rng.vec(d.b * d.h));
        let mut out = vec![MaybeUninit::new(0.0); d.t * d.b * 2 * d.h];
        let mut act = vec![MaybeUninit::new(0.0); d.t * d.b * 4 * d.h];
        let mut tc = vec![MaybeUninit::new(0.0); d.t * d.b * d.h];
        lstm_sequence_forward(d, &mut xp, &w, (&h0, &c0), (&mut out, &mut act, &mut tc));
        fold(&mut sum, &init(&out));
        fold(&mut sum, &init(&act));
        println!("checksum {sum:016x}");
    });
}

fn bench_gemm() {
    let threads = rayon::current_num_threads();
    let mut rng = Rng(7);
    let shapes = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (64, 1024, 576), (576, 1024, 64), (64, 576, 1024)];
    for (m, n, k) in shapes {
        let (a, b) = (rng.vec(m * k), rng.vec(k * n));
        let mut c = vec![0.0f32; m * n];
        let t = best_of(20, &mut || gemm(MatRef::new(&a, m, k, k), MatRef::new(&b, k, n, n), MatMut::new(&mut c, m, n, n), false));
        println!("gemm {m}x{n}x{k}: {:.1} GFLOP/s ({threads} threads, best of 20)", 2.0 * (m * n * k) as f64 / t / 1e9);
    }
    for s in [512, 1024] {
        let (a, b) = (rng.vec(s * s), rng.vec(s * s));
        let mut c = vec![0.0f32; s * s];
        let t = best_of(5, &mut || gemm_portable(MatRef::new(&a, s, s, s), MatRef::new(&b, s, s, s), MatMut::new(&mut c, s, s, s), false));
        println!("gemm n={s} portable kernel: {:.1} GFLOP/s ({threads} threads)", 2.0 * (s as f64).powi(3) / t / 1e9);
    }
}

fn bench_conv() {
    let mut rng = Rng(3);
    for g in [geom(32, 64, 32, 64, 3, 1), geom(64, 1, 28, 32, 5, 1), geom(8, 256, 14, 256, 3, 1), geom(16, 128, 28, 256, 1, 1)] {
        let x = rng.vec(g.n * g.c_in * g.h * g.w);
        let w = rng.vec(g.c_out * g.c_in * g.kh * g.kw);
        let gy = rng.vec(g.n * g.c_out * g.out_h() * g.out_w());
        let (mut y, mut gx, mut gw) = (vec![0.0; gy.len()], vec![0.0; x.len()], vec![0.0; w.len()]);
        let gflops = 2.0 * (gy.len() * g.c_in * g.kh * g.kw) as f64 / 1e9;
        let f = gflops / best_of(5, &mut || conv2d_forward(&g, &x, &w, &mut y));
        let i = gflops / best_of(5, &mut || conv2d_input_grad(&g, &gy, &w, &mut gx));
        let wg = gflops / best_of(5, &mut || conv2d_weight_grad(&g, &x, &gy, &mut gw));
        println!("{g:?}\n  GFLOP/s: forward {f:.1}, input_grad {i:.1}, weight_grad {wg:.1}");
    }
}

fn bench_resnet_convs() {
    let mut rng = Rng(3);
    for (c_in, hw, c_out) in [(3, 32, 16), (16, 32, 16), (32, 16, 32), (64, 8, 64)] {
        let g = geom(128, c_in, hw, c_out, 3, 1);
        let x = rng.vec(g.n * c_in * hw * hw);
        let w = rng.vec(c_out * c_in * 9);
        let mut y = vec![0.0; g.n * c_out * g.out_h() * g.out_w()];
        let (mut gx, mut gw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
        let flops = 2.0 * (y.len() * c_in * 9) as f64;
        conv2d_forward(&g, &x, &w, &mut y);
        let tf = best_of(5, &mut || conv2d_forward(&g, &x, &w, &mut y));
        let ti = best_of(5, &mut || conv2d_input_grad(&g, &y, &w, &mut gx));
        let tw = best_of(5, &mut || conv2d_weight_grad(&g, &x, &y, &mut gw));
        println!(
            "{c_in:>2}->{c_out:<2} {hw:>2}x{hw:<2}: forward {:.2} ms ({:.0} GFLOP/s), input grad {:.2} ms ({:.0}), weight grad {:.2} ms ({:.0})",
            tf * 1e3,
            flops / tf / 1e9,
            ti * 1e3,
            flops / ti / 1e9,
            tw * 1e3,
            flops / tw / 1e9
        );
    }
}

/// Best of `reps` milliseconds of `f` on a pool of `threads`, after one warm-up call.
fn best_ms_on(threads: usize, reps: usize, f: &mut (dyn FnMut() + Send)) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        f();
        best_of(reps, f) * 1e3
    })
}

fn bench_split_in_place() {
    let mut rng = Rng(5);
    for threads in [1, 2] {
        for g in [geom(128, 16, 32, 32, 3, 2), geom(128, 16, 32, 32, 1, 2), geom(128, 32, 16, 64, 3, 2)] {
            let (x, w) = (rng.vec(g.n * g.c_in * g.h * g.w), rng.vec(g.c_out * g.c_in * g.kh * g.kw));
            let mut y = vec![0.0f32; g.n * g.c_out * g.out_h() * g.out_w()];
            let mut run = |in_place: bool| {
                best_ms_on(threads, 15, &mut || conv2d_forward_path(&g, &x, &w, &mut y, ForwardPath::Strided { in_place }))
            };
            let (t_in, t_packed) = (run(true), run(false));
            println!(
                "{threads} thread(s) {}x{} stride 2, {}->{} ch: in place {t_in:.3} ms, packed {t_packed:.3} ms",
                g.kh, g.kw, g.c_in, g.c_out
            );
        }
    }
}

fn bench_winograd() {
    let mut rng = Rng(4);
    for threads in [1, 2] {
        for (c, hw) in [(16, 32), (32, 16), (64, 8)] {
            let g = geom(128, c, hw, c, 3, 1);
            let (x, w) = (rng.vec(g.n * c * hw * hw), rng.vec(c * c * 9));
            let mut y = vec![0.0; g.n * c * hw * hw];
            let mut run = |path: ForwardPath| best_ms_on(threads, 7, &mut || conv2d_forward_path(&g, &x, &w, &mut y, path));
            let (t2, t4, td) = (run(ForwardPath::Winograd { tile: 2 }), run(ForwardPath::Winograd { tile: 4 }), run(ForwardPath::Direct));
            println!("{threads} thread(s) {c:>2}ch {hw:>2}x{hw:<2}: F(2x2) {t2:.2} ms, F(4x4) {t4:.2} ms, direct {td:.2} ms (best of 7)");
        }
    }
}

fn main() {
    let names: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let benches: [(&str, fn()); 6] = [
        ("gemm", bench_gemm),
        ("conv", bench_conv),
        ("resnet_convs", bench_resnet_convs),
        ("split_in_place", bench_split_in_place),
        ("winograd", bench_winograd),
        ("workload", workload),
    ];
    for (name, run) in benches {
        if names.iter().any(|n| n == name) || (names.is_empty() && name != "workload") {
            run();
        }
    }
}

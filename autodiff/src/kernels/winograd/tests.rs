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
                    (&w, ConvEpilogue { bias: Some(&bias), ..ConvEpilogue::default() }),
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
            pool.install(|| forward_with(&g, &x, (&w, ConvEpilogue::default()), None, unsafe { as_uninit(&mut y) }, Isa::detect(), m));
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
                    forward_with(&g, &x, (&w1, epi1), None, unsafe { as_uninit(&mut mid) }, isa, 4);
                    forward_with(&g, &mid, (&w2, epi2), None, unsafe { as_uninit(&mut want) }, isa, 4);
                    forward_with(&g, &x, (&w1, epi1), Some((&w2[..], epi2)), unsafe { as_uninit(&mut got) }, isa, 4);
                });
                let same = got.iter().zip(&want).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same, "{g:?} {isa:?} {threads} threads");
            }
        }
    }
}

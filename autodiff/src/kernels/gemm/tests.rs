use super::blocking::{tile_grid, MC, NB};
use super::macrokernel::{multiply_packed, BlockC};
use super::microkernel::kernel_scalar;
#[cfg(target_arch = "x86_64")]
use super::microkernel::{avx2_fma_available, kernel_avx2_fma};
use super::pack_a::pack_a;
use super::pack_b::pack_b_panel;
use super::transpose::transpose_simd_available;
use super::*;

/// Small deterministic generator of values in [-1, 1).
use crate::kernels::TestRng as Rng;

/// `rows × cols` view of `data` (row stride `ld`), stored transposed when `trans`.
fn op(data: &[f32], rows: usize, cols: usize, ld: usize, trans: bool) -> MatRef<'_> {
    if trans {
        MatRef::new(data, cols, rows, ld).t()
    } else {
        MatRef::new(data, rows, cols, ld)
    }
}

/// Runs one configuration through `kernel` and the naive reference.
#[allow(clippy::too_many_arguments)]
fn check(kernel: Kernel<Packed>, m: usize, n: usize, k: usize, ta: bool, tb: bool, pad: usize, accumulate: bool, seed: u64) {
    let mut rng = Rng::new(seed);
    let (ar, ac) = if ta { (k, m) } else { (m, k) };
    let (br, bc) = if tb { (n, k) } else { (k, n) };
    let (lda, ldb, ldc) = (ac + pad, bc + 2 * pad, n + 3 * pad);
    let a = rng.vec(ar * lda);
    let b = rng.vec(br * ldb);
    let c0 = rng.vec(m * ldc);
    let mut c = c0.clone();
    let mut r = c0.clone();
    gemm_with(
        kernel,
        op(&a, m, k, lda, ta),
        op(&b, k, n, ldb, tb),
        MatMut::new(&mut c, m, n, ldc).into_uninit(),
        accumulate,
        Epilogue::default(),
    );
    gemm_naive(op(&a, m, k, lda, ta), op(&b, k, n, ldb, tb), MatMut::new(&mut r, m, n, ldc), accumulate);
    let tol = 1e-5 * (k as f32 + 2.0);
    for i in 0..m {
        for j in 0..ldc {
            let (x, y) = (c[i * ldc + j], r[i * ldc + j]);
            if j >= n {
                assert_eq!(x.to_bits(), c0[i * ldc + j].to_bits(), "padding touched");
            } else {
                assert!(
                    (x - y).abs() <= tol,
                    "m={m} n={n} k={k} ta={ta} tb={tb} pad={pad} acc={accumulate}: \
                     c[{i},{j}]={x} ref={y}"
                );
            }
        }
    }
}

fn kernels() -> Vec<Kernel<Packed>> {
    let mut v: Vec<Kernel<Packed>> = vec![kernel_scalar::<Packed>];
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        v.push(kernel_avx2_fma::<Packed>);
    }
    v
}

#[test]
fn small_sizes_exhaustive() {
    let sizes = [0, 1, 2, 3, 5, 7, 8, 13, 16, 19];
    let mut seed = 1;
    for kernel in kernels() {
        for &m in &sizes {
            for &n in &sizes {
                for &k in &sizes {
                    for t in 0..4 {
                        let (ta, tb) = (t & 1 == 1, t & 2 == 2);
                        seed += 1;
                        check(kernel, m, n, k, ta, tb, seed as usize % 3, seed % 2 == 0, seed);
                    }
                }
            }
        }
    }
}

#[test]
fn multiples_of_seven() {
    let mut seed = 1000;
    for kernel in kernels() {
        for s in (7..=70).step_by(7) {
            for t in 0..4 {
                let (ta, tb) = (t & 1 == 1, t & 2 == 2);
                seed += 1;
                check(kernel, s, 77 - s, s + 3, ta, tb, 1, seed % 2 == 0, seed);
                check(kernel, s, s, s, ta, tb, 0, seed % 2 == 1, seed);
            }
        }
    }
}

#[test]
fn big_sizes_all_transpositions() {
    let mut seed = 5000;
    for kernel in kernels() {
        // The last two have one row block: narrowed tiles sharing one packed A.
        // (250, ..): the tile grid, packing A and B lazily, over two k
        // slices, then over two column blocks of NC (A reused by the second).
        let sizes = [(130, 257, 99), (97, 300, 513), (200, 4100, 3), (250, 300, 700), (250, 4100, 20), (32, 1000, 300), (50, 600, 20)];
        for &(m, n, k) in &sizes {
            for t in 0..4 {
                let (ta, tb) = (t & 1 == 1, t & 2 == 2);
                seed += 1;
                check(kernel, m, n, k, ta, tb, 5, seed % 2 == 0, seed);
            }
        }
    }
}

/// A product whose packed `op(A)` is too big to share (each tile packs
/// its own rows).
#[test]
fn unshared_a_all_transpositions() {
    let (m, n, k) = (2100, 20, 2001);
    assert!(!shares_a(m, k));
    for t in 0..4 {
        let (ta, tb) = (t & 1 == 1, t & 2 == 2);
        check(select_kernel(), m, n, k, ta, tb, 1, t % 2 == 0, 7000 + t as u64);
    }
}

/// Short products (full-height column tiles packing their own `B`) match
/// the naive product, and give the bits of the blocked path (`gemm_packed`)
/// at 1 and 3 threads, with and without accumulation.
#[test]
fn short_products_match_blocked_path_bitwise() {
    let mut rng = Rng::new(9);
    for (m, n, k) in [(1, 700, 300), (7, 33, 600), (20, 300, 17), (128, 512, 784), (SHORT_M, 100, 50), (SHORT_M + 1, 100, 50)] {
        for t in 0..4 {
            let (ta, tb) = (t & 1 == 1, t & 2 == 2);
            check(select_kernel(), m, n, k, ta, tb, 1, t % 2 == 1, 9000 + t as u64);
            let (a, b, c0) = (rng.vec(m * k), rng.vec(k * n), rng.vec(m * n));
            let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
            let packed = PackedB::new(op(&b, k, n, ldb, tb));
            for accumulate in [false, true] {
                let mut want = c0.clone();
                gemm_packed(op(&a, m, k, lda, ta), &packed, MatMut::new(&mut want, m, n, n), accumulate);
                for threads in [1, 3] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut c = c0.clone();
                    pool.install(|| gemm(op(&a, m, k, lda, ta), op(&b, k, n, ldb, tb), MatMut::new(&mut c, m, n, n), accumulate));
                    assert!(c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "m={m} n={n} k={k} t={t} threads={threads}");
                }
            }
        }
    }
}

/// The AVX transposing pack of a full panel of a transposed `B` gives
/// the same panel as the scalar loop, for every depth up to 20 and
/// multiples of 7.
#[test]
fn transposed_b_panel_simd_matches_scalar() {
    if !transpose_simd_available() {
        return;
    }
    let mut rng = Rng::new(5);
    for kc in (0..=20).chain((21..=70).step_by(7)) {
        for (pc, ld) in [(0, kc), (3, kc + 5)] {
            let data = rng.vec(NR * ld + pc + 8);
            let b = op(&data, ld, NR, ld, true);
            let (mut x, mut y) = (vec![f32::NAN; kc * NR], vec![0.5; kc * NR]);
            if pc + kc <= ld {
                pack_b_panel(&b, pc, kc, 0, NR, &mut x, true);
                pack_b_panel(&b, pc, kc, 0, NR, &mut y, false);
                assert!(x.iter().zip(&y).all(|(u, v)| u.to_bits() == v.to_bits()), "kc={kc} pc={pc} ld={ld}");
            }
        }
    }
}

/// Packing a row-major `A` (the AVX path where available) puts every
/// element where the layout says, zero pads partial panels and writes
/// nothing past its panels, for depths 1..20 and multiples of 7 (a
/// product of depth 0 never packs).
#[test]
fn row_major_a_panels_follow_the_layout() {
    let mut rng = Rng::new(9);
    for kc in (1..=20).chain((21..=70).step_by(7)) {
        for (m, i0, pc, extra) in [(6, 0, 0, 0), (13, 1, 2, 3), (24, 0, 5, 1), (17, 4, 1, 0)] {
            let ld = pc + kc + extra;
            let data = rng.vec(ld * (i0 + m));
            let a = MatRef::new(&data, i0 + m, ld, ld);
            let len = round_up(m, MR) * kc;
            let mut buf = vec![f32::NAN; len + 16];
            pack_a(&a, i0, m, pc, kc, &mut buf[..len]);
            for p in 0..len / (kc * MR) {
                for kk in 0..kc {
                    for r in 0..MR {
                        let want = if p * MR + r < m { data[(i0 + p * MR + r) * ld + pc + kk] } else { 0.0 };
                        assert_eq!(buf[(p * kc + kk) * MR + r].to_bits(), want.to_bits(), "kc={kc} m={m} p={p} kk={kk} r={r}");
                    }
                }
            }
            assert!(buf[len..].iter().all(|v| v.is_nan()), "kc={kc} m={m}: wrote past the panels");
        }
    }
}

/// The tile grid covers `C` exactly with blocks as even as the panel
/// granularity allows.
#[test]
fn tile_grid_covers_and_balances() {
    for m in (1..300).step_by(7).chain([128, 512, 1024]) {
        for nc in (1..1100).step_by(13).chain([512, 784, 1024]) {
            for parallel in [false, true] {
                let (mc, tile_n, col_blocks) = tile_grid(m, nc, parallel);
                assert!(mc % MR == 0 && mc <= MC && tile_n % NR == 0 && tile_n <= NB);
                let rows = m.div_ceil(mc);
                assert!(rows * mc >= m && (rows - 1) * mc < m && col_blocks * tile_n >= nc && (col_blocks - 1) * tile_n < nc);
                assert!(mc <= round_up(m.div_ceil(rows), MR) && tile_n <= round_up(nc.div_ceil(col_blocks), NR));
            }
        }
    }
}

/// Both microkernels reading `B` rows through an offset table
/// (overlapping, unordered rows) against the naive product.
#[test]
fn offset_rows_all_kernels() {
    let mut rng = Rng::new(31);
    let mut kernels: Vec<Kernel<Offsets>> = vec![kernel_scalar::<Offsets>];
    #[cfg(target_arch = "x86_64")]
    if avx2_fma_available() {
        kernels.push(kernel_avx2_fma::<Offsets>);
    }
    for kernel in kernels {
        for &(m, n, k) in &[(1, 1, 1), (6, 16, 5), (7, 17, 19), (13, 40, 3), (20, 33, 64)] {
            let base = rng.vec(200 + n + NR);
            let offsets: Vec<usize> = (0..k).map(|r| (r * 37 + 11) % 200).collect();
            let a = rng.vec(m * k);
            let lhs = PackedLhs::new(MatRef::new(&a, m, k, k));
            let mut c = vec![0.0; m * n];
            let kd = slice_depth(k);
            for pc in (0..k).step_by(kd) {
                let kc = kd.min(k - pc);
                let b = Offsets { base: base.as_ptr(), offsets: offsets[pc..pc + kc].as_ptr() };
                // SAFETY: rows read base[offset + j] with j < round_up(n, NR) ≤ n + NR; C is m × n.
                unsafe { multiply_packed(kernel, lhs.slice(pc, kc), b, BlockC { ptr: c.as_mut_ptr(), ld: n, cols: n }, pc > 0) };
            }
            for i in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k).map(|p| a[i * k + p] as f64 * base[offsets[p] + j] as f64).sum();
                    assert!((c[i * n + j] as f64 - want).abs() < 1e-4, "m={m} n={n} k={k} c[{i},{j}]");
                }
            }
        }
    }
}

#[test]
fn short_panels_match_full_panels_bitwise() {
    let mut rng = Rng::new(11);
    let kc = 37;
    let (a, b) = (rng.vec(kc * MR), rng.vec(kc * NR));
    let run = |kernel: Kernel<Packed>, rows: usize| {
        let mut c = [0.0f32; MR * NR];
        // SAFETY: a is kc·MR, b is kc·NR, c is an MR × NR tile.
        unsafe { kernel(kc, rows, a.as_ptr(), Packed(b.as_ptr()), c.as_mut_ptr(), NR, false) };
        c
    };
    for kernel in kernels() {
        let full = run(kernel, MR);
        for rows in 1..MR {
            let part = run(kernel, rows);
            assert!(part[..rows * NR].iter().zip(&full).all(|(x, y)| x.to_bits() == y.to_bits()), "rows={rows}");
        }
    }
}

#[test]
fn prepacked_b_is_bit_identical() {
    let mut rng = Rng::new(77);
    for (m, n, k, ta, tb) in [(32, 1024, 256, false, true), (7, 4100, 3, true, false), (5, 17, 300, false, false), (3, 0, 4, false, false)]
    {
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let (a, b) = (rng.vec(ar * ac), rng.vec(br * bc));
        let c0 = rng.vec(m * n);
        for accumulate in [false, true] {
            let (mut c1, mut c2) = (c0.clone(), c0.clone());
            gemm(op(&a, m, k, ac, ta), op(&b, k, n, bc, tb), MatMut::new(&mut c1, m, n, n), accumulate);
            gemm_packed(op(&a, m, k, ac, ta), &PackedB::new(op(&b, k, n, bc, tb)), MatMut::new(&mut c2, m, n, n), accumulate);
            assert!(c1.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()), "m={m} n={n} k={k}");
            let mut c3 = c0.clone();
            gemm_packed_serial(op(&a, m, k, ac, ta), &PackedB::new(op(&b, k, n, bc, tb)), MatMut::new(&mut c3, m, n, n), accumulate);
            assert!(c1.iter().zip(&c3).all(|(x, y)| x.to_bits() == y.to_bits()), "serial m={m} n={n} k={k}");
        }
    }
}

/// `gemm_uninit` writes every element of its block (the rest of a
/// NaN-filled buffer is left alone) with `gemm`'s bits, plus the
/// epilogue with the bits of applying it afterwards.
#[test]
fn uninit_output_matches_gemm() {
    let mut rng = Rng::new(123);
    for (m, n, k) in [(0, 3, 2), (3, 0, 2), (4, 5, 0), (7, 19, 13), (128, 40, 300), (30, 515, 7), (200, 600, 300), (5, NC + 100, 3)] {
        for t in 0..4 {
            let (ta, tb) = (t & 1 == 1, t & 2 == 2);
            let (a, b) = (rng.vec(m * k), rng.vec(k * n));
            let (lda, ldb, ldc) = (if ta { m } else { k }, if tb { k } else { n }, n + 2);
            let mut want = vec![f32::NAN; m * ldc];
            gemm(op(&a, m, k, lda, ta), op(&b, k, n, ldb, tb), MatMut::new(&mut want, m, n, ldc), false);
            let bias = rng.vec(n);
            for (with_bias, relu) in [(false, false), (true, false), (false, true), (true, true)] {
                let mut got = vec![std::mem::MaybeUninit::new(f32::NAN); m * ldc];
                let epilogue = Epilogue { bias: with_bias.then_some(&bias[..]), relu };
                gemm_uninit(op(&a, m, k, lda, ta), op(&b, k, n, ldb, tb), MatMut::new(&mut got, m, n, ldc), epilogue);
                // SAFETY: every element was initialized (to NaN) before the call.
                let got: Vec<f32> = got.iter().map(|v| unsafe { v.assume_init() }).collect();
                let finish = |j: usize, v: f32| {
                    let v = if with_bias { v + bias[j] } else { v };
                    if relu {
                        v.max(0.0)
                    } else {
                        v
                    }
                };
                let want: Vec<f32> =
                    want.chunks(ldc).flat_map(|r| r.iter().enumerate().map(|(j, &v)| if j < n { finish(j, v) } else { v })).collect();
                assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "m={m} n={n} k={k} t={t} {epilogue:?}");
                assert!(got.chunks(ldc).all(|r| r[..n].iter().all(|v| v.is_finite()) && r[n..].iter().all(|v| v.is_nan())));
            }
        }
    }
}

#[test]
fn public_entry_point_and_k_zero() {
    let mut c = vec![7.0f32; 6];
    gemm(op(&[], 2, 0, 0, false), op(&[], 0, 3, 3, false), MatMut::new(&mut c, 2, 3, 3), true);
    assert!(c.iter().all(|&v| v == 7.0));
    gemm(op(&[], 2, 0, 0, false), op(&[], 0, 3, 3, false), MatMut::new(&mut c, 2, 3, 3), false);
    assert!(c.iter().all(|&v| v == 0.0));
    check(select_kernel::<Packed>(), 61, 45, 300, false, true, 2, true, 99);
}

#[test]
fn bit_identical_across_thread_counts() {
    let mut rng = Rng::new(42);
    // Square-ish, short-and-wide (narrowed tiles), and the tile grid
    // (blocks of A and B packed by whichever thread gets there first).
    for (m, n, k) in [(203, 517, 301), (32, 256, 1024), (5, 1000, 64), (300, 517, 401)] {
        let a = rng.vec(m * k);
        let b = rng.vec(k * n);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut c = vec![0.5f32; m * n];
            pool.install(|| gemm(op(&a, m, k, k, false), op(&b, k, n, n, false), MatMut::new(&mut c, m, n, n), true));
            c
        };
        let c1 = run(1);
        let c3 = run(3);
        assert!(c1.iter().zip(&c3).all(|(x, y)| x.to_bits() == y.to_bits()), "m={m} n={n} k={k}");
    }
}

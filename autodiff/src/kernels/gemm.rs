//! Single-precision matrix multiplication (GEMM).
//!
//! BLIS-style structure: the columns of `C` are walked in blocks of `NC`; for each
//! block the matching part of `op(B)` is packed into `NR`-wide column panels,
//! grouped by slices of the reduction dimension (`k` cut into equal slices of at
//! most `KC`), and `op(A)` (when its packed form is small, which is the common
//! case) into `MR`-tall row panels once for the whole product, both in one
//! parallel pass.  `C` is then cut into a grid of at most `MC × NB` tiles, as
//! even as the panel sizes allow (narrower when `C` has few rows), which run in
//! parallel; each runs the macro-kernel ([`multiply_packed`]) slice by slice
//! (packing its own rows of a large `op(A)` first): the register-blocked
//! microkernel on every `MR × NR` sub-tile, storing straight into `C`.
//! Packing buffers are cached per thread and reused across calls.
//!
//! The same packed layout and macro-kernel serve the convolutions
//! (`kernels::conv`), which pack their right-hand side straight from the image
//! (implicit im2col) and their left-hand side once per call ([`PackedLhs`]).
//!
//! Determinism: every element of `C` is owned by exactly one tile and its reduction
//! over `k` always runs in the same order (microkernel over a slice, slices added
//! to `C` in increasing `k`), so results are bit-identical for any number of
//! rayon threads.  The grid does not depend on the thread count either.
//!
//! The microkernel is the SIMD boundary: `Kernel` is a plain function pointer,
//! chosen once per call by `select_kernel`.  On x86-64 an AVX2+FMA kernel
//! written with intrinsics is used when the CPU supports it; otherwise the
//! portable scalar kernel (written so LLVM vectorizes it with the baseline
//! SSE2) runs.  The two paths round differently (fused vs separate
//! multiply-add), so results are reproducible per machine, not across machines.

use std::cell::Cell;
use std::sync::OnceLock;
use std::thread::LocalKey;

use rayon::prelude::*;

/// Rows of the register-blocked microkernel tile.
pub(crate) const MR: usize = 6;
/// Columns of the register-blocked microkernel tile.
pub(crate) const NR: usize = 16;
/// Depth of one packed slice of the reduction dimension: a 1024-deep product
/// runs as 3 slices of 342, whose `B` micro-panel (21.9 KB) and `A`
/// micro-panel (8.2 KB) still fit a 32 KB L1 (2–3% faster at 1024 than 256).
pub(crate) const KC: usize = 384;
/// Rows of `C` per parallel tile (multiple of `MR`): 1024 rows make 9 row
/// blocks of 114 (36 tiles of 256 columns), whose `A` block (156 KB at the
/// 342-deep slices) stays in L2; SGEMM 1024 at 2 threads ran 3% faster than
/// with 96 (72, 144 and 192 were no better than 96).
const MC: usize = 120;
/// Columns of `C` per parallel tile (multiple of `NR`).
const NB: usize = 256;
/// Parallel products are cut into at least this many tiles when `C` is wide
/// enough (narrowing tiles down to `NR` columns).
const MIN_TILES: usize = 8;
/// Columns of `op(B)` packed at once (multiple of `NB`); bounds the packed-B buffer.
const NC: usize = 4096;
/// `op(A)` is packed once and shared by all tiles when its packed form holds
/// at most this many floats, 16 MB (see [`shares_a`]): large enough for the
/// 1024 × 2048 transposed gradient of an LSTM's weight gradients, which
/// otherwise is packed again for each column block.
const SHARED_A_MAX: usize = 1 << 22;
/// Products with at most this many rows (and a shared `op(A)`) run as one
/// row of full-height column tiles that pack their own part of `op(B)`
/// ([`multiply_short`]).
const SHORT_M: usize = 2 * MC;
/// Problems with fewer flops than this run on the calling thread only.
const PAR_FLOPS: usize = 1 << 21;

/// Depth of the `k` slices actually used: `k` split into equal slices of at most
/// `KC` (avoids a short trailing slice).  Depends on `k` only.
pub(crate) fn slice_depth(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1))
}

/// Where a microkernel reads its `kc × NR` block of `B`: row `kk` (`NR`
/// consecutive floats) starts at [`PanelB::row`]`(kk)`.
pub(crate) trait PanelB: Copy {
    /// Start of row `kk`.
    ///
    /// # Safety
    /// `kk` must be below the `kc` the panel was built for.
    unsafe fn row(self, kk: usize) -> *const f32;
    /// Start of the second half of row `kk` (its last `NR / 2` floats):
    /// right after the first half unless the source says otherwise.
    ///
    /// # Safety
    /// As [`PanelB::row`].
    #[inline(always)]
    unsafe fn row_hi(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract (a row holds NR floats).
        unsafe { self.row(kk).add(NR / 2) }
    }
    /// The same source moved `cols` columns to the right.
    ///
    /// # Safety
    /// The moved panel must still lie in the underlying buffer.
    unsafe fn shift(self, cols: usize, kc: usize) -> Self;
}

/// A packed panel: rows of `NR` floats one after another.
#[derive(Clone, Copy)]
pub(crate) struct Packed(pub(crate) *const f32);

impl PanelB for Packed {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract.
        unsafe { self.0.add(kk * NR) }
    }
    #[inline(always)]
    unsafe fn shift(self, cols: usize, kc: usize) -> Self {
        // Panels of kc × NR follow each other; `cols` is a multiple of NR.
        // SAFETY: forwarded contract.
        Packed(unsafe { self.0.add(cols * kc) })
    }
}

/// An unpacked source: row `kk` starts at `base + offsets[kk]` (the rows of a
/// direct convolution are shifted views of one zero-padded image).
#[derive(Clone, Copy)]
pub(crate) struct Offsets {
    /// First column of the panel.
    pub(crate) base: *const f32,
    /// Offset of each row from `base`.
    pub(crate) offsets: *const usize,
}

impl PanelB for Offsets {
    #[inline(always)]
    unsafe fn row(self, kk: usize) -> *const f32 {
        // SAFETY: forwarded contract.
        unsafe { self.base.add(*self.offsets.add(kk)) }
    }
    #[inline(always)]
    unsafe fn shift(self, cols: usize, _kc: usize) -> Self {
        // SAFETY: forwarded contract.
        Offsets { base: unsafe { self.base.add(cols) }, ..self }
    }
}

/// A microkernel: `C[MR × NR] (+)= A·B` over `kc` steps, where `a` is a packed
/// `A` micro-panel (`kc × MR`, `MR` contiguous per step), `b` gives the rows
/// of `B` (`NR` floats each, in two halves: [`PanelB::row`] and
/// [`PanelB::row_hi`]) and `c` is the top-left element of an `MR × NR`
/// tile of `C` with row stride `ldc`; `accumulate` adds to `C` instead of
/// overwriting.  Only the first `rows` rows matter: a short panel (the last
/// one when `m` is not a multiple of `MR`, e.g. 32 = 5·6 + 2) skips the
/// padding rows' multiply-adds.  Each element's sum runs over `k` in the same
/// order whatever `rows`, so a short panel gives the same bits as a full one.
///
/// Safety contract: `a` is valid for `kc·MR` reads, every `b.row(kk)` and
/// `b.row_hi(kk)` for `NR / 2` reads, and the `MR` rows of `NR` elements at
/// `c + r·ldc` are valid for writes and not aliased by any live reference.  Exactly the first
/// [`written_rows`]`(rows)` rows of the tile are written (so when that equals
/// `rows`, only those rows need to be valid).
pub(crate) type Kernel<B> = unsafe fn(usize, usize, *const f32, B, *mut f32, usize, bool);

/// Rows of the C tile a [`Kernel`] writes for `rows` wanted: 2, 4 or `MR`.
pub(crate) fn written_rows(rows: usize) -> usize {
    match rows {
        0..=2 => 2,
        3..=4 => 4,
        _ => MR,
    }
}

/// Portable microkernel (separate multiply and add), written over arrays so
/// that LLVM vectorizes it with whatever the baseline target offers.
///
/// # Safety
/// The [`Kernel`] contract.
unsafe fn kernel_scalar<B: PanelB>(kc: usize, rows: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    // SAFETY: forwarded Kernel contract.
    unsafe {
        match rows {
            0..=2 => scalar_body::<B, 2>(kc, a, b, c, ldc, accumulate),
            3..=4 => scalar_body::<B, 4>(kc, a, b, c, ldc, accumulate),
            _ => scalar_body::<B, MR>(kc, a, b, c, ldc, accumulate),
        }
    }
}

/// [`kernel_scalar`] over the first `ROWS` rows.
///
/// # Safety
/// The [`Kernel`] contract.
#[inline(always)]
unsafe fn scalar_body<B: PanelB, const ROWS: usize>(kc: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    // SAFETY: the caller guarantees these extents (Kernel contract).
    let a = unsafe { std::slice::from_raw_parts(a, kc * MR) };
    let mut acc = [[0.0f32; NR]; ROWS];
    for (kk, ap) in a.chunks_exact(MR).enumerate() {
        // SAFETY: kk < kc (Kernel contract): both halves hold NR / 2 floats.
        let (lo, hi) = unsafe { (&*(b.row(kk) as *const [f32; NR / 2]), &*(b.row_hi(kk) as *const [f32; NR / 2])) };
        let bp: [f32; NR] = std::array::from_fn(|j| if j < NR / 2 { lo[j] } else { hi[j - NR / 2] });
        for (row, &ai) in acc.iter_mut().zip(ap) {
            for (c, &bj) in row.iter_mut().zip(&bp) {
                *c += ai * bj;
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        // SAFETY: row r < MR of the tile is valid for NR writes and unaliased (Kernel contract).
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), NR) };
        if accumulate {
            row.iter_mut().zip(accr).for_each(|(d, &v)| *d += v);
        } else {
            row.copy_from_slice(accr);
        }
    }
}

/// AVX2 + FMA microkernel: twelve 8-wide accumulators (6 rows × 2 vectors),
/// per step two loads of `B`, six broadcasts of `A` and twelve FMAs.
///
/// # Safety
/// The [`Kernel`] contract, and the CPU must support AVX2 and FMA (only
/// handed out by `select_kernel` or tests after `avx2_fma_available()`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2_fma<B: PanelB>(kc: usize, rows: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    // SAFETY: forwarded Kernel contract; AVX2 and FMA are enabled here.
    unsafe {
        match rows {
            0..=2 => avx2_body::<B, 2>(kc, a, b, c, ldc, accumulate),
            3..=4 => avx2_body::<B, 4>(kc, a, b, c, ldc, accumulate),
            _ => avx2_body::<B, MR>(kc, a, b, c, ldc, accumulate),
        }
    }
}

/// [`kernel_avx2_fma`] over the first `ROWS` rows.
///
/// # Safety
/// As [`kernel_avx2_fma`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn avx2_body<B: PanelB, const ROWS: usize>(kc: usize, a: *const f32, b: B, c: *mut f32, ldc: usize, accumulate: bool) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
    let mut a = a;
    // SAFETY: every pointer offset stays inside the extents of the Kernel contract.
    unsafe {
        // Fetch the C tile while the k loop runs, so the final update does
        // not wait on cache misses.
        for r in 0..ROWS {
            let p = c.add(r * ldc) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.add(60));
        }
        for kk in 0..kc {
            let b0 = _mm256_loadu_ps(b.row(kk));
            let b1 = _mm256_loadu_ps(b.row_hi(kk));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let ar = _mm256_broadcast_ss(&*a.add(r));
                acc_r[0] = _mm256_fmadd_ps(ar, b0, acc_r[0]);
                acc_r[1] = _mm256_fmadd_ps(ar, b1, acc_r[1]);
            }
            a = a.add(MR);
        }
        for (r, acc_r) in acc.iter().enumerate() {
            let p = c.add(r * ldc);
            let (mut v0, mut v1) = (acc_r[0], acc_r[1]);
            if accumulate {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p.add(8)));
            }
            _mm256_storeu_ps(p, v0);
            _mm256_storeu_ps(p.add(8), v1);
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Picks the fastest microkernel the running CPU supports.
pub(crate) fn select_kernel<B: PanelB>() -> Kernel<B> {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_fma_available() {
            return kernel_avx2_fma::<B>;
        }
    }
    kernel_scalar::<B>
}

/// C (m×n, row stride ldc) = op(A)·op(B) (+ C if accumulate).
/// A: if !trans_a, m×k with row stride lda; if trans_a, stored as k×m (row stride lda) and used transposed.
/// B: if !trans_b, k×n with row stride ldb; if trans_b, stored as n×k (row stride ldb) and used transposed.
///
/// With `k == 0` the product is zero: `C` is zeroed, or left alone when accumulating.
/// Results are bit-identical for any rayon thread count.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    count_flops(2 * m * n * k);
    let kernel = select_kernel();
    gemm_with(kernel, m, n, k, a, lda, trans_a, b, ldb, trans_b, (c.as_mut_ptr(), c.len()), ldc, accumulate, Epilogue::default());
}

/// [`gemm`] without accumulation into a `C` that need not be initialized
/// (e.g. the spare capacity of a new `Vec`): every element of the `m × n`
/// block is written, so a fresh output needs no zero-filling first.  The
/// [`Epilogue`] is applied to each finished tile while it is in cache (the
/// same bits as applying it afterwards).
#[allow(clippy::too_many_arguments)]
pub fn gemm_uninit(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [std::mem::MaybeUninit<f32>],
    ldc: usize,
    epilogue: Epilogue,
) {
    count_flops(2 * m * n * k);
    let kernel = select_kernel();
    // Without accumulation C is only written (raw stores) before being read.
    gemm_with(kernel, m, n, k, a, lda, trans_a, b, ldb, trans_b, (c.as_mut_ptr().cast(), c.len()), ldc, false, epilogue);
}

/// Adds `n` to [`flop_count`].
pub(crate) fn count_flops(n: usize) {
    FLOPS.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
}

static FLOPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Floating-point operations done by [`gemm`] (2·m·n·k per call) and by the
/// convolutions (the direct algorithm's 2·c_out·(c_in·kh·kw)·positions per
/// image, whichever algorithm runs) in this process so far: differences of
/// this counter measure a model's FLOPs.
pub fn flop_count() -> u64 {
    FLOPS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Reference implementation of [`gemm`] (same arguments and semantics): a plain
/// triple loop accumulating each dot product in f64.  Slow; meant for tests and
/// as executable documentation.
#[allow(clippy::too_many_arguments)]
pub fn gemm_naive(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let av = if trans_a { a[p * lda + i] } else { a[i * lda + p] };
                let bv = if trans_b { b[j * ldb + p] } else { b[p * ldb + j] };
                s += av as f64 * bv as f64;
            }
            let dst = &mut c[i * ldc + j];
            *dst = if accumulate { *dst + s as f32 } else { s as f32 };
        }
    }
}

/// Checks that a row-major matrix with `rows × cols` elements and row stride `ld`
/// fits into `len` elements.
fn check_operand(name: &str, rows: usize, cols: usize, ld: usize, len: usize) {
    assert!(ld >= cols, "gemm: leading dimension of {name} ({ld}) < {cols}");
    if rows > 0 && cols > 0 {
        assert!(len >= (rows - 1) * ld + cols, "gemm: {name} has {len} elements, needs {}", (rows - 1) * ld + cols);
    }
}

/// [`gemm`] with an explicit microkernel.
#[allow(clippy::too_many_arguments)]
fn gemm_with(
    kernel: Kernel<Packed>,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &[f32],
    ldb: usize,
    trans_b: bool,
    (c, c_len): (*mut f32, usize),
    ldc: usize,
    accumulate: bool,
    epi: Epilogue,
) {
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if trans_b { (n, k) } else { (k, n) };
    check_operand("A", ar, ac, lda, a.len());
    check_operand("B", br, bc, ldb, b.len());
    check_operand("C", m, n, ldc, c_len);
    if let Some(bias) = epi.bias {
        assert_eq!(bias.len(), n, "gemm: bias of {} for {n} columns", bias.len());
    }
    // SAFETY: C (m rows of n at stride ldc) fits in c_len elements (checked above).
    if unsafe { empty_product(m, n, k, c, ldc, accumulate) } {
        for i in 0..m {
            // SAFETY: row i of C, initialized by empty_product (or by the caller when accumulating).
            unsafe { epi.apply(c.add(i * ldc), 0, n) };
        }
        return;
    }
    let parallel = worth_parallel(m, n, k);
    let a_op = Operand { data: a, ld: lda, trans: trans_a };
    let b_op = Operand { data: b, ld: ldb, trans: trans_b };
    let c_ptr = SharedMut(c);

    let mp = round_up(m, MR);
    let share_a = shares_a(m, k);
    let mut apack = take_scratch(&PACK_A_SHARED, if share_a { mp * k } else { 0 });
    if share_a && m <= SHORT_M {
        pack_operands(k, Some((&a_op, m, &mut apack[..mp * k])), None, parallel);
        multiply_short(kernel, m, n, k, &apack[..mp * k], &b_op, c_ptr, ldc, accumulate, epi, parallel);
        give_back_scratch(&PACK_A_SHARED, apack);
        return;
    }
    let mut bpack = take_scratch(&PACK_B, k * round_up(n.min(NC), NR));
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        // op(A) is packed during the first block of columns and reused by the others.
        let a_panels = if share_a { APanels::Shared { data: SharedMut(apack.as_mut_ptr()), lazy: jc == 0 } } else { APanels::PerTile };
        let epi = Epilogue { bias: epi.bias.map(|b| &b[jc..jc + nc]), ..epi };
        let b = (SharedMut(bpack.as_mut_ptr()), Some(&b_op));
        multiply_block(kernel, m, k, &a_op, a_panels, b, (jc, nc), c_ptr, ldc, accumulate, epi, parallel);
    }
    give_back_scratch(&PACK_B, bpack);
    give_back_scratch(&PACK_A_SHARED, apack);
}

/// A short product (`m ≤ SHORT_M`, `op(A)` packed whole in `apack`): `C` is
/// cut into column tiles of full height only, so each tile packs its own
/// columns of `op(B)`, one slice at a time, right before using them (no
/// packed copy of all of `op(B)` goes through memory).  Same arithmetic per
/// element as [`multiply_block`].
#[allow(clippy::too_many_arguments)]
fn multiply_short(
    kernel: Kernel<Packed>,
    m: usize,
    n: usize,
    k: usize,
    apack: &[f32],
    b_op: &Operand,
    c_ptr: SharedMut,
    ldc: usize,
    accumulate: bool,
    epi: Epilogue,
    parallel: bool,
) {
    let mp = round_up(m, MR);
    let kd = slice_depth(k);
    let widest = if parallel { round_up(n.div_ceil(MIN_TILES), NR).clamp(NR, NB) } else { NB };
    let tile_n = round_up(n.div_ceil(n.div_ceil(widest)), NR);
    let tiles = n.div_ceil(tile_n);
    let simd = transpose_simd_available();
    let run = |t: usize| {
        let j0 = t * tile_n;
        let nb = tile_n.min(n - j0);
        let nbp = round_up(nb, NR);
        let mut bp = take_scratch(&PACK_B_TILE, kd * nbp);
        for pc in (0..k).step_by(kd) {
            let kc = kd.min(k - pc);
            for (p, panel) in bp[..kc * nbp].chunks_exact_mut(kc * NR).enumerate() {
                pack_b_panel(b_op, pc, kc, j0 + p * NR, NR.min(nb - p * NR), panel, simd);
            }
            // SAFETY: columns j0..j0+nb of C (all m rows) lie inside `c`
            // (checked by the caller) and no other tile touches them.
            unsafe {
                let c0 = c_ptr.get().add(j0);
                multiply_packed(kernel, kc, &apack[mp * pc..mp * (pc + kc)], m, Packed(bp.as_ptr()), nb, c0, ldc, accumulate || pc > 0);
            }
        }
        for i in 0..m {
            // SAFETY: row i of this tile's columns of C, written above.
            unsafe { epi.apply(c_ptr.get().add(i * ldc + j0), j0, nb) };
        }
        give_back_scratch(&PACK_B_TILE, bp);
    };
    if parallel && tiles > 1 {
        (0..tiles).into_par_iter().for_each(run);
    } else {
        (0..tiles).for_each(run);
    }
}

/// Whether `op(A)` (`m × k`) is packed once for the whole product and shared
/// by all tiles (instead of each tile packing its own rows): when it is small
/// enough that holding it whole costs little memory.
fn shares_a(m: usize, k: usize) -> bool {
    round_up(m, MR) * k <= SHARED_A_MAX
}

/// The tile grid of an `m × nc` block of `C`: `(row block height, tile
/// width, column blocks)`.  Row blocks are at most `MC` rows, tiles at most
/// `NB` columns, both cut as evenly as the `MR` / `NR` granularity allows;
/// parallel products narrow the tiles so that there are at least
/// `MIN_TILES`.  Depends on the sizes only.
fn tile_grid(m: usize, nc: usize, parallel: bool) -> (usize, usize, usize) {
    let row_blocks = m.div_ceil(MC);
    let mc = round_up(m.div_ceil(row_blocks), MR);
    let widest = if parallel { round_up(nc.div_ceil(MIN_TILES.div_ceil(row_blocks)), NR).clamp(NR, NB) } else { NB };
    let col_blocks = nc.div_ceil(widest);
    let tile_n = round_up(nc.div_ceil(col_blocks), NR);
    (mc, tile_n, nc.div_ceil(tile_n))
}

/// Where the tiles of [`multiply_block`] find `op(A)` packed.
#[derive(Clone, Copy)]
enum APanels {
    /// Packed whole at this pointer ([`PackedLhs`]'s layout, `round_up(m, MR)
    /// · k` floats); with `lazy`, each block of rows of a slice is packed by
    /// the first tile that needs it.
    Shared { data: SharedMut, lazy: bool },
    /// Each tile packs its own rows into a scratch buffer.
    PerTile,
}

/// Columns `jc..jc + nc` of `C` (+)= `op(A)` times the block `bpack` of
/// `op(B)` (`k · round_up(nc, NR)` floats, laid out as [`pack_operands`]
/// does), over the grid of [`tile_grid`]. With `pack_b`, `bpack` is filled
/// here, each tile column of each slice by the first tile that needs it;
/// otherwise it is packed already. Packing inside the parallel loop lets one
/// thread pack (memory-bound) while the other multiplies, and a block is
/// used while it is still in cache. The packed values do not depend on which
/// tile packs them, and an element's arithmetic never depends on its tile.
/// The epilogue (with `nc` bias values) runs on each finished tile.
#[allow(clippy::too_many_arguments)]
fn multiply_block(
    kernel: Kernel<Packed>,
    m: usize,
    k: usize,
    a_op: &Operand,
    a_panels: APanels,
    (bpack, pack_b): (SharedMut, Option<&Operand>),
    (jc, nc): (usize, usize),
    c_ptr: SharedMut,
    ldc: usize,
    accumulate: bool,
    epi: Epilogue,
    parallel: bool,
) {
    let ncp = round_up(nc, NR);
    let mp = round_up(m, MR);
    let (mc_blk, tile_n, col_blocks) = tile_grid(m, nc, parallel);
    let row_blocks = m.div_ceil(mc_blk);
    let tiles = row_blocks * col_blocks;
    let kd = slice_depth(k);
    let slices = k.div_ceil(kd);
    let flags =
        |lazy: bool, blocks: usize| -> Vec<OnceLock<()>> { (0..if lazy { blocks * slices } else { 0 }).map(|_| OnceLock::new()).collect() };
    let a_ready = flags(matches!(a_panels, APanels::Shared { lazy: true, .. }), row_blocks);
    let b_ready = flags(pack_b.is_some(), col_blocks);
    let simd = transpose_simd_available();
    let run = |t: usize| {
        let (rb, cb) = (t / col_blocks, t % col_blocks);
        let (i0, j0) = (rb * mc_blk, cb * tile_n);
        let (mc, nb) = (mc_blk.min(m - i0), tile_n.min(nc - j0));
        let (mcp, nbp) = (round_up(mc, MR), round_up(nb, NR));
        let mut ap = take_scratch(&PACK_A, if matches!(a_panels, APanels::PerTile) { mcp * kd } else { 0 });
        for (s, pc) in (0..k).step_by(kd).enumerate() {
            let kc = kd.min(k - pc);
            let apk: &[f32] = match a_panels {
                APanels::Shared { data, lazy } => {
                    // Slice pc holds mp/MR panels of kc·MR; this tile's start at row i0 (a multiple of MR).
                    let at = data.get().wrapping_add(mp * pc + i0 * kc);
                    if lazy {
                        a_ready[rb * slices + s].get_or_init(|| {
                            // SAFETY: rows i0..i0+mcp of slice pc, inside the mp·k buffer; only
                            // this initializer writes them, and no reader exists before it ends.
                            pack_a(a_op, i0, mc, pc, kc, unsafe { std::slice::from_raw_parts_mut(at, mcp * kc) });
                        });
                    }
                    // SAFETY: packed (just above, or before the call) and never written again.
                    unsafe { std::slice::from_raw_parts(at, mcp * kc) }
                }
                APanels::PerTile => {
                    pack_a(a_op, i0, mc, pc, kc, &mut ap[..mcp * kc]);
                    &ap[..mcp * kc]
                }
            };
            let bt = bpack.get().wrapping_add(pc * ncp + j0 * kc);
            if let Some(b_op) = pack_b {
                b_ready[cb * slices + s].get_or_init(|| {
                    // SAFETY: this tile column's panels of slice pc, inside the k·ncp
                    // buffer; only this initializer writes them, before any reader.
                    let out = unsafe { std::slice::from_raw_parts_mut(bt, nbp * kc) };
                    for (p, panel) in out.chunks_exact_mut(kc * NR).enumerate() {
                        pack_b_panel(b_op, pc, kc, jc + j0 + p * NR, NR.min(nb - p * NR), panel, simd);
                    }
                });
            }
            // SAFETY: the tile's block of C (rows i0..i0+mc, columns jc+j0..+nb) lies
            // inside `c` (checked by the caller) and no other tile touches it; its
            // panels of B are packed (above, or before the call).
            unsafe {
                let c0 = c_ptr.get().add(i0 * ldc + jc + j0);
                multiply_packed(kernel, kc, apk, mc, Packed(bt), nb, c0, ldc, accumulate || pc > 0);
            }
        }
        for i in i0..i0 + mc {
            // SAFETY: row i of this tile's block of C, written above.
            unsafe { epi.apply(c_ptr.get().add(i * ldc + jc + j0), j0, nb) };
        }
        give_back_scratch(&PACK_A, ap);
    };
    if parallel && tiles > 1 {
        (0..tiles).into_par_iter().for_each(run);
    } else {
        (0..tiles).for_each(run);
    }
}

/// A right operand `op(B)` (`k × n`) packed once, for several products with
/// the same `B` (e.g. the recurrent weight of an RNN, used at every step).
/// [`gemm_packed`] with it gives bit-identical results to [`gemm`].
pub struct PackedB {
    k: usize,
    n: usize,
    /// `NC`-column blocks one after the other: block `jc` starts at `k·jc`.
    data: Vec<f32>,
}

impl PackedB {
    /// Packs `op(B)`: if `!trans_b`, `B` is `k × n` with row stride `ldb`;
    /// if `trans_b`, it is stored as `n × k` and used transposed.
    pub fn new(k: usize, n: usize, b: &[f32], ldb: usize, trans_b: bool) -> PackedB {
        let (br, bc) = if trans_b { (n, k) } else { (k, n) };
        check_operand("B", br, bc, ldb, b.len());
        let parallel = k.saturating_mul(n) >= 1 << 16;
        let b_op = Operand { data: b, ld: ldb, trans: trans_b };
        let mut data = vec![0.0; k * round_up(n, NR)];
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            pack_operands(k, None, Some((&b_op, jc, nc, &mut data[k * jc..k * (jc + round_up(nc, NR))])), parallel);
        }
        PackedB { k, n, data }
    }
}

/// [`gemm`] with a pre-packed right operand: `C (m × n) = op(A)·op(B)`
/// (`+ C` if `accumulate`), where `b` holds `op(B)` (`k × n`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed(m: usize, a: &[f32], lda: usize, trans_a: bool, b: &PackedB, c: &mut [f32], ldc: usize, accumulate: bool) {
    gemm_packed_impl(m, a, lda, trans_a, b, c, ldc, accumulate, true);
}

/// [`gemm_packed`] on the calling thread only, for callers that already run
/// one task per worker (same results: tiling never changes the arithmetic).
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_serial(m: usize, a: &[f32], lda: usize, trans_a: bool, b: &PackedB, c: &mut [f32], ldc: usize, accumulate: bool) {
    gemm_packed_impl(m, a, lda, trans_a, b, c, ldc, accumulate, false);
}

#[allow(clippy::too_many_arguments)]
fn gemm_packed_impl(
    m: usize,
    a: &[f32],
    lda: usize,
    trans_a: bool,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    allow_parallel: bool,
) {
    let (n, k) = (b.n, b.k);
    count_flops(2 * m * n * k);
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    check_operand("A", ar, ac, lda, a.len());
    check_operand("C", m, n, ldc, c.len());
    // SAFETY: C (m rows of n at stride ldc) fits in c (checked above).
    if unsafe { empty_product(m, n, k, c.as_mut_ptr(), ldc, accumulate) } {
        return;
    }
    let parallel = allow_parallel && worth_parallel(m, n, k);
    let a_op = Operand { data: a, ld: lda, trans: trans_a };
    let c_ptr = SharedMut(c.as_mut_ptr());
    let mp = round_up(m, MR);
    let share_a = shares_a(m, k);
    let mut apack = take_scratch(&PACK_A_SHARED, if share_a { mp * k } else { 0 });
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let a_panels = if share_a { APanels::Shared { data: SharedMut(apack.as_mut_ptr()), lazy: jc == 0 } } else { APanels::PerTile };
        // Packed already: multiply_block only reads it (pack_b is None).
        let block = SharedMut(b.data[k * jc..].as_ptr() as *mut f32);
        multiply_block(
            select_kernel(),
            m,
            k,
            &a_op,
            a_panels,
            (block, None),
            (jc, nc),
            c_ptr,
            ldc,
            accumulate,
            Epilogue::default(),
            parallel,
        );
    }
    give_back_scratch(&PACK_A_SHARED, apack);
}

/// Handles the products with nothing to multiply: `m` or `n` zero (nothing
/// to do) or `k` zero (`C` zeroed, or left alone when accumulating).
/// Returns whether the product is done.
///
/// # Safety
/// `c` is valid for writes of `m` rows of `n` elements at stride `ldc`.
unsafe fn empty_product(m: usize, n: usize, k: usize, c: *mut f32, ldc: usize, accumulate: bool) -> bool {
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 && !accumulate {
        for i in 0..m {
            // SAFETY: row i of C (the caller's contract); all-zero bytes are 0.0.
            unsafe { std::ptr::write_bytes(c.add(i * ldc), 0, n) };
        }
    }
    k == 0
}

/// What [`gemm_uninit`] applies to each finished element `c[i][j]` of the
/// product: `+ bias[j]` (if any), then `max(·, 0)` if `relu` (a linear layer
/// and its activation in one pass over each tile).
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// One value per column of `C`, added to every row.
    pub bias: Option<&'a [f32]>,
    /// Clamp at zero (after the bias), as `f32::max(c, 0.0)`.
    pub relu: bool,
}

impl Epilogue<'_> {
    /// Applies the epilogue to `len` elements of one row of `C` starting at
    /// column `j0` (of the bias's numbering).
    ///
    /// # Safety
    /// `row` is valid for reads and writes of `len` initialized elements, unaliased.
    unsafe fn apply(self, row: *mut f32, j0: usize, len: usize) {
        if self.bias.is_none() && !self.relu {
            return;
        }
        // SAFETY: the caller's contract.
        let row = unsafe { std::slice::from_raw_parts_mut(row, len) };
        if let Some(bias) = self.bias {
            row.iter_mut().zip(&bias[j0..j0 + len]).for_each(|(c, &b)| *c += b);
        }
        if self.relu {
            row.iter_mut().for_each(|c| *c = c.max(0.0));
        }
    }
}

/// Whether an `m × n × k` product is big enough to hand to rayon.
fn worth_parallel(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k).saturating_mul(2) >= PAR_FLOPS
}

/// A raw pointer into a buffer shared by tasks that write disjoint parts of
/// it (blocks of `C`, an RNN's per-thread batch rows).
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub(crate) *mut f32);
// SAFETY: only used to hand disjoint blocks of one buffer to parallel tasks;
// each task writes its own block only.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole `Send + Sync` wrapper).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// The macro-kernel: `C[mc × nb] (+)= A·B` for one slice of depth `kc`, with
/// `apack` the `MR`-row panels of `A` (`round_up(mc, MR) · kc` elements) and
/// `b` the first `NR`-column panel of `B` (`round_up(nb, NR)` columns).  Full
/// `MR × NR` sub-tiles go straight into `C`; edge tiles through a small buffer.
///
/// # Safety
/// `b` must cover `kc` rows of `round_up(nb, NR)` columns; `c` must be valid
/// for writes of `mc` rows of `nb` elements at stride `ldc`, with no live
/// reference to that block.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn multiply_packed<B: PanelB>(
    kernel: Kernel<B>,
    kc: usize,
    apack: &[f32],
    mc: usize,
    b: B,
    nb: usize,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    assert!(apack.len() >= round_up(mc, MR) * kc);
    for jr in (0..nb).step_by(NR) {
        let nr = NR.min(nb - jr);
        // SAFETY: the caller's B covers round_up(nb, NR) columns.
        let bpanel = unsafe { b.shift(jr, kc) };
        for ir in (0..mc).step_by(MR) {
            let mr = MR.min(mc - ir);
            let apanel = apack[ir * kc..].as_ptr();
            // SAFETY: panels hold kc·MR / kc·NR elements (asserted above); the
            // C tile is inside the caller's block.
            unsafe {
                let ct = c.add(ir * ldc + jr);
                if nr == NR && written_rows(mr) == mr {
                    // A whole tile, or a short panel of exactly 2 or 4 rows
                    // (e.g. 16 = 6 + 6 + 4 channels): straight into C.
                    kernel(kc, mr, apanel, bpanel, ct, ldc, accumulate);
                } else {
                    let mut tmp = [0.0f32; MR * NR];
                    kernel(kc, mr, apanel, bpanel, tmp.as_mut_ptr(), NR, false);
                    for (r, t) in tmp.chunks_exact(NR).take(mr).enumerate() {
                        if accumulate {
                            let row = std::slice::from_raw_parts_mut(ct.add(r * ldc), nr);
                            row.iter_mut().zip(t).for_each(|(d, &v)| *d += v);
                        } else {
                            // Raw copy: without accumulation C may be uninitialized.
                            std::ptr::copy_nonoverlapping(t.as_ptr(), ct.add(r * ldc), nr);
                        }
                    }
                }
            }
        }
    }
}

/// `op(A)` (`m × k`) packed once into `MR`-row panels for every slice of the
/// reduction dimension, for products that reuse the same left-hand side
/// against many right-hand sides (the weights of a convolution).
pub(crate) struct PackedLhs {
    data: Vec<f32>,
    m: usize,
    k: usize,
}

impl PackedLhs {
    /// Packs `op(A)`: `m × k` with row stride `lda`, or stored `k × m` when `trans`.
    pub(crate) fn new(a: &[f32], lda: usize, trans: bool, m: usize, k: usize) -> PackedLhs {
        let (ar, ac) = if trans { (k, m) } else { (m, k) };
        check_operand("A", ar, ac, lda, a.len());
        let mp = round_up(m, MR);
        let mut data = vec![0.0; mp * k];
        let op = Operand { data: a, ld: lda, trans };
        let kd = slice_depth(k);
        for pc in (0..k).step_by(kd.max(1)) {
            let kc = kd.min(k - pc);
            pack_a(&op, 0, m, pc, kc, &mut data[pc * mp..(pc + kc) * mp]);
        }
        PackedLhs { data, m, k }
    }

    /// `C[m × nb] (+)= op(A)[:, pc..pc+kc] · B` where `b` gives rows
    /// `pc..pc+kc` of `B`; `pc`, `kc` must be a slice of [`slice_depth`]`(k)`.
    /// Does not count flops: callers report the work of their algorithm
    /// through [`count_flops`].
    ///
    /// # Safety
    /// As [`multiply_packed`]: `b` covers `kc` rows of `round_up(nb, NR)`
    /// columns, `c` is valid for `m` rows of `nb` at stride `ldc`, unaliased.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn multiply_slice<B: PanelB>(
        &self,
        pc: usize,
        kc: usize,
        b: B,
        nb: usize,
        c: *mut f32,
        ldc: usize,
        accumulate: bool,
    ) {
        assert!(pc + kc <= self.k && pc.is_multiple_of(slice_depth(self.k).max(1)));
        let mp = round_up(self.m, MR);
        // SAFETY: forwarded caller contract.
        unsafe { multiply_packed(select_kernel::<B>(), kc, &self.data[pc * mp..(pc + kc) * mp], self.m, b, nb, c, ldc, accumulate) }
    }
}

thread_local! {
    /// Per-thread packing buffers, reused across calls (packing overwrites every
    /// element it later reads, so stale contents are harmless).
    static PACK_A: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PACK_B: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PACK_A_SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PACK_B_TILE: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Takes this thread's cached buffer out of `key`, grown to at least `len`.
/// Re-entrant use (a rayon thread running a nested `gemm` while it waits)
/// finds the slot empty and simply allocates.
pub(crate) fn take_scratch(key: &'static LocalKey<Cell<Vec<f32>>>, len: usize) -> Vec<f32> {
    let mut v = key.take();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

/// Returns a buffer to this thread's cache, keeping the larger of the two.
pub(crate) fn give_back_scratch(key: &'static LocalKey<Cell<Vec<f32>>>, v: Vec<f32>) {
    let old = key.take();
    key.set(if old.len() > v.len() { old } else { v });
}

pub(crate) fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// A strided row-major matrix that may be used transposed.
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    ld: usize,
    trans: bool,
}

/// How many rows ahead [`pack_a`] prefetches a transposed operand, and
/// [`pack_b_panel`] a row-major one.
const PREFETCH_ROWS: usize = 16;

/// Packs rows `i0..i0+mc`, reduction indices `pc..pc+kc` of `op(A)` into `MR`-row
/// panels: `out[p*kc*MR + kk*MR + r] = op(A)[i0 + p*MR + r][pc + kk]`, zero padded.
fn pack_a(a: &Operand, i0: usize, mc: usize, pc: usize, kc: usize, out: &mut [f32]) {
    if a.trans {
        // Stored A is k × m: walk its rows once each (one page per row rather
        // than one per row and panel), scattering each row over the panels.
        let npanels = out.len() / (kc * MR);
        for kk in 0..kc {
            let start = (pc + kk) * a.ld + i0;
            // Each row is in another page, where the hardware prefetchers stop:
            // fetch the strip of the row PREFETCH_ROWS ahead.
            #[cfg(target_arch = "x86_64")]
            if let Some(ahead) = a.data.get(start + PREFETCH_ROWS * a.ld..start + PREFETCH_ROWS * a.ld + mc) {
                for line in ahead.chunks(16) {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    // SAFETY: prefetching never faults; the address is inside `a.data`.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
                }
            }
            // Full panels and two readable values past them (not at the last
            // kk): copies of MR + 2 values (one vector), whose last two land
            // in slot kk + 1 of the same panel, written right after.
            if npanels * MR <= mc && kk + 1 < kc && start + npanels * MR + 2 <= a.data.len() {
                let src = &a.data[start..start + npanels * MR + 2];
                for p in 0..npanels {
                    out[(p * kc + kk) * MR..][..MR + 2].copy_from_slice(&src[p * MR..][..MR + 2]);
                }
                continue;
            }
            let src = &a.data[start..][..mc];
            for p in 0..npanels {
                let o = &mut out[(p * kc + kk) * MR..][..MR];
                let mr = MR.min(mc - p * MR);
                if mr == MR {
                    // A constant-length copy compiles to two moves, not a memcpy call.
                    o.copy_from_slice(&src[p * MR..][..MR]);
                } else {
                    o[..mr].copy_from_slice(&src[p * MR..][..mr]);
                    o[mr..].fill(0.0);
                }
            }
        }
        return;
    }
    for (p, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let r0 = i0 + p * MR;
        let mr = MR.min(i0 + mc - r0);
        if mr == MR {
            let rows: [&[f32]; MR] = std::array::from_fn(|r| &a.data[(r0 + r) * a.ld + pc..][..kc]);
            #[cfg(target_arch = "x86_64")]
            if transpose_simd_available() {
                // SAFETY: AVX is available; each row holds kc floats and the panel kc·MR.
                unsafe { pack_rows_avx(rows.map(|r| r.as_ptr()), kc, panel.as_mut_ptr()) };
                continue;
            }
            for (kk, o) in panel.chunks_exact_mut(MR).enumerate() {
                for (dst, row) in o.iter_mut().zip(&rows) {
                    *dst = row[kk];
                }
            }
        } else {
            for (kk, o) in panel.chunks_exact_mut(MR).enumerate() {
                for (r, dst) in o.iter_mut().enumerate() {
                    *dst = if r < mr { a.data[(r0 + r) * a.ld + pc + kk] } else { 0.0 };
                }
            }
        }
    }
}

/// What [`pack_operands`] packs of `op(A)`: the operand, `m`, the output.
type PackAJob<'a, 'b> = Option<(&'a Operand<'a>, usize, &'b mut [f32])>;
/// What [`pack_operands`] packs of `op(B)`: the operand, `jc`, `nc`, the output.
type PackBJob<'a, 'b> = Option<(&'a Operand<'a>, usize, usize, &'b mut [f32])>;

/// Packs, in one pass (parallel when `parallel`), `op(A)` whole when `a` is
/// given and columns `jc..jc+nc` of `op(B)` when `b` is given.
///
/// `a = (op, m, out)`: `out` (`round_up(m, MR) · k` elements) gets the
/// `slice_depth(k)`-deep slices one after the other, slice `pc` at
/// `pc · round_up(m, MR)` holding `MR`-row panels of `kc × MR` ([`PackedLhs`]'s layout).
/// `b = (op, jc, nc, out)`: `out` (`k · round_up(nc, NR)` elements) gets the
/// slices of `op(B)`, slice `pc` at `pc · round_up(nc, NR)` holding `NR`-column
/// panels of `kc × NR`.  Everything is zero padded.
fn pack_operands(k: usize, a: PackAJob, b: PackBJob, parallel: bool) {
    /// Row panels of A per job: whole cache lines of a transposed A's rows.
    const A_PANELS: usize = 8;
    enum Job<'o> {
        A { pc: usize, kc: usize, i0: usize, mc: usize, out: &'o mut [f32] },
        B { pc: usize, kc: usize, j0: usize, nr: usize, out: &'o mut [f32] },
    }
    let kd = slice_depth(k);
    let mut jobs = Vec::new();
    let (mut a_op, mut b_op) = (None, None);
    if let Some((op, m, out)) = a {
        a_op = Some(op);
        let mp = round_up(m, MR);
        let mut rest = &mut out[..mp * k];
        for pc in (0..k).step_by(kd) {
            let kc = kd.min(k - pc);
            let (slice, tail) = rest.split_at_mut(mp * kc);
            rest = tail;
            for (g, out) in slice.chunks_mut(A_PANELS * MR * kc).enumerate() {
                let i0 = g * A_PANELS * MR;
                jobs.push(Job::A { pc, kc, i0, mc: (A_PANELS * MR).min(m - i0), out });
            }
        }
    }
    if let Some((op, jc, nc, out)) = b {
        b_op = Some(op);
        let ncp = round_up(nc, NR);
        let mut rest = &mut out[..k * ncp];
        for pc in (0..k).step_by(kd) {
            let kc = kd.min(k - pc);
            let (slice, tail) = rest.split_at_mut(ncp * kc);
            rest = tail;
            for (p, out) in slice.chunks_mut(NR * kc).enumerate() {
                let j0 = jc + p * NR;
                jobs.push(Job::B { pc, kc, j0, nr: NR.min(jc + nc - j0), out });
            }
        }
    }
    let simd = transpose_simd_available();
    let run = |job: Job| match job {
        Job::A { pc, kc, i0, mc, out } => pack_a(a_op.expect("A job without A"), i0, mc, pc, kc, out),
        Job::B { pc, kc, j0, nr, out } => pack_b_panel(b_op.expect("B job without B"), pc, kc, j0, nr, out, simd),
    };
    if parallel && jobs.len() > 1 {
        jobs.into_par_iter().for_each(run);
    } else {
        jobs.into_iter().for_each(run);
    }
}

/// Packs one `kc × NR` panel of `op(B)` starting at row `pc`, column `j0`, with
/// `nr` valid columns.
/// `simd`: a full transposed panel may use [`transpose_panel_avx`].
fn pack_b_panel(b: &Operand, pc: usize, kc: usize, j0: usize, nr: usize, out: &mut [f32], simd: bool) {
    if b.trans {
        #[cfg(target_arch = "x86_64")]
        if simd && nr == NR {
            let src = &b.data[j0 * b.ld + pc..];
            assert!(kc == 0 || src.len() >= (NR - 1) * b.ld + kc);
            assert!(out.len() >= kc * NR);
            // SAFETY: AVX is available (simd); the extents were just checked.
            unsafe { transpose_panel_avx(src.as_ptr(), b.ld, kc, out.as_mut_ptr()) };
            return;
        }
        let _ = simd;
        if nr < NR {
            out.fill(0.0);
        }
        for c in 0..nr {
            let src = &b.data[(j0 + c) * b.ld + pc..][..kc];
            for (o, &v) in out.chunks_exact_mut(NR).zip(src) {
                o[c] = v;
            }
        }
    } else if nr == NR {
        for (kk, o) in out.chunks_exact_mut(NR).enumerate() {
            // Rows ≥ 4 KB apart are beyond the hardware prefetchers' reach:
            // fetch the row PREFETCH_ROWS ahead (its NR floats may straddle
            // two cache lines).
            #[cfg(target_arch = "x86_64")]
            if let Some(ahead) = b.data.get((pc + kk + PREFETCH_ROWS) * b.ld + j0..(pc + kk + PREFETCH_ROWS) * b.ld + j0 + NR) {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                // SAFETY: prefetching never faults; both addresses are inside `b.data`.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.as_ptr().cast());
                    _mm_prefetch::<_MM_HINT_T0>(ahead[NR - 1..].as_ptr().cast());
                }
            }
            let o: &mut [f32; NR] = o.try_into().unwrap();
            let src: &[f32; NR] = b.data[(pc + kk) * b.ld + j0..][..NR].try_into().unwrap();
            *o = *src;
        }
    } else {
        for (kk, o) in out.chunks_exact_mut(NR).enumerate() {
            let src = &b.data[(pc + kk) * b.ld + j0..][..nr];
            o[..nr].copy_from_slice(src);
            o[nr..].fill(0.0);
        }
    }
}

/// Whether [`transpose_panel_avx`] may run on this CPU.
fn transpose_simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The 8 × 8 transpose of eight AVX rows: `out[j][i] = rows[i][j]`.
///
/// # Safety
/// The CPU supports AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn transpose8(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}

/// A full panel of a row-major `A`: `out[kk·MR + r] = rows[r][kk]` for
/// `r < MR`, `kk < kc`, by 8 × 8 register transposes (two rows repeated as
/// padding; the `kc % 8` last steps one by one).
///
/// # Safety
/// The CPU supports AVX; each of `rows` is valid for `kc` reads and `out`
/// for `kc · MR` writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn pack_rows_avx(rows: [*const f32; MR], kc: usize, out: *mut f32) {
    use std::arch::x86_64::*;
    let k8 = kc / 8 * 8;
    // SAFETY: every read is below rows[r] + kc, every write below out + kc·MR.
    unsafe {
        for kb in (0..k8).step_by(8) {
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(rows[i.min(MR - 1)].add(kb)));
            let o = transpose8(r);
            // Step kk's MR values are the low MR lanes of o[kk - kb]: a whole
            // vector store spills 8 - MR = 2 lanes into step kk + 1, which the
            // next store overwrites; the panel's very last step stores 4 + 2.
            for (j, v) in o.iter().enumerate() {
                let dst = out.add((kb + j) * MR);
                if kb + j + 1 < kc {
                    _mm256_storeu_ps(dst, *v);
                } else {
                    _mm_storeu_ps(dst, _mm256_castps256_ps128(*v));
                    _mm_storel_pd(dst.add(4).cast(), _mm_castps_pd(_mm256_extractf128_ps::<1>(*v)));
                }
            }
        }
        for kk in k8..kc {
            for (r, row) in rows.iter().enumerate() {
                *out.add(kk * MR + r) = *row.add(kk);
            }
        }
    }
}

/// A full transposed panel: `out[kk·NR + c] = src[c·ld + kk]` for `c < NR`,
/// `kk < kc`, by 8 × 8 register transposes (the `kc % 8` last steps one by one).
///
/// # Safety
/// The CPU supports AVX; `src` is valid for reads of `NR` rows of `kc` floats
/// at stride `ld`, `out` for `kc · NR` writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_panel_avx(src: *const f32, ld: usize, kc: usize, out: *mut f32) {
    use std::arch::x86_64::*;
    let k8 = kc / 8 * 8;
    // SAFETY: every read is below src + (NR-1)·ld + kc and every write below out + kc·NR.
    unsafe {
        for h in [0, 8] {
            let rows: [*const f32; 8] = std::array::from_fn(|r| src.add((h + r) * ld));
            for kb in (0..k8).step_by(8) {
                let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(rows[i].add(kb)));
                let o = transpose8(r);
                for (j, v) in o.iter().enumerate() {
                    _mm256_storeu_ps(out.add((kb + j) * NR + h), *v);
                }
            }
            for kk in k8..kc {
                for (r, row) in rows.iter().enumerate() {
                    *out.add(kk * NR + h + r) = *row.add(kk);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic generator of values in [-1, 1).
    use crate::kernels::TestRng as Rng;

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
        gemm_with(kernel, m, n, k, &a, lda, ta, &b, ldb, tb, (c.as_mut_ptr(), c.len()), ldc, accumulate, Epilogue::default());
        gemm_naive(m, n, k, &a, lda, ta, &b, ldb, tb, &mut r, ldc, accumulate);
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
                let packed = PackedB::new(k, n, &b, ldb, tb);
                for accumulate in [false, true] {
                    let mut want = c0.clone();
                    gemm_packed(m, &a, lda, ta, &packed, &mut want, n, accumulate);
                    for threads in [1, 3] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                        let mut c = c0.clone();
                        pool.install(|| gemm(m, n, k, &a, lda, ta, &b, ldb, tb, &mut c, n, accumulate));
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
                let b = Operand { data: &data, ld, trans: true };
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
                let a = Operand { data: &data, ld, trans: false };
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
                let lhs = PackedLhs::new(&a, k, false, m, k);
                let mut c = vec![0.0; m * n];
                let kd = slice_depth(k);
                for pc in (0..k).step_by(kd) {
                    let kc = kd.min(k - pc);
                    let b = Offsets { base: base.as_ptr(), offsets: offsets[pc..pc + kc].as_ptr() };
                    let mp = round_up(m, MR);
                    // SAFETY: rows read base[offset + j] with j < round_up(n, NR) ≤ n + NR; C is m × n.
                    unsafe { multiply_packed(kernel, kc, &lhs.data[pc * mp..(pc + kc) * mp], m, b, n, c.as_mut_ptr(), n, pc > 0) };
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
        for (m, n, k, ta, tb) in
            [(32, 1024, 256, false, true), (7, 4100, 3, true, false), (5, 17, 300, false, false), (3, 0, 4, false, false)]
        {
            let (ar, ac) = if ta { (k, m) } else { (m, k) };
            let (br, bc) = if tb { (n, k) } else { (k, n) };
            let (a, b) = (rng.vec(ar * ac), rng.vec(br * bc));
            let c0 = rng.vec(m * n);
            for accumulate in [false, true] {
                let (mut c1, mut c2) = (c0.clone(), c0.clone());
                gemm(m, n, k, &a, ac, ta, &b, bc, tb, &mut c1, n, accumulate);
                gemm_packed(m, &a, ac, ta, &PackedB::new(k, n, &b, bc, tb), &mut c2, n, accumulate);
                assert!(c1.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()), "m={m} n={n} k={k}");
                let mut c3 = c0.clone();
                gemm_packed_serial(m, &a, ac, ta, &PackedB::new(k, n, &b, bc, tb), &mut c3, n, accumulate);
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
                gemm(m, n, k, &a, lda, ta, &b, ldb, tb, &mut want, ldc, false);
                let bias = rng.vec(n);
                for (with_bias, relu) in [(false, false), (true, false), (false, true), (true, true)] {
                    let mut got = vec![std::mem::MaybeUninit::new(f32::NAN); m * ldc];
                    let epilogue = Epilogue { bias: with_bias.then_some(&bias[..]), relu };
                    gemm_uninit(m, n, k, &a, lda, ta, &b, ldb, tb, &mut got, ldc, epilogue);
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
        gemm(2, 3, 0, &[], 0, false, &[], 3, false, &mut c, 3, true);
        assert!(c.iter().all(|&v| v == 7.0));
        gemm(2, 3, 0, &[], 0, false, &[], 3, false, &mut c, 3, false);
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
                pool.install(|| gemm(m, n, k, &a, k, false, &b, n, false, &mut c, n, true));
                c
            };
            let c1 = run(1);
            let c3 = run(3);
            assert!(c1.iter().zip(&c3).all(|(x, y)| x.to_bits() == y.to_bits()), "m={m} n={n} k={k}");
        }
    }

    /// Best-of-`reps` GFLOP/s of an `s × s × s` product with `kernel`.
    fn gflops(kernel: Kernel<Packed>, s: usize, reps: usize) -> f64 {
        let mut rng = Rng::new(7);
        let a = rng.vec(s * s);
        let b = rng.vec(s * s);
        let mut c = vec![0.0f32; s * s];
        let mut best = f64::MAX;
        for _ in 0..reps {
            let t = std::time::Instant::now();
            gemm_with(kernel, s, s, s, &a, s, false, &b, s, false, (c.as_mut_ptr(), c.len()), s, false, Epilogue::default());
            best = best.min(t.elapsed().as_secs_f64());
        }
        2.0 * (s as f64).powi(3) / best / 1e9
    }

    /// `cargo test --release -- --ignored --nocapture bench_gflops`
    #[test]
    #[ignore]
    fn bench_gflops() {
        let threads = rayon::current_num_threads();
        for s in [256, 512, 1024] {
            let gf = gflops(select_kernel(), s, 20);
            println!("gemm n={s}: {gf:.1} GFLOP/s ({threads} threads, best of 20)");
        }
        for (m, n, k) in [(64, 1024, 576), (576, 1024, 64), (64, 576, 1024)] {
            let mut rng = Rng::new(7);
            let a = rng.vec(m * k);
            let b = rng.vec(k * n);
            let mut c = vec![0.0f32; m * n];
            let mut best = f64::MAX;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                gemm(m, n, k, &a, k, false, &b, n, false, &mut c, n, false);
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gf = 2.0 * (m * n * k) as f64 / best / 1e9;
            println!("gemm {m}x{n}x{k}: {gf:.1} GFLOP/s");
        }
        for s in [512, 1024] {
            let gf = gflops(kernel_scalar::<Packed>, s, 5);
            println!("gemm n={s} portable kernel: {gf:.1} GFLOP/s ({threads} threads)");
        }
    }
}

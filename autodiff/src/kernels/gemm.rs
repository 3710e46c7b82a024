//! Single-precision matrix multiplication (GEMM).
//!
//! BLIS-style structure: the columns of `C` are walked in blocks of `NC`; for each
//! block the matching part of `op(B)` is packed into `NR`-wide column panels,
//! grouped by slices of the reduction dimension (`k` cut into equal slices of at
//! most `KC`).  `C` is then cut into a fixed grid of `MC × NB` tiles (narrower when `C` has few rows) which run in
//! parallel; each tile packs its rows of `op(A)` into `MR`-tall row panels one
//! slice at a time and calls the register-blocked microkernel on every `MR × NR`
//! sub-tile.  Packing buffers are cached per thread and reused across calls.
//!
//! Determinism: every element of `C` is owned by exactly one tile and its reduction
//! over `k` always runs in the same order (microkernel over a slice, slices added
//! to `C` in increasing `k`), so results are bit-identical for any number of
//! rayon threads.  The grid does not depend on the thread count either.
//!
//! The microkernel is the SIMD boundary: `Kernel` is a plain function pointer,
//! chosen once per call by `select_kernel`.  On x86-64 a copy compiled with
//! `avx2,fma` is used when the CPU supports it; otherwise the portable scalar
//! kernel (written so LLVM vectorizes it with the baseline SSE2) runs.  The two
//! paths round differently (fused vs separate multiply-add), so results are
//! reproducible per machine, not across machines.

use std::cell::Cell;
use std::thread::LocalKey;

use rayon::prelude::*;

/// Rows of the register-blocked microkernel tile.
const MR: usize = 6;
/// Columns of the register-blocked microkernel tile.
const NR: usize = 16;
/// Depth of one packed slice of the reduction dimension.
const KC: usize = 256;
/// Rows of `C` per parallel tile (multiple of `MR`).
const MC: usize = 96;
/// Columns of `C` per parallel tile (multiple of `NR`).
const NB: usize = 256;
/// Parallel products are cut into at least this many tiles when `C` is wide
/// enough (narrowing tiles down to `NR` columns).
const MIN_TILES: usize = 8;
/// Columns of `op(B)` packed at once (multiple of `NB`); bounds the packed-B buffer.
const NC: usize = 4096;
/// Problems with fewer flops than this run on the calling thread only.
const PAR_FLOPS: usize = 1 << 21;

/// Depth of the `k` slices actually used: `k` split into equal slices of at most
/// `KC` (avoids a short trailing slice).  Depends on `k` only.
fn slice_depth(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1))
}

/// A microkernel: given `kc`, the number `rows` (1..=MR) of valid rows, a packed
/// `A` micro-panel (`kc × MR`, `MR` contiguous per step) and a packed `B`
/// micro-panel (`kc × NR`), returns the `MR × NR` product (rows past `rows` are
/// zero).
type Kernel = fn(usize, usize, &[f32], &[f32]) -> [[f32; NR]; MR];

/// Shared microkernel body over the first `ROWS` rows of the panel.  `FUSED`
/// selects `mul_add` (only sensible when the target has FMA; otherwise it would
/// call a slow libm routine).  Each element's sum runs over `k` in the same
/// order whatever `ROWS`, so a short panel gives the same bits as a full one.
#[inline(always)]
fn kernel_body<const FUSED: bool, const ROWS: usize>(kc: usize, a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    let mut acc = [[0.0f32; NR]; ROWS];
    let a = &a[..kc * MR];
    let b = &b[..kc * NR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        let bp: &[f32; NR] = bp.try_into().unwrap();
        for (row, &ai) in acc.iter_mut().zip(&ap[..ROWS]) {
            for (c, &bj) in row.iter_mut().zip(bp) {
                *c = if FUSED { ai.mul_add(bj, *c) } else { *c + ai * bj };
            }
        }
    }
    let mut out = [[0.0f32; NR]; MR];
    out[..ROWS].copy_from_slice(&acc);
    out
}

/// Dispatches on the number of valid rows: a panel with only a few (the last
/// one when `m` is not a multiple of `MR`, e.g. 32 = 5·6 + 2) skips the
/// padding rows' multiply-adds.
#[inline(always)]
fn kernel_rows<const FUSED: bool>(kc: usize, rows: usize, a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    match rows {
        0..=2 => kernel_body::<FUSED, 2>(kc, a, b),
        3..=4 => kernel_body::<FUSED, 4>(kc, a, b),
        _ => kernel_body::<FUSED, MR>(kc, a, b),
    }
}

/// Portable microkernel (separate multiply and add).
fn kernel_scalar(kc: usize, rows: usize, a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    kernel_rows::<false>(kc, rows, a, b)
}

/// The shared body compiled with AVX2 + FMA enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn kernel_avx2_fma_impl(kc: usize, rows: usize, a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    kernel_rows::<true>(kc, rows, a, b)
}

/// AVX2 + FMA microkernel.  Only ever handed out by `select_kernel` (or by tests)
/// after `is_x86_feature_detected!` confirmed both features.
#[cfg(target_arch = "x86_64")]
fn kernel_avx2_fma(kc: usize, rows: usize, a: &[f32], b: &[f32]) -> [[f32; NR]; MR] {
    // SAFETY: this function is only reachable through `select_kernel` /
    // `avx2_fma_available`, which check at run time that the CPU supports AVX2
    // and FMA, the only requirement of the `target_feature` function.  It gives
    // roughly 2-3x over the SSE2 baseline.
    unsafe { kernel_avx2_fma_impl(kc, rows, a, b) }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Picks the fastest microkernel the running CPU supports.
fn select_kernel() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_fma_available() {
            return kernel_avx2_fma;
        }
    }
    kernel_scalar
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
    FLOPS.fetch_add(2 * (m * n * k) as u64, std::sync::atomic::Ordering::Relaxed);
    let kernel = select_kernel();
    gemm_with(kernel, m, n, k, a, lda, trans_a, b, ldb, trans_b, c, ldc, accumulate);
}

static FLOPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Floating-point operations (2·m·n·k per call) done by [`gemm`] in this
/// process so far: matrix products, convolutions and linear layers all go
/// through it, so differences of this counter measure a model's FLOPs.
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
    kernel: Kernel,
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
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    let (br, bc) = if trans_b { (n, k) } else { (k, n) };
    check_operand("A", ar, ac, lda, a.len());
    check_operand("B", br, bc, ldb, b.len());
    check_operand("C", m, n, ldc, c.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let parallel = m.saturating_mul(n).saturating_mul(k).saturating_mul(2) >= PAR_FLOPS;
    let a_op = Operand { data: a, ld: lda, trans: trans_a };
    let b_op = Operand { data: b, ld: ldb, trans: trans_b };

    let mut bpack = take_scratch(&PACK_B, k * round_up(n.min(NC), NR));
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let ncp = round_up(nc, NR);
        pack_b(&b_op, k, jc, nc, &mut bpack[..k * ncp], parallel);
        multiply_block(kernel, m, k, a_op, &bpack[..k * ncp], (jc, nc), c, ldc, accumulate, parallel);
    }
    give_back_scratch(&PACK_B, bpack);
}

/// Columns `jc..jc + nc` of `C` (+)= `op(A)` times the packed block `bpack`
/// of `op(B)` (as laid out by `pack_b`), over a fixed grid of tiles.
#[allow(clippy::too_many_arguments)]
fn multiply_block(
    kernel: Kernel,
    m: usize,
    k: usize,
    a_op: Operand,
    bpack: &[f32],
    (jc, nc): (usize, usize),
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    parallel: bool,
) {
    let ncp = round_up(nc, NR);
    // Fixed grid of tiles, each owning disjoint row pieces of C. Short, wide
    // products (few row blocks) get narrower tiles so that there are at least
    // MIN_TILES to share out. The grid depends on the sizes only, and the
    // arithmetic of an element never depends on its tile.
    let row_blocks = m.div_ceil(MC);
    let nb = if parallel { round_up(nc.div_ceil(MIN_TILES.div_ceil(row_blocks)), NR).clamp(NR, NB) } else { NB };
    let col_blocks = nc.div_ceil(nb);
    let mut tiles: Vec<Tile> = (0..row_blocks * col_blocks)
        .map(|t| Tile { i0: (t / col_blocks) * MC, j0: (t % col_blocks) * nb, rows: Vec::with_capacity(MC) })
        .collect();
    for (i, row) in c.chunks_mut(ldc).take(m).enumerate() {
        let rb = i / MC;
        for (cb, piece) in row[jc..jc + nc].chunks_mut(nb).enumerate() {
            tiles[rb * col_blocks + cb].rows.push(piece);
        }
    }

    // With a single row block every tile would pack the same rows of op(A):
    // pack them once (all k slices, slice `pc` at `mcp·pc`) and share them.
    let shared = row_blocks == 1 && col_blocks > 1;
    let mut apack_shared = take_scratch(&PACK_A_SHARED, if shared { round_up(m, MR) * k } else { 0 });
    if shared {
        let (mcp, kd) = (round_up(m, MR), slice_depth(k));
        for pc in (0..k).step_by(kd) {
            let kc = kd.min(k - pc);
            pack_a(&a_op, 0, m, pc, kc, &mut apack_shared[mcp * pc..mcp * (pc + kc)]);
        }
    }
    let ctx = TileCtx { kernel, a: a_op, k, bpack, ncp, accumulate, apack_shared: shared.then_some(&apack_shared[..]) };
    let apack_len = if shared { 0 } else { MC * slice_depth(k) };
    let run = |t: &mut Tile| {
        let mut ap = take_scratch(&PACK_A, apack_len);
        ctx.run(t, &mut ap);
        give_back_scratch(&PACK_A, ap);
    };
    if parallel && tiles.len() > 1 {
        tiles.par_iter_mut().for_each(run);
    } else {
        tiles.iter_mut().for_each(run);
    }
    give_back_scratch(&PACK_A_SHARED, apack_shared);
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
            pack_b(&b_op, k, jc, nc, &mut data[k * jc..k * (jc + round_up(nc, NR))], parallel);
        }
        PackedB { k, n, data }
    }
}

/// [`gemm`] with a pre-packed right operand: `C (m × n) = op(A)·op(B)`
/// (`+ C` if `accumulate`), where `b` holds `op(B)` (`k × n`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed(m: usize, a: &[f32], lda: usize, trans_a: bool, b: &PackedB, c: &mut [f32], ldc: usize, accumulate: bool) {
    let (n, k) = (b.n, b.k);
    FLOPS.fetch_add(2 * (m * n * k) as u64, std::sync::atomic::Ordering::Relaxed);
    let (ar, ac) = if trans_a { (k, m) } else { (m, k) };
    check_operand("A", ar, ac, lda, a.len());
    check_operand("C", m, n, ldc, c.len());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let parallel = m.saturating_mul(n).saturating_mul(k).saturating_mul(2) >= PAR_FLOPS;
    let a_op = Operand { data: a, ld: lda, trans: trans_a };
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let block = &b.data[k * jc..k * (jc + round_up(nc, NR))];
        multiply_block(select_kernel(), m, k, a_op, block, (jc, nc), c, ldc, accumulate, parallel);
    }
}

thread_local! {
    /// Per-thread packing buffers, reused across calls (packing overwrites every
    /// element it later reads, so stale contents are harmless).
    static PACK_A: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PACK_B: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    static PACK_A_SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Takes this thread's cached buffer out of `key`, grown to at least `len`.
/// Re-entrant use (a rayon thread running a nested `gemm` while it waits)
/// finds the slot empty and simply allocates.
fn take_scratch(key: &'static LocalKey<Cell<Vec<f32>>>, len: usize) -> Vec<f32> {
    let mut v = key.take();
    if v.len() < len {
        v.resize(len, 0.0);
    }
    v
}

/// Returns a buffer to this thread's cache, keeping the larger of the two.
fn give_back_scratch(key: &'static LocalKey<Cell<Vec<f32>>>, v: Vec<f32>) {
    let old = key.take();
    key.set(if old.len() > v.len() { old } else { v });
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// A strided row-major matrix that may be used transposed.
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    ld: usize,
    trans: bool,
}

/// One parallel task: rows `i0..i0+rows.len()` and columns `j0..j0+rows[0].len()`
/// (relative to the current `NC` block) of `C`.
struct Tile<'c> {
    i0: usize,
    j0: usize,
    rows: Vec<&'c mut [f32]>,
}

/// Everything a tile needs besides its own scratch.
struct TileCtx<'a> {
    kernel: Kernel,
    a: Operand<'a>,
    k: usize,
    bpack: &'a [f32],
    ncp: usize,
    accumulate: bool,
    /// All of `op(A)` packed up front (tiles of a single row block only).
    apack_shared: Option<&'a [f32]>,
}

impl TileCtx<'_> {
    fn run(&self, tile: &mut Tile, apack: &mut [f32]) {
        let mc = tile.rows.len();
        let nb = tile.rows[0].len();
        let mcp = round_up(mc, MR);
        let kd = slice_depth(self.k);
        for pc in (0..self.k).step_by(kd) {
            let kc = kd.min(self.k - pc);
            let ap: &[f32] = match self.apack_shared {
                Some(shared) => &shared[mcp * pc..mcp * (pc + kc)],
                None => {
                    let ap = &mut apack[..mcp * kc];
                    pack_a(&self.a, tile.i0, mc, pc, kc, ap);
                    ap
                }
            };
            let bblock = &self.bpack[pc * self.ncp..pc * self.ncp + kc * self.ncp];
            let overwrite = pc == 0 && !self.accumulate;
            for jr in (0..nb).step_by(NR) {
                let nr = NR.min(nb - jr);
                let jp = (tile.j0 + jr) / NR;
                let bpanel = &bblock[jp * kc * NR..(jp + 1) * kc * NR];
                for (ip, apanel) in ap.chunks_exact(kc * MR).enumerate() {
                    let ir = ip * MR;
                    let mr = MR.min(mc - ir);
                    let acc = (self.kernel)(kc, mr, apanel, bpanel);
                    for (row, accr) in tile.rows[ir..ir + mr].iter_mut().zip(&acc) {
                        let dst = &mut row[jr..jr + nr];
                        if overwrite {
                            dst.copy_from_slice(&accr[..nr]);
                        } else {
                            for (d, &v) in dst.iter_mut().zip(accr) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Packs rows `i0..i0+mc`, reduction indices `pc..pc+kc` of `op(A)` into `MR`-row
/// panels: `out[p*kc*MR + kk*MR + r] = op(A)[i0 + p*MR + r][pc + kk]`, zero padded.
fn pack_a(a: &Operand, i0: usize, mc: usize, pc: usize, kc: usize, out: &mut [f32]) {
    if a.trans {
        // Stored A is k × m: walk its rows once each (one page per row rather
        // than one per row and panel), scattering each row over the panels.
        let npanels = out.len() / (kc * MR);
        for kk in 0..kc {
            let src = &a.data[(pc + kk) * a.ld + i0..][..mc];
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

/// Packs columns `jc..jc+nc` of `op(B)` (all `k` rows) into `out`, laid out as
/// consecutive `slice_depth(k)`-deep slices; slice `pc` starts at `pc * ncp` and holds `NR`-column
/// panels of `kc × NR` elements, zero padded.
fn pack_b(b: &Operand, k: usize, jc: usize, nc: usize, out: &mut [f32], parallel: bool) {
    let ncp = round_up(nc, NR);
    let kd = slice_depth(k);
    for pc in (0..k).step_by(kd) {
        let kc = kd.min(k - pc);
        let block = &mut out[pc * ncp..pc * ncp + kc * ncp];
        let pack = |(p, panel): (usize, &mut [f32])| {
            let j0 = jc + p * NR;
            let nr = NR.min(jc + nc - j0);
            pack_b_panel(b, pc, kc, j0, nr, panel);
        };
        if parallel {
            block.par_chunks_mut(kc * NR).enumerate().for_each(pack);
        } else {
            block.chunks_mut(kc * NR).enumerate().for_each(pack);
        }
    }
}

/// Packs one `kc × NR` panel of `op(B)` starting at row `pc`, column `j0`, with
/// `nr` valid columns.
fn pack_b_panel(b: &Operand, pc: usize, kc: usize, j0: usize, nr: usize, out: &mut [f32]) {
    if b.trans {
        if nr < NR {
            out.fill(0.0);
        }
        for c in 0..nr {
            let src = &b.data[(j0 + c) * b.ld + pc..][..kc];
            for (o, &v) in out.chunks_exact_mut(NR).zip(src) {
                o[c] = v;
            }
        }
    } else {
        for (kk, o) in out.chunks_exact_mut(NR).enumerate() {
            let src = &b.data[(pc + kk) * b.ld + j0..];
            if nr == NR {
                o.copy_from_slice(&src[..NR]);
            } else {
                o[..nr].copy_from_slice(&src[..nr]);
                o[nr..].fill(0.0);
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
    fn check(kernel: Kernel, m: usize, n: usize, k: usize, ta: bool, tb: bool, pad: usize, accumulate: bool, seed: u64) {
        let mut rng = Rng::new(seed);
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let (lda, ldb, ldc) = (ac + pad, bc + 2 * pad, n + 3 * pad);
        let a = rng.vec(ar * lda);
        let b = rng.vec(br * ldb);
        let c0 = rng.vec(m * ldc);
        let mut c = c0.clone();
        let mut r = c0.clone();
        gemm_with(kernel, m, n, k, &a, lda, ta, &b, ldb, tb, &mut c, ldc, accumulate);
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

    #[test]
    fn short_panels_match_full_panels_bitwise() {
        let mut rng = Rng::new(11);
        let kc = 37;
        let (a, b) = (rng.vec(kc * MR), rng.vec(kc * NR));
        for kernel in kernels() {
            let full = kernel(kc, MR, &a, &b);
            for rows in 1..MR {
                let part = kernel(kc, rows, &a, &b);
                for r in 0..rows {
                    assert!(part[r].iter().zip(&full[r]).all(|(x, y)| x.to_bits() == y.to_bits()), "rows={rows}");
                }
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
            }
        }
    }

    fn kernels() -> Vec<Kernel> {
        let mut v: Vec<Kernel> = vec![kernel_scalar];
        #[cfg(target_arch = "x86_64")]
        if avx2_fma_available() {
            v.push(kernel_avx2_fma);
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
            for &(m, n, k) in &[(130, 257, 99), (97, 300, 513), (200, 4100, 3), (32, 1000, 300), (50, 600, 20)] {
                for t in 0..4 {
                    let (ta, tb) = (t & 1 == 1, t & 2 == 2);
                    seed += 1;
                    check(kernel, m, n, k, ta, tb, 5, seed % 2 == 0, seed);
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
        check(select_kernel(), 61, 45, 300, false, true, 2, true, 99);
    }

    #[test]
    fn bit_identical_across_thread_counts() {
        let mut rng = Rng::new(42);
        // Square-ish, and short-and-wide (narrowed tiles).
        for (m, n, k) in [(203, 517, 301), (32, 256, 1024), (5, 1000, 64)] {
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
    fn gflops(kernel: Kernel, s: usize, reps: usize) -> f64 {
        let mut rng = Rng::new(7);
        let a = rng.vec(s * s);
        let b = rng.vec(s * s);
        let mut c = vec![0.0f32; s * s];
        let mut best = f64::MAX;
        for _ in 0..reps {
            let t = std::time::Instant::now();
            gemm_with(kernel, s, s, s, &a, s, false, &b, s, false, &mut c, s, false);
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
            let gf = gflops(kernel_scalar, s, 5);
            println!("gemm n={s} portable kernel: {gf:.1} GFLOP/s ({threads} threads)");
        }
    }
}

//! Block sizes and the tile grid: how a product is cut, from its sizes only
//! (never the thread count), so the arithmetic of every element is fixed.

/// Rows of the register-blocked microkernel tile.
pub(crate) const MR: usize = 6;
/// Columns of the register-blocked microkernel tile.
pub(crate) const NR: usize = 16;
/// Largest depth of one packed slice of the reduction dimension: a slice's
/// `B` micro-panel (`KC × NR`) and `A` micro-panel (`KC × MR`) together fit
/// a 32 KB L1.
pub(crate) const KC: usize = 384;
/// Rows of `C` per parallel tile (multiple of `MR`): a row block of `A` at
/// full slice depth stays in L2.
pub(super) const MC: usize = 120;
/// Columns of `C` per parallel tile (multiple of `NR`).
pub(super) const NB: usize = 256;
/// Parallel products are cut into at least this many tiles when `C` is wide
/// enough (narrowing tiles down to `NR` columns).
pub(super) const MIN_TILES: usize = 8;
/// Columns of `op(B)` packed at once (multiple of `NB`); bounds the packed-B buffer.
pub(super) const NC: usize = 4096;
/// `op(A)` is packed once and shared by all tiles when its packed form holds
/// at most this many floats, 16 MB (see [`shares_a`]): large enough for the
/// transposed gradients of an LSTM's weight gradients, which would otherwise
/// be packed again for each column block.
const SHARED_A_MAX: usize = 1 << 22;
/// Products with at most this many rows (and a shared `op(A)`) run as one
/// row of full-height column tiles that pack their own part of `op(B)`
/// (`tiles::Product::multiply_short`).
pub(super) const SHORT_M: usize = 2 * MC;
/// How many rows ahead the packing routines prefetch an operand whose rows
/// are too far apart for the hardware prefetchers.
pub(super) const PREFETCH_ROWS: usize = 16;
/// Problems with fewer flops than this run on the calling thread only.
const PAR_FLOPS: usize = 1 << 21;

/// Depth of the `k` slices actually used: `k` split into equal slices of at most
/// `KC` (avoids a short trailing slice).  Depends on `k` only.
pub(crate) fn slice_depth(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1))
}

/// `x` rounded up to a multiple of `to`.
pub(crate) fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// Whether `op(A)` (`m × k`) is packed once for the whole product and shared
/// by all tiles (instead of each tile packing its own rows): when it is small
/// enough that holding it whole costs little memory.
pub(super) fn shares_a(m: usize, k: usize) -> bool {
    round_up(m, MR) * k <= SHARED_A_MAX
}

/// Whether an `m × n × k` product is big enough to hand to rayon.
pub(super) fn worth_parallel(m: usize, n: usize, k: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k).saturating_mul(2) >= PAR_FLOPS
}

/// The tile grid of an `m × nc` block of `C`: `(row block height, tile
/// width, column blocks)`.  Row blocks are at most `MC` rows, tiles at most
/// `NB` columns, both cut as evenly as the `MR` / `NR` granularity allows;
/// parallel products narrow the tiles so that there are at least
/// `MIN_TILES`.  Depends on the sizes only.
pub(super) fn tile_grid(m: usize, nc: usize, parallel: bool) -> (usize, usize, usize) {
    let row_blocks = m.div_ceil(MC);
    let mc = round_up(m.div_ceil(row_blocks), MR);
    let widest = if parallel { round_up(nc.div_ceil(MIN_TILES.div_ceil(row_blocks)), NR).clamp(NR, NB) } else { NB };
    let col_blocks = nc.div_ceil(widest);
    let tile_n = round_up(nc.div_ceil(col_blocks), NR);
    (mc, tile_n, nc.div_ceil(tile_n))
}

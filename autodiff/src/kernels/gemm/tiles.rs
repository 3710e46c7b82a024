//! The parallel loops: `C` cut into tiles that run as independent rayon
//! tasks, each packing what it needs (lazily, once per block) and running
//! the macro-kernel slice by slice.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::blocking::{round_up, slice_depth, tile_grid, MIN_TILES, MR, NB, NR};
use super::macrokernel::{multiply_packed, BlockC, PanelsA};
use super::microkernel::{Kernel, Packed};
use super::pack_a::pack_a;
use super::pack_b::pack_b_panel;
use super::scratch::{PACK_A, PACK_B_TILE};
use super::transpose::transpose_simd_available;
use super::{Epilogue, MatRef};
use crate::kernels::scratch::{give_back_scratch, take_scratch};

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

/// What every tile of one product shares: `C (m × n, row stride ldc) (+)=
/// op(A) (m × k) · op(B)`, then the epilogue on each finished tile.
#[derive(Clone, Copy)]
pub(super) struct Product<'a> {
    pub(super) kernel: Kernel<Packed>,
    pub(super) a: MatRef<'a>,
    pub(super) n: usize,
    pub(super) c: SharedMut,
    pub(super) ldc: usize,
    pub(super) accumulate: bool,
    /// Bias values numbered by the columns of `C`.
    pub(super) epi: Epilogue<'a>,
    pub(super) parallel: bool,
}

/// Where the tiles of [`Product::multiply_block`] find `op(A)` packed.
#[derive(Clone, Copy)]
pub(super) enum ASource {
    /// Packed whole at this pointer ([`PackedLhs`](super::PackedLhs)'s
    /// layout, `round_up(m, MR) · k` floats); with `lazy`, each block of rows
    /// of a slice is packed by the first tile that needs it.
    Shared { data: SharedMut, lazy: bool },
    /// Each tile packs its own rows into a scratch buffer.
    PerTile,
}

/// A block of `NC` columns of `op(B)`, packed (`k · round_up(nc, NR)`
/// floats, laid out as [`pack_operands`](super::packed::pack_operands)
/// does) at `data`, or to be packed there from `from` by the tiles.
#[derive(Clone, Copy)]
pub(super) struct BlockB<'a> {
    pub(super) data: SharedMut,
    pub(super) from: Option<&'a MatRef<'a>>,
    /// First column of the block.
    pub(super) jc: usize,
    /// Columns in the block.
    pub(super) nc: usize,
}

impl Product<'_> {
    /// A short product (`m ≤ SHORT_M`, `op(A)` packed whole in `apack`): `C` is
    /// cut into column tiles of full height only, so each tile packs its own
    /// columns of `op(B)`, one slice at a time, right before using them (no
    /// packed copy of all of `op(B)` goes through memory).  Same arithmetic per
    /// element as [`Product::multiply_block`].
    pub(super) fn multiply_short(&self, apack: &[f32], b_op: &MatRef) {
        let Product { kernel, a, n, c: c_ptr, ldc, accumulate, epi, parallel } = *self;
        let (m, k) = (a.rows, a.cols);
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
                    let c0 = BlockC { ptr: c_ptr.get().add(j0), ld: ldc, cols: nb };
                    let a = PanelsA { data: &apack[mp * pc..mp * (pc + kc)], rows: m, kc };
                    multiply_packed(kernel, a, Packed(bp.as_ptr()), c0, accumulate || pc > 0);
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

    /// Columns `jc..jc + nc` of `C` (+)= `op(A)` times the block `b` of
    /// `op(B)`, over the grid of [`tile_grid`]. With `b.from`, the block is
    /// packed here, each tile column of each slice by the first tile that
    /// needs it; otherwise it is packed already. Packing inside the parallel
    /// loop lets one thread pack (memory-bound) while the other multiplies,
    /// and a block is used while it is still in cache. The packed values do
    /// not depend on which tile packs them, and an element's arithmetic never
    /// depends on its tile. The epilogue runs on each finished tile.
    pub(super) fn multiply_block(&self, a_src: ASource, b: BlockB) {
        let Product { kernel, a: a_op, n: _, c: c_ptr, ldc, accumulate, epi, parallel } = *self;
        let (m, k) = (a_op.rows, a_op.cols);
        let BlockB { data: bpack, from: pack_b, jc, nc } = b;
        let ncp = round_up(nc, NR);
        let mp = round_up(m, MR);
        let (mc_blk, tile_n, col_blocks) = tile_grid(m, nc, parallel);
        let row_blocks = m.div_ceil(mc_blk);
        let tiles = row_blocks * col_blocks;
        let kd = slice_depth(k);
        let slices = k.div_ceil(kd);
        let flags = |lazy: bool, blocks: usize| -> Vec<OnceLock<()>> {
            (0..if lazy { blocks * slices } else { 0 }).map(|_| OnceLock::new()).collect()
        };
        let a_ready = flags(matches!(a_src, ASource::Shared { lazy: true, .. }), row_blocks);
        let b_ready = flags(pack_b.is_some(), col_blocks);
        let simd = transpose_simd_available();
        let run = |t: usize| {
            let (rb, cb) = (t / col_blocks, t % col_blocks);
            let (i0, j0) = (rb * mc_blk, cb * tile_n);
            let (mc, nb) = (mc_blk.min(m - i0), tile_n.min(nc - j0));
            let (mcp, nbp) = (round_up(mc, MR), round_up(nb, NR));
            let mut ap = take_scratch(&PACK_A, if matches!(a_src, ASource::PerTile) { mcp * kd } else { 0 });
            for (s, pc) in (0..k).step_by(kd).enumerate() {
                let kc = kd.min(k - pc);
                let apk: &[f32] = match a_src {
                    ASource::Shared { data, lazy } => {
                        // Slice pc holds mp/MR panels of kc·MR; this tile's start at row i0 (a multiple of MR).
                        let at = data.get().wrapping_add(mp * pc + i0 * kc);
                        if lazy {
                            a_ready[rb * slices + s].get_or_init(|| {
                                // SAFETY: rows i0..i0+mcp of slice pc, inside the mp·k buffer; only
                                // this initializer writes them, and no reader exists before it ends.
                                pack_a(&a_op, i0, mc, pc, kc, unsafe { std::slice::from_raw_parts_mut(at, mcp * kc) });
                            });
                        }
                        // SAFETY: packed (just above, or before the call) and never written again.
                        unsafe { std::slice::from_raw_parts(at, mcp * kc) }
                    }
                    ASource::PerTile => {
                        pack_a(&a_op, i0, mc, pc, kc, &mut ap[..mcp * kc]);
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
                    let c0 = BlockC { ptr: c_ptr.get().add(i0 * ldc + jc + j0), ld: ldc, cols: nb };
                    multiply_packed(kernel, PanelsA { data: apk, rows: mc, kc }, Packed(bt), c0, accumulate || pc > 0);
                }
            }
            for i in i0..i0 + mc {
                // SAFETY: row i of this tile's block of C, written above.
                unsafe { epi.apply(c_ptr.get().add(i * ldc + jc + j0), jc + j0, nb) };
            }
            give_back_scratch(&PACK_A, ap);
        };
        if parallel && tiles > 1 {
            (0..tiles).into_par_iter().for_each(run);
        } else {
            (0..tiles).for_each(run);
        }
    }
}

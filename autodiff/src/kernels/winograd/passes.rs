//! The vectorized passes (padding copies and both transforms of a block)
//! and their dispatch to the vectors the CPU supports.

use std::mem::MaybeUninit;

use super::split::{pad_split, pad_split_images};
use super::transforms::{input_transform, output_transform, InputPass, OutputPass};
#[cfg(target_arch = "x86_64")]
use crate::kernels::lanes::Avx2;
use crate::kernels::lanes::{Lanes, Portable, LANES};

/// How the [`LANES`] lanes of the transforms cover tiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Layout {
    /// `LANES` tiles of one tile row.
    #[default]
    Row,
    /// Two tile rows of `LANES/2` tiles (images exactly that many tiles
    /// wide: ResNet's 16×16 maps with F(4×4), 8×8 ones with F(2×2)).
    Pairs,
    /// A tile row of each of `LANES/2` images two F(4×4) tiles wide (8×8
    /// maps), side by side (see [`pad_split_images`]).
    Images,
}

/// The [`Layout`] for tile size `m` and tile rows of `tw` tiles.
pub(super) fn layout(m: usize, tw: usize) -> Layout {
    if 2 * tw == LANES {
        Layout::Pairs
    } else if m == 4 && 4 * tw == LANES {
        Layout::Images
    } else {
        Layout::Row
    }
}

/// The layouts as constants for the transforms' generic parameter `L`.
pub(super) const ROW: u8 = Layout::Row as u8;
pub(super) const PAIRS: u8 = Layout::Pairs as u8;
pub(super) const IMAGES: u8 = Layout::Images as u8;

/// Where a transform pass works: tile rows `ty0..ty0+rows` of `tw` tiles
/// (of all the unit's images with [`Layout::Images`]), stored `tbp` apart
/// per row of `V`/`M`, their lanes laid out as `layout` says (unused by the
/// split copies).
#[derive(Clone, Copy, Default)]
pub(super) struct Block {
    pub(super) tw: usize,
    pub(super) ty0: usize,
    pub(super) rows: usize,
    pub(super) tbp: usize,
    pub(super) layout: Layout,
}

/// The vectorized passes: padding, and both transforms of one block.
#[derive(Clone, Copy)]
pub(super) enum Pass<'a> {
    /// Padded, phase-split copy of images (see [`pad_split`]).
    Split { src: &'a [f32], h: usize, w: usize, pad: (usize, usize), hp: usize, wp: usize },
    /// Padded copy of `imgs` images for [`Layout::Images`] (see [`pad_split_images`]).
    SplitImages { src: &'a [f32], imgs: usize, h: usize, w: usize, pad: (usize, usize), hp: usize },
    /// Input transform into `V`.
    Input(InputPass<'a>),
    /// Output transform from `M` into the image or the next convolution's
    /// padded copy.
    Output(OutputPass<'a>),
}

/// Runs one pass with `S`'s vectors for tile size `M` (`buf` is the padded
/// copy, `V`, or the image's output).
///
/// # Safety
/// `S`'s instructions must be available.
#[inline(always)]
pub(super) unsafe fn run_pass<S: Lanes, const M: usize, const A: usize>(pass: Pass, blk: Block, buf: &mut [MaybeUninit<f32>]) {
    // SAFETY: forwarded.
    unsafe {
        match pass {
            Pass::Split { src, h, w, pad, hp, wp } => pad_split::<S, M>(src, (h, w), pad, (hp, wp), buf),
            Pass::SplitImages { src, imgs, h, w, pad, hp } => pad_split_images::<S, A>(src, imgs, (h, w), pad, hp, buf),
            // The layout as a constant, so that neither loop tests it per vector.
            Pass::Input(p) => match blk.layout {
                Layout::Row => input_transform::<S, M, A, ROW>(p, blk, buf),
                Layout::Pairs => input_transform::<S, M, A, PAIRS>(p, blk, buf),
                Layout::Images => input_transform::<S, M, A, IMAGES>(p, blk, buf),
            },
            Pass::Output(p) => {
                assert!(p.split.is_none() || blk.layout == Layout::Row, "Winograd: split output needs whole tile rows");
                match blk.layout {
                    Layout::Row => output_transform::<S, M, A, ROW>(p, blk, buf),
                    Layout::Pairs => output_transform::<S, M, A, PAIRS>(OutputPass { split: None, ..p }, blk, buf),
                    Layout::Images => output_transform::<S, M, A, IMAGES>(OutputPass { split: None, ..p }, blk, buf),
                }
            }
        }
    }
}

/// [`run_pass`] with AVX2 vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn run_pass_avx2<const M: usize, const A: usize>(pass: Pass, blk: Block, buf: &mut [MaybeUninit<f32>]) {
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { run_pass::<Avx2, M, A>(pass, blk, buf) }
}

/// Which vectors the transforms use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    /// [`Portable`] arrays.
    Portable,
    /// [`Avx2`] registers (only after detection).
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The widest vectors the running CPU supports.
    pub(super) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
        Isa::Portable
    }
}

/// [`run_pass`] with the vectors of `isa`.
pub(super) fn transform<const M: usize, const A: usize>(isa: Isa, pass: Pass, blk: Block, buf: &mut [MaybeUninit<f32>]) {
    match isa {
        // SAFETY: Isa::Avx2 is only handed out after detection.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_pass_avx2::<M, A>(pass, blk, buf) },
        // SAFETY: the portable vectors need no special instructions.
        Isa::Portable => unsafe { run_pass::<Portable, M, A>(pass, blk, buf) },
    }
}

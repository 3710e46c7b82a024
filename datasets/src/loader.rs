//! [`DataLoader`]: seeded shuffling, batching, drop-last and seeded CIFAR-style
//! augmentation over any [`Dataset`].

use crate::dataset::{Batch, Dataset};
use crate::error::{DataError, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Random-crop-with-padding and horizontal-flip augmentation of images.
///
/// Each example is padded by `crop_padding` pixels on every side with the
/// data set's [`Dataset::pad_value`] (for byte image sets: a black pixel,
/// normalized, exactly like torchvision's `RandomCrop(32, padding=4)` before
/// `Normalize`), cropped back to its size at a uniformly random offset, then
/// mirrored left-right with probability `flip_prob`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Padding on each side before the random crop (0 disables cropping).
    pub crop_padding: usize,
    /// Probability of a horizontal flip (0 disables flipping).
    pub flip_prob: f64,
}

impl Augmentation {
    /// The usual CIFAR-10 training augmentation: padding 4, flip p = 0.5.
    pub fn cifar() -> Augmentation {
        Augmentation { crop_padding: 4, flip_prob: 0.5 }
    }
}

/// Mix a base seed with an epoch and a stream tag into a new seed.
fn mix(seed: u64, epoch: u64, stream: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Batches over a borrowed data set.
///
/// Built with [`DataLoader::new`] (in order, no shuffle, last partial batch
/// kept, no augmentation) and refined with the builder methods. Every epoch
/// is deterministic given `(seed, epoch)`.
#[derive(Debug, Clone)]
pub struct DataLoader<'a, D: Dataset + ?Sized> {
    dataset: &'a D,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    drop_last: bool,
    augmentation: Option<(Augmentation, u64)>,
}

impl<'a, D: Dataset + ?Sized> DataLoader<'a, D> {
    /// A loader of `batch_size` examples per batch; errors if it is 0.
    pub fn new(dataset: &'a D, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::invalid("batch size must be at least 1"));
        }
        Ok(DataLoader { dataset, batch_size, shuffle_seed: None, drop_last: false, augmentation: None })
    }

    /// Shuffle every epoch with a permutation drawn from `(seed, epoch)`.
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// Drop (true) or keep (false, the default) a last partial batch.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// Augment every example with `aug`, drawing from `(seed, epoch)`.
    /// Errors unless the examples are images (`[c, h, w]`).
    pub fn augmented(mut self, aug: Augmentation, seed: u64) -> Result<Self> {
        if self.dataset.example_shape().len() != 3 {
            return Err(DataError::invalid(format!(
                "augmentation needs image examples [c, h, w], got shape {:?}",
                self.dataset.example_shape()
            )));
        }
        if !(0.0..=1.0).contains(&aug.flip_prob) {
            return Err(DataError::invalid(format!("flip probability {} is outside [0, 1]", aug.flip_prob)));
        }
        self.augmentation = Some((aug, seed));
        Ok(self)
    }

    /// The data set.
    pub fn dataset(&self) -> &'a D {
        self.dataset
    }

    /// Examples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Examples per epoch (the data set size, less a dropped last batch).
    pub fn examples_per_epoch(&self) -> usize {
        if self.drop_last {
            self.num_batches() * self.batch_size
        } else {
            self.dataset.len()
        }
    }

    /// The order in which epoch `epoch` visits the examples: `0..len` if not
    /// shuffled, else a seeded permutation of it (before dropping the tail).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.shuffle_seed {
            order.shuffle(&mut StdRng::seed_from_u64(mix(seed, epoch, 1)));
        }
        order
    }

    /// Iterate over the batches of epoch `epoch`.
    pub fn epoch(&self, epoch: u64) -> Epoch<'a, D> {
        let mut order = self.order(epoch);
        order.truncate(self.examples_per_epoch());
        Epoch {
            dataset: self.dataset,
            batch_size: self.batch_size,
            order,
            pos: 0,
            augmentation: self.augmentation.map(|(aug, seed)| (aug, StdRng::seed_from_u64(mix(seed, epoch, 2)))),
            scratch: Vec::new(),
        }
    }
}

/// The batches of one epoch, in order; made by [`DataLoader::epoch`].
#[derive(Debug)]
pub struct Epoch<'a, D: Dataset + ?Sized> {
    dataset: &'a D,
    batch_size: usize,
    order: Vec<usize>,
    pos: usize,
    augmentation: Option<(Augmentation, StdRng)>,
    scratch: Vec<f32>,
}

impl<D: Dataset + ?Sized> Epoch<'_, D> {
    fn augment(&mut self, out: &mut [f32]) {
        let Some((aug, rng)) = self.augmentation.as_mut() else {
            return;
        };
        let shape = self.dataset.example_shape();
        let (c, h, w) = (shape[0], shape[1], shape[2]);
        let p = aug.crop_padding as isize;
        let (dy, dx) = if p > 0 { (rng.gen_range(0..=2 * p), rng.gen_range(0..=2 * p)) } else { (p, p) };
        let flip = aug.flip_prob > 0.0 && rng.gen_bool(aug.flip_prob);
        self.scratch.clear();
        self.scratch.extend_from_slice(out);
        for ch in 0..c {
            let fill = self.dataset.pad_value(ch);
            let plane = &self.scratch[ch * h * w..(ch + 1) * h * w];
            let dst = &mut out[ch * h * w..(ch + 1) * h * w];
            for y in 0..h {
                let sy = y as isize + dy - p;
                for x in 0..w {
                    let cx = if flip { w - 1 - x } else { x };
                    let sx = cx as isize + dx - p;
                    dst[y * w + x] =
                        if sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize { plane[sy as usize * w + sx as usize] } else { fill };
                }
            }
        }
    }
}

impl<D: Dataset + ?Sized> Iterator for Epoch<'_, D> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch_size).min(self.order.len());
        let idx: Vec<usize> = self.order[self.pos..end].to_vec();
        self.pos = end;
        let mut batch = self.dataset.gather(&idx);
        if self.augmentation.is_some() {
            let size = batch.example_size();
            for k in 0..idx.len() {
                let mut ex = std::mem::take(&mut batch.inputs);
                self.augment(&mut ex[k * size..(k + 1) * size]);
                batch.inputs = ex;
            }
        }
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.pos).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<D: Dataset + ?Sized> ExactSizeIterator for Epoch<'_, D> {}

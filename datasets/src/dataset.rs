//! The [`Dataset`] trait, the in-memory [`ClassificationSet`], its pair
//! [`ClassificationData`], pixel [`Normalization`] and the plain-data [`Batch`].

use crate::error::{DataError, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A finite, indexable set of (input, class label) examples.
///
/// Inputs are produced already normalized, as `f32`, in row-major order of
/// [`Dataset::example_shape`] (`[c, h, w]` for images, `[features]` for
/// vectors). Implementors may panic on an index `>= len()` (a programming
/// error, not bad input).
pub trait Dataset {
    /// Number of examples.
    fn len(&self) -> usize;

    /// True when there are no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one example's input: `[c, h, w]` or `[features]`.
    fn example_shape(&self) -> &[usize];

    /// Number of `f32` values in one example (product of the shape).
    fn example_size(&self) -> usize {
        self.example_shape().iter().product()
    }

    /// Number of classes; every target is in `0..num_classes()`.
    fn num_classes(&self) -> usize;

    /// Write example `index`'s normalized input into `out`
    /// (`out.len() == example_size()`).
    fn write_input(&self, index: usize, out: &mut [f32]);

    /// Class label of example `index`.
    fn target(&self, index: usize) -> usize;

    /// Value used for padding pixels of `channel` by crop augmentation.
    /// The default is 0.0 (zero in normalized space).
    fn pad_value(&self, channel: usize) -> f32 {
        let _ = channel;
        0.0
    }

    /// Gather the examples at `indices` (in that order, no augmentation)
    /// into one [`Batch`].
    fn gather(&self, indices: &[usize]) -> Batch {
        let size = self.example_size();
        let mut inputs = vec![0.0f32; indices.len() * size];
        let mut targets = Vec::with_capacity(indices.len());
        for (k, &i) in indices.iter().enumerate() {
            self.write_input(i, &mut inputs[k * size..(k + 1) * size]);
            targets.push(self.target(i));
        }
        let mut shape = vec![indices.len()];
        shape.extend_from_slice(self.example_shape());
        Batch { inputs, shape, targets }
    }
}

/// A batch of examples as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Normalized inputs, row-major in `shape`.
    pub inputs: Vec<f32>,
    /// `[b, c, h, w]` for images or `[b, features]` for vectors.
    pub shape: Vec<usize>,
    /// Class labels, one per example (`targets.len() == shape[0]`).
    pub targets: Vec<usize>,
}

impl Batch {
    /// Number of examples in the batch.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when the batch holds no example.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Number of `f32` values per example.
    pub fn example_size(&self) -> usize {
        self.shape[1..].iter().product()
    }
}

/// Pixel normalization of byte-valued inputs:
/// `value = (byte * scale - mean[c]) / std[c]`, computed in `f32` in that
/// order (`byte / 255.0` when `scale` is `1/255`, as PyTorch's `ToTensor`).
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Short name for descriptions ("mnist", "cifar10", ...).
    pub name: String,
    /// Divisor applied first (255.0 for images).
    pub divisor: f32,
    /// Per-channel mean subtracted after dividing (one entry applies to all channels).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by last (same length as `mean`).
    pub std: Vec<f32>,
}

impl Normalization {
    /// MNIST: `x/255` then `(x - 0.1307) / 0.3081` (as llv's zoo.py).
    pub fn mnist() -> Normalization {
        Normalization { name: "mnist".into(), divisor: 255.0, mean: vec![0.1307], std: vec![0.3081] }
    }

    /// Fashion-MNIST: `x/255` then `(x - 0.2860) / 0.3530`, the commonly used
    /// statistics of its training set (zoo.py documents none for it).
    pub fn fashion_mnist() -> Normalization {
        Normalization { name: "fashion-mnist".into(), divisor: 255.0, mean: vec![0.2860], std: vec![0.3530] }
    }

    /// CIFAR-10: `x/255` then per channel mean (0.4914, 0.4822, 0.4465),
    /// std (0.2470, 0.2435, 0.2616) (as llv's zoo.py).
    pub fn cifar10() -> Normalization {
        Normalization { name: "cifar10".into(), divisor: 255.0, mean: vec![0.4914, 0.4822, 0.4465], std: vec![0.2470, 0.2435, 0.2616] }
    }

    /// Only `x/255` (mean 0, std 1).
    pub fn unit() -> Normalization {
        Normalization { name: "unit".into(), divisor: 255.0, mean: vec![0.0], std: vec![1.0] }
    }

    /// Normalize one byte of channel `channel`.
    pub fn apply(&self, byte: u8, channel: usize) -> f32 {
        let c = if self.mean.len() == 1 { 0 } else { channel };
        (byte as f32 / self.divisor - self.mean[c]) / self.std[c]
    }

    /// Human-readable formula, e.g. `x/255, (x-0.1307)/0.3081`.
    pub fn describe(&self) -> String {
        let list = |v: &[f32]| {
            if v.len() == 1 {
                format!("{}", v[0])
            } else {
                let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                format!("({})", s.join(", "))
            }
        };
        format!("{}: x/{}, then (x - mean {}) / std {}", self.name, self.divisor, list(&self.mean), list(&self.std))
    }
}

/// Storage of a [`ClassificationSet`]'s inputs.
#[derive(Debug, Clone)]
enum Inputs {
    /// Raw bytes normalized on the fly through a per-channel lookup table.
    Bytes { data: Vec<u8>, norm: Normalization, lut: Vec<f32> },
    /// Already-final floats.
    Floats(Vec<f32>),
}

/// An in-memory classification data set: images stored as raw bytes (so
/// CIFAR-10 takes 150 MB, not 600) and normalized when read, or feature
/// vectors stored as `f32`.
#[derive(Debug, Clone)]
pub struct ClassificationSet {
    inputs: Inputs,
    shape: Vec<usize>,
    size: usize,
    targets: Vec<usize>,
    num_classes: usize,
}

fn check_common(len: usize, shape: &[usize], targets: &[usize], num_classes: usize) -> Result<usize> {
    if shape.is_empty() || shape.contains(&0) {
        return Err(DataError::invalid(format!("example shape {shape:?} must be non-empty with no zero dimension")));
    }
    let size: usize = shape.iter().product();
    if len != size * targets.len() {
        return Err(DataError::invalid(format!("{} input values do not make {} examples of shape {shape:?}", len, targets.len())));
    }
    if let Some((i, t)) = targets.iter().enumerate().find(|(_, &t)| t >= num_classes) {
        return Err(DataError::invalid(format!("target {t} of example {i} is outside 0..{num_classes}")));
    }
    Ok(size)
}

impl ClassificationSet {
    /// Build from raw bytes (`targets.len()` examples of `example_shape`,
    /// row-major) normalized by `norm` when read. For a 3-D shape `[c, h, w]`
    /// the normalization has 1 or `c` channels; otherwise 1.
    pub fn from_bytes(
        data: Vec<u8>,
        example_shape: Vec<usize>,
        targets: Vec<usize>,
        num_classes: usize,
        norm: Normalization,
    ) -> Result<ClassificationSet> {
        let size = check_common(data.len(), &example_shape, &targets, num_classes)?;
        let channels = if example_shape.len() == 3 { example_shape[0] } else { 1 };
        if norm.mean.len() != norm.std.len() || (norm.mean.len() != 1 && norm.mean.len() != channels) {
            return Err(DataError::invalid(format!(
                "normalization {} has {} means and {} stds for {channels} channels",
                norm.name,
                norm.mean.len(),
                norm.std.len()
            )));
        }
        let mut lut = Vec::with_capacity(channels * 256);
        for c in 0..channels {
            for b in 0..=255u8 {
                lut.push(norm.apply(b, c));
            }
        }
        Ok(ClassificationSet { inputs: Inputs::Bytes { data, norm, lut }, shape: example_shape, size, targets, num_classes })
    }

    /// Build from final `f32` features (`targets.len()` examples of
    /// `example_shape`, row-major), used as they are.
    pub fn from_f32(data: Vec<f32>, example_shape: Vec<usize>, targets: Vec<usize>, num_classes: usize) -> Result<ClassificationSet> {
        let size = check_common(data.len(), &example_shape, &targets, num_classes)?;
        Ok(ClassificationSet { inputs: Inputs::Floats(data), shape: example_shape, size, targets, num_classes })
    }

    /// Number of examples (same as [`Dataset::len`], usable without the trait).
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Shape of one input (same as [`Dataset::example_shape`]).
    pub fn example_shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of classes (same as [`Dataset::num_classes`]).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All targets, in order.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }

    /// The normalization applied to byte inputs (`None` for `f32` sets).
    pub fn normalization(&self) -> Option<&Normalization> {
        match &self.inputs {
            Inputs::Bytes { norm, .. } => Some(norm),
            Inputs::Floats(_) => None,
        }
    }

    /// The raw bytes of example `index` (`None` for `f32` sets or out of range).
    pub fn raw_bytes(&self, index: usize) -> Option<&[u8]> {
        match &self.inputs {
            Inputs::Bytes { data, .. } => data.get(index * self.size..(index + 1) * self.size),
            Inputs::Floats(_) => None,
        }
    }

    /// `[c, h, w]` when examples are images (3-D), else `None`.
    pub fn image_dims(&self) -> Option<[usize; 3]> {
        match self.shape[..] {
            [c, h, w] => Some([c, h, w]),
            _ => None,
        }
    }

    /// Input channels of an image set (`None` for vectors).
    pub fn in_channels(&self) -> Option<usize> {
        self.image_dims().map(|d| d[0])
    }

    /// Side of a square image set (`None` for vectors or non-square images).
    pub fn image_size(&self) -> Option<usize> {
        self.image_dims().filter(|d| d[1] == d[2]).map(|d| d[1])
    }

    /// Number of examples of each class (`num_classes()` entries).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &t in &self.targets {
            counts[t] += 1;
        }
        counts
    }

    /// A new set of the examples at `indices` (in that order; repeats
    /// allowed). Errors if an index is out of range.
    pub fn select(&self, indices: &[usize]) -> Result<ClassificationSet> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::invalid(format!("index {bad} out of range for a set of {} examples", self.len())));
        }
        let size = self.size;
        let inputs = match &self.inputs {
            Inputs::Bytes { data, norm, lut } => {
                let mut out = Vec::with_capacity(indices.len() * size);
                for &i in indices {
                    out.extend_from_slice(&data[i * size..(i + 1) * size]);
                }
                Inputs::Bytes { data: out, norm: norm.clone(), lut: lut.clone() }
            }
            Inputs::Floats(data) => {
                let mut out = Vec::with_capacity(indices.len() * size);
                for &i in indices {
                    out.extend_from_slice(&data[i * size..(i + 1) * size]);
                }
                Inputs::Floats(out)
            }
        };
        Ok(ClassificationSet {
            inputs,
            shape: self.shape.clone(),
            size,
            targets: indices.iter().map(|&i| self.targets[i]).collect(),
            num_classes: self.num_classes,
        })
    }

    /// The first `n` examples (all of them if `n >= len()`).
    pub fn first(&self, n: usize) -> ClassificationSet {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.select(&idx).expect("indices in range")
    }

    /// `n` distinct examples drawn uniformly with `seed`, kept in their
    /// original order (all of them if `n >= len()`).
    pub fn sample(&self, n: usize, seed: u64) -> ClassificationSet {
        let n = n.min(self.len());
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx = rand::seq::index::sample(&mut rng, self.len(), n).into_vec();
        idx.sort_unstable();
        self.select(&idx).expect("indices in range")
    }

    /// Split into `(train, test)` with `round(len * test_fraction)` test
    /// examples drawn with `seed`; both parts keep the original order.
    /// `test_fraction` must be in `[0, 1)`.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(ClassificationSet, ClassificationSet)> {
        if !(0.0..1.0).contains(&test_fraction) {
            return Err(DataError::invalid(format!("test fraction {test_fraction} is outside [0, 1)")));
        }
        let n_test = ((self.len() as f64) * test_fraction).round() as usize;
        let mut perm: Vec<usize> = (0..self.len()).collect();
        perm.shuffle(&mut StdRng::seed_from_u64(seed));
        let (test, train) = perm.split_at_mut(n_test);
        test.sort_unstable();
        train.sort_unstable();
        Ok((self.select(train)?, self.select(test)?))
    }
}

impl Dataset for ClassificationSet {
    fn len(&self) -> usize {
        self.targets.len()
    }

    fn example_shape(&self) -> &[usize] {
        &self.shape
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn write_input(&self, index: usize, out: &mut [f32]) {
        let size = self.size;
        match &self.inputs {
            Inputs::Bytes { data, lut, .. } => {
                let src = &data[index * size..(index + 1) * size];
                let channels = lut.len() / 256;
                let per_channel = size / channels;
                for (c, (o, s)) in out.chunks_mut(per_channel).zip(src.chunks(per_channel)).enumerate() {
                    let table = &lut[c * 256..(c + 1) * 256];
                    for (o, &b) in o.iter_mut().zip(s) {
                        *o = table[b as usize];
                    }
                }
            }
            Inputs::Floats(data) => out.copy_from_slice(&data[index * size..(index + 1) * size]),
        }
    }

    fn target(&self, index: usize) -> usize {
        self.targets[index]
    }

    /// Byte sets pad with the normalized value of a black (0) pixel, as
    /// torchvision's `RandomCrop(padding=4)` before `Normalize` does;
    /// `f32` sets pad with 0.
    fn pad_value(&self, channel: usize) -> f32 {
        match &self.inputs {
            Inputs::Bytes { norm, .. } => norm.apply(0, channel),
            Inputs::Floats(_) => 0.0,
        }
    }
}

/// A classification data set's train and test parts with its metadata.
#[derive(Debug, Clone)]
pub struct ClassificationData {
    /// Short name ("mnist", "cifar10", "spirals", ...).
    pub name: String,
    /// Where it came from ("embedded mnist-10k", a directory, "generated ...").
    pub source: String,
    /// Training examples.
    pub train: ClassificationSet,
    /// Test examples.
    pub test: ClassificationSet,
}

impl ClassificationData {
    /// Shape of one input (`[c, h, w]` or `[features]`).
    pub fn example_shape(&self) -> &[usize] {
        self.train.example_shape()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.train.num_classes()
    }

    /// Input channels of an image set (`None` for vectors).
    pub fn in_channels(&self) -> Option<usize> {
        self.train.in_channels()
    }

    /// Side of a square image set (`None` for vectors or non-square images).
    pub fn image_size(&self) -> Option<usize> {
        self.train.image_size()
    }
}

//! IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.
//!
//! Format: a big-endian `u32` magic `0x0000TTNN` (`TT` = 0x08 for unsigned
//! bytes, the only type read here; `NN` = number of dimensions), `NN`
//! big-endian `u32` dimensions, then the data. Images are `0x00000803`
//! (`[n, rows, cols]`), labels `0x00000801` (`[n]`). A file is treated as
//! gzip when it starts with the gzip magic bytes `1f 8b`, whatever its name.

use crate::dataset::{ClassificationData, ClassificationSet, Normalization};
use crate::error::{DataError, Result};
use byteorder::{BigEndian, ByteOrder};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of unsigned-byte images `[n, rows, cols]`.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels `[n]`.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The bytes, row-major.
    pub data: Vec<u8>,
}

/// Decompress `bytes` if they start with the gzip magic, else borrow them.
pub fn maybe_gunzip<'a>(bytes: &'a [u8], name: &str) -> Result<std::borrow::Cow<'a, [u8]>> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                DataError::Truncated { path: name.to_string(), detail: "the gzip stream ends early".into() }
            } else {
                DataError::Corrupt { path: name.to_string(), detail: format!("corrupt gzip stream: {e}") }
            }
        })?;
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// Parse an IDX file's bytes (gzip or raw). `name` names the file in errors.
/// With `expected_magic`, any other magic number is a [`DataError::BadMagic`].
pub fn parse_idx(bytes: &[u8], name: &str, expected_magic: Option<u32>) -> Result<IdxArray> {
    let bytes = maybe_gunzip(bytes, name)?;
    let truncated = |detail: String| DataError::Truncated { path: name.to_string(), detail };
    if bytes.len() < 4 {
        return Err(truncated(format!("header: {} bytes, the magic number alone needs 4", bytes.len())));
    }
    let magic = BigEndian::read_u32(&bytes[0..4]);
    if let Some(expected) = expected_magic {
        if magic != expected {
            return Err(DataError::BadMagic { path: name.to_string(), found: magic, expected });
        }
    }
    if magic >> 16 != 0 || (magic >> 8) & 0xff != 0x08 || magic & 0xff == 0 {
        return Err(DataError::Corrupt {
            path: name.to_string(),
            detail: format!("magic number 0x{magic:08x} is not an IDX file of unsigned bytes (0x000008NN)"),
        });
    }
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(truncated(format!("header: {} bytes, {ndim} dimensions need {header}", bytes.len())));
    }
    let dims: Vec<usize> = (0..ndim).map(|i| BigEndian::read_u32(&bytes[4 + 4 * i..8 + 4 * i]) as usize).collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| DataError::Corrupt { path: name.to_string(), detail: format!("dimensions {dims:?} overflow") })?;
    let body = bytes.len() - header;
    if body < count {
        return Err(truncated(format!("body: dimensions {dims:?} need {count} data bytes, found {body}")));
    }
    if body > count {
        return Err(DataError::Corrupt {
            path: name.to_string(),
            detail: format!("{} bytes after the {count} data bytes of dimensions {dims:?}", body - count),
        });
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

/// Read and parse an IDX file (gzip or raw) from disk.
pub fn read_idx(path: &Path, expected_magic: Option<u32>) -> Result<IdxArray> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::from_io(&name, "an IDX file", e))?;
    parse_idx(&bytes, &name, expected_magic)
}

/// Build a 10-class image set from parsed image `[n, h, w]` and label `[n]`
/// arrays; `images_name`/`labels_name` name the files in errors.
pub fn image_set_from_idx(
    images: IdxArray,
    labels: IdxArray,
    images_name: &str,
    labels_name: &str,
    norm: Normalization,
) -> Result<ClassificationSet> {
    if images.dims.len() != 3 {
        return Err(DataError::Corrupt { path: images_name.into(), detail: format!("images need 3 dimensions, found {:?}", images.dims) });
    }
    if labels.dims.len() != 1 {
        return Err(DataError::Corrupt { path: labels_name.into(), detail: format!("labels need 1 dimension, found {:?}", labels.dims) });
    }
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if n != labels.dims[0] {
        return Err(DataError::CountMismatch {
            images: images_name.into(),
            labels: labels_name.into(),
            n_images: n,
            n_labels: labels.dims[0],
        });
    }
    if h == 0 || w == 0 {
        return Err(DataError::Corrupt { path: images_name.into(), detail: format!("empty image size {h}x{w}") });
    }
    if let Some((i, &l)) = labels.data.iter().enumerate().find(|(_, &l)| l >= 10) {
        return Err(DataError::Corrupt { path: labels_name.into(), detail: format!("label {l} of record {i} is outside 0..=9") });
    }
    let targets = labels.data.iter().map(|&l| l as usize).collect();
    ClassificationSet::from_bytes(images.data, vec![1, h, w], targets, 10, norm)
}

/// The standard MNIST file stems, in the order train images, train labels,
/// test images, test labels.
pub const MNIST_FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// Find `stem` in `dir` as `stem`, `stem.gz`, or with the last `-` before
/// `idx` written as `.` (some mirrors' spelling).
fn find_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    for cand in [stem.to_string(), format!("{stem}.gz"), dotted.clone(), format!("{dotted}.gz")] {
        let p = dir.join(&cand);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::NotFound {
        path: dir.join(format!("{stem}[.gz]")).display().to_string(),
        what: format!("the IDX file {stem} (raw or .gz)"),
    })
}

/// Load an MNIST-format directory (MNIST, Fashion-MNIST, or the embedded
/// subset's copy) holding the four standard files, raw or gzip.
pub fn load_mnist_dir(dir: &Path, name: &str, norm: Normalization) -> Result<ClassificationData> {
    if !dir.is_dir() {
        return Err(DataError::NotFound { path: dir.display().to_string(), what: format!("a {name} directory with the four IDX files") });
    }
    let paths: Vec<PathBuf> = MNIST_FILES.iter().map(|s| find_file(dir, s)).collect::<Result<_>>()?;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut arrays = Vec::with_capacity(4);
    for (k, p) in paths.iter().enumerate() {
        let magic = if k % 2 == 0 { IDX_IMAGES_MAGIC } else { IDX_LABELS_MAGIC };
        arrays.push(read_idx(p, Some(magic))?);
    }
    let mut it = arrays.into_iter();
    let (a, b, c, d) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let train = image_set_from_idx(a, b, &names[0], &names[1], norm.clone())?;
    let test = image_set_from_idx(c, d, &names[2], &names[3], norm)?;
    check_same_shape(&train, &test, &names[2])?;
    Ok(ClassificationData { name: name.to_string(), source: dir.display().to_string(), train, test })
}

/// Error unless train and test images share a shape.
pub(crate) fn check_same_shape(train: &ClassificationSet, test: &ClassificationSet, test_name: &str) -> Result<()> {
    if train.example_shape() != test.example_shape() {
        return Err(DataError::Corrupt {
            path: test_name.into(),
            detail: format!("test images have shape {:?} but training images {:?}", test.example_shape(), train.example_shape()),
        });
    }
    Ok(())
}

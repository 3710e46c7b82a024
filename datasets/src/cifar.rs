//! CIFAR-10 binary batches.
//!
//! Each file (`data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`) is
//! a sequence of 3,073-byte records: one label byte (0..=9), then 3,072
//! pixel bytes, the 32x32 red plane, then green, then blue (row-major), which
//! is exactly the `[3, 32, 32]` layout of a [`ClassificationSet`] example.

use crate::dataset::{ClassificationData, ClassificationSet, Normalization};
use crate::error::{DataError, Result};
use std::path::{Path, PathBuf};

/// Bytes of one image (3 x 32 x 32).
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record (label + image).
pub const CIFAR_RECORD_BYTES: usize = 1 + CIFAR_IMAGE_BYTES;
/// The five training batch file names.
pub const CIFAR_TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test batch file name.
pub const CIFAR_TEST_FILE: &str = "test_batch.bin";
/// The subdirectory the official archive unpacks to.
pub const CIFAR_SUBDIR: &str = "cifar-10-batches-bin";
/// CIFAR-10 class names, by label.
pub const CIFAR_CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Parse one batch file's bytes, appending its pixels and labels.
/// `name` names the file in errors.
pub fn parse_cifar_batch(bytes: &[u8], name: &str, pixels: &mut Vec<u8>, labels: &mut Vec<usize>) -> Result<()> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR_RECORD_BYTES) {
        return Err(DataError::BadSize { path: name.into(), len: bytes.len() as u64, record: CIFAR_RECORD_BYTES });
    }
    let start = labels.len();
    for (i, rec) in bytes.chunks_exact(CIFAR_RECORD_BYTES).enumerate() {
        if rec[0] >= 10 {
            labels.truncate(start);
            return Err(DataError::Corrupt { path: name.into(), detail: format!("label {} of record {i} is outside 0..=9", rec[0]) });
        }
        labels.push(rec[0] as usize);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok(())
}

/// The directory holding the batch files: `dir` itself, or
/// `dir/cifar-10-batches-bin` when that holds them instead.
pub fn resolve_cifar_dir(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir.display().to_string(),
            what: "a CIFAR-10 directory (holding data_batch_1.bin ... test_batch.bin \
                   directly or in cifar-10-batches-bin/)"
                .into(),
        });
    }
    let sub = dir.join(CIFAR_SUBDIR);
    if !dir.join(CIFAR_TRAIN_FILES[0]).is_file() && sub.join(CIFAR_TRAIN_FILES[0]).is_file() {
        Ok(sub)
    } else {
        Ok(dir.to_path_buf())
    }
}

fn read_batches(dir: &Path, files: &[&str]) -> Result<(Vec<u8>, Vec<usize>)> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for f in files {
        let path = dir.join(f);
        let name = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|e| DataError::from_io(&name, "a CIFAR-10 binary batch", e))?;
        parse_cifar_batch(&bytes, &name, &mut pixels, &mut labels)?;
    }
    Ok((pixels, labels))
}

/// Load CIFAR-10 (all five training batches, 50,000 images, and the test
/// batch, 10,000) from `dir` with the CIFAR-10 normalization.
pub fn load_cifar10(dir: &Path) -> Result<ClassificationData> {
    let root = resolve_cifar_dir(dir)?;
    let (px, lb) = read_batches(&root, &CIFAR_TRAIN_FILES)?;
    let train = ClassificationSet::from_bytes(px, vec![3, 32, 32], lb, 10, Normalization::cifar10())?;
    let (px, lb) = read_batches(&root, &[CIFAR_TEST_FILE])?;
    let test = ClassificationSet::from_bytes(px, vec![3, 32, 32], lb, 10, Normalization::cifar10())?;
    Ok(ClassificationData { name: "cifar10".into(), source: root.display().to_string(), train, test })
}

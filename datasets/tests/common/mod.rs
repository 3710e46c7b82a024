//! Helpers shared by the integration tests: unique temp dirs and file builders.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory under target/tmp.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "llv-datasets-{tag}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bytes of an IDX file with the given magic and dimensions.
pub fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Gzip `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Write a small MNIST-format directory: `n_train`/`n_test` images of
/// `h x w` with pixel `(i * 7 + k) % 256` and label `i % 10`.
pub fn write_mnist_dir(dir: &std::path::Path, n_train: u32, n_test: u32, gz: bool) {
    let (h, w) = (4u32, 5u32);
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let px: Vec<u8> = (0..n * h * w).map(|k| ((k / (h * w)) * 7 + k % (h * w)) as u8).collect();
        let lb: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let img = idx_bytes(0x803, &[n, h, w], &px);
        let lab = idx_bytes(0x801, &[n], &lb);
        let ext = if gz { ".gz" } else { "" };
        let (img, lab) = if gz { (gzip(&img), gzip(&lab)) } else { (img, lab) };
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte{ext}")), img).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte{ext}")), lab).unwrap();
    }
}

/// Bytes of a CIFAR-10 batch of `n` records: label `i % 10`, pixel
/// `(i + k) % 256`.
pub fn cifar_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push((i % 10) as u8);
        out.extend((0..3072).map(|k| ((i + k) % 256) as u8));
    }
    out
}

/// Write a full set of CIFAR-10 batch files (`per_file` records each).
pub fn write_cifar_dir(dir: &std::path::Path, per_file: usize) {
    for f in datasets::cifar::CIFAR_TRAIN_FILES {
        std::fs::write(dir.join(f), cifar_bytes(per_file)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), cifar_bytes(per_file)).unwrap();
}

//! IDX and CIFAR-10 readers on files written by the test, including broken ones.

mod common;

use common::*;
use datasets::idx::{parse_idx, read_idx, IDX_IMAGES_MAGIC};
use datasets::{cifar, idx, DataError, Dataset, Normalization};

#[test]
fn idx_raw_and_gz_read_the_same() {
    let raw_dir = temp_dir("raw");
    let gz_dir = temp_dir("gz");
    write_mnist_dir(&raw_dir, 30, 12, false);
    write_mnist_dir(&gz_dir, 30, 12, true);
    let a = idx::load_mnist_dir(&raw_dir, "mnist", Normalization::mnist()).unwrap();
    let b = idx::load_mnist_dir(&gz_dir, "mnist", Normalization::mnist()).unwrap();
    assert_eq!((a.train.len(), a.test.len()), (30, 12));
    assert_eq!(a.example_shape(), &[1, 4, 5]);
    let ia: Vec<usize> = (0..30).collect();
    assert_eq!(a.train.gather(&ia), b.train.gather(&ia));
    assert_eq!(a.train.raw_bytes(3).unwrap(), b.train.raw_bytes(3).unwrap());
    assert_eq!(a.train.raw_bytes(3).unwrap()[0], 21);
    assert_eq!(a.test.targets(), b.test.targets());
    let raw = std::fs::read(raw_dir.join("train-images-idx3-ubyte")).unwrap();
    let gz = std::fs::read(gz_dir.join("train-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(parse_idx(&raw, "r", None).unwrap(), parse_idx(&gz, "g", None).unwrap());
    std::fs::remove_dir_all(raw_dir).ok();
    std::fs::remove_dir_all(gz_dir).ok();
}

#[test]
fn idx_wrong_magic() {
    let dir = temp_dir("magic");
    let p = dir.join("train-images-idx3-ubyte");
    std::fs::write(&p, idx_bytes(0x801, &[2], &[1, 2])).unwrap();
    let err = read_idx(&p, Some(IDX_IMAGES_MAGIC)).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("train-images-idx3-ubyte") && msg.contains("magic"), "{msg}");
    // Not IDX at all.
    std::fs::write(&p, b"GIF89a....").unwrap();
    assert!(read_idx(&p, None).is_err());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn idx_truncated_header_and_body() {
    let dir = temp_dir("trunc");
    let p = dir.join("t10k-images-idx3-ubyte");
    let full = idx_bytes(0x803, &[2, 3, 3], &[7; 18]);
    for (cut, part) in [(2, "header"), (10, "header"), (20, "body"), (33, "body")] {
        std::fs::write(&p, &full[..cut]).unwrap();
        let err = read_idx(&p, Some(IDX_IMAGES_MAGIC)).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("t10k-images-idx3-ubyte") && msg.contains(part), "{msg}");
    }
    // Truncated gzip stream.
    let gz = gzip(&full);
    let pg = dir.join("t10k-images-idx3-ubyte.gz");
    std::fs::write(&pg, &gz[..gz.len() / 2]).unwrap();
    let err = read_idx(&pg, None).unwrap_err();
    assert!(err.to_string().contains("t10k-images-idx3-ubyte.gz"), "{err}");
    // Trailing garbage.
    let mut long = full.clone();
    long.push(0);
    std::fs::write(&p, &long).unwrap();
    assert!(matches!(read_idx(&p, None), Err(DataError::Corrupt { .. })));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn idx_count_mismatch_and_bad_label() {
    let dir = temp_dir("count");
    write_mnist_dir(&dir, 10, 5, false);
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx_bytes(0x801, &[9], &[0; 9])).unwrap();
    let err = idx::load_mnist_dir(&dir, "mnist", Normalization::mnist()).unwrap_err();
    match &err {
        DataError::CountMismatch { n_images, n_labels, .. } => assert_eq!((*n_images, *n_labels), (10, 9)),
        e => panic!("{e:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("train-images") && msg.contains("train-labels"), "{msg}");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx_bytes(0x801, &[10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10])).unwrap();
    let err = idx::load_mnist_dir(&dir, "mnist", Normalization::mnist()).unwrap_err();
    assert!(err.to_string().contains("label 10"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn missing_files_and_dirs() {
    let dir = temp_dir("missing");
    let err = idx::load_mnist_dir(&dir.join("nope"), "mnist", Normalization::mnist()).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"));
    write_mnist_dir(&dir, 4, 4, true);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let err = idx::load_mnist_dir(&dir, "mnist", Normalization::mnist()).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
    let err = read_idx(&dir.join("absent"), None).unwrap_err();
    assert!(err.to_string().contains("absent"));
    let err = cifar::load_cifar10(&dir.join("no-cifar")).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    // A CIFAR dir missing test_batch.bin.
    let cdir = temp_dir("cifar-missing");
    write_cifar_dir(&cdir, 1);
    std::fs::remove_file(cdir.join("test_batch.bin")).unwrap();
    let err = cifar::load_cifar10(&cdir).unwrap_err();
    assert!(err.to_string().contains("test_batch.bin"), "{err}");
    std::fs::remove_dir_all(dir).ok();
    std::fs::remove_dir_all(cdir).ok();
}

#[test]
fn cifar_reads_direct_and_subdir() {
    let dir = temp_dir("cifar");
    write_cifar_dir(&dir, 3);
    let d = cifar::load_cifar10(&dir).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (15, 3));
    assert_eq!(d.example_shape(), &[3, 32, 32]);
    assert_eq!((d.in_channels(), d.image_size(), d.num_classes()), (Some(3), Some(32), 10));
    assert_eq!(&d.train.targets()[..4], &[0, 1, 2, 0]);
    assert_eq!(d.train.raw_bytes(1).unwrap()[..3], [1, 2, 3]);
    // Known pixel: record 1 of a batch, green channel first pixel = (1 + 1024) % 256 = 1.
    let mut x = vec![0.0; 3072];
    d.train.write_input(1, &mut x);
    let want = (1.0f32 / 255.0 - 0.4822) / 0.2435;
    assert!((x[1024] - want).abs() < 1e-6);

    let outer = temp_dir("cifar-outer");
    let sub = outer.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&sub).unwrap();
    write_cifar_dir(&sub, 2);
    let d = cifar::load_cifar10(&outer).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (10, 2));
    std::fs::remove_dir_all(dir).ok();
    std::fs::remove_dir_all(outer).ok();
}

#[test]
fn cifar_wrong_size_and_bad_label() {
    let dir = temp_dir("cifar-bad");
    write_cifar_dir(&dir, 2);
    let mut bytes = cifar_bytes(2);
    bytes.truncate(3073 + 100);
    std::fs::write(dir.join("data_batch_3.bin"), &bytes).unwrap();
    let err = cifar::load_cifar10(&dir).unwrap_err();
    assert!(matches!(err, DataError::BadSize { len: 3173, .. }), "{err:?}");
    assert!(err.to_string().contains("data_batch_3.bin"), "{err}");
    std::fs::write(dir.join("data_batch_3.bin"), b"").unwrap();
    assert!(matches!(cifar::load_cifar10(&dir), Err(DataError::BadSize { len: 0, .. })));
    let mut bytes = cifar_bytes(2);
    bytes[3073] = 11;
    std::fs::write(dir.join("data_batch_3.bin"), &bytes).unwrap();
    let err = cifar::load_cifar10(&dir).unwrap_err();
    assert!(err.to_string().contains("label 11"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

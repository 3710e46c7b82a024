//! Data compiled into the crate with `include_bytes!`, so `mnist` and
//! `shakespeare` need no files at run time. Provenance and licences are in
//! `datasets/data/README.md`.

use crate::dataset::{ClassificationData, Normalization};
use crate::error::Result;
use crate::idx::{image_set_from_idx, parse_idx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
use crate::text::TextData;

/// Embedded MNIST subset: 8,000 training images (gzip IDX).
pub static MNIST_TRAIN_IMAGES_GZ: &[u8] = include_bytes!("../data/mnist-10k/train-images-idx3-ubyte.gz");
/// Embedded MNIST subset: 8,000 training labels (gzip IDX).
pub static MNIST_TRAIN_LABELS_GZ: &[u8] = include_bytes!("../data/mnist-10k/train-labels-idx1-ubyte.gz");
/// Embedded MNIST subset: 2,000 test images (gzip IDX).
pub static MNIST_TEST_IMAGES_GZ: &[u8] = include_bytes!("../data/mnist-10k/t10k-images-idx3-ubyte.gz");
/// Embedded MNIST subset: 2,000 test labels (gzip IDX).
pub static MNIST_TEST_LABELS_GZ: &[u8] = include_bytes!("../data/mnist-10k/t10k-labels-idx1-ubyte.gz");
/// Embedded Shakespeare corpus: eight plays, 1,036,467 ASCII bytes.
pub static SHAKESPEARE: &[u8] = include_bytes!("../data/shakespeare/plays.txt");

const PREFIX: &str = "<embedded>/mnist-10k/";

/// The embedded 10,000-digit MNIST subset: 8,000 train / 2,000 test images
/// of `[1, 28, 28]`, 10 classes, MNIST normalization.
pub fn mnist() -> Result<ClassificationData> {
    let names: Vec<String> =
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
            .iter()
            .map(|f| format!("{PREFIX}{f}"))
            .collect();
    let train = image_set_from_idx(
        parse_idx(MNIST_TRAIN_IMAGES_GZ, &names[0], Some(IDX_IMAGES_MAGIC))?,
        parse_idx(MNIST_TRAIN_LABELS_GZ, &names[1], Some(IDX_LABELS_MAGIC))?,
        &names[0],
        &names[1],
        Normalization::mnist(),
    )?;
    let test = image_set_from_idx(
        parse_idx(MNIST_TEST_IMAGES_GZ, &names[2], Some(IDX_IMAGES_MAGIC))?,
        parse_idx(MNIST_TEST_LABELS_GZ, &names[3], Some(IDX_LABELS_MAGIC))?,
        &names[2],
        &names[3],
        Normalization::mnist(),
    )?;
    Ok(ClassificationData { name: "mnist".into(), source: "embedded mnist-10k (subset of MNIST)".into(), train, test })
}

/// The embedded Shakespeare corpus, its last `val_fraction` held out.
pub fn shakespeare(val_fraction: f64) -> Result<TextData> {
    TextData::from_bytes("shakespeare", "<embedded>/shakespeare/plays.txt", SHAKESPEARE, val_fraction)
}

//! IDX files, raw and gzip: the parser, then the image/label pairing that
//! MNIST loading does (the input is split in two at its first byte).
#![no_main]

use datasets::idx::{image_set_from_idx, parse_idx};
use datasets::Normalization;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_idx(data, "fuzz.idx", None);
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = (cut as usize * rest.len() / 255).min(rest.len());
    let (a, b) = rest.split_at(cut);
    if let (Ok(images), Ok(labels)) = (parse_idx(a, "images.idx", None), parse_idx(b, "labels.idx", None)) {
        let _ = image_set_from_idx(images, labels, "images.idx", "labels.idx", Normalization::mnist());
    }
});

//! CIFAR-10 binary batches: record size, labels, and that a rejected batch
//! leaves what was read before it untouched.
#![no_main]

use datasets::cifar::parse_cifar_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut pixels, mut labels) = (vec![7u8; 3072], vec![3usize]);
    match parse_cifar_batch(data, "fuzz.bin", &mut pixels, &mut labels) {
        Ok(()) => assert_eq!(pixels.len(), labels.len() * 3072),
        Err(_) => assert_eq!(labels, [3]),
    }
});

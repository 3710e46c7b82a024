//! Safetensors checkpoints through llv's loaders: the free-standing reader
//! (`load_named_bytes`, what resume and directions files use) and the
//! module loader with its name, shape and dtype checks, into a linear layer and a batch norm.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::layers::{BatchNorm1d, Linear, Sequential};
use rand::{rngs::StdRng, SeedableRng};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let source = Path::new("fuzz.safetensors");
    let _ = nn::checkpoint::load_named_bytes(data, source);
    // Names 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean,
    // 1.running_var, 1.num_batches_tracked: parameters, buffers, a counter.
    let mut model = Sequential::new().with(Linear::new(2, 3, true, &mut StdRng::seed_from_u64(0))).with(BatchNorm1d::new(3));
    let before = nn::checkpoint::to_bytes(&mut model).expect("serializes");
    if nn::checkpoint::load_bytes(&mut model, data, source).is_err() {
        // A rejected file must leave the module as it was.
        assert_eq!(nn::checkpoint::to_bytes(&mut model).expect("serializes"), before);
    }
});

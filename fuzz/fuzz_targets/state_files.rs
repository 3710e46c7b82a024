//! The other safetensors files llv writes and reads back: a training run's
//! resume state (model, optimizer state keyed by parameter name, integer
//! counters) and a surface's directions file, each checked against a small
//! model (a linear layer and a batch norm).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::layers::{BatchNorm1d, Linear, Sequential};
use nn::ModuleExt;
use rand::{rngs::StdRng, SeedableRng};
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let d = base.join(format!("llv-fuzz-state-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch().join("state.safetensors");
    std::fs::write(&path, data).unwrap();
    let mut model = Sequential::new().with(Linear::new(2, 3, true, &mut StdRng::seed_from_u64(0))).with(BatchNorm1d::new(3));
    if let Ok(state) = optim::ResumeState::load(&path, &mut model) {
        let mut opt = optim::Sgd::new(optim::SgdConfig::default());
        let _ = state.restore(&mut model, &mut opt);
    }
    let center = model.state();
    for need_y in [false, true] {
        let _ = landscape::DirectionsFile::load(&path, &center, need_y);
    }
});

//! Results files (`surface.jsonl`: a plan header, then one JSON line per
//! point): the reader with and without a partial last line, the typed plan,
//! and merging the file with itself. The input is written to a scratch file
//! because the readers take paths, as the commands do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let d = base.join(format!("llv-fuzz-results-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(first) = data.split(|&b| b == b'\n').next() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(first) {
            if let Ok(plan) = landscape::Plan::from_json(&v) {
                let again = landscape::Plan::from_json(&plan.to_json()).expect("a written plan reads back");
                assert_eq!(again.difference(&plan), None);
            }
        }
    }
    let path = scratch().join("surface.jsonl");
    std::fs::write(&path, data).unwrap();
    for partial in [false, true] {
        if let Ok((r, _)) = landscape::Results::read(&path, partial) {
            if !partial {
                let _ = landscape::merge(&[path.clone(), path.clone()]);
            }
            drop(r);
        }
    }
});

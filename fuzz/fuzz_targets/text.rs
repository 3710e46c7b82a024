//! The text corpus reader and its truncated-BPTT windows: any bytes, any
//! split, any batch and window length derived from the input.
#![no_main]

use datasets::TextData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, text)) = data.split_first() else { return };
    let val_fraction = (knobs & 0x0f) as f64 / 16.0;
    let Ok(t) = TextData::from_bytes("fuzz", "fuzz.txt", text, val_fraction) else { return };
    assert_eq!(t.train.len() + t.valid.len(), text.len());
    let (batch, seq_len) = (1 + (knobs >> 6) as usize, 1 + ((knobs >> 4) & 3) as usize * 7);
    for stream in [&t.train, &t.valid] {
        if let Ok(b) = datasets::BpttBatches::new(stream, batch, seq_len) {
            for tb in b.iter() {
                assert!(tb.inputs.iter().chain(&tb.targets).all(|&k| k < t.vocab.len()));
            }
        }
    }
});

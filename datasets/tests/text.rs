//! Character corpus: vocabulary, validation tail, contiguous BPTT batches.

use datasets::{BpttBatches, DataError, TextData, Vocab};

#[test]
fn vocab_is_sorted_distinct_bytes() {
    let v = Vocab::from_text(b"hello world");
    assert_eq!(v.bytes(), b" dehlorw");
    assert_eq!(v.token(b'd'), Some(1));
    assert_eq!(v.token(b'z'), None);
    assert_eq!(v.encode(b"old"), Some(vec![5, 4, 1]));
    assert_eq!(v.encode(b"zz"), None);
    assert_eq!(v.decode(&[3, 2, 4, 4, 5, 99]), "hello?");
}

#[test]
fn validation_tail() {
    let text = b"abcdefghijklmnopqrst"; // 20 bytes
    let t = TextData::from_bytes("t", "mem", text, 0.1).unwrap();
    assert_eq!(t.train.len(), 18);
    assert_eq!(t.valid.len(), 2);
    assert_eq!(t.vocab.decode(&t.valid), "st");
    let t = TextData::from_bytes("t", "mem", text, 0.0).unwrap();
    assert!(t.valid.is_empty());
    assert!(TextData::from_bytes("t", "mem", text, 1.0).is_err());
}

#[test]
fn bptt_batches_are_contiguous_across_steps() {
    let tokens: Vec<usize> = (0..103).collect();
    let b = BpttBatches::new(&tokens, 4, 5).unwrap();
    // 103 / 4 = 25 per stream, (25 - 1) / 5 = 4 windows.
    assert_eq!(b.stream_len(), 25);
    assert_eq!(b.num_batches(), 4);
    let all: Vec<_> = b.iter().collect();
    assert_eq!(all.len(), 4);
    for (i, batch) in all.iter().enumerate() {
        assert_eq!((batch.batch, batch.seq_len), (4, 5));
        assert_eq!(batch.inputs.len(), 20);
        for row in 0..4 {
            let inp = &batch.inputs[row * 5..row * 5 + 5];
            let tgt = &batch.targets[row * 5..row * 5 + 5];
            assert_eq!(inp[0], row * 25 + i * 5);
            for t in 0..5 {
                assert_eq!(tgt[t], inp[t] + 1, "targets are inputs shifted by one");
            }
            if i + 1 < all.len() {
                let next = &all[i + 1].inputs[row * 5..row * 5 + 5];
                assert_eq!(next[0], tgt[4], "row continues where it stopped");
                assert_eq!(next[0], inp[4] + 1);
            }
        }
    }
    assert!(b.batch(4).is_none());
}

#[test]
fn bptt_rejects_bad_sizes() {
    let tokens: Vec<usize> = (0..10).collect();
    assert!(BpttBatches::new(&tokens, 0, 3).is_err());
    assert!(BpttBatches::new(&tokens, 2, 0).is_err());
    assert!(BpttBatches::new(&tokens, 3, 3).is_err()); // 3 per stream < 4
    assert!(BpttBatches::new(&tokens, 2, 4).is_ok());
}

#[test]
fn empty_text_is_an_error_naming_the_file() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-datasets-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("empty.txt");
    std::fs::write(&path, b"").unwrap();
    let err = TextData::from_file(&path, 0.1).unwrap_err();
    assert!(matches!(err, DataError::EmptyText { .. }), "{err:?}");
    assert!(err.to_string().contains("empty.txt"), "{err}");
    let err = TextData::from_file(&dir.join("missing.txt"), 0.1).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.txt"));
    std::fs::remove_dir_all(&dir).ok();
}

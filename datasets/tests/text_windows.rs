//! Language-model evaluation windows: the windowing rule, limits, errors,
//! batching, and agreement with one-stream BPTT batches.

use datasets::{embedded, BpttBatches, DataError, LmWindows, TextData, TextSplit};

#[test]
fn windows_are_consecutive_and_non_overlapping() {
    let tokens: Vec<usize> = (100..123).collect(); // 23 tokens
    let w = LmWindows::new(&tokens, 5, None, "t").unwrap();
    // floor((23 - 1) / 5) = 4 windows; the last input is token 19, its target token 20.
    assert_eq!((w.count, w.seq_len, w.tokens()), (4, 5, 20));
    for k in 0..4 {
        let (x, y) = w.window(k).unwrap();
        assert_eq!(x, &tokens[5 * k..5 * k + 5]);
        assert_eq!(y, &tokens[5 * k + 1..5 * k + 6]);
    }
    assert!(w.window(4).is_none());
    // Exactly n - 1 = L·k tokens: the last target is the last token.
    let w = LmWindows::new(&tokens[..21], 5, None, "t").unwrap();
    assert_eq!(w.count, 4);
    assert_eq!(*w.targets.last().unwrap(), 120);
    assert_eq!(LmWindows::available(23, 5), 4);
    assert_eq!(LmWindows::available(0, 5), 0);
    assert_eq!(LmWindows::available(6, 0), 0);
}

#[test]
fn limit_keeps_the_first_windows() {
    let tokens: Vec<usize> = (0..101).collect();
    let all = LmWindows::new(&tokens, 10, None, "t").unwrap();
    let three = LmWindows::new(&tokens, 10, Some(3), "t").unwrap();
    assert_eq!(three.count, 3);
    assert_eq!(three.inputs, all.inputs[..30]);
    assert_eq!(three.targets, all.targets[..30]);
    assert_eq!(LmWindows::new(&tokens, 10, Some(1000), "t").unwrap(), all, "a limit above the count keeps all");
}

#[test]
fn errors_name_the_stream_and_the_sizes() {
    let tokens: Vec<usize> = (0..8).collect();
    let e = LmWindows::new(&tokens, 8, None, "corpus.txt (validation split)").unwrap_err();
    assert!(matches!(e, DataError::TooFewTokens { tokens: 8, seq_len: 8, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("corpus.txt (validation split)") && msg.contains("need at least 9"), "{msg}");
    assert!(LmWindows::new(&tokens, 7, None, "t").is_ok());
    assert!(LmWindows::new(&tokens, 0, None, "t").unwrap_err().to_string().contains("sequence length 0"));
    assert!(LmWindows::new(&tokens, 2, Some(0), "t").unwrap_err().to_string().contains("limit of 0"));
    // No validation split at all (fraction 0): named, not a panic.
    let t = TextData::from_bytes("t", "mem.txt", b"abcdefgh", 0.0).unwrap();
    let msg = LmWindows::from_text(&t, TextSplit::Valid, 4, None).unwrap_err().to_string();
    assert!(msg.contains("mem.txt (validation split)") && msg.contains("0 tokens"), "{msg}");
    assert_eq!(LmWindows::from_text(&t, TextSplit::Train, 4, None).unwrap().count, 1);
}

#[test]
fn batches_cover_the_windows_in_order() {
    let tokens: Vec<usize> = (0..71).collect();
    let w = LmWindows::new(&tokens, 7, None, "t").unwrap(); // 10 windows
    let batches: Vec<_> = w.batches(4).collect();
    assert_eq!(batches.iter().map(|b| b.batch).collect::<Vec<_>>(), [4, 4, 2]);
    let inputs: Vec<usize> = batches.iter().flat_map(|b| b.inputs.clone()).collect();
    let targets: Vec<usize> = batches.iter().flat_map(|b| b.targets.clone()).collect();
    assert_eq!((inputs, targets), (w.inputs.clone(), w.targets.clone()));
    assert!(batches.iter().all(|b| b.seq_len == 7));
}

#[test]
fn same_windows_as_one_stream_bptt() {
    // The windows training's BpttBatches forms with one stream.
    let tokens: Vec<usize> = (0..200).map(|i| (i * 37 + 11) % 29).collect();
    let w = LmWindows::new(&tokens, 9, None, "t").unwrap();
    let bptt = BpttBatches::new(&tokens, 1, 9).unwrap();
    assert_eq!(bptt.num_batches(), w.count);
    for (k, b) in bptt.iter().enumerate() {
        let (x, y) = w.window(k).unwrap();
        assert_eq!((b.inputs.as_slice(), b.targets.as_slice()), (x, y));
    }
}

#[test]
fn shakespeare_validation_windows() {
    let data = embedded::shakespeare(0.1).unwrap();
    let w = LmWindows::from_text(&data, TextSplit::Valid, 64, None).unwrap();
    // 1,036,467 bytes, floor(103,646.7) = 103,646 held out: floor(103,645 / 64) windows.
    assert_eq!(data.valid.len(), 103_646);
    assert_eq!(w.count, 1619);
    assert_eq!(w.window(0).unwrap().0, &data.valid[..64]);
    let t = LmWindows::from_text(&data, TextSplit::Train, 64, Some(5)).unwrap();
    assert_eq!(t.inputs, data.train[..320]);
}

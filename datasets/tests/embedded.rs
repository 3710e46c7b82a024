//! The embedded MNIST subset and Shakespeare corpus.

use datasets::{embedded, Data, DataSpec, Dataset, Normalization};

#[test]
fn embedded_mnist_sizes_shapes_labels() {
    let start = std::time::Instant::now();
    let m = embedded::mnist().unwrap();
    let elapsed = start.elapsed();
    eprintln!("embedded MNIST loaded in {elapsed:?}");
    assert_eq!(m.train.len(), 8000);
    assert_eq!(m.test.len(), 2000);
    assert_eq!(m.train.example_shape(), &[1, 28, 28]);
    assert_eq!(m.test.example_shape(), &[1, 28, 28]);
    assert_eq!(m.in_channels(), Some(1));
    assert_eq!(m.image_size(), Some(28));
    assert_eq!(m.num_classes(), 10);
    for set in [&m.train, &m.test] {
        assert!(set.targets().iter().all(|&t| t < 10));
        let counts = set.class_counts();
        assert_eq!(counts.len(), 10);
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }
    // The README promises 180-220 test images per class.
    assert!(m.test.class_counts().iter().all(|&c| (180..=220).contains(&c)));
}

#[test]
fn mnist_normalization_of_known_pixels() {
    let m = embedded::mnist().unwrap();
    let raw = m.train.raw_bytes(0).unwrap();
    let mut x = vec![0.0f32; 784];
    m.train.write_input(0, &mut x);
    // Corner pixel of an MNIST digit is background 0.
    assert_eq!(raw[0], 0);
    assert!((x[0] - (-0.1307f32 / 0.3081)).abs() < 1e-6);
    assert!((x[0] - -0.424_212_9).abs() < 1e-5);
    // Every pixel matches the formula, computed as PyTorch does in f32.
    for (k, &b) in raw.iter().enumerate() {
        let want = (b as f32 / 255.0 - 0.1307f32) / 0.3081f32;
        assert_eq!(x[k], want);
    }
    // A fully-on pixel exists somewhere in image 0 and maps to 2.8215.
    let k = raw.iter().position(|&b| b == 255).expect("a saturated pixel");
    assert!((x[k] - 2.821_487_3).abs() < 1e-5);
    assert!((Normalization::mnist().apply(255, 0) - 2.821_487_3).abs() < 1e-5);
}

#[test]
fn cifar_normalization_constants() {
    let n = Normalization::cifar10();
    assert!((n.apply(255, 0) - (1.0 - 0.4914) / 0.2470).abs() < 1e-6);
    assert!((n.apply(0, 1) - (-0.4822 / 0.2435)).abs() < 1e-6);
    assert!((n.apply(128, 2) - ((128.0 / 255.0 - 0.4465) / 0.2616)).abs() < 1e-6);
}

#[test]
fn embedded_specs_load_without_files() {
    let d = DataSpec::parse("mnist").unwrap().load().unwrap();
    let desc = d.describe();
    assert_eq!((desc.train_size, desc.test_size, desc.num_classes), (8000, 2000, 10));
    assert_eq!(desc.in_channels, Some(1));
    let text = desc.to_string();
    assert!(text.contains("8000") && text.contains("0.1307"), "{text}");

    let Data::Text(t) = DataSpec::parse("shakespeare").unwrap().load().unwrap() else {
        panic!("shakespeare is text");
    };
    assert_eq!(t.vocab.len(), 76);
    assert_eq!(t.train.len() + t.valid.len(), 1_036_467);
    assert_eq!(t.valid.len(), 103_646);
    let bytes = t.vocab.bytes();
    assert!(bytes.windows(2).all(|w| w[0] < w[1]), "vocab sorted");
    assert_eq!(t.vocab.decode(&t.train[..40]).as_bytes(), &embedded::SHAKESPEARE[..40]);
}

//! Spirals and blobs: seeded, shaped, split.

use datasets::{blobs, spirals, BlobsParams, Dataset, SpiralsParams};

#[test]
fn spirals_deterministic_per_seed() {
    let p = SpiralsParams { n: 300, seed: 3, ..Default::default() };
    let a = spirals(&p).unwrap();
    let b = spirals(&p).unwrap();
    let c = spirals(&SpiralsParams { seed: 4, ..p }).unwrap();
    let all = |d: &datasets::ClassificationData| d.train.gather(&(0..d.train.len()).collect::<Vec<_>>());
    assert_eq!(all(&a), all(&b));
    assert_ne!(all(&a).inputs, all(&c).inputs);
    assert_eq!(a.train.len() + a.test.len(), 300);
    assert_eq!(a.test.len(), 60);
    assert_eq!(a.example_shape(), &[2]);
    assert_eq!(a.num_classes(), 2);
    assert_eq!(a.in_channels(), None);
    let counts: Vec<usize> = a.train.class_counts().iter().zip(a.test.class_counts()).map(|(x, y)| x + y).collect();
    assert_eq!(counts, vec![150, 150]);
    // Without noise, points lie on the arm: radius < 1.
    let p0 = SpiralsParams { noise: 0.0, ..p };
    let d = spirals(&p0).unwrap();
    let b = all(&d);
    assert!(b.inputs.chunks(2).all(|xy| (xy[0].hypot(xy[1])) < 1.0));
}

#[test]
fn blobs_deterministic_per_seed() {
    let p = BlobsParams { n: 500, classes: 4, dim: 5, seed: 8, ..Default::default() };
    let a = blobs(&p).unwrap();
    let b = blobs(&p).unwrap();
    let c = blobs(&BlobsParams { seed: 9, ..p }).unwrap();
    let all = |d: &datasets::ClassificationData| d.test.gather(&(0..d.test.len()).collect::<Vec<_>>());
    assert_eq!(all(&a), all(&b));
    assert_ne!(all(&a).inputs, all(&c).inputs);
    assert_eq!(a.example_shape(), &[5]);
    assert_eq!(a.num_classes(), 4);
    assert_eq!((a.train.len(), a.test.len()), (400, 100));
    assert!(a.train.class_counts().iter().all(|&n| n > 0));
    assert!(blobs(&BlobsParams { classes: 0, ..p }).is_err());
    assert!(spirals(&SpiralsParams { n: 1, ..Default::default() }).is_err());
}

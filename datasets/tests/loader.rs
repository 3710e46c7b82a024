//! DataLoader: shuffling, batching, drop-last, subsets, augmentation.

use datasets::{Augmentation, ClassificationSet, DataLoader, Dataset, Normalization};

fn toy(n: usize) -> ClassificationSet {
    // Example i has features [i, -i] and class i % 3.
    let data: Vec<f32> = (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    let targets = (0..n).map(|i| i % 3).collect();
    ClassificationSet::from_f32(data, vec![2], targets, 3).unwrap()
}

fn ids(set: &ClassificationSet) -> Vec<usize> {
    let b = set.gather(&(0..set.len()).collect::<Vec<_>>());
    b.inputs.chunks(2).map(|c| c[0] as usize).collect()
}

#[test]
fn unshuffled_batches_in_order_with_partial_last() {
    let s = toy(10);
    let l = DataLoader::new(&s, 4).unwrap();
    assert_eq!(l.num_batches(), 3);
    let batches: Vec<_> = l.epoch(0).collect();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].shape, vec![4, 2]);
    assert_eq!(batches[2].shape, vec![2, 2]);
    assert_eq!(batches[0].inputs, vec![0., -0., 1., -1., 2., -2., 3., -3.]);
    assert_eq!(batches[1].targets, vec![1, 2, 0, 1]);
}

#[test]
fn drop_last_drops_partial_batch() {
    let s = toy(10);
    let l = DataLoader::new(&s, 4).unwrap().drop_last(true).shuffled(3);
    assert_eq!(l.num_batches(), 2);
    assert_eq!(l.examples_per_epoch(), 8);
    let batches: Vec<_> = l.epoch(5).collect();
    assert_eq!(batches.len(), 2);
    assert!(batches.iter().all(|b| b.len() == 4));
    // Exact multiple: nothing dropped.
    let l = DataLoader::new(&s, 5).unwrap().drop_last(true);
    assert_eq!(l.epoch(0).count(), 2);
    // Fewer examples than one batch: no batch at all.
    let l = DataLoader::new(&s, 11).unwrap().drop_last(true);
    assert_eq!(l.epoch(0).count(), 0);
    assert!(DataLoader::new(&s, 0).is_err());
}

#[test]
fn shuffling_is_seeded_permutation() {
    let s = toy(100);
    let a = DataLoader::new(&s, 7).unwrap().shuffled(42);
    let b = DataLoader::new(&s, 7).unwrap().shuffled(42);
    let c = DataLoader::new(&s, 7).unwrap().shuffled(43);
    let seen = |l: &DataLoader<ClassificationSet>, e| -> Vec<usize> {
        l.epoch(e).flat_map(|b| b.inputs.chunks(2).map(|c| c[0] as usize).collect::<Vec<_>>()).collect()
    };
    let ea = seen(&a, 0);
    assert_eq!(ea, seen(&b, 0), "same seed, same order");
    assert_ne!(ea, seen(&c, 0), "other seed, other order");
    assert_ne!(ea, seen(&a, 1), "other epoch, other order");
    assert_ne!(ea, (0..100).collect::<Vec<_>>(), "actually shuffled");
    let mut sorted = ea.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>(), "a permutation");
    assert_eq!(a.order(0), ea);
    // Targets travel with their inputs.
    for b in a.epoch(2) {
        for (x, &t) in b.inputs.chunks(2).zip(&b.targets) {
            assert_eq!(x[0] as usize % 3, t);
        }
    }
}

#[test]
fn subsets_first_n_and_seeded() {
    let s = toy(50);
    assert_eq!(ids(&s.first(5)), vec![0, 1, 2, 3, 4]);
    assert_eq!(s.first(500).len(), 50);
    let a = s.sample(10, 9);
    let b = s.sample(10, 9);
    let c = s.sample(10, 10);
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    let ia = ids(&a);
    assert_eq!(ia.len(), 10);
    assert!(ia.windows(2).all(|w| w[0] < w[1]), "distinct, original order");
    assert!(s.select(&[3, 50]).is_err());
    let (train, test) = s.split(0.2, 1).unwrap();
    assert_eq!((train.len(), test.len()), (40, 10));
    let mut all = ids(&train);
    all.extend(ids(&test));
    all.sort_unstable();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
    assert!(s.split(1.0, 1).is_err());
}

fn image_set() -> ClassificationSet {
    // Two 3x4x4 images whose pixel values encode their position.
    let px: Vec<u8> = (0..2 * 48).map(|k| (k % 48) as u8 + 1).collect();
    ClassificationSet::from_bytes(px, vec![3, 4, 4], vec![0, 1], 2, Normalization::unit()).unwrap()
}

#[test]
fn augmentation_seeded_and_valid() {
    let s = image_set();
    let aug = Augmentation { crop_padding: 2, flip_prob: 0.5 };
    let l = DataLoader::new(&s, 2).unwrap().augmented(aug, 11).unwrap();
    let l2 = DataLoader::new(&s, 2).unwrap().augmented(aug, 11).unwrap();
    let first: Vec<_> = (0..20).map(|e| l.epoch(e).next().unwrap()).collect();
    let again: Vec<_> = (0..20).map(|e| l2.epoch(e).next().unwrap()).collect();
    assert_eq!(first, again, "seeded");
    let plain = s.gather(&[0, 1]);
    assert!(first.iter().any(|b| b.inputs != plain.inputs), "changes something");
    for b in &first {
        assert_eq!(b.shape, vec![2, 3, 4, 4]);
        assert_eq!(b.targets, vec![0, 1]);
        // Every value is either padding (0 for unit normalization of byte 0)
        // or a pixel of the same channel of the original.
        for img in b.inputs.chunks(48) {
            for (k, &v) in img.iter().enumerate() {
                let c = k / 16;
                let byte = (v * 255.0).round() as usize;
                assert!(byte == 0 || (byte - 1) / 16 == c, "value {v} at {k}");
            }
        }
    }
    // Flip only: each image is the original or its mirror.
    let flip = Augmentation { crop_padding: 0, flip_prob: 1.0 };
    let l = DataLoader::new(&s, 2).unwrap().augmented(flip, 0).unwrap();
    let b = l.epoch(0).next().unwrap();
    assert_eq!(b.inputs[0], plain.inputs[3]);
    assert_eq!(b.inputs[3], plain.inputs[0]);
    // Vectors cannot be augmented.
    let v = toy(4);
    assert!(DataLoader::new(&v, 2).unwrap().augmented(Augmentation::cifar(), 0).is_err());
}

#[test]
fn cifar_pad_value_is_normalized_black() {
    let px = vec![0u8; 3072];
    let s = ClassificationSet::from_bytes(px, vec![3, 32, 32], vec![0], 10, Normalization::cifar10()).unwrap();
    assert!((s.pad_value(0) - (-0.4914 / 0.2470)).abs() < 1e-6);
    // Crop of an all-black image stays all black, whatever the offset.
    let l = DataLoader::new(&s, 1).unwrap().augmented(Augmentation::cifar(), 3).unwrap();
    let b = l.epoch(0).next().unwrap();
    assert_eq!(b.inputs, s.gather(&[0]).inputs);
}

//! Data spec parsing, loading and description.

mod common;

use datasets::{BlobsParams, Data, DataError, DataSpec, SpiralsParams};
use std::path::PathBuf;

#[test]
fn parses_every_kind() {
    assert_eq!(DataSpec::parse("mnist").unwrap(), DataSpec::Mnist { dir: None });
    assert_eq!(DataSpec::parse("mnist:/data/m").unwrap(), DataSpec::Mnist { dir: Some(PathBuf::from("/data/m")) });
    assert_eq!(DataSpec::parse("fashion-mnist:fm").unwrap(), DataSpec::FashionMnist { dir: "fm".into() });
    assert_eq!(DataSpec::parse("cifar10:c:/x,y").unwrap(), DataSpec::Cifar10 { dir: "c:/x,y".into() });
    assert_eq!(DataSpec::parse("shakespeare").unwrap(), DataSpec::Shakespeare { val_fraction: 0.1 });
    assert_eq!(DataSpec::parse("shakespeare:val=0.05").unwrap(), DataSpec::Shakespeare { val_fraction: 0.05 });
    assert_eq!(DataSpec::parse("text:a.txt").unwrap(), DataSpec::Text { path: "a.txt".into(), val_fraction: 0.1 });
    assert_eq!(DataSpec::parse("spirals").unwrap(), DataSpec::Spirals(SpiralsParams::default()));
    assert_eq!(
        DataSpec::parse("spirals:n=2000,noise=0.1,seed=3").unwrap(),
        DataSpec::Spirals(SpiralsParams { n: 2000, noise: 0.1, seed: 3, ..Default::default() })
    );
    assert_eq!(
        DataSpec::parse("blobs:k=5,d=3,std=0.5").unwrap(),
        DataSpec::Blobs(BlobsParams { classes: 5, dim: 3, std: 0.5, ..Default::default() })
    );
    // Display round-trips.
    for s in ["mnist", "spirals:n=10,seed=2", "blobs:classes=4", "cifar10:/x", "shakespeare"] {
        let spec = DataSpec::parse(s).unwrap();
        assert_eq!(DataSpec::parse(&spec.to_string()).unwrap(), spec);
    }
}

#[test]
fn rejects_bad_specs() {
    for s in ["imagenet", "", "mnits:x"] {
        let err = DataSpec::parse(s).unwrap_err();
        assert!(matches!(err, DataError::UnknownSpec { .. }), "{s}: {err:?}");
        assert!(err.to_string().contains("unknown data spec"));
    }
    for s in [
        "cifar10",
        "fashion-mnist:",
        "text",
        "spirals:n=abc",
        "spirals:colour=red",
        "spirals:n",
        "blobs:k=0",
        "blobs:test=1.5",
        "shakespeare:val=2",
        "mnist:",
    ] {
        let err = DataSpec::parse(s).unwrap_err();
        assert!(matches!(err, DataError::BadSpec { .. }), "{s}: {err:?}");
        assert!(err.to_string().contains(s), "{err}");
    }
}

#[test]
fn loads_synthetic_and_describes() {
    let data = DataSpec::parse("blobs:n=100,classes=4,dim=3,seed=1").unwrap().load().unwrap();
    let d = data.describe();
    assert_eq!((d.train_size, d.test_size, d.num_classes), (80, 20, 4));
    assert_eq!(d.example_shape, vec![3]);
    assert_eq!(d.in_channels, None);
    let text = d.to_string();
    assert!(text.contains("blobs") && text.contains("classes:       4"), "{text}");
}

#[test]
fn loads_text_file_and_mnist_dir() {
    let dir = common::temp_dir("spec");
    let f = dir.join("corpus.txt");
    std::fs::write(&f, "to be or not to be, that is the question").unwrap();
    let spec = DataSpec::parse(&format!("text:{}", f.display())).unwrap();
    let Data::Text(t) = spec.load().unwrap() else { panic!("text") };
    assert_eq!(t.train.len() + t.valid.len(), 40);
    assert!(spec.is_text());
    common::write_mnist_dir(&dir, 6, 3, true);
    let spec = DataSpec::parse(&format!("fashion-mnist:{}", dir.display())).unwrap();
    let data = spec.load().unwrap();
    let c = data.as_classification().unwrap();
    assert_eq!((c.train.len(), c.test.len()), (6, 3));
    assert!(data.describe().normalization.contains("0.286"));
    std::fs::remove_dir_all(dir).ok();
}

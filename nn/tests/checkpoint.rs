//! Checkpoints: round trips and every kind of broken file.

use autodiff::Tensor;
use nn::zoo::{build, ModelConfig};
use nn::{checkpoint, Kind, Module, ModuleExt, NnError};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::PathBuf;

fn tmp_dir(test: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-nn-checkpoint-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A raw tensor to write into a hand-made file.
struct Raw {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn raw_f32(name: &str, shape: &[usize], values: &[f32]) -> Raw {
    Raw { name: name.into(), dtype: Dtype::F32, shape: shape.to_vec(), bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
}

/// The model's state as raw tensors, in the layout llv writes.
fn raw_state(m: &mut dyn Module) -> Vec<Raw> {
    m.state()
        .into_iter()
        .map(|n| match n.kind {
            Kind::Counter => Raw { name: n.name, dtype: Dtype::I64, shape: vec![], bytes: (n.tensor.item() as i64).to_le_bytes().to_vec() },
            _ => raw_f32(&n.name, n.tensor.shape(), n.tensor.data()),
        })
        .collect()
}

fn write_raw(path: &PathBuf, tensors: &[Raw]) {
    let views: Vec<(String, TensorView<'_>)> =
        tensors.iter().map(|r| (r.name.clone(), TensorView::new(r.dtype, r.shape.clone(), &r.bytes).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn snapshot(m: &mut dyn Module) -> Vec<(String, Vec<f32>)> {
    m.state().into_iter().map(|n| (n.name, n.tensor.to_vec())).collect()
}

fn small_resnet(seed: u64) -> Box<dyn Module> {
    build("resnet8", &ModelConfig { image_size: 8, ..ModelConfig::mnist() }, seed).unwrap()
}

#[test]
fn round_trip_keeps_every_tensor_and_counter() {
    let dir = tmp_dir("round_trip");
    let path = dir.join("m.safetensors");
    let mut a = small_resnet(1);
    // One training step's forward: running statistics and counters move.
    a.set_training(true);
    a.forward(&Tensor::rand_uniform(&[4, 1, 8, 8], -1.0, 1.0, 3));
    a.forward(&Tensor::rand_uniform(&[4, 1, 8, 8], -1.0, 1.0, 4));
    checkpoint::save(&mut a, &path).unwrap();
    assert!(!dir.join("m.safetensors.tmp").exists(), "the temporary file is renamed away");

    let mut b = small_resnet(2);
    assert_ne!(snapshot(&mut a), snapshot(&mut b));
    checkpoint::load(&mut b, &path).unwrap();
    assert_eq!(snapshot(&mut a), snapshot(&mut b));
    let counter = b.state().into_iter().find(|n| n.name == "bn1.num_batches_tracked").unwrap();
    assert_eq!((counter.kind, counter.tensor.item(), counter.tensor.shape().len()), (Kind::Counter, 2.0, 0));

    // On disk: PyTorch's dtypes.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("bn1.num_batches_tracked").unwrap().dtype(), Dtype::I64);
    assert_eq!(st.tensor("bn1.num_batches_tracked").unwrap().data(), 2i64.to_le_bytes());
    assert_eq!(st.tensor("conv1.weight").unwrap().dtype(), Dtype::F32);
    assert_eq!(st.len(), b.state().len());

    // Loading the same file into the same model with a fresh evaluation agrees bit for bit.
    a.set_training(false);
    b.set_training(false);
    let x = Tensor::rand_uniform(&[2, 1, 8, 8], -1.0, 1.0, 5);
    assert_eq!(a.forward(&x).to_vec(), b.forward(&x).to_vec());
}

#[test]
fn f32_counters_are_accepted_too() {
    let dir = tmp_dir("f32_counter");
    let path = dir.join("m.safetensors");
    let mut a = small_resnet(1);
    let mut raw = raw_state(&mut a);
    for r in raw.iter_mut().filter(|r| r.name.ends_with("num_batches_tracked")) {
        *r = raw_f32(&r.name, &[], &[7.0]);
    }
    write_raw(&path, &raw);
    checkpoint::load(&mut a, &path).unwrap();
    assert_eq!(a.state().into_iter().find(|n| n.name == "bn1.num_batches_tracked").unwrap().tensor.item(), 7.0);
}

/// Loads `raw` into a fresh small resnet, expects an error, and checks the
/// module was left as it was.
fn load_fails(test: &str, raw: &[Raw]) -> String {
    let path = tmp_dir(test).join("broken.safetensors");
    write_raw(&path, raw);
    let mut m = small_resnet(9);
    let before = snapshot(&mut m);
    let err = checkpoint::load(&mut m, &path).expect_err("the file must be rejected");
    assert_eq!(snapshot(&mut m), before, "a rejected file must not change the module");
    let msg = err.to_string();
    assert!(msg.contains("broken.safetensors"), "the message names the file: {msg}");
    msg
}

#[test]
fn wrong_shape_is_reported_by_name() {
    let mut m = small_resnet(1);
    let mut raw = raw_state(&mut m);
    let r = raw.iter_mut().find(|r| r.name == "layer2.0.shortcut.0.weight").unwrap();
    *r = raw_f32("layer2.0.shortcut.0.weight", &[32, 16, 3, 3], &vec![0.0; 32 * 16 * 9]);
    let msg = load_fails("wrong_shape", &raw);
    assert!(msg.contains("layer2.0.shortcut.0.weight: expected [32, 16, 1, 1], file has [32, 16, 3, 3]"), "{msg}");
}

#[test]
fn missing_and_unexpected_keys_are_listed() {
    let mut m = small_resnet(1);
    let mut raw = raw_state(&mut m);
    raw.retain(|r| r.name != "linear.bias" && r.name != "bn1.running_var");
    let msg = load_fails("missing", &raw);
    assert!(msg.contains("missing from the file: bn1.running_var, linear.bias"), "{msg}");

    let mut raw = raw_state(&mut m);
    raw.push(raw_f32("extra.weight", &[2], &[1.0, 2.0]));
    let msg = load_fails("unexpected", &raw);
    assert!(msg.contains("unexpected in the file: extra.weight"), "{msg}");
    assert!(!msg.contains("missing"), "{msg}");

    // A whole other model: every kind of problem at once.
    let mut other = build("lenet", &ModelConfig::mnist(), 0).unwrap();
    let msg = load_fails("other_model", &raw_state(&mut other));
    assert!(msg.contains("missing from the file: conv1.weight") || msg.contains("conv1.weight: expected"), "{msg}");
    assert!(msg.contains("unexpected in the file: conv1.bias"), "{msg}");
}

#[test]
fn bad_dtypes_are_rejected_by_name() {
    let mut m = small_resnet(1);
    let mut raw = raw_state(&mut m);
    let r = raw.iter_mut().find(|r| r.name == "conv1.weight").unwrap();
    let n: usize = r.shape.iter().product();
    r.dtype = Dtype::F64;
    r.bytes = vec![0; 8 * n];
    let msg = load_fails("f64", &raw);
    assert!(msg.contains("conv1.weight") && msg.contains("F64") && msg.contains("expected F32"), "{msg}");

    // Integers are only for counters.
    let mut raw = raw_state(&mut m);
    let r = raw.iter_mut().find(|r| r.name == "linear.bias").unwrap();
    r.dtype = Dtype::I32;
    let msg = load_fails("i32", &raw);
    assert!(msg.contains("linear.bias") && msg.contains("I32"), "{msg}");

    let mut raw = raw_state(&mut m);
    let r = raw.iter_mut().find(|r| r.name == "bn1.num_batches_tracked").unwrap();
    r.dtype = Dtype::U8;
    r.bytes = vec![1];
    let msg = load_fails("u8_counter", &raw);
    assert!(msg.contains("bn1.num_batches_tracked") && msg.contains("U8") && msg.contains("I64 or F32"), "{msg}");
}

#[test]
fn truncated_garbage_and_missing_files_are_errors_naming_the_file() {
    let dir = tmp_dir("corrupt");
    let good = dir.join("good.safetensors");
    let mut m = small_resnet(1);
    checkpoint::save(&mut m, &good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let before = snapshot(&mut m);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.safetensors", bytes[..bytes.len() / 2].to_vec()),
        ("header_only.safetensors", bytes[..20].to_vec()),
        ("empty.safetensors", Vec::new()),
        ("text.safetensors", b"this is not a safetensors file at all".to_vec()),
        ("huge_header.safetensors", [u64::MAX.to_le_bytes().to_vec(), b"{}".to_vec()].concat()),
    ];
    for (name, data) in cases {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        let err = checkpoint::load(&mut m, &path).expect_err(name);
        assert!(matches!(err, NnError::CorruptCheckpoint { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(snapshot(&mut m), before);
    }

    let err = checkpoint::load(&mut m, dir.join("nope.safetensors")).unwrap_err();
    assert!(matches!(err, NnError::Io { .. }) && err.to_string().contains("nope.safetensors"), "{err}");
    let err = checkpoint::save(&mut m, dir.join("no/such/dir/m.safetensors")).unwrap_err();
    assert!(err.to_string().contains("no/such/dir/m.safetensors"), "{err}");
}

#[test]
fn named_tensors_round_trip() {
    let dir = tmp_dir("named");
    let path = dir.join("opt.safetensors");
    let state = vec![("b.momentum".to_string(), Tensor::from_vec(vec![1.0, -2.0], &[2])), ("a.step".to_string(), Tensor::scalar(3.0))];
    checkpoint::save_named(&state, &path).unwrap();
    let back = checkpoint::load_named(&path).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!((back[0].0.as_str(), back[0].1.to_vec()), ("a.step", vec![3.0]));
    assert_eq!((back[1].0.as_str(), back[1].1.shape().to_vec(), back[1].1.to_vec()), ("b.momentum", vec![2], vec![1.0, -2.0]));
    std::fs::write(&path, b"garbage").unwrap();
    assert!(checkpoint::load_named(&path).unwrap_err().to_string().contains("opt.safetensors"));
}

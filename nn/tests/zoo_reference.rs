//! The zoo against PyTorch: fixtures made by `fixtures/make_zoo_fixtures.py`
//! from `reference/zoo.py` (see its docstring). No Python is needed here.
//!
//! * every model's `state_dict` names, shapes, dtypes and order;
//! * exported seed-0 weights (lenet, mlp, resnet20, resnet20-noshort,
//!   vgg9) evaluated on the first 500 test images of the embedded MNIST:
//!   loss to 1e-4 relative, accuracy exactly;
//! * the deeper ResNets (and resnet20 as a cross-check) with formula
//!   weights rebuilt here, same checks;
//! * char-lstm logits for a fixed token batch to 1e-4.

use autodiff::Tensor;
use datasets::ClassificationSet;
use nn::eval::{evaluate, EvalResult};
use nn::zoo::{build, ModelConfig};
use nn::{checkpoint, Kind, Module, ModuleExt};
use std::path::PathBuf;
use std::sync::OnceLock;

const LIMIT: usize = 500;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn test_images() -> &'static ClassificationSet {
    static SET: OnceLock<ClassificationSet> = OnceLock::new();
    SET.get_or_init(|| datasets::embedded::mnist().expect("embedded mnist").test.first(LIMIT))
}

/// The number after `"key":` in a one-line JSON object (the fixtures are
/// `zoo.py eval` output lines).
fn json_number(json: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let start = json.find(&pat).unwrap_or_else(|| panic!("no {key} in {json}")) + pat.len();
    let rest = json[start..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().unwrap_or_else(|e| panic!("{key} in {json}: {e}"))
}

struct Reference {
    loss: f64,
    accuracy: f64,
    examples: usize,
    min_margin: f64,
}

fn reference(file: &str) -> Reference {
    let json = std::fs::read_to_string(fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    Reference {
        loss: json_number(&json, "loss"),
        accuracy: json_number(&json, "accuracy"),
        examples: json_number(&json, "examples") as usize,
        min_margin: json_number(&json, "min_margin"),
    }
}

fn compare(model: &str, got: EvalResult, want: &Reference) -> f64 {
    assert_eq!(got.examples, want.examples, "{model}: examples");
    let rel = (got.loss - want.loss).abs() / want.loss.abs();
    assert!(rel <= 1e-4, "{model}: loss {} vs PyTorch {} (relative error {rel:.2e})", got.loss, want.loss);
    let (ours, theirs) = ((got.accuracy * LIMIT as f64).round(), (want.accuracy * LIMIT as f64).round());
    assert_eq!(ours, theirs, "{model}: correct predictions {ours} vs PyTorch {theirs} (smallest top-2 logit gap {:.2e})", want.min_margin);
    eprintln!("{model}: loss {:.7} vs {:.7} (rel {rel:.1e}), accuracy {} ok", got.loss, want.loss, got.accuracy);
    rel
}

#[test]
fn names_shapes_and_order_match_pytorch_for_every_model() {
    let text = std::fs::read_to_string(fixture("zoo_names.txt")).expect("zoo_names.txt");
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(model) = line.strip_prefix("# model ") {
            blocks.push((model.to_string(), Vec::new()));
        } else if !line.is_empty() {
            blocks.last_mut().expect("a model header first").1.push(line.to_string());
        }
    }
    let names: Vec<&str> = blocks.iter().map(|(m, _)| m.as_str()).collect();
    for m in ["mlp", "lenet", "resnet20", "resnet110", "resnet110-noshort", "vgg9", "char-lstm"] {
        assert!(names.contains(&m), "fixture lacks {m}: {names:?}");
    }
    assert_eq!(blocks.len(), 14);
    for (model, want) in &blocks {
        let mut net = build(model, &ModelConfig::mnist(), 0).unwrap();
        let got: Vec<String> = net
            .state()
            .iter()
            .map(|n| {
                let dtype = if n.kind == Kind::Counter { "int64" } else { "float32" };
                format!("{} {:?} {dtype}", n.name, n.tensor.shape())
            })
            .collect();
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "{model}: entry {i}");
        }
        assert_eq!(got.len(), want.len(), "{model}: number of tensors");
    }
}

#[test]
fn exported_weights_evaluate_like_pytorch() {
    for model in ["lenet", "mlp", "resnet20", "resnet20-noshort", "vgg9"] {
        let mut net = build(model, &ModelConfig::mnist(), 1).unwrap();
        checkpoint::load(&mut net, fixture(&format!("weights/{model}.safetensors"))).unwrap();
        let got = evaluate(&mut net, test_images(), 500);
        compare(model, got, &reference(&format!("eval/{model}.json")));
    }
}

/// The fixture script's formula (see its docstring), element `i` of the
/// `k`-th tensor in state_dict order.
fn formula(name: &str, shape: &[usize], k: usize) -> Vec<f32> {
    const A: f64 = 0.7548776662466927;
    const B: f64 = 0.5698402909980532;
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| {
            let x = i as f64 * A + k as f64 * B;
            let v = 2.0 * (x - x.floor()) - 1.0;
            let out = if name.ends_with("num_batches_tracked") {
                0.0
            } else if shape.len() >= 2 {
                v * (1.0 / (shape[1..].iter().product::<usize>() as f64).sqrt())
            } else if name.ends_with("running_var") {
                1.0 + 0.5 * v.abs()
            } else if name.ends_with("weight") {
                1.0 + 0.1 * v
            } else {
                0.1 * v
            };
            out as f32
        })
        .collect()
}

fn formula_model(model: &str) -> Box<dyn Module> {
    let mut net = build(model, &ModelConfig::mnist(), 0).unwrap();
    let mut k = 0;
    net.visit_mut("", &mut |name, t, _| {
        *t = Tensor::from_vec(formula(name, t.shape(), k), t.shape());
        k += 1;
    });
    net
}

#[test]
fn formula_weights_evaluate_like_pytorch_for_deep_resnets() {
    let mut worst = 0.0f64;
    for depth in [20, 32, 44, 56, 110] {
        for suffix in ["", "-noshort"] {
            let model = format!("resnet{depth}{suffix}");
            let mut net = formula_model(&model);
            let t = std::time::Instant::now();
            let got = evaluate(&mut net, test_images(), 500);
            eprintln!("{model}: evaluated in {:.2?}", t.elapsed());
            worst = worst.max(compare(&model, got, &reference(&format!("eval/{model}.formula.json"))));
        }
    }
    eprintln!("formula resnets: worst relative loss error {worst:.2e}");
}

#[test]
fn char_lstm_logits_match_pytorch() {
    let mut net = build("char-lstm", &ModelConfig::mnist(), 0).unwrap();
    checkpoint::load(&mut net, fixture("weights/char-lstm.safetensors")).unwrap();
    let bytes = std::fs::read(fixture("char_lstm_logits.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tokens = st.tensor("tokens").unwrap();
    let logits = st.tensor("logits").unwrap();
    assert_eq!(tokens.shape(), [2, 8]);
    let ids: Vec<f32> = tokens.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32).collect();
    for (j, &id) in ids.iter().enumerate() {
        let (b, t) = (j / 8, j % 8);
        assert_eq!(id as usize, (31 * (8 * b + t) + 5) % 76, "token formula");
    }
    let want: Vec<f32> = logits.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    net.set_training(false);
    let got = {
        let _g = autodiff::no_grad();
        net.forward(&Tensor::from_vec(ids, &[2, 8]))
    };
    assert_eq!(got.shape(), logits.shape());
    let max_err = got.data().iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("char-lstm: max |logit error| {max_err:.2e}");
    assert!(max_err <= 1e-4, "char-lstm logits differ from PyTorch by {max_err}");
}

//! Language-model evaluation and Hessian against PyTorch: fixtures in
//! `fixtures/lm/` made by `reference/make_lm_fixtures.py` (see its
//! docstring). No Python is needed here.
//!
//! * char-lstm (init = the seed-0 export, trained = 300 Adam steps in
//!   PyTorch) on the first 32 windows of 64 of the embedded Shakespeare's
//!   held-out split and the first 16 of its training split: mean
//!   cross-entropy per character to 1e-5 relative, top-1 accuracy exactly;
//! * the result does not depend on the evaluation batch size;
//! * on 4 held-out windows of 16 (trained): the loss, an HVP with a fixed
//!   vector (PyTorch in float64 with double backward) to 1e-4, and the top
//!   Hessian eigenvalue by power iteration on llv's HVPs to 1e-4.

use autodiff::Tensor;
use datasets::{LmWindows, TextData, TextSplit, TokenBatch};
use nn::eval_lm::{evaluate_lm, lm_loss, LmEvalResult};
use nn::zoo::{build, ModelConfig};
use nn::{checkpoint, Module, ModuleExt};
use std::path::PathBuf;
use std::sync::OnceLock;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn shakespeare() -> &'static TextData {
    static DATA: OnceLock<TextData> = OnceLock::new();
    DATA.get_or_init(|| datasets::embedded::shakespeare(0.1).expect("embedded shakespeare"))
}

/// The value after `"key":` in a one-line JSON object of numbers and strings.
fn json_value(json: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat).unwrap_or_else(|| panic!("no {key} in {json}")) + pat.len();
    let rest = json[at..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().unwrap_or_else(|e| panic!("{key} in {json}: {e}"))
}

fn read_json(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn char_lstm(weights: &str) -> Box<dyn Module> {
    let mut net = build("char-lstm", &ModelConfig { vocab: shakespeare().vocab.len(), ..ModelConfig::mnist() }, 0).unwrap();
    checkpoint::load(&mut net, fixture(weights)).unwrap();
    net
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn check_eval(weights: &str, split: TextSplit, reference: &str) -> LmEvalResult {
    let json = read_json(reference);
    let (seq_len, limit) = (json_value(&json, "seq_len") as usize, json_value(&json, "limit") as usize);
    let windows = LmWindows::from_text(shakespeare(), split, seq_len, Some(limit)).unwrap();
    let got = evaluate_lm(&mut *char_lstm(weights), &windows, 8);
    assert_eq!((got.windows, got.tokens), (json_value(&json, "windows") as usize, json_value(&json, "tokens") as usize), "{reference}");
    let (want_loss, want_acc) = (json_value(&json, "loss"), json_value(&json, "accuracy"));
    let r = rel(got.loss, want_loss);
    assert!(r <= 1e-5, "{reference}: loss {} vs PyTorch {want_loss} (relative error {r:.2e})", got.loss);
    assert!(rel(got.perplexity, json_value(&json, "perplexity")) <= 1e-5, "{reference}: perplexity {}", got.perplexity);
    let (ours, theirs) = ((got.accuracy * got.tokens as f64).round(), (want_acc * got.tokens as f64).round());
    let margin = json_value(&json, "min_margin");
    assert_eq!(ours, theirs, "{reference}: correct next characters {ours} vs PyTorch {theirs} (smallest top-2 gap {margin:.1e})");
    eprintln!("{reference}: loss {:.8} vs {want_loss:.8} (rel {r:.1e}), accuracy {} ok", got.loss, got.accuracy);
    got
}

#[test]
fn untrained_char_lstm_evaluates_like_pytorch() {
    let r = check_eval("weights/char-lstm.safetensors", TextSplit::Valid, "lm/eval-init-test.json");
    // Near-uniform predictions at initialization: about ln 76 nats per character.
    assert!((r.loss - 76f64.ln()).abs() < 0.1, "{r:?}");
}

#[test]
fn trained_char_lstm_evaluates_like_pytorch() {
    let r = check_eval("lm/char-lstm-trained.safetensors", TextSplit::Valid, "lm/eval-trained-test.json");
    assert!(r.loss < 2.5 && r.accuracy > 0.3, "trained: {r:?}");
    check_eval("lm/char-lstm-trained.safetensors", TextSplit::Train, "lm/eval-trained-train.json");
}

#[test]
fn evaluation_does_not_depend_on_the_batch_size() {
    let windows = LmWindows::from_text(shakespeare(), TextSplit::Valid, 32, Some(7)).unwrap();
    let mut net = char_lstm("lm/char-lstm-trained.safetensors");
    let one = evaluate_lm(&mut *net, &windows, 1);
    for batch in [3, 7, 100] {
        let r = evaluate_lm(&mut *net, &windows, batch);
        assert!(rel(r.loss, one.loss) <= 1e-6, "batch {batch}: {} vs {}", r.loss, one.loss);
        assert_eq!((r.accuracy, r.windows, r.tokens), (one.accuracy, 7, 224), "batch {batch}");
    }
    // The same number as the mean of lm_loss over the windows one by one.
    let _g = autodiff::no_grad();
    let mean: f64 = (0..7).map(|k| lm_loss(&mut *net, &windows.batch(k..k + 1)).item() as f64).sum::<f64>() / 7.0;
    assert!(rel(mean, one.loss) <= 1e-6, "{mean} vs {}", one.loss);
}

/// The Hessian problem of `hessian.json`: the trained model and its windows as one batch.
fn hessian_problem() -> (Box<dyn Module>, TokenBatch, String) {
    let json = read_json("lm/hessian.json");
    let (seq_len, count) = (json_value(&json, "seq_len") as usize, json_value(&json, "windows") as usize);
    let windows = LmWindows::from_text(shakespeare(), TextSplit::Valid, seq_len, Some(count)).unwrap();
    let mut net = char_lstm("lm/char-lstm-trained.safetensors");
    net.set_training(false);
    (net, windows.batch(0..count), json)
}

/// `H v` of the mean loss on `batch` at `params`, in f64 (flat, state order).
fn hvp(net: &mut dyn Module, params: &[Tensor], batch: &TokenBatch, v: &[f64]) -> Vec<f64> {
    let mut at = 0;
    let vt: Vec<Tensor> = params
        .iter()
        .map(|p| {
            let t = Tensor::from_vec(v[at..at + p.numel()].iter().map(|&x| x as f32).collect(), p.shape());
            at += p.numel();
            t
        })
        .collect();
    let (_, hv) = autodiff::hvp(
        |p| {
            net.set_parameters(p);
            lm_loss(&mut *net, batch)
        },
        params,
        &vt,
    );
    net.set_parameters(params);
    hv.iter().flat_map(|t| t.data().iter().map(|&x| x as f64).collect::<Vec<_>>()).collect()
}

/// The fixture's fixed vector: tensor k, element i: 2 frac(i a + k b) − 1, rounded to f32.
fn formula_vector(params: &[Tensor]) -> Vec<f64> {
    const A: f64 = 0.7548776662466927;
    const B: f64 = 0.5698402909980532;
    let mut v = Vec::new();
    for (k, p) in params.iter().enumerate() {
        v.extend((0..p.numel()).map(|i| {
            let x = i as f64 * A + k as f64 * B;
            (2.0 * (x - x.floor()) - 1.0) as f32 as f64
        }));
    }
    v
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn hessian_vector_product_matches_pytorch_float64() {
    let (mut net, batch, json) = hessian_problem();
    let params = net.parameters();
    let loss = {
        let _g = autodiff::no_grad();
        lm_loss(&mut *net, &batch).item() as f64
    };
    let want_loss = json_value(&json, "loss");
    assert!(rel(loss, want_loss) <= 1e-5, "loss {loss} vs PyTorch {want_loss}");
    let v = formula_vector(&params);
    let hv = hvp(&mut *net, &params, &batch, &v);
    let (vhv, norm) = (dot(&v, &hv), dot(&hv, &hv).sqrt());
    let (want_vhv, want_norm) = (json_value(&json, "vhv"), json_value(&json, "hv_norm"));
    assert!(rel(vhv, want_vhv) <= 1e-4, "v·Hv {vhv} vs PyTorch {want_vhv} (rel {:.1e})", rel(vhv, want_vhv));
    assert!(rel(norm, want_norm) <= 1e-4, "|Hv| {norm} vs PyTorch {want_norm} (rel {:.1e})", rel(norm, want_norm));
    // Sampled entries, to 1e-4 of the largest sampled entry.
    let stride = json_value(&json, "hv_stride") as usize;
    let samples = checkpoint::load_named(fixture("lm/hessian_hv.safetensors")).unwrap();
    let want = samples.iter().find(|(n, _)| n == "hv_samples").expect("hv_samples").1.data().to_vec();
    assert_eq!(want.len(), hv.len().div_ceil(stride));
    let scale = want.iter().map(|x| x.abs() as f64).fold(0.0, f64::max);
    let worst = want.iter().enumerate().map(|(j, &w)| (hv[j * stride] - w as f64).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-4 * scale, "sampled Hv entries differ by {worst:.2e} (largest {scale:.2e})");
    eprintln!("hvp: v·Hv {vhv:.8} vs {want_vhv:.8}, |Hv| {norm:.8} vs {want_norm:.8}, worst sample {:.1e}", worst / scale);
}

#[test]
fn top_hessian_eigenvalue_matches_pytorch_float64() {
    let (mut net, batch, json) = hessian_problem();
    let params = net.parameters();
    // Power iteration from the formula vector; PyTorch's spectrum here has
    // |λ2/λ1| ≈ 0.55, so the Rayleigh quotient settles within ~20 products.
    let mut v = formula_vector(&params);
    let norm = dot(&v, &v).sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    let mut lambda = 0.0;
    for it in 0..60 {
        let w = hvp(&mut *net, &params, &batch, &v);
        let next = dot(&w, &v);
        let n = dot(&w, &w).sqrt();
        v = w.iter().map(|x| x / n).collect();
        let settled = it > 0 && (next - lambda).abs() <= 1e-9 * next.abs();
        lambda = next;
        if settled {
            break;
        }
    }
    let want = json_value(&json, "top_eigenvalue");
    assert!(rel(lambda, want) <= 1e-4, "top eigenvalue {lambda} vs PyTorch {want} (rel {:.1e})", rel(lambda, want));
    eprintln!("top Hessian eigenvalue {lambda:.8} vs PyTorch {want:.8}");
}

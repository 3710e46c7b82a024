//! End-to-end: landscapes of the character LSTM on the embedded
//! Shakespeare corpus with the committed checkpoints (nn/tests/fixtures:
//! untrained and trained), checked against PyTorch's numbers for the same
//! windows (nn/tests/fixtures/lm, made by reference/make_lm_fixtures.py).
//! A few short windows keep every run fast.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn llv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).args(args).output().expect("run llv")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "llv failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-lm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fixture(rel: &str) -> String {
    format!("{}/nn/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

const UNTRAINED: &str = "weights/char-lstm.safetensors";
const TRAINED: &str = "lm/char-lstm-trained.safetensors";

fn json_file(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no number {key} in {v}"))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// `llv eval --json` of char-lstm on held-out windows.
fn eval_json(weights: &str, seq_len: usize, limit: usize) -> Value {
    let (l, n) = (seq_len.to_string(), limit.to_string());
    let args = ["eval", "--model", "char-lstm", "--data", "shakespeare", "--weights", weights, "--seq-len", &l, "--limit", &n, "--json"];
    let o = ok(llv(&args));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
}

/// Rows of a results CSV, header checked.
fn csv_rows(path: &Path, header: &str) -> Vec<Vec<f64>> {
    let csv = std::fs::read_to_string(path).unwrap();
    assert!(csv.starts_with(header), "{csv}");
    csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect()
}

#[test]
fn eval_equals_pytorch_on_both_checkpoints() {
    for (weights, reference) in [(UNTRAINED, "lm/eval-init-test.json"), (TRAINED, "lm/eval-trained-test.json")] {
        let want = json_file(&fixture(reference));
        let got = eval_json(&fixture(weights), num(&want, "seq_len") as usize, num(&want, "limit") as usize);
        for key in ["loss", "perplexity"] {
            assert!(rel(num(&got, key), num(&want, key)) <= 1e-5, "{weights} {key}: {got} vs {want}");
        }
        assert!((num(&got, "accuracy") - num(&want, "accuracy")).abs() <= 1.0 / num(&want, "tokens"), "{got} vs {want}");
        assert_eq!((got["windows"].as_u64(), got["tokens"].as_u64()), (want["windows"].as_u64(), want["tokens"].as_u64()));
        assert!(rel(num(&got, "bits_per_char"), num(&want, "loss") / std::f64::consts::LN_2) <= 1e-5);
    }
}

#[test]
fn surfaces_center_on_eval_and_resume() {
    let w = fixture(TRAINED);
    let e = eval_json(&w, 16, 4);
    let common = ["surface", "--model", "char-lstm", "--data", "shakespeare", "--weights", &w, "--seq-len", "16", "--limit", "4"];
    let one = tmp("s1");
    ok(llv(&[&common[..], &["--x", "-1:1:5", "--out", s(&one)]].concat()));
    let rows = csv_rows(&one.join("surface.csv"), "x,test_loss,test_accuracy\n");
    assert_eq!(rows.len(), 5);
    assert!(rel(rows[2][1], num(&e, "loss")) <= 1e-6, "center {:?} vs eval {e}", rows[2]);
    assert!(rows[0][1] > rows[2][1] && rows[4][1] > rows[2][1], "the trained center is not a local minimum along x: {rows:?}");

    let two = tmp("s2");
    let plane = [&common[..], &["--x", "-1:1:3", "--y", "-1:1:3", "--out", s(&two)]].concat();
    ok(llv(&plane));
    let whole = std::fs::read_to_string(two.join("surface.jsonl")).unwrap();
    let center: Value = whole.lines().skip(1).map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|v| v["i"] == 4).unwrap();
    assert!(rel(center["values"][0].as_f64().unwrap(), num(&e, "loss")) <= 1e-6, "{center} vs {e}");
    // An interrupted run (header and 3 points) resumes to the same points.
    let kept: String = whole.lines().take(4).map(|l| format!("{l}\n")).collect();
    std::fs::write(two.join("surface.jsonl"), kept).unwrap();
    ok(llv(&[&plane[..], &["--resume"]].concat()));
    let sorted = |t: &str| {
        let mut v: Vec<String> = t.lines().skip(1).map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&std::fs::read_to_string(two.join("surface.jsonl")).unwrap()), sorted(&whole));
    // A different window length is a different computation.
    let mut other = plane.clone();
    other[8] = "8";
    let o = llv(&[&other[..], &["--resume"]].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("seq_len"), "{err}");
}

#[test]
fn interpolation_ends_equal_eval() {
    let (a, b) = (fixture(UNTRAINED), fixture(TRAINED));
    let out = tmp("interp");
    let args =
        ["interpolate", "--model", "char-lstm", "--data", "shakespeare", "--from", &a, "--to", &b, "--seq-len", "16", "--limit", "4"];
    ok(llv(&[&args[..], &["--range", "0:1:3", "--out", s(&out)]].concat()));
    let rows = csv_rows(&out.join("interpolation.csv"), "alpha,test_loss,test_accuracy\n");
    for (row, w) in [(&rows[0], &a), (&rows[2], &b)] {
        let e = eval_json(w, 16, 4);
        assert!(rel(row[1], num(&e, "loss")) <= 1e-6, "{row:?} vs {e}");
        assert_eq!(row[2], num(&e, "accuracy"));
    }
}

/// The top Hessian eigenvalue on the fixture's 4 held-out windows of 16
/// characters equals PyTorch's (float64) to 1e-4.
#[test]
fn hessian_top_eigenvalue_matches_pytorch() {
    let want = json_file(&fixture("lm/hessian.json"));
    assert_eq!((num(&want, "seq_len"), num(&want, "windows")), (16.0, 4.0));
    let out = tmp("hess");
    let w = fixture(TRAINED);
    let args = ["hessian", "--model", "char-lstm", "--data", "shakespeare", "--split", "test", "--weights", &w, "--seq-len", "16"];
    ok(llv(&[&args[..], &["--limit", "4", "--top-k", "1", "--quiet", "--out", s(&out)]].concat()));
    let got = json_file(s(&out.join("hessian.json")));
    let top = got["top_eigenvalues"][0].as_f64().unwrap();
    assert!(rel(top, num(&want, "top_eigenvalue")) <= 1e-4, "top eigenvalue {top} vs PyTorch {want}");
    assert!(rel(num(&got, "loss"), num(&want, "loss")) <= 1e-6, "{got}");
    assert_eq!(got["plan"]["tokens"].as_u64(), Some(64));
}

#[test]
fn sharpness_runs_and_mismatches_are_errors() {
    let out = tmp("sharp");
    let w = fixture(TRAINED);
    let args = ["sharpness", "--model", "char-lstm", "--data", "shakespeare", "--split", "test", "--weights", &w, "--seq-len", "16"];
    let o = ok(llv(&[&args[..], &["--limit", "2", "--quiet", "--out", s(&out)]].concat()));
    assert!(String::from_utf8_lossy(&o.stdout).contains("sharpness"), "{o:?}");
    assert!(out.join("sharpness.json").exists());

    let e = llv(&["eval", "--model", "lenet", "--data", "shakespeare", "--weights", &w]);
    let msg = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && msg.contains("--model") && msg.contains("char-lstm"), "{msg}");
    let e = llv(&["eval", "--model", "char-lstm", "--data", "spirals", "--weights", &w]);
    let msg = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && msg.contains("--model") && msg.contains("language model"), "{msg}");
    let e = llv(&["eval", "--model", "char-lstm", "--data", "shakespeare", "--weights", &w, "--seq-len", "0"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("--seq-len"), "{e:?}");
}

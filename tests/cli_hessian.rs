//! End-to-end: `llv hessian` and `llv sharpness` on LeNet with the exported
//! PyTorch weights (nn/tests/fixtures) and a few embedded MNIST images, so
//! the tests need no training and stay fast.

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

/// A failure's stderr: exactly one line `error: …`, no panic.
fn err(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!e.contains("panicked"), "panic instead of an error: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "more than one line: {e}");
    assert!(e.starts_with("error: "), "{e}");
    e
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-hessian-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn weights() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/nn/tests/fixtures/weights/lenet.safetensors").to_string()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no number {key} in {v}"))
}

/// Top-2, λmin, trace, the density figure, then a curvature map over the
/// plane of the two eigenvectors it saved.
#[test]
fn hessian_writes_the_documented_fields_and_figures() {
    let w = weights();
    let out = tmp("hess");
    let common = ["--model", "lenet", "--weights", &w, "--split", "test", "--limit", "40", "--batch-size", "16", "--quiet"];
    let mut args = vec!["hessian"];
    args.extend(common);
    args.extend(["--top-k", "2", "--steps", "8", "--min", "--trace", "--trace-samples", "4", "--density"]);
    args.extend(["--density-runs", "2", "--density-steps", "6", "--out", s(&out)]);
    let o = ok(llv(&args));
    assert!(String::from_utf8_lossy(&o.stdout).contains("top eigenvalues"));
    let h = json(&out.join("hessian.json"));
    let top: Vec<f64> = h["top_eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(top.len(), 2);
    assert!(top[0] >= top[1] && top[0] > 0.0 && top[0] < 100.0, "{top:?}");
    let lmin = num(&h, "smallest_eigenvalue");
    assert!(lmin < top[1] && lmin.is_finite(), "λmin {lmin} vs {top:?}");
    assert!(num(&h, "trace").is_finite() && num(&h, "trace_stderr") > 0.0);
    assert_eq!(h["trace_samples"], 4);
    // 8 Lanczos steps for the top 2, 8 for λmin, 4 Rademacher vectors, 2 × 6 for the density.
    assert_eq!(h["hvp_count"], 8 + 8 + 4 + 12);
    assert!(num(&h, "seconds") > 0.0 && (num(&h, "loss") - 2.3).abs() < 0.1);
    assert_eq!(h["plan"]["model"], "lenet");
    assert_eq!(h["plan"]["examples"], 40);
    assert_eq!(h["plan"]["weights_fingerprint"].as_str().unwrap().len(), 16);
    let png = std::fs::read(out.join("density.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let csv = std::fs::read_to_string(out.join("density.csv")).unwrap();
    assert!(csv.starts_with("eigenvalue,density\n") && csv.lines().count() > 100);
    let dirs = out.join("hessian-directions.safetensors");
    assert!(dirs.is_file());

    // The eigenvector plane as a curvature map (2 x 2 points).
    let curv = tmp("curv");
    let mut args = vec!["hessian"];
    args.extend(common);
    args.extend(["--steps", "4", "--curvature-map", "--directions", s(&dirs), "--x", "-0.5:0.5:2", "--y", "-0.5:0.5:2"]);
    args.extend(["--out", s(&curv)]);
    ok(llv(&args));
    let rows = std::fs::read_to_string(curv.join("curvature.csv")).unwrap();
    assert_eq!(rows.lines().count(), 1 + 4, "{rows}");
    for line in rows.lines().skip(1) {
        let ratio: f64 = line.rsplit(',').next().unwrap().parse().unwrap();
        assert!(ratio.is_finite() && ratio >= 0.0, "{line}");
    }
    assert!(curv.join("curvature.png").is_file());
    // Power iteration: same flags, descending order too.
    let pw = tmp("power");
    let mut args = vec!["hessian"];
    args.extend(common);
    args.extend(["--method", "power", "--top-k", "2", "--steps", "5", "--out", s(&pw)]);
    ok(llv(&args));
    let p = json(&pw.join("hessian.json"));
    let top: Vec<f64> = p["top_eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(top.len() == 2 && top[0] >= top[1], "{top:?}");
    for d in [out, curv, pw] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn sharpness_metrics_run() {
    let w = weights();
    let out = tmp("sharp");
    ok(llv(&[
        "sharpness",
        "--model",
        "lenet",
        "--weights",
        &w,
        "--split",
        "test",
        "--limit",
        "40",
        "--quiet",
        "--metric",
        "eps,random,entropy",
        "--steps",
        "3",
        "--samples",
        "2",
        "--langevin-steps",
        "4",
        "--out",
        s(&out),
    ]));
    let j = json(&out.join("sharpness.json"));
    let loss = num(&j, "loss");
    let eps = &j["eps"];
    assert!(num(eps, "sharpness") > 0.0 && num(eps, "max_loss") > loss, "{eps}");
    assert!((num(eps, "sharpness") - 100.0 * (num(eps, "max_loss") - loss) / (1.0 + loss)).abs() < 1e-9);
    let r = &j["random"];
    assert_eq!(r["increases"].as_array().unwrap().len(), 2);
    assert!(num(r, "mean").is_finite() && num(r, "std") >= 0.0);
    let e = &j["entropy"];
    assert_eq!(e["samples"], 2);
    assert!(num(e, "distance") > 0.0 && (num(e, "gradient_norm") - 0.03 * num(e, "distance")).abs() < 1e-12);
    // Loss evaluations: eps 2 (base, final; its 3 steps take gradients), random 1 + 2, entropy 1 + 2
    // (base, the 2 samples after burn-in); gradients: eps 3, entropy 4.
    assert_eq!(j["loss_evaluations"], 2 + 3 + 3);
    assert_eq!(j["gradient_evaluations"], 3 + 4);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bad_input_is_one_clean_line() {
    let w = weights();
    let out = tmp("errors");
    let o = s(&out);
    let e = err(&llv(&["hessian", "--model", "lenet", "--weights", &w, "--top-k", "0", "--out", o]));
    assert!(e.contains("--top-k"), "{e}");
    let mlp = concat!(env!("CARGO_MANIFEST_DIR"), "/nn/tests/fixtures/weights/mlp.safetensors");
    let e = err(&llv(&["hessian", "--model", "lenet", "--weights", mlp, "--limit", "10", "--out", o]));
    assert!(e.contains("--weights"), "{e}");
    let e = err(&llv(&["hessian", "--model", "lenet", "--weights", "/no/such.safetensors", "--out", o]));
    assert!(e.contains("--weights") && e.contains("no such file"), "{e}");
    let e = err(&llv(&["sharpness", "--model", "lenet", "--weights", &w, "--data", "nosuch", "--out", o]));
    assert!(e.contains("--data"), "{e}");
    let e = err(&llv(&["sharpness", "--model", "lenet", "--weights", &w, "--metric", "random", "--radius", "0", "--out", o]));
    assert!(e.contains("--radius"), "{e}");
    let e = err(&llv(&["hessian", "--model", "lenet", "--weights", &w, "--curvature-map", "--out", o]));
    assert!(e.contains("--directions"), "{e}");
    let e = err(&llv(&["hessian", "--model", "nosuch", "--weights", &w, "--out", o]));
    assert!(e.contains("--model"), "{e}");
    assert!(!out.join("hessian.json").exists());
    let _ = std::fs::remove_dir_all(out);
}

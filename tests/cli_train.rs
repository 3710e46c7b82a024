//! End-to-end: `llv train` on the embedded MNIST (small subsets so CI stays
//! fast), its outputs, resuming, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn llv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).args(args).output().expect("run llv")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn train(out: &Path, extra: &[&str]) -> Output {
    let o = out.to_str().unwrap();
    let mut args = vec!["train", "--model", "lenet", "--data", "mnist", "--limit", "512", "--batch-size", "64", "--quiet", "--out", o];
    args.extend_from_slice(extra);
    llv(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A run writes config, metrics with the documented columns, the initial
/// and per-epoch checkpoints and the final weights; the loss goes down.
#[test]
fn writes_config_metrics_and_checkpoints() {
    let out = tmp("basic");
    let o = train(&out, &["--epochs", "2", "--optimizer", "sgd"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "epoch,train_loss,train_accuracy,test_loss,test_accuracy,learning_rate,steps,seconds");
    let rows: Vec<Vec<f64>> = lines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[1][1] < rows[0][1], "train loss should fall: {rows:?}");
    assert_eq!(rows[0][6], 8.0, "512 examples / 64 = 8 steps");
    for f in ["config.json", "final.safetensors", "checkpoints/epoch-000.safetensors", "checkpoints/epoch-002.safetensors"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["optimizer"], "sgd");
    assert_eq!(cfg["epochs"], 2);
    // The final weights evaluate to the last row's test metrics.
    let e = llv(&["eval", "--model", "lenet", "--weights", out.join("final.safetensors").to_str().unwrap(), "--data", "mnist", "--json"]);
    let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&e.stdout).lines().last().unwrap()).unwrap();
    assert!((v["accuracy"].as_f64().unwrap() - rows[1][4]).abs() < 1e-6);
    // An existing --out is refused without --force or --resume.
    let again = train(&out, &["--epochs", "1"]);
    assert!(!again.status.success() && stderr(&again).contains("--out") && stderr(&again).contains("not empty"));
}

/// A run stopped after epoch 1 and resumed to epoch 2 ends with weights
/// bit-identical to an uninterrupted 2-epoch run (model, optimizer state
/// and shuffling are restored). A metrics row written after the resume
/// state (a kill between the two) is dropped.
#[test]
fn resume_continues_exactly() {
    let full = tmp("full");
    let o = train(&full, &["--epochs", "2", "--optimizer", "adam", "--schedule", "constant"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cut = tmp("cut");
    assert!(train(&cut, &["--epochs", "1", "--optimizer", "adam", "--schedule", "constant"]).status.success());
    let mut csv = std::fs::read_to_string(cut.join("metrics.csv")).unwrap();
    csv.push_str("2,0.1,0.9");
    std::fs::write(cut.join("metrics.csv"), csv).unwrap();
    let o = llv(&["train", "--out", cut.to_str().unwrap(), "--resume", "--epochs", "2", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming"), "{}", stderr(&o));
    let a = std::fs::read(full.join("final.safetensors")).unwrap();
    let b = std::fs::read(cut.join("final.safetensors")).unwrap();
    assert!(a == b, "resumed weights differ from the uninterrupted run");
    let rows = std::fs::read_to_string(cut.join("metrics.csv")).unwrap();
    assert_eq!(rows.lines().count(), 3, "{rows}");
    // Nothing left to do: a second resume says so and succeeds.
    let again = llv(&["train", "--out", cut.to_str().unwrap(), "--resume", "--quiet"]);
    assert!(again.status.success() && stderr(&again).contains("nothing to resume"), "{}", stderr(&again));
}

/// Bad flags and data fail with one clear line naming the flag.
#[test]
fn errors_name_the_flag() {
    let cases: [(&[&str], &str); 5] = [
        (&["--model", "nope"], "--model"),
        (&["--data", "nowhere:"], "--data"),
        (&["--lr=-1"], "--lr"),
        (&["--schedule", "step:0:0.5"], "--schedule"),
        (&["--epochs", "0"], "--epochs"),
    ];
    for (i, (extra, flag)) in cases.iter().enumerate() {
        let out = tmp(&format!("err{i}"));
        let o = train(&out, extra);
        let err = stderr(&o);
        assert!(!o.status.success() && err.contains(flag) && !err.contains("panicked"), "{extra:?}: {err}");
    }
    let resume = llv(&["train", "--out", tmp("no-run").to_str().unwrap(), "--resume"]);
    assert!(!resume.status.success() && stderr(&resume).contains("config.json"));
}

/// A diverging run stops with a message naming the step.
#[test]
fn non_finite_loss_stops_the_run() {
    let out = tmp("nan");
    let o = train(&out, &["--epochs", "1", "--optimizer", "sgd", "--lr", "1e30", "--schedule", "constant"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("epoch 1, step") && err.contains("learning rate"), "{err}");
}

/// The accuracy bar, with defaults only (about 2 minutes on 2
/// cores): `cargo test --release --test cli_train -- --ignored`.
#[test]
#[ignore]
fn every_optimizer_reaches_its_accuracy_on_mnist() {
    for (opt, bar) in [("sgd", 0.975), ("adam", 0.975), ("pal", 0.97), ("entropy-sgd", 0.97), ("sam", 0.97)] {
        let out = tmp(&format!("acc-{opt}"));
        let o = llv(&[
            "train",
            "--model",
            "lenet",
            "--data",
            "mnist",
            "--optimizer",
            opt,
            "--epochs",
            "10",
            "--seed",
            "1",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{opt}: {}", stderr(&o));
        let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        let last: Vec<f64> = csv.lines().last().unwrap().split(',').map(|v| v.parse().unwrap()).collect();
        assert!(last[4] >= bar, "{opt}: final test accuracy {} below {bar}", last[4]);
    }
}

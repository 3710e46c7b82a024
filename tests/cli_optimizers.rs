//! End-to-end, for every optimizer in the registry (a new one is covered by
//! registering it): `llv train --optimizer NAME` runs, records its resolved
//! hyperparameters in config.json, and a run stopped after one epoch and
//! resumed ends bit-identical to an uninterrupted one. Also SAM around
//! every possible base, and the registry's listing.

use optim::registry::{self, Hypers};
use optim::{Kind, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn llv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).args(args).output().expect("run llv")
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-optimizers-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// LeNet on 256 MNIST images (4 minibatches per epoch), constant rate (a
/// cosine schedule depends on the run length, which resuming extends).
fn train(out: &Path, optimizer: &[&str], epochs: &str) -> Output {
    let mut args =
        vec!["train", "--model", "lenet", "--data", "mnist", "--limit", "256", "--quiet", "--schedule", "constant", "--epochs", epochs];
    args.extend(["--out", out.to_str().unwrap(), "--optimizer"]);
    args.extend_from_slice(optimizer);
    llv(&args)
}

/// Every registration with its defaults, and SAM-like wrappers around each base.
fn configurations() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for spec in registry::all() {
        out.push(vec![spec.name.to_string()]);
        if spec.params.iter().any(|h| matches!(h.kind, Kind::Base)) {
            for base in registry::all().iter().filter(|b| b.is_gradient_step()) {
                out.push(vec![spec.name.to_string(), "--opt".into(), format!("base={}", base.name)]);
            }
        }
    }
    out
}

fn json_of(v: &Value) -> serde_json::Value {
    match v {
        Value::Float(x) => serde_json::json!(x.to_string().parse::<f64>().unwrap()),
        Value::Int(x) => serde_json::json!(x),
        Value::Bool(x) => serde_json::json!(x),
        Value::Name(x) => serde_json::json!(x),
    }
}

#[test]
fn every_optimizer_trains_records_its_config_and_resumes_exactly() {
    for (i, conf) in configurations().iter().enumerate() {
        let conf: Vec<&str> = conf.iter().map(String::as_str).collect();
        let full = tmp(&format!("full{i}"));
        let o = train(&full, &conf, "2");
        assert!(o.status.success(), "{conf:?}: {}", stderr(&o));
        let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(full.join("config.json")).unwrap()).unwrap();
        assert_eq!(cfg["optimizer"], conf[0], "{conf:?}");
        let settings: Vec<(String, String)> =
            conf.get(2).and_then(|s| s.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).into_iter().collect();
        let want: Hypers = registry::resolve(conf[0], &settings).unwrap();
        for (k, v) in want.resolved() {
            assert_eq!(cfg["optimizer_config"][k], json_of(&v), "{conf:?}: {k}");
        }
        let cut = tmp(&format!("cut{i}"));
        assert!(train(&cut, &conf, "1").status.success(), "{conf:?}");
        let o = llv(&["train", "--out", cut.to_str().unwrap(), "--resume", "--epochs", "2", "--quiet"]);
        assert!(o.status.success() && stderr(&o).contains("resuming"), "{conf:?}: {}", stderr(&o));
        let (a, b) = (std::fs::read(full.join("final.safetensors")).unwrap(), std::fs::read(cut.join("final.safetensors")).unwrap());
        assert!(a == b, "{conf:?}: resumed weights differ from the uninterrupted run");
        let _ = std::fs::remove_dir_all(&full);
        let _ = std::fs::remove_dir_all(&cut);
    }
}

/// `--list-optimizers` prints every registered optimizer and key; `--help`
/// names every optimizer.
#[test]
fn listing_comes_from_the_registry() {
    let o = llv(&["train", "--list-optimizers"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    let help = String::from_utf8_lossy(&llv(&["train", "--help"]).stdout).to_string();
    for spec in registry::all() {
        assert!(list.contains(&format!("{}: ", spec.name)) && help.contains(spec.name), "{} not listed", spec.name);
        for p in spec.params {
            assert!(list.contains(&format!("{}={}", p.key, p.default)), "{}: {} not listed", spec.name, p.key);
        }
    }
}

/// Unknown keys, other optimizers' keys and bad values fail before
/// training, naming the flag and, for unknown keys, the valid ones.
#[test]
fn optimizer_errors_name_the_flag() {
    let cases: [(&[&str], &[&str]); 6] = [
        (&["sgd", "--opt", "nosuch=1"], &["--opt nosuch", "\"nosuch\"", "lr, momentum"]),
        (&["sgd", "--opt", "mu=5"], &["--opt mu", "\"mu\""]),
        (&["adam", "--momentum", "0.9"], &["--momentum", "beta1"]),
        (&["sam", "--opt", "base=pal"], &["--opt base", "pal"]),
        (&["sgd", "--opt", "momentum=x"], &["--opt momentum", "number"]),
        (&["nosuch"], &["--optimizer", "sgd, adam"]),
    ];
    for (i, (args, wanted)) in cases.iter().enumerate() {
        let out = tmp(&format!("err{i}"));
        let o = train(&out, args, "1");
        let err = stderr(&o);
        assert!(!o.status.success() && !err.contains("panicked"), "{args:?}: {err}");
        for w in *wanted {
            assert!(err.contains(w), "{args:?}: {err:?} lacks {w:?}");
        }
        assert!(!out.join("config.json").exists(), "{args:?}: wrote a run");
    }
}

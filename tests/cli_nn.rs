//! End-to-end: `llv eval`, `llv models` and `llv data` run the way a user
//! runs them, on the embedded MNIST and the committed PyTorch fixtures
//! (`nn/tests/fixtures/`, made by `make_zoo_fixtures.py`).

use std::path::PathBuf;
use std::process::{Command, Output};

fn llv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).args(args).output().expect("run llv")
}

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("nn/tests/fixtures").join(rel).to_string_lossy().into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The number after `"key":` in a one-line JSON object.
fn json_number(json: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    let start = json.find(&pat).unwrap_or_else(|| panic!("no {key} in {json}")) + pat.len();
    let rest = json[start..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().unwrap_or_else(|e| panic!("{key} in {json}: {e}"))
}

/// A failure: non-zero exit, one `error: ` line naming what is wrong, no panic.
fn assert_clean_failure(o: &Output, must_contain: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail; stdout: {}", stdout(o));
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "one error line expected: {err:?}");
    for s in must_contain {
        assert!(err.contains(s), "error should mention {s:?}: {err}");
    }
}

#[test]
fn eval_json_matches_the_pytorch_fixture() {
    let weights = fixture("weights/lenet.safetensors");
    let o = llv(&["eval", "--model", "lenet", "--weights", &weights, "--data", "mnist", "--split", "test", "--limit", "500", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let last = out.trim_end().lines().last().expect("a JSON line");
    assert!(last.starts_with('{') && last.ends_with('}'), "{last}");
    let want = std::fs::read_to_string(fixture("eval/lenet.json")).unwrap();
    let (loss, want_loss) = (json_number(last, "loss"), json_number(&want, "loss"));
    assert!((loss - want_loss).abs() <= 1e-4 * want_loss, "llv {loss} vs PyTorch {want_loss}");
    // PyTorch's accuracy is an f32 fraction: compare counts of correct predictions.
    assert_eq!((json_number(last, "accuracy") * 500.0).round(), (json_number(&want, "accuracy") * 500.0).round());
    assert_eq!(json_number(last, "examples"), 500.0);

    // Batching does not change the answer beyond rounding.
    let o = llv(&["eval", "--model", "lenet", "--weights", &weights, "--data", "mnist", "--limit", "500", "--batch-size", "64", "--json"]);
    let small = stdout(&o);
    assert!((json_number(&small, "loss") - loss).abs() < 1e-6 * loss, "{small}");
    assert_eq!(json_number(&small, "accuracy"), json_number(last, "accuracy"));

    // The text report.
    let o = llv(&["eval", "--model", "lenet", "--weights", &weights, "--data", "mnist", "--limit", "100"]);
    let text = stdout(&o);
    assert!(o.status.success() && text.contains("loss:") && text.contains("accuracy:") && text.contains("100 examples"), "{text}");

    // --data defaults to the embedded MNIST, as in the other commands.
    let o = llv(&["eval", "--model", "lenet", "--weights", &weights, "--limit", "100"]);
    assert!(o.status.success() && stdout(&o).contains("100 examples"), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().find(|l| l.starts_with("loss:")), text.lines().find(|l| l.starts_with("loss:")));
}

#[test]
fn eval_with_another_models_checkpoint_names_the_parameter() {
    let o = llv(&[
        "eval",
        "--model",
        "resnet20",
        "--weights",
        &fixture("weights/resnet20-noshort.safetensors"),
        "--data",
        "mnist",
        "--limit",
        "10",
    ]);
    assert_clean_failure(&o, &["resnet20-noshort.safetensors", "layer2.0.shortcut.0.weight"]);
    let o = llv(&["eval", "--model", "mlp", "--weights", &fixture("weights/lenet.safetensors"), "--data", "mnist", "--limit", "10"]);
    assert_clean_failure(&o, &["fc1.weight: expected [512, 784], file has [120, 400]", "conv1.weight"]);
}

#[test]
fn eval_reports_bad_arguments_in_one_line() {
    let lenet = fixture("weights/lenet.safetensors");
    let o = llv(&["eval", "--model", "resnet21", "--weights", &lenet, "--data", "mnist"]);
    assert_clean_failure(&o, &["--model", "unknown model \"resnet21\"", "resnet20", "lenet"]);
    let o = llv(&["eval", "--model", "lenet", "--weights", "no/such/file.safetensors", "--data", "mnist"]);
    assert_clean_failure(&o, &["--weights", "no/such/file.safetensors"]);
    let o = llv(&["eval", "--model", "lenet", "--weights", &lenet, "--data", "no-such-set"]);
    assert_clean_failure(&o, &["--data", "no-such-set"]);
    let o = llv(&["eval", "--model", "lenet", "--weights", &lenet, "--data", "spirals:n=abc"]);
    assert_clean_failure(&o, &["--data", "n=\"abc\""]);
    let o = llv(&["eval", "--model", "lenet", "--weights", &lenet, "--data", "spirals"]);
    assert_clean_failure(&o, &["--model lenet needs square images"]);
    let o = llv(&["eval", "--model", "lenet", "--weights", &lenet, "--data", "mnist", "--limit", "0"]);
    assert_clean_failure(&o, &["--limit"]);
    let o = llv(&["eval", "--model", "lenet", "--weights", &fixture("zoo_names.txt"), "--data", "mnist"]);
    assert_clean_failure(&o, &["zoo_names.txt", "safetensors"]);
}

#[test]
fn models_lists_the_zoo_with_parameter_counts() {
    let o = llv(&["models"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("MNIST"), "{text}");
    // Counts checked with reference/zoo.py for 1x28x28 input, 10 classes.
    for (name, count) in [("resnet20", "272,186"), ("lenet", "61,706"), ("vgg9", "2,788,554"), ("resnet110-noshort", "1,727,674")] {
        let line = text.lines().find(|l| l.split_whitespace().next() == Some(name)).unwrap_or_else(|| panic!("{name} missing: {text}"));
        assert!(line.contains(count), "{line}");
    }
    assert!(text.contains("char-lstm"));
    let o = llv(&["models", "--in-channels", "3", "--image-size", "32"]);
    assert!(stdout(&o).lines().any(|l| l.starts_with("resnet20 ") && l.contains("272,474")), "{}", stdout(&o));
}

#[test]
fn data_describes_the_embedded_mnist() {
    let o = llv(&["data", "mnist"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("8000") && text.contains("2000") && text.contains("[1, 28, 28]"), "{text}");
    assert_clean_failure(&llv(&["data", "mnist:/no/such/dir"]), &["/no/such/dir"]);
    assert_clean_failure(&llv(&["data", "nonsense"]), &["nonsense"]);
}

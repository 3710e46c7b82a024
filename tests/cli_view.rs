//! End-to-end: `llv view` writes one self-contained page holding the
//! results' values, and refuses bad input naming the file or flag at fault.
//! (tests/browser drives the page itself in Chromium.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn llv(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).current_dir(dir).args(args).output().expect("run llv")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "llv failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(e.starts_with("error: ") && !e.contains("panicked"), "{e}");
    e
}

/// A folder with a small trained MLP and a 2-D (5×5) and a 1-D (7-point) surface around it.
fn setup(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-view-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ok(llv(&dir, &["train", "--model", "mlp", "--data", "spirals", "--epochs", "1", "--quiet", "--out", "run"]));
    let common = ["surface", "--model", "mlp", "--data", "spirals", "--limit", "100", "--weights", "run/final.safetensors"];
    ok(llv(&dir, &[&common[..], &["--x", "-1:1:5", "--y", "-1:1:5", "--out", "plane"]].concat()));
    ok(llv(&dir, &[&common[..], &["--x", "-1:1:7", "--out", "line"]].concat()));
    dir
}

/// The JSON data block of a page.
fn data(html: &str) -> serde_json::Value {
    let start = html.find("id=\"llv-data\">").expect("data block") + "id=\"llv-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// The values of metric `k` of a results file, in point order.
fn column(path: &Path, k: usize) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut pts: Vec<(u64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["i"].as_u64().unwrap(), v["values"][k].as_f64().unwrap()))
        .collect();
    pts.sort_by_key(|p| p.0);
    pts.into_iter().map(|p| p.1).collect()
}

#[test]
fn writes_a_self_contained_page_with_the_values() {
    let dir = setup("page");
    let out = ok(llv(&dir, &["view", "plane", "line/surface.jsonl", "--title", "two <views>", "--out", "page.html"]));
    assert!(out.contains("page.html") && out.contains("2 results files") && out.contains("32 points"), "{out}");
    let html = std::fs::read_to_string(dir.join("page.html")).unwrap();
    assert!(html.contains("<title>two &lt;views&gt;</title>"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the page names no URL");
    assert!(!html.contains(" src=") && !html.contains(" href=\"/") && !html.contains("@import"), "the page loads nothing");
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    assert!(html.contains("window.llvView") && html.contains("marching"), "the viewer script is inline");
    let d = data(&html);
    assert_eq!(d["metric"], "test_loss");
    let (plane, line) = (&d["results"][0], &d["results"][1]);
    assert_eq!((plane["name"].as_str(), plane["dims"].as_u64(), plane["points"].as_u64()), (Some("plane"), Some(2), Some(25)));
    assert_eq!((line["name"].as_str(), line["dims"].as_u64(), line["points"].as_u64()), (Some("line"), Some(1), Some(7)));
    let want = column(&dir.join("plane/surface.jsonl"), 0);
    let got: Vec<f64> = plane["values"]["test_loss"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got, want, "the page holds the file's values bit for bit, in grid order");
    let acc: Vec<f64> = line["values"]["test_accuracy"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(acc, column(&dir.join("line/surface.jsonl"), 1));

    // A run still computing: a missing point and a partial last line still make a page.
    let text = std::fs::read_to_string(dir.join("plane/surface.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(3);
    std::fs::create_dir_all(dir.join("partial")).unwrap();
    std::fs::write(dir.join("partial/surface.jsonl"), lines.join("\n") + "\n{\"i\":24,").unwrap();
    ok(llv(&dir, &["view", "partial", "--scale", "log", "--out", "partial.html"]));
    let d = data(&std::fs::read_to_string(dir.join("partial.html")).unwrap());
    assert_eq!(
        (d["results"][0]["points"].as_u64(), d["results"][0]["cells"].as_u64(), d["scale"].as_str()),
        (Some(24), Some(25), Some("log"))
    );
    assert_eq!(d["results"][0]["values"]["test_loss"].as_array().unwrap().iter().filter(|v| v.is_null()).count(), 1);
}

#[test]
fn errors_name_the_file_or_flag_at_fault() {
    let dir = setup("errors");
    let e = err(llv(&dir, &["view", "plane", "nowhere/surface.jsonl", "--out", "x.html"]));
    assert!(e.contains("nowhere/surface.jsonl"), "{e}");
    let e = err(llv(&dir, &["view", "run/config.json", "--out", "x.html"]));
    assert!(e.contains("run/config.json") && e.contains("line 1"), "{e}");
    let e = err(llv(&dir, &["view", "plane", "--out", "x.png"]));
    assert!(e.contains("--out x.png"), "{e}");
    let e = err(llv(&dir, &["view", "plane", "line", "--metric", "train_loss", "--out", "x.html"]));
    assert!(e.contains("--metric") && e.contains("plane") && e.contains("train_loss"), "{e}");
    let e = err(llv(&dir, &["view", "plane", "--out", "no/such/dir/x.html"]));
    assert!(e.contains("--out no/such/dir/x.html"), "{e}");
    assert!(!dir.join("x.html").exists(), "nothing is written on error");
}

#[test]
fn the_demo_shows_its_surfaces_in_the_view() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-view-{}-demo", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ok(llv(&dir, &["demo", "--quick", "--out", "demo"]));
    let index = std::fs::read_to_string(dir.join("demo/index.html")).unwrap();
    assert!(index.contains("<iframe src=\"view.html\""), "index.html embeds the view");
    let d = data(&std::fs::read_to_string(dir.join("demo/view.html")).unwrap());
    let names: Vec<&str> = d["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["batch 64", "batch 2048"]);
    assert_eq!(d["results"][1]["values"]["test_loss"].as_array().unwrap().len(), 25, "the quick demo's 5×5 surface");
}

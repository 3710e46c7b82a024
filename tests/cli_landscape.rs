//! End-to-end: interpolate, surface, merge and plot on the embedded MNIST
//! with a briefly trained LeNet (small subsets so CI stays fast).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn llv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).args(args).output().expect("run llv")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "llv failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn err(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!e.contains("panicked"), "panic instead of an error: {e}");
    e
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-landscape-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One short training run shared by the tests: (initial, final) weights.
fn run() -> &'static (PathBuf, PathBuf) {
    static RUN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = tmp("run");
        ok(llv(&["train", "--model", "lenet", "--limit", "512", "--epochs", "1", "--quiet", "--out", s(&out)]));
        (out.join("checkpoints/epoch-000.safetensors"), out.join("final.safetensors"))
    })
}

fn eval_json(weights: &Path) -> Value {
    let o = ok(llv(&["eval", "--model", "lenet", "--weights", s(weights), "--data", "mnist", "--limit", "200", "--json"]));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap()
}

fn results(path: &Path) -> Vec<(usize, Vec<f64>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut pts: Vec<(usize, Vec<f64>)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["i"].as_u64().unwrap() as usize, v["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        })
        .collect();
    pts.sort_by_key(|p| p.0);
    pts
}

/// α = 0 and α = 1 of the interpolation equal `llv eval` of the two checkpoints.
#[test]
fn interpolation_ends_equal_eval() {
    let (init, fin) = run();
    let out = tmp("interp");
    ok(llv(&[
        "interpolate",
        "--model",
        "lenet",
        "--from",
        s(init),
        "--to",
        s(fin),
        "--limit",
        "200",
        "--range",
        "0:1:3",
        "--out",
        s(&out),
    ]));
    let csv = std::fs::read_to_string(out.join("interpolation.csv")).unwrap();
    assert!(csv.starts_with("alpha,test_loss,test_accuracy\n"), "{csv}");
    let rows: Vec<Vec<f64>> = csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    for (row, w) in [(&rows[0], init), (&rows[2], fin)] {
        let e = eval_json(w);
        assert!((row[1] - e["loss"].as_f64().unwrap()).abs() <= 1e-6 * row[1].abs(), "loss {row:?} vs {e}");
        assert_eq!(row[2], e["accuracy"].as_f64().unwrap());
    }
    assert!(out.join("line.png").exists() && out.join("test_loss.npy").exists());
}

fn surface(out: &Path, extra: &[&str]) -> Output {
    let (_, fin) = run();
    let mut args =
        vec!["surface", "--model", "lenet", "--weights", s(fin), "--limit", "100", "--x", "-1:1:5", "--y", "-1:1:3", "--out", s(out)];
    args.extend_from_slice(extra);
    llv(&args)
}

/// A 2-D surface writes its figures and exports; resuming after a kill in
/// the middle gives bit-identical results; shards merge to the same grid;
/// one and two threads agree.
#[test]
fn surface_resume_shards_and_threads() {
    let full = tmp("full");
    ok(surface(&full, &[]));
    for f in [
        "contour.png",
        "filled.png",
        "heatmap.png",
        "surface3d.png",
        "surface.csv",
        "test_loss.npy",
        "surface.vtk",
        "directions.safetensors",
    ] {
        assert!(full.join(f).exists(), "{f} missing");
    }
    let whole = results(&full.join("surface.jsonl"));
    assert_eq!(whole.len(), 15);

    // Kill simulation: keep the header and 6 points, plus half a line.
    let cut = tmp("cut");
    ok(surface(&cut, &[]));
    let text = std::fs::read_to_string(cut.join("surface.jsonl")).unwrap();
    // The corners (the coarsest level) and one point of the next level.
    let keep = |l: &str| serde_json::from_str::<Value>(l).unwrap()["i"].as_u64().is_none_or(|i| [0, 4, 10, 14, 2].contains(&i));
    let mut kept: String = text.lines().filter(|l| keep(l)).map(|l| format!("{l}\n")).collect();
    kept.push_str("{\"i\":13,\"x\":0.");
    std::fs::write(cut.join("surface.jsonl"), kept).unwrap();
    // Coarse to fine: the first 4 points are the corners, so the cut file draws them.
    let o = ok(llv(&["plot", s(&cut.join("surface.jsonl")), "--kind", "contour", "--out", s(&cut.join("c.png"))]));
    let o = String::from_utf8_lossy(&o.stdout);
    assert!(o.contains("unfinished: drew 2×2 of 5×3 (4 of 15 points)"), "{o}");
    ok(surface(&cut, &["--resume"]));
    assert_eq!(results(&cut.join("surface.jsonl")), whole, "resumed surface differs");

    // Shards.
    let (p1, p2, merged) = (tmp("p1"), tmp("p2"), tmp("merged"));
    ok(surface(&p1, &["--shard", "1/2", "--directions", s(&full.join("directions.safetensors"))]));
    ok(surface(&p2, &["--shard", "2/2", "--directions", s(&full.join("directions.safetensors"))]));
    ok(llv(&["merge", s(&p1), s(&p2), "--out", s(&merged)]));
    assert_eq!(results(&merged.join("surface.jsonl")), whole, "merged shards differ from the whole");
    // A shard of another plan is refused.
    let other = tmp("other");
    ok(surface(&other, &["--shard", "2/2", "--seed", "5"]));
    let e = err(&llv(&["merge", s(&p1), s(&other), "--out", s(&tmp("bad-merge"))]));
    assert!(e.contains("plans differ"), "{e}");

    // Thread count.
    let one = tmp("one");
    let o = Command::new(env!("CARGO_BIN_EXE_llv"))
        .env("RAYON_NUM_THREADS", "1")
        .args([
            "surface",
            "--model",
            "lenet",
            "--weights",
            s(&run().1),
            "--limit",
            "100",
            "--x",
            "-1:1:5",
            "--y",
            "-1:1:3",
            "--out",
            s(&one),
        ])
        .output()
        .unwrap();
    ok(o);
    assert_eq!(results(&one.join("surface.jsonl")), whole, "1 thread differs from the default");

    for kind in ["line", "heatmap", "surface3d"] {
        let png = full.join(format!("plot-{kind}.png"));
        let o = llv(&["plot", s(&full.join("surface.jsonl")), "--kind", kind, "--out", s(&png)]);
        if kind == "line" {
            assert!(err(&o).contains("2-D"));
        } else {
            ok(o);
            assert!(png.exists());
        }
    }
}

/// Broken input gives a clear error and leaves earlier output alone.
#[test]
fn broken_input_is_reported() {
    let (init, fin) = run();
    // A checkpoint of another model.
    let mlp = tmp("mlp");
    ok(llv(&["train", "--model", "mlp", "--limit", "64", "--epochs", "1", "--quiet", "--out", s(&mlp)]));
    let wrong = mlp.join("final.safetensors");
    let e = err(&llv(&["surface", "--model", "lenet", "--weights", s(&wrong), "--x", "-1:1:3", "--out", s(&tmp("wrong"))]));
    assert!(e.contains("--weights") && e.contains("conv1.weight"), "{e}");
    // Zero-norm direction: interpolating a checkpoint with itself.
    let e = err(&llv(&["interpolate", "--model", "lenet", "--from", s(fin), "--to", s(fin), "--out", s(&tmp("zero"))]));
    assert!(e.contains("zero norm"), "{e}");
    // Empty and inverted ranges.
    for (range, what) in [("-1:1:0", "empty"), ("1:-1:5", "inverted")] {
        let e = err(&llv(&["surface", "--model", "lenet", "--weights", s(fin), "--x", range, "--out", s(&tmp("range"))]));
        assert!(e.contains("--x") && e.contains(what), "{e}");
    }
    // A figure size out of range, checked before anything is computed.
    let size_out = tmp("size");
    let e = err(&llv(&["surface", "--model", "lenet", "--weights", s(fin), "--size", "100x600", "--out", s(&size_out)]));
    assert!(e.contains("--size 100x600") && e.contains("200 to 4000"), "{e}");
    assert!(!size_out.exists(), "nothing written");
    // Two sources of directions at once.
    let e = err(&llv(&[
        "surface",
        "--model",
        "lenet",
        "--weights",
        s(fin),
        "--through",
        s(init),
        "--directions",
        "hessian",
        "--out",
        s(&tmp("both")),
    ]));
    assert!(e.contains("--directions") && e.contains("--through"), "{e}");
    // The split of a probe is one split.
    let e = err(&llv(&["hessian", "--model", "lenet", "--weights", s(fin), "--split", "both", "--limit", "10", "--out", s(&tmp("both"))]));
    assert!(e.contains("--split both"), "{e}");
    // An existing --out is refused and kept.
    let out = tmp("keep");
    let interp = |limit: &str, extra: &[&str]| {
        let mut args = vec!["interpolate", "--model", "lenet", "--from", s(init), "--to", s(fin), "--limit", limit, "--range", "0:1:2"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", s(&out)]);
        llv(&args)
    };
    ok(interp("50", &[]));
    let before = std::fs::read(out.join("surface.jsonl")).unwrap();
    let e = err(&interp("50", &[]));
    assert!(e.contains("not empty"), "{e}");
    assert_eq!(std::fs::read(out.join("surface.jsonl")).unwrap(), before);
    // Resuming with a different plan is refused.
    let e = err(&interp("60", &["--resume"]));
    assert!(e.contains("plans differ") && e.contains("limit"), "{e}");
    assert_eq!(std::fs::read(out.join("surface.jsonl")).unwrap(), before);
}

/// `--through B` makes the line from the center to B (x = 1 is B), and
/// `--repeats` draws several directions with a band.
#[test]
fn through_checkpoints_and_repeats() {
    let (init, fin) = run();
    let out = tmp("through");
    ok(llv(&[
        "surface",
        "--model",
        "lenet",
        "--weights",
        s(init),
        "--through",
        s(fin),
        "--x",
        "0:1:2",
        "--limit",
        "200",
        "--out",
        s(&out),
    ]));
    let pts = results(&out.join("surface.jsonl"));
    for (k, w) in [(0, init), (1, fin)] {
        let e = eval_json(w);
        assert!((pts[k].1[0] - e["loss"].as_f64().unwrap()).abs() <= 1e-6 * pts[k].1[0].abs(), "{:?} vs {e}", pts[k]);
    }
    let e = err(&llv(&[
        "surface",
        "--model",
        "lenet",
        "--weights",
        s(init),
        "--through",
        s(fin),
        "--y",
        "0:1:2",
        "--out",
        s(&tmp("through2")),
    ]));
    assert!(e.contains("--through"), "{e}");

    let rep = tmp("repeats");
    ok(llv(&["surface", "--model", "lenet", "--weights", s(fin), "--x", "-1:1:3", "--limit", "50", "--repeats", "3", "--out", s(&rep)]));
    let csv = std::fs::read_to_string(rep.join("repeats.csv")).unwrap();
    assert!(csv.starts_with("x,test_loss_mean,test_loss_std,test_loss_min,test_loss_max"), "{csv}");
    assert_eq!(csv.lines().count(), 4);
    assert!(rep.join("line-repeats.png").exists() && rep.join("repeat-02/surface.jsonl").exists());
    let e = err(&llv(&["surface", "--model", "lenet", "--weights", s(fin), "--y", "-1:1:3", "--repeats", "2", "--out", s(&tmp("rep2"))]));
    assert!(e.contains("--repeats"), "{e}");
}

/// `--directions hessian` spans the plane of the top two Hessian eigenvectors.
#[test]
fn hessian_directions_span_the_surface() {
    let (_, fin) = run();
    let out = tmp("hessian-plane");
    let o = ok(llv(&[
        "surface",
        "--model",
        "lenet",
        "--weights",
        s(fin),
        "--directions",
        "hessian",
        "--x",
        "-1:1:3",
        "--y",
        "-1:1:3",
        "--limit",
        "50",
        "--out",
        s(&out),
    ]));
    assert!(String::from_utf8_lossy(&o.stderr).contains("top eigenvalue"));
    let plan: Value = serde_json::from_str(std::fs::read_to_string(out.join("surface.jsonl")).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(plan["plan"]["norm"], "hessian");
    let pts = results(&out.join("surface.jsonl"));
    // The center is the minimum of this slice along the two stiffest directions.
    let center = pts[4].1[0];
    assert!(pts.iter().all(|p| p.1[0] >= center), "{pts:?}");
}

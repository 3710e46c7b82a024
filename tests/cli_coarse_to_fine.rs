//! End-to-end: surfaces are computed coarse to fine. With one thread the
//! results file lists the points in `GridOrder`; every point equals a
//! row-major run's bit for bit; a file cut after or inside a level plots its
//! finest complete level and resumes to the full file; shards by order
//! position merge to the full file; `--plot-every level` redraws mid-run.

use landscape::GridOrder;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn llv_threads(threads: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_llv"));
    if let Some(t) = threads {
        c.env("RAYON_NUM_THREADS", t);
    }
    c.args(args).output().expect("run llv")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "llv failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-c2f-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A briefly trained MLP on the spirals: its final weights.
fn weights() -> &'static PathBuf {
    static W: OnceLock<PathBuf> = OnceLock::new();
    W.get_or_init(|| {
        let out = tmp("train");
        ok(llv_threads(None, &["train", "--model", "mlp", "--data", "spirals", "--epochs", "1", "--quiet", "--out", s(&out)]));
        out.join("final.safetensors")
    })
}

/// A 9×9 surface into `out` (one thread: points finish in the order they start).
fn surface(out: &Path, extra: &[&str]) -> String {
    let w = weights();
    let mut args =
        vec!["surface", "--model", "mlp", "--data", "spirals", "--weights", s(w), "--x", "-1:1:9", "--y", "-1:1:9", "--out", s(out)];
    args.extend_from_slice(extra);
    ok(llv_threads(Some("1"), &args))
}

/// The point lines of a results file: (index, raw JSON line).
fn points(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| (serde_json::from_str::<Value>(l).unwrap()["i"].as_u64().unwrap() as usize, l.to_string())).collect()
}

fn sorted(mut p: Vec<(usize, String)>) -> Vec<(usize, String)> {
    p.sort();
    p
}

fn header(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string()
}

/// The header and the first `n` point lines of `from`, written as `out/surface.jsonl` beside its directions.
fn cut(from: &Path, out: &Path, n: usize, header_line: &str) {
    std::fs::create_dir_all(out).unwrap();
    std::fs::copy(from.join("directions.safetensors"), out.join("directions.safetensors")).unwrap();
    let mut text = format!("{header_line}\n");
    points(&from.join("surface.jsonl")).iter().take(n).for_each(|(_, l)| text.push_str(&format!("{l}\n")));
    std::fs::write(out.join("surface.jsonl"), text).unwrap();
}

fn plot(dir: &Path) -> Output {
    llv_threads(None, &["plot", s(&dir.join("surface.jsonl")), "--kind", "heatmap", "--out", s(&dir.join("h.png"))])
}

#[test]
fn coarse_to_fine_order_values_truncation_resume_and_shards() {
    let full = tmp("full");
    surface(&full, &[]);
    let file = full.join("surface.jsonl");
    let g = GridOrder::new(9, 9);
    let lines = points(&file);
    assert_eq!(lines.iter().map(|p| p.0).collect::<Vec<_>>(), g.order, "one thread writes the points in coarse-to-fine order");
    assert!(header(&file).contains("\"order\":\"coarse-to-fine\""));
    // Every prefix that ends at a level boundary is a complete nested grid.
    for (l, &end) in g.ends.iter().enumerate() {
        let have: Vec<usize> = lines[..end].iter().map(|p| p.0).collect();
        let (level, shape) = g.level_points(l, 9, 9);
        assert_eq!(have.len(), level.len(), "level {l}: prefix holds other points");
        assert!(level.iter().all(|i| have.contains(i)), "level {l} ({shape:?}) incomplete in the prefix");
    }

    // A plain (row-major) run: an old-style header without "order", resumed from no points.
    let plain = tmp("plain");
    let old_header = header(&file).replace(",\"order\":\"coarse-to-fine\"", "");
    assert_ne!(old_header, header(&file));
    cut(&full, &plain, 0, &old_header);
    surface(&plain, &["--resume"]);
    let plain_lines = points(&plain.join("surface.jsonl"));
    assert_eq!(plain_lines.iter().map(|p| p.0).collect::<Vec<_>>(), (0..81).collect::<Vec<_>>(), "row-major order kept on resume");
    assert_eq!(sorted(plain_lines), sorted(lines.clone()), "values differ from a row-major run");

    // Cut after the 5×5 level and inside the 9×9 one: both draw 5×5; resume ends identical.
    for (name, n) in [("boundary", g.ends[2]), ("mid", g.ends[2] + 7)] {
        let dir = tmp(name);
        cut(&full, &dir, n, &header(&file));
        let o = ok(plot(&dir));
        assert!(o.contains("unfinished: drew 5×5 of 9×9 (25 of 81 points)"), "{name}: {o}");
        assert!(dir.join("h.png").exists());
        surface(&dir, &["--resume"]);
        assert_eq!(sorted(points(&dir.join("surface.jsonl"))), sorted(lines.clone()), "{name}: resumed file differs");
    }
    let few = tmp("few");
    cut(&full, &few, 3, &header(&file));
    let o = plot(&few);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("nothing to draw yet") && e.contains("surface.jsonl"), "{e}");

    // Shards by position in the order: each gets a share of the corners; they merge to the full file.
    let mut parts = Vec::new();
    for k in 1..=3 {
        let p = tmp(&format!("shard{k}"));
        surface(&p, &["--shard", &format!("{k}/3"), "--directions", s(&full.join("directions.safetensors"))]);
        let idx: Vec<usize> = points(&p.join("surface.jsonl")).iter().map(|p| p.0).collect();
        assert_eq!(idx[0], g.order[k - 1], "shard {k} starts at its position in the order");
        parts.push(p);
    }
    let merged = tmp("merged");
    ok(llv_threads(None, &["merge", s(&parts[0]), s(&parts[1]), s(&parts[2]), "--out", s(&merged)]));
    assert_eq!(sorted(points(&merged.join("surface.jsonl"))), sorted(lines), "merged shards differ");
}

#[test]
fn plot_every_level_redraws_during_the_run_and_1d_plots_its_level() {
    let live = tmp("live");
    surface(&live, &["--plot-every", "level"]);
    assert!(live.join("contour.png").exists());
    let e = llv_threads(None, &["surface", "--model", "mlp", "--weights", "x", "--plot-every", "soon", "--out", s(&tmp("bad"))]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("--plot-every"));

    // 1-D: 17 points, cut after 9 of them in order.
    let line = tmp("line");
    ok(llv_threads(
        Some("1"),
        &["surface", "--model", "mlp", "--data", "spirals", "--weights", s(weights()), "--x", "-1:1:17", "--out", s(&line)],
    ));
    let cutdir = tmp("line-cut");
    cut(&line, &cutdir, 9, &header(&line.join("surface.jsonl")));
    let o = ok(llv_threads(None, &["plot", s(&cutdir.join("surface.jsonl")), "--kind", "line", "--out", s(&cutdir.join("l.png"))]));
    assert!(o.contains("unfinished: drew 9 of 17 points"), "{o}");
}

//! End-to-end: `llv demo --quick` runs the whole pipeline and writes every
//! figure and the index page (the full demo is the same code with bigger
//! numbers; it is timed by hand, see the README).

use std::process::Command;

#[test]
fn quick_demo_writes_every_figure_and_the_index() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_llv")).args(["demo", "--quick", "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for fig in [
        "goodfellow-line.png",
        "small-to-large-line.png",
        "slice1d-small-vs-large.png",
        "contour-small-vs-large.png",
        "filled-small-vs-large.png",
        "surface3d-small-vs-large.png",
        "trajectory.png",
    ] {
        let path = out.join("figures").join(fig);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&bytes[1..4], b"PNG", "{fig} is not a PNG");
        assert!(html.contains(&format!("figures/{fig}")), "index.html does not show {fig}");
    }
    // Refuses to overwrite without --force.
    let again = Command::new(env!("CARGO_BIN_EXE_llv")).args(["demo", "--quick", "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success());
}

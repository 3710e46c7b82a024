//! End-to-end: failures that must lose nothing. A stop signal during
//! `surface` or `train` ends at a consistent point (exit status 130) and
//! `--resume` finishes to the same results as an uninterrupted run; a second
//! process on the same `--out` is refused while the first writes; a full disk
//! is an error naming the file, and the run resumes once there is space.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const LLV: &str = env!("CARGO_BIN_EXE_llv");

fn llv(args: &[&str]) -> Output {
    Command::new(LLV).args(args).output().expect("run llv")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "llv failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("llv-cli-failures-{}-{name}", std::process::id()));
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
        let out = tmp("weights");
        ok(llv(&["train", "--model", "mlp", "--data", "spirals", "--epochs", "1", "--quiet", "--out", s(&out)]));
        out.join("final.safetensors")
    })
}

fn surface_args<'a>(w: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec!["surface", "--model", "mlp", "--data", "spirals", "--weights", s(w), "--x", "-1:1:61", "--y", "-1:1:61", "--out", s(out)]
}

/// The header and the point lines of a results file, points sorted: the
/// content, whatever order points were appended in.
fn content(results: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(results).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let header = lines.remove(0);
    lines.sort();
    (header, lines)
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}

/// Waits until `ready()` or the child ends; panics after a minute.
fn wait_for(child: &mut Child, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be interrupted");
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for the run");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success());
}

#[test]
fn interrupted_surface_resumes_to_the_same_results_and_a_second_writer_is_refused() {
    let w = weights();
    let (out, full) = (tmp("surface-stopped"), tmp("surface-full"));
    let mut first = Command::new(LLV).args(surface_args(w, &out)).stderr(Stdio::piped()).spawn().unwrap();
    let results = out.join("surface.jsonl");
    wait_for(&mut first, || lines(&results) > 20);

    // A second run on the same folder, resumed or forced, is refused naming the first.
    for extra in ["--resume", "--force"] {
        let mut args = surface_args(w, &out);
        args.push(extra);
        let o = llv(&args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(&format!("pid {}", first.id())), "{extra}: {e}");
    }

    signal(&first, "-INT");
    let o = first.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(e.contains("continue with --resume"), "{e}");
    let kept = lines(&results);
    assert!(kept > 20 && kept < 61 * 61 + 1, "{kept} lines after the stop");
    assert!(!out.join(".llv.lock").exists(), "the lock is released");

    let mut resume = surface_args(w, &out);
    resume.push("--resume");
    ok(llv(&resume));
    ok(llv(&surface_args(w, &full)));
    assert_eq!(content(&results), content(&full.join("surface.jsonl")));
}

#[test]
fn interrupted_training_resumes_to_the_same_weights() {
    let (out, full) = (tmp("train-stopped"), tmp("train-full"));
    let args = |out: &Path| -> Vec<String> {
        ["train", "--model", "mlp", "--data", "spirals", "--epochs", "25", "--quiet", "--out", s(out)].map(String::from).to_vec()
    };
    let mut run = Command::new(LLV).args(args(&out)).stderr(Stdio::piped()).spawn().unwrap();
    let ckpt = out.join("checkpoints").join("epoch-002.safetensors");
    wait_for(&mut run, || ckpt.exists());
    signal(&run, "-TERM");
    let o = run.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(e.contains("--resume"), "{e}");
    assert!(!out.join("final.safetensors").exists(), "stopped before the end");

    let mut resume = args(&out);
    resume.push("--resume".into());
    ok(Command::new(LLV).args(&resume).output().unwrap());
    ok(Command::new(LLV).args(args(&full)).output().unwrap());
    assert_eq!(std::fs::read(out.join("final.safetensors")).unwrap(), std::fs::read(full.join("final.safetensors")).unwrap());
}

/// Mounts a tmpfs of `size` at `dir` (root only); `None` where mounting is
/// not allowed, which fails under CI.
fn mount_tmpfs(dir: &Path, size: &str) -> Option<()> {
    std::fs::create_dir_all(dir).unwrap();
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", s(dir)]).status();
    if st.map(|s| s.success()).unwrap_or(false) {
        return Some(());
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root and must be able to mount a tmpfs");
    eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
    None
}

#[test]
fn a_full_disk_is_an_error_naming_the_file_and_the_run_resumes() {
    let w = weights();
    let disk = tmp("disk");
    if mount_tmpfs(&disk, "96k").is_none() {
        return;
    }
    let out = disk.join("surf");
    let o = llv(&surface_args(w, &out));
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    // Grow the disk before asserting, so a failed assertion leaves no full tmpfs behind.
    let grown = Command::new("mount").args(["-o", "remount,size=64m", s(&disk)]).status().unwrap().success();
    let result = std::panic::catch_unwind(|| {
        assert!(grown);
        assert!(!o.status.success(), "the run cannot fit in 96 KB");
        assert!(!e.contains("panicked"), "{e}");
        assert!(e.contains(s(&out)) && e.contains("No space left on device"), "{e}");
        let mut resume = surface_args(w, &out);
        resume.push("--resume");
        ok(llv(&resume));
        let full = tmp("disk-full-run");
        ok(llv(&surface_args(w, &full)));
        assert_eq!(content(&out.join("surface.jsonl")), content(&full.join("surface.jsonl")));
    });
    let _ = Command::new("umount").arg(s(&disk)).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

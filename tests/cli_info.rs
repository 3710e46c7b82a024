//! End-to-end: the binary starts, lists its commands and reports its build.

use std::process::Command;

fn llv(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_llv")).args(args).output().expect("run llv")
}

/// `llv --help` lists the `info` command and succeeds.
#[test]
fn help_lists_commands() {
    let out = llv(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("info"), "help text: {text}");
}

/// `llv info` prints the version and thread count.
#[test]
fn info_reports_threads() {
    let out = llv(&["info"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(env!("CARGO_PKG_VERSION")) && text.contains("threads:"), "info output: {text}");
}

/// An unknown command fails with a message, not a panic.
#[test]
fn unknown_command_fails_cleanly() {
    let out = llv(&["no-such-command"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-command") && !err.contains("panicked"), "stderr: {err}");
}

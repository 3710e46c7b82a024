//! The MPI communicator under a real `mpirun` with 2 and 3 ranks on this
//! machine (loopback only). Built with `--features mpi`; under CI a missing
//! `mpirun` is a failure, elsewhere the tests say they skipped.
#![cfg(feature = "mpi")]

use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One `mpirun` at a time: concurrent jobs on one machine can leave an
/// aborted job's `mpirun` waiting.
static MPIRUN: Mutex<()> = Mutex::new(());

fn mpirun(n: usize, mode: &str) -> Option<(Output, Duration)> {
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().unwrap().parent().unwrap().join("examples").join("mpi_check");
    assert!(example.exists(), "{} is not built (cargo test builds the examples)", example.display());
    if let Err(e) = Command::new("mpirun").arg("--version").output() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "mpirun: {e} (CI installs openmpi-bin)");
        eprintln!("SKIPPED: mpirun cannot be started ({e}); install openmpi-bin");
        return None;
    }
    let _one_at_a_time = MPIRUN.lock().unwrap_or_else(|e| e.into_inner());
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["120", "mpirun"])
        .args(["-n", &n.to_string(), "--bind-to", "none", "--oversubscribe"])
        .arg(&example)
        .arg(mode)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl", "self,vader,tcp")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("timeout (coreutils) runs");
    Some((out, start.elapsed()))
}

#[test]
fn sum_and_distribution_agree_with_one_process() {
    for n in [2, 3] {
        let Some((out, _)) = mpirun(n, "ok") else { return };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && stdout.trim() == "ok", "n = {n}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn an_error_on_a_rank_ends_the_job_naming_the_rank() {
    let Some((out, took)) = mpirun(3, "fail") else { return };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the job must fail");
    assert!(stderr.contains("rank 1: item") && stderr.contains("failed on purpose"), "{stderr}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn a_killed_rank_ends_the_job_instead_of_hanging() {
    let Some((out, took)) = mpirun(3, "die") else { return };
    assert!(!out.status.success(), "the job must fail");
    assert!(took < Duration::from_secs(30), "took {took:?}: {}", String::from_utf8_lossy(&out.stderr));
}

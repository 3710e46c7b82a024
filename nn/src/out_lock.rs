//! One writer per output folder. Training runs, surfaces and Hessian jobs
//! append to files in their `--out` folder for hours; two processes on the
//! same folder would interleave their lines. [`OutLock::acquire`] creates
//! `DIR/.llv.lock` holding the writer's pid and host; a second writer gets
//! an error naming them. A lock left by a process that no longer runs (on
//! this host) is stale and is taken over. The lock is removed on drop.

use crate::error::NnError;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the lock file inside the locked folder.
pub const LOCK_FILE: &str = ".llv.lock";

/// A held lock on an output folder; dropping it removes the lock file.
#[derive(Debug)]
pub struct OutLock {
    path: PathBuf,
    /// The pid of a stale lock this one replaced, to tell the user.
    pub replaced_stale: Option<u32>,
}

/// Who holds a lock: what the lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
}

fn this_host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Whether `pid` runs on this machine. Where that cannot be told (no
/// `/proc`), a process is assumed to run: never take over a live lock.
fn is_running(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

fn parse_holder(text: &str) -> Option<LockHolder> {
    let mut pid = None;
    let mut host = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("pid ") {
            pid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("host ") {
            host = Some(v.trim().to_string());
        }
    }
    Some(LockHolder { pid: pid?, host: host? })
}

impl OutLock {
    /// Locks folder `dir` (which must exist) for this process.
    ///
    /// Errors: [`NnError::Locked`] when another live process holds it (or a
    /// process on another host, which cannot be checked from here), naming
    /// it and the lock file to delete if that process is known to be gone;
    /// [`NnError::Io`] when the lock file cannot be written.
    pub fn acquire(dir: &Path) -> Result<OutLock, NnError> {
        let path = dir.join(LOCK_FILE);
        let me = LockHolder { pid: std::process::id(), host: this_host() };
        let mut replaced_stale = None;
        // Twice at most: once more after removing a stale lock.
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let text = format!("pid {}\nhost {}\n", me.pid, me.host);
                    if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.sync_all()) {
                        let _ = fs::remove_file(&path);
                        return Err(NnError::io(&path, "write", e));
                    }
                    return Ok(OutLock { path, replaced_stale });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    match parse_holder(&text) {
                        Some(h) if h.host == me.host && !is_running(h.pid) => {
                            fs::remove_file(&path).map_err(|e| NnError::io(&path, "remove the stale lock", e))?;
                            replaced_stale = Some(h.pid);
                        }
                        holder => return Err(NnError::Locked { lock: path, holder }),
                    }
                }
                Err(e) => return Err(NnError::io(&path, "create", e)),
            }
        }
        Err(NnError::Locked { lock: path, holder: None })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("llv-lock-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn second_writer_is_refused_and_named() {
        let d = temp_dir("second");
        let lock = OutLock::acquire(&d).unwrap();
        assert_eq!(lock.replaced_stale, None);
        let e = OutLock::acquire(&d).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert!(e.contains(LOCK_FILE), "{e}");
        drop(lock);
        assert!(!d.join(LOCK_FILE).exists(), "drop removes the lock");
        OutLock::acquire(&d).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_lock_of_a_finished_process_is_taken_over() {
        let d = temp_dir("stale");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(d.join(LOCK_FILE), format!("pid {dead}\nhost {}\n", this_host())).unwrap();
        let lock = OutLock::acquire(&d).unwrap();
        assert_eq!(lock.replaced_stale, Some(dead));
        let text = fs::read_to_string(lock.path()).unwrap();
        assert_eq!(parse_holder(&text).unwrap().pid, std::process::id());
        drop(lock);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn lock_of_another_host_or_unreadable_lock_is_not_taken_over() {
        let d = temp_dir("foreign");
        fs::write(d.join(LOCK_FILE), "pid 1\nhost some-other-node\n").unwrap();
        let e = OutLock::acquire(&d).unwrap_err().to_string();
        assert!(e.contains("some-other-node"), "{e}");
        fs::write(d.join(LOCK_FILE), "garbage").unwrap();
        let e = OutLock::acquire(&d).unwrap_err().to_string();
        assert!(e.contains("delete"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }
}

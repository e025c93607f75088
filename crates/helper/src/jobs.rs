//! Detached jobs (`async`): the helper starts a job runner, a separate process that outlives the
//! connection, and reads the result file it leaves behind.
//!
//! The runner is drover's own executable (`drover __async_job FILE TIMEOUT`); which executable
//! that is, the binary says once at start ([`set_job_runner`]). A process that never says (a
//! test binary driving the primitives in-process) cannot start jobs: `job_start` answers
//! `Unsupported` and the controller keeps such jobs itself.
//!
//! The result file follows Ansible's async wrapper: `{"started": 1, "finished": 0, ...}` while
//! the job runs, the module's result with `"finished": 1` once it is done. Every write is a
//! rename of a complete file, so a reader never sees half a result.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use drover_host::{HostError, HostResult, JobStart};

use crate::users::Accounts;

static JOB_RUNNER: OnceLock<PathBuf> = OnceLock::new();

/// Names the executable that runs jobs (`EXE __async_job FILE TIMEOUT`, spec on stdin).
pub fn set_job_runner(exe: PathBuf) {
    let _ = JOB_RUNNER.set(exe);
}

/// `dir` with a leading `~` replaced by the home of the user this process runs as (from the
/// account database, as a login shell would have it; `$HOME` when the user is not listed).
fn expand_dir(dir: &str) -> HostResult<PathBuf> {
    let rest = match dir.strip_prefix('~') {
        None => return Ok(PathBuf::from(dir)),
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/'),
        Some(_) => {
            return Err(HostError::Unsupported(format!(
                "async_dir {dir:?}: only '~' of the current user is expanded"
            )))
        }
    };
    let uid = rustix::process::geteuid().as_raw();
    let home = Accounts::load()
        .user(uid)
        .map(|p| p.home.clone())
        .or_else(|| std::env::var("HOME").ok())
        .ok_or_else(|| HostError::Unsupported(format!("async_dir {dir:?}: no home directory")))?;
    Ok(Path::new(&home).join(rest))
}

/// The result file of `jid` under `dir`; the id must be a plain file name.
fn job_file(dir: &str, jid: &str) -> HostResult<PathBuf> {
    let plain =
        !jid.is_empty() && jid != "." && jid != ".." && !jid.contains('/') && !jid.contains('\0');
    if !plain {
        return Err(HostError::Unsupported(format!("invalid job id {jid:?}")));
    }
    Ok(expand_dir(dir)?.join(jid))
}

/// Replaces `path` with `content` by writing a sibling and renaming it over.
pub fn write_job_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(content)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

pub fn start(job: &JobStart) -> HostResult<String> {
    let runner = JOB_RUNNER.get().ok_or_else(|| {
        HostError::Unsupported("this helper has no job runner for async tasks".into())
    })?;
    let path = job_file(&job.dir, &job.jid)?;
    let display = path.to_string_lossy().into_owned();
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| HostError::io(dir.to_string_lossy(), &e))?;
    }
    let started = serde_json::json!({
        "started": 1,
        "finished": 0,
        "ansible_job_id": job.jid,
        "results_file": display,
    });
    write_job_file(&path, started.to_string().as_bytes())
        .map_err(|e| HostError::io(&display, &e))?;
    let mut cmd = Command::new(runner);
    cmd.arg("__async_job")
        .arg(&path)
        .arg(job.timeout.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group: signals meant for the helper (a closed connection) spare the job.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| HostError::io(runner.to_string_lossy(), &e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(job.spec.as_bytes())
            .map_err(|e| HostError::io("async job input", &e))?;
    }
    // Reaped in the background so no zombie stays while the helper serves on.
    std::thread::spawn(move || child.wait());
    Ok(display)
}

pub fn status(dir: &str, jid: &str, cleanup: bool) -> HostResult<Option<Vec<u8>>> {
    let path = job_file(dir, jid)?;
    let display = path.to_string_lossy().into_owned();
    let content = match std::fs::read(&path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::io(&display, &e)),
    };
    if cleanup {
        std::fs::remove_file(&path).map_err(|e| HostError::io(&display, &e))?;
    }
    Ok(Some(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_must_be_file_names() {
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(job_file("/tmp/jobs", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            job_file("/tmp/jobs", "j1.2").unwrap(),
            PathBuf::from("/tmp/jobs/j1.2")
        );
    }

    #[test]
    fn tilde_is_the_users_home() {
        let home = expand_dir("~").unwrap();
        assert!(home.is_absolute(), "{home:?}");
        assert_eq!(
            expand_dir("~/.ansible_async").unwrap(),
            home.join(".ansible_async")
        );
        assert!(expand_dir("~other/x").is_err());
        assert_eq!(expand_dir("/abs").unwrap(), PathBuf::from("/abs"));
    }

    #[test]
    fn status_reads_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(status(d, "j1", false).unwrap(), None);
        write_job_file(&dir.path().join("j1"), b"{}").unwrap();
        assert_eq!(status(d, "j1", false).unwrap(), Some(b"{}".to_vec()));
        assert_eq!(status(d, "j1", true).unwrap(), Some(b"{}".to_vec()));
        assert_eq!(status(d, "j1", false).unwrap(), None);
    }
}

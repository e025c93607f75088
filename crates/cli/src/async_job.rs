//! `drover __async_job FILE TIMEOUT`: the job runner a helper starts for an `async` task. It
//! runs on the managed host, detached from the connection, reads the job (module, arguments,
//! check/diff, environment) from stdin, runs the module against this machine, and replaces
//! FILE with the result. Past TIMEOUT seconds it kills what the module started and records the
//! timeout instead, as Ansible's async wrapper does.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use rustix::process::{Pid, Signal};

pub fn main(file: &Path, timeout: u64) -> ExitCode {
    let mut spec = String::new();
    if std::io::stdin().read_to_string(&mut spec).is_err() {
        return ExitCode::from(1);
    }
    let jid = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let display = file.to_string_lossy().into_owned();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(_) => return ExitCode::from(1),
    };
    let host = drover_transport::local_host("localhost");
    // Spawned, so that a panic in a module still leaves a finished (failed) result behind
    // rather than a job that seems to run until its time is up.
    let job = {
        let (jid, display) = (jid.clone(), display.clone());
        runtime.spawn(async move {
            drover_engine::run_on_host(host.as_ref(), &spec, &jid, &display).await
        })
    };
    let outcome =
        runtime.block_on(async { tokio::time::timeout(Duration::from_secs(timeout), job).await });
    let content = match outcome {
        Ok(Ok(content)) => content,
        Ok(Err(_)) => drover_engine::failed_on_host(&jid, &display, "the async job runner crashed"),
        Err(_) => {
            kill_children();
            drover_engine::failed_on_host(&jid, &display, "Timeout exceeded")
        }
    };
    runtime.shutdown_background();
    match drover_helper::jobs::write_job_file(file, content.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// Kills the process groups of this process's children: every program a module runs is
/// started as the leader of its own group, so this takes its descendants along.
fn kill_children() {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so read after
        // the last `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(me) {
            continue;
        }
        if let Some(pid) = Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
}

//! Running programs to completion.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drover_host::{ExecOutput, ExecRequest, HostError, HostResult, IoKind, Program};

pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub fn exec(req: &ExecRequest) -> HostResult<ExecOutput> {
    let mut cmd = match &req.program {
        Program::Argv(argv) => {
            let Some((prog, args)) = argv.split_first() else {
                return Err(HostError::Io {
                    path: None,
                    kind: IoKind::InvalidInput,
                    message: "empty command".into(),
                });
            };
            let mut c = Command::new(prog);
            c.args(args);
            c
        }
        Program::Shell { script, executable } => {
            let mut c = Command::new(executable.as_deref().unwrap_or("/bin/sh"));
            c.arg("-c").arg(script);
            c
        }
    };
    cmd.envs(&req.env);
    // A task's program must not get the terminal's Ctrl-C meant for drover (which finishes
    // running tasks cleanly when interrupted).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    if let Some(cwd) = &req.cwd {
        cmd.current_dir(cwd);
    }
    // Never let a child inherit the helper's stdin/stdout: they are the RPC channel.
    cmd.stdin(if req.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());

    let start = now();
    let mut child = cmd.spawn().map_err(|e| {
        let what = match &req.program {
            Program::Argv(argv) => argv.first().cloned().unwrap_or_default(),
            Program::Shell { executable, .. } => {
                executable.clone().unwrap_or_else(|| "/bin/sh".into())
            }
        };
        let what = match &req.cwd {
            Some(cwd)
                if e.kind() == std::io::ErrorKind::NotFound
                    && !std::path::Path::new(cwd).is_dir() =>
            {
                cwd.clone()
            }
            _ => what,
        };
        HostError::io(what, &e)
    })?;
    // Feed stdin from a thread so a child that writes a lot before reading cannot deadlock us.
    let feeder = match (child.stdin.take(), &req.stdin) {
        (Some(mut pipe), Some(data)) => {
            let data = data.clone();
            Some(std::thread::spawn(move || {
                // A child that exits without reading all input is not an error of ours.
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };
    let deadline = req
        .timeout_ms
        .map(|ms| std::time::Instant::now() + Duration::from_millis(ms));
    let (stdout, stderr, status) = collect(&mut child, deadline)?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let end = now();
    let rc = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => -sig,
        (None, None) => -1,
    };
    Ok(ExecOutput {
        rc,
        stdout,
        stderr,
        start,
        end,
    })
}

/// How long output pipes may stay silent after the program exited before they are given up:
/// a background process that inherited them (`cmd &`) must not hold the task, as Ansible's
/// `run_command` stops reading once the program ended and a second passed without output.
const QUIET_AFTER_EXIT: Duration = Duration::from_secs(1);

enum Chunk {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Closed,
}

fn pump(mut pipe: impl Read + Send + 'static, tx: mpsc::Sender<Chunk>, wrap: fn(Vec<u8>) -> Chunk) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(wrap(buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = tx.send(Chunk::Closed);
    });
}

/// Waits for the child and gathers its output: everything until both pipes close, or until
/// they stay quiet for [`QUIET_AFTER_EXIT`] once the child itself has exited. Past `deadline`
/// the child's process group (it leads one) is killed.
fn collect(
    child: &mut Child,
    deadline: Option<std::time::Instant>,
) -> HostResult<(Vec<u8>, Vec<u8>, ExitStatus)> {
    let mut killed = false;
    let (tx, rx) = mpsc::channel();
    let mut open = 0;
    if let Some(out) = child.stdout.take() {
        pump(out, tx.clone(), Chunk::Out);
        open += 1;
    }
    if let Some(err) = child.stderr.take() {
        pump(err, tx.clone(), Chunk::Err);
        open += 1;
    }
    drop(tx);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut take = |chunk: Chunk, open: &mut i32| match chunk {
        Chunk::Out(d) => stdout.extend_from_slice(&d),
        Chunk::Err(d) => stderr.extend_from_slice(&d),
        Chunk::Closed => *open -= 1,
    };
    // While the child runs, read everything; then drain until closed or quiet.
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| HostError::io("wait", &e))? {
            break status;
        }
        if !killed && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            if let Some(pid) = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            killed = true;
        }
        if open == 0 {
            match deadline {
                // Pipes closed early (the program closed them): still bound the wait.
                Some(_) if !killed => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                _ => break child.wait().map_err(|e| HostError::io("wait", &e))?,
            }
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => take(chunk, &mut open),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => open = 0,
        }
    };
    while open > 0 {
        match rx.recv_timeout(QUIET_AFTER_EXIT) {
            Ok(chunk) => take(chunk, &mut open),
            Err(_) => break,
        }
    }
    Ok((stdout, stderr, status))
}

/// What `file` says of `path` (its MIME type and charset), `None` when `file` is missing or
/// fails, as Ansible's stat module then reports nothing better than "unknown".
pub fn file_mime(path: &str) -> Option<drover_host::MimeInfo> {
    let out = exec(&ExecRequest::argv(drover_host::file_mime_argv(path))).ok()?;
    if out.rc != 0 {
        return None;
    }
    drover_host::parse_file_mime(&String::from_utf8_lossy(&out.stdout))
}

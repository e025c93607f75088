//! Running programs to completion.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

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
    let output = child
        .wait_with_output()
        .map_err(|e| HostError::io("wait", &e))?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let end = now();
    let rc = match (output.status.code(), output.status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => -sig,
        (None, None) => -1,
    };
    Ok(ExecOutput {
        rc,
        stdout: output.stdout,
        stderr: output.stderr,
        start,
        end,
    })
}

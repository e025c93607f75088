//! `script`: transfers a script from the controller (the role's or playbook's `files/`) to the
//! host and runs it there with its arguments.
//!
//! Two round trips when the script runs: one puts the script into a fresh private directory
//! (`~/.ansible/tmp`, else `$TMPDIR`), the other runs the command line and removes that
//! directory. `creates`/`removes` cost one `stat` more.

use crate::util::{basename, lines_value, sh_quote};
use crate::{shlex, ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};
use drover_host::{ExecRequest, HostError, Program, StatOptions};

pub struct Script;

static SPEC: ModuleSpec = ModuleSpec {
    name: "script",
    args: &[
        ArgDef::new("cmd", ArgKind::Str),
        ArgDef::new("creates", ArgKind::Str),
        ArgDef::new("removes", ArgKind::Str),
        ArgDef::new("chdir", ArgKind::Str),
        ArgDef::new("executable", ArgKind::Str),
        // Vault-encrypted scripts are decrypted on the controller unless this is false.
        ArgDef::new("decrypt", ArgKind::Bool),
    ],
    free_form: true,
    // Checked at run time, as Ansible does, so that a task without a command fails on the
    // host (and can be ignored) instead of failing the whole playbook's validation.
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Creates the private directory, stores the script (read from stdin) in it, prints the
/// directory. `%NAME%` is the script's quoted file name. A `HOME` the user does not own (sudo
/// keeping the login user's) is left alone: nothing of the become user's goes there.
const STAGE: &str = r#"umask 077
d=
if [ -n "$HOME" ] && [ -O "$HOME" ] && mkdir -p "$HOME/.ansible/tmp" 2>/dev/null; then
  d=$(mktemp -d "$HOME/.ansible/tmp/drover-script.XXXXXXXX" 2>/dev/null)
fi
if [ -z "$d" ]; then
  d=$(mktemp -d "${TMPDIR:-/tmp}/drover-script.XXXXXXXX") || exit 1
fi
cat > "$d/"%NAME% && chmod 0700 "$d/"%NAME% || { rm -rf -- "$d"; exit 1; }
printf '%s' "$d""#;

#[async_trait::async_trait]
impl Module for Script {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let raw = args.raw_params().filter(|s| !s.trim().is_empty());
        let cmd = args.str("cmd").filter(|s| !s.trim().is_empty());
        let line = match (raw, cmd) {
            (Some(_), Some(_)) => {
                return Ok(Outcome::failed(
                    "parameters are mutually exclusive: _raw_params|cmd",
                ))
            }
            (Some(l), None) | (None, Some(l)) => l.trim(),
            (None, None) => {
                return Ok(Outcome::failed(
                    "one of the following is required: _raw_params, cmd",
                ))
            }
        };

        for (key, skip_if_present) in [("creates", true), ("removes", false)] {
            let Some(path) = args.str(key).filter(|p| !p.is_empty()) else {
                continue;
            };
            let exists = ctx.host.stat(path, FOLLOW).await?.exists;
            if exists == skip_if_present {
                let msg = if skip_if_present {
                    format!("{path} exists, matching creates option")
                } else {
                    format!("{path} does not exist, matching removes option")
                };
                return Ok(skipped(msg));
            }
        }

        let chdir = args.string("chdir").filter(|d| !d.is_empty());
        if let Some(dir) = &chdir {
            if !dir.starts_with('/') {
                return Ok(Outcome::failed(format!(
                    "chdir {dir} must be an absolute path for a Unix-aware remote node"
                )));
            }
        }

        let words = match shlex::split(line) {
            Ok(w) => w,
            Err(e) => {
                return Ok(Outcome::failed(format!(
                    "cannot split the command line {line:?}: {e}"
                )))
            }
        };
        let Some(source) = words.first() else {
            return Ok(Outcome::failed(
                "one of the following is required: _raw_params, cmd",
            ));
        };
        let local = match ctx.controller.find_file("files", source) {
            Ok(p) => p,
            Err(ModuleError::Controller(msg)) => return Ok(Outcome::failed(msg)),
            Err(e) => return Err(e),
        };

        if ctx.check {
            if args.has("creates") || args.has("removes") {
                return Ok(Outcome::changed(true));
            }
            return Ok(skipped("Check mode is not supported for this task."));
        }

        let content =
            crate::util::read_controller_file(&local, args.bool("decrypt", true), "script")?;
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| basename(source).to_string());

        let mut stage = ExecRequest::shell(STAGE.replace("%NAME%", &sh_quote(&name)));
        let interpreter_line = shebang(&content);
        stage.stdin = Some(content);
        // The task's environment decides `HOME`/`TMPDIR` for the staging directory too.
        stage.env = ctx.env.clone();
        let staged = ctx.host.exec(&stage).await?;
        let dir = String::from_utf8_lossy(&staged.stdout).trim().to_string();
        if staged.rc != 0 || dir.is_empty() {
            return Ok(Outcome::failed(format!(
                "could not transfer the script to the host: {}",
                String::from_utf8_lossy(&staged.stderr).trim()
            )));
        }
        let remote = format!("{dir}/{name}");

        let interpreter = args
            .string("executable")
            .filter(|e| !e.is_empty())
            .or(interpreter_line);
        let command = command_line(line, source, &remote, interpreter.as_deref());
        // The directory goes whatever way the command ends, `exit` in it included.
        let script = format!("trap 'rm -rf -- {}' EXIT\n{command}\n", sh_quote(&dir));
        let req = ExecRequest {
            program: Program::Shell {
                script,
                executable: None,
            },
            env: ctx.env.clone(),
            cwd: chdir.clone(),
            stdin: None,
            timeout_ms: None,
        };
        let r = match ctx.host.exec(&req).await {
            Ok(r) => r,
            Err(e @ HostError::Io { .. }) => {
                // The command never started (a bad chdir): the directory is still there.
                let cleanup = ExecRequest::argv(["rm", "-rf", "--", dir.as_str()]);
                let _ = ctx.host.exec(&cleanup).await;
                return Ok(Outcome::failed(e.to_string()).with("rc", 2));
            }
            Err(e) => return Err(e.into()),
        };

        let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
        let mut out = Outcome::changed(true)
            .with("rc", r.rc)
            .with("stdout_lines", lines_value(&stdout))
            .with("stderr_lines", lines_value(&stderr))
            .with("stdout", stdout)
            .with("stderr", stderr);
        if r.rc != 0 {
            out.failed = true;
            out.msg = Some("non-zero return code".into());
        }
        Ok(out)
    }
}

const FOLLOW: StatOptions = StatOptions {
    follow: true,
    checksum: false,
};

fn skipped(msg: impl Into<String>) -> Outcome {
    Outcome {
        skipped: true,
        msg: Some(msg.into()),
        ..Outcome::default()
    }
}

/// The interpreter line of a script (`#!/usr/bin/env bash` → `/usr/bin/env bash`), quoted for
/// the shell. The script is run through it, as the kernel would, so that a staging directory
/// on a `noexec` filesystem (a common hardening of `/tmp`) still works.
fn shebang(content: &[u8]) -> Option<String> {
    let first = content.strip_prefix(b"#!")?;
    let end = first
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(first.len());
    let line = std::str::from_utf8(&first[..end]).ok()?.trim();
    // Linux passes everything after the interpreter as one argument.
    let (interp, arg) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim()).filter(|a| !a.is_empty())),
        None => (line, None),
    };
    if interp.is_empty() {
        return None;
    }
    Some(match arg {
        Some(a) => format!("{} {}", sh_quote(interp), sh_quote(a)),
        None => sh_quote(interp),
    })
}

/// The command line as written, with the script's name replaced by its path on the host (so
/// quoting and arguments stay as the user wrote them), behind `executable` when given.
fn command_line(line: &str, source: &str, remote: &str, executable: Option<&str>) -> String {
    let target = line.replacen(source, remote, 1);
    match executable.filter(|e| !e.is_empty()) {
        Some(exe) => format!("{exe} {target}"),
        None => target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(
            command_line("test.sh -a b", "test.sh", "/t/d/test.sh", None),
            "/t/d/test.sh -a b"
        );
        assert_eq!(
            command_line("'space path/t.sh' x", "space path/t.sh", "/t/d/t.sh", None),
            "'/t/d/t.sh' x"
        );
        assert_eq!(
            command_line("p.py", "p.py", "/t/d/p.py", Some("/usr/bin/python3")),
            "/usr/bin/python3 /t/d/p.py"
        );
        assert_eq!(
            command_line("p.py", "p.py", "/t/d/p.py", Some("")),
            "/t/d/p.py"
        );
    }

    #[test]
    fn shebang_lines() {
        assert_eq!(shebang(b"#!/bin/sh\necho"), Some("/bin/sh".into()));
        assert_eq!(
            shebang(b"#! /usr/bin/env bash\n"),
            Some("/usr/bin/env bash".into())
        );
        assert_eq!(
            shebang(b"#!/usr/bin/env -S a b\n"),
            Some("/usr/bin/env '-S a b'".into())
        );
        assert_eq!(shebang(b"echo hi\n"), None);
        assert_eq!(shebang(b"#!\n"), None);
    }

    #[test]
    fn stage_script_quotes_the_name() {
        let s = STAGE.replace("%NAME%", &sh_quote("my script.sh"));
        assert!(s.contains(r#"cat > "$d/"'my script.sh'"#), "{s}");
    }
}

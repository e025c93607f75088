//! `command`: runs a program on the host without a shell. Also the shared runner of `shell`.

use std::time::Duration;

use drover_host::{ExecOutput, ExecRequest, HostError, IoKind, Program, StatOptions};
use globset::GlobBuilder;
use minijinja::Value;

use crate::util::{join, lines_value, parent_of, sh_quote};
use crate::{shlex, ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Command;

static SPEC: ModuleSpec = ModuleSpec {
    name: "command",
    args: &[
        ArgDef::new("cmd", ArgKind::Str),
        ArgDef::new("argv", ArgKind::List),
        ArgDef::new("chdir", ArgKind::Path),
        ArgDef::new("creates", ArgKind::Path),
        ArgDef::new("removes", ArgKind::Path),
        ArgDef::new("stdin", ArgKind::Str),
        ArgDef::new("stdin_add_newline", ArgKind::Bool),
        ArgDef::new("strip_empty_ends", ArgKind::Bool),
        ArgDef::new("expand_argument_vars", ArgKind::Bool),
        // Accepted for old playbooks; `command` never uses a shell.
        ArgDef::new("executable", ArgKind::Path),
        ArgDef::new("warn", ArgKind::Bool),
    ],
    free_form: true,
    mutually_exclusive: &[&["cmd", "argv"]],
    required_one_of: &[],
    check_mode: true,
};

#[async_trait::async_trait]
impl Module for Command {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        run(args, ctx, Flavour::Command).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Command,
    Shell,
}

/// What `command`/`shell` run, as Ansible reports it in `cmd`.
enum Planned {
    Argv(Vec<String>),
    Script(String),
}

impl Planned {
    fn cmd_value(&self) -> Value {
        match self {
            Planned::Argv(a) => Value::from(a.clone()),
            Planned::Script(s) => Value::from(s.clone()),
        }
    }
}

/// Ansible's argument-spec message for a task without a command.
const NO_COMMAND: &str = "one of the following is required: _raw_params, cmd, argv";

pub(crate) async fn run(
    args: &Args,
    ctx: &Context<'_>,
    flavour: Flavour,
) -> Result<Outcome, ModuleError> {
    let text = args
        .raw_params()
        .or(args.str("cmd"))
        .filter(|s| !s.trim().is_empty());
    let argv = args.list("argv");
    if text.is_some() && !argv.is_empty() {
        return Ok(
            Outcome::failed("parameters are mutually exclusive: _raw_params|cmd|argv")
                .with("rc", 256),
        );
    }
    let mut warnings = Vec::new();
    if flavour == Flavour::Command {
        if let Some(exe) = args.str("executable") {
            warnings.push(format!(
                "As of Ansible 2.4, the parameter 'executable' is no longer supported with the \
                 'command' module. Not using '{exe}'."
            ));
        }
    }
    let planned = match (flavour, text) {
        (Flavour::Shell, Some(t)) => Planned::Script(t.to_string()),
        (Flavour::Command, Some(t)) => match shlex::split(t) {
            Ok(words) => Planned::Argv(words),
            Err(e) => {
                return Ok(
                    Outcome::failed(format!("cannot split the command line {t:?}: {e}"))
                        .with("rc", 256),
                )
            }
        },
        (_, None) if !argv.is_empty() => match flavour {
            Flavour::Command => Planned::Argv(argv),
            Flavour::Shell => Planned::Script(argv.join(" ")),
        },
        _ => return Ok(Outcome::failed(NO_COMMAND).with("rc", 256)),
    };
    if matches!(&planned, Planned::Argv(a) if a.is_empty()) {
        return Ok(Outcome::failed(NO_COMMAND).with("rc", 256));
    }
    let chdir = args.string("chdir");
    let mut out = Outcome::ok().with("cmd", planned.cmd_value());
    out.warnings = warnings;
    let should = if ctx.check { "Would" } else { "Did" };

    for (key, skip_if_present) in [("creates", true), ("removes", false)] {
        let Some(pattern) = args.str(key) else {
            continue;
        };
        let full = match &chdir {
            Some(dir) if !pattern.starts_with('/') => join(dir, pattern),
            _ => pattern.to_string(),
        };
        let present = glob_exists(ctx, &full).await?;
        if present == skip_if_present {
            let (stdout, msg) = if skip_if_present {
                (
                    format!("skipped, since {pattern} exists"),
                    format!("{should} not run command since '{pattern}' exists"),
                )
            } else {
                (
                    format!("skipped, since {pattern} does not exist"),
                    format!("{should} not run command since '{pattern}' does not exist"),
                )
            };
            out.set("rc", 0);
            out.set("stdout", stdout.clone());
            out.set("stdout_lines", lines_value(&stdout));
            out.set("stderr", "");
            out.set("stderr_lines", Value::from(Vec::<Value>::new()));
            return Ok(out.with_msg(msg));
        }
    }

    if ctx.check {
        out.set("rc", 0);
        out.msg = Some("Command would have run if not in check mode".into());
        if !args.has("creates") && !args.has("removes") {
            out.skipped = true;
        } else {
            out.changed = true;
        }
        return Ok(out);
    }

    let mut req = match &planned {
        Planned::Argv(argv) => {
            if args.bool("expand_argument_vars", true) && argv.iter().any(|a| needs_expansion(a)) {
                ExecRequest::shell(format!("exec {}", expansion_script(argv)))
            } else {
                ExecRequest::argv(argv.clone())
            }
        }
        Planned::Script(script) => ExecRequest {
            program: Program::Shell {
                script: script.clone(),
                executable: args.string("executable"),
            },
            ..ExecRequest::shell("")
        },
    };
    req.cwd = chdir.clone();
    req.env = ctx.env.clone();
    if let Some(stdin) = args.str("stdin") {
        let mut data = stdin.as_bytes().to_vec();
        if args.bool("stdin_add_newline", true) {
            data.push(b'\n');
        }
        req.stdin = Some(data);
    }

    let result = match ctx.host.exec(&req).await {
        Ok(r) => r,
        Err(e @ HostError::Io { .. }) => {
            return Ok(spawn_failure(out, &e, &planned, chdir.as_deref()))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(finish(out, &result, args.bool("strip_empty_ends", true)))
}

/// The result of a program that could not be started: Ansible reports rc 2 and the OS error.
fn spawn_failure(
    mut out: Outcome,
    e: &HostError,
    planned: &Planned,
    chdir: Option<&str>,
) -> Outcome {
    let HostError::Io {
        path,
        kind,
        message,
    } = e
    else {
        return Outcome::failed(e.to_string());
    };
    let msg = match (path.as_deref(), chdir) {
        (Some(p), Some(dir)) if p == dir => {
            format!("Unable to change directory before execution: {dir}: {message}")
        }
        _ if *kind == IoKind::NotFound => {
            let prog = match planned {
                Planned::Argv(a) => a.first().cloned().unwrap_or_default(),
                Planned::Script(_) => path.clone().unwrap_or_default(),
            };
            format!("[Errno 2] No such file or directory: b'{prog}'")
        }
        _ => e.to_string(),
    };
    out.failed = true;
    out.changed = false;
    out.set("rc", 2);
    out.set("stdout", "");
    out.set("stderr", "");
    out.set("stdout_lines", Value::from(Vec::<Value>::new()));
    out.set("stderr_lines", Value::from(Vec::<Value>::new()));
    out.with_msg(msg)
}

/// Fills the documented return values of a finished command.
pub(crate) fn finish(mut out: Outcome, r: &ExecOutput, strip: bool) -> Outcome {
    let mut stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    let mut stderr = String::from_utf8_lossy(&r.stderr).into_owned();
    if strip {
        let trim = |s: &mut String| {
            let n = s.trim_end_matches(['\r', '\n']).len();
            s.truncate(n);
        };
        trim(&mut stdout);
        trim(&mut stderr);
    }
    out.changed = true;
    out.set("rc", r.rc);
    out.set("start", timestamp(r.start));
    out.set("end", timestamp(r.end));
    out.set("delta", delta(r.end - r.start));
    out.set("stdout_lines", lines_value(&stdout));
    out.set("stderr_lines", lines_value(&stderr));
    out.set("stdout", stdout);
    out.set("stderr", stderr);
    if r.rc != 0 {
        out.failed = true;
        out.msg = Some("non-zero return code".into());
    } else {
        out.msg = Some(String::new());
    }
    out
}

/// A host time as Ansible prints `start`/`end`: local time with microseconds.
pub(crate) fn timestamp(unix: f64) -> String {
    let secs = unix.floor();
    let micros = ((unix - secs) * 1e6).round().clamp(0.0, 999_999.0) as u32;
    match chrono::DateTime::from_timestamp(secs as i64, micros * 1000) {
        Some(t) => t
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
        None => String::new(),
    }
}

/// A duration as Python's `str(timedelta)`: `0:00:00.003817`, `1 day, 2:03:04`.
pub(crate) fn delta(seconds: f64) -> String {
    let d = Duration::from_secs_f64(seconds.max(0.0));
    let total_micros = d.as_micros();
    let micros = total_micros % 1_000_000;
    let secs = total_micros / 1_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days} day{}, ", if days == 1 { "" } else { "s" }));
    }
    out.push_str(&format!("{h}:{m:02}:{s:02}"));
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out
}

/// Whether Python's `expandvars`/`expanduser` would change the word.
pub(crate) fn needs_expansion(word: &str) -> bool {
    if word.starts_with('~') {
        return true;
    }
    let b = word.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'$'
            && b.get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_' || *n == b'{')
    })
}

/// Shell words that expand `$VAR`, `${VAR}` and a leading `~` but nothing else (no globbing,
/// splitting or command substitution); an unset variable stays as written, as in Python.
fn expansion_script(argv: &[String]) -> String {
    argv.iter()
        .map(|w| expand_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn expand_word(word: &str) -> String {
    let mut out = String::from("\"");
    let mut rest = word;
    if let Some(r) = rest.strip_prefix('~') {
        if r.is_empty() || r.starts_with('/') {
            out.push_str("${HOME}");
            rest = r;
        }
    }
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'$' {
            let (name, len) = if b.get(i + 1) == Some(&b'{') {
                let end = rest[i + 2..].find('}');
                match end {
                    Some(e) if is_name(&rest[i + 2..i + 2 + e]) => (&rest[i + 2..i + 2 + e], e + 3),
                    _ => ("", 0),
                }
            } else {
                let n = rest[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                let name = &rest[i + 1..i + 1 + n];
                if is_name(name) {
                    (name, n + 1)
                } else {
                    ("", 0)
                }
            };
            if len > 0 {
                let written = rest[i..i + len].replace('$', "\\$");
                out.push_str(&format!("${{{name}-{written}}}"));
                i += len;
                continue;
            }
            out.push_str("\\$");
            i += 1;
            continue;
        }
        let ch_len = rest[i..].chars().next().map_or(1, char::len_utf8);
        let ch = &rest[i..i + ch_len];
        if matches!(ch, "\\" | "\"" | "`") {
            out.push('\\');
        }
        out.push_str(ch);
        i += ch_len;
    }
    out.push('"');
    out
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Whether anything matches `pattern` on the host, as Python's `glob.glob` would say (a
/// dangling symlink counts). One round trip.
pub(crate) async fn glob_exists(ctx: &Context<'_>, pattern: &str) -> Result<bool, ModuleError> {
    if !has_glob(pattern) {
        let st = ctx.host.stat(pattern, StatOptions::default()).await?;
        return Ok(st.exists);
    }
    let dir = parent_of(pattern);
    let name = crate::util::basename(pattern);
    if !has_glob(dir) && !pattern.ends_with('/') {
        let glob = GlobBuilder::new(name)
            .literal_separator(true)
            .build()
            .map_err(|e| ModuleError::Controller(format!("invalid pattern {pattern:?}: {e}")))?
            .compile_matcher();
        let entries = match ctx.host.list_dir(dir).await {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(HostError::Io {
                kind: IoKind::NotADirectory,
                ..
            }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let hidden_ok = name.starts_with('.');
        return Ok(entries
            .iter()
            .any(|e| (hidden_ok || !e.name.starts_with('.')) && glob.is_match(&e.name)));
    }
    // Globs in directory components: let the host's shell expand them.
    let quoted: String = pattern
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "/._-*?[]!^".contains(c) {
                c.to_string()
            } else {
                sh_quote(&c.to_string())
            }
        })
        .collect();
    let script = format!(
        "for f in {quoted}; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; exit 1"
    );
    let r = ctx.host.exec(&ExecRequest::shell(script)).await?;
    Ok(r.rc == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas() {
        let check = |secs: f64, expected: &str| assert_eq!(delta(secs), expected, "{secs}");
        check(0.003817, "0:00:00.003817");
        check(1.0, "0:00:01");
        check(61.5, "0:01:01.500000");
        check(3600.0 * 25.0, "1 day, 1:00:00");
        check(86400.0 * 2.0 + 1.0, "2 days, 0:00:01");
        check(-1.0, "0:00:00");
    }

    #[test]
    fn timestamps_have_microseconds() {
        let t = timestamp(1_700_000_000.25);
        assert_eq!(t.len(), "2023-11-14 22:13:20.250000".len(), "{t}");
        assert!(t.ends_with(".250000"), "{t}");
    }

    #[test]
    fn expansion() {
        assert!(needs_expansion("$HOME"));
        assert!(needs_expansion("a${B}c"));
        assert!(needs_expansion("~/x"));
        assert!(!needs_expansion("a$"));
        assert!(!needs_expansion("$1"));
        assert!(!needs_expansion("plain"));
        assert_eq!(expand_word("$HOME/x"), r#""${HOME-\$HOME}/x""#);
        assert_eq!(expand_word("${A}b"), r#""${A-\${A}}b""#);
        assert_eq!(expand_word("~/d"), r#""${HOME}/d""#);
        assert_eq!(
            expand_word("$(rm) `x` \"q\" \\"),
            r#""\$(rm) \`x\` \"q\" \\""#
        );
    }
}

//! The shell fallback: primitives as POSIX sh + coreutils commands over the SSH master, for
//! hosts where the helper cannot run (another architecture, a noexec cache directory).
//!
//! Slower (a decision may take two round trips) and coarser than the helper, but the same
//! idempotence contract: each operation compares before it changes.

use std::sync::Arc;

use drover_host::{
    Attrs, DirEntry, ExecOutput, ExecRequest, Facts, FileKind, FileOp, FileOpOutcome, FileStat,
    Host, HostError, HostResult, IoKind, Program, StatOptions, WriteOutcome, WriteRequest,
};
use serde_json::json;

use crate::ssh::SshTarget;
use crate::{shell_join, shell_quote, BecomeWords};

pub(crate) struct ShellHost {
    name: String,
    target: Arc<SshTarget>,
    become_: Option<BecomeWords>,
}

const STAT_SCRIPT: &str = r#"f=$1; c=$2; shift 2
for p in "$@"; do
  if [ "$f" = 1 ] && [ -e "$p" ] || [ "$f" = 0 ] && { [ -e "$p" ] || [ -L "$p" ]; }; then
    if [ "$f" = 1 ]; then s=$(stat -L -c '%f|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h' -- "$p"); else s=$(stat -c '%f|%u|%g|%U|%G|%s|%Y|%X|%Z|%i|%d|%h' -- "$p"); fi
    a=; [ -r "$p" ] && a=${a}r; [ -w "$p" ] && a=${a}w; [ -x "$p" ] && a=${a}x
    echo "S|$s|$a"
    if [ "$f" = 0 ] && [ -L "$p" ]; then echo "L|$(readlink -- "$p")"; fi
    if [ "$c" = 1 ] && [ -f "$p" ] && { [ "$f" = 1 ] || [ ! -L "$p" ]; }; then echo "C|$(sha1sum < "$p" | cut -d' ' -f1)"; fi
  else
    echo N
  fi
done
"#;

fn parse_stats(text: &str, count: usize) -> HostResult<Vec<FileStat>> {
    let mut out: Vec<FileStat> = Vec::with_capacity(count);
    for line in text.lines() {
        if line == "N" {
            out.push(FileStat::default());
        } else if let Some(rest) = line.strip_prefix("S|") {
            let f: Vec<&str> = rest.split('|').collect();
            if f.len() < 13 {
                return Err(HostError::Protocol(format!("bad stat line {line:?}")));
            }
            let raw = u32::from_str_radix(f[0], 16).unwrap_or(0);
            let num = |i: usize| f[i].parse::<u64>().unwrap_or(0);
            let kind = match raw & 0o170000 {
                0o040000 => FileKind::Directory,
                0o120000 => FileKind::Symlink,
                0o010000 => FileKind::Fifo,
                0o140000 => FileKind::Socket,
                0o020000 => FileKind::CharDevice,
                0o060000 => FileKind::BlockDevice,
                _ => FileKind::File,
            };
            let name = |s: &str| {
                if s == "UNKNOWN" {
                    String::new()
                } else {
                    s.to_string()
                }
            };
            out.push(FileStat {
                exists: true,
                kind: Some(kind),
                mode: raw & 0o7777,
                uid: num(1) as u32,
                gid: num(2) as u32,
                owner: name(f[3]),
                group: name(f[4]),
                size: num(5),
                mtime: num(6) as f64,
                atime: num(7) as f64,
                ctime: num(8) as f64,
                inode: num(9),
                dev: num(10),
                nlink: num(11),
                readable: f[12].contains('r'),
                writeable: f[12].contains('w'),
                executable: f[12].contains('x'),
                ..FileStat::default()
            });
        } else if let (Some(rest), Some(last)) = (line.strip_prefix("L|"), out.last_mut()) {
            last.link_target = Some(rest.to_string());
        } else if let (Some(rest), Some(last)) = (line.strip_prefix("C|"), out.last_mut()) {
            last.checksum = Some(rest.to_string());
        }
    }
    if out.len() != count {
        return Err(HostError::Protocol(format!(
            "stat through the shell returned {} results for {count} paths",
            out.len()
        )));
    }
    Ok(out)
}

fn io_error(path: &str, out: &ExecOutput) -> HostError {
    let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let kind = if msg.contains("No such file") {
        IoKind::NotFound
    } else if msg.contains("Permission denied") || msg.contains("Operation not permitted") {
        IoKind::PermissionDenied
    } else if msg.contains("Is a directory") {
        IoKind::IsADirectory
    } else if msg.contains("File exists") {
        IoKind::AlreadyExists
    } else {
        IoKind::Other
    };
    HostError::Io {
        path: Some(path.to_string()),
        kind,
        message: if msg.is_empty() {
            format!("command failed with rc={}", out.rc)
        } else {
            msg
        },
    }
}

fn invalid(path: &str, msg: String) -> HostError {
    HostError::Io {
        path: Some(path.to_string()),
        kind: IoKind::InvalidInput,
        message: msg,
    }
}

fn matches_id(spec: &str, name: &str, id: u32) -> bool {
    spec == name || spec.parse::<u32>().ok() == Some(id)
}

impl ShellHost {
    pub fn new(name: &str, target: Arc<SshTarget>, become_: Option<BecomeWords>) -> ShellHost {
        ShellHost {
            name: name.to_string(),
            target,
            become_,
        }
    }

    /// Runs `script` with positional `args` under `sh`, as the become user when there is one.
    async fn sh(
        &self,
        script: &str,
        args: &[String],
        stdin: Option<&[u8]>,
    ) -> HostResult<ExecOutput> {
        let mut argv = vec![
            "sh".to_string(),
            "-c".into(),
            script.to_string(),
            "sh".into(),
        ];
        argv.extend(args.iter().cloned());
        let argv = match &self.become_ {
            Some(b) => b.wrap(&argv),
            None => argv,
        };
        self.target.run(&shell_join(&argv), stdin).await
    }

    /// Runs a command that must succeed.
    async fn ok(&self, path: &str, script: &str, args: &[String]) -> HostResult<ExecOutput> {
        let out = self.sh(script, args, None).await?;
        if out.rc != 0 {
            return Err(io_error(path, &out));
        }
        Ok(out)
    }

    async fn stats(&self, paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
        let mut args = vec![
            if opts.follow { "1" } else { "0" }.to_string(),
            if opts.checksum { "1" } else { "0" }.to_string(),
        ];
        args.extend(paths.iter().cloned());
        let out = self.sh(STAT_SCRIPT, &args, None).await?;
        parse_stats(&String::from_utf8_lossy(&out.stdout), paths.len())
    }

    async fn stat1(&self, path: &str, follow: bool) -> HostResult<FileStat> {
        let mut v = self
            .stats(
                &[path.to_string()],
                StatOptions {
                    follow,
                    checksum: false,
                },
            )
            .await?;
        v.pop()
            .ok_or_else(|| HostError::Protocol("empty stat result".into()))
    }

    /// Applies attrs to an existing path given its stat; returns whether anything differed.
    async fn apply_attrs(
        &self,
        path: &str,
        st: &FileStat,
        attrs: &Attrs,
        recurse: bool,
        check: bool,
    ) -> HostResult<bool> {
        let is_link = st.kind == Some(FileKind::Symlink);
        let mut changed = false;
        let mut script = String::new();
        let r = if recurse { "-R " } else { "" };
        let h = if is_link { "-h " } else { "" };
        if let Some(o) = attrs.owner.as_deref() {
            let differs = !matches_id(o, &st.owner, st.uid);
            changed |= differs;
            if differs || recurse {
                script += &format!("chown {r}{h}-- {} \"$1\" && ", shell_quote(o));
            }
        }
        if let Some(g) = attrs.group.as_deref() {
            let differs = !matches_id(g, &st.group, st.gid);
            changed |= differs;
            if differs || recurse {
                script += &format!("chgrp {r}{h}-- {} \"$1\" && ", shell_quote(g));
            }
        }
        if let (Some(spec), false) = (&attrs.mode, is_link) {
            let new =
                drover_helper::resolve_mode(spec, st.mode, st.kind == Some(FileKind::Directory))
                    .map_err(|e| invalid(path, e.to_string()))?;
            if new != st.mode {
                changed = true;
            }
            if recurse {
                // chmod applies symbolic modes (with X) per entry exactly like the helper.
                let m = if spec.bytes().all(|b| b.is_ascii_digit()) {
                    format!("{new:o}")
                } else {
                    spec.clone()
                };
                script += &format!("chmod -R -- {} \"$1\" && ", shell_quote(&m));
            } else if new != st.mode {
                script += &format!("chmod -- {new:o} \"$1\" && ");
            }
        }
        if recurse {
            // Decide from a listing of everything below, with the same mode logic as the helper.
            let out = self
                .ok(
                    path,
                    "find \"$1\" -mindepth 1 -exec stat -c '%f|%u|%g|%U|%G' {} +",
                    &[path.to_string()],
                )
                .await?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split('|').collect();
                if f.len() < 5 {
                    continue;
                }
                let raw = u32::from_str_radix(f[0], 16).unwrap_or(0);
                let uid = f[1].parse().unwrap_or(u32::MAX);
                let gid = f[2].parse().unwrap_or(u32::MAX);
                let link = raw & 0o170000 == 0o120000;
                let dir = raw & 0o170000 == 0o040000;
                changed |= attrs
                    .owner
                    .as_deref()
                    .is_some_and(|o| !matches_id(o, f[3], uid));
                changed |= attrs
                    .group
                    .as_deref()
                    .is_some_and(|g| !matches_id(g, f[4], gid));
                if let (Some(spec), false) = (&attrs.mode, link) {
                    let mode = raw & 0o7777;
                    let new = drover_helper::resolve_mode(spec, mode, dir)
                        .map_err(|e| invalid(path, e.to_string()))?;
                    changed |= new != mode;
                }
            }
            if !changed {
                return Ok(false);
            }
        }
        if script.is_empty() || check {
            return Ok(changed);
        }
        self.ok(path, &format!("{script}true"), &[path.to_string()])
            .await?;
        Ok(changed)
    }
}

#[async_trait::async_trait]
impl Host for ShellHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stat(&self, path: &str, opts: StatOptions) -> HostResult<FileStat> {
        let mut v = self.stats(&[path.to_string()], opts).await?;
        v.pop()
            .ok_or_else(|| HostError::Protocol("empty stat result".into()))
    }

    async fn stat_many(&self, paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
        self.stats(paths, opts).await
    }

    async fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        Ok(self
            .ok(path, "cat -- \"$1\"", &[path.to_string()])
            .await?
            .stdout)
    }

    async fn write(&self, req: &WriteRequest) -> HostResult<WriteOutcome> {
        let p = req.path.as_str();
        let existing = self.stat1(p, true).await?;
        if existing.kind == Some(FileKind::Directory) {
            return Err(HostError::Io {
                path: Some(p.into()),
                kind: IoKind::IsADirectory,
                message: "is a directory".into(),
            });
        }
        let keep = existing.exists && req.preserve_existing;
        let base = if keep {
            existing.mode
        } else {
            req.default_mode.unwrap_or(0o644)
        };
        let mode = match &req.attrs.mode {
            Some(spec) => drover_helper::resolve_mode(spec, base, false)
                .map_err(|e| invalid(p, e.to_string()))?,
            None => base,
        };
        let owner = req
            .attrs
            .owner
            .clone()
            .or_else(|| keep.then(|| existing.uid.to_string()))
            .unwrap_or_default();
        let group = req
            .attrs
            .group
            .clone()
            .or_else(|| keep.then(|| existing.gid.to_string()))
            .unwrap_or_default();
        let validate = match &req.validate {
            Some(v) if !v.contains("%s") => {
                return Err(invalid(p, "validate must contain %s".into()))
            }
            Some(v) => v.replace("%s", "\"$t\""),
            None => String::new(),
        };
        let script = format!(
            r#"p=$1; d=$(dirname -- "$p"); t=$(mktemp "$d/.drover-tmp.XXXXXX") || exit 1
trap 'rm -f "$t"' EXIT
cat > "$t" || exit 1
if [ -n "$3" ]; then if [ "$5" = 1 ]; then chown -- "$3" "$t" 2>/dev/null; else chown -- "$3" "$t" || exit 1; fi; fi
if [ -n "$4" ]; then if [ "$5" = 1 ]; then chgrp -- "$4" "$t" 2>/dev/null; else chgrp -- "$4" "$t" || exit 1; fi; fi
chmod {mode:o} "$t" || exit 1
{validate_line}
if [ "$2" = 1 ] && [ -e "$p" ]; then b="$p.$$.$(date +%Y-%m-%d@%H:%M:%S)~"; cp -p -- "$p" "$b" || exit 1; echo "$b"; fi
sync "$t" 2>/dev/null
mv -f -- "$t" "$p" || exit 1
trap - EXIT
"#,
            validate_line = if validate.is_empty() {
                String::new()
            } else {
                format!("{validate} >&2 || {{ echo 'failed to validate' >&2; exit 1; }}")
            }
        );
        let args = vec![
            p.to_string(),
            if req.backup { "1" } else { "0" }.to_string(),
            owner,
            group,
            // Only kept (not asked for) ownership: best effort, as in the helper.
            if req.attrs.owner.is_none() && req.attrs.group.is_none() {
                "1"
            } else {
                "0"
            }
            .to_string(),
        ];
        let out = self.sh(&script, &args, Some(&req.content)).await?;
        if out.rc != 0 {
            return Err(io_error(p, &out));
        }
        let backup = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(WriteOutcome {
            backup_file: (!backup.is_empty()).then_some(backup),
        })
    }

    async fn exec(&self, req: &ExecRequest) -> HostResult<ExecOutput> {
        let mut cmd = String::new();
        if let Some(cwd) = &req.cwd {
            cmd += &format!("cd {} || exit 1; ", shell_quote(cwd));
        }
        for (k, v) in &req.env {
            cmd += &format!("export {}={}; ", shell_quote(k), shell_quote(v));
        }
        match &req.program {
            Program::Argv(argv) if argv.is_empty() => {
                return Err(invalid("", "empty command".into()))
            }
            Program::Argv(argv) => cmd += &format!("exec {}", shell_join(argv)),
            Program::Shell { script, executable } => {
                cmd += &format!(
                    "exec {} -c {}",
                    shell_quote(executable.as_deref().unwrap_or("/bin/sh")),
                    shell_quote(script)
                );
            }
        }
        let stdin = req.stdin.as_deref().unwrap_or(&[]);
        self.sh(&cmd, &[], Some(stdin)).await
    }

    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        self.target.run(command, None).await
    }

    async fn file_op(&self, op: &FileOp, check: bool) -> HostResult<FileOpOutcome> {
        let outcome = |changed, before, after| FileOpOutcome {
            changed,
            before,
            after,
        };
        match op {
            FileOp::Directory {
                path,
                attrs,
                recurse,
            } => {
                let before = self.stat1(path, true).await?;
                if before.exists && before.kind != Some(FileKind::Directory) {
                    return Err(HostError::Io {
                        path: Some(path.clone()),
                        kind: IoKind::AlreadyExists,
                        message: "exists and is not a directory".into(),
                    });
                }
                let mut changed = !before.exists;
                if !before.exists {
                    if check {
                        return Ok(outcome(true, before.clone(), before));
                    }
                    self.ok(path, "mkdir -p -- \"$1\"", std::slice::from_ref(path))
                        .await?;
                }
                let st = if before.exists {
                    before.clone()
                } else {
                    self.stat1(path, true).await?
                };
                changed |= self.apply_attrs(path, &st, attrs, *recurse, check).await?;
                Ok(outcome(changed, before, self.stat1(path, true).await?))
            }
            FileOp::Touch { path, attrs } => {
                let before = self.stat1(path, true).await?;
                if !check {
                    let script = if before.exists {
                        "touch -- \"$1\""
                    } else {
                        "touch -- \"$1\" && chmod 0644 \"$1\""
                    };
                    self.ok(path, script, std::slice::from_ref(path)).await?;
                    let st = self.stat1(path, true).await?;
                    self.apply_attrs(path, &st, attrs, false, false).await?;
                }
                Ok(outcome(true, before, self.stat1(path, true).await?))
            }
            FileOp::Symlink {
                path,
                src,
                force,
                attrs,
            } => {
                let before = self.stat1(path, false).await?;
                let is_link = before.kind == Some(FileKind::Symlink);
                if is_link && before.link_target.as_deref() == Some(src.as_str()) {
                    let changed = self.apply_attrs(path, &before, attrs, false, check).await?;
                    return Ok(outcome(
                        changed,
                        before.clone(),
                        self.stat1(path, false).await?,
                    ));
                }
                if !is_link {
                    let args = vec![path.clone(), src.clone()];
                    let src_ok =
                        self.sh(
                            "cd -- \"$(dirname -- \"$1\")\" && { [ -e \"$2\" ] || [ -L \"$2\" ]; }",
                            &args,
                            None,
                        )
                        .await?
                        .rc == 0;
                    if !*force && !src_ok {
                        return Err(invalid(path, format!("src file does not exist, use force=yes if you really want to create the link: {src}")));
                    }
                    if before.exists && !*force {
                        return Err(invalid(
                            path,
                            "refusing to convert from an existing file to a symlink (use force)"
                                .into(),
                        ));
                    }
                }
                if !check {
                    let script = "if [ -d \"$1\" ] && [ ! -L \"$1\" ]; then rmdir -- \"$1\" || exit 1; fi; ln -sfn -- \"$2\" \"$1\"";
                    self.ok(path, script, &[path.clone(), src.clone()]).await?;
                    let st = self.stat1(path, false).await?;
                    self.apply_attrs(path, &st, attrs, false, false).await?;
                }
                Ok(outcome(true, before, self.stat1(path, false).await?))
            }
            FileOp::Hardlink { path, src, force } => {
                let v = self
                    .stats(
                        &[path.clone(), src.clone()],
                        StatOptions {
                            follow: false,
                            checksum: false,
                        },
                    )
                    .await?;
                let (before, s) = (v[0].clone(), &v[1]);
                if !s.exists {
                    return Err(HostError::Io {
                        path: Some(src.clone()),
                        kind: IoKind::NotFound,
                        message: "No such file or directory".into(),
                    });
                }
                if before.exists && before.inode == s.inode && before.dev == s.dev {
                    return Ok(outcome(false, before.clone(), before));
                }
                if before.exists && !*force {
                    return Err(invalid(
                        path,
                        "refusing to replace an existing file by a hard link (use force)".into(),
                    ));
                }
                if before.kind == Some(FileKind::Directory) {
                    return Err(invalid(
                        path,
                        "cannot replace a directory by a hard link".into(),
                    ));
                }
                if !check {
                    self.ok(path, "ln -f -- \"$2\" \"$1\"", &[path.clone(), src.clone()])
                        .await?;
                }
                Ok(outcome(true, before, self.stat1(path, false).await?))
            }
            FileOp::Absent { path } => {
                let before = self.stat1(path, false).await?;
                if !before.exists {
                    return Ok(outcome(false, before.clone(), before));
                }
                if !check {
                    self.ok(path, "rm -rf -- \"$1\"", std::slice::from_ref(path))
                        .await?;
                }
                Ok(outcome(true, before, self.stat1(path, false).await?))
            }
            FileOp::Attrs {
                path,
                attrs,
                follow,
                recurse,
            } => {
                let before = self.stat1(path, *follow).await?;
                if !before.exists {
                    return Err(HostError::Io {
                        path: Some(path.clone()),
                        kind: IoKind::NotFound,
                        message: "does not exist".into(),
                    });
                }
                let recurse = *recurse && before.kind == Some(FileKind::Directory);
                let changed = self
                    .apply_attrs(path, &before, attrs, recurse, check)
                    .await?;
                Ok(outcome(changed, before, self.stat1(path, *follow).await?))
            }
            FileOp::Rename { from, to } => {
                let v = self
                    .stats(&[from.clone(), to.clone()], StatOptions::default())
                    .await?;
                if !v[0].exists {
                    if v[1].exists {
                        return Ok(outcome(false, v[1].clone(), v[1].clone()));
                    }
                    return Err(HostError::Io {
                        path: Some(from.clone()),
                        kind: IoKind::NotFound,
                        message: "does not exist".into(),
                    });
                }
                if !check {
                    self.ok(from, "mv -f -- \"$1\" \"$2\"", &[from.clone(), to.clone()])
                        .await?;
                }
                Ok(outcome(true, v[0].clone(), self.stat1(to, false).await?))
            }
        }
    }

    async fn list_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        let out = self
            .ok(
                path,
                "[ -d \"$1\" ] || { ls -d -- \"$1\" >/dev/null; exit 1; }; ls -A1 -- \"$1\"",
                &[path.to_string()],
            )
            .await?;
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        let base = path.trim_end_matches('/');
        let paths: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
        let stats = self.stats(&paths, StatOptions::default()).await?;
        Ok(names
            .into_iter()
            .zip(stats)
            .filter(|(_, s)| s.exists)
            .map(|(name, stat)| DirEntry { name, stat })
            .collect())
    }

    async fn facts(&self) -> HostResult<Facts> {
        let script = "uname -n; uname -s; uname -r; uname -m; id -un; id -u; echo \"$HOME\"; echo ---; cat /etc/os-release 2>/dev/null";
        let out = self.ok("facts", script, &[]).await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (head, os) = text.split_once("---\n").unwrap_or((&text, ""));
        let l: Vec<&str> = head.lines().collect();
        let get = |i: usize| l.get(i).copied().unwrap_or_default();
        let mut f = Facts::new();
        f.insert("nodename".into(), json!(get(0)));
        f.insert(
            "hostname".into(),
            json!(get(0).split('.').next().unwrap_or_default()),
        );
        f.insert("fqdn".into(), json!(get(0)));
        f.insert("system".into(), json!(get(1)));
        f.insert("kernel".into(), json!(get(2)));
        f.insert("machine".into(), json!(get(3)));
        f.insert("architecture".into(), json!(get(3)));
        f.insert("user_id".into(), json!(get(4)));
        f.insert("user_uid".into(), json!(get(5).parse::<u64>().unwrap_or(0)));
        f.insert("user_dir".into(), json!(get(6)));
        let os = drover_helper::facts::parse_os_release(os);
        for (k, v) in drover_helper::facts::distribution(&os, "") {
            f.insert(k.into(), v);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_output() {
        let text = "S|81a4|0|0|root|root|6|1700000000|1700000001|1700000002|42|2049|1|rw\nC|abc\nN\nS|a1ff|0|0|root|UNKNOWN|4|1|1|1|7|2049|1|rwx\nL|target\n";
        let v = parse_stats(text, 3).unwrap();
        assert_eq!(v[0].kind, Some(FileKind::File));
        assert_eq!(v[0].mode, 0o644);
        assert_eq!(v[0].checksum.as_deref(), Some("abc"));
        assert!(v[0].readable && v[0].writeable && !v[0].executable);
        assert!(!v[1].exists);
        assert_eq!(v[2].kind, Some(FileKind::Symlink));
        assert_eq!(v[2].group, "");
        assert_eq!(v[2].link_target.as_deref(), Some("target"));
        assert!(parse_stats(text, 2).is_err());
        assert!(parse_stats("S|1|2\n", 1).is_err());
    }
}

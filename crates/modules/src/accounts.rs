//! Shared by `user`, `group` and `getent`: the local account databases as the host's files hold
//! them, and running an administration program with a result the modules can report.
//!
//! `/etc/passwd` and `/etc/group` are read with `Host::read` (one round trip, no program to
//! start), which sees local accounts only; the `*add`/`*mod`/`*del` tools they call also manage
//! local accounts only, so both sides agree.

use drover_host::{ExecOutput, ExecRequest, HostError};

use crate::{Context, ModuleError};

/// One line of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub comment: String,
    pub home: String,
    pub shell: String,
}

/// One line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Parses `/etc/passwd`; malformed lines (and NIS `+`/`-` lines) are skipped, as NSS skips them.
pub(crate) fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[0].is_empty() || f[0].starts_with(['+', '-', '#']) {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                comment: f[4].to_string(),
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// Parses `/etc/group`.
pub(crate) fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0].is_empty() || f[0].starts_with(['+', '-', '#']) {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// The password hash and account expiry (days since the epoch) of `name` in `/etc/shadow`.
pub(crate) fn shadow_fields(text: &str, name: &str) -> Option<(String, Option<i64>)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 8 || f[0] != name {
            return None;
        }
        Some((f[1].to_string(), f[7].parse().ok()))
    })
}

/// Reads a file on the host as text; a missing file reads as empty, so a minimal host without
/// `/etc/shadow` still works.
pub(crate) async fn read_text(ctx: &Context<'_>, path: &str) -> Result<String, ModuleError> {
    match ctx.host.read(path).await {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.is_not_found() => Ok(String::new()),
        Err(e) => Err(e.into()),
    }
}

/// The local users and groups of the host, read in the same step.
pub(crate) async fn accounts(
    ctx: &Context<'_>,
) -> Result<(Vec<PasswdEntry>, Vec<GroupEntry>), ModuleError> {
    let passwd = read_text(ctx, "/etc/passwd").await?;
    let group = read_text(ctx, "/etc/group").await?;
    Ok((parse_passwd(&passwd), parse_group(&group)))
}

/// A program the module ran: its argv (for messages) and output.
pub(crate) struct Ran {
    pub argv: Vec<String>,
    pub out: ExecOutput,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.out.rc == 0
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// The failure message Ansible's account modules give: the tool's stderr, else its stdout.
    pub fn failure_text(&self) -> String {
        let err = self.stderr();
        let text = if err.trim().is_empty() {
            self.stdout()
        } else {
            err
        };
        let text = text.trim_end();
        if text.is_empty() {
            format!("{} failed with rc {}", self.argv.join(" "), self.out.rc)
        } else {
            text.to_string()
        }
    }
}

/// Runs `argv` on the host in the C locale (so outputs parse the same everywhere), plus the
/// task's environment and `extra`. A program that cannot be started is an error naming it.
pub(crate) async fn run(
    ctx: &Context<'_>,
    argv: Vec<String>,
    extra: &[(&str, &str)],
) -> Result<Ran, ModuleError> {
    let mut req = ExecRequest::argv(argv.clone());
    req.env = ctx.env.clone();
    for (k, v) in [("LANG", "C"), ("LC_ALL", "C"), ("LC_MESSAGES", "C")]
        .iter()
        .chain(extra)
    {
        req.env.insert(k.to_string(), v.to_string());
    }
    match ctx.host.exec(&req).await {
        Ok(out) => Ok(Ran { argv, out }),
        Err(HostError::Io { kind, message, .. }) => {
            let prog = argv.first().cloned().unwrap_or_default();
            let why = if kind == drover_host::IoKind::NotFound {
                "not found on the host".to_string()
            } else {
                message
            };
            Err(ModuleError::Controller(format!("cannot run {prog}: {why}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `argv` from string literals and owned strings.
pub(crate) fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group() {
        let p = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n+nis\nbad line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].name, "nobody");
        assert_eq!(p[1].uid, 65534);
        assert_eq!(p[1].home, "/nonexistent");
        let g = parse_group("sudo:x:27:drover,alice\nusers:x:100:\n");
        assert_eq!(g[0].members, vec!["drover", "alice"]);
        assert!(g[1].members.is_empty());
        assert_eq!(
            shadow_fields("a:$6$x:19000:0:99999:7::19500:\n", "a"),
            Some(("$6$x".to_string(), Some(19500)))
        );
        assert_eq!(
            shadow_fields("a:!:19000:0:99999:7:::\n", "a"),
            Some(("!".to_string(), None))
        );
    }
}

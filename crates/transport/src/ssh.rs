//! OpenSSH: one ControlMaster per host, the helper bootstrapped in one round trip.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drover_host::{ExecOutput, HostError, HostResult, IoKind};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::channel::{Channel, HostHandle, RawExec, RpcHost, Spawned};
use crate::local::become_prompt;
use crate::{shell_quote, BecomeSpec, BecomeWords, Shared};

/// How to reach a host over SSH, from its inventory variables.
#[derive(Debug, Clone, PartialEq)]
pub struct SshSpec {
    /// `ansible_host` (or the inventory name).
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key_file: Option<String>,
    /// `ansible_ssh_common_args`, split shell-style.
    pub common_args: Option<String>,
    /// `ansible_ssh_extra_args`, split shell-style.
    pub extra_args: Option<String>,
    /// Verify host keys (the default). Off adds `StrictHostKeyChecking=no` and
    /// `UserKnownHostsFile=/dev/null`; on leaves the decision to the user's ssh configuration.
    pub host_key_checking: bool,
    /// Overrides the run's connect timeout for this host.
    pub connect_timeout: Option<Duration>,
}

impl SshSpec {
    pub fn new(address: impl Into<String>) -> SshSpec {
        SshSpec {
            address: address.into(),
            port: None,
            user: None,
            private_key_file: None,
            common_args: None,
            extra_args: None,
            host_key_checking: true,
            connect_timeout: None,
        }
    }
}

pub(crate) struct SshTarget {
    shared: Arc<Shared>,
    name: String,
    spec: SshSpec,
    control_path: PathBuf,
    uploads: AtomicU32,
    upload_lock: tokio::sync::Mutex<()>,
}

/// What the bootstrap script reported.
#[derive(Debug, PartialEq, Eq)]
enum Boot {
    Exec,
    Missing,
    Arch(String),
}

impl SshTarget {
    pub fn new(shared: &Arc<Shared>, name: &str, spec: SshSpec, n: u64) -> SshTarget {
        SshTarget {
            shared: shared.clone(),
            name: name.to_string(),
            control_path: shared.control_dir.join(format!("{n:x}")),
            spec,
            uploads: AtomicU32::new(0),
            upload_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn uploads(&self) -> u32 {
        self.uploads.load(Ordering::Relaxed)
    }

    fn connect_timeout(&self) -> Duration {
        self.spec
            .connect_timeout
            .unwrap_or(self.shared.config.connect_timeout)
    }

    /// `ssh` arguments up to and including the destination.
    pub(crate) fn ssh_args(&self) -> HostResult<Vec<String>> {
        let mut a: Vec<String> = Vec::new();
        let opt = |a: &mut Vec<String>, o: String| {
            a.push("-o".into());
            a.push(o);
        };
        opt(
            &mut a,
            format!("ControlPath={}", self.control_path.display()),
        );
        opt(&mut a, "ControlMaster=auto".into());
        // The user's own arguments come before our defaults: for ssh the first value wins.
        for (what, args) in [
            ("ansible_ssh_common_args", &self.spec.common_args),
            ("ansible_ssh_extra_args", &self.spec.extra_args),
        ] {
            if let Some(s) = args {
                let words = shlex::split(s)
                    .ok_or_else(|| HostError::Unreachable(format!("cannot parse {what}: {s:?}")))?;
                a.extend(words);
            }
        }
        opt(
            &mut a,
            format!(
                "ControlPersist={}s",
                self.shared.config.control_persist.as_secs().max(1)
            ),
        );
        opt(&mut a, "BatchMode=yes".into());
        opt(
            &mut a,
            format!("ConnectTimeout={}", self.connect_timeout().as_secs().max(1)),
        );
        if !self.spec.host_key_checking {
            opt(&mut a, "StrictHostKeyChecking=no".into());
            opt(&mut a, "UserKnownHostsFile=/dev/null".into());
            // Silences "Permanently added ... to the list of known hosts" on every connect.
            opt(&mut a, "LogLevel=ERROR".into());
        }
        if let Some(p) = self.spec.port {
            a.push("-p".into());
            a.push(p.to_string());
        }
        if let Some(u) = &self.spec.user {
            a.push("-l".into());
            a.push(u.clone());
        }
        if let Some(k) = &self.spec.private_key_file {
            a.push("-i".into());
            a.push(k.clone());
        }
        a.push("--".into());
        a.push(self.spec.address.clone());
        Ok(a)
    }

    fn command(&self, remote: &str) -> HostResult<tokio::process::Command> {
        let mut cmd = tokio::process::Command::new(&self.shared.config.ssh_program);
        cmd.args(self.ssh_args()?)
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: Ctrl-C on the terminal reaches drover, which lets
            // running tasks finish, instead of cutting every connection at once.
            .process_group(0);
        Ok(cmd)
    }

    /// Runs one remote command through the master; exit 255 is `Unreachable`.
    pub(crate) async fn run(&self, remote: &str, stdin: Option<&[u8]>) -> HostResult<ExecOutput> {
        let start = crate::sim::now();
        let mut child = self
            .command(remote)?
            .spawn()
            .map_err(|e| HostError::Unreachable(format!("cannot run ssh: {e}")))?;
        let mut pipe = child.stdin.take();
        // Borrowed, not copied: the helper upload feeds megabytes to every host at once.
        let data = stdin;
        let feed = async move {
            if let (Some(p), Some(d)) = (pipe.as_mut(), data) {
                let _ = p.write_all(d).await;
            }
            drop(pipe);
        };
        let (_, out) = tokio::join!(feed, child.wait_with_output());
        let out = out.map_err(|e| HostError::Unreachable(format!("ssh: {e}")))?;
        let rc = out.status.code().unwrap_or(-1);
        if rc == 255 {
            let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(HostError::Unreachable(if msg.is_empty() {
                "ssh exited with status 255".into()
            } else {
                msg
            }));
        }
        Ok(ExecOutput {
            rc,
            stdout: out.stdout,
            stderr: out.stderr,
            start,
            end: crate::sim::now(),
        })
    }

    fn cache_dir_expr() -> &'static str {
        "${XDG_CACHE_HOME:-$HOME/.cache}/drover"
    }

    /// The first-contact script: reports the architecture, and execs the cached helper (or says
    /// it is missing). A become user other than root usually cannot read the login user's cache
    /// (a 0700 home), so the helper is then copied to a private 0755 temporary file that the
    /// script removes when the helper exits.
    fn bootstrap_script(
        &self,
        marker: &str,
        become_: Option<&BecomeWords>,
        become_user: Option<&str>,
    ) -> HostResult<String> {
        let helper = self
            .shared
            .config
            .helper
            .as_ref()
            .ok_or_else(|| HostError::Unsupported("no helper".into()))?;
        let args: Vec<String> = helper.args.iter().map(|a| shell_quote(a)).collect();
        let args = args.join(" ");
        let copy = become_user.is_some_and(|u| u != "root" && u != "0");
        let var = if copy { "$t" } else { "$h" };
        let run = match become_ {
            None => format!("\"{var}\" {args}"),
            Some(BecomeWords::Prefix(p)) => {
                let p: Vec<String> = p.iter().map(|w| shell_quote(w)).collect();
                format!("{} \"{var}\" {args}", p.join(" "))
            }
            Some(BecomeWords::CommandString(p)) => {
                let p: Vec<String> = p.iter().map(|w| shell_quote(w)).collect();
                format!("{} \"exec '{var}' {args}\"", p.join(" "))
            }
        };
        let exec = if copy {
            format!(
                // A copy the become user can run, in the first temporary directory that
                // allows executing it (/tmp is often mounted noexec; /var/tmp less often).
                "t=; for d in \"${{TMPDIR:-/tmp}}\" /var/tmp /dev/shm; do \
                 t=$(mktemp \"$d/drover-helper.XXXXXX\" 2>/dev/null) || {{ t=; continue; }}; \
                 if cp \"$h\" \"$t\" && chmod 0755 \"$t\" && \"$t\" {args} </dev/null >/dev/null 2>&1; then break; fi; \
                 rm -f \"$t\"; t=; done; [ -n \"$t\" ] || exit 126; \
                 echo \"{marker} exec\"; {run}; rc=$?; rm -f \"$t\"; exit $rc"
            )
        } else {
            format!("echo \"{marker} exec\"; exec {run}")
        };
        Ok(format!(
            "a=$(uname -m 2>/dev/null)\n\
             h=\"{dir}/helper-{sha}\"\n\
             if [ \"$a\" != {arch} ]; then echo \"{marker} arch $a\"; exit 0; fi\n\
             if [ -f \"$h\" ] && [ -x \"$h\" ]; then {exec}; fi\n\
             echo \"{marker} missing\"\n",
            dir = Self::cache_dir_expr(),
            sha = helper.sha256,
            arch = shell_quote(helper.arch()),
        ))
    }

    async fn upload(&self) -> HostResult<()> {
        let helper = self
            .shared
            .config
            .helper
            .as_ref()
            .ok_or_else(|| HostError::Unsupported("no helper".into()))?;
        // Read once per run and shared by every host's upload (50 hosts would otherwise hold
        // 50 copies of a ~10 MB executable at once).
        let content = self
            .shared
            .helper_bytes
            .get_or_try_init(|| async {
                tokio::fs::read(&helper.path)
                    .await
                    .map(Arc::new)
                    .map_err(|e| HostError::io(helper.path.to_string_lossy(), &e))
            })
            .await?
            .clone();
        let script = format!(
            "umask 077; d=\"{dir}\"; mkdir -p \"$d\" && t=\"$d/.upload-$$\" && cat > \"$t\" && chmod 0700 \"$t\" && mv -f \"$t\" \"$d/helper-{sha}\"",
            dir = Self::cache_dir_expr(),
            sha = helper.sha256
        );
        let out = self
            .run(
                &format!("sh -c {}", shell_quote(&script)),
                Some(content.as_slice()),
            )
            .await?;
        self.uploads.fetch_add(1, Ordering::Relaxed);
        if out.rc != 0 {
            return Err(HostError::Io {
                path: None,
                kind: IoKind::Other,
                message: format!(
                    "uploading the helper failed (rc={}): {}",
                    out.rc,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        Ok(())
    }

    fn shell_host(self: &Arc<Self>, become_: Option<&BecomeSpec>) -> HostResult<HostHandle> {
        let words = match become_ {
            Some(b) => Some(b.prefix(&become_prompt())?),
            None => None,
        };
        if become_.is_some_and(|b| b.password.is_some()) {
            return Err(HostError::Unsupported(
                "become with a password is not available on the shell fallback".into(),
            ));
        }
        Ok(HostHandle::plain(Arc::new(crate::shell::ShellHost::new(
            &self.name,
            self.clone(),
            words,
        ))))
    }

    /// Starts the helper for `become_` (or falls back to the shell).
    pub async fn start_host(
        self: &Arc<Self>,
        become_: Option<&BecomeSpec>,
    ) -> HostResult<HostHandle> {
        if self.shared.config.force_shell_fallback {
            return self.shell_host(become_);
        }
        if self.shared.config.helper.is_none() {
            self.shared.warn(
                &self.name,
                "no helper executable configured: using shell commands".into(),
            );
            return self.shell_host(become_);
        }
        let prompt = become_prompt();
        let words = match become_ {
            Some(b) => Some(b.prefix(&prompt)?),
            None => None,
        };
        let marker = format!("DROVER-BOOT-{}", crate::local::nonce());
        for _attempt in 0..2 {
            let script =
                self.bootstrap_script(&marker, words.as_ref(), become_.map(|b| b.user.as_str()))?;
            let child = self
                .command(&format!("sh -c {}", shell_quote(&script)))?
                .spawn()
                .map_err(|e| HostError::Unreachable(format!("cannot run ssh: {e}")))?;
            let mut spawned = Spawned::new(child)?;
            let limit = self.connect_timeout() * 2 + Duration::from_secs(20);
            let boot = tokio::time::timeout(limit, read_marker(&mut spawned, &marker)).await;
            let boot = match boot {
                Ok(Ok(Some(b))) => b,
                Ok(Ok(None)) => {
                    let (_, msg) = spawned.exit_message("ssh").await;
                    return Err(HostError::Unreachable(msg));
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(HostError::Unreachable(format!(
                        "timed out connecting: {}",
                        spawned.stderr.text()
                    )))
                }
            };
            match boot {
                Boot::Missing => {
                    drop(spawned);
                    let _guard = self.upload_lock.lock().await;
                    self.upload().await?;
                }
                Boot::Arch(arch) => {
                    self.shared.warn(
                        &self.name,
                        format!(
                            "host architecture {arch} differs from the helper's ({}): using shell commands",
                            std::env::consts::ARCH
                        ),
                    );
                    return self.shell_host(become_);
                }
                Boot::Exec => {
                    let password = become_.and_then(|b| b.password.as_deref());
                    let asks = match become_ {
                        Some(b) => b.password_prompt(&prompt),
                        None => crate::PasswordPrompt::Exact(prompt.clone()),
                    };
                    match spawned.await_hello(password, &asks, limit).await? {
                        Some(info) => {
                            return Ok(HostHandle::rpc(RpcHost {
                                name: self.name.clone(),
                                channel: Channel::start(spawned, info, "ssh"),
                                raw: match (&words, become_) {
                                    (Some(w), Some(b)) => Arc::new(BecomeRaw {
                                        target: self.clone(),
                                        words: w.clone(),
                                        password: b.password.clone(),
                                        prompt: b.password_prompt(&prompt),
                                    }),
                                    _ => self.clone(),
                                },
                            }))
                        }
                        None => {
                            let (code, msg) = spawned.exit_message("ssh").await;
                            // su's prompt precedes its verdict on the same line.
                            let msg = asks.strip(&msg).trim().to_string();
                            return match code {
                                Some(255) => Err(HostError::Unreachable(msg)),
                                _ if become_.is_some() && become_refused(&msg) => {
                                    Err(HostError::Io {
                                        path: None,
                                        kind: IoKind::PermissionDenied,
                                        message: format!("become failed: {msg}"),
                                    })
                                }
                                // The helper itself could not run: a noexec mount (126), a
                                // missing loader (127), a libc too old for a dynamic build...
                                _ => {
                                    self.shared.warn(
                                        &self.name,
                                        format!(
                                            "the helper cannot run ({msg}); using shell commands"
                                        ),
                                    );
                                    self.shell_host(become_)
                                }
                            };
                        }
                    }
                }
            }
        }
        Err(HostError::Unreachable(
            "the helper is still missing after uploading it".into(),
        ))
    }

    pub async fn exit_master(&self) {
        if !self.control_path.exists() {
            return;
        }
        let Ok(mut args) = self.ssh_args() else {
            return;
        };
        args.splice(0..0, ["-O".to_string(), "exit".to_string()]);
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::process::Command::new(&self.shared.config.ssh_program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status(),
        )
        .await;
    }
}

impl Drop for SshTarget {
    /// Ctrl-C safety: a dropped connection must not leave its master behind for ControlPersist.
    fn drop(&mut self) {
        if !self.control_path.exists() {
            return;
        }
        if let Ok(args) = self.ssh_args() {
            let _ = std::process::Command::new(&self.shared.config.ssh_program)
                .args(["-O", "exit"])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Whether a failed start was sudo/su refusing (wrong or missing password, unknown user, not
/// allowed) rather than the helper failing to run.
fn become_refused(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("sudo:") && !l.contains("unable to execute")) || l.starts_with("su:")
    })
}

/// Reads stdout lines up to our marker (login scripts may print before it).
async fn read_marker(spawned: &mut Spawned, marker: &str) -> HostResult<Option<Boot>> {
    let mut line = Vec::new();
    for _ in 0..1000 {
        line.clear();
        let n = spawned
            .stdout
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| HostError::Unreachable(format!("ssh: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(rest) = text.trim_end().strip_prefix(marker) {
            let rest = rest.trim();
            return Ok(Some(match rest.split_once(' ') {
                Some(("arch", a)) => Boot::Arch(a.to_string()),
                _ if rest == "exec" => Boot::Exec,
                _ => Boot::Missing,
            }));
        }
    }
    Err(HostError::Protocol(
        "no bootstrap marker in the first 1000 lines of output".into(),
    ))
}

/// `raw` as the become user: the command under `sudo`/`su` through the login shell. A password
/// goes first on stdin (sudo -S reads it; a command that does not need it sees an extra line).
pub(crate) struct BecomeRaw {
    target: Arc<SshTarget>,
    words: BecomeWords,
    password: Option<String>,
    /// The password request to take out of the command's stderr.
    prompt: crate::PasswordPrompt,
}

#[async_trait::async_trait]
impl RawExec for BecomeRaw {
    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        let argv = self
            .words
            .wrap(&["sh".to_string(), "-c".to_string(), command.to_string()]);
        let stdin = self
            .password
            .as_ref()
            .map(|p| format!("{p}\n").into_bytes());
        let mut out = self
            .target
            .run(&crate::shell_join(&argv), stdin.as_deref())
            .await?;
        if self.password.is_some() {
            out.stderr = self
                .prompt
                .strip(&String::from_utf8_lossy(&out.stderr))
                .into_bytes();
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl RawExec for SshTarget {
    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        self.run(command, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Transport, TransportConfig};

    /// (The transport creates its own private control directory.)
    fn target(spec: SshSpec) -> (Transport, Arc<SshTarget>) {
        let t = Transport::new(TransportConfig::new(None)).unwrap();
        let target = Arc::new(SshTarget::new(&t.shared, "web1", spec, 10));
        (t, target)
    }

    #[test]
    fn become_refusals_are_told_from_helper_failures() {
        assert!(become_refused("sudo: a password is required"));
        assert!(become_refused("sudo: unknown user no-such-user"));
        assert!(become_refused("su: Authentication failure"));
        assert!(!become_refused(
            "sudo: unable to execute /root/.cache/drover/helper-x: Permission denied"
        ));
        assert!(!become_refused("sh: 1: exec: /x/helper: Permission denied"));
        assert!(!become_refused(
            "/x/helper: /lib/libc.so.6: version `GLIBC_2.38' not found"
        ));
    }

    #[test]
    fn ssh_arguments() {
        let (t, tg) = target(SshSpec {
            port: Some(2222),
            user: Some("deploy".into()),
            private_key_file: Some("/k/id".into()),
            common_args: Some("-o ProxyJump='bastion host' -o ControlPersist=5s".into()),
            host_key_checking: false,
            ..SshSpec::new("10.1.2.3")
        });
        let a = tg.ssh_args().unwrap().join(" ");
        let dir = t.shared.control_dir.display().to_string();
        assert!(
            dir.starts_with("/tmp/drv-") && dir.len() < 20,
            "short socket dir {dir}"
        );
        let a = a.replace(&dir, "CTL");
        assert_eq!(
            a,
            "-o ControlPath=CTL/a -o ControlMaster=auto -o ProxyJump=bastion host \
             -o ControlPersist=5s -o ControlPersist=60s -o BatchMode=yes -o ConnectTimeout=10 \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
             -p 2222 -l deploy -i /k/id -- 10.1.2.3"
        );
        let (_t, tg) = target(SshSpec::new("h"));
        let a = tg.ssh_args().unwrap().join(" ");
        assert!(
            !a.contains("StrictHostKeyChecking"),
            "checking on: leave it to ssh config"
        );
        assert!(!a.contains(" -p ") && !a.contains(" -l "), "{a}");
        let (_t, tg) = target(SshSpec {
            extra_args: Some("'unterminated".into()),
            ..SshSpec::new("h")
        });
        assert!(matches!(tg.ssh_args(), Err(HostError::Unreachable(_))));
    }
}

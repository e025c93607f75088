//! Connections implementing [`drover_host::Host`].
//!
//! - `Local`: the helper's primitive code in-process, on tokio's blocking pool.
//! - `Ssh`: the system OpenSSH client with one ControlMaster per host for the whole run; the
//!   helper (uploaded once, cached by content hash) serves the framed RPC on the stdin/stdout of
//!   one `ssh` process per (host, become user). Where the helper cannot run, primitives fall back
//!   to POSIX shell commands, with a [`Warning`].
//! - `Sim`: an in-memory host with injected latency for the controller-scale benchmark.
//!
//! Connections are lazy: nothing is spawned until the first primitive. Dropping a connection (or
//! the whole [`Transport`]) kills its `ssh` children; [`Connection::close`] shuts down cleanly.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod channel;
mod local;
mod shell;
mod sim;
mod ssh;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use drover_host::{Host, HostError};

pub use sim::{SimHost, SimSpec};
pub use ssh::SshSpec;

/// The helper executable to upload to hosts, with its content hash (lower-case hex SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperBinary {
    pub path: PathBuf,
    pub sha256: String,
    /// Arguments that make the executable serve the RPC on stdio (`["__helper"]` for `drover`).
    pub args: Vec<String>,
}

impl HelperBinary {
    /// Hashes the file at `path`.
    pub fn from_path(path: impl Into<PathBuf>, args: Vec<String>) -> std::io::Result<HelperBinary> {
        use sha2::Digest;
        use std::io::Read;
        let path = path.into();
        let mut f = std::fs::File::open(&path)?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let sha256 = h
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        Ok(HelperBinary { path, sha256, args })
    }

    /// The architecture the helper was built for (`uname -m` spelling). The helper is the
    /// controller's own build, so this is the controller's architecture.
    pub fn arch(&self) -> &'static str {
        std::env::consts::ARCH
    }
}

/// Something the engine should tell the user about, reported through [`WarningSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub host: String,
    pub message: String,
}

/// Receives warnings (the library never prints).
pub type WarningSink = Arc<dyn Fn(Warning) + Send + Sync>;

/// Run-wide transport settings.
#[derive(Clone)]
pub struct TransportConfig {
    /// The helper to upload; without one, SSH hosts use the shell fallback.
    pub helper: Option<HelperBinary>,
    /// Where ControlMaster sockets live; `None` creates a private temporary directory with a
    /// short path (Unix socket paths are limited to 108 bytes).
    pub control_dir: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// How long an idle master outlives its last client (ControlPersist).
    pub control_persist: Duration,
    /// The `ssh` executable.
    pub ssh_program: String,
    /// Always use the shell fallback (tests, or hosts where the helper must not run).
    pub force_shell_fallback: bool,
    pub warnings: Option<WarningSink>,
}

impl TransportConfig {
    pub fn new(helper: Option<HelperBinary>) -> TransportConfig {
        TransportConfig {
            helper,
            control_dir: None,
            connect_timeout: Duration::from_secs(10),
            control_persist: Duration::from_secs(60),
            ssh_program: "ssh".into(),
            force_shell_fallback: false,
            warnings: None,
        }
    }
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("helper", &self.helper)
            .field("control_dir", &self.control_dir)
            .field("connect_timeout", &self.connect_timeout)
            .field("force_shell_fallback", &self.force_shell_fallback)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot create the control directory {path}: {source}")]
    ControlDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How to reach one host.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionSpec {
    Local,
    Ssh(SshSpec),
    Sim(SimSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BecomeMethod {
    Sudo,
    Su,
}

/// Privilege escalation for a host (`become`, `become_user`, `become_method`, ...).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BecomeSpec {
    pub method: BecomeMethod,
    pub user: String,
    /// Never logged or shown in `Debug`.
    pub password: Option<String>,
    /// Extra flags, split shell-style (`ansible_become_flags`).
    pub flags: Option<String>,
    /// The executable (`ansible_become_exe`), default `sudo` / `su`.
    pub exe: Option<String>,
}

impl std::fmt::Debug for BecomeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BecomeSpec")
            .field("method", &self.method)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("flags", &self.flags)
            .field("exe", &self.exe)
            .finish()
    }
}

impl BecomeSpec {
    pub fn sudo(user: impl Into<String>) -> BecomeSpec {
        BecomeSpec {
            method: BecomeMethod::Sudo,
            user: user.into(),
            password: None,
            flags: None,
            exe: None,
        }
    }

    /// The words before the helper command: `sudo -n -u USER --` (with `prompt` and `-S` when a
    /// password will be fed on stdin), or `su -s /bin/sh USER -c` (which reads a password from
    /// stdin when that is not a terminal, as util-linux's su does).
    pub(crate) fn prefix(&self, prompt: &str) -> Result<BecomeWords, HostError> {
        let flags = match &self.flags {
            Some(f) => shlex::split(f).ok_or_else(|| {
                HostError::Unsupported(format!("cannot parse become flags {f:?}"))
            })?,
            None => Vec::new(),
        };
        match self.method {
            BecomeMethod::Sudo => {
                let mut w = vec![self.exe.clone().unwrap_or_else(|| "sudo".into())];
                if self.password.is_some() {
                    w.extend(["-S".into(), "-p".into(), prompt.into()]);
                } else {
                    w.push("-n".into());
                }
                w.extend(flags);
                w.extend(["-u".into(), self.user.clone(), "--".into()]);
                Ok(BecomeWords::Prefix(w))
            }
            BecomeMethod::Su => {
                let mut w = vec![self.exe.clone().unwrap_or_else(|| "su".into())];
                w.extend(flags);
                w.extend([
                    "-s".into(),
                    "/bin/sh".into(),
                    self.user.clone(),
                    "-c".into(),
                ]);
                Ok(BecomeWords::CommandString(w))
            }
        }
    }

    /// How this method's password request shows on stderr: sudo prints our own `prompt`; su
    /// prints PAM's, which is localized.
    pub(crate) fn password_prompt(&self, prompt: &str) -> PasswordPrompt {
        match self.method {
            BecomeMethod::Sudo => PasswordPrompt::Exact(prompt.to_string()),
            BecomeMethod::Su => PasswordPrompt::Su,
        }
    }
}

/// A password request to recognise on a become command's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PasswordPrompt {
    Exact(String),
    /// PAM's `Password:` in the languages su is commonly run in (`Passwort:`, `Mot de passe :`,
    /// `密码：`, ...), optionally after `user's `.
    Su,
}

/// The word PAM's password prompt starts with, per language (lower-case).
const SU_PROMPT_WORDS: &[&str] = &[
    "password",
    "passwort",
    "mot de passe",
    "contraseña",
    "contrasenya",
    "senha",
    "parola",
    "wachtwoord",
    "lösenord",
    "passord",
    "adgangskode",
    "salasana",
    "hasło",
    "heslo",
    "jelszó",
    "пароль",
    "парола",
    "密码",
    "密碼",
    "口令",
    "パスワード",
    "암호",
];

impl PasswordPrompt {
    /// Where the password requests in `text` are: (start, end) byte ranges, end past the colon
    /// and the spaces after it.
    fn find(&self, text: &str) -> Vec<(usize, usize)> {
        match self {
            PasswordPrompt::Exact(p) => text
                .match_indices(p.as_str())
                .map(|(i, m)| (i, i + m.len()))
                .collect(),
            PasswordPrompt::Su => {
                let mut found = Vec::new();
                for w in SU_PROMPT_WORDS {
                    let mut from = 0;
                    while let Some(pos) = find_ci(&text[from..], w) {
                        let start = from + pos.0;
                        let after = from + pos.1;
                        let rest = &text[after..];
                        let spaces = rest.len() - rest.trim_start_matches(' ').len();
                        let rest = &rest[spaces..];
                        let colon = [":", "："].iter().find(|c| rest.starts_with(**c));
                        if let Some(c) = colon {
                            let end = after + spaces + c.len();
                            let tail = &text[end..];
                            found.push((
                                start,
                                end + tail.len() - tail.trim_start_matches(' ').len(),
                            ));
                        }
                        from = after;
                    }
                }
                found.sort_unstable();
                found
            }
        }
    }

    /// How many password requests `text` holds.
    pub(crate) fn count(&self, text: &str) -> usize {
        self.find(text).len()
    }

    /// `text` without its password requests (su's prompt lands in the stderr of what it runs).
    pub(crate) fn strip(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in self.find(text) {
            if start >= at {
                out.push_str(&text[at..start]);
                at = end;
            }
        }
        out.push_str(&text[at..]);
        out
    }
}

/// The byte range of the first case-insensitive occurrence of the lower-case `word` in `text`.
fn find_ci(text: &str, word: &str) -> Option<(usize, usize)> {
    text.char_indices().find_map(|(i, _)| {
        let mut chars = text[i..].char_indices();
        for w in word.chars() {
            let (_, c) = chars.next()?;
            if !c.to_lowercase().eq(std::iter::once(w)) {
                return None;
            }
        }
        let end = chars.next().map_or(text.len(), |(j, _)| i + j);
        Some((i, end))
    })
}

/// How a become method wraps a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BecomeWords {
    /// `prefix... cmd args...`
    Prefix(Vec<String>),
    /// `prefix... "cmd args..."` (one shell string)
    CommandString(Vec<String>),
}

impl BecomeWords {
    /// Wraps an argv.
    pub(crate) fn wrap(&self, argv: &[String]) -> Vec<String> {
        match self {
            BecomeWords::Prefix(p) => p.iter().chain(argv).cloned().collect(),
            BecomeWords::CommandString(p) => {
                let mut w = p.clone();
                w.push(format!("exec {}", shell_join(argv)));
                w
            }
        }
    }
}

/// Quotes words for a POSIX shell.
pub(crate) fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

pub(crate) fn shell_join(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) struct Shared {
    pub config: TransportConfig,
    pub control_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    next: std::sync::atomic::AtomicU64,
    /// The helper executable's content, read on the first upload of the run.
    pub helper_bytes: tokio::sync::OnceCell<Arc<Vec<u8>>>,
}

impl Shared {
    pub(crate) fn warn(&self, host: &str, message: String) {
        if let Some(sink) = &self.config.warnings {
            sink(Warning {
                host: host.to_string(),
                message,
            });
        }
    }
}

/// The connections of one run.
pub struct Transport {
    shared: Arc<Shared>,
}

impl Transport {
    pub fn new(config: TransportConfig) -> Result<Transport, TransportError> {
        let (control_dir, tmp) = match &config.control_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| TransportError::ControlDir {
                    path: d.clone(),
                    source,
                })?;
                (d.clone(), None)
            }
            None => {
                // /tmp rather than $TMPDIR: macOS-style long temp paths would overflow the
                // 108-byte socket path limit.
                let base = Path::new("/tmp");
                let t = tempfile::Builder::new()
                    .prefix("drv-")
                    .tempdir_in(base)
                    .map_err(|source| TransportError::ControlDir {
                        path: base.to_path_buf(),
                        source,
                    })?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        Ok(Transport {
            shared: Arc::new(Shared {
                config,
                control_dir,
                _tmp: tmp,
                next: std::sync::atomic::AtomicU64::new(0),
                helper_bytes: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// A lazy connection to one host; nothing happens until its first primitive.
    pub fn connection(&self, inventory_name: &str, spec: ConnectionSpec) -> Arc<Connection> {
        let n = self
            .shared
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let kind = match spec {
            ConnectionSpec::Local => Kind::Local,
            ConnectionSpec::Ssh(s) => Kind::Ssh(Arc::new(ssh::SshTarget::new(
                &self.shared,
                inventory_name,
                s,
                n,
            ))),
            ConnectionSpec::Sim(s) => Kind::Sim(Arc::new(SimHost::new(inventory_name, s))),
        };
        Arc::new(Connection {
            name: inventory_name.to_string(),
            shared: self.shared.clone(),
            kind,
            hosts: tokio::sync::Mutex::new(HashMap::new()),
        })
    }
}

enum Kind {
    Local,
    Ssh(Arc<ssh::SshTarget>),
    Sim(Arc<SimHost>),
}

/// This machine as a host, as the current user, with no connection around it (what a job
/// runner on a managed host works on).
pub fn local_host(name: &str) -> Arc<dyn Host> {
    Arc::new(local::LocalHost::new(name))
}

/// One host's connection; hands out a [`Host`] per become user, started lazily and reused.
pub struct Connection {
    name: String,
    shared: Arc<Shared>,
    kind: Kind,
    hosts: tokio::sync::Mutex<HashMap<Option<BecomeSpec>, channel::HostHandle>>,
}

impl Connection {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host as the connecting user, or as `become_`'s user.
    pub async fn host(&self, become_: Option<&BecomeSpec>) -> Result<Arc<dyn Host>, HostError> {
        let key = become_.cloned();
        let mut hosts = self.hosts.lock().await;
        if let Some(h) = hosts.get(&key) {
            return Ok(h.host.clone());
        }
        let handle = match &self.kind {
            Kind::Local => match become_ {
                None => channel::HostHandle::plain(Arc::new(local::LocalHost::new(&self.name))),
                Some(b) => local::become_host(&self.shared, &self.name, b).await?,
            },
            Kind::Ssh(target) => target.start_host(become_).await?,
            Kind::Sim(sim) => channel::HostHandle::plain(sim.clone()),
        };
        let host = handle.host.clone();
        hosts.insert(key, handle);
        Ok(host)
    }

    /// How many times the helper was uploaded through this connection (0 when it was cached).
    pub fn uploads(&self) -> u32 {
        match &self.kind {
            Kind::Ssh(t) => t.uploads(),
            _ => 0,
        }
    }

    /// Whether a host of this connection runs on the shell fallback.
    pub async fn uses_shell_fallback(&self, become_: Option<&BecomeSpec>) -> bool {
        let key = become_.cloned();
        self.hosts
            .lock()
            .await
            .get(&key)
            .is_some_and(|h| h.rpc.is_none() && matches!(self.kind, Kind::Ssh(_)))
    }

    /// Shuts down helpers and the SSH master. The connection can be used again afterwards
    /// (it reconnects lazily).
    pub async fn close(&self) {
        let hosts: Vec<channel::HostHandle> =
            self.hosts.lock().await.drain().map(|(_, h)| h).collect();
        for h in hosts {
            if let Some(rpc) = &h.rpc {
                rpc.channel.shutdown().await;
            }
        }
        if let Kind::Ssh(target) = &self.kind {
            target.exit_master().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn become_command_building() {
        let helper = vec!["/h/helper".to_string(), "__helper".to_string()];
        let check = |b: BecomeSpec, expected: &[&str]| {
            let w = b.prefix("PROMPT:").unwrap().wrap(&helper);
            assert_eq!(w, expected);
        };
        check(
            BecomeSpec::sudo("root"),
            &["sudo", "-n", "-u", "root", "--", "/h/helper", "__helper"],
        );
        check(
            BecomeSpec {
                password: Some("pw".into()),
                flags: Some("-H -E".into()),
                exe: Some("/usr/bin/sudo".into()),
                ..BecomeSpec::sudo("app")
            },
            &[
                "/usr/bin/sudo",
                "-S",
                "-p",
                "PROMPT:",
                "-H",
                "-E",
                "-u",
                "app",
                "--",
                "/h/helper",
                "__helper",
            ],
        );
        check(
            BecomeSpec {
                method: BecomeMethod::Su,
                ..BecomeSpec::sudo("postgres")
            },
            &[
                "su",
                "-s",
                "/bin/sh",
                "postgres",
                "-c",
                "exec /h/helper __helper",
            ],
        );
        let su_pw = BecomeSpec {
            method: BecomeMethod::Su,
            password: Some("x".into()),
            ..BecomeSpec::sudo("a")
        };
        assert!(matches!(
            su_pw.prefix("p"),
            Ok(BecomeWords::CommandString(_))
        ));
        assert_eq!(su_pw.password_prompt("p"), PasswordPrompt::Su);
        assert!(
            !format!("{su_pw:?}").contains("\"x\""),
            "password must not be in Debug"
        );
    }

    #[test]
    fn su_prompts_are_pams_in_several_languages() {
        let su = PasswordPrompt::Su;
        assert_eq!(su.count("Password: "), 1);
        assert_eq!(su.count("root's Password:"), 1);
        assert_eq!(su.count("Passwort: "), 1);
        assert_eq!(su.count("Mot de passe : "), 1);
        assert_eq!(su.count("密码："), 1);
        assert_eq!(su.count("Password: \nPassword: "), 2);
        assert_eq!(su.count("password reset required"), 0);
        assert_eq!(su.count("motd: welcome"), 0);
        assert_eq!(
            su.strip("Password: su: Authentication failure"),
            "su: Authentication failure"
        );
        assert_eq!(su.strip("Password: "), "");
        let sudo = PasswordPrompt::Exact("[p] password:".into());
        assert_eq!(sudo.count("[p] password:"), 1);
        assert_eq!(sudo.count("Password: "), 0);
        assert_eq!(sudo.strip("[p] password:Sorry"), "Sorry");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc/d.e"), "abc/d.e");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }
}

//! The primitives a module may use on a managed host.
//!
//! This crate is the seam between *what* a module does (crate `drover-modules`) and *how* the
//! machine is reached (crate `drover-transport`: local, OpenSSH + helper, shell fallback, and the
//! simulated transport of the benchmarks). Modules only ever see [`Host`]; transports implement it.
//!
//! Every primitive is one round trip on a remote transport, so primitives are chosen so that an
//! idempotent task needs exactly one: `stat` carries the checksum, `ensure_attrs` compares and
//! changes in the same call, `write` is atomic and sets mode and ownership itself.
//!
//! All request/response types are plain serde data so `drover-proto` can put them on the wire
//! unchanged.

pub mod mode;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What went wrong reaching or using a host.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq, Eq)]
pub enum HostError {
    /// The host could not be reached or the channel to it broke: the engine marks the host
    /// UNREACHABLE and drops it from the rest of the play.
    #[error("{0}")]
    Unreachable(String),
    /// An operating-system error on the host, for a path when there is one.
    #[error("{}{message}", path.as_deref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Io {
        path: Option<String>,
        kind: IoKind,
        message: String,
    },
    /// The primitive is not available on this transport (for example facts over the shell
    /// fallback); modules report it as a task failure.
    #[error("not supported by this connection: {0}")]
    Unsupported(String),
    /// The peer answered something that does not follow the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// A coarse classification of OS errors, so modules can react (e.g. `NotFound`) without parsing
/// messages.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum IoKind {
    NotFound,
    PermissionDenied,
    AlreadyExists,
    NotADirectory,
    IsADirectory,
    DirectoryNotEmpty,
    InvalidInput,
    Other,
}

impl IoKind {
    pub fn from_std(kind: std::io::ErrorKind) -> IoKind {
        use std::io::ErrorKind as K;
        match kind {
            K::NotFound => IoKind::NotFound,
            K::PermissionDenied => IoKind::PermissionDenied,
            K::AlreadyExists => IoKind::AlreadyExists,
            K::NotADirectory => IoKind::NotADirectory,
            K::IsADirectory => IoKind::IsADirectory,
            K::DirectoryNotEmpty => IoKind::DirectoryNotEmpty,
            K::InvalidInput | K::InvalidData => IoKind::InvalidInput,
            _ => IoKind::Other,
        }
    }
}

impl HostError {
    /// Wraps a local `std::io::Error` for `path`.
    pub fn io(path: impl Into<String>, err: &std::io::Error) -> HostError {
        HostError::Io {
            path: Some(path.into()),
            kind: IoKind::from_std(err.kind()),
            message: err.to_string(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            HostError::Io {
                kind: IoKind::NotFound,
                ..
            }
        )
    }
}

pub type HostResult<T> = Result<T, HostError>;

/// The type of a filesystem entry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// What `stat` reports. `exists == false` means every other field is default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileStat {
    pub exists: bool,
    pub kind: Option<FileKind>,
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Owner and group names, empty when the id has no name.
    pub owner: String,
    pub group: String,
    pub size: u64,
    pub mtime: f64,
    pub atime: f64,
    pub ctime: f64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
    /// For a symlink (when not followed): its target as stored.
    pub link_target: Option<String>,
    /// Lower-case hex SHA-1 of the content, for regular files when asked for.
    pub checksum: Option<String>,
    /// Access checks for the connecting user (`access(2)`).
    pub readable: bool,
    pub writeable: bool,
    pub executable: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatOptions {
    /// Follow a final symlink (`stat` rather than `lstat`).
    pub follow: bool,
    /// Compute the SHA-1 of regular files.
    pub checksum: bool,
}

/// Mode, owner and group to apply. `None` leaves that attribute as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attrs {
    /// Either octal digits (`"0644"`, `"644"`) or a symbolic mode (`"u=rw,g=r,o=r"`, `"u+x"`),
    /// resolved on the host against the current mode, as `chmod` does.
    pub mode: Option<String>,
    /// A user name or a numeric uid.
    pub owner: Option<String>,
    /// A group name or a numeric gid.
    pub group: Option<String>,
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

/// Before/after of the attributes `ensure_attrs` looked at, for diffs and results.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AttrsChange {
    pub changed: bool,
    pub before: FileStat,
    pub after: FileStat,
}

/// An atomic write: the content goes to a temporary file in the destination's directory, is
/// fsynced, gets its mode and ownership, and is renamed over the destination.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WriteRequest {
    pub path: String,
    pub content: Vec<u8>,
    pub attrs: Attrs,
    /// Keep a copy of the previous file as `path.<timestamp>~`, Ansible's `backup: yes`;
    /// the backup path is returned.
    pub backup: bool,
    /// When a new file is created and `attrs.mode` is `None`, use this mode (umask ignored).
    pub default_mode: Option<u32>,
    /// When the destination exists and `attrs` leave a field unset, keep the existing file's
    /// mode/owner/group (Ansible's behaviour) rather than the defaults for a new file.
    pub preserve_existing: bool,
    /// A command to validate the temporary file before it replaces the destination; `%s` is
    /// replaced by the temporary file's path. A non-zero exit aborts the write.
    pub validate: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WriteOutcome {
    pub backup_file: Option<String>,
}

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Program {
    /// Executed directly, no shell: `argv[0]` is looked up in `PATH`.
    Argv(Vec<String>),
    /// Passed to `executable -c` (default `/bin/sh`).
    Shell {
        script: String,
        executable: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecRequest {
    pub program: Program,
    /// Added to (and overriding) the helper's environment.
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    pub stdin: Option<Vec<u8>>,
    /// Milliseconds after which the program's process group is killed (what is left of a
    /// task's `timeout`).
    pub timeout_ms: Option<u64>,
}

impl ExecRequest {
    pub fn argv<I, S>(argv: I) -> ExecRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ExecRequest {
            program: Program::Argv(argv.into_iter().map(Into::into).collect()),
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            timeout_ms: None,
        }
    }

    pub fn shell(script: impl Into<String>) -> ExecRequest {
        ExecRequest {
            program: Program::Shell {
                script: script.into(),
                executable: None,
            },
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            timeout_ms: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecOutput {
    /// Exit status; `-signal` when killed by a signal.
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Wall-clock start and end on the host, as Unix seconds.
    pub start: f64,
    pub end: f64,
}

/// Filesystem changes other than writing content. Each is idempotent and reports whether it
/// changed anything; with `check == true` it only reports what it would do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum FileOp {
    /// `mkdir -p`, then apply attrs to the leaf (and, with `recurse`, to everything below it).
    Directory {
        path: String,
        attrs: Attrs,
        recurse: bool,
    },
    /// Create an empty file if missing, else update its times; apply attrs.
    Touch { path: String, attrs: Attrs },
    /// Create or repoint a symlink `path -> src`. `force` replaces an existing non-link.
    Symlink {
        path: String,
        src: String,
        force: bool,
        attrs: Attrs,
    },
    /// Create a hard link `path` to `src`.
    Hardlink {
        path: String,
        src: String,
        force: bool,
    },
    /// Remove a file, link or directory tree; absent is not an error.
    Absent { path: String },
    /// Apply attrs to an existing path (following links when `follow`).
    Attrs {
        path: String,
        attrs: Attrs,
        follow: bool,
        recurse: bool,
    },
    /// Atomic rename on the same filesystem.
    Rename { from: String, to: String },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileOpOutcome {
    pub changed: bool,
    pub before: FileStat,
    pub after: FileStat,
}

/// An HTTP request made from the host (the `uri` and `get_url` modules), as the target itself
/// reaches the network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Seconds for the whole exchange.
    pub timeout_secs: u64,
    pub validate_certs: bool,
    /// How many redirects to follow; 0 returns the redirect itself.
    pub max_redirects: u32,
    /// Stream the body into this new file (mode 0600) instead of answering it.
    pub body_to: Option<String>,
    /// A digest of the body to compute besides SHA-1 (`md5`, `sha224`, `sha256`, `sha384`,
    /// `sha512`): `get_url`'s `checksum`.
    pub digest: Option<String>,
}

/// What came back. A request that got no HTTP answer at all has `status == -1` and `error`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: i32,
    pub reason: String,
    /// The URL answered last (after redirects).
    pub url: String,
    pub redirected: bool,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// Empty when the body went to `body_to`.
    pub body: Vec<u8>,
    pub size: u64,
    /// Hex SHA-1 of the body (Ansible's checksum).
    pub sha1: String,
    /// Hex digest of the requested `digest` algorithm.
    pub digest: Option<String>,
    pub error: Option<String>,
}

/// A module run started detached on the host (`async`), as Ansible's async wrapper runs one:
/// it outlives the connection and the controller, and leaves its result in `dir/jid`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobStart {
    /// The job id, a plain file name.
    pub jid: String,
    /// Where job files live; a leading `~` is the home of the user the host runs as.
    pub dir: String,
    /// Seconds after which the job is killed and recorded as timed out.
    pub timeout: u64,
    /// What to run, as the job runner reads it (JSON). It may hold secrets: it travels on the
    /// runner's stdin, never on a command line.
    pub spec: String,
}

/// Facts about the host, gathered in one round trip. Keys are Ansible's fact names without the
/// `ansible_` prefix (`hostname`, `distribution`, `default_ipv4`, ...), values shaped as Ansible
/// shapes them.
pub type Facts = serde_json::Map<String, serde_json::Value>;

/// One directory entry as `list_dir` returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DirEntry {
    pub name: String,
    pub stat: FileStat,
}

/// The primitives of one managed host, as one user (a `become` user is a different `Host`
/// value obtained from the connection).
#[async_trait::async_trait]
pub trait Host: Send + Sync {
    /// The inventory name of the host, for messages.
    fn name(&self) -> &str;

    /// `stat`/`lstat`; a missing path is `Ok` with `exists == false`.
    async fn stat(&self, path: &str, opts: StatOptions) -> HostResult<FileStat>;

    /// Stat several paths in one round trip.
    async fn stat_many(&self, paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            out.push(self.stat(p, opts).await?);
        }
        Ok(out)
    }

    /// The whole content of a file.
    async fn read(&self, path: &str) -> HostResult<Vec<u8>>;

    /// An atomic write (see [`WriteRequest`]).
    async fn write(&self, req: &WriteRequest) -> HostResult<WriteOutcome>;

    /// Runs a program to completion.
    async fn exec(&self, req: &ExecRequest) -> HostResult<ExecOutput>;

    /// Runs a command through the login shell without the helper (Ansible's `raw`).
    async fn raw(&self, command: &str) -> HostResult<ExecOutput>;

    async fn file_op(&self, op: &FileOp, check: bool) -> HostResult<FileOpOutcome>;

    /// Entries of a directory (not recursive), with `lstat` data.
    async fn list_dir(&self, path: &str) -> HostResult<Vec<DirEntry>>;

    async fn facts(&self) -> HostResult<Facts>;

    /// Makes an HTTP request from the host. `Unsupported` where the host cannot (the shell
    /// fallback).
    async fn http(&self, req: &HttpRequest) -> HostResult<HttpResponse> {
        let _ = req;
        Err(HostError::Unsupported(
            "HTTP requests from the host need drover's helper".into(),
        ))
    }

    /// Starts a detached job (see [`JobStart`]); answers the path of its result file.
    /// `Unsupported` where the host has no job runner (the shell fallback, simulations).
    async fn job_start(&self, job: &JobStart) -> HostResult<String> {
        let _ = job;
        Err(HostError::Unsupported(
            "this connection cannot start jobs on the host".into(),
        ))
    }

    /// The content of job `jid`'s result file under `dir`, `None` when there is none. With
    /// `cleanup`, the file is removed (and its last content answered).
    async fn job_status(&self, dir: &str, jid: &str, cleanup: bool) -> HostResult<Option<Vec<u8>>> {
        let _ = (dir, jid, cleanup);
        Err(HostError::Unsupported(
            "this connection cannot read jobs on the host".into(),
        ))
    }

    /// `stat`, plus what the host's `file` utility says of the path (Ansible's stat module runs
    /// `file --mime-type --mime-encoding` without following links). `None` when the path is
    /// missing or `file` is absent or fails. Transports with a helper answer in one round trip;
    /// this default costs two.
    async fn stat_mime(
        &self,
        path: &str,
        opts: StatOptions,
    ) -> HostResult<(FileStat, Option<MimeInfo>)> {
        let st = self.stat(path, opts).await?;
        if !st.exists {
            return Ok((st, None));
        }
        let mime = match self.exec(&ExecRequest::argv(file_mime_argv(path))).await {
            Ok(out) if out.rc == 0 => parse_file_mime(&String::from_utf8_lossy(&out.stdout)),
            Ok(_) => None,
            Err(HostError::Unreachable(m)) => return Err(HostError::Unreachable(m)),
            Err(_) => None,
        };
        Ok((st, mime))
    }
}

/// A path's MIME type and character set as the `file` utility names them
/// (`text/plain`, `us-ascii`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MimeInfo {
    pub mimetype: String,
    pub charset: String,
}

/// The `file` command line whose output [`parse_file_mime`] reads.
pub fn file_mime_argv(path: &str) -> [String; 4] {
    [
        "file".into(),
        "--mime-type".into(),
        "--mime-encoding".into(),
        path.into(),
    ]
}

/// Reads `PATH: TYPE; charset=CHARSET` (the path may itself contain colons, so the part after
/// the last one is taken).
pub fn parse_file_mime(out: &str) -> Option<MimeInfo> {
    let (_, info) = out.trim_end().rsplit_once(':')?;
    let (mimetype, charset) = info.split_once(';')?;
    let (_, charset) = charset.split_once('=')?;
    Some(MimeInfo {
        mimetype: mimetype.trim().to_string(),
        charset: charset.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_file_mime_output() {
        assert_eq!(
            parse_file_mime("/tmp/foo:bar.txt: text/plain; charset=us-ascii\n"),
            Some(MimeInfo {
                mimetype: "text/plain".into(),
                charset: "us-ascii".into()
            })
        );
        assert_eq!(
            parse_file_mime("/d: inode/directory; charset=binary").map(|m| m.mimetype),
            Some("inode/directory".into())
        );
        assert_eq!(parse_file_mime("cannot open"), None);
    }
}

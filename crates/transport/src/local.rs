//! The local connection: the helper's primitives in-process on tokio's blocking pool; with
//! `become`, the helper executable started through sudo/su locally.

use std::process::Stdio;
use std::sync::Arc;

use drover_host::{
    DirEntry, ExecOutput, ExecRequest, Facts, FileOp, FileOpOutcome, FileStat, Host, HostError,
    HostResult, HttpRequest, HttpResponse, JobStart, MimeInfo, StatOptions, WriteOutcome,
    WriteRequest,
};
use drover_proto::{Request, Response};

use crate::channel::{Channel, HostHandle, RawExec, RpcHost, Spawned};
use crate::{BecomeSpec, Shared};

pub(crate) struct LocalHost {
    name: String,
}

impl LocalHost {
    pub fn new(name: &str) -> LocalHost {
        LocalHost {
            name: name.to_string(),
        }
    }
}

async fn run(req: Request) -> HostResult<Response> {
    match tokio::task::spawn_blocking(move || drover_helper::execute(&req)).await {
        Ok(Response::Error(e)) => Err(e),
        Ok(r) => Ok(r),
        Err(e) => Err(HostError::Protocol(format!(
            "local primitive panicked: {e}"
        ))),
    }
}

fn unexpected(r: &Response) -> HostError {
    HostError::Protocol(format!("unexpected {} response", r.kind()))
}

pub(crate) struct LocalRaw;

#[async_trait::async_trait]
impl RawExec for LocalRaw {
    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        match run(Request::Exec(ExecRequest::shell(command))).await? {
            Response::Exec(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }
}

#[async_trait::async_trait]
impl Host for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stat(&self, path: &str, opts: StatOptions) -> HostResult<FileStat> {
        match run(Request::Stat {
            path: path.into(),
            opts,
        })
        .await?
        {
            Response::Stat(s) => Ok(s),
            r => Err(unexpected(&r)),
        }
    }

    async fn stat_many(&self, paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
        match run(Request::StatMany {
            paths: paths.to_vec(),
            opts,
        })
        .await?
        {
            Response::StatMany(s) => Ok(s),
            r => Err(unexpected(&r)),
        }
    }

    async fn stat_mime(
        &self,
        path: &str,
        opts: StatOptions,
    ) -> HostResult<(FileStat, Option<MimeInfo>)> {
        match run(Request::StatMime {
            path: path.into(),
            opts,
        })
        .await?
        {
            Response::StatMime(s, m) => Ok((s, m)),
            r => Err(unexpected(&r)),
        }
    }

    async fn http(&self, req: &HttpRequest) -> HostResult<HttpResponse> {
        match run(Request::Http(req.clone())).await? {
            Response::Http(r) => Ok(r),
            r => Err(unexpected(&r)),
        }
    }

    async fn job_start(&self, job: &JobStart) -> HostResult<String> {
        match run(Request::JobStart(job.clone())).await? {
            Response::JobStart(path) => Ok(path),
            r => Err(unexpected(&r)),
        }
    }

    async fn job_status(&self, dir: &str, jid: &str, cleanup: bool) -> HostResult<Option<Vec<u8>>> {
        let req = Request::JobStatus {
            dir: dir.into(),
            jid: jid.into(),
            cleanup,
        };
        match run(req).await? {
            Response::JobStatus(c) => Ok(c),
            r => Err(unexpected(&r)),
        }
    }

    async fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        match run(Request::Read { path: path.into() }).await? {
            Response::Read(d) => Ok(d),
            r => Err(unexpected(&r)),
        }
    }

    async fn write(&self, req: &WriteRequest) -> HostResult<WriteOutcome> {
        match run(Request::Write(req.clone())).await? {
            Response::Write(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn exec(&self, req: &ExecRequest) -> HostResult<ExecOutput> {
        match run(Request::Exec(req.clone())).await? {
            Response::Exec(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        LocalRaw.raw(command).await
    }

    async fn file_op(&self, op: &FileOp, check: bool) -> HostResult<FileOpOutcome> {
        match run(Request::FileOp {
            op: op.clone(),
            check,
        })
        .await?
        {
            Response::FileOp(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn list_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        match run(Request::ListDir { path: path.into() }).await? {
            Response::ListDir(v) => Ok(v),
            r => Err(unexpected(&r)),
        }
    }

    async fn facts(&self) -> HostResult<Facts> {
        match run(Request::Facts).await? {
            Response::Facts(json) => Response::parse_facts(&json),
            r => Err(unexpected(&r)),
        }
    }
}

/// A token unlikely to appear in anyone's output, for markers and prompts.
pub(crate) fn nonce() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}-{nanos:x}-{n}", std::process::id())
}

/// A unique sudo prompt, so a password request can be told from anything else on stderr.
pub(crate) fn become_prompt() -> String {
    format!("[drover-become-{}] password:", nonce())
}

/// A copy of the helper any user can run, in the temporary directory; deleted when dropped.
fn stage_helper(path: &std::path::Path) -> HostResult<tempfile::TempPath> {
    let tmp = tempfile::Builder::new()
        .prefix("drover-helper.")
        .tempfile()
        .map_err(|e| HostError::io("temporary helper copy", &e))?
        // Closed before it runs: an executable open for writing cannot be executed.
        .into_temp_path();
    std::fs::copy(path, &tmp).map_err(|e| HostError::io(path.to_string_lossy(), &e))?;
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| HostError::io(tmp.to_string_lossy(), &e))?;
    Ok(tmp)
}

/// Starts the helper executable locally as another user.
pub(crate) async fn become_host(
    shared: &Shared,
    name: &str,
    become_: &BecomeSpec,
) -> HostResult<HostHandle> {
    let helper = shared.config.helper.as_ref().ok_or_else(|| {
        HostError::Unsupported("become on a local connection needs the helper executable".into())
    })?;
    let prompt = become_prompt();
    // A become user other than root may not reach the controller's own copy of the helper (in
    // a home or build directory it cannot enter): it runs a world-readable copy instead, which
    // goes away once the helper has started (or failed to).
    let staged = if matches!(become_.user.as_str(), "root" | "0") {
        None
    } else {
        Some(stage_helper(&helper.path)?)
    };
    let exe = staged
        .as_ref()
        .map_or_else(|| helper.path.clone(), |t| t.to_path_buf());
    let mut helper_argv = vec![exe.to_string_lossy().into_owned()];
    helper_argv.extend(helper.args.iter().cloned());
    let argv = become_.prefix(&prompt)?.wrap(&helper_argv);
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| HostError::io(argv[0].clone(), &e))?;
    let mut spawned = Spawned::new(child)?;
    let timeout = shared.config.connect_timeout + std::time::Duration::from_secs(20);
    match spawned
        .await_hello(
            become_.password.as_deref(),
            &become_.password_prompt(&prompt),
            timeout,
        )
        .await?
    {
        Some(info) => Ok(HostHandle::rpc(RpcHost {
            name: name.to_string(),
            channel: Channel::start(spawned, info, "become helper"),
            raw: Arc::new(LocalRaw),
        })),
        None => {
            let (_, msg) = spawned.exit_message(&argv[0]).await;
            let msg = become_
                .password_prompt(&prompt)
                .strip(&msg)
                .trim()
                .to_string();
            Err(HostError::Io {
                path: None,
                kind: drover_host::IoKind::PermissionDenied,
                message: format!("become failed: {msg}"),
            })
        }
    }
}

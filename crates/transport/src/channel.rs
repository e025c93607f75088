//! The controller side of the helper RPC over a child process's stdin/stdout, with pipelining:
//! requests are written as they come, answers matched by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drover_host::{
    DirEntry, ExecOutput, ExecRequest, Facts, FileOp, FileOpOutcome, FileStat, Host, HostError,
    HostResult, HttpRequest, HttpResponse, JobStart, MimeInfo, StatOptions, WriteOutcome,
    WriteRequest,
};
use drover_proto::{
    encode, read_frame_async, Envelope, HelperInfo, Request, Response, HELLO_ID, PROTOCOL_VERSION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

const STDERR_CAP: usize = 64 * 1024;

/// Collects a child's stderr (bounded) and signals each new chunk.
pub(crate) struct StderrBuf {
    pub buf: Arc<Mutex<Vec<u8>>>,
    pub notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl StderrBuf {
    pub fn spawn(mut stderr: ChildStderr) -> StderrBuf {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let (b, n) = (buf.clone(), notify.clone());
        let task = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(k) = stderr.read(&mut chunk).await {
                if k == 0 {
                    break;
                }
                if let Ok(mut b) = b.lock() {
                    let room = STDERR_CAP.saturating_sub(b.len());
                    b.extend_from_slice(&chunk[..k.min(room)]);
                }
                n.notify_one();
            }
            n.notify_one();
        });
        StderrBuf { buf, notify, task }
    }

    pub fn text(&self) -> String {
        self.buf
            .lock()
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default()
    }
}

impl Drop for StderrBuf {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A freshly spawned child whose stdout may still carry a text preamble.
pub(crate) struct Spawned {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: BufReader<ChildStdout>,
    pub stderr: StderrBuf,
}

impl Spawned {
    pub fn new(mut child: Child) -> HostResult<Spawned> {
        let broken = || HostError::Unreachable("child process has no pipes".into());
        let stdin = child.stdin.take().ok_or_else(broken)?;
        let stdout = child.stdout.take().ok_or_else(broken)?;
        let stderr = child.stderr.take().ok_or_else(broken)?;
        Ok(Spawned {
            child,
            stdin,
            stdout: BufReader::with_capacity(64 * 1024, stdout),
            stderr: StderrBuf::spawn(stderr),
        })
    }

    /// Waits briefly for the child to exit and describes how it ended.
    pub async fn exit_message(&mut self, what: &str) -> (Option<i32>, String) {
        let status = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        // Give the stderr reader a moment to drain after exit.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let err = self.stderr.text();
        let code = status.ok().and_then(Result::ok).and_then(|s| s.code());
        let msg = match (code, err.is_empty()) {
            (Some(255), true) => "ssh exited with status 255".to_string(),
            (_, false) => err,
            (Some(c), true) => format!("{what} exited with status {c}"),
            (None, true) => format!("{what} was killed"),
        };
        (code, msg)
    }

    /// Waits for the helper's greeting. Feeds `password` once if `prompt` shows up on stderr
    /// (sudo -S, or su reading from a pipe); a second prompt means the password was wrong. `Ok(None)`: the stream ended
    /// before any greeting (the helper did not start).
    pub async fn await_hello(
        &mut self,
        password: Option<&str>,
        prompt: &crate::PasswordPrompt,
        timeout: Duration,
    ) -> HostResult<Option<HelperInfo>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut sent = false;
        let read = read_frame_async::<Envelope<Response>, _>(&mut self.stdout);
        tokio::pin!(read);
        loop {
            tokio::select! {
                r = &mut read => {
                    return match r {
                        Ok(Some(Envelope { id: HELLO_ID, body: Response::Hello(info) })) => {
                            if info.version != PROTOCOL_VERSION {
                                return Err(HostError::Protocol(format!(
                                    "helper speaks protocol {}, controller {PROTOCOL_VERSION}",
                                    info.version
                                )));
                            }
                            Ok(Some(info))
                        }
                        Ok(Some(other)) => Err(HostError::Protocol(format!(
                            "expected the helper's greeting, got {}", other.body.kind()
                        ))),
                        Ok(None) => Ok(None),
                        Err(drover_proto::ProtoError::Truncated { .. }) => Ok(None),
                        Err(e) => Err(HostError::Protocol(format!("helper greeting: {e}"))),
                    };
                }
                _ = self.stderr.notify.notified(), if password.is_some() => {
                    let prompts = prompt.count(&self.stderr.text());
                    if prompts >= 2 || (prompts == 1 && sent && self.stderr.text().contains("Sorry")) {
                        return Err(HostError::Io {
                            path: None,
                            kind: drover_host::IoKind::PermissionDenied,
                            message: "incorrect become password".into(),
                        });
                    }
                    if prompts == 1 && !sent {
                        if let Some(pw) = password {
                            let line = format!("{pw}\n");
                            self.stdin.write_all(line.as_bytes()).await.map_err(|e| {
                                HostError::Unreachable(format!("writing the become password: {e}"))
                            })?;
                            self.stdin.flush().await.ok();
                            sent = true;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(HostError::Unreachable(format!(
                        "timed out waiting for the helper to start{}",
                        {
                            let e = self.stderr.text();
                            if e.is_empty() { String::new() } else { format!(": {e}") }
                        }
                    )));
                }
            }
        }
    }
}

type Pending = HashMap<u64, oneshot::Sender<HostResult<Response>>>;

struct State {
    pending: Pending,
    dead: Option<HostError>,
}

/// A running helper with pipelined request/response matching.
pub(crate) struct Channel {
    state: Arc<Mutex<State>>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        // Aborting the reader drops the child, whose kill_on_drop ends the process.
        self.reader.abort();
        self.writer.abort();
    }
}

fn fail_all(state: &Mutex<State>, err: HostError) {
    if let Ok(mut s) = state.lock() {
        if s.dead.is_none() {
            s.dead = Some(err.clone());
        }
        for (_, tx) in s.pending.drain() {
            let _ = tx.send(Err(err.clone()));
        }
    }
}

impl Channel {
    /// Takes over a child whose greeting has been read.
    /// (`_info` is the greeting, checked by the caller.)
    pub fn start(spawned: Spawned, _info: HelperInfo, what: &'static str) -> Channel {
        let Spawned {
            child,
            mut stdin,
            mut stdout,
            stderr,
        } = spawned;
        let state = Arc::new(Mutex::new(State {
            pending: HashMap::new(),
            dead: None,
        }));
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let st = state.clone();
        let writer = tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if let Err(e) = stdin.write_all(&frame).await {
                    fail_all(&st, HostError::Unreachable(format!("helper channel: {e}")));
                    return;
                }
                // Flush only when no more frames are queued: pipelined requests share a write.
                if rx.is_empty() && stdin.flush().await.is_err() {
                    return;
                }
            }
        });
        let st = state.clone();
        let reader = tokio::spawn(async move {
            let mut spawned_rest = (child, stderr);
            let err = loop {
                match read_frame_async::<Envelope<Response>, _>(&mut stdout).await {
                    Ok(Some(env)) if env.id == HELLO_ID => {
                        break HostError::Protocol(match env.body {
                            Response::Error(e) => format!("helper rejected a request: {e}"),
                            other => format!("unexpected {} from the helper", other.kind()),
                        });
                    }
                    Ok(Some(env)) => {
                        let tx = st.lock().ok().and_then(|mut s| s.pending.remove(&env.id));
                        if let Some(tx) = tx {
                            let _ = tx.send(Ok(env.body));
                        }
                    }
                    Ok(None) | Err(_) => {
                        let (child, stderr) = &mut spawned_rest;
                        let status =
                            tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let text = stderr.text();
                        let code = status.ok().and_then(Result::ok).and_then(|s| s.code());
                        break HostError::Unreachable(match (code, text.is_empty()) {
                            (_, false) => text,
                            (Some(255), true) => "ssh exited with status 255".into(),
                            (Some(c), true) => format!("{what} exited with status {c}"),
                            (None, true) => format!("{what} connection closed"),
                        });
                    }
                }
            };
            fail_all(&st, err);
        });
        Channel {
            state,
            tx,
            next_id: AtomicU64::new(1),
            reader,
            writer,
        }
    }

    pub async fn call(&self, body: Request) -> HostResult<Response> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode(&Envelope { id, body })?;
        let (tx, rx) = oneshot::channel();
        {
            let mut s = self
                .state
                .lock()
                .map_err(|_| HostError::Protocol("channel state poisoned".into()))?;
            if let Some(e) = &s.dead {
                return Err(e.clone());
            }
            s.pending.insert(id, tx);
        }
        if self.tx.send(frame).is_err() {
            return Err(self.dead_error());
        }
        match rx.await {
            Ok(Ok(Response::Error(e))) => Err(e),
            Ok(r) => r,
            Err(_) => Err(self.dead_error()),
        }
    }

    fn dead_error(&self) -> HostError {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.dead.clone())
            .unwrap_or_else(|| HostError::Unreachable("helper channel closed".into()))
    }

    pub async fn shutdown(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.call(Request::Shutdown)).await;
    }
}

/// Runs a command outside the helper (Ansible's `raw`).
#[async_trait::async_trait]
pub(crate) trait RawExec: Send + Sync {
    async fn raw(&self, command: &str) -> HostResult<ExecOutput>;
}

/// A `Host` served by a helper channel.
pub(crate) struct RpcHost {
    pub name: String,
    pub channel: Channel,
    pub raw: Arc<dyn RawExec>,
}

fn unexpected(r: &Response) -> HostError {
    HostError::Protocol(format!("unexpected {} response", r.kind()))
}

#[async_trait::async_trait]
impl Host for RpcHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stat(&self, path: &str, opts: StatOptions) -> HostResult<FileStat> {
        match self
            .channel
            .call(Request::Stat {
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
        match self
            .channel
            .call(Request::StatMany {
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
        match self
            .channel
            .call(Request::StatMime {
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
        match self.channel.call(Request::Http(req.clone())).await? {
            Response::Http(r) => Ok(r),
            r => Err(unexpected(&r)),
        }
    }

    async fn job_start(&self, job: &JobStart) -> HostResult<String> {
        match self.channel.call(Request::JobStart(job.clone())).await? {
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
        match self.channel.call(req).await? {
            Response::JobStatus(c) => Ok(c),
            r => Err(unexpected(&r)),
        }
    }

    async fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        match self
            .channel
            .call(Request::Read { path: path.into() })
            .await?
        {
            Response::Read(d) => Ok(d),
            r => Err(unexpected(&r)),
        }
    }

    async fn write(&self, req: &WriteRequest) -> HostResult<WriteOutcome> {
        match self.channel.call(Request::Write(req.clone())).await? {
            Response::Write(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn exec(&self, req: &ExecRequest) -> HostResult<ExecOutput> {
        match self.channel.call(Request::Exec(req.clone())).await? {
            Response::Exec(o) => Ok(o),
            r => Err(unexpected(&r)),
        }
    }

    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        self.raw.raw(command).await
    }

    async fn file_op(&self, op: &FileOp, check: bool) -> HostResult<FileOpOutcome> {
        match self
            .channel
            .call(Request::FileOp {
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
        match self
            .channel
            .call(Request::ListDir { path: path.into() })
            .await?
        {
            Response::ListDir(v) => Ok(v),
            r => Err(unexpected(&r)),
        }
    }

    async fn facts(&self) -> HostResult<Facts> {
        match self.channel.call(Request::Facts).await? {
            Response::Facts(json) => Response::parse_facts(&json),
            r => Err(unexpected(&r)),
        }
    }
}

/// What a connection keeps per become user.
pub(crate) struct HostHandle {
    pub host: Arc<dyn Host>,
    pub rpc: Option<Arc<RpcHost>>,
}

impl HostHandle {
    pub fn plain(host: Arc<dyn Host>) -> HostHandle {
        HostHandle { host, rpc: None }
    }

    pub fn rpc(host: RpcHost) -> HostHandle {
        let rpc = Arc::new(host);
        HostHandle {
            host: rpc.clone(),
            rpc: Some(rpc),
        }
    }
}

//! A task's `timeout` reaching the host: programs a module runs past the task's deadline are
//! killed there, not only abandoned by the controller.
//!
//! `run_action_timed` runs the task inside [`scope`]; `connect` wraps the task's host in a
//! [`DeadlineHost`], which gives every `exec` what is left of the time. A task-local keeps the
//! deadline out of every signature between the two.

use std::sync::Arc;
use std::time::Instant;

use drover_host::{
    DirEntry, ExecOutput, ExecRequest, Facts, FileOp, FileOpOutcome, FileStat, Host, HostResult,
    HttpRequest, HttpResponse, JobStart, MimeInfo, StatOptions, WriteOutcome, WriteRequest,
};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `fut` with `deadline` as the task's deadline.
pub async fn scope<F: std::future::Future>(deadline: Instant, fut: F) -> F::Output {
    DEADLINE.scope(deadline, fut).await
}

/// `host`, bounded by the current task's deadline if it has one.
pub fn bound(host: Arc<dyn Host>) -> Arc<dyn Host> {
    match DEADLINE.try_with(|d| *d) {
        Ok(deadline) => Arc::new(DeadlineHost {
            inner: host,
            deadline,
        }),
        Err(_) => host,
    }
}

struct DeadlineHost {
    inner: Arc<dyn Host>,
    deadline: Instant,
}

#[async_trait::async_trait]
impl Host for DeadlineHost {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn stat(&self, path: &str, opts: StatOptions) -> HostResult<FileStat> {
        self.inner.stat(path, opts).await
    }

    async fn stat_many(&self, paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
        self.inner.stat_many(paths, opts).await
    }

    async fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        self.inner.read(path).await
    }

    async fn write(&self, req: &WriteRequest) -> HostResult<WriteOutcome> {
        self.inner.write(req).await
    }

    async fn exec(&self, req: &ExecRequest) -> HostResult<ExecOutput> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        let mut req = req.clone();
        req.timeout_ms = Some(req.timeout_ms.map_or(left_ms, |t| t.min(left_ms)));
        self.inner.exec(&req).await
    }

    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        self.inner.raw(command).await
    }

    async fn file_op(&self, op: &FileOp, check: bool) -> HostResult<FileOpOutcome> {
        self.inner.file_op(op, check).await
    }

    async fn list_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        self.inner.list_dir(path).await
    }

    async fn facts(&self) -> HostResult<Facts> {
        self.inner.facts().await
    }

    async fn stat_mime(
        &self,
        path: &str,
        opts: StatOptions,
    ) -> HostResult<(FileStat, Option<MimeInfo>)> {
        self.inner.stat_mime(path, opts).await
    }

    async fn http(&self, req: &HttpRequest) -> HostResult<HttpResponse> {
        self.inner.http(req).await
    }

    async fn job_start(&self, job: &JobStart) -> HostResult<String> {
        self.inner.job_start(job).await
    }

    async fn job_status(&self, dir: &str, jid: &str, cleanup: bool) -> HostResult<Option<Vec<u8>>> {
        self.inner.job_status(dir, jid, cleanup).await
    }
}

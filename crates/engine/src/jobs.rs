//! `async`/`poll` and `async_status`.
//!
//! As Ansible's async wrapper does, a job runs on the host, detached: the controller asks the
//! host to start a job runner (drover's own executable, `drover __async_job`), which runs the
//! module against the host itself and leaves the result in `<async_dir>/<jid>` (default
//! `~/.ansible_async`, or `ansible_async_dir`). The job outlives the connection and drover's own
//! exit; `async_status` reads that file, in the same run or a later one. With `poll > 0` the
//! controller checks the file until the job is done or `async` seconds have passed, showing
//! Ansible's `ASYNC POLL` line every `poll` seconds (it checks more often than that, so a task
//! is done as soon as its module is), then removes the file.
//!
//! Hosts that cannot run a job runner (the shell fallback without a helper, simulations) keep
//! the job on the controller instead: it runs through the connection like any module, and is
//! abandoned if drover exits first.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drover_host::{Host, HostError, JobStart};
use drover_modules::{Args as ModArgs, Context, Controller, ModuleError};
use drover_playbook::Task;
use indexmap::IndexMap;
use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::controller::TaskController;
use crate::event::Status;
use crate::exec::ItemResult;
use crate::state::RunShared;
use crate::vars::TaskVars;

/// Ansible's `DEFAULT_POLL_INTERVAL`: the `poll` of a task that sets only `async`.
const DEFAULT_POLL: u64 = 15;

/// Actions whose Ansible action plugins refuse `async` (`_supports_async` is false): those that
/// work on the controller or move files. Modules without an action plugin of their own support
/// it.
const NO_ASYNC: &[&str] = &[
    "add_host",
    "assemble",
    "assert",
    "async_status",
    "copy",
    "debug",
    "fail",
    "fetch",
    "group_by",
    "include_vars",
    "pause",
    "raw",
    "reboot",
    "script",
    "set_fact",
    "set_stats",
    "template",
    "unarchive",
    "validate_argument_spec",
    "wait_for_connection",
];

pub fn supports_async(module: &str) -> bool {
    !NO_ASYNC.contains(&drover_modules::canonical_name(module))
}

/// The task's `async` and `poll` in seconds (`async` 0 when not set).
pub fn settings(run: &RunShared, task: &Task, vars: &TaskVars) -> Result<(u64, u64), String> {
    let secs = |name: &str, v: Option<&Value>, default: u64| -> Result<u64, String> {
        let Some(v) = v else { return Ok(default) };
        let rendered = run
            .templar
            .render_value(v, &vars.scope())
            .map_err(|e| format!("{name}: {e}"))?;
        let n = match rendered.as_i64() {
            Some(n) => Some(n),
            None => rendered.as_str().and_then(|s| s.trim().parse::<i64>().ok()),
        };
        match n {
            Some(n) => Ok(n.max(0) as u64),
            None if rendered.is_none() || rendered.is_undefined() => Ok(default),
            None => Err(format!(
                "{name} must be an integer number of seconds, got '{rendered}'"
            )),
        }
    };
    let async_val = secs("async", task.async_.as_ref(), 0)?;
    let poll = secs("poll", task.poll.as_ref(), DEFAULT_POLL)?;
    Ok((async_val, poll))
}

/// A finished job's result.
#[derive(Clone)]
struct Done {
    status: Status,
    result: IndexMap<String, Value>,
}

struct Job {
    done: Mutex<Option<Done>>,
    handle: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The background jobs of a run, by job id.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    next: AtomicU64,
}

impl Jobs {
    /// A job id shaped as Ansible's (`j<digits>.<pid>`), unique within the run.
    fn new_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!(
            "j{:012}.{}",
            (u64::from(nanos) * 1000 + n) % 1_000_000_000_000,
            std::process::id()
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where job files live on the host: `ansible_async_dir`, else `ANSIBLE_ASYNC_DIR`, else
/// Ansible's default.
pub fn async_dir(run: &RunShared, vars: &TaskVars) -> Result<String, String> {
    if let Some(dir) =
        crate::exec::var_string(run, vars, &["ansible_async_dir"]).map_err(|e| e.to_string())?
    {
        return Ok(dir);
    }
    Ok(std::env::var("ANSIBLE_ASYNC_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "~/.ansible_async".into()))
}

/// What a module run needs, owned, so that it can run in the background.
pub struct Invocation {
    pub run: Arc<RunShared>,
    pub module: String,
    /// The templated arguments, before validation: what a job on the host validates again.
    pub raw: IndexMap<String, Value>,
    pub args: ModArgs,
    pub target: Arc<dyn Host>,
    pub controller: TaskController,
    pub check: bool,
    pub diff: bool,
    pub env: BTreeMap<String, String>,
    pub async_dir: String,
}

impl Invocation {
    async fn execute(self) -> Done {
        let Some(m) = self.run.registry.get(&self.module) else {
            return failed_done(format!("couldn't resolve module/action '{}'", self.module));
        };
        let ctx = Context {
            host: self.target.as_ref(),
            controller: &self.controller,
            check: self.check,
            diff: self.diff,
            env: self.env.clone(),
        };
        done_of(run_module(m, &self.args, &ctx).await)
    }
}

async fn run_module(
    m: &dyn drover_modules::Module,
    args: &ModArgs,
    ctx: &Context<'_>,
) -> ItemResult {
    match drover_modules::run_module(m, args, ctx).await {
        Ok(o) => ItemResult::from_outcome(o),
        Err(ModuleError::Host(HostError::Unreachable(msg))) => {
            let mut r = ItemResult::failed(msg);
            r.status = Status::Unreachable;
            r
        }
        Err(e) => ItemResult::failed(e.to_string()),
    }
}

fn done_of(r: ItemResult) -> Done {
    Done {
        status: r.status,
        result: r.result,
    }
}

fn failed_done(msg: String) -> Done {
    done_of(ItemResult::failed(msg))
}

/// What a job on the host runs: the `spec` of its [`JobStart`], read by [`run_on_host`].
#[derive(Serialize, Deserialize)]
struct JobSpec {
    module: String,
    args: serde_json::Map<String, serde_json::Value>,
    check: bool,
    diff: bool,
    env: BTreeMap<String, String>,
}

/// The controller seen from a job on the host: there is none, and the modules that need one
/// (copy, template, script, fetch, assemble) refuse `async` before a job starts.
struct NoController;

impl Controller for NoController {
    fn find_file(&self, _kind: &str, src: &str) -> Result<std::path::PathBuf, ModuleError> {
        Err(ModuleError::Controller(format!(
            "{src}: controller files are out of reach of an async job on the host"
        )))
    }

    fn render_template(&self, path: &std::path::Path, _dest: &str) -> Result<String, ModuleError> {
        Err(ModuleError::Controller(format!(
            "{}: templates cannot be rendered by an async job on the host",
            path.display()
        )))
    }
}

/// Runs the job described by `spec` (a [`JobSpec`] as JSON) against `host`, the machine the job
/// runner is on, and answers the content of its finished result file.
pub async fn run_on_host(host: &dyn Host, spec: &str, jid: &str, results_file: &str) -> String {
    let done = match serde_json::from_str::<JobSpec>(spec) {
        Err(e) => failed_done(format!("unreadable async job: {e}")),
        Ok(spec) => {
            let registry = drover_modules::Registry::builtin();
            match registry.get(&spec.module) {
                None => failed_done(format!("couldn't resolve module/action '{}'", spec.module)),
                Some(m) => {
                    let raw: IndexMap<String, Value> = spec
                        .args
                        .iter()
                        .map(|(k, v)| (k.clone(), drover_template::from_serde(v)))
                        .collect();
                    match m.spec().validate(&raw) {
                        Err(e) => failed_done(e.to_string()),
                        Ok(args) => {
                            let ctx = Context {
                                host,
                                controller: &NoController,
                                check: spec.check,
                                diff: spec.diff,
                                env: spec.env,
                            };
                            done_of(run_module(m, &args, &ctx).await)
                        }
                    }
                }
            }
        }
    };
    job_file_content(jid, results_file, done)
}

/// The result file of a job that failed outside its module: it ran past its `async` seconds
/// and was killed ("Timeout exceeded", as Ansible's wrapper says), or the runner broke.
pub fn failed_on_host(jid: &str, results_file: &str, msg: &str) -> String {
    let mut r = ItemResult::failed(msg);
    r.result
        .insert("child_pid".into(), Value::from(std::process::id()));
    job_file_content(jid, results_file, done_of(r))
}

fn job_file_content(jid: &str, results_file: &str, done: Done) -> String {
    let mut out = serde_json::Map::new();
    for (k, v) in done.result {
        if let Ok(v) = serde_json::to_value(&v) {
            out.insert(k, v);
        }
    }
    let flag = |out: &mut serde_json::Map<String, serde_json::Value>, key: &str, on: bool| {
        out.insert(key.into(), serde_json::Value::Bool(on));
    };
    match done.status {
        Status::Failed | Status::Unreachable => {
            flag(&mut out, "failed", true);
            if !out.contains_key("changed") {
                flag(&mut out, "changed", false);
            }
        }
        Status::Skipped => {
            flag(&mut out, "skipped", true);
            flag(&mut out, "changed", false);
        }
        Status::Changed => flag(&mut out, "changed", true),
        _ => flag(&mut out, "changed", false),
    }
    out.insert("started".into(), 1.into());
    out.insert("finished".into(), 1.into());
    out.insert("ansible_job_id".into(), jid.into());
    out.insert("results_file".into(), results_file.into());
    serde_json::Value::Object(out).to_string()
}

/// A job file read back: whether the job is done, and its result as `async_status` reports it.
fn read_job_file(jid: &str, content: &[u8]) -> (bool, ItemResult) {
    let data = match serde_json::from_slice::<serde_json::Value>(content) {
        Ok(serde_json::Value::Object(m)) => m,
        Ok(_) | Err(_) => {
            let mut r = ItemResult::failed(format!(
                "Could not parse job output: {}",
                String::from_utf8_lossy(content)
            ));
            r.result.insert("ansible_job_id".into(), Value::from(jid));
            r.result.insert("started".into(), Value::from(true));
            r.result.insert("finished".into(), Value::from(true));
            return (true, r);
        }
    };
    let truthy = |key: &str| match data.get(key) {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    };
    // As async_status: a file without `started` is a finished module's own output.
    let is_done = !data.contains_key("started") || truthy("finished");
    if !is_done {
        let mut result = IndexMap::new();
        result.insert("ansible_job_id".into(), Value::from(jid));
        result.insert("started".into(), Value::from(true));
        result.insert("finished".into(), Value::from(false));
        if let Some(f) = data.get("results_file") {
            result.insert("results_file".into(), drover_template::from_serde(f));
        }
        return (false, ItemResult::ok(result));
    }
    let status = if truthy("failed") {
        Status::Failed
    } else if truthy("skipped") {
        Status::Skipped
    } else if truthy("changed") {
        Status::Changed
    } else {
        Status::Ok
    };
    let keep_changed = status == Status::Failed && truthy("changed");
    let mut result = IndexMap::new();
    for (k, v) in &data {
        if matches!(
            k.as_str(),
            "changed" | "failed" | "skipped" | "started" | "finished"
        ) {
            continue;
        }
        result.insert(k.clone(), drover_template::from_serde(v));
    }
    if keep_changed {
        result.insert("changed".into(), Value::from(true));
    }
    (true, finished(jid, Done { status, result }))
}

fn started_result(jid: &str, results_file: Option<String>) -> ItemResult {
    let mut result = IndexMap::new();
    result.insert("ansible_job_id".into(), Value::from(jid));
    result.insert("started".into(), Value::from(true));
    result.insert("finished".into(), Value::from(false));
    if let Some(f) = results_file {
        result.insert("results_file".into(), Value::from(f));
    }
    ItemResult {
        status: Status::Changed,
        result,
        diff: Vec::new(),
        flow: None,
    }
}

fn not_in_time(jid: &str, async_val: u64) -> ItemResult {
    let mut status = IndexMap::new();
    status.insert("ansible_job_id".to_string(), Value::from(jid));
    status.insert("started".into(), Value::from(true));
    status.insert("finished".into(), Value::from(false));
    let mut r = ItemResult::failed(format!(
        "async task did not complete within the requested time - {async_val}s"
    ));
    r.result
        .insert("async_result".into(), Value::from_pairs(status));
    r
}

/// Runs a module under `async`: waits up to `async_val` seconds when `poll > 0`, else starts
/// it in the background and returns the job id at once.
pub async fn run(inv: Invocation, async_val: u64, poll: u64) -> ItemResult {
    let run = inv.run.clone();
    let jid = run.jobs.new_id();
    let host = inv
        .controller
        .inventory_hostname()
        .unwrap_or_else(|| inv.target.name().to_string());
    // Taken before the job starts, so that the job's own limit (counted from its start) never
    // ends it before the controller's last look.
    let deadline = Instant::now() + Duration::from_secs(async_val);
    let spec = JobSpec {
        module: inv.module.clone(),
        args: inv
            .raw
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
            .collect(),
        check: inv.check,
        diff: inv.diff,
        env: inv.env.clone(),
    };
    let spec = match serde_json::to_string(&spec) {
        Ok(s) => s,
        Err(e) => return ItemResult::failed(format!("async job: {e}")),
    };
    let start = JobStart {
        jid: jid.clone(),
        dir: inv.async_dir.clone(),
        timeout: async_val,
        spec,
    };
    match inv.target.job_start(&start).await {
        Ok(results_file) if poll == 0 => started_result(&jid, Some(results_file)),
        Ok(_) => {
            let job = HostJob {
                run: &run,
                target: inv.target.as_ref(),
                dir: &inv.async_dir,
                jid: &jid,
                host: &host,
            };
            job.wait(deadline, async_val, poll).await
        }
        Err(HostError::Unsupported(_)) => {
            controller_job(inv, jid, host, deadline, async_val, poll).await
        }
        Err(HostError::Unreachable(msg)) => ItemResult::unreachable(msg),
        Err(e) => ItemResult::failed(e.to_string()),
    }
}

/// A job running on the host, polled through its result file.
struct HostJob<'a> {
    run: &'a RunShared,
    target: &'a dyn Host,
    dir: &'a str,
    jid: &'a str,
    host: &'a str,
}

impl HostJob<'_> {
    async fn wait(&self, deadline: Instant, async_val: u64, poll: u64) -> ItemResult {
        let poll = Duration::from_secs(poll);
        let mut next_show = Instant::now() + poll;
        // Checks start fast and slow down to once a second (or per `poll`, if shorter).
        let mut pause = Duration::from_millis(20);
        loop {
            let until = (Instant::now() + pause).min(deadline).min(next_show);
            tokio::time::sleep_until(until.into()).await;
            pause = (pause * 2).min(Duration::from_secs(1)).min(poll);
            let content = match self.target.job_status(self.dir, self.jid, false).await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    let mut r = ItemResult::failed("could not find job");
                    r.result
                        .insert("ansible_job_id".into(), Value::from(self.jid));
                    return r;
                }
                Err(HostError::Unreachable(msg)) => return ItemResult::unreachable(msg),
                Err(e) => return ItemResult::failed(e.to_string()),
            };
            let (done, r) = read_job_file(self.jid, &content);
            if done {
                // As Ansible: a polled job's file goes once its result is in.
                let _ = self.target.job_status(self.dir, self.jid, true).await;
                let verdict = if r.status == Status::Failed {
                    "FAILED"
                } else {
                    "OK"
                };
                show(
                    self.run,
                    format!("ASYNC {verdict} on {}: jid={}", self.host, self.jid),
                );
                return r;
            }
            let now = Instant::now();
            if now >= next_show || now >= deadline {
                show(
                    self.run,
                    format!(
                        "ASYNC POLL on {}: jid={} started=True finished=False",
                        self.host, self.jid
                    ),
                );
                next_show = now + poll;
            }
            if now >= deadline {
                break;
            }
        }
        show(
            self.run,
            format!("ASYNC FAILED on {}: jid={}", self.host, self.jid),
        );
        not_in_time(self.jid, async_val)
    }
}

/// A job kept on the controller, for hosts that cannot run one themselves.
async fn controller_job(
    inv: Invocation,
    jid: String,
    host: String,
    deadline: Instant,
    async_val: u64,
    poll: u64,
) -> ItemResult {
    let run = inv.run.clone();
    if poll == 0 {
        let job = Arc::new(Job {
            done: Mutex::new(None),
            handle: Mutex::new(None),
        });
        let slot = job.clone();
        let handle = tokio::spawn(async move {
            let done = inv.execute().await;
            *slot.done.lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
        });
        *job.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        run.jobs.lock().insert(jid.clone(), job);
        return started_result(&jid, None);
    }
    let job = inv.execute();
    tokio::pin!(job);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(Duration::from_secs(poll));
        match tokio::time::timeout(wait, &mut job).await {
            Ok(done) => {
                let r = finished(&jid, done);
                let verdict = if r.status == Status::Failed {
                    "FAILED"
                } else {
                    "OK"
                };
                show(&run, format!("ASYNC {verdict} on {host}: jid={jid}"));
                return r;
            }
            // As Ansible: every check that finds the job running is shown, the last one too.
            Err(_) => {
                show(
                    &run,
                    format!("ASYNC POLL on {host}: jid={jid} started=True finished=False"),
                );
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    show(&run, format!("ASYNC FAILED on {host}: jid={jid}"));
    not_in_time(&jid, async_val)
}

/// A line of Ansible's default callback about a polled job (`ASYNC POLL on ...`).
fn show(run: &RunShared, message: String) {
    run.emit(crate::event::Event::Verbose {
        message,
        verbosity: 0,
    });
}

/// A finished job's result as `async_status` (and a polled task) reports it.
fn finished(jid: &str, done: Done) -> ItemResult {
    let mut result = IndexMap::new();
    result.insert("ansible_job_id".to_string(), Value::from(jid));
    result.insert("started".into(), Value::from(true));
    result.insert("finished".into(), Value::from(true));
    for key in ["stdout", "stderr"] {
        result.insert(key.into(), Value::from(""));
        result.insert(format!("{key}_lines"), Value::from(Vec::<Value>::new()));
    }
    result.extend(done.result);
    ItemResult {
        status: done.status,
        result,
        diff: Vec::new(),
        flow: None,
    }
}

fn job_not_found(jid: &str) -> ItemResult {
    let mut r = ItemResult::failed("could not find job");
    r.result.insert("ansible_job_id".into(), Value::from(jid));
    r.result.insert("started".into(), Value::from(true));
    r.result.insert("finished".into(), Value::from(true));
    r
}

/// `async_status`: a job's state (`mode: status`) or forgetting it (`mode: cleanup`). Jobs kept
/// on the controller are looked up first, then the host's job files.
pub async fn status(
    run: &Arc<RunShared>,
    host: &Arc<crate::state::HostCtx>,
    task: &Task,
    vars: &TaskVars,
    args: &IndexMap<String, Value>,
) -> ItemResult {
    let jid = args
        .get("jid")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .unwrap_or_default();
    let mode = args.get("mode").and_then(Value::as_str).unwrap_or("status");
    let cleanup = match mode {
        "status" => false,
        "cleanup" => true,
        other => {
            return ItemResult::failed(format!(
                "value of mode must be one of: status, cleanup, got: {other}"
            ))
        }
    };
    let job = run.jobs.lock().get(&jid).cloned();
    let Some(job) = job else {
        return host_status(run, host, task, vars, &jid, cleanup).await;
    };
    if cleanup {
        run.jobs.lock().remove(&jid);
        if let Some(h) = job.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            h.abort();
        }
        let mut result = IndexMap::new();
        result.insert("ansible_job_id".into(), Value::from(jid.clone()));
        result.insert("erased".into(), Value::from(jid));
        return ItemResult::ok(result);
    }
    let done = job.done.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match done {
        Some(done) => finished(&jid, done),
        None => {
            let mut result = IndexMap::new();
            result.insert("ansible_job_id".into(), Value::from(jid));
            result.insert("started".into(), Value::from(true));
            result.insert("finished".into(), Value::from(false));
            ItemResult::ok(result)
        }
    }
}

async fn host_status(
    run: &Arc<RunShared>,
    host: &Arc<crate::state::HostCtx>,
    task: &Task,
    vars: &TaskVars,
    jid: &str,
    cleanup: bool,
) -> ItemResult {
    let dir = match async_dir(run, vars) {
        Ok(d) => d,
        Err(e) => return ItemResult::failed(e),
    };
    let target = match crate::exec::connect(run, host, task, vars).await {
        Ok(t) => t,
        Err(HostError::Unreachable(msg)) => return ItemResult::unreachable(msg),
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    match target.job_status(&dir, jid, cleanup).await {
        Ok(None) | Err(HostError::Unsupported(_)) => job_not_found(jid),
        Ok(Some(_)) if cleanup => {
            let mut result = IndexMap::new();
            result.insert("ansible_job_id".into(), Value::from(jid));
            result.insert("erased".into(), Value::from(format!("{dir}/{jid}")));
            ItemResult::ok(result)
        }
        Ok(Some(content)) => read_job_file(jid, &content).1,
        Err(HostError::Unreachable(msg)) => ItemResult::unreachable(msg),
        Err(e) => ItemResult::failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_support_follows_ansible_action_plugins() {
        assert!(!supports_async("script"));
        assert!(!supports_async("ansible.builtin.copy"));
        assert!(supports_async("command"));
        assert!(supports_async("shell"));
        assert!(supports_async("file"));
    }

    #[test]
    fn job_ids_are_unique_and_shaped_like_ansible() {
        let jobs = Jobs::default();
        let a = jobs.new_id();
        let b = jobs.new_id();
        assert_ne!(a, b);
        assert!(a.starts_with('j') && a.contains('.'), "{a}");
    }

    #[test]
    fn job_files_read_back_as_the_module_reported() {
        let mut r = ItemResult::failed("boom");
        r.result.insert("changed".into(), Value::from(true));
        r.result.insert("rc".into(), Value::from(3));
        let file = job_file_content("j1", "/x/j1", done_of(r));
        let (done, back) = read_job_file("j1", file.as_bytes());
        assert!(done);
        assert_eq!(back.status, Status::Failed);
        assert_eq!(back.result.get("changed"), Some(&Value::from(true)));
        assert_eq!(back.result.get("rc"), Some(&Value::from(3)));
        assert_eq!(back.result.get("finished"), Some(&Value::from(true)));

        let ok = job_file_content("j2", "/x/j2", done_of(ItemResult::ok(IndexMap::new())));
        assert_eq!(read_job_file("j2", ok.as_bytes()).1.status, Status::Ok);

        let running = br#"{"started": 1, "finished": 0, "ansible_job_id": "j3"}"#;
        let (done, r) = read_job_file("j3", running);
        assert!(!done);
        assert_eq!(r.result.get("finished"), Some(&Value::from(false)));

        // A module's own output without the wrapper's keys counts as finished.
        let (done, r) = read_job_file("j4", br#"{"changed": true}"#);
        assert!(done);
        assert_eq!(r.status, Status::Changed);

        let (done, r) = read_job_file("j5", b"not json");
        assert!(done);
        assert_eq!(r.status, Status::Failed);
    }
}

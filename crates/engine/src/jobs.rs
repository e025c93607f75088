//! `async`/`poll` and `async_status`.
//!
//! Ansible starts an async module on the host under a wrapper that writes its result to
//! `~/.ansible_async/<jid>`, and polls that file. drover runs the module from the controller as
//! usual and keeps the job on the controller: with `poll > 0` the task waits at most `async`
//! seconds for it, showing Ansible's `ASYNC POLL` line every `poll` seconds (and is done as
//! soon as the module is, not at the next poll tick); with
//! `poll: 0` the module runs in the background and `async_status` reads the job table. Jobs
//! live as long as the run: a background job still running when drover exits is abandoned,
//! where Ansible's wrapper would finish it on the host.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drover_host::{Host, HostError};
use drover_modules::{Args as ModArgs, Context, Controller, ModuleError};
use drover_playbook::Task;
use indexmap::IndexMap;
use minijinja::Value;

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
    "script",
    "set_fact",
    "set_stats",
    "template",
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

/// What a module run needs, owned, so that it can run in the background.
pub struct Invocation {
    pub run: Arc<RunShared>,
    pub module: String,
    pub args: ModArgs,
    pub target: Arc<dyn Host>,
    pub controller: TaskController,
    pub check: bool,
    pub diff: bool,
    pub env: std::collections::BTreeMap<String, String>,
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
        let r = match m.run(&self.args, &ctx).await {
            Ok(o) => ItemResult::from_outcome(o),
            Err(ModuleError::Host(HostError::Unreachable(msg))) => {
                let mut r = ItemResult::failed(msg);
                r.status = Status::Unreachable;
                r
            }
            Err(e) => ItemResult::failed(e.to_string()),
        };
        Done {
            status: r.status,
            result: r.result,
        }
    }
}

fn failed_done(msg: String) -> Done {
    let r = ItemResult::failed(msg);
    Done {
        status: r.status,
        result: r.result,
    }
}

/// Runs a module under `async`: waits up to `async_val` seconds when `poll > 0`, else starts
/// it in the background and returns the job id at once.
pub async fn run(inv: Invocation, async_val: u64, poll: u64) -> ItemResult {
    let run = inv.run.clone();
    let jid = run.jobs.new_id();
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
        let mut result = IndexMap::new();
        result.insert("ansible_job_id".into(), Value::from(jid));
        result.insert("started".into(), Value::from(true));
        result.insert("finished".into(), Value::from(false));
        return ItemResult {
            status: Status::Changed,
            result,
            diff: Vec::new(),
            flow: None,
        };
    }
    let host = inv
        .controller
        .inventory_hostname()
        .unwrap_or_else(|| inv.target.name().to_string());
    let deadline = Instant::now() + Duration::from_secs(async_val);
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

/// `async_status`: a job's state (`mode: status`) or forgetting it (`mode: cleanup`).
pub fn status(run: &RunShared, args: &IndexMap<String, Value>) -> ItemResult {
    let jid = args
        .get("jid")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .unwrap_or_default();
    let mode = args.get("mode").and_then(Value::as_str).unwrap_or("status");
    let job = run.jobs.lock().get(&jid).cloned();
    let Some(job) = job else {
        let mut r = ItemResult::failed("could not find job");
        r.result
            .insert("ansible_job_id".into(), Value::from(jid.clone()));
        r.result.insert("started".into(), Value::from(true));
        r.result.insert("finished".into(), Value::from(true));
        return r;
    };
    if mode == "cleanup" {
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
}

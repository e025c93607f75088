//! The typed events a run emits. The terminal printer, `--output json`, the store and the web UI
//! are all subscribers; nothing prints from inside the engine.

use serde::Serialize;

/// How one task ended on one host (or one loop item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

/// Per-host counters of the PLAY RECAP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        playbook: String,
        check: bool,
        /// How many plays the playbook has (imports expanded).
        plays: usize,
    },
    PlayStarted {
        name: String,
        hosts: Vec<String>,
    },
    TaskStarted {
        name: String,
        /// `file:line:col` of the task.
        location: String,
        handler: bool,
        /// The task's module, `None` for includes.
        module: Option<String>,
    },
    /// A result for one host (for loops: one per item, then the aggregate with `item: None`).
    HostResult {
        host: String,
        task: String,
        status: Status,
        /// Loop item label, for per-item results.
        item: Option<String>,
        /// The host the task ran on when delegated.
        delegated_to: Option<String>,
        ignored: bool,
        /// The result as registered (censored under `no_log`).
        result: serde_json::Value,
        /// Diffs to show under `--diff`.
        diff: Vec<drover_modules::FileDiff>,
        /// Verbosity from which this result's details are shown (`debug`'s `verbosity`).
        verbosity: u8,
    },
    /// Output of a task that Ansible prints as-is (`debug`).
    Warning {
        message: String,
    },
    /// A line Ansible shows from a given verbosity on (`META: ...` at `-vv`).
    Verbose {
        message: String,
        verbosity: u8,
    },
    /// No host is left to run on.
    NoHostsRemaining,
    Recap {
        hosts: Vec<(String, HostStats)>,
    },
    /// What `set_stats` recorded, after the recap (only when some task set stats): per host,
    /// and for the whole run.
    CustomStats {
        hosts: Vec<(String, serde_json::Value)>,
        run: Option<serde_json::Value>,
    },
    RunFinished {
        exit_code: i32,
        interrupted: bool,
    },
}

/// A subscriber to the events of a run.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: &Event);
}

/// Collects events in memory (tests, the store).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, event: &Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event.clone());
        }
    }
}

//! `meta` tasks: run by the play runner itself, not as actions, because they change the run
//! (end a host, the batch or the play, flush handlers, clear errors and facts).
//!
//! Ansible shows them differently from other tasks: no result line when they act (the action
//! is announced as `META: <what>` from `-vv`), a `skipping` line when their condition is
//! false, and they never count in the recap.

use std::sync::Arc;

use drover_playbook::{Args, Task};
use minijinja::Value;

use crate::cursor::TaskRef;
use crate::event::{Event, Status};
use crate::exec::{display_value, Flow, Meta};
use crate::state::{HostCtx, PlayCtx, RunShared};
use crate::vars::TaskVars;

/// The meta action of a task (`end_host`, ...), `None` for other tasks.
pub fn action(task: &Task) -> Option<String> {
    if task.module() != Some("meta") {
        return None;
    }
    let drover_playbook::TaskKind::Action { args, .. } = &task.kind else {
        return None;
    };
    let raw = match args {
        Args::Free(s) => s.clone(),
        Args::Map(m) => m.get("_raw_params").map(display_value).unwrap_or_default(),
    };
    Some(raw.trim().to_string())
}

/// Whether the action runs once per host. The others run once for all hosts of the task
/// (on the first one), as in Ansible's linear strategy.
pub fn per_host(action: &str) -> bool {
    matches!(
        action,
        "noop" | "reset_connection" | "end_host" | "role_complete" | "flush_handlers" | "end_role"
    )
}

/// Runs a meta task for one host (the first host of the task for the run-once actions):
/// evaluates `when`, reports, and returns what the play runner must do.
/// Whether `task` is one of the play's handlers.
fn is_handler(ctx: &PlayCtx, task: &Task) -> bool {
    let at = task.loc.to_string();
    ctx.handlers().iter().any(|h| h.loc.to_string() == at)
}

pub fn execute(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    tref: &TaskRef,
) -> Flow {
    let task = tref.task();
    let action = action(task).unwrap_or_default();
    let vars = TaskVars::for_task(run, ctx, host, tref);
    let scope = vars.scope();
    let mut holds = true;
    for cond in &task.keywords.when {
        match run.templar.eval_condition_value(cond, &scope) {
            Ok(true) => {}
            Ok(false) => {
                holds = false;
                break;
            }
            Err(e) => {
                let msg = format!(
                    "The conditional check '{}' failed. The error was: {e}. The error appears to be in '{}'",
                    display_value(cond),
                    task.loc
                );
                return fail(run, host, task, msg);
            }
        }
    }
    let h = &host.name;
    let (kind, done, skip_suffix) = match action.as_str() {
        "noop" => (Meta::Noop, "noop".to_string(), String::new()),
        "flush_handlers" => (
            Meta::FlushHandlers,
            format!("triggered running handlers for {h}"),
            format!(", not running handlers for {h}"),
        ),
        "refresh_inventory" => (
            Meta::RefreshInventory,
            "inventory successfully refreshed".to_string(),
            String::new(),
        ),
        "clear_facts" => (
            Meta::ClearFacts,
            "facts cleared".to_string(),
            format!(", not clearing facts and fact cache for {h}"),
        ),
        "clear_host_errors" => (
            Meta::ClearHostErrors,
            "cleared host errors".to_string(),
            format!(", not clearing host error state for {h}"),
        ),
        "end_batch" => (
            Meta::EndBatch,
            "ending batch".to_string(),
            ", continuing current batch".to_string(),
        ),
        "end_play" => (
            Meta::EndPlay,
            "ending play".to_string(),
            ", continuing play".to_string(),
        ),
        "end_host" => (
            Meta::EndHost,
            format!("ending play for {h}"),
            format!(", continuing execution for {h}"),
        ),
        "end_role" if is_handler(ctx, task) => {
            return fail(
                run,
                host,
                task,
                "Cannot execute 'end_role' from a handler".into(),
            );
        }
        "end_role" if task.role.is_none() => {
            return fail(
                run,
                host,
                task,
                "Cannot execute 'end_role' from outside of a role".into(),
            );
        }
        "end_role" | "role_complete" => (
            if action == "end_role" {
                Meta::EndRole
            } else {
                Meta::Noop
            },
            match &task.role {
                Some(scope) => format!("ending role {} for {h}", scope.role.name),
                None => format!("role_complete for {h}"),
            },
            format!(", continuing role for {h}"),
        ),
        "reset_connection" => (
            Meta::ResetConnection,
            "reset connection".to_string(),
            String::new(),
        ),
        other => {
            let msg = format!(
                "invalid meta action requested: {other} (expected one of: {})",
                crate::actions::META_ACTIONS.join(", ")
            );
            return fail(run, host, task, msg);
        }
    };
    // These ignore conditions in Ansible (with a warning); so does drover.
    let unconditional = matches!(
        kind,
        Meta::Noop | Meta::RefreshInventory | Meta::ResetConnection
    ) && !matches!(action.as_str(), "end_role" | "role_complete");
    if holds || unconditional {
        run.emit(Event::Verbose {
            message: format!("META: {done}"),
            verbosity: 2,
        });
        return Flow::Meta(kind);
    }
    let skip_reason = format!("{action} conditional evaluated to False{skip_suffix}");
    // Ansible keeps a historical lower-case message for end_host.
    let msg = if kind == Meta::EndHost {
        format!("end_host conditional evaluated to false, continuing execution for {h}")
    } else {
        action.clone()
    };
    run.emit(Event::Verbose {
        message: format!("META: {skip_reason}"),
        verbosity: 2,
    });
    run.emit(Event::HostResult {
        host: h.clone(),
        task: task.display_name(),
        status: Status::Skipped,
        item: None,
        delegated_to: None,
        ignored: false,
        result: serde_json::json!({"msg": msg, "skip_reason": skip_reason}),
        diff: Vec::new(),
        verbosity: 0,
    });
    Flow::Continue
}

/// A meta task that could not run: a failed result, counted like any failure.
pub(crate) fn fail(run: &Arc<RunShared>, host: &Arc<HostCtx>, task: &Task, msg: String) -> Flow {
    host.count(|s| s.failed += 1);
    run.emit(Event::HostResult {
        host: host.name.clone(),
        task: task.display_name(),
        status: Status::Failed,
        item: None,
        delegated_to: None,
        ignored: false,
        result: serde_json::json!({"changed": false, "failed": true, "msg": msg}),
        diff: Vec::new(),
        verbosity: 0,
    });
    Flow::Failed {
        task: Value::from_pairs([
            ("name".to_string(), Value::from(task.display_name())),
            ("action".to_string(), Value::from("meta")),
        ]),
        result: Value::from_pairs([
            ("changed".to_string(), Value::from(false)),
            ("failed".to_string(), Value::from(true)),
            ("msg".to_string(), Value::from(msg)),
        ]),
    }
}

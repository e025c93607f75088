//! Running one task on one host: conditions, loops, retries, the action itself, result
//! evaluation, registration and notification.
// A failed step returns the task's failure result as the error; it is built once per failure.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use drover_host::HostError;
use drover_modules::{parse_kv, Args as ModArgs, Context, ModuleError, Outcome};
use drover_playbook::{Args, LoopSpec, Task, TaskKind, TaskList, Vars};
use drover_template::{Scope, TemplateError, VarSource};
use indexmap::IndexMap;
use minijinja::value::{Value, ValueKind};

use crate::actions;
use crate::controller::TaskController;
use crate::cursor::TaskRef;
use crate::event::{Event, Status};
use crate::jobs;
use crate::state::{BecomeInfo, ConnectionInfo, HostCtx, PlayCtx, RunShared};
use crate::vars::TaskVars;

/// The value of a failed result's `exception` as Ansible 2.19 templates it by default.
const TRACEBACK_UNAVAILABLE: &str = "(traceback unavailable)";

/// What the play runner must do after a task ran on a host.
pub enum Flow {
    Continue,
    /// The task failed (not ignored): enter rescue/always or drop the host.
    Failed {
        task: Value,
        result: Value,
    },
    Unreachable,
    /// Included tasks to run next, one entry per loop item.
    Include(Vec<(TaskList, Arc<Vars>)>),
    Meta(Meta),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    FlushHandlers,
    EndHost,
    EndPlay,
    EndBatch,
    ClearHostErrors,
    RefreshInventory,
    ResetConnection,
    ClearFacts,
    /// `end_role`: the rest of the current role is skipped for the host.
    EndRole,
    Noop,
}

/// The outcome of one action invocation (one loop item), before registration.
pub struct ItemResult {
    pub status: Status,
    pub result: IndexMap<String, Value>,
    pub diff: Vec<drover_modules::FileDiff>,
    /// Set when a controller action changes the control flow.
    pub flow: Option<Flow>,
}

impl ItemResult {
    pub fn from_outcome(o: Outcome) -> ItemResult {
        let mut result = o.data;
        let status = if o.failed {
            Status::Failed
        } else if o.skipped {
            Status::Skipped
        } else if o.changed {
            Status::Changed
        } else {
            Status::Ok
        };
        if let Some(msg) = o.msg {
            result.insert("msg".into(), Value::from(msg));
        }
        // The status cannot say "failed and changed"; keep it for registration and failed_when.
        if o.failed && o.changed {
            result.insert("changed".into(), Value::from(true));
        }
        if !o.warnings.is_empty() {
            result.insert("warnings".into(), Value::from(o.warnings));
        }
        // As Ansible's action plugins (copy, template) register them: a list of
        // before/after pairs with their headers. Modules that return their own `diff` keep it.
        if !o.diff.is_empty() && !result.contains_key("diff") {
            let diffs: Vec<Value> = o
                .diff
                .iter()
                .map(|d| {
                    Value::from_pairs([
                        ("before", Value::from(d.before.as_str())),
                        ("after", Value::from(d.after.as_str())),
                        ("before_header", Value::from(d.before_header.as_str())),
                        ("after_header", Value::from(d.after_header.as_str())),
                    ])
                })
                .collect();
            result.insert("diff".into(), Value::from(diffs));
        }
        ItemResult {
            status,
            result,
            diff: o.diff,
            flow: None,
        }
    }

    /// An include that could not be loaded: Ansible reports its `reason` (and no `msg`).
    pub fn include_failed(reason: impl Into<String>) -> ItemResult {
        let mut result = IndexMap::new();
        result.insert("changed".to_string(), Value::from(false));
        result.insert("reason".to_string(), Value::from(reason.into()));
        ItemResult {
            status: Status::Failed,
            result,
            diff: Vec::new(),
            flow: None,
        }
    }

    pub fn failed(msg: impl Into<String>) -> ItemResult {
        let mut result = IndexMap::new();
        result.insert("msg".to_string(), Value::from(msg.into()));
        ItemResult {
            status: Status::Failed,
            result,
            diff: Vec::new(),
            flow: None,
        }
    }

    pub fn ok(result: IndexMap<String, Value>) -> ItemResult {
        ItemResult {
            status: Status::Ok,
            result,
            diff: Vec::new(),
            flow: None,
        }
    }

    fn skipped(reason: &str, condition: Option<Value>) -> ItemResult {
        let mut result = IndexMap::new();
        result.insert("skip_reason".into(), Value::from(reason));
        // The condition as written: `when: false` gives `false_condition: false`.
        if let Some(c) = condition {
            result.insert("false_condition".into(), c);
        }
        ItemResult {
            status: Status::Skipped,
            result,
            diff: Vec::new(),
            flow: None,
        }
    }

    pub(crate) fn unreachable(msg: String) -> ItemResult {
        let mut result = IndexMap::new();
        result.insert("msg".into(), Value::from(msg));
        ItemResult {
            status: Status::Unreachable,
            result,
            diff: Vec::new(),
            flow: None,
        }
    }

    /// The registered form: the module's data plus `changed`/`failed`/`skipped`.
    pub fn registered(&self) -> Value {
        let mut map = self.result.clone();
        map.insert(
            "changed".into(),
            Value::from(self.status == Status::Changed),
        );
        match self.status {
            Status::Failed => {
                map.insert("failed".into(), Value::from(true));
                // Ansible 2.19 gives every failed result an error summary, which templates see as
                // this string unless tracebacks are enabled.
                if !map.contains_key("exception") {
                    map.insert("exception".into(), Value::from(TRACEBACK_UNAVAILABLE));
                }
                // changed_when may still mark a failed result changed.
                let changed = self.result.get("changed").is_some_and(Value::is_true);
                map.insert("changed".into(), Value::from(changed));
            }
            Status::Skipped => {
                map.insert("skipped".into(), Value::from(true));
            }
            Status::Unreachable => {
                map.insert("unreachable".into(), Value::from(true));
            }
            _ => {
                // Only an exhausted `until` overruled by failed_when sets it on a success.
                let failed = self.result.get("failed").is_some_and(Value::is_true);
                map.insert("failed".into(), Value::from(failed));
            }
        }
        Value::from_pairs(map)
    }
}

/// An error raised while preparing or evaluating a task (templating, bad arguments): the task
/// fails on that host with this message.
fn template_failure(task: &Task, what: &str, err: &TemplateError) -> ItemResult {
    ItemResult::failed(format!(
        "{what}: {}. The error appears to be in '{}'",
        err, task.loc
    ))
}

/// Runs a task on one host and reports its result events.
pub async fn run_task(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    tref: &TaskRef,
    handler: bool,
) -> Flow {
    let task = tref.task();
    let vars = TaskVars::for_task(run, play, host, tref);
    let display = task.display_name();
    let no_log = eval_bool_kw(run, &vars, task.keywords.no_log.as_ref()).unwrap_or(false);

    let (mut results, is_loop) = match run_items(run, play, host, task, &vars, handler).await {
        Ok(r) => r,
        Err(fail) => (vec![(None, fail)], false),
    };

    // Per-item events, then the aggregate.
    let mut final_result;
    let mut flow = None;
    let mut diffs = Vec::new();
    if is_loop {
        let mut items = Vec::with_capacity(results.len());
        let mut changed = false;
        let mut failed = false;
        let mut all_skipped = !results.is_empty();
        let mut unreachable = false;
        let mut includes = Vec::new();
        for (label, r) in &mut results {
            if let Some(Flow::Include(list)) = r.flow.take() {
                includes.extend(list);
            }
            changed |= r.status == Status::Changed;
            failed |= r.status == Status::Failed;
            unreachable |= r.status == Status::Unreachable;
            all_skipped &= r.status == Status::Skipped;
            emit_result(
                run,
                host,
                &display,
                r,
                label.clone(),
                task,
                &vars,
                no_log,
                false,
            );
            items.push(r.registered());
        }
        let status = if unreachable {
            Status::Unreachable
        } else if failed {
            Status::Failed
        } else if all_skipped {
            Status::Skipped
        } else if changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let mut agg = IndexMap::new();
        agg.insert("results".to_string(), Value::from(items));
        agg.insert(
            "msg".to_string(),
            Value::from(if failed {
                "One or more items failed"
            } else if all_skipped {
                "All items skipped"
            } else {
                "All items completed"
            }),
        );
        // A failed loop can still have changed something; the status cannot say both.
        if failed && changed {
            agg.insert("changed".into(), Value::from(true));
        }
        final_result = ItemResult {
            status,
            result: agg,
            diff: Vec::new(),
            flow: None,
        };
        if !includes.is_empty() {
            flow = Some(Flow::Include(includes));
        }
        if results.is_empty() {
            // As Ansible's executor words an empty loop: no message, a reason.
            final_result.status = Status::Skipped;
            final_result.result.shift_remove("msg");
            final_result
                .result
                .insert("changed".into(), Value::from(false));
            final_result
                .result
                .insert("skipped_reason".into(), Value::from("No items in the list"));
        }
    } else {
        let Some((_, r)) = results.into_iter().next() else {
            return Flow::Continue;
        };
        final_result = r;
        flow = final_result.flow.take();
        diffs = std::mem::take(&mut final_result.diff);
    }

    if final_result.status == Status::Changed && !task.notify.is_empty() {
        let missing = missing_handlers(run, play, task, &vars);
        for name in missing {
            let msg = format!(
                "The requested handler '{name}' was not found in either the main handlers list nor in the listening handlers list"
            );
            if run.options.error_on_missing_handler {
                final_result.status = Status::Failed;
                final_result.result.insert("msg".into(), Value::from(msg));
                break;
            }
            let mut warnings: Vec<Value> = final_result
                .result
                .get("warnings")
                .and_then(|w| w.try_iter().ok())
                .map(Iterator::collect)
                .unwrap_or_default();
            warnings.push(Value::from(msg));
            final_result
                .result
                .insert("warnings".into(), Value::from(warnings));
        }
    }

    let ignore_errors = final_result.status == Status::Failed
        && eval_bool_kw(run, &vars, task.keywords.ignore_errors.as_ref()).unwrap_or(false);
    let ignore_unreachable = final_result.status == Status::Unreachable
        && eval_bool_kw(run, &vars, task.keywords.ignore_unreachable.as_ref()).unwrap_or(false);

    if let Some(name) = &task.register {
        let reg = if no_log {
            censor(&final_result.registered(), false)
        } else {
            final_result.registered()
        };
        // A censored register still has the real values for later tasks; only output hides them.
        let _ = reg;
        host.write()
            .set_facts
            .insert(name.clone(), final_result.registered());
    }

    if matches!(
        final_result.status,
        Status::Ok | Status::Changed | Status::Failed
    ) {
        host.note_task_ran();
    }

    // Counting, as the recap does.
    let failed_changed = final_result
        .result
        .get("changed")
        .is_some_and(Value::is_true);
    host.count(|s| match final_result.status {
        Status::Ok => s.ok += 1,
        Status::Changed => {
            s.ok += 1;
            s.changed += 1
        }
        Status::Skipped => s.skipped += 1,
        // As Ansible's strategy: an ignored failure also counts as ok (and changed if it was).
        Status::Failed if ignore_errors => {
            s.ok += 1;
            s.ignored += 1;
            if failed_changed {
                s.changed += 1;
            }
        }
        Status::Failed => s.failed += 1,
        Status::Unreachable if ignore_unreachable => s.ignored += 1,
        Status::Unreachable => s.unreachable += 1,
    });

    let mut shown = final_result.clone_for_event();
    shown.diff = diffs;
    emit_result(
        run,
        host,
        &display,
        &shown,
        None,
        task,
        &vars,
        no_log,
        ignore_errors,
    );

    if final_result.status == Status::Changed && !task.notify.is_empty() {
        notify(run, play, host, task, &vars);
    }

    match final_result.status {
        Status::Failed if !ignore_errors => Flow::Failed {
            task: Value::from_pairs([
                ("name".to_string(), Value::from(display.clone())),
                (
                    "action".to_string(),
                    Value::from(task.module().unwrap_or_default()),
                ),
            ]),
            result: final_result.registered(),
        },
        Status::Unreachable if !ignore_unreachable => Flow::Unreachable,
        _ => flow.unwrap_or(Flow::Continue),
    }
}

impl ItemResult {
    fn clone_for_event(&self) -> ItemResult {
        ItemResult {
            status: self.status,
            result: self.result.clone(),
            diff: self.diff.clone(),
            flow: None,
        }
    }
}

/// Marks the task's handlers as notified for this host.
/// The names a task notifies that no handler of the play answers to (by name, `role : name`
/// or a `listen` topic).
fn missing_handlers(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    task: &Task,
    vars: &TaskVars,
) -> Vec<String> {
    let scope = vars.scope();
    let known: Vec<String> = play
        .handlers()
        .iter()
        .flat_map(|h| {
            let (names, topics) = crate::play::handler_names(run, play, h);
            names.into_iter().chain(topics)
        })
        .collect();
    notified_names(run, task, &scope)
        .into_iter()
        .filter(|n| !known.contains(n))
        .collect()
}

/// The handler names a task notifies, templated; a template that renders to a list notifies
/// each of its items.
fn notified_names(
    run: &Arc<RunShared>,
    task: &Task,
    scope: &drover_template::Scope,
) -> Vec<String> {
    let mut out = Vec::new();
    for n in &task.notify {
        match run.templar.render_str(n, scope) {
            Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                if let Ok(items) = v.try_iter() {
                    out.extend(items.map(|i| display_value(&i)));
                }
            }
            Ok(v) => out.push(display_value(&v)),
            Err(_) => out.push(n.clone()),
        }
    }
    out
}

fn notify(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
) {
    let scope = vars.scope();
    for name in notified_names(run, task, &scope) {
        play.notify(&host.name, &name);
    }
}

/// `no_log`: the result as it may be shown.
pub fn censor(result: &Value, _loop: bool) -> Value {
    let changed = result
        .get_attr("changed")
        .map(|v| v.is_true())
        .unwrap_or(false);
    Value::from_pairs([
        (
            "censored".to_string(),
            Value::from("the output has been hidden due to the fact that 'no_log: true' was specified for this result"),
        ),
        ("changed".to_string(), Value::from(changed)),
    ])
}

#[allow(clippy::too_many_arguments)]
fn emit_result(
    run: &Arc<RunShared>,
    host: &Arc<HostCtx>,
    display: &str,
    r: &ItemResult,
    item: Option<String>,
    task: &Task,
    vars: &TaskVars,
    no_log: bool,
    ignored: bool,
) {
    // A result may hide itself (include_vars of an encrypted file).
    let no_log = no_log
        || r.result
            .get("_ansible_no_log")
            .is_some_and(minijinja::Value::is_true);
    let mut registered = r.registered();
    // The callback shows the exception as an error line, never inside the result.
    if r.status == Status::Failed {
        registered = drop_key(&registered, "exception");
    }
    let shown = if no_log {
        censor(&registered, item.is_some())
    } else {
        registered
    };
    let result = serde_json::to_value(&shown).unwrap_or(serde_json::Value::Null);
    let verbosity = if task.module() == Some("debug") {
        r.result
            .get("_verbosity")
            .and_then(Value::as_i64)
            .unwrap_or(0) as u8
    } else {
        0
    };
    let delegated_to = task
        .keywords
        .delegate_to
        .as_ref()
        .and_then(|d| run.templar.render_value(d, &vars.scope()).ok())
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        });
    run.emit(Event::HostResult {
        host: host.name.clone(),
        task: display.to_string(),
        status: r.status,
        item,
        delegated_to,
        ignored,
        result,
        diff: if no_log { Vec::new() } else { r.diff.clone() },
        verbosity,
    });
}

/// A copy of a mapping without `key`.
fn drop_key(map: &Value, key: &str) -> Value {
    let Ok(keys) = map.try_iter() else {
        return map.clone();
    };
    Value::from_pairs(
        keys.filter(|k| k.as_str() != Some(key))
            .map(|k| {
                let v = map.get_item(&k).unwrap_or(Value::UNDEFINED);
                (k, v)
            })
            .collect::<Vec<_>>(),
    )
}

/// Evaluates an optional boolean keyword (`become`, `ignore_errors`...).
pub fn eval_bool_kw(
    run: &RunShared,
    vars: &TaskVars,
    v: Option<&Value>,
) -> Result<bool, TemplateError> {
    let Some(v) = v else { return Ok(false) };
    let rendered = run.templar.render_value(v, &vars.scope())?;
    Ok(drover_modules::args::to_bool(&rendered).unwrap_or_else(|| rendered.is_true()))
}

/// A boolean keyword's value, refusing what does not read as a boolean.
fn strict_bool(run: &RunShared, vars: &TaskVars, v: &Value) -> Result<bool, String> {
    let rendered = run
        .templar
        .render_value(v, &vars.scope())
        .map_err(|e| e.to_string())?;
    drover_modules::args::to_bool(&rendered).ok_or_else(|| {
        format!(
            "The value '{}' could not be converted to 'bool'.",
            display_value(&rendered)
        )
    })
}

type ItemResults = Vec<(Option<String>, ItemResult)>;

/// Evaluates the loop (if any) and runs the action per item. The bool says whether it looped.
async fn run_items(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    handler: bool,
) -> Result<(ItemResults, bool), ItemResult> {
    let Some(spec) = &task.loop_ else {
        let r = run_one(run, play, host, task, vars, handler).await;
        return Ok((vec![(None, r)], false));
    };
    let scope = vars.scope();
    let items = match loop_items(run, spec, &scope) {
        Ok(items) => items,
        Err(err) => {
            // As Ansible: an undefined loop is only an error when the task would run.
            if err.kind == drover_template::TemplateErrorKind::Undefined {
                match conditions_hold(run, task, vars) {
                    Ok(None) => {
                        return Err(template_failure(
                            task,
                            "Error while evaluating the loop",
                            &err,
                        ))
                    }
                    Ok(Some(cond)) => {
                        return Ok((
                            vec![(
                                None,
                                ItemResult::skipped("Conditional result was False", Some(cond)),
                            )],
                            false,
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
            return Err(template_failure(
                task,
                "Error while evaluating the loop",
                &err,
            ));
        }
    };
    // `label` is templated per item; the other loop_control options once.
    let raw_control = task.loop_control.clone().unwrap_or(Value::UNDEFINED);
    let control_opt = |name: &str| -> Result<Option<Value>, ItemResult> {
        match raw_control.get_attr(name) {
            Ok(v) if !v.is_undefined() && !v.is_none() => run
                .templar
                .render_value(&v, &scope)
                .map(Some)
                .map_err(|e| template_failure(task, "loop_control", &e)),
            _ => Ok(None),
        }
    };
    let loop_var = control_opt("loop_var")?
        .map(|v| display_value(&v))
        .unwrap_or_else(|| "item".to_string());
    let index_var = control_opt("index_var")?.map(|v| display_value(&v));
    let label_tpl = raw_control
        .get_attr("label")
        .ok()
        .filter(|v| !v.is_undefined());
    let control = Value::from_pairs([
        ("pause", control_opt("pause")?.unwrap_or(Value::UNDEFINED)),
        (
            "extended",
            control_opt("extended")?.unwrap_or(Value::UNDEFINED),
        ),
    ]);
    let pause = control
        .get_attr("pause")
        .ok()
        .and_then(|v| f64::try_from(v).ok())
        .unwrap_or(0.0);
    let extended = control
        .get_attr("extended")
        .map(|v| v.is_true())
        .unwrap_or(false);
    let extended_allitems = control_opt("extended_allitems")?
        .map(|v| drover_modules::args::to_bool(&v).unwrap_or_else(|| v.is_true()))
        .unwrap_or(true);

    // `break_when`: one condition or a list, all of which must hold.
    let break_when: Option<Vec<Value>> = raw_control
        .get_attr("break_when")
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_none())
        .map(|v| match v.kind() {
            ValueKind::Seq => v.try_iter().map(|it| it.collect()).unwrap_or_default(),
            _ => vec![v],
        });
    let mut previous: Option<Value> = None;
    let mut results = Vec::with_capacity(items.len());
    let n = items.len();
    for (i, item) in items.iter().enumerate() {
        let mut locals = (*vars.locals).clone();
        locals.insert(loop_var.clone(), item.clone());
        locals.insert("ansible_loop_var".into(), Value::from(loop_var.as_str()));
        if let Some(iv) = &index_var {
            locals.insert(iv.clone(), Value::from(i));
            locals.insert("ansible_index_var".into(), Value::from(iv.as_str()));
        }
        if extended {
            let mut lp = vec![
                ("index".to_string(), Value::from(i + 1)),
                ("index0".to_string(), Value::from(i)),
                ("revindex".to_string(), Value::from(n - i)),
                ("revindex0".to_string(), Value::from(n - i - 1)),
                ("first".to_string(), Value::from(i == 0)),
                ("last".to_string(), Value::from(i + 1 == n)),
                ("length".to_string(), Value::from(n)),
            ];
            // `extended_allitems: false` leaves the (possibly large) item list out.
            if extended_allitems {
                lp.push(("allitems".to_string(), Value::from(items.clone())));
            }
            // As Ansible: no previtem on the first item, no nextitem on the last.
            if i > 0 {
                lp.push(("previtem".to_string(), items[i - 1].clone()));
            }
            if let Some(next) = items.get(i + 1) {
                lp.push(("nextitem".to_string(), next.clone()));
            }
            locals.insert("ansible_loop".into(), Value::from_pairs(lp));
        }
        // Each item sees the previous item's result under the registered name, as in Ansible.
        if let (Some(name), Some(prev)) = (&task.register, &previous) {
            locals.insert(name.clone(), prev.clone());
        }
        let mut item_vars = vars.clone();
        item_vars.locals = Arc::new(locals.clone());
        let mut r = run_one(run, play, host, task, &item_vars, handler).await;
        r.result.insert(loop_var.clone(), item.clone());
        r.result
            .insert("ansible_loop_var".into(), Value::from(loop_var.as_str()));
        if let Some(iv) = &index_var {
            r.result.insert(iv.clone(), Value::from(i));
        }
        // The label and break_when see this item's result.
        if let Some(name) = &task.register {
            let reg = r.registered();
            locals.insert(name.clone(), reg.clone());
            item_vars.locals = Arc::new(locals);
            previous = Some(reg);
        }
        let label = match &label_tpl {
            Some(t) => match run.templar.render_value(t, &item_vars.scope()) {
                Ok(v) => display_value(&v),
                Err(e) => {
                    r.result.insert(
                        "msg".into(),
                        Value::from(format!("Failed to template loop_control.label: {e}")),
                    );
                    mark_failed(&mut r);
                    display_value(item)
                }
            },
            None => display_value(item),
        };
        let stop = match &break_when {
            Some(conds) if r.status != Status::Unreachable => {
                let scope = item_vars.scope();
                let mut all = true;
                for c in conds {
                    match run.templar.eval_condition_value(c, &scope) {
                        Ok(b) => all &= b,
                        Err(e) => {
                            r.result.insert(
                                "msg".into(),
                                Value::from(format!(
                                    "The conditional check in 'break_when' failed: {e}"
                                )),
                            );
                            mark_failed(&mut r);
                        }
                    }
                }
                all
            }
            _ => false,
        };
        let unreachable = r.status == Status::Unreachable;
        results.push((Some(label), r));
        if unreachable || stop {
            break;
        }
        if pause > 0.0 && i + 1 < n {
            tokio::time::sleep(Duration::from_secs_f64(pause)).await;
        }
    }
    Ok((results, true))
}

/// A value as Ansible shows it in `(item=...)` labels and messages.
pub fn display_value(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => drover_template::py_str(v),
    }
}

/// The items of `loop:` or `with_<lookup>:`.
fn loop_items(
    run: &RunShared,
    spec: &LoopSpec,
    scope: &Scope,
) -> Result<Vec<Value>, TemplateError> {
    match spec {
        LoopSpec::Loop(v) => {
            let rendered = run.templar.render_value(v, scope)?;
            match rendered.kind() {
                ValueKind::Seq | ValueKind::Iterable => Ok(rendered.try_iter().map(|it| it.collect()).unwrap_or_default()),
                ValueKind::None | ValueKind::Undefined => Ok(Vec::new()),
                _ => Err(TemplateError::new(
                    drover_template::TemplateErrorKind::Runtime,
                    format!("Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.", display_value(&rendered)),
                )),
            }
        }
        LoopSpec::With { lookup, terms } => {
            if !lookup
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(TemplateError::new(
                    drover_template::TemplateErrorKind::Lookup,
                    format!("invalid lookup name in with_{lookup}"),
                ));
            }
            let rendered = run.templar.render_value(terms, scope)?;
            let mut locals = Vars::new();
            locals.insert("__drover_loop_terms".to_string(), rendered);
            let inner = Scope {
                vars: Arc::new(Layered {
                    top: locals,
                    rest: scope.vars.clone(),
                }),
                lookup: scope.lookup.clone(),
            };
            let v = run
                .templar
                .eval_expression(&format!("query('{lookup}', __drover_loop_terms)"), &inner)?;
            Ok(v.try_iter().map(|it| it.collect()).unwrap_or_default())
        }
    }
}

/// A small overlay of variables over another source.
struct Layered {
    top: Vars,
    rest: Arc<dyn VarSource>,
}

impl VarSource for Layered {
    fn get(&self, name: &str) -> Option<Value> {
        self.top.get(name).cloned().or_else(|| self.rest.get(name))
    }
    fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.top.keys().cloned().collect();
        n.extend(self.rest.names());
        n
    }
}

/// `None` when every `when` condition holds, else the first false condition's text.
fn conditions_hold(
    run: &RunShared,
    task: &Task,
    vars: &TaskVars,
) -> Result<Option<Value>, ItemResult> {
    if task.keywords.when.is_empty() {
        return Ok(None);
    }
    let scope = vars.scope();
    for cond in &task.keywords.when {
        match run.templar.eval_condition_value(cond, &scope) {
            Ok(true) => {}
            Ok(false) => return Ok(Some(cond.clone())),
            Err(e) => {
                return Err(ItemResult::failed(format!(
                    "The conditional check '{}' failed. The error was: {e}. The error appears to be in '{}'",
                    display_value(cond),
                    task.loc
                )))
            }
        }
    }
    Ok(None)
}

/// One invocation: `when`, then the action with `until`/`retries`, then
/// `changed_when`/`failed_when`.
async fn run_one(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    handler: bool,
) -> ItemResult {
    match conditions_hold(run, task, vars) {
        Ok(None) => {}
        Ok(Some(cond)) => return ItemResult::skipped("Conditional result was False", Some(cond)),
        Err(e) => return e,
    }
    let scope = vars.scope();
    let retries = match &task.until {
        Some(_) => match &task.retries {
            Some(r) => run
                .templar
                .render_value(r, &scope)
                .ok()
                .and_then(|v| {
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .unwrap_or(3)
                .max(0) as u64,
            None => 3,
        },
        None => 0,
    };
    let delay = task
        .delay
        .as_ref()
        .and_then(|d| run.templar.render_value(d, &scope).ok())
        // Fractional delays (`delay: 0.01`) are valid.
        .and_then(|v| {
            f64::try_from(v.clone())
                .ok()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .filter(|d| d.is_finite())
        .unwrap_or(5.0)
        .max(0.0);
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let mut r = run_action_timed(run, play, host, task, vars, handler).await;
        if r.status == Status::Unreachable || r.status == Status::Skipped {
            return r;
        }
        // As Ansible: `attempts` is there before changed_when/failed_when see the result.
        if task.until.is_some() && retries > 0 {
            r.result.insert("attempts".into(), Value::from(attempt));
        }
        apply_result_conditions(run, task, vars, &mut r);
        let Some(until) = &task.until else {
            return r;
        };
        let reg_vars = register_local(task, vars, &r);
        match run.templar.eval_condition_value(until, &reg_vars.scope()) {
            Ok(true) => return r,
            Ok(false) => {}
            Err(e) => return template_failure(task, "The conditional check in 'until' failed", &e),
        }
        if attempt > retries {
            // The result says failed, but as in Ansible a failed_when verdict decides whether
            // the host fails.
            match r.result.get("failed_when_result") {
                Some(v) if !v.is_true() => {
                    r.result.insert("failed".into(), Value::from(true));
                }
                _ => mark_failed(&mut r),
            }
            // Ansible reports the number of retries here, not the number of runs.
            if retries > 0 {
                r.result.insert("attempts".into(), Value::from(retries));
            }
            return r;
        }
        // The default callback's retry line, printed as it is.
        run.emit(Event::Verbose {
            message: format!(
                "FAILED - RETRYING: [{}]: {} ({} retries left).",
                host.name,
                task.display_name(),
                retries + 1 - attempt
            ),
            verbosity: 0,
        });
        tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    }
}

/// Variables with the task's registered name bound to `r`, for `changed_when`/`until`.
fn register_local(task: &Task, vars: &TaskVars, r: &ItemResult) -> TaskVars {
    let registered = r.registered();
    let mut v = vars.clone();
    let mut locals = (*vars.locals).clone();
    if let Some(name) = &task.register {
        locals.insert(name.clone(), registered.clone());
    }
    // Results are also reachable by their keys directly in until/changed_when in Ansible.
    for (k, val) in &r.result {
        if !locals.contains_key(k) && vars.get(k).is_none() {
            locals.insert(k.clone(), val.clone());
        }
    }
    v.locals = Arc::new(locals);
    v
}

fn apply_result_conditions(run: &RunShared, task: &Task, vars: &TaskVars, r: &mut ItemResult) {
    if task.changed_when.is_empty() && task.failed_when.is_empty() {
        return;
    }
    let reg_vars = register_local(task, vars, r);
    let scope = reg_vars.scope();
    // As Ansible: a conditional that cannot be evaluated fails the task but keeps the module's
    // result, with the error in `<keyword>_result`; failed_when is then not evaluated.
    let eval_all = |conds: &[Value], keyword: &str| -> Result<bool, String> {
        let mut all = true;
        for c in conds {
            match run.templar.eval_condition_value(c, &scope) {
                Ok(b) => all &= b,
                Err(e) => {
                    return Err(format!(
                        "Error while evaluating conditional '{}' in {keyword}: {e}",
                        display_value(c)
                    ))
                }
            }
        }
        Ok(all)
    };
    if !task.changed_when.is_empty() {
        match eval_all(&task.changed_when, "changed_when") {
            Ok(changed) => {
                if r.status == Status::Failed {
                    r.result.insert("changed".into(), Value::from(changed));
                } else {
                    r.status = if changed { Status::Changed } else { Status::Ok };
                }
            }
            Err(msg) => {
                r.result
                    .insert("changed_when_result".into(), Value::from(msg));
                mark_failed(r);
                return;
            }
        }
    }
    if !task.failed_when.is_empty() {
        match eval_all(&task.failed_when, "failed_when") {
            Ok(failed) => {
                r.result
                    .insert("failed_when_result".into(), Value::from(failed));
                if failed {
                    mark_failed(r);
                } else if r.status == Status::Failed {
                    r.result.shift_remove("exception");
                    r.result.insert(
                        "failed_when_suppressed_exception".into(),
                        Value::from(TRACEBACK_UNAVAILABLE),
                    );
                    r.status = if r.result.get("changed").is_some_and(Value::is_true) {
                        Status::Changed
                    } else {
                        Status::Ok
                    };
                }
            }
            Err(msg) => {
                r.result
                    .insert("failed_when_result".into(), Value::from(msg));
                mark_failed(r);
            }
        }
    }
}

/// Fails a result, keeping whether it changed something (the status alone cannot say both).
fn mark_failed(r: &mut ItemResult) {
    if r.status == Status::Changed {
        r.result.insert("changed".into(), Value::from(true));
    }
    r.status = Status::Failed;
}

/// Templates a task's arguments for a module or action.
pub fn template_args(
    run: &RunShared,
    task: &Task,
    vars: &TaskVars,
    free_form: bool,
) -> Result<IndexMap<String, Value>, String> {
    let TaskKind::Action { args, .. } = &task.kind else {
        return Ok(IndexMap::new());
    };
    let scope = vars.scope();
    let raw: IndexMap<String, Value> = match args {
        // `add_host: '{{ host_data }}'`: the whole argument mapping from one expression.
        Args::Free(s) if !free_form && is_single_expression(s) => {
            let v = run
                .templar
                .render_str(s.trim(), &scope)
                .map_err(|e| format!("{e}. The error appears to be in '{}'", task.loc))?;
            if v.kind() != ValueKind::Map {
                return Err(format!(
                    "the arguments of '{}' must be a mapping, '{}' gave {}",
                    task.module().unwrap_or_default(),
                    s.trim(),
                    display_value(&v)
                ));
            }
            v.try_iter()
                .map(|keys| {
                    keys.map(|k| {
                        let item = v.get_item(&k).unwrap_or(Value::UNDEFINED);
                        (display_value(&k), item)
                    })
                    .collect()
                })
                .unwrap_or_default()
        }
        Args::Free(s) => parse_kv(s, free_form)
            .map_err(|e| format!("{e} (in '{}')", task.loc))?
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect(),
        Args::Map(m) => {
            let mut out: IndexMap<String, Value> = m.clone();
            if let Some(ff) = out.shift_remove("_free_form") {
                let parsed = parse_kv(ff.as_str().unwrap_or_default(), free_form)?;
                for (k, v) in parsed {
                    out.entry(k).or_insert(Value::from(v));
                }
            }
            out
        }
    };
    let mut out = IndexMap::with_capacity(raw.len());
    // module_defaults apply under the task's own arguments.
    if let Some(module) = task.module() {
        // `service` runs the host's service manager module, and Ansible's action applies that
        // module's defaults too, under the task's (and `service`'s own) defaults.
        let mut names = Vec::new();
        if !task.keywords.module_defaults.is_empty()
            && drover_modules::canonical_name(module) == "service"
        {
            let mgr = run
                .templar
                .render_str("{{ ansible_facts.service_mgr | default('') }}", &scope)
                .map(|v| display_value(&v))
                .unwrap_or_default();
            if mgr == "systemd" {
                names.push("systemd".to_string());
            }
        }
        names.push(drover_modules::canonical_name(module).to_string());
        for md in &task.keywords.module_defaults {
            let md = run
                .templar
                .render_value(md, &scope)
                .map_err(|e| e.to_string())?;
            let keys = names.iter().flat_map(|n| {
                [
                    n.clone(),
                    format!("ansible.builtin.{n}"),
                    format!("ansible.legacy.{n}"),
                ]
            });
            for key in keys {
                if let Ok(defaults) = md.get_attr(&key) {
                    if let Ok(keys) = defaults.try_iter() {
                        for k in keys {
                            let v = defaults.get_item(&k).unwrap_or(Value::UNDEFINED);
                            out.insert(display_value(&k), v);
                        }
                    }
                }
            }
        }
    }
    for (k, v) in raw {
        let rendered = run
            .templar
            .render_value(&v, &scope)
            .map_err(|e| format!("{e}. The error appears to be in '{}'", task.loc))?;
        // Keys may be templated too (`set_fact: {"{{ name }}": value}`).
        let key = if k.contains("{{") {
            let rk = run
                .templar
                .render_str(&k, &scope)
                .map_err(|e| format!("{e}. The error appears to be in '{}'", task.loc))?;
            if rk.as_str().is_none() && task.module() == Some("set_fact") {
                return Err(format!(
                    "Invalid variable name '{}' of type '{}'. {VAR_NAME_RULE}",
                    display_value(&rk),
                    py_type_name(&rk)
                ));
            }
            display_value(&rk)
        } else {
            k
        };
        out.insert(key, rendered);
    }
    out.retain(|_, v| v.as_str() != Some(drover_template::OMIT));
    Ok(out)
}

/// Python's name for the type of a value, as Ansible's messages show it.
fn py_type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Bool => "bool",
        ValueKind::Number if v.as_i64().is_some() => "int",
        ValueKind::Number => "float",
        ValueKind::None | ValueKind::Undefined => "NoneType",
        ValueKind::String => "str",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// Ansible's explanation after an invalid variable name.
pub(crate) const VAR_NAME_RULE: &str = "Variable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores.";

/// Whether `s` is exactly one `{{ ... }}` expression.
fn is_single_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("{{") && t.ends_with("}}") && t[2..].find("}}") == Some(t.len() - 4)
}

/// `run_action` under the task's `timeout` keyword: past it, the task fails as Ansible's
/// does (`Timed out after N second(s).`, `timedout.period`), and the programs it runs on the
/// host are killed at the same deadline (`deadline.rs`).
async fn run_action_timed(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    handler: bool,
) -> ItemResult {
    let seconds = match &task.keywords.timeout {
        None => None,
        Some(v) => match run.templar.render_value(v, &vars.scope()) {
            Ok(r) => match r
                .as_i64()
                .or_else(|| display_value(&r).trim().parse::<i64>().ok())
            {
                // As Ansible: 0 means none; negative or absurdly long values are refused.
                Some(0) => None,
                Some(n) if !(1..=100_000_000).contains(&n) => {
                    return ItemResult::failed(format!("Timeout {n} is invalid."))
                }
                Some(n) => u64::try_from(n).ok(),
                None => {
                    return ItemResult::failed(format!(
                        "The value '{}' could not be converted to 'int'.",
                        display_value(&r)
                    ))
                }
            },
            Err(e) => return template_failure(task, "timeout", &e),
        },
    };
    let Some(seconds) = seconds else {
        return run_action(run, play, host, task, vars, handler).await;
    };
    let limit = std::time::Duration::from_secs(seconds);
    let action = crate::deadline::scope(
        std::time::Instant::now() + limit,
        run_action(run, play, host, task, vars, handler),
    );
    match tokio::time::timeout(limit, action).await {
        Ok(r) => r,
        Err(_) => {
            let mut r = ItemResult::failed(format!("Timed out after {seconds} second(s)."));
            r.result.insert(
                "timedout".into(),
                Value::from_pairs([("period", Value::from(seconds))]),
            );
            r
        }
    }
}

/// Runs the task's action once (no loop, no conditions).
async fn run_action(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    handler: bool,
) -> ItemResult {
    match &task.kind {
        TaskKind::IncludeTasks { file, params, .. } => {
            return actions::include_tasks(run, task, vars, file, params, handler);
        }
        TaskKind::IncludeRole(inc) => {
            return actions::include_role(run, play, task, vars, inc);
        }
        TaskKind::Action { .. } => {}
        _ => return ItemResult::ok(IndexMap::new()),
    }
    // `action: {module: "{{ name }}"}`: the module is chosen per host at run time.
    let resolved;
    let task = match task.module() {
        Some(m) if m.contains("{{") => {
            let name = match run.templar.render_str(m, &vars.scope()) {
                Ok(v) => display_value(&v),
                Err(e) => return template_failure(task, "action", &e),
            };
            let mut t = task.clone();
            if let TaskKind::Action { module, .. } = &mut t.kind {
                *module = drover_modules::canonical_name(&name).to_string();
            }
            resolved = t;
            &resolved
        }
        _ => task,
    };
    let module = task.module().unwrap_or_default();
    let (async_val, poll) = match jobs::settings(run, task, vars) {
        Ok(s) => s,
        Err(e) => return ItemResult::failed(e),
    };
    if async_val > 0 && !jobs::supports_async(module) {
        return ItemResult::failed(format!("This action ({module}) does not support async."));
    }
    // Boolean keywords must read as booleans: `diff: yes.` fails the task, as in Ansible.
    for v in [&task.keywords.check_mode, &task.keywords.diff]
        .into_iter()
        .flatten()
    {
        if let Err(msg) = strict_bool(run, vars, v) {
            return ItemResult::failed(msg);
        }
    }
    if actions::is_controller_action(module) {
        return actions::run(run, play, host, task, vars, handler).await;
    }
    let Some(m) = run.registry.get(module) else {
        return ItemResult::failed(format!("couldn't resolve module/action '{module}'"));
    };
    let spec = m.spec();
    let raw = match template_args(run, task, vars, spec.free_form) {
        Ok(a) => a,
        Err(e) => return ItemResult::failed(e),
    };
    let args: ModArgs = match spec.validate(&raw) {
        Ok(a) => a,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let check = check_mode_of(run, vars, task);
    if check && !spec.check_mode {
        let mut r = ItemResult::skipped("check mode not supported by this module", None);
        r.result.insert(
            "msg".into(),
            Value::from("This module does not support check mode"),
        );
        return r;
    }
    let diff = match task.keywords.diff.as_ref() {
        Some(v) => eval_bool_kw(run, vars, Some(v)).unwrap_or(run.options.diff),
        None => run.options.diff,
    };
    let target = match connect(run, host, task, vars).await {
        Ok(t) => t,
        Err(HostError::Unreachable(msg)) => return ItemResult::unreachable(msg),
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let env = match environment(run, task, vars) {
        Ok(e) => e,
        Err(e) => return template_failure(task, "environment", &e),
    };
    let controller = TaskController::new(run.clone(), vars.clone(), task);
    if async_val > 0 {
        let async_dir = match jobs::async_dir(run, vars) {
            Ok(d) => d,
            Err(e) => return ItemResult::failed(e),
        };
        let inv = jobs::Invocation {
            run: run.clone(),
            module: module.to_string(),
            raw,
            args,
            target,
            controller,
            check,
            diff,
            env,
            async_dir,
        };
        return jobs::run(inv, async_val, poll).await;
    }
    let ctx = Context {
        host: target.as_ref(),
        controller: &controller,
        check,
        diff,
        env,
    };
    let outcome = drover_modules::run_module(m, &args, &ctx).await;
    match outcome {
        Ok(o) => {
            let facts = o.data.get("ansible_facts").cloned();
            let mut r = ItemResult::from_outcome(o);
            r.result
                .entry("invocation".into())
                .or_insert_with(|| args.invocation(spec));
            if let Some(facts) = facts {
                let target = facts_host(run, host, task, vars);
                store_facts(&target, &facts);
                run.persist_facts(&target);
            }
            r
        }
        Err(ModuleError::Host(HostError::Unreachable(msg))) => ItemResult::unreachable(msg),
        Err(e) => ItemResult::failed(e.to_string()),
    }
}

/// The task's `environment:` (play, block and task levels, inner ones win), templated.
fn environment(
    run: &RunShared,
    task: &Task,
    vars: &TaskVars,
) -> Result<std::collections::BTreeMap<String, String>, TemplateError> {
    let mut env = std::collections::BTreeMap::new();
    if task.keywords.environment.is_empty() {
        return Ok(env);
    }
    let scope = vars.scope();
    for level in &task.keywords.environment {
        add_environment(run, task, &scope, level, &mut env)?;
    }
    Ok(env)
}

/// Adds one `environment:` value: a mapping (each value templated on its own), a list of
/// them merged in order, or a template that renders to either.
fn add_environment(
    run: &RunShared,
    task: &Task,
    scope: &drover_template::Scope,
    level: &Value,
    env: &mut std::collections::BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    use minijinja::value::ValueKind;
    match level.kind() {
        ValueKind::Seq => {
            for item in level.try_iter().into_iter().flatten() {
                add_environment(run, task, scope, &item, env)?;
            }
        }
        ValueKind::Map => {
            for k in level.try_iter().into_iter().flatten() {
                let raw = level.get_item(&k).unwrap_or(Value::UNDEFINED);
                let v = match run.templar.render_value(&raw, scope) {
                    Ok(v) => v,
                    // As Ansible: a variable needing the `env` facts is left out rather than
                    // failing the task (fact gathering is what provides them).
                    Err(e)
                        if e.kind == drover_template::TemplateErrorKind::Undefined
                            && (e.message.contains("ansible_env")
                                || (matches!(task.module(), Some("setup" | "gather_facts"))
                                    && e.message.contains("ansible_facts.env"))) =>
                    {
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if v.is_undefined() || v.as_str() == Some(drover_template::OMIT) {
                    continue;
                }
                env.insert(display_value(&k), display_value(&v));
            }
        }
        _ => {
            // A template: what it renders to is data, not templated again.
            let rendered = run.templar.render_value(level, scope)?;
            let maps: Vec<Value> = match rendered.kind() {
                ValueKind::Seq => rendered
                    .try_iter()
                    .map(Iterator::collect)
                    .unwrap_or_default(),
                _ => vec![rendered],
            };
            for map in maps.iter().filter(|m| m.kind() == ValueKind::Map) {
                for k in map.try_iter().into_iter().flatten() {
                    let v = map.get_item(&k).unwrap_or(Value::UNDEFINED);
                    if !v.is_undefined() && v.as_str() != Some(drover_template::OMIT) {
                        env.insert(display_value(&k), display_value(&v));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Where a task's facts land: the delegated host under `delegate_facts: true`, else the host
/// the task runs for (Ansible's default, even when delegated).
pub fn facts_host(
    run: &RunShared,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
) -> Arc<HostCtx> {
    let Some(delegate) = &task.keywords.delegate_to else {
        return host.clone();
    };
    if !eval_bool_kw(run, vars, task.keywords.delegate_facts.as_ref()).unwrap_or(false) {
        return host.clone();
    }
    match run.templar.render_value(delegate, &vars.scope()) {
        Ok(v) if display_value(&v) != host.name => run.host(&display_value(&v)),
        _ => host.clone(),
    }
}

/// Stores `ansible_facts` returned by a module: keys lose their `ansible_` prefix.
pub fn store_facts(host: &HostCtx, facts: &Value) {
    let Ok(keys) = facts.try_iter() else { return };
    let mut state = host.write();
    for k in keys {
        let Some(name) = k.as_str() else { continue };
        let v = facts.get_item(&k).unwrap_or(Value::UNDEFINED);
        state.set_fact_named(name, v);
    }
}

/// Opens the connection for a task (delegation and become included).
pub async fn connect(
    run: &Arc<RunShared>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
) -> Result<Arc<dyn drover_host::Host>, HostError> {
    let scope = vars.scope();
    let delegate = match &task.keywords.delegate_to {
        Some(d) => {
            let v = run
                .templar
                .render_value(d, &scope)
                .map_err(|e| HostError::Unsupported(format!("delegate_to: {e}")))?;
            Some(display_value(&v))
        }
        None => None,
    };
    let conn_vars = match &delegate {
        Some(d) if d != &host.name => {
            let target = run.host(d);
            let mut tv = TaskVars::new(run.clone(), target, vars.play.clone());
            tv.scopes = vars.scopes.clone();
            tv
        }
        _ => vars.clone(),
    };
    let info = connection_info(run, &conn_vars, task)?;
    let become_ = become_info(run, vars, task)?;
    let target = run.connector.host(&info, become_.as_ref()).await?;
    Ok(crate::deadline::bound(target))
}

pub(crate) fn var_string(
    run: &RunShared,
    vars: &TaskVars,
    names: &[&str],
) -> Result<Option<String>, HostError> {
    for n in names {
        if let Some(v) = vars.get(n) {
            let v = run
                .templar
                .render_value(&v, &vars.scope())
                .map_err(|e| HostError::Unsupported(format!("{n}: {e}")))?;
            if v.is_none() || v.is_undefined() {
                continue;
            }
            return Ok(Some(display_value(&v)));
        }
    }
    Ok(None)
}

/// Whether `task` runs in check mode: its `check_mode` keyword, else the run's `--check`.
pub(crate) fn check_mode_of(run: &RunShared, vars: &TaskVars, task: &Task) -> bool {
    match task.keywords.check_mode.as_ref() {
        Some(v) => eval_bool_kw(run, vars, Some(v)).unwrap_or(run.options.check),
        None => run.options.check,
    }
}

pub fn connection_info(
    run: &RunShared,
    vars: &TaskVars,
    task: &Task,
) -> Result<ConnectionInfo, HostError> {
    let name = vars.host.name.clone();
    let kind = match &task.keywords.connection {
        Some(c) => Some(display_value(
            &run.templar
                .render_value(c, &vars.scope())
                .map_err(|e| HostError::Unsupported(e.to_string()))?,
        )),
        None => var_string(run, vars, &["ansible_connection"])?,
    };
    let implicit_local =
        (name == "localhost" || name == "127.0.0.1") && vars.get("ansible_host").is_none();
    let kind = kind.unwrap_or_else(|| {
        if implicit_local {
            "local".into()
        } else {
            "ssh".into()
        }
    });
    // Connection variables (inventory `ansible_user`, ...) win over the `remote_user`
    // keyword, as in Ansible.
    let user = match var_string(run, vars, &["ansible_user", "ansible_ssh_user"])? {
        Some(u) => Some(u),
        None => match &task.keywords.remote_user {
            Some(u) => Some(display_value(
                &run.templar
                    .render_value(u, &vars.scope())
                    .map_err(|e| HostError::Unsupported(e.to_string()))?,
            )),
            None => run.options.remote_user.clone(),
        },
    };
    let port = var_string(run, vars, &["ansible_port", "ansible_ssh_port"])?
        .map(|p| {
            p.parse::<u16>().map_err(|_| {
                HostError::Unsupported(format!("ansible_port: '{p}' is not a port number"))
            })
        })
        .transpose()?;
    let host_key_checking = var_string(
        run,
        vars,
        &["ansible_host_key_checking", "ansible_ssh_host_key_checking"],
    )?
    .and_then(|s| drover_modules::args::to_bool(&Value::from(s)))
    .or(run.options.host_key_checking);
    Ok(ConnectionInfo {
        address: var_string(run, vars, &["ansible_host", "ansible_ssh_host"])?
            .unwrap_or_else(|| name.clone()),
        host: name,
        kind,
        port,
        user,
        private_key_file: var_string(
            run,
            vars,
            &["ansible_ssh_private_key_file", "ansible_private_key_file"],
        )?
        .or_else(|| run.options.private_key_file.clone()),
        ssh_common_args: match (
            run.options.ssh_args.as_deref(),
            var_string(run, vars, &["ansible_ssh_common_args"])?
                .or_else(|| run.options.ssh_common_args.clone()),
        ) {
            (Some(cfg), Some(host)) => Some(format!("{cfg} {host}")),
            (Some(cfg), None) => Some(cfg.to_string()),
            (None, host) => host,
        },
        ssh_extra_args: var_string(run, vars, &["ansible_ssh_extra_args"])?
            .or_else(|| run.options.ssh_extra_args.clone()),
        host_key_checking,
        timeout: var_string(run, vars, &["ansible_timeout", "ansible_ssh_timeout"])?
            .and_then(|t| t.parse().ok())
            .or(run.options.timeout),
        sim_latency_ms: var_string(run, vars, &["drover_sim_latency_ms"])?
            .and_then(|t| t.parse().ok()),
    })
}

fn become_info(
    run: &RunShared,
    vars: &TaskVars,
    task: &Task,
) -> Result<Option<BecomeInfo>, HostError> {
    let err = |e: TemplateError| HostError::Unsupported(format!("become: {e}"));
    let enabled = match &task.keywords.become_ {
        Some(v) => eval_bool_kw(run, vars, Some(v)).map_err(err)?,
        None => match var_string(run, vars, &["ansible_become"])? {
            Some(s) => drover_modules::args::to_bool(&Value::from(s)).unwrap_or(false),
            None => run.options.become_,
        },
    };
    if !enabled {
        return Ok(None);
    }
    let kw = |v: &Option<Value>| -> Result<Option<String>, HostError> {
        match v {
            Some(v) => Ok(Some(display_value(
                &run.templar.render_value(v, &vars.scope()).map_err(err)?,
            ))),
            None => Ok(None),
        }
    };
    let user = kw(&task.keywords.become_user)?
        .or(var_string(run, vars, &["ansible_become_user"])?)
        .or_else(|| run.options.become_user.clone())
        .unwrap_or_else(|| "root".into());
    let method = kw(&task.keywords.become_method)?
        .or(var_string(run, vars, &["ansible_become_method"])?)
        .or_else(|| run.options.become_method.clone())
        .unwrap_or_else(|| "sudo".into());
    Ok(Some(BecomeInfo {
        method,
        user,
        password: var_string(
            run,
            vars,
            &["ansible_become_password", "ansible_become_pass"],
        )?
        .or_else(|| run.options.become_password.clone()),
        flags: kw(&task.keywords.become_flags)?.or(var_string(
            run,
            vars,
            &["ansible_become_flags"],
        )?),
        exe: kw(&task.keywords.become_exe)?.or(var_string(run, vars, &["ansible_become_exe"])?),
    }))
}

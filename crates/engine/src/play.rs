//! Running plays: host selection, batches (`serial`), fact gathering, the linear and free
//! strategies, handlers, failure thresholds, and the recap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use drover_playbook::{Args, Keywords, Play, Playbook, Serial, Strategy, Task, TaskKind, TaskList};
use minijinja::Value;
use tokio::sync::Semaphore;

use crate::cursor::{Cursor, FailOutcome, TaskRef};
use crate::event::{Event, HostStats};
use crate::exec::{display_value, run_task, Flow, Meta};
use crate::state::{HostCtx, PlayCtx, RunShared};
use crate::vars::TaskVars;

/// The result of a whole run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub stats: Vec<(String, HostStats)>,
    pub exit_code: i32,
    pub interrupted: bool,
}

/// Runs every play of the playbook, then emits the recap.
pub async fn run_playbook(run: Arc<RunShared>, playbook: &Playbook) -> RunSummary {
    run.emit(Event::RunStarted {
        playbook: playbook.path.display().to_string(),
        check: run.options.check,
        plays: playbook.plays.len(),
    });
    let started = Arc::new(AtomicBool::new(run.options.start_at_task.is_none()));
    let mut seen_hosts: Vec<String> = Vec::new();
    // Hosts that failed or became unreachable stay out of the later plays.
    let mut failed_hosts: Vec<String> = Vec::new();
    for play in &playbook.plays {
        if run.is_interrupted() {
            break;
        }
        let hosts = match play_hosts(&run, play) {
            Ok(h) => h,
            Err(msg) => {
                run.emit(Event::PlayStarted {
                    name: play_name(play),
                    hosts: Vec::new(),
                });
                run.emit(Event::Warning { message: msg });
                continue;
            }
        };
        for h in &hosts {
            if !seen_hosts.contains(h) {
                seen_hosts.push(h.clone());
            }
        }
        if run_play(&run, play, hosts, &started, &mut failed_hosts).await {
            // A batch in which every host failed ends the playbook (Ansible).
            break;
        }
    }
    run.connector.close_all().await;
    for w in run.connector.take_warnings() {
        run.emit(Event::Warning { message: w });
    }
    let stats: Vec<(String, HostStats)> = seen_hosts
        .iter()
        .map(|h| (h.clone(), run.host(h).stats()))
        .collect();
    let interrupted = run.is_interrupted();
    // ansible-playbook: 99 when the user interrupted, else 4 for unreachable hosts before 2
    // for failed ones. A host counts as failed by its state at the end, not by its counters:
    // `meta: clear_host_errors` forgives earlier failures.
    let exit_code = if interrupted {
        99
    } else if stats.iter().any(|(_, s)| s.unreachable > 0) {
        4
    } else if !failed_hosts.is_empty() {
        2
    } else {
        0
    };
    run.emit(Event::Recap {
        hosts: stats.clone(),
    });
    if let Some(custom) = run.custom_stats.event() {
        run.emit(custom);
    }
    run.emit(Event::RunFinished {
        exit_code,
        interrupted,
    });
    RunSummary {
        stats,
        exit_code,
        interrupted,
    }
}

fn play_name(play: &Play) -> String {
    play.name
        .clone()
        .unwrap_or_else(|| display_value(&play.hosts))
}

/// The hosts a play targets: its pattern, intersected with `--limit`.
pub fn play_hosts(run: &Arc<RunShared>, play: &Play) -> Result<Vec<String>, String> {
    let vars = TaskVars::new(run.clone(), run.host("localhost"), None);
    let pattern = run
        .templar
        .render_value(&play.hosts, &vars.scope())
        .map_err(|e| format!("{}: hosts: {e}", play.loc))?;
    // A template may give a list of patterns (`hosts: "{{ targets }}"`).
    let pattern = match pattern.kind() {
        minijinja::value::ValueKind::Seq => pattern
            .try_iter()
            .map(|items| {
                items
                    .map(|i| display_value(&i))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        _ => display_value(&pattern),
    };
    let mut hosts = run.hosts_matching(&pattern)?;
    if let Some(limit) = &run.options.limit {
        hosts = run.inventory.limit(&hosts, limit)?;
    }
    let order = match &play.order {
        Some(o) => Some(
            run.templar
                .render_str(o, &vars.scope())
                .map(|v| display_value(&v))
                .map_err(|e| format!("{}: order: {e}", play.loc))?,
        ),
        None => None,
    };
    match order.as_deref() {
        None | Some("inventory") => {}
        Some("reverse_inventory") => hosts.reverse(),
        Some("sorted") => hosts.sort(),
        Some("reverse_sorted") => {
            hosts.sort();
            hosts.reverse()
        }
        Some("shuffle") => shuffle(&mut hosts),
        Some(other) => {
            return Err(format!(
                "{}: order: {other:?} is not one of inventory, reverse_inventory, sorted, reverse_sorted, shuffle",
                play.loc
            ))
        }
    }
    Ok(hosts)
}

/// Fisher-Yates with the system's random source.
fn shuffle(items: &mut [String]) {
    for i in (1..items.len()).rev() {
        let mut buf = [0u8; 8];
        if getrandom::fill(&mut buf).is_err() {
            return;
        }
        let j = (u64::from_le_bytes(buf) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Runs one play; true when the playbook must stop because a whole batch failed.
async fn run_play(
    run: &Arc<RunShared>,
    play: &Arc<Play>,
    hosts: Vec<String>,
    started: &Arc<AtomicBool>,
    failed_hosts: &mut Vec<String>,
) -> bool {
    run.emit(Event::PlayStarted {
        name: play_name(play),
        hosts: hosts.clone(),
    });
    if hosts.is_empty() {
        run.emit(Event::Warning {
            message: "skipping: no hosts matched".to_string(),
        });
        return false;
    }
    let private = run.options.private_role_vars.unwrap_or(false);
    let ctx = Arc::new(PlayCtx::new(play.clone(), hosts.clone(), private));
    for h in hosts.iter().filter(|h| failed_hosts.contains(h)) {
        ctx.mark_failed(h);
    }
    let mut stop = false;
    if let Some(expr) = &play.strategy_expr {
        let vars = TaskVars::new(run.clone(), run.host(&hosts[0]), Some(ctx.clone()));
        let name = run
            .templar
            .render_value(expr, &vars.scope())
            .map(|v| display_value(&v));
        match name.as_deref().map(Strategy::parse) {
            Ok(Some(s)) => ctx.set_strategy(s),
            Ok(None) | Err(_) => {
                run.emit(Event::Warning {
                    message: format!(
                        "{}: strategy '{}' is not one of linear, free, host_pinned; using linear",
                        play.loc,
                        name.unwrap_or_else(|e| e.to_string())
                    ),
                });
            }
        }
    }
    for batch in batches(&hosts, &play.serial) {
        if run.is_interrupted() {
            break;
        }
        ctx.set_batch(batch.clone());
        let outcome = run_batch(run, &ctx, &batch, started).await;
        if outcome == BatchOutcome::EndPlay {
            break;
        }
        // A batch in which every host failed in this play ends the playbook (Ansible).
        if batch
            .iter()
            .all(|h| ctx.is_failed(h) && !failed_hosts.contains(h))
        {
            stop = true;
            break;
        }
        if let Some(max) = play.max_fail_percentage {
            let failed = batch.iter().filter(|h| ctx.is_failed(h)).count();
            if (failed as f64) * 100.0 / (batch.len() as f64) > max {
                stop = true;
                break;
            }
        }
    }
    for h in &hosts {
        if ctx.is_failed(h) && !failed_hosts.contains(h) {
            failed_hosts.push(h.clone());
        }
    }
    stop
}

/// Splits hosts per `serial` (the last size repeats).
fn batches(hosts: &[String], serial: &[Serial]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < hosts.len() {
        let spec = &serial[k.min(serial.len() - 1)];
        let size = match spec {
            Serial::Count(0) => hosts.len(),
            Serial::Count(n) => *n as usize,
            Serial::Percent(p) => ((hosts.len() as f64) * p / 100.0).floor().max(1.0) as usize,
        };
        let end = (i + size).min(hosts.len());
        out.push(hosts[i..end].to_vec());
        i = end;
        k += 1;
    }
    out
}

#[derive(PartialEq, Eq)]
enum BatchOutcome {
    Continue,
    EndPlay,
}

async fn run_batch(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    batch: &[String],
    started: &Arc<AtomicBool>,
) -> BatchOutcome {
    let play = &ctx.play;
    // vars_files are per host (their names may use host variables).
    for h in batch {
        let host = run.host(h);
        // Roles included publicly in an earlier play are not this play's.
        host.write().public_roles.clear();
        if let Err(msg) = load_vars_files(run, ctx, &host) {
            run.emit(Event::Warning {
                message: msg.clone(),
            });
            host.count(|s| s.failed += 1);
            ctx.mark_failed(h);
        }
    }
    let gather = match &play.gather_facts {
        Some(v) => {
            let vars = TaskVars::new(run.clone(), run.host(&batch[0]), Some(ctx.clone()));
            crate::exec::eval_bool_kw(run, &vars, Some(v)).unwrap_or(true)
        }
        None => run.options.gather_facts,
    };
    if gather {
        let setup = Arc::new(vec![gather_task(play)]);
        let outcome = run_section(run, ctx, batch, &[setup], started, true).await;
        if outcome == BatchOutcome::EndPlay {
            return outcome;
        }
    }
    let sections: [Vec<TaskList>; 3] = [
        vec![play.pre_tasks.clone()],
        vec![play.roles.clone(), play.tasks.clone()],
        vec![play.post_tasks.clone()],
    ];
    for section in sections {
        let outcome = run_section(run, ctx, batch, &section, started, false).await;
        // The implicit flush at a section's end, announced as Ansible announces its implicit
        // meta task. No cursor is left to hand a handler failure to: the host is already
        // marked failed.
        for h in batch.iter().filter(|h| ctx.has_notifications(h)) {
            run.emit(Event::Verbose {
                message: format!("META: triggered running handlers for {h}"),
                verbosity: 2,
            });
        }
        flush_handlers(run, ctx, batch).await;
        if outcome == BatchOutcome::EndPlay || run.is_interrupted() {
            return BatchOutcome::EndPlay;
        }
    }
    BatchOutcome::Continue
}

fn gather_task(play: &Play) -> Task {
    Task {
        loc: play.loc.clone(),
        name: Some("Gathering Facts".to_string()),
        kind: TaskKind::Action {
            module: "setup".to_string(),
            args: Args::Map(
                play.fact_path
                    .iter()
                    .map(|p| ("fact_path".to_string(), p.clone()))
                    .collect(),
            ),
            args_loc: play.loc.clone(),
        },
        keywords: Keywords {
            tags: vec!["always".to_string()],
            ..play.keywords.clone()
        },
        register: None,
        loop_: None,
        loop_control: None,
        until: None,
        retries: None,
        delay: None,
        changed_when: Vec::new(),
        failed_when: Vec::new(),
        notify: Vec::new(),
        listen: Vec::new(),
        async_: None,
        poll: None,
        role: None,
    }
}

fn load_vars_files(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
) -> Result<(), String> {
    let play = &ctx.play;
    let mut loaded = drover_playbook::Vars::new();
    if !play.vars_files.is_empty() {
        let vars = TaskVars::new(run.clone(), host.clone(), Some(ctx.clone()));
        let scope = vars.scope();
        for entry in &play.vars_files {
            // A list entry means "the first of these files that exists".
            let candidates: Vec<Value> = if entry.as_str().is_some() {
                vec![entry.clone()]
            } else {
                entry.try_iter().map(|i| i.collect()).unwrap_or_default()
            };
            let mut found = None;
            for c in &candidates {
                let name = run
                    .templar
                    .render_value(c, &scope)
                    .map_err(|e| format!("{}: vars_files: {e}", play.loc))?;
                let name = display_value(&name);
                let path = if std::path::Path::new(&name).is_absolute() {
                    std::path::PathBuf::from(&name)
                } else {
                    play.dir.join(&name)
                };
                if path.is_file() {
                    found = Some(path);
                    break;
                }
            }
            let Some(path) = found else {
                return Err(format!(
                    "{}: vars_files: could not find any of {}",
                    play.loc,
                    candidates
                        .iter()
                        .map(display_value)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            let vars = drover_playbook::load_play_vars_file(&path).map_err(|e| e.to_string())?;
            loaded.extend(vars);
        }
    }
    host.write().vars_files = loaded;
    Ok(())
}

/// The host pattern of a play as written.
pub fn display_hosts(hosts: &Value) -> String {
    display_value(hosts)
}

/// Whether a task with these (templated) tags is selected by `--tags`/`--skip-tags`.
pub fn tags_selected(run: &RunShared, tags: &[String]) -> bool {
    tags_match(run, tags)
}

/// A task's tags with templates resolved, as Ansible filters tasks: with the play's variables
/// (no host's). A template giving a list adds each item.
pub fn task_tags(run: &Arc<RunShared>, play: &Arc<Play>, task: &Task) -> Vec<String> {
    let private = run.options.private_role_vars.unwrap_or(false);
    let ctx = Arc::new(PlayCtx::new(play.clone(), Vec::new(), private));
    task_tags_in(run, &ctx, task).into_owned()
}

fn task_tags_in<'t>(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    task: &'t Task,
) -> std::borrow::Cow<'t, [String]> {
    let tags = &task.keywords.tags;
    if !tags.iter().any(|t| t.contains("{{") || t.contains("{%")) {
        return std::borrow::Cow::Borrowed(tags);
    }
    let mut vars = TaskVars::new(run.clone(), run.host("localhost"), Some(ctx.clone()));
    vars.scopes = task.keywords.vars.clone();
    vars.role = task.role.clone();
    let scope = vars.scope();
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        let t = t.trim().to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    };
    for tag in tags {
        if !(tag.contains("{{") || tag.contains("{%")) {
            push(tag.clone());
            continue;
        }
        match run.templar.render_str(tag, &scope) {
            Ok(v) if v.kind() == minijinja::value::ValueKind::Seq => {
                for item in v.try_iter().into_iter().flatten() {
                    push(display_value(&item));
                }
            }
            // Unlike tags written as `a,b`, a templated string is one tag (as in Ansible).
            Ok(v) => push(display_value(&v)),
            // An unresolvable tag stays as written, as a tag nobody selects.
            Err(_) => push(tag.clone()),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether a task runs under `--tags`/`--skip-tags`, by Ansible's rules: no `--tags` means
/// `all`; `always` runs unless skipped by name; `never` only runs when named; a task without
/// tags is `untagged`.
fn tags_match(run: &RunShared, tags: &[String]) -> bool {
    let opts = &run.options;
    let untagged = ["untagged".to_string()];
    let tags: &[String] = if tags.is_empty() { &untagged } else { tags };
    let has = |t: &str| tags.iter().any(|x| x == t);
    let any_of = |set: &[String]| set.iter().any(|t| has(t));
    let only_all = opts.tags.is_empty() || opts.tags.iter().any(|t| t == "all");
    let only_has = |t: &str| opts.tags.iter().any(|x| x == t);
    let selected = has("always")
        || (only_all && !has("never"))
        || any_of(&opts.tags)
        || (only_has("tagged") && tags != untagged && !has("never"));
    if !selected || opts.skip_tags.is_empty() {
        return selected;
    }
    let skip_has = |t: &str| opts.skip_tags.iter().any(|x| x == t);
    if skip_has("all") {
        return has("always") && !skip_has("always");
    }
    !(any_of(&opts.skip_tags) || (skip_has("tagged") && tags != untagged))
}

/// The next task of a host that should run (skipping tasks filtered out by tags or
/// `--start-at-task`).
fn next_task(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    cursor: &mut Cursor,
    started: &AtomicBool,
    gather: bool,
) -> Option<TaskRef> {
    loop {
        let t = cursor.peek()?;
        let task = t.task();
        if !gather && !started.load(Ordering::SeqCst) {
            let wanted = run.options.start_at_task.as_deref().unwrap_or_default();
            let plain = task.name.as_deref().unwrap_or_default();
            if plain == wanted || task.display_name() == wanted {
                started.store(true, Ordering::SeqCst);
            } else {
                cursor.advance();
                continue;
            }
        }
        if !tags_match(run, &task_tags_in(run, ctx, task)) {
            cursor.advance();
            continue;
        }
        return Some(t);
    }
}

/// Runs task lists on a batch of hosts with the play's strategy.
async fn run_section(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    batch: &[String],
    lists: &[TaskList],
    started: &Arc<AtomicBool>,
    gather: bool,
) -> BatchOutcome {
    let active: Vec<String> = batch
        .iter()
        .filter(|h| !ctx.is_failed(h))
        .cloned()
        .collect();
    if active.is_empty() {
        return BatchOutcome::Continue;
    }
    match ctx.strategy() {
        Strategy::Linear => run_linear(run, ctx, &active, lists, started, gather).await,
        Strategy::Free | Strategy::HostPinned => {
            run_free(run, ctx, &active, lists, started, gather).await
        }
    }
}

struct HostRun {
    name: String,
    host: Arc<HostCtx>,
    cursor: Cursor,
    done: bool,
}

async fn run_linear(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    hosts: &[String],
    lists: &[TaskList],
    started: &Arc<AtomicBool>,
    gather: bool,
) -> BatchOutcome {
    let mut states: Vec<HostRun> = hosts
        .iter()
        .map(|h| HostRun {
            name: h.clone(),
            host: run.host(h),
            cursor: Cursor::new(lists),
            done: false,
        })
        .collect();
    let sem = Arc::new(Semaphore::new(run.options.forks.max(1)));
    loop {
        if run.is_interrupted() {
            return BatchOutcome::EndPlay;
        }
        // Find the next task: the first host's, and every host at the same task.
        let mut nexts: Vec<(usize, TaskRef)> = Vec::new();
        for (i, st) in states.iter_mut().enumerate() {
            if st.done {
                continue;
            }
            match next_task(run, ctx, &mut st.cursor, started, gather) {
                Some(t) => nexts.push((i, t)),
                None => st.done = true,
            }
            // Walking on may have finished an always section that re-raises a failure.
            if st.cursor.take_failed_after_always() {
                ctx.mark_failed(&st.name);
            }
        }
        // The task earliest in the play's order that some host is at, as Ansible's lockstep.
        let Some((_, first)) = nexts.iter().min_by(|a, b| a.1.order.cmp(&b.1.order)) else {
            return BatchOutcome::Continue;
        };
        let key = first.key();
        let group: Vec<(usize, TaskRef)> =
            nexts.into_iter().filter(|(_, t)| t.key() == key).collect();
        let task = group[0].1.task().clone();
        let meta_action = crate::meta::action(&task);
        let run_once = match &meta_action {
            Some(action) => !crate::meta::per_host(action),
            None => {
                let vars = TaskVars::new(
                    run.clone(),
                    states[group[0].0].host.clone(),
                    Some(ctx.clone()),
                );
                crate::exec::eval_bool_kw(run, &vars, task.keywords.run_once.as_ref())
                    .unwrap_or(false)
            }
        };
        let targets: Vec<(usize, TaskRef)> = if run_once {
            group.iter().take(1).cloned().collect()
        } else {
            group.clone()
        };
        let ran_before: Vec<u64> = states.iter().map(|st| st.host.tasks_ran()).collect();
        let mut flows: Vec<(usize, Flow)> = Vec::new();
        if meta_action.is_some() {
            // Ansible announces a meta task once per host it runs for.
            for (i, tref) in targets {
                emit_task_started(run, ctx, &states[i].host, &tref, false);
                flows.push((i, crate::meta::execute(run, ctx, &states[i].host, &tref)));
            }
        } else {
            emit_task_started(run, ctx, &states[group[0].0].host, &group[0].1, false);
            flows = run_group(run, ctx, &states, targets, &sem, &task).await;
        }
        if run_once {
            // The result of the one host stands for all hosts of the group.
            if let Some(reg) = &task.register {
                let first_host = &states[group[0].0].host;
                let value = first_host.read().set_facts.get(reg).cloned();
                if let Some(value) = value {
                    for (i, _) in group.iter().skip(1) {
                        states[*i]
                            .host
                            .write()
                            .set_facts
                            .insert(reg.clone(), value.clone());
                    }
                }
            }
            for (i, _) in group.iter().skip(1) {
                states[*i].cursor.advance();
            }
        }
        let mut flush = false;
        let mut end_play = false;
        let mut clear_errors = false;
        let mut clear_facts = false;
        // The first failure of this task, handed to the other hosts under any_errors_fatal.
        let mut failure: Option<(Value, Value)> = None;
        let mut failed_now: Vec<usize> = Vec::new();
        for (i, flow) in flows {
            let st = &mut states[i];
            st.cursor.advance();
            if st.host.tasks_ran() > ran_before[i] {
                st.cursor.note_ran();
            }
            match flow {
                Flow::Continue => {}
                Flow::Failed { task: t, result } => {
                    let t = failed_task_value(&task, t);
                    failed_now.push(i);
                    failure.get_or_insert_with(|| (t.clone(), result.clone()));
                    handle_failure(ctx, st, t, result);
                }
                Flow::Unreachable => {
                    failed_now.push(i);
                    failure.get_or_insert((Value::UNDEFINED, Value::UNDEFINED));
                    ctx.mark_failed(&st.name);
                    st.cursor.clear();
                    st.done = true;
                }
                Flow::Include(list) => st.cursor.push_includes(list),
                Flow::Meta(m) => match m {
                    Meta::FlushHandlers => flush = true,
                    Meta::EndHost => {
                        st.cursor.clear();
                        st.done = true;
                    }
                    Meta::EndPlay => end_play = true,
                    Meta::EndBatch => {
                        for s in states.iter_mut() {
                            s.cursor.clear();
                            s.done = true;
                        }
                        return BatchOutcome::Continue;
                    }
                    Meta::ClearHostErrors => clear_errors = true,
                    Meta::ResetConnection => run.connector.reset(&st.name).await,
                    // Ansible clears the facts of every host of the play.
                    Meta::ClearFacts => clear_facts = true,
                    Meta::RefreshInventory => {
                        if let Err(e) = run.refresh_inventory() {
                            run.emit(Event::Warning {
                                message: format!("refresh_inventory: {e}"),
                            });
                        }
                    }
                    Meta::EndRole => st.cursor.end_role(),
                    Meta::Noop => {}
                },
            }
            if st.cursor.take_failed_after_always() {
                ctx.mark_failed(&st.name);
                st.done = true;
            }
        }
        if clear_facts {
            for st in states.iter() {
                st.host.write().clear_facts();
            }
        }
        if clear_errors {
            for st in states.iter_mut() {
                ctx.clear_failed(&st.name);
                st.cursor.clear_errors();
            }
        }
        if end_play {
            return BatchOutcome::EndPlay;
        }
        // any_errors_fatal (and run_once, which Ansible treats alike): every other host fails
        // where it stands, so it still runs the rescue and always sections it is in.
        let ignore = {
            let vars = TaskVars::new(
                run.clone(),
                states[group[0].0].host.clone(),
                Some(ctx.clone()),
            );
            crate::exec::eval_bool_kw(run, &vars, task.keywords.ignore_errors.as_ref())
                .unwrap_or(false)
        };
        let fatal = !ignore
            && (run_once
                || ctx.play.any_errors_fatal
                || task
                    .keywords
                    .any_errors_fatal
                    .as_ref()
                    .is_some_and(|v| v.is_true()));
        if let (true, Some((t, r))) = (fatal, failure) {
            for (i, st) in states.iter_mut().enumerate() {
                if st.done || failed_now.contains(&i) {
                    continue;
                }
                if st.cursor.fail(t.clone(), r.clone()) == FailOutcome::Unhandled {
                    ctx.mark_failed(&st.name);
                    st.cursor.clear();
                    st.done = true;
                }
            }
        }
        if let Some(max) = ctx.play.max_fail_percentage {
            let failed = hosts.iter().filter(|h| ctx.is_failed(h)).count();
            if (failed as f64) * 100.0 / (hosts.len() as f64) > max {
                for st in states.iter() {
                    ctx.mark_failed(&st.name);
                }
                run.emit(Event::NoHostsRemaining);
                return BatchOutcome::EndPlay;
            }
        }
        if flush {
            let batch: Vec<String> = states.iter().map(|s| s.name.clone()).collect();
            let failures = flush_handlers(run, ctx, &batch).await;
            // A failed handler fails its host where the flush stood (its block's rescue and
            // always still run); under any_errors_fatal every other host stops too.
            let first = failures.first().map(|(_, t, r)| (t.clone(), r.clone()));
            for (name, t, r) in failures {
                if let Some(st) = states.iter_mut().find(|s| s.name == name) {
                    // Rescued, or waiting for an always section: not failed (yet).
                    if !handle_failure(ctx, st, t, r) {
                        ctx.clear_failed(&st.name);
                    }
                }
            }
            if let (true, Some((t, r))) = (ctx.play.any_errors_fatal, first) {
                for st in states.iter_mut().filter(|s| !s.done) {
                    if st.cursor.fail(t.clone(), r.clone()) == FailOutcome::Unhandled {
                        ctx.mark_failed(&st.name);
                        st.cursor.clear();
                        st.done = true;
                    }
                }
            }
        }
        if hosts.iter().all(|h| ctx.is_failed(h)) {
            return BatchOutcome::Continue;
        }
    }
}

/// The task's `throttle`, templated with `host`'s variables; `None` for no limit.
fn throttle_of(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
) -> Result<Option<usize>, String> {
    let Some(raw) = task.keywords.throttle.as_ref() else {
        return Ok(None);
    };
    let vars = TaskVars::new(run.clone(), host.clone(), Some(ctx.clone()));
    let value = run
        .templar
        .render_value(raw, &vars.scope())
        .map_err(|e| format!("Failed to convert the throttle value to an integer: {e}"))?;
    let n = match value.as_i64() {
        Some(n) => n,
        None => {
            let text = display_value(&value);
            text.trim().parse::<i64>().map_err(|_| {
                format!(
                    "Failed to convert the throttle value to an integer: invalid literal for int() with base 10: '{text}'"
                )
            })?
        }
    };
    Ok(usize::try_from(n).ok().filter(|n| *n > 0))
}

/// Runs one task on a group of hosts at once (forks, throttle); results in host order.
async fn run_group(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    states: &[HostRun],
    targets: Vec<(usize, TaskRef)>,
    sem: &Arc<Semaphore>,
    task: &Task,
) -> Vec<(usize, Flow)> {
    let first = targets.first().map(|(i, _)| states[*i].host.clone());
    let throttle = match first.map_or(Ok(None), |h| throttle_of(run, ctx, &h, task)) {
        Ok(t) => t.map(|n| Arc::new(Semaphore::new(n))),
        Err(msg) => {
            // A throttle that is not a number fails the task on every host it was for.
            return targets
                .iter()
                .map(|(i, _)| {
                    (
                        *i,
                        crate::meta::fail(run, &states[*i].host, task, msg.clone()),
                    )
                })
                .collect();
        }
    };
    let mut joins = tokio::task::JoinSet::new();
    for (i, tref) in targets {
        // Slots are taken here, in host order, before the host's task starts: with fewer
        // forks (or a throttle) than hosts, hosts start in inventory order, as in Ansible.
        let permit = sem.clone().acquire_owned().await;
        let slot = match &throttle {
            Some(t) => Some(t.clone().acquire_owned().await),
            None => None,
        };
        let (run, ctx, host) = (run.clone(), ctx.clone(), states[i].host.clone());
        joins.spawn(async move {
            let _held = (permit, slot);
            let flow = run_task(&run, &ctx, &host, &tref, false).await;
            (i, flow)
        });
    }
    let mut flows: Vec<(usize, Flow)> = Vec::new();
    while let Some(res) = joins.join_next().await {
        if let Ok(r) = res {
            flows.push(r);
        }
    }
    flows.sort_by_key(|(i, _)| *i);
    flows
}

/// `ansible_failed_task` as rescue sections see it: the task's own name (without the role
/// prefix of the display name) and its action.
fn failed_task_value(task: &Task, reported: Value) -> Value {
    let Some(name) = &task.name else {
        return reported;
    };
    let mut pairs: Vec<(Value, Value)> = reported
        .try_iter()
        .map(|keys| {
            keys.map(|k| {
                let v = reported.get_item(&k).unwrap_or(Value::UNDEFINED);
                (k, v)
            })
            .collect()
        })
        .unwrap_or_default();
    pairs.retain(|(k, _)| k.as_str() != Some("name"));
    pairs.push((Value::from("name"), Value::from(name.as_str())));
    Value::from_pairs(pairs)
}

/// Hands a task failure to the host's cursor; true when it ends the host's play.
fn handle_failure(ctx: &PlayCtx, st: &mut HostRun, task: Value, result: Value) -> bool {
    match st.cursor.fail(task, result) {
        FailOutcome::Rescued => {
            st.host.count(|s| {
                s.failed = s.failed.saturating_sub(1);
                s.rescued += 1;
            });
            false
        }
        FailOutcome::Always => false,
        FailOutcome::Unhandled => {
            ctx.mark_failed(&st.name);
            st.cursor.clear();
            st.done = true;
            true
        }
    }
}

fn emit_task_started(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    tref: &TaskRef,
    handler: bool,
) {
    let task = tref.task();
    let mut name = task.display_name();
    if name.contains("{{") {
        let mut vars = TaskVars::new(run.clone(), host.clone(), Some(ctx.clone()));
        vars.scopes = task.keywords.vars.clone();
        vars.role = task.role.clone();
        vars.include_params = tref.include_params.clone();
        if let Ok(v) = run.templar.render_str(&name, &vars.scope()) {
            name = display_value(&v);
        }
    }
    run.emit(Event::TaskStarted {
        name,
        location: task.loc.to_string(),
        handler,
        module: task.module().map(str::to_string),
    });
}

/// The free strategy: every host goes through its tasks at its own pace.
async fn run_free(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    hosts: &[String],
    lists: &[TaskList],
    started: &Arc<AtomicBool>,
    gather: bool,
) -> BatchOutcome {
    let sem = Arc::new(Semaphore::new(run.options.forks.max(1)));
    let announced = Arc::new(std::sync::Mutex::new(HashMap::<(usize, usize), ()>::new()));
    let end_play = Arc::new(AtomicBool::new(false));
    let mut joins = tokio::task::JoinSet::new();
    for h in hosts {
        let all_hosts = hosts.to_vec();
        let (run, ctx, sem, started, announced, end_play) = (
            run.clone(),
            ctx.clone(),
            sem.clone(),
            started.clone(),
            announced.clone(),
            end_play.clone(),
        );
        let mut st = HostRun {
            name: h.clone(),
            host: run.host(h),
            cursor: Cursor::new(lists),
            done: false,
        };
        joins.spawn(async move {
            while !st.done && !end_play.load(Ordering::SeqCst) && !run.is_interrupted() {
                let next = next_task(&run, &ctx, &mut st.cursor, &started, gather);
                if st.cursor.take_failed_after_always() {
                    ctx.mark_failed(&st.name);
                }
                let Some(tref) = next else {
                    break;
                };
                let meta = crate::meta::action(tref.task()).is_some();
                let first = announced
                    .lock()
                    .map(|mut a| a.insert(tref.key(), ()).is_none())
                    .unwrap_or(false);
                // Meta tasks are announced for every host they run for.
                if first || meta {
                    emit_task_started(&run, &ctx, &st.host, &tref, false);
                }
                let ran_before = st.host.tasks_ran();
                let flow = if meta {
                    crate::meta::execute(&run, &ctx, &st.host, &tref)
                } else {
                    match throttle_of(&run, &ctx, &st.host, tref.task()) {
                        Err(msg) => crate::meta::fail(&run, &st.host, tref.task(), msg),
                        Ok(limit) => {
                            // throttle holds across hosts, which the free strategy runs apart:
                            // one semaphore per task of the play.
                            let task_sem = limit.map(|n| ctx.throttle_for(tref.key(), n));
                            let _t = match task_sem {
                                Some(t) => t.acquire_owned().await.ok(),
                                None => None,
                            };
                            let _permit = sem.acquire().await;
                            run_task(&run, &ctx, &st.host, &tref, false).await
                        }
                    }
                };
                st.cursor.advance();
                if st.host.tasks_ran() > ran_before {
                    st.cursor.note_ran();
                }
                match flow {
                    Flow::Continue => {}
                    Flow::Failed { task, result } => {
                        let task = failed_task_value(tref.task(), task);
                        handle_failure(&ctx, &mut st, task, result);
                    }
                    Flow::Unreachable => {
                        ctx.mark_failed(&st.name);
                        st.done = true;
                    }
                    Flow::Include(list) => st.cursor.push_includes(list),
                    Flow::Meta(Meta::EndPlay) => end_play.store(true, Ordering::SeqCst),
                    Flow::Meta(Meta::EndHost | Meta::EndBatch) => st.done = true,
                    Flow::Meta(Meta::FlushHandlers) => {
                        for (_, t, r) in
                            flush_handlers(&run, &ctx, std::slice::from_ref(&st.name)).await
                        {
                            if !handle_failure(&ctx, &mut st, t, r) {
                                ctx.clear_failed(&st.name);
                            }
                        }
                    }
                    Flow::Meta(Meta::ClearFacts) => st.host.write().clear_facts(),
                    Flow::Meta(Meta::EndRole) => st.cursor.end_role(),
                    Flow::Meta(Meta::ResetConnection) => run.connector.reset(&st.name).await,
                    Flow::Meta(Meta::RefreshInventory) => {
                        if let Err(e) = run.refresh_inventory() {
                            run.emit(Event::Warning {
                                message: format!("refresh_inventory: {e}"),
                            });
                        }
                    }
                    Flow::Meta(Meta::ClearHostErrors) => {
                        for h in &all_hosts {
                            ctx.clear_failed(h);
                        }
                        st.cursor.clear_errors();
                    }
                    Flow::Meta(_) => {}
                }
                if st.cursor.take_failed_after_always() {
                    ctx.mark_failed(&st.name);
                    st.done = true;
                }
            }
        });
    }
    while joins.join_next().await.is_some() {}
    if end_play.load(Ordering::SeqCst) {
        BatchOutcome::EndPlay
    } else {
        BatchOutcome::Continue
    }
}

/// A handler that failed on a host: the host, the failed handler and its result.
type HandlerFailure = (String, Value, Value);

/// Runs notified handlers, in the order they are defined, once per host; repeats while
/// handlers notify further handlers. Hosts a handler failed on are marked failed and returned,
/// so a caller with cursors can hand the failure to the host's enclosing block.
async fn flush_handlers(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    batch: &[String],
) -> Vec<HandlerFailure> {
    let mut failures: Vec<HandlerFailure> = Vec::new();
    for _round in 0..16 {
        let handlers = ctx.handlers();
        let mut ran_any = false;
        // Every handler answering a notification runs (several may listen to one topic), so
        // the notifications of the round are taken once, up front.
        let pending: HashMap<String, Vec<String>> = batch
            .iter()
            .map(|h| (h.clone(), ctx.take_all_notified(h)))
            .collect();
        let answers: Vec<(Vec<String>, Vec<String>)> = handlers
            .iter()
            .map(|h| handler_names(run, ctx, h))
            .collect();
        // A name notifies one handler: Ansible searches its handler blocks last first (the
        // handlers of included roles, then the play's own, then those of `roles:` from the
        // last role back) and takes the first handler with that name within a block. Every
        // handler listening to a topic runs.
        let mut first_by_name: HashMap<&str, usize> = HashMap::new();
        for i in handler_search_order(&handlers, ctx.play.handlers.len()) {
            for n in &answers[i].0 {
                first_by_name.entry(n.as_str()).or_insert(i);
            }
        }
        for (i, handler) in handlers.iter().enumerate() {
            let topics = &answers[i].1;
            let answers_to =
                |n: &String| first_by_name.get(n.as_str()) == Some(&i) || topics.contains(n);
            let hosts: Vec<String> = batch
                .iter()
                .filter(|h| {
                    !ctx.is_failed(h)
                        || ctx
                            .play
                            .force_handlers
                            .unwrap_or(run.options.force_handlers)
                })
                .filter(|h| pending.get(*h).is_some_and(|n| n.iter().any(answers_to)))
                .cloned()
                .collect();
            if hosts.is_empty() {
                continue;
            }
            let mut hosts = hosts;
            if handler.keywords.run_once.is_some() {
                let vars = TaskVars::new(run.clone(), run.host(&hosts[0]), Some(ctx.clone()));
                if crate::exec::eval_bool_kw(run, &vars, handler.keywords.run_once.as_ref())
                    .unwrap_or(false)
                {
                    hosts.truncate(1);
                }
            }
            ran_any = true;
            let list: TaskList = Arc::new(vec![handler.clone()]);
            let tref = TaskRef {
                list,
                idx: 0,
                include_params: Vec::new(),
                failure: None,
                order: Vec::new(),
            };
            emit_task_started(run, ctx, &run.host(&hosts[0]), &tref, true);
            let mut joins = tokio::task::JoinSet::new();
            for h in hosts {
                let (run, ctx, tref) = (run.clone(), ctx.clone(), tref.clone());
                joins.spawn(async move {
                    let host = run.host(&h);
                    let flow = match crate::meta::action(tref.task()).as_deref() {
                        Some("flush_handlers") => crate::meta::fail(
                            &run,
                            &host,
                            tref.task(),
                            "flush_handlers cannot be used as a handler".to_string(),
                        ),
                        Some(_) => crate::meta::execute(&run, &ctx, &host, &tref),
                        None => run_task(&run, &ctx, &host, &tref, true).await,
                    };
                    (h, flow)
                });
            }
            let mut flows = Vec::new();
            while let Some(Ok(done)) = joins.join_next().await {
                flows.push(done);
            }
            // In host order, so the output does not depend on which host answered first.
            flows.sort_by_key(|(h, _)| batch.iter().position(|b| b == h));
            for (h, mut flow) in flows {
                // A handler that is an include_tasks runs the included tasks now, as part of
                // the handler, one host after the other.
                if let Flow::Include(files) = flow {
                    flow = run_included_handler(run, ctx, &run.host(&h), files).await;
                }
                match flow {
                    Flow::Failed { task: t, result } => {
                        ctx.mark_failed(&h);
                        failures.push((h, failed_task_value(handler, t), result));
                    }
                    Flow::Unreachable => {
                        ctx.mark_failed(&h);
                        failures.push((h, Value::UNDEFINED, Value::UNDEFINED));
                    }
                    _ => {}
                }
            }
        }
        if !ran_any || !batch.iter().any(|h| ctx.has_notifications(h)) {
            break;
        }
    }
    failures
}

/// Runs the tasks a handler included (`include_tasks` as a handler) on one host, in order,
/// blocks and nested includes included; the first unhandled failure is the handler's.
async fn run_included_handler(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    files: Vec<(TaskList, Arc<drover_playbook::Vars>)>,
) -> Flow {
    let mut cursor = Cursor::new(&[]);
    cursor.push_includes(files);
    while let Some(tref) = cursor.peek() {
        emit_task_started(run, ctx, host, &tref, true);
        let flow = if crate::meta::action(tref.task()).is_some() {
            crate::meta::execute(run, ctx, host, &tref)
        } else {
            run_task(run, ctx, host, &tref, true).await
        };
        cursor.advance();
        match flow {
            Flow::Failed { task, result } => {
                let task = failed_task_value(tref.task(), task);
                if cursor.fail(task.clone(), result.clone()) == FailOutcome::Unhandled {
                    return Flow::Failed { task, result };
                }
            }
            Flow::Unreachable => return Flow::Unreachable,
            Flow::Include(more) => cursor.push_includes(more),
            _ => {}
        }
    }
    if cursor.take_failed_after_always() {
        return Flow::Failed {
            task: Value::UNDEFINED,
            result: Value::UNDEFINED,
        };
    }
    Flow::Continue
}

/// Handler indices in the order Ansible searches them by name: blocks (a role's handlers, the
/// play's own) from the last defined to the first, each block in its own order. `statics` is
/// how many handlers the play defined; the rest came from `include_role` since.
fn handler_search_order(handlers: &[Task], statics: usize) -> Vec<usize> {
    let role_of = |t: &Task| t.role.as_ref().map(|r| Arc::as_ptr(r) as usize);
    // Consecutive handlers of one role (or of the play) form a block.
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    for (i, h) in handlers.iter().enumerate() {
        match blocks.last_mut() {
            Some(b) if i != statics && role_of(&handlers[b[0]]) == role_of(h) => b.push(i),
            _ => blocks.push(vec![i]),
        }
    }
    // Ansible's play lists the handlers of `roles:` before its own; drover's loader puts the
    // play's own first, so that block moves to after the roles' ones.
    let (play_own, rest): (Vec<Vec<usize>>, Vec<Vec<usize>>) = blocks
        .into_iter()
        .partition(|b| b[0] < statics && handlers[b[0]].role.is_none());
    let (static_roles, included): (Vec<Vec<usize>>, Vec<Vec<usize>>) =
        rest.into_iter().partition(|b| b[0] < statics);
    static_roles
        .into_iter()
        .chain(play_own)
        .chain(included)
        .rev()
        .flatten()
        .collect()
}

/// The names a handler answers to: its name (templated) and `role : name`; then its `listen`
/// topics, also as `role : topic`.
pub(crate) fn handler_names(
    run: &Arc<RunShared>,
    ctx: &Arc<PlayCtx>,
    handler: &Task,
) -> (Vec<String>, Vec<String>) {
    let mut names = Vec::new();
    if let Some(n) = &handler.name {
        let rendered = if n.contains("{{") {
            let vars = TaskVars::new(run.clone(), run.host("localhost"), Some(ctx.clone()));
            match run.templar.render_str(n, &vars.scope()) {
                Ok(v) => display_value(&v),
                Err(e) => {
                    // Ansible skips such a handler by name (its topics still work).
                    if handler.listen.is_empty() {
                        let message = format!(
                            "Handler '{n}' is unusable because it has no listen topics and the name could not be templated (host-specific variables are not supported in handler names). The error: {e}"
                        );
                        if ctx.first_warning(&message) {
                            run.emit(Event::Warning { message });
                        }
                    }
                    return (names, topics_of(handler));
                }
            }
        } else {
            n.clone()
        };
        if let Some(scope) = &handler.role {
            for prefix in role_prefixes(&scope.role) {
                names.push(format!("{prefix} : {rendered}"));
            }
        }
        names.push(rendered);
    }
    (names, topics_of(handler))
}

/// A handler's `listen` topics, also as `role : topic` for a role's handler.
fn topics_of(handler: &Task) -> Vec<String> {
    let mut topics = handler.listen.clone();
    if let Some(scope) = &handler.role {
        for prefix in role_prefixes(&scope.role) {
            for topic in &handler.listen {
                topics.push(format!("{prefix} : {topic}"));
            }
        }
    }
    topics
}

/// The names a role's handlers may be prefixed with: its name, and its fully qualified name
/// for a collection role.
fn role_prefixes(role: &drover_playbook::Role) -> Vec<&str> {
    std::iter::once(role.name.as_str())
        .chain(role.fqcn.as_deref())
        .collect()
}

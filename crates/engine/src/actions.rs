//! Actions that run on the controller and work on the engine's own state: `debug`, `set_fact`,
//! `assert`, `fail`, `meta`, `include_vars`, `add_host`, `group_by`, `pause`, includes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use drover_modules::{ArgDef, ArgKind, ModuleSpec};
use drover_playbook::{Keywords, RoleInclude, Task, Vars};
use indexmap::IndexMap;
use minijinja::Value;

use crate::event::Status;
use crate::exec::{display_value, template_args, Flow, ItemResult, Meta};
use crate::state::{HostCtx, PlayCtx, RunShared};
use crate::vars::TaskVars;

/// Argument specs of the controller actions, for static validation. `None` for actions that
/// take arbitrary keys (`set_fact`, `add_host`).
pub fn spec(name: &str) -> Option<Option<&'static ModuleSpec>> {
    Some(match name {
        "debug" => Some(&DEBUG),
        "assert" => Some(&ASSERT),
        "fail" => Some(&FAIL),
        "meta" => Some(&META),
        "include_vars" => Some(&INCLUDE_VARS),
        "group_by" => Some(&GROUP_BY),
        "pause" => Some(&PAUSE),
        "async_status" => Some(&ASYNC_STATUS),
        // Checked when they run: Ansible fails these tasks (which can be ignored) rather than
        // the playbook.
        "set_fact" | "add_host" | "set_stats" | "wait_for_connection" => None,
        "validate_argument_spec" | "reboot" => None,
        "include_tasks" | "include_role" => None,
        _ => return None,
    })
}

/// Arguments for the actions' unit tests.
#[cfg(test)]
pub(crate) fn test_args(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Ansible's check of an action plugin's `_VALID_ARGS`: every unknown option named at once.
pub(crate) fn reject_unknown(
    action: &str,
    args: &IndexMap<String, Value>,
    valid: &[&str],
) -> Result<(), String> {
    let bad: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !valid.contains(k))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("Invalid options for {action}: {}", bad.join(",")))
    }
}

pub fn is_controller_action(name: &str) -> bool {
    spec(name).is_some()
}

const fn spec_of(name: &'static str, args: &'static [ArgDef], free_form: bool) -> ModuleSpec {
    ModuleSpec {
        name,
        args,
        free_form,
        mutually_exclusive: &[],
        required_one_of: &[],
        check_mode: true,
    }
}

static DEBUG: ModuleSpec = ModuleSpec {
    mutually_exclusive: &[&["msg", "var"]],
    ..spec_of(
        "debug",
        &[
            ArgDef::new("msg", ArgKind::Raw),
            ArgDef::new("var", ArgKind::Raw),
            ArgDef::new("verbosity", ArgKind::Int),
        ],
        false,
    )
};
static ASSERT: ModuleSpec = spec_of(
    "assert",
    &[
        ArgDef::new("that", ArgKind::Raw).required(),
        ArgDef::new("fail_msg", ArgKind::Raw).aliases(&["msg"]),
        ArgDef::new("success_msg", ArgKind::Raw),
        ArgDef::new("quiet", ArgKind::Bool),
    ],
    false,
);
static FAIL: ModuleSpec = spec_of("fail", &[ArgDef::new("msg", ArgKind::Raw)], false);
static META: ModuleSpec = spec_of("meta", &[], true);
static INCLUDE_VARS: ModuleSpec = spec_of(
    "include_vars",
    &[
        ArgDef::new("file", ArgKind::Path),
        ArgDef::new("dir", ArgKind::Path),
        ArgDef::new("name", ArgKind::Str),
        ArgDef::new("depth", ArgKind::Int),
        ArgDef::new("files_matching", ArgKind::Str),
        ArgDef::new("ignore_files", ArgKind::List),
        ArgDef::new("extensions", ArgKind::List),
        ArgDef::new("ignore_unknown_extensions", ArgKind::Bool),
        ArgDef::new("hash_behaviour", ArgKind::Str),
    ],
    true,
);
static GROUP_BY: ModuleSpec = spec_of(
    "group_by",
    &[
        ArgDef::new("key", ArgKind::Str).required(),
        ArgDef::new("parents", ArgKind::List),
    ],
    false,
);
static PAUSE: ModuleSpec = spec_of(
    "pause",
    &[
        ArgDef::new("seconds", ArgKind::Float),
        ArgDef::new("minutes", ArgKind::Float),
        ArgDef::new("prompt", ArgKind::Str),
        ArgDef::new("echo", ArgKind::Bool),
    ],
    false,
);

static ASYNC_STATUS: ModuleSpec = spec_of(
    "async_status",
    &[
        ArgDef::new("jid", ArgKind::Str).required(),
        ArgDef::new("mode", ArgKind::Str).choices(&["status", "cleanup"]),
    ],
    false,
);

pub const META_ACTIONS: &[&str] = &[
    "noop",
    "flush_handlers",
    "refresh_inventory",
    "clear_facts",
    "clear_host_errors",
    "end_play",
    "end_host",
    "end_batch",
    "end_role",
    "reset_connection",
    "role_complete",
];

fn data(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> IndexMap<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub async fn run(
    run: &Arc<RunShared>,
    _play: &Arc<PlayCtx>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    _handler: bool,
) -> ItemResult {
    let module = task.module().unwrap_or_default();
    let free_form = matches!(module, "meta" | "include_vars");
    // `debug` and `assert` evaluate some arguments as expressions: keep them raw.
    let raw = match template_args_for(run, task, vars, free_form, module) {
        Ok(a) => a,
        Err(e) => return ItemResult::failed(e),
    };
    if let Some(Some(spec)) = spec(module) {
        if let Err(e) = spec.validate(&raw) {
            return ItemResult::failed(e.to_string());
        }
    }
    match module {
        "debug" => debug(run, vars, &raw),
        "set_fact" => {
            warn_reserved(run, task, raw.keys().filter(|k| *k != "cacheable"));
            let target = crate::exec::facts_host(run, host, task, vars);
            let cacheable = raw
                .get("cacheable")
                .is_some_and(|v| drover_modules::args::to_bool(v).unwrap_or_else(|| v.is_true()));
            let r = set_fact(&target, raw);
            // `cacheable`: the facts also become host facts and go to the fact cache.
            if cacheable && r.status != Status::Failed {
                if let Some(facts) = r.result.get("ansible_facts") {
                    crate::exec::store_facts(&target, facts);
                    run.persist_facts(&target);
                }
            }
            r
        }
        "assert" => assert(run, vars, &raw),
        "validate_argument_spec" => validate_argument_spec(run, vars, &raw),
        "fail" => {
            let msg = raw
                .get("msg")
                .map(display_value)
                .unwrap_or_else(|| "Failed as requested from task".to_string());
            ItemResult::failed(msg)
        }
        "meta" => meta(
            raw.get("_raw_params")
                .map(display_value)
                .unwrap_or_default(),
        ),
        "include_vars" => include_vars(run, host, task, vars, &raw),
        "add_host" => add_host(run, raw),
        "group_by" => group_by(run, host, &raw),
        "pause" => {
            // `pause: seconds=1` gives text; Ansible converts it.
            let number = |v: &Value| {
                f64::try_from(v.clone())
                    .ok()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            };
            let secs = raw
                .get("seconds")
                .and_then(number)
                .or_else(|| raw.get("minutes").and_then(number).map(|m| m * 60.0));
            match secs {
                Some(s) => {
                    tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await;
                    ItemResult::ok(data([("delta", Value::from(s as i64))]))
                }
                None => ItemResult::failed(
                    "pause without 'seconds' or 'minutes' waits for a key press, which needs an interactive terminal; drover runs pause non-interactively",
                ),
            }
        }
        "set_stats" => crate::custom_stats::set_stats(run, &host.name, &raw),
        "async_status" => crate::jobs::status(run, host, task, vars, &raw).await,
        "wait_for_connection" => crate::wait_for_connection::run(run, host, task, vars, &raw).await,
        "reboot" => crate::reboot::run(run, host, task, vars, &raw).await,
        other => ItemResult::failed(format!("couldn't resolve module/action '{other}'")),
    }
}

fn template_args_for(
    run: &RunShared,
    task: &Task,
    vars: &TaskVars,
    free_form: bool,
    module: &str,
) -> Result<IndexMap<String, Value>, String> {
    if module == "debug" || module == "assert" {
        // `var` and `that` are expressions, evaluated by the action itself.
        let drover_playbook::TaskKind::Action { args, .. } = &task.kind else {
            return Ok(IndexMap::new());
        };
        let raw: IndexMap<String, Value> = match args {
            // `assert: '{{ my_args }}'`: the whole mapping comes from a variable.
            drover_playbook::Args::Free(s)
                if s.trim().starts_with("{{") && s.trim().ends_with("}}") =>
            {
                return template_args(run, task, vars, free_form);
            }
            drover_playbook::Args::Free(s) => drover_modules::parse_kv(s, false)?
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
            // `assert: '{{ item }}'` with `args:` beside it: the template gives the mapping,
            // the other arguments are added to it.
            drover_playbook::Args::Map(m) if m.contains_key("_free_form") => {
                let splat = m.get("_free_form").cloned().unwrap_or(Value::UNDEFINED);
                let rendered = run
                    .templar
                    .render_value(&splat, &vars.scope())
                    .map_err(|e| format!("{e}. The error appears to be in '{}'", task.loc))?;
                if rendered.kind() != minijinja::value::ValueKind::Map {
                    return Err(format!(
                        "{module}: the arguments must be a mapping, got {}",
                        display_value(&rendered)
                    ));
                }
                let mut raw = IndexMap::new();
                for k in rendered.try_iter().into_iter().flatten() {
                    let v = rendered.get_item(&k).unwrap_or(Value::UNDEFINED);
                    raw.insert(display_value(&k), v);
                }
                for (k, v) in m.iter().filter(|(k, _)| k.as_str() != "_free_form") {
                    raw.insert(k.clone(), v.clone());
                }
                raw
            }
            drover_playbook::Args::Map(m) => m.clone(),
        };
        let scope = vars.scope();
        let mut out = IndexMap::new();
        for (k, v) in raw {
            if k == "var" || k == "that" {
                out.insert(k, v);
            } else {
                let r = run
                    .templar
                    .render_value(&v, &scope)
                    .map_err(|e| format!("{e}. The error appears to be in '{}'", task.loc))?;
                out.insert(k, r);
            }
        }
        return Ok(out);
    }
    template_args(run, task, vars, free_form)
}

fn debug(run: &RunShared, vars: &TaskVars, args: &IndexMap<String, Value>) -> ItemResult {
    let verbosity = args.get("verbosity").and_then(Value::as_i64).unwrap_or(0);
    let mut r = if let Some(var) = args.get("var") {
        // `var: !unsafe x` is text that must never become an expression.
        if drover_template::is_unsafe(var) {
            return ItemResult::failed("Encountered untrusted template or expression.");
        }
        if matches!(
            var.kind(),
            minijinja::value::ValueKind::Map | minijinja::value::ValueKind::Seq
        ) {
            return ItemResult::failed(format!(
                "The 'var' argument ({}) is not a string and conversion is not allowed.",
                display_value(var)
            ));
        }
        let name = display_value(var);
        // `var={{ item }}` is a template, not an expression: its result is what is shown.
        let evaluated = if name.contains("{{") || name.contains("{%") {
            run.templar.render_value(var, &vars.scope())
        } else {
            run.templar.eval_expression(&name, &vars.scope())
        };
        let mut warning = None;
        let value = match evaluated {
            Ok(v) if v.is_undefined() => {
                warning = Some(format!("'{name}' is undefined"));
                Value::from("VARIABLE IS NOT DEFINED!")
            }
            Ok(v) => match run.templar.render_value(&v, &vars.scope()) {
                Ok(v) => v,
                Err(e) => Value::from(e.to_string()),
            },
            Err(e) if e.kind == drover_template::TemplateErrorKind::Undefined => {
                // As Ansible 2.19: shown as not defined, with a warning naming what.
                warning = Some(e.message.clone());
                Value::from("VARIABLE IS NOT DEFINED!")
            }
            Err(e) => return ItemResult::failed(e.to_string()),
        };
        let mut m = IndexMap::new();
        m.insert(name, value);
        if let Some(w) = warning {
            m.insert("warnings".into(), Value::from(vec![Value::from(w)]));
        }
        ItemResult::ok(m)
    } else {
        let msg = args
            .get("msg")
            .cloned()
            .unwrap_or_else(|| Value::from("Hello world!"));
        ItemResult::ok(data([("msg", msg)]))
    };
    if verbosity > 0 {
        r.result.insert("_verbosity".into(), Value::from(verbosity));
    }
    r.result
        .insert("_ansible_verbose_always".into(), Value::from(true));
    r
}

/// Ansible's `validate_variable_name`: an ASCII identifier that Jinja does not reserve.
fn valid_var_name(name: &str) -> bool {
    const RESERVED: &[&str] = &["true", "false", "none", "True", "False", "None", "not"];
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
}

fn set_fact(host: &HostCtx, args: IndexMap<String, Value>) -> ItemResult {
    if let Some(bad) = args
        .keys()
        .find(|k| *k != "cacheable" && !valid_var_name(k))
    {
        return ItemResult::failed(format!(
            "Invalid variable name '{bad}'. {}",
            crate::exec::VAR_NAME_RULE
        ));
    }
    if args.keys().all(|k| k == "cacheable") {
        return ItemResult::failed(
            "No key/value pairs provided, at least one is required for this action to succeed",
        );
    }
    let mut facts = IndexMap::new();
    let mut state = host.write();
    for (k, v) in args {
        if k == "cacheable" {
            continue;
        }
        state.set_facts.insert(k.clone(), v.clone());
        facts.insert(k, v);
    }
    ItemResult::ok(data([("ansible_facts", Value::from_pairs(facts))]))
}

fn assert(run: &RunShared, vars: &TaskVars, args: &IndexMap<String, Value>) -> ItemResult {
    let that = args.get("that").cloned().unwrap_or(Value::UNDEFINED);
    let scope = vars.scope();
    let conditions = match run.templar.condition_list(&that, &scope) {
        Ok(c) => c,
        Err(e) => {
            return ItemResult::failed(format!(
                "The conditional check '{}' failed. The error was: {e}",
                display_value(&that)
            ))
        }
    };
    let quiet = args.get("quiet").is_some_and(Value::is_true);
    for c in &conditions {
        match run.templar.eval_condition_value(c, &scope) {
            Ok(true) => {}
            Ok(false) => {
                let msg = args
                    .get("fail_msg")
                    .cloned()
                    .unwrap_or_else(|| Value::from("Assertion failed"));
                let mut r = ItemResult::failed("");
                r.result.insert("msg".into(), msg);
                r.result.insert("assertion".into(), c.clone());
                r.result.insert("evaluated_to".into(), Value::from(false));
                return r;
            }
            Err(e) => {
                return ItemResult::failed(format!(
                    "The conditional check '{}' failed. The error was: {e}",
                    display_value(c)
                ))
            }
        }
    }
    let msg = args
        .get("success_msg")
        .cloned()
        .unwrap_or_else(|| Value::from("All assertions passed"));
    let mut r = ItemResult::ok(data([("msg", msg)]));
    // As Ansible's assert: its result is shown at every verbosity unless `quiet`.
    r.result
        .insert("_ansible_verbose_always".into(), Value::from(!quiet));
    r
}

/// `validate_argument_spec`: the options of `argument_spec` are read from the task's variables
/// (templated), `provided_arguments` (a role's parameters) override them, and the whole set is
/// validated as Ansible validates a role's arguments. Validated values are not given back to
/// the play, as in Ansible.
fn validate_argument_spec(
    run: &RunShared,
    vars: &TaskVars,
    args: &IndexMap<String, Value>,
) -> ItemResult {
    use minijinja::value::ValueKind;
    let context = args
        .get("validate_args_context")
        .cloned()
        .unwrap_or_else(|| Value::from_pairs(IndexMap::<String, Value>::new()));
    let Some(spec) = args.get("argument_spec") else {
        return ItemResult::failed(format!(
            "\"argument_spec\" arg is required in args: {}",
            display_value(&Value::from_pairs(args.clone()))
        ));
    };
    let provided = args
        .get("provided_arguments")
        .cloned()
        .unwrap_or_else(|| Value::from_pairs(IndexMap::<String, Value>::new()));
    for (name, v) in [("argument_spec", spec), ("provided_arguments", &provided)] {
        if v.kind() != ValueKind::Map {
            return ItemResult::failed(format!(
                "Incorrect type for {name}, expected dict and got <class '{}'>",
                crate::argspec::py_type(v)
            ));
        }
    }
    let scope = vars.scope();
    let mut params = IndexMap::new();
    for (name, _) in crate::argspec::entries(spec) {
        let Some(raw) = scope.vars.get(&name) else {
            continue;
        };
        match run.templar.render_value(&raw, &scope) {
            Ok(v) => {
                params.insert(name, v);
            }
            Err(e) => return ItemResult::failed(e.to_string()),
        }
    }
    params.extend(crate::argspec::entries(&provided));
    let errors = crate::argspec::validate(spec, &mut params);
    if errors.is_empty() {
        return ItemResult::ok(data([
            ("changed", Value::from(false)),
            ("msg", Value::from("The arg spec validation passed")),
            ("validate_args_context", context),
        ]));
    }
    let mut r = ItemResult::failed(format!(
        "Validation of arguments failed:\n{}",
        errors.join("\n")
    ));
    r.result.insert("validate_args_context".into(), context);
    r.result.insert("argument_spec_data".into(), spec.clone());
    r.result
        .insert("argument_errors".into(), Value::from(errors));
    r
}

fn meta(action: String) -> ItemResult {
    let action = action.trim();
    let flow = match action {
        "flush_handlers" => Meta::FlushHandlers,
        "end_host" => Meta::EndHost,
        "end_play" => Meta::EndPlay,
        "end_batch" => Meta::EndBatch,
        "clear_host_errors" => Meta::ClearHostErrors,
        "refresh_inventory" => Meta::RefreshInventory,
        "reset_connection" => Meta::ResetConnection,
        "clear_facts" => Meta::ClearFacts,
        "end_role" => {
            return ItemResult::failed("Cannot execute 'end_role' from outside of a role")
        }
        "noop" | "role_complete" => Meta::Noop,
        other => {
            return ItemResult::failed(format!(
                "invalid meta action requested: {other} (expected one of: {})",
                META_ACTIONS.join(", ")
            ))
        }
    };
    let mut r = ItemResult::ok(IndexMap::new());
    r.status = Status::Skipped;
    r.flow = Some(Flow::Meta(flow));
    r
}

/// A failed include_vars: Ansible reports the reason under `message`.
fn include_vars_failed(message: String) -> ItemResult {
    let mut r = ItemResult::failed(message.clone());
    r.result.insert("message".into(), Value::from(message));
    r
}

/// The directories under `root` (itself included) as Python's `os.walk(followlinks=True)`
/// finds them, sorted by path text, each with its sorted file names and its depth (root = 1).
fn walk_dirs(root: &Path) -> Vec<(PathBuf, Vec<String>, usize)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![(root.to_path_buf(), 1usize)];
    while let Some((dir, depth)) = stack.pop() {
        // Symlinked directories are followed; a loop is walked once.
        if let Ok(canon) = std::fs::canonicalize(&dir) {
            if !seen.insert(canon) {
                continue;
            }
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files = Vec::new();
        for e in rd.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => stack.push((path, depth + 1)),
                Ok(_) => files.push(name),
                Err(_) => {}
            }
        }
        files.sort();
        out.push((dir, files, depth));
    }
    out.sort_by(|a, b| a.0.to_string_lossy().cmp(&b.0.to_string_lossy()));
    out
}

fn include_vars(
    run: &RunShared,
    host: &HostCtx,
    task: &Task,
    vars: &TaskVars,
    args: &IndexMap<String, Value>,
) -> ItemResult {
    const DIR_ARGS: &[&str] = &[
        "dir",
        "depth",
        "files_matching",
        "ignore_files",
        "extensions",
        "ignore_unknown_extensions",
    ];
    const FILE_ARGS: &[&str] = &["file", "_raw_params"];
    // `include_vars: dir=vars depth=1` written inline (the ad-hoc `-a` form): the free-form
    // text is key=value pairs when every word is one of the action's options.
    let parsed;
    let args = match args.get("_raw_params").and_then(Value::as_str) {
        Some(raw) if args.len() == 1 && raw.contains('=') => {
            match drover_modules::parse_kv(raw, false) {
                Ok(pairs)
                    if pairs.iter().all(|(k, _)| {
                        DIR_ARGS.contains(&k.as_str())
                            || matches!(k.as_str(), "file" | "name" | "hash_behaviour")
                    }) =>
                {
                    parsed = pairs
                        .into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect::<IndexMap<String, Value>>();
                    &parsed
                }
                _ => args,
            }
        }
        _ => args,
    };
    let mut dirs = 0;
    let mut filec = 0;
    for k in args.keys() {
        if DIR_ARGS.contains(&k.as_str()) {
            dirs += 1;
        } else if FILE_ARGS.contains(&k.as_str()) {
            filec += 1;
        } else if k != "name" && k != "hash_behaviour" {
            return ItemResult::failed(format!("{k} is not a valid option in include_vars"));
        }
    }
    if dirs > 0 && filec > 0 {
        return ItemResult::failed(
            "You are mixing file only and dir only arguments, these are incompatible",
        );
    }
    let present = |k: &str| {
        args.get(k)
            .filter(|v| !v.is_none() && !v.is_undefined())
            .filter(|v| v.as_str() != Some(""))
    };
    let list_arg = |k: &str, split_words: bool| -> Vec<String> {
        match args.get(k) {
            Some(v) if v.as_str().is_some() && split_words => v
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            // A string of extensions is a list of its characters, as in Python.
            Some(v) if v.as_str().is_some() => v
                .as_str()
                .unwrap_or_default()
                .chars()
                .map(String::from)
                .collect(),
            Some(v) => v
                .try_iter()
                .into_iter()
                .flatten()
                .map(|x| display_value(&x))
                .collect(),
            None => Vec::new(),
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut loaded = Vars::new();
    let load = |f: &Path, loaded: &mut Vars, files: &mut Vec<PathBuf>| -> Result<(), String> {
        let v = drover_playbook::load_vars_file(f).map_err(|e| {
            let text = e.to_string();
            if text.contains("must contain a mapping") {
                format!("{} must be stored as a dictionary/hash", f.display())
            } else {
                text
            }
        })?;
        files.push(f.to_path_buf());
        loaded.extend(v);
        Ok(())
    };
    if let Some(dir) = present("dir").map(display_value) {
        let depth = args
            .get("depth")
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0)
            .max(0) as usize;
        let matcher = match present("files_matching").map(display_value) {
            Some(p) => match drover_pyre::compile(&p, drover_pyre::Flags::NONE) {
                Ok(re) => Some(re),
                Err(e) => {
                    return include_vars_failed(format!(
                        "Invalid regular expression: {}",
                        e.pattern
                    ))
                }
            },
            None => None,
        };
        let mut ignore = Vec::new();
        for pat in list_arg("ignore_files", true) {
            match drover_pyre::compile(&format!("{pat}$"), drover_pyre::Flags::NONE) {
                Ok(re) => ignore.push(re),
                Err(_) => return include_vars_failed(format!("Invalid regular expression: {pat}")),
            }
        }
        let extensions = if args.contains_key("extensions") {
            list_arg("extensions", false)
        } else {
            vec!["yaml".into(), "yml".into(), "json".into()]
        };
        let ignore_unknown = args
            .get("ignore_unknown_extensions")
            .is_some_and(|v| drover_modules::args::to_bool(v).unwrap_or_else(|| v.is_true()));
        // As Ansible: in a role, `vars/...` or `<role>/vars/<dir>`; else next to the task file.
        let source = match &task.role {
            Some(scope) if dir.split('/').next() == Some("vars") => {
                let p = scope.role.path.join(&dir);
                if p.exists() {
                    p
                } else {
                    PathBuf::from(&dir)
                }
            }
            Some(scope) => scope.role.path.join("vars").join(&dir),
            None => match Path::new(&*task.loc.file).parent() {
                Some(d) => d.join(&dir),
                None => run.playbook_dir.join(&dir),
            },
        };
        if !source.exists() {
            return include_vars_failed(format!("{} directory does not exist", source.display()));
        }
        if !source.is_dir() {
            return include_vars_failed(format!("{} is not a directory", source.display()));
        }
        let valid_ext = |name: &str| {
            // Python's splitext: a leading dot does not start an extension.
            let ext = match name.trim_start_matches('.').rsplit_once('.') {
                Some((_, e)) => e,
                None => "",
            };
            extensions.iter().any(|x| x == ext)
        };
        for (root, names, d) in walk_dirs(&source) {
            if depth != 0 && d > depth {
                continue;
            }
            for name in names {
                let wanted = match &matcher {
                    Some(m) => m.is_match(&name),
                    None => Ok(true),
                };
                let ignored = ignore
                    .iter()
                    .map(|re| re.is_match(&name))
                    .find(|m| !matches!(m, Ok(false)))
                    .unwrap_or(Ok(false));
                match (wanted, ignored) {
                    (Ok(true), Ok(false)) => {}
                    (Err(e), _) | (_, Err(e)) => return include_vars_failed(e.to_string()),
                    _ => continue,
                }
                let path = root.join(&name);
                if !valid_ext(&name) {
                    if ignore_unknown {
                        continue;
                    }
                    return include_vars_failed(format!(
                        "{} does not have a valid extension: {}",
                        path.display(),
                        extensions.join(", ")
                    ));
                }
                if let Err(e) = load(&path, &mut loaded, &mut files) {
                    return include_vars_failed(e);
                }
            }
        }
    } else {
        let Some(f) = present("file")
            .or_else(|| present("_raw_params"))
            .map(|v| display_value(v).trim_end_matches('\n').trim().to_string())
        else {
            return include_vars_failed(
                "Could not find file on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option".into(),
            );
        };
        let rel = Path::new(&f);
        let candidates: Vec<PathBuf> = if rel.is_absolute() {
            vec![rel.to_path_buf()]
        } else {
            let mut c = Vec::new();
            if let Some(scope) = &task.role {
                c.push(scope.role.path.join("vars").join(rel));
                c.push(scope.role.path.join(rel));
            }
            if let Some(d) = Path::new(&*task.loc.file).parent() {
                c.push(d.join("vars").join(rel));
                c.push(d.join(rel));
            }
            c.push(run.playbook_dir.join("vars").join(rel));
            c.push(run.playbook_dir.join(rel));
            c
        };
        match candidates.into_iter().find(|p| p.is_file()) {
            Some(p) => {
                if let Err(e) = load(&p, &mut loaded, &mut files) {
                    return include_vars_failed(e);
                }
            }
            None => {
                return include_vars_failed(format!(
                    "Could not find or access '{f}' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option"
                ))
            }
        }
    }
    let mut facts = match args.get("name").filter(|v| !v.is_none()) {
        Some(name) => {
            let mut m = Vars::new();
            m.insert(
                display_value(name),
                Value::from_pairs(loaded.into_iter().collect::<Vec<_>>()),
            );
            m
        }
        None => loaded,
    };
    if args
        .get("hash_behaviour")
        .is_some_and(|v| v.as_str() == Some("merge"))
    {
        for (k, v) in facts.iter_mut() {
            if let Some(old) = drover_template::VarSource::get(vars, k) {
                *v = drover_yaml::merge_hash(&old, v);
            }
        }
    }
    {
        let mut state = host.write();
        for (k, v) in &facts {
            state.include_vars.insert(k.clone(), v.clone());
        }
    }
    warn_reserved(run, task, facts.keys());
    let mut r = ItemResult::ok(data([
        ("ansible_facts", Value::from_pairs(facts)),
        (
            "ansible_included_var_files",
            Value::from(
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
    ]));
    // As Ansible: what came from a vault-encrypted file is never shown.
    if files.iter().any(|f| is_vault_file(f)) {
        r.result.insert("_ansible_no_log".into(), Value::from(true));
    }
    r
}

/// Ansible's warning for variables named like a playbook keyword or a Jinja2 global.
fn warn_reserved<'a>(run: &RunShared, task: &Task, names: impl Iterator<Item = &'a String>) {
    for name in names.filter(|n| drover_playbook::is_reserved_name(n)) {
        run.emit(crate::event::Event::Warning {
            message: format!(
                "Found variable using reserved name '{name}'.\nOrigin: {}",
                task.loc
            ),
        });
    }
}

/// Whether `path` is a whole-file vault (`$ANSIBLE_VAULT;...` header).
fn is_vault_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 14];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"$ANSIBLE_VAULT")
}

fn add_host(run: &RunShared, args: IndexMap<String, Value>) -> ItemResult {
    let mut name = None;
    let mut groups: Vec<String> = Vec::new();
    let mut host_vars = Vars::new();
    for (k, v) in args {
        match k.as_str() {
            "name" | "host" | "hostname" => name = Some(display_value(&v)),
            "groups" | "group" | "groupname" => match v.as_str() {
                Some(s) => groups.extend(s.split(',').map(|g| g.trim().to_string())),
                None => groups.extend(
                    v.try_iter()
                        .into_iter()
                        .flatten()
                        .map(|g| display_value(&g)),
                ),
            },
            _ => {
                host_vars.insert(k, v);
            }
        }
    }
    let Some(mut name) = name else {
        return ItemResult::failed("add_host requires 'name'");
    };
    if let Some((h, port)) = name.rsplit_once(':') {
        if port.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
            host_vars.insert(
                "ansible_ssh_port".into(),
                Value::from(port.parse::<i64>().unwrap_or(22)),
            );
            name = h.to_string();
        }
    }
    let mut changed = run.add_to_group("all", &name);
    for g in &groups {
        changed |= run.add_to_group(g, &name);
    }
    let target = run.host(&name);
    let shown_vars = Value::from_pairs(
        host_vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
    );
    {
        let mut st = target.write();
        for (k, v) in host_vars {
            // As Ansible: a new or different host variable is a change too.
            let current = st
                .added_vars
                .get(&k)
                .or_else(|| target.inventory_vars.get(&k));
            if current != Some(&v) {
                changed = true;
            }
            st.added_vars.insert(k, v);
        }
    }
    let mut r = ItemResult::ok(data([(
        "add_host",
        Value::from_pairs([
            ("host_name".to_string(), Value::from(name)),
            ("groups".to_string(), Value::from(groups)),
            ("host_vars".to_string(), shown_vars),
        ]),
    )]));
    if changed {
        r.status = Status::Changed;
    }
    r
}

fn group_by(run: &RunShared, host: &HostCtx, args: &IndexMap<String, Value>) -> ItemResult {
    let key = args.get("key").map(display_value).unwrap_or_default();
    let key: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let parents: Vec<String> = args
        .get("parents")
        .map(|p| match p.as_str() {
            // A list option given as a string: comma-separated names.
            Some(s) => s
                .split(',')
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
            None => p
                .try_iter()
                .into_iter()
                .flatten()
                .map(|g| display_value(&g))
                .collect(),
        })
        .unwrap_or_default();
    let changed = run.add_to_group(&key, &host.name);
    for p in &parents {
        run.add_to_group(p, &host.name);
    }
    let mut r = ItemResult::ok(data([
        ("add_group", Value::from(key)),
        ("parent_groups", Value::from(parents)),
    ]));
    if changed {
        r.status = Status::Changed;
    }
    r
}

/// `include_tasks`: loads the file (once per including task, shared by all hosts) and hands
/// it to the cursor.
pub fn include_tasks(
    run: &Arc<RunShared>,
    task: &Task,
    vars: &TaskVars,
    file: &Value,
    params: &Arc<Vars>,
    handler: bool,
) -> ItemResult {
    let scope = vars.scope();
    let file = match run.templar.render_value(file, &scope) {
        Ok(f) => display_value(&f),
        Err(e) => {
            return ItemResult::failed(format!("{e}. The error appears to be in '{}'", task.loc))
        }
    };
    let Some(path) = resolve_task_file(run, task, &file) else {
        let mut r = ItemResult::include_failed(format!(
            "Could not find or access '{}' on the Ansible Controller.",
            expected_task_file(run, task, &file).display()
        ));
        r.result.insert("include".into(), Value::from(file));
        return r;
    };
    let drover_playbook::TaskKind::IncludeTasks { apply, .. } = &task.kind else {
        return ItemResult::failed("internal error: include_tasks on a non-include task");
    };
    let Some(play) = &vars.play else {
        return ItemResult::failed("include_tasks outside a play");
    };
    let inherited = included_keywords(&task.keywords, apply, &play.play.tags);
    let key = format!("{}|{}|{handler}", path.display(), task.loc);
    let tasks = match play.cached_include(&key, || {
        run.loader
            .load_tasks_file(&path, task.role.clone(), inherited.clone(), handler)
            .map(Arc::new)
    }) {
        Ok(t) => t,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let mut all_params = (**params).clone();
    for (k, v) in vars.locals.iter() {
        all_params.insert(k.clone(), v.clone());
    }
    // Include params are templated in the including context (so `item` is captured).
    let mut rendered = Vars::new();
    for (k, v) in all_params {
        match run.templar.render_value(&v, &scope) {
            Ok(r) => rendered.insert(k, r),
            Err(e) => return ItemResult::failed(e.to_string()),
        };
    }
    // Displays name the file by its full path, as Ansible's `included:` line does.
    let shown = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    let mut r = ItemResult::ok(data([
        ("include", Value::from(file)),
        (
            "_ansible_included_path",
            Value::from(shown.display().to_string()),
        ),
    ]));
    r.flow = Some(Flow::Include(vec![(tasks, Arc::new(rendered))]));
    r
}

/// Keywords included tasks inherit: the include's, without its own condition and tags (those
/// decided whether the include ran) but with the play's tags, which every task of a play has,
/// plus `apply`.
fn included_keywords(kw: &Keywords, apply: &Keywords, play_tags: &[String]) -> Keywords {
    let mut k = kw.clone();
    k.when.clear();
    k.tags = play_tags.to_vec();
    k.when.extend(apply.when.iter().cloned());
    k.tags.extend(apply.tags.iter().cloned());
    k.vars.extend(apply.vars.iter().cloned());
    macro_rules! over {
        ($($f:ident),*) => { $( if apply.$f.is_some() { k.$f = apply.$f.clone(); } )* };
    }
    over!(
        become_,
        become_user,
        become_method,
        ignore_errors,
        no_log,
        check_mode,
        diff,
        delegate_to,
        run_once,
        remote_user
    );
    k.environment.extend(apply.environment.iter().cloned());
    k.notify = apply.notify.clone();
    k
}

fn resolve_task_file(run: &RunShared, task: &Task, file: &str) -> Option<PathBuf> {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(scope) = &task.role {
        candidates.push(scope.role.path.join("tasks").join(file));
    }
    if let Some(d) = Path::new(&*task.loc.file).parent() {
        candidates.push(d.join(file));
    }
    candidates.push(run.playbook_dir.join(file));
    candidates.into_iter().find(|c| c.is_file())
}

/// Where a missing task file was looked for first, for the error: the including role's
/// `tasks/`, else the including file's directory.
fn expected_task_file(run: &RunShared, task: &Task, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let base = match &task.role {
        Some(scope) => scope.role.path.join("tasks"),
        None => Path::new(&*task.loc.file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| run.playbook_dir.clone()),
    };
    let joined = base.join(file);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// `include_role`: loads the role (with its dependencies) and hands its tasks to the cursor.
pub fn include_role(
    run: &Arc<RunShared>,
    play: &Arc<PlayCtx>,
    task: &Task,
    vars: &TaskVars,
    inc: &RoleInclude,
) -> ItemResult {
    let scope = vars.scope();
    let render = |v: &Value| {
        run.templar
            .render_value(v, &scope)
            .map(|v| display_value(&v))
    };
    let name = match render(&inc.name) {
        Ok(n) => n,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let tasks_from = match inc.tasks_from.as_ref().map(render).transpose() {
        Ok(t) => t,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let handlers_from = match inc.handlers_from.as_ref().map(render).transpose() {
        Ok(t) => t,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let mut params = Vars::new();
    for (k, v) in inc.params.iter() {
        match run.templar.render_value(v, &scope) {
            Ok(r) => params.insert(k.clone(), r),
            Err(e) => return ItemResult::failed(e.to_string()),
        };
    }
    let from_dir = task
        .role
        .as_ref()
        .map(|r| r.role.path.clone())
        .unwrap_or_else(|| run.playbook_dir.clone());
    let inherited = included_keywords(&task.keywords, &inc.apply, &play.play.tags);
    // The including role instance is part of the identity: the same include_role line in two
    // instances of a role (different parameters) includes under different parents.
    let parent = task.role.as_ref().map(|r| Arc::as_ptr(r) as usize);
    let key = format!(
        "role:{name}|{tasks_from:?}|{handlers_from:?}|{}|{params:?}|{parent:?}",
        task.loc
    );
    let mut handlers_out = Vec::new();
    let tasks = play.cached_include(&key, || -> Result<_, drover_playbook::LoadError> {
        let (block, handlers) = run.loader.load_role_include(
            &name,
            &from_dir,
            params.clone(),
            drover_playbook::RoleFiles {
                tasks: tasks_from.as_deref(),
                handlers: handlers_from.as_deref(),
                public: inc.public,
                allow_duplicates: inc.allow_duplicates,
                skip_validation: inc.rolespec_validate == Some(false),
            },
            inherited.clone(),
            task.loc.clone(),
            task.role.clone(),
        )?;
        handlers_out = handlers;
        Ok(Arc::new(vec![block]))
    });
    let tasks = match tasks {
        Ok(t) => t,
        Err(drover_playbook::LoadError::Missing { message }) => {
            let mut r = ItemResult::include_failed(message);
            // Ansible points at the role's name.
            if let Some(loc) = &inc.name_loc {
                r.result
                    .insert("_ansible_error_origin".into(), Value::from(loc.to_string()));
            }
            return r;
        }
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    if !handlers_out.is_empty() {
        play.add_handlers(handlers_out);
    }
    // An included role is private unless `public: yes`, or `private_role_vars` was set to
    // false explicitly: then its vars and defaults stay visible to this host's later tasks.
    let public = inc
        .public
        .unwrap_or(run.options.private_role_vars == Some(false));
    if public {
        if let Some(role) = included_role(&tasks) {
            let mut state = vars.host.write();
            if !state.public_roles.iter().any(|r| Arc::ptr_eq(r, &role)) {
                state.public_roles.push(role);
            }
        }
    }
    let mut locals = Vars::new();
    for (k, v) in vars.locals.iter() {
        locals.insert(k.clone(), v.clone());
    }
    let mut r = ItemResult::ok(IndexMap::new());
    r.flow = Some(Flow::Include(vec![(tasks, Arc::new(locals))]));
    r
}

/// The role an `include_role` loaded (not its dependencies): the run-each-time role marker in
/// the block it built.
fn included_role(tasks: &drover_playbook::TaskList) -> Option<Arc<drover_playbook::Role>> {
    tasks.iter().find_map(|t| match &t.kind {
        drover_playbook::TaskKind::Block { block, .. } => {
            block.iter().find_map(|t| match &t.kind {
                drover_playbook::TaskKind::RoleTasks { scope, .. } if !scope.once => {
                    Some(scope.role.clone())
                }
                _ => None,
            })
        }
        _ => None,
    })
}

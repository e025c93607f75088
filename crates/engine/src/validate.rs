//! Static checks of a loaded playbook, before anything touches a host: every action is known
//! and its argument names are valid, conditions and templates parse.

use drover_modules::{canonical_name, parse_kv, Registry};
use drover_playbook::{Args, Playbook, Task, TaskKind};

use crate::actions;

/// A problem found before the run, with the task's location.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ValidationError {
    pub location: String,
    pub message: String,
}

/// Checks every task of every play (handlers included).
pub fn validate(playbook: &Playbook, registry: &Registry) -> Result<(), Vec<ValidationError>> {
    let mut errors = Vec::new();
    for play in &playbook.plays {
        for list in [
            &play.pre_tasks,
            &play.roles,
            &play.tasks,
            &play.post_tasks,
            &play.handlers,
        ] {
            for t in list.iter() {
                check_task(t, registry, false, &mut errors);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks one task (and what it contains). `handled`: a failure of this task is expected and
/// dealt with (a `rescue` around it, `ignore_errors`, `failed_when`), so its argument errors are
/// left to run time, where Ansible reports them; anywhere else they stop the run before it
/// starts (a deliberate difference: Ansible would fail the host midway).
pub fn check_task(
    task: &Task,
    registry: &Registry,
    handled: bool,
    errors: &mut Vec<ValidationError>,
) {
    let handled = handled || task.keywords.ignore_errors.is_some() || !task.failed_when.is_empty();
    match &task.kind {
        TaskKind::Block {
            block,
            rescue,
            always,
        } => {
            let rescued = handled || !rescue.is_empty();
            for t in block.iter() {
                check_task(t, registry, rescued, errors);
            }
            for t in rescue.iter().chain(always.iter()) {
                check_task(t, registry, handled, errors);
            }
        }
        TaskKind::RoleTasks { tasks, .. } => {
            for t in tasks.iter() {
                check_task(t, registry, handled, errors);
            }
        }
        TaskKind::IncludeTasks { .. } | TaskKind::IncludeRole(_) => {}
        TaskKind::Action {
            module,
            args,
            args_loc,
        } => {
            // A templated action (`action: {module: "{{ x }}"}`) is only known at run time.
            if module.contains("{{") {
                return;
            }
            let name = canonical_name(module);
            let err = |message: String| ValidationError {
                location: args_loc.to_string(),
                message,
            };
            let spec = match actions::spec(name) {
                Some(Some(spec)) => spec,
                Some(None) => return,
                None => match registry.get(name) {
                    Some(m) => m.spec(),
                    None => {
                        errors.push(ValidationError {
                            location: task.loc.to_string(),
                            message: format!(
                                "couldn't resolve module/action '{module}'. This often indicates a misspelling, missing collection, or incorrect module path."
                            ),
                        });
                        return;
                    }
                },
            };
            let keys: Vec<String> = match args {
                Args::Free(s) if s.contains("{{") && !spec.free_form => return,
                // Arguments splatted from a template (`assert: "{{ item }}"` with `args:`)
                // are only known at run time.
                Args::Map(m)
                    if !spec.free_form
                        && m.get("_free_form")
                            .and_then(|v| v.as_str())
                            .is_some_and(|s| s.contains("{{")) =>
                {
                    return
                }
                Args::Free(s) => match parse_kv(s, spec.free_form) {
                    Ok(kv) => kv.into_keys().collect(),
                    Err(e) => {
                        errors.push(err(e));
                        return;
                    }
                },
                Args::Map(m) => m
                    .keys()
                    .filter(|k| k.as_str() != "_free_form")
                    .cloned()
                    .collect(),
            };
            if name == "meta" {
                let action = match args {
                    Args::Free(s) => s.trim().to_string(),
                    Args::Map(_) => String::new(),
                };
                if !actions::META_ACTIONS.contains(&action.as_str()) {
                    errors.push(err(format!(
                        "invalid meta action requested: {action} (expected one of: {})",
                        actions::META_ACTIONS.join(", ")
                    )));
                }
                return;
            }
            // Ansible's internal options (`_diff_peek`, ...) are known to some modules only; an
            // unknown one fails its task at run time, as Ansible reports it.
            let names = keys
                .iter()
                .map(String::as_str)
                .filter(|k| !k.starts_with('_') || *k == "_raw_params");
            if handled {
                return;
            }
            // module_defaults may supply what the task itself leaves out.
            let result = spec.check_names(names).or_else(|e| match e {
                drover_modules::ArgsError::Missing { .. }
                | drover_modules::ArgsError::OneOf { .. }
                    if !task.keywords.module_defaults.is_empty() =>
                {
                    Ok(())
                }
                other => Err(other),
            });
            if let Err(e) = result {
                errors.push(err(e.to_string()));
            }
        }
    }
}

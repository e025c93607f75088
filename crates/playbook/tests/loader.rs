//! Data-driven loader tests: each case directory under `tests/cases/` holds a playbook
//! (`site.yml`, with any roles or task files next to it) and `expected.txt`: either the
//! outline of the loaded plays (one line per task, indented by nesting) or `error: ` followed
//! by text the error must contain (and, on the next line, `at: file:line:col`).

use std::fmt::Write;
use std::path::Path;

use drover_playbook::{Loader, LoaderConfig, Playbook, Task, TaskKind};

fn outline(pb: &Playbook) -> String {
    let mut out = String::new();
    for play in &pb.plays {
        let _ = writeln!(out, "play {}", play.name.as_deref().unwrap_or("-"));
        for (section, list) in [
            ("pre_tasks", &play.pre_tasks),
            ("roles", &play.roles),
            ("tasks", &play.tasks),
            ("post_tasks", &play.post_tasks),
            ("handlers", &play.handlers),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {section}:");
            for t in list.iter() {
                task_outline(t, 2, &mut out);
            }
        }
    }
    out
}

fn task_outline(t: &Task, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let mut attrs = Vec::new();
    if !t.keywords.when.is_empty() {
        let w: Vec<String> = t.keywords.when.iter().map(|v| v.to_string()).collect();
        attrs.push(format!("when={}", w.join("&")));
    }
    if !t.keywords.tags.is_empty() {
        attrs.push(format!("tags={}", t.keywords.tags.join(",")));
    }
    if let Some(b) = &t.keywords.become_ {
        attrs.push(format!("become={b}"));
    }
    if !t.notify.is_empty() {
        attrs.push(format!("notify={}", t.notify.join(",")));
    }
    if !t.keywords.vars.is_empty() {
        let keys: Vec<String> = t
            .keywords
            .vars
            .iter()
            .flat_map(|v| v.keys().cloned())
            .collect();
        attrs.push(format!("vars={}", keys.join(",")));
    }
    let attrs = if attrs.is_empty() {
        String::new()
    } else {
        format!(" [{}]", attrs.join(" "))
    };
    match &t.kind {
        TaskKind::Block {
            block,
            rescue,
            always,
        } => {
            let _ = writeln!(out, "{pad}block{attrs}");
            for (name, list) in [("block", block), ("rescue", rescue), ("always", always)] {
                if list.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "{pad}  {name}:");
                for c in list.iter() {
                    task_outline(c, depth + 2, out);
                }
            }
        }
        TaskKind::RoleTasks { scope, tasks } => {
            let params: Vec<&String> = scope.params.keys().collect();
            let _ = writeln!(out, "{pad}role {} params={params:?}", scope.role.name);
            for c in tasks.iter() {
                task_outline(c, depth + 1, out);
            }
        }
        TaskKind::Action { module, args, .. } => {
            let args = match args {
                drover_playbook::Args::Free(s) => format!("{s:?}"),
                drover_playbook::Args::Map(m) => {
                    let keys: Vec<&String> = m.keys().collect();
                    format!("{keys:?}")
                }
            };
            let _ = writeln!(out, "{pad}{} = {module} {args}{attrs}", t.display_name());
        }
        TaskKind::IncludeTasks { file, .. } => {
            let _ = writeln!(out, "{pad}include_tasks {file}{attrs}");
        }
        TaskKind::IncludeRole(inc) => {
            let _ = writeln!(out, "{pad}include_role {}{attrs}", inc.name);
        }
    }
}

fn check(case: &Path) {
    let expected = std::fs::read_to_string(case.join("expected.txt")).expect("expected.txt");
    // What the binary does with drover's Templar, done here with plain minijinja.
    let templater = drover_playbook::LoadTemplater(std::sync::Arc::new(
        |text: &str, vars: &drover_playbook::Vars| {
            minijinja::Environment::new()
                .render_str(
                    text,
                    vars.clone()
                        .into_iter()
                        .collect::<std::collections::BTreeMap<_, _>>(),
                )
                .map_err(|e| e.to_string())
        },
    ));
    let config = LoaderConfig {
        templater: Some(templater),
        ..LoaderConfig::default()
    };
    let loader = Loader::new(case, config);
    let result = loader.load_playbook(&case.join("site.yml"));
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match (result, expected.strip_prefix("error: ")) {
        (Ok(pb), None) => {
            let got = outline(&pb);
            assert_eq!(
                got.trim_end(),
                expected.trim_end(),
                "case {name}: outline differs:\n{got}"
            );
        }
        (Ok(pb), Some(_)) => panic!("case {name}: expected an error, loaded:\n{}", outline(&pb)),
        (Err(e), Some(want)) => {
            let mut lines = want.lines();
            let message = lines.next().unwrap_or_default();
            let text = e.to_string();
            assert!(
                text.contains(message),
                "case {name}: error {text:?} lacks {message:?}"
            );
            if let Some(at) = lines.next().and_then(|l| l.strip_prefix("at: ")) {
                assert!(
                    text.contains(at),
                    "case {name}: error {text:?} is not at {at}"
                );
            }
        }
        (Err(e), None) => panic!("case {name}: unexpected error: {e}"),
    }
}

#[test]
fn loader_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "cases missing");
    for case in cases {
        check(&case);
    }
}

//! Data-driven inventory tests: every directory under `tests/cases/` holds inventory sources
//! and a `case.yml` saying what to load and what must come out:
//!
//! ```yaml
//! sources: [hosts.ini]          # -i sources, relative to the case directory
//! playbook_dir: play            # optional: a playbook-adjacent group_vars/host_vars layer
//! hash_behaviour: merge         # optional: mappings merge across layers and sources
//! patterns: {"web:!db": [web1]} # pattern -> selected hosts, in order
//! limits: [{hosts: all, limit: "web*", expect: [web1]}]
//! vars: {web1: {a: 1}}          # host -> exactly its merged variables
//! group_names: {web1: [web]}
//! graph: "@all:\n  |--@ungrouped:"
//! list: {...}                   # `--list` JSON
//! warnings: ["substring", ...]  # each must appear in some warning
//! error: "hosts.ini:3:5: message"  # loading must fail; the error's first line starts so
//! ```
//!
//! Paths in messages are shown relative to the case directory.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use drover_inventory::{Inventory, InventoryError, VarsDirKind};
use drover_yaml::{parse_one, Node};
use serde_json::Value as Json;

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.yml").exists())
        .collect();
    dirs.sort();
    dirs
}

fn strings(node: &Node) -> Vec<String> {
    node.as_seq()
        .unwrap_or(&[])
        .iter()
        .map(|n| n.scalar_text().unwrap())
        .collect()
}

fn relative(dir: &Path, text: &str) -> String {
    text.replace(&format!("{}/", dir.display()), "")
}

fn load(dir: &Path, case: &Node) -> Result<Inventory, InventoryError> {
    let sources: Vec<String> = strings(case.get("sources").unwrap())
        .iter()
        .map(|s| {
            let p = dir.join(s);
            // Host lists are not paths.
            if s.contains(',') && !p.exists() {
                s.clone()
            } else {
                p.display().to_string()
            }
        })
        .collect();
    let merging = case.get("hash_behaviour").and_then(Node::as_str) == Some("merge");
    let mut inv = Inventory::load_merging(&sources, merging)?;
    if let Some(play) = case.get("playbook_dir").and_then(Node::as_str) {
        inv.add_vars_dir(&dir.join(play), VarsDirKind::Playbook)?;
    }
    Ok(inv)
}

fn check(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let src = std::fs::read_to_string(dir.join("case.yml")).unwrap();
    let case = parse_one(&src, "case.yml").unwrap().root;
    let mut failures = Vec::new();
    let mut fail = |what: String| failures.push(format!("[{name}] {what}"));

    let inv = match (load(dir, &case), case.get("error")) {
        (Err(e), Some(expected)) => {
            let got = relative(dir, &e.to_string());
            let expected = expected.as_str().unwrap();
            if !got.lines().next().unwrap_or("").starts_with(expected) {
                fail(format!("error: expected {expected:?}, got:\n{got}"));
            }
            if let Some(snippet) = case.get("snippet").and_then(Node::as_str) {
                if !got.contains(snippet) {
                    fail(format!("error snippet: expected {snippet:?} in:\n{got}"));
                }
            }
            return failures;
        }
        (Ok(_), Some(expected)) => {
            fail(format!(
                "expected error {:?}, loaded fine",
                expected.as_str()
            ));
            return failures;
        }
        (Err(e), None) => {
            fail(format!("failed to load: {}", relative(dir, &e.to_string())));
            return failures;
        }
        (Ok(inv), None) => inv,
    };

    for (pattern, expected) in case.get("patterns").and_then(Node::as_map).unwrap_or(&[]) {
        let pattern = pattern.scalar_text().unwrap();
        match inv.select(&pattern) {
            Ok(sel) => {
                if sel.hosts != strings(expected) {
                    fail(format!(
                        "pattern {pattern:?}: expected {:?}, got {:?}",
                        strings(expected),
                        sel.hosts
                    ));
                }
            }
            Err(e) => {
                let got = format!("error: {e}");
                if expected.as_str().is_none_or(|x| !got.starts_with(x)) {
                    fail(format!(
                        "pattern {pattern:?}: expected {expected:?}, got {got}"
                    ));
                }
            }
        }
    }
    for item in case.get("limits").and_then(Node::as_seq).unwrap_or(&[]) {
        let hosts = inv
            .select(item.get("hosts").unwrap().as_str().unwrap())
            .unwrap()
            .hosts;
        let limit = item.get("limit").unwrap().as_str().unwrap();
        let limit = limit.replace("@", &format!("@{}/", dir.display()));
        let got = inv.limit(&hosts, &limit).unwrap().hosts;
        let expected = strings(item.get("expect").unwrap());
        if got != expected {
            fail(format!(
                "limit {limit:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    for (host, expected) in case.get("vars").and_then(Node::as_map).unwrap_or(&[]) {
        let host = host.scalar_text().unwrap();
        let mut got = serde_json::to_value(inv.host_vars(&host)).unwrap();
        let expected = expected.to_json();
        // The implicit localhost's interpreter is wherever this machine's python3 is.
        if expected.get("ansible_python_interpreter").is_none() && inv.is_implicit_localhost(&host)
        {
            if let Some(o) = got.as_object_mut() {
                o.remove("ansible_python_interpreter");
            }
        }
        if got != expected {
            fail(format!(
                "vars of {host}:\n expected {expected}\n      got {got}"
            ));
        } else if got.as_object().map(|o| o.keys().collect::<Vec<_>>())
            != expected.as_object().map(|o| o.keys().collect::<Vec<_>>())
        {
            fail(format!(
                "vars of {host}: key order:\n expected {expected}\n      got {got}"
            ));
        }
    }
    for (host, expected) in case
        .get("group_names")
        .and_then(Node::as_map)
        .unwrap_or(&[])
    {
        let host = host.scalar_text().unwrap();
        let got = inv.group_names(&host);
        if got != strings(expected) {
            fail(format!(
                "group_names of {host}: expected {:?}, got {got:?}",
                strings(expected)
            ));
        }
    }
    if let Some(expected) = case.get("graph").and_then(Node::as_str) {
        let got = inv.graph(None).unwrap();
        if got.trim_end() != expected.trim_end() {
            fail(format!("graph: expected\n{expected}\ngot\n{got}"));
        }
    }
    if let Some(expected) = case.get("list") {
        let got = inv.list_json();
        let expected: Json = expected.to_json();
        if got != expected {
            fail(format!(
                "list: expected\n{}\ngot\n{}",
                serde_json::to_string_pretty(&expected).unwrap(),
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
    }
    for expected in case.get("warnings").map(strings).unwrap_or_default() {
        let all: Vec<String> = inv.warnings().iter().map(|w| relative(dir, w)).collect();
        if !all.iter().any(|w| w.contains(&expected)) {
            fail(format!("warning {expected:?} not among {all:?}"));
        }
    }
    failures
}

#[test]
fn inventory_cases() {
    let dirs = case_dirs();
    assert!(dirs.len() >= 25, "test cases went missing");
    let failures: Vec<String> = dirs.iter().flat_map(|d| check(d)).collect();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

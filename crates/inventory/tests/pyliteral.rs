//! Differential test: values on INI host lines must come out as Python's `ast.literal_eval`
//! reads them (the text itself when it is not a literal), which is what Ansible does.
//! Skipped, with a notice, when python3 is missing.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use drover_inventory::ini_host_value;
use serde_json::Value;

const EVAL: &str = r#"
import ast, json, sys
out = []
for text in json.load(sys.stdin):
    try:
        v = ast.literal_eval(text)
        if isinstance(v, tuple): v = list(v)
        json.dumps(v)
    except Exception:
        v = text
    out.append(v)
print(json.dumps(out))
"#;

const INPUTS: &[&str] = &[
    "22",
    "-7",
    "+3",
    "1_000",
    "0x1F",
    "0o17",
    "0b101",
    "0644",
    "00",
    "0",
    "1.5",
    "-1.5",
    "1e3",
    "1E-2",
    ".5",
    "5.",
    "True",
    "False",
    "None",
    "true",
    "yes",
    "'single'",
    "\"double\"",
    "'a' 'b'",
    "'esc\\'aped'",
    "\"tab\\there\"",
    "[1, 2, 3]",
    "[1, [2, 'x'], {'k': None}]",
    "(1, 2)",
    "(1,)",
    "(1)",
    "()",
    "[]",
    "{}",
    "{'a': 1, 'b': 'two'}",
    "{'a': 1,}",
    "[1, 2,]",
    "192.168.0.1",
    "host.example.com",
    "/usr/bin/python3",
    "a=b",
    "1__0",
    "_1",
    "1_",
    "[1, 2",
    "'open",
    "{1: 2}",
    "x y",
    "",
    " 5 ",
    "-",
    "--1",
    "1.2.3",
    "0.1e+5",
    "inf",
    "nan",
];

fn have_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[allow(clippy::print_stderr)]
fn agrees_with_python_literal_eval() {
    if !have_python() {
        eprintln!("notice: python3 not found; skipping the literal_eval differential test");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", EVAL])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(INPUTS).unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &input).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let python: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut failures = Vec::new();
    for (text, expected) in INPUTS.iter().zip(&python) {
        let ours = serde_json::to_value(ini_host_value(text)).unwrap();
        if &ours != expected {
            failures.push(format!("{text:?}: python {expected}, drover {ours}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

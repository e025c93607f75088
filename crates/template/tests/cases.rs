//! Data-driven templating tests: every `tests/cases/*.txt` file holds cases run through one
//! [`check`], and the cases without an expected error are also rendered by Python's Jinja2
//! (when installed) to compare outputs.
//!
//! Case format:
//!
//! ```text
//! === name
//! --- template        (or `--- condition` for eval_condition, `--- file` for render_template_file)
//! {{ x | upper }}
//! --- vars            (optional, JSON)
//! {"x": "abc"}
//! --- output          (the rendered text; or `--- native` with JSON, or `--- error` with a substring)
//! ABC
//! --- nodiff          (optional: skip the Jinja2 comparison, e.g. for Ansible-only behaviour)
//! ```

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use drover_template::{
    from_serde, py_str, Scope, Templar, TemplarConfig, TemplateFileVars, VarSource,
};
use minijinja::value::Value;

#[derive(Debug, Default, Clone)]
struct Case {
    file: String,
    name: String,
    sections: BTreeMap<String, String>,
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    let mut section: Option<String> = None;
    let mut body = String::new();
    let flush = |case: &mut Option<Case>, section: &mut Option<String>, body: &mut String| {
        if let (Some(c), Some(s)) = (case.as_mut(), section.take()) {
            let text = body.strip_suffix('\n').unwrap_or(body).to_string();
            c.sections.insert(s, text);
        }
        body.clear();
    };
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            // The blank line separating cases belongs to neither.
            if body.ends_with("\n\n") {
                body.pop();
            }
            flush(&mut current, &mut section, &mut body);
            if let Some(c) = current.take() {
                cases.push(c);
            }
            current = Some(Case {
                file: file.to_string(),
                name: name.trim().to_string(),
                ..Case::default()
            });
        } else if let Some(s) = line.strip_prefix("--- ") {
            flush(&mut current, &mut section, &mut body);
            section = Some(s.trim().to_string());
        } else if section.is_some() {
            body.push_str(line);
        }
    }
    flush(&mut current, &mut section, &mut body);
    if let Some(c) = current {
        cases.push(c);
    }
    cases
}

fn load_all() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        if f.extension().is_some_and(|e| e == "txt") {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            all.extend(parse_cases(&name, &std::fs::read_to_string(&f).unwrap()));
        }
    }
    all
}

fn vars_of(case: &Case) -> BTreeMap<String, Value> {
    let json: serde_json::Value = match case.sections.get("vars") {
        Some(v) => {
            serde_json::from_str(v).unwrap_or_else(|e| panic!("{}: bad vars JSON: {e}", case.name))
        }
        None => serde_json::json!({}),
    };
    let mut vars = BTreeMap::new();
    for (k, v) in json.as_object().unwrap() {
        vars.insert(k.clone(), from_serde(v));
    }
    // `!unsafe` values: names listed in `unsafe` become unsafe strings.
    if let Some(list) = case.sections.get("unsafe") {
        for name in list.split_whitespace() {
            let s = vars[name].as_str().unwrap().to_string();
            vars.insert(name.to_string(), drover_template::unsafe_string(s));
        }
    }
    vars
}

/// Renders a case; `Ok(text-or-json)` or `Err(message)`.
fn run(templar: &Templar, case: &Case) -> Result<String, String> {
    let vars: Arc<dyn VarSource> = Arc::new(vars_of(case));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let scope = Scope::new(vars).with_lookup_context(drover_template::LookupContext {
        file_paths: vec![fixtures.join("files"), fixtures.clone()],
        template_paths: vec![fixtures.join("templates")],
        cwd: Some(fixtures.clone()),
    });
    if let Some(cond) = case.sections.get("condition") {
        return templar
            .eval_condition(cond, &scope)
            .map(|b| b.to_string())
            .map_err(|e| e.to_string());
    }
    if let Some(src) = case.sections.get("file") {
        let mut extra = TemplateFileVars {
            path: "case.j2".into(),
            fullpath: fixtures.join("templates/case.j2"),
            search_paths: vec![fixtures.join("templates")],
            host: Some("controller".into()),
            uid: Some("owner".into()),
            run_date: Some("2024-01-02 03:04:05.000006".into()),
            destpath: Some("/etc/case.conf".into()),
            ..TemplateFileVars::default()
        };
        extra.locals.clear();
        return templar
            .render_template_file(src, "case.j2", &scope, &extra)
            .map_err(|e| e.to_string());
    }
    let template = case
        .sections
        .get("template")
        .unwrap_or_else(|| panic!("{}: no template", case.name));
    let v = templar
        .render_str(template, &scope)
        .map_err(|e| e.to_string())?;
    if case.sections.contains_key("native") {
        return Ok(serde_json::to_string(&v).unwrap());
    }
    Ok(drover_template::py_str(&v)).map(|s| if v.is_none() { String::new() } else { s })
}

/// The one check: the case's expectation against drover's result.
fn check(templar: &Templar, case: &Case) -> Result<(), String> {
    let got = run(templar, case);
    let label = format!("{} / {}", case.file, case.name);
    if let Some(err) = case.sections.get("error") {
        return match got {
            Err(msg) if msg.contains(err.as_str()) => Ok(()),
            Err(msg) => Err(format!("{label}: error {msg:?} does not contain {err:?}")),
            Ok(out) => Err(format!(
                "{label}: expected error {err:?}, got output {out:?}"
            )),
        };
    }
    let got = got.map_err(|e| format!("{label}: unexpected error: {e}"))?;
    if let Some(native) = case.sections.get("native") {
        let want: serde_json::Value =
            serde_json::from_str(native).map_err(|e| format!("{label}: bad native JSON: {e}"))?;
        let got_json: serde_json::Value = serde_json::from_str(&got).unwrap();
        return if want == got_json {
            Ok(())
        } else {
            Err(format!("{label}: native {got_json} != expected {want}"))
        };
    }
    let want = case
        .sections
        .get("output")
        .ok_or_else(|| format!("{label}: no expectation"))?;
    if &got == want {
        Ok(())
    } else {
        Err(format!(
            "{label}:\n  got:      {got:?}\n  expected: {want:?}"
        ))
    }
}

/// The cases are written as Jinja2 templates (so they can be compared with Jinja2), not as
/// playbook strings: Ansible's backslash escaping for playbook strings is off. It has its
/// own test below.
fn plain_jinja_templar() -> Templar {
    Templar::new(TemplarConfig {
        escape_backslashes: false,
        ..TemplarConfig::default()
    })
}

#[test]
fn playbook_strings_keep_backslashes_in_expression_literals() {
    // What YAML hands over for `"{{ ... '\\2' ... }}"`: one backslash inside the literal.
    let templar = Templar::default();
    let scope = Scope::new(Arc::new(BTreeMap::<String, Value>::new()));
    let out = templar
        .render_str(
            r"{{ 'goodbye' | regex_search('(good)(bye)', '\2', '\1') }}",
            &scope,
        )
        .unwrap();
    assert_eq!(py_str(&out), "['bye', 'good']");
    let out = templar
        .render_str(
            r"x\1 {{ 'a.b' | regex_replace('(a)\.(b)', '\2\1') }}",
            &scope,
        )
        .unwrap();
    assert_eq!(out.as_str(), Some(r"x\1 ba"));
}

#[test]
fn cases() {
    let templar = plain_jinja_templar();
    let cases = load_all();
    assert!(cases.len() > 50, "only {} cases found", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(&templar, c).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Renders the plain-Jinja2 cases with Python's Jinja2 configured as Ansible configures it and
/// compares outputs. Skips (with a notice) when Python or Jinja2 is missing.
#[test]
fn differential_against_jinja2() {
    let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jinja2_shim.py");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import jinja2"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("notice: python3 with jinja2 not available; differential test skipped");
        return;
    }
    let templar = plain_jinja_templar();
    let cases: Vec<Case> = load_all()
        .into_iter()
        .filter(|c| {
            c.sections.contains_key("template")
                && !c.sections.contains_key("error")
                && !c.sections.contains_key("nodiff")
                && !c.sections.contains_key("unsafe")
        })
        .collect();
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            let vars: serde_json::Value = c
                .sections
                .get("vars")
                .map(|v| serde_json::from_str(v).unwrap())
                .unwrap_or(serde_json::json!({}));
            serde_json::json!({"template": c.sections["template"], "vars": vars})
        })
        .collect();
    let mut child = std::process::Command::new("python3")
        .arg(&shim)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(&input).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "shim failed");
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut compared = 0;
    let mut failures = Vec::new();
    for (case, result) in cases.iter().zip(results) {
        let Some(py) = result.get("output").and_then(|o| o.as_str()) else {
            continue; // the shim lacks a filter this case needs
        };
        compared += 1;
        let ours = run(&templar, case).map(|s| {
            if case.sections.contains_key("native") {
                let v: serde_json::Value = serde_json::from_str(&s).unwrap();
                if v.is_null() {
                    String::new()
                } else {
                    py_str(&from_serde(&v))
                }
            } else {
                s
            }
        });
        match ours {
            Ok(o) if o == py => {}
            other => failures.push(format!(
                "{} / {}: jinja2 {py:?}, drover {other:?}",
                case.file, case.name
            )),
        }
    }
    assert!(compared > 30, "only {compared} cases compared with Jinja2");
    assert!(
        failures.is_empty(),
        "differences with Jinja2:\n{}",
        failures.join("\n")
    );
}

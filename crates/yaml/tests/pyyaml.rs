//! Differential test: every document in `tests/corpus/*.yaml` must load to the same typed tree
//! as PyYAML's `safe_load_all` (which is what Ansible's loader builds on), and every file in
//! `tests/corpus/invalid/` must be rejected by both. Skipped, with a notice, without PyYAML.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use drover_yaml::{parse_str, Node, NodeKind};
use serde_json::{json, Value};

/// Prints each file's documents as JSON where every value is tagged with its Python type, so
/// `1`, `1.0`, `"1"` and `true` stay distinct.
const DUMP: &str = r#"
import datetime, json, sys, yaml
def tag(v):
    if v is None: return {"n": None}
    if isinstance(v, bool): return {"b": v}
    if isinstance(v, int): return {"i": str(v)}
    if isinstance(v, float): return {"f": repr(v)}
    if isinstance(v, str): return {"s": v}
    if isinstance(v, (datetime.date, datetime.datetime)): return {"s": v.isoformat()}
    if isinstance(v, list): return {"l": [tag(x) for x in v]}
    if isinstance(v, dict): return {"m": [[tag(k), tag(x)] for k, x in v.items()]}
    raise TypeError(type(v))
out = {}
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            out[path] = {"ok": [tag(d) for d in yaml.safe_load_all(f)]}
    except Exception as e:
        out[path] = {"err": str(e)}
print(json.dumps(out))
"#;

fn tag(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Null => json!({ "n": null }),
        NodeKind::Bool(b) => json!({ "b": b }),
        NodeKind::Int(i) => json!({ "i": i.to_string() }),
        NodeKind::Float(f) => json!({ "f": float_key(*f) }),
        NodeKind::Str(s) => json!({ "s": s }),
        NodeKind::Seq(items) => json!({ "l": items.iter().map(tag).collect::<Vec<_>>() }),
        NodeKind::Map(pairs) => {
            json!({ "m": pairs.iter().map(|(k, v)| json!([tag(k), tag(v)])).collect::<Vec<_>>() })
        }
    }
}

fn float_key(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else {
        format!("{f:?}")
    }
}

/// Python's `repr` of floats differs in notation from Rust's `{:?}`; compare values instead.
fn normalize_python(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(s)) = map.get("f") {
                let f: f64 = s.parse().expect("python float repr");
                map.insert("f".to_string(), Value::String(float_key(f)));
            } else {
                map.values_mut().for_each(normalize_python);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_python),
        _ => {}
    }
}

fn have_pyyaml() -> bool {
    Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn pyyaml(files: &[PathBuf]) -> serde_json::Map<String, Value> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(DUMP)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Object(map) => map,
        other => panic!("unexpected python output {other}"),
    }
}

#[test]
#[allow(clippy::print_stderr)]
fn agrees_with_pyyaml() {
    if !have_pyyaml() {
        eprintln!("notice: python3 with PyYAML not found; skipping the PyYAML differential test");
        return;
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let valid = yaml_files(&corpus);
    let invalid = yaml_files(&corpus.join("invalid"));
    assert!(
        valid.len() >= 4 && invalid.len() >= 5,
        "corpus went missing"
    );
    let all: Vec<PathBuf> = valid.iter().chain(&invalid).cloned().collect();
    let python = pyyaml(&all);

    for path in &valid {
        let key = path.to_string_lossy().to_string();
        let src = std::fs::read_to_string(path).unwrap();
        let ours = parse_str(&src, &key).unwrap_or_else(|e| panic!("{e}"));
        let ours = Value::Array(ours.iter().map(|d| tag(&d.root)).collect());
        let mut theirs = python[&key]["ok"].clone();
        assert!(!theirs.is_null(), "PyYAML rejected {key}: {}", python[&key]);
        normalize_python(&mut theirs);
        let (ours, theirs) = (ours.as_array().unwrap(), theirs.as_array().unwrap());
        assert_eq!(ours.len(), theirs.len(), "document count of {key}");
        for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
            compare(&format!("{key} doc {i}"), o, t);
        }
    }
    for path in &invalid {
        let key = path.to_string_lossy().to_string();
        let src = std::fs::read_to_string(path).unwrap();
        assert!(python[&key]["err"].is_string(), "PyYAML accepted {key}");
        let err = parse_str(&src, &key).expect_err(&key);
        assert!(err.pos.line >= 1, "{key}: error without a position: {err}");
    }
}

/// Compares mapping entries one by one so a failure names the first differing key.
fn compare(ctx: &str, ours: &Value, theirs: &Value) {
    match (ours.get("m"), theirs.get("m")) {
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for (x, y) in a.iter().zip(b) {
                assert_eq!(x[0], y[0], "{ctx}: key order/type");
                compare(&format!("{ctx} / {}", x[0]), &x[1], &y[1]);
            }
            assert_eq!(a.len(), b.len(), "{ctx}: mapping size");
        }
        _ => match (ours.get("l"), theirs.get("l")) {
            (Some(Value::Array(a)), Some(Value::Array(b))) => {
                assert_eq!(a.len(), b.len(), "{ctx}: list length");
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    compare(&format!("{ctx}[{i}]"), x, y);
                }
            }
            _ => assert_eq!(ours, theirs, "{ctx}"),
        },
    }
}

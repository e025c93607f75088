//! Ansible's Jinja tests (`is succeeded`, `is version(...)`, `is match(...)`, …). minijinja
//! already provides Jinja2's own (`defined`, `none`, `string`, `even`, `eq`, `in`, …).

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use crate::filters::{fail, regex_test};
use crate::pyrepr::py_str;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_test("undefined", |v: &Value| v.is_undefined());
    env.add_test("match", |v: &Value, p: String, kw: Kwargs| {
        regex_test(v, &p, &kw, true)
    });
    env.add_test("search", |v: &Value, p: String, kw: Kwargs| {
        regex_test(v, &p, &kw, false)
    });
    env.add_test("regex", |v: &Value, p: String, kw: Kwargs| {
        regex_test(v, &p, &kw, false)
    });
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, |v: &Value| {
            Ok::<_, Error>(!result_flag(v, "failed", "succeeded")?)
        });
    }
    for name in ["failed", "failure"] {
        env.add_test(name, |v: &Value| result_flag(v, "failed", "failed"));
    }
    for name in ["changed", "change"] {
        env.add_test(name, |v: &Value| result_flag(v, "changed", "changed"));
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, |v: &Value| result_flag(v, "skipped", "skipped"));
    }
    env.add_test("uri", |v: &Value, schemes: Option<Value>| {
        is_uri(v, schemes.as_ref())
    });
    env.add_test("url", |v: &Value, schemes: Option<Value>| {
        is_uri(v, schemes.as_ref()).then(|| {
            let parts = crate::filters::data::split_url(&py_str(v));
            !parts.netloc.is_empty() || parts.scheme == "file"
        }) == Some(true)
    });
    // Whether a file on the controller is vault-encrypted (a path relative to the working
    // directory, as Python's open() reads it).
    env.add_test("vaulted_file", |v: &Value| -> Result<bool, Error> {
        let path = py_str(v);
        std::fs::read(&path)
            .map(|data| drover_vault::is_encrypted_bytes(&data))
            .map_err(|_| fail(format!("Cannot test if the file '{path}' is a vault.")))
    });
    env.add_test("urn", |v: &Value| {
        is_uri(v, Some(&Value::from(vec!["urn"])))
    });
    env.add_test("unreachable", |v: &Value| {
        result_flag(v, "unreachable", "unreachable")
    });
    env.add_test("reachable", |v: &Value| {
        Ok::<_, Error>(!result_flag(v, "unreachable", "reachable")?)
    });
    env.add_test("finished", |v: &Value| {
        check_result(v, "finished")?;
        Ok::<_, Error>(
            v.get_attr("finished")
                .ok()
                .filter(|f| !f.is_undefined())
                .is_none_or(|f| f.as_i64() != Some(0) && f.is_true()),
        )
    });
    env.add_test("started", |v: &Value| {
        check_result(v, "started")?;
        Ok::<_, Error>(
            v.get_attr("started")
                .ok()
                .filter(|f| !f.is_undefined())
                .is_none_or(|f| f.is_true()),
        )
    });
    for name in ["version", "version_compare"] {
        env.add_test(name, crate::filters::version_test);
    }
    for name in ["subset", "issubset"] {
        env.add_test(name, |a: Value, b: Value| {
            let bv: Vec<Value> = b.try_iter()?.collect();
            Ok::<_, Error>(a.try_iter()?.all(|x| bv.contains(&x)))
        });
    }
    for name in ["superset", "issuperset"] {
        env.add_test(name, |a: Value, b: Value| {
            let av: Vec<Value> = a.try_iter()?.collect();
            Ok::<_, Error>(b.try_iter()?.all(|x| av.contains(&x)))
        });
    }
    // A task result that the task keyword `timeout` ended.
    env.add_test("timedout", |v: Value| {
        let t = v.get_attr("timedout").unwrap_or(Value::UNDEFINED);
        Ok::<_, Error>(
            t.is_true()
                && t.get_attr("period")
                    .is_ok_and(|p| !p.is_undefined() && p.is_true()),
        )
    });
    // Python's `in`: substring for strings, key for mappings, element otherwise.
    env.add_test("contains", |seq: Value, item: Value| {
        if let (Some(s), Some(sub)) = (seq.as_str(), item.as_str()) {
            return Ok::<_, Error>(s.contains(sub));
        }
        Ok::<_, Error>(seq.try_iter()?.any(|x| x == item))
    });
    env.add_test("any", |v: Value| {
        Ok::<_, Error>(v.try_iter()?.any(|x| x.is_true()))
    });
    env.add_test("all", |v: Value| {
        Ok::<_, Error>(v.try_iter()?.all(|x| x.is_true()))
    });
    env.add_test("truthy", |v: Value, kw: Kwargs| truthy(&v, &kw));
    env.add_test("falsy", |v: Value, kw: Kwargs| truthy(&v, &kw).map(|t| !t));
    for name in ["nan", "isnan"] {
        env.add_test(name, |v: Value| f64::try_from(v).is_ok_and(f64::is_nan));
    }
    for name in ["abs", "is_abs"] {
        env.add_test(name, |v: Value| py_str(&v).starts_with('/'));
    }
    env.add_test("exists", |v: Value| {
        std::path::Path::new(&py_str(&v)).exists()
    });
    // Each path test also answers to its `is_` name, as in Ansible.
    for name in ["file", "is_file"] {
        env.add_test(name, |v: Value| std::path::Path::new(&py_str(&v)).is_file());
    }
    for name in ["directory", "is_dir"] {
        env.add_test(name, |v: Value| std::path::Path::new(&py_str(&v)).is_dir());
    }
    // A symbolic link, whether or not its target exists.
    env.add_test("link_exists", |v: Value| {
        std::fs::symlink_metadata(py_str(&v)).is_ok()
    });
    for name in ["link", "is_link"] {
        env.add_test(name, |v: Value| {
            std::path::Path::new(&py_str(&v)).is_symlink()
        });
    }
    for name in ["same_file", "is_same_file"] {
        env.add_test(name, |a: Value, b: Value| {
            match (
                std::fs::canonicalize(py_str(&a)),
                std::fs::canonicalize(py_str(&b)),
            ) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
        });
    }
    for name in ["mount", "is_mount"] {
        env.add_test(name, |v: Value| {
            let p = py_str(&v);
            std::fs::read_to_string("/proc/self/mounts")
                .map(|m| {
                    m.lines()
                        .any(|l| l.split_whitespace().nth(1) == Some(p.as_str()))
                })
                .unwrap_or(false)
        });
    }
}

fn check_result(v: &Value, test: &str) -> Result<(), Error> {
    if v.kind() != ValueKind::Map {
        return Err(fail(format!("The '{test}' test expects a dictionary")));
    }
    Ok(())
}

/// A registered result's flag; for loop results, any item's flag counts (as Ansible does for
/// `changed`, and `failed` is set on the aggregate by the engine anyway).
fn result_flag(v: &Value, key: &str, test: &str) -> Result<bool, Error> {
    check_result(v, test)?;
    let own = v
        .get_attr(key)
        .ok()
        .is_some_and(|f| !f.is_undefined() && f.is_true());
    if own {
        return Ok(true);
    }
    if key == "changed" {
        if let Ok(results) = v.get_attr("results") {
            if results.kind() == ValueKind::Seq {
                return Ok(results.try_iter()?.any(|r| {
                    r.get_attr("changed")
                        .is_ok_and(|c| !c.is_undefined() && c.is_true())
                }));
            }
        }
    }
    Ok(false)
}

fn truthy(v: &Value, kw: &Kwargs) -> Result<bool, Error> {
    let convert = kw.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kw.assert_all_used()?;
    if convert {
        if let Some(s) = v.as_str() {
            let s = s.to_ascii_lowercase();
            if matches!(s.as_str(), "yes" | "on" | "1" | "true" | "t" | "y") {
                return Ok(true);
            }
            if matches!(s.as_str(), "no" | "off" | "0" | "false" | "f" | "n") {
                return Ok(false);
            }
        }
    }
    Ok(v.is_true())
}

/// Ansible's `uri` test: any text parses as a URI (an implied scheme, an empty path); with
/// `schemes`, its scheme must be one of them.
fn is_uri(v: &Value, schemes: Option<&Value>) -> bool {
    if v.kind() != ValueKind::String {
        return false;
    }
    let scheme = crate::filters::data::split_url(&py_str(v)).scheme;
    match schemes {
        None => true,
        // Python's `not schemes`: nothing given, or an empty list or string.
        Some(s) if s.is_none() || s.is_undefined() || s.len() == Some(0) => true,
        // Python's `in`: a substring of a string, a member of a list.
        Some(s) if s.kind() == ValueKind::String => {
            s.as_str().is_some_and(|t| t.contains(scheme.as_str()))
        }
        Some(s) => s
            .try_iter()
            .map(|mut it| it.any(|x| py_str(&x) == scheme))
            .unwrap_or(false),
    }
}

//! Ansible's filters, and Jinja2 builtins where minijinja's behaviour differs from Jinja2's.
//!
//! Argument names follow Ansible's documentation so keyword calls (`regex_replace(..., ignorecase=true)`)
//! work as in playbooks.

use std::collections::BTreeMap;

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};

use crate::ValueMap;
use minijinja::{Environment, Error, ErrorKind, State};

use crate::pyrepr::{py_repr, py_str};

mod collections;
pub(crate) mod data;
mod protomatter;
mod regex_filters;
mod version;

pub(crate) use collections::cartesian;
pub(crate) use regex_filters::regex_test;
pub(crate) use version::version_filter as version_test;

pub(crate) fn register(env: &mut Environment<'static>) {
    protomatter::register(env);
    env.add_filter("groupby", groupby);
    // Ansible's versions of these pass an undefined input through (so `x | map(f) is
    // undefined` holds); minijinja's fail on it.
    env.add_filter(
        "map",
        |st: &mut State, v: Value, args: Rest<ValueOrKwargs>| {
            undefined_or(v, |v| minijinja::filters::map(st, v, args))
        },
    );
    env.add_filter(
        "select",
        |st: &mut State, v: Value, test: Option<String>, args: Rest<ValueOrKwargs>| {
            undefined_or(v, |v| {
                minijinja::filters::select(st, v, test.map(Into::into), args)
            })
        },
    );
    env.add_filter(
        "reject",
        |st: &mut State, v: Value, test: Option<String>, args: Rest<ValueOrKwargs>| {
            undefined_or(v, |v| {
                minijinja::filters::reject(st, v, test.map(Into::into), args)
            })
        },
    );
    env.add_filter(
        "selectattr",
        |st: &mut State,
         v: Value,
         attr: String,
         test: Option<String>,
         args: Rest<ValueOrKwargs>| {
            undefined_or(v, |v| {
                minijinja::filters::selectattr(st, v, attr.into(), test.map(Into::into), args)
            })
        },
    );
    env.add_filter(
        "rejectattr",
        |st: &mut State,
         v: Value,
         attr: String,
         test: Option<String>,
         args: Rest<ValueOrKwargs>| {
            undefined_or(v, |v| {
                minijinja::filters::rejectattr(st, v, attr.into(), test.map(Into::into), args)
            })
        },
    );
    env.add_function("now", now);
    env.add_function("undef", undef);
    // types and strings
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("string", |v: Value| py_str(&v));
    env.add_filter("type_debug", |v: Value| type_name(&v).to_string());
    env.add_filter("join", join);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("mandatory", mandatory);
    env.add_filter("ternary", ternary);
    // None quotes as the empty string, as in Ansible.
    env.add_filter("quote", |v: Value| {
        shell_quote(&if v.is_none() {
            String::new()
        } else {
            py_str(&v)
        })
    });
    env.add_filter("center", |v: Value, width: Option<usize>| {
        crate::methods::pad(&py_str(&v), width.unwrap_or(80), ' ', "center")
    });
    env.add_filter("truncate", truncate);
    env.add_filter("wordcount", |v: Value| {
        py_str(&v).split_whitespace().count()
    });
    env.add_filter("comment", comment);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("basename", |v: Value| basename(&py_str(&v)).to_string());
    env.add_filter("dirname", |v: Value| dirname(&py_str(&v)).to_string());
    env.add_filter("expanduser", |v: Value| expanduser(&py_str(&v)));
    env.add_filter("realpath", |v: Value| {
        let p = expanduser(&py_str(&v));
        std::fs::canonicalize(&p)
            .map(|x| x.to_string_lossy().into_owned())
            .unwrap_or(p)
    });
    env.add_filter("splitext", |v: Value| {
        let (root, ext) = splitext(&py_str(&v));
        Value::from(vec![Value::from(root), Value::from(ext)])
    });
    env.add_filter("urldecode", |v: Value| urldecode(&py_str(&v)));
    env.add_filter("urlencode", urlencode);
    env.add_filter("path_join", path_join);
    env.add_filter("commonpath", commonpath);
    env.add_filter("fileglob", |v: Value| fileglob(&py_str(&v)));
    env.add_filter("to_datetime", to_datetime);
    env.add_filter("strftime", strftime);
    env.add_filter("human_readable", human_readable);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("hash", |v: Value, kind: Option<String>| {
        data::hash(&py_str(&v), kind.as_deref().unwrap_or("sha1"))
    });
    env.add_filter("md5", |v: Value| data::hash(&py_str(&v), "md5"));
    env.add_filter("sha1", |v: Value| data::hash(&py_str(&v), "sha1"));
    env.add_filter("checksum", |v: Value| data::hash(&py_str(&v), "sha1"));
    env.add_filter(
        "to_uuid",
        |v: Value, ns: Option<Value>, kw: Kwargs| -> Result<String, Error> {
            let ns = match kw.get::<Option<Value>>("namespace")? {
                Some(n) => Some(n),
                None => ns,
            };
            kw.assert_all_used()?;
            data::to_uuid(&py_str(&v), ns.map(|n| py_str(&n)).as_deref())
        },
    );
    env.add_filter("urlsplit", data::urlsplit);
    env.add_filter("log", |x: Value, base: Option<Value>| {
        let x = real("log", &x)?;
        Ok::<_, Error>(match base {
            Some(b) => x.ln() / real("log", &b)?.ln(),
            None => x.ln(),
        })
    });
    env.add_filter("pow", |x: Value, y: Value| {
        Ok::<_, Error>(real("pow", &x)?.powf(real("pow", &y)?))
    });
    env.add_filter("root", |x: Value, base: Option<Value>| {
        let x = real("root", &x)?;
        Ok::<_, Error>(match base.map(|b| real("root", &b)).transpose()? {
            None | Some(2.0) => x.sqrt(),
            Some(3.0) => x.cbrt(),
            Some(b) => x.powf(1.0 / b),
        })
    });
    env.add_filter("random", collections::random);
    env.add_filter("shuffle", collections::shuffle);
    env.add_filter("password_hash", crate::password::password_hash);
    // serialisation
    env.add_filter("to_json", data::to_json);
    env.add_filter("to_nice_json", data::to_nice_json);
    env.add_filter("from_json", data::from_json);
    env.add_filter("to_yaml", data::to_yaml);
    env.add_filter("to_nice_yaml", data::to_nice_yaml);
    env.add_filter("from_yaml", data::from_yaml);
    env.add_filter("from_yaml_all", data::from_yaml_all);
    // regular expressions
    env.add_filter("regex_replace", regex_filters::regex_replace);
    env.add_filter("regex_search", regex_filters::regex_search);
    env.add_filter("regex_findall", regex_filters::regex_findall);
    env.add_filter("regex_escape", regex_filters::regex_escape);
    // collections
    env.add_filter("combine", collections::combine);
    env.add_filter("unique", collections::unique);
    env.add_filter("rekey_on_member", collections::rekey_on_member);
    env.add_filter("dict2items", collections::dict2items);
    env.add_filter("items2dict", collections::items2dict);
    env.add_filter("flatten", collections::flatten);
    env.add_filter("union", collections::union);
    env.add_filter("intersect", collections::intersect);
    env.add_filter("difference", collections::difference);
    env.add_filter("symmetric_difference", collections::symmetric_difference);
    env.add_filter("zip_longest", collections::zip_longest);
    env.add_filter("product", collections::product);
    env.add_filter("permutations", collections::permutations);
    env.add_filter("combinations", collections::combinations);
    env.add_filter("extract", collections::extract);
    env.add_filter("subelements", collections::subelements);
    env.add_filter("zip", collections::zip);
    env.add_filter("version", version::version_filter);
    env.add_filter("version_compare", version::version_filter);
}

pub(crate) fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// A filter argument given by position or by keyword, as Python calls allow either.
pub(crate) fn or_kw<'a, T>(
    positional: Option<T>,
    kw: &'a Kwargs,
    name: &'a str,
) -> Result<Option<T>, Error>
where
    Option<T>: minijinja::value::ArgType<'a, Output = Option<T>>,
{
    match positional {
        Some(v) => Ok(Some(v)),
        None => kw.get::<Option<T>>(name),
    }
}

/// A number for Ansible's math filters, which take only numbers (Python's `math` functions),
/// failing with their message otherwise.
fn real(filter: &str, v: &Value) -> Result<f64, Error> {
    match v.kind() {
        ValueKind::Number | ValueKind::Bool => {
            f64::try_from(v.clone()).map_err(|e| fail(e.to_string()))
        }
        _ => Err(fail(format!(
            "{filter}() can only be used on numbers: must be real number, not {}",
            type_name(v)
        ))),
    }
}

/// Python's type name for a value, as Ansible prints it in messages and `type_debug`.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::Iterable => "generator",
        _ => "object",
    }
}

/// `to_datetime(format='%Y-%m-%d %H:%M:%S')`: Python's `datetime.strptime`. drover has no
/// datetime type: the result is the datetime as Python prints it (`1993-03-26 01:23:45`,
/// microseconds only when set), which compares, sorts and prints as the datetime would;
/// arithmetic on it (`a - b`) is not available.
fn to_datetime(v: Value, format: Option<String>) -> Result<String, Error> {
    let text = py_str(&v);
    let format = format.unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into());
    // Python's %f is microseconds (1 to 6 digits); chrono's %.f reads a dot and a fraction.
    let chrono_format = format.replace(".%f", "%.f");
    let parsed = chrono::NaiveDateTime::parse_from_str(&text, &chrono_format)
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(&text, &chrono_format)
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            fail(format!(
                "time data {} does not match format {}",
                py_repr(&Value::from(text.clone())),
                py_repr(&Value::from(format.clone()))
            ))
        })?;
    Ok(if parsed.and_utc().timestamp_subsec_micros() == 0 {
        parsed.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        parsed.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    })
}

/// `strftime(second=None, utc=False)`: Python's `time.strftime` of an epoch time (now when
/// none is given), in local time or UTC.
fn strftime(v: Value, second: Option<Value>, kw: Kwargs) -> Result<String, Error> {
    let utc = kw.get::<Option<bool>>("utc")?.unwrap_or(false);
    let second = match kw.get::<Option<Value>>("second")? {
        Some(s) => Some(s),
        None => second,
    };
    kw.assert_all_used()?;
    let epoch = match second.filter(|s| !s.is_none() && !s.is_undefined()) {
        None => None,
        Some(s) => {
            let f = match s.kind() {
                ValueKind::Number | ValueKind::Bool => f64::try_from(s.clone()).ok(),
                _ => py_str(&s).trim().parse::<f64>().ok(),
            };
            Some(f.ok_or_else(|| fail(format!("Invalid value for epoch value ({})", py_str(&s))))?)
        }
    };
    let when = match epoch {
        // Python's time functions truncate the fraction.
        Some(e) => chrono::DateTime::from_timestamp(e.trunc() as i64, 0)
            .ok_or_else(|| fail(format!("Invalid value for epoch value ({e})")))?,
        None => chrono::Utc::now(),
    };
    let format = py_str(&v);
    let mut out = String::new();
    let written = if utc {
        std::fmt::write(&mut out, format_args!("{}", when.format(&format)))
    } else {
        let local: chrono::DateTime<chrono::Local> = when.into();
        std::fmt::write(&mut out, format_args!("{}", local.format(&format)))
    };
    written.map_err(|_| fail(format!("strftime: invalid format {format:?}")))?;
    Ok(out)
}

/// Ansible's `fileglob` filter: Python's `glob.glob(pattern)` on the controller (relative to
/// the working directory, wildcards allowed in every component, `*` not matching a leading
/// dot), keeping regular files only. Python returns directory order; this sorts, which is one
/// of the orders Python may return.
fn fileglob(pattern: &str) -> Result<Vec<String>, Error> {
    let has_magic = |s: &str| s.contains(['*', '?', '[']);
    let absolute = pattern.starts_with('/');
    let mut current: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    for part in parts {
        let mut next = Vec::new();
        for base in &current {
            let join = |name: &str| {
                if base.is_empty() {
                    name.to_string()
                } else if base.ends_with('/') {
                    format!("{base}{name}")
                } else {
                    format!("{base}/{name}")
                }
            };
            if !has_magic(part) {
                let p = join(part);
                if std::fs::symlink_metadata(&p).is_ok() {
                    next.push(p);
                }
                continue;
            }
            let matcher = globset::GlobBuilder::new(part)
                .literal_separator(true)
                .backslash_escape(false)
                .build()
                .map_err(|e| fail(format!("fileglob: {e}")))?
                .compile_matcher();
            let dir = if base.is_empty() { "." } else { base.as_str() };
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| (!n.starts_with('.') || part.starts_with('.')) && matcher.is_match(n))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(n)));
        }
        current = next;
    }
    Ok(current
        .into_iter()
        .filter(|p| std::path::Path::new(p).is_file())
        .collect())
}

/// `f(v)` as a list, or undefined when `v` is.
fn undefined_or(
    v: Value,
    f: impl FnOnce(Value) -> Result<Vec<Value>, Error>,
) -> Result<Value, Error> {
    if v.is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    f(v).map(Value::from)
}

/// Jinja2's `groupby`, with groups that print as Python tuples (minijinja's own print as
/// Rust debug tuples); grouping and sorting are minijinja's.
fn groupby(value: Value, attribute: Option<&str>, kwargs: Kwargs) -> Result<Value, Error> {
    let groups = minijinja::filters::groupby(value, attribute, kwargs)?;
    let mut out = Vec::new();
    for g in groups.try_iter()? {
        let list: Vec<Value> = g.get_item(&Value::from(1))?.try_iter()?.collect();
        out.push(Value::from_object(crate::pyrepr::GroupTuple {
            grouper: g.get_item(&Value::from(0))?,
            list: Value::from(list),
        }));
    }
    Ok(Value::from(out))
}

/// Ansible's `bool` filter: yes/on/1/true/t/y (any case) are true, everything else false.
fn to_bool(v: Value) -> bool {
    match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim().to_ascii_lowercase();
            matches!(s.as_str(), "yes" | "on" | "1" | "true" | "t" | "y" | "1.0")
        }
        ValueKind::Number => f64::try_from(v).is_ok_and(|f| f == 1.0),
        _ => false,
    }
}

/// Jinja2's `int(default=0, base=10)`: strings are parsed as Python's `int(s, base)` then as a
/// float; anything unparseable yields the default.
fn to_int(
    state: &State,
    v: Value,
    default: Option<Value>,
    base: Option<u32>,
    kw: Kwargs,
) -> Result<Value, Error> {
    let default = or_kw(default, &kw, "default")?.unwrap_or(Value::from(0));
    let base = or_kw(base, &kw, "base")?.unwrap_or(10);
    kw.assert_all_used()?;
    if v.is_undefined() {
        let _: (String,) = minijinja::value::from_args(std::slice::from_ref(&v))?;
    }
    let _ = state;
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(i64::from(v.is_true())),
        ValueKind::Number if v.is_integer() => v,
        ValueKind::Number => match f64::try_from(v) {
            Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
            _ => default,
        },
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            parse_py_int(s, base)
                .map(Value::from)
                .or_else(|| {
                    parse_py_float(s)
                        .filter(|f| f.is_finite())
                        .map(|f| Value::from(f.trunc() as i64))
                })
                .unwrap_or(default)
        }
        _ => default,
    })
}

/// Python's `int(s, base)`: surrounding whitespace, a sign, `_` separators, and a `0x`/`0o`/`0b`
/// prefix matching the base.
pub(crate) fn parse_py_int(s: &str, base: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = s.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &s[2..]),
        (8 | 0, Some("0o")) => (8, &s[2..]),
        (2 | 0, Some("0b")) => (2, &s[2..]),
        (0, _) => (10, s),
        _ => (base, s),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let n = i64::from_str_radix(&clean, base).ok()?;
    Some(if neg { -n } else { n })
}

/// Python's `float(s)`.
pub(crate) fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse::<f64>().ok();
    }
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE_".contains(c))
    {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

fn to_float(v: Value, default: Option<Value>, kw: Kwargs) -> Result<Value, Error> {
    let default = or_kw(default, &kw, "default")?.unwrap_or(Value::from(0.0));
    kw.assert_all_used()?;
    if v.is_undefined() {
        let _: (String,) = minijinja::value::from_args(std::slice::from_ref(&v))?;
    }
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v).map(Value::from).unwrap_or(default),
        ValueKind::String => parse_py_float(v.as_str().unwrap_or_default())
            .map(Value::from)
            .unwrap_or(default),
        _ => default,
    })
}

/// Jinja2's `join(d='', attribute=None)`, with Python's `str()` of every item.
fn join(state: &State, v: Value, sep: Option<Value>, kw: Kwargs) -> Result<String, Error> {
    let sep = match sep {
        Some(s) => py_str(&s),
        None => kw.get::<Option<String>>("d")?.unwrap_or_default(),
    };
    let attribute: Option<String> = kw.get("attribute")?;
    kw.assert_all_used()?;
    if v.kind() == ValueKind::String {
        let s = v.as_str().unwrap_or_default();
        return Ok(s.chars().map(String::from).collect::<Vec<_>>().join(&sep));
    }
    let _ = state;
    let items = v.try_iter().map_err(|e| fail(format!("join: {e}")))?;
    let mut parts = Vec::new();
    for item in items {
        let item = match &attribute {
            Some(a) => crate::get_path(&item, a),
            None => item,
        };
        parts.push(py_str(&item));
    }
    Ok(parts.join(&sep))
}

/// Jinja2's `default(default_value='', boolean=False)`.
fn default(
    v: Value,
    other: Option<Value>,
    boolean: Option<bool>,
    kw: Kwargs,
) -> Result<Value, Error> {
    let other = or_kw(other, &kw, "default_value")?.unwrap_or(Value::from(""));
    let boolean = or_kw(boolean, &kw, "boolean")?.unwrap_or(false);
    kw.assert_all_used()?;
    if v.is_undefined() || (boolean && !v.is_true()) {
        Ok(other)
    } else {
        Ok(v)
    }
}

/// Ansible's `undef(hint=None)`: a value that fails when it is used, for variables that must
/// be overridden. drover's undefined values carry no message, so the failure happens when the
/// variable is templated; a variable that is never read (or is overridden) never fails.
fn undef(hint: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let hint = match kw.get::<Option<String>>("hint")? {
        Some(h) => Some(h),
        None => hint,
    };
    kw.assert_all_used()?;
    let hint = hint.unwrap_or_else(|| "Mandatory variable has not been overridden".into());
    // An undefined-kind error, so `debug: var=` shows the variable as not defined.
    Err(
        Error::new(ErrorKind::UndefinedError, hint.clone()).with_source(crate::TemplateError::new(
            crate::TemplateErrorKind::Undefined,
            hint,
        )),
    )
}

fn mandatory(v: Value, msg: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let msg = or_kw(msg, &kw, "msg")?;
    // Set by the template rewrite (safe_access) for `name | mandatory`.
    let name = kw.get::<Option<String>>(crate::safe_access::MANDATORY_NAME)?;
    kw.assert_all_used()?;
    if v.is_undefined() {
        return Err(fail(match (msg, name) {
            (Some(m), _) => m,
            (None, Some(n)) => format!("Mandatory variable '{n}' not defined."),
            (None, None) => "Mandatory variable not defined.".into(),
        }));
    }
    Ok(v)
}

fn ternary(v: Value, true_val: Value, false_val: Value, none_val: Option<Value>) -> Value {
    match none_val {
        Some(n) if v.is_none() => n,
        _ if v.is_true() => true_val,
        _ => false_val,
    }
}

/// Jinja2's `truncate(length=255, killwords=False, end='...', leeway=5)`.
fn truncate(
    v: Value,
    length: Option<usize>,
    killwords: Option<bool>,
    end: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let length = or_kw(length, &kw, "length")?.unwrap_or(255);
    let killwords = or_kw(killwords, &kw, "killwords")?.unwrap_or(false);
    let end = or_kw(end, &kw, "end")?.unwrap_or_else(|| "...".into());
    let leeway = kw.get::<Option<usize>>("leeway")?.unwrap_or(5);
    kw.assert_all_used()?;
    let s = py_str(&v);
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length + leeway {
        return Ok(s);
    }
    let keep: String = chars[..length.saturating_sub(end.chars().count())]
        .iter()
        .collect();
    if killwords {
        return Ok(keep + &end);
    }
    let cut = keep
        .rsplit_once(' ')
        .map_or(keep.as_str(), |(head, _)| head);
    Ok(format!("{cut}{end}"))
}

/// Python's `shlex.quote`.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// The text encodings `b64encode`/`b64decode` accept (Python codec names; case, `-` and
/// `_` ignored).
#[derive(Clone, Copy, PartialEq, Eq)]
enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// `utf-16`: a byte order mark, then little-endian (what Python writes on x86).
    Utf16,
    Latin1,
    Ascii,
}

fn text_encoding(name: Option<&str>) -> Result<TextEncoding, Error> {
    let Some(name) = name else {
        return Ok(TextEncoding::Utf8);
    };
    let n = name.replace(['-', '_'], "").to_ascii_lowercase();
    Ok(match n.as_str() {
        "utf8" | "u8" => TextEncoding::Utf8,
        "utf16le" => TextEncoding::Utf16Le,
        "utf16be" => TextEncoding::Utf16Be,
        "utf16" | "u16" => TextEncoding::Utf16,
        "latin1" | "iso88591" | "l1" => TextEncoding::Latin1,
        "ascii" | "usascii" => TextEncoding::Ascii,
        _ => return Err(fail(format!("unknown encoding: {name}"))),
    })
}

fn encode_text(s: &str, enc: TextEncoding) -> Result<Vec<u8>, Error> {
    let narrow = |limit: u32| {
        s.chars()
            .map(|c| {
                u8::try_from(u32::from(c))
                    .ok()
                    .filter(|_| u32::from(c) < limit)
                    .ok_or_else(|| fail(format!("character {c:?} cannot be encoded")))
            })
            .collect::<Result<Vec<u8>, Error>>()
    };
    Ok(match enc {
        TextEncoding::Utf8 => s.as_bytes().to_vec(),
        TextEncoding::Utf16Le => s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::Utf16Be => s.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        TextEncoding::Utf16 => [0xFF, 0xFE]
            .into_iter()
            .chain(s.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
        TextEncoding::Latin1 => narrow(0x100)?,
        TextEncoding::Ascii => narrow(0x80)?,
    })
}

fn decode_text(b: &[u8], enc: TextEncoding) -> Result<String, Error> {
    let utf16 = |b: &[u8], le: bool| {
        if !b.len().is_multiple_of(2) {
            return Err(fail("truncated UTF-16 data"));
        }
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|p| {
                if le {
                    u16::from_le_bytes([p[0], p[1]])
                } else {
                    u16::from_be_bytes([p[0], p[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|e| fail(e.to_string()))
    };
    match enc {
        // Python keeps undecodable bytes (surrogateescape); they cannot be a Rust string.
        TextEncoding::Utf8 => Ok(String::from_utf8_lossy(b).into_owned()),
        TextEncoding::Utf16Le => utf16(b, true),
        TextEncoding::Utf16Be => utf16(b, false),
        TextEncoding::Utf16 => match b {
            [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
            [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
            _ => utf16(b, true),
        },
        TextEncoding::Latin1 => Ok(b.iter().map(|x| char::from(*x)).collect()),
        TextEncoding::Ascii => b
            .iter()
            .map(|x| {
                x.is_ascii()
                    .then(|| char::from(*x))
                    .ok_or_else(|| fail(format!("byte 0x{x:02x} is not ascii")))
            })
            .collect(),
    }
}

fn b64_engine(urlsafe: bool) -> base64::engine::GeneralPurpose {
    if urlsafe {
        base64::engine::general_purpose::URL_SAFE
    } else {
        base64::engine::general_purpose::STANDARD
    }
}

/// `b64encode(encoding='utf-8', urlsafe=False)`: the text's bytes in that encoding, base64.
fn b64encode(v: Value, kw: Kwargs) -> Result<String, Error> {
    let enc = text_encoding(kw.get::<Option<&str>>("encoding")?)?;
    let urlsafe = kw.get::<Option<bool>>("urlsafe")?.unwrap_or(false);
    kw.assert_all_used()?;
    Ok(b64_engine(urlsafe).encode(encode_text(&py_str(&v), enc)?))
}

/// `b64decode(encoding='utf-8', urlsafe=False)`: base64 back to text in that encoding.
fn b64decode(v: Value, kw: Kwargs) -> Result<String, Error> {
    let enc = text_encoding(kw.get::<Option<&str>>("encoding")?)?;
    let urlsafe = kw.get::<Option<bool>>("urlsafe")?.unwrap_or(false);
    kw.assert_all_used()?;
    // Python's decoder skips characters outside the alphabet (newlines in wrapped output).
    let alphabet = |c: char| {
        c.is_ascii_alphanumeric()
            || c == '='
            || if urlsafe {
                c == '-' || c == '_'
            } else {
                c == '+' || c == '/'
            }
    };
    let s: String = py_str(&v).chars().filter(|c| alphabet(*c)).collect();
    let bytes = b64_engine(urlsafe)
        .decode(s)
        .map_err(|e| fail(format!("b64decode: {e}")))?;
    decode_text(&bytes, enc).map_err(|e| fail(format!("b64decode: {e}")))
}

/// Python's `os.path.basename`.
pub(crate) fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Jinja2's `urlencode`: a string (or any non-iterable) is quoted for a URL path (`/` kept); a
/// mapping, or a sequence of pairs, becomes a query string with `+` for spaces.
fn urlencode(v: Value) -> Result<String, Error> {
    fn quote(text: &str, for_qs: bool) -> String {
        let mut out = String::with_capacity(text.len());
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(char::from(b))
                }
                b'/' if !for_qs => out.push('/'),
                b' ' if for_qs => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    match v.kind() {
        ValueKind::Map => {
            let mut parts = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                parts.push(format!(
                    "{}={}",
                    quote(&py_str(&k), true),
                    quote(&py_str(&val), true)
                ));
            }
            Ok(parts.join("&"))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut parts = Vec::new();
            for pair in v.try_iter()? {
                let items: Vec<Value> = pair.try_iter()?.collect();
                let [k, val] = items.as_slice() else {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "urlencode: a sequence must hold (key, value) pairs",
                    ));
                };
                parts.push(format!(
                    "{}={}",
                    quote(&py_str(k), true),
                    quote(&py_str(val), true)
                ));
            }
            Ok(parts.join("&"))
        }
        _ => Ok(quote(&py_str(&v), false)),
    }
}

/// Python's `urllib.parse.unquote_plus`, which Ansible's `urldecode` is: `%XX` escapes are
/// bytes of UTF-8 text and `+` is a space.
fn urldecode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
                match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `os.path.commonpath` over a list of paths.
fn commonpath(v: Value) -> Result<String, Error> {
    if !matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Err(fail(format!(
            "|commonpath expects sequence, got <class '{}'> instead.",
            type_name(&v)
        )));
    }
    let paths: Vec<String> = v
        .try_iter()
        .map(|it| it.map(|p| py_str(&p)).collect())
        .unwrap_or_default();
    let Some(first) = paths.first() else {
        return Err(fail("commonpath() arg is an empty sequence"));
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err(fail("Can't mix absolute and relative paths"));
    }
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    let mut common = parts(first);
    for p in &paths[1..] {
        let other = parts(p);
        let n = common
            .iter()
            .zip(&other)
            .take_while(|(a, b)| a == b)
            .count();
        common.truncate(n);
    }
    let joined = common.join("/");
    Ok(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}

/// Python's `os.path.dirname`.
pub(crate) fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        None => "",
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head
            } else {
                trimmed
            }
        }
    }
}

fn splitext(p: &str) -> (String, String) {
    let base_start = p.rfind('/').map_or(0, |i| i + 1);
    let base = &p[base_start..];
    let leading_dots = base.len() - base.trim_start_matches('.').len();
    match base[leading_dots..].rfind('.') {
        Some(i) => {
            let cut = base_start + leading_dots + i;
            (p[..cut].to_string(), p[cut..].to_string())
        }
        None => (p.to_string(), String::new()),
    }
}

fn expanduser(p: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if p == "~" {
        return home;
    }
    match p.strip_prefix("~/") {
        Some(rest) if !home.is_empty() => format!("{}/{rest}", home.trim_end_matches('/')),
        _ => p.to_string(),
    }
}

fn path_join(v: Value) -> Result<String, Error> {
    let parts: Vec<String> = match v.kind() {
        ValueKind::String => vec![py_str(&v)],
        ValueKind::Seq | ValueKind::Iterable => v.try_iter()?.map(|x| py_str(&x)).collect(),
        _ => {
            return Err(fail(format!(
                "|path_join expects string or sequence, got <class '{}'> instead.",
                type_name(&v)
            )))
        }
    };
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') || out.is_empty() {
            out = part;
        } else {
            if !out.ends_with('/') {
                out.push('/');
            }
            out.push_str(&part);
        }
    }
    Ok(out)
}

/// Ansible's `comment(style='plain')` with its default decorations.
fn comment(v: Value, style: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let style = match kw.get::<Option<String>>("style")? {
        Some(s) => s,
        None => style.unwrap_or_else(|| "plain".into()),
    };
    // (beginning, decoration, end) of each style.
    let (beginning, style_decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(fail(format!(
                "Invalid style '{other}'. Available styles: plain, erlang, c, cblock, xml"
            )))
        }
    };
    let text_kw = |name: &str, default: &str| -> Result<String, Error> {
        Ok(kw
            .get::<Option<Value>>(name)?
            .map_or_else(|| default.to_string(), |v| py_str(&v)))
    };
    let count_kw = |name: &str| -> Result<usize, Error> {
        match kw.get::<Option<Value>>(name)? {
            None => Ok(1),
            Some(v) => py_str(&v)
                .trim()
                .parse::<usize>()
                .map_err(|_| fail(format!("comment: {name} must be an integer"))),
        }
    };
    let decoration = text_kw("decoration", style_decoration)?;
    // The lines before and after the text default to the decoration without its spaces.
    let frame = decoration.trim_end().to_string();
    let newline = text_kw("newline", "\n")?;
    let beginning = text_kw("beginning", beginning)?;
    let prefix = text_kw("prefix", &frame)?;
    let prefix_count = count_kw("prefix_count")?;
    let postfix = text_kw("postfix", &frame)?;
    let postfix_count = count_kw("postfix_count")?;
    let end = text_kw("end", end)?;
    kw.assert_all_used()?;

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let one = if prefix == newline {
            newline.clone()
        } else {
            format!("{prefix}{newline}")
        };
        out.push_str(&one.repeat(prefix_count));
    }
    // Every line gets the decoration; a decoration alone on its line loses trailing spaces.
    let body = format!(
        "{decoration}{}",
        py_str(&v).replace(&newline, &format!("{newline}{decoration}"))
    );
    out.push_str(&body.replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    ));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

const SIZE_UNITS: [(&str, u32); 9] = [
    ("Y", 8),
    ("Z", 7),
    ("E", 6),
    ("P", 5),
    ("T", 4),
    ("G", 3),
    ("M", 2),
    ("K", 1),
    ("B", 0),
];

/// Ansible's `human_readable(isbits=False, unit=None)`: `1.00 KB`, `10.00 Bytes`.
fn human_readable(
    v: Value,
    isbits: Option<bool>,
    unit: Option<String>,
    kwargs: minijinja::value::Kwargs,
) -> Result<String, Error> {
    let isbits = or_kw(isbits, &kwargs, "isbits")?;
    let unit = or_kw(unit, &kwargs, "unit")?;
    kwargs.assert_all_used()?;
    let size = f64::try_from(v.clone()).map_err(|_| {
        fail(format!(
            "human_readable() failed on bad input: could not convert string to float: {}",
            py_repr(&v)
        ))
    })?;
    let isbits = isbits.unwrap_or(false);
    let (suffix, base_name) = if isbits {
        ("b", "bits")
    } else {
        ("B", "Bytes")
    };
    for (letter, power) in SIZE_UNITS {
        let limit = 1024f64.powi(power as i32);
        let chosen = match &unit {
            Some(u) => {
                u.chars().next().map(|c| c.to_ascii_uppercase().to_string())
                    == Some(letter.to_string())
            }
            None => size >= limit,
        };
        if chosen {
            let value = size / limit;
            return Ok(if power == 0 {
                format!("{value:.2} {base_name}")
            } else {
                format!("{value:.2} {letter}{suffix}")
            });
        }
    }
    Ok(format!("{size:.2} {base_name}"))
}

/// Ansible's `human_to_bytes(default_unit=None, isbits=False)`.
fn human_to_bytes(
    v: Value,
    default_unit: Option<String>,
    isbits: Option<bool>,
    kwargs: Kwargs,
) -> Result<i64, Error> {
    let default_unit = or_kw(default_unit, &kwargs, "default_unit")?;
    let isbits = or_kw(isbits, &kwargs, "isbits")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    parse_human_bytes(&py_str(&v), default_unit, isbits).map_err(fail)
}

/// Ansible's `human_to_bytes` on text: `"10M"` → 10485760; with `isbits`, units end in `b`.
pub fn parse_human_bytes(
    s: &str,
    default_unit: Option<String>,
    isbits: bool,
) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("human_to_bytes() can't interpret following string: {s}"))?;
    let unit = unit.trim();
    let unit = if unit.is_empty() {
        default_unit.unwrap_or_default()
    } else {
        unit.to_string()
    };
    // After the multiplier, the unit is a byte (`B`) or, with `isbits`, a bit (`b`).
    let (class, class_name) = if isbits { ('b', "bit") } else { ('B', "byte") };
    let mut rest = unit.chars().skip(1);
    if let Some(second) = rest.next() {
        if second != class && !unit.to_lowercase().contains(class_name) {
            return Err(format!(
                "human_to_bytes() failed to convert {s}. Value is not a valid string (expect {class} or {class_name})"
            ));
        }
    }
    let letter = unit.chars().next().map(|c| c.to_ascii_uppercase());
    let power = match letter {
        None | Some('B') => 0,
        Some(c) => SIZE_UNITS
            .iter()
            .find(|(l, _)| l.starts_with(c))
            .map(|(_, p)| *p)
            .ok_or_else(|| format!("human_to_bytes() failed to convert {s}: unknown unit"))?,
    };
    Ok((num * 1024f64.powi(power as i32)).round() as i64)
}

/// Builds a plain map value from string keys.
pub(crate) fn map_value(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    let mut m = ValueMap::new();
    for (k, v) in entries {
        m.insert(Value::from(k), v);
    }
    Value::from_object(m)
}

pub(crate) fn kwargs_map(kw: &Kwargs) -> Result<BTreeMap<String, Value>, Error> {
    let mut out = BTreeMap::new();
    for name in kw.args() {
        out.insert(name.to_string(), kw.peek::<Value>(name)?);
    }
    Ok(out)
}

/// Jinja's `now(utc=False, fmt=None)` as Ansible defines it: the current time, as Python prints
/// a `datetime` or formatted with `fmt` (strftime).
fn now(kwargs: minijinja::value::Kwargs) -> Result<Value, minijinja::Error> {
    let utc: Option<bool> = kwargs.get("utc")?;
    let fmt: Option<String> = kwargs.get("fmt")?;
    kwargs.assert_all_used()?;
    let local = chrono::Local::now();
    let text = match (utc.unwrap_or(false), fmt) {
        (true, Some(f)) => local.with_timezone(&chrono::Utc).format(&f).to_string(),
        (true, None) => local
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
        (false, Some(f)) => local.format(&f).to_string(),
        (false, None) => local.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
    };
    Ok(Value::from(text))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn int_parsing_follows_python() {
        assert_eq!(parse_py_int(" 42 ", 10), Some(42));
        assert_eq!(parse_py_int("0x1A", 16), Some(26));
        assert_eq!(parse_py_int("1_000", 10), Some(1000));
        assert_eq!(parse_py_int("0x1A", 10), None);
        assert_eq!(parse_py_int("-7", 10), Some(-7));
        assert_eq!(parse_py_float("3.5"), Some(3.5));
        assert_eq!(parse_py_float("abc"), None);
    }

    #[test]
    fn paths_follow_posixpath() {
        assert_eq!(basename("/etc/hosts"), "hosts");
        assert_eq!(basename("/etc/"), "");
        assert_eq!(dirname("/etc/hosts"), "/etc");
        assert_eq!(dirname("/hosts"), "/");
        assert_eq!(dirname("hosts"), "");
        assert_eq!(splitext("/a/b.tar.gz"), ("/a/b.tar".into(), ".gz".into()));
        assert_eq!(splitext("/a/.bashrc"), ("/a/.bashrc".into(), String::new()));
    }

    #[test]
    fn shell_quote_matches_shlex() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
    }

    #[test]
    fn bool_filter() {
        for yes in ["yes", "On", "1", "true", "T", "y"] {
            assert!(to_bool(Value::from(yes)), "{yes}");
        }
        for no in ["no", "off", "0", "false", "", "maybe"] {
            assert!(!to_bool(Value::from(no)), "{no}");
        }
        assert!(to_bool(Value::from(1)));
        assert!(!to_bool(Value::from(())));
    }
}

//! Python's `str()` and `repr()` of template values.
//!
//! Ansible renders values the way Python prints them: `True`, `None` → empty output, lists as
//! `['a', 1]`, floats as `1.0`. minijinja's own `Display` follows Rust/JSON conventions, so every
//! place where Jinja2 would call `str()` (output, `string`, `join`, `~` inside our filters) goes
//! through here.

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};

/// Python's `str(value)`.
pub fn py_str(v: &Value) -> String {
    match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        _ => py_repr(v),
    }
}

/// The text Ansible writes for a value in a template's output: like `str()`, but `None` prints
/// nothing (Ansible's finalize hook).
pub fn py_output(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        return String::new();
    }
    py_str(v)
}

/// Python's `repr(value)`.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

fn write_repr(out: &mut String, v: &Value) {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&py_number(v)),
        ValueKind::String => write_str_repr(out, v.as_str().unwrap_or_default()),
        ValueKind::Bytes => {
            out.push_str("b'");
            for b in v.as_bytes().unwrap_or_default() {
                if b.is_ascii_graphic() || *b == b' ' {
                    out.push(char::from(*b));
                } else {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            out.push('\'');
        }
        ValueKind::Seq if v.is_tuple() || v.downcast_object_ref::<GroupTuple>().is_some() => {
            // A Python tuple: `(a, b)`, and `(a,)` for one item.
            out.push('(');
            let mut count = 0;
            if let Ok(iter) = v.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item);
                    count += 1;
                }
            }
            if count == 1 {
                out.push(',');
            }
            out.push(')');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(iter) = v.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(iter) = v.try_iter() {
                for (i, key) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key);
                    out.push_str(": ");
                    let item = v.get_item(&key).unwrap_or_default();
                    write_repr(out, &item);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
}

/// Python's repr of a string: single quotes unless the text contains a single quote and no
/// double quote.
fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A number as Python prints it: integers plainly, floats always with a fraction or exponent.
pub fn py_number(v: &Value) -> String {
    if let Some(f) = as_float_only(v) {
        return py_float(f);
    }
    v.to_string()
}

fn as_float_only(v: &Value) -> Option<f64> {
    if v.is_integer() {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

/// Python's `repr(float)`.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust prints `1e16` / `1.5e-7`; Python prints `1e+16` / `1.5e-07`.
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value, expected: &str) {
        assert_eq!(py_repr(&v), expected);
    }

    #[test]
    fn reprs() {
        check(Value::from(true), "True");
        check(Value::from(()), "None");
        check(Value::from(1.0), "1.0");
        check(Value::from(0.1), "0.1");
        check(Value::from(1e16), "1e+16");
        check(Value::from(1.5e-7), "1.5e-07");
        check(Value::from(-3), "-3");
        check(Value::from("it's"), "\"it's\"");
        check(Value::from("a'\""), "'a\\'\"'");
        check(
            Value::from(vec![Value::from("a"), Value::from(1)]),
            "['a', 1]",
        );
        check(
            crate::from_serde(serde_json::json!({"a": [true, null]})),
            "{'a': [True, None]}",
        );
    }

    #[test]
    fn output_of_none_is_empty() {
        assert_eq!(py_output(&Value::from(())), "");
        assert_eq!(py_output(&Value::from("x")), "x");
    }
}

/// One group of Jinja2's `groupby`: the named tuple `(grouper, list)`, which prints as a
/// Python tuple (`(1, [{'a': 1}])`), indexes as a pair and has `grouper`/`list` attributes.
#[derive(Debug)]
pub(crate) struct GroupTuple {
    pub grouper: Value,
    pub list: Value,
}

impl minijinja::value::Object for GroupTuple {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        match (key.as_i64(), key.as_str()) {
            (Some(0 | -2), None) | (None, Some("grouper")) => Some(self.grouper.clone()),
            (Some(1 | -1), None) | (None, Some("list")) => Some(self.list.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(2)
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&py_repr(&Value::from_dyn_object(self.clone())))
    }
}

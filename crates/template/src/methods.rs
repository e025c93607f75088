//! Python methods on values (`s.split(',')`, `d.items()`, `l.index(x)`), which Jinja2 gets for
//! free from Python and Ansible playbooks use everywhere.
//!
//! minijinja-contrib's `pycompat` covers the common ones; the few extras Ansible users reach for
//! are handled here first.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use crate::pyrepr::py_str;

pub(crate) fn call_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match (value.kind(), method) {
        (ValueKind::String, "zfill") => {
            let s = value.as_str().unwrap_or_default();
            let width = arg_usize(args, 0)?;
            let (sign, digits) = match s.strip_prefix(['-', '+']) {
                Some(rest) => (&s[..1], rest),
                None => ("", s),
            };
            let pad = width.saturating_sub(s.chars().count());
            Ok(Value::from(format!("{sign}{}{digits}", "0".repeat(pad))))
        }
        (ValueKind::String, "ljust" | "rjust" | "center") => {
            let s = value.as_str().unwrap_or_default();
            let width = arg_usize(args, 0)?;
            let fill = args
                .get(1)
                .and_then(|f| f.as_str())
                .and_then(|f| f.chars().next())
                .unwrap_or(' ');
            Ok(Value::from(pad(s, width, fill, method)))
        }
        (ValueKind::String, "index") => {
            let s = value.as_str().unwrap_or_default();
            let needle = args.first().map(py_str).unwrap_or_default();
            match s.find(&needle) {
                Some(byte) => Ok(Value::from(s[..byte].chars().count())),
                None => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "substring not found",
                )),
            }
        }
        (ValueKind::Seq, "index") => {
            let needle = args.first().cloned().unwrap_or_default();
            value
                .try_iter()?
                .position(|x| x == needle)
                .map(Value::from)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("{} is not in list", crate::pyrepr::py_repr(&needle)),
                    )
                })
        }
        _ => minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args),
    }
}

fn arg_usize(args: &[Value], i: usize) -> Result<usize, Error> {
    args.get(i)
        .and_then(|v| v.as_i64())
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "expected an integer width"))
}

/// Python's `str.ljust`/`rjust`/`center`.
pub(crate) fn pad(s: &str, width: usize, fill: char, how: &str) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let total = width - len;
    let (left, right) = match how {
        "ljust" => (0, total),
        "rjust" => (total, 0),
        // Python puts the odd extra character on the left when the width is odd.
        _ => {
            let left = total / 2 + (total & width & 1);
            (left, total - left)
        }
    };
    let fill = fill.to_string();
    format!("{}{s}{}", fill.repeat(left), fill.repeat(right))
}

#[cfg(test)]
mod tests {
    use super::pad;

    #[test]
    fn center_matches_python() {
        // Python: 'ab'.center(5,'*') == '**ab*'; 'abc'.center(6,'*') == '*abc**'
        assert_eq!(pad("ab", 5, '*', "center"), "**ab*");
        assert_eq!(pad("abc", 6, '*', "center"), "*abc**");
        assert_eq!(pad("a", 4, '-', "center"), "-a--");
        assert_eq!(pad("ab", 4, '.', "ljust"), "ab..");
        assert_eq!(pad("ab", 4, '.', "rjust"), "..ab");
    }
}

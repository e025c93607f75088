//! YAML 1.1 implicit typing of plain scalars, as PyYAML's `SafeLoader` (and so Ansible) does it,
//! and the construction of values for the explicit core tags (`!!int "12"`).
//!
//! The patterns follow the YAML 1.1 type repository (bool, int, float, null); the differential
//! test in `tests/pyyaml.rs` keeps them honest against PyYAML itself. Deliberate differences:
//! timestamps stay strings (drover has no date type; Ansible renders them as strings when
//! templated anyway) and the `=` value key is a plain string.

use std::sync::LazyLock;

use regex::Regex;

use crate::NodeKind;

static BOOL: LazyLock<Regex> = LazyLock::new(|| {
    // 1.1 also lists y/n, but PyYAML leaves those out, and so do Ansible users' expectations.
    Regex::new(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
        .expect("static regex")
});

static INT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?0b[01_]+",
        r"|[-+]?0[0-7_]+",
        r"|[-+]?(?:0|[1-9][0-9_]*)",
        r"|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    ))
    .expect("static regex")
});

static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    // 1.1 floats need a dot, and an exponent needs a sign: `1e3` and `1.0e3` are strings.
    Regex::new(concat!(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?",
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
        r"|[-+]?\.(?:inf|Inf|INF)",
        r"|\.(?:nan|NaN|NAN))$",
    ))
    .expect("static regex")
});

static NULL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:~|null|Null|NULL|)$").expect("static regex"));

/// The value of a plain (unquoted, untagged) scalar.
pub(crate) fn resolve_plain(text: &str) -> NodeKind {
    if NULL.is_match(text) {
        return NodeKind::Null;
    }
    if BOOL.is_match(text) {
        return NodeKind::Bool(bool_value(text).unwrap_or(false));
    }
    if INT.is_match(text) {
        if let Ok(kind) = construct_int(text) {
            return kind;
        }
    }
    if FLOAT.is_match(text) {
        if let Ok(f) = construct_float(text) {
            return NodeKind::Float(f);
        }
    }
    NodeKind::Str(text.to_string())
}

/// The boolean a 1.1 boolean word stands for, case-insensitively (as `!!bool` accepts it).
pub(crate) fn bool_value(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Builds an integer the way the 1.1 int type reads it: underscores ignored, `0b` binary, `0x`
/// hex, a leading `0` octal, `a:b:c` base 60. Integers beyond 64 bits become floats (drover
/// has no big integers; values that large do not occur in playbooks).
pub(crate) fn construct_int(text: &str) -> Result<NodeKind, String> {
    let bad = || format!("invalid integer {text:?}");
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    let magnitude: Option<i128> = if digits == "0" {
        Some(0)
    } else if let Some(bin) = digits.strip_prefix("0b") {
        parse_radix(bin, 2)
    } else if let Some(hex) = digits.strip_prefix("0x") {
        parse_radix(hex, 16)
    } else if digits.starts_with('0') {
        parse_radix(digits, 8)
    } else if digits.contains(':') {
        let mut total: i128 = 0;
        for part in digits.split(':') {
            let n = parse_radix(part, 10).ok_or_else(bad)?;
            total = total
                .checked_mul(60)
                .and_then(|t| t.checked_add(n))
                .ok_or_else(bad)?;
        }
        Some(total)
    } else {
        parse_radix(digits, 10)
    };
    let magnitude = match magnitude {
        Some(m) => m,
        // Too long even for i128: only a float can hold it.
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            let f: f64 = digits.parse().map_err(|_| bad())?;
            return Ok(NodeKind::Float(if negative { -f } else { f }));
        }
        None => return Err(bad()),
    };
    let value = if negative { -magnitude } else { magnitude };
    Ok(match i64::try_from(value) {
        Ok(i) => NodeKind::Int(i),
        #[allow(clippy::cast_precision_loss)]
        Err(_) => NodeKind::Float(value as f64),
    })
}

fn parse_radix(digits: &str, radix: u32) -> Option<i128> {
    if digits.is_empty() {
        return None;
    }
    i128::from_str_radix(digits, radix).ok()
}

/// Builds a float the way the 1.1 float type reads it: underscores ignored, `.inf`/`.nan` in
/// any case, `a:b.c` base 60.
pub(crate) fn construct_float(text: &str) -> Result<f64, String> {
    let bad = || format!("invalid float {text:?}");
    let cleaned: String = text
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_ascii_lowercase();
    let (sign, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (-1.0, &cleaned[1..]),
        Some(b'+') => (1.0, &cleaned[1..]),
        _ => (1.0, cleaned.as_str()),
    };
    if digits == ".inf" {
        return Ok(sign * f64::INFINITY);
    }
    if digits == ".nan" {
        return Ok(f64::NAN);
    }
    if digits.contains(':') {
        let mut total = 0.0;
        for part in digits.split(':') {
            let n: f64 = part.parse().map_err(|_| bad())?;
            total = total * 60.0 + n;
        }
        return Ok(sign * total);
    }
    // Rust's parser is stricter than Python's `float()` about surrounding blanks only.
    let f: f64 = digits.trim().parse().map_err(|_| bad())?;
    Ok(sign * f)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &NodeKind) {
        let got = resolve_plain(input);
        match (&got, expected) {
            (NodeKind::Float(a), NodeKind::Float(b)) if a.is_nan() && b.is_nan() => {}
            _ => assert_eq!(&got, expected, "resolving {input:?}"),
        }
    }

    #[test]
    fn resolves_like_yaml_1_1() {
        use NodeKind::{Bool, Float, Int, Null};
        let s = |v: &str| NodeKind::Str(v.to_string());
        let cases: &[(&str, NodeKind)] = &[
            ("", Null),
            ("~", Null),
            ("null", Null),
            ("NULL", Null),
            ("nUll", s("nUll")),
            ("yes", Bool(true)),
            ("No", Bool(false)),
            ("ON", Bool(true)),
            ("off", Bool(false)),
            ("True", Bool(true)),
            ("yEs", s("yEs")),
            ("y", s("y")),
            ("n", s("n")),
            ("0", Int(0)),
            ("-0", Int(0)),
            ("0644", Int(420)),
            ("09", s("09")),
            ("0o17", s("0o17")),
            ("0x1F", Int(31)),
            ("-0x1f", Int(-31)),
            ("0b101", Int(5)),
            ("1_000", Int(1000)),
            ("0_", Int(0)),
            ("190:20:30", Int(685_230)),
            ("-1:20", Int(-80)),
            ("1:60", s("1:60")),
            ("1.5", Float(1.5)),
            ("1.", Float(1.0)),
            (".5", Float(0.5)),
            ("1e3", s("1e3")),
            ("1.0e3", s("1.0e3")),
            ("1.0e+3", Float(1000.0)),
            ("1:20.5", Float(80.5)),
            (".inf", Float(f64::INFINITY)),
            ("-.Inf", Float(f64::NEG_INFINITY)),
            (".NaN", Float(f64::NAN)),
            ("._5", s("._5")),
            ("2001-12-14", s("2001-12-14")),
            ("0x_", s("0x_")),
            ("1,000", s("1,000")),
            ("99999999999999999999", Float(1e20)),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }

    #[test]
    fn explicit_constructors_reject_garbage() {
        assert!(construct_int("abc").is_err());
        assert_eq!(construct_int("0x10"), Ok(NodeKind::Int(16)));
        assert!(construct_float("x").is_err());
        assert_eq!(construct_float("1"), Ok(1.0));
        assert_eq!(bool_value("YeS"), Some(true));
        assert_eq!(bool_value("y"), None);
    }
}

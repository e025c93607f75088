//! `version` / `version_compare`, with Ansible's operators and version types.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Value};
use minijinja::Error;

use super::fail;
use crate::pyrepr::py_str;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    // Numbers sort before words, so `1.0 < 1.0a` as in LooseVersion's common cases.
    Num(u64),
    Word(String),
}

/// LooseVersion: runs of digits and runs of letters, separators dropped.
fn loose(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, parts: &mut Vec<Part>| {
        if cur.is_empty() {
            return;
        }
        let p = match cur.parse::<u64>() {
            Ok(n) if cur.chars().all(|c| c.is_ascii_digit()) => Part::Num(n),
            _ => Part::Word(cur.clone()),
        };
        parts.push(p);
        cur.clear();
    };
    for c in v.chars() {
        let same_class = cur
            .chars()
            .last()
            .is_none_or(|l| l.is_ascii_digit() == c.is_ascii_digit());
        if c == '.' || c == '-' || c == '_' || c == '+' || c == ' ' {
            flush(&mut cur, &mut parts);
        } else {
            if !same_class {
                flush(&mut cur, &mut parts);
            }
            cur.push(c);
        }
    }
    flush(&mut cur, &mut parts);
    parts
}

/// StrictVersion: `N.N[.N][(a|b)N]`.
/// Release numbers and an optional `a`/`b` pre-release.
type StrictVersion = (Vec<u64>, Option<(char, u64)>);

fn strict(v: &str) -> Option<StrictVersion> {
    let (main, pre) = match v.find(['a', 'b']) {
        Some(i) => {
            let kind = v[i..].chars().next()?;
            let n = v[i + 1..].parse::<u64>().ok()?;
            (&v[..i], Some((kind, n)))
        }
        None => (v, None),
    };
    let nums: Vec<u64> = main
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    if !(2..=3).contains(&nums.len()) {
        return None;
    }
    let mut nums = nums;
    nums.resize(3, 0);
    Some((nums, pre))
}

fn semver(v: &str) -> Option<(Vec<u64>, Vec<String>)> {
    let v = v.split('+').next().unwrap_or(v);
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, p.split('.').map(String::from).collect()),
        None => (v, Vec::new()),
    };
    let nums: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (nums.len() == 3).then_some((nums, pre))
}

pub(crate) fn compare_versions(a: &str, b: &str, version_type: &str) -> Result<Ordering, Error> {
    match version_type {
        "strict" => {
            let pa = strict(a).ok_or_else(|| fail(format!("invalid version number '{a}'")))?;
            let pb = strict(b).ok_or_else(|| fail(format!("invalid version number '{b}'")))?;
            let ord = pa.0.cmp(&pb.0);
            if ord != Ordering::Equal {
                return Ok(ord);
            }
            // A release sorts after its pre-releases.
            Ok(match (pa.1, pb.1) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(&y),
            })
        }
        "semver" | "semantic" => {
            let pa = semver(a).ok_or_else(|| fail(format!("invalid semantic version '{a}'")))?;
            let pb = semver(b).ok_or_else(|| fail(format!("invalid semantic version '{b}'")))?;
            let ord = pa.0.cmp(&pb.0);
            if ord != Ordering::Equal {
                return Ok(ord);
            }
            Ok(match (pa.1.is_empty(), pb.1.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => {
                    let key = |s: &String| match s.parse::<u64>() {
                        Ok(n) => Part::Num(n),
                        Err(_) => Part::Word(s.clone()),
                    };
                    pa.1.iter().map(key).cmp(pb.1.iter().map(key))
                }
            })
        }
        "loose" | "pep440" | "" => Ok(loose(a).cmp(&loose(b))),
        other => Err(fail(format!("Invalid version type ({other}). Must be one of loose, strict, semver, semantic, pep440"))),
    }
}

pub(crate) fn version_check(
    a: &Value,
    b: &Value,
    op: &str,
    version_type: &str,
) -> Result<bool, Error> {
    let ord = compare_versions(&py_str(a), &py_str(b), version_type)?;
    Ok(match op {
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        other => return Err(fail(format!("Invalid operator type ({other})"))),
    })
}

/// `value is version(other, operator='eq', strict=False, version_type=None)`.
pub(crate) fn version_filter(
    a: Value,
    b: Value,
    op: Option<String>,
    kw: Kwargs,
) -> Result<bool, Error> {
    let op = match op {
        Some(o) => o,
        None => kw
            .get::<Option<String>>("operator")?
            .unwrap_or_else(|| "eq".into()),
    };
    let strict = kw.get::<Option<bool>>("strict")?.unwrap_or(false);
    let vt = kw.get::<Option<String>>("version_type")?;
    kw.assert_all_used()?;
    let vt = match (vt, strict) {
        (Some(t), false) => t,
        (Some(_), true) => return Err(fail("Cannot specify both 'strict' and 'version_type'")),
        (None, true) => "strict".into(),
        (None, false) => "loose".into(),
    };
    version_check(&a, &b, &op, &vt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, t: &str, expected: Ordering) {
        assert_eq!(
            compare_versions(a, b, t).unwrap(),
            expected,
            "{a} vs {b} ({t})"
        );
    }

    #[test]
    fn loose_versions() {
        check("1.10", "1.9", "loose", Ordering::Greater);
        check("2.0", "2.0.0", "loose", Ordering::Less);
        check("1.2.3", "1.2.3", "loose", Ordering::Equal);
        check("12.04", "12.10", "loose", Ordering::Less);
    }

    #[test]
    fn strict_and_semver() {
        check("1.0", "1.0.0", "strict", Ordering::Equal);
        check("1.0a1", "1.0", "strict", Ordering::Less);
        assert!(compare_versions("1.0.0.0", "1.0", "strict").is_err());
        check("1.0.0-alpha", "1.0.0", "semver", Ordering::Less);
        check(
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "semver",
            Ordering::Less,
        );
    }
}

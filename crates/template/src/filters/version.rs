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
        "pep440" => match (pep440_key(a), pep440_key(b)) {
            (Some(x), Some(y)) => Ok(x.cmp(&y)),
            _ => Err(fail(format!("Invalid version string for pep440: {a} or {b}"))),
        },
        "loose" | "" => Ok(loose(a).cmp(&loose(b))),
        other => Err(fail(format!("Invalid version type ({other}). Must be one of loose, strict, semver, semantic, pep440"))),
    }
}

/// PEP 440's ordering key (packaging's `_cmpkey`): epoch, release without trailing zeros,
/// pre-release (a dev-only release sorts before every pre-release, a final release after),
/// post-release, dev-release (after everything but nothing). `(0, ..)` is "less than any",
/// `(2, ..)` "greater than any". Local version labels are ignored.
type Pep440Key = (u64, Vec<u64>, (u8, u8, u64), (u8, u64), (u8, u64));

fn pep440_key(v: &str) -> Option<Pep440Key> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_prefix('v').unwrap_or(&v);
    let v = v.split('+').next().unwrap_or(v);
    let (epoch, rest) = match v.split_once('!') {
        Some((e, r)) => (e.parse().ok()?, r),
        None => (0, v),
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let number = |i: &mut usize| -> Option<u64> {
        let start = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        (start < *i).then(|| chars[start..*i].iter().collect::<String>().parse().ok())?
    };
    let mut release = vec![number(&mut i)?];
    while i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
        i += 1;
        release.push(number(&mut i)?);
    }
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    let word = |i: &mut usize, words: &[(&str, u8)]| -> Option<u8> {
        let mut j = *i;
        while j < chars.len() && matches!(chars[j], '.' | '-' | '_') {
            j += 1;
        }
        let rest: String = chars[j..].iter().collect();
        for (w, rank) in words {
            if rest.starts_with(w) {
                *i = j + w.len();
                while *i < chars.len() && matches!(chars[*i], '.' | '-' | '_') {
                    *i += 1;
                }
                return Some(*rank);
            }
        }
        None
    };
    const PRE: &[(&str, u8)] = &[
        ("alpha", 0),
        ("beta", 1),
        ("preview", 2),
        ("pre", 2),
        ("rc", 2),
        ("a", 0),
        ("b", 1),
        ("c", 2),
    ];
    let pre = word(&mut i, PRE).map(|rank| (rank, number(&mut i).unwrap_or(0)));
    let post =
        word(&mut i, &[("post", 0), ("rev", 0), ("r", 0)]).map(|_| number(&mut i).unwrap_or(0));
    let dev = word(&mut i, &[("dev", 0)]).map(|_| number(&mut i).unwrap_or(0));
    if i != chars.len() {
        return None;
    }
    let pre_key = match (pre, post, dev) {
        (None, None, Some(_)) => (0, 0, 0),
        (None, _, _) => (2, 0, 0),
        (Some((rank, n)), _, _) => (1, rank, n),
    };
    let post_key = post.map_or((0, 0), |n| (1, n));
    let dev_key = dev.map_or((2, 0), |n| (1, n));
    Some((epoch, release, pre_key, post_key, dev_key))
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
    strict: Option<bool>,
    kw: Kwargs,
) -> Result<bool, Error> {
    let op = super::or_kw(op, &kw, "operator")?.unwrap_or_else(|| "eq".into());
    // `strict` may come third, positionally, as in Ansible's signature; given at all (even
    // false) it excludes `version_type`.
    let strict = super::or_kw(strict, &kw, "strict")?;
    let vt = kw.get::<Option<String>>("version_type")?;
    kw.assert_all_used()?;
    let vt = match (vt, strict) {
        (Some(_), Some(_)) => return Err(fail("Cannot specify both 'strict' and 'version_type'")),
        (Some(t), None) => t,
        (None, Some(true)) => "strict".into(),
        (None, _) => "loose".into(),
    };
    if py_str(&a).is_empty() {
        return Err(fail("Input version value cannot be empty"));
    }
    if py_str(&b).is_empty() {
        return Err(fail("Version parameter to compare against cannot be empty"));
    }
    version_check(&a, &b, &op, &vt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep440_order() {
        let lt = |a: &str, b: &str| {
            assert_eq!(
                compare_versions(a, b, "pep440").unwrap(),
                Ordering::Less,
                "{a} < {b}"
            )
        };
        lt("2.14.0rc1", "2.14.0");
        lt("1.0.dev1", "1.0a1");
        lt("1.0a1", "1.0b1");
        lt("1.0b2", "1.0rc1");
        lt("1.0", "1.0.post1");
        lt("1.0.post1.dev1", "1.0.post1");
        lt("1!0.1", "1!1.0");
        lt("0!9", "1!0");
        assert_eq!(
            compare_versions("1.0", "1.0.0", "pep440").unwrap(),
            Ordering::Equal
        );
        assert!(compare_versions("1.0-bogus!", "1.0", "pep440").is_err());
    }

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

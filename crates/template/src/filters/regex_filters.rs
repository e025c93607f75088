//! `regex_*` filters and the `match`/`search`/`regex` tests, with Python `re` conventions.
//!
//! Patterns and replacement strings go through `drover_pyre`, so they mean what they mean in
//! Python (backreferences and lookaround included) and the same as in the modules' `regexp`.

use drover_pyre::{Flags, Regex, Template};
use minijinja::value::{Kwargs, Rest, Value};
use minijinja::Error;

use super::fail;
use crate::pyrepr::py_str;

fn build_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    let flags = Flags {
        ignorecase,
        multiline,
        dotall: false,
    };
    drover_pyre::compile(pattern, flags).map_err(|e| fail(e.to_string()))
}

fn flags(kw: &Kwargs) -> Result<(bool, bool), Error> {
    Ok((
        kw.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        kw.get::<Option<bool>>("multiline")?.unwrap_or(false),
    ))
}

pub(crate) fn regex_replace(
    value: Value,
    pattern: Option<String>,
    replacement: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let pattern = super::or_kw(pattern, &kw, "pattern")?.unwrap_or_default();
    let replacement = super::or_kw(replacement, &kw, "replacement")?.unwrap_or_default();
    let (ic, ml) = flags(&kw)?;
    let count = kw.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory = kw.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    kw.assert_all_used()?;
    let re = build_regex(&pattern, ic, ml)?;
    let text = py_str(&value);
    if mandatory > 0 {
        let found = re.count_matches(&text).map_err(|e| fail(e.to_string()))?;
        if found != mandatory {
            return Err(fail(format!(
                "'{pattern}' should match {mandatory} times, but matches {found} times in '{text}'"
            )));
        }
    }
    let tpl = Template::parse(&replacement, &re).map_err(|e| fail(e.to_string()))?;
    let (out, _) = drover_pyre::subn(&re, &text, &tpl, count).map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

/// `regex_search(regex, *groups, ignorecase=, multiline=)`: the match, or a list of the
/// requested groups (`'\\1'`, `'\\g<name>'`), or None when nothing matches.
pub(crate) fn regex_search(
    value: Value,
    pattern: String,
    groups: Rest<Value>,
    kw: Kwargs,
) -> Result<Value, Error> {
    let (ic, ml) = flags(&kw)?;
    kw.assert_all_used()?;
    let re = build_regex(&pattern, ic, ml)?;
    let text = py_str(&value);
    let Some(caps) = re.captures(&text).map_err(|e| fail(e.to_string()))? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for g in groups.iter() {
        let spec = py_str(g);
        let m = if let Some(num) = spec
            .strip_prefix('\\')
            .and_then(|n| n.parse::<usize>().ok())
        {
            caps.get(num)
        } else if let Some(name) = spec.strip_prefix("\\g<").and_then(|n| n.strip_suffix('>')) {
            caps.name(name)
        } else {
            return Err(fail(format!(
                "regex_search: unknown group specification {spec:?}"
            )));
        };
        out.push(m.map_or(Value::from(()), |m| Value::from(m.as_str())));
    }
    Ok(Value::from(out))
}

/// Python's `re.findall`: whole matches, the single group, or lists of groups.
pub(crate) fn regex_findall(value: Value, pattern: String, kw: Kwargs) -> Result<Value, Error> {
    let (ic, ml) = flags(&kw)?;
    kw.assert_all_used()?;
    let re = build_regex(&pattern, ic, ml)?;
    let text = py_str(&value);
    let groups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in re.captures_all(&text).map_err(|e| fail(e.to_string()))? {
        let get = |i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
        out.push(match groups {
            0 => get(0),
            1 => get(1),
            n => Value::from((1..=n).map(get).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

/// Python's `re.escape` (3.7+: only regex metacharacters and whitespace are escaped).
pub(crate) fn regex_escape(
    value: Value,
    re_type: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let re_type = match kw.get::<Option<String>>("re_type")? {
        Some(t) => Some(t),
        None => re_type,
    };
    kw.assert_all_used()?;
    let text = py_str(&value);
    match re_type.as_deref() {
        None | Some("python") => {
            let mut out = String::new();
            for c in text.chars() {
                if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            Ok(out)
        }
        Some("posix_basic") => {
            let mut out = String::new();
            for c in text.chars() {
                if ".[]\\*^$".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            Ok(out)
        }
        Some(other @ "posix_extended") => {
            Err(fail(format!("Regex type ({other}) not yet implemented")))
        }
        Some(other) => Err(fail(format!("Invalid regex type ({other})"))),
    }
}

/// The `match` (anchored at the start), `search` and `regex` tests.
pub(crate) fn regex_test(
    value: &Value,
    pattern: &str,
    kw: &Kwargs,
    anchored: bool,
) -> Result<bool, Error> {
    let (ic, ml) = flags(kw)?;
    let match_type = kw.get::<Option<String>>("match_type")?;
    kw.assert_all_used()?;
    let anchored = match match_type.as_deref() {
        Some("match") => true,
        Some("search") => false,
        Some("fullmatch") => {
            let re = build_regex(&format!("\\A(?:{pattern})\\Z"), ic, ml)?;
            return re.is_match(&py_str(value)).map_err(|e| fail(e.to_string()));
        }
        _ => anchored,
    };
    let text = py_str(value);
    if anchored {
        // `\A` keeps the anchor at the string start even with the multiline flag, like re.match.
        let re = build_regex(&format!("\\A(?:{pattern})"), ic, ml)?;
        re.is_match(&text).map_err(|e| fail(e.to_string()))
    } else {
        build_regex(pattern, ic, ml)?
            .is_match(&text)
            .map_err(|e| fail(e.to_string()))
    }
}

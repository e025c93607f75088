//! `regex_*` filters and the `match`/`search`/`regex` tests, with Python `re` conventions.
//!
//! Patterns go to the `regex` crate, whose syntax covers what playbooks use (no look-around or
//! backreferences inside patterns). Python replacement syntax (`\1`, `\g<name>`) is translated.

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::Error;
use regex::{Regex, RegexBuilder};

use super::fail;
use crate::pyrepr::py_str;

pub(crate) fn build_regex(
    pattern: &str,
    ignorecase: bool,
    multiline: bool,
) -> Result<Regex, Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| fail(format!("invalid regular expression {pattern:?}: {e}")))
}

fn flags(kw: &Kwargs) -> Result<(bool, bool), Error> {
    Ok((
        kw.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        kw.get::<Option<bool>>("multiline")?.unwrap_or(false),
    ))
}

/// Translates a Python replacement string into the `regex` crate's syntax.
fn translate_replacement(repl: &str) -> String {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut num = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        num.push(d);
                        chars.next();
                        if num.len() == 2 {
                            break;
                        }
                    }
                    out.push_str(&format!("${{{num}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn regex_replace(
    value: Value,
    pattern: Option<String>,
    replacement: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let pattern = match pattern {
        Some(p) => p,
        None => kw.get::<Option<String>>("pattern")?.unwrap_or_default(),
    };
    let replacement = match replacement {
        Some(r) => r,
        None => kw.get::<Option<String>>("replacement")?.unwrap_or_default(),
    };
    let (ic, ml) = flags(&kw)?;
    let count = kw.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory = kw.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    kw.assert_all_used()?;
    let re = build_regex(&pattern, ic, ml)?;
    let text = py_str(&value);
    if mandatory > 0 {
        let found = re.find_iter(&text).count();
        if found != mandatory {
            return Err(fail(format!(
                "'{pattern}' should match {mandatory} times, but matches {found} times in '{text}'"
            )));
        }
    }
    Ok(re
        .replacen(&text, count, translate_replacement(&replacement).as_str())
        .into_owned())
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
    let Some(caps) = re.captures(&text) else {
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
    for caps in re.captures_iter(&text) {
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
            let re = build_regex(&format!("^(?:{pattern})$"), ic, ml)?;
            return Ok(re.is_match(&py_str(value)));
        }
        _ => anchored,
    };
    let text = py_str(value);
    if anchored {
        // `\A` keeps the anchor at the string start even with the multiline flag, like re.match.
        let re = build_regex(&format!("\\A(?:{pattern})"), ic, ml)?;
        Ok(re.is_match(&text))
    } else {
        Ok(build_regex(pattern, ic, ml)?.is_match(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::translate_replacement;

    #[test]
    fn replacement_translation() {
        assert_eq!(translate_replacement(r"\1-\2"), "${1}-${2}");
        assert_eq!(translate_replacement(r"\g<name>x"), "${name}x");
        assert_eq!(translate_replacement("cost $5"), "cost $$5");
    }
}

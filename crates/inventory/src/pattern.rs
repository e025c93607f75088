//! Host patterns, as `hosts:` and `--limit` take them.
//!
//! A pattern is a list of terms separated by `,` or `:` (colons inside `[...]` do not
//! separate). A term is a group or host name, a shell wildcard (`web*.example.com`), a regular
//! expression (`~(web|db)\d+`), optionally with a subscript (`webservers[0]`,
//! `webservers[1:3]`, Python slice semantics), and optionally prefixed with `&`
//! (intersection) or `!` (exclusion). Plain terms are unioned first, then intersections
//! apply, then exclusions, whatever order they were written in; a pattern made only of `&`
//! and `!` terms starts from `all`.

use std::collections::HashSet;

use regex::Regex;

use crate::{Inventory, InventoryError, LOCALHOST_NAMES};

/// The hosts a pattern selected, in selection order, and the terms that matched nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    pub hosts: Vec<String>,
    pub warnings: Vec<String>,
}

fn bad(pattern: &str, message: impl Into<String>) -> InventoryError {
    InventoryError::Pattern {
        pattern: pattern.to_string(),
        message: message.into(),
    }
}

/// Splits a pattern into its terms.
pub(crate) fn split(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in pattern.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        // A bare IPv6 address is one term, colons and all.
        let bare = piece.trim_start_matches(['&', '!']);
        if bare.parse::<std::net::Ipv6Addr>().is_ok() {
            out.push(piece.to_string());
            continue;
        }
        // A regex term may hold colons of its own; it runs to the next comma.
        if bare.starts_with('~') {
            out.push(piece.to_string());
            continue;
        }
        let mut depth = 0usize;
        let mut current = String::new();
        for c in piece.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                ':' if depth == 0 => {
                    if !current.trim().is_empty() {
                        out.push(current.trim().to_string());
                    }
                    current.clear();
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        if !current.trim().is_empty() {
            out.push(current.trim().to_string());
        }
    }
    out
}

/// Shell wildcard match (`*`, `?`, `[abc]`, `[!abc]`) as a whole-string regex.
fn glob_regex(glob: &str) -> Option<Regex> {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '\\' || d == '[' || d == '^' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                if closed && !class.is_empty() && class != "^" {
                    re.push('[');
                    re.push_str(&class);
                    re.push(']');
                } else {
                    re.push_str(&regex::escape(&format!("[{class}")));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).ok()
}

enum Subscript {
    Index(i64),
    Slice(Option<i64>, Option<i64>),
}

/// `name[3]`, `name[-1]`, `name[1:3]`, `name[:2]`, `name[1:]` at the end of a term.
fn split_subscript(term: &str) -> (&str, Option<Subscript>) {
    let Some(body) = term.strip_suffix(']') else {
        return (term, None);
    };
    let Some(open) = body.rfind('[') else {
        return (term, None);
    };
    let (base, inner) = (&body[..open], &body[open + 1..]);
    if base.is_empty() || base.starts_with('~') {
        return (term, None);
    }
    let num = |s: &str| -> Option<Option<i64>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    match inner.split_once(':') {
        None => match inner.parse() {
            Ok(i) => (base, Some(Subscript::Index(i))),
            Err(_) => (term, None),
        },
        Some((a, b)) => match (num(a), num(b)) {
            (Some(a), Some(b)) => (base, Some(Subscript::Slice(a, b))),
            _ => (term, None),
        },
    }
}

fn clamp_index(i: i64, len: usize) -> usize {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let i = if i < 0 {
        (len_i + i).max(0)
    } else {
        i.min(len_i)
    };
    usize::try_from(i).unwrap_or(0)
}

impl Inventory {
    /// The hosts `pattern` selects.
    ///
    /// # Errors
    /// An invalid regular expression or an out-of-range subscript.
    pub fn select(&self, pattern: &str) -> Result<Selection, InventoryError> {
        self.evaluate(&split(pattern), pattern)
    }

    /// Restricts `hosts` (a play's hosts) to those `limit` selects, keeping `hosts`' order.
    /// `limit` is a pattern; a term `@path` reads further terms from that file, one per line
    /// (as written by retry files).
    ///
    /// # Errors
    /// As [`Inventory::select`], and an unreadable `@file`.
    pub fn limit(&self, hosts: &[String], limit: &str) -> Result<Selection, InventoryError> {
        let mut terms = Vec::new();
        for term in split_limit(limit) {
            if let Some(path) = term.strip_prefix('@') {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| bad(limit, format!("cannot read limit file {path}: {e}")))?;
                for line in text.lines() {
                    terms.extend(split(line));
                }
            } else {
                terms.extend(split(&term));
            }
        }
        let selected = self.evaluate(&terms, limit)?;
        let allowed: HashSet<&String> = selected.hosts.iter().collect();
        Ok(Selection {
            hosts: hosts
                .iter()
                .filter(|h| allowed.contains(h))
                .cloned()
                .collect(),
            warnings: selected.warnings,
        })
    }

    fn evaluate(&self, terms: &[String], pattern: &str) -> Result<Selection, InventoryError> {
        let mut plain: Vec<&str> = Vec::new();
        let mut and: Vec<&str> = Vec::new();
        let mut not: Vec<&str> = Vec::new();
        for t in terms {
            if let Some(r) = t.strip_prefix('&') {
                and.push(r);
            } else if let Some(r) = t.strip_prefix('!') {
                not.push(r);
            } else {
                plain.push(t);
            }
        }
        // Only `&`/`!` terms, or no terms at all (`,,`, an empty `--limit`): start from `all`,
        // as Ansible does.
        if plain.is_empty() {
            plain.push("all");
        }
        let mut sel = Selection::default();
        let mut seen = HashSet::new();
        for t in plain {
            for h in self.term(t, pattern, &mut sel.warnings)? {
                if seen.insert(h.clone()) {
                    sel.hosts.push(h);
                }
            }
        }
        for t in and {
            let keep: HashSet<String> = self
                .term(t, pattern, &mut sel.warnings)?
                .into_iter()
                .collect();
            sel.hosts.retain(|h| keep.contains(h));
        }
        for t in not {
            let drop: HashSet<String> = self
                .term(t, pattern, &mut sel.warnings)?
                .into_iter()
                .collect();
            sel.hosts.retain(|h| !drop.contains(h));
        }
        Ok(sel)
    }

    fn term(
        &self,
        term: &str,
        pattern: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<String>, InventoryError> {
        let (base, subscript) = split_subscript(term);
        let hosts = self.enumerate(base, pattern)?;
        if hosts.is_empty() {
            warnings.push(format!(
                "could not match supplied host pattern, ignoring: {base}"
            ));
            return Ok(hosts);
        }
        Ok(match subscript {
            None => hosts,
            Some(Subscript::Index(i)) => {
                let len = i64::try_from(hosts.len()).unwrap_or(i64::MAX);
                let idx = if i < 0 { len + i } else { i };
                match usize::try_from(idx).ok().and_then(|i| hosts.get(i)) {
                    Some(h) => vec![h.clone()],
                    None => {
                        return Err(bad(
                            pattern,
                            format!("subscript [{i}] is out of range: {base} has {len} hosts"),
                        ));
                    }
                }
            }
            Some(Subscript::Slice(a, b)) => {
                let start = clamp_index(a.unwrap_or(0), hosts.len());
                let end = b.map_or(hosts.len(), |b| clamp_index(b, hosts.len()));
                hosts
                    .get(start..end.max(start))
                    .map(<[String]>::to_vec)
                    .unwrap_or_default()
            }
        })
    }

    /// The hosts of the groups a term names, then (when no group matched, or the term is a
    /// wildcard or a regex) the hosts whose names match it; the implicit localhost last.
    fn enumerate(&self, term: &str, pattern: &str) -> Result<Vec<String>, InventoryError> {
        if term == "all" || term == "*" {
            return Ok(self.group_hosts("all"));
        }
        let matcher: Box<dyn Fn(&str) -> bool> = if let Some(re) = term.strip_prefix('~') {
            let re = Regex::new(re)
                .map_err(|e| bad(pattern, format!("invalid regular expression {re:?}: {e}")))?;
            Box::new(move |s| re.is_match(s))
        } else if term.contains(['*', '?', '[']) {
            let re = glob_regex(term)
                .ok_or_else(|| bad(pattern, format!("invalid wildcard {term:?}")))?;
            Box::new(move |s| re.is_match(s))
        } else {
            let exact = term.to_string();
            Box::new(move |s| s == exact)
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut any_group = false;
        for g in self.groups.keys() {
            if matcher(g) {
                any_group = true;
                for h in self.group_hosts(g) {
                    if seen.insert(h.clone()) {
                        out.push(h);
                    }
                }
            }
        }
        if !any_group || term.starts_with('~') || term.contains(['.', '?', '*', '[']) {
            for h in self.hosts.keys() {
                if matcher(h) && seen.insert(h.clone()) {
                    out.push(h.clone());
                }
            }
        }
        if out.is_empty() && LOCALHOST_NAMES.contains(&term) {
            out.push(term.to_string());
        }
        Ok(out)
    }
}

/// `--limit` terms, keeping `@file` terms whole (paths may hold colons).
fn split_limit(limit: &str) -> Vec<String> {
    limit
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_terms() {
        let check = |p: &str, expected: &[&str]| assert_eq!(split(p), expected, "{p}");
        check("web:db", &["web", "db"]);
        check("web,db", &["web", "db"]);
        check("web:&staging:!phoenix", &["web", "&staging", "!phoenix"]);
        check("webservers[0:2]", &["webservers[0:2]"]);
        check("a[1:2]:b", &["a[1:2]", "b"]);
        check("~web\\d+:x", &["~web\\d+:x"]);
        check("fe80::1", &["fe80::1"]);
        check(" a , b ", &["a", "b"]);
    }

    #[test]
    fn globs() {
        let m = |g: &str, s: &str| glob_regex(g).is_some_and(|r| r.is_match(s));
        assert!(m("web*.example.com", "web1.example.com"));
        assert!(!m("web*.example.com", "web1.exampleXcom"));
        assert!(m("db?", "db1"));
        assert!(m("db[12]", "db2"));
        assert!(!m("db[!12]", "db2"));
        assert!(m("a[", "a["));
    }
}

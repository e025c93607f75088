//! Ansible's forgiving undefined for `default` and `is defined`.
//!
//! Ansible's undefined value answers attribute access with itself, so `foo.bar | default('x')`
//! and `foo.bar is defined` work even when `foo` is undefined, while printing or testing an
//! undefined value still fails. minijinja's strict mode fails on the attribute access itself.
//! Before compiling, attribute paths directly followed by `| default`/`| d` or
//! `is [not] defined`/`undefined` are rewritten into a chain of the internal `__attr` filter,
//! which passes undefined values along instead of failing. Everything else stays strict.

use std::borrow::Cow;

use minijinja::value::Value;

pub(crate) const ATTR_FILTER: &str = "__drover_attr";

/// The `__drover_attr` filter: `value[key]`, or undefined when either side is missing.
pub(crate) fn attr_filter(value: &Value, key: Value) -> Value {
    if value.is_undefined() || value.is_none() {
        return Value::UNDEFINED;
    }
    let found = match key.as_str() {
        Some(name) => value.get_attr(name),
        None => value.get_item(&key),
    };
    found.unwrap_or(Value::UNDEFINED)
}

/// Rewrites the expression parts (`{{ }}`, `{% %}`) of a template.
pub(crate) fn rewrite_template(src: &str) -> Cow<'_, str> {
    if !mentions_defaults(src) {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 32);
    let mut rest = src;
    loop {
        let next = [("{{", "}}"), ("{%", "%}"), ("{#", "#}")]
            .iter()
            .filter_map(|(open, close)| rest.find(open).map(|i| (i, *open, *close)))
            .min_by_key(|(i, _, _)| *i);
        let Some((start, open, close)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..start + open.len()]);
        let body = &rest[start + open.len()..];
        let end = body.find(close).unwrap_or(body.len());
        if open == "{#" {
            out.push_str(&body[..end]);
        } else {
            out.push_str(&rewrite_expr(&body[..end]));
        }
        rest = &body[end..];
    }
    Cow::Owned(out)
}

/// Ansible's `escape_backslashes` for strings written in playbooks: inside `{{ }}`, a string
/// literal keeps its backslashes as written (`'\\1'` is backslash-one, not the byte 1), so
/// playbook authors need not escape twice (once for YAML, once for Jinja). Ansible doubles the
/// backslashes of each string token after Jinja's lexer found it; here the literal is
/// re-spelled so minijinja's unescaping yields the raw text. `{% %}` blocks, conditionals and
/// template files are not affected, as in Ansible.
pub(crate) fn escape_backslashes(src: &str) -> Cow<'_, str> {
    if !src.contains('\\') || !src.contains("{{") {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len() + 8);
    let mut rest = src;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start + 2]);
        let body = &rest[start + 2..];
        let chars: Vec<char> = body.chars().collect();
        let mut i = 0;
        let mut consumed = body.len();
        while i < chars.len() {
            let c = chars[i];
            if c == '}' && chars.get(i + 1) == Some(&'}') {
                consumed = chars[..i].iter().map(|c| c.len_utf8()).sum();
                break;
            }
            if c == '\'' || c == '"' {
                let end = skip_string(&chars, i);
                let closed = end <= chars.len() && end > i + 1 && chars[end - 1] == c;
                if !closed {
                    out.extend(&chars[i..end]);
                    i = end;
                    continue;
                }
                out.push(c);
                for &ch in &chars[i + 1..end - 1] {
                    match ch {
                        '\\' => out.push_str("\\\\"),
                        q if q == c => {
                            out.push('\\');
                            out.push(q);
                        }
                        other => out.push(other),
                    }
                }
                out.push(c);
                i = end;
                continue;
            }
            out.push(c);
            i += 1;
        }
        rest = &body[consumed..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn mentions_defaults(s: &str) -> bool {
    s.contains("default")
        || s.contains("defined")
        || s.contains("| d(")
        || s.contains("|d(")
        || s.contains(FQCN)
        || s.contains("mandatory")
}

/// The keyword through which `mandatory` learns the name of what it checks.
pub(crate) const MANDATORY_NAME: &str = "__drover_name";

/// When `chars[i..]` is `| mandatory` without arguments: the index after the filter name.
fn bare_mandatory_at(chars: &[char], mut i: usize) -> Option<usize> {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    if chars.get(i) != Some(&'|') {
        return None;
    }
    i += 1;
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let word: Vec<char> = "mandatory".chars().collect();
    if chars.get(i..i + word.len()) != Some(&word[..]) {
        return None;
    }
    let end = i + word.len();
    let next = chars.get(end);
    if next.is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '(') {
        return None;
    }
    Some(end)
}

/// Filters and tests may be named `ansible.builtin.x`; the prefix is dropped.
const FQCN: &str = "ansible.builtin.";

/// Rewrites one expression region.
pub(crate) fn rewrite_expr(src: &str) -> Cow<'_, str> {
    if !mentions_defaults(src) {
        return Cow::Borrowed(src);
    }
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 32);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            let end = skip_string(&chars, i);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        let starts_path = (c.is_alphabetic() || c == '_')
            && (i == 0 || {
                let p = chars[i - 1];
                !(p.is_alphanumeric() || p == '_' || p == '.')
            });
        if c == ')' {
            // `(expr).a.b | default(x)`: the steps after a parenthesised expression or a call.
            let (j, keys) = read_chain(&chars, i + 1);
            out.push(c);
            if !keys.is_empty() && followed_by_default_or_defined(&chars, j) {
                for k in keys {
                    out.push_str(&format!("|{ATTR_FILTER}({k})"));
                }
                i = j;
            } else {
                i += 1;
            }
            continue;
        }
        if !starts_path {
            out.push(c);
            i += 1;
            continue;
        }
        let fqcn: Vec<char> = FQCN.chars().collect();
        if chars[i..].starts_with(&fqcn) {
            i += fqcn.len();
            continue;
        }
        let (base_end, base) = read_ident(&chars, i);
        let (j, keys) = read_chain(&chars, base_end);
        if let Some(after) = bare_mandatory_at(&chars, j) {
            // `a.b | mandatory`: the path is passed along (undefined steps stay undefined)
            // and named, for Ansible's "Mandatory variable 'a.b' not defined."
            let path: String = chars[i..j].iter().collect();
            out.push_str(&base);
            for k in keys {
                out.push_str(&format!("|{ATTR_FILTER}({k})"));
            }
            out.push_str(&format!(
                "|mandatory({MANDATORY_NAME}={})",
                crate::pyrepr::py_repr(&Value::from(path))
            ));
            i = after;
            continue;
        }
        if keys.is_empty() || !followed_by_default_or_defined(&chars, j) {
            out.extend(&chars[i..base_end]);
            i = base_end;
            continue;
        }
        out.push_str(&base);
        for k in keys {
            out.push_str(&format!("|{ATTR_FILTER}({k})"));
        }
        i = j;
    }
    Cow::Owned(out)
}

/// The `.name`, `.0` and `[key]` steps from `j` on: where they end and each key as a filter
/// argument.
fn read_chain(chars: &[char], mut j: usize) -> (usize, Vec<String>) {
    let mut keys: Vec<String> = Vec::new();
    loop {
        if chars.get(j) == Some(&'.') {
            let (e, name) = read_ident(chars, j + 1);
            if name.is_empty() {
                break;
            }
            // Jinja reads `x.1` as the item at index 1; `x.1a` is not a path.
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                if !name.chars().all(|c| c.is_ascii_digit()) {
                    break;
                }
                keys.push(name);
            } else {
                keys.push(format!("'{name}'"));
            }
            j = e;
        } else if chars.get(j) == Some(&'[') {
            let Some((e, key)) = read_subscript(chars, j) else {
                break;
            };
            keys.push(key);
            j = e;
        } else {
            break;
        }
    }
    (j, keys)
}

fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn read_ident(chars: &[char], start: usize) -> (usize, String) {
    let mut i = start;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    (i, chars[start.min(i)..i].iter().collect())
}

/// `[ 'key' ]`, `[0]` or `[name]` → the key expression and the index after `]`.
fn read_subscript(chars: &[char], open: usize) -> Option<(usize, String)> {
    let mut i = open + 1;
    while chars.get(i) == Some(&' ') {
        i += 1;
    }
    let first = *chars.get(i)?;
    let (end, key) = if first == '\'' || first == '"' {
        let e = skip_string(chars, i);
        (e, chars[i..e].iter().collect::<String>())
    } else if first.is_ascii_digit() || first == '-' {
        let mut e = i + 1;
        while chars.get(e).is_some_and(char::is_ascii_digit) {
            e += 1;
        }
        (e, chars[i..e].iter().collect())
    } else if first.is_alphabetic() || first == '_' {
        let (e, name) = read_ident(chars, i);
        if chars.get(e) == Some(&'.') || chars.get(e) == Some(&'[') || chars.get(e) == Some(&'(') {
            return None;
        }
        (e, name)
    } else {
        return None;
    };
    let mut e = end;
    while chars.get(e) == Some(&' ') {
        e += 1;
    }
    (chars.get(e) == Some(&']')).then_some((e + 1, key))
}

fn followed_by_default_or_defined(chars: &[char], mut i: usize) -> bool {
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    let word_at = |i: usize, w: &str| -> bool {
        let wc: Vec<char> = w.chars().collect();
        chars.get(i..i + wc.len()) == Some(&wc[..])
            && !chars
                .get(i + wc.len())
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    };
    match chars.get(i) {
        Some('|') => {
            i += 1;
            skip_ws(&mut i);
            word_at(i, "default") || word_at(i, "d")
        }
        Some('i') if word_at(i, "is") => {
            i += 2;
            skip_ws(&mut i);
            if word_at(i, "not") {
                i += 3;
                skip_ws(&mut i);
            }
            word_at(i, "defined") || word_at(i, "undefined")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(rewrite_expr(input), expected);
    }

    #[test]
    fn rewrites_paths_before_default_and_defined() {
        check("a.b | default('x')", "a|__drover_attr('b') | default('x')");
        check(
            "a.b['c'][0] is not defined",
            "a|__drover_attr('b')|__drover_attr('c')|__drover_attr(0) is not defined",
        );
        check(
            "hostvars[h].x|d(1)",
            "hostvars|__drover_attr(h)|__drover_attr('x')|d(1)",
        );
        check(
            "(x | f(y)).a['b'] | default(1)",
            "(x | f(y))|__drover_attr('a')|__drover_attr('b') | default(1)",
        );
        check(
            "l.1.foo is not defined",
            "l|__drover_attr(1)|__drover_attr('foo') is not defined",
        );
    }

    #[test]
    fn backslashes_in_expression_strings_stay_as_written() {
        assert_eq!(
            escape_backslashes(r#"a\1 {{ x | f('\2', "\g<n>") }} {% set y = '\3' %}"#),
            r#"a\1 {{ x | f('\\2', "\\g<n>") }} {% set y = '\3' %}"#
        );
        assert_eq!(escape_backslashes(r"{{ 'it\'s' }}"), r"{{ 'it\\\'s' }}");
        assert_eq!(escape_backslashes("{{ x }}"), "{{ x }}");
    }

    #[test]
    fn names_what_mandatory_checks() {
        check("hey | mandatory", "hey|mandatory(__drover_name='hey')");
        check(
            "a.b|mandatory == 1",
            "a|__drover_attr('b')|mandatory(__drover_name='a.b') == 1",
        );
        check("a | mandatory('msg')", "a | mandatory('msg')");
    }

    #[test]
    fn leaves_everything_else() {
        check("a.b | upper", "a.b | upper");
        check("'a.b | default' ~ x.y", "'a.b | default' ~ x.y");
        check("a.b() | default(1)", "a.b() | default(1)");
        check("a | default(1)", "a | default(1)");
        check("x | ansible.builtin.to_json", "x | to_json");
        check("'ansible.builtin.file'", "'ansible.builtin.file'");
        check("a.b is defined_thing", "a.b is defined_thing");
        assert_eq!(
            rewrite_template("text a.b | default {{ a.b | default(1) }}"),
            "text a.b | default {{ a|__drover_attr('b') | default(1) }}"
        );
    }
}

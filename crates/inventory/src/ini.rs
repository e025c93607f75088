//! INI inventories, per Ansible's documented rules:
//! - `[group]` sections list hosts, `[group:vars]` variables, `[group:children]` child groups;
//!   lines before any section are hosts in `ungrouped`;
//! - a host line is a host name (with ranges and `:port`) followed by `key=value` pairs, split
//!   like a shell line (quotes group, `#` starts a comment), values read as Python literals;
//! - a `:vars` line is one `key=value`; the value is a string (quotes around the whole value
//!   are removed).

use drover_yaml::{Pos, SourceError};
use minijinja::Value;

use crate::{pyliteral, range, split_port, Inventory, InventoryError};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Hosts,
    Vars,
    Children,
}

/// A word of a host line and the 1-based character column it starts at.
struct Token {
    text: String,
    column: usize,
}

pub(crate) fn load(inv: &mut Inventory, file: &str, src: &str) -> Result<(), InventoryError> {
    let mut group = "ungrouped".to_string();
    let mut kind = Kind::Hosts;
    for (index, raw) in src.lines().enumerate() {
        let line_no = index + 1;
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        let line = raw.trim();
        let err = |column: usize, message: String| -> InventoryError {
            let pos = Pos {
                line: line_no,
                column,
                offset: offset_of(src, line_no, column),
            };
            SourceError::new(file, src, pos, message).into()
        };
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            let (name, k) = section(line).map_err(|m| err(indent + 1, m))?;
            inv.ensure_group(&name);
            group = name;
            kind = k;
            continue;
        }
        match kind {
            Kind::Hosts => {
                let tokens = tokenize(raw).map_err(|(col, m)| err(col, m))?;
                let Some((first, rest)) = tokens.split_first() else {
                    continue;
                };
                let (pattern, port) = split_port(&first.text);
                let names = range::expand(pattern).map_err(|m| err(first.column, m))?;
                let mut vars: Vec<(String, Value)> = Vec::new();
                for t in rest {
                    match t.text.split_once('=') {
                        Some((k, v)) if !k.is_empty() => {
                            vars.push((k.to_string(), pyliteral::host_value(v)));
                        }
                        _ => {
                            return Err(err(
                                t.column,
                                format!("expected key=value host variable, found {:?}", t.text),
                            ));
                        }
                    }
                }
                for name in &names {
                    inv.add_host(name, &group);
                    if let Some(p) = port {
                        inv.set_host_var(name, "ansible_port", Value::from(p));
                    }
                    for (k, v) in &vars {
                        inv.set_host_var(name, k, v.clone());
                    }
                }
            }
            Kind::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(
                        indent + 1,
                        format!("expected key=value in [{group}:vars], found {line:?}"),
                    ));
                };
                let key = k.trim();
                if key.is_empty() || key.contains(char::is_whitespace) {
                    return Err(err(
                        indent + 1,
                        format!("invalid variable name {key:?} in [{group}:vars]"),
                    ));
                }
                inv.set_group_var(&group, key, vars_value(v));
            }
            Kind::Children => {
                let tokens = tokenize(raw).map_err(|(col, m)| err(col, m))?;
                let Some(first) = tokens.first() else {
                    continue;
                };
                if tokens.len() > 1 {
                    return Err(err(
                        tokens[1].column,
                        format!("expected one group name per line in [{group}:children]"),
                    ));
                }
                inv.add_child(&group, &first.text)
                    .map_err(|m| err(first.column, m))?;
            }
        }
    }
    Ok(())
}

/// `[name]`, `[name:vars]`, `[name:children]` (a trailing comment allowed).
fn section(line: &str) -> Result<(String, Kind), String> {
    let bad = || {
        format!(
            "invalid section header {line:?}: expected [group], [group:vars] or [group:children], with no spaces in the name"
        )
    };
    let close = line.find(']').ok_or_else(bad)?;
    let after = line[close + 1..].trim();
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return Err(bad());
    }
    let inner = &line[1..close];
    let (name, kind) = match inner.split_once(':') {
        None => (inner, Kind::Hosts),
        Some((n, "vars")) => (n, Kind::Vars),
        Some((n, "children")) => (n, Kind::Children),
        Some((n, "hosts")) => (n, Kind::Hosts),
        Some(_) => return Err(bad()),
    };
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '[' || c == ':') {
        return Err(bad());
    }
    Ok((name.to_string(), kind))
}

/// A `:vars` value: the rest of the line, trimmed, without a trailing ` # comment`, read as a
/// Python literal when it is one (`True`, `1`, `[1, 2]`, `'quoted'`), as Ansible's
/// `ast.literal_eval` reads it; otherwise the text, without quotes around the whole value.
fn vars_value(v: &str) -> Value {
    let text = vars_text(v);
    pyliteral::parse(&text).unwrap_or_else(|| Value::from(unquote(&text)))
}

/// The text of a `:vars` value, without a trailing ` # comment`.
fn vars_text(v: &str) -> String {
    let mut v = v.trim();
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in v.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev_space => {
                v = v[..i].trim_end();
                break;
            }
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    v.to_string()
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Splits a line like a POSIX shell would: whitespace separates words, quotes group (and are
/// removed), a backslash escapes outside single quotes, `#` outside quotes starts a comment.
fn tokenize(line: &str) -> Result<Vec<Token>, (usize, String)> {
    let mut tokens = Vec::new();
    let mut current: Option<Token> = None;
    let mut quote: Option<(char, usize)> = None;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let column = i + 1;
        match quote {
            Some((q, _)) => {
                if c == q {
                    quote = None;
                } else if c == '\\' && q == '"' && matches!(chars.peek(), Some((_, '"' | '\\'))) {
                    if let Some((_, e)) = chars.next() {
                        push(&mut current, e, column);
                    }
                } else {
                    push(&mut current, c, column);
                }
            }
            None => match c {
                c if c.is_whitespace() => {
                    if let Some(t) = current.take() {
                        tokens.push(t);
                    }
                }
                '#' => break,
                '\'' | '"' => {
                    quote = Some((c, column));
                    current.get_or_insert(Token {
                        text: String::new(),
                        column,
                    });
                }
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        push(&mut current, e, column);
                    }
                }
                c => push(&mut current, c, column),
            },
        }
    }
    if let Some((q, column)) = quote {
        return Err((column, format!("unclosed quote {q}")));
    }
    if let Some(t) = current {
        tokens.push(t);
    }
    Ok(tokens)
}

fn push(current: &mut Option<Token>, c: char, column: usize) {
    current
        .get_or_insert(Token {
            text: String::new(),
            column,
        })
        .text
        .push(c);
}

fn offset_of(src: &str, line: usize, column: usize) -> usize {
    let start: usize = src.split_inclusive('\n').take(line - 1).map(str::len).sum();
    let line_text = src[start..].split('\n').next().unwrap_or("");
    start
        + line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(line: &str) -> String {
        match tokenize(line) {
            Ok(t) => t
                .iter()
                .map(|t| format!("{}@{}", t.text, t.column))
                .collect::<Vec<_>>()
                .join(" "),
            Err((col, m)) => format!("error@{col}: {m}"),
        }
    }

    #[test]
    fn tokenizes_like_a_shell() {
        assert_eq!(words("web1 a=1  b='x y'"), "web1@1 a=1@6 b=x y@11");
        assert_eq!(words("h k=\"a \\\"q\\\" b\""), "h@1 k=a \"q\" b@3");
        assert_eq!(words("h k=v # comment x=1"), "h@1 k=v@3");
        assert_eq!(words("h pw='#notcomment'"), "h@1 pw=#notcomment@3");
        assert_eq!(words("h k='open"), "error@5: unclosed quote '");
    }

    #[test]
    fn sections_and_vars_values() {
        assert!(section("[web]").is_ok());
        assert!(section("[web:vars] # c").is_ok());
        assert!(section("[web:children]").is_ok());
        assert!(section("[web:nope]").is_err());
        assert!(section("[web servers]").is_err());
        assert!(section("[web").is_err());
        assert_eq!(vars_value(" FALSE "), Value::from("FALSE"));
        assert_eq!(vars_value(" 'quoted' "), Value::from("quoted"));
        assert_eq!(vars_value("a b # comment"), Value::from("a b"));
        assert_eq!(vars_value("'a # b'"), Value::from("a # b"));
        assert_eq!(vars_value("pa#ss"), Value::from("pa#ss"));
        // Python literals, as Ansible's literal_eval reads them.
        assert_eq!(vars_value("True"), Value::from(true));
        assert_eq!(vars_value("1"), Value::from(1));
        assert_eq!(vars_value("[1, 2]"), Value::from(vec![1, 2]));
        assert_eq!(
            vars_value("host-01.internal"),
            Value::from("host-01.internal")
        );
    }

    #[test]
    fn offsets() {
        let src = "ab\ncdé f\n";
        assert_eq!(offset_of(src, 2, 1), 3);
        assert_eq!(offset_of(src, 2, 5), 8);
    }
}

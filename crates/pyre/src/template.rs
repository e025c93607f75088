//! Python replacement templates (`\1`, `\g<1>`, `\g<name>`, `\n`) and `re.subn`.

use crate::{Captures, PyReError, Regex};

/// A parsed Python replacement template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Index(usize),
    Name(String),
}

impl Template {
    /// Parses `repl` with Python's rules and checks its group references against `re`.
    pub fn parse(repl: &str, re: &Regex) -> Result<Template, PyReError> {
        let err = |reason: String| PyReError {
            pattern: repl.to_string(),
            reason,
        };
        let chars: Vec<char> = repl.chars().collect();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        let groups = re.captures_len();
        let flush = |lit: &mut String, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c != '\\' {
                lit.push(c);
                i += 1;
                continue;
            }
            let Some(&n) = chars.get(i + 1) else {
                return Err(err("bad escape (end of replacement)".into()));
            };
            i += 2;
            match n {
                'g' => {
                    if chars.get(i) != Some(&'<') {
                        return Err(err("missing < after \\g".into()));
                    }
                    let Some(close) = chars[i..].iter().position(|&c| c == '>') else {
                        return Err(err("missing > in group reference".into()));
                    };
                    let name: String = chars[i + 1..i + close].iter().collect();
                    i += close + 1;
                    flush(&mut lit, &mut parts);
                    if let Ok(idx) = name.parse::<usize>() {
                        if idx >= groups {
                            return Err(err(format!("invalid group reference {idx}")));
                        }
                        parts.push(Part::Index(idx));
                    } else {
                        if !re.capture_names().any(|n| n == Some(name.as_str())) {
                            return Err(err(format!("unknown group name '{name}'")));
                        }
                        parts.push(Part::Name(name));
                    }
                }
                '1'..='9' => {
                    let mut idx = n.to_digit(10).unwrap_or(0) as usize;
                    if let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        idx = idx * 10 + d as usize;
                        i += 1;
                    }
                    if idx >= groups {
                        return Err(err(format!("invalid group reference {idx}")));
                    }
                    flush(&mut lit, &mut parts);
                    parts.push(Part::Index(idx));
                }
                '0' => {
                    let v = crate::translate::octal_digits(&chars, &mut i);
                    lit.push(char::from_u32(v).unwrap_or('\0'));
                }
                'n' => lit.push('\n'),
                't' => lit.push('\t'),
                'r' => lit.push('\r'),
                'f' => lit.push('\x0c'),
                'v' => lit.push('\x0b'),
                'a' => lit.push('\x07'),
                'b' => lit.push('\x08'),
                '\\' => lit.push('\\'),
                c if c.is_ascii_alphabetic() => {
                    // Python names the escape's character offset.
                    return Err(err(format!("bad escape \\{c} at position {}", i - 2)));
                }
                other => {
                    lit.push('\\');
                    lit.push(other);
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Template { parts })
    }

    /// The replacement for one match; groups that did not participate expand to nothing.
    pub fn expand(&self, caps: &Captures<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Index(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
                Part::Name(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

/// Python's `re.subn`: replaces the first `count` matches of `re` in `text` (every match when
/// `count` is 0), returning the new text and the number of replacements.
pub fn subn(
    re: &Regex,
    text: &str,
    tpl: &Template,
    count: usize,
) -> Result<(String, usize), PyReError> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in re.captures_all(text)? {
        if count > 0 && n == count {
            break;
        }
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        out.push_str(&tpl.expand(&caps));
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

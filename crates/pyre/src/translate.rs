//! Rewrites a Python `re` pattern into fancy-regex's syntax where the two spell the same thing
//! differently. Everything else passes through unchanged: fancy-regex reads backreferences,
//! lookaround, atomic groups and conditionals itself.

pub(crate) fn translate(p: &str) -> Result<String, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("bad escape (end of pattern)".into());
                };
                i += 2;
                match n {
                    // fancy-regex reads `\Z` as "before a final newline"; Python's is the end.
                    'Z' => out.push_str(r"\z"),
                    '0' => {
                        // Python: `\0` and up to two more octal digits are an octal escape.
                        let v = octal_digits(&chars, &mut i);
                        out.push_str(&format!(r"\x{{{v:x}}}"));
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                continue;
            }
            '[' => {
                i = translate_class(&chars, i, &mut out)?;
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..].iter().take(3).collect();
                if rest.starts_with('#') {
                    // A comment group: dropped.
                    let mut j = i + 3;
                    while j < chars.len() && chars[j] != ')' {
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err("missing ), unterminated comment".into());
                    }
                    i = j + 1;
                    continue;
                }
                // Inline flags: Python's `u` (the default for str) and `a` have no counterpart
                // that keeps a `&str` regex valid; both are dropped.
                let mut j = i + 2;
                let mut flags = String::new();
                while let Some(&f) = chars.get(j) {
                    if f.is_ascii_alphabetic() || f == '-' {
                        flags.push(f);
                        j += 1;
                    } else {
                        break;
                    }
                }
                if !flags.is_empty() && matches!(chars.get(j), Some(')' | ':')) {
                    if flags.contains('L') {
                        return Err(
                            "the locale flag (?L) is not supported; drover matches Unicode text"
                                .into(),
                        );
                    }
                    let kept: String = flags.chars().filter(|f| !matches!(f, 'u' | 'a')).collect();
                    let close = chars[j];
                    if kept.is_empty() || kept == "-" {
                        if close == ':' {
                            out.push_str("(?:");
                        }
                    } else {
                        out.push_str("(?");
                        out.push_str(&kept);
                        out.push(close);
                    }
                    i = j + 1;
                    continue;
                }
                out.push_str("(?");
                i += 2;
                continue;
            }
            '*' | '+' | '?' if nothing_before(&out) => {
                return Err(format!("nothing to repeat at position {i}"));
            }
            '{' => {
                if let Some((quant, next)) = quantifier(&chars, i) {
                    if nothing_before(&out) {
                        return Err(format!("nothing to repeat at position {i}"));
                    }
                    out.push_str(&quant);
                    i = next;
                } else {
                    out.push_str(r"\{");
                    i += 1;
                }
                continue;
            }
            '}' => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// The value of up to two octal digits at `i` (after a `\0`), moving `i` past them.
pub(crate) fn octal_digits(chars: &[char], i: &mut usize) -> u32 {
    let mut v = 0u32;
    for _ in 0..2 {
        match chars.get(*i).and_then(|c| c.to_digit(8)) {
            Some(d) => {
                v = v * 8 + d;
                *i += 1;
            }
            None => break,
        }
    }
    v
}

/// Whether a quantifier written now would have nothing to repeat (Python's error): at the start,
/// right after an opening parenthesis (or `(?:`) or after an alternation `|`.
fn nothing_before(out: &str) -> bool {
    let body = out
        .strip_suffix("(?:")
        .map(|b| format!("{b}("))
        .unwrap_or_else(|| out.to_string());
    let Some(last) = body.chars().last() else {
        return true;
    };
    if last != '(' && last != '|' {
        return false;
    }
    // Unescaped: an even number of backslashes before it.
    let slashes = body[..body.len() - 1]
        .chars()
        .rev()
        .take_while(|c| *c == '\\')
        .count();
    slashes % 2 == 0
}

/// A `{m}`, `{m,}`, `{m,n}` or `{,n}` quantifier at `i`, rewritten for fancy-regex.
fn quantifier(chars: &[char], i: usize) -> Option<(String, usize)> {
    let mut j = i + 1;
    let mut min = String::new();
    while let Some(c) = chars.get(j).filter(|c| c.is_ascii_digit()) {
        min.push(*c);
        j += 1;
    }
    let mut max = None;
    if chars.get(j) == Some(&',') {
        j += 1;
        let mut m = String::new();
        while let Some(c) = chars.get(j).filter(|c| c.is_ascii_digit()) {
            m.push(*c);
            j += 1;
        }
        max = Some(m);
    }
    if chars.get(j) != Some(&'}') {
        return None;
    }
    let q = match (min.is_empty(), max) {
        (true, None) => return None,
        (true, Some(m)) if m.is_empty() => return None,
        (true, Some(m)) => format!("{{0,{m}}}"),
        (false, None) => format!("{{{min}}}"),
        (false, Some(m)) => format!("{{{min},{m}}}"),
    };
    Some((q, j + 1))
}

/// Copies a character class starting at `chars[start] == '['`, escaping what fancy-regex would read
/// as nested classes or set operations. Returns the index after the class.
fn translate_class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` first in the class is a literal in Python.
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("unterminated character set".into());
                };
                if n.is_ascii_digit() {
                    // Octal escape in a class.
                    let mut v = 0u32;
                    let mut j = i + 1;
                    while j < chars.len() && j < i + 4 && matches!(chars[j], '0'..='7') {
                        v = v * 8 + chars[j].to_digit(8).unwrap_or(0);
                        j += 1;
                    }
                    out.push_str(&format!(r"\x{{{v:x}}}"));
                    i = j;
                    continue;
                }
                out.push('\\');
                out.push(n);
                i += 2;
                continue;
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '-' if chars.get(i + 1) == Some(&'-') => out.push_str(r"\-"),
            _ => out.push(c),
        }
        i += 1;
    }
    Err("unterminated character set".into())
}

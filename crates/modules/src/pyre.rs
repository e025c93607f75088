//! Python `re` patterns and replacement templates on top of the `regex` crate.
//!
//! Playbooks are written against Python's `re`. Most patterns mean the same in both engines;
//! this module rewrites the ones that are spelled differently (`\Z`, `{,n}`, a literal `{`, `[`
//! inside a class, `(?#...)`) and refuses, with a message saying so, what `regex` cannot do
//! (lookaround, backreferences in patterns, atomic groups, conditionals). Replacement strings use
//! Python's syntax (`\1`, `\g<1>`, `\g<name>`, `\n`), expanded here rather than by `regex`,
//! whose `$1` syntax would make a `$` in a replacement special.

use regex::{Captures, Regex};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("regular expression {pattern:?}: {reason}")]
pub struct PyReError {
    pub pattern: String,
    pub reason: String,
}

/// Compiles a Python pattern. `multiline` and `dotall` are Python's `re.M`/`re.S`.
pub fn compile(pattern: &str, multiline: bool, dotall: bool) -> Result<Regex, PyReError> {
    let err = |reason: String| PyReError {
        pattern: pattern.to_string(),
        reason,
    };
    let mut translated = translate(pattern).map_err(err)?;
    let mut flags = String::new();
    if multiline {
        flags.push('m');
    }
    if dotall {
        flags.push('s');
    }
    if !flags.is_empty() {
        translated = format!("(?{flags}){translated}");
    }
    Regex::new(&translated).map_err(|e| err(e.to_string()))
}

const UNSUPPORTED: &str = "is not supported by drover's regular expression engine (no lookaround, backreferences, atomic groups or conditionals); rewrite the pattern without it";

fn translate(p: &str) -> Result<String, String> {
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
                    '1'..='9' => return Err(format!("backreference \\{n} {UNSUPPORTED}")),
                    'Z' => out.push_str(r"\z"),
                    '0' => {
                        // Python: `\0` and up to two more octal digits are an octal escape.
                        let mut v = 0u32;
                        let mut k = 0;
                        while k < 2 && matches!(chars.get(i), Some('0'..='7')) {
                            v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                            i += 1;
                            k += 1;
                        }
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
                if rest.starts_with('=') || rest.starts_with('!') {
                    return Err(format!("lookahead (?{}...) {UNSUPPORTED}", &rest[..1]));
                }
                if rest.starts_with("<=") || rest.starts_with("<!") {
                    return Err(format!("lookbehind (?{}...) {UNSUPPORTED}", &rest[..2]));
                }
                if rest.starts_with("P=") {
                    return Err(format!("named backreference (?P=...) {UNSUPPORTED}"));
                }
                if rest.starts_with('>') {
                    return Err(format!("atomic group (?>...) {UNSUPPORTED}"));
                }
                if rest.starts_with('(') {
                    return Err(format!("conditional group (?(...)...) {UNSUPPORTED}"));
                }
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
                        return Err(format!("the locale flag (?L) {UNSUPPORTED}"));
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
            '{' => {
                if let Some((quant, next)) = quantifier(&chars, i) {
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

/// A `{m}`, `{m,}`, `{m,n}` or `{,n}` quantifier at `i`, rewritten for `regex`.
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

/// Copies a character class starting at `chars[start] == '['`, escaping what `regex` would read
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
                        if !re.capture_names().flatten().any(|n| n == name) {
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
                    let mut v = 0u32;
                    let mut k = 0;
                    while k < 2 && matches!(chars.get(i), Some('0'..='7')) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        k += 1;
                    }
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

/// Python's `re.subn`: replaces every match of `re` in `text`, returning the new text and the
/// number of replacements.
pub fn subn(re: &Regex, text: &str, tpl: &Template) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        out.push_str(&tpl.expand(&caps));
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, expected: Result<&str, &str>) {
        let got = translate(pattern);
        match expected {
            Ok(e) => assert_eq!(got.as_deref(), Ok(e), "pattern {pattern:?}"),
            Err(fragment) => {
                let msg = got.expect_err(pattern);
                assert!(msg.contains(fragment), "{pattern:?}: {msg}");
            }
        }
    }

    #[test]
    fn translation() {
        check(r"^foo\s+bar$", Ok(r"^foo\s+bar$"));
        check(r"end\Z", Ok(r"end\z"));
        check(r"a{2}b{1,}c{,3}d{2,5}", Ok(r"a{2}b{1,}c{0,3}d{2,5}"));
        check(r"{foo}", Ok(r"\{foo\}"));
        check(r"a{", Ok(r"a\{"));
        check(r"x{,}", Ok(r"x\{,\}"));
        check(r"[[]", Ok(r"[\[]"));
        check(r"[]a]", Ok(r"[\]a]"));
        check(r"[^]a]", Ok(r"[^\]a]"));
        check(r"[a&&b]", Ok(r"[a\&\&b]"));
        check(r"[a-z~]", Ok(r"[a-z\~]"));
        check(r"(?P<name>\w+)", Ok(r"(?P<name>\w+)"));
        check(r"(?i)abc", Ok(r"(?i)abc"));
        check(r"(?u)abc", Ok(r"abc"));
        check(r"(?iu:abc)", Ok(r"(?i:abc)"));
        check(r"(?:abc)", Ok(r"(?:abc)"));
        check(r"a(?#comment)b", Ok(r"ab"));
        check(r"\0", Ok(r"\x{0}"));
        check(r"foo(?=bar)", Err("lookahead"));
        check(r"foo(?!bar)", Err("lookahead"));
        check(r"(?<=a)b", Err("lookbehind"));
        check(r"(?<!a)b", Err("lookbehind"));
        check(r"(a)\1", Err("backreference"));
        check(r"(?P<x>a)(?P=x)", Err("backreference"));
        check(r"(?>a)", Err("atomic"));
        check(r"[abc", Err("unterminated"));
    }

    #[test]
    fn compiled_semantics() {
        let re = compile(r"^#?\s*Port\s+\d+", false, false).unwrap();
        assert!(re.is_match("#Port 22"));
        assert!(re.is_match("Port 2222"));
        assert!(!re.is_match("Ports 1"));
        let re = compile(r"^b$", true, false).unwrap();
        assert!(re.is_match("a\nb\nc"));
        let re = compile(r"a.b", false, true).unwrap();
        assert!(re.is_match("a\nb"));
        assert!(compile("(?=x)", false, false).is_err());
    }

    fn sub(pattern: &str, repl: &str, text: &str) -> Result<(String, usize), PyReError> {
        let re = compile(pattern, true, false)?;
        let tpl = Template::parse(repl, &re)?;
        Ok(subn(&re, text, &tpl))
    }

    #[test]
    fn replacements() {
        assert_eq!(
            sub(r"(\w+)=(\w+)", r"\2=\1", "a=b c=d").unwrap(),
            ("b=a d=c".into(), 2)
        );
        assert_eq!(
            sub(r"(?P<k>\w+)=", r"\g<k>:\g<0>", "a=").unwrap(),
            ("a:a=".into(), 1)
        );
        assert_eq!(sub(r"x", r"$1 \n\\", "x").unwrap(), ("$1 \n\\".into(), 1));
        assert_eq!(sub(r"x", r"\&", "x").unwrap(), (r"\&".into(), 1));
        assert_eq!(sub(r"(a)|(b)", r"[\2]", "ab").unwrap(), ("[][b]".into(), 2));
        assert_eq!(sub(r"nomatch", "y", "abc").unwrap(), ("abc".into(), 0));
        assert_eq!(sub(r"^", "# ", "a\nb").unwrap(), ("# a\n# b".into(), 2));
        assert!(sub(r"(a)", r"\2", "a").is_err());
        assert!(sub(r"(a)", r"\g<nope>", "a").is_err());
        assert!(sub(r"(a)", r"\q", "a").is_err());
        assert!(sub(r"(a)", r"\g<1", "a").is_err());
    }
}

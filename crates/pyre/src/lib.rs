//! Python `re` patterns and replacement templates, as playbooks write them.
//!
//! Playbooks are written against Python's `re`. Patterns run on fancy-regex, which delegates
//! to the linear-time `regex` crate whenever a pattern needs no backtracking, and backtracks only
//! for what needs it (backreferences, lookaround, atomic groups, conditionals). `translate`
//! rewrites what the two spell differently (`\Z`, `{,n}`, a literal `{`, `[` inside a class,
//! `(?#...)`). Replacement strings use Python's syntax (`\1`, `\g<1>`, `\g<name>`, `\n`) and are
//! expanded here, so a `$` in a replacement stays a plain character.
//!
//! Every engine in drover that takes a user's pattern (the modules' `regexp`, the `regex_*`
//! filters and tests) goes through this crate, so a pattern means the same everywhere.

mod template;
mod translate;

pub use fancy_regex::{Captures, Match};
pub use template::{subn, Template};

/// A pattern that did not compile, or a match that gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("regular expression {pattern:?}: {reason}")]
pub struct PyReError {
    pub pattern: String,
    pub reason: String,
}

/// Python's compile flags that playbooks pass as options (`re.I`, `re.M`, `re.S`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub ignorecase: bool,
    pub multiline: bool,
    pub dotall: bool,
}

impl Flags {
    pub const NONE: Flags = Flags {
        ignorecase: false,
        multiline: false,
        dotall: false,
    };
    pub const MULTILINE: Flags = Flags {
        ignorecase: false,
        multiline: true,
        dotall: false,
    };
    pub const DOTALL: Flags = Flags {
        ignorecase: false,
        multiline: false,
        dotall: true,
    };
}

/// A compiled Python pattern.
#[derive(Debug, Clone)]
pub struct Regex {
    re: fancy_regex::Regex,
    /// The pattern as the user wrote it, for error messages.
    pattern: String,
}

/// Compiles a Python pattern with the given flags.
pub fn compile(pattern: &str, flags: Flags) -> Result<Regex, PyReError> {
    let err = |reason: String| PyReError {
        pattern: pattern.to_string(),
        reason,
    };
    let mut translated = translate::translate(pattern).map_err(err)?;
    let mut inline = String::new();
    for (on, f) in [
        (flags.ignorecase, 'i'),
        (flags.multiline, 'm'),
        (flags.dotall, 's'),
    ] {
        if on {
            inline.push(f);
        }
    }
    if !inline.is_empty() {
        translated = format!("(?{inline}){translated}");
    }
    let re = fancy_regex::RegexBuilder::new(&translated)
        .build()
        .map_err(|e| err(e.to_string()))?;
    Ok(Regex {
        re,
        pattern: pattern.to_string(),
    })
}

impl Regex {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern matches anywhere in `text` (Python's `re.search`).
    pub fn is_match(&self, text: &str) -> Result<bool, PyReError> {
        self.re.is_match(text).map_err(|e| self.runtime_error(e))
    }

    /// The first match in `text`.
    pub fn find<'t>(&self, text: &'t str) -> Result<Option<Match<'t>>, PyReError> {
        self.re.find(text).map_err(|e| self.runtime_error(e))
    }

    /// The groups of the first match in `text`.
    pub fn captures<'t>(&self, text: &'t str) -> Result<Option<Captures<'t>>, PyReError> {
        self.re.captures(text).map_err(|e| self.runtime_error(e))
    }

    /// The groups of every non-overlapping match in `text`, in order, as Python's `finditer`
    /// finds them: an empty match right after a non-empty one counts (the `regex` crate's
    /// iterators skip it), an empty match where the previous one was empty does not.
    pub fn captures_all<'t>(&self, text: &'t str) -> Result<Vec<Captures<'t>>, PyReError> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut empty_at = None;
        while pos <= text.len() {
            let Some(caps) = self
                .re
                .captures_from_pos(text, pos)
                .map_err(|e| self.runtime_error(e))?
            else {
                break;
            };
            let Some((start, end)) = caps.get(0).map(|m| (m.start(), m.end())) else {
                break;
            };
            if start == end && empty_at == Some(start) {
                // Python never takes two empty matches at one position: look one character on.
                match text[start..].chars().next() {
                    Some(c) => pos = start + c.len_utf8(),
                    None => break,
                }
                continue;
            }
            empty_at = (start == end).then_some(end);
            pos = end;
            out.push(caps);
        }
        Ok(out)
    }

    /// How many matches there are in `text` (as `captures_all` counts them).
    pub fn count_matches(&self, text: &str) -> Result<usize, PyReError> {
        Ok(self.captures_all(text)?.len())
    }

    /// The number of groups, the whole match included.
    pub fn captures_len(&self) -> usize {
        self.re.captures_len()
    }

    /// The names of the groups in order, `None` for unnamed ones (the whole match first).
    pub fn capture_names(&self) -> impl Iterator<Item = Option<&str>> {
        self.re.capture_names()
    }

    /// A match that fancy-regex abandoned (its backtracking limit); Python would have run on.
    fn runtime_error(&self, e: fancy_regex::Error) -> PyReError {
        PyReError {
            pattern: self.pattern.clone(),
            reason: format!("matching gave up: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, expected: Result<&str, &str>) {
        let got = translate::translate(pattern);
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
        check(r"foo(?=bar)", Ok(r"foo(?=bar)"));
        check(r"(?<!a)b", Ok(r"(?<!a)b"));
        check(r"(a)\1", Ok(r"(a)\1"));
        check(r"(?P<x>a)(?P=x)", Ok(r"(?P<x>a)(?P=x)"));
        check(r"(?L)a", Err("locale"));
        check(r"*", Err("nothing to repeat at position 0"));
        check(r"a|+b", Err("nothing to repeat at position 2"));
        check(r"(?:{2})", Err("nothing to repeat"));
        check(r"\(*", Ok(r"\(*"));
        check(r"a{2}|b?", Ok(r"a{2}|b?"));
        check(r"[abc", Err("unterminated"));
    }

    #[test]
    fn compiled_semantics() {
        let m =
            |p: &str, flags: Flags, text: &str| compile(p, flags).unwrap().is_match(text).unwrap();
        assert!(m(r"^#?\s*Port\s+\d+", Flags::NONE, "#Port 22"));
        assert!(m(r"^#?\s*Port\s+\d+", Flags::NONE, "Port 2222"));
        assert!(!m(r"^#?\s*Port\s+\d+", Flags::NONE, "Ports 1"));
        assert!(m(r"^b$", Flags::MULTILINE, "a\nb\nc"));
        assert!(!m(r"^b$", Flags::NONE, "a\nb\nc"));
        assert!(m(r"a.b", Flags::DOTALL, "a\nb"));
        assert!(!m(r"a.b", Flags::NONE, "a\nb"));
        let ic = Flags {
            ignorecase: true,
            ..Flags::NONE
        };
        assert!(m(r"port", ic, "PORT"));
        // What needs backtracking: backreferences, lookaround, named backreferences.
        assert!(m(r"^(\w+) \1$", Flags::NONE, "foo foo"));
        assert!(!m(r"^(\w+) \1$", Flags::NONE, "foo bar"));
        assert!(m(r"^(?!#)\s*Port", Flags::NONE, "Port 22"));
        assert!(!m(r"^(?!#)\s*Port", Flags::NONE, "#Port 22"));
        assert!(m(r"(?<=a)b", Flags::NONE, "ab"));
        assert!(!m(r"(?<=a)b", Flags::NONE, "cb"));
        assert!(m(r#"(?P<q>['"]).*(?P=q)"#, Flags::NONE, "'x'"));
        assert!(!m(r#"(?P<q>['"]).*(?P=q)"#, Flags::NONE, "'x\""));
        // `\Z` is the very end in Python, not "before a final newline".
        assert!(!m(r"a\Z", Flags::NONE, "a\n"));
        let err = compile("(unclosed", Flags::NONE).unwrap_err();
        assert_eq!(err.pattern, "(unclosed");
    }

    fn sub(pattern: &str, repl: &str, text: &str) -> Result<(String, usize), PyReError> {
        let re = compile(pattern, Flags::MULTILINE)?;
        let tpl = Template::parse(repl, &re)?;
        subn(&re, text, &tpl, 0)
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
        // Python 3.7+: an empty match right after a non-empty one is replaced too.
        assert_eq!(sub(r"x*", "-", "axb").unwrap(), ("-a--b-".into(), 4));
        assert_eq!(sub(r"a{,2}", "x", "aaa").unwrap(), ("xxx".into(), 3));
        assert_eq!(sub(r"", "-", "é").unwrap(), ("-é-".into(), 2));
        assert_eq!(sub(r"^", "# ", "a\nb").unwrap(), ("# a\n# b".into(), 2));
        assert_eq!(
            sub(r"(\w)\1", r"<\1>", "aab bb").unwrap(),
            ("<a>b <b>".into(), 2)
        );
        let re = compile("a", Flags::NONE).unwrap();
        let tpl = Template::parse("b", &re).unwrap();
        assert_eq!(subn(&re, "aaa", &tpl, 2).unwrap(), ("bba".into(), 2));
        assert!(sub(r"(a)", r"\2", "a").is_err());
        assert!(sub(r"(a)", r"\g<nope>", "a").is_err());
        assert!(sub(r"(a)", r"\q", "a").is_err());
        assert!(sub(r"(a)", r"\g<1", "a").is_err());
    }
}

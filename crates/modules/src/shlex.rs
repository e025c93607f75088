//! Splitting a command line into words the way Python's `shlex.split()` does (POSIX mode, no
//! comments), which is how Ansible's `command` module turns its free-form string into argv.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShlexError {
    #[error("No closing quotation")]
    NoClosingQuote,
    #[error("No escaped character")]
    NoEscapedChar,
}

/// Splits `input` into words: whitespace separates words; single quotes keep everything
/// literally; double quotes keep everything but let a backslash escape `"` and `\`; outside
/// quotes a backslash escapes any character; quoted parts join adjacent text (`a"b c"` is
/// `ab c`) and `''` is an empty word.
pub fn split(input: &str) -> Result<Vec<String>, ShlexError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    // Whether a word has started, so that `''` yields an empty word.
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                let next = chars.next().ok_or(ShlexError::NoEscapedChar)?;
                cur.push(next);
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(ShlexError::NoClosingQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err(ShlexError::NoClosingQuote),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(ShlexError::NoClosingQuote),
                    }
                }
            }
            other => {
                cur.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&[&str], ShlexError>) {
        let got = split(input);
        let expected = expected.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, expected, "input: {input:?}");
    }

    #[test]
    fn words() {
        check("", Ok(&[]));
        check("   ", Ok(&[]));
        check("ls -l /tmp", Ok(&["ls", "-l", "/tmp"]));
        check("  a\t b\nc  ", Ok(&["a", "b", "c"]));
        check("echo 'hello world'", Ok(&["echo", "hello world"]));
        check(r#"echo "a b" c"#, Ok(&["echo", "a b", "c"]));
        check(r#"a"b c"d"#, Ok(&["ab cd"]));
        check("echo '' x", Ok(&["echo", "", "x"]));
        check(r#"echo """#, Ok(&["echo", ""]));
        check(r"a\ b", Ok(&["a b"]));
        check(r"a\\b", Ok(&[r"a\b"]));
        check(r"'a\b'", Ok(&[r"a\b"]));
        check(r#""a\"b""#, Ok(&[r#"a"b"#]));
        check(r#""a\\b""#, Ok(&[r"a\b"]));
        check(r#""a\nb""#, Ok(&[r"a\nb"]));
        check(r#""$HOME""#, Ok(&["$HOME"]));
        check("it's'", Ok(&["its"]));
        check("# not a comment", Ok(&["#", "not", "a", "comment"]));
        check("grep -e 'a\"b'", Ok(&["grep", "-e", "a\"b"]));
        check("'unterminated", Err(ShlexError::NoClosingQuote));
        check("\"unterminated", Err(ShlexError::NoClosingQuote));
        check("trailing\\", Err(ShlexError::NoEscapedChar));
    }
}

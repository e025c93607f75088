//! Errors that point into a source file, shared by every crate that reports problems in YAML
//! or INI input: the loader here, the inventory and the playbook loaders.

use std::fmt;

use crate::Pos;

/// A problem at one position of one source file.
///
/// `Display` renders `file:line:col: message`, then the offending source line with a caret under
/// the column, so every loader reports bad input the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SourceError {
    pub file: String,
    pub pos: Pos,
    pub message: String,
    /// The rendered source line and caret (see [`snippet`]); empty when the source is unknown.
    pub snippet: String,
}

/// Errors from loading YAML are positioned source errors.
pub type YamlError = SourceError;

impl SourceError {
    /// An error at `pos` of `src` (the text of `file`), with the snippet rendered from `src`.
    pub fn new(
        file: impl Into<String>,
        src: &str,
        pos: Pos,
        message: impl Into<String>,
    ) -> SourceError {
        SourceError {
            file: file.into(),
            pos,
            message: message.into(),
            snippet: snippet(src, pos),
        }
    }

    /// An error about a whole file, for which there is no meaningful position (a missing file,
    /// an unreadable directory).
    pub fn whole_file(file: impl Into<String>, message: impl Into<String>) -> SourceError {
        SourceError {
            file: file.into(),
            pos: Pos::default(),
            message: message.into(),
            snippet: String::new(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.pos.line, self.pos.column, self.message
            )?;
        }
        if !self.snippet.is_empty() {
            write!(f, "\n{}", self.snippet)?;
        }
        Ok(())
    }
}

/// Renders line `pos.line` of `src` with a gutter and a caret under `pos.column`:
///
/// ```text
///   |
/// 3 | - name: [a, b
///   |              ^
/// ```
///
/// Tabs before the column are kept in the caret line so the caret lines up whatever the
/// terminal's tab width. Returns an empty string for position 0 (no position).
pub fn snippet(src: &str, pos: Pos) -> String {
    if pos.line == 0 {
        return String::new();
    }
    let line = src
        .split('\n')
        .nth(pos.line - 1)
        .unwrap_or("")
        .trim_end_matches('\r');
    let number = pos.line.to_string();
    let pad = " ".repeat(number.len());
    let chars: Vec<char> = line.chars().collect();
    let col = pos.column.saturating_sub(1);
    // Very long lines (minified JSON, generated YAML) are cut to a window around the column.
    let (from, to) = if chars.len() > MAX_SNIPPET {
        let from = col.saturating_sub(MAX_SNIPPET / 2).min(chars.len());
        (from, (from + MAX_SNIPPET).min(chars.len()))
    } else {
        (0, chars.len())
    };
    let mut shown: String = chars[from..to].iter().collect();
    let mut caret: String = chars[from..col.clamp(from, to)]
        .iter()
        .map(|&c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    if from > 0 {
        shown.insert_str(0, "...");
        caret.insert_str(0, "   ");
    }
    if to < chars.len() {
        shown.push_str("...");
    }
    // A position past the end of the line (an error at end of line or of input).
    caret.push_str(&" ".repeat(col.saturating_sub(to.max(from))));
    format!("{pad} |\n{number} | {shown}\n{pad} | {caret}^")
}

const MAX_SNIPPET: usize = 160;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Pos {
        Pos {
            line,
            column,
            offset: 0,
        }
    }

    #[test]
    fn snippet_puts_caret_under_column() {
        let src = "a: 1\nbb: [x\n";
        assert_eq!(snippet(src, pos(2, 5)), "  |\n2 | bb: [x\n  |     ^");
        assert_eq!(snippet(src, pos(1, 1)), "  |\n1 | a: 1\n  | ^");
    }

    #[test]
    fn snippet_keeps_tabs_and_survives_out_of_range() {
        assert_eq!(snippet("\tx: 1", pos(1, 2)), "  |\n1 | \tx: 1\n  | \t^");
        assert_eq!(snippet("a", pos(7, 3)), "  |\n7 | \n  |   ^");
        assert_eq!(snippet("a", pos(0, 0)), "");
    }

    #[test]
    fn snippet_windows_long_lines() {
        let line = "x".repeat(500) + "!" + &"y".repeat(500);
        let got = snippet(&line, pos(1, 501));
        let lines: Vec<&str> = got.lines().collect();
        assert!(lines[1].starts_with("1 | ...x") && lines[1].ends_with("y..."));
        let caret_at = lines[2].find('^').unwrap();
        assert_eq!(lines[1].chars().nth(caret_at), Some('!'));
    }

    #[test]
    fn display_has_location_message_and_snippet() {
        let err = SourceError::new("site.yml", "- x\n- [\n", pos(2, 3), "bad");
        assert_eq!(err.to_string(), "site.yml:2:3: bad\n  |\n2 | - [\n  |   ^");
        let err = SourceError::whole_file("inv", "no such file");
        assert_eq!(err.to_string(), "inv: no such file");
    }
}

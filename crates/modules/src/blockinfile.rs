//! `blockinfile`: keeps a block of lines between two marker lines in a file.

use drover_pyre::{self as pyre, Flags, PyReError, Regex};

use crate::textfile::{commit, read_text, registered_diff, with_attrs_msg, EditTarget, Original};
use crate::util::{check_mode_arg, check_validate, to_value};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct BlockInFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "blockinfile",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .required()
            .aliases(&["dest", "destfile", "name"]),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("marker", ArgKind::Str),
        ArgDef::new("marker_begin", ArgKind::Str),
        ArgDef::new("marker_end", ArgKind::Str),
        ArgDef::new("block", ArgKind::Str).aliases(&["content"]),
        ArgDef::new("insertafter", ArgKind::Str),
        ArgDef::new("insertbefore", ArgKind::Str),
        ArgDef::new("create", ArgKind::Bool),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("validate", ArgKind::Str),
        ArgDef::new("append_newline", ArgKind::Bool),
        ArgDef::new("prepend_newline", ArgKind::Bool),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
        ArgDef::new("unsafe_writes", ArgKind::Bool),
        ArgDef::new("seuser", ArgKind::Str),
        ArgDef::new("serole", ArgKind::Str),
        ArgDef::new("setype", ArgKind::Str),
        ArgDef::new("selevel", ArgKind::Str),
        ArgDef::new("attributes", ArgKind::Str).aliases(&["attr"]),
    ],
    free_form: false,
    mutually_exclusive: &[&["insertbefore", "insertafter"]],
    required_one_of: &[],
    check_mode: true,
};

#[derive(Debug)]
pub(crate) enum Where {
    Bof,
    Eof,
    /// After the last line the pattern matches; with `multiline` (an inline `(?m)`) the
    /// pattern is searched in the whole text instead, as Python's `re.MULTILINE` makes Ansible do.
    After {
        re: Regex,
        multiline: bool,
    },
    Before {
        re: Regex,
        multiline: bool,
    },
}

/// One block edit, independent of any host.
#[derive(Debug)]
pub(crate) struct BlockEdit {
    pub begin: String,
    pub end: String,
    /// The block as given, line endings included; empty removes the block.
    pub block: String,
    pub place: Where,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

/// Splits after each `\n`, `\r\n` or lone `\r` (Python's `bytes.splitlines(True)`), keeping
/// every line's own ending so CRLF files keep their CRLFs.
pub(crate) fn split_keep_ends(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..=i]);
                start = i + 1;
            }
            b'\r' => {
                let end = if bytes.get(i + 1) == Some(&b'\n') {
                    i + 1
                } else {
                    i
                };
                out.push(&text[start..=end]);
                i = end;
                start = end + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        out.push(&text[start..]);
    }
    out
}

impl BlockEdit {
    /// The new text for `original` (`None`: no file yet).
    pub(crate) fn apply(&self, original: Option<&str>) -> Result<String, PyReError> {
        let text = original.unwrap_or("");
        let mut lines: Vec<String> = split_keep_ends(text)
            .into_iter()
            .map(str::to_string)
            .collect();
        // Markers match only whole lines ending in `\n`; the last of each delimits the block.
        let marker0 = format!("{}\n", self.begin);
        let marker1 = format!("{}\n", self.end);
        let block_lines: Vec<String> = if self.block.is_empty() {
            Vec::new()
        } else {
            let mut block = self.block.clone();
            if !block.ends_with('\n') {
                block.push('\n');
            }
            std::iter::once(marker0.clone())
                .chain(split_keep_ends(&block).into_iter().map(str::to_string))
                .chain(std::iter::once(marker1.clone()))
                .collect()
        };
        let n0 = lines.iter().rposition(|l| *l == marker0);
        let n1 = lines.iter().rposition(|l| *l == marker1);
        let mut at = match (n0, n1) {
            (Some(b), Some(e)) => {
                let (lo, hi) = (b.min(e), b.max(e));
                lines.drain(lo..=hi);
                lo
            }
            _ => match &self.place {
                Where::Bof => 0,
                Where::Eof => lines.len(),
                Where::After { re, multiline } => {
                    find_line(re, *multiline, text, &lines, true)?.map_or(lines.len(), |i| i + 1)
                }
                Where::Before { re, multiline } => {
                    find_line(re, *multiline, text, &lines, false)?.unwrap_or(lines.len())
                }
            },
        };
        // The line before the block must end, or the first marker would join it.
        if at > 0 && !lines[at - 1].ends_with('\n') {
            lines[at - 1].push('\n');
        }
        let present = !self.block.is_empty();
        if self.prepend_newline && present && at != 0 && lines[at - 1] != "\n" {
            lines.insert(at, "\n".to_string());
            at += 1;
        }
        let after_block = at + block_lines.len();
        lines.splice(at..at, block_lines);
        if self.append_newline && present && after_block < lines.len() && lines[after_block] != "\n"
        {
            lines.insert(after_block, "\n".to_string());
        }
        Ok(lines.concat())
    }
}

/// The index of the line `re` finds last (line by line), or, for a multiline pattern, of the
/// line holding the end (`after`) or start of its first match in the whole text.
fn find_line(
    re: &Regex,
    multiline: bool,
    text: &str,
    lines: &[String],
    after: bool,
) -> Result<Option<usize>, PyReError> {
    if multiline {
        let Some(m) = re.find(text)? else {
            return Ok(None);
        };
        let upto = if after { m.end() } else { m.start() };
        return Ok(Some(text[..upto].matches('\n').count()));
    }
    // Python's `$` also matches before a final `\n`; fancy-regex's does not, so the
    // line is searched without it.
    for (i, l) in lines.iter().enumerate().rev() {
        if re.is_match(l.strip_suffix('\n').unwrap_or(l))? {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Whether a pattern turns on Python's MULTILINE flag for the whole expression (a leading
/// `(?...)` flag group containing `m`).
fn is_multiline(pattern: &str) -> bool {
    pattern
        .strip_prefix("(?")
        .and_then(|rest| rest.split_once(')'))
        .is_some_and(|(flags, _)| {
            !flags.is_empty()
                && flags.chars().all(|c| c.is_ascii_alphabetic())
                && flags.contains('m')
        })
}

fn compile(path: &str, what: &str, pattern: &str) -> Result<Regex, ModuleError> {
    pyre::compile(pattern, Flags::NONE)
        .map_err(|e| ModuleError::Controller(format!("{path}: {what}: {e}")))
}

#[async_trait::async_trait]
impl Module for BlockInFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let path = args.string("path").unwrap_or_default();
        let target = EditTarget::from_args(args, &path);
        check_mode_arg(&path, &target.attrs)?;
        if let Err(msg) = check_validate(target.validate.as_deref()) {
            return Ok(Outcome::failed(msg));
        }
        let present = args.str("state") != Some("absent");
        let marker = args
            .str("marker")
            .unwrap_or("# {mark} ANSIBLE MANAGED BLOCK");
        let begin = marker.replace("{mark}", args.str("marker_begin").unwrap_or("BEGIN"));
        let end = marker.replace("{mark}", args.str("marker_end").unwrap_or("END"));
        let block_text = if present {
            args.str("block").unwrap_or("")
        } else {
            ""
        };
        let place = match (args.str("insertafter"), args.str("insertbefore")) {
            (_, Some("BOF")) => Where::Bof,
            (_, Some(re)) => Where::Before {
                re: compile(&path, "insertbefore", re)?,
                multiline: is_multiline(re),
            },
            (Some("EOF") | None, None) => Where::Eof,
            (Some(re), None) => Where::After {
                re: compile(&path, "insertafter", re)?,
                multiline: is_multiline(re),
            },
        };
        let edit = BlockEdit {
            begin,
            end,
            block: block_text.to_string(),
            place,
            append_newline: args.bool("append_newline", false),
            prepend_newline: args.bool("prepend_newline", false),
        };
        let original = match read_text(ctx, &path).await? {
            Ok(o) => o,
            Err((rc, msg)) => return Ok(Outcome::failed(msg).with("rc", rc)),
        };
        let before = match &original {
            Original::Text(t) => Some(t.as_str()),
            Original::Missing if !args.bool("create", false) => {
                return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257));
            }
            Original::Missing if !present => {
                return Ok(Outcome::ok().with_msg(format!("File {path} not present")));
            }
            Original::Missing => None,
        };
        let after = edit
            .apply(before)
            .map_err(|e| ModuleError::Controller(format!("{path}: {e}")))?;
        // A missing file with `create` and an empty block is created empty, as in Ansible.
        let msg = if before == Some(after.as_str()) {
            ""
        } else if before.is_none() {
            "File created"
        } else if edit.block.is_empty() {
            "Block removed"
        } else {
            "Block inserted"
        };
        // Ansible returns the content's before/after and the attributes' headers in diff mode.
        let diff_data = ctx.diff.then(|| registered_diff(&path, before, &after));
        let done = commit(ctx, &target, before, after).await?;
        let mut out = Outcome::changed(done.content_changed || done.attrs_changed);
        out.msg = Some(with_attrs_msg(msg, done.attrs_changed));
        if let Some(b) = done.backup {
            out.set("backup_file", b);
        }
        out.diff.extend(done.diff);
        if let Some(d) = diff_data {
            out.set("diff", to_value(&d));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(block: &str, place: Where) -> BlockEdit {
        BlockEdit {
            begin: "# BEGIN X".into(),
            end: "# END X".into(),
            block: block.to_string(),
            place,
            append_newline: false,
            prepend_newline: false,
        }
    }

    fn check(e: &BlockEdit, input: Option<&str>, expected: &str) {
        assert_eq!(e.apply(input).unwrap(), expected, "input {input:?}");
        // Applying twice changes nothing.
        assert_eq!(
            e.apply(Some(expected)).unwrap(),
            expected,
            "not idempotent: {input:?}"
        );
    }

    #[test]
    fn insert_replace_remove() {
        let e = edit("a\nb", Where::Eof);
        check(&e, None, "# BEGIN X\na\nb\n# END X\n");
        check(&e, Some("x\n"), "x\n# BEGIN X\na\nb\n# END X\n");
        check(
            &e,
            Some("x\n# BEGIN X\nold\n# END X\ny\n"),
            "x\n# BEGIN X\na\nb\n# END X\ny\n",
        );
        let e = edit("a", Where::Bof);
        check(&e, Some("x\n"), "# BEGIN X\na\n# END X\nx\n");
        let e = edit("", Where::Eof);
        check(&e, Some("x\n# BEGIN X\nold\n# END X\ny\n"), "x\ny\n");
        check(&e, Some("x\n"), "x\n");
    }

    #[test]
    fn insert_after_and_before_regex() {
        let re = || pyre::compile("^s", Flags::NONE).unwrap();
        let e = edit(
            "a",
            Where::After {
                re: re(),
                multiline: false,
            },
        );
        check(
            &e,
            Some("s1\nt\ns2\nu\n"),
            "s1\nt\ns2\n# BEGIN X\na\n# END X\nu\n",
        );
        let e = edit(
            "a",
            Where::Before {
                re: re(),
                multiline: false,
            },
        );
        check(
            &e,
            Some("s1\nt\ns2\nu\n"),
            "s1\nt\n# BEGIN X\na\n# END X\ns2\nu\n",
        );
        let e = edit(
            "a",
            Where::Before {
                re: pyre::compile("^zz", Flags::NONE).unwrap(),
                multiline: false,
            },
        );
        check(&e, Some("t\n"), "t\n# BEGIN X\na\n# END X\n");
    }

    #[test]
    fn blank_lines_around() {
        let mut e = edit("a", Where::Bof);
        e.append_newline = true;
        check(&e, Some("x\n"), "# BEGIN X\na\n# END X\n\nx\n");
        let mut e = edit("a", Where::Eof);
        e.prepend_newline = true;
        check(&e, Some("x\n"), "x\n\n# BEGIN X\na\n# END X\n");
    }

    #[test]
    fn line_endings_are_kept() {
        let e = edit("dos\r\ndos\r\n", Where::Eof);
        check(
            &e,
            Some("unix\ndos\r\n# BEGIN X\ndos\r\n# END X\nunix\n"),
            "unix\ndos\r\n# BEGIN X\ndos\r\ndos\r\n# END X\nunix\n",
        );
        assert_eq!(
            split_keep_ends("a\r\nb\rc\nd"),
            ["a\r\n", "b\r", "c\n", "d"]
        );
        // A marker line ending in CRLF is not a marker: a new block is added.
        check(
            &edit("a", Where::Eof),
            Some("# BEGIN X\r\nold\r\n# END X\r\n"),
            "# BEGIN X\r\nold\r\n# END X\r\n# BEGIN X\na\n# END X\n",
        );
    }

    #[test]
    fn missing_final_newlines() {
        // The file's last line gets its newline before the block; a block without one gets it.
        check(
            &edit("one\ntwo\n", Where::Eof),
            Some("# no newline"),
            "# no newline\n# BEGIN X\none\ntwo\n# END X\n",
        );
        check(
            &edit("one\ntwo", Where::Eof),
            None,
            "# BEGIN X\none\ntwo\n# END X\n",
        );
        // Removing the block of an empty-block file leaves nothing.
        assert_eq!(edit("", Where::Eof).apply(None).unwrap(), "");
    }

    #[test]
    fn multiline_patterns_search_the_whole_text() {
        assert!(is_multiline("(?m)a\\nb"));
        assert!(is_multiline("(?im)x"));
        assert!(!is_multiline("(?i)x"));
        assert!(!is_multiline("a(?m)"));
        let pat = "(?m)^L =\\n.*\\(S =";
        let e = edit(
            "new",
            Where::After {
                re: pyre::compile(pat, Flags::NONE).unwrap(),
                multiline: is_multiline(pat),
            },
        );
        check(
            &e,
            Some("x\nL =\n  (S =\n  )\n"),
            "x\nL =\n  (S =\n# BEGIN X\nnew\n# END X\n  )\n",
        );
        // Python's `$` matches before a line's newline.
        let e = edit(
            "b",
            Where::After {
                re: pyre::compile("^a$", Flags::NONE).unwrap(),
                multiline: false,
            },
        );
        check(&e, Some("a\nc\n"), "a\n# BEGIN X\nb\n# END X\nc\n");
    }
}

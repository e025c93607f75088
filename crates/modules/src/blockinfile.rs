//! `blockinfile`: keeps a block of lines between two marker lines in a file.

use regex::Regex;

use crate::pyre;
use crate::textfile::{commit, read_text, strip_eol, with_attrs_msg, EditTarget, Original};
use crate::util::{check_mode_arg, check_validate};
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
    After(Regex),
    Before(Regex),
}

/// One block edit, independent of any host.
#[derive(Debug)]
pub(crate) struct BlockEdit {
    pub begin: String,
    pub end: String,
    /// The block's lines; empty removes the block.
    pub block: Vec<String>,
    pub place: Where,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

impl BlockEdit {
    /// The new text for `original` (`None`: no file yet).
    pub(crate) fn apply(&self, original: Option<&str>) -> String {
        let text = original.unwrap_or("");
        let mut lines: Vec<String> = text.lines().map(|l| strip_eol(l).to_string()).collect();
        // The last begin and end markers delimit the block.
        let begin = lines.iter().rposition(|l| *l == self.begin);
        let end = lines.iter().rposition(|l| *l == self.end);
        let at = match (begin, end) {
            (Some(b), Some(e)) => {
                let (lo, hi) = (b.min(e), b.max(e));
                lines.drain(lo..=hi);
                lo
            }
            _ => match &self.place {
                Where::Bof => 0,
                Where::Eof => lines.len(),
                Where::After(re) => lines
                    .iter()
                    .rposition(|l| re.is_match(l))
                    .map_or(lines.len(), |i| i + 1),
                Where::Before(re) => lines
                    .iter()
                    .rposition(|l| re.is_match(l))
                    .unwrap_or(lines.len()),
            },
        };
        if !self.block.is_empty() {
            let mut new = Vec::with_capacity(self.block.len() + 4);
            if self.prepend_newline && at > 0 && !lines[at - 1].is_empty() {
                new.push(String::new());
            }
            new.push(self.begin.clone());
            new.extend(self.block.iter().cloned());
            new.push(self.end.clone());
            if self.append_newline && at < lines.len() && !lines[at].is_empty() {
                new.push(String::new());
            }
            lines.splice(at..at, new);
        }
        let mut result = lines.join("\n");
        if !lines.is_empty() && (original.is_none() || text.ends_with('\n') || text.is_empty()) {
            result.push('\n');
        }
        result
    }
}

fn compile(path: &str, what: &str, pattern: &str) -> Result<Regex, ModuleError> {
    pyre::compile(pattern, false, false)
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
            (_, Some(re)) => Where::Before(compile(&path, "insertbefore", re)?),
            (Some("EOF") | None, None) => Where::Eof,
            (Some(re), None) => Where::After(compile(&path, "insertafter", re)?),
        };
        let edit = BlockEdit {
            begin,
            end,
            block: block_text.lines().map(str::to_string).collect(),
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
                if !present || edit.block.is_empty() {
                    return Ok(Outcome::ok().with_msg(""));
                }
                return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257));
            }
            Original::Missing => None,
        };
        if before.is_none() && edit.block.is_empty() {
            return Ok(Outcome::ok().with_msg(""));
        }
        let after = edit.apply(before);
        let msg = if before == Some(after.as_str()) {
            ""
        } else if before.is_none() {
            "File created"
        } else if edit.block.is_empty() {
            "Block removed"
        } else {
            "Block inserted"
        };
        let done = commit(ctx, &target, before, after).await?;
        let mut out = Outcome::changed(done.content_changed || done.attrs_changed);
        out.msg = Some(with_attrs_msg(msg, done.attrs_changed));
        if let Some(b) = done.backup {
            out.set("backup_file", b);
        }
        out.diff.extend(done.diff);
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
            block: block.lines().map(str::to_string).collect(),
            place,
            append_newline: false,
            prepend_newline: false,
        }
    }

    fn check(e: &BlockEdit, input: Option<&str>, expected: &str) {
        assert_eq!(e.apply(input), expected, "input {input:?}");
        // Applying twice changes nothing.
        assert_eq!(
            e.apply(Some(expected)),
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
        let re = || pyre::compile("^s", false, false).unwrap();
        let e = edit("a", Where::After(re()));
        check(
            &e,
            Some("s1\nt\ns2\nu\n"),
            "s1\nt\ns2\n# BEGIN X\na\n# END X\nu\n",
        );
        let e = edit("a", Where::Before(re()));
        check(
            &e,
            Some("s1\nt\ns2\nu\n"),
            "s1\nt\n# BEGIN X\na\n# END X\ns2\nu\n",
        );
        let e = edit(
            "a",
            Where::Before(pyre::compile("^zz", false, false).unwrap()),
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
}

//! `lineinfile`: makes sure a line is in a file (or is not), optionally replacing the line a
//! regular expression finds.

use crate::textfile::{
    commit, read_text, registered_diff, split_lines_keep, strip_eol, with_attrs_msg, EditTarget,
    Original,
};
use crate::util::{check_mode_arg, check_validate, to_value};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};
use drover_pyre::{self as pyre, Flags, PyReError, Regex, Template};

pub struct LineInFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "lineinfile",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .required()
            .aliases(&["dest", "destfile", "name"]),
        ArgDef::new("line", ArgKind::Str).aliases(&["value"]),
        ArgDef::new("regexp", ArgKind::Str).aliases(&["regex"]),
        ArgDef::new("search_string", ArgKind::Str),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("insertafter", ArgKind::Str),
        ArgDef::new("insertbefore", ArgKind::Str),
        ArgDef::new("create", ArgKind::Bool),
        ArgDef::new("backrefs", ArgKind::Bool),
        ArgDef::new("firstmatch", ArgKind::Bool),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("validate", ArgKind::Str),
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
    mutually_exclusive: &[
        &["insertbefore", "insertafter"],
        &["regexp", "search_string"],
        &["backrefs", "search_string"],
    ],
    required_one_of: &[],
    check_mode: true,
};

/// Where to insert a line that is not there yet.
#[derive(Debug)]
pub(crate) enum Anchor {
    Bof,
    Eof,
    After(Regex),
    Before(Regex),
}

/// How a line is found.
#[derive(Debug)]
pub(crate) enum Finder {
    Regexp(Regex),
    Search(String),
    Exact(String),
}

impl Finder {
    fn matches(&self, line: &str) -> Result<bool, PyReError> {
        match self {
            Finder::Regexp(re) => re.is_match(line),
            Finder::Search(s) => Ok(line.contains(s.as_str())),
            Finder::Exact(l) => Ok(line == l),
        }
    }
}

/// One `lineinfile` edit, independent of any host.
#[derive(Debug)]
pub(crate) struct LineEdit {
    pub finder: Finder,
    pub line: String,
    pub backrefs: Option<Template>,
    pub anchor: Anchor,
    pub firstmatch: bool,
}

/// The outcome of an edit: new text and Ansible's message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Edited {
    pub text: String,
    pub msg: String,
}

impl LineEdit {
    pub(crate) fn present(&self, text: &str) -> Result<Edited, PyReError> {
        let mut lines: Vec<String> = split_lines_keep(text)
            .into_iter()
            .map(String::from)
            .collect();
        let found = pick(&lines, self.firstmatch, |l| self.finder.matches(l))?;
        if let Some(idx) = found {
            let current = strip_eol(&lines[idx]).to_string();
            let new = match (&self.backrefs, &self.finder) {
                (Some(tpl), Finder::Regexp(re)) => match re.captures(&current)? {
                    Some(caps) => tpl.expand(&caps),
                    None => self.line.clone(),
                },
                _ => self.line.clone(),
            };
            if new == current {
                return Ok(Edited {
                    text: text.to_string(),
                    msg: String::new(),
                });
            }
            let eol = &lines[idx][current.len()..];
            let eol = if eol.is_empty() { "\n" } else { eol };
            lines[idx] = format!("{new}{eol}");
            return Ok(Edited {
                text: lines.concat(),
                msg: "line replaced".into(),
            });
        }
        // No line matches the regexp or search string, but the line itself is already there.
        if self.backrefs.is_some() || lines.iter().any(|l| strip_eol(l) == self.line) {
            // With backrefs, a regexp that matches nothing leaves the file alone.
            return Ok(Edited {
                text: text.to_string(),
                msg: String::new(),
            });
        }
        let anchored = |re: &Regex| pick(&lines, self.firstmatch, |l| re.is_match(l));
        let at = match &self.anchor {
            Anchor::Bof => 0,
            Anchor::Eof => lines.len(),
            Anchor::After(re) => anchored(re)?.map_or(lines.len(), |i| i + 1),
            Anchor::Before(re) => anchored(re)?.unwrap_or(lines.len()),
        };
        if at == lines.len() {
            if let Some(last) = lines.last_mut() {
                if !last.ends_with('\n') {
                    last.push('\n');
                }
            }
        }
        lines.insert(at, format!("{}\n", self.line));
        Ok(Edited {
            text: lines.concat(),
            msg: "line added".into(),
        })
    }
}

/// The first (`first`) or last line, without its end of line, that `hit` accepts.
fn pick(
    lines: &[String],
    first: bool,
    hit: impl Fn(&str) -> Result<bool, PyReError>,
) -> Result<Option<usize>, PyReError> {
    let mut found = None;
    for (i, l) in lines.iter().enumerate() {
        if hit(strip_eol(l))? {
            found = Some(i);
            if first {
                break;
            }
        }
    }
    Ok(found)
}

/// Removes every line `finder` matches; returns the new text and how many went.
pub(crate) fn remove_lines(text: &str, finder: &Finder) -> Result<(String, usize), PyReError> {
    let mut found = 0;
    let mut kept = String::with_capacity(text.len());
    for l in split_lines_keep(text) {
        if finder.matches(strip_eol(l))? {
            found += 1;
        } else {
            kept.push_str(l);
        }
    }
    Ok((kept, found))
}

fn compile(path: &str, what: &str, pattern: &str) -> Result<Regex, ModuleError> {
    pyre::compile(pattern, Flags::NONE)
        .map_err(|e| ModuleError::Controller(format!("{path}: {what}: {e}")))
}

#[async_trait::async_trait]
impl Module for LineInFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let path = args.string("path").unwrap_or_default();
        let path = crate::util::expand_host_path(ctx, &path).await?;
        let target = EditTarget::from_args(args, &path);
        check_mode_arg(&path, &target.attrs)?;
        if let Err(msg) = check_validate(target.validate.as_deref()) {
            return Ok(Outcome::failed(msg));
        }
        let present = args.str("state") != Some("absent");
        let backrefs = args.bool("backrefs", false);
        let regexp = args
            .str("regexp")
            .map(|r| compile(&path, "regexp", r))
            .transpose()?;
        let line = args.string("line");
        let finder = match (&regexp, args.str("search_string"), &line) {
            (Some(re), _, _) => Finder::Regexp(re.clone()),
            (None, Some(s), _) => Finder::Search(s.to_string()),
            (None, None, Some(l)) => Finder::Exact(l.clone()),
            (None, None, None) if present => {
                return Ok(Outcome::failed(format!(
                    "{path}: line is required with state=present"
                )))
            }
            (None, None, None) => {
                return Ok(Outcome::failed(format!(
                    "{path}: one of line, search_string, or regexp is required with state=absent"
                )))
            }
        };
        if backrefs && regexp.is_none() {
            return Ok(Outcome::failed(format!(
                "{path}: regexp is required with backrefs=true"
            )));
        }

        let original = match read_text(ctx, &path).await? {
            Ok(o) => o,
            Err((rc, msg)) => return Ok(Outcome::failed(msg).with("rc", rc)),
        };
        let mut out = Outcome::ok().with("backup", "");
        if args.str("regexp") == Some("") {
            out.warnings.push(
                "The regular expression is an empty string, which will match every line in the \
                 file. This may have unintended consequences, such as replacing the last line in \
                 the file rather than appending. If this is desired, use '^' to match every line \
                 in the file and avoid this warning."
                    .into(),
            );
        }
        if args.str("search_string") == Some("") {
            out.warnings.push(
                "The search string is an empty string, which will match every line in the file. \
                 This may have unintended consequences, such as replacing the last line in the \
                 file rather than appending."
                    .into(),
            );
        }
        let (before, after, msg) = match (&original, present) {
            (Original::Missing, false) => {
                return Ok(out.with_msg("file not present"));
            }
            (Original::Missing, true) if !args.bool("create", false) => {
                return Ok(
                    Outcome::failed(format!("Destination {path} does not exist !")).with("rc", 257),
                );
            }
            (_, true) => {
                let Some(line) = line else {
                    return Ok(Outcome::failed(format!(
                        "{path}: line is required with state=present"
                    )));
                };
                let anchor = match (args.str("insertafter"), args.str("insertbefore")) {
                    (_, Some("BOF")) => Anchor::Bof,
                    (_, Some(re)) => Anchor::Before(compile(&path, "insertbefore", re)?),
                    (Some("EOF") | None, None) => Anchor::Eof,
                    (Some(re), None) => Anchor::After(compile(&path, "insertafter", re)?),
                };
                let backrefs = match (backrefs, &regexp) {
                    (true, Some(re)) => Some(
                        Template::parse(&line, re)
                            .map_err(|e| ModuleError::Controller(format!("{path}: line: {e}")))?,
                    ),
                    _ => None,
                };
                let edit = LineEdit {
                    finder,
                    line,
                    backrefs,
                    anchor,
                    firstmatch: args.bool("firstmatch", false),
                };
                let before = match &original {
                    Original::Text(t) => Some(t.as_str()),
                    Original::Missing => None,
                };
                let edited = edit
                    .present(before.unwrap_or(""))
                    .map_err(|e| ModuleError::Controller(format!("{path}: {e}")))?;
                (before, edited.text, edited.msg)
            }
            (Original::Text(t), false) => {
                let (text, found) = remove_lines(t, &finder)
                    .map_err(|e| ModuleError::Controller(format!("{path}: {e}")))?;
                out.set("found", found);
                let msg = if found > 0 {
                    format!("{found} line(s) removed")
                } else {
                    String::new()
                };
                (Some(t.as_str()), text, msg)
            }
        };
        if ctx.diff {
            out.set("diff", to_value(&registered_diff(&path, before, &after)));
        }
        let done = commit(ctx, &target, before, after).await?;
        out.changed = done.content_changed || done.attrs_changed;
        out.msg = Some(with_attrs_msg(&msg, done.attrs_changed));
        if let Some(b) = done.backup {
            out.set("backup", b.clone());
            out.set("backup_file", b);
        }
        out.diff.extend(done.diff);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Regex {
        pyre::compile(p, Flags::NONE).unwrap()
    }

    fn check(edit: LineEdit, input: &str, expected: &str, msg: &str) {
        let got = edit.present(input).unwrap();
        assert_eq!(got.text, expected, "input {input:?}");
        assert_eq!(got.msg, msg, "input {input:?}");
    }

    fn edit(finder: Finder, line: &str, anchor: Anchor) -> LineEdit {
        LineEdit {
            finder,
            line: line.into(),
            backrefs: None,
            anchor,
            firstmatch: false,
        }
    }

    #[test]
    fn present_exact() {
        let e = || edit(Finder::Exact("b=2".into()), "b=2", Anchor::Eof);
        check(e(), "a=1\n", "a=1\nb=2\n", "line added");
        check(e(), "a=1", "a=1\nb=2\n", "line added");
        check(e(), "", "b=2\n", "line added");
        check(e(), "a=1\nb=2\nc=3\n", "a=1\nb=2\nc=3\n", "");
    }

    #[test]
    fn present_regexp() {
        let e = || edit(Finder::Regexp(re(r"^#?Port ")), "Port 2222", Anchor::Eof);
        check(e(), "#Port 22\nX\n", "Port 2222\nX\n", "line replaced");
        check(e(), "Port 2222\n", "Port 2222\n", "");
        // The last match is replaced.
        check(
            e(),
            "Port 1\nPort 2\n",
            "Port 1\nPort 2222\n",
            "line replaced",
        );
        let mut first = e();
        first.firstmatch = true;
        check(
            first,
            "Port 1\nPort 2\n",
            "Port 2222\nPort 2\n",
            "line replaced",
        );
        check(e(), "A\n", "A\nPort 2222\n", "line added");
        // CRLF endings stay.
        check(
            e(),
            "Port 1\r\nB\r\n",
            "Port 2222\r\nB\r\n",
            "line replaced",
        );
    }

    #[test]
    fn patterns_that_need_backtracking() {
        // A backreference in the pattern: only a line whose two words are the same.
        let e = || edit(Finder::Regexp(re(r"^(\w+) \1$")), "fixed", Anchor::Eof);
        check(e(), "a b\nc c\n", "a b\nfixed\n", "line replaced");
        // A lookahead: an uncommented Port line only.
        let e = || edit(Finder::Regexp(re(r"^(?!#)Port ")), "Port 2222", Anchor::Eof);
        check(e(), "#Port 22\n", "#Port 22\nPort 2222\n", "line added");
        check(
            e(),
            "#Port 22\nPort 22\n",
            "#Port 22\nPort 2222\n",
            "line replaced",
        );
    }

    #[test]
    fn insert_positions() {
        let r = || Finder::Regexp(re("^new$"));
        check(
            edit(r(), "new", Anchor::Bof),
            "a\nb\n",
            "new\na\nb\n",
            "line added",
        );
        check(
            edit(r(), "new", Anchor::After(re("^a"))),
            "a\nb\na2\nc\n",
            "a\nb\na2\nnew\nc\n",
            "line added",
        );
        check(
            edit(r(), "new", Anchor::Before(re("^b"))),
            "a\nb\nc\n",
            "a\nnew\nb\nc\n",
            "line added",
        );
        check(
            edit(r(), "new", Anchor::After(re("^zz"))),
            "a\n",
            "a\nnew\n",
            "line added",
        );
        check(
            edit(r(), "new", Anchor::Before(re("^zz"))),
            "a\n",
            "a\nnew\n",
            "line added",
        );
        let mut first = edit(r(), "new", Anchor::After(re("^a")));
        first.firstmatch = true;
        check(first, "a\nb\na2\n", "a\nnew\nb\na2\n", "line added");
    }

    #[test]
    fn backrefs() {
        let regex = re(r"^(\w+)=(\d+)$");
        let mk = || LineEdit {
            finder: Finder::Regexp(regex.clone()),
            line: r"\1=[\2]".into(),
            backrefs: Some(Template::parse(r"\1=[\2]", &regex).unwrap()),
            anchor: Anchor::Eof,
            firstmatch: false,
        };
        check(mk(), "x=1\ny\n", "x=[1]\ny\n", "line replaced");
        check(mk(), "nothing\n", "nothing\n", "");
    }

    #[test]
    fn search_string_and_removal() {
        let e = edit(Finder::Search("[x]".into()), "[x] = 1", Anchor::Eof);
        check(e, "a\nprefix [x] = 0\n", "a\n[x] = 1\n", "line replaced");
        // Nothing matches the search string any more, but the line is there: no change.
        let e = edit(Finder::Search("(\\w)".into()), "done", Anchor::Eof);
        check(e, "a\ndone\nb\n", "a\ndone\nb\n", "");
        let (text, n) = remove_lines("a\n#x\nb\n#y", &Finder::Regexp(re("^#"))).unwrap();
        assert_eq!((text.as_str(), n), ("a\nb\n", 2));
        let (text, n) = remove_lines("a\nb\n", &Finder::Exact("c".into())).unwrap();
        assert_eq!((text.as_str(), n), ("a\nb\n", 0));
    }
}

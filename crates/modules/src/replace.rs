//! `replace`: replaces every match of a regular expression in a file.

use crate::textfile::{commit, read_text, with_attrs_msg, EditTarget, Original};
use crate::util::{check_mode_arg, check_validate, to_value};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};
use drover_pyre::{self as pyre, Flags, Template};

pub struct Replace;

static SPEC: ModuleSpec = ModuleSpec {
    name: "replace",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .required()
            .aliases(&["dest", "destfile", "name"]),
        ArgDef::new("regexp", ArgKind::Str).required(),
        ArgDef::new("replace", ArgKind::Str),
        ArgDef::new("after", ArgKind::Str),
        ArgDef::new("before", ArgKind::Str),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("validate", ArgKind::Str),
        ArgDef::new("encoding", ArgKind::Str),
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
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// What replacing in a text came to.
#[derive(Debug, PartialEq)]
pub(crate) enum Replaced {
    /// The new text and the number of replacements.
    Done(String, usize),
    /// The `after`/`before` section pattern (given) did not match.
    NoSection(String),
    /// The replacement string is not a valid template (Python's `re.error` text).
    BadReplacement(String),
}

/// Replaces every match of `regexp` in `text` (or in its `after`/`before` section). A bad
/// pattern is an `Err`; a bad replacement is only reported once the section matched, because
/// Python compiles the replacement template when it substitutes.
pub(crate) fn replace_text(
    text: &str,
    regexp: &str,
    replace: &str,
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Replaced, pyre::PyReError> {
    let section = match (after, before) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &section {
        Some(pattern) => {
            let re = pyre::compile(pattern, Flags::DOTALL)?;
            match re.captures(text)?.and_then(|c| c.name("subsection")) {
                Some(m) => (m.start(), m.end()),
                None => return Ok(Replaced::NoSection(pattern.clone())),
            }
        }
        None => (0, text.len()),
    };
    let re = pyre::compile(regexp, Flags::MULTILINE)?;
    let tpl = match Template::parse(replace, &re) {
        Ok(t) => t,
        Err(e) => return Ok(Replaced::BadReplacement(e.reason)),
    };
    let (new_section, n) = pyre::subn(&re, &text[start..end], &tpl, 0)?;
    Ok(Replaced::Done(
        format!("{}{new_section}{}", &text[..start], &text[end..]),
        n,
    ))
}

#[async_trait::async_trait]
impl Module for Replace {
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
        if let Some(enc) = args.str("encoding") {
            let e = enc.to_ascii_lowercase().replace('_', "-");
            if e != "utf-8" && e != "utf8" {
                return Ok(Outcome::failed(format!(
                    "{path}: encoding {enc:?} is not supported; drover edits UTF-8 text"
                )));
            }
        }
        let text = match read_text(ctx, &path).await? {
            Ok(Original::Text(t)) => t,
            Ok(Original::Missing) => {
                return Ok(Outcome::failed(format!("Path {path} does not exist !")).with("rc", 257))
            }
            Err((rc, msg)) => return Ok(Outcome::failed(msg).with("rc", rc)),
        };
        let result = replace_text(
            &text,
            args.str("regexp").unwrap_or_default(),
            args.str("replace").unwrap_or(""),
            args.str("after"),
            args.str("before"),
        )
        .map_err(|e| ModuleError::Controller(format!("{path}: {e}")))?;
        let (new, n) = match result {
            Replaced::Done(new, n) => (new, n),
            Replaced::NoSection(pattern) => {
                return Ok(Outcome::ok()
                    .with_msg(format!(
                        "Pattern for before/after params did not match the given file: {pattern}"
                    ))
                    .with("rc", 0))
            }
            Replaced::BadReplacement(why) => {
                return Ok(Outcome::failed(format!(
                    "Unable to process replace due to error: {why}"
                )))
            }
        };
        let changed = n > 0 && new != text;
        let msg = if changed {
            format!("{n} replacements made")
        } else {
            String::new()
        };
        // Ansible returns the whole before/after texts in diff mode.
        let diff_data = (changed && ctx.diff).then(|| {
            serde_json::json!({
                "before_header": path,
                "before": text,
                "after_header": path,
                "after": new,
            })
        });
        let done = commit(ctx, &target, Some(&text), new).await?;
        let mut out = Outcome::changed(done.content_changed || done.attrs_changed);
        out.msg = Some(with_attrs_msg(&msg, done.attrs_changed));
        // Ansible's replace reports rc 0 on success.
        out.set("rc", 0);
        if let Some(b) = done.backup {
            out.set("backup_file", b);
        }
        // replace names the file plainly in its diff headers (lineinfile adds "(content)").
        out.diff.extend(done.diff.map(|mut d| {
            d.before_header.clone_from(&path);
            d.after_header.clone_from(&path);
            d
        }));
        if let Some(d) = diff_data {
            out.set("diff", to_value(&d));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        text: &str,
        re: &str,
        repl: &str,
        after: Option<&str>,
        before: Option<&str>,
        expected: Result<(&str, usize), ()>,
    ) {
        let got = match replace_text(text, re, repl, after, before).unwrap() {
            Replaced::Done(t, n) => Ok((t, n)),
            other => Err(other),
        };
        let got = got.as_ref().map(|(t, n)| (t.as_str(), *n)).map_err(|_| ());
        assert_eq!(got, expected, "{text:?} s/{re}/{repl}/");
    }

    #[test]
    fn replaces() {
        check(
            "a=1\nb=1\n",
            r"=1$",
            "=2",
            None,
            None,
            Ok(("a=2\nb=2\n", 2)),
        );
        check(
            "host old.example\n",
            r"(\s+)old\.example",
            r"\1new.example",
            None,
            None,
            Ok(("host new.example\n", 1)),
        );
        check("x\n", "y", "z", None, None, Ok(("x\n", 0)));
        check(
            "a\n[s]\nk=1\n[t]\nk=1\n",
            "^k=1$",
            "k=2",
            Some(r"\[s\]"),
            Some(r"\[t\]"),
            Ok(("a\n[s]\nk=2\n[t]\nk=1\n", 1)),
        );
        check(
            "k=1\n[t]\nk=1\n",
            "^k=1$",
            "k=2",
            Some(r"\[t\]"),
            None,
            Ok(("k=1\n[t]\nk=2\n", 1)),
        );
        check(
            "k=1\n[t]\nk=1\n",
            "^k=1$",
            "k=2",
            None,
            Some(r"\[t\]"),
            Ok(("k=2\n[t]\nk=1\n", 1)),
        );
        check("k=1\n", "^k", "j", Some("nomatch"), None, Err(()));
        check("ax x", "(?<=a)x", "y", None, None, Ok(("ay x", 1)));
        check(
            "k=k k=j",
            r"(\w)=\1",
            "same",
            None,
            None,
            Ok(("same k=j", 1)),
        );
        assert!(replace_text("x", "(unclosed", "", None, None).is_err());
        // A bad replacement fails even when nothing matches, as Python parses it first; an
        // unmatched section is reported before that.
        assert_eq!(
            replace_text("", r"\.", r"\D", Some("^"), Some("$")).unwrap(),
            Replaced::BadReplacement(r"bad escape \D at position 0".into())
        );
        assert!(matches!(
            replace_text("", r"\.", r"\D", Some("x"), None).unwrap(),
            Replaced::NoSection(_)
        ));
    }
}

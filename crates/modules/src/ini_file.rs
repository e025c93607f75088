//! `ini_file` (community.general): one option of one section of an INI file, set, added or
//! removed, or a whole section removed, editing the file in place line by line as the
//! community module does (comments, order and untouched lines kept).

use crate::textfile::{commit, read_text, with_attrs_msg, EditTarget, Original};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct IniFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "ini_file",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .aliases(&["dest"])
            .required(),
        ArgDef::new("section", ArgKind::Str),
        ArgDef::new("option", ArgKind::Str),
        ArgDef::new("value", ArgKind::Str),
        ArgDef::new("values", ArgKind::List),
        ArgDef::new("state", ArgKind::Str).choices(&["absent", "present"]),
        ArgDef::new("exclusive", ArgKind::Bool),
        ArgDef::new("no_extra_spaces", ArgKind::Bool),
        ArgDef::new("ignore_spaces", ArgKind::Bool),
        ArgDef::new("allow_no_value", ArgKind::Bool),
        ArgDef::new("modify_inactive_option", ArgKind::Bool),
        ArgDef::new("create", ArgKind::Bool),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("follow", ArgKind::Bool),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[&["value", "values"]],
    required_one_of: &[],
    check_mode: true,
};

/// What to do to the file.
#[derive(Debug, Clone)]
pub(crate) struct Edit {
    pub section: Option<String>,
    pub option: Option<String>,
    /// The wanted values (one for `value`; none for a valueless option or a removal).
    pub values: Vec<String>,
    pub present: bool,
    pub exclusive: bool,
    pub separator: &'static str,
    pub modify_inactive: bool,
}

fn is_section_header(line: &str) -> Option<&str> {
    let t = line.trim();
    t.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .map(str::trim)
}

/// `Some((active, value))` when the line sets `option` (`option = v`, `option=v`, or a bare
/// `option`); commented-out (`#`/`;`) lines count as inactive.
fn option_line(line: &str, option: &str) -> Option<(bool, Option<String>)> {
    let t = line.trim_start();
    let (active, rest) = match t.strip_prefix(['#', ';']) {
        Some(r) => (false, r.trim_start()),
        None => (true, t),
    };
    let rest = rest.strip_prefix(option)?;
    let after = rest.trim_start_matches([' ', '\t']);
    if after.is_empty() || after == "\n" {
        return Some((active, None));
    }
    let value = after.strip_prefix('=')?;
    Some((active, Some(value.trim().to_string())))
}

/// Applies `edit` to `text`; the new text and Ansible's message.
pub(crate) fn apply(text: &str, edit: &Edit) -> (String, &'static str) {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if lines.last().is_some_and(|l| !l.ends_with('\n')) {
        if let Some(l) = lines.last_mut() {
            l.push('\n');
        }
    }
    // The section's line range: [start, end); `None` start means the lines before any header.
    let mut start = None;
    let mut end = lines.len();
    let mut found_section = edit.section.is_none();
    match &edit.section {
        None => {
            end = lines
                .iter()
                .position(|l| is_section_header(l).is_some())
                .unwrap_or(lines.len());
            start = Some(0);
        }
        Some(name) => {
            for (i, l) in lines.iter().enumerate() {
                if start.is_none() {
                    if is_section_header(l) == Some(name.as_str()) {
                        start = Some(i + 1);
                        found_section = true;
                    }
                } else if is_section_header(l).is_some() {
                    end = i;
                    break;
                }
            }
        }
    }
    let render = |value: Option<&str>| -> String {
        match (&edit.option, value) {
            (Some(o), Some(v)) => format!("{o}{}{v}\n", edit.separator),
            (Some(o), None) => format!("{o}\n"),
            (None, _) => String::new(),
        }
    };
    if !edit.present {
        match (&edit.option, start) {
            // The whole section goes, header included.
            (None, Some(s)) if edit.section.is_some() => {
                lines.drain(s - 1..end);
                return (lines.concat(), "section removed");
            }
            (None, _) => return (lines.concat(), "OK"),
            (Some(_), None) => return (lines.concat(), "OK"),
            (Some(option), Some(s)) => {
                let mut removed = false;
                let mut i = s;
                let mut stop = end;
                while i < stop {
                    // With `exclusive` every line of the option goes; without it only the
                    // given values (all of them when none is given).
                    let hit = option_line(&lines[i], option).is_some_and(|(active, v)| {
                        active
                            && (edit.exclusive
                                || edit.values.is_empty()
                                || v.as_deref()
                                    .is_some_and(|v| edit.values.iter().any(|w| w == v)))
                    });
                    if hit {
                        lines.remove(i);
                        stop -= 1;
                        removed = true;
                    } else {
                        i += 1;
                    }
                }
                return (
                    lines.concat(),
                    if removed { "option changed" } else { "OK" },
                );
            }
        }
    }
    let Some(option) = &edit.option else {
        // A section on its own.
        if found_section {
            return (lines.concat(), "OK");
        }
        lines.push(format!(
            "[{}]\n",
            edit.section.as_deref().unwrap_or_default()
        ));
        return (lines.concat(), "section added");
    };
    let wanted: Vec<Option<&str>> = if edit.values.is_empty() {
        vec![None]
    } else {
        edit.values.iter().map(|v| Some(v.as_str())).collect()
    };
    let Some(s) = start.filter(|_| found_section) else {
        // No such section: it is added at the end, right after the last line, with the option.
        lines.push(format!(
            "[{}]\n",
            edit.section.as_deref().unwrap_or_default()
        ));
        for v in &wanted {
            lines.push(render(*v));
        }
        return (lines.concat(), "section and option added");
    };
    let before = lines.concat();
    let mut remaining: Vec<Option<&str>> = wanted.clone();
    // Values the section already has keep their lines; the others replace other values.
    let existing: Vec<Option<String>> = lines[s..end]
        .iter()
        .filter_map(|l| option_line(l, option))
        .filter(|(active, _)| *active)
        .map(|(_, v)| v)
        .collect();
    let mut i = s;
    let mut stop = end;
    let mut last_option_line = None;
    // Whether an existing line was rewritten or dropped (Ansible: "option changed") rather
    // than only new lines added ("option added").
    let mut rewrote = false;
    // Active lines first: keep those with a wanted value, rewrite or drop the others.
    while i < stop {
        if let Some((true, v)) = option_line(&lines[i], option) {
            if let Some(pos) = remaining.iter().position(|w| w.map(str::to_string) == v) {
                let w = remaining.remove(pos);
                let line = render(w);
                // The same value written differently (`k=v`) is rewritten in the module's form.
                rewrote |= lines[i] != line;
                lines[i] = line;
                last_option_line = Some(i);
                i += 1;
            } else if !edit.exclusive {
                // Other values stay; what is missing is added below.
                last_option_line = Some(i);
                i += 1;
            } else if let Some(pos) = remaining
                .iter()
                .position(|w| !existing.contains(&w.map(str::to_string)))
            {
                let w = remaining.remove(pos);
                lines[i] = render(w);
                last_option_line = Some(i);
                rewrote = true;
                i += 1;
            } else {
                lines.remove(i);
                rewrote = true;
                stop -= 1;
            }
        } else {
            i += 1;
        }
    }
    // Then commented-out occurrences take what is left, when allowed.
    if edit.modify_inactive && !remaining.is_empty() {
        let mut i = s;
        while i < stop && !remaining.is_empty() {
            if let Some((false, _)) = option_line(&lines[i], option) {
                let w = remaining.remove(0);
                lines[i] = render(w);
                last_option_line = Some(i);
                rewrote = true;
            }
            i += 1;
        }
    }
    // What is still missing goes after the last option line, else after the section's last
    // line that is neither blank nor a comment (the community module searches back so).
    if !remaining.is_empty() {
        let mut at = match last_option_line {
            Some(l) => l + 1,
            None => {
                let mut at = stop;
                while at > s && {
                    let t = lines[at - 1].trim();
                    t.is_empty() || t.starts_with(['#', ';'])
                } {
                    at -= 1;
                }
                at
            }
        };
        for w in remaining {
            lines.insert(at, render(w));
            at += 1;
        }
    }
    let after = lines.concat();
    let msg = if after == before {
        "OK"
    } else if rewrote {
        "option changed"
    } else {
        "option added"
    };
    (after, msg)
}

#[async_trait::async_trait]
impl Module for IniFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let path = crate::util::expand_user(ctx, &args.string("path").unwrap_or_default()).await?;
        let present = args.str("state") != Some("absent");
        let mut values = args.list("values");
        if let Some(v) = args.string("value") {
            values = vec![v];
        }
        let option = args.string("option");
        if present && option.is_some() && values.is_empty() && !args.bool("allow_no_value", false) {
            return Ok(Outcome::failed(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False.",
            ));
        }
        let edit = Edit {
            section: args.string("section").filter(|s| !s.is_empty()),
            option,
            values,
            present,
            exclusive: args.bool("exclusive", true),
            separator: if args.bool("no_extra_spaces", false) {
                "="
            } else {
                " = "
            },
            modify_inactive: args.bool("modify_inactive_option", true),
        };
        let before = match read_text(ctx, &path).await? {
            Ok(Original::Text(t)) => Some(t),
            Ok(Original::Missing) => None,
            Err((rc, msg)) => return Ok(Outcome::failed(msg).with("rc", rc)),
        };
        if before.is_none() && !args.bool("create", true) {
            return Ok(
                Outcome::failed(format!("Destination {path} does not exist!")).with("rc", 257),
            );
        }
        let (after, msg) = apply(before.as_deref().unwrap_or_default(), &edit);
        let target = EditTarget::from_args(args, &path);
        let unchanged_missing = before.is_none() && after.is_empty();
        let done = if unchanged_missing {
            None
        } else {
            Some(commit(ctx, &target, before.as_deref(), after).await?)
        };
        let mut out = Outcome::changed(
            done.as_ref()
                .is_some_and(|d| d.content_changed || d.attrs_changed),
        );
        out.msg = Some(with_attrs_msg(
            msg,
            done.as_ref().is_some_and(|d| d.attrs_changed),
        ));
        if let Some(d) = done {
            if let Some(b) = d.backup {
                out.set("backup_file", b);
            }
            out.diff.extend(d.diff);
        }
        out.set("path", path);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(section: Option<&str>, option: Option<&str>, values: &[&str], present: bool) -> Edit {
        Edit {
            section: section.map(str::to_string),
            option: option.map(str::to_string),
            values: values.iter().map(|s| s.to_string()).collect(),
            present,
            exclusive: true,
            separator: " = ",
            modify_inactive: true,
        }
    }

    const TEXT: &str = "# top\nglobal = 1\n\n[db]\nhost = a\n; port = 1\n\n[web]\nport=80\n";

    #[test]
    fn set_existing_add_and_commented() {
        let (t, m) = apply(TEXT, &edit(Some("db"), Some("host"), &["b"], true));
        assert_eq!(
            (t.as_str(), m),
            (
                "# top\nglobal = 1\n\n[db]\nhost = b\n; port = 1\n\n[web]\nport=80\n",
                "option changed"
            )
        );
        let (t, _) = apply(TEXT, &edit(Some("db"), Some("port"), &["5432"], true));
        assert_eq!(
            t,
            "# top\nglobal = 1\n\n[db]\nhost = a\nport = 5432\n\n[web]\nport=80\n"
        );
        let (t, m) = apply(TEXT, &edit(Some("db"), Some("user"), &["x"], true));
        assert_eq!(
            (t.as_str(), m),
            (
                "# top\nglobal = 1\n\n[db]\nhost = a\nuser = x\n; port = 1\n\n[web]\nport=80\n",
                "option added"
            )
        );
        let (t, m) = apply(TEXT, &edit(Some("web"), Some("port"), &["80"], true));
        assert_eq!(
            (t.as_str(), m),
            (
                "# top\nglobal = 1\n\n[db]\nhost = a\n; port = 1\n\n[web]\nport = 80\n",
                "option changed"
            )
        );
    }

    #[test]
    fn sections_added_and_removed_and_top_level() {
        let (t, m) = apply(TEXT, &edit(Some("cache"), Some("size"), &["10"], true));
        assert_eq!(m, "section and option added");
        assert!(t.ends_with("port=80\n[cache]\nsize = 10\n"));
        let (t, m) = apply(TEXT, &edit(Some("db"), None, &[], false));
        assert_eq!(
            (t.as_str(), m),
            ("# top\nglobal = 1\n\n[web]\nport=80\n", "section removed")
        );
        let (t, _) = apply(TEXT, &edit(None, Some("global"), &["2"], true));
        assert!(t.starts_with("# top\nglobal = 2\n\n[db]"));
        let (t, m) = apply(TEXT, &edit(Some("db"), Some("host"), &[], false));
        assert_eq!(
            (t.as_str(), m),
            (
                "# top\nglobal = 1\n\n[db]\n; port = 1\n\n[web]\nport=80\n",
                "option changed"
            )
        );
        let (t, m) = apply("", &edit(Some("s"), Some("k"), &["v"], true));
        assert_eq!(
            (t.as_str(), m),
            ("[s]\nk = v\n", "section and option added")
        );
    }

    #[test]
    fn several_values_and_exclusivity() {
        let text = "[s]\nopt = 1\nopt = 2\nother = x\n";
        let (t, m) = apply(text, &edit(Some("s"), Some("opt"), &["2", "3"], true));
        assert_eq!(
            (t.as_str(), m),
            ("[s]\nopt = 3\nopt = 2\nother = x\n", "option changed")
        );
        let mut keep = edit(Some("s"), Some("opt"), &["9"], true);
        keep.exclusive = false;
        let (t, m) = apply(text, &keep);
        assert_eq!(
            (t.as_str(), m),
            (
                "[s]\nopt = 1\nopt = 2\nopt = 9\nother = x\n",
                "option added"
            )
        );
        // Removing with exclusive drops every line of the option, whatever its value.
        let (t, _) = apply(text, &edit(Some("s"), Some("opt"), &["9"], false));
        assert_eq!(t, "[s]\nother = x\n");
        keep.present = false;
        keep.values = vec!["1".into()];
        let (t, _) = apply(text, &keep);
        assert_eq!(t, "[s]\nopt = 2\nother = x\n");
    }

    #[test]
    fn unchanged_is_ok() {
        let (t, m) = apply(TEXT, &edit(Some("db"), Some("host"), &["a"], true));
        assert_eq!((t.as_str(), m), (TEXT, "OK"));
    }
}

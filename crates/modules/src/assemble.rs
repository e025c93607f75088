//! `assemble`: concatenates the fragment files of a directory into one file.

use drover_pyre::{self as pyre, Flags};

use crate::copy::{place, Placement};
use crate::util::{check_validate, join, to_value};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Assemble;

static SPEC: ModuleSpec = ModuleSpec {
    name: "assemble",
    args: &[
        ArgDef::new("src", ArgKind::Path).required(),
        ArgDef::new("dest", ArgKind::Path).required(),
        ArgDef::new("delimiter", ArgKind::Str),
        ArgDef::new("regexp", ArgKind::Str),
        ArgDef::new("ignore_hidden", ArgKind::Bool),
        ArgDef::new("remote_src", ArgKind::Bool),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("validate", ArgKind::Str),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
        ArgDef::new("decrypt", ArgKind::Bool),
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

/// Decodes the backslash escapes a delimiter may carry (`\n`, `\t`, `\\`, `\xNN`).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) => out.push(b as char),
                    Err(_) => {
                        out.push_str("\\x");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Joins fragments: a newline after a fragment that lacks one, the delimiter (newline-ended)
/// between fragments.
pub(crate) fn assemble(fragments: &[Vec<u8>], delimiter: Option<&str>) -> Vec<u8> {
    let delimiter = delimiter.map(unescape).filter(|d| !d.is_empty());
    let mut out = Vec::new();
    for (i, f) in fragments.iter().enumerate() {
        if i > 0 {
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            if let Some(d) = &delimiter {
                out.extend_from_slice(d.as_bytes());
                if !d.ends_with('\n') {
                    out.push(b'\n');
                }
            }
        }
        out.extend_from_slice(f);
    }
    out
}

#[async_trait::async_trait]
impl Module for Assemble {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let src = args.string("src").unwrap_or_default();
        let dest = args.string("dest").unwrap_or_default();
        let mut p = Placement::from_args(args, &dest)?;
        if let Err(msg) = check_validate(p.validate.as_deref()) {
            return Ok(Outcome::failed(msg));
        }
        let filter = args
            .str("regexp")
            .map(|r| pyre::compile(r, Flags::NONE))
            .transpose()
            .map_err(|e| ModuleError::Controller(format!("{src}: regexp: {e}")))?;
        let ignore_hidden = args.bool("ignore_hidden", false);
        let keep = |name: &str| -> Result<bool, ModuleError> {
            let wanted = match &filter {
                Some(re) => re
                    .is_match(name)
                    .map_err(|e| ModuleError::Controller(format!("{src}: regexp: {e}")))?,
                None => true,
            };
            Ok(wanted && !(ignore_hidden && name.starts_with('.')))
        };
        let mut fragments = Vec::new();
        if args.bool("remote_src", true) {
            let mut entries = match ctx.host.list_dir(&src).await {
                Ok(e) => e,
                Err(e) if e.is_not_found() => {
                    return Ok(Outcome::failed(format!("Source ({src}) does not exist")))
                }
                Err(drover_host::HostError::Io {
                    kind: drover_host::IoKind::NotADirectory,
                    ..
                }) => {
                    return Ok(Outcome::failed(format!(
                        "Source ({src}) is not a directory"
                    )))
                }
                Err(e) => return Err(e.into()),
            };
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            for e in entries {
                if e.stat.kind == Some(drover_host::FileKind::File) && keep(&e.name)? {
                    fragments.push(ctx.host.read(&join(&src, &e.name)).await?);
                }
            }
        } else {
            let dir = ctx.controller.find_file("files", &src)?;
            let err = |e: std::io::Error| {
                ModuleError::Controller(format!("could not read src {}: {e}", dir.display()))
            };
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .map_err(err)?
                .filter_map(Result::ok)
                .collect();
            entries.sort_by_key(std::fs::DirEntry::file_name);
            for e in entries {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_file() && keep(&name)? {
                    let decrypt = args.bool("decrypt", true);
                    fragments.push(crate::util::read_controller_file(
                        &e.path(),
                        decrypt,
                        "src",
                    )?);
                }
            }
        }
        let content = assemble(&fragments, args.str("delimiter"));
        p.after_header = format!("{src} (assembled)");
        let mut out = place(ctx, &p, content, None).await?;
        out.set("src", src);
        // In diff mode Ansible registers the assembled file's before/after as one dict.
        if let Some(d) = out.diff.first() {
            let d = serde_json::json!({
                "before_header": d.before_header,
                "before": d.before,
                "after_header": d.after_header,
                "after": d.after,
            });
            out.set("diff", to_value(&d));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_fragments() {
        let f = |s: &str| s.as_bytes().to_vec();
        assert_eq!(assemble(&[f("a\n"), f("b")], None), b"a\nb");
        assert_eq!(assemble(&[f("a"), f("b\n")], None), b"a\nb\n");
        assert_eq!(
            assemble(&[f("a\n"), f("b\n")], Some("# --")),
            b"a\n# --\nb\n"
        );
        assert_eq!(assemble(&[f("a"), f("b")], Some(r"--\n")), b"a\n--\nb");
        assert_eq!(assemble(&[], Some("x")), b"");
        assert_eq!(unescape(r"a\tb\x41\q"), "a\tbA\\q");
    }
}

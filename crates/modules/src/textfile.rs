//! The read-edit-write cycle shared by `lineinfile`, `blockinfile` and `replace`: one `read`
//! decides; an unchanged file with no attributes to apply costs that one round trip.

use drover_host::{Attrs, FileOp, HostError, IoKind};

use crate::util::{content_diff, parent_of, write_content};
use crate::{Args, Context, FileDiff, ModuleError};

/// What is on the host before the edit.
pub(crate) enum Original {
    Text(String),
    Missing,
}

/// Reads a text file for editing. `Ok(Err(msg))` is a module failure (`rc`, message) in
/// Ansible's words: a directory, or content that is not text.
pub(crate) async fn read_text(
    ctx: &Context<'_>,
    path: &str,
) -> Result<Result<Original, (i32, String)>, ModuleError> {
    match ctx.host.read(path).await {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Ok(Ok(Original::Text(s))),
            Err(_) => Ok(Err((
                1,
                format!("{path} is not valid UTF-8 text; drover edits text files only"),
            ))),
        },
        Err(e) if e.is_not_found() => Ok(Ok(Original::Missing)),
        Err(HostError::Io {
            kind: IoKind::IsADirectory,
            ..
        }) => Ok(Err((256, format!("Destination {path} is a directory !")))),
        Err(e) => Err(e.into()),
    }
}

/// File arguments common to the editing modules.
pub(crate) struct EditTarget {
    pub path: String,
    pub attrs: Attrs,
    pub backup: bool,
    pub validate: Option<String>,
}

impl EditTarget {
    pub(crate) fn from_args(args: &Args, path: &str) -> EditTarget {
        EditTarget {
            path: path.to_string(),
            attrs: crate::util::attrs_from_args(args),
            backup: args.bool("backup", false),
            validate: args.string("validate"),
        }
    }
}

pub(crate) struct Committed {
    pub content_changed: bool,
    pub attrs_changed: bool,
    pub backup: Option<String>,
    pub diff: Option<FileDiff>,
}

/// Writes `after` if it differs from `before` (`None`: the file is created), else applies the
/// attributes. Check mode changes nothing and reports the same.
pub(crate) async fn commit(
    ctx: &Context<'_>,
    t: &EditTarget,
    before: Option<&str>,
    after: String,
) -> Result<Committed, ModuleError> {
    let mut done = Committed {
        content_changed: before != Some(after.as_str()),
        attrs_changed: false,
        backup: None,
        diff: None,
    };
    if !done.content_changed {
        if !t.attrs.is_empty() {
            let r = crate::util::apply_attrs(ctx, &t.path, &t.attrs).await?;
            done.attrs_changed = r.changed;
        }
        return Ok(done);
    }
    if ctx.diff {
        let header = format!("{} (content)", t.path);
        done.diff = content_diff(
            &header,
            &header,
            before.unwrap_or("").as_bytes(),
            after.as_bytes(),
        );
    }
    let bytes = after.into_bytes();
    let written = write_content(
        ctx,
        &t.path,
        bytes.clone(),
        &t.attrs,
        t.backup,
        t.validate.as_deref(),
    )
    .await;
    done.backup = match written {
        Ok(b) => b,
        // A created file's missing directories are created, as Ansible does.
        Err(ModuleError::Host(e)) if e.is_not_found() && before.is_none() => {
            ctx.host
                .file_op(
                    &FileOp::Directory {
                        path: parent_of(&t.path).to_string(),
                        attrs: Attrs::default(),
                        recurse: false,
                    },
                    false,
                )
                .await?;
            write_content(
                ctx,
                &t.path,
                bytes,
                &t.attrs,
                t.backup,
                t.validate.as_deref(),
            )
            .await?
        }
        Err(e) => return Err(e),
    };
    Ok(done)
}

/// Ansible's suffix when only the attributes changed, or both.
pub(crate) fn with_attrs_msg(msg: &str, attrs_changed: bool) -> String {
    const ATTRS: &str = "ownership, perms or SE linux context changed";
    match (msg.is_empty(), attrs_changed) {
        (_, false) => msg.to_string(),
        (true, true) => ATTRS.to_string(),
        (false, true) => format!("{msg} and {ATTRS}"),
    }
}

/// Splits text into lines with their endings (`"a\n"`, `"b"`).
pub(crate) fn split_lines_keep(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// A line without its `\n` or `\r\n`.
pub(crate) fn strip_eol(line: &str) -> &str {
    line.strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(line)
}

/// The `diff` a line-editing module registers in diff mode, shaped as Ansible's: the content's
/// before and after, then the file attributes' headers.
pub(crate) fn registered_diff(path: &str, before: Option<&str>, after: &str) -> serde_json::Value {
    serde_json::json!([
        {
            "before": before.unwrap_or(""),
            "after": after,
            "before_header": format!("{path} (content)"),
            "after_header": format!("{path} (content)"),
        },
        {
            "before_header": format!("{path} (file attributes)"),
            "after_header": format!("{path} (file attributes)"),
        },
    ])
}

//! `tempfile`: creates a uniquely named temporary file or directory on the host.

use std::hash::{BuildHasher, Hasher};

use drover_host::{Attrs, FileKind, FileOp, StatOptions};

use crate::util::{add_file_info, join};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct TempFile;

static SPEC: ModuleSpec = ModuleSpec {
    name: "tempfile",
    args: &[
        ArgDef::new("state", ArgKind::Str).choices(&["file", "directory"]),
        ArgDef::new("path", ArgKind::Path),
        ArgDef::new("prefix", ArgKind::Str),
        ArgDef::new("suffix", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: false,
};

/// A random name part: `RandomState` is seeded from the OS per instance.
fn random_part(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        let mut v = h.finish();
        for _ in 0..8 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(v % ALPHABET.len() as u64) as usize] as char);
            v /= ALPHABET.len() as u64;
        }
    }
    out
}

#[async_trait::async_trait]
impl Module for TempFile {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let dir = args.string("path").unwrap_or_else(|| "/tmp".into());
        let prefix = args.str("prefix").unwrap_or("ansible.");
        let suffix = args.str("suffix").unwrap_or("");
        let directory = args.str("state") == Some("directory");
        // A prefix or suffix with a path separator would place the entry outside `path`.
        for (what, part) in [("prefix", prefix), ("suffix", suffix)] {
            if part.contains('/') || part.contains('\0') {
                return Ok(Outcome::failed(format!(
                    "{what} must be a valid file name component"
                )));
            }
        }
        // The parent must already exist: the directory primitive would otherwise create it.
        let parent = ctx
            .host
            .stat(
                &dir,
                StatOptions {
                    follow: true,
                    checksum: false,
                },
            )
            .await?;
        if !parent.exists {
            return Ok(Outcome::failed(format!(
                "[Errno 2] No such file or directory: '{dir}'"
            )));
        }
        if parent.kind != Some(FileKind::Directory) {
            return Ok(Outcome::failed(format!(
                "[Errno 20] Not a directory: '{dir}'"
            )));
        }
        // The names are unpredictable; a name already taken (the op reports it existed) is
        // skipped for another.
        for _ in 0..8 {
            let path = join(&dir, &format!("{prefix}{}{suffix}", random_part(8)));
            let op = if directory {
                FileOp::Directory {
                    path: path.clone(),
                    attrs: Attrs {
                        mode: Some("0700".into()),
                        ..Attrs::default()
                    },
                    recurse: false,
                }
            } else {
                FileOp::Touch {
                    path: path.clone(),
                    attrs: Attrs {
                        mode: Some("0600".into()),
                        ..Attrs::default()
                    },
                }
            };
            let r = ctx.host.file_op(&op, false).await?;
            if r.before.exists {
                continue;
            }
            let mut out = Outcome::changed(true).with("path", path);
            add_file_info(&mut out, &r.after);
            return Ok(out);
        }
        Ok(Outcome::failed(format!(
            "could not find a free temporary name in {dir}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_differ() {
        let a = random_part(8);
        let b = random_part(8);
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
    }
}

//! `fetch`: copies a file from the host to the controller, to `dest/<inventory_hostname>/<src>`
//! or, with `flat`, to `dest` itself.
//!
//! An unchanged file costs one round trip: `stat` with the SHA-1 checksum, compared with the
//! local copy's. Only a differing file is read.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use drover_host::{FileKind, HostError, IoKind, StatOptions};
use md5::Md5;
use sha1::Digest;

use crate::util::{expand_user, hex, sha1_hex};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Fetch;

static SPEC: ModuleSpec = ModuleSpec {
    name: "fetch",
    args: &[
        // Checked when the task runs, with Ansible's messages.
        ArgDef::new("src", ArgKind::Raw),
        ArgDef::new("dest", ArgKind::Raw),
        ArgDef::new("flat", ArgKind::Bool),
        ArgDef::new("fail_on_missing", ArgKind::Bool),
        ArgDef::new("validate_checksum", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const WITH_SUM: StatOptions = StatOptions {
    follow: true,
    checksum: true,
};

const IS_DIR: &str = "remote file is a directory, fetch cannot work on directories";

#[async_trait::async_trait]
impl Module for Fetch {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        if ctx.check {
            return Ok(Outcome {
                skipped: true,
                msg: Some("check mode not (yet) supported for this module".into()),
                ..Outcome::default()
            });
        }
        let text = |name: &str| match args.get(name) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) => Ok(Some(s.to_string())),
                None if v.is_none() || v.is_undefined() => Ok(None),
                None => Err(()),
            },
        };
        let (src, dest) = match (text("src"), text("dest")) {
            (Err(()), _) => {
                return Ok(Outcome::failed(
                    "Invalid type supplied for source option, it must be a string",
                ))
            }
            (_, Err(())) => {
                return Ok(Outcome::failed(
                    "Invalid type supplied for dest option, it must be a string",
                ))
            }
            (Ok(Some(s)), Ok(Some(d))) if !s.is_empty() && !d.is_empty() => (s, d),
            _ => return Ok(Outcome::failed("src and dest are required")),
        };
        let flat = args.bool("flat", false);
        let fail_on_missing = args.bool("fail_on_missing", true);
        let validate_checksum = args.bool("validate_checksum", true);
        let source = expand_user(ctx, &src).await?;

        let st = match ctx.host.stat(&source, WITH_SUM).await {
            Ok(st) => st,
            Err(e @ HostError::Io { .. }) => {
                // Ansible names both what it could not do (stat, without become) and why
                // (slurp, with become); tests look for either.
                let msg = format!("File is not readable: {source}: {e}");
                return Ok(unreadable(msg, &source, fail_on_missing));
            }
            Err(e) => return Err(e.into()),
        };
        if st.exists && st.kind == Some(FileKind::Directory) {
            return Ok(if fail_on_missing {
                Outcome::failed(IS_DIR)
            } else {
                Outcome::ok().with_msg(format!("{IS_DIR}, not transferring, ignored"))
            });
        }
        if !st.exists {
            // Some connections (the shell fallback) cannot tell a file in a directory the
            // user may not search from a missing one: reading it tells, and only costs a round
            // trip when the file is not there.
            if let Err(e @ HostError::Io { kind, .. }) = ctx.host.read(&source).await {
                if kind == IoKind::PermissionDenied {
                    let msg = format!("File is not readable: {source}: {e}");
                    return Ok(unreadable(msg, &source, fail_on_missing));
                }
            }
            let msg = "the remote file does not exist, not transferring, ignored";
            let mut out = Outcome::ok().with_msg(msg).with("file", source.clone());
            out.failed = fail_on_missing;
            return Ok(out);
        }

        let local = match local_dest(ctx, &dest, &source, flat) {
            Ok(p) => p,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let dest_str = local.display().to_string();
        let existing = std::fs::read(&local).ok();
        let local_sum = existing.as_deref().map(sha1_hex);

        // A file the helper could not checksum (unreadable to it) is read to find out.
        if let (Some(remote), Some(local), Some(data)) = (&st.checksum, &local_sum, &existing) {
            if remote == local {
                return Ok(Outcome::ok()
                    .with("md5sum", hex(&Md5::digest(data)))
                    .with("file", source)
                    .with("dest", dest_str)
                    .with("checksum", local.clone()));
            }
        }

        let data = match ctx.host.read(&source).await {
            Ok(d) => d,
            Err(e @ HostError::Io { .. }) => {
                let HostError::Io { kind, .. } = &e else {
                    return Err(e.into());
                };
                let msg = match kind {
                    IoKind::NotFound => {
                        "the remote file does not exist, not transferring, ignored".to_string()
                    }
                    IoKind::IsADirectory => IS_DIR.to_string(),
                    _ => {
                        let msg = format!("File is not readable: {source}: {e}");
                        return Ok(unreadable(msg, &source, fail_on_missing));
                    }
                };
                let mut out = Outcome::ok().with_msg(msg).with("file", source.clone());
                out.failed = fail_on_missing;
                return Ok(out);
            }
            Err(e) => return Err(e.into()),
        };
        let remote_sum = sha1_hex(&data);
        if Some(&remote_sum) == local_sum.as_ref() {
            return Ok(Outcome::ok()
                .with("md5sum", hex(&Md5::digest(&data)))
                .with("file", source)
                .with("dest", dest_str)
                .with("checksum", remote_sum));
        }
        if let Err(e) = write_local(&local, &data) {
            return Ok(Outcome::failed(format!(
                "Failed to fetch the file to {dest_str}: {e}"
            )));
        }
        let written = std::fs::read(&local)
            .map_err(|e| ModuleError::Controller(format!("could not read back {dest_str}: {e}")))?;
        let new_sum = sha1_hex(&written);
        let new_md5 = hex(&Md5::digest(&written));
        let mut out = Outcome::changed(true)
            .with("md5sum", new_md5)
            .with("dest", dest_str)
            .with("remote_md5sum", ())
            .with("checksum", new_sum.clone())
            .with("remote_checksum", remote_sum.clone());
        if validate_checksum && new_sum != remote_sum {
            out.changed = false;
            out.failed = true;
            out.msg = Some("checksum mismatch".into());
            out.set("file", source);
        }
        Ok(out)
    }
}

/// A file the connecting user may not read: a failure, or with `fail_on_missing: false` a
/// note.
fn unreadable(msg: String, source: &str, fail_on_missing: bool) -> Outcome {
    if fail_on_missing {
        Outcome::failed(msg).with("file", source)
    } else {
        Outcome::ok()
            .with_msg(format!("{msg}, ignored"))
            .with("file", source)
    }
}

/// Where the file goes on the controller, as Ansible computes it.
fn local_dest(ctx: &Context<'_>, dest: &str, source: &str, flat: bool) -> Result<PathBuf, String> {
    if flat {
        let mut d = ctx.controller.local_path(dest);
        if !dest.ends_with('/') {
            if d.is_dir() {
                return Err("dest is an existing directory, use a trailing slash if you want to fetch src into that directory".into());
            }
            return Ok(normalize(&d));
        }
        d.push(crate::util::basename(source));
        if d.is_dir() {
            return Err(format!("calculated dest '{}' is an existing directory, use another path that does not point to an existing directory", d.display()));
        }
        return Ok(normalize(&d));
    }
    let host = ctx
        .controller
        .inventory_hostname()
        .unwrap_or_else(|| ctx.host.name().to_string());
    let base = normalize(&ctx.controller.local_path(dest));
    let full = normalize(&PathBuf::from(format!(
        "{}/{host}/{source}",
        base.display()
    )));
    // `..` in the host's path must not lead out of dest.
    if !full.starts_with(&base) {
        return Err(format!(
            "Detected directory traversal, expected to be contained in '{}' but got '{}'",
            base.display(),
            full.display()
        ));
    }
    Ok(full)
}

/// Python's `os.path.normpath`: `.` and doubled slashes go, `..` removes its parent.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Writes `data` atomically at `path`, creating its directories.
fn write_local(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1.write_all(data)?;
    tmp.1.sync_all()?;
    std::fs::rename(&tmp.0, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp.0);
    })
}

/// A new, exclusively created file next to the destination.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let pid = std::process::id();
    for n in 0..1000u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let p = dir.join(format!(".drover-fetch.{pid}.{nanos}.{n}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_python() {
        let n = |s: &str| normalize(Path::new(s)).display().to_string();
        assert_eq!(n("/a/b//c/./d"), "/a/b/c/d");
        assert_eq!(n("/a/b/../c"), "/a/c");
        assert_eq!(n("out/h//etc/hosts"), "out/h/etc/hosts");
    }

    #[test]
    fn local_writes_are_atomic_and_make_directories() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/c.txt");
        write_local(&p, b"one").unwrap();
        write_local(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}

//! `file`: files, directories, links and their attributes.

use std::collections::BTreeMap;

use drover_host::{Attrs, FileKind, FileOp, FileOpOutcome, FileStat, HostError, StatOptions};
use serde_json::json;

use crate::util::{
    add_file_info, attr_diff_entries, attrs_differ, attrs_from_args, check_mode_arg, dict_diff,
    state_of,
};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct File;

static SPEC: ModuleSpec = ModuleSpec {
    name: "file",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .required()
            .aliases(&["dest", "name"]),
        ArgDef::new("state", ArgKind::Str).choices(&[
            "absent",
            "directory",
            "file",
            "hard",
            "link",
            "touch",
        ]),
        ArgDef::new("src", ArgKind::Path),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
        ArgDef::new("recurse", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("follow", ArgKind::Bool),
        // Writes are always atomic; accepted so playbooks that set it still run.
        ArgDef::new("unsafe_writes", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const FOLLOW: StatOptions = StatOptions {
    follow: true,
    checksum: false,
};
const NOFOLLOW: StatOptions = StatOptions {
    follow: false,
    checksum: false,
};

#[async_trait::async_trait]
impl Module for File {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let path = args.str("path").unwrap_or_default().to_string();
        if path.is_empty() {
            return Ok(Outcome::failed("path must not be empty"));
        }
        let attrs = attrs_from_args(args);
        check_mode_arg(&path, &attrs)?;
        let follow = args.bool("follow", true);
        let recurse = args.bool("recurse", false);
        let force = args.bool("force", false);
        let src = args.string("src");

        let state = match args.str("state") {
            Some(s) => s.to_string(),
            None => {
                let st = ctx.host.stat(&path, NOFOLLOW).await?;
                match state_of(&st) {
                    _ if src.is_some() && !st.exists => "link".into(),
                    "absent" if recurse => "directory".into(),
                    "absent" | "hard" => "file".into(),
                    s => s.to_string(),
                }
            }
        };
        if recurse && state != "directory" {
            return Ok(Outcome::failed(format!(
                "{path}: recurse option requires state to be 'directory'"
            )));
        }
        if src.is_some() && state != "link" && state != "hard" {
            return Ok(Outcome::failed(format!(
                "{path}: src option requires state to be 'link' or 'hard'"
            )));
        }
        let job = Job {
            ctx,
            path: &path,
            attrs: &attrs,
            follow,
        };
        match state.as_str() {
            "absent" => job.absent().await,
            "directory" => job.directory(recurse).await,
            "touch" => job.touch().await,
            "link" | "hard" => {
                let Some(src) = src else {
                    return Ok(Outcome::failed(format!(
                        "{path}: src is required for creating a {state} link"
                    )));
                };
                job.link(&src, state == "hard", force).await
            }
            _ => job.file().await,
        }
    }
}

struct Job<'a, 'c> {
    ctx: &'a Context<'c>,
    path: &'a str,
    attrs: &'a Attrs,
    follow: bool,
}

impl Job<'_, '_> {
    fn result(&self, changed: bool, after: &FileStat) -> Outcome {
        let mut out = Outcome::changed(changed).with("path", self.path);
        add_file_info(&mut out, after);
        out
    }

    /// Ansible's `{path, state}` before/after dicts plus the attributes that change.
    fn diff(&self, out: &mut Outcome, before: &FileStat, new_state: &str) {
        if !self.ctx.diff || !out.changed {
            return;
        }
        let mut b = BTreeMap::new();
        let mut a = BTreeMap::new();
        b.insert("path", json!(self.path));
        a.insert("path", json!(self.path));
        let old_state = state_of(before);
        if old_state != new_state {
            b.insert("state", json!(old_state));
            a.insert("state", json!(new_state));
        }
        attr_diff_entries(before, self.attrs, &mut b, &mut a);
        out.diff.push(dict_diff(&b, &a));
    }

    async fn op(&self, op: FileOp) -> Result<FileOpOutcome, ModuleError> {
        Ok(self.ctx.host.file_op(&op, self.ctx.check).await?)
    }

    async fn absent(&self) -> Result<Outcome, ModuleError> {
        let st = self.ctx.host.stat(self.path, NOFOLLOW).await?;
        let changed = st.exists;
        if changed {
            self.op(FileOp::Absent {
                path: self.path.to_string(),
            })
            .await?;
        }
        let mut out = Outcome::changed(changed)
            .with("path", self.path)
            .with("state", "absent");
        self.diff(&mut out, &st, "absent");
        Ok(out)
    }

    async fn directory(&self, recurse: bool) -> Result<Outcome, ModuleError> {
        let st = self.ctx.host.stat(self.path, FOLLOW).await?;
        if st.exists && st.kind != Some(FileKind::Directory) {
            return Ok(Outcome::failed(format!(
                "{} already exists as a {}",
                self.path,
                state_of(&st)
            ))
            .with("path", self.path));
        }
        if st.exists && !recurse && !attrs_differ(self.path, &st, self.attrs)? {
            return Ok(self.result(false, &st));
        }
        let r = self
            .op(FileOp::Directory {
                path: self.path.to_string(),
                attrs: self.attrs.clone(),
                recurse,
            })
            .await
            .map_err(|e| in_the_way(e, self.path))?;
        let after = if self.ctx.check { &st } else { &r.after };
        let mut out = self.result(r.changed, after);
        if !st.exists {
            out.set("state", "directory");
        }
        self.diff(&mut out, &st, "directory");
        Ok(out)
    }

    async fn touch(&self) -> Result<Outcome, ModuleError> {
        let r = self
            .op(FileOp::Touch {
                path: self.path.to_string(),
                attrs: self.attrs.clone(),
            })
            .await?;
        let after = if self.ctx.check { &r.before } else { &r.after };
        let mut out = self.result(r.changed, after);
        if self.ctx.check {
            out.set("state", "file");
        }
        let new_state = if r.before.exists {
            state_of(&r.before)
        } else {
            "touch"
        };
        self.diff(&mut out, &r.before, new_state);
        Ok(out)
    }

    async fn file(&self) -> Result<Outcome, ModuleError> {
        let opts = if self.follow { FOLLOW } else { NOFOLLOW };
        let st = self.ctx.host.stat(self.path, opts).await?;
        let state = state_of(&st);
        if !st.exists {
            return Ok(
                Outcome::failed(format!("file ({}) is absent, cannot continue", self.path))
                    .with("path", self.path)
                    .with("state", "absent"),
            );
        }
        // An unfollowed link is a fine target for attributes (lchown).
        let acceptable = state == "file" || state == "hard" || (state == "link" && !self.follow);
        if !acceptable {
            return Ok(Outcome::failed(format!(
                "file ({}) is {state}, cannot continue",
                self.path
            ))
            .with("path", self.path)
            .with("state", state));
        }
        if !attrs_differ(self.path, &st, self.attrs)? {
            return Ok(self.result(false, &st));
        }
        let r = self
            .op(FileOp::Attrs {
                path: self.path.to_string(),
                attrs: self.attrs.clone(),
                follow: self.follow,
                recurse: false,
            })
            .await?;
        let after = if self.ctx.check { &st } else { &r.after };
        let mut out = self.result(r.changed, after);
        self.diff(&mut out, &st, state);
        Ok(out)
    }

    async fn link(&self, src: &str, hard: bool, force: bool) -> Result<Outcome, ModuleError> {
        let st = self.ctx.host.stat(self.path, NOFOLLOW).await?;
        let new_state = if hard { "hard" } else { "link" };
        let unchanged = !hard
            && st.kind == Some(FileKind::Symlink)
            && st.link_target.as_deref() == Some(src)
            && !attrs_differ(self.path, &st, self.attrs)?;
        if unchanged {
            return Ok(self.link_result(false, src, &st));
        }
        if st.exists && !force && !hard && st.kind != Some(FileKind::Symlink) {
            return Ok(Outcome::failed(format!(
                "refusing to convert from {} to symlink for {}",
                state_of(&st),
                self.path
            ))
            .with("path", self.path)
            .with("src", src));
        }
        let op = if hard {
            FileOp::Hardlink {
                path: self.path.to_string(),
                src: src.to_string(),
                force,
            }
        } else {
            FileOp::Symlink {
                path: self.path.to_string(),
                src: src.to_string(),
                force,
                attrs: self.attrs.clone(),
            }
        };
        let r = match self.ctx.host.file_op(&op, self.ctx.check).await {
            Ok(r) => r,
            Err(HostError::Io { message, .. }) => {
                return Ok(Outcome::failed(format!("{}: {message}", self.path))
                    .with("path", self.path)
                    .with("src", src))
            }
            Err(e) => return Err(e.into()),
        };
        let mut changed = r.changed;
        let mut after = if self.ctx.check { st.clone() } else { r.after };
        if hard && !self.attrs.is_empty() && (!self.ctx.check || st.exists) {
            let a = self
                .op(FileOp::Attrs {
                    path: self.path.to_string(),
                    attrs: self.attrs.clone(),
                    follow: false,
                    recurse: false,
                })
                .await?;
            changed |= a.changed;
            if !self.ctx.check {
                after = a.after;
            }
        }
        let mut out = self.link_result(changed, src, &after);
        if self.ctx.check {
            out.set("state", new_state);
        }
        self.diff(&mut out, &st, new_state);
        Ok(out)
    }

    fn link_result(&self, changed: bool, src: &str, st: &FileStat) -> Outcome {
        let mut out = Outcome::changed(changed)
            .with("dest", self.path)
            .with("src", src);
        add_file_info(&mut out, st);
        out
    }
}

/// The helper's "exists and is not a directory" as Ansible words it.
fn in_the_way(e: ModuleError, path: &str) -> ModuleError {
    match e {
        ModuleError::Host(HostError::Io {
            kind: drover_host::IoKind::AlreadyExists,
            ..
        }) => ModuleError::Controller(format!("{path} already exists and is not a directory")),
        other => other,
    }
}

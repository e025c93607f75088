//! `file`: files, directories, links and their attributes.

use std::collections::BTreeMap;

use drover_host::{Attrs, FileKind, FileOp, FileOpOutcome, FileStat, HostError, StatOptions};
use serde_json::json;

use crate::util::{
    add_file_info, attr_diff_entries, attrs_differ, attrs_from_args, check_mode_arg, dict_diff,
    state_of, to_value,
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
        ArgDef::new("seuser", ArgKind::Str),
        ArgDef::new("serole", ArgKind::Str),
        ArgDef::new("setype", ArgKind::Str),
        ArgDef::new("selevel", ArgKind::Str),
        ArgDef::new("attributes", ArgKind::Str).aliases(&["attr"]),
        ArgDef::new("modification_time", ArgKind::Str),
        ArgDef::new("modification_time_format", ArgKind::Str),
        ArgDef::new("access_time", ArgKind::Str),
        ArgDef::new("access_time_format", ArgKind::Str),
        // Internal to Ansible's action plugins (is the file binary?), also used directly.
        ArgDef::new("_diff_peek", ArgKind::Bool),
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
        let warnings = if ctx.check {
            lookup_warnings(ctx, args).await?
        } else {
            Vec::new()
        };
        let mut out = run(args, ctx).await?;
        out.warnings.extend(warnings);
        // In diff mode Ansible's file module always registers a diff, at least the path.
        if ctx.diff && !out.failed && !out.data.contains_key("diff") {
            let path = out
                .data
                .get("path")
                .or_else(|| out.data.get("dest"))
                .cloned();
            if let Some(path) = path {
                let path = serde_json::to_value(&path).unwrap_or_default();
                let side = json!({ "path": path });
                out.set("diff", to_value(&json!({"before": side, "after": side})));
            }
        }
        Ok(out)
    }
}

/// In check mode nothing creates a missing owner or group first, so Ansible warns about them.
async fn lookup_warnings(ctx: &Context<'_>, args: &Args) -> Result<Vec<String>, ModuleError> {
    let (owner, group) = (args.str("owner"), args.str("group"));
    if owner.is_none() && group.is_none() {
        return Ok(Vec::new());
    }
    let (users, groups) = crate::accounts::accounts(ctx).await?;
    let users: Vec<(&str, u32)> = users.iter().map(|u| (u.name.as_str(), u.uid)).collect();
    let groups: Vec<(&str, u32)> = groups.iter().map(|g| (g.name.as_str(), g.gid)).collect();
    let out = [
        owner.and_then(|o| unknown_account(o, &users, "user", "uid")),
        group.and_then(|g| unknown_account(g, &groups, "group", "gid")),
    ];
    Ok(out.into_iter().flatten().collect())
}

/// Ansible's warning for an owner or group (a name or a number) that `known` lacks.
fn unknown_account(who: &str, known: &[(&str, u32)], kind: &str, id: &str) -> Option<String> {
    let (found, what) = match who.parse::<u32>() {
        Ok(n) => (
            known.iter().any(|k| k.1 == n),
            format!("{kind} with {id} {who}"),
        ),
        Err(_) => (known.iter().any(|k| k.0 == who), format!("{kind} {who}")),
    };
    (!found).then(|| {
        format!("failed to look up {what}. Create {kind} up-front to avoid failure in check mode.")
    })
}

async fn run(args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
    let path = args.str("path").unwrap_or_default().to_string();
    let path = crate::util::expand_host_path(ctx, &path).await?;
    if path.is_empty() {
        return Ok(Outcome::failed("path must not be empty"));
    }
    if args.bool("_diff_peek", false) {
        return diff_peek(ctx, &path).await;
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
    let times = match Times::from_args(args, &state) {
        Ok(t) => t,
        Err(msg) => return Ok(Outcome::failed(msg).with("path", path)),
    };
    let job = Job {
        ctx,
        path: &path,
        attrs: &attrs,
        follow,
    };
    let out = match state.as_str() {
        "absent" => return job.absent().await,
        "directory" => job.directory(recurse).await,
        // Touching with both times preserved only creates a missing file.
        "touch" if times.preserves_all() => {
            let st = ctx.host.stat(&path, NOFOLLOW).await?;
            if st.exists {
                job.attributes(&st).await
            } else {
                job.touch().await
            }
        }
        "touch" => job.touch().await,
        "link" | "hard" => {
            // Without src, an existing symlink keeps its target (only attributes change).
            let src = match src {
                Some(s) => s,
                None => {
                    let st = ctx.host.stat(&path, NOFOLLOW).await?;
                    // follow: the attributes are the link target's.
                    if follow && st.kind == Some(FileKind::Symlink) {
                        let target = ctx.host.stat(&path, FOLLOW).await?;
                        if target.exists {
                            let out = job.attributes(&target).await?;
                            return Ok(out);
                        }
                    }
                    match (&st.link_target, state.as_str()) {
                        (Some(t), "link") if st.kind == Some(FileKind::Symlink) => t.clone(),
                        _ => {
                            let what = if state == "hard" {
                                "hardlinks"
                            } else {
                                "symlinks"
                            };
                            return Ok(Outcome::failed(format!(
                                "src is required for creating new {what}"
                            ))
                            .with("path", path));
                        }
                    }
                }
            };
            job.link(&src, state == "hard", force).await
        }
        _ => job.file().await,
    }?;
    if out.failed || times.is_noop() {
        return Ok(out);
    }
    job.apply_times(out, &times).await
}

/// `modification_time`/`access_time`: each `None` (leave as it is), `now`, or a host-local
/// time already formatted as `YYYY-MM-DD HH:MM:SS` for `date -d`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Times {
    mtime: Option<String>,
    atime: Option<String>,
    /// `state: touch` with both times `preserve`: only a missing file is created.
    touch_preserves_all: bool,
}

impl Times {
    /// Reads the arguments: `preserve` (the default except for `touch`), `now` (the default for
    /// `touch`, which the touch itself does), or a time in the given strftime format.
    pub(crate) fn from_args(args: &Args, state: &str) -> Result<Times, String> {
        let one = |key: &str, fmt_key: &str| -> Result<Option<String>, String> {
            let default = if state == "touch" { "now" } else { "preserve" };
            let v = args.str(key).unwrap_or(default);
            match v {
                "preserve" => Ok(None),
                // A touch already sets both times to now.
                "now" if state == "touch" => Ok(None),
                "now" => Ok(Some("now".into())),
                _ => {
                    let fmt = args.str(fmt_key).unwrap_or("%Y%m%d%H%M.%S");
                    chrono::NaiveDateTime::parse_from_str(v, fmt)
                        .map(|t| Some(t.format("%Y-%m-%d %H:%M:%S").to_string()))
                        .map_err(|e| {
                            format!("Error while obtaining timestamp for time {v} using format {fmt}: {e}")
                        })
                }
            }
        };
        let preserve = |key: &str| args.str(key) == Some("preserve");
        Ok(Times {
            mtime: one("modification_time", "modification_time_format")?,
            atime: one("access_time", "access_time_format")?,
            touch_preserves_all: state == "touch"
                && preserve("modification_time")
                && preserve("access_time"),
        })
    }

    fn preserves_all(&self) -> bool {
        self.touch_preserves_all
    }

    fn is_noop(&self) -> bool {
        self.mtime.is_none() && self.atime.is_none()
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

    /// Ansible's `{path, state}` before/after dicts plus the attributes that change, shown
    /// and registered; `extra` adds module-specific entries (a link's old and new `src`).
    fn diff(&self, out: &mut Outcome, before: &FileStat, new_state: &str) {
        self.diff_with(out, before, new_state, BTreeMap::new(), BTreeMap::new());
    }

    fn diff_with(
        &self,
        out: &mut Outcome,
        before: &FileStat,
        new_state: &str,
        extra_before: BTreeMap<&'static str, serde_json::Value>,
        extra_after: BTreeMap<&'static str, serde_json::Value>,
    ) {
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
        b.extend(extra_before);
        a.extend(extra_after);
        out.diff.push(dict_diff(&b, &a));
        register_diff(out, &b, &a);
    }

    async fn op(&self, op: FileOp) -> Result<FileOpOutcome, ModuleError> {
        Ok(self.ctx.host.file_op(&op, self.ctx.check).await?)
    }

    async fn absent(&self) -> Result<Outcome, ModuleError> {
        let st = self.ctx.host.stat(self.path, NOFOLLOW).await?;
        let changed = st.exists;
        // A directory's diff lists what would go, as Ansible's `path_content`.
        let mut content = BTreeMap::new();
        if changed && self.ctx.diff && st.kind == Some(FileKind::Directory) {
            let (dirs, files) = self.tree(self.path).await?;
            content.insert("path_content", json!({"directories": dirs, "files": files}));
        }
        if changed {
            self.op(FileOp::Absent {
                path: self.path.to_string(),
            })
            .await?;
        }
        let mut out = Outcome::changed(changed)
            .with("path", self.path)
            .with("state", "absent");
        self.diff_with(&mut out, &st, "absent", content, BTreeMap::new());
        Ok(out)
    }

    /// Every directory and file below `root` (full paths, depth first, as `os.walk` lists).
    async fn tree(&self, root: &str) -> Result<(Vec<String>, Vec<String>), ModuleError> {
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        let mut pending = vec![root.to_string()];
        while let Some(dir) = pending.pop() {
            let mut entries = self.ctx.host.list_dir(&dir).await?;
            entries.sort_by(|x, y| x.name.cmp(&y.name));
            for e in entries {
                let full = format!("{}/{}", dir.trim_end_matches('/'), e.name);
                if e.stat.kind == Some(FileKind::Directory) {
                    dirs.push(full.clone());
                    pending.push(full);
                } else {
                    files.push(full);
                }
            }
        }
        Ok((dirs, files))
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
        let mut changed = r.changed;
        // With follow (the default), links inside the tree count as what they point to; the
        // directory walk above leaves them alone, this second walk follows them.
        if recurse && self.follow && !self.attrs.is_empty() && (st.exists || !self.ctx.check) {
            let a = self
                .op(FileOp::Attrs {
                    path: self.path.to_string(),
                    attrs: self.attrs.clone(),
                    follow: true,
                    recurse: true,
                })
                .await?;
            changed |= a.changed;
        }
        let after = if self.ctx.check { &st } else { &r.after };
        let mut out = self.result(changed, after);
        if !st.exists {
            out.set("state", "directory");
        }
        self.diff(&mut out, &st, "directory");
        Ok(out)
    }

    async fn touch(&self) -> Result<Outcome, ModuleError> {
        // A file this task creates is removed again when its attributes cannot be set.
        let existed = if self.attrs.is_empty() || self.ctx.check {
            true
        } else {
            self.ctx.host.stat(self.path, NOFOLLOW).await?.exists
        };
        let r = match self
            .op(FileOp::Touch {
                path: self.path.to_string(),
                attrs: self.attrs.clone(),
            })
            .await
        {
            Ok(r) => r,
            Err(e) => {
                if !existed {
                    let _ = self
                        .op(FileOp::Absent {
                            path: self.path.to_string(),
                        })
                        .await;
                }
                return Err(e);
            }
        };
        let after = if self.ctx.check { &r.before } else { &r.after };
        // Ansible names the touched file `dest`, not `path`.
        let mut out = Outcome::changed(r.changed).with("dest", self.path);
        add_file_info(&mut out, after);
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

    /// Mode/owner/group of an existing path of any type.
    async fn attributes(&self, st: &FileStat) -> Result<Outcome, ModuleError> {
        if !attrs_differ(self.path, st, self.attrs)? {
            return Ok(self.result(false, st));
        }
        let r = self
            .op(FileOp::Attrs {
                path: self.path.to_string(),
                attrs: self.attrs.clone(),
                follow: self.follow,
                recurse: false,
            })
            .await?;
        let after = if self.ctx.check { st } else { &r.after };
        let mut out = self.result(r.changed, after);
        self.diff(&mut out, st, state_of(st));
        Ok(out)
    }

    /// Sets the requested times with `touch -d` on the host when they differ (`now` always
    /// differs); one program run, which also reports the old values for the diff.
    async fn apply_times(&self, mut out: Outcome, times: &Times) -> Result<Outcome, ModuleError> {
        use crate::util::sh_quote;
        let mut script = String::from("set -e; p=$1; ");
        let stat_opt = if self.follow { "-L " } else { "" };
        let touch_opt = if self.follow { "" } else { "-h " };
        for (which, spec, stat_fmt, flag) in [
            ("m", &times.mtime, "%Y", "-m"),
            ("a", &times.atime, "%X", "-a"),
        ] {
            let Some(spec) = spec else { continue };
            let want = if spec == "now" {
                "$(date +%s)".to_string()
            } else {
                format!("$(date -d {} +%s)", sh_quote(spec))
            };
            script.push_str(&format!(
                "w={want}; c=$(stat {stat_opt}-c {stat_fmt} -- \"$p\"); echo {which} $c $w; \
                 if [ \"$c\" != \"$w\" ] || [ {now} = 1 ]; then {apply}fi; ",
                now = u8::from(spec == "now"),
                apply = if self.ctx.check {
                    ": ; ".to_string()
                } else {
                    format!("touch {touch_opt}-c {flag} -d \"@$w\" -- \"$p\"; ")
                },
            ));
        }
        let script = format!("set -- {}; {script}", sh_quote(self.path));
        let mut req = drover_host::ExecRequest::shell(script);
        req.env = self.ctx.env.clone();
        let ran = self.ctx.host.exec(&req).await?;
        if ran.rc != 0 {
            return Ok(Outcome::failed(format!(
                "{}: cannot set times: {}",
                self.path,
                String::from_utf8_lossy(&ran.stderr).trim_end()
            ))
            .with("path", self.path));
        }
        let text = String::from_utf8_lossy(&ran.stdout).into_owned();
        let mut before = BTreeMap::new();
        let mut after = BTreeMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [which, cur, want] = f[..] else { continue };
            let (Ok(cur), Ok(want)) = (cur.parse::<i64>(), want.parse::<i64>()) else {
                continue;
            };
            let now = match which {
                "m" => times.mtime.as_deref() == Some("now"),
                _ => times.atime.as_deref() == Some("now"),
            };
            if cur != want || now {
                let key = if which == "m" { "mtime" } else { "atime" };
                before.insert(key, json!(cur));
                after.insert(key, json!(want));
            }
        }
        if !after.is_empty() {
            out.changed = true;
            if self.ctx.diff {
                let mut b = BTreeMap::from([("path", json!(self.path))]);
                let mut a = BTreeMap::from([("path", json!(self.path))]);
                b.extend(before);
                a.extend(after);
                out.diff.clear();
                out.diff.push(dict_diff(&b, &a));
                register_diff(&mut out, &b, &a);
            }
        }
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
        // With follow (the default), a symlink's mode and owner are its target's, as chmod and
        // chown follow links on Linux.
        let to_target = self.follow && !hard && !self.attrs.is_empty();
        let same_link =
            !hard && st.kind == Some(FileKind::Symlink) && st.link_target.as_deref() == Some(src);
        let target_st = if to_target && same_link {
            Some(self.ctx.host.stat(self.path, FOLLOW).await?)
        } else {
            None
        };
        let unchanged = same_link
            && match &target_st {
                Some(t) if t.exists => !attrs_differ(self.path, t, self.attrs)?,
                Some(_) => true,
                None => !attrs_differ(self.path, &st, self.attrs)?,
            };
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
                attrs: if to_target {
                    Attrs::default()
                } else {
                    self.attrs.clone()
                },
            }
        };
        let r = match self.ctx.host.file_op(&op, self.ctx.check).await {
            Ok(r) => r,
            Err(HostError::Io {
                kind: drover_host::IoKind::NotFound,
                ..
            }) if hard => {
                return Ok(Outcome::failed("src does not exist")
                    .with("dest", self.path)
                    .with("src", src))
            }
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
        if to_target && (!self.ctx.check || same_link) {
            let target = self.ctx.host.stat(self.path, FOLLOW).await?;
            if target.exists {
                let a = self
                    .op(FileOp::Attrs {
                        path: self.path.to_string(),
                        attrs: self.attrs.clone(),
                        follow: true,
                        recurse: false,
                    })
                    .await?;
                changed |= a.changed;
            }
        }
        let mut out = self.link_result(changed, src, &after);
        if self.ctx.check {
            out.set("state", new_state);
        }
        let (mut src_b, mut src_a) = (BTreeMap::new(), BTreeMap::new());
        if !hard && st.link_target.as_deref() != Some(src) {
            if let Some(old) = st
                .link_target
                .as_deref()
                .filter(|_| st.kind == Some(FileKind::Symlink))
            {
                src_b.insert("src", json!(old));
            }
            src_a.insert("src", json!(src));
        }
        self.diff_with(&mut out, &st, new_state, src_b, src_a);
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

/// The `diff` key of the registered result: the before/after dicts themselves.
fn register_diff(
    out: &mut Outcome,
    before: &BTreeMap<&str, serde_json::Value>,
    after: &BTreeMap<&str, serde_json::Value>,
) {
    out.set("diff", to_value(&json!({"before": before, "after": after})));
}

/// `_diff_peek`: whether the start of the file looks binary (a NUL byte in the first 8 KiB).
async fn diff_peek(ctx: &Context<'_>, path: &str) -> Result<Outcome, ModuleError> {
    let st = ctx.host.stat(path, FOLLOW).await?;
    let binary = if st.exists && st.kind == Some(FileKind::File) {
        let data = ctx.host.read(path).await?;
        data.iter().take(8192).any(|b| *b == 0)
    } else {
        false
    };
    Ok(Outcome::ok()
        .with("path", path)
        .with("appears_binary", binary))
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

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use minijinja::Value;

    fn times(state: &str, pairs: &[(&str, &str)]) -> Result<Times, String> {
        let mut raw: IndexMap<String, Value> = IndexMap::new();
        raw.insert("path".into(), Value::from("/x"));
        for (k, v) in pairs {
            raw.insert(k.to_string(), Value::from(*v));
        }
        Times::from_args(&SPEC.validate(&raw).unwrap(), state)
    }

    #[test]
    fn time_arguments() {
        let t = times(
            "file",
            &[
                ("modification_time", "202202081414.00"),
                ("access_time", "now"),
            ],
        )
        .unwrap();
        assert_eq!(t.mtime.as_deref(), Some("2022-02-08 14:14:00"));
        assert_eq!(t.atime.as_deref(), Some("now"));
        // preserve is the default but for touch, whose own default (now) the touch does.
        assert!(times("file", &[]).unwrap().is_noop());
        assert!(times("touch", &[]).unwrap().is_noop());
        let p = times(
            "touch",
            &[
                ("modification_time", "preserve"),
                ("access_time", "preserve"),
            ],
        )
        .unwrap();
        assert!(p.preserves_all());
        let t = times(
            "file",
            &[
                ("modification_time", "08/02/2022"),
                ("modification_time_format", "%d/%m/%Y"),
            ],
        );
        assert!(
            t.is_err(),
            "a date without a time is not a timestamp: {t:?}"
        );
        assert!(times("file", &[("access_time", "garbage")]).is_err());
    }
}

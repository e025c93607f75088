//! `unarchive`: unpacks a tar (any compression the host's GNU tar reads) or zip archive into an
//! existing directory with the host's own `tar` and `unzip`, as Ansible does. The archive comes
//! from the controller (copied over first), from the host (`remote_src`), or from a URL the
//! host downloads. It is unpacked only when the directory does not already hold what it
//! contains: `tar --diff` says so for tar archives, a comparison with a scratch extraction for
//! zip archives.

use drover_host::{Attrs, ExecOutput, ExecRequest, FileKind, FileOp, StatOptions, WriteRequest};

use crate::util::{add_file_info, attrs_from_args, check_mode_arg, set_attrs};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Unarchive;

static SPEC: ModuleSpec = ModuleSpec {
    name: "unarchive",
    args: &[
        ArgDef::new("src", ArgKind::Str).required(),
        ArgDef::new("dest", ArgKind::Path).required(),
        ArgDef::new("remote_src", ArgKind::Bool),
        ArgDef::new("copy", ArgKind::Bool),
        ArgDef::new("creates", ArgKind::Path),
        ArgDef::new("list_files", ArgKind::Bool),
        ArgDef::new("exclude", ArgKind::List),
        ArgDef::new("include", ArgKind::List),
        ArgDef::new("keep_newer", ArgKind::Bool),
        ArgDef::new("extra_opts", ArgKind::List),
        ArgDef::new("io_buffer_size", ArgKind::Int),
        ArgDef::new("decrypt", ArgKind::Bool),
        ArgDef::new("validate_certs", ArgKind::Bool),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[&["include", "exclude"]],
    required_one_of: &[],
    check_mode: true,
};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Tar,
    Zip,
}

impl Format {
    /// The name of Ansible's handler class, which the module reports.
    fn handler(self) -> &'static str {
        match self {
            Format::Tar => "TgzArchive",
            Format::Zip => "ZipArchive",
        }
    }
}

async fn run_argv(ctx: &Context<'_>, argv: Vec<String>) -> Result<ExecOutput, ModuleError> {
    let mut req = ExecRequest::argv(argv);
    req.env.clone_from(&ctx.env);
    // Listings and diffs are parsed: keep them in the C locale.
    req.env.insert("LC_ALL".into(), "C".into());
    Ok(ctx.host.exec(&req).await?)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a listing command; `None` when its program is not installed.
async fn try_list(ctx: &Context<'_>, argv: Vec<String>) -> Result<Option<ExecOutput>, ModuleError> {
    match run_argv(ctx, argv).await {
        Ok(out) => Ok(Some(out)),
        Err(ModuleError::Host(drover_host::HostError::Io {
            kind: drover_host::IoKind::NotFound,
            ..
        })) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The archive's entries, and which kind of archive it is; else why no handler fits, in
/// Ansible's words.
async fn list(
    ctx: &Context<'_>,
    archive: &str,
) -> Result<Result<(Format, Vec<String>), String>, ModuleError> {
    let mut reasons = Vec::new();
    match try_list(ctx, vec!["unzip".into(), "-Z1".into(), archive.into()]).await? {
        Some(out) if out.rc == 0 => return Ok(Ok((Format::Zip, lines(&out.stdout)))),
        Some(out) => reasons.push(format!(
            "Command \"unzip\" could not handle archive: {}",
            text(&out.stderr).trim()
        )),
        None => {
            reasons.push("Unable to find required 'unzip' or 'zipinfo' binary in the path.".into())
        }
    }
    match try_list(
        ctx,
        vec!["tar".into(), "-t".into(), "-f".into(), archive.into()],
    )
    .await?
    {
        Some(out) if out.rc == 0 => return Ok(Ok((Format::Tar, lines(&out.stdout)))),
        Some(out) => reasons.push(format!(
            "Unable to list files in the archive: {}",
            text(&out.stderr).trim()
        )),
        None => reasons.push("Unable to find required 'gtar' or 'tar' binary in the path".into()),
    }
    Ok(Err(format!(
        "Failed to find handler for \"{archive}\". Make sure the required command to extract the file is installed.\n{}",
        reasons.join("\n")
    )))
}

fn lines(b: &[u8]) -> Vec<String> {
    text(b)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `tar`'s member selection: `include` lists members, `exclude` patterns.
fn tar_selection(args: &Args) -> (Vec<String>, Vec<String>) {
    let exclude = args
        .list("exclude")
        .into_iter()
        .map(|p| format!("--exclude={p}"))
        .collect();
    (exclude, args.list("include"))
}

/// Whether `dest` already matches a tar archive. `tar --diff` reports every difference; those
/// the task's own `mode`/`owner`/`group` will set anyway do not count.
async fn tar_differs(
    ctx: &Context<'_>,
    args: &Args,
    archive: &str,
    dest: &str,
) -> Result<bool, ModuleError> {
    let (exclude, include) = tar_selection(args);
    let mut argv = vec![
        "tar".into(),
        "--diff".into(),
        "-f".into(),
        archive.into(),
        "-C".into(),
        dest.into(),
    ];
    argv.extend(exclude);
    argv.extend(args.list("extra_opts"));
    argv.extend(include);
    let out = run_argv(ctx, argv).await?;
    if out.rc == 0 {
        return Ok(false);
    }
    let attrs = attrs_from_args(args);
    let report = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    let differs = report.lines().filter(|l| !l.trim().is_empty()).any(|l| {
        let ignorable = (l.ends_with("Mode differs") && attrs.mode.is_some())
            || (l.ends_with("Uid differs") && attrs.owner.is_some())
            || (l.ends_with("Gid differs") && attrs.group.is_some())
            // Directories' times change as their content does; Ansible ignores them too.
            || (l.ends_with("Mod time differs") && l.contains("/:"));
        !ignorable
    });
    Ok(differs)
}

/// Whether `dest` already matches a zip archive: unpack it into a scratch directory and compare
/// every file.
async fn zip_differs(
    ctx: &Context<'_>,
    args: &Args,
    archive: &str,
    dest: &str,
    scratch: &str,
) -> Result<bool, ModuleError> {
    let mut argv: Vec<String> = vec!["unzip".into(), "-q".into(), "-o".into()];
    argv.extend(args.list("extra_opts"));
    argv.extend([archive.to_string(), "-d".into(), scratch.into()]);
    argv.extend(args.list("include"));
    let excl = args.list("exclude");
    if !excl.is_empty() {
        argv.push("-x".into());
        argv.extend(excl);
    }
    let out = run_argv(ctx, argv).await?;
    if out.rc != 0 {
        return Err(ModuleError::Controller(format!(
            "unzip failed: {}",
            text(&out.stderr).trim()
        )));
    }
    // Every regular file must exist in dest with the same bytes.
    let script = r#"cd "$1" && find . -type f | while IFS= read -r f; do cmp -s "$f" "$2/$f" || { echo differs; break; }; done"#;
    let out = run_argv(
        ctx,
        vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            scratch.into(),
            dest.into(),
        ],
    )
    .await?;
    Ok(out.rc != 0 || text(&out.stdout).contains("differs"))
}

async fn extract(
    ctx: &Context<'_>,
    args: &Args,
    format: Format,
    archive: &str,
    dest: &str,
) -> Result<(Vec<String>, ExecOutput), ModuleError> {
    let argv = match format {
        Format::Tar => {
            let (exclude, include) = tar_selection(args);
            let mut argv: Vec<String> =
                vec!["tar".into(), "--extract".into(), "-C".into(), dest.into()];
            if args.bool("keep_newer", false) {
                argv.push("--keep-newer-files".into());
            }
            argv.extend(exclude);
            argv.extend(args.list("extra_opts"));
            argv.extend(["-f".into(), archive.into()]);
            argv.extend(include);
            argv
        }
        Format::Zip => {
            let mut argv: Vec<String> = vec!["unzip".into(), "-q".into()];
            argv.push(if args.bool("keep_newer", false) {
                "-u".into()
            } else {
                "-o".into()
            });
            argv.extend(args.list("extra_opts"));
            argv.extend([archive.to_string(), "-d".into(), dest.into()]);
            argv.extend(args.list("include"));
            let excl = args.list("exclude");
            if !excl.is_empty() {
                argv.push("-x".into());
                argv.extend(excl);
            }
            argv
        }
    };
    let mut out = run_argv(ctx, argv.clone()).await?;
    // The output goes into the result; a chatty archive must not swell it without bound.
    out.stdout.truncate(64 * 1024);
    Ok((argv, out))
}

/// A scratch path on the host beside `dest` (same filesystem, same permissions context).
fn scratch_path(dest: &str, tag: &str) -> String {
    format!(
        "{}/.drover-unarchive-{tag}-{}",
        dest.trim_end_matches('/'),
        std::process::id()
    )
}

#[async_trait::async_trait]
impl Module for Unarchive {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let src = args.string("src").unwrap_or_default();
        let dest = args.string("dest").unwrap_or_default();
        let dest = crate::util::expand_host_path(ctx, &dest).await?;
        let attrs = attrs_from_args(args);
        check_mode_arg(&dest, &attrs)?;
        if let Some(creates) = args.string("creates") {
            if ctx
                .host
                .stat(&creates, StatOptions::default())
                .await?
                .exists
            {
                return Ok(Outcome::ok()
                    .with("dest", dest)
                    .with("src", src)
                    .with("msg", format!("skipped, since {creates} exists")));
            }
        }
        let st = ctx
            .host
            .stat(
                &dest,
                StatOptions {
                    follow: true,
                    checksum: false,
                },
            )
            .await?;
        if st.kind != Some(FileKind::Directory) {
            return Ok(Outcome::failed(format!(
                "dest '{dest}' must be an existing dir"
            )));
        }
        // `copy: no` is the old spelling of `remote_src: yes`.
        let remote = args.bool("remote_src", false) || !args.bool("copy", true);
        let is_url = src.starts_with("http://") || src.starts_with("https://");
        let mut staged: Option<String> = None;
        let archive = if is_url {
            let tmp = scratch_path(&dest, "download");
            let req = drover_host::HttpRequest {
                method: "GET".into(),
                url: src.clone(),
                headers: vec![("User-Agent".into(), "ansible-httpget".into())],
                body: None,
                timeout_secs: 10,
                validate_certs: args.bool("validate_certs", true),
                max_redirects: 10,
                body_to: Some(tmp.clone()),
                digest: None,
            };
            staged = Some(tmp.clone());
            let resp = ctx.host.http(&req).await?;
            if resp.status != 200 {
                let _ = ctx.host.file_op(&FileOp::Absent { path: tmp }, false).await;
                return Ok(Outcome::failed(format!(
                    "Failure downloading {src}, {}",
                    crate::http::status_msg(&resp)
                )));
            }
            tmp
        } else if remote {
            let src = crate::util::expand_host_path(ctx, &src).await?;
            if !ctx.host.stat(&src, StatOptions::default()).await?.exists {
                return Ok(Outcome::failed(format!("Source '{src}' does not exist")));
            }
            src
        } else {
            let local = ctx.controller.find_file("files", &src)?;
            let content =
                crate::util::read_controller_file(&local, args.bool("decrypt", true), "src")?;
            let tmp = scratch_path(&dest, "src");
            ctx.host
                .write(&WriteRequest {
                    path: tmp.clone(),
                    content,
                    attrs: Attrs {
                        mode: Some("0600".into()),
                        ..Attrs::default()
                    },
                    backup: false,
                    default_mode: Some(0o600),
                    preserve_existing: false,
                    validate: None,
                })
                .await?;
            staged = Some(tmp.clone());
            tmp
        };
        let result = unpack(ctx, args, &src, &archive, &dest, &attrs).await;
        if let Some(tmp) = staged {
            let _ = ctx.host.file_op(&FileOp::Absent { path: tmp }, false).await;
        }
        result
    }
}

async fn unpack(
    ctx: &Context<'_>,
    args: &Args,
    src: &str,
    archive: &str,
    dest: &str,
    attrs: &Attrs,
) -> Result<Outcome, ModuleError> {
    let (format, files) = match list(ctx, archive).await? {
        Ok(l) => l,
        Err(msg) => return Ok(Outcome::failed(msg)),
    };
    let differs = match format {
        Format::Tar => tar_differs(ctx, args, archive, dest).await?,
        Format::Zip => {
            let scratch = scratch_path(dest, "compare");
            let r = zip_differs(ctx, args, archive, dest, &scratch).await;
            let _ = ctx
                .host
                .file_op(&FileOp::Absent { path: scratch }, false)
                .await;
            r?
        }
    };
    let mut out = Outcome::ok();
    out.set("handler", format.handler());
    out.set("dest", dest.to_string());
    out.set("src", src.to_string());
    if args.bool("list_files", false) {
        out.set("files", files.clone());
    }
    if differs && !ctx.check {
        let (cmd, r) = extract(ctx, args, format, archive, dest).await?;
        out.set(
            "extract_results",
            minijinja::Value::from_pairs([
                ("cmd", minijinja::Value::from(cmd)),
                ("rc", minijinja::Value::from(r.rc)),
                ("out", minijinja::Value::from(text(&r.stdout))),
                ("err", minijinja::Value::from(text(&r.stderr))),
            ]),
        );
        if r.rc != 0 {
            out.failed = true;
            out.msg = Some(format!(
                "failed to unpack {archive} to {dest}: {}",
                text(&r.stderr).trim()
            ));
            return Ok(out);
        }
    }
    out.changed = differs;
    // The task's mode/owner/group apply to everything it unpacked.
    if !attrs.is_empty() {
        for f in &files {
            let path = format!("{}/{}", dest.trim_end_matches('/'), f.trim_end_matches('/'));
            let st = ctx.host.stat(&path, StatOptions::default()).await?;
            if !st.exists && ctx.check {
                continue;
            }
            out.changed |= set_attrs(ctx, &path, &st, attrs, false).await?;
        }
    }
    let after = ctx.host.stat(dest, StatOptions::default()).await?;
    add_file_info(&mut out, &after);
    Ok(out)
}

//! `apt_repository`: an APT source line, present or absent, in `/etc/apt/sources.list` and
//! `/etc/apt/sources.list.d/*.list`, with `apt-get update` after a change.
//!
//! Lines are read and rendered as Ansible's module reads and renders them (a commented-out
//! source is a disabled one and is enabled rather than added twice; a file that changes is
//! written back in Ansible's normalized form), so drover and Ansible agree on what is
//! "unchanged". Only files whose content changes are written, each atomically.

use drover_host::{Attrs, FileOp};
use minijinja::Value;

use crate::accounts;
use crate::util::{content_diff, write_content};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct AptRepository;

static SPEC: ModuleSpec = ModuleSpec {
    name: "apt_repository",
    args: &[
        ArgDef::new("repo", ArgKind::Str).required(),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("update_cache", ArgKind::Bool).aliases(&["update-cache"]),
        ArgDef::new("update_cache_retries", ArgKind::Int),
        ArgDef::new("update_cache_retry_max_delay", ArgKind::Int),
        ArgDef::new("validate_certs", ArgKind::Bool),
        ArgDef::new("filename", ArgKind::Str),
        ArgDef::new("codename", ArgKind::Str),
        ArgDef::new("install_python_apt", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";

/// One line of a sources file, as Ansible's `SourcesList._parse` splits it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub valid: bool,
    pub enabled: bool,
    /// The source with runs of whitespace collapsed (for a valid line), or the line's text.
    pub source: String,
    pub comment: String,
}

pub(crate) fn parse_line(raw: &str) -> Line {
    let mut line = raw.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|i| *i > 0) {
        comment = line[i + 1..].trim().to_string();
        line = &line[..i];
    }
    let mut source = line.trim().to_string();
    let chunks: Vec<&str> = source.split_whitespace().collect();
    let valid = matches!(chunks.first(), Some(&"deb") | Some(&"deb-src"));
    if valid {
        source = chunks.join(" ");
    }
    Line {
        valid,
        enabled,
        source,
        comment,
    }
}

/// A file's lines rendered back as Ansible writes them.
pub(crate) fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    for l in lines {
        if !l.enabled {
            out.push_str("# ");
        }
        out.push_str(&l.source);
        if !l.comment.is_empty() {
            out.push_str(" # ");
            out.push_str(&l.comment);
        }
        out.push('\n');
    }
    out
}

/// The file Ansible picks for a new source: its URI without scheme, credentials and options,
/// every run of other characters made one `_`, as `<name>.list` in sources.list.d.
pub(crate) fn suggest_filename(source: &str) -> String {
    let mut text = String::new();
    let mut depth = 0;
    for c in source.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let uri = text
        .split_whitespace()
        .find(|w| *w != "deb" && *w != "deb-src")
        .unwrap_or_default();
    let uri = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let uri = uri.rsplit_once('@').map_or(uri, |(_, host)| host);
    let cleaned: Vec<String> = uri
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    format!("{}.list", cleaned.join("_"))
}

struct SourceFile {
    path: String,
    original: Option<String>,
    lines: Vec<Line>,
}

#[async_trait::async_trait]
impl Module for AptRepository {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let repo = args.string("repo").unwrap_or_default();
        let present = args.str("state") != Some("absent");
        if repo.trim().starts_with("ppa:") {
            return Ok(Outcome::failed(
                "PPA shortcuts (ppa:owner/name) are not supported by drover: give the PPA's deb line (and its key with signed-by=)",
            ));
        }
        let wanted = parse_line(&repo);
        if !wanted.valid || !wanted.enabled {
            return Ok(Outcome::failed(format!(
                "Invalid repository string: {repo}"
            )));
        }
        let mut files = read_sources(ctx).await?;
        let target_name = match args.str("filename") {
            Some(f) => format!("{f}.list"),
            None => suggest_filename(&wanted.source),
        };
        let target = format!("{SOURCES_DIR}/{target_name}");
        if present {
            let mut found = false;
            for f in &mut files {
                for l in f
                    .lines
                    .iter_mut()
                    .filter(|l| l.valid && l.source == wanted.source)
                {
                    l.enabled = true;
                    found = true;
                }
            }
            if !found {
                let idx = match files.iter().position(|f| f.path == target) {
                    Some(i) => i,
                    None => {
                        files.push(SourceFile {
                            path: target.clone(),
                            original: None,
                            lines: Vec::new(),
                        });
                        files.len() - 1
                    }
                };
                // The repo's own `# comment` is not written, as Ansible drops it too.
                files[idx].lines.push(Line {
                    comment: String::new(),
                    ..wanted.clone()
                });
            }
        } else {
            for f in &mut files {
                f.lines
                    .retain(|l| !(l.valid && l.enabled && l.source == wanted.source));
            }
        }

        let mode = args.string("mode");
        let mut out = Outcome::ok();
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for f in &files {
            let after = render(&f.lines);
            let before = f.original.as_deref();
            let now_empty = f.lines.is_empty();
            if before.map(|b| render(&parse_all(b))) == Some(after.clone()) && !now_empty {
                continue;
            }
            match (before, now_empty) {
                (None, true) => continue,
                (Some(_), true) => {
                    removed.push(f.path.clone());
                    if ctx.diff {
                        out.diff.extend(content_diff(
                            &f.path,
                            "/dev/null",
                            before.unwrap_or_default().as_bytes(),
                            b"",
                        ));
                    }
                    if !ctx.check {
                        ctx.host
                            .file_op(
                                &FileOp::Absent {
                                    path: f.path.clone(),
                                },
                                false,
                            )
                            .await?;
                    }
                }
                (_, false) => {
                    if before.is_none() {
                        added.push(f.path.clone());
                    }
                    if ctx.diff {
                        out.diff.extend(content_diff(
                            if before.is_some() {
                                &f.path
                            } else {
                                "/dev/null"
                            },
                            &f.path,
                            before.unwrap_or_default().as_bytes(),
                            after.as_bytes(),
                        ));
                    }
                    let attrs = Attrs {
                        mode: mode
                            .clone()
                            .or_else(|| before.is_none().then(|| "0644".to_string())),
                        ..Attrs::default()
                    };
                    write_content(ctx, &f.path, after.into_bytes(), &attrs, false, None).await?;
                }
            }
            out.changed = true;
        }
        if out.changed && !ctx.check && args.bool("update_cache", true) {
            if let Err(msg) = update_cache(ctx, args).await? {
                return Ok(Outcome::failed(format!(
                    "Failed to update apt cache: {msg}"
                )));
            }
        }
        out.set("repo", Value::from(repo));
        out.set(
            "state",
            Value::from(if present { "present" } else { "absent" }),
        );
        out.set("sources_added", Value::from(added));
        out.set("sources_removed", Value::from(removed));
        Ok(out)
    }
}

fn parse_all(text: &str) -> Vec<Line> {
    text.lines().map(parse_line).collect()
}

/// sources.list and every `*.list` in sources.list.d, in name order; a missing file or
/// directory is simply absent.
async fn read_sources(ctx: &Context<'_>) -> Result<Vec<SourceFile>, ModuleError> {
    let mut paths = vec![SOURCES_LIST.to_string()];
    match ctx.host.list_dir(SOURCES_DIR).await {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .into_iter()
                .map(|e| e.name)
                .filter(|n| n.ends_with(".list"))
                .collect();
            names.sort();
            paths.extend(names.into_iter().map(|n| format!("{SOURCES_DIR}/{n}")));
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    let mut files = Vec::new();
    for path in paths {
        match ctx.host.read(&path).await {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                files.push(SourceFile {
                    lines: parse_all(&text),
                    original: Some(text),
                    path,
                });
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(files)
}

/// `apt-get update`, retried with a doubling delay (capped) as Ansible retries it; the
/// retries run on the host, in one round trip.
async fn update_cache(ctx: &Context<'_>, args: &Args) -> Result<Result<(), String>, ModuleError> {
    let retries = args.int("update_cache_retries").unwrap_or(5).clamp(1, 50);
    let max_delay = args
        .int("update_cache_retry_max_delay")
        .unwrap_or(12)
        .max(0);
    let delays: Vec<String> = (0..retries)
        .map(|attempt| {
            if attempt + 1 == retries {
                0
            } else {
                (1i64 << attempt.min(20)).min(max_delay)
            }
        })
        .map(|d| d.to_string())
        .collect();
    let script = format!(
        "for d in {}; do apt-get update -q && exit 0; [ \"$d\" -gt 0 ] && sleep \"$d\"; done; exit 1",
        delays.join(" ")
    );
    let ran = accounts::run(ctx, vec!["sh".into(), "-c".into(), script], &[]).await?;
    if ran.out.rc == 0 {
        return Ok(Ok(()));
    }
    Ok(Err(String::from_utf8_lossy(&ran.out.stderr)
        .trim()
        .to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_ansible_reads_them() {
        let l = parse_line("deb  [arch=amd64 signed-by=/k.gpg]   https://download.docker.com/linux/debian bookworm stable # docker");
        assert!(l.valid && l.enabled);
        assert_eq!(
            l.source,
            "deb [arch=amd64 signed-by=/k.gpg] https://download.docker.com/linux/debian bookworm stable"
        );
        assert_eq!(l.comment, "docker");
        let d = parse_line("# deb http://x/ y main");
        assert!(d.valid && !d.enabled);
        assert_eq!(d.source, "deb http://x/ y main");
        let c = parse_line("## a note");
        assert!(!c.valid);
        assert_eq!(
            render(&[c, d, parse_line("")]),
            "# # a note\n# deb http://x/ y main\n\n"
        );
    }

    #[test]
    fn file_names_from_the_uri() {
        assert_eq!(
            suggest_filename("deb [arch=amd64 signed-by=/k.gpg] https://download.docker.com/linux/debian bookworm stable"),
            "download_docker_com_linux_debian.list"
        );
        assert_eq!(
            suggest_filename("deb http://user:pw@mirror.example.org:8080/debian/ bookworm main"),
            "mirror_example_org_8080_debian.list"
        );
    }
}

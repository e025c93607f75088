//! `git`: a checkout of a repository at a version, with the host's own `git`, as Ansible's
//! module drives it. Changed means HEAD moved (`before` → `after`); local modifications stop
//! an update unless `force`.

use drover_host::{ExecOutput, ExecRequest, StatOptions};

use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Git;

static SPEC: ModuleSpec = ModuleSpec {
    name: "git",
    args: &[
        ArgDef::new("repo", ArgKind::Str)
            .required()
            .aliases(&["name"]),
        ArgDef::new("dest", ArgKind::Path).required(),
        ArgDef::new("version", ArgKind::Str),
        ArgDef::new("remote", ArgKind::Str),
        ArgDef::new("clone", ArgKind::Bool),
        ArgDef::new("update", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("depth", ArgKind::Int),
        ArgDef::new("bare", ArgKind::Bool),
        ArgDef::new("recursive", ArgKind::Bool),
        ArgDef::new("single_branch", ArgKind::Bool),
        ArgDef::new("accept_hostkey", ArgKind::Bool),
        ArgDef::new("accept_newhostkey", ArgKind::Bool),
        ArgDef::new("key_file", ArgKind::Path),
        ArgDef::new("ssh_opts", ArgKind::Str),
        ArgDef::new("executable", ArgKind::Path),
        ArgDef::new("umask", ArgKind::Raw),
        ArgDef::new("refspec", ArgKind::Str),
        ArgDef::new("track_submodules", ArgKind::Bool),
        ArgDef::new("verify_commit", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Runs the host's git with the task's environment and the SSH options the task asks for.
struct GitCmd<'a> {
    ctx: &'a Context<'a>,
    exe: String,
    env: std::collections::BTreeMap<String, String>,
}

impl GitCmd<'_> {
    async fn run(&self, cwd: Option<&str>, args: &[&str]) -> Result<ExecOutput, ModuleError> {
        let mut argv = vec![self.exe.clone()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut req = ExecRequest::argv(argv);
        req.env.clone_from(&self.env);
        req.cwd = cwd.map(str::to_string);
        Ok(self.ctx.host.exec(&req).await?)
    }

    /// Runs and fails the task with git's own words if git fails.
    async fn ok(
        &self,
        cwd: Option<&str>,
        args: &[&str],
    ) -> Result<Result<String, Outcome>, ModuleError> {
        let out = self.run(cwd, args).await?;
        if out.rc == 0 {
            return Ok(Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()));
        }
        let cmd = format!("{} {}", self.exe, args.join(" "));
        Ok(Err(Outcome::failed(format!(
            "Failed to run {cmd}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .with("rc", out.rc)
        .with("stdout", String::from_utf8_lossy(&out.stdout).into_owned())
        .with(
            "stderr",
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )))
    }
}

macro_rules! tryout {
    ($e:expr) => {
        match $e? {
            Ok(v) => v,
            Err(failed) => return Ok(failed),
        }
    };
}

fn ssh_command(args: &Args) -> Option<String> {
    let mut parts = vec!["ssh".to_string()];
    if let Some(key) = args.string("key_file") {
        parts.push(format!("-i {key} -o IdentitiesOnly=yes"));
    }
    if args.bool("accept_hostkey", false) {
        parts.push("-o StrictHostKeyChecking=no".into());
    } else if args.bool("accept_newhostkey", false) {
        parts.push("-o StrictHostKeyChecking=accept-new".into());
    }
    if let Some(opts) = args.string("ssh_opts") {
        parts.push(opts);
    }
    (parts.len() > 1).then(|| parts.join(" "))
}

/// The commit `version` names on the remote: a branch, a tag, `HEAD`, or a (possibly
/// abbreviated) commit id, which stands for itself.
async fn remote_commit(
    git: &GitCmd<'_>,
    repo: &str,
    version: &str,
) -> Result<Result<Option<String>, Outcome>, ModuleError> {
    let listing = match git.ok(None, &["ls-remote", repo, version]).await? {
        Ok(l) => l,
        Err(failed) => return Ok(Err(failed)),
    };
    let mut found = None;
    for line in listing.lines() {
        let mut parts = line.split_whitespace();
        let (Some(sha), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        // An annotated tag's peeled commit (`^{}`) wins over the tag object.
        if name == format!("refs/tags/{version}^{{}}") {
            return Ok(Ok(Some(sha.to_string())));
        }
        if name == version
            || name == format!("refs/heads/{version}")
            || name == format!("refs/tags/{version}")
        {
            found.get_or_insert_with(|| sha.to_string());
        }
    }
    Ok(Ok(found))
}

fn looks_like_sha(v: &str) -> bool {
    v.len() >= 7 && v.len() <= 40 && v.chars().all(|c| c.is_ascii_hexdigit())
}

#[async_trait::async_trait]
impl Module for Git {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let repo = args.string("repo").unwrap_or_default();
        let dest = args.string("dest").unwrap_or_default();
        let dest = crate::util::expand_host_path(ctx, &dest).await?;
        let version = args.string("version").unwrap_or_else(|| "HEAD".into());
        let remote = args.string("remote").unwrap_or_else(|| "origin".into());
        let force = args.bool("force", false);
        let bare = args.bool("bare", false);
        if args.bool("verify_commit", false) {
            return Ok(Outcome::failed(
                "verify_commit is not supported by drover's git yet",
            ));
        }
        let mut env = ctx.env.clone();
        env.insert("LC_ALL".into(), "C".into());
        // Never wait for a password prompt that nobody will answer.
        env.insert("GIT_TERMINAL_PROMPT".into(), "0".into());
        if let Some(ssh) = ssh_command(args) {
            env.insert("GIT_SSH_COMMAND".into(), ssh);
        }
        let git = GitCmd {
            ctx,
            exe: args.string("executable").unwrap_or_else(|| "git".into()),
            env,
        };
        let marker = if bare {
            format!("{dest}/HEAD")
        } else {
            format!("{dest}/.git")
        };
        let exists = ctx.host.stat(&marker, StatOptions::default()).await?.exists;
        let depth = args.int("depth").filter(|d| *d > 0).map(|d| d.to_string());

        if !exists {
            if !args.bool("clone", true) {
                return Ok(Outcome::ok()
                    .with("before", minijinja::Value::from(()))
                    .with("after", minijinja::Value::from(())));
            }
            if ctx.check {
                let after = tryout!(remote_commit(&git, &repo, &version).await);
                let mut out = Outcome::changed(true);
                out.set("before", minijinja::Value::from(()));
                out.set("after", after);
                return Ok(out);
            }
            let mut clone: Vec<&str> = vec!["clone"];
            if bare {
                clone.push("--bare");
            }
            if let Some(d) = &depth {
                clone.extend(["--depth", d.as_str()]);
                // A shallow clone of a branch or tag needs it named up front.
                if version != "HEAD" && !looks_like_sha(&version) {
                    clone.extend(["--branch", version.as_str()]);
                }
            }
            if args.bool("single_branch", false) {
                clone.push("--single-branch");
            }
            if args.bool("recursive", true) && !bare {
                clone.push("--recursive");
            }
            clone.extend(["--origin", remote.as_str(), repo.as_str(), dest.as_str()]);
            tryout!(git.ok(None, &clone).await);
            if version != "HEAD" && !bare {
                tryout!(
                    git.ok(Some(&dest), &["checkout", "--force", &version])
                        .await
                );
            }
            let after = tryout!(git.ok(Some(&dest), &["rev-parse", "HEAD"]).await);
            let mut out = Outcome::changed(true);
            out.set("before", minijinja::Value::from(()));
            out.set("after", after);
            return Ok(out);
        }

        let before = tryout!(git.ok(Some(&dest), &["rev-parse", "HEAD"]).await);
        let mut out = Outcome::ok();
        out.set("before", before.clone());
        if !args.bool("update", true) {
            out.set("after", before);
            return Ok(out);
        }
        if !bare {
            let dirty = tryout!(
                git.ok(
                    Some(&dest),
                    &["status", "--porcelain", "--untracked-files=no"]
                )
                .await
            );
            if !dirty.is_empty() {
                if !force {
                    return Ok(Outcome::failed(
                        "Local modifications exist in the destination: ".to_string()
                            + &dest
                            + " (force=no).",
                    )
                    .with("before", before));
                }
                // As Ansible: `force` throws the modifications away, and that is a change.
                if !ctx.check {
                    tryout!(git.ok(Some(&dest), &["reset", "--hard", "HEAD"]).await);
                }
                out.changed = true;
                out.msg = Some("Local modifications exist.".into());
            }
        }
        let current_url = git
            .run(Some(&dest), &["remote", "get-url", &remote])
            .await?;
        let url_changed = String::from_utf8_lossy(&current_url.stdout).trim() != repo;
        out.set("remote_url_changed", url_changed);
        let target = tryout!(remote_commit(&git, &repo, &version).await);
        let target = match target {
            Some(t) => t,
            None if looks_like_sha(&version) => version.clone(),
            None => {
                return Ok(Outcome::failed(format!(
                    "Failed to find version {version} in {repo}"
                )))
            }
        };
        let moves = !before.starts_with(&target) && !target.starts_with(&before);
        if ctx.check {
            out.changed |= moves || url_changed;
            out.set("after", target);
            return Ok(out);
        }
        if url_changed {
            tryout!(
                git.ok(Some(&dest), &["remote", "set-url", &remote, &repo])
                    .await
            );
            out.changed = true;
        }
        if moves {
            let mut fetch: Vec<&str> = vec!["fetch", "--tags", "--force"];
            if let Some(d) = &depth {
                fetch.extend(["--depth", d.as_str()]);
            }
            fetch.push(remote.as_str());
            if let Some(refspec) = args.str("refspec") {
                fetch.push(refspec);
            }
            tryout!(git.ok(Some(&dest), &fetch).await);
            if !bare {
                let branch_ref = format!("refs/remotes/{remote}/{version}");
                let is_branch =
                    git.run(
                        Some(&dest),
                        &["show-ref", "--verify", "--quiet", &branch_ref],
                    )
                    .await?
                    .rc == 0;
                if is_branch {
                    tryout!(
                        git.ok(Some(&dest), &["checkout", "--force", &version])
                            .await
                    );
                    tryout!(git.ok(Some(&dest), &["reset", "--hard", &branch_ref]).await);
                } else {
                    tryout!(git.ok(Some(&dest), &["checkout", "--force", &target]).await);
                }
                if args.bool("recursive", true) {
                    tryout!(
                        git.ok(
                            Some(&dest),
                            &["submodule", "update", "--init", "--recursive"]
                        )
                        .await
                    );
                }
            }
            out.changed = true;
        }
        let after = if bare {
            target
        } else {
            tryout!(git.ok(Some(&dest), &["rev-parse", "HEAD"]).await)
        };
        out.set("after", after);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids() {
        assert!(looks_like_sha("deadbeef"));
        assert!(!looks_like_sha("main"));
        assert!(!looks_like_sha("abc"));
    }
}

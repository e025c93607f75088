//! `dnf`: RPM packages on the Red Hat family, through `rpm -q` and the `dnf` command on the host.
//!
//! `rpm -q` says what is installed (one program run when nothing changes); `dnf` runs only when
//! something must. On hosts without dnf (the Debian family) the task fails saying so.

use drover_host::StatOptions;
use minijinja::Value;

use crate::accounts::{self, Ran};
use crate::util::lines_value;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Dnf;

static SPEC: ModuleSpec = ModuleSpec {
    name: "dnf",
    args: &[
        ArgDef::new("name", ArgKind::List).aliases(&["pkg"]),
        ArgDef::new("state", ArgKind::Str).choices(&[
            "absent",
            "present",
            "installed",
            "removed",
            "latest",
        ]),
        ArgDef::new("update_cache", ArgKind::Bool).aliases(&["expire-cache"]),
        ArgDef::new("enablerepo", ArgKind::List),
        ArgDef::new("disablerepo", ArgKind::List),
        ArgDef::new("exclude", ArgKind::List),
        ArgDef::new("disable_gpg_check", ArgKind::Bool),
        ArgDef::new("autoremove", ArgKind::Bool),
        ArgDef::new("allowerasing", ArgKind::Bool),
        ArgDef::new("install_weak_deps", ArgKind::Bool),
        ArgDef::new("nobest", ArgKind::Bool),
        ArgDef::new("skip_broken", ArgKind::Bool),
        ArgDef::new("releasever", ArgKind::Str),
        ArgDef::new("conf_file", ArgKind::Str),
        ArgDef::new("installroot", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[&["name", "update_cache", "autoremove"]],
    check_mode: true,
};

/// The dnf programs, newest first.
const DNF: &[&str] = &["/usr/bin/dnf5", "/usr/bin/dnf"];

/// Names `rpm -q` reported as not installed (`package NAME is not installed`).
pub(crate) fn not_installed(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("package ")
                .and_then(|r| r.strip_suffix(" is not installed"))
                .map(str::to_string)
        })
        .collect()
}

/// Options every dnf transaction gets from the arguments.
pub(crate) fn options(args: &Args) -> Vec<String> {
    let mut o = vec!["-y".to_string()];
    for (key, flag) in [
        ("enablerepo", "--enablerepo"),
        ("disablerepo", "--disablerepo"),
    ] {
        let list = args.list(key);
        if !list.is_empty() {
            o.push(format!("{flag}={}", list.join(",")));
        }
    }
    let exclude = args.list("exclude");
    if !exclude.is_empty() {
        o.push(format!("--exclude={}", exclude.join(",")));
    }
    for (key, flag) in [
        ("disable_gpg_check", "--nogpgcheck"),
        ("allowerasing", "--allowerasing"),
        ("nobest", "--nobest"),
        ("skip_broken", "--skip-broken"),
    ] {
        if args.bool(key, false) {
            o.push(flag.into());
        }
    }
    if let Some(w) = args.get("install_weak_deps") {
        o.push(format!("--setopt=install_weak_deps={}", w.is_true()));
    }
    for (key, flag) in [
        ("releasever", "--releasever"),
        ("conf_file", "--config"),
        ("installroot", "--installroot"),
    ] {
        if let Some(v) = args.str(key) {
            o.push(format!("{flag}={v}"));
        }
    }
    o
}

fn add_output(out: &mut Outcome, ran: &Ran) {
    let stdout = ran.stdout();
    out.set("rc", ran.out.rc);
    out.set("results", lines_value(&stdout));
    out.set("stdout", stdout);
    out.set("stderr", ran.stderr());
}

#[async_trait::async_trait]
impl Module for Dnf {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let paths: Vec<String> = DNF.iter().map(|p| p.to_string()).collect();
        let found = ctx
            .host
            .stat_many(
                &paths,
                StatOptions {
                    follow: true,
                    checksum: false,
                },
            )
            .await?;
        let Some(dnf) = found
            .iter()
            .zip(DNF)
            .find(|(s, _)| s.exists)
            .map(|(_, p)| *p)
        else {
            return Ok(Outcome::failed(
                "dnf is not available on this host (the dnf module needs /usr/bin/dnf; \
                 on the Debian family use apt or package)",
            ));
        };
        let names: Vec<String> = args
            .list("name")
            .iter()
            .flat_map(|n| n.split(','))
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        let state = args
            .str("state")
            .unwrap_or(if args.has("autoremove") && names.is_empty() {
                "absent"
            } else {
                "present"
            });
        let opts = options(args);
        let mut out = Outcome::ok().with("results", Value::from(Vec::<Value>::new()));

        if args.bool("update_cache", false) && !ctx.check {
            let ran = accounts::run(ctx, accounts::argv(&[dnf, "makecache", "-y"]), &[]).await?;
            if !ran.ok() {
                return Ok(Outcome::failed(ran.failure_text()).with("rc", ran.out.rc));
            }
        }
        if names.is_empty() {
            if args.bool("autoremove", false) {
                let mut argv = vec![dnf.to_string(), "autoremove".into()];
                argv.extend(opts);
                if ctx.check {
                    return Ok(out);
                }
                let ran = accounts::run(ctx, argv, &[]).await?;
                out.changed = ran.stdout().contains("Removed") || ran.stdout().contains("Removing");
                add_output(&mut out, &ran);
                if !ran.ok() {
                    out.failed = true;
                    out.msg = Some(ran.failure_text());
                }
            }
            return Ok(out);
        }

        let mut query = accounts::argv(&["rpm", "-q"]);
        query.extend(names.iter().cloned());
        let q = accounts::run(ctx, query, &[]).await?;
        let missing = not_installed(&q.stdout());
        let installed: Vec<&String> = names.iter().filter(|n| !missing.contains(n)).collect();
        // (dnf verb, packages) transactions, in order.
        let mut steps: Vec<(&str, Vec<String>)> = Vec::new();
        match state {
            "absent" | "removed" => {
                steps.push(("remove", installed.into_iter().cloned().collect()))
            }
            "latest" => {
                steps.push(("install", missing));
                if !installed.is_empty() {
                    let mut argv = vec![dnf.to_string(), "-q".into(), "check-update".into()];
                    argv.extend(installed.iter().map(|s| s.to_string()));
                    let cu = accounts::run(ctx, argv, &[]).await?;
                    // check-update exits 100 when updates are available.
                    if cu.out.rc == 100 {
                        steps.push(("upgrade", installed.iter().map(|s| s.to_string()).collect()));
                    }
                }
            }
            _ => steps.push(("install", missing)),
        }
        steps.retain(|(_, t)| !t.is_empty());
        if steps.is_empty() {
            out.msg = Some("Nothing to do".into());
            return Ok(out);
        }
        out.changed = true;
        if ctx.check {
            let results: Vec<String> = steps
                .iter()
                .flat_map(|(verb, t)| {
                    let what = match *verb {
                        "remove" => "Removed",
                        "upgrade" => "Upgraded",
                        _ => "Installed",
                    };
                    t.iter().map(move |p| format!("{what}: {p}"))
                })
                .collect();
            out.set("results", Value::from(results));
            return Ok(out);
        }
        for (verb, targets) in steps {
            let mut argv = vec![dnf.to_string(), verb.to_string()];
            argv.extend(opts.iter().cloned());
            argv.extend(targets);
            let ran = accounts::run(ctx, argv, &[]).await?;
            add_output(&mut out, &ran);
            if !ran.ok() {
                out.failed = true;
                out.changed = false;
                out.msg = Some(ran.failure_text());
                return Ok(out);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    #[test]
    fn parses_and_builds() {
        assert_eq!(
            not_installed("acl-2.3.1-4.el9.x86_64\npackage nope is not installed\n"),
            vec!["nope"]
        );
        let raw: IndexMap<String, Value> = [
            ("name", Value::from("acl")),
            ("enablerepo", Value::from("epel,crb")),
            ("disable_gpg_check", Value::from(true)),
            ("install_weak_deps", Value::from(false)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let a = SPEC.validate(&raw).unwrap();
        assert_eq!(
            options(&a),
            vec![
                "-y",
                "--enablerepo=epel,crb",
                "--nogpgcheck",
                "--setopt=install_weak_deps=false"
            ]
        );
    }
}

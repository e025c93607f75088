//! `apt`: Debian packages, through `apt-get` and `dpkg-query` on the host (no python-apt).
//!
//! What is installed is read with one `dpkg-query`; `apt-get` runs only when something must
//! change, so an idempotent task costs that one query (plus the cache update when asked for).
//! Where the wanted result depends on the archive (`latest`, `build-dep`, upgrades), a
//! simulated run (`apt-get -s`) says whether anything would be installed or removed.

use std::time::{SystemTime, UNIX_EPOCH};

use drover_host::StatOptions;
use minijinja::Value;

use crate::accounts::{self, Ran};
use crate::util::lines_value;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Apt;

static SPEC: ModuleSpec = ModuleSpec {
    name: "apt",
    args: &[
        ArgDef::new("name", ArgKind::List).aliases(&["package", "pkg"]),
        ArgDef::new("state", ArgKind::Str).choices(&[
            "absent",
            "build-dep",
            "latest",
            "present",
            "fixed",
        ]),
        ArgDef::new("update_cache", ArgKind::Bool).aliases(&["update-cache"]),
        ArgDef::new("update_cache_retries", ArgKind::Int),
        ArgDef::new("update_cache_retry_max_delay", ArgKind::Int),
        ArgDef::new("cache_valid_time", ArgKind::Int),
        ArgDef::new("purge", ArgKind::Bool),
        ArgDef::new("default_release", ArgKind::Str).aliases(&["default-release"]),
        ArgDef::new("install_recommends", ArgKind::Bool).aliases(&["install-recommends"]),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("clean", ArgKind::Bool),
        ArgDef::new("allow_unauthenticated", ArgKind::Bool).aliases(&["allow-unauthenticated"]),
        ArgDef::new("allow_downgrade", ArgKind::Bool).aliases(&[
            "allow-downgrade",
            "allow_downgrades",
            "allow-downgrades",
        ]),
        ArgDef::new("allow_change_held_packages", ArgKind::Bool),
        ArgDef::new("upgrade", ArgKind::Str).choices(&["dist", "full", "no", "safe", "yes"]),
        ArgDef::new("dpkg_options", ArgKind::Str),
        ArgDef::new("deb", ArgKind::Path),
        ArgDef::new("autoremove", ArgKind::Bool),
        ArgDef::new("autoclean", ArgKind::Bool),
        ArgDef::new("only_upgrade", ArgKind::Bool),
        ArgDef::new("fail_on_autoremove", ArgKind::Bool),
        // drover never uses aptitude, so this is always in effect.
        ArgDef::new("force_apt_get", ArgKind::Bool),
        ArgDef::new("lock_timeout", ArgKind::Int),
        ArgDef::new("policy_rc_d", ArgKind::Int),
        // drover needs no python-apt on the host; accepted so that playbooks setting it run.
        ArgDef::new("install_python_apt", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[&["deb", "name", "upgrade"]],
    required_one_of: &[&[
        "autoremove",
        "deb",
        "name",
        "update_cache",
        "upgrade",
        "clean",
        "autoclean",
        "cache_valid_time",
    ]],
    check_mode: true,
};

/// apt writes this after a successful update on hosts with apt's periodic jobs; drover touches
/// it too, so `cache_valid_time` holds even when the lists did not change.
/// For `package`, which validates its arguments to `apt` with the same declaration.
pub(crate) static SPEC_REF: &ModuleSpec = &SPEC;

const UPDATE_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
const LISTS_DIR: &str = "/var/lib/apt/lists";

/// One requested package: `name`, `name=version` or `name=version*` (a version prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PkgSpec {
    pub name: String,
    pub version: Option<String>,
}

impl PkgSpec {
    pub fn parse(s: &str) -> PkgSpec {
        match s.split_once('=') {
            Some((n, v)) if !v.is_empty() => PkgSpec {
                name: n.trim().to_string(),
                version: Some(v.trim().to_string()),
            },
            _ => PkgSpec {
                name: s.trim().trim_end_matches('=').to_string(),
                version: None,
            },
        }
    }

    /// The word for apt-get's command line.
    pub fn apt_word(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }

    fn version_matches(&self, installed: &str) -> bool {
        match &self.version {
            None => true,
            Some(v) => match v.strip_suffix('*') {
                Some(prefix) => installed.starts_with(prefix),
                None => installed == v,
            },
        }
    }

    /// The name without `:arch`, as dpkg-query prints `${Package}`.
    fn bare_name(&self) -> &str {
        self.name.split(':').next().unwrap_or(&self.name)
    }
}

/// A package's state in dpkg's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    pub status: String,
    pub version: String,
}

impl Installed {
    /// dpkg's status is `want error state`; only the state says whether files are there.
    fn is_installed(&self) -> bool {
        self.status.split_whitespace().nth(2) == Some("installed")
    }
    fn has_config(&self) -> bool {
        self.status.ends_with("config-files")
    }
}

/// Parses `dpkg-query -W -f '${Package}\t${Status}\t${Version}\n'` output.
pub(crate) fn parse_dpkg_query(text: &str) -> Vec<(String, Installed)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.to_string();
            let status = f.next()?.to_string();
            let version = f.next().unwrap_or("").to_string();
            Some((name, Installed { status, version }))
        })
        .collect()
}

/// Packages `apt-get -s` would install/upgrade (`Inst`) and remove (`Remv`).
pub(crate) fn simulated_changes(stdout: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.starts_with("Inst ") || l.starts_with("Remv ") || l.starts_with("Purg "))
        .count()
}

/// The options every `apt-get` install/remove gets from the module's arguments.
pub(crate) fn common_options(args: &Args) -> Vec<String> {
    let mut o = vec!["-y".to_string()];
    let dpkg = args
        .str("dpkg_options")
        .unwrap_or("force-confdef,force-confold");
    for opt in dpkg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        o.push("-o".into());
        o.push(format!("Dpkg::Options::=--{opt}"));
    }
    o.push("-o".into());
    o.push(format!(
        "DPkg::Lock::Timeout={}",
        args.int("lock_timeout").unwrap_or(60)
    ));
    if let Some(r) = args.str("default_release") {
        o.extend(["-t".into(), r.into()]);
    }
    match args.get("install_recommends").map(Value::is_true) {
        Some(true) => o.extend(["-o".into(), "APT::Install-Recommends=yes".into()]),
        Some(false) => o.push("--no-install-recommends".into()),
        None => {}
    }
    if args.bool("force", false) {
        o.extend([
            "--allow-unauthenticated".into(),
            "--allow-downgrades".into(),
            "--allow-remove-essential".into(),
            "--allow-change-held-packages".into(),
        ]);
    } else {
        for (key, flag) in [
            ("allow_unauthenticated", "--allow-unauthenticated"),
            ("allow_downgrade", "--allow-downgrades"),
            ("allow_change_held_packages", "--allow-change-held-packages"),
        ] {
            if args.bool(key, false) {
                o.push(flag.into());
            }
        }
    }
    o
}

/// What the package part of a run must do, decided from dpkg's database.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PkgPlan {
    Nothing,
    /// `apt-get install` of these words.
    Install(Vec<String>),
    /// `apt-get remove` of these names.
    Remove(Vec<String>),
    /// The archive decides: simulate first (`latest`, `build-dep`).
    Simulate {
        verb: &'static str,
        words: Vec<String>,
    },
}

pub(crate) fn plan_packages(
    state: &str,
    specs: &[PkgSpec],
    db: &[(String, Installed)],
    purge: bool,
) -> Result<PkgPlan, String> {
    let find = |s: &PkgSpec| {
        db.iter()
            .find(|(n, _)| n == &s.name || n == s.bare_name())
            .map(|(_, i)| i)
    };
    match state {
        "absent" => {
            let names: Vec<String> = specs
                .iter()
                .filter(|s| {
                    find(s).is_some_and(|i| {
                        (i.is_installed() || (purge && i.has_config()))
                            && s.version_matches(&i.version)
                    })
                })
                .map(|s| s.name.clone())
                .collect();
            Ok(if names.is_empty() {
                PkgPlan::Nothing
            } else {
                PkgPlan::Remove(names)
            })
        }
        "latest" => {
            if let Some(s) = specs.iter().find(|s| s.version.is_some()) {
                return Err(format!(
                    "version number inconsistent with state=latest: {}",
                    s.apt_word()
                ));
            }
            Ok(PkgPlan::Simulate {
                verb: "install",
                words: specs.iter().map(PkgSpec::apt_word).collect(),
            })
        }
        "build-dep" => Ok(PkgPlan::Simulate {
            verb: "build-dep",
            words: specs.iter().map(PkgSpec::apt_word).collect(),
        }),
        _ => {
            let words: Vec<String> = specs
                .iter()
                .filter(|s| {
                    !find(s).is_some_and(|i| i.is_installed() && s.version_matches(&i.version))
                })
                .map(PkgSpec::apt_word)
                .collect();
            Ok(if words.is_empty() {
                PkgPlan::Nothing
            } else {
                PkgPlan::Install(words)
            })
        }
    }
}

/// Ansible's message for a package the archive does not know, from apt-get's error.
fn unknown_package(stderr: &str) -> Option<String> {
    stderr.lines().find_map(|l| {
        let rest = l.strip_prefix("E: Unable to locate package ").or_else(|| {
            l.strip_prefix("E: Version '")
                .and_then(|r| r.split_once("' for '"))
                .map(|(_, r)| r.trim_end_matches("' was not found"))
        })?;
        Some(format!(
            "No package matching '{}' is available",
            rest.trim()
        ))
    })
}

struct Runner<'c, 'a> {
    ctx: &'c Context<'a>,
    /// `policy_rc_d`: the exit code of a /usr/sbin/policy-rc.d put in place while apt-get
    /// runs (101 keeps packages from starting services), the previous file restored after.
    policy_rc_d: Option<i64>,
}

impl Runner<'_, '_> {
    async fn run(&self, argv: Vec<String>) -> Result<Ran, ModuleError> {
        accounts::run(
            self.ctx,
            argv,
            &[
                ("DEBIAN_FRONTEND", "noninteractive"),
                ("DEBCONF_NONINTERACTIVE_SEEN", "true"),
            ],
        )
        .await
    }

    async fn apt_get(&self, words: Vec<String>) -> Result<Ran, ModuleError> {
        let mut argv = vec!["apt-get".to_string()];
        argv.extend(words);
        let Some(code) = self.policy_rc_d else {
            return self.run(argv).await;
        };
        let command: Vec<String> = argv.iter().map(|w| crate::util::sh_quote(w)).collect();
        let script = format!(
            "p=/usr/sbin/policy-rc.d; b=; \
             if [ -e \"$p\" ]; then b=$(mktemp) && cp -p \"$p\" \"$b\" || exit 1; fi; \
             printf '#!/bin/sh\\nexit %d\\n' {code} > \"$p\" && chmod 0755 \"$p\" || exit 1; \
             {}; rc=$?; \
             if [ -n \"$b\" ]; then mv \"$b\" \"$p\"; else rm -f \"$p\"; fi; exit $rc",
            command.join(" ")
        );
        self.run(vec!["sh".into(), "-c".into(), script]).await
    }

    /// Seconds since the epoch of the last cache update, 0 when unknown.
    async fn cache_time(&self) -> Result<i64, ModuleError> {
        let st = self
            .ctx
            .host
            .stat_many(
                &[UPDATE_STAMP.to_string(), LISTS_DIR.to_string()],
                StatOptions::default(),
            )
            .await?;
        Ok(st
            .iter()
            .filter(|s| s.exists)
            .map(|s| s.mtime as i64)
            .max()
            .unwrap_or(0))
    }
}

/// The result fields of a finished apt-get run.
fn add_output(out: &mut Outcome, ran: &Ran) {
    let stdout = ran.stdout();
    let stderr = ran.stderr();
    out.set("stdout_lines", lines_value(&stdout));
    out.set("stderr_lines", lines_value(&stderr));
    out.set("stdout", stdout);
    out.set("stderr", stderr);
}

fn failure(out: Outcome, ran: &Ran) -> Outcome {
    let stderr = ran.stderr();
    let msg = unknown_package(&stderr)
        .unwrap_or_else(|| format!("'{}' failed: {}", ran.argv.join(" "), stderr.trim_end()));
    let mut out = out;
    add_output(&mut out, ran);
    out.failed = true;
    out.changed = false;
    out.set("rc", ran.out.rc);
    out.with_msg(msg)
}

#[async_trait::async_trait]
impl Module for Apt {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        run(args, ctx).await
    }
}

pub(crate) async fn run(args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
    let r = Runner {
        ctx,
        policy_rc_d: args.int("policy_rc_d"),
    };
    let mut out = Outcome::ok();
    let mut cache_updated = false;
    let mut cache_time = 0i64;

    if args.bool("update_cache", false) || args.has("cache_valid_time") {
        cache_time = r.cache_time().await?;
        // The controller's clock stands in for the host's: lab and typical hosts are in sync,
        // and an error of a few seconds only matters for tiny validity windows.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let valid = args
            .int("cache_valid_time")
            .is_some_and(|v| v > 0 && cache_time + v > now);
        if !valid {
            if ctx.check {
                cache_updated = true;
            } else {
                // apt retries failed downloads itself; the delay option has no apt-get
                // equivalent and is accepted for compatibility.
                let retries = args.int("update_cache_retries").unwrap_or(5).max(0);
                let ran = r
                    .apt_get(vec![
                        "update".into(),
                        "-q".into(),
                        "-o".into(),
                        format!("Acquire::Retries={retries}"),
                    ])
                    .await?;
                // apt-get update can exit 0 although a source failed; "E:" lines tell.
                if !ran.ok() || ran.stderr().lines().any(|l| l.starts_with("E:")) {
                    let mut f = Outcome::failed(format!(
                        "Failed to update apt cache: {}",
                        ran.stderr().trim_end()
                    ));
                    f.set("rc", ran.out.rc);
                    return Ok(f);
                }
                let _ = r
                    .run(accounts::argv(&[
                        "sh",
                        "-c",
                        "mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp",
                    ]))
                    .await?;
                cache_updated = true;
                cache_time = r.cache_time().await?;
            }
        }
    }
    out.set("cache_updated", cache_updated);
    out.set("cache_update_time", cache_time);
    // A cache update alone is a change; next to packages, only the package work counts.
    let only_cache = !args.has("name") && !args.has("deb") && !args.has("upgrade");
    out.changed = cache_updated && only_cache;

    let names = args.list("name");
    let specs: Vec<PkgSpec> = names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(PkgSpec::parse)
        .collect();
    let state = match args.str("state").unwrap_or("present") {
        "fixed" => "present",
        s => s,
    };
    let mut opts = common_options(args);
    if args.bool("only_upgrade", false) {
        opts.push("--only-upgrade".into());
    }

    if let Some(deb) = args.str("deb") {
        return install_deb(&r, args, deb, opts, out).await;
    }

    if !specs.is_empty() {
        let query = {
            let mut argv = accounts::argv(&[
                "dpkg-query",
                "-W",
                "-f",
                "${Package}\t${Status}\t${Version}\n",
                "--",
            ]);
            argv.extend(specs.iter().map(|s| s.name.clone()));
            r.run(argv).await?
        };
        let db = parse_dpkg_query(&query.stdout());
        let purge = args.bool("purge", false);
        let plan = match plan_packages(state, &specs, &db, purge) {
            Ok(p) => p,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        let autoremove = args.bool("autoremove", false);
        let (verb, mut words, simulate_first) = match plan {
            PkgPlan::Nothing => return Ok(out),
            PkgPlan::Install(w) => ("install", w, false),
            PkgPlan::Remove(w) => ("remove", w, false),
            PkgPlan::Simulate { verb, words } => (verb, words, true),
        };
        let mut argv = vec![verb.to_string()];
        argv.extend(opts);
        if verb == "remove" && purge {
            argv.push("--purge".into());
        }
        if autoremove {
            argv.push("--auto-remove".into());
        }
        argv.append(&mut words);
        if simulate_first || ctx.check {
            let mut sim = vec!["-s".to_string()];
            sim.extend(argv.iter().cloned());
            let ran = r.apt_get(sim).await?;
            if !ran.ok() {
                return Ok(failure(out, &ran));
            }
            if simulate_first && simulated_changes(&ran.stdout()) == 0 {
                return Ok(out);
            }
            if ctx.check {
                out.changed = true;
                add_output(&mut out, &ran);
                return Ok(out);
            }
        }
        let ran = r.apt_get(argv).await?;
        if !ran.ok() {
            return Ok(failure(out, &ran));
        }
        out.changed = true;
        add_output(&mut out, &ran);
        return Ok(out);
    }

    if let Some(kind) = args.str("upgrade").filter(|u| *u != "no") {
        let mut argv = match kind {
            "dist" | "full" => vec!["dist-upgrade".to_string()],
            _ => vec!["upgrade".to_string(), "--with-new-pkgs".to_string()],
        };
        argv.extend(opts);
        if args.bool("autoremove", false) {
            argv.push("--auto-remove".into());
        }
        return simulate_then_run(&r, argv, out, "All packages are up to date.").await;
    }

    if args.bool("autoremove", false) || args.bool("autoclean", false) {
        let verb = if args.bool("autoremove", false) {
            "autoremove"
        } else {
            "autoclean"
        };
        let mut argv = vec![verb.to_string()];
        argv.extend(opts);
        if verb == "autoremove" && args.bool("purge", false) {
            argv.push("--purge".into());
        }
        return simulate_then_run(&r, argv, out, "No packages to remove.").await;
    }

    if args.bool("clean", false) {
        out.changed = true;
        if !ctx.check {
            let ran = r.apt_get(vec!["clean".into()]).await?;
            if !ran.ok() {
                return Ok(failure(out, &ran));
            }
            add_output(&mut out, &ran);
        }
    }
    Ok(out)
}

/// Simulates `argv`; runs it for real only when the simulation installs or removes something.
async fn simulate_then_run(
    r: &Runner<'_, '_>,
    argv: Vec<String>,
    mut out: Outcome,
    nothing_msg: &str,
) -> Result<Outcome, ModuleError> {
    let mut sim = vec!["-s".to_string()];
    sim.extend(argv.iter().cloned());
    let ran = r.apt_get(sim).await?;
    if !ran.ok() {
        return Ok(failure(out, &ran));
    }
    if simulated_changes(&ran.stdout()) == 0 {
        return Ok(out.with_msg(nothing_msg));
    }
    out.changed = true;
    if r.ctx.check {
        add_output(&mut out, &ran);
        return Ok(out);
    }
    let ran = r.apt_get(argv).await?;
    if !ran.ok() {
        return Ok(failure(out, &ran));
    }
    add_output(&mut out, &ran);
    Ok(out)
}

/// `deb:` a package file on the host, installed (with its dependencies) unless that version
/// is already installed.
async fn install_deb(
    r: &Runner<'_, '_>,
    args: &Args,
    deb: &str,
    opts: Vec<String>,
    mut out: Outcome,
) -> Result<Outcome, ModuleError> {
    if deb.contains("://") {
        return Ok(Outcome::failed(format!(
            "deb: downloading {deb} is not supported by drover; fetch it first (get_url) and give the path on the host"
        )));
    }
    let fields = r
        .run(accounts::argv(&[
            "dpkg-deb",
            "-W",
            "--showformat",
            "${Package}\t${Version}",
            deb,
        ]))
        .await?;
    if !fields.ok() {
        return Ok(Outcome::failed(format!(
            "Unable to install package: {}",
            fields.failure_text()
        )));
    }
    let text = fields.stdout();
    let (pkg, version) = text
        .trim_end()
        .split_once('\t')
        .unwrap_or((text.trim(), ""));
    let query = r
        .run(accounts::argv(&[
            "dpkg-query",
            "-W",
            "-f",
            "${Package}\t${Status}\t${Version}\n",
            "--",
            pkg,
        ]))
        .await?;
    let db = parse_dpkg_query(&query.stdout());
    let same = db
        .iter()
        .any(|(n, i)| n == pkg && i.is_installed() && i.version == version);
    if same && !args.bool("force", false) {
        return Ok(out);
    }
    out.changed = true;
    if r.ctx.check {
        return Ok(out);
    }
    // apt-get takes a path to a .deb when it contains a slash.
    let path = if deb.contains('/') {
        deb.to_string()
    } else {
        format!("./{deb}")
    };
    let mut argv = vec!["install".to_string()];
    argv.extend(opts);
    argv.push(path);
    let ran = r.apt_get(argv).await?;
    if !ran.ok() {
        return Ok(failure(out, &ran));
    }
    add_output(&mut out, &ran);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Vec<(String, Installed)> {
        parse_dpkg_query(
            "sl\tinstall ok installed\t5.02-1+b1\nacl\tdeinstall ok config-files\t2.3.1-3\nvim\tunknown ok not-installed\t\n",
        )
    }

    #[test]
    fn specs() {
        assert_eq!(
            PkgSpec::parse("foo=1.0*"),
            PkgSpec {
                name: "foo".into(),
                version: Some("1.0*".into())
            }
        );
        assert_eq!(PkgSpec::parse("foo:amd64").bare_name(), "foo");
    }

    #[test]
    fn plans() {
        let s = |v: &[&str]| v.iter().map(|x| PkgSpec::parse(x)).collect::<Vec<_>>();
        let db = db();
        assert_eq!(
            plan_packages("present", &s(&["sl", "acl", "vim"]), &db, false).unwrap(),
            PkgPlan::Install(vec!["acl".into(), "vim".into()])
        );
        assert_eq!(
            plan_packages("present", &s(&["sl=5.02*"]), &db, false).unwrap(),
            PkgPlan::Nothing
        );
        assert_eq!(
            plan_packages("present", &s(&["sl=6"]), &db, false).unwrap(),
            PkgPlan::Install(vec!["sl=6".into()])
        );
        assert_eq!(
            plan_packages("absent", &s(&["sl", "acl", "vim"]), &db, false).unwrap(),
            PkgPlan::Remove(vec!["sl".into()])
        );
        assert_eq!(
            plan_packages("absent", &s(&["acl"]), &db, true).unwrap(),
            PkgPlan::Remove(vec!["acl".into()])
        );
        assert!(plan_packages("latest", &s(&["sl=1"]), &db, false).is_err());
    }

    #[test]
    fn options_and_messages() {
        let a = SPEC.test_args(&[
            ("name", "sl,cowsay".into()),
            ("install_recommends", false.into()),
            ("default_release", "bookworm-backports".into()),
        ]);
        assert_eq!(a.list("name"), vec!["sl", "cowsay"]);
        let o = common_options(&a);
        assert!(o.contains(&"--no-install-recommends".to_string()), "{o:?}");
        assert!(o.contains(&"Dpkg::Options::=--force-confold".to_string()));
        assert!(o
            .windows(2)
            .any(|w| w[0] == "-t" && w[1] == "bookworm-backports"));
        assert_eq!(
            unknown_package("Reading package lists...\nE: Unable to locate package nope\n"),
            Some("No package matching 'nope' is available".into())
        );
        assert_eq!(
            simulated_changes("NOTE: x\nInst sl (5.02-1+b1 Debian:12)\nConf sl (5.02-1+b1)\n"),
            1
        );
    }
}

//! `package`: the generic package module. It finds the host's package manager (or takes `use`)
//! and hands the request to that manager's module; drover has `apt`, so the Debian family is
//! served and other hosts get a clear failure naming their manager.

use drover_host::StatOptions;
use indexmap::IndexMap;
use minijinja::Value;

use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Package;

static SPEC: ModuleSpec = ModuleSpec {
    name: "package",
    args: &[
        ArgDef::new("name", ArgKind::List).required(),
        // Documented as required, but Ansible's package action hands the arguments to the
        // backend unchecked, whose `state` defaults to present; playbooks rely on that.
        ArgDef::new("state", ArgKind::Str),
        ArgDef::new("use", ArgKind::Str),
        // Passed through to the backend, as Ansible's package action does with any argument
        // the backend knows; these are apt's.
        ArgDef::new("update_cache", ArgKind::Raw),
        ArgDef::new("cache_valid_time", ArgKind::Raw),
        ArgDef::new("install_recommends", ArgKind::Raw),
        ArgDef::new("purge", ArgKind::Raw),
        ArgDef::new("autoremove", ArgKind::Raw),
        ArgDef::new("default_release", ArgKind::Raw),
        ArgDef::new("force", ArgKind::Raw),
        ArgDef::new("allow_downgrade", ArgKind::Raw),
        ArgDef::new("allow_unauthenticated", ArgKind::Raw),
        ArgDef::new("dpkg_options", ArgKind::Raw),
        ArgDef::new("lock_timeout", ArgKind::Raw),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Package managers by the program that identifies them, in the order Ansible's fact
/// gathering prefers them.
const MANAGERS: &[(&str, &str)] = &[
    ("/usr/bin/apt-get", "apt"),
    ("/usr/bin/dnf5", "dnf5"),
    ("/usr/bin/dnf", "dnf"),
    ("/usr/bin/yum", "yum"),
    ("/usr/bin/zypper", "zypper"),
    ("/sbin/apk", "apk"),
    ("/usr/bin/pacman", "pacman"),
    ("/usr/sbin/pkg", "pkgng"),
    ("/usr/bin/emerge", "portage"),
];

async fn detect(ctx: &Context<'_>) -> Result<Option<&'static str>, ModuleError> {
    let paths: Vec<String> = MANAGERS.iter().map(|(p, _)| p.to_string()).collect();
    let st = ctx
        .host
        .stat_many(
            &paths,
            StatOptions {
                follow: true,
                checksum: false,
            },
        )
        .await?;
    Ok(st
        .iter()
        .zip(MANAGERS)
        .find(|(s, _)| s.exists)
        .map(|(_, (_, name))| *name))
}

/// The backend's state for the generic one (`installed`/`removed` are old spellings).
fn backend_state(state: &str) -> &str {
    match state {
        "installed" => "present",
        "removed" => "absent",
        s => s,
    }
}

#[async_trait::async_trait]
impl Module for Package {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let manager = match args.str("use").filter(|u| *u != "auto") {
            Some(u) => Some(u.to_string()),
            None => detect(ctx).await?.map(str::to_string),
        };
        let Some(manager) = manager else {
            return Ok(Outcome::failed(
                "Could not detect which package manager to use. Try gathering facts or setting \
                 the \"use\" option.",
            ));
        };
        match manager.as_str() {
            "apt" | "ansible.builtin.apt" | "ansible.legacy.apt" => {
                let mut raw: IndexMap<String, Value> = IndexMap::new();
                raw.insert("name".into(), Value::from(args.list("name")));
                raw.insert(
                    "state".into(),
                    Value::from(backend_state(args.str("state").unwrap_or("present"))),
                );
                for (k, v) in args.iter() {
                    if !matches!(k, "name" | "state" | "use") {
                        raw.insert(k.to_string(), v.clone());
                    }
                }
                let apt_args = crate::apt::SPEC_REF.validate(&raw)?;
                crate::apt::run(&apt_args, ctx).await
            }
            other => Ok(Outcome::failed(format!(
                "package: the package manager of this host is '{other}', which drover does not \
                 support yet (drover has apt, for the Debian family)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_arguments_pass_validation() {
        let raw: IndexMap<String, Value> = [
            ("name", Value::from("sl")),
            ("state", Value::from("present")),
            ("update_cache", Value::from(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let a = SPEC.validate(&raw).unwrap();
        assert!(a.get("update_cache").is_some_and(Value::is_true));
    }

    #[test]
    fn states() {
        assert_eq!(backend_state("installed"), "present");
        assert_eq!(backend_state("removed"), "absent");
        assert_eq!(backend_state("latest"), "latest");
    }
}

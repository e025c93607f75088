//! `service`: picks the host's service manager, as Ansible's `service` action does, and on
//! systemd hosts runs the `systemd` module with the same arguments (those systemd has no use
//! for are dropped with Ansible's warning). Other service managers are refused with a clear
//! message rather than guessed at.

use indexmap::IndexMap;
use minijinja::Value;

use crate::systemd::{run_systemd, SYSTEMD_ARGS};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Service;

static SPEC: ModuleSpec = ModuleSpec {
    name: "service",
    args: &[
        ArgDef::new("name", ArgKind::Str).required(),
        ArgDef::new("state", ArgKind::Str).choices(&[
            "reloaded",
            "restarted",
            "started",
            "stopped",
        ]),
        ArgDef::new("enabled", ArgKind::Bool),
        ArgDef::new("sleep", ArgKind::Int),
        ArgDef::new("pattern", ArgKind::Str),
        ArgDef::new("runlevel", ArgKind::Str),
        ArgDef::new("arguments", ArgKind::Str).aliases(&["args"]),
        ArgDef::new("use", ArgKind::Str),
        // Ansible passes the task's arguments on to the chosen module unchecked, so systemd's
        // own options work through `service` on systemd hosts.
        ArgDef::new("masked", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("daemon_reload", ArgKind::Bool).aliases(&["daemon-reload"]),
        ArgDef::new("daemon_reexec", ArgKind::Bool).aliases(&["daemon-reexec"]),
        ArgDef::new("scope", ArgKind::Str).choices(&["system", "user", "global"]),
        ArgDef::new("no_block", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// `systemd`'s spec for the arguments `service` hands on (its own name in errors).
static AS_SYSTEMD: ModuleSpec = ModuleSpec {
    name: "systemd",
    args: SYSTEMD_ARGS,
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[&[
        "state",
        "enabled",
        "masked",
        "daemon_reload",
        "daemon_reexec",
    ]],
    check_mode: true,
};

/// Arguments of `service` that mean nothing to systemd.
const UNUSED_BY_SYSTEMD: &[&str] = &["pattern", "runlevel", "sleep", "arguments"];

#[async_trait::async_trait]
impl Module for Service {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let manager = match args.str("use").map(str::to_lowercase) {
            Some(m) if m != "auto" => m,
            _ => {
                let st = ctx
                    .host
                    .stat("/run/systemd/system", Default::default())
                    .await?;
                if st.exists {
                    "systemd".to_string()
                } else {
                    "service".to_string()
                }
            }
        };
        if manager != "systemd" {
            return Ok(Outcome::failed(format!(
                "drover's service module drives systemd only; this host's service manager is '{manager}'"
            )));
        }
        let mut warnings = Vec::new();
        let mut raw: IndexMap<String, Value> = IndexMap::new();
        for (name, value) in args.iter() {
            if name == "use" {
                continue;
            }
            if UNUSED_BY_SYSTEMD.contains(&name) {
                warnings.push(format!(
                    "Ignoring \"{name}\" as it is not used in \"systemd\""
                ));
                continue;
            }
            raw.insert(name.to_string(), value.clone());
        }
        let sd_args = AS_SYSTEMD.validate(&raw)?;
        let mut out = run_systemd(&sd_args, ctx).await?;
        warnings.append(&mut out.warnings);
        out.warnings = warnings;
        Ok(out)
    }
}

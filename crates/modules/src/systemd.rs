//! `systemd` / `systemd_service`: units through `systemctl`, and the shared engine `service` uses
//! on systemd hosts.
//!
//! The unit's state is read in one round trip (`systemctl show`, `is-enabled` and the SysV
//! script check in one shell run), so an unchanged unit costs one exec.

use std::collections::BTreeMap;

use minijinja::Value;

use crate::accounts::Ran;
use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Systemd;
pub struct SystemdService;

/// The arguments both names take.
pub(crate) const SYSTEMD_ARGS: &[ArgDef] = &[
    ArgDef::new("name", ArgKind::Str).aliases(&["service", "unit"]),
    ArgDef::new("state", ArgKind::Str).choices(&["reloaded", "restarted", "started", "stopped"]),
    ArgDef::new("enabled", ArgKind::Bool),
    ArgDef::new("force", ArgKind::Bool),
    ArgDef::new("masked", ArgKind::Bool),
    ArgDef::new("daemon_reload", ArgKind::Bool).aliases(&["daemon-reload"]),
    ArgDef::new("daemon_reexec", ArgKind::Bool).aliases(&["daemon-reexec"]),
    ArgDef::new("scope", ArgKind::Str).choices(&["system", "user", "global"]),
    ArgDef::new("no_block", ArgKind::Bool),
];

const ONE_OF: &[&[&str]] = &[&[
    "state",
    "enabled",
    "masked",
    "daemon_reload",
    "daemon_reexec",
]];

static SPEC: ModuleSpec = ModuleSpec {
    name: "systemd",
    args: SYSTEMD_ARGS,
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: ONE_OF,
    check_mode: true,
};

static SPEC_SERVICE: ModuleSpec = ModuleSpec {
    name: "systemd_service",
    args: SYSTEMD_ARGS,
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: ONE_OF,
    check_mode: true,
};

#[async_trait::async_trait]
impl Module for Systemd {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        run_systemd(args, ctx).await
    }
}

#[async_trait::async_trait]
impl Module for SystemdService {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC_SERVICE
    }
    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        run_systemd(args, ctx).await
    }
}

/// `systemctl show` output as a map. Values span lines only for `Exec*` keys whose value opens
/// with `{` (systemd prints command lines that way); any other value is one line, even if it
/// starts with a brace (a `Description=` may).
pub(crate) fn parse_show(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut pending: Option<(String, Vec<String>)> = None;
    for line in text.split('\n') {
        if let Some((key, mut parts)) = pending.take() {
            parts.push(line.to_string());
            if line.trim_end().ends_with('}') {
                map.insert(key, parts.join("\n").trim().to_string());
            } else {
                pending = Some((key, parts));
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.starts_with("Exec") && v.trim_start().starts_with('{') && !v.trim_end().ends_with('}')
        {
            pending = Some((k.to_string(), vec![v.to_string()]));
            continue;
        }
        map.insert(k.to_string(), v.trim().to_string());
    }
    map
}

/// systemctl's answer when it declines a request (seen in containers and chroots); no
/// property output then.
fn request_ignored(out: &str) -> bool {
    !out.contains('=') && (out.contains("ignoring request") || out.contains("ignoring command"))
}

const MARK: &str = "@@drover-systemd@@";

/// What one probe learnt about a unit.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    pub status: BTreeMap<String, String>,
    pub show_ok: bool,
    pub is_enabled: String,
    pub is_enabled_rc: i32,
    pub initd: bool,
    /// A chroot, or `SYSTEMD_OFFLINE=1`: systemd cannot answer about running units.
    pub offline: bool,
}

/// Splits the probe script's output into its sections.
pub(crate) fn parse_probe(text: &str) -> Probe {
    let mut probe = Probe::default();
    let mut sections = text.split(MARK);
    let show = sections.next().unwrap_or_default();
    let show_rc: i32 = sections
        .next()
        .map(|s| s.trim().parse().unwrap_or(1))
        .unwrap_or(1);
    let enabled = sections.next().unwrap_or_default();
    probe.is_enabled_rc = sections
        .next()
        .map(|s| s.trim().parse().unwrap_or(1))
        .unwrap_or(1);
    probe.initd = sections.next().is_some_and(|s| s.trim() == "initd");
    probe.offline = sections.next().is_some_and(|s| s.trim() == "offline");
    // systemctl says it ignores the request on stderr (which the probe drops), with empty
    // output: no properties at all means the same.
    probe.show_ok = show_rc == 0 && show.contains('=') && !request_ignored(show);
    if probe.show_ok {
        probe.status = parse_show(show);
    }
    probe.is_enabled = enabled.trim().to_string();
    probe
}

/// The `systemctl` command with the scope and option switches, as shell words.
fn systemctl(args: &Args) -> String {
    let mut cmd = String::from("systemctl");
    match args.str("scope") {
        Some("user") => cmd.push_str(" --user"),
        Some("global") => cmd.push_str(" --global"),
        _ => {}
    }
    if args.bool("no_block", false) {
        cmd.push_str(" --no-block");
    }
    if args.bool("force", false) {
        cmd.push_str(" --force");
    }
    cmd
}

/// Runs a shell script with the C locale and, for user scope, a runtime dir systemctl can find.
async fn sh(ctx: &Context<'_>, script: &str) -> Result<Ran, ModuleError> {
    let full = format!(
        "if [ -z \"${{XDG_RUNTIME_DIR:-}}\" ]; then XDG_RUNTIME_DIR=/run/user/$(id -u); export XDG_RUNTIME_DIR; fi\n{script}"
    );
    crate::accounts::run(
        ctx,
        vec!["/bin/sh".into(), "-c".into(), full],
        &[("SYSTEMD_PAGER", ""), ("SYSTEMD_COLORS", "0")],
    )
    .await
}

fn probe_script(sc: &str, unit: &str) -> String {
    let q = sh_quote(unit);
    format!(
        "{sc} show {q} 2>/dev/null; printf '\\n{MARK}%s{MARK}' \"$?\"; \
         {sc} is-enabled {q} -l 2>/dev/null; printf '{MARK}%s{MARK}' \"$?\"; \
         if [ -e /etc/init.d/{q} ]; then printf initd; fi; printf '{MARK}'; \
         if [ \"${{SYSTEMD_OFFLINE:-}}\" = 1 ] || [ -n \"${{debian_chroot:-}}\" ] || \
            {{ [ -e /proc/1/root/. ] && ! [ / -ef /proc/1/root/. ]; }}; then printf offline; fi"
    )
}

/// Whether systemd is offline for this task (`SYSTEMD_OFFLINE=1`) or the host is a chroot.
async fn offline_env(ctx: &Context<'_>) -> Result<bool, ModuleError> {
    let r = sh(ctx, "[ \"${SYSTEMD_OFFLINE:-}\" = 1 ] || [ -n \"${debian_chroot:-}\" ] || { [ -e /proc/1/root/. ] && ! [ / -ef /proc/1/root/. ]; }").await?;
    Ok(r.ok())
}

fn is_running(status: &BTreeMap<String, String>) -> bool {
    matches!(
        status.get("ActiveState").map(String::as_str),
        Some("active" | "activating")
    )
}

fn missing(unit: &str) -> Outcome {
    Outcome::failed(format!("Could not find the requested service {unit}: host"))
}

fn status_value(status: &BTreeMap<String, String>) -> Value {
    Value::from(status.clone())
}

pub(crate) async fn run_systemd(args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
    let unit = args.string("name");
    for needs in ["state", "enabled", "masked"] {
        if args.has(needs) && unit.is_none() {
            return Ok(Outcome::failed(format!(
                "missing parameter(s) required by '{needs}': name"
            )));
        }
    }
    if let Some(u) = &unit {
        if let Some(g) = ["*", "?", "["].iter().find(|g| u.contains(**g)) {
            return Ok(Outcome::failed(format!(
                "This module does not currently support using glob patterns, found '{g}' in service name: {u}"
            )));
        }
    }
    let sc = systemctl(args);
    let mut out = Outcome::ok();
    out.set(
        "name",
        unit.clone().map(Value::from).unwrap_or(Value::from(())),
    );
    out.set(
        "status",
        Value::from_iter(std::iter::empty::<(Value, Value)>()),
    );

    for (arg, verb) in [
        ("daemon_reload", "daemon-reload"),
        ("daemon_reexec", "daemon-reexec"),
    ] {
        if args.bool(arg, false) && !ctx.check {
            let ran = sh(ctx, &format!("{sc} {verb}")).await?;
            if !ran.ok() && offline_env(ctx).await? {
                out.warnings.push(format!("{verb} failed, but target is a chroot or systemd is offline. Continuing. Error was: {} / {}", ran.out.rc, ran.stderr()));
            } else if !ran.ok() {
                return Ok(Outcome::failed(format!(
                    "failure {} during {verb}: {}",
                    ran.out.rc,
                    ran.stderr()
                )));
            }
        }
    }
    let Some(unit) = unit else {
        return Ok(out);
    };
    let q = sh_quote(&unit);
    let ran = sh(ctx, &probe_script(&sc, &unit)).await?;
    let probe = parse_probe(&ran.stdout());
    let status = probe.status;
    let load = status.get("LoadState").map(String::as_str);
    let mut is_systemd = load.is_some_and(|l| l != "not-found");
    let masked_now = load == Some("masked");
    if is_systemd && !masked_now {
        if let Some(err) = status.get("LoadError") {
            return Ok(Outcome::failed(format!(
                "Error loading unit file '{unit}': {err}"
            )));
        }
    }
    if !probe.show_ok {
        is_systemd = matches!(
            probe.is_enabled.as_str(),
            "enabled"
                | "enabled-runtime"
                | "linked"
                | "linked-runtime"
                | "masked"
                | "masked-runtime"
                | "static"
                | "indirect"
                | "disabled"
                | "generated"
                | "transient"
        );
    }
    let found = is_systemd || probe.initd;
    if probe.initd && !is_systemd {
        out.warnings.push(format!(
            "The service ({unit}) is actually an init script but the system is managed by systemd"
        ));
    }
    out.set("status", status_value(&status));
    let mut is_enabled = (probe.is_enabled.clone(), probe.is_enabled_rc);

    if let Some(want) = args.get("masked").map(Value::is_true) {
        let masked = is_enabled.0 == "masked";
        if masked != want {
            out.changed = true;
            let action = if want { "mask" } else { "unmask" };
            if !ctx.check {
                let r = sh(ctx, &format!("{sc} {action} {q}")).await?;
                if !r.ok() {
                    if !found {
                        return Ok(missing(&unit));
                    }
                    return Ok(Outcome::failed(format!(
                        "Failed to {action} the service ({unit}): {}",
                        r.stderr().trim()
                    )));
                }
                // Unmasking changes what is-enabled says; read it again for `enabled`.
                let again = sh(ctx, &format!("{sc} is-enabled {q} -l")).await?;
                is_enabled = (again.stdout().trim().to_string(), again.out.rc);
            }
        }
    }

    if let Some(want) = args.get("enabled").map(Value::is_true) {
        if !found {
            return Ok(missing(&unit));
        }
        // A transient or indirect enablement is not the permanent one asked for.
        let enabled = is_enabled.1 == 0
            && !matches!(
                is_enabled.0.as_str(),
                "enabled-runtime" | "indirect" | "alias"
            );
        out.set("enabled", enabled);
        if enabled != want {
            out.changed = true;
            let action = if want { "enable" } else { "disable" };
            if !ctx.check {
                let r = sh(ctx, &format!("{sc} {action} {q}")).await?;
                if !r.ok() {
                    let mut f = Outcome::failed(format!(
                        "Unable to {action} service {unit}: {}{}",
                        r.stdout(),
                        r.stderr()
                    ));
                    f.data = out.data;
                    return Ok(f);
                }
            }
            out.set("enabled", want);
        }
    }

    if let Some(want) = args.string("state") {
        if !found {
            return Ok(missing(&unit));
        }
        out.set("state", want.as_str());
        if status.contains_key("ActiveState") {
            let running = is_running(&status);
            let action = match want.as_str() {
                "started" => (!running).then_some("start"),
                "stopped" => {
                    let deactivating =
                        status.get("ActiveState").map(String::as_str) == Some("deactivating");
                    (running || deactivating).then_some("stop")
                }
                other => {
                    out.set("state", "started");
                    Some(if !running {
                        "start"
                    } else if other == "reloaded" {
                        "reload"
                    } else {
                        "restart"
                    })
                }
            };
            if let Some(action) = action {
                out.changed = true;
                if !ctx.check {
                    let r = sh(ctx, &format!("{sc} {action} {q}")).await?;
                    if !r.ok() {
                        let mut f = Outcome::failed(format!(
                            "Unable to {action} service {unit}: {}",
                            r.stderr()
                        ));
                        f.data = out.data;
                        return Ok(f);
                    }
                }
            }
        } else if probe.offline {
            out.warnings.push("Target is a chroot or systemd is offline. This can lead to false positives or prevent the init system tools from working.".into());
        } else {
            let mut f = Outcome::failed("Service is in unknown state");
            f.set("status", status_value(&status));
            return Ok(f);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output() {
        let text = "Id=cron.service\nDescription={ weird\nExecStart={ path=/usr/sbin/cron ; argv[]=/usr/sbin/cron -f ;\n  status=0/0 }\nActiveState=active\nnoequals\n";
        let m = parse_show(text);
        assert_eq!(m["Id"], "cron.service");
        assert_eq!(m["Description"], "{ weird");
        assert!(m["ExecStart"].contains("argv[]=/usr/sbin/cron"));
        assert!(m["ExecStart"].ends_with('}'));
        assert_eq!(m["ActiveState"], "active");
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn probe_sections() {
        let text = format!(
            "Id=x.service\nLoadState=loaded\n\n{MARK}0{MARK}disabled\n{MARK}1{MARK}initd{MARK}offline"
        );
        let p = parse_probe(&text);
        assert!(p.show_ok);
        assert_eq!(p.status["LoadState"], "loaded");
        assert_eq!(p.is_enabled, "disabled");
        assert_eq!(p.is_enabled_rc, 1);
        assert!(p.initd);
        assert!(p.offline);
        let ignored = format!("Running in chroot, ignoring request.\n{MARK}0{MARK}{MARK}1{MARK}");
        let p = parse_probe(&ignored);
        assert!(!p.show_ok);
        assert!(p.status.is_empty());
        assert!(!p.initd);
    }
}

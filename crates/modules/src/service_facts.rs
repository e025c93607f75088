//! `service_facts`: systemd's services as the fact `services`, each with its state (running,
//! stopped, ...) and status (enabled, disabled, static, masked, ...), as Ansible reports them.

use indexmap::IndexMap;
use minijinja::Value;

use crate::accounts;
use crate::util::sh_quote;
use crate::{Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct ServiceFacts;

static SPEC: ModuleSpec = ModuleSpec {
    name: "service_facts",
    args: &[],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const BAD_STATES: &[&str] = &["not-found", "masked", "failed"];

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Service {
    pub state: String,
    /// None for SysV init scripts, which have no enablement to report.
    pub status: Option<String>,
    pub source: &'static str,
}

/// `service --status-all`: `[ + ]` runs, `[ - ]` does not, `[ ? ]` cannot tell (left out, as
/// Ansible leaves it out).
pub(crate) fn from_sysv(text: &str, into: &mut IndexMap<String, Service>) {
    for line in text.lines() {
        let line = line.trim_start();
        let state = if line.starts_with("[ + ]") {
            "running"
        } else if line.starts_with("[ - ]") {
            "stopped"
        } else {
            continue;
        };
        let name = line[5..].trim();
        if name.is_empty() {
            continue;
        }
        into.insert(
            name.to_string(),
            Service {
                state: state.into(),
                status: None,
                source: "sysv",
            },
        );
    }
}

/// `systemctl list-units --type service --all --plain`: a unit runs when its sub-state is
/// `running`; its status is its load state, or the first bad state among its fields.
pub(crate) fn from_units(text: &str, into: &mut IndexMap<String, Service>) {
    for line in text.lines().filter(|l| l.contains(".service")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let status = BAD_STATES
            .iter()
            .find(|b| f[..f.len() - 1].contains(b))
            .map_or(f[2], |b| *b);
        into.insert(
            f[0].to_string(),
            Service {
                state: if f[3] == "running" {
                    "running"
                } else {
                    "stopped"
                }
                .to_string(),
                status: Some(status.to_string()),
                source: "systemd",
            },
        );
    }
}

/// `systemctl list-unit-files --type service`: the enablement of units already listed (unless
/// a bad state was found), and the units that are not loaded, whose state must be asked for.
pub(crate) fn from_unit_files(text: &str, into: &mut IndexMap<String, Service>) -> Vec<String> {
    let mut unlisted = Vec::new();
    for line in text.lines().filter(|l| l.contains(".service")) {
        let mut f = line.split_whitespace();
        let (Some(name), Some(status)) = (f.next(), f.next()) else {
            continue;
        };
        // A sysv script of the same name is another entry (`cron` beside `cron.service`).
        match into.get_mut(name) {
            Some(s) if !BAD_STATES.contains(&s.status.as_deref().unwrap_or_default()) => {
                s.status = Some(status.to_string())
            }
            Some(_) => {}
            None => {
                unlisted.push(name.to_string());
                into.insert(
                    name.to_string(),
                    Service {
                        state: "unknown".into(),
                        status: Some(status.to_string()),
                        source: "systemd",
                    },
                );
            }
        }
    }
    unlisted
}

/// `systemctl show -p Id -p ActiveState a b ...`: blocks separated by blank lines.
pub(crate) fn active_states(text: &str, into: &mut IndexMap<String, Service>, asked: &[String]) {
    for (block, name) in text.split("\n\n").zip(asked) {
        if let Some(state) = block
            .lines()
            .find_map(|l| l.strip_prefix("ActiveState="))
            .filter(|s| !s.is_empty())
        {
            if let Some(s) = into.get_mut(name) {
                s.state = state.trim().to_string();
            }
        }
    }
}

#[async_trait::async_trait]
impl Module for ServiceFacts {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, _args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        const SEP: &str = "--drover-service-facts--";
        // SysV scripts as `service` lists them (unless chkconfig or OpenRC own them), then
        // systemd's units, in one round trip.
        let script = format!(
            "if command -v service >/dev/null 2>&1 && ! command -v chkconfig >/dev/null 2>&1 \
                && ! command -v rc-status >/dev/null 2>&1; then service --status-all 2>/dev/null; fi; \
             echo {SEP}; \
             command -v systemctl >/dev/null && [ -d /run/systemd/system ] || exit 3; \
             systemctl list-units --no-pager --type service --all --plain; echo {SEP}; \
             systemctl list-unit-files --no-pager --type service --all"
        );
        let ran = accounts::run(ctx, vec!["sh".into(), "-c".into(), script], &[]).await?;
        let out = ran.stdout();
        let mut services = IndexMap::new();
        let mut warnings = Vec::new();
        let mut parts = out.split(SEP);
        from_sysv(parts.next().unwrap_or_default(), &mut services);
        if ran.out.rc == 0 {
            from_units(parts.next().unwrap_or_default(), &mut services);
            let unlisted: Vec<String> =
                from_unit_files(parts.next().unwrap_or_default(), &mut services)
                    .into_iter()
                    // A template (`getty@.service`) has no state, and naming one fails the query.
                    .filter(|u| !u.ends_with("@.service"))
                    .collect();
            if !unlisted.is_empty() {
                let quoted: Vec<String> = unlisted.iter().map(|u| sh_quote(u)).collect();
                let show = accounts::run(
                    ctx,
                    vec![
                        "sh".into(),
                        "-c".into(),
                        format!("systemctl show -p ActiveState {}", quoted.join(" ")),
                    ],
                    &[],
                )
                .await?;
                active_states(&show.stdout(), &mut services, &unlisted);
            }
        } else if ran.out.rc != 3 {
            warnings.push(format!(
                "Could not list units from systemd: {}",
                String::from_utf8_lossy(&ran.out.stderr).trim()
            ));
        }
        if services.is_empty() {
            let mut o = Outcome::ok().with_msg(
                "Failed to find any services. This can be due to privileges or some other configuration issue.",
            );
            o.skipped = true;
            o.warnings = warnings;
            return Ok(o);
        }
        let services = Value::from_pairs(services.into_iter().map(|(name, s)| {
            let mut fields = vec![
                ("name", Value::from(name.as_str())),
                ("state", Value::from(s.state)),
            ];
            if let Some(status) = s.status {
                fields.push(("status", Value::from(status)));
            }
            fields.push(("source", Value::from(s.source)));
            (name, Value::from_pairs(fields))
        }));
        let mut o =
            Outcome::ok().with("ansible_facts", Value::from_pairs([("services", services)]));
        o.warnings = warnings;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_then_unit_files() {
        let mut s = IndexMap::new();
        from_units(
            "  UNIT LOAD ACTIVE SUB DESCRIPTION\n\
             cron.service loaded active running Regular background program processing daemon\n\
             ssh.service loaded active running OpenBSD Secure Shell server\n\
             bad.service not-found inactive dead bad.service\n\
             apt-daily.service masked inactive dead apt-daily.service\n\
             \n3 loaded units listed.\n",
            &mut s,
        );
        assert_eq!(s["cron.service"].state, "running");
        assert_eq!(s["bad.service"].status.as_deref(), Some("not-found"));
        assert_eq!(s["apt-daily.service"].status.as_deref(), Some("masked"));
        let unlisted = from_unit_files(
            "UNIT FILE STATE VENDOR PRESET\n\
             cron.service enabled enabled\n\
             apt-daily.service masked enabled\n\
             rsync.service disabled enabled\n\
             \n4 unit files listed.\n",
            &mut s,
        );
        assert_eq!(s["cron.service"].status.as_deref(), Some("enabled"));
        assert_eq!(s["apt-daily.service"].status.as_deref(), Some("masked"));
        assert_eq!(unlisted, vec!["rsync.service".to_string()]);
        active_states("ActiveState=inactive\n", &mut s, &unlisted);
        assert_eq!(
            s["rsync.service"],
            Service {
                state: "inactive".into(),
                status: Some("disabled".into()),
                source: "systemd",
            }
        );
        from_sysv(" [ + ]  cron\n [ - ]  procps\n [ ? ]  odd\n", &mut s);
        assert_eq!(s["cron"].state, "running");
        assert_eq!(s["procps"].state, "stopped");
        assert!(!s.contains_key("odd"));
        assert_eq!(s["cron"].status, None);
    }
}

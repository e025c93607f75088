//! `hostname`: the host's permanent and running names.
//!
//! Strategies: `systemd` (and `debian`, which Ansible maps to it) goes through `hostnamectl`;
//! `generic` writes `/etc/hostname` and sets the running name with `hostname`. Without `use`,
//! a systemd-managed host gets `systemd` and any other Linux host `generic`. Both names (and the
//! host's FQDN) are read in one shell run, so an unchanged host costs one round trip.

use minijinja::Value;

use crate::accounts::Ran;
use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, FileDiff, Module, ModuleError, ModuleSpec, Outcome};

pub struct Hostname;

static SPEC: ModuleSpec = ModuleSpec {
    name: "hostname",
    args: &[
        ArgDef::new("name", ArgKind::Str).required(),
        ArgDef::new("use", ArgKind::Str).choices(&[
            "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd",
            "openrc", "redhat", "sles", "solaris", "systemd",
        ]),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Systemd,
    Generic,
}

const MARK: &str = "@@drover-hostname@@";

/// The probe: which strategy applies (when not chosen), the running and permanent names, and
/// the FQDN as the resolver gives it.
fn probe_script(strategy: Option<Strategy>) -> String {
    let pick = match strategy {
        Some(Strategy::Systemd) => "s=systemd".to_string(),
        Some(Strategy::Generic) => "s=generic".to_string(),
        None => "if [ -d /run/systemd/system ]; then s=systemd; else s=generic; fi".to_string(),
    };
    format!(
        "{pick}\n\
         if [ $s = systemd ]; then\n\
           cur=$(hostnamectl --transient status) || exit 3\n\
           perm=$(hostnamectl --static status) || exit 3\n\
         else\n\
           cur=$(hostname) || exit 3\n\
           perm=$(cat /etc/hostname 2>/dev/null | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')\n\
         fi\n\
         fqdn=$(hostname -f 2>/dev/null || hostname)\n\
         printf '%s{MARK}%s{MARK}%s{MARK}%s' \"$s\" \"$cur\" \"$perm\" \"$fqdn\"\n"
    )
}

struct Names {
    strategy: Strategy,
    current: String,
    permanent: String,
    fqdn: String,
}

fn parse_probe(text: &str) -> Option<Names> {
    let parts: Vec<&str> = text.split(MARK).collect();
    let [s, cur, perm, fqdn] = parts.as_slice() else {
        return None;
    };
    Some(Names {
        strategy: if s.trim() == "systemd" {
            Strategy::Systemd
        } else {
            Strategy::Generic
        },
        current: cur.trim().to_string(),
        permanent: perm.trim().to_string(),
        fqdn: fqdn.trim().to_string(),
    })
}

async fn sh(ctx: &Context<'_>, script: String) -> Result<Ran, ModuleError> {
    crate::accounts::run(ctx, vec!["/bin/sh".into(), "-c".into(), script], &[]).await
}

fn command_failed(r: &Ran) -> Outcome {
    Outcome::failed(format!(
        "Command failed rc={}, out={}, err={}",
        r.out.rc,
        r.stdout(),
        r.stderr()
    ))
}

#[async_trait::async_trait]
impl Module for Hostname {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let name = args.string("name").unwrap_or_default();
        let chosen = match args.str("use") {
            None => None,
            Some("systemd" | "debian") => Some(Strategy::Systemd),
            Some("generic") => Some(Strategy::Generic),
            Some(other) => {
                return Ok(Outcome::failed(format!(
                    "drover's hostname module supports use=systemd, debian or generic, not {other}"
                )))
            }
        };
        let ran = sh(ctx, probe_script(chosen)).await?;
        if !ran.ok() {
            return Ok(command_failed(&ran));
        }
        let Some(names) = parse_probe(&ran.stdout()) else {
            return Ok(command_failed(&ran));
        };
        if names.strategy == Strategy::Systemd && name.len() > 64 {
            return Ok(Outcome::failed(
                "name cannot be longer than 64 characters on systemd servers, try a shorter name",
            ));
        }
        let q = sh_quote(&name);
        let set_permanent = (names.permanent != name).then(|| match names.strategy {
            Strategy::Systemd => format!("hostnamectl --pretty --static set-hostname {q}"),
            Strategy::Generic => format!("printf '%s\\n' {q} > /etc/hostname"),
        });
        let set_current = (names.current != name).then(|| match names.strategy {
            Strategy::Systemd => format!("hostnamectl --transient set-hostname {q}"),
            Strategy::Generic => format!("hostname {q}"),
        });
        // With systemd the permanent name goes first (NetworkManager complains about a running
        // name set outside it); otherwise the running one, so a host that refuses it keeps its
        // file as it was.
        let steps: Vec<String> = match names.strategy {
            Strategy::Systemd => [set_permanent, set_current],
            Strategy::Generic => [set_current, set_permanent],
        }
        .into_iter()
        .flatten()
        .collect();
        let changed = !steps.is_empty();
        let mut fqdn = names.fqdn.clone();
        if changed && !ctx.check {
            let mut script = String::new();
            for s in &steps {
                script.push_str(s);
                script.push_str(" || exit $?\n");
            }
            script.push_str("hostname -f 2>/dev/null || hostname\n");
            let r = sh(ctx, script).await?;
            if !r.ok() {
                return Ok(command_failed(&r));
            }
            fqdn = r.stdout().trim().to_string();
        }
        let before = if name != names.current {
            names.current.clone()
        } else {
            names.permanent.clone()
        };
        let short = name.split('.').next().unwrap_or_default().to_string();
        let domain = fqdn
            .split_once('.')
            .map(|(_, d)| d)
            .unwrap_or("")
            .to_string();
        let facts: std::collections::BTreeMap<String, Value> = [
            ("ansible_hostname", Value::from(short)),
            ("ansible_nodename", Value::from(name.as_str())),
            ("ansible_fqdn", Value::from(fqdn.as_str())),
            ("ansible_domain", Value::from(domain)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let facts = Value::from(facts);
        let mut out = Outcome::changed(changed)
            .with("name", name.as_str())
            .with("ansible_facts", facts);
        if changed && ctx.diff {
            out.diff.push(FileDiff {
                before_header: String::new(),
                after_header: String::new(),
                before: format!("hostname = {before}\n"),
                after: format!("hostname = {name}\n"),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output() {
        let n = parse_probe(&format!("systemd{MARK}a{MARK}b\n{MARK}a.example.org")).unwrap();
        assert_eq!(n.strategy, Strategy::Systemd);
        assert_eq!((n.current.as_str(), n.permanent.as_str()), ("a", "b"));
        assert_eq!(n.fqdn, "a.example.org");
        assert!(parse_probe("garbage").is_none());
    }
}

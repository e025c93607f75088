//! `package_facts`: the host's installed packages as the fact `packages`, read from dpkg or rpm
//! in one command.

use indexmap::IndexMap;
use minijinja::Value;

use crate::accounts;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct PackageFacts;

static SPEC: ModuleSpec = ModuleSpec {
    name: "package_facts",
    args: &[
        ArgDef::new("manager", ArgKind::List),
        ArgDef::new("strategy", ArgKind::Str).choices(&["first", "all"]),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// The managers drover reads, the names Ansible gives them, and the query that lists every
/// installed package, one per line with tab-separated fields.
const MANAGERS: &[(&str, &str, &str)] = &[
    (
        "apt",
        "dpkg-query",
        "dpkg-query -W -f '${db:Status-Abbrev}\\t${binary:Package}\\t${Version}\\t${Architecture}\\t${Section}\\n'",
    ),
    (
        "rpm",
        "rpm",
        "rpm -qa --qf '%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\n'",
    ),
];

/// Installed packages from `dpkg-query` output (`ii` lines only; the `:arch` suffix of a
/// multi-arch name is dropped, as python-apt names them).
pub(crate) fn parse_dpkg(text: &str, into: &mut IndexMap<String, Vec<Value>>) {
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [status, name, version, arch, section, ..] = f.as_slice() else {
            continue;
        };
        if !status.starts_with("ii") {
            continue;
        }
        let name = name.split(':').next().unwrap_or(name);
        into.entry(name.to_string())
            .or_default()
            .push(Value::from_pairs([
                ("name", Value::from(name)),
                ("version", Value::from(*version)),
                ("arch", Value::from(*arch)),
                ("category", Value::from(*section)),
                ("origin", Value::from("")),
                ("source", Value::from("apt")),
            ]));
    }
}

/// Installed packages from `rpm -qa`; an unset epoch (`(none)`) is null.
pub(crate) fn parse_rpm(text: &str, into: &mut IndexMap<String, Vec<Value>>) {
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, version, release, epoch, arch, ..] = f.as_slice() else {
            continue;
        };
        let epoch = epoch
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(()));
        into.entry(name.to_string())
            .or_default()
            .push(Value::from_pairs([
                ("name", Value::from(*name)),
                ("version", Value::from(*version)),
                ("release", Value::from(*release)),
                ("epoch", epoch),
                ("arch", Value::from(*arch)),
                ("source", Value::from("rpm")),
            ]));
    }
}

#[async_trait::async_trait]
impl Module for PackageFacts {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let mut wanted = args.list("manager");
        if wanted.is_empty() {
            wanted.push("auto".into());
        }
        let all = args.str("strategy") == Some("all");
        for w in &wanted {
            if w != "auto" && !MANAGERS.iter().any(|(n, _, _)| n == w) {
                return Ok(Outcome::failed(format!(
                    "Unsupported package manager: {w}; drover reads: auto, {}",
                    MANAGERS
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let mut packages: IndexMap<String, Vec<Value>> = IndexMap::new();
        let mut found = false;
        for (name, tool, query) in MANAGERS {
            if !wanted.iter().any(|w| w == "auto" || w == name) {
                continue;
            }
            let probe = accounts::run(
                ctx,
                vec![
                    "sh".into(),
                    "-c".into(),
                    format!("command -v {tool} >/dev/null && {query}"),
                ],
                &[],
            )
            .await?;
            if probe.out.rc != 0 {
                continue;
            }
            found = true;
            match *name {
                "apt" => parse_dpkg(&probe.stdout(), &mut packages),
                _ => parse_rpm(&probe.stdout(), &mut packages),
            }
            if !all {
                break;
            }
        }
        if !found {
            return Ok(Outcome::failed(format!(
                "Could not detect a supported package manager from the following list: {}, or the required Python library is not installed. Check warnings for details.",
                wanted.join(", ")
            )));
        }
        let packages = Value::from_pairs(packages.into_iter().map(|(k, v)| (k, Value::from(v))));
        Ok(Outcome::ok().with("ansible_facts", Value::from_pairs([("packages", packages)])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_lines() {
        let mut p = IndexMap::new();
        parse_dpkg(
            "ii \tbash\t5.2.15-2+b2\tamd64\tshells\nrc \told\t1.0\tamd64\tmisc\nii \tlibc6:amd64\t2.36-9\tamd64\tlibs\n",
            &mut p,
        );
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["bash", "libc6"]);
        assert_eq!(
            p["bash"][0].get_attr("version").unwrap().as_str(),
            Some("5.2.15-2+b2")
        );
        assert_eq!(
            p["libc6"][0].get_attr("source").unwrap().as_str(),
            Some("apt")
        );
    }

    #[test]
    fn rpm_lines() {
        let mut p = IndexMap::new();
        parse_rpm(
            "kernel\t5.14.0\t70.el9\t(none)\tx86_64\nkernel\t5.14.0\t71.el9\t(none)\tx86_64\nbash\t5.1.8\t6.el9\t1\tx86_64\n",
            &mut p,
        );
        assert_eq!(p["kernel"].len(), 2);
        assert!(p["kernel"][0].get_attr("epoch").unwrap().is_none());
        assert_eq!(p["bash"][0].get_attr("epoch").unwrap().as_i64(), Some(1));
    }
}

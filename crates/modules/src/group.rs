//! `group`: local groups, through `groupadd`/`groupmod`/`groupdel` on the host.

use crate::accounts::{self, GroupEntry};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Group;

static SPEC: ModuleSpec = ModuleSpec {
    name: "group",
    args: &[
        ArgDef::new("name", ArgKind::Str).required(),
        ArgDef::new("gid", ArgKind::Int),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("system", ArgKind::Bool),
        ArgDef::new("local", ArgKind::Bool),
        ArgDef::new("non_unique", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("gid_min", ArgKind::Int),
        ArgDef::new("gid_max", ArgKind::Int),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// What has to run to bring the group to the wanted state; `None` when it already is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Add(Vec<String>),
    Modify(Vec<String>),
    Delete(Vec<String>),
}

impl Plan {
    fn argv(&self) -> &[String] {
        match self {
            Plan::Add(a) | Plan::Modify(a) | Plan::Delete(a) => a,
        }
    }
}

/// Decides what to run from the arguments and the host's current group (if any).
pub(crate) fn plan(args: &Args, current: Option<&GroupEntry>) -> Result<Option<Plan>, String> {
    let name = args.str("name").unwrap_or_default();
    let local = args.bool("local", false);
    let prog = |base: &str| {
        if local {
            format!("l{base}")
        } else {
            base.to_string()
        }
    };
    let gid = match args.int("gid") {
        Some(g) if !(0..=u32::MAX as i64).contains(&g) => return Err(format!("invalid gid {g}")),
        g => g,
    };
    if args.bool("non_unique", false) && gid.is_none() {
        return Err("gid must be set when non_unique is true".into());
    }
    match (args.str("state").unwrap_or("present"), current) {
        ("absent", None) => Ok(None),
        ("absent", Some(_)) => {
            let mut a = vec![prog("groupdel")];
            if args.bool("force", false) && !local {
                a.push("-f".into());
            }
            a.push(name.into());
            Ok(Some(Plan::Delete(a)))
        }
        (_, None) => {
            let mut a = vec![prog("groupadd")];
            if let Some(g) = gid {
                a.extend(["-g".into(), g.to_string()]);
                if args.bool("non_unique", false) {
                    a.push("-o".into());
                }
            }
            if args.bool("system", false) {
                a.push("-r".into());
            }
            for (key, def) in [("gid_min", "GID_MIN"), ("gid_max", "GID_MAX")] {
                if let Some(v) = args.int(key) {
                    a.extend(["-K".into(), format!("{def}={v}")]);
                }
            }
            a.push(name.into());
            Ok(Some(Plan::Add(a)))
        }
        (_, Some(cur)) => match gid {
            Some(g) if g != i64::from(cur.gid) => {
                let mut a = vec![prog("groupmod"), "-g".into(), g.to_string()];
                if args.bool("non_unique", false) {
                    a.push("-o".into());
                }
                a.push(name.into());
                Ok(Some(Plan::Modify(a)))
            }
            _ => Ok(None),
        },
    }
}

#[async_trait::async_trait]
impl Module for Group {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let name = args.string("name").unwrap_or_default();
        let state = args.str("state").unwrap_or("present").to_string();
        let groups = accounts::parse_group(&accounts::read_text(ctx, "/etc/group").await?);
        let current = groups.iter().find(|g| g.name == name);
        let planned = match plan(args, current) {
            Ok(p) => p,
            Err(msg) => return Ok(Outcome::failed(msg).with("name", name)),
        };
        let mut out = Outcome::ok()
            .with("name", name.clone())
            .with("state", state.clone());
        if let Some(p) = &planned {
            out.changed = true;
            if !ctx.check {
                let ran = accounts::run(ctx, p.argv().to_vec(), &[]).await?;
                if !ran.ok() {
                    let mut failed = Outcome::failed(ran.failure_text())
                        .with("name", name)
                        .with("rc", ran.out.rc);
                    failed.changed = false;
                    return Ok(failed);
                }
            }
        }
        if state == "present" {
            out.set("system", args.bool("system", false));
            // The gid as it is now, or as it would be after the change in check mode.
            let after = if ctx.check || planned.is_none() {
                args.int("gid").or(current.map(|c| i64::from(c.gid)))
            } else {
                let groups = accounts::parse_group(&accounts::read_text(ctx, "/etc/group").await?);
                groups
                    .iter()
                    .find(|g| g.name == name)
                    .map(|g| i64::from(g.gid))
            };
            if let Some(gid) = after {
                out.set("gid", gid);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(gid: u32) -> GroupEntry {
        GroupEntry {
            name: "g".into(),
            gid,
            members: vec![],
        }
    }

    #[test]
    fn plans() {
        let a = SPEC.test_args(&[
            ("name", "g".into()),
            ("gid", 1234.into()),
            ("system", true.into()),
        ]);
        assert_eq!(
            plan(&a, None).unwrap(),
            Some(Plan::Add(accounts::argv(&[
                "groupadd", "-g", "1234", "-r", "g"
            ])))
        );
        assert_eq!(plan(&a, Some(&entry(1234))).unwrap(), None);
        assert_eq!(
            plan(&a, Some(&entry(99))).unwrap(),
            Some(Plan::Modify(accounts::argv(&[
                "groupmod", "-g", "1234", "g"
            ])))
        );
        let gone = SPEC.test_args(&[("name", "g".into()), ("state", "absent".into())]);
        assert_eq!(plan(&gone, None).unwrap(), None);
        assert_eq!(
            plan(&gone, Some(&entry(5))).unwrap(),
            Some(Plan::Delete(accounts::argv(&["groupdel", "g"])))
        );
        let bad = SPEC.test_args(&[("name", "g".into()), ("non_unique", true.into())]);
        assert!(plan(&bad, None).is_err());
        let local = SPEC.test_args(&[("name", "g".into()), ("local", true.into())]);
        assert_eq!(
            plan(&local, None).unwrap(),
            Some(Plan::Add(accounts::argv(&["lgroupadd", "g"])))
        );
    }
}

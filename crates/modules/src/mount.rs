//! `mount` (ansible.posix): a filesystem's fstab entry, and its mounted state.
//!
//! fstab is edited as ansible.posix edits it: an entry matches by mount point (a swap entry
//! by its source too), a changed entry is rewritten as `src path fstype opts dump passno`,
//! other lines are kept as they are, fields are escaped (`\040` for a space). Mounting,
//! unmounting and remounting run the host's `mount`/`umount`; whether a path is mounted is
//! asked of `mountpoint`.

use drover_host::ExecRequest;
use minijinja::Value;

use crate::accounts;
use crate::textfile::{commit, read_text, EditTarget, Original};
use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Mount;

static SPEC: ModuleSpec = ModuleSpec {
    name: "mount",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .aliases(&["name"])
            .required(),
        ArgDef::new("src", ArgKind::Path),
        ArgDef::new("fstype", ArgKind::Str),
        ArgDef::new("opts", ArgKind::Str),
        ArgDef::new("dump", ArgKind::Str),
        ArgDef::new("passno", ArgKind::Str),
        ArgDef::new("state", ArgKind::Str)
            .choices(&[
                "absent",
                "absent_from_fstab",
                "mounted",
                "present",
                "unmounted",
                "remounted",
                "ephemeral",
            ])
            .required(),
        ArgDef::new("fstab", ArgKind::Str),
        ArgDef::new("boot", ArgKind::Bool),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("opts_no_log", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// The fields of an fstab entry, escaped as fstab writes them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub src: String,
    pub name: String,
    pub fstype: String,
    pub opts: String,
    pub dump: String,
    pub passno: String,
}

pub(crate) fn escape(v: &str) -> String {
    v.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('&', "\\046")
}

fn render(e: &Entry) -> String {
    format!(
        "{} {} {} {} {} {}\n",
        e.src, e.name, e.fstype, e.opts, e.dump, e.passno
    )
}

/// `wanted` written into `text`: the entry for its mount point rewritten if any field differs
/// (a line with fewer than six fields always is, as ansible.posix compares its missing
/// `dump`/`passno` as numbers), else appended. The new text and whether it changed.
pub(crate) fn set_entry(text: &str, wanted: &Entry) -> (String, bool) {
    let mut out = String::new();
    let mut exists = false;
    let mut changed = false;
    for raw in text.split_inclusive('\n') {
        let line = if raw.ends_with('\n') {
            raw.to_string()
        } else {
            format!("{raw}\n")
        };
        let t = line.trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if t.is_empty() || t.starts_with('#') || !(4..=6).contains(&fields.len()) {
            out.push_str(&line);
            continue;
        }
        let swap_other = fields[1] == "none" && fields[2] == "swap" && fields[0] != wanted.src;
        if fields[1] != wanted.name || swap_other {
            out.push_str(&line);
            continue;
        }
        exists = true;
        let differs = fields[0] != wanted.src
            || fields[2] != wanted.fstype
            || fields[3] != wanted.opts
            || fields.get(4) != Some(&wanted.dump.as_str())
            || fields.get(5) != Some(&wanted.passno.as_str());
        if differs {
            changed = true;
            out.push_str(&render(wanted));
        } else {
            out.push_str(&line);
        }
    }
    if !exists {
        out.push_str(&render(wanted));
        changed = true;
    }
    (out, changed)
}

/// `text` without the six-field entries for mount point `name` (a swap entry only when its
/// source is `src`). The new text and whether it changed.
pub(crate) fn unset_entry(text: &str, name: &str, src: Option<&str>) -> (String, bool) {
    let mut out = String::new();
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if t.is_empty() || t.starts_with('#') || fields.len() != 6 {
            out.push_str(line);
            continue;
        }
        let swap_other =
            src.is_some_and(|s| fields[1] == "none" && fields[2] == "swap" && fields[0] != s);
        if fields[1] != name || swap_other {
            out.push_str(line);
            continue;
        }
        changed = true;
    }
    (out, changed)
}

#[async_trait::async_trait]
impl Module for Mount {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let state = args.string("state").unwrap_or_default();
        let name = args.string("path").unwrap_or_default();
        let fstab = args.string("fstab").unwrap_or_else(|| "/etc/fstab".into());
        if state == "ephemeral" {
            return Ok(Outcome::failed(
                "state=ephemeral is not supported by drover; use state=mounted",
            ));
        }
        if matches!(state.as_str(), "present" | "mounted")
            && (args.str("src").is_none() || args.str("fstype").is_none())
        {
            return Ok(Outcome::failed(format!(
                "state is {state} but all of the following are missing: src, fstype"
            )));
        }
        let mut opts = args.string("opts").unwrap_or_else(|| "defaults".into());
        let boot = args.bool("boot", true);
        let mut warnings = Vec::new();
        if boot && opts.split(',').any(|o| o == "noauto") {
            warnings.push("Ignore the 'boot' due to 'opts' contains 'noauto'.".to_string());
        } else if !boot {
            opts.push_str(",noauto");
        }
        let wanted = Entry {
            src: escape(&args.string("src").unwrap_or_default()),
            name: escape(&name),
            fstype: escape(&args.string("fstype").unwrap_or_default()),
            opts: escape(&opts),
            dump: escape(&args.string("dump").unwrap_or_else(|| "0".into())),
            passno: escape(&args.string("passno").unwrap_or_else(|| "0".into())),
        };
        let mut out = Outcome::ok();
        // fstab is edited for every state but these.
        let edit = |text: &str| -> Option<(String, bool)> {
            match state.as_str() {
                "present" | "mounted" => Some(set_entry(text, &wanted)),
                "absent" | "absent_from_fstab" => {
                    Some(unset_entry(text, &wanted.name, args.str("src")))
                }
                _ => None,
            }
        };
        let before = match read_text(ctx, &fstab).await? {
            Ok(Original::Text(t)) => t,
            Ok(Original::Missing) => String::new(),
            Err((_, msg)) => {
                return Ok(Outcome::failed(format!(
                    "Failed to open {fstab} due to {msg}"
                )))
            }
        };
        let mut fstab_changed = false;
        if let Some((after, changed)) = edit(&before) {
            if changed {
                let target = EditTarget {
                    path: fstab.clone(),
                    attrs: Default::default(),
                    backup: args.bool("backup", false),
                    validate: None,
                };
                let done = commit(ctx, &target, Some(&before), after).await?;
                if let Some(b) = done.backup {
                    out.set("backup_file", b);
                }
                out.diff.extend(done.diff);
                fstab_changed = true;
            }
        }
        out.changed = fstab_changed;
        let mounted = if matches!(state.as_str(), "present" | "absent_from_fstab") {
            false
        } else {
            is_mounted(ctx, &name).await?
        };
        let fail = |what: &str, ran: &accounts::Ran| {
            Outcome::failed(format!(
                "Error {what} {name}: {}",
                String::from_utf8_lossy(&ran.out.stderr).trim()
            ))
        };
        match state.as_str() {
            "absent" if fstab_changed && !ctx.check => {
                if mounted {
                    let ran = accounts::run(ctx, vec!["umount".into(), name.clone()], &[]).await?;
                    if ran.out.rc != 0 {
                        return Ok(fail("unmounting", &ran));
                    }
                }
                // The mount point goes too, when it is an empty directory.
                let _ = accounts::run(ctx, vec!["rmdir".into(), name.clone()], &[]).await?;
            }
            "unmounted" if mounted => {
                out.changed = true;
                if !ctx.check {
                    let ran = accounts::run(ctx, vec!["umount".into(), name.clone()], &[]).await?;
                    if ran.out.rc != 0 {
                        return Ok(fail("unmounting", &ran));
                    }
                }
            }
            "remounted" => {
                out.changed = true;
                if !ctx.check {
                    let ran = remount(ctx, &name, &fstab).await?;
                    if ran.out.rc != 0 {
                        return Ok(fail("remounting", &ran));
                    }
                }
            }
            "mounted" if !ctx.check => {
                let mkdir = ctx
                    .host
                    .exec(&ExecRequest::shell(format!("mkdir -p {}", sh_quote(&name))))
                    .await?;
                if mkdir.rc != 0 {
                    return Ok(Outcome::failed(format!(
                        "Error making dir {name}: {}",
                        String::from_utf8_lossy(&mkdir.stderr).trim()
                    )));
                }
                if !mounted {
                    let ran = accounts::run(
                        ctx,
                        vec!["mount".into(), "-T".into(), fstab.clone(), name.clone()],
                        &[],
                    )
                    .await?;
                    if ran.out.rc != 0 {
                        return Ok(fail("mounting", &ran));
                    }
                    out.changed = true;
                } else if fstab_changed {
                    let ran = remount(ctx, &name, &fstab).await?;
                    if ran.out.rc != 0 {
                        return Ok(fail("remounting", &ran));
                    }
                }
            }
            "mounted" => out.changed |= !mounted,
            _ => {}
        }
        for (k, v) in [
            ("name", name.as_str()),
            ("src", args.str("src").unwrap_or_default()),
            ("fstype", args.str("fstype").unwrap_or_default()),
            ("opts", opts.as_str()),
            ("dump", args.str("dump").unwrap_or("0")),
            ("passno", args.str("passno").unwrap_or("0")),
            ("fstab", fstab.as_str()),
        ] {
            out.set(k, Value::from(v));
        }
        // ansible.posix reports it as the text it writes for Linux.
        out.set("boot", Value::from(if boot { "yes" } else { "no" }));
        out.warnings = warnings;
        Ok(out)
    }
}

async fn is_mounted(ctx: &Context<'_>, path: &str) -> Result<bool, ModuleError> {
    let ran = ctx
        .host
        .exec(&ExecRequest::shell(format!(
            "mountpoint -q {}",
            sh_quote(path)
        )))
        .await?;
    Ok(ran.rc == 0)
}

async fn remount(ctx: &Context<'_>, name: &str, fstab: &str) -> Result<accounts::Ran, ModuleError> {
    accounts::run(
        ctx,
        vec![
            "mount".into(),
            "-o".into(),
            "remount".into(),
            "-T".into(),
            fstab.to_string(),
            name.to_string(),
        ],
        &[],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(src: &str, name: &str) -> Entry {
        Entry {
            src: src.into(),
            name: name.into(),
            fstype: "ext4".into(),
            opts: "defaults".into(),
            dump: "0".into(),
            passno: "0".into(),
        }
    }

    #[test]
    fn fstab_entries_set_and_unset() {
        let text = "# fstab\nUUID=1 / ext4 errors=remount-ro 0 1\n/dev/sdb1 /data ext4 defaults\n";
        let (t, changed) = set_entry(text, &entry("/dev/sdb1", "/data"));
        assert!(changed, "four fields always rewrite");
        assert_eq!(
            t,
            "# fstab\nUUID=1 / ext4 errors=remount-ro 0 1\n/dev/sdb1 /data ext4 defaults 0 0\n"
        );
        let (again, changed) = set_entry(&t, &entry("/dev/sdb1", "/data"));
        assert!(!changed);
        assert_eq!(again, t);
        let (t2, changed) = set_entry(&t, &entry("/dev/sdc1", &escape("/srv/my data")));
        assert!(changed);
        assert!(
            t2.ends_with("/dev/sdc1 /srv/my\\040data ext4 defaults 0 0\n"),
            "{t2}"
        );
        let (t3, changed) = unset_entry(&t, "/data", None);
        assert!(changed);
        assert_eq!(t3, "# fstab\nUUID=1 / ext4 errors=remount-ro 0 1\n");
        assert_eq!(escape("/srv/my data"), "/srv/my\\040data");
    }
}

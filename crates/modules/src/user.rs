//! `user`: local user accounts, through `useradd`/`usermod`/`userdel` on the host.
//!
//! The current account is read from `/etc/passwd`, `/etc/group` and (for passwords and expiry)
//! `/etc/shadow`, so an account that is already as asked costs reads only and no program runs.

use drover_host::{ExecRequest, StatOptions};
use minijinja::Value;

use crate::accounts::{self, GroupEntry, PasswdEntry};
use crate::util::join;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct User;

static SPEC: ModuleSpec = ModuleSpec {
    name: "user",
    args: &[
        ArgDef::new("name", ArgKind::Str)
            .required()
            .aliases(&["user"]),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("uid", ArgKind::Int),
        ArgDef::new("non_unique", ArgKind::Bool),
        ArgDef::new("group", ArgKind::Str),
        ArgDef::new("groups", ArgKind::List),
        ArgDef::new("append", ArgKind::Bool),
        ArgDef::new("comment", ArgKind::Str),
        ArgDef::new("home", ArgKind::Path),
        ArgDef::new("shell", ArgKind::Str),
        ArgDef::new("password", ArgKind::Str).secret(),
        ArgDef::new("update_password", ArgKind::Str).choices(&["always", "on_create"]),
        ArgDef::new("password_lock", ArgKind::Bool),
        ArgDef::new("create_home", ArgKind::Bool).aliases(&["createhome"]),
        ArgDef::new("move_home", ArgKind::Bool),
        ArgDef::new("skeleton", ArgKind::Str),
        ArgDef::new("umask", ArgKind::Str),
        ArgDef::new("system", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("remove", ArgKind::Bool),
        ArgDef::new("expires", ArgKind::Float),
        ArgDef::new("password_expire_max", ArgKind::Int),
        ArgDef::new("password_expire_min", ArgKind::Int),
        ArgDef::new("password_expire_warn", ArgKind::Int),
        ArgDef::new("uid_min", ArgKind::Int),
        ArgDef::new("uid_max", ArgKind::Int),
        ArgDef::new("generate_ssh_key", ArgKind::Bool),
        ArgDef::new("ssh_key_bits", ArgKind::Int),
        ArgDef::new("ssh_key_type", ArgKind::Str),
        ArgDef::new("ssh_key_file", ArgKind::Path),
        ArgDef::new("ssh_key_comment", ArgKind::Str),
        ArgDef::new("ssh_key_passphrase", ArgKind::Str).secret(),
        // Accepted for playbooks written for other platforms; meaningless on Linux.
        ArgDef::new("login_class", ArgKind::Str),
        ArgDef::new("hidden", ArgKind::Bool),
        ArgDef::new("seuser", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// The host's current view of the account, as far as the plan needs it.
pub(crate) struct Current<'a> {
    pub user: Option<&'a PasswdEntry>,
    pub groups: &'a [GroupEntry],
    /// Hash and expiry from `/etc/shadow`, `None` when unreadable or absent.
    pub shadow: Option<(String, Option<i64>)>,
}

fn find_group<'a>(groups: &'a [GroupEntry], spec: &str) -> Option<&'a GroupEntry> {
    groups.iter().find(|g| g.name == spec).or_else(|| {
        spec.parse::<u32>()
            .ok()
            .and_then(|gid| groups.iter().find(|g| g.gid == gid))
    })
}

/// The supplementary groups asked for, each checked to exist; duplicates and empty names
/// (`groups: ''` means "none") removed.
fn wanted_groups(args: &Args, groups: &[GroupEntry]) -> Result<Option<Vec<String>>, String> {
    if !args.has("groups") {
        return Ok(None);
    }
    let mut out: Vec<String> = Vec::new();
    for item in args.list("groups") {
        for g in item.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let entry = find_group(groups, g).ok_or_else(|| format!("Group {g} does not exist"))?;
            if !out.contains(&entry.name) {
                out.push(entry.name.clone());
            }
        }
    }
    Ok(Some(out))
}

/// `YYYY-MM-DD` of a day count since the Unix epoch (proleptic Gregorian).
fn date_of_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// What to run; `None` when the account is already as asked.
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

pub(crate) fn plan(args: &Args, cur: &Current<'_>) -> Result<Option<Plan>, String> {
    let name = args.str("name").unwrap_or_default();
    let absent = args.str("state") == Some("absent");
    if absent {
        if cur.user.is_none() {
            return Ok(None);
        }
        let mut a = vec!["userdel".to_string()];
        if args.bool("force", false) {
            a.push("-f".into());
        }
        if args.bool("remove", false) {
            a.push("-r".into());
        }
        a.push(name.into());
        return Ok(Some(Plan::Delete(a)));
    }
    let uid = match args.int("uid") {
        Some(u) if !(0..=i64::from(u32::MAX)).contains(&u) => {
            return Err(format!("invalid uid {u}"))
        }
        u => u,
    };
    let non_unique = args.bool("non_unique", false);
    let group = match args.str("group") {
        Some(g) => {
            Some(find_group(cur.groups, g).ok_or_else(|| format!("Group {g} does not exist"))?)
        }
        None => None,
    };
    let wanted = wanted_groups(args, cur.groups)?;
    let expires = args.float("expires");
    match cur.user {
        None => {
            let mut a = vec!["useradd".to_string()];
            if let Some(u) = uid {
                a.extend(["-u".into(), u.to_string()]);
                if non_unique {
                    a.push("-o".into());
                }
            }
            match group {
                Some(g) => a.extend(["-g".into(), g.name.clone()]),
                // A group named like the user already exists: useradd would try to create it
                // (USERGROUPS_ENAB) and fail, so ask for no user group.
                None if cur.groups.iter().any(|g| g.name == name) => a.push("-N".into()),
                None => {}
            }
            if let Some(w) = &wanted {
                if !w.is_empty() {
                    a.extend(["-G".into(), w.join(",")]);
                }
            }
            if let Some(c) = args.str("comment") {
                a.extend(["-c".into(), c.into()]);
            }
            if let Some(h) = args.str("home") {
                a.extend(["-d".into(), h.into()]);
            }
            if let Some(s) = args.str("shell") {
                a.extend(["-s".into(), s.into()]);
            }
            if let Some(e) = expires {
                if e >= 0.0 {
                    a.extend(["-e".into(), date_of_days((e / 86_400.0).floor() as i64)]);
                }
            }
            if let Some(p) = args.str("password") {
                a.extend(["-p".into(), p.into()]);
            }
            if args.bool("system", false) {
                a.push("-r".into());
            }
            if args.bool("create_home", true) {
                a.push("-m".into());
                if let Some(k) = args.str("skeleton") {
                    a.extend(["-k".into(), k.into()]);
                }
                if let Some(u) = args.str("umask") {
                    a.extend(["-K".into(), format!("UMASK={u}")]);
                }
            } else {
                a.push("-M".into());
            }
            for (key, def) in [("uid_min", "UID_MIN"), ("uid_max", "UID_MAX")] {
                if let Some(v) = args.int(key) {
                    a.extend(["-K".into(), format!("{def}={v}")]);
                }
            }
            a.push(name.into());
            Ok(Some(Plan::Add(a)))
        }
        Some(u) => {
            let mut a = vec!["usermod".to_string()];
            if let Some(want) = uid {
                if want != i64::from(u.uid) {
                    a.extend(["-u".into(), want.to_string()]);
                    if non_unique {
                        a.push("-o".into());
                    }
                }
            }
            if let Some(g) = group {
                if g.gid != u.gid {
                    a.extend(["-g".into(), g.name.clone()]);
                }
            }
            if let Some(w) = wanted {
                let primary = group.map_or(u.gid, |g| g.gid);
                let want: Vec<&String> = w
                    .iter()
                    .filter(|n| find_group(cur.groups, n).map(|g| g.gid) != Some(primary))
                    .collect();
                let have: Vec<&str> = cur
                    .groups
                    .iter()
                    .filter(|g| g.gid != primary && g.members.iter().any(|m| m == name))
                    .map(|g| g.name.as_str())
                    .collect();
                let append = args.bool("append", false);
                let missing = want.iter().any(|w| !have.contains(&w.as_str()));
                let extra = have.iter().any(|h| !want.iter().any(|w| w == h));
                if missing || (!append && extra) {
                    if append {
                        a.push("-a".into());
                    }
                    let list: Vec<&str> = want.iter().map(|s| s.as_str()).collect();
                    a.extend(["-G".into(), list.join(",")]);
                }
            }
            if let Some(c) = args.str("comment") {
                if c != u.comment {
                    a.extend(["-c".into(), c.into()]);
                }
            }
            if let Some(h) = args.str("home") {
                if h.trim_end_matches('/') != u.home.trim_end_matches('/') {
                    a.extend(["-d".into(), h.into()]);
                    if args.bool("move_home", false) {
                        a.push("-m".into());
                    }
                }
            }
            if let Some(s) = args.str("shell") {
                if s != u.shell {
                    a.extend(["-s".into(), s.into()]);
                }
            }
            let (hash, current_expiry) = match &cur.shadow {
                Some((h, e)) => (Some(h.as_str()), *e),
                None => (None, None),
            };
            if let Some(e) = expires {
                if e < 0.0 {
                    if current_expiry.is_some_and(|d| d >= 0) {
                        a.extend(["-e".into(), String::new()]);
                    }
                } else {
                    let days = (e / 86_400.0).floor() as i64;
                    if current_expiry != Some(days) {
                        a.extend(["-e".into(), date_of_days(days)]);
                    }
                }
            }
            if let Some(p) = args.str("password") {
                let always = args.str("update_password").unwrap_or("always") == "always";
                if always && hash.is_some_and(|h| h != p) {
                    a.extend(["-p".into(), p.into()]);
                }
            }
            if args.has("password_lock") {
                let locked = hash.is_some_and(|h| h.starts_with('!'));
                match (args.bool("password_lock", false), locked) {
                    (true, false) => a.push("-L".into()),
                    (false, true) => a.push("-U".into()),
                    _ => {}
                }
            }
            if a.len() == 1 {
                return Ok(None);
            }
            a.push(name.into());
            Ok(Some(Plan::Modify(a)))
        }
    }
}

/// `chage` arguments for the password ageing options that differ from `/etc/shadow`.
fn chage_argv(args: &Args, name: &str, shadow_text: &str) -> Option<Vec<String>> {
    let fields: Vec<&str> = shadow_text
        .lines()
        .find(|l| l.split(':').next() == Some(name))
        .map(|l| l.split(':').collect())
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok());
    let mut a = vec!["chage".to_string()];
    for (key, idx, flag) in [
        ("password_expire_min", 3, "-m"),
        ("password_expire_max", 4, "-M"),
        ("password_expire_warn", 5, "-W"),
    ] {
        if let Some(v) = args.int(key) {
            if field(idx) != Some(v) {
                a.extend([flag.to_string(), v.to_string()]);
            }
        }
    }
    (a.len() > 1).then(|| {
        a.push(name.to_string());
        a
    })
}

fn failed_run(ran: &accounts::Ran, name: &str) -> Outcome {
    Outcome::failed(ran.failure_text())
        .with("name", name.to_string())
        .with("rc", ran.out.rc)
        .with("stdout", ran.stdout())
        .with("stderr", ran.stderr())
}

#[async_trait::async_trait]
impl Module for User {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let name = args.string("name").unwrap_or_default();
        let absent = args.str("state") == Some("absent");
        let (users, groups) = accounts::accounts(ctx).await?;
        // Only root can read the shadow file; without it passwords are never compared.
        let shadow_text = match ctx.host.read("/etc/shadow").await {
            Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Err(_) => None,
        };
        let current = users.iter().find(|u| u.name == name);
        let cur = Current {
            user: current,
            groups: &groups,
            shadow: shadow_text
                .as_deref()
                .and_then(|t| accounts::shadow_fields(t, &name)),
        };
        let planned = match plan(args, &cur) {
            Ok(p) => p,
            Err(msg) => return Ok(Outcome::failed(msg).with("name", name)),
        };

        let mut out = Outcome::ok()
            .with("name", name.clone())
            .with("state", if absent { "absent" } else { "present" });
        if absent {
            out.set("force", args.bool("force", false));
            out.set("remove", args.bool("remove", false));
        }
        if let Some(p) = args.str("password") {
            if !absent && !p.starts_with('$') && !p.starts_with('!') && !p.starts_with('*') {
                out.warnings.push(
                    "The input password appears not to have been hashed. The 'password' argument \
                     must be encrypted for this module to work properly."
                        .into(),
                );
            }
        }
        if let Some(p) = &planned {
            out.changed = true;
            if ctx.check {
                if matches!(p, Plan::Add(_)) {
                    return Ok(out);
                }
            } else {
                let ran = accounts::run(ctx, p.argv().to_vec(), &[]).await?;
                if !ran.ok() {
                    return Ok(failed_run(&ran, &name));
                }
                if !ran.stderr().trim().is_empty() {
                    out.set("stderr", ran.stderr());
                }
            }
        }
        if absent {
            return Ok(out);
        }
        match &planned {
            Some(Plan::Add(_)) => {
                out.set("system", args.bool("system", false));
                out.set("create_home", args.bool("create_home", true));
            }
            _ => {
                out.set("append", args.bool("append", false));
                out.set("move_home", args.bool("move_home", false));
            }
        }
        if args.has("password") {
            out.set("password", "NOT_LOGGING_PASSWORD");
        }

        // The account as it is now (re-read only when something ran).
        let after: Option<PasswdEntry> = if planned.is_some() && !ctx.check {
            let (users, _) = accounts::accounts(ctx).await?;
            users.into_iter().find(|u| u.name == name)
        } else {
            current.cloned()
        };
        let Some(info) = after else {
            return Ok(out);
        };
        out.set("uid", info.uid);
        out.set("group", info.gid);
        out.set("comment", info.comment.clone());
        out.set("home", info.home.clone());
        out.set("shell", info.shell.clone());
        if args.has("groups") {
            out.set("groups", args.list("groups").join(","));
        }

        if !ctx.check {
            if let Some(argv) = chage_argv(args, &name, shadow_text.as_deref().unwrap_or("")) {
                let ran = accounts::run(ctx, argv, &[]).await?;
                if !ran.ok() {
                    return Ok(failed_run(&ran, &name));
                }
                out.changed = true;
            }
        } else if chage_argv(args, &name, shadow_text.as_deref().unwrap_or("")).is_some() {
            out.changed = true;
        }

        // An existing account whose home directory is missing gets one, as Ansible does.
        let home = args.string("home").unwrap_or_else(|| info.home.clone());
        if args.bool("create_home", true) && !matches!(planned, Some(Plan::Add(_))) {
            let st = ctx.host.stat(&home, StatOptions::default()).await?;
            if !st.exists {
                out.changed = true;
                if !ctx.check {
                    create_home(ctx, &home, &info, args.str("skeleton")).await?;
                }
            }
        }

        if args.bool("generate_ssh_key", false) {
            ssh_key(ctx, args, &info, &home, &mut out).await?;
        }
        Ok(out)
    }
}

/// Creates `home` from the skeleton directory and gives it to the user.
async fn create_home(
    ctx: &Context<'_>,
    home: &str,
    info: &PasswdEntry,
    skeleton: Option<&str>,
) -> Result<(), ModuleError> {
    let q = crate::util::sh_quote;
    let script = format!(
        "set -e; mkdir -p -- {home}; if [ -d {skel} ]; then cp -a -- {skel}/. {home}/; fi; \
         chown -R -- {uid}:{gid} {home}",
        home = q(home),
        skel = q(skeleton.unwrap_or("/etc/skel")),
        uid = info.uid,
        gid = info.gid,
    );
    let mut req = ExecRequest::shell(script);
    req.env = ctx.env.clone();
    let out = ctx.host.exec(&req).await?;
    if out.rc != 0 {
        return Err(ModuleError::Controller(format!(
            "cannot create home directory {home}: {}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    Ok(())
}

/// `generate_ssh_key`: a key pair at `ssh_key_file` (relative to the home directory), made
/// only when the private key does not exist yet.
async fn ssh_key(
    ctx: &Context<'_>,
    args: &Args,
    info: &PasswdEntry,
    home: &str,
    out: &mut Outcome,
) -> Result<(), ModuleError> {
    let key_type = args.str("ssh_key_type").unwrap_or("rsa");
    let file = args
        .string("ssh_key_file")
        .unwrap_or_else(|| format!(".ssh/id_{key_type}"));
    let file = if file.starts_with('/') {
        file
    } else {
        join(home, &file)
    };
    out.set("ssh_key_file", file.clone());
    let st = ctx.host.stat(&file, StatOptions::default()).await?;
    if !st.exists {
        out.changed = true;
        if ctx.check {
            return Ok(());
        }
        let comment = match args.string("ssh_key_comment") {
            Some(c) => c,
            None => {
                let host = accounts::run(ctx, accounts::argv(&["uname", "-n"]), &[]).await?;
                format!("ansible-generated on {}", host.stdout().trim())
            }
        };
        let dir = crate::util::parent_of(&file).to_string();
        let mkdir = accounts::run(
            ctx,
            vec![
                "install".into(),
                "-d".into(),
                "-m".into(),
                "0700".into(),
                "-o".into(),
                info.uid.to_string(),
                "-g".into(),
                info.gid.to_string(),
                dir,
            ],
            &[],
        )
        .await?;
        if !mkdir.ok() {
            return Err(ModuleError::Controller(mkdir.failure_text()));
        }
        let mut argv = vec![
            "ssh-keygen".to_string(),
            "-q".into(),
            "-t".into(),
            key_type.into(),
        ];
        if let Some(bits) = args.int("ssh_key_bits") {
            argv.extend(["-b".into(), bits.to_string()]);
        }
        argv.extend([
            "-C".into(),
            comment,
            "-f".into(),
            file.clone(),
            "-N".into(),
            args.string("ssh_key_passphrase").unwrap_or_default(),
        ]);
        let ran = accounts::run(ctx, argv, &[]).await?;
        if !ran.ok() {
            return Err(ModuleError::Controller(ran.failure_text()));
        }
        let owner = format!("{}:{}", info.uid, info.gid);
        let chown = accounts::run(
            ctx,
            vec!["chown".into(), owner, file.clone(), format!("{file}.pub")],
            &[],
        )
        .await?;
        if !chown.ok() {
            return Err(ModuleError::Controller(chown.failure_text()));
        }
    } else {
        out.msg = Some("Key already exists".into());
    }
    if !ctx.check || st.exists {
        let public = accounts::read_text(ctx, &format!("{file}.pub")).await?;
        out.set("ssh_public_key", public.trim_end().to_string());
        let fp = accounts::run(
            ctx,
            vec!["ssh-keygen".into(), "-l".into(), "-f".into(), file],
            &[],
        )
        .await?;
        out.set(
            "ssh_fingerprint",
            Value::from(fp.stdout().trim_end().to_string()),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_hides_secret_arguments() {
        let a = SPEC.test_args(&[("name", "alice".into()), ("password", "$6$hash".into())]);
        let shown = a.invocation(&SPEC).to_string();
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("$6$hash"), "{shown}");
        assert!(
            shown.contains("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"),
            "{shown}"
        );
    }

    fn groups() -> Vec<GroupEntry> {
        accounts::parse_group("users:x:100:\nwheel:x:10:alice\nadm:x:4:alice,bob\nalice:x:1000:\n")
    }

    fn alice() -> PasswdEntry {
        accounts::parse_passwd("alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
            .pop()
            .unwrap()
    }

    #[test]
    fn create() {
        let g = groups();
        let cur = Current {
            user: None,
            groups: &g,
            shadow: None,
        };
        let a = SPEC.test_args(&[
            ("name", "bob".into()),
            ("uid", 1234.into()),
            ("group", "users".into()),
            ("groups", "wheel, adm".into()),
            ("createhome", "no".into()),
            ("shell", "/bin/bash".into()),
            ("expires", Value::from(86_400.0 * 365.0)),
        ]);
        assert_eq!(
            plan(&a, &cur).unwrap(),
            Some(Plan::Add(accounts::argv(&[
                "useradd",
                "-u",
                "1234",
                "-g",
                "users",
                "-G",
                "wheel,adm",
                "-s",
                "/bin/bash",
                "-e",
                "1971-01-01",
                "-M",
                "bob"
            ])))
        );
        // A group named like the user already exists: no user group.
        let a = SPEC.test_args(&[("name", "alice".into())]);
        assert_eq!(
            plan(&a, &cur).unwrap(),
            Some(Plan::Add(accounts::argv(&["useradd", "-N", "-m", "alice"])))
        );
        let a = SPEC.test_args(&[("name", "bob".into()), ("group", "nope".into())]);
        assert_eq!(plan(&a, &cur).unwrap_err(), "Group nope does not exist");
    }

    #[test]
    fn modify_is_idempotent() {
        let g = groups();
        let u = alice();
        let cur = Current {
            user: Some(&u),
            groups: &g,
            shadow: Some(("$6$abc".into(), None)),
        };
        let same = SPEC.test_args(&[
            ("name", "alice".into()),
            ("uid", 1000.into()),
            ("group", "alice".into()),
            ("groups", Value::from(vec!["wheel", "adm"])),
            ("shell", "/bin/sh".into()),
            ("comment", "Alice".into()),
            ("password", "$6$abc".into()),
        ]);
        assert_eq!(plan(&same, &cur).unwrap(), None);
        let change = SPEC.test_args(&[
            ("name", "alice".into()),
            ("uid", 1001.into()),
            ("groups", "wheel".into()),
            ("home", "/srv/alice".into()),
            ("move_home", true.into()),
            ("password", "$6$new".into()),
        ]);
        assert_eq!(
            plan(&change, &cur).unwrap(),
            Some(Plan::Modify(accounts::argv(&[
                "usermod",
                "-u",
                "1001",
                "-G",
                "wheel",
                "-d",
                "/srv/alice",
                "-m",
                "-p",
                "$6$new",
                "alice"
            ])))
        );
        // append only adds; an already-member group list changes nothing.
        let append = SPEC.test_args(&[
            ("name", "alice".into()),
            ("groups", "wheel".into()),
            ("append", true.into()),
        ]);
        assert_eq!(plan(&append, &cur).unwrap(), None);
        let append = SPEC.test_args(&[
            ("name", "alice".into()),
            ("groups", "users".into()),
            ("append", true.into()),
        ]);
        assert_eq!(
            plan(&append, &cur).unwrap(),
            Some(Plan::Modify(accounts::argv(&[
                "usermod", "-a", "-G", "users", "alice"
            ])))
        );
        let on_create = SPEC.test_args(&[
            ("name", "alice".into()),
            ("password", "$6$new".into()),
            ("update_password", "on_create".into()),
        ]);
        assert_eq!(plan(&on_create, &cur).unwrap(), None);
    }

    #[test]
    fn delete() {
        let g = groups();
        let u = alice();
        let a = SPEC.test_args(&[
            ("name", "alice".into()),
            ("state", "absent".into()),
            ("remove", true.into()),
            ("force", true.into()),
        ]);
        let present = Current {
            user: Some(&u),
            groups: &g,
            shadow: None,
        };
        assert_eq!(
            plan(&a, &present).unwrap(),
            Some(Plan::Delete(accounts::argv(&[
                "userdel", "-f", "-r", "alice"
            ])))
        );
        let gone = Current {
            user: None,
            groups: &g,
            shadow: None,
        };
        assert_eq!(plan(&a, &gone).unwrap(), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date_of_days(0), "1970-01-01");
        assert_eq!(date_of_days(19_723), "2024-01-01");
        assert_eq!(date_of_days(11_016), "2000-02-29");
    }
}

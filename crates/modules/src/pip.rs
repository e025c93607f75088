//! `pip`: Python packages installed, upgraded or removed with the host's pip, system-wide or
//! in a virtualenv it creates.
//!
//! Whether a requirement is already met is decided on the host by the interpreter that owns
//! the pip (its installed distributions against the requirement's specifier, with the
//! `packaging` library pip carries), so an unchanged environment costs one round trip and no
//! pip run. Requirements that are not names (paths, URLs, VCS links) and `requirements` files
//! are always handed to pip; the change is then read from `pip freeze` before and after, as
//! Ansible reads it.

use drover_host::ExecRequest;
use minijinja::Value;

use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Pip;

static SPEC: ModuleSpec = ModuleSpec {
    name: "pip",
    args: &[
        ArgDef::new("name", ArgKind::List),
        ArgDef::new("version", ArgKind::Str),
        ArgDef::new("requirements", ArgKind::Str),
        ArgDef::new("virtualenv", ArgKind::Path),
        ArgDef::new("virtualenv_site_packages", ArgKind::Bool),
        ArgDef::new("virtualenv_command", ArgKind::Path),
        ArgDef::new("virtualenv_python", ArgKind::Str),
        ArgDef::new("state", ArgKind::Str).choices(&[
            "absent",
            "forcereinstall",
            "latest",
            "present",
        ]),
        ArgDef::new("extra_args", ArgKind::Str),
        ArgDef::new("editable", ArgKind::Bool),
        ArgDef::new("chdir", ArgKind::Path),
        ArgDef::new("executable", ArgKind::Path),
        ArgDef::new("umask", ArgKind::Str),
        ArgDef::new("break_system_packages", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[&["name", "requirements"], &["executable", "virtualenv"]],
    required_one_of: &[&["name", "requirements"]],
    check_mode: true,
};

/// Asks the pip's own interpreter which requirements are met. Prints one line per
/// requirement: `ok`, `missing`, `other <version>` (installed, not matching) or `unknown`
/// (not a name pip can look up).
const CHECK: &str = r#"
import sys
try:
    from importlib import metadata
    from pip._vendor.packaging.requirements import Requirement
except Exception:
    for _ in sys.argv[1:]:
        print("unknown")
    sys.exit(0)
for text in sys.argv[1:]:
    try:
        req = Requirement(text)
    except Exception:
        print("unknown")
        continue
    if req.url:
        print("unknown")
        continue
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        print("missing")
        continue
    print("ok" if req.specifier.contains(version, prereleases=True) else "other " + version)
"#;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Met {
    Ok,
    Missing,
    Other,
    Unknown,
}

pub(crate) fn parse_check(out: &str) -> Vec<Met> {
    out.lines()
        .map(|l| match l.split_whitespace().next() {
            Some("ok") => Met::Ok,
            Some("missing") => Met::Missing,
            Some("other") => Met::Other,
            _ => Met::Unknown,
        })
        .collect()
}

/// The requirement texts: names as given, with `version` making a single name `name==version`
/// (Ansible's rule: `version` needs exactly one name without a specifier).
pub(crate) fn requirements(names: &[String], version: Option<&str>) -> Result<Vec<String>, String> {
    // A list given as one comma-separated string, as Ansible splits it.
    let names: Vec<String> = names
        .iter()
        .flat_map(|n| n.split(','))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    match version {
        None => Ok(names),
        Some(v) => {
            if names.len() != 1 {
                return Err("version is incompatible with multiple names".to_string());
            }
            if names[0].contains(['<', '>', '=', '!', '~']) {
                return Err(
                    "The 'version' argument conflicts with any version specifier provided along with a package name. Please keep the version specifier, but remove the 'version' argument."
                        .to_string(),
                );
            }
            Ok(vec![format!("{}=={v}", names[0])])
        }
    }
}

struct Env {
    pip: String,
    python: Option<String>,
    created: bool,
    cwd: Option<String>,
    umask: Option<String>,
}

impl Env {
    fn script(&self, body: &str) -> ExecRequest {
        let mut s = String::new();
        if let Some(u) = &self.umask {
            s.push_str(&format!("umask {u} && "));
        }
        s.push_str(body);
        let mut req = ExecRequest::shell(s);
        req.cwd = self.cwd.clone();
        req
    }
}

#[async_trait::async_trait]
impl Module for Pip {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let state = args.str("state").unwrap_or("present").to_string();
        let reqs = match requirements(&args.list("name"), args.str("version")) {
            Ok(r) => r,
            Err(msg) => return Ok(Outcome::failed(msg)),
        };
        if let Some(u) = args.str("umask") {
            if u.is_empty() || !u.chars().all(|c| ('0'..='7').contains(&c)) {
                return Ok(Outcome::failed(format!(
                    "umask must be an octal integer: {u}"
                )));
            }
        }
        let mut out = Outcome::ok();
        let env = match prepare(args, ctx, &mut out).await? {
            Ok(e) => e,
            Err(msg) => return Ok(msg),
        };
        let mut install: Vec<String> = vec![sh_quote(&env.pip)];
        install.push(if state == "absent" {
            "uninstall".into()
        } else {
            "install".into()
        });
        if state == "absent" {
            install.push("-y".into());
        }
        if state == "latest" {
            install.push("-U".into());
        }
        if state == "forcereinstall" {
            install.extend(["-U".into(), "--force-reinstall".into()]);
        }
        if args.bool("break_system_packages", false) {
            install.push("--break-system-packages".into());
        }
        if let Some(extra) = args.str("extra_args") {
            install.push(extra.to_string());
        }
        let mut targets: Vec<String> = Vec::new();
        let mut decided = false;
        if let Some(file) = args.str("requirements") {
            install.extend(["-r".into(), sh_quote(file)]);
        } else {
            // Which requirements need pip at all.
            let met = match &env.python {
                Some(py) if !env.created => {
                    let quoted: Vec<String> = reqs.iter().map(|r| sh_quote(r)).collect();
                    let ran = ctx
                        .host
                        .exec(&env.script(&format!(
                            "{} -c {} {}",
                            sh_quote(py),
                            sh_quote(CHECK),
                            quoted.join(" ")
                        )))
                        .await?;
                    let met = parse_check(&String::from_utf8_lossy(&ran.stdout));
                    if met.len() == reqs.len() {
                        met
                    } else {
                        vec![Met::Unknown; reqs.len()]
                    }
                }
                _ => vec![Met::Missing; reqs.len()],
            };
            for (r, m) in reqs.iter().zip(&met) {
                let needed = match state.as_str() {
                    "absent" => matches!(m, Met::Ok | Met::Other | Met::Unknown),
                    "present" => !matches!(m, Met::Ok),
                    _ => true,
                };
                if needed {
                    targets.push(r.clone());
                }
            }
            decided = matches!(state.as_str(), "present" | "absent")
                && met.iter().all(|m| *m != Met::Unknown);
            let editable = args.bool("editable", false);
            for t in &targets {
                if editable && state != "absent" {
                    install.push("-e".into());
                }
                install.push(sh_quote(t));
            }
        }
        let cmd = install.join(" ");
        out.set("cmd", Value::from(cmd.clone()));
        out.set("name", Value::from(reqs.clone()));
        out.set("version", args.get("version").cloned().unwrap_or_default());
        out.set(
            "requirements",
            args.get("requirements").cloned().unwrap_or_default(),
        );
        out.set(
            "virtualenv",
            args.get("virtualenv").cloned().unwrap_or_default(),
        );
        out.set("state", Value::from(state.as_str()));
        if args.str("requirements").is_none() && targets.is_empty() {
            out.set("stdout", Value::from(""));
            out.set("stderr", Value::from(""));
            return Ok(out);
        }
        if ctx.check {
            out.changed = out.changed || decided || state != "latest";
            return Ok(out);
        }
        let freeze = format!("{} freeze 2>/dev/null", sh_quote(&env.pip));
        let before = if decided {
            String::new()
        } else {
            stdout(ctx, &env, &freeze).await?
        };
        let ran = ctx.host.exec(&env.script(&cmd)).await?;
        let so = String::from_utf8_lossy(&ran.stdout).into_owned();
        let se = String::from_utf8_lossy(&ran.stderr).into_owned();
        out.set("stdout", Value::from(so.clone()));
        out.set("stderr", Value::from(se.clone()));
        if ran.rc != 0 {
            let mut failed = Outcome::failed(format!("stdout: {so}\n\n:stderr: {se}"));
            failed.set("cmd", Value::from(cmd));
            failed.set("rc", ran.rc);
            return Ok(failed);
        }
        out.changed = out.changed
            || if decided {
                true
            } else {
                before != stdout(ctx, &env, &freeze).await?
            };
        Ok(out)
    }
}

async fn stdout(ctx: &Context<'_>, env: &Env, cmd: &str) -> Result<String, ModuleError> {
    let ran = ctx.host.exec(&env.script(cmd)).await?;
    Ok(String::from_utf8_lossy(&ran.stdout).into_owned())
}

/// Finds the pip to use, creating the virtualenv first when it does not exist.
async fn prepare(
    args: &Args,
    ctx: &Context<'_>,
    out: &mut Outcome,
) -> Result<Result<Env, Outcome>, ModuleError> {
    let cwd = args.string("chdir");
    let umask = args.string("umask");
    if let Some(venv) = args.str("virtualenv") {
        let venv = venv.trim_end_matches('/').to_string();
        let probe = ExecRequest::shell(format!("test -x {}/bin/python", sh_quote(&venv)));
        let mut probe = probe;
        probe.cwd = cwd.clone();
        let exists = ctx.host.exec(&probe).await?.rc == 0;
        let env = Env {
            pip: format!("{venv}/bin/pip"),
            python: Some(format!("{venv}/bin/python")),
            created: !exists,
            cwd: cwd.clone(),
            umask: umask.clone(),
        };
        if exists {
            return Ok(Ok(env));
        }
        out.changed = true;
        if ctx.check {
            return Ok(Ok(env));
        }
        let command = args
            .string("virtualenv_command")
            .unwrap_or_else(|| "virtualenv".into());
        let mut create = command.clone();
        let is_venv = command.ends_with("venv") && !command.ends_with("virtualenv");
        if args.bool("virtualenv_site_packages", false) {
            create.push_str(" --system-site-packages");
        }
        match args.str("virtualenv_python") {
            Some(py) if is_venv => {
                return Ok(Err(Outcome::failed(format!(
                    "virtualenv_python should not be used when using the venv module or pyvenv as virtualenv_command: {py}"
                ))))
            }
            Some(py) => create.push_str(&format!(" -p{}", sh_quote(py))),
            None if !is_venv => create.push_str(" -p python3"),
            None => {}
        }
        create.push(' ');
        create.push_str(&sh_quote(&venv));
        let ran = ctx.host.exec(&env.script(&create)).await?;
        out.set(
            "stdout",
            Value::from(String::from_utf8_lossy(&ran.stdout).into_owned()),
        );
        if ran.rc != 0 {
            let mut failed = Outcome::failed(format!(
                "Failed to create the virtualenv with '{create}': {}",
                String::from_utf8_lossy(&ran.stderr).trim()
            ));
            failed.set("rc", ran.rc);
            return Ok(Err(failed));
        }
        return Ok(Ok(env));
    }
    // The pip given, else pip3 (or pip) on PATH; its interpreter from its #! line.
    let pip = match args.str("executable") {
        Some(e) => e.to_string(),
        None => {
            let found = ctx
                .host
                .exec(&ExecRequest::shell(
                    "command -v pip3 || command -v pip".to_string(),
                ))
                .await?;
            let path = String::from_utf8_lossy(&found.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            if path.is_empty() {
                return Ok(Err(Outcome::failed(
                    "Unable to find any of pip3, pip to use.  pip needs to be installed.",
                )));
            }
            path
        }
    };
    let shebang = ctx
        .host
        .exec(&ExecRequest::shell(format!(
            "p=$(command -v {0} || echo {0}); head -n1 \"$p\" 2>/dev/null",
            sh_quote(&pip)
        )))
        .await?;
    let first = String::from_utf8_lossy(&shebang.stdout).into_owned();
    let python = first
        .strip_prefix("#!")
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .and_then(|w| match w.as_slice() {
            // `#!/usr/bin/env python3`
            [env, py, ..] if env.ends_with("/env") => Some((*py).to_string()),
            [py, ..] => Some((*py).to_string()),
            _ => None,
        });
    Ok(Ok(Env {
        pip,
        python,
        created: false,
        cwd,
        umask,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_texts() {
        assert_eq!(
            requirements(&["a, b".into(), "c>=1".into()], None).unwrap(),
            vec!["a", "b", "c>=1"]
        );
        assert_eq!(
            requirements(&["a".into()], Some("1.0")).unwrap(),
            vec!["a==1.0"]
        );
        assert!(requirements(&["a".into(), "b".into()], Some("1")).is_err());
        assert!(requirements(&["a>=1".into()], Some("1")).is_err());
    }

    #[test]
    fn check_lines() {
        assert_eq!(
            parse_check("ok\nmissing\nother 1.2\nunknown\n"),
            vec![Met::Ok, Met::Missing, Met::Other, Met::Unknown]
        );
    }
}

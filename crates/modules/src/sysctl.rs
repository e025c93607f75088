//! `sysctl` (ansible.posix): a kernel parameter in a sysctl file, optionally set in the running
//! kernel (`sysctl_set`) and the file reloaded after a change (`reload`, `sysctl -p FILE`).
//!
//! The file is read and, when it changes, rewritten as ansible.posix rewrites it: comments and
//! blank lines kept, every `key = value` line normalized to `key=value`, repeated keys after
//! the first dropped, a new key appended.

use minijinja::Value;

use crate::accounts;
use crate::textfile::{commit, read_text, EditTarget, Original};
use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Sysctl;

static SPEC: ModuleSpec = ModuleSpec {
    name: "sysctl",
    args: &[
        ArgDef::new("name", ArgKind::Str)
            .aliases(&["key"])
            .required(),
        ArgDef::new("value", ArgKind::Raw).aliases(&["val"]),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("ignoreerrors", ArgKind::Bool),
        ArgDef::new("reload", ArgKind::Bool),
        ArgDef::new("sysctl_file", ArgKind::Path),
        ArgDef::new("sysctl_set", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// A value as the module compares it: booleans as `1`/`0`, whitespace runs as one space.
pub(crate) fn normalize(v: &Value) -> String {
    match v.kind() {
        minijinja::value::ValueKind::Bool => if v.is_true() { "1" } else { "0" }.to_string(),
        minijinja::value::ValueKind::None | minijinja::value::ValueKind::Undefined => String::new(),
        _ => {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            match text.trim().to_lowercase().as_str() {
                "yes" | "on" | "true" => "1".into(),
                "no" | "off" | "false" => "0".into(),
                _ => text.split_whitespace().collect::<Vec<_>>().join(" "),
            }
        }
    }
}

/// The value of `key` in the file (the last line that sets it wins, as the module reads it).
pub(crate) fn file_value(text: &str, key: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            if k.trim() == key {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

/// The file with `key` set to `value` (or removed when `value` is `None`), rewritten as
/// ansible.posix rewrites it.
pub(crate) fn rewrite(text: &str, key: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || !t.contains('=') {
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        let (k, v) = (k.trim(), v.trim());
        if seen.iter().any(|s| s == k) {
            continue;
        }
        seen.push(k.to_string());
        if k == key {
            if let Some(value) = value {
                out.push_str(&format!("{k}={value}\n"));
            }
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    if let Some(value) = value {
        if !seen.iter().any(|s| s == key) {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    out
}

#[async_trait::async_trait]
impl Module for Sysctl {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let name = args.string("name").unwrap_or_default().trim().to_string();
        let present = args.str("state") != Some("absent");
        let file = args
            .string("sysctl_file")
            .unwrap_or_else(|| "/etc/sysctl.conf".into());
        let wanted = args.get("value").map(normalize).unwrap_or_default();
        if present && wanted.is_empty() {
            return Ok(Outcome::failed(format!(
                "value cannot be None (name: {name})"
            )));
        }
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Ok(Outcome::failed(format!("invalid name: {name:?}")));
        }
        let before = match read_text(ctx, &file).await? {
            Ok(Original::Text(t)) => Some(t),
            Ok(Original::Missing) => None,
            Err((_, msg)) => return Ok(Outcome::failed(msg)),
        };
        let current = before.as_deref().and_then(|t| file_value(t, &name));
        let file_change = if present {
            current.as_deref() != Some(wanted.as_str())
        } else {
            current.is_some()
        };
        let mut out = Outcome::ok();
        if file_change {
            let after = rewrite(
                before.as_deref().unwrap_or_default(),
                &name,
                present.then_some(wanted.as_str()),
            );
            let target = EditTarget {
                path: file.clone(),
                attrs: Default::default(),
                backup: false,
                validate: None,
            };
            let done = commit(ctx, &target, before.as_deref(), after).await?;
            out.diff.extend(done.diff);
            out.changed = true;
        }
        let ignore = args.bool("ignoreerrors", false);
        if present && args.bool("sysctl_set", false) {
            let flag = if ignore { "-e " } else { "" };
            let got = accounts::run(
                ctx,
                vec![
                    "sh".into(),
                    "-c".into(),
                    format!("sysctl {flag}-n {}", sh_quote(&name)),
                ],
                &[],
            )
            .await?;
            let live = got
                .stdout()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if live != wanted {
                out.changed = true;
                if !ctx.check {
                    let set = accounts::run(
                        ctx,
                        vec![
                            "sh".into(),
                            "-c".into(),
                            format!("sysctl {flag}-w {}", sh_quote(&format!("{name}={wanted}"))),
                        ],
                        &[],
                    )
                    .await?;
                    if set.out.rc != 0 {
                        return Ok(Outcome::failed(format!(
                            "setsysctl failed: {}",
                            String::from_utf8_lossy(&set.out.stderr).trim()
                        )));
                    }
                }
            }
        }
        if out.changed && !ctx.check && args.bool("reload", true) {
            let flag = if ignore { "-e " } else { "" };
            let reload = accounts::run(
                ctx,
                vec![
                    "sh".into(),
                    "-c".into(),
                    format!("sysctl {flag}-p {}", sh_quote(&file)),
                ],
                &[],
            )
            .await?;
            let err = String::from_utf8_lossy(&reload.out.stderr).into_owned();
            if reload.out.rc != 0 || (!ignore && err.trim_start().starts_with("sysctl: ")) {
                return Ok(Outcome::failed(format!(
                    "Failed to reload sysctl: {}{}",
                    reload.stdout(),
                    err
                )));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_normalize() {
        assert_eq!(normalize(&Value::from(true)), "1");
        assert_eq!(normalize(&Value::from("yes")), "1");
        assert_eq!(
            normalize(&Value::from("4096\t87380   6291456")),
            "4096 87380 6291456"
        );
        assert_eq!(normalize(&Value::from(65536)), "65536");
    }

    #[test]
    fn file_rewritten_as_ansible_posix_does() {
        let text = "# kernel\nvm.swappiness = 10\nnet.ipv4.ip_forward=0\n\nvm.swappiness=20\n";
        assert_eq!(file_value(text, "vm.swappiness").as_deref(), Some("20"));
        assert_eq!(
            rewrite(text, "net.ipv4.ip_forward", Some("1")),
            "# kernel\nvm.swappiness=10\nnet.ipv4.ip_forward=1\n\n"
        );
        assert_eq!(
            rewrite(text, "fs.file-max", Some("100000")),
            "# kernel\nvm.swappiness=10\nnet.ipv4.ip_forward=0\n\nfs.file-max=100000\n"
        );
        assert_eq!(
            rewrite(text, "vm.swappiness", None),
            "# kernel\nnet.ipv4.ip_forward=0\n\n"
        );
    }
}

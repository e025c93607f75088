//! Dynamic inventory scripts: an executable printing JSON for `--list`, groups as keys (a list
//! of hosts, or a mapping with `hosts`, `vars`, `children`) and host variables in
//! `_meta.hostvars`; without `_meta`, each host's variables come from `script --host NAME`.

use std::path::Path;
use std::process::Command;

use drover_yaml::SourceError;
use minijinja::Value;
use serde_json::Value as Json;

use crate::{Inventory, InventoryError};

#[cfg(unix)]
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
pub(crate) fn is_executable(_path: &Path) -> bool {
    false
}

fn fail(path: &Path, message: String) -> InventoryError {
    SourceError::whole_file(path.display().to_string(), message).into()
}

fn call(path: &Path, args: &[&str]) -> Result<Json, InventoryError> {
    let out = Command::new(path)
        .args(args)
        .output()
        .map_err(|e| fail(path, format!("cannot run inventory script: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(fail(
            path,
            format!(
                "inventory script {} failed ({}): {}",
                args.join(" "),
                out.status,
                stderr.trim()
            ),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        fail(
            path,
            format!(
                "inventory script {} printed invalid JSON: {e}",
                args.join(" ")
            ),
        )
    })
}

/// Runs `path --list`.
pub(crate) fn run(path: &Path) -> Result<Json, InventoryError> {
    call(path, &["--list"])
}

fn to_value(j: &Json) -> Value {
    Value::from(minijinja::value::Serde(j))
}

fn strings(j: Option<&Json>, path: &Path, what: &str) -> Result<Vec<String>, InventoryError> {
    match j {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.clone()),
                other => Err(fail(path, format!("{what}: expected names, found {other}"))),
            })
            .collect(),
        Some(other) => Err(fail(
            path,
            format!("{what}: expected a list, found {other}"),
        )),
    }
}

impl Inventory {
    pub(crate) fn add_script_data(
        &mut self,
        file: &str,
        data: &Json,
    ) -> Result<(), InventoryError> {
        let path = Path::new(file);
        let Json::Object(top) = data else {
            return Err(fail(
                path,
                "inventory script output must be a JSON object".to_string(),
            ));
        };
        let mut listed: Vec<String> = Vec::new();
        for (group, body) in top {
            if group == "_meta" {
                continue;
            }
            self.ensure_group(group);
            let (hosts, vars, children) = match body {
                Json::Array(_) => (strings(Some(body), path, group)?, None, Vec::new()),
                Json::Object(o) => (
                    strings(o.get("hosts"), path, &format!("{group}.hosts"))?,
                    o.get("vars"),
                    strings(o.get("children"), path, &format!("{group}.children"))?,
                ),
                other => {
                    return Err(fail(
                        path,
                        format!("group {group:?}: expected a list or an object, found {other}"),
                    ));
                }
            };
            for h in &hosts {
                self.add_host(h, group);
                if !listed.contains(h) {
                    listed.push(h.clone());
                }
            }
            match vars {
                None | Some(Json::Null) => {}
                Some(Json::Object(v)) => {
                    for (k, v) in v {
                        self.set_group_var(group, k, to_value(v));
                    }
                }
                Some(other) => {
                    return Err(fail(
                        path,
                        format!("{group}.vars: expected an object, found {other}"),
                    ));
                }
            }
            for c in &children {
                self.add_child(group, c).map_err(|m| fail(path, m))?;
            }
        }
        match top.get("_meta").and_then(|m| m.get("hostvars")) {
            Some(Json::Object(hostvars)) => {
                for (host, vars) in hostvars {
                    self.set_script_host_vars(path, host, vars)?;
                }
            }
            Some(other) => {
                return Err(fail(
                    path,
                    format!("_meta.hostvars: expected an object, found {other}"),
                ));
            }
            None => {
                for host in listed {
                    let vars = call(path, &["--host", &host])?;
                    self.set_script_host_vars(path, &host, &vars)?;
                }
            }
        }
        Ok(())
    }

    fn set_script_host_vars(
        &mut self,
        path: &Path,
        host: &str,
        vars: &Json,
    ) -> Result<(), InventoryError> {
        match vars {
            Json::Null => Ok(()),
            Json::Object(v) => {
                if !self.hosts.contains_key(host) {
                    // Hosts only known through _meta still exist, as Ansible's scripts allow.
                    self.add_host(host, "ungrouped");
                }
                for (k, v) in v {
                    self.set_host_var(host, k, to_value(v));
                }
                Ok(())
            }
            other => Err(fail(
                path,
                format!("variables of host {host:?}: expected an object, found {other}"),
            )),
        }
    }
}

//! `reboot`: reboots the host and waits until it is back, as Ansible's action does.
//!
//! The boot identity (`boot_time_command`, by default the kernel's boot id) is read first; the
//! reboot command is started (a connection that drops while it runs means the reboot began);
//! then the connection is renewed until the boot identity differs, and the test command
//! (`whoami`) succeeds, each retried with a growing pause (up to 12 s) until `reboot_timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_host::{ExecRequest, Host, HostError};
use drover_playbook::Task;
use indexmap::IndexMap;
use minijinja::Value;

use crate::exec::{connect, display_value, ItemResult};
use crate::state::{HostCtx, RunShared};
use crate::vars::TaskVars;

const VALID: &[&str] = &[
    "boot_time_command",
    "connect_timeout",
    "msg",
    "post_reboot_delay",
    "pre_reboot_delay",
    "reboot_command",
    "reboot_timeout",
    "search_paths",
    "test_command",
];

const SEARCH_PATHS: &[&str] = &["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"];

#[derive(Debug, PartialEq)]
struct Settings {
    boot_time_command: String,
    test_command: String,
    /// The program, absolute or to be found in `search_paths`, and its arguments.
    program: String,
    arguments: String,
    search_paths: Vec<String>,
    post_reboot_delay: u64,
    reboot_timeout: u64,
    connect_timeout: u64,
}

fn settings(args: &IndexMap<String, Value>) -> Result<Settings, String> {
    crate::actions::reject_unknown("reboot", args, VALID)?;
    let given = |name: &str| args.get(name).filter(|v| !v.is_none() && !v.is_undefined());
    let int = |name: &str, default: u64| -> Result<u64, String> {
        let Some(v) = given(name) else {
            return Ok(default);
        };
        let n = v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse::<i64>().ok()));
        match n {
            Some(n) if n >= 0 => Ok(n as u64),
            Some(_) => Err(format!("The value for '{name}' must be 0 or greater")),
            None => Err(format!("The value for '{name}' ({v}) must be an integer.")),
        }
    };
    let text = |name: &str, default: &str| -> Result<String, String> {
        match given(name) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("Invalid value given for '{name}': '{v}' is not a string and conversion is not allowed.")),
        }
    };
    let pre_delay = int("pre_reboot_delay", 0)?;
    let (program, arguments) = match given("reboot_command") {
        Some(_) => {
            let cmd = text("reboot_command", "")?;
            match cmd.split_once(' ') {
                Some((p, a)) => (p.to_string(), a.to_string()),
                None => (cmd, String::new()),
            }
        }
        None => {
            let msg = text("msg", "Reboot initiated by Ansible")?;
            (
                "shutdown".to_string(),
                format!("-r {} \"{msg}\"", pre_delay / 60),
            )
        }
    };
    let search_paths = match given("search_paths") {
        None => SEARCH_PATHS.iter().map(|s| s.to_string()).collect(),
        Some(v) if v.as_str().is_some() => vec![v.as_str().unwrap_or_default().to_string()],
        Some(v) => {
            let mut out = Vec::new();
            for item in v.try_iter().map_err(|_| bad_paths(v))? {
                out.push(item.as_str().ok_or_else(|| bad_paths(v))?.to_string());
            }
            out
        }
    };
    Ok(Settings {
        boot_time_command: text("boot_time_command", "cat /proc/sys/kernel/random/boot_id")?,
        test_command: text("test_command", "whoami")?,
        program,
        arguments,
        search_paths,
        post_reboot_delay: int("post_reboot_delay", 0)?,
        reboot_timeout: int("reboot_timeout", 600)?,
        connect_timeout: int("connect_timeout", 10)?.max(1),
    })
}

fn bad_paths(v: &Value) -> String {
    format!("'search_paths' must be a string or flat list of strings, got {v}")
}

pub async fn run(
    run: &Arc<RunShared>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    args: &IndexMap<String, Value>,
) -> ItemResult {
    let s = match settings(args) {
        Ok(s) => s,
        Err(msg) => return ItemResult::failed(msg),
    };
    let info = match crate::exec::connection_info(run, vars, task) {
        Ok(i) => i,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    if info.kind == "local" {
        let mut r = ItemResult::failed(
            "Running reboot with local connection would reboot the control node.",
        );
        r.result.insert("rebooted".into(), Value::from(false));
        r.result.insert("elapsed".into(), Value::from(0));
        return r;
    }
    let check = crate::exec::check_mode_of(run, vars, task);
    if check {
        let mut r = ItemResult::ok(IndexMap::new());
        r.status = crate::event::Status::Changed;
        r.result.insert("rebooted".into(), Value::from(true));
        r.result.insert("elapsed".into(), Value::from(0));
        return r;
    }
    let target = match connect(run, host, task, vars).await {
        Ok(t) => t,
        Err(e) => return ItemResult::failed(e.to_string()),
    };
    let before = match boot_id(target.as_ref(), &s.boot_time_command).await {
        Ok(b) => b,
        Err(msg) => {
            let mut r = ItemResult::failed(msg);
            r.result.insert("reboot".into(), Value::from(false));
            return r;
        }
    };
    let program = match resolve(target.as_ref(), &s.program, &s.search_paths).await {
        Ok(p) => p,
        Err(msg) => return ItemResult::failed(msg),
    };
    let command = format!("{program} {}", s.arguments);
    let start = Instant::now();
    match target.exec(&ExecRequest::shell(command)).await {
        Ok(out) if out.rc != 0 => {
            let mut r = ItemResult::failed(format!(
                "Reboot command failed. Error was: '{}, {}'",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            r.result.insert("rebooted".into(), Value::from(false));
            r.result
                .insert("elapsed".into(), Value::from(start.elapsed().as_secs()));
            return r;
        }
        // The connection dropping under the command is the reboot beginning.
        Ok(_) | Err(_) => {}
    }
    drop(target);
    if s.post_reboot_delay > 0 {
        tokio::time::sleep(Duration::from_secs(s.post_reboot_delay)).await;
    }
    let deadline = start + Duration::from_secs(s.reboot_timeout);
    let name = host.name.clone();
    let changed = until(
        deadline,
        "last boot time check",
        s.reboot_timeout,
        || async {
            run.connector.reset(&name).await;
            let attempt = async {
                let t = connect(run, host, task, vars)
                    .await
                    .map_err(|e| e.to_string())?;
                let now = boot_id(t.as_ref(), &s.boot_time_command).await?;
                if now.is_empty() || now == before {
                    return Err("boot time has not changed".to_string());
                }
                Ok(())
            };
            match tokio::time::timeout(Duration::from_secs(s.connect_timeout), attempt).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} seconds", s.connect_timeout)),
            }
        },
    )
    .await;
    let tested = match changed {
        Ok(()) => {
            until(
                deadline,
                "post-reboot test command",
                s.reboot_timeout,
                || async {
                    let t = connect(run, host, task, vars)
                        .await
                        .map_err(|e| e.to_string())?;
                    let out = t
                        .exec(&ExecRequest::shell(s.test_command.clone()))
                        .await
                        .map_err(|e: HostError| e.to_string())?;
                    if out.rc != 0 {
                        return Err(format!(
                            "Test command failed: {} {}",
                            String::from_utf8_lossy(&out.stderr),
                            String::from_utf8_lossy(&out.stdout)
                        ));
                    }
                    Ok(())
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    let mut r = match tested {
        Ok(()) => {
            let mut r = ItemResult::ok(IndexMap::new());
            r.status = crate::event::Status::Changed;
            r
        }
        Err(msg) => ItemResult::failed(msg),
    };
    r.result.insert("rebooted".into(), Value::from(true));
    r.result
        .insert("elapsed".into(), Value::from(start.elapsed().as_secs()));
    r
}

/// The boot identity the command prints, trimmed.
async fn boot_id(host: &dyn Host, command: &str) -> Result<String, String> {
    let out = host
        .exec(&ExecRequest::shell(command.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    if out.rc != 0 {
        return Err(format!(
            "reboot: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
            out.rc,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An absolute program as it is; a bare name looked up in `paths` on the host.
async fn resolve(host: &dyn Host, program: &str, paths: &[String]) -> Result<String, String> {
    if program.starts_with('/') {
        return Ok(program.to_string());
    }
    let quoted: Vec<String> = paths.iter().map(|p| drover_modules::sh_quote(p)).collect();
    let script = format!(
        "for d in {}; do if [ -e \"$d\"/{} ]; then printf '%s\\n' \"$d\"/{}; exit 0; fi; done; exit 1",
        quoted.join(" "),
        drover_modules::sh_quote(program),
        drover_modules::sh_quote(program)
    );
    let out = host
        .exec(&ExecRequest::shell(script))
        .await
        .map_err(|e| e.to_string())?;
    let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.rc != 0 || found.is_empty() {
        let listed: Vec<String> = paths.iter().map(|p| format!("'{p}'")).collect();
        return Err(format!(
            "Unable to find command \"{program}\" in search paths: [{}]",
            listed.join(", ")
        ));
    }
    Ok(found)
}

/// Retries `attempt` until it succeeds or `deadline` passes, pausing 2^n seconds (plus up to
/// one second of jitter, capped at 12) between failures, as Ansible's reboot does.
async fn until<F, Fut>(
    deadline: Instant,
    what: &str,
    timeout: u64,
    mut attempt: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut failures: u32 = 0;
    let mut last = String::new();
    while Instant::now() < deadline {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| f64::from(d.subsec_nanos() % 1000) / 1000.0)
            .unwrap_or(0.0);
        let pause = (2f64.powi(failures.min(8) as i32) + jitter).min(12.0 + jitter);
        failures += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(Duration::from_secs_f64(pause).min(left)).await;
    }
    let mut msg = format!("Timed out waiting for {what} (timeout={timeout})");
    if !last.is_empty() {
        msg.push_str(&format!(": {}", display_value(&Value::from(last))));
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::test_args as args;

    #[test]
    fn default_command_and_delays() {
        let s = settings(&args(&[("pre_reboot_delay", Value::from(130))])).unwrap();
        assert_eq!(s.program, "shutdown");
        assert_eq!(s.arguments, "-r 2 \"Reboot initiated by Ansible\"");
        assert_eq!(s.reboot_timeout, 600);
        assert_eq!(s.boot_time_command, "cat /proc/sys/kernel/random/boot_id");
        let s = settings(&args(&[(
            "reboot_command",
            Value::from("systemctl reboot"),
        )]))
        .unwrap();
        assert_eq!(
            (s.program.as_str(), s.arguments.as_str()),
            ("systemctl", "reboot")
        );
    }

    #[test]
    fn bad_options_are_named() {
        assert_eq!(
            settings(&args(&[("bogus", Value::from(1))])).unwrap_err(),
            "Invalid options for reboot: bogus"
        );
        assert_eq!(
            settings(&args(&[("reboot_timeout", Value::from(-1))])).unwrap_err(),
            "The value for 'reboot_timeout' must be 0 or greater"
        );
        assert!(settings(&args(&[("reboot_command", Value::from(5))])).is_err());
    }
}

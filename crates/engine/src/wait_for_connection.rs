//! `wait_for_connection`: waits until the host answers again (after a reboot, a network change,
//! a freshly created machine).
//!
//! Each attempt drops the host's connection and opens a new one, then makes one round trip
//! through it (what `ping` does), within `connect_timeout`; failed attempts are retried every
//! `sleep` seconds until `timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use drover_host::StatOptions;
use drover_playbook::Task;
use indexmap::IndexMap;
use minijinja::Value;

use crate::exec::{connect, display_value, ItemResult};
use crate::state::{HostCtx, RunShared};
use crate::vars::TaskVars;

const VALID: &[&str] = &["connect_timeout", "delay", "sleep", "timeout"];

/// The arguments in seconds, with Ansible's defaults.
#[derive(Debug, PartialEq)]
struct Settings {
    connect_timeout: u64,
    delay: u64,
    sleep: u64,
    timeout: u64,
}

fn settings(args: &IndexMap<String, Value>) -> Result<Settings, String> {
    crate::actions::reject_unknown("wait_for_connection", args, VALID)?;
    let int = |name: &str, default: u64| -> Result<u64, String> {
        let Some(v) = args.get(name).filter(|v| !v.is_none() && !v.is_undefined()) else {
            return Ok(default);
        };
        let n = match v.as_i64() {
            Some(n) => Some(n),
            None => v.as_str().and_then(|s| s.trim().parse::<i64>().ok()),
        };
        n.map(|n| n.max(0) as u64)
            .ok_or_else(|| format!("{name} must be an integer, got '{v}'"))
    };
    Ok(Settings {
        connect_timeout: int("connect_timeout", 5)?,
        delay: int("delay", 0)?,
        sleep: int("sleep", 1)?,
        timeout: int("timeout", 600)?,
    })
}

pub async fn run(
    run: &Arc<RunShared>,
    host: &Arc<HostCtx>,
    task: &Task,
    vars: &TaskVars,
    args: &IndexMap<String, Value>,
) -> ItemResult {
    let check = crate::exec::check_mode_of(run, vars, task);
    if check {
        let mut r = ItemResult::ok(IndexMap::new());
        r.status = crate::event::Status::Skipped;
        return r;
    }
    let s = match settings(args) {
        Ok(s) => s,
        Err(msg) => return ItemResult::failed(msg),
    };
    // The connection to renew is the delegate's when the task is delegated.
    let target = match &task.keywords.delegate_to {
        Some(d) => run
            .templar
            .render_value(d, &vars.scope())
            .map(|v| display_value(&v))
            .unwrap_or_else(|_| host.name.clone()),
        None => host.name.clone(),
    };
    let start = Instant::now();
    if s.delay > 0 {
        tokio::time::sleep(Duration::from_secs(s.delay)).await;
    }
    let deadline = start + Duration::from_secs(s.delay + s.timeout);
    let mut last_error = String::from("no attempt was made");
    while Instant::now() < deadline {
        // A connection that was open before (the host went down since) is stale: start over.
        run.connector.reset(&target).await;
        let attempt = async {
            let target = connect(run, host, task, vars).await?;
            target.stat("/", StatOptions::default()).await
        };
        match tokio::time::timeout(Duration::from_secs(s.connect_timeout), attempt).await {
            Ok(Ok(_)) => return done(start, None),
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => {
                last_error = format!("no answer within {} seconds", s.connect_timeout);
            }
        }
        tokio::time::sleep(Duration::from_secs(s.sleep)).await;
    }
    done(
        start,
        Some(format!(
            "timed out waiting for ping module test: {last_error}"
        )),
    )
}

fn done(start: Instant, failure: Option<String>) -> ItemResult {
    let mut r = match failure {
        Some(msg) => ItemResult::failed(msg),
        None => ItemResult::ok(IndexMap::new()),
    };
    r.result
        .insert("elapsed".into(), Value::from(start.elapsed().as_secs()));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::test_args as args;

    #[test]
    fn defaults_and_conversions() {
        assert_eq!(
            settings(&args(&[])).unwrap(),
            Settings {
                connect_timeout: 5,
                delay: 0,
                sleep: 1,
                timeout: 600
            }
        );
        let s = settings(&args(&[
            ("delay", Value::from("3")),
            ("timeout", Value::from(10)),
        ]))
        .unwrap();
        assert_eq!((s.delay, s.timeout), (3, 10));
        assert!(settings(&args(&[("sleep", Value::from("soon"))])).is_err());
    }

    #[test]
    fn unknown_options_are_named() {
        assert_eq!(
            settings(&args(&[("foo", Value::from("bar"))])).unwrap_err(),
            "Invalid options for wait_for_connection: foo"
        );
    }
}

//! `wait_for`: waits on the host for a port, a file or a string in one, without Python there.
//!
//! The controller drives the loop; every probe is a host primitive: `stat`/`read` for paths,
//! bash's `/dev/tcp` (under `timeout`) for connecting to ports, `/proc/net/tcp{,6}` for counting
//! connections when draining, and the host's `sleep` for the pauses, so the timing is the
//! host's as with Ansible.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drover_host::{ExecRequest, StatOptions};
use minijinja::Value;

use crate::util::sh_quote;
use drover_pyre::{self as pyre, Flags, PyReError};

use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct WaitFor;

static SPEC: ModuleSpec = ModuleSpec {
    name: "wait_for",
    args: &[
        ArgDef::new("host", ArgKind::Str),
        ArgDef::new("timeout", ArgKind::Int),
        ArgDef::new("connect_timeout", ArgKind::Int),
        ArgDef::new("delay", ArgKind::Int),
        ArgDef::new("port", ArgKind::Int),
        ArgDef::new("active_connection_states", ArgKind::List),
        ArgDef::new("path", ArgKind::Path),
        ArgDef::new("search_regex", ArgKind::Str),
        ArgDef::new("state", ArgKind::Str)
            .choices(&["absent", "drained", "present", "started", "stopped"]),
        ArgDef::new("exclude_hosts", ArgKind::List),
        ArgDef::new("sleep", ArgKind::Int),
        ArgDef::new("msg", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    // Ansible's wait_for does not support check mode: it is skipped there.
    check_mode: false,
};

/// TCP states as `/proc/net/tcp` numbers them.
const TCP_STATES: &[(&str, &str)] = &[
    ("ESTABLISHED", "01"),
    ("SYN_SENT", "02"),
    ("SYN_RECV", "03"),
    ("FIN_WAIT1", "04"),
    ("FIN_WAIT2", "05"),
    ("TIME_WAIT", "06"),
    ("CLOSE", "07"),
    ("CLOSE_WAIT", "08"),
    ("LAST_ACK", "09"),
    ("LISTEN", "0A"),
    ("CLOSING", "0B"),
];

const DEFAULT_STATES: &[&str] = &[
    "ESTABLISHED",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "SYN_RECV",
    "SYN_SENT",
    "TIME_WAIT",
];

/// An IPv4 address as `/proc/net/tcp` prints it (little-endian hex), or an IPv6 one as
/// `/proc/net/tcp6` does (four little-endian words).
pub(crate) fn proc_hex(ip: &str) -> Option<String> {
    if let Ok(v4) = ip.parse::<std::net::Ipv4Addr>() {
        let o = v4.octets();
        return Some(format!("{:02X}{:02X}{:02X}{:02X}", o[3], o[2], o[1], o[0]));
    }
    let v6 = ip.parse::<std::net::Ipv6Addr>().ok()?;
    let o = v6.octets();
    let mut s = String::new();
    for w in o.chunks(4) {
        s.push_str(&format!("{:02X}{:02X}{:02X}{:02X}", w[3], w[2], w[1], w[0]));
    }
    Some(s)
}

/// Counts connections on local `port` in one of `states` (hex codes) whose peer is not
/// excluded, in `/proc/net/tcp`-format text.
pub(crate) fn count_connections(
    text: &str,
    port: u16,
    states: &[&str],
    exclude: &[String],
) -> usize {
    let port_hex = format!("{port:04X}");
    text.lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(state)) = (f.get(1), f.get(2), f.get(3)) else {
                return false;
            };
            let (Some((_, lport)), Some((rip, _))) =
                (local.split_once(':'), remote.split_once(':'))
            else {
                return false;
            };
            lport.eq_ignore_ascii_case(&port_hex)
                && states.iter().any(|s| s.eq_ignore_ascii_case(state))
                && !exclude.iter().any(|e| e.eq_ignore_ascii_case(rip))
        })
        .count()
}

enum Probe {
    Done,
    NotYet,
    Failed(String),
}

struct Waiter<'a, 'c> {
    ctx: &'a Context<'c>,
    groups: Vec<Value>,
    groupdict: BTreeMap<String, Value>,
}

impl Waiter<'_, '_> {
    async fn shell(&self, script: String) -> Result<drover_host::ExecOutput, ModuleError> {
        let mut req = ExecRequest::argv(["/bin/sh".to_string(), "-c".to_string(), script]);
        req.env = self.ctx.env.clone();
        Ok(self.ctx.host.exec(&req).await?)
    }

    async fn sleep(&self, secs: f64) -> Result<(), ModuleError> {
        if secs > 0.0 {
            self.shell(format!("sleep {secs:.3}")).await?;
        }
        Ok(())
    }

    /// Connects to `host:port` within `secs`; `Some(bytes read within the window)` when the
    /// port accepted, `None` when it did not. With `read`, data is read until the window ends
    /// or the peer closes.
    async fn connect(
        &self,
        host: &str,
        port: i64,
        secs: u64,
        read: bool,
    ) -> Result<Result<Option<Vec<u8>>, String>, ModuleError> {
        let body = if read {
            "exec 3<>/dev/tcp/\"$0\"/\"$1\" || exit 7; printf x; cat <&3"
        } else {
            "exec 3<>/dev/tcp/\"$0\"/\"$1\" || exit 7; printf x"
        };
        let script = format!(
            "command -v bash >/dev/null || exit 127\n\
             timeout -s KILL {secs} bash -c {} {} {port} 2>/dev/null",
            sh_quote(body),
            sh_quote(host)
        );
        let out = self.shell(script).await?;
        if out.rc == 127 {
            return Ok(Err(
                "wait_for needs bash and timeout on the host to check ports".into(),
            ));
        }
        // The first byte is our marker: the connection was made (even if the read window was
        // then cut short by `timeout`).
        Ok(Ok(match out.stdout.split_first() {
            Some((b'x', rest)) => Some(rest.to_vec()),
            _ => None,
        }))
    }

    fn capture(&mut self, re: &pyre::Regex, text: &str) -> Result<bool, PyReError> {
        let Some(caps) = re.captures(text)? else {
            return Ok(false);
        };
        let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
        self.groups = (1..caps.len())
            .map(|i| {
                caps.get(i)
                    .map(|m| Value::from(m.as_str()))
                    .unwrap_or(Value::from(()))
            })
            .collect();
        self.groupdict = names
            .iter()
            .flatten()
            .map(|n| {
                (
                    n.to_string(),
                    caps.name(n)
                        .map(|m| Value::from(m.as_str()))
                        .unwrap_or(Value::from(())),
                )
            })
            .collect();
        Ok(true)
    }
}

#[async_trait::async_trait]
impl Module for WaitFor {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let host = args.string("host").unwrap_or_else(|| "127.0.0.1".into());
        let timeout = args.int("timeout").unwrap_or(300).max(0);
        let connect_timeout = args.int("connect_timeout").unwrap_or(5).max(1);
        let delay = args.int("delay").unwrap_or(0).max(0);
        let port = args.int("port");
        let path = args.string("path");
        let state = args.str("state").unwrap_or("started").to_string();
        let search = args.string("search_regex");
        let sleep = args.int("sleep").unwrap_or(1).max(0) as f64;
        let msg = args.string("msg");
        let started = Instant::now();
        let elapsed = |start: Instant| start.elapsed().as_secs();
        let fail = |m: String, start: Instant| Outcome::failed(m).with("elapsed", elapsed(start));

        let re = match &search {
            Some(s) => match pyre::compile(s, Flags::MULTILINE) {
                Ok(r) => Some(r),
                Err(e) => return Ok(Outcome::failed(format!("Invalid regular expression: {e}"))),
            },
            None => None,
        };
        let port = port.filter(|p| *p != 0);
        if port.is_some() && path.is_some() {
            return Ok(fail(
                "port and path parameter can not both be passed to wait_for".into(),
                started,
            )
            .with("elapsed", 0));
        }
        if path.is_some() && (state == "stopped" || state == "drained") {
            return Ok(Outcome::failed(format!(
                "state={state} should only be used for checking a port in the wait_for module"
            ))
            .with("elapsed", 0));
        }
        if args.has("exclude_hosts") && state != "drained" {
            return Ok(
                Outcome::failed("exclude_hosts should only be with state=drained")
                    .with("elapsed", 0),
            );
        }
        let state_names = if args.has("active_connection_states") {
            args.list("active_connection_states")
        } else {
            DEFAULT_STATES.iter().map(|s| s.to_string()).collect()
        };
        let mut state_codes = Vec::new();
        for s in &state_names {
            match TCP_STATES.iter().find(|(n, _)| n == s) {
                Some((_, code)) => state_codes.push(*code),
                None => {
                    return Ok(Outcome::failed(format!(
                        "unknown active_connection_state ({s}) defined"
                    ))
                    .with("elapsed", 0))
                }
            }
        }

        let mut w = Waiter {
            ctx,
            groups: Vec::new(),
            groupdict: BTreeMap::new(),
        };
        w.sleep(delay as f64).await?;
        let deadline = started + Duration::from_secs(timeout as u64);
        let remaining = || deadline.saturating_duration_since(Instant::now());

        if port.is_none() && path.is_none() && state != "drained" {
            w.sleep(timeout as f64).await?;
        } else {
            let exclude: Vec<String> = args
                .list("exclude_hosts")
                .iter()
                .filter_map(|h| proc_hex(h))
                .collect();
            loop {
                if remaining().is_zero() {
                    let m = match (&path, port, state.as_str(), &search) {
                        (_, Some(p), "absent" | "stopped", _) => {
                            format!("Timeout when waiting for {host}:{p} to stop.")
                        }
                        (Some(f), _, "absent", _) => {
                            format!("Timeout when waiting for {f} to be absent.")
                        }
                        (_, p, "drained", _) => format!(
                            "Timeout when waiting for {host}:{} to drain",
                            p.map_or("None".to_string(), |p| p.to_string())
                        ),
                        (_, Some(p), _, Some(s)) => {
                            format!("Timeout when waiting for search string {s} in {host}:{p}")
                        }
                        (_, Some(p), _, None) => format!("Timeout when waiting for {host}:{p}"),
                        (Some(f), _, _, Some(s)) => {
                            format!("Timeout when waiting for search string {s} in {f}")
                        }
                        (Some(f), _, _, None) => format!("Timeout when waiting for file {f}"),
                        _ => "Timeout".to_string(),
                    };
                    return Ok(fail(msg.clone().unwrap_or(m), started));
                }
                let probe = match state.as_str() {
                    "absent" | "stopped" => match (&path, port) {
                        (Some(f), _) => {
                            let st = ctx.host.stat(f, StatOptions::default()).await?;
                            if st.exists {
                                Probe::NotYet
                            } else {
                                Probe::Done
                            }
                        }
                        (None, Some(p)) => {
                            match w.connect(&host, p, connect_timeout as u64, false).await? {
                                Err(e) => Probe::Failed(e),
                                Ok(Some(_)) => Probe::NotYet,
                                Ok(None) => Probe::Done,
                            }
                        }
                        _ => Probe::Done,
                    },
                    "drained" => {
                        let mut count = 0;
                        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
                            match ctx.host.read(table).await {
                                Ok(b) => {
                                    count += count_connections(
                                        &String::from_utf8_lossy(&b),
                                        port.unwrap_or(0) as u16,
                                        &state_codes,
                                        &exclude,
                                    )
                                }
                                Err(e) if e.is_not_found() => {}
                                Err(e) => return Err(e.into()),
                            }
                        }
                        if count == 0 {
                            Probe::Done
                        } else {
                            Probe::NotYet
                        }
                    }
                    _ => match (&path, port) {
                        (Some(f), _) => {
                            let st = ctx
                                .host
                                .stat(
                                    f,
                                    StatOptions {
                                        follow: true,
                                        checksum: false,
                                    },
                                )
                                .await?;
                            match (&re, st.exists) {
                                (_, false) => Probe::NotYet,
                                (None, true) => Probe::Done,
                                (Some(re), true) => match ctx.host.read(f).await {
                                    Ok(b) => match w.capture(re, &String::from_utf8_lossy(&b)) {
                                        Ok(true) => Probe::Done,
                                        Ok(false) => Probe::NotYet,
                                        Err(e) => Probe::Failed(e.to_string()),
                                    },
                                    Err(e)
                                        if matches!(e, drover_host::HostError::Unreachable(_)) =>
                                    {
                                        return Err(e.into())
                                    }
                                    Err(_) => Probe::NotYet,
                                },
                            }
                        }
                        (None, Some(p)) => {
                            let window = (connect_timeout as u64).min(remaining().as_secs().max(1));
                            match w.connect(&host, p, window, re.is_some()).await? {
                                Err(e) => Probe::Failed(e),
                                Ok(None) => Probe::NotYet,
                                Ok(Some(data)) => match &re {
                                    None => Probe::Done,
                                    Some(re) => {
                                        match w.capture(re, &String::from_utf8_lossy(&data)) {
                                            Ok(true) => Probe::Done,
                                            Ok(false) => Probe::NotYet,
                                            Err(e) => Probe::Failed(e.to_string()),
                                        }
                                    }
                                },
                            }
                        }
                        _ => Probe::Done,
                    },
                };
                match probe {
                    Probe::Done => break,
                    Probe::Failed(m) => return Ok(fail(m, started)),
                    Probe::NotYet => {
                        let pause = sleep.min(remaining().as_secs_f64());
                        w.sleep(pause).await?;
                    }
                }
            }
        }
        Ok(Outcome::ok()
            .with("state", state.as_str())
            .with("port", port.map(Value::from).unwrap_or(Value::from(())))
            .with(
                "search_regex",
                search.map(Value::from).unwrap_or(Value::from(())),
            )
            .with("match_groups", w.groups)
            .with("match_groupdict", Value::from(w.groupdict))
            .with("path", path.map(Value::from).unwrap_or(Value::from(())))
            .with("elapsed", elapsed(started)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses() {
        assert_eq!(proc_hex("127.0.0.1").unwrap(), "0100007F");
        assert_eq!(proc_hex("10.213.0.13").unwrap(), "0D00D50A");
        assert_eq!(proc_hex("::1").unwrap(), "00000000000000000000000001000000");
        assert!(proc_hex("not-an-ip").is_none());
    }

    #[test]
    fn counts_connections() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n\
   1: 0D00D50A:0016 0100D50A:D2F0 01 00000000:00000000 02:000A7B7E 00000000     0\n\
   2: 0D00D50A:0016 0200D50A:D2F1 06 00000000:00000000 02:000A7B7E 00000000     0\n\
   3: 0D00D50A:1F90 0200D50A:D2F1 01 00000000:00000000 02:000A7B7E 00000000     0\n";
        let active: Vec<&str> = DEFAULT_STATES
            .iter()
            .map(|s| TCP_STATES.iter().find(|(n, _)| n == s).unwrap().1)
            .collect();
        assert_eq!(count_connections(text, 22, &active, &[]), 2);
        assert_eq!(
            count_connections(text, 22, &active, &[proc_hex("10.213.0.1").unwrap()]),
            1
        );
        assert_eq!(count_connections(text, 8080, &active, &[]), 1);
        assert_eq!(count_connections(text, 22, &["0A"], &[]), 1);
    }
}

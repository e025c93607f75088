//! Facts in one call, named and shaped as Ansible's `setup` names and shapes them (without the
//! `ansible_` prefix). Everything comes from /proc, /sys, /etc and uname(2); `ip -j addr` is used
//! for interface addresses when it exists, with a /proc fallback, and `systemctl --version` for
//! the `systemd` fact on systemd hosts.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use chrono::{Datelike, Offset, Timelike};
use drover_host::Facts;
use serde_json::{json, Map, Value};

use crate::users::Accounts;

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

pub fn gather() -> Facts {
    let mut f = Map::new();
    let uts = rustix::system::uname();
    let s = |c: &std::ffi::CStr| c.to_string_lossy().into_owned();
    let nodename = s(uts.nodename());
    let machine = s(uts.machine());
    let hostname = nodename.split('.').next().unwrap_or_default().to_string();
    let fqdn = fqdn_from_hosts(&read("/etc/hosts"), &nodename);
    let domain = fqdn
        .split_once('.')
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    f.insert("hostname".into(), json!(hostname));
    f.insert("nodename".into(), json!(nodename));
    f.insert("fqdn".into(), json!(fqdn));
    f.insert("domain".into(), json!(domain));
    f.insert("system".into(), json!(s(uts.sysname())));
    f.insert("kernel".into(), json!(s(uts.release())));
    f.insert("kernel_version".into(), json!(s(uts.version())));
    f.insert("machine".into(), json!(machine));
    f.insert("architecture".into(), json!(machine));
    f.insert(
        "userspace_bits".into(),
        json!(if cfg!(target_pointer_width = "64") {
            "64"
        } else {
            "32"
        }),
    );
    f.insert("userspace_architecture".into(), json!(machine));

    let os_release = parse_os_release(&read_first(&["/etc/os-release", "/usr/lib/os-release"]));
    for (k, v) in distribution(&os_release, &read("/etc/debian_version")) {
        f.insert(k.into(), v);
    }
    f.insert("pkg_mgr".into(), json!(pkg_mgr(|p| Path::new(p).exists())));
    let mgr = service_mgr(read("/proc/1/comm").trim());
    f.insert("service_mgr".into(), json!(mgr));
    if mgr == "systemd" {
        if let Some(v) = systemd_version() {
            f.insert("systemd".into(), v);
        }
    }

    for (k, v) in cpu_facts(&read("/proc/cpuinfo")) {
        f.insert(k, v);
    }
    for (k, v) in mem_facts(&read("/proc/meminfo")) {
        f.insert(k, v);
    }
    if let Some(up) = read("/proc/uptime").split_whitespace().next() {
        if let Ok(secs) = up.parse::<f64>() {
            f.insert("uptime_seconds".into(), json!(secs as u64));
        }
    }

    let accounts = Accounts::load();
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    let me = accounts.user(euid);
    f.insert(
        "user_id".into(),
        json!(me
            .map(|u| u.name.clone())
            .unwrap_or_else(|| euid.to_string())),
    );
    f.insert("user_uid".into(), json!(euid));
    f.insert("user_gid".into(), json!(egid));
    f.insert(
        "user_dir".into(),
        json!(me
            .map(|u| u.home.clone())
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_default()),
    );
    f.insert(
        "user_shell".into(),
        json!(me.map(|u| u.shell.clone()).unwrap_or_default()),
    );
    f.insert(
        "user_gecos".into(),
        json!(me.map(|u| u.gecos.clone()).unwrap_or_default()),
    );
    let env: Map<String, Value> = std::env::vars_os()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), json!(v.to_string_lossy())))
        .collect();
    f.insert("env".into(), Value::Object(env));

    f.insert("date_time".into(), date_time(chrono::Local::now()));

    for (k, v) in network_facts() {
        f.insert(k, v);
    }
    for (k, v) in python_facts() {
        f.insert(k.into(), v);
    }
    let family = f
        .get("os_family")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for (k, v) in crate::facts_system::distribution_file(&family, |p| Path::new(p).exists()) {
        f.insert(k.into(), v);
    }
    crate::facts_system::gather(&mut f);
    f
}

/// `python` and `python_version`: the interpreter Ansible would discover on this host. Playbooks
/// use them to run scripts (`{{ ansible_python.executable }} -c ...`), so they are reported
/// even though drover itself needs no Python. `-I -S` keeps the one interpreter start cheap.
fn python_facts() -> Vec<(&'static str, Value)> {
    const CANDIDATES: &[&str] = &[
        "/usr/bin/python3",
        "/usr/libexec/platform-python",
        "/usr/local/bin/python3",
        "/usr/bin/python",
    ];
    let Some(exe) = CANDIDATES.iter().find(|p| Path::new(p).exists()) else {
        return Vec::new();
    };
    let out = std::process::Command::new(exe)
        .args([
            "-I",
            "-S",
            "-c",
            "import sys; v = sys.version_info; print(v[0], v[1], v[2], v[3], v[4], sys.implementation.name)",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(out) = out else {
        return Vec::new();
    };
    parse_python_version(exe, &String::from_utf8_lossy(&out.stdout))
}

/// Shapes the probe's `major minor micro releaselevel serial implementation` line.
pub(crate) fn parse_python_version(exe: &str, line: &str) -> Vec<(&'static str, Value)> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [major, minor, micro, level, serial, implementation] = parts.as_slice() else {
        return Vec::new();
    };
    let (Ok(major), Ok(minor), Ok(micro), Ok(serial)) = (
        major.parse::<u64>(),
        minor.parse::<u64>(),
        micro.parse::<u64>(),
        serial.parse::<u64>(),
    ) else {
        return Vec::new();
    };
    vec![
        (
            "python",
            json!({
                "executable": exe,
                "has_sslcontext": true,
                "type": match *implementation {
                    "cpython" => "CPython",
                    "pypy" => "PyPy",
                    other => other,
                },
                "version": {
                    "major": major, "minor": minor, "micro": micro,
                    "releaselevel": level, "serial": serial,
                },
                "version_info": [major, minor, micro, level, serial],
            }),
        ),
        ("python_version", json!(format!("{major}.{minor}.{micro}"))),
    ]
}

fn read_first(paths: &[&str]) -> String {
    paths
        .iter()
        .map(|p| read(p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// Python's `socket.getfqdn()` without DNS: the canonical name of the first /etc/hosts line that
/// lists the host name.
pub(crate) fn fqdn_from_hosts(hosts: &str, nodename: &str) -> String {
    let short = nodename.split('.').next().unwrap_or(nodename);
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let _addr = fields.next();
        let names: Vec<&str> = fields.collect();
        if names.iter().any(|n| *n == nodename || *n == short) {
            if let Some(dotted) = names.iter().find(|n| n.contains('.')) {
                return (*dotted).to_string();
            }
            return names.first().map_or(nodename, |v| v).to_string();
        }
    }
    nodename.to_string()
}

pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// Ansible's distribution facts from os-release (and /etc/debian_version, which Ansible prefers
/// for Debian's point release).
pub fn distribution(
    os: &BTreeMap<String, String>,
    debian_version: &str,
) -> Vec<(&'static str, Value)> {
    let id = os.get("ID").map(String::as_str).unwrap_or("");
    let name = match id {
        "debian" => "Debian".to_string(),
        "ubuntu" => "Ubuntu".to_string(),
        "centos" => "CentOS".to_string(),
        "rhel" => "RedHat".to_string(),
        "fedora" => "Fedora".to_string(),
        "rocky" => "Rocky".to_string(),
        "almalinux" => "AlmaLinux".to_string(),
        "alpine" => "Alpine".to_string(),
        "arch" => "Archlinux".to_string(),
        "opensuse-leap" | "opensuse-tumbleweed" | "opensuse" => "openSUSE Leap".to_string(),
        "sles" => "SLES".to_string(),
        "amzn" => "Amazon".to_string(),
        "" => "Unknown".to_string(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    };
    let family = match name.as_str() {
        "Debian" | "Ubuntu" | "Kali" | "Raspbian" | "Linuxmint" | "Pop!_OS" => "Debian",
        "RedHat" | "CentOS" | "Fedora" | "Rocky" | "AlmaLinux" | "Amazon" | "OracleLinux" => {
            "RedHat"
        }
        "Alpine" => "Alpine",
        "Archlinux" => "Archlinux",
        "openSUSE Leap" | "SLES" => "Suse",
        _ => name.as_str(),
    }
    .to_string();
    let mut version = os.get("VERSION_ID").cloned().unwrap_or_default();
    let dv = debian_version.trim();
    if id == "debian" && !dv.is_empty() && dv.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        version = dv.to_string();
    }
    let release = os
        .get("VERSION_CODENAME")
        .cloned()
        .or_else(|| os.get("UBUNTU_CODENAME").cloned())
        .unwrap_or_default();
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or_default().to_string();
    let mut out = vec![
        ("distribution", json!(name)),
        ("distribution_version", json!(version)),
        ("distribution_major_version", json!(major)),
        ("distribution_release", json!(release)),
        ("os_family", json!(family)),
    ];
    if let Some(minor) = parts.next() {
        out.push(("distribution_minor_version", json!(minor)));
    }
    out
}

pub(crate) fn pkg_mgr(exists: impl Fn(&str) -> bool) -> &'static str {
    const CANDIDATES: &[(&str, &str)] = &[
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/dnf", "dnf"),
        ("/usr/bin/yum", "yum"),
        ("/sbin/apk", "apk"),
        ("/usr/bin/pacman", "pacman"),
        ("/usr/bin/zypper", "zypper"),
    ];
    CANDIDATES
        .iter()
        .find(|(p, _)| exists(p))
        .map_or("unknown", |(_, n)| n)
}

/// `systemd.version`/`systemd.features` from `systemctl --version` (the one fact that needs a
/// program: systemd publishes its feature list nowhere else).
fn systemd_version() -> Option<Value> {
    let out = std::process::Command::new("systemctl")
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_systemd_version(&String::from_utf8_lossy(&out.stdout))
}

fn parse_systemd_version(text: &str) -> Option<Value> {
    let mut lines = text.lines();
    let version: u64 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let features = lines.next().unwrap_or_default();
    Some(json!({"features": features, "version": version}))
}

fn service_mgr(comm: &str) -> &'static str {
    match comm {
        "systemd" => "systemd",
        "runit" | "runit-init" => "runit",
        "upstart" => "upstart",
        "openrc" | "openrc-init" => "openrc",
        "s6-svscan" => "s6",
        _ if Path::new("/run/systemd/system").is_dir() => "systemd",
        _ if Path::new("/sbin/openrc").exists() => "openrc",
        _ if Path::new("/etc/init.d").is_dir() => "sysvinit",
        _ => "service",
    }
}

pub(crate) fn cpu_facts(cpuinfo: &str) -> Vec<(String, Value)> {
    let mut vcpus = 0u64;
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores_per_socket = 0u64;
    let mut siblings = 0u64;
    let mut processor = Vec::new();
    for line in cpuinfo.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => {
                processor.push(json!(v));
                vcpus += 1;
            }
            "vendor_id" | "model name" => processor.push(json!(v)),
            "physical id" => {
                sockets.insert(v.to_string());
            }
            "cpu cores" => cores_per_socket = v.parse().unwrap_or(0),
            "siblings" => siblings = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let count = (sockets.len() as u64).max(1);
    let cores = if cores_per_socket > 0 {
        cores_per_socket
    } else {
        vcpus / count
    };
    let threads = if cores > 0 && siblings > 0 {
        siblings / cores
    } else {
        1
    };
    vec![
        ("processor".into(), Value::Array(processor)),
        ("processor_count".into(), json!(count)),
        ("processor_cores".into(), json!(cores)),
        ("processor_threads_per_core".into(), json!(threads.max(1))),
        ("processor_vcpus".into(), json!(vcpus)),
        ("processor_nproc".into(), json!(vcpus)),
    ]
}

pub(crate) fn mem_facts(meminfo: &str) -> Vec<(String, Value)> {
    let kb = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    vec![
        ("memtotal_mb".into(), json!(kb("MemTotal") / 1024)),
        ("memfree_mb".into(), json!(kb("MemFree") / 1024)),
        ("swaptotal_mb".into(), json!(kb("SwapTotal") / 1024)),
        ("swapfree_mb".into(), json!(kb("SwapFree") / 1024)),
    ]
}

pub(crate) fn date_time<Tz: chrono::TimeZone>(now: chrono::DateTime<Tz>) -> Value
where
    Tz::Offset: std::fmt::Display,
{
    let utc = now.with_timezone(&chrono::Utc);
    let epoch = now.timestamp();
    // chrono knows offsets, not zone abbreviations; UTC is by far the common server setting.
    let tz = if now.offset().fix().local_minus_utc() == 0 {
        "UTC".to_string()
    } else {
        now.format("%:z").to_string()
    };
    json!({
        "year": now.format("%Y").to_string(),
        "month": now.format("%m").to_string(),
        "weekday": now.format("%A").to_string(),
        "weekday_number": now.weekday().num_days_from_sunday().to_string(),
        "weeknumber": now.format("%W").to_string(),
        "day": now.format("%d").to_string(),
        "hour": now.format("%H").to_string(),
        "minute": now.format("%M").to_string(),
        "second": now.format("%S").to_string(),
        "epoch": epoch.to_string(),
        "epoch_int": epoch.to_string(),
        "date": now.format("%Y-%m-%d").to_string(),
        "time": now.format("%H:%M:%S").to_string(),
        "iso8601_micro": format!("{}.{:06}Z", utc.format("%Y-%m-%dT%H:%M:%S"), utc.nanosecond() / 1000 % 1_000_000),
        "iso8601": utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "iso8601_basic": format!("{}{:06}", now.format("%Y%m%dT%H%M%S"), now.nanosecond() / 1000 % 1_000_000),
        "iso8601_basic_short": now.format("%Y%m%dT%H%M%S").to_string(),
        "tz": tz.clone(),
        "tz_dst": tz,
        "tz_offset": now.format("%z").to_string(),
    })
}

/// One IPv4 address of an interface.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Addr4 {
    pub iface: String,
    pub address: String,
    pub prefix: u8,
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn ip(v: u32) -> String {
    std::net::Ipv4Addr::from(v).to_string()
}

fn parse_ip(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

/// Addresses from `ip -j addr` output.
pub(crate) fn addrs_from_ip_json(text: &str) -> Option<Vec<Addr4>> {
    let v: Value = serde_json::from_str(text).ok()?;
    let mut out = Vec::new();
    for link in v.as_array()? {
        let iface = link.get("ifname")?.as_str()?.to_string();
        for a in link
            .get("addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if a.get("family").and_then(Value::as_str) != Some("inet") {
                continue;
            }
            let (Some(local), Some(prefix)) = (
                a.get("local").and_then(Value::as_str),
                a.get("prefixlen").and_then(Value::as_u64),
            ) else {
                continue;
            };
            out.push(Addr4 {
                iface: iface.clone(),
                address: local.to_string(),
                prefix: prefix.min(32) as u8,
            });
        }
    }
    Some(out)
}

/// Routes from /proc/net/route: (iface, destination, gateway, mask), host byte order.
pub(crate) fn parse_routes(text: &str) -> Vec<(String, u32, u32, u32)> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::from_be);
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            Some((f[0].to_string(), hex(f[1])?, hex(f[2])?, hex(f[7])?))
        })
        .collect()
}

/// Addresses without `ip`: local /32 host entries of /proc/net/fib_trie, attributed to the
/// interface whose connected route covers them.
pub(crate) fn addrs_from_proc(fib_trie: &str, routes: &[(String, u32, u32, u32)]) -> Vec<Addr4> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut last_ip: Option<&str> = None;
    for line in fib_trie.lines() {
        let t = line.trim_start_matches([' ', '|', '+', '-']).trim();
        if let Some(candidate) = t.split_whitespace().next() {
            if parse_ip(candidate).is_some() && !t.contains('/') {
                last_ip = Some(candidate);
                continue;
            }
        }
        if t.starts_with("/32 host LOCAL") {
            let Some(addr) = last_ip else { continue };
            let Some(a) = parse_ip(addr) else { continue };
            if !seen.insert(a) {
                continue;
            }
            let found = routes
                .iter()
                .filter(|(_, dst, gw, m)| *gw == 0 && a & m == *dst && *m != 0)
                .max_by_key(|(_, _, _, m)| m.count_ones());
            let (iface, prefix) = match found {
                Some((i, _, _, m)) => (i.clone(), m.count_ones() as u8),
                None if a >> 24 == 127 => ("lo".to_string(), 8),
                None => continue,
            };
            out.push(Addr4 {
                iface,
                address: addr.to_string(),
                prefix,
            });
        }
    }
    out
}

fn ip_json() -> Option<String> {
    for ip in ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"] {
        if Path::new(ip).exists() {
            let out = std::process::Command::new(ip)
                .args(["-j", "-4", "addr", "show"])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            return out
                .status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned());
        }
    }
    None
}

fn network_facts() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut ifaces: Vec<String> = fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ifaces.sort();
    let routes = parse_routes(&read("/proc/net/route"));
    let addrs = ip_json()
        .and_then(|j| addrs_from_ip_json(&j))
        .unwrap_or_else(|| addrs_from_proc(&read("/proc/net/fib_trie"), &routes));
    let sys = |i: &str, f: &str| read(&format!("/sys/class/net/{i}/{f}")).trim().to_string();

    let describe = |a: &Addr4| -> Value {
        let addr = parse_ip(&a.address).unwrap_or(0);
        let m = mask(a.prefix);
        json!({
            "address": a.address,
            "broadcast": if a.prefix < 31 { ip(addr | !m) } else { String::new() },
            "netmask": ip(m),
            "network": ip(addr & m),
            "prefix": a.prefix.to_string(),
        })
    };
    for iface in &ifaces {
        let mut d = Map::new();
        d.insert("device".into(), json!(iface));
        d.insert("active".into(), json!(sys(iface, "operstate") != "down"));
        let mac = sys(iface, "address");
        // Loopback's all-zero address is not reported, as in Ansible.
        if !mac.is_empty() && mac != "00:00:00:00:00:00" {
            d.insert("macaddress".into(), json!(mac));
        }
        if let Ok(mtu) = sys(iface, "mtu").parse::<u64>() {
            d.insert("mtu".into(), json!(mtu));
        }
        d.insert(
            "type".into(),
            json!(if iface == "lo" { "loopback" } else { "ether" }),
        );
        let mine: Vec<&Addr4> = addrs.iter().filter(|a| &a.iface == iface).collect();
        if let Some(first) = mine.first() {
            d.insert("ipv4".into(), describe(first));
            if mine.len() > 1 {
                d.insert(
                    "ipv4_secondaries".into(),
                    Value::Array(mine[1..].iter().map(|a| describe(a)).collect()),
                );
            }
        }
        out.push((iface.replace(['-', ':', '.'], "_"), Value::Object(d)));
    }
    out.push(("interfaces".into(), json!(ifaces)));
    let all: Vec<&str> = addrs
        .iter()
        .filter(|a| !a.address.starts_with("127."))
        .map(|a| a.address.as_str())
        .collect();
    out.push(("all_ipv4_addresses".into(), json!(all)));

    let mut default = Map::new();
    if let Some((iface, _, gw, _)) = routes.iter().find(|(_, dst, _, m)| *dst == 0 && *m == 0) {
        if let Some(a) = addrs.iter().find(|a| &a.iface == iface) {
            if let Value::Object(m) = describe(a) {
                default.extend(m);
            }
        }
        default.insert("gateway".into(), json!(ip(*gw)));
        default.insert("interface".into(), json!(iface));
        default.insert("alias".into(), json!(iface));
        let mac = sys(iface, "address");
        default.insert("macaddress".into(), json!(mac));
        if let Ok(mtu) = sys(iface, "mtu").parse::<u64>() {
            default.insert("mtu".into(), json!(mtu));
        }
        default.insert("type".into(), json!("ether"));
    }
    out.push(("default_ipv4".into(), Value::Object(default)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_distribution() {
        let os = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        );
        let d: BTreeMap<_, _> = distribution(&os, "12.5\n").into_iter().collect();
        assert_eq!(d["distribution"], "Debian");
        assert_eq!(d["distribution_version"], "12.5");
        assert_eq!(d["distribution_major_version"], "12");
        assert_eq!(d["distribution_minor_version"], "5");
        assert_eq!(d["distribution_release"], "bookworm");
        assert_eq!(d["os_family"], "Debian");
        // Testing/sid has a non-numeric debian_version: keep VERSION_ID.
        let d: BTreeMap<_, _> = distribution(&os, "trixie/sid").into_iter().collect();
        assert_eq!(d["distribution_version"], "12");
    }

    #[test]
    fn ubuntu_and_rocky_families() {
        let os = parse_os_release("ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n");
        let d: BTreeMap<_, _> = distribution(&os, "bookworm/sid").into_iter().collect();
        assert_eq!(d["distribution"], "Ubuntu");
        assert_eq!(d["distribution_version"], "22.04");
        assert_eq!(d["distribution_major_version"], "22");
        assert_eq!(d["os_family"], "Debian");
        let os = parse_os_release("ID='rocky'\nVERSION_ID=\"9.3\"\n");
        let d: BTreeMap<_, _> = distribution(&os, "").into_iter().collect();
        assert_eq!(d["distribution"], "Rocky");
        assert_eq!(d["os_family"], "RedHat");
    }

    #[test]
    fn fqdn_lookup() {
        let hosts = "127.0.0.1 localhost\n10.0.0.5 web1.example.com web1 # the box\n";
        assert_eq!(fqdn_from_hosts(hosts, "web1"), "web1.example.com");
        assert_eq!(fqdn_from_hosts(hosts, "db1"), "db1");
    }

    #[test]
    fn cpu_and_memory() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n\nprocessor\t: 2\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n\nprocessor\t: 3\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n";
        let c: BTreeMap<_, _> = cpu_facts(cpuinfo).into_iter().collect();
        assert_eq!(c["processor_vcpus"], 4);
        assert_eq!(c["processor_count"], 1);
        assert_eq!(c["processor_cores"], 2);
        assert_eq!(c["processor_threads_per_core"], 2);
        assert_eq!(c["processor"][0], "0");
        assert_eq!(c["processor"][1], "GenuineIntel");
        assert_eq!(c["processor"][2], "Xeon");
        let m: BTreeMap<_, _> =
            mem_facts("MemTotal:       16318540 kB\nMemFree:  1024000 kB\nSwapTotal: 0 kB\n")
                .into_iter()
                .collect();
        assert_eq!(m["memtotal_mb"], 15936);
        assert_eq!(m["memfree_mb"], 1000);
    }

    #[test]
    fn python_version_probe() {
        let f = parse_python_version("/usr/bin/python3", "3 11 2 final 0 cpython\n");
        let m: BTreeMap<_, _> = f.into_iter().collect();
        assert_eq!(m["python_version"], json!("3.11.2"));
        assert_eq!(m["python"]["executable"], json!("/usr/bin/python3"));
        assert_eq!(m["python"]["type"], json!("CPython"));
        assert_eq!(m["python"]["version_info"], json!([3, 11, 2, "final", 0]));
        assert!(parse_python_version("/x", "garbage").is_empty());
    }

    #[test]
    fn date_time_shape() {
        use chrono::TimeZone;
        let t = chrono::FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2024, 3, 5, 14, 7, 9)
            .unwrap();
        let d = date_time(t);
        assert_eq!(d["date"], "2024-03-05");
        assert_eq!(d["time"], "14:07:09");
        assert_eq!(d["iso8601"], "2024-03-05T13:07:09Z");
        assert_eq!(d["epoch"], "1709644029");
        assert_eq!(d["weekday"], "Tuesday");
        assert_eq!(d["weekday_number"], "2");
        assert_eq!(d["tz_offset"], "+0100");
        assert_eq!(d["iso8601_basic_short"], "20240305T140709");
    }

    #[test]
    fn addresses_from_ip_json_and_proc() {
        let j = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
                    {"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"172.18.0.3","prefixlen":16},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]"#;
        let a = addrs_from_ip_json(j).unwrap();
        assert_eq!(
            a,
            vec![
                Addr4 {
                    iface: "lo".into(),
                    address: "127.0.0.1".into(),
                    prefix: 8
                },
                Addr4 {
                    iface: "eth0".into(),
                    address: "172.18.0.3".into(),
                    prefix: 16
                },
            ]
        );
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let routes = parse_routes(route);
        assert_eq!(
            routes[0],
            (
                "eth0".to_string(),
                0,
                u32::from(std::net::Ipv4Addr::new(172, 18, 0, 1)),
                0
            )
        );
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n     |-- 172.18.0.0\n        /16 link UNICAST\n     |-- 172.18.0.3\n           /32 host LOCAL\nLocal:\n     |-- 172.18.0.3\n           /32 host LOCAL\n";
        let p = addrs_from_proc(fib, &routes);
        assert_eq!(
            p,
            vec![
                Addr4 {
                    iface: "lo".into(),
                    address: "127.0.0.1".into(),
                    prefix: 8
                },
                Addr4 {
                    iface: "eth0".into(),
                    address: "172.18.0.3".into(),
                    prefix: 16
                },
            ]
        );
    }

    #[test]
    fn proc_fallback_agrees_with_ip_on_this_machine() {
        let Some(json) = ip_json() else {
            return; // no `ip` here: nothing to compare with
        };
        let mut from_ip = addrs_from_ip_json(&json).unwrap();
        let routes = parse_routes(&read("/proc/net/route"));
        let mut from_proc = addrs_from_proc(&read("/proc/net/fib_trie"), &routes);
        let key = |a: &Addr4| (a.iface.clone(), a.address.clone());
        from_ip.sort_by_key(key);
        from_proc.sort_by_key(key);
        assert_eq!(from_proc, from_ip);
    }

    #[test]
    fn systemd_version_output() {
        let v = parse_systemd_version("systemd 252 (252.33-1~deb12u1)\n+PAM +AUDIT -APPARMOR\n")
            .unwrap();
        assert_eq!(v["version"], 252);
        assert_eq!(v["features"], "+PAM +AUDIT -APPARMOR");
        assert!(parse_systemd_version("garbage").is_none());
    }

    #[test]
    fn gather_on_this_machine_has_the_core_facts() {
        let f = gather();
        for key in [
            "hostname",
            "fqdn",
            "nodename",
            "system",
            "kernel",
            "architecture",
            "machine",
            "processor_vcpus",
            "processor_count",
            "memtotal_mb",
            "default_ipv4",
            "all_ipv4_addresses",
            "interfaces",
            "env",
            "user_id",
            "user_dir",
            "pkg_mgr",
            "service_mgr",
            "date_time",
            "distribution",
            "os_family",
        ] {
            assert!(f.contains_key(key), "missing {key}");
        }
        assert_eq!(f["system"], "Linux");
        assert_eq!(f["architecture"], std::env::consts::ARCH);
        assert!(f["processor_vcpus"].as_u64().unwrap() >= 1);
        assert!(f["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "lo"));
    }
}

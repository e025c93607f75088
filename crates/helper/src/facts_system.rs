//! The facts beyond identity, CPU and IPv4 that roles test in their `when:`s: virtualization
//! (`ansible_virtualization_type != 'docker'`), mounts and their free space, DNS resolvers,
//! detailed memory, load, kernel command line, IPv6 addresses, DMI (vendor, product, BIOS),
//! SELinux and AppArmor state, and the smaller ones Ansible always reports. Shapes and
//! "not available" values (`NA`, `N/A`, `[]`, `""`) follow Ansible's `setup` on Linux; each
//! source is parsed by a pure function so that the parsing is tested on fixed text.

use std::fs;
use std::path::Path;

use serde_json::{json, Map, Value};

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Adds every fact this module knows to `f`.
pub fn gather(f: &mut Map<String, Value>) {
    f.insert("dns".into(), dns(&read("/etc/resolv.conf")));
    f.insert("memory_mb".into(), memory_mb(&read("/proc/meminfo")));
    if let Some(l) = loadavg(&read("/proc/loadavg")) {
        f.insert("loadavg".into(), l);
    }
    let cmdline = read("/proc/cmdline");
    if !cmdline.trim().is_empty() {
        f.insert("cmdline".into(), kernel_cmdline(&cmdline, false));
        f.insert("proc_cmdline".into(), kernel_cmdline(&cmdline, true));
    }
    let machine_id = read("/etc/machine-id");
    if !machine_id.trim().is_empty() {
        f.insert("machine_id".into(), json!(machine_id.trim()));
    }
    if let Some(flags) = cpu_flags(&read("/proc/cpuinfo")) {
        f.insert("flags".into(), flags);
    }
    ids(f);
    f.insert(
        "mounts".into(),
        mounts(&read("/proc/self/mountinfo"), statvfs),
    );
    for (k, v) in dmi(|name| {
        fs::read_to_string(format!("/sys/devices/virtual/dmi/id/{name}"))
            .ok()
            .map(|s| s.trim().to_string())
    }) {
        f.insert(k.into(), v);
    }
    let virt = virtualization(&VirtProbe::read());
    f.insert("virtualization_type".into(), json!(virt.kind));
    f.insert("virtualization_role".into(), json!(virt.role));
    f.insert("virtualization_tech_guest".into(), json!(virt.guest));
    f.insert("virtualization_tech_host".into(), json!(virt.host));
    f.insert(
        "apparmor".into(),
        json!({"status": if Path::new("/sys/kernel/security/apparmor").exists() { "enabled" } else { "disabled" }}),
    );
    f.insert("selinux".into(), selinux());
    // drover reads SELinux state itself; no Python binding is needed for it.
    f.insert("selinux_python_present".into(), json!(true));
    f.insert(
        "fips".into(),
        json!(read("/proc/sys/crypto/fips_enabled").trim() == "1"),
    );
    f.insert("is_chroot".into(), json!(is_chroot()));
    f.insert("lsb".into(), lsb(&read("/etc/lsb-release")));
    f.insert("lvm".into(), json!("N/A"));
    let iqn = read("/etc/iscsi/initiatorname.iscsi");
    f.insert(
        "iscsi_iqn".into(),
        json!(iqn
            .lines()
            .find_map(|l| l.trim().strip_prefix("InitiatorName="))
            .unwrap_or_default()),
    );
    f.insert("hostnqn".into(), json!(read("/etc/nvme/hostnqn").trim()));
    f.insert("fibre_channel_wwn".into(), json!(fc_wwns()));
    let v6 = ipv6_addresses(&read("/proc/net/if_inet6"));
    let all: Vec<&str> = v6
        .iter()
        .filter(|a| a.address != "::1")
        .map(|a| a.address.as_str())
        .collect();
    f.insert("all_ipv6_addresses".into(), json!(all));
    let (devices, links) = block_devices(Path::new("/"));
    f.insert("devices".into(), devices);
    f.insert("device_links".into(), links);
    if let Some(ips) = locally_reachable_ips() {
        f.insert("locally_reachable_ips".into(), ips);
    }
    f.insert(
        "default_ipv6".into(),
        default_ipv6(&read("/proc/net/ipv6_route"), &v6),
    );
    for a in &v6 {
        let key = a.iface.replace(['-', ':', '.'], "_");
        if let Some(Value::Object(iface)) = f.get_mut(&key) {
            let list = iface.entry("ipv6").or_insert_with(|| json!([]));
            if let Value::Array(items) = list {
                items.push(json!({"address": a.address, "prefix": a.prefix, "scope": a.scope}));
            }
        }
    }
}

/// Which release file named the distribution, as Ansible reports it.
pub fn distribution_file(
    os_family: &str,
    exists: impl Fn(&str) -> bool,
) -> Vec<(&'static str, Value)> {
    let (path, variety) = match os_family {
        "RedHat" if exists("/etc/redhat-release") => ("/etc/redhat-release", "RedHat"),
        "Suse" if exists("/etc/SuSE-release") => ("/etc/SuSE-release", "SUSE"),
        "Alpine" if exists("/etc/alpine-release") => ("/etc/alpine-release", "Alpine"),
        "Archlinux" if exists("/etc/arch-release") => ("/etc/arch-release", "Archlinux"),
        "Debian" => ("/etc/os-release", "Debian"),
        _ if exists("/etc/os-release") => ("/etc/os-release", "NA"),
        _ => return Vec::new(),
    };
    vec![
        ("distribution_file_path", json!(path)),
        ("distribution_file_variety", json!(variety)),
        ("distribution_file_parsed", json!(true)),
    ]
}

/// `/etc/resolv.conf` as Ansible reads it: `nameservers`, `domain`, `search`, `sortlist` and
/// `options` (flags as true, `key:value` options as text); only the keys present appear.
pub fn dns(text: &str) -> Value {
    let mut out = Map::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        match key {
            "nameserver" => {
                if let Some(ns) = rest.first() {
                    let list = out.entry("nameservers").or_insert_with(|| json!([]));
                    if let Value::Array(items) = list {
                        items.push(json!(ns));
                    }
                }
            }
            "domain" => {
                if let Some(d) = rest.first() {
                    out.insert("domain".into(), json!(d));
                }
            }
            "search" | "sortlist" => {
                out.insert(key.into(), json!(rest));
            }
            "options" => {
                let opts = out.entry("options").or_insert_with(|| json!({}));
                if let Value::Object(m) = opts {
                    for o in rest {
                        match o.split_once(':') {
                            Some((k, v)) => m.insert(k.into(), json!(v)),
                            None => m.insert(o.into(), json!(true)),
                        };
                    }
                }
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// `memory_mb`: real, cache-free and swap figures in MiB, from `/proc/meminfo`.
pub fn memory_mb(meminfo: &str) -> Value {
    let mb = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    let (total, free) = (mb("MemTotal"), mb("MemFree"));
    let nocache_free = free + mb("Buffers") + mb("Cached");
    let (swap_total, swap_free) = (mb("SwapTotal"), mb("SwapFree"));
    json!({
        "real": {"total": total, "free": free, "used": total.saturating_sub(free)},
        "nocache": {"free": nocache_free, "used": total.saturating_sub(nocache_free)},
        "swap": {
            "total": swap_total,
            "free": swap_free,
            "used": swap_total.saturating_sub(swap_free),
            "cached": mb("SwapCached"),
        },
    })
}

pub fn loadavg(text: &str) -> Option<Value> {
    let mut w = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    let (a, b, c) = (w.next()??, w.next()??, w.next()??);
    Some(json!({"1m": a, "5m": b, "15m": c}))
}

/// The kernel command line as `cmdline` (the last value of a repeated key wins) or, with
/// `all`, as `proc_cmdline` (a repeated key keeps every value, as a list). A bare word is true.
pub fn kernel_cmdline(text: &str, all: bool) -> Value {
    let mut out = Map::new();
    for word in text.split_whitespace() {
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k, json!(v)),
            None => (word, json!(true)),
        };
        match out.get_mut(k) {
            Some(existing) if all => {
                if let Value::Array(items) = existing {
                    items.push(v);
                } else {
                    let first = existing.take();
                    *existing = json!([first, v]);
                }
            }
            _ => {
                out.insert(k.into(), v);
            }
        }
    }
    Value::Object(out)
}

fn cpu_flags(cpuinfo: &str) -> Option<Value> {
    let line = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))?;
    let (_, flags) = line.split_once(':')?;
    Some(json!(flags.split_whitespace().collect::<Vec<_>>()))
}

fn ids(f: &mut Map<String, Value>) {
    use rustix::process::{getegid, geteuid, getgid, getuid};
    f.insert("effective_user_id".into(), json!(geteuid().as_raw()));
    f.insert("effective_group_id".into(), json!(getegid().as_raw()));
    f.insert("real_user_id".into(), json!(getuid().as_raw()));
    f.insert("real_group_id".into(), json!(getgid().as_raw()));
}

/// Size figures of one mounted filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsStats {
    pub block_size: u64,
    pub blocks: u64,
    pub blocks_available: u64,
    pub blocks_free: u64,
    pub inodes: u64,
    pub inodes_free: u64,
}

fn statvfs(path: &str) -> Option<FsStats> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(FsStats {
        block_size: s.f_frsize,
        blocks: s.f_blocks,
        blocks_available: s.f_bavail,
        blocks_free: s.f_bfree,
        inodes: s.f_files,
        inodes_free: s.f_ffree,
    })
}

/// `mounts` from `/proc/self/mountinfo`: filesystems on a device path (or a network path
/// `host:/export`), as Ansible keeps them, with sizes from statvfs; a mount of a subtree
/// (the root field is not `/`) is a bind mount and says so in its options.
pub fn mounts(mountinfo: &str, stat: impl Fn(&str) -> Option<FsStats>) -> Value {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super-options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount), Some(options), Some(fstype), Some(device)) =
            (l.get(3), l.get(4), l.get(5), r.first(), r.get(1))
        else {
            continue;
        };
        let device = unescape(device);
        if !(device.starts_with('/') || device.starts_with('\\') || device.contains(":/"))
            || *fstype == "none"
        {
            continue;
        }
        let mount = unescape(mount);
        // The options /etc/mtab shows: the mount's own, then the filesystem's (whose leading
        // rw/ro is the superblock's, already said by the mount's).
        let mut opts = options.to_string();
        for o in r.get(2).map(|s| s.split(',')).into_iter().flatten() {
            if o != "rw" && o != "ro" && !o.is_empty() {
                opts.push(',');
                opts.push_str(o);
            }
        }
        if *root != "/" {
            opts.push_str(",bind");
        }
        let mut m = json!({
            "mount": mount,
            "device": device,
            "fstype": fstype,
            "options": opts,
            "dump": 0,
            "passno": 0,
            "uuid": "N/A",
        });
        if let (Some(s), Value::Object(map)) = (stat(&mount), &mut m) {
            map.insert("block_size".into(), json!(s.block_size));
            map.insert("block_total".into(), json!(s.blocks));
            map.insert("block_available".into(), json!(s.blocks_available));
            map.insert("block_used".into(), json!(s.blocks - s.blocks_free));
            map.insert("inode_total".into(), json!(s.inodes));
            map.insert("inode_available".into(), json!(s.inodes_free));
            map.insert("inode_used".into(), json!(s.inodes - s.inodes_free));
            map.insert("size_total".into(), json!(s.blocks * s.block_size));
            map.insert(
                "size_available".into(),
                json!(s.blocks_available * s.block_size),
            );
        }
        out.push(m);
    }
    Value::Array(out)
}

/// Octal escapes of mountinfo fields (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// DMI facts; `NA` where the kernel does not expose the field or it is not readable (serials
/// are root-only).
pub fn dmi(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, Value)> {
    const FIELDS: &[(&str, &str)] = &[
        ("bios_date", "bios_date"),
        ("bios_vendor", "bios_vendor"),
        ("bios_version", "bios_version"),
        ("board_asset_tag", "board_asset_tag"),
        ("board_name", "board_name"),
        ("board_serial", "board_serial"),
        ("board_vendor", "board_vendor"),
        ("board_version", "board_version"),
        ("chassis_asset_tag", "chassis_asset_tag"),
        ("chassis_serial", "chassis_serial"),
        ("chassis_vendor", "chassis_vendor"),
        ("chassis_version", "chassis_version"),
        ("product_name", "product_name"),
        ("product_serial", "product_serial"),
        ("product_uuid", "product_uuid"),
        ("product_version", "product_version"),
        ("system_vendor", "sys_vendor"),
    ];
    let mut out: Vec<(&'static str, Value)> = FIELDS
        .iter()
        .map(|(fact, file)| (*fact, json!(get(file).unwrap_or_else(|| "NA".into()))))
        .collect();
    let form = get("chassis_type")
        .and_then(|t| t.parse::<usize>().ok())
        .and_then(|n| FORM_FACTORS.get(n).copied())
        .unwrap_or("NA");
    out.push(("form_factor", json!(form)));
    out
}

/// SMBIOS chassis types, by number.
const FORM_FACTORS: &[&str] = &[
    "Unknown",
    "Other",
    "Unknown",
    "Desktop",
    "Low Profile Desktop",
    "Pizza Box",
    "Mini Tower",
    "Tower",
    "Portable",
    "Laptop",
    "Notebook",
    "Hand Held",
    "Docking Station",
    "All In One",
    "Sub Notebook",
    "Space-saving",
    "Lunch Box",
    "Main Server Chassis",
    "Expansion Chassis",
    "Sub Chassis",
    "Bus Expansion Chassis",
    "Peripheral Chassis",
    "RAID Chassis",
    "Rack Mount Chassis",
    "Sealed-case PC",
    "Multi-system",
    "CompactPCI",
    "AdvancedTCA",
    "Blade",
    "Blade Enclosure",
    "Tablet",
    "Convertible",
    "Detachable",
    "IoT Gateway",
    "Embedded PC",
    "Mini PC",
    "Stick PC",
];

/// What decides the virtualization facts, read from the host.
#[derive(Debug, Default)]
pub struct VirtProbe {
    pub dockerenv: bool,
    pub containerenv: bool,
    /// `container=` from PID 1's environment or /run/systemd/container.
    pub container: String,
    pub pid1_cgroup: String,
    pub product_name: String,
    pub sys_vendor: String,
    pub bios_vendor: String,
    pub cpu_hypervisor: bool,
    pub xen: bool,
    pub kvm_host: bool,
}

impl VirtProbe {
    fn read() -> VirtProbe {
        let environ = fs::read("/proc/1/environ").unwrap_or_default();
        let from_environ = environ
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"container="))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let container =
            from_environ.unwrap_or_else(|| read("/run/systemd/container").trim().to_string());
        let dmi = |f: &str| {
            read(&format!("/sys/devices/virtual/dmi/id/{f}"))
                .trim()
                .to_string()
        };
        VirtProbe {
            dockerenv: Path::new("/.dockerenv").exists(),
            containerenv: Path::new("/run/.containerenv").exists(),
            container,
            pid1_cgroup: read("/proc/1/cgroup"),
            product_name: dmi("product_name"),
            sys_vendor: dmi("sys_vendor"),
            bios_vendor: dmi("bios_vendor"),
            cpu_hypervisor: read("/proc/cpuinfo")
                .lines()
                .any(|l| l.starts_with("flags") && l.split_whitespace().any(|w| w == "hypervisor")),
            xen: Path::new("/proc/xen").exists(),
            kvm_host: Path::new("/dev/kvm").exists(),
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Virt {
    pub kind: String,
    pub role: String,
    pub guest: Vec<String>,
    pub host: Vec<String>,
}

/// Ansible's Linux virtualization detection, for the technologies seen in practice:
/// containers (docker, podman, lxc, systemd-nspawn, containerd) first, then hypervisors by
/// their DMI names.
pub fn virtualization(p: &VirtProbe) -> Virt {
    let mut guest: Vec<String> = Vec::new();
    let mut host: Vec<String> = Vec::new();
    let mut kind = String::new();
    let mut role = String::new();
    // The first technology found decides the type and role.
    fn set(k: &str, r: &str, kind: &mut String, role: &mut String) {
        if kind.is_empty() {
            *kind = k.to_string();
            *role = r.to_string();
        }
    }
    let container = p.container.trim();
    let cgroup = &p.pid1_cgroup;
    if p.dockerenv
        || cgroup.contains("/docker/")
        || cgroup.contains("docker-")
        || container == "docker"
    {
        guest.extend(["container".into(), "docker".into()]);
        set("docker", "guest", &mut kind, &mut role);
    } else if p.containerenv || container == "podman" {
        guest.extend(["container".into(), "podman".into()]);
        set("podman", "guest", &mut kind, &mut role);
    } else if container == "lxc" || cgroup.contains("/lxc/") {
        guest.extend(["container".into(), "lxc".into()]);
        set("lxc", "guest", &mut kind, &mut role);
    } else if container == "systemd-nspawn" {
        guest.extend(["container".into(), "systemd-nspawn".into()]);
        set("systemd-nspawn", "guest", &mut kind, &mut role);
    } else if cgroup.contains("/kubepods") || container == "containerd" {
        guest.extend(["container".into(), "containerd".into()]);
        set("containerd", "guest", &mut kind, &mut role);
    }
    let product = p.product_name.as_str();
    let vendor = p.sys_vendor.as_str();
    let hypervisor = if product.starts_with("KVM")
        || product == "Bochs"
        || product.starts_with("OpenStack")
        || vendor == "QEMU"
        || p.bios_vendor == "SeaBIOS"
        || vendor.starts_with("Amazon EC2")
        || vendor == "Google"
        || vendor == "DigitalOcean"
        || vendor == "Hetzner"
    {
        Some("kvm")
    } else if product.starts_with("VMware") || vendor.starts_with("VMware") {
        Some("VMware")
    } else if product == "VirtualBox" || vendor == "innotek GmbH" {
        Some("virtualbox")
    } else if vendor == "Microsoft Corporation" && product == "Virtual Machine" {
        Some("VirtualPC")
    } else if p.xen || vendor == "Xen" || product.starts_with("HVM domU") {
        Some("xen")
    } else if vendor == "Parallels Software International Inc."
        || product == "Parallels Virtual Platform"
    {
        Some("parallels")
    } else {
        None
    };
    if let Some(h) = hypervisor {
        guest.push(h.to_string());
        set(h, "guest", &mut kind, &mut role);
    } else if p.cpu_hypervisor && kind.is_empty() {
        // A hypervisor that DMI does not name (Firecracker, for one).
        guest.push("kvm".into());
        set("kvm", "guest", &mut kind, &mut role);
    }
    if p.kvm_host && kind.is_empty() {
        host.push("kvm".into());
        set("kvm", "host", &mut kind, &mut role);
    }
    Virt {
        kind: if kind.is_empty() { "NA".into() } else { kind },
        role: if role.is_empty() { "NA".into() } else { role },
        guest,
        host,
    }
}

fn selinux() -> Value {
    let base = Path::new("/sys/fs/selinux");
    if !base.join("enforce").exists() {
        return json!({"status": "disabled"});
    }
    let mode = match read("/sys/fs/selinux/enforce").trim() {
        "1" => "enforcing",
        _ => "permissive",
    };
    let config = read("/etc/selinux/config");
    let setting = |k: &str| {
        config
            .lines()
            .find_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    json!({
        "status": "enabled",
        "mode": mode,
        "config_mode": setting("SELINUX"),
        "type": setting("SELINUXTYPE"),
        "policyvers": read("/sys/fs/selinux/policyvers").trim().parse::<u64>().ok(),
    })
}

/// Whether this process sees a root other than PID 1's (Ansible's `is_chroot`).
fn is_chroot() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata("/"), fs::metadata("/proc/1/root/.")) {
        (Ok(a), Ok(b)) => a.ino() != b.ino() || a.dev() != b.dev(),
        // PID 1's root is not readable by an unprivileged user: a real root is inode 2 on
        // the common filesystems.
        (Ok(a), Err(_)) => a.ino() != 2,
        _ => false,
    }
}

/// `lsb` from `/etc/lsb-release` (`{}` when the file is absent, as on a minimal Debian).
pub fn lsb(text: &str) -> Value {
    let mut out = Map::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        let key = match k.trim() {
            "DISTRIB_ID" => "id",
            "DISTRIB_RELEASE" => "release",
            "DISTRIB_DESCRIPTION" => "description",
            "DISTRIB_CODENAME" => "codename",
            _ => continue,
        };
        out.insert(key.into(), json!(v));
        if key == "release" {
            if let Some(major) = v.split('.').next() {
                out.insert("major_release".into(), json!(major));
            }
        }
    }
    Value::Object(out)
}

fn fc_wwns() -> Vec<String> {
    let Ok(dir) = fs::read_dir("/sys/class/fc_host") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| fs::read_to_string(e.path().join("port_name")).ok())
        .map(|s| s.trim().trim_start_matches("0x").to_string())
        .collect()
}

#[derive(Debug, PartialEq)]
pub struct Addr6 {
    pub address: String,
    pub prefix: String,
    pub scope: String,
    pub iface: String,
}

fn read_trim(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Ansible's `bytes_to_human`: `256.00 GB` (powers of 1024).
pub fn bytes_to_human(bytes: f64) -> String {
    const UNITS: &[&str] = &["Bytes", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut n = bytes;
    let mut unit = 0;
    while n >= 1024.0 && unit + 1 < UNITS.len() {
        n /= 1024.0;
        unit += 1;
    }
    format!("{n:.2} {}", UNITS[unit])
}

/// `/dev/disk/by-<kind>`: device name → the link names pointing at it.
fn disk_links(root: &Path, kind: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    let Ok(dir) = fs::read_dir(root.join("dev/disk").join(kind)) else {
        return out;
    };
    let mut entries: Vec<(String, String)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let target = fs::read_link(e.path()).ok()?;
            let dev = target.file_name()?.to_string_lossy().into_owned();
            Some((dev, e.file_name().to_string_lossy().into_owned()))
        })
        .collect();
    entries.sort();
    for (dev, link) in entries {
        if let Value::Array(list) = out.entry(dev).or_insert_with(|| json!([])) {
            list.push(json!(link));
        }
    }
    out
}

/// `devices` and `device_links` from /sys/block and /dev/disk, shaped as Ansible's Linux
/// hardware facts (no lspci `host`, no sg_inq serials).
pub fn block_devices(root: &Path) -> (Value, Value) {
    let mut links = Map::new();
    for (kind, dir) in [
        ("ids", "by-id"),
        ("uuids", "by-uuid"),
        ("labels", "by-label"),
    ] {
        links.insert(kind.into(), Value::Object(disk_links(root, dir)));
    }
    // masters: a device-mapper device over its slaves.
    let mut masters: Map<String, Value> = Map::new();
    let sys_block = root.join("sys/block");
    let mut blocks: Vec<String> = fs::read_dir(&sys_block)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    blocks.sort();
    for b in &blocks {
        if let Ok(slaves) = fs::read_dir(sys_block.join(b).join("slaves")) {
            let owner = read_trim(&sys_block.join(b).join("dm/name")).unwrap_or_else(|| b.clone());
            for s in slaves.filter_map(Result::ok) {
                let slave = s.file_name().to_string_lossy().into_owned();
                if let Value::Array(list) = masters.entry(slave).or_insert_with(|| json!([])) {
                    list.push(json!(owner));
                }
            }
        }
    }
    links.insert("masters".into(), Value::Object(masters));
    let links_of = |name: &str| -> Value {
        let mut m = Map::new();
        for kind in ["ids", "uuids", "labels", "masters"] {
            let v = links
                .get(kind)
                .and_then(|k| k.get(name))
                .cloned()
                .unwrap_or_else(|| json!([]));
            m.insert(kind.into(), v);
        }
        Value::Object(m)
    };
    let holders = |dir: &Path| -> Value {
        let mut out = Vec::new();
        if let Ok(h) = fs::read_dir(dir.join("holders")) {
            let mut names: Vec<String> = h
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for n in names.into_iter().filter(|n| n.starts_with("dm-")) {
                out.push(read_trim(&dir.join("holders").join(&n).join("dm/name")).unwrap_or(n));
            }
        }
        json!(out)
    };
    let uuid_of = |part: &str| -> Value {
        links
            .get("uuids")
            .and_then(|u| u.get(part))
            .and_then(|l| l.get(0))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut devices = Map::new();
    for b in &blocks {
        let dir = sys_block.join(b);
        let file = |p: &str| read_trim(&dir.join(p));
        let opt = |p: &str| file(p).map_or(Value::Null, Value::from);
        let sectorsize = file("queue/logical_block_size")
            .filter(|s| !s.is_empty())
            .or_else(|| file("queue/hw_sector_size"))
            .unwrap_or_else(|| "512".into());
        let ss: u64 = sectorsize.parse().unwrap_or(512).max(1);
        let sectors = file("size")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
            * 512
            / ss;
        let scheduler = file("queue/scheduler")
            .and_then(|s| Some(s.split_once('[')?.1.split_once(']')?.0.to_string()))
            .unwrap_or_default();
        let mut partitions = Map::new();
        let mut parts: Vec<String> = fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        parts.sort();
        for p in parts.into_iter().filter(|p| {
            p.strip_prefix(b.as_str())
                .map(|r| r.strip_prefix('p').unwrap_or(r))
                .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit()))
        }) {
            let pdir = dir.join(&p);
            let pss: u64 = read_trim(&pdir.join("queue/logical_block_size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(512)
                .max(1);
            let psectors = read_trim(&pdir.join("size"))
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
                * 512
                / pss;
            partitions.insert(
                p.clone(),
                json!({
                    "links": links_of(&p),
                    "start": read_trim(&pdir.join("start")).unwrap_or_else(|| "0".into()),
                    "sectorsize": pss.to_string(),
                    "sectors": psectors,
                    "size": bytes_to_human((psectors * pss) as f64),
                    "uuid": uuid_of(&p),
                    "holders": holders(&pdir),
                }),
            );
        }
        let discard = if file("queue/discard_max_hw_bytes").as_deref() == Some("0") {
            Value::from("0")
        } else {
            opt("queue/discard_granularity")
        };
        let mut d = json!({
            "virtual": 1,
            "links": links_of(b),
            "vendor": opt("device/vendor"),
            "model": opt("device/model"),
            "sas_address": opt("device/sas_address"),
            "sas_device_handle": opt("device/sas_device_handle"),
            "removable": opt("removable"),
            "support_discard": discard,
            "partitions": Value::Object(partitions),
            "rotational": opt("queue/rotational"),
            "scheduler_mode": scheduler,
            "sectorsize": sectorsize,
            "sectors": sectors,
            "size": bytes_to_human((sectors * ss) as f64),
            "host": "",
            "holders": holders(&dir),
        });
        if let (Some(serial), Value::Object(m)) =
            (file("device/serial").filter(|s| !s.is_empty()), &mut d)
        {
            m.insert("serial".into(), json!(serial));
        }
        devices.insert(b.clone(), d);
    }
    (Value::Object(devices), Value::Object(links))
}

/// `locally_reachable_ips`: the `local` routes of `ip route show table local`, IPv4 then IPv6.
fn locally_reachable_ips() -> Option<Value> {
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let run = |family: &str| {
        std::process::Command::new(ip)
            .args([family, "route", "show", "table", "local"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    Some(json!({
        "ipv4": local_routes(&run("-4")),
        "ipv6": local_routes(&run("-6")),
    }))
}

/// The destinations of `local` routes, once each, in order.
pub fn local_routes(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() != Some("local") {
            continue;
        }
        if let Some(addr) = w.next() {
            if !out.iter().any(|a| a == addr) {
                out.push(addr.to_string());
            }
        }
    }
    out
}

/// `/proc/net/if_inet6`: one address per line, 32 hex digits, then index, prefix length,
/// scope and flags in hex, then the interface.
pub fn ipv6_addresses(text: &str) -> Vec<Addr6> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let (hex, prefix, scope, iface) = (w.first()?, w.get(2)?, w.get(3)?, w.get(5)?);
            Some(Addr6 {
                address: ipv6_text(hex)?,
                prefix: u32::from_str_radix(prefix, 16).ok()?.to_string(),
                scope: match u32::from_str_radix(scope, 16).ok()? {
                    0x00 => "global",
                    0x10 => "host",
                    0x20 => "link",
                    0x40 => "site",
                    _ => "unknown",
                }
                .to_string(),
                iface: iface.to_string(),
            })
        })
        .collect()
}

fn ipv6_text(hex: &str) -> Option<String> {
    let bits = u128::from_str_radix(hex, 16).ok()?;
    Some(std::net::Ipv6Addr::from(bits).to_string())
}

/// `default_ipv6`: the interface and gateway of the IPv6 default route and the interface's
/// first global address; `{}` without one.
pub fn default_ipv6(routes: &str, addrs: &[Addr6]) -> Value {
    for l in routes.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let (Some(dst), Some(dst_len), Some(gw), Some(iface)) =
            (w.first(), w.get(1), w.get(4), w.get(9))
        else {
            continue;
        };
        if dst.chars().any(|c| c != '0') || *dst_len != "00" || *iface == "lo" {
            continue;
        }
        let mut out = Map::new();
        out.insert("interface".into(), json!(iface));
        if let Some(g) = ipv6_text(gw) {
            out.insert("gateway".into(), json!(g));
        }
        if let Some(a) = addrs
            .iter()
            .find(|a| a.iface == *iface && a.scope == "global")
        {
            out.insert("address".into(), json!(a.address));
            out.insert("prefix".into(), json!(a.prefix));
            out.insert("scope".into(), json!(a.scope));
        }
        return Value::Object(out);
    }
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf() {
        let v = dns("# comment\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch a.example b.example\noptions ndots:0 rotate\n");
        assert_eq!(
            v,
            json!({"nameservers": ["10.0.0.2", "10.0.0.3"], "search": ["a.example", "b.example"],
                   "options": {"ndots": "0", "rotate": true}})
        );
        assert_eq!(dns(""), json!({}));
    }

    #[test]
    fn memory_in_mib() {
        let v = memory_mb("MemTotal: 2048000 kB\nMemFree: 1024000 kB\nBuffers: 10240 kB\nCached: 102400 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\nSwapCached: 0 kB\n");
        assert_eq!(
            v["real"],
            json!({"total": 2000, "free": 1000, "used": 1000})
        );
        assert_eq!(v["nocache"], json!({"free": 1110, "used": 890}));
        assert_eq!(v["swap"]["total"], json!(0));
    }

    #[test]
    fn cmdline_forms() {
        let text = "BOOT_IMAGE=/vmlinuz ro quiet console=tty0 console=ttyS0\n";
        assert_eq!(kernel_cmdline(text, false)["console"], json!("ttyS0"));
        assert_eq!(
            kernel_cmdline(text, true)["console"],
            json!(["tty0", "ttyS0"])
        );
        assert_eq!(kernel_cmdline(text, true)["quiet"], json!(true));
    }

    #[test]
    fn mounts_keep_device_filesystems_and_mark_binds() {
        let info = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n\
                    23 22 0:5 / /proc rw - proc proc rw\n\
                    24 22 254:0 /var/lib/x /etc/host\\040name ro - ext4 /dev/vda rw\n\
                    25 22 0:40 / /mnt/nfs rw - nfs4 server:/export rw\n";
        let stat = |_: &str| {
            Some(FsStats {
                block_size: 4096,
                blocks: 100,
                blocks_available: 40,
                blocks_free: 50,
                inodes: 10,
                inodes_free: 4,
            })
        };
        let v = mounts(info, stat);
        let list = v.as_array().expect("list");
        assert_eq!(list.len(), 3);
        assert_eq!(list[0]["mount"], json!("/"));
        assert_eq!(list[0]["options"], json!("rw,relatime,discard"));
        assert_eq!(list[0]["size_total"], json!(409600));
        assert_eq!(list[0]["size_available"], json!(163840));
        assert_eq!(list[0]["block_used"], json!(50));
        assert_eq!(list[1]["mount"], json!("/etc/host name"));
        assert_eq!(list[1]["options"], json!("ro,bind"));
        assert_eq!(list[2]["device"], json!("server:/export"));
    }

    #[test]
    fn virtualization_of_containers_and_vms() {
        let docker = VirtProbe {
            dockerenv: true,
            ..VirtProbe::default()
        };
        assert_eq!(
            virtualization(&docker),
            Virt {
                kind: "docker".into(),
                role: "guest".into(),
                guest: vec!["container".into(), "docker".into()],
                host: vec![],
            }
        );
        let vm = VirtProbe {
            product_name: "KVM".into(),
            ..VirtProbe::default()
        };
        assert_eq!(virtualization(&vm).kind, "kvm");
        let metal = VirtProbe::default();
        assert_eq!(virtualization(&metal).kind, "NA");
    }

    #[test]
    fn ipv6_from_proc() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe800000000000000242acfffe110002 0b 40 20 80     eth0\n\
                    20010db8000000000000000000000005 0b 40 00 80     eth0\n";
        let a = ipv6_addresses(text);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].address, "::1");
        assert_eq!(a[1].address, "fe80::242:acff:fe11:2");
        assert_eq!(a[1].scope, "link");
        assert_eq!(a[2].prefix, "64");
        let routes = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n";
        assert_eq!(
            default_ipv6(routes, &a),
            json!({"interface": "eth0", "gateway": "fe80::1", "address": "2001:db8::5", "prefix": "64", "scope": "global"})
        );
        assert_eq!(default_ipv6("", &a), json!({}));
    }

    #[test]
    fn block_devices_from_sysfs() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let w = |p: &str, c: &str| {
            let path = r.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        };
        w("sys/block/vda/size", "536870912\n");
        w("sys/block/vda/removable", "0\n");
        w("sys/block/vda/queue/rotational", "1\n");
        w("sys/block/vda/queue/logical_block_size", "512\n");
        w(
            "sys/block/vda/queue/scheduler",
            "none [mq-deadline] kyber\n",
        );
        w("sys/block/vda/queue/discard_granularity", "4096\n");
        w("sys/block/vda/device/vendor", "0x1af4\n");
        w("sys/block/vda/vda1/size", "2048\n");
        w("sys/block/vda/vda1/start", "2048\n");
        std::fs::create_dir_all(r.join("dev/disk/by-uuid")).unwrap();
        std::os::unix::fs::symlink("../../vda1", r.join("dev/disk/by-uuid/1234-abcd")).unwrap();
        let (devices, links) = block_devices(r);
        let vda = &devices["vda"];
        assert_eq!(vda["size"], json!("256.00 GB"));
        assert_eq!(vda["sectors"], json!(536870912));
        assert_eq!(vda["sectorsize"], json!("512"));
        assert_eq!(vda["scheduler_mode"], json!("mq-deadline"));
        assert_eq!(vda["model"], Value::Null);
        assert_eq!(vda["partitions"]["vda1"]["size"], json!("1.00 MB"));
        assert_eq!(vda["partitions"]["vda1"]["uuid"], json!("1234-abcd"));
        assert_eq!(links["uuids"]["vda1"], json!(["1234-abcd"]));
    }

    #[test]
    fn local_route_table() {
        let text = "local 10.213.0.11 dev eth0 proto kernel scope host src 10.213.0.11\n\
                    broadcast 10.213.255.255 dev eth0 proto kernel scope link src 10.213.0.11\n\
                    local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1\n\
                    local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1\n";
        assert_eq!(
            local_routes(text),
            vec!["10.213.0.11", "127.0.0.0/8", "127.0.0.1"]
        );
    }

    #[test]
    fn dmi_fields_default_to_na() {
        let v = dmi(|name| (name == "sys_vendor").then(|| "QEMU".to_string()));
        let m: std::collections::HashMap<_, _> = v.into_iter().collect();
        assert_eq!(m["system_vendor"], json!("QEMU"));
        assert_eq!(m["product_serial"], json!("NA"));
        assert_eq!(m["form_factor"], json!("NA"));
    }

    #[test]
    fn lsb_release_file() {
        let v = lsb("DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04 LTS\"\n");
        assert_eq!(
            v,
            json!({"id": "Ubuntu", "release": "22.04", "major_release": "22", "codename": "jammy", "description": "Ubuntu 22.04 LTS"})
        );
    }
}

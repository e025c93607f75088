//! A simulated host for the controller-scale benchmark: every primitive costs one injected
//! round-trip latency and works on a small in-memory filesystem, so idempotence holds (a second
//! run reports no change) without any machine behind it.
//!
//! Memory per host stays small: a host holds only the entries written to it, and file contents
//! are interned run-wide (10,000 hosts receiving the same file share one copy). Paths never
//! written are treated as pre-existing directories' parents: writing `/etc/app.conf` needs no
//! `/etc` entry, but `stat("/etc")` reports it missing.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use drover_host::{
    Attrs, DirEntry, ExecOutput, ExecRequest, Facts, FileKind, FileOp, FileOpOutcome, FileStat,
    Host, HostError, HostResult, IoKind, StatOptions, WriteOutcome, WriteRequest,
};
use serde_json::json;
use sha1::{Digest, Sha1};

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Settings of a simulated host.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SimSpec {
    /// Added to every primitive, as a network round trip would.
    pub latency: Duration,
}

#[derive(Debug, Clone)]
struct Entry {
    kind: FileKind,
    mode: u32,
    owner: Arc<str>,
    group: Arc<str>,
    content: Arc<[u8]>,
    target: Option<Arc<str>>,
    mtime: f64,
    inode: u64,
}

fn intern_bytes(data: &[u8]) -> Arc<[u8]> {
    static POOL: OnceLock<Mutex<HashSet<Arc<[u8]>>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| Mutex::new(HashSet::new()));
    let Ok(mut pool) = pool.lock() else {
        return Arc::from(data);
    };
    if let Some(a) = pool.get(data) {
        return a.clone();
    }
    let a: Arc<[u8]> = Arc::from(data);
    pool.insert(a.clone());
    a
}

fn intern_str(s: &str) -> Arc<str> {
    static POOL: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| Mutex::new(HashSet::new()));
    let Ok(mut pool) = pool.lock() else {
        return Arc::from(s);
    };
    if let Some(a) = pool.get(s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s);
    pool.insert(a.clone());
    a
}

fn id_of(name: &str) -> u32 {
    match name {
        "root" => 0,
        n => n.parse().unwrap_or(1000),
    }
}

fn not_found(path: &str) -> HostError {
    HostError::Io {
        path: Some(path.to_string()),
        kind: IoKind::NotFound,
        message: "No such file or directory".into(),
    }
}

fn invalid(path: &str, message: impl Into<String>) -> HostError {
    HostError::Io {
        path: Some(path.to_string()),
        kind: IoKind::InvalidInput,
        message: message.into(),
    }
}

fn normalize(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.to_string()
    }
}

fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/')
        .map(|(p, _)| if p.is_empty() { "/" } else { p })
}

/// One simulated managed host.
pub struct SimHost {
    name: String,
    spec: SimSpec,
    fs: Mutex<BTreeMap<String, Entry>>,
}

impl SimHost {
    pub fn new(name: &str, spec: SimSpec) -> SimHost {
        SimHost {
            name: name.to_string(),
            spec,
            fs: Mutex::new(BTreeMap::new()),
        }
    }

    async fn round_trip(&self) {
        if !self.spec.latency.is_zero() {
            tokio::time::sleep(self.spec.latency).await;
        }
    }

    fn with_fs<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, Entry>) -> HostResult<T>,
    ) -> HostResult<T> {
        let mut fs = self
            .fs
            .lock()
            .map_err(|_| HostError::Protocol("simulated filesystem poisoned".into()))?;
        f(&mut fs)
    }

    fn new_inode() -> u64 {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

fn stat_entry(fs: &BTreeMap<String, Entry>, path: &str, opts: StatOptions) -> FileStat {
    let mut p = normalize(path);
    for _ in 0..40 {
        let Some(e) = fs.get(&p) else {
            return FileStat::default();
        };
        if e.kind == FileKind::Symlink && opts.follow {
            let t = e.target.as_deref().unwrap_or_default();
            p = if t.starts_with('/') {
                normalize(t)
            } else {
                normalize(&format!("{}/{t}", parent(&p).unwrap_or("/")))
            };
            continue;
        }
        let checksum = (opts.checksum && e.kind == FileKind::File).then(|| {
            Sha1::digest(&e.content)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
        return FileStat {
            exists: true,
            kind: Some(e.kind),
            mode: e.mode,
            uid: id_of(&e.owner),
            gid: id_of(&e.group),
            owner: e.owner.to_string(),
            group: e.group.to_string(),
            size: e.content.len() as u64,
            mtime: e.mtime,
            atime: e.mtime,
            ctime: e.mtime,
            inode: e.inode,
            dev: 1,
            nlink: 1,
            link_target: e.target.as_deref().map(str::to_string),
            checksum,
            readable: true,
            writeable: true,
            executable: e.mode & 0o111 != 0,
        };
    }
    FileStat::default()
}

fn check_parent(fs: &BTreeMap<String, Entry>, path: &str) -> HostResult<()> {
    match parent(path).and_then(|p| fs.get(p)) {
        Some(e) if e.kind != FileKind::Directory => Err(HostError::Io {
            path: Some(path.to_string()),
            kind: IoKind::NotADirectory,
            message: "Not a directory".into(),
        }),
        _ => Ok(()),
    }
}

/// Applies attrs to one entry; returns whether it differs.
fn apply(e: &mut Entry, path: &str, attrs: &Attrs, check: bool) -> HostResult<bool> {
    let mut changed = false;
    if let Some(spec) = &attrs.mode {
        if e.kind != FileKind::Symlink {
            let new = drover_helper::resolve_mode(spec, e.mode, e.kind == FileKind::Directory)
                .map_err(|err| invalid(path, err.to_string()))?;
            if new != e.mode {
                changed = true;
                if !check {
                    e.mode = new;
                }
            }
        }
    }
    for (want, have) in [(&attrs.owner, &mut e.owner), (&attrs.group, &mut e.group)] {
        if let Some(w) = want {
            if **have != **w && id_of(have).to_string() != *w {
                changed = true;
                if !check {
                    *have = intern_str(w);
                }
            }
        }
    }
    Ok(changed)
}

fn new_entry(kind: FileKind, mode: u32) -> Entry {
    let root = intern_str("root");
    Entry {
        kind,
        mode,
        owner: root.clone(),
        group: root,
        content: intern_bytes(&[]),
        target: None,
        mtime: now(),
        inode: SimHost::new_inode(),
    }
}

fn below(fs: &BTreeMap<String, Entry>, path: &str) -> Vec<String> {
    let prefix = if path == "/" {
        "/".to_string()
    } else {
        format!("{path}/")
    };
    fs.range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect()
}

#[async_trait::async_trait]
impl Host for SimHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn stat(&self, path: &str, opts: StatOptions) -> HostResult<FileStat> {
        self.round_trip().await;
        self.with_fs(|fs| Ok(stat_entry(fs, path, opts)))
    }

    async fn stat_many(&self, paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
        self.round_trip().await;
        self.with_fs(|fs| Ok(paths.iter().map(|p| stat_entry(fs, p, opts)).collect()))
    }

    async fn read(&self, path: &str) -> HostResult<Vec<u8>> {
        self.round_trip().await;
        self.with_fs(|fs| match fs.get(&normalize(path)) {
            Some(e) if e.kind == FileKind::File => Ok(e.content.to_vec()),
            Some(_) => Err(HostError::Io {
                path: Some(path.into()),
                kind: IoKind::IsADirectory,
                message: "not a regular file".into(),
            }),
            None => Err(not_found(path)),
        })
    }

    async fn write(&self, req: &WriteRequest) -> HostResult<WriteOutcome> {
        self.round_trip().await;
        self.with_fs(|fs| {
            let p = normalize(&req.path);
            check_parent(fs, &p)?;
            let existing = fs.get(&p).cloned();
            if existing
                .as_ref()
                .is_some_and(|e| e.kind == FileKind::Directory)
            {
                return Err(HostError::Io {
                    path: Some(p),
                    kind: IoKind::IsADirectory,
                    message: "is a directory".into(),
                });
            }
            let keep = existing.as_ref().filter(|_| req.preserve_existing);
            let mut e = match keep {
                Some(old) => old.clone(),
                None => new_entry(FileKind::File, req.default_mode.unwrap_or(0o644)),
            };
            e.content = intern_bytes(&req.content);
            e.mtime = now();
            e.inode = SimHost::new_inode();
            apply(&mut e, &p, &req.attrs, false)?;
            let backup = match (req.backup, existing) {
                (true, Some(old)) => {
                    let name = format!("{p}.1.2000-01-01@00:00:00~");
                    fs.insert(name.clone(), old);
                    Some(name)
                }
                _ => None,
            };
            fs.insert(p, e);
            Ok(WriteOutcome {
                backup_file: backup,
            })
        })
    }

    async fn exec(&self, _req: &ExecRequest) -> HostResult<ExecOutput> {
        self.round_trip().await;
        let t = now();
        Ok(ExecOutput {
            rc: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            start: t,
            end: t,
        })
    }

    async fn raw(&self, command: &str) -> HostResult<ExecOutput> {
        self.exec(&ExecRequest::shell(command)).await
    }

    async fn file_op(&self, op: &FileOp, check: bool) -> HostResult<FileOpOutcome> {
        self.round_trip().await;
        let lstat = StatOptions::default();
        let follow = StatOptions {
            follow: true,
            checksum: false,
        };
        self.with_fs(|fs| {
            let out =
                |fs: &BTreeMap<String, Entry>, changed, before, path: &str, o| FileOpOutcome {
                    changed,
                    before,
                    after: stat_entry(fs, path, o),
                };
            match op {
                FileOp::Directory {
                    path,
                    attrs,
                    recurse,
                } => {
                    let p = normalize(path);
                    let before = stat_entry(fs, &p, follow);
                    if before.exists && before.kind != Some(FileKind::Directory) {
                        return Err(HostError::Io {
                            path: Some(p),
                            kind: IoKind::AlreadyExists,
                            message: "exists and is not a directory".into(),
                        });
                    }
                    let mut changed = !before.exists;
                    if check && !before.exists {
                        return Ok(out(fs, true, before, &p, follow));
                    }
                    check_parent(fs, &p)?;
                    let e = fs
                        .entry(p.clone())
                        .or_insert_with(|| new_entry(FileKind::Directory, 0o755));
                    changed |= apply(e, &p, attrs, check)?;
                    if *recurse {
                        for k in below(fs, &p) {
                            if let Some(e) = fs.get_mut(&k) {
                                changed |= apply(e, &k, attrs, check)?;
                            }
                        }
                    }
                    Ok(out(fs, changed, before, &p, follow))
                }
                FileOp::Touch { path, attrs } => {
                    let p = normalize(path);
                    let before = stat_entry(fs, &p, follow);
                    if !check {
                        check_parent(fs, &p)?;
                        let e = fs
                            .entry(p.clone())
                            .or_insert_with(|| new_entry(FileKind::File, 0o644));
                        e.mtime = now();
                        apply(e, &p, attrs, false)?;
                    }
                    Ok(out(fs, true, before, &p, follow))
                }
                FileOp::Symlink {
                    path,
                    src,
                    force,
                    attrs,
                } => {
                    let p = normalize(path);
                    let before = stat_entry(fs, &p, lstat);
                    if before.kind == Some(FileKind::Symlink)
                        && before.link_target.as_deref() == Some(src.as_str())
                    {
                        let changed = match fs.get_mut(&p) {
                            Some(e) => apply(e, &p, attrs, check)?,
                            None => false,
                        };
                        return Ok(out(fs, changed, before, &p, lstat));
                    }
                    if before.exists && before.kind != Some(FileKind::Symlink) && !*force {
                        return Err(invalid(
                            &p,
                            "refusing to convert an existing file to a symlink (use force)",
                        ));
                    }
                    if !check {
                        let mut e = new_entry(FileKind::Symlink, 0o777);
                        e.target = Some(Arc::from(src.as_str()));
                        apply(&mut e, &p, attrs, false)?;
                        fs.insert(p.clone(), e);
                    }
                    Ok(out(fs, true, before, &p, lstat))
                }
                FileOp::Hardlink { path, src, force } => {
                    let p = normalize(path);
                    let before = stat_entry(fs, &p, lstat);
                    let Some(source) = fs.get(&normalize(src)).cloned() else {
                        return Err(not_found(src));
                    };
                    if before.exists && before.inode == source.inode {
                        return Ok(out(fs, false, before, &p, lstat));
                    }
                    if before.exists && !*force {
                        return Err(invalid(
                            &p,
                            "refusing to replace an existing file by a hard link (use force)",
                        ));
                    }
                    if !check {
                        fs.insert(p.clone(), source);
                    }
                    Ok(out(fs, true, before, &p, lstat))
                }
                FileOp::Absent { path } => {
                    let p = normalize(path);
                    let before = stat_entry(fs, &p, lstat);
                    if before.exists && !check {
                        for k in below(fs, &p) {
                            fs.remove(&k);
                        }
                        fs.remove(&p);
                    }
                    Ok(out(fs, before.exists, before, &p, lstat))
                }
                FileOp::Attrs {
                    path,
                    attrs,
                    follow: f,
                    recurse,
                } => {
                    let p = normalize(path);
                    let o = StatOptions {
                        follow: *f,
                        checksum: false,
                    };
                    let before = stat_entry(fs, &p, o);
                    let Some(e) = fs.get_mut(&p) else {
                        return Err(not_found(&p));
                    };
                    let mut changed = apply(e, &p, attrs, check)?;
                    if *recurse {
                        for k in below(fs, &p) {
                            if let Some(e) = fs.get_mut(&k) {
                                changed |= apply(e, &k, attrs, check)?;
                            }
                        }
                    }
                    Ok(out(fs, changed, before, &p, o))
                }
                FileOp::Rename { from, to } => {
                    let (f, t) = (normalize(from), normalize(to));
                    let before = stat_entry(fs, &f, lstat);
                    if !before.exists {
                        let dest = stat_entry(fs, &t, lstat);
                        if dest.exists {
                            return Ok(out(fs, false, dest, &t, lstat));
                        }
                        return Err(not_found(&f));
                    }
                    if !check {
                        if let Some(e) = fs.remove(&f) {
                            fs.insert(t.clone(), e);
                        }
                    }
                    Ok(out(fs, true, before, &t, lstat))
                }
            }
        })
    }

    async fn list_dir(&self, path: &str) -> HostResult<Vec<DirEntry>> {
        self.round_trip().await;
        self.with_fs(|fs| {
            let p = normalize(path);
            let prefix = if p == "/" {
                "/".to_string()
            } else {
                format!("{p}/")
            };
            Ok(below(fs, &p)
                .into_iter()
                .filter(|k| !k[prefix.len()..].contains('/'))
                .map(|k| DirEntry {
                    name: k[prefix.len()..].to_string(),
                    stat: stat_entry(fs, &k, StatOptions::default()),
                })
                .collect())
        })
    }

    async fn facts(&self) -> HostResult<Facts> {
        self.round_trip().await;
        let mut f = Facts::new();
        let short = self.name.split('.').next().unwrap_or_default();
        for (k, v) in [
            ("hostname", json!(short)),
            ("nodename", json!(self.name)),
            ("fqdn", json!(self.name)),
            ("system", json!("Linux")),
            ("kernel", json!("6.1.0-sim")),
            ("architecture", json!("x86_64")),
            ("machine", json!("x86_64")),
            ("distribution", json!("Debian")),
            ("distribution_version", json!("12")),
            ("distribution_major_version", json!("12")),
            ("distribution_release", json!("bookworm")),
            ("os_family", json!("Debian")),
            ("pkg_mgr", json!("apt")),
            ("service_mgr", json!("systemd")),
            ("processor_vcpus", json!(2)),
            ("processor_count", json!(1)),
            ("memtotal_mb", json!(2048)),
            ("user_id", json!("root")),
            ("user_dir", json!("/root")),
            ("interfaces", json!(["lo", "eth0"])),
            ("all_ipv4_addresses", json!(["10.0.0.2"])),
            (
                "default_ipv4",
                json!({"address": "10.0.0.2", "interface": "eth0", "gateway": "10.0.0.1"}),
            ),
        ] {
            f.insert(k.into(), v);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn second_run_changes_nothing() {
        rt(async {
            let h = SimHost::new("web1", SimSpec::default());
            let dir = FileOp::Directory {
                path: "/srv/app".into(),
                attrs: Attrs {
                    mode: Some("0750".into()),
                    ..Attrs::default()
                },
                recurse: false,
            };
            assert!(h.file_op(&dir, false).await.unwrap().changed);
            assert!(!h.file_op(&dir, false).await.unwrap().changed);
            let w = WriteRequest {
                path: "/srv/app/conf".into(),
                content: b"x=1\n".to_vec(),
                ..WriteRequest::default()
            };
            h.write(&w).await.unwrap();
            let s = h
                .stat(
                    "/srv/app/conf",
                    StatOptions {
                        follow: true,
                        checksum: true,
                    },
                )
                .await
                .unwrap();
            // What copy does: compare checksums, only write on difference.
            let want: String = Sha1::digest(b"x=1\n")
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(s.checksum.as_deref(), Some(want.as_str()));
            assert_eq!(s.mode, 0o644);
            assert_eq!(h.read("/srv/app/conf").await.unwrap(), b"x=1\n");
            let link = FileOp::Symlink {
                path: "/srv/current".into(),
                src: "/srv/app".into(),
                force: false,
                attrs: Attrs::default(),
            };
            assert!(h.file_op(&link, false).await.unwrap().changed);
            assert!(!h.file_op(&link, false).await.unwrap().changed);
            let followed = h
                .stat(
                    "/srv/current",
                    StatOptions {
                        follow: true,
                        checksum: false,
                    },
                )
                .await
                .unwrap();
            assert_eq!(followed.kind, Some(FileKind::Directory));
            let names: Vec<_> = h
                .list_dir("/srv")
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect();
            assert_eq!(names, ["app", "current"]);
            let gone = FileOp::Absent {
                path: "/srv/app".into(),
            };
            assert!(h.file_op(&gone, false).await.unwrap().changed);
            assert!(
                !h.stat("/srv/app/conf", StatOptions::default())
                    .await
                    .unwrap()
                    .exists
            );
            assert!(!h.file_op(&gone, false).await.unwrap().changed);
            assert!(h.read("/nope").await.unwrap_err().is_not_found());
        });
    }

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    #[test]
    fn ten_thousand_hosts_stay_small() {
        rt(async {
            let before = rss_kib();
            let mut hosts = Vec::new();
            for i in 0..10_000 {
                let h = SimHost::new(&format!("host{i:05}.example.com"), SimSpec::default());
                for f in 0..20 {
                    // Half the files are the same everywhere, half differ per host (templates).
                    let content = if f % 2 == 0 {
                        format!("shared config {f}\n").repeat(10)
                    } else {
                        format!("host {i} file {f}\n").repeat(10)
                    };
                    h.write(&WriteRequest {
                        path: format!("/etc/app/file{f}.conf"),
                        content: content.into_bytes(),
                        ..WriteRequest::default()
                    })
                    .await
                    .unwrap();
                }
                hosts.push(h);
            }
            let grown_mib = (rss_kib().saturating_sub(before)) / 1024;
            // 200,000 files; about 10 MiB of them unique content.
            assert!(grown_mib < 150, "simulated hosts use {grown_mib} MiB");
        });
    }

    #[test]
    fn latency_is_injected_and_content_is_shared() {
        rt(async {
            let h = SimHost::new(
                "a",
                SimSpec {
                    latency: Duration::from_millis(20),
                },
            );
            let t = std::time::Instant::now();
            h.stat("/x", StatOptions::default()).await.unwrap();
            assert!(t.elapsed() >= Duration::from_millis(20));
            let a = intern_bytes(b"same content");
            let b = intern_bytes(b"same content");
            assert!(Arc::ptr_eq(&a, &b));
        });
    }
}

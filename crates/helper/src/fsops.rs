//! Filesystem primitives: stat, read, list, atomic write and the idempotent file operations.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use drover_host::{
    Attrs, DirEntry, FileKind, FileOp, FileOpOutcome, FileStat, HostError, HostResult, IoKind,
    StatOptions, WriteOutcome, WriteRequest,
};
use sha1::{Digest, Sha1};

use crate::users::Accounts;
use drover_host::mode::resolve_mode;

pub(crate) fn invalid(path: &str, message: impl Into<String>) -> HostError {
    HostError::Io {
        path: Some(path.to_string()),
        kind: IoKind::InvalidInput,
        message: message.into(),
    }
}

fn other(path: &str, message: impl Into<String>) -> HostError {
    HostError::Io {
        path: Some(path.to_string()),
        kind: IoKind::Other,
        message: message.into(),
    }
}

fn kind_of(ft: fs::FileType) -> FileKind {
    if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_dir() {
        FileKind::Directory
    } else if ft.is_fifo() {
        FileKind::Fifo
    } else if ft.is_socket() {
        FileKind::Socket
    } else if ft.is_char_device() {
        FileKind::CharDevice
    } else if ft.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::File
    }
}

fn time(secs: i64, nsec: i64) -> f64 {
    secs as f64 + nsec as f64 / 1e9
}

/// Lower-case hex SHA-1 of a file's content, streamed.
pub fn sha1_file(path: &Path) -> std::io::Result<String> {
    let mut f = fs::File::open(path)?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn access_ok(path: &Path, mode: rustix::fs::Access) -> bool {
    rustix::fs::access(path, mode).is_ok()
}

/// Builds a `FileStat` from metadata already obtained.
fn stat_from(path: &Path, md: &fs::Metadata, opts: StatOptions, accounts: &Accounts) -> FileStat {
    let kind = kind_of(md.file_type());
    let link_target = if kind == FileKind::Symlink {
        fs::read_link(path)
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    } else {
        None
    };
    let checksum = if opts.checksum && kind == FileKind::File {
        sha1_file(path).ok()
    } else {
        None
    };
    use rustix::fs::Access;
    FileStat {
        exists: true,
        kind: Some(kind),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        owner: accounts.user_name(md.uid()),
        group: accounts.group_name(md.gid()),
        size: md.size(),
        mtime: time(md.mtime(), md.mtime_nsec()),
        atime: time(md.atime(), md.atime_nsec()),
        ctime: time(md.ctime(), md.ctime_nsec()),
        inode: md.ino(),
        dev: md.dev(),
        nlink: md.nlink(),
        link_target,
        checksum,
        readable: access_ok(path, Access::READ_OK),
        writeable: access_ok(path, Access::WRITE_OK),
        executable: access_ok(path, Access::EXEC_OK),
    }
}

pub fn stat_with(path: &str, opts: StatOptions, accounts: &Accounts) -> HostResult<FileStat> {
    let p = Path::new(path);
    let md = if opts.follow {
        fs::metadata(p)
    } else {
        fs::symlink_metadata(p)
    };
    match md {
        Ok(md) => Ok(stat_from(p, &md, opts, accounts)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileStat::default()),
        // A path through a regular file (`/etc/hosts/x`) does not exist either.
        Err(e) if e.raw_os_error() == Some(20) => Ok(FileStat::default()),
        Err(e) => Err(HostError::io(path, &e)),
    }
}

pub fn stat(path: &str, opts: StatOptions) -> HostResult<FileStat> {
    stat_with(path, opts, &Accounts::load())
}

pub fn stat_many(paths: &[String], opts: StatOptions) -> HostResult<Vec<FileStat>> {
    let accounts = Accounts::load();
    paths
        .iter()
        .map(|p| stat_with(p, opts, &accounts))
        .collect()
}

pub fn read(path: &str) -> HostResult<Vec<u8>> {
    fs::read(path).map_err(|e| HostError::io(path, &e))
}

pub fn list_dir(path: &str) -> HostResult<Vec<DirEntry>> {
    let accounts = Accounts::load();
    let mut out = Vec::new();
    for entry in fs::read_dir(path).map_err(|e| HostError::io(path, &e))? {
        let entry = entry.map_err(|e| HostError::io(path, &e))?;
        let full = entry.path();
        let md = match fs::symlink_metadata(&full) {
            Ok(md) => md,
            // Removed between readdir and lstat: it is simply not there any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(HostError::io(full.to_string_lossy(), &e)),
        };
        out.push(DirEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            stat: stat_from(&full, &md, StatOptions::default(), &accounts),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a temporary sibling of `path` that no other writer uses.
fn tmp_sibling(path: &Path, tag: &str) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!(".{base}.drover-{tag}-{}-{n}", std::process::id());
    path.with_file_name(name)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The name Ansible gives backups: `path.<pid>.<YYYY-MM-DD@HH:MM:SS>~` in local time.
pub fn backup_name(path: &str) -> String {
    let stamp = chrono::Local::now().format("%Y-%m-%d@%H:%M:%S");
    format!("{path}.{}.{stamp}~", std::process::id())
}

fn resolve_owner(
    path: &str,
    attrs: &Attrs,
    accounts: &Accounts,
) -> HostResult<(Option<u32>, Option<u32>)> {
    let uid = match &attrs.owner {
        Some(o) => Some(
            accounts
                .resolve_user(o)
                .ok_or_else(|| invalid(path, format!("unknown user {o:?}")))?,
        ),
        None => None,
    };
    let gid = match &attrs.group {
        Some(g) => Some(
            accounts
                .resolve_group(g)
                .ok_or_else(|| invalid(path, format!("unknown group {g:?}")))?,
        ),
        None => None,
    };
    Ok((uid, gid))
}

fn run_validate(path: &str, template: &str, tmp: &Path) -> HostResult<()> {
    if !template.contains("%s") {
        return Err(invalid(path, "validate must contain %s"));
    }
    let tmp_s = tmp.to_string_lossy();
    let quoted = shlex::try_quote(&tmp_s).map_err(|_| invalid(path, "unquotable temp path"))?;
    let cmd = template.replace("%s", &quoted);
    let argv = shlex::split(&cmd).ok_or_else(|| invalid(path, "cannot parse validate command"))?;
    let Some((prog, args)) = argv.split_first() else {
        return Err(invalid(path, "empty validate command"));
    };
    let out = std::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| other(path, format!("validate command {prog:?}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let mut msg = format!("failed to validate: rc={}", out.status.code().unwrap_or(-1));
    for stream in [&out.stderr, &out.stdout] {
        let s = String::from_utf8_lossy(stream);
        if !s.trim().is_empty() {
            msg.push_str(": ");
            msg.push_str(s.trim());
        }
    }
    Err(other(path, msg))
}

/// Syncs a directory so a rename in it is durable.
fn fsync_dir(dir: &Path) {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

pub fn write(req: &WriteRequest) -> HostResult<WriteOutcome> {
    let accounts = Accounts::load();
    let path = Path::new(&req.path);
    let p = req.path.as_str();
    let existing = match fs::metadata(path) {
        Ok(md) if md.is_dir() => {
            return Err(HostError::Io {
                path: Some(req.path.clone()),
                kind: IoKind::IsADirectory,
                message: "is a directory".into(),
            })
        }
        Ok(md) => Some(md),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(HostError::io(p, &e)),
    };
    let keep = existing.as_ref().filter(|_| req.preserve_existing);
    let base_mode = match keep {
        Some(md) => md.mode() & 0o7777,
        None => req.default_mode.unwrap_or(0o644),
    };
    let mode = match &req.attrs.mode {
        Some(spec) => {
            resolve_mode(spec, base_mode, false).map_err(|e| invalid(p, e.to_string()))?
        }
        None => base_mode,
    };
    let (uid, gid) = resolve_owner(p, &req.attrs, &accounts)?;
    let uid = uid.or(keep.map(MetadataExt::uid));
    let gid = gid.or(keep.map(MetadataExt::gid));

    let tmp = tmp_sibling(path, "tmp");
    let result = (|| -> HostResult<Option<String>> {
        let tmp_s = tmp.to_string_lossy().into_owned();
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| HostError::io(p, &e))?;
        f.write_all(&req.content)
            .map_err(|e| HostError::io(&tmp_s, &e))?;
        // The kernel stamps writes with a coarse clock (a few milliseconds): a file written
        // right after another would look no newer. The precise time of the write is set
        // instead, so "written later" always reads as a later mtime.
        let now = std::time::SystemTime::now();
        f.set_times(fs::FileTimes::new().set_accessed(now).set_modified(now))
            .map_err(|e| HostError::io(&tmp_s, &e))?;
        f.sync_all().map_err(|e| HostError::io(&tmp_s, &e))?;
        drop(f);
        // Only what differs from the new file's owner: a no-op chown to a group we are not a
        // member of would fail for an unprivileged user.
        let created = fs::metadata(&tmp).map_err(|e| HostError::io(&tmp_s, &e))?;
        let uid = uid.filter(|u| *u != created.uid());
        let gid = gid.filter(|g| *g != created.gid());
        if uid.is_some() || gid.is_some() {
            // Keeping an existing file's owner is best effort, as in Ansible: an unprivileged
            // user replacing someone else's file (in a world-writable directory) becomes its
            // owner. An owner or group that was asked for must be set.
            let asked = req.attrs.owner.is_some() || req.attrs.group.is_some();
            match std::os::unix::fs::chown(&tmp, uid, gid) {
                Ok(()) => {}
                Err(e) if !asked && e.kind() == std::io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(HostError::io(p, &e)),
            }
        }
        // Extended attributes (POSIX ACLs among them) of the file being replaced stay, as
        // Python's copystat keeps them for Ansible; chmod below then sets the ACL mask.
        if keep.is_some() {
            copy_xattrs(path, &tmp);
        }
        // After chown: chown clears setuid/setgid bits.
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
            .map_err(|e| HostError::io(p, &e))?;
        if let Some(v) = &req.validate {
            run_validate(p, v, &tmp)?;
        }
        let backup = if let (true, Some(md)) = (req.backup, existing.as_ref()) {
            let name = backup_name(p);
            preserved_copy(path, &name, md)?;
            Some(name)
        } else {
            None
        };
        fs::rename(&tmp, path).map_err(|e| HostError::io(p, &e))?;
        fsync_dir(parent_dir(path));
        Ok(backup)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    Ok(WriteOutcome {
        backup_file: result?,
    })
}

/// Copies `from` to `to` keeping what Ansible's backups keep: mode, owner, group and times.
/// The owner is best effort, as in Ansible: an unprivileged user cannot give a file away.
fn preserved_copy(from: &Path, to: &str, md: &fs::Metadata) -> HostResult<()> {
    let io = |e: std::io::Error| HostError::io(to, &e);
    fs::copy(from, to).map_err(io)?;
    // Times first, while the copy is surely ours and writable whatever the original's mode.
    fs::set_permissions(to, fs::Permissions::from_mode(0o600)).map_err(io)?;
    let mut times = fs::FileTimes::new();
    if let Ok(t) = md.accessed() {
        times = times.set_accessed(t);
    }
    if let Ok(t) = md.modified() {
        times = times.set_modified(t);
    }
    fs::File::options()
        .write(true)
        .open(to)
        .and_then(|f| f.set_times(times))
        .map_err(io)?;
    match std::os::unix::fs::chown(to, Some(md.uid()), Some(md.gid())) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
        Err(e) => return Err(io(e)),
    }
    // After chown, which clears setuid/setgid bits.
    fs::set_permissions(to, fs::Permissions::from_mode(md.mode() & 0o7777)).map_err(io)
}

/// Copies every extended attribute of `from` to `to`, best effort: filesystems without xattrs,
/// or attributes the user may not set (`trusted.*`, `security.*` for non-root), are skipped.
fn copy_xattrs(from: &Path, to: &Path) {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::listxattr(from, &mut names[..]) else {
        return;
    };
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::ffi::CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::getxattr(from, name.as_c_str(), &mut value[..]) {
            let _ = rustix::fs::setxattr(
                to,
                name.as_c_str(),
                &value[..len],
                rustix::fs::XattrFlags::empty(),
            );
        }
    }
}

/// Applies attrs to one path; returns whether anything differs (and was changed unless `check`).
fn apply_attrs(
    path: &Path,
    attrs: &Attrs,
    follow: bool,
    check: bool,
    accounts: &Accounts,
) -> HostResult<bool> {
    let p = path.to_string_lossy();
    if attrs.is_empty() {
        return Ok(false);
    }
    let md = if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    }
    .map_err(|e| HostError::io(p.as_ref(), &e))?;
    let is_link = md.file_type().is_symlink();
    let mut changed = false;
    let (uid, gid) = resolve_owner(&p, attrs, accounts)?;
    let uid = uid.filter(|u| *u != md.uid());
    let gid = gid.filter(|g| *g != md.gid());
    if uid.is_some() || gid.is_some() {
        changed = true;
        if !check {
            let r = if is_link {
                std::os::unix::fs::lchown(path, uid, gid)
            } else {
                std::os::unix::fs::chown(path, uid, gid)
            };
            r.map_err(|e| HostError::io(p.as_ref(), &e))?;
        }
    }
    // Linux has no modes on symlinks themselves.
    if let (Some(spec), false) = (&attrs.mode, is_link) {
        // Re-read: a chown may have cleared setuid/setgid bits.
        let current = if changed && !check {
            fs::metadata(path)
                .map_err(|e| HostError::io(p.as_ref(), &e))?
                .mode()
        } else {
            md.mode()
        } & 0o7777;
        let new =
            resolve_mode(spec, current, md.is_dir()).map_err(|e| invalid(&p, e.to_string()))?;
        if new != current {
            changed = true;
            if !check {
                fs::set_permissions(path, fs::Permissions::from_mode(new))
                    .map_err(|e| HostError::io(p.as_ref(), &e))?;
            }
        }
    }
    Ok(changed)
}

fn apply_attrs_recursive(
    root: &Path,
    attrs: &Attrs,
    check: bool,
    accounts: &Accounts,
) -> HostResult<bool> {
    walk_attrs(root, attrs, false, check, accounts, &mut Vec::new())
}

/// Applies attrs below `root`. With `follow`, symbolic links count as what they point to:
/// their targets get the attributes and linked directories are walked too, each directory
/// once (links back up the tree do not loop); dangling links are changed themselves.
fn walk_attrs(
    root: &Path,
    attrs: &Attrs,
    follow: bool,
    check: bool,
    accounts: &Accounts,
    seen: &mut Vec<std::path::PathBuf>,
) -> HostResult<bool> {
    if follow {
        if let Ok(real) = fs::canonicalize(root) {
            if seen.contains(&real) {
                return Ok(false);
            }
            seen.push(real);
        }
    }
    let mut changed = false;
    let entries = fs::read_dir(root).map_err(|e| HostError::io(root.to_string_lossy(), &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| HostError::io(root.to_string_lossy(), &e))?;
        let path = entry.path();
        let ft = entry
            .file_type()
            .map_err(|e| HostError::io(path.to_string_lossy(), &e))?;
        let target_is_dir = if ft.is_symlink() && follow {
            match fs::metadata(&path) {
                Ok(md) => {
                    changed |= apply_attrs(&path, attrs, true, check, accounts)?;
                    md.is_dir()
                }
                Err(_) => {
                    changed |= apply_attrs(&path, attrs, false, check, accounts)?;
                    false
                }
            }
        } else {
            changed |= apply_attrs(&path, attrs, false, check, accounts)?;
            ft.is_dir()
        };
        if target_is_dir {
            changed |= walk_attrs(&path, attrs, follow, check, accounts, seen)?;
        }
    }
    Ok(changed)
}

fn lstat(path: &str, accounts: &Accounts) -> HostResult<FileStat> {
    stat_with(path, StatOptions::default(), accounts)
}

fn followed(path: &str, accounts: &Accounts) -> HostResult<FileStat> {
    stat_with(
        path,
        StatOptions {
            follow: true,
            checksum: false,
        },
        accounts,
    )
}

/// Replaces `path` by whatever `make(tmp)` creates at a temporary sibling, atomically.
fn replace_with(path: &Path, make: impl FnOnce(&Path) -> std::io::Result<()>) -> HostResult<()> {
    let p = path.to_string_lossy();
    let tmp = tmp_sibling(path, "new");
    make(&tmp).map_err(|e| HostError::io(p.as_ref(), &e))?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(HostError::io(p.as_ref(), &e));
    }
    fsync_dir(parent_dir(path));
    Ok(())
}

/// Sets a file's times to now: precisely where the caller owns the file, else as the
/// kernel's `UTIME_NOW`, which write permission alone allows (a user touching a
/// world-writable file of someone else's, as Ansible's `os.utime(path, None)` may).
fn touch_now(path: &str) -> HostResult<()> {
    let now = std::time::SystemTime::now();
    let precise = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .or_else(|_| fs::File::open(path))
        .and_then(|f| f.set_times(fs::FileTimes::new().set_accessed(now).set_modified(now)));
    match precise {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let now = rustix::fs::Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_NOW,
            };
            rustix::fs::utimensat(
                rustix::fs::CWD,
                path,
                &rustix::fs::Timestamps {
                    last_access: now,
                    last_modification: now,
                },
                rustix::fs::AtFlags::empty(),
            )
            .map_err(|e| HostError::io(path, &std::io::Error::from(e)))
        }
        Err(e) => Err(HostError::io(path, &e)),
    }
}

pub fn file_op(op: &FileOp, check: bool) -> HostResult<FileOpOutcome> {
    let accounts = Accounts::load();
    match op {
        FileOp::Directory {
            path,
            attrs,
            recurse,
        } => {
            let before = followed(path, &accounts)?;
            let mut changed = false;
            if before.exists && before.kind != Some(FileKind::Directory) {
                return Err(HostError::Io {
                    path: Some(path.clone()),
                    kind: IoKind::AlreadyExists,
                    message: "exists and is not a directory".into(),
                });
            }
            if !before.exists {
                changed = true;
                if check {
                    return Ok(FileOpOutcome {
                        changed,
                        before: before.clone(),
                        after: before,
                    });
                }
                // Create each missing level so each gets the attrs, as Ansible does.
                let mut missing = Vec::new();
                let mut cur = Path::new(path.as_str());
                while !cur.as_os_str().is_empty() && fs::symlink_metadata(cur).is_err() {
                    missing.push(cur.to_path_buf());
                    match cur.parent() {
                        Some(parent) => cur = parent,
                        None => break,
                    }
                }
                for dir in missing.iter().rev() {
                    match fs::create_dir(dir) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(HostError::io(dir.to_string_lossy(), &e)),
                    }
                    apply_attrs(dir, attrs, true, false, &accounts)?;
                }
            }
            changed |= apply_attrs(Path::new(path), attrs, true, check, &accounts)?;
            if *recurse {
                changed |= apply_attrs_recursive(Path::new(path), attrs, check, &accounts)?;
            }
            Ok(FileOpOutcome {
                changed,
                before,
                after: followed(path, &accounts)?,
            })
        }
        FileOp::Touch { path, attrs } => {
            let before = followed(path, &accounts)?;
            if !check {
                if before.exists {
                    touch_now(path)?;
                } else {
                    fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o644)
                        .open(path)
                        .map_err(|e| HostError::io(path, &e))?;
                    // The umask may have narrowed 0644; a new file gets exactly 0644.
                    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
                        .map_err(|e| HostError::io(path, &e))?;
                }
                apply_attrs(Path::new(path), attrs, true, false, &accounts)?;
            }
            // Touching always changes the times, so it always reports a change, as Ansible does.
            Ok(FileOpOutcome {
                changed: true,
                before,
                after: followed(path, &accounts)?,
            })
        }
        FileOp::Symlink {
            path,
            src,
            force,
            attrs,
        } => {
            let before = lstat(path, &accounts)?;
            let target_path = parent_dir(Path::new(path)).join(src);
            let mut changed = false;
            if before.kind == Some(FileKind::Symlink) {
                if before.link_target.as_deref() != Some(src.as_str()) {
                    changed = true;
                    if !check {
                        replace_with(Path::new(path), |tmp| std::os::unix::fs::symlink(src, tmp))?;
                    }
                }
            } else {
                if !*force && fs::symlink_metadata(&target_path).is_err() {
                    return Err(invalid(
                        path,
                        format!("src file does not exist, use force=yes if you really want to create the link: {src}"),
                    ));
                }
                if before.exists {
                    if !*force {
                        return Err(invalid(
                            path,
                            "refusing to convert from an existing file to a symlink (use force)",
                        ));
                    }
                    if before.kind == Some(FileKind::Directory) && !check {
                        fs::remove_dir(path).map_err(|e| HostError::io(path, &e))?;
                    }
                }
                changed = true;
                if !check {
                    replace_with(Path::new(path), |tmp| std::os::unix::fs::symlink(src, tmp))?;
                }
            }
            if !check || before.exists {
                changed |= apply_attrs(Path::new(path), attrs, false, check, &accounts)?;
            }
            Ok(FileOpOutcome {
                changed,
                before,
                after: lstat(path, &accounts)?,
            })
        }
        FileOp::Hardlink { path, src, force } => {
            let before = lstat(path, &accounts)?;
            let src_md = fs::metadata(src).map_err(|e| HostError::io(src, &e))?;
            if before.exists && before.inode == src_md.ino() && before.dev == src_md.dev() {
                return Ok(FileOpOutcome {
                    changed: false,
                    after: before.clone(),
                    before,
                });
            }
            if before.exists && !*force {
                return Err(invalid(
                    path,
                    "refusing to replace an existing file by a hard link (use force)",
                ));
            }
            if before.kind == Some(FileKind::Directory) {
                return Err(invalid(path, "cannot replace a directory by a hard link"));
            }
            if !check {
                replace_with(Path::new(path), |tmp| fs::hard_link(src, tmp))?;
            }
            Ok(FileOpOutcome {
                changed: true,
                before,
                after: lstat(path, &accounts)?,
            })
        }
        FileOp::Absent { path } => {
            let before = lstat(path, &accounts)?;
            if !before.exists {
                return Ok(FileOpOutcome {
                    changed: false,
                    after: before.clone(),
                    before,
                });
            }
            if !check {
                let r = if before.kind == Some(FileKind::Directory) {
                    fs::remove_dir_all(path)
                } else {
                    fs::remove_file(path)
                };
                r.map_err(|e| HostError::io(path, &e))?;
            }
            Ok(FileOpOutcome {
                changed: true,
                before,
                after: lstat(path, &accounts)?,
            })
        }
        FileOp::Attrs {
            path,
            attrs,
            follow,
            recurse,
        } => {
            let opts = StatOptions {
                follow: *follow,
                checksum: false,
            };
            let before = stat_with(path, opts, &accounts)?;
            if !before.exists {
                return Err(HostError::Io {
                    path: Some(path.clone()),
                    kind: IoKind::NotFound,
                    message: "does not exist".into(),
                });
            }
            let mut changed = apply_attrs(Path::new(path), attrs, *follow, check, &accounts)?;
            if *recurse && before.kind == Some(FileKind::Directory) {
                changed |= walk_attrs(
                    Path::new(path),
                    attrs,
                    *follow,
                    check,
                    &accounts,
                    &mut Vec::new(),
                )?;
            }
            Ok(FileOpOutcome {
                changed,
                before,
                after: stat_with(path, opts, &accounts)?,
            })
        }
        FileOp::Rename { from, to } => {
            let before = lstat(from, &accounts)?;
            if !before.exists {
                let dest = lstat(to, &accounts)?;
                if dest.exists {
                    // Already renamed by an earlier run.
                    return Ok(FileOpOutcome {
                        changed: false,
                        before: dest.clone(),
                        after: dest,
                    });
                }
                return Err(HostError::Io {
                    path: Some(from.clone()),
                    kind: IoKind::NotFound,
                    message: "does not exist".into(),
                });
            }
            if !check {
                fs::rename(from, to).map_err(|e| HostError::io(from, &e))?;
                fsync_dir(parent_dir(Path::new(to)));
            }
            Ok(FileOpOutcome {
                changed: true,
                before,
                after: lstat(to, &accounts)?,
            })
        }
    }
}

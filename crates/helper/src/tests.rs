//! Primitive tests, all inside temporary directories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use drover_host::{
    Attrs, ExecRequest, FileKind, FileOp, FileOpOutcome, FileStat, HostError, IoKind, Program,
    StatOptions, WriteRequest,
};
use drover_proto::{encode, read_frame, Envelope, Request, Response, HELLO_ID};

use super::*;

fn run(req: Request) -> Response {
    execute(&req)
}

fn stat(path: &Path, checksum: bool) -> FileStat {
    match run(Request::Stat {
        path: path.to_string_lossy().into(),
        opts: StatOptions {
            follow: false,
            checksum,
        },
    }) {
        Response::Stat(s) => s,
        other => panic!("{other:?}"),
    }
}

fn op(op: FileOp, check: bool) -> Result<FileOpOutcome, HostError> {
    match run(Request::FileOp { op, check }) {
        Response::FileOp(o) => Ok(o),
        Response::Error(e) => Err(e),
        other => panic!("{other:?}"),
    }
}

fn write(req: WriteRequest) -> Result<Option<String>, HostError> {
    match run(Request::Write(req)) {
        Response::Write(o) => Ok(o.backup_file),
        Response::Error(e) => Err(e),
        other => panic!("{other:?}"),
    }
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn attrs(mode: &str) -> Attrs {
    Attrs {
        mode: Some(mode.into()),
        ..Attrs::default()
    }
}

fn me() -> (u32, u32) {
    (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    )
}

#[test]
fn stat_reports_kind_mode_checksum_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"hello\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();

    let s = stat(&f, true);
    assert!(s.exists);
    assert_eq!(s.kind, Some(FileKind::File));
    assert_eq!(s.mode, 0o640);
    assert_eq!(s.size, 6);
    // sha1("hello\n")
    assert_eq!(
        s.checksum.as_deref(),
        Some("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    let (uid, gid) = me();
    assert_eq!((s.uid, s.gid), (uid, gid));
    assert_eq!(s.owner, users::Accounts::load().user_name(uid));
    assert!(s.readable && s.writeable);

    let l = stat(&dir.path().join("l"), true);
    assert_eq!(l.kind, Some(FileKind::Symlink));
    assert_eq!(l.link_target.as_deref(), Some("f"));
    assert_eq!(l.checksum, None);

    assert!(!stat(&dir.path().join("missing"), true).exists);
    assert!(!stat(&f.join("below-a-file"), false).exists);
    let d = stat(dir.path(), true);
    assert_eq!(d.kind, Some(FileKind::Directory));
}

#[test]
fn stat_many_and_list_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b"), b"").unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    let paths = vec![
        dir.path().join("a").to_string_lossy().into_owned(),
        dir.path().join("nope").to_string_lossy().into_owned(),
    ];
    let Response::StatMany(v) = run(Request::StatMany {
        paths,
        opts: StatOptions::default(),
    }) else {
        panic!()
    };
    assert_eq!(
        v.iter().map(|s| s.exists).collect::<Vec<_>>(),
        [true, false]
    );
    let Response::ListDir(entries) = run(Request::ListDir {
        path: dir.path().to_string_lossy().into(),
    }) else {
        panic!()
    };
    let names: Vec<_> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.stat.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("a", Some(FileKind::Directory)),
            ("b", Some(FileKind::File))
        ]
    );
    assert!(matches!(
        run(Request::ListDir {
            path: "/nonexistent/dir".into()
        }),
        Response::Error(HostError::Io {
            kind: IoKind::NotFound,
            ..
        })
    ));
}

#[test]
fn read_returns_bytes_or_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bin");
    std::fs::write(&f, [0u8, 255, 10]).unwrap();
    assert_eq!(
        run(Request::Read {
            path: f.to_string_lossy().into()
        }),
        Response::Read(vec![0, 255, 10])
    );
    let Response::Error(e) = run(Request::Read {
        path: dir.path().join("x").to_string_lossy().into(),
    }) else {
        panic!()
    };
    assert!(e.is_not_found());
}

#[test]
fn write_is_atomic_with_mode_owner_backup_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("conf");
    let path = f.to_string_lossy().into_owned();
    let (uid, gid) = me();
    // New file: default mode, explicit owner/group (to ourselves).
    let backup = write(WriteRequest {
        path: path.clone(),
        content: b"one\n".to_vec(),
        attrs: Attrs {
            mode: None,
            owner: Some(uid.to_string()),
            group: Some(gid.to_string()),
        },
        default_mode: Some(0o600),
        backup: true,
        ..WriteRequest::default()
    })
    .unwrap();
    assert_eq!(backup, None, "no backup of a file that did not exist");
    assert_eq!(std::fs::read(&f).unwrap(), b"one\n");
    assert_eq!(mode_of(&f), 0o600);

    // Existing file, preserve: keeps 0600; symbolic mode applies on top; a backup is kept.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let backup = write(WriteRequest {
        path: path.clone(),
        content: b"two\n".to_vec(),
        attrs: attrs("g-r,o+r"),
        preserve_existing: true,
        backup: true,
        ..WriteRequest::default()
    })
    .unwrap()
    .expect("a backup");
    assert_eq!(std::fs::read(&f).unwrap(), b"two\n");
    assert_eq!(mode_of(&f), 0o604);
    assert_eq!(std::fs::read(&backup).unwrap(), b"one\n");
    let suffix = backup.strip_prefix(&format!("{path}.")).unwrap();
    let (pid, stamp) = suffix.split_once('.').unwrap();
    assert_eq!(pid, std::process::id().to_string());
    assert!(
        stamp.ends_with('~') && stamp.len() == "2024-01-02@03:04:05~".len(),
        "{stamp}"
    );
    assert_eq!(&stamp[10..11], "@");

    // Validation failure leaves the file untouched and no temp file behind.
    let err = write(WriteRequest {
        path: path.clone(),
        content: b"bad\n".to_vec(),
        validate: Some("grep -q good %s".into()),
        ..WriteRequest::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("failed to validate"), "{err}");
    assert_eq!(std::fs::read(&f).unwrap(), b"two\n");
    write(WriteRequest {
        path: path.clone(),
        content: b"good\n".to_vec(),
        validate: Some("grep -q good %s".into()),
        ..WriteRequest::default()
    })
    .unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"good\n");
    // Without preserve_existing and default_mode: 0644.
    assert_eq!(mode_of(&f), 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("drover"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Errors: missing directory, unknown owner, a directory as destination.
    let e = write(WriteRequest {
        path: dir.path().join("no/such").to_string_lossy().into(),
        ..WriteRequest::default()
    })
    .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let e = write(WriteRequest {
        path: path.clone(),
        attrs: Attrs {
            owner: Some("no-such-user-drover".into()),
            ..Attrs::default()
        },
        ..WriteRequest::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("unknown user"), "{e}");
    let e = write(WriteRequest {
        path: dir.path().to_string_lossy().into(),
        ..WriteRequest::default()
    })
    .unwrap_err();
    assert!(matches!(
        e,
        HostError::Io {
            kind: IoKind::IsADirectory,
            ..
        }
    ));
}

fn exec(req: ExecRequest) -> drover_host::ExecOutput {
    match run(Request::Exec(req)) {
        Response::Exec(o) => o,
        other => panic!("{other:?}"),
    }
}

#[test]
fn exec_argv_shell_env_cwd_stdin_and_signals() {
    let dir = tempfile::tempdir().unwrap();
    let out = exec(ExecRequest::argv(["echo", "a b"]));
    assert_eq!((out.rc, out.stdout.as_slice()), (0, &b"a b\n"[..]));
    assert!(out.end >= out.start && out.start > 1.6e9);

    let mut req = ExecRequest::shell("echo \"$FOO\" $(pwd); cat; echo err >&2; exit 3");
    req.env.insert("FOO".into(), "bar".into());
    req.cwd = Some(dir.path().to_string_lossy().into());
    req.stdin = Some(b"input".to_vec());
    let out = exec(req);
    assert_eq!(out.rc, 3);
    let expected = format!(
        "bar {}\ninput",
        dir.path().canonicalize().unwrap().display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert_eq!(out.stderr, b"err\n");

    let out = exec(ExecRequest::shell("kill -9 $$"));
    assert_eq!(out.rc, -9);

    let out = exec(ExecRequest {
        program: Program::Shell {
            script: "echo $0".into(),
            executable: Some("/bin/bash".into()),
        },
        ..ExecRequest::shell("")
    });
    assert_eq!(out.stdout, b"/bin/bash\n");

    // Without stdin the child must not read the helper's stdin (the RPC channel).
    let out = exec(ExecRequest::shell("cat; echo done"));
    assert_eq!(out.stdout, b"done\n");

    // Large stdin and stdout at once must not deadlock.
    let big = vec![b'x'; 4 << 20];
    let mut req = ExecRequest::argv(["cat"]);
    req.stdin = Some(big.clone());
    assert_eq!(exec(req).stdout.len(), big.len());

    assert!(matches!(
        run(Request::Exec(ExecRequest::argv(["/no/such/program"]))),
        Response::Error(HostError::Io {
            kind: IoKind::NotFound,
            ..
        })
    ));
    assert!(matches!(
        run(Request::Exec(ExecRequest::argv(Vec::<String>::new()))),
        Response::Error(HostError::Io {
            kind: IoKind::InvalidInput,
            ..
        })
    ));
}

#[test]
fn exec_does_not_wait_for_background_children_holding_the_pipes() {
    let started = std::time::Instant::now();
    let out = exec(ExecRequest::shell("sleep 20 & echo started; echo late >&2"));
    assert_eq!(out.rc, 0);
    assert_eq!(out.stdout, b"started\n");
    assert_eq!(out.stderr, b"late\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Output written after the program exited but while it still streams is kept.
    let out = exec(ExecRequest::shell("(sleep 0.3; echo after) & echo before"));
    assert_eq!(out.stdout, b"before\nafter\n");
}

#[test]
fn exec_past_its_timeout_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late");
    let started = std::time::Instant::now();
    let out = exec(ExecRequest {
        timeout_ms: Some(300),
        ..ExecRequest::shell(format!(
            "(sleep 1; touch {0}) & sleep 1; touch {0}",
            late.display()
        ))
    });
    assert_eq!(out.rc, -9, "{out:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!late.exists(), "the background child survived");
    // A program done in time is not touched.
    let out = exec(ExecRequest {
        timeout_ms: Some(5000),
        ..ExecRequest::shell("echo quick")
    });
    assert_eq!((out.rc, out.stdout.as_slice()), (0, &b"quick\n"[..]));
}

#[test]
fn stat_mime_asks_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a:b.txt");
    std::fs::write(&f, "hello world").unwrap();
    let have_file = std::process::Command::new("file")
        .arg("--version")
        .output()
        .is_ok();
    match run(Request::StatMime {
        path: f.to_string_lossy().into(),
        opts: StatOptions::default(),
    }) {
        Response::StatMime(st, mime) => {
            assert!(st.exists);
            if have_file {
                let m = mime.unwrap();
                assert_eq!(
                    (m.mimetype.as_str(), m.charset.as_str()),
                    ("text/plain", "us-ascii")
                );
            } else {
                assert_eq!(mime, None);
            }
        }
        other => panic!("{other:?}"),
    }
    match run(Request::StatMime {
        path: dir.path().join("none").to_string_lossy().into(),
        opts: StatOptions::default(),
    }) {
        Response::StatMime(st, mime) => assert!(!st.exists && mime.is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn directory_is_idempotent_with_parents_and_recursive_attrs() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = dir.path().join("a/b/c");
    let path = leaf.to_string_lossy().into_owned();
    let mk = |mode: &str, recurse: bool| FileOp::Directory {
        path: path.clone(),
        attrs: attrs(mode),
        recurse,
    };
    let o = op(mk("0750", false), true).unwrap();
    assert!(o.changed && !leaf.exists(), "check mode must not create");
    let o = op(mk("0750", false), false).unwrap();
    assert!(o.changed && !o.before.exists && o.after.exists);
    assert_eq!(mode_of(&leaf), 0o750);
    assert_eq!(
        mode_of(&dir.path().join("a")),
        0o750,
        "created parents get attrs"
    );
    assert!(!op(mk("0750", false), false).unwrap().changed);
    assert!(!op(mk("u=rwx,g=rx,o=", false), false).unwrap().changed);

    std::fs::write(leaf.join("file"), b"").unwrap();
    std::fs::set_permissions(leaf.join("file"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = op(mk("u=rwX,g=rX,o=rX", true), true).unwrap();
    assert!(o.changed);
    assert_eq!(mode_of(&leaf.join("file")), 0o600, "check changes nothing");
    assert!(op(mk("u=rwX,g=rX,o=rX", true), false).unwrap().changed);
    assert_eq!(mode_of(&leaf), 0o755);
    assert_eq!(mode_of(&leaf.join("file")), 0o644);
    assert!(!op(mk("u=rwX,g=rX,o=rX", true), false).unwrap().changed);

    std::fs::write(dir.path().join("plain"), b"").unwrap();
    let e = op(
        FileOp::Directory {
            path: dir.path().join("plain").to_string_lossy().into(),
            attrs: Attrs::default(),
            recurse: false,
        },
        false,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        HostError::Io {
            kind: IoKind::AlreadyExists,
            ..
        }
    ));
}

#[test]
fn touch_creates_then_updates_times() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t");
    let t = FileOp::Touch {
        path: f.to_string_lossy().into(),
        attrs: attrs("0600"),
    };
    assert!(op(t.clone(), true).unwrap().changed);
    assert!(!f.exists());
    let o = op(t.clone(), false).unwrap();
    assert!(o.changed && o.after.exists);
    assert_eq!(mode_of(&f), 0o600);
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
    std::fs::File::open(&f)
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(old))
        .unwrap();
    let o = op(t, false).unwrap();
    assert!(o.after.mtime > 1e9 && o.before.mtime < 2000.0);
}

#[test]
fn symlink_and_hardlink() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, b"x").unwrap();
    let link = dir.path().join("link");
    let sym = |src: &str, force: bool| FileOp::Symlink {
        path: link.to_string_lossy().into(),
        src: src.into(),
        force,
        attrs: Attrs::default(),
    };
    assert!(op(sym("target", false), true).unwrap().changed);
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert!(op(sym("target", false), false).unwrap().changed);
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("target"));
    assert!(!op(sym("target", false), false).unwrap().changed);
    // Repoint an existing link.
    std::fs::write(dir.path().join("other"), b"y").unwrap();
    let o = op(sym("other", false), false).unwrap();
    assert!(o.changed);
    assert_eq!(o.before.link_target.as_deref(), Some("target"));
    assert_eq!(o.after.link_target.as_deref(), Some("other"));
    // Missing source without force is refused, with force allowed.
    std::fs::remove_file(&link).unwrap();
    assert!(op(sym("ghost", false), false).is_err());
    assert!(op(sym("ghost", true), false).unwrap().changed);
    // A regular file is only replaced with force.
    std::fs::remove_file(&link).unwrap();
    std::fs::write(&link, b"file").unwrap();
    assert!(op(sym("target", false), false).is_err());
    assert!(op(sym("target", true), false).unwrap().changed);
    assert_eq!(std::fs::read(&link).unwrap(), b"x");

    let hard = dir.path().join("hard");
    let hl = |force: bool| FileOp::Hardlink {
        path: hard.to_string_lossy().into(),
        src: target.to_string_lossy().into(),
        force,
    };
    assert!(op(hl(false), false).unwrap().changed);
    assert_eq!(
        std::fs::metadata(&hard).unwrap().ino(),
        std::fs::metadata(&target).unwrap().ino()
    );
    assert!(!op(hl(false), false).unwrap().changed);
    std::fs::remove_file(&hard).unwrap();
    std::fs::write(&hard, b"other").unwrap();
    assert!(op(hl(false), false).is_err());
    assert!(op(hl(true), false).unwrap().changed);
    assert_eq!(std::fs::read(&hard).unwrap(), b"x");
}

#[test]
fn absent_attrs_and_rename() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("x/y")).unwrap();
    std::fs::write(tree.join("x/y/f"), b"").unwrap();
    let absent = FileOp::Absent {
        path: tree.to_string_lossy().into(),
    };
    assert!(op(absent.clone(), true).unwrap().changed);
    assert!(tree.exists());
    let o = op(absent.clone(), false).unwrap();
    assert!(o.changed && o.before.exists && !o.after.exists && !tree.exists());
    assert!(!op(absent, false).unwrap().changed);

    let f = dir.path().join("f");
    std::fs::write(&f, b"").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (uid, gid) = me();
    let a = |mode: &str| FileOp::Attrs {
        path: f.to_string_lossy().into(),
        attrs: Attrs {
            mode: Some(mode.into()),
            owner: Some(users::Accounts::load().user_name(uid)).filter(|n| !n.is_empty()),
            group: Some(gid.to_string()),
        },
        follow: true,
        recurse: false,
    };
    let o = op(a("u+x,g-r"), true).unwrap();
    assert!(o.changed);
    assert_eq!(mode_of(&f), 0o644);
    let o = op(a("u+x,g-r"), false).unwrap();
    assert!(o.changed && o.before.mode == 0o644 && o.after.mode == 0o704);
    assert!(!op(a("u+x,g-r"), false).unwrap().changed);
    assert!(!op(a("0704"), false).unwrap().changed);
    let bad = op(a("u+q"), false).unwrap_err();
    assert!(matches!(
        bad,
        HostError::Io {
            kind: IoKind::InvalidInput,
            ..
        }
    ));
    let missing = op(
        FileOp::Attrs {
            path: dir.path().join("zz").to_string_lossy().into(),
            attrs: attrs("0644"),
            follow: true,
            recurse: false,
        },
        false,
    )
    .unwrap_err();
    assert!(missing.is_not_found());

    let to = dir.path().join("g");
    let mv = FileOp::Rename {
        from: f.to_string_lossy().into(),
        to: to.to_string_lossy().into(),
    };
    assert!(op(mv.clone(), false).unwrap().changed);
    assert!(to.exists() && !f.exists());
    assert!(!op(mv, false).unwrap().changed, "already renamed");
}

#[test]
fn facts_and_hello() {
    let Response::Facts(json) = run(Request::Facts) else {
        panic!()
    };
    let facts = Response::parse_facts(&json).unwrap();
    assert_eq!(facts["system"], "Linux");
    assert!(matches!(
        run(Request::Hello { version: 999 }),
        Response::Error(HostError::Protocol(_))
    ));
    let Response::Hello(info) = run(Request::Hello {
        version: drover_proto::PROTOCOL_VERSION,
    }) else {
        panic!()
    };
    assert_eq!(info.pid, std::process::id());
}

#[test]
fn serve_greets_answers_in_order_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    for (id, body) in [
        (
            7,
            Request::Stat {
                path: dir.path().to_string_lossy().into(),
                opts: StatOptions::default(),
            },
        ),
        (
            8,
            Request::Read {
                path: "/no/such/file".into(),
            },
        ),
        (9, Request::Shutdown),
        (10, Request::Facts),
    ] {
        input.extend(encode(&Envelope { id, body }).unwrap());
    }
    let mut output = Vec::new();
    serve(&input[..], &mut output).unwrap();
    let mut r = &output[..];
    let mut got = Vec::new();
    while let Some(env) = read_frame::<Envelope<Response>>(&mut r).unwrap() {
        got.push((env.id, env.body.kind()));
    }
    assert_eq!(
        got,
        [
            (HELLO_ID, "Hello"),
            (7, "Stat"),
            (8, "Error"),
            (9, "Shutdown")
        ],
        "nothing after Shutdown"
    );

    // Garbage: a decode error answer, then the loop stops with an error.
    let mut output = Vec::new();
    assert!(serve(&[0u8, 0, 0, 2, 0xff, 0xff][..], &mut output).is_err());
    let mut r = &output[..];
    let _hello = read_frame::<Envelope<Response>>(&mut r).unwrap();
    let err = read_frame::<Envelope<Response>>(&mut r).unwrap().unwrap();
    assert!(matches!(err.body, Response::Error(HostError::Protocol(_))));
    // Truncated frame: error, no panic.
    assert!(serve(&[0u8, 0, 0, 9, 1][..], Vec::new()).is_err());
    // Empty input: clean end.
    assert!(serve(&[][..], Vec::new()).is_ok());
}

#[test]
fn backups_keep_mode_times_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("conf");
    let path = f.to_string_lossy().into_owned();
    std::fs::write(&f, b"old\n").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(old))
        .unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Giving the file away needs root; otherwise the owner is ourselves either way.
    let (uid, gid) = me();
    let (owner, group) = if uid == 0 { (65534, 65534) } else { (uid, gid) };
    std::os::unix::fs::chown(&f, Some(owner), Some(group)).unwrap();
    let backup = write(WriteRequest {
        path: path.clone(),
        content: b"new\n".to_vec(),
        preserve_existing: true,
        backup: true,
        ..WriteRequest::default()
    })
    .unwrap()
    .expect("a backup");
    let md = std::fs::metadata(&backup).unwrap();
    assert_eq!(std::fs::read(&backup).unwrap(), b"old\n");
    assert_eq!(md.mode() & 0o7777, 0o444);
    assert_eq!((md.uid(), md.gid()), (owner, group));
    assert_eq!(md.modified().unwrap(), old);
}

#[test]
fn write_keeps_extended_attributes_of_the_replaced_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x");
    std::fs::write(&f, "one\n").unwrap();
    let name = c"user.drover";
    if rustix::fs::setxattr(&f, name, b"kept", rustix::fs::XattrFlags::empty()).is_err() {
        // This filesystem has no user xattrs; nothing to check here.
        return;
    }
    let path = f.to_string_lossy().into_owned();
    write(WriteRequest {
        path,
        content: b"two\n".to_vec(),
        preserve_existing: true,
        ..WriteRequest::default()
    })
    .unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"two\n");
    let mut buf = [0u8; 16];
    let n = rustix::fs::getxattr(&f, name, &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"kept");
}

#[test]
fn recursive_attrs_follow_links_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::create_dir_all(outside.join("d")).unwrap();
    std::fs::write(outside.join("f"), "x").unwrap();
    std::fs::write(outside.join("d/g"), "y").unwrap();
    for p in [outside.join("f"), outside.join("d/g")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::os::unix::fs::symlink(outside.join("f"), tree.join("to_f")).unwrap();
    std::os::unix::fs::symlink(outside.join("d"), tree.join("sub/to_d")).unwrap();
    // A link back up the tree must not loop.
    std::os::unix::fs::symlink("..", tree.join("sub/up")).unwrap();
    let attrs = |mode: &str| Attrs {
        mode: Some(mode.into()),
        ..Attrs::default()
    };
    let mk = |follow: bool| FileOp::Attrs {
        path: tree.to_string_lossy().into_owned(),
        attrs: attrs("a-w"),
        follow,
        recurse: true,
    };
    op(mk(false), false).unwrap();
    assert_eq!(mode_of(&outside.join("f")), 0o644);
    assert_eq!(mode_of(&outside.join("d/g")), 0o644);
    assert!(op(mk(true), false).unwrap().changed);
    assert_eq!(mode_of(&outside.join("f")), 0o444);
    assert_eq!(mode_of(&outside.join("d/g")), 0o444);
    assert!(!op(mk(true), false).unwrap().changed);
}

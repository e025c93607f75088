//! End-to-end tests: the local transport in temporary directories, and the SSH transport against
//! a real sshd this test starts on 127.0.0.1 (packages in tests/DEPS).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drover_host::{
    Attrs, ExecRequest, FileKind, FileOp, Host, HostError, StatOptions, WriteRequest,
};
use drover_transport::{
    BecomeSpec, ConnectionSpec, HelperBinary, SshSpec, Transport, TransportConfig, Warning,
};

fn helper() -> HelperBinary {
    HelperBinary::from_path(env!("CARGO_BIN_EXE_drover-helper"), vec!["__helper".into()]).unwrap()
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs every primitive against `host` inside `dir` (a fresh directory on that host).
async fn exercise(host: &dyn Host, dir: &Path, with_facts: bool) {
    let f = dir.join("conf");
    let opts = StatOptions {
        follow: true,
        checksum: true,
    };
    assert!(!host.stat(&s(&f), opts).await.unwrap().exists);

    // write: new file, then a replacement with backup and a passing validation.
    host.write(&WriteRequest {
        path: s(&f),
        content: b"hello\n".to_vec(),
        default_mode: Some(0o640),
        ..WriteRequest::default()
    })
    .await
    .unwrap();
    let st = host.stat(&s(&f), opts).await.unwrap();
    assert_eq!(
        (st.kind, st.mode, st.size),
        (Some(FileKind::File), 0o640, 6)
    );
    assert_eq!(
        st.checksum.as_deref(),
        Some("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert_eq!(st.owner, id("-un"));
    let out = host
        .write(&WriteRequest {
            path: s(&f),
            content: b"good\n".to_vec(),
            attrs: Attrs {
                mode: Some("g-r,o+r".into()),
                ..Attrs::default()
            },
            preserve_existing: true,
            backup: true,
            validate: Some("grep -q good %s".into()),
            ..WriteRequest::default()
        })
        .await
        .unwrap();
    let backup = out.backup_file.expect("backup");
    assert!(backup.starts_with(&format!("{}.", s(&f))) && backup.ends_with('~'));
    assert_eq!(host.read(&backup).await.unwrap(), b"hello\n");
    assert_eq!(host.read(&s(&f)).await.unwrap(), b"good\n");
    assert_eq!(host.stat(&s(&f), opts).await.unwrap().mode, 0o604);
    let bad = host
        .write(&WriteRequest {
            path: s(&f),
            content: b"bad\n".to_vec(),
            validate: Some("grep -q good %s".into()),
            ..WriteRequest::default()
        })
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("validate"), "{bad}");
    assert_eq!(host.read(&s(&f)).await.unwrap(), b"good\n");
    assert!(host
        .read(&s(&dir.join("missing")))
        .await
        .unwrap_err()
        .is_not_found());
    // Binary content survives.
    let bin: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    host.write(&WriteRequest {
        path: s(&dir.join("bin")),
        content: bin.clone(),
        ..WriteRequest::default()
    })
    .await
    .unwrap();
    assert_eq!(host.read(&s(&dir.join("bin"))).await.unwrap(), bin);

    // exec
    let mut req = ExecRequest::shell("echo \"$FOO\"; pwd; cat; echo err >&2; exit 4");
    req.env.insert("FOO".into(), "bar baz".into());
    req.cwd = Some(s(dir));
    req.stdin = Some(b"from stdin".to_vec());
    let out = host.exec(&req).await.unwrap();
    assert_eq!(out.rc, 4);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("bar baz\n{}\nfrom stdin", s(dir))
    );
    assert_eq!(out.stderr, b"err\n");
    let out = host
        .exec(&ExecRequest::argv(["printf", "%s|", "a b", "it's"]))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"a b|it's|");
    let out = host.raw("echo raw-$((1+2))").await.unwrap();
    assert_eq!((out.rc, out.stdout.as_slice()), (0, &b"raw-3\n"[..]));

    // file ops, each twice: the second run changes nothing.
    let sub = dir.join("a/b");
    let ops = [
        FileOp::Directory {
            path: s(&sub),
            attrs: Attrs {
                mode: Some("u=rwx,g=rx,o=".into()),
                ..Attrs::default()
            },
            recurse: false,
        },
        FileOp::Symlink {
            path: s(&dir.join("link")),
            src: "conf".into(),
            force: false,
            attrs: Attrs::default(),
        },
        FileOp::Hardlink {
            path: s(&dir.join("hard")),
            src: s(&f),
            force: false,
        },
        FileOp::Attrs {
            path: s(&f),
            attrs: Attrs {
                mode: Some("0600".into()),
                owner: Some(id("-un")),
                group: Some(id("-g")),
            },
            follow: true,
            recurse: false,
        },
        FileOp::Directory {
            path: s(&dir.join("a")),
            attrs: Attrs {
                mode: Some("a+rX".into()),
                ..Attrs::default()
            },
            recurse: true,
        },
        FileOp::Rename {
            from: s(&dir.join("bin")),
            to: s(&dir.join("bin2")),
        },
        FileOp::Absent {
            path: s(&dir.join("a")),
        },
    ];
    for op in &ops {
        let checked = host.file_op(op, true).await.unwrap();
        assert!(checked.changed, "check mode predicts a change: {op:?}");
        let first = host.file_op(op, false).await.unwrap();
        assert!(first.changed, "{op:?}");
        let second = host.file_op(op, false).await.unwrap();
        assert!(!second.changed, "idempotent: {op:?}");
    }
    assert_eq!(host.stat(&s(&f), opts).await.unwrap().mode, 0o600);
    let link = host
        .stat(&s(&dir.join("link")), StatOptions::default())
        .await
        .unwrap();
    assert_eq!(link.link_target.as_deref(), Some("conf"));
    let touch = FileOp::Touch {
        path: s(&dir.join("t")),
        attrs: Attrs::default(),
    };
    assert!(host.file_op(&touch, false).await.unwrap().after.exists);

    let names: Vec<String> = host
        .list_dir(&s(dir))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .filter(|n| !n.ends_with('~'))
        .collect();
    assert_eq!(names, ["bin2", "conf", "hard", "link", "t"]);
    let many = host
        .stat_many(&[s(&f), s(&dir.join("nope"))], StatOptions::default())
        .await
        .unwrap();
    assert_eq!((many[0].exists, many[1].exists), (true, false));

    let facts = host.facts().await.unwrap();
    assert_eq!(facts["system"], "Linux");
    assert_eq!(facts["user_id"], id("-un").as_str());
    if with_facts {
        for key in [
            "default_ipv4",
            "date_time",
            "processor_vcpus",
            "env",
            "interfaces",
        ] {
            assert!(facts.contains_key(key), "{key}");
        }
    }
}

#[tokio::test]
async fn local_transport_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let t = Transport::new(TransportConfig::new(Some(helper()))).unwrap();
    let conn = t.connection("localhost", ConnectionSpec::Local);
    let host = conn.host(None).await.unwrap();
    assert_eq!(host.name(), "localhost");
    exercise(host.as_ref(), dir.path(), true).await;
    // become through sudo locally (root to root).
    if Path::new("/usr/bin/sudo").exists() {
        let b = conn.host(Some(&BecomeSpec::sudo("root"))).await.unwrap();
        let out = b.exec(&ExecRequest::argv(["id", "-u"])).await.unwrap();
        assert_eq!(out.stdout, b"0\n");
    }
    conn.close().await;
}

/// An sshd on a free loopback port, running as the current user, with its own keys.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: std::process::Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("dsshd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("id"));
        std::fs::copy(d.join("id.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all(d.join("cache")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin yes\nPidFile {d}/sshd.pid\nSetEnv XDG_CACHE_HOME={d}/cache\nMaxSessions 50\nMaxStartups 50\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .unwrap();
        std::fs::write(d.join("empty_known_hosts"), "").unwrap();
        // Privilege separation directory, normally created by the service unit.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { dir, port, child }
    }

    fn spec(&self, known_hosts: &str) -> SshSpec {
        let d = self.dir.path();
        SshSpec {
            port: Some(self.port),
            user: Some(id("-un")),
            private_key_file: Some(s(&d.join("id"))),
            common_args: Some(format!(
                "-F /dev/null -o UserKnownHostsFile={}/{known_hosts} -o IdentitiesOnly=yes",
                d.display()
            )),
            ..SshSpec::new("127.0.0.1")
        }
    }

    fn cached_helpers(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("cache/drover"))
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("helper-"))
                })
                .count()
            })
            .unwrap_or(0)
    }
}

fn have_sshd() -> bool {
    Path::new("/usr/sbin/sshd").exists()
}

fn config(force_shell: bool, warnings: Arc<Mutex<Vec<Warning>>>) -> TransportConfig {
    let mut c = TransportConfig::new(Some(helper()));
    c.force_shell_fallback = force_shell;
    c.connect_timeout = Duration::from_secs(5);
    c.warnings = Some(Arc::new(move |w| warnings.lock().unwrap().push(w)));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_helper_upload_cache_primitives_and_become() {
    if !have_sshd() {
        panic!("sshd missing: install the packages in crates/transport/tests/DEPS");
    }
    let sshd = Sshd::start();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let t = Transport::new(config(false, warnings.clone())).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    assert_eq!(sshd.cached_helpers(), 0);
    let host = conn.host(None).await.unwrap();
    assert_eq!(conn.uploads(), 1, "first contact uploads the helper");
    assert_eq!(sshd.cached_helpers(), 1);
    assert!(!conn.uses_shell_fallback(None).await);
    let dir = tempfile::tempdir().unwrap();
    exercise(host.as_ref(), dir.path(), true).await;

    // Pipelining: many requests in flight on one channel.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let h = host.clone();
            let p = if i % 2 == 0 {
                "/".to_string()
            } else {
                format!("/nonexistent-{i}")
            };
            tokio::spawn(async move { (i, h.stat(&p, StatOptions::default()).await) })
        })
        .collect();
    for t in tasks {
        let (i, r) = t.await.unwrap();
        assert_eq!(
            r.unwrap().exists,
            i % 2 == 0,
            "answer {i} matched to its request"
        );
    }

    // become: a second helper through sudo (root to root on this machine).
    if Path::new("/usr/bin/sudo").exists() {
        let b = conn.host(Some(&BecomeSpec::sudo("root"))).await.unwrap();
        let out = b.exec(&ExecRequest::argv(["id", "-un"])).await.unwrap();
        assert_eq!(out.stdout, b"root\n");
        let nobody_raw = conn.host(Some(&BecomeSpec::sudo("nobody"))).await.unwrap();
        let out = nobody_raw.raw("id -un").await.unwrap();
        assert_eq!(out.stdout, b"nobody\n", "raw runs as the become user too");
        // A user that cannot read root's cache: the helper runs from a private copy.
        let nobody = conn.host(Some(&BecomeSpec::sudo("nobody"))).await.unwrap();
        let out = nobody
            .exec(&ExecRequest::argv(["id", "-un"]))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"nobody\n");
        assert!(
            !conn
                .uses_shell_fallback(Some(&BecomeSpec::sudo("nobody")))
                .await
        );
        let bad = BecomeSpec::sudo("no-such-user-drover");
        let e = match conn.host(Some(&bad)).await {
            Err(e) => e,
            Ok(_) => panic!("sudo to a missing user must fail"),
        };
        assert!(!matches!(e, HostError::Unreachable(_)), "{e:?}");
    }
    conn.close().await;
    assert!(warnings.lock().unwrap().is_empty());

    // A new run: the cached helper is reused, nothing uploaded.
    let t2 = Transport::new(config(false, warnings.clone())).unwrap();
    let conn2 = t2.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    let host2 = conn2.host(None).await.unwrap();
    assert!(
        host2
            .stat("/", StatOptions::default())
            .await
            .unwrap()
            .exists
    );
    assert_eq!(conn2.uploads(), 0);

    // Dropping without close kills the ssh children; the host then reports unreachable
    // on a fresh connection only if sshd is gone, so here just check the drop is prompt.
    drop(host2);
    drop(conn2);
    drop(t2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_shell_fallback_passes_the_same_primitives() {
    let sshd = Sshd::start();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let t = Transport::new(config(true, warnings)).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    let host = conn.host(None).await.unwrap();
    assert!(conn.uses_shell_fallback(None).await);
    let dir = tempfile::tempdir().unwrap();
    exercise(host.as_ref(), dir.path(), false).await;
    assert_eq!(conn.uploads(), 0);
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_key_and_closed_port_are_unreachable() {
    let sshd = Sshd::start();
    let t = Transport::new(config(false, Arc::new(Mutex::new(Vec::new())))).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("empty_known_hosts")));
    match conn.host(None).await {
        Err(HostError::Unreachable(msg)) => {
            assert!(msg.contains("Host key verification failed"), "{msg}")
        }
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("an unknown host key must be rejected"),
    }
    // With checking off the same host is accepted.
    let mut spec = sshd.spec("empty_known_hosts");
    spec.host_key_checking = false;
    spec.common_args = Some("-F /dev/null -o IdentitiesOnly=yes".to_string());
    let conn = t.connection("web1b", ConnectionSpec::Ssh(spec));
    let h = conn.host(None).await.unwrap();
    assert!(h.stat("/", StatOptions::default()).await.unwrap().exists);
    conn.close().await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut spec = sshd.spec("known_hosts");
    spec.port = Some(closed);
    let conn = t.connection("down", ConnectionSpec::Ssh(spec));
    match conn.host(None).await {
        Err(HostError::Unreachable(msg)) => assert!(msg.contains("Connection refused"), "{msg}"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("closed port must be unreachable"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_that_cannot_exec_falls_back_to_the_shell_with_a_warning() {
    let sshd = Sshd::start();
    let h = helper();
    // An executable whose interpreter does not exist: exec fails as on a noexec mount.
    let cache = sshd.dir.path().join("cache/drover");
    std::fs::create_dir_all(&cache).unwrap();
    let fake = cache.join(format!("helper-{}", h.sha256));
    std::fs::write(&fake, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let t = Transport::new(config(false, warnings.clone())).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    let host = conn.host(None).await.unwrap();
    assert!(conn.uses_shell_fallback(None).await);
    assert!(host.stat("/", StatOptions::default()).await.unwrap().exists);
    let w = warnings.lock().unwrap().clone();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].host, "web1");
    assert!(w[0].message.contains("shell commands"), "{}", w[0].message);
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_transport_ends_every_ssh_process() {
    let sshd = Sshd::start();
    let control = tempfile::Builder::new()
        .prefix("dctl")
        .tempdir_in("/tmp")
        .unwrap();
    let mut cfg = config(false, Arc::new(Mutex::new(Vec::new())));
    cfg.control_dir = Some(control.path().to_path_buf());
    let t = Transport::new(cfg).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    let host = conn.host(None).await.unwrap();
    assert!(host.stat("/", StatOptions::default()).await.unwrap().exists);
    let running = || {
        Command::new("pgrep")
            .args(["-f", &s(control.path())])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    assert!(running(), "a master and a helper session are up");
    drop(host);
    drop(conn);
    drop(t);
    let deadline = Instant::now() + Duration::from_secs(5);
    while running() {
        assert!(Instant::now() < deadline, "ssh processes survived the drop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_that_dies_makes_the_host_unreachable() {
    let sshd = Sshd::start();
    let t = Transport::new(config(false, Arc::new(Mutex::new(Vec::new())))).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    let host = conn.host(None).await.unwrap();
    // The helper is the parent of what it executes.
    let killed = host.exec(&ExecRequest::shell("kill -9 $PPID")).await;
    assert!(
        matches!(killed, Err(HostError::Unreachable(_))),
        "{killed:?}"
    );
    match host.stat("/", StatOptions::default()).await {
        Err(HostError::Unreachable(msg)) => assert!(!msg.is_empty()),
        other => panic!("{other:?}"),
    }
    conn.close().await;
    // After close the connection starts a fresh helper.
    let again = conn.host(None).await.unwrap();
    assert!(
        again
            .stat("/", StatOptions::default())
            .await
            .unwrap()
            .exists
    );
    conn.close().await;
}

#[tokio::test]
async fn become_password_is_fed_once_on_the_unique_prompt() {
    // A stand-in for `sudo -S -p PROMPT -u USER -- cmd...`: prompts on stderr, checks the line.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-sudo");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprompt=$3\nprintf '%s' \"$prompt\" >&2\nread -r pw\n\
         if [ \"$pw\" != s3cret ]; then echo 'Sorry, try again.' >&2; printf '%s' \"$prompt\" >&2; read -r pw; exit 1; fi\n\
         shift 6\nexec \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let t = Transport::new(TransportConfig::new(Some(helper()))).unwrap();
    let conn = t.connection("localhost", ConnectionSpec::Local);
    let spec = |pw: &str| BecomeSpec {
        password: Some(pw.into()),
        exe: Some(s(&fake)),
        ..BecomeSpec::sudo("root")
    };
    let good = conn.host(Some(&spec("s3cret"))).await.unwrap();
    let out = good.exec(&ExecRequest::argv(["echo", "ok"])).await.unwrap();
    assert_eq!(out.stdout, b"ok\n");
    match conn.host(Some(&spec("wrong"))).await {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("incorrect become password"), "{msg}");
            assert!(
                !msg.contains("wrong"),
                "the password must never appear in errors"
            );
        }
        Ok(_) => panic!("a wrong password must fail"),
    }
    conn.close().await;
}

/// Median round trip of a `stat` through ssh + helper (run with `--ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn stat_round_trip_latency() {
    let sshd = Sshd::start();
    let t = Transport::new(config(false, Arc::new(Mutex::new(Vec::new())))).unwrap();
    let conn = t.connection("web1", ConnectionSpec::Ssh(sshd.spec("known_hosts")));
    let start = Instant::now();
    drop(conn.host(None).await.unwrap());
    let first_contact = start.elapsed();
    conn.close().await;
    let start = Instant::now();
    let host = conn.host(None).await.unwrap();
    let cached_contact = start.elapsed();
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "first contact with upload: {first_contact:?}; new contact, helper cached: {cached_contact:?}"
        );
    }
    let mut times = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let start = Instant::now();
        host.stat("/etc/hosts", StatOptions::default())
            .await
            .unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    #[allow(clippy::print_stderr)]
    {
        eprintln!("stat round trip over ssh+helper: median {median:?}, p99 {p99:?}");
    }
    assert!(median < Duration::from_millis(50));
    conn.close().await;
    let _: PathBuf = sshd.dir.path().to_path_buf();
}

#[tokio::test]
async fn local_become_to_an_unprivileged_user_runs_a_copy_of_the_helper_it_can_reach() {
    if !Path::new("/usr/bin/sudo").exists() || id("-u") != "0" {
        return;
    }
    // The controller's helper sits in a directory `nobody` cannot enter.
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let exe = private.path().join("drover-helper");
    std::fs::copy(env!("CARGO_BIN_EXE_drover-helper"), &exe).unwrap();
    let helper = HelperBinary::from_path(&exe, vec!["__helper".into()]).unwrap();
    let t = Transport::new(TransportConfig::new(Some(helper))).unwrap();
    let conn = t.connection("localhost", ConnectionSpec::Local);
    let nobody = conn.host(Some(&BecomeSpec::sudo("nobody"))).await.unwrap();
    let out = nobody
        .exec(&ExecRequest::argv(["id", "-un"]))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"nobody\n");
    conn.close().await;
}

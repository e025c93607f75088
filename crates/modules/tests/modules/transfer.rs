//! `script` and `fetch`: files moving between the controller and the host.

use serde_json::json;

use crate::support::{i, s, Env};

/// An environment whose `HOME` is inside the test directory, so the script's staging
/// directory never lands in the real home.
async fn script_env() -> Env {
    let env = Env::new().await;
    let home = env.path("home");
    std::fs::create_dir_all(&home).unwrap();
    env.task_env.lock().unwrap().insert("HOME".into(), home);
    env
}

fn staged_dirs(env: &Env) -> usize {
    match std::fs::read_dir(env.path("home/.ansible/tmp")) {
        Ok(entries) => entries.count(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn script_runs_with_arguments_and_cleans_up() {
    let env = script_env().await;
    env.controller_file(
        "files/args.sh",
        "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\necho err >&2\n",
    );
    let out = env
        .run("script", json!("args.sh -this 'two words' -Ӧther"))
        .await;
    assert!(out.changed && !out.failed, "{out:?}");
    assert_eq!(i(&out, "rc"), 0);
    assert_eq!(s(&out, "stdout"), "-this\ntwo words\n-Ӧther\n");
    assert_eq!(out.data["stdout_lines"].len(), Some(3));
    assert_eq!(s(&out, "stderr"), "err\n");
    assert_eq!(staged_dirs(&env), 0, "the staging directory is removed");
}

#[tokio::test]
async fn script_failure_executable_and_chdir() {
    let env = script_env().await;
    env.controller_file("files/fail.sh", "#!/bin/sh\nexit 3\n");
    env.controller_file("files/noshebang.txt", "pwd\n");
    let out = env.run("script", json!("fail.sh")).await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 3);
    assert_eq!(out.msg.as_deref(), Some("non-zero return code"));

    let dir = env.path("");
    let out = env
        .run(
            "script",
            json!({"cmd": "noshebang.txt", "executable": "/bin/sh", "chdir": dir}),
        )
        .await;
    assert!(!out.failed, "{out:?}");
    assert_eq!(s(&out, "stdout").trim_end(), dir.trim_end_matches('/'));

    let out = env
        .run("script", json!({"cmd": "fail.sh", "chdir": "relative"}))
        .await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some("chdir relative must be an absolute path for a Unix-aware remote node")
    );
    assert_eq!(staged_dirs(&env), 0);
}

#[tokio::test]
async fn script_creates_removes_and_check_mode() {
    let env = script_env().await;
    env.controller_file("files/touch.sh", "#!/bin/sh\necho made > \"$1\"\n");
    let target = env.path("made.txt");
    let line = format!("touch.sh {target}");

    // Check mode without creates/removes: skipped, nothing runs.
    let out = env.check("script", json!(line)).await;
    assert!(out.skipped && !out.changed);
    assert_eq!(
        out.msg.as_deref(),
        Some("Check mode is not supported for this task.")
    );
    assert!(!env.exists("made.txt"));
    // With creates: would change.
    let out = env
        .check("script", json!({"cmd": line, "creates": target}))
        .await;
    assert!(out.changed && !out.skipped);
    assert!(!env.exists("made.txt"));

    let out = env
        .run("script", json!({"cmd": line, "creates": target}))
        .await;
    assert!(out.changed);
    assert_eq!(env.read("made.txt"), "made\n");
    let out = env
        .run("script", json!({"cmd": line, "creates": target}))
        .await;
    assert!(out.skipped);
    assert_eq!(
        out.msg.unwrap(),
        format!("{target} exists, matching creates option")
    );
    let gone = env.path("gone");
    let out = env
        .run("script", json!({"cmd": line, "removes": gone}))
        .await;
    assert!(out.skipped);
    assert_eq!(
        out.msg.unwrap(),
        format!("{gone} does not exist, matching removes option")
    );
}

#[tokio::test]
async fn script_needs_a_command_and_a_known_file() {
    let env = script_env().await;
    let out = env.run("script", json!({})).await;
    assert!(out.failed);
    assert!(out
        .msg
        .unwrap()
        .contains("one of the following is required"));
    let out = env.run("script", json!("missing.sh")).await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("Could not find or access"));
}

#[tokio::test]
async fn fetch_flat_and_per_host() {
    let env = Env::new().await;
    env.write("etc/app.conf", "setting=1\n");
    let src = env.path("etc/app.conf");
    let out_dir = env.dir.path().join("fetched");
    let dest = format!("{}/", out_dir.display());

    let out = env.run("fetch", json!({"src": src, "dest": dest})).await;
    assert!(out.changed && !out.failed, "{out:?}");
    let per_host = format!("{}/localhost{src}", out_dir.display());
    assert_eq!(s(&out, "dest"), per_host);
    assert_eq!(std::fs::read_to_string(&per_host).unwrap(), "setting=1\n");
    assert_eq!(s(&out, "checksum"), s(&out, "remote_checksum"));

    // Unchanged: one stat, no read.
    let out = env.run("fetch", json!({"src": src, "dest": dest})).await;
    assert!(!out.changed && !out.failed, "{out:?}");

    // flat with a trailing slash: the file's name inside dest.
    let out = env
        .run("fetch", json!({"src": src, "dest": dest, "flat": true}))
        .await;
    assert!(out.changed);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("app.conf")).unwrap(),
        "setting=1\n"
    );
    // flat onto an existing directory without a slash is refused.
    let out = env
        .run(
            "fetch",
            json!({"src": src, "dest": out_dir.display().to_string(), "flat": true}),
        )
        .await;
    assert!(out.failed);
    assert!(out
        .msg
        .unwrap()
        .starts_with("dest is an existing directory"));

    // The host's file changes: fetched again.
    env.write("etc/app.conf", "setting=2\n");
    let out = env.run("fetch", json!({"src": src, "dest": dest})).await;
    assert!(out.changed);
    assert_eq!(std::fs::read_to_string(&per_host).unwrap(), "setting=2\n");
}

#[tokio::test]
async fn fetch_missing_and_directories() {
    let env = Env::new().await;
    let dest = format!("{}/", env.dir.path().join("fetched").display());
    let missing = env.path("nope");
    let out = env
        .run("fetch", json!({"src": missing, "dest": dest}))
        .await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some("the remote file does not exist, not transferring, ignored")
    );
    let out = env
        .run(
            "fetch",
            json!({"src": missing, "dest": dest, "fail_on_missing": false}),
        )
        .await;
    assert!(!out.failed && !out.changed);
    assert_eq!(s(&out, "file"), missing);

    let out = env
        .run("fetch", json!({"src": env.path(""), "dest": dest}))
        .await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some("remote file is a directory, fetch cannot work on directories")
    );

    let out = env
        .check("fetch", json!({"src": missing, "dest": dest}))
        .await;
    assert!(out.skipped);

    let out = env.run("fetch", json!({})).await;
    assert_eq!(out.msg.as_deref(), Some("src and dest are required"));
    let out = env.run("fetch", json!({"src": [1, 2], "dest": dest})).await;
    assert_eq!(
        out.msg.as_deref(),
        Some("Invalid type supplied for source option, it must be a string")
    );
}

#[tokio::test]
async fn fetch_unreadable_files() {
    use std::os::unix::fs::PermissionsExt;
    // root reads everything: nothing to test.
    if std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    {
        return;
    }
    let env = Env::new().await;
    env.write("locked/secret", "x");
    let locked = env.path("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let dest = format!("{}/", env.dir.path().join("fetched").display());
    let src = env.path("locked/secret");
    let out = env.run("fetch", json!({"src": src, "dest": dest})).await;
    let ignored = env
        .run(
            "fetch",
            json!({"src": src, "dest": dest, "fail_on_missing": false}),
        )
        .await;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(out.failed);
    let msg = out.msg.unwrap();
    assert!(
        msg.contains("File is not readable") && msg.contains("ermission denied"),
        "{msg}"
    );
    assert!(!ignored.failed);
    assert!(ignored.msg.unwrap().ends_with(", ignored"));
}

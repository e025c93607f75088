use serde_json::json;

use crate::support::{i, s, Env};

#[tokio::test]
async fn command_runs_without_a_shell() {
    let env = Env::new().await;
    let out = env
        .run("command", json!("echo 'a  b' $NOPE_UNSET_VAR |"))
        .await;
    assert!(out.changed && !out.failed);
    assert_eq!(s(&out, "stdout"), "a  b $NOPE_UNSET_VAR |");
    assert_eq!(i(&out, "rc"), 0);
    assert_eq!(out.data["cmd"].len(), Some(4));
    assert_eq!(out.msg.as_deref(), Some(""));
    let delta = s(&out, "delta");
    assert!(delta.starts_with("0:00:0"), "{delta}");
    assert_eq!(s(&out, "start").len(), 26);
}

#[tokio::test]
async fn command_expands_variables_like_python() {
    let env = Env::new().await;
    let out = env
        .run("command", json!({"argv": ["echo", "$HOME", "~", "$(id)"]}))
        .await;
    let home = std::env::var("HOME").unwrap();
    assert_eq!(s(&out, "stdout"), format!("{home} {home} $(id)"));
    let out = env
        .run(
            "command",
            json!({"cmd": "echo $HOME", "expand_argument_vars": false}),
        )
        .await;
    assert_eq!(s(&out, "stdout"), "$HOME");
}

#[tokio::test]
async fn command_failure_and_missing_program() {
    let env = Env::new().await;
    let out = env
        .run("command", json!("sh -c 'echo oops >&2; exit 3'"))
        .await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 3);
    assert_eq!(s(&out, "stderr"), "oops");
    assert_eq!(out.msg.as_deref(), Some("non-zero return code"));

    let out = env.run("command", json!("/no/such/program x")).await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 2);
    assert!(out
        .msg
        .as_deref()
        .unwrap()
        .contains("No such file or directory"));

    let out = env.run("command", json!({"cmd": ""})).await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some("one of the following is required: _raw_params, cmd, argv")
    );

    let out = env
        .run(
            "command",
            json!({"_raw_params": "echo a", "argv": ["echo", "b"]}),
        )
        .await;
    assert!(out.failed);
    assert!(out
        .msg
        .unwrap()
        .contains("parameters are mutually exclusive"));
}

#[tokio::test]
async fn command_warns_about_executable_and_shell_refuses_expansion_flag() {
    let env = Env::new().await;
    let out = env
        .run(
            "command",
            json!({"_raw_params": "echo x", "executable": "/bogus"}),
        )
        .await;
    assert_eq!(s(&out, "stdout"), "x");
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains("no longer supported"),
        "{:?}",
        out.warnings
    );
    assert!(out.warnings[0].contains("Not using '/bogus'"));

    let out = env
        .run(
            "shell",
            json!({"_raw_params": "echo hi", "expand_argument_vars": false}),
        )
        .await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some("Unsupported parameters for (shell) module: expand_argument_vars")
    );
}

#[tokio::test]
async fn command_creates_removes_chdir_stdin() {
    let env = Env::new().await;
    let marker = env.path("marker");
    let args = json!(format!("touch {marker} creates={marker}"));
    let first = env.run("command", args.clone()).await;
    assert!(first.changed);
    assert!(env.exists("marker"));
    let second = env.run("command", args).await;
    assert!(!second.changed);
    assert_eq!(
        second.msg.as_deref(),
        Some(format!("Did not run command since '{marker}' exists").as_str())
    );
    assert_eq!(
        s(&second, "stdout"),
        format!("skipped, since {marker} exists")
    );

    // Globs, relative to chdir.
    env.write("d/a.conf", "");
    let out = env
        .run(
            "command",
            json!({"cmd": "false", "chdir": env.path("d"), "creates": "*.conf"}),
        )
        .await;
    assert!(!out.changed && !out.failed);
    let out = env
        .run(
            "command",
            json!({"cmd": "true", "removes": env.path("d/*.nope")}),
        )
        .await;
    assert!(!out.changed);
    assert!(s(&out, "stdout").contains("does not exist"));

    let out = env
        .run("command", json!({"cmd": "pwd", "chdir": env.path("d")}))
        .await;
    assert_eq!(s(&out, "stdout"), env.path("d"));

    let out = env
        .run("command", json!({"cmd": "cat", "stdin": "hello"}))
        .await;
    assert_eq!(s(&out, "stdout"), "hello");
    let out = env
        .run(
            "command",
            json!({"cmd": "cat", "stdin": "x\n\n", "strip_empty_ends": false}),
        )
        .await;
    assert_eq!(s(&out, "stdout"), "x\n\n\n");

    let out = env
        .run("command", json!({"cmd": "pwd", "chdir": env.path("nope")}))
        .await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("Unable to change directory"));
}

#[tokio::test]
async fn command_check_mode() {
    let env = Env::new().await;
    let marker = env.path("m");
    let out = env.check("command", json!(format!("touch {marker}"))).await;
    assert!(out.skipped && !out.changed);
    assert!(!env.exists("m"));
    let out = env
        .check(
            "command",
            json!({"cmd": format!("touch {marker}"), "creates": marker}),
        )
        .await;
    assert!(out.changed && !out.skipped);
    assert!(!env.exists("m"));
    env.write("m", "");
    let out = env
        .check("command", json!({"cmd": "false", "creates": marker}))
        .await;
    assert!(!out.changed);
    assert!(out.msg.unwrap().starts_with("Would not run"));
}

#[tokio::test]
async fn shell_and_raw() {
    let env = Env::new().await;
    let out = env
        .run(
            "shell",
            json!("echo one; echo two >&2; echo three | tr a-z A-Z"),
        )
        .await;
    assert_eq!(s(&out, "stdout"), "one\nTHREE");
    assert_eq!(s(&out, "stderr"), "two");
    assert_eq!(out.data["stdout_lines"].len(), Some(2));
    assert_eq!(
        s(&out, "cmd"),
        "echo one; echo two >&2; echo three | tr a-z A-Z"
    );
    let out = env
        .run(
            "shell",
            json!({"cmd": "echo $0", "executable": "/bin/bash"}),
        )
        .await;
    assert_eq!(s(&out, "stdout"), "/bin/bash");
    let out = env.run("shell", json!("exit 4")).await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 4);

    let out = env.run("raw", json!("echo raw; exit 0")).await;
    assert!(out.changed && !out.failed);
    assert_eq!(s(&out, "stdout"), "raw\n");
    let out = env.run("raw", json!("exit 9")).await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 9);
}

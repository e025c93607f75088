use serde_json::json;

use crate::support::{i, s, Env};

#[tokio::test]
async fn lineinfile_cycle() {
    let env = Env::new().await;
    env.write("sshd", "#Port 22\nPermitRootLogin yes\n");
    let path = env.path("sshd");
    let args = json!({"path": path, "regexp": "^#?Port ", "line": "Port 2222"});

    let out = env.check("lineinfile", args.clone()).await;
    assert!(out.changed);
    assert_eq!(out.msg.as_deref(), Some("line replaced"));
    assert_eq!(env.read("sshd"), "#Port 22\nPermitRootLogin yes\n");
    let d = &out.diff[0];
    assert_eq!(d.before_header, format!("{path} (content)"));
    assert_eq!(d.after, "Port 2222\nPermitRootLogin yes\n");

    let out = env.run("lineinfile", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("sshd"), "Port 2222\nPermitRootLogin yes\n");
    let out = env.run("lineinfile", args).await;
    assert!(!out.changed);
    assert!(out.diff.is_empty());

    let out = env
        .run(
            "lineinfile",
            json!({"path": path, "line": "UseDNS no", "insertbefore": "BOF"}),
        )
        .await;
    assert_eq!(out.msg.as_deref(), Some("line added"));
    assert!(env.read("sshd").starts_with("UseDNS no\n"));

    let out = env
        .run(
            "lineinfile",
            json!({"path": path, "regexp": "^Permit", "state": "absent", "backup": true}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(out.msg.as_deref(), Some("1 line(s) removed"));
    assert_eq!(i(&out, "found"), 1);
    assert_eq!(env.read("sshd"), "UseDNS no\nPort 2222\n");
    assert!(std::fs::read_to_string(s(&out, "backup"))
        .unwrap()
        .contains("PermitRootLogin"));

    // Only attributes.
    let out = env
        .run(
            "lineinfile",
            json!({"path": path, "line": "UseDNS no", "mode": "0600"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(
        out.msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
    assert_eq!(env.mode("sshd"), 0o600);
}

#[tokio::test]
async fn lineinfile_create_backrefs_errors() {
    let env = Env::new().await;
    let missing = env.path("sub/dir/new.conf");
    let out = env
        .run("lineinfile", json!({"path": missing, "line": "a=1"}))
        .await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 257);
    assert_eq!(
        out.msg.as_deref(),
        Some(format!("Destination {missing} does not exist !").as_str())
    );

    let out = env
        .check(
            "lineinfile",
            json!({"path": missing, "line": "a=1", "create": true}),
        )
        .await;
    assert!(out.changed);
    assert!(!env.exists("sub"));
    let out = env
        .run(
            "lineinfile",
            json!({"path": missing, "line": "a=1", "create": true}),
        )
        .await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("sub/dir/new.conf"), "a=1\n");

    let args =
        json!({"path": missing, "regexp": r"^a=(\d+)$", "line": r"a=\g<1>0", "backrefs": true});
    let out = env.run("lineinfile", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("sub/dir/new.conf"), "a=10\n");
    let out = env
        .run(
            "lineinfile",
            json!({"path": missing, "regexp": r"^zz(\d)", "line": r"\1", "backrefs": true}),
        )
        .await;
    assert!(!out.changed);

    let err = env
        .run_mode(
            "lineinfile",
            json!({"path": missing, "regexp": "(a=", "line": "x"}),
            false,
            false,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("(a=") && err.contains(&missing), "{err}");

    let out = env
        .run("lineinfile", json!({"path": env.path("sub"), "line": "x"}))
        .await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("is a directory"));

    let out = env
        .run(
            "lineinfile",
            json!({"path": env.path("nope"), "line": "x", "state": "absent"}),
        )
        .await;
    assert!(!out.changed && !out.failed);
}

#[tokio::test]
async fn blockinfile_cycle() {
    let env = Env::new().await;
    env.write("hosts", "127.0.0.1 localhost\n");
    let path = env.path("hosts");
    let args = json!({"path": path, "block": "10.0.0.1 a\n10.0.0.2 b"});
    let out = env.check("blockinfile", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("hosts"), "127.0.0.1 localhost\n");
    let out = env.run("blockinfile", args.clone()).await;
    assert_eq!(out.msg.as_deref(), Some("Block inserted"));
    assert_eq!(
        env.read("hosts"),
        "127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.1 a\n10.0.0.2 b\n# END ANSIBLE MANAGED BLOCK\n"
    );
    assert!(!env.run("blockinfile", args).await.changed);

    let args = json!({"path": path, "block": "10.0.0.3 c", "marker": "## {mark} net"});
    env.run("blockinfile", args).await;
    let out = env
        .run("blockinfile", json!({"path": path, "block": "10.0.0.9 z"}))
        .await;
    assert!(out.changed);
    assert!(out.diff[0].before.contains("10.0.0.2 b"));
    assert!(env
        .read("hosts")
        .contains("## BEGIN net\n10.0.0.3 c\n## END net\n"));

    let out = env
        .run("blockinfile", json!({"path": path, "state": "absent"}))
        .await;
    assert_eq!(out.msg.as_deref(), Some("Block removed"));
    assert!(!env.read("hosts").contains("ANSIBLE MANAGED"));
    assert!(env.read("hosts").contains("## BEGIN net"));

    let out = env
        .run(
            "blockinfile",
            json!({"path": env.path("none"), "block": "x"}),
        )
        .await;
    assert!(out.failed);
    let out = env
        .run(
            "blockinfile",
            json!({"path": env.path("none"), "block": "x", "create": true}),
        )
        .await;
    assert_eq!(out.msg.as_deref(), Some("File created"));
    assert_eq!(
        env.read("none"),
        "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"
    );
}

#[tokio::test]
async fn replace_cycle() {
    let env = Env::new().await;
    env.write("conf", "[a]\nk = 1\n[b]\nk = 1\n");
    let path = env.path("conf");
    let args = json!({"path": path, "regexp": r"^k = (\d)$", "replace": r"k = \1\1"});
    let out = env.check("replace", args.clone()).await;
    assert!(out.changed);
    assert_eq!(out.msg.as_deref(), Some("2 replacements made"));
    assert_eq!(env.read("conf"), "[a]\nk = 1\n[b]\nk = 1\n");
    let out = env.run("replace", args).await;
    assert!(out.changed);
    assert_eq!(env.read("conf"), "[a]\nk = 11\n[b]\nk = 11\n");
    assert_eq!(out.diff[0].after, "[a]\nk = 11\n[b]\nk = 11\n");
    // The registered result carries Ansible's diff dict too.
    let diff = &out.data["diff"];
    assert_eq!(
        diff.get_attr("after").unwrap().as_str(),
        Some("[a]\nk = 11\n[b]\nk = 11\n")
    );
    assert_eq!(
        diff.get_attr("before_header").unwrap().as_str(),
        Some(path.as_str())
    );

    let args = json!({"path": path, "regexp": "11", "replace": "2", "after": r"\[b\]"});
    assert!(env.run("replace", args.clone()).await.changed);
    assert_eq!(env.read("conf"), "[a]\nk = 11\n[b]\nk = 2\n");
    let out = env.run("replace", args).await;
    assert!(!out.changed);
    assert_eq!(out.msg.as_deref(), Some(""));

    let out = env
        .run("replace", json!({"path": env.path("x"), "regexp": "a"}))
        .await;
    assert!(out.failed);
    assert_eq!(i(&out, "rc"), 257);

    // A bad replacement template fails the task with Python's message.
    let out = env
        .run(
            "replace",
            json!({"path": path, "regexp": r"\.", "replace": r"\D"}),
        )
        .await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some(r"Unable to process replace due to error: bad escape \D at position 0")
    );
}

#[tokio::test]
async fn blockinfile_keeps_crlf_and_returns_diff() {
    let env = Env::new().await;
    env.write(
        "f",
        "unix\ndos\r\n# BEGIN ANSIBLE MANAGED BLOCK\ndos\r\n# END ANSIBLE MANAGED BLOCK\nunix\n",
    );
    let path = env.path("f");
    let out = env
        .run(
            "blockinfile",
            json!({"path": path, "block": "dos\r\ndos\r\n"}),
        )
        .await;
    assert_eq!(out.msg.as_deref(), Some("Block inserted"));
    assert_eq!(
        env.read("f"),
        "unix\ndos\r\n# BEGIN ANSIBLE MANAGED BLOCK\ndos\r\ndos\r\n# END ANSIBLE MANAGED BLOCK\nunix\n"
    );
    let diff = &out.data["diff"];
    assert_eq!(diff.len(), Some(2));
    let content = diff.get_item(&0.into()).unwrap();
    assert!(content
        .get_attr("after")
        .unwrap()
        .as_str()
        .unwrap()
        .contains("dos\r\ndos\r\n"));
    assert_eq!(
        content.get_attr("before_header").unwrap().as_str(),
        Some(format!("{path} (content)").as_str())
    );

    // state=absent on a missing file: a failure without create, a no-op with it.
    let gone = env.path("gone");
    let out = env
        .run("blockinfile", json!({"path": gone, "state": "absent"}))
        .await;
    assert!(out.failed);
    let out = env
        .run(
            "blockinfile",
            json!({"path": gone, "state": "absent", "create": true}),
        )
        .await;
    assert!(!out.changed && !out.failed);
    assert!(!env.exists("gone"));
}

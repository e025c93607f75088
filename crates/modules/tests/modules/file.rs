use serde_json::json;

use crate::support::{s, Env};

#[tokio::test]
async fn directory_idempotent_check_and_diff() {
    let env = Env::new().await;
    let p = env.path("a/b/c");
    let args = json!({"path": p, "state": "directory", "mode": "0750"});

    let out = env.check("file", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("a"), "check mode created the directory");
    let d = &out.diff[0];
    assert!(d.before.contains("\"state\": \"absent\""), "{}", d.before);
    assert!(d.after.contains("\"state\": \"directory\""), "{}", d.after);

    let out = env.run("file", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.mode("a/b/c"), 0o750);
    assert_eq!(s(&out, "mode"), "0750");
    assert_eq!(s(&out, "state"), "directory");

    let out = env.run("file", args).await;
    assert!(!out.changed);

    let out = env
        .run(
            "file",
            json!({"path": p, "state": "directory", "mode": "g+w"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.mode("a/b/c"), 0o770);
    assert!(
        out.diff[0].before.contains("\"mode\": \"0750\""),
        "{}",
        out.diff[0].before
    );
    assert!(out.diff[0].after.contains("\"mode\": \"0770\""));

    env.write("f", "x");
    let out = env
        .run("file", json!({"path": env.path("f"), "state": "directory"}))
        .await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("already exists as a file"));
}

#[tokio::test]
async fn recurse_sets_modes_below() {
    let env = Env::new().await;
    env.write("t/x/y", "1");
    std::fs::set_permissions(
        env.path("t/x/y"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let args = json!({"path": env.path("t"), "state": "directory", "mode": "u=rwX,go=rX", "recurse": true});
    let out = env.run("file", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.mode("t/x"), 0o755);
    assert_eq!(env.mode("t/x/y"), 0o644);
    let out = env.run("file", args).await;
    assert!(!out.changed);
}

#[tokio::test]
async fn file_state_attributes_only() {
    let env = Env::new().await;
    let out = env
        .run(
            "file",
            json!({"path": env.path("missing"), "state": "file"}),
        )
        .await;
    assert!(out.failed);
    assert_eq!(
        out.msg.as_deref(),
        Some(format!("file ({}) is absent, cannot continue", env.path("missing")).as_str())
    );
    env.write("f", "data");
    std::fs::set_permissions(
        env.path("f"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let args = json!({"path": env.path("f"), "mode": "0644"});
    let out = env.check("file", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.mode("f"), 0o600);
    let out = env.run("file", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.mode("f"), 0o644);
    assert_eq!(s(&out, "state"), "file");
    assert_eq!(s(&out, "size"), "4");
    assert!(!env.run("file", args).await.changed);

    let out = env
        .run_mode(
            "file",
            json!({"path": env.path("f"), "mode": "bogus"}),
            false,
            false,
        )
        .await;
    assert!(out
        .unwrap_err()
        .to_string()
        .contains("mode must be in octal or symbolic form"));
}

#[tokio::test]
async fn touch_and_absent() {
    let env = Env::new().await;
    let p = env.path("t");
    let out = env
        .check("file", json!({"path": p, "state": "touch"}))
        .await;
    assert!(out.changed);
    assert!(!env.exists("t"));
    let out = env
        .run("file", json!({"path": p, "state": "touch", "mode": "0600"}))
        .await;
    assert!(out.changed);
    assert_eq!(env.mode("t"), 0o600);

    let out = env
        .check("file", json!({"path": p, "state": "absent"}))
        .await;
    assert!(out.changed);
    assert!(env.exists("t"));
    let out = env.run("file", json!({"path": p, "state": "absent"})).await;
    assert!(out.changed);
    assert!(!env.exists("t"));
    assert_eq!(s(&out, "state"), "absent");
    assert!(out.diff[0].after.contains("absent"));
    let out = env.run("file", json!({"path": p, "state": "absent"})).await;
    assert!(!out.changed);

    env.write("tree/a/b", "x");
    let out = env
        .run("file", json!({"path": env.path("tree"), "state": "absent"}))
        .await;
    assert!(out.changed);
    assert!(!env.exists("tree"));
}

#[tokio::test]
async fn links() {
    let env = Env::new().await;
    env.write("target", "t");
    let link = env.path("link");
    let args = json!({"path": link, "src": env.path("target"), "state": "link"});
    let out = env.check("file", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("link"));
    let out = env.run("file", args.clone()).await;
    assert!(out.changed);
    assert_eq!(
        std::fs::read_link(&link).unwrap().to_string_lossy(),
        env.path("target")
    );
    assert_eq!(s(&out, "dest"), link);
    assert_eq!(s(&out, "state"), "link");
    assert!(!env.run("file", args).await.changed);

    // Repoint to a relative target.
    env.write("other", "o");
    let out = env
        .run(
            "file",
            json!({"path": link, "src": "other", "state": "link"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(
        std::fs::read_link(&link).unwrap().to_string_lossy(),
        "other"
    );

    // A regular file in the way needs force.
    env.write("plain", "p");
    let out = env
        .run(
            "file",
            json!({"path": env.path("plain"), "src": "target", "state": "link"}),
        )
        .await;
    assert!(out.failed);
    assert!(out
        .msg
        .unwrap()
        .contains("refusing to convert from file to symlink"));
    let out = env
        .run(
            "file",
            json!({"path": env.path("plain"), "src": "target", "state": "link", "force": true}),
        )
        .await;
    assert!(out.changed, "{:?}", out.msg);

    // Missing source without force.
    let out = env
        .run(
            "file",
            json!({"path": env.path("dangling"), "src": "nowhere", "state": "link"}),
        )
        .await;
    assert!(out.failed);

    // Hard links.
    let args = json!({"path": env.path("hard"), "src": env.path("target"), "state": "hard"});
    let out = env.run("file", args.clone()).await;
    assert!(out.changed);
    std::fs::write(env.path("target"), "changed").unwrap();
    assert_eq!(env.read("hard"), "changed");
    assert!(!env.run("file", args).await.changed);
}

#[tokio::test]
async fn state_defaults_to_what_exists() {
    let env = Env::new().await;
    env.write("d/f", "");
    let out = env
        .run("file", json!({"path": env.path("d"), "mode": "0700"}))
        .await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.mode("d"), 0o700);
    assert_eq!(s(&out, "state"), "directory");
    let out = env.run("file", json!({"path": env.path("nothing")})).await;
    assert!(out.failed);
}

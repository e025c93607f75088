use serde_json::json;

use crate::support::{s, Env};

#[tokio::test]
async fn content_first_run_second_run_check_and_diff() {
    let env = Env::new().await;
    let dest = env.path("conf");
    let args = json!({"content": "hello\n", "dest": dest, "mode": "0640"});

    let out = env.check("copy", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("conf"));
    assert_eq!(out.diff.len(), 1);
    assert_eq!(out.diff[0].before, "");
    assert_eq!(out.diff[0].after, "hello\n");
    assert_eq!(out.diff[0].before_header, dest);

    let out = env.run("copy", args.clone()).await;
    assert!(out.changed && !out.failed, "{:?}", out.msg);
    assert_eq!(env.read("conf"), "hello\n");
    assert_eq!(env.mode("conf"), 0o640);
    assert_eq!(
        s(&out, "checksum"),
        "f572d396fae9206628714fb2ce00f72e94f2258f"
    );
    assert_eq!(s(&out, "md5sum"), "b1946ac92492d2347c6235b4d2611184");
    assert_eq!(s(&out, "mode"), "0640");
    assert_eq!(s(&out, "size"), "6");

    let out = env.run("copy", args.clone()).await;
    assert!(!out.changed);
    assert!(out.diff.is_empty());

    // Mode-only change.
    let out = env
        .run(
            "copy",
            json!({"content": "hello\n", "dest": dest, "mode": "0600"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.mode("conf"), 0o600);

    // Content change shows the old text; check mode leaves it.
    let out = env
        .check("copy", json!({"content": "bye\n", "dest": dest}))
        .await;
    assert!(out.changed);
    assert_eq!(out.diff[0].before, "hello\n");
    assert_eq!(env.read("conf"), "hello\n");
    let out = env
        .run(
            "copy",
            json!({"content": "bye\n", "dest": dest, "backup": true}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.read("conf"), "bye\n");
    assert_eq!(env.mode("conf"), 0o600, "existing mode kept");
    let backup = s(&out, "backup_file");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), "hello\n");
}

#[tokio::test]
async fn force_false_and_validate() {
    let env = Env::new().await;
    env.write("keep", "original");
    let out = env
        .run(
            "copy",
            json!({"content": "new", "dest": env.path("keep"), "force": false}),
        )
        .await;
    assert!(!out.changed);
    assert_eq!(env.read("keep"), "original");

    let out = env
        .run(
            "copy",
            json!({"content": "x", "dest": env.path("v"), "validate": "false %s"}),
        )
        .await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("failed to validate"));
    assert!(!env.exists("v"));
    let out = env
        .run(
            "copy",
            json!({"content": "x", "dest": env.path("v"), "validate": "true"}),
        )
        .await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("validate must contain %s"));
    let out = env
        .run(
            "copy",
            json!({"content": "x", "dest": env.path("v"), "validate": "test -s %s"}),
        )
        .await;
    assert!(out.changed && !out.failed);
}

#[tokio::test]
async fn src_file_into_directory() {
    let env = Env::new().await;
    env.controller_file("files/app.conf", "port=1\n");
    std::fs::create_dir_all(env.path("etc")).unwrap();
    let args = json!({"src": "app.conf", "dest": env.path("etc")});
    let out = env.run("copy", args.clone()).await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("etc/app.conf"), "port=1\n");
    assert_eq!(s(&out, "dest"), env.path("etc/app.conf"));
    assert_eq!(s(&out, "src"), "app.conf");
    assert!(!env.run("copy", args).await.changed);

    // A trailing slash creates the directory.
    let args = json!({"src": "app.conf", "dest": format!("{}/", env.path("new/dir"))});
    let out = env.check("copy", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("new"));
    let out = env.run("copy", args.clone()).await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("new/dir/app.conf"), "port=1\n");
    assert!(!env.run("copy", args).await.changed);

    let out = env
        .run_mode(
            "copy",
            json!({"src": "missing", "dest": env.path("x")}),
            false,
            false,
        )
        .await;
    assert!(out.unwrap_err().to_string().contains("missing"));
    let out = env
        .run(
            "copy",
            json!({"content": "x", "dest": env.path("no/such/dir/file")}),
        )
        .await;
    assert!(out.failed);
    assert!(out.msg.unwrap().contains("does not exist"));
}

#[tokio::test]
async fn src_directory_trees() {
    let env = Env::new().await;
    env.controller_file("files/site/index.html", "<h1>hi</h1>\n");
    env.controller_file("files/site/css/a.css", "body{}\n");
    let args = json!({"src": "site", "dest": env.path("www")});
    let out = env.check("copy", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("www"));
    let out = env.run("copy", args.clone()).await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("www/site/index.html"), "<h1>hi</h1>\n");
    assert_eq!(env.read("www/site/css/a.css"), "body{}\n");
    assert!(!env.run("copy", args).await.changed);

    // Trailing slash: the contents.
    let args = json!({"src": "site/", "dest": env.path("flat")});
    let out = env.run("copy", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("flat/css/a.css"), "body{}\n");
    assert!(!env.run("copy", args.clone()).await.changed);
    env.write("flat/css/a.css", "changed");
    let out = env.run("copy", args).await;
    assert!(out.changed);
    assert_eq!(env.read("flat/css/a.css"), "body{}\n");
}

#[tokio::test]
async fn remote_src() {
    let env = Env::new().await;
    env.write("orig", "remote data");
    std::fs::set_permissions(
        env.path("orig"),
        std::os::unix::fs::PermissionsExt::from_mode(0o751),
    )
    .unwrap();
    let args = json!({"src": env.path("orig"), "dest": env.path("copy"), "remote_src": true, "mode": "preserve"});
    let out = env.run("copy", args.clone()).await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("copy"), "remote data");
    assert_eq!(env.mode("copy"), 0o751);
    assert!(!env.run("copy", args).await.changed);
    env.write("tree/a/b", "b");
    let args = json!({"src": env.path("tree"), "dest": env.path("dst"), "remote_src": true});
    assert!(env.run("copy", args.clone()).await.changed);
    assert_eq!(env.read("dst/tree/a/b"), "b");
    assert!(!env.run("copy", args).await.changed);
}

#[tokio::test]
async fn remote_src_tree_with_a_link_back_up_is_copied_once() {
    let env = Env::new().await;
    env.write("loop/sub/f", "f");
    std::os::unix::fs::symlink("../", env.path("loop/sub/circle")).unwrap();
    std::os::unix::fs::symlink("f", env.path("loop/sub/to_f")).unwrap();
    let args = json!({"src": format!("{}/", env.path("loop")), "dest": env.path("out"), "remote_src": true});
    // Check mode walks the tree too: it must end, and change nothing.
    assert!(env.check("copy", args.clone()).await.changed);
    assert!(!env.exists("out"));
    assert!(env.run("copy", args.clone()).await.changed);
    assert_eq!(env.read("out/sub/f"), "f");
    // A link to a file is copied as the file; the link to an ancestor stays a link.
    assert_eq!(env.read("out/sub/to_f"), "f");
    let circle = std::fs::read_link(env.path("out/sub/circle")).unwrap();
    assert_eq!(circle, std::path::Path::new("../"));
    assert!(!env.run("copy", args).await.changed);
    // A device is not content: copying it fails and creates nothing.
    let args = json!({"src": "/dev/null", "dest": env.path("null"), "remote_src": true});
    let out = env.run("copy", args).await;
    assert!(out.failed, "{:?}", out.msg);
    assert!(out
        .msg
        .as_deref()
        .unwrap_or_default()
        .contains("not a file"));
    assert!(!env.exists("null"));
}

#[tokio::test]
async fn template_renders_and_is_idempotent() {
    let env = Env::new().await;
    env.controller_file("templates/motd.j2", "Hello {{ who }}!\n");
    env.set_var("who", json!("world"));
    let args = json!({"src": "motd.j2", "dest": env.path("motd"), "mode": "0644"});
    let out = env.check("template", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("motd"));
    assert_eq!(out.diff[0].after, "Hello world!\n");
    let out = env.run("template", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("motd"), "Hello world!\n");
    assert!(!env.run("template", args.clone()).await.changed);
    env.set_var("who", json!("drover"));
    let out = env.run("template", args).await;
    assert!(out.changed);
    assert_eq!(out.diff[0].before, "Hello world!\n");
    assert_eq!(out.diff[0].after, "Hello drover!\n");

    let out = env
        .run(
            "template",
            json!({"src": "motd.j2", "dest": env.path("crlf"), "newline_sequence": "\\r\\n"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.read("crlf"), "Hello drover!\r\n");
}

#[tokio::test]
async fn template_mode_preserve_keeps_the_template_files_mode() {
    let env = Env::new().await;
    env.controller_file("templates/odd.j2", "{{ who }}\n");
    std::fs::set_permissions(
        env.path("../controller/templates/odd.j2"),
        std::os::unix::fs::PermissionsExt::from_mode(0o547),
    )
    .unwrap();
    env.set_var("who", json!("x"));
    let args = json!({"src": "odd.j2", "dest": env.path("odd"), "mode": "preserve"});
    let out = env.run("template", args.clone()).await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("odd"), "x\n");
    assert_eq!(env.mode("odd"), 0o547);
    assert!(!env.run("template", args).await.changed);
}

#[tokio::test]
async fn a_file_written_right_after_another_is_newer() {
    let env = Env::new().await;
    env.write("first", "one");
    let out = env
        .run(
            "copy",
            json!({"content": "two", "dest": env.path("second")}),
        )
        .await;
    assert!(out.changed);
    // The kernel's coarse write clock would often give both the same mtime; drover stamps the
    // precise time of its write.
    let mtime = |rel: &str| {
        std::fs::metadata(env.path(rel))
            .and_then(|m| m.modified())
            .unwrap()
    };
    assert!(mtime("second") > mtime("first"));
}

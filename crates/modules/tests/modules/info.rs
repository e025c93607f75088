use base64::Engine;
use serde_json::json;

use crate::support::{i, s, Env};

fn get(out: &drover_modules::Outcome, path: &[&str]) -> minijinja::Value {
    let mut v = out.data[path[0]].clone();
    for key in &path[1..] {
        v = v.get_attr(key).unwrap();
    }
    v
}

#[tokio::test]
async fn stat_reports_like_ansible() {
    let env = Env::new().await;
    env.write("f", "hello\n");
    std::fs::set_permissions(
        env.path("f"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::symlink("f", env.path("l")).unwrap();

    let out = env.run("stat", json!({"path": env.path("f")})).await;
    assert!(!out.changed);
    assert!(get(&out, &["stat", "exists"]).is_true());
    assert_eq!(get(&out, &["stat", "mode"]).as_str(), Some("0640"));
    assert!(get(&out, &["stat", "isreg"]).is_true());
    assert_eq!(get(&out, &["stat", "size"]).as_i64(), Some(6));
    assert!(!get(&out, &["stat", "xusr"]).is_true());
    assert!(get(&out, &["stat", "rgrp"]).is_true());
    assert_eq!(
        get(&out, &["stat", "checksum"]).as_str(),
        Some("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    let me = std::env::var("USER").unwrap_or_default();
    if !me.is_empty() {
        assert_eq!(get(&out, &["stat", "pw_name"]).as_str(), Some(me.as_str()));
    }

    let out = env
        .run(
            "stat",
            json!({"path": env.path("f"), "checksum_algorithm": "sha256"}),
        )
        .await;
    assert_eq!(
        get(&out, &["stat", "checksum"]).as_str(),
        Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
    );

    let out = env.run("stat", json!({"path": env.path("l")})).await;
    assert!(get(&out, &["stat", "islnk"]).is_true());
    assert_eq!(get(&out, &["stat", "lnk_target"]).as_str(), Some("f"));
    assert_eq!(
        get(&out, &["stat", "lnk_source"]).as_str(),
        Some(env.path("f").as_str())
    );
    let out = env
        .run("stat", json!({"path": env.path("l"), "follow": true}))
        .await;
    assert!(get(&out, &["stat", "isreg"]).is_true());

    // MIME type and charset come from the host's `file`, as in Ansible ("unknown" without it).
    let out = env.run("stat", json!({"path": env.path("f")})).await;
    let have_file = std::process::Command::new("file")
        .arg("--version")
        .output()
        .is_ok();
    let (mimetype, charset) = if have_file {
        ("text/plain", "us-ascii")
    } else {
        ("unknown", "unknown")
    };
    assert_eq!(get(&out, &["stat", "mimetype"]).as_str(), Some(mimetype));
    assert_eq!(get(&out, &["stat", "charset"]).as_str(), Some(charset));
    let out = env
        .run("stat", json!({"path": env.path("f"), "get_mime": false}))
        .await;
    assert!(get(&out, &["stat", "mimetype"]).is_undefined());
    let out = env.run("stat", json!({"path": env.path("missing")})).await;
    assert!(!get(&out, &["stat", "exists"]).is_true());
    assert!(get(&out, &["stat"])
        .get_attr("isdir")
        .unwrap()
        .is_undefined());
}

#[tokio::test]
async fn setup_prefixes_and_filters() {
    let env = Env::new().await;
    let out = env.run("setup", json!({})).await;
    let facts = &out.data["ansible_facts"];
    assert!(
        !facts.get_attr("ansible_hostname").unwrap().is_undefined(),
        "{facts}"
    );
    assert!(facts.get_attr("module_setup").unwrap().is_true());
    let out = env.run("setup", json!({"filter": ["ansible_host*"]})).await;
    let facts = &out.data["ansible_facts"];
    assert!(!facts.get_attr("ansible_hostname").unwrap().is_undefined());
    assert!(facts.get_attr("ansible_kernel").unwrap().is_undefined());
}

#[tokio::test]
async fn setup_reads_local_facts() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new().await;
    let dir = env.path("facts.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/json.fact"), r#"{"a": [1, 2]}"#).unwrap();
    std::fs::write(format!("{dir}/ini.fact"), "[general]\nkey = value\n").unwrap();
    std::fs::write(format!("{dir}/bad.fact"), "{{ nonsense").unwrap();
    std::fs::write(format!("{dir}/ignored.txt"), "{}").unwrap();
    let script = format!("{dir}/run.fact");
    std::fs::write(&script, "#!/bin/sh\necho '{\"from\": \"script\"}'\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run("setup", json!({"fact_path": dir})).await;
    let local = out.data["ansible_facts"].get_attr("ansible_local").unwrap();
    assert_eq!(
        local.get_attr("json").unwrap().get_attr("a").unwrap().len(),
        Some(2)
    );
    let ini = local.get_attr("ini").unwrap().get_attr("general").unwrap();
    assert_eq!(ini.get_attr("key").unwrap().as_str(), Some("value"));
    assert_eq!(
        local
            .get_attr("run")
            .unwrap()
            .get_attr("from")
            .unwrap()
            .as_str(),
        Some("script")
    );
    assert!(local
        .get_attr("bad")
        .unwrap()
        .as_str()
        .unwrap()
        .contains("error loading facts"));
    assert!(local.get_attr("ignored").unwrap().is_undefined());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);

    // A dead link, a failing script and a configparser interpolation error each become the
    // fact's value and a warning; gathering goes on.
    std::os::unix::fs::symlink(env.path("nowhere"), format!("{dir}/dead.fact")).unwrap();
    let failing = format!("{dir}/failing.fact");
    std::fs::write(&failing, "#!/bin/sh\necho oops >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(format!("{dir}/pct.fact"), "[s]\nv = 5 % off\n").unwrap();
    std::os::unix::fs::symlink(format!("{dir}/json.fact"), format!("{dir}/linked.fact")).unwrap();
    let out = env.run("setup", json!({"fact_path": dir})).await;
    let local = out.data["ansible_facts"].get_attr("ansible_local").unwrap();
    let text = |k: &str| {
        local
            .get_attr(k)
            .unwrap()
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(
        text("dead").starts_with("Could not stat fact"),
        "{}",
        text("dead")
    );
    assert!(
        text("failing").starts_with("Failure executing fact script")
            && text("failing").contains("rc: 3"),
        "{}",
        text("failing")
    );
    assert!(
        text("pct").starts_with("error loading facts as ini"),
        "{}",
        text("pct")
    );
    assert_eq!(
        local
            .get_attr("linked")
            .unwrap()
            .get_attr("a")
            .unwrap()
            .len(),
        Some(2)
    );
    assert_eq!(out.warnings.len(), 4, "{:?}", out.warnings);
    // No fact directory is no error.
    let out = env
        .run("setup", json!({"fact_path": env.path("none")}))
        .await;
    let local = out.data["ansible_facts"].get_attr("ansible_local").unwrap();
    assert_eq!(local.len(), Some(0));
}

#[tokio::test]
async fn slurp_reads_base64() {
    let env = Env::new().await;
    env.write("data", "bytes\n");
    let out = env.run("slurp", json!({"src": env.path("data")})).await;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(s(&out, "content"))
        .unwrap();
    assert_eq!(decoded, b"bytes\n");
    assert_eq!(s(&out, "encoding"), "base64");
    let out = env.run("slurp", json!({"path": env.path("nope")})).await;
    assert!(out.failed);
    assert!(out.msg.unwrap().starts_with("file not found"));
}

#[tokio::test]
async fn find_filters() {
    let env = Env::new().await;
    env.write("logs/a.log", "ERROR one\n");
    env.write("logs/b.log", "fine\n");
    env.write("logs/c.txt", "ERROR two\n");
    env.write("logs/.hidden.log", "");
    env.write("logs/sub/d.log", &"x".repeat(5000));
    let root = env.path("logs");

    let out = env
        .run("find", json!({"paths": root, "patterns": "*.log"}))
        .await;
    assert_eq!(i(&out, "matched"), 2);
    assert_eq!(i(&out, "examined"), 5);
    let files = &out.data["files"];
    let first = files.get_item_by_index(0).unwrap();
    assert_eq!(
        first.get_attr("path").unwrap().as_str(),
        Some(env.path("logs/a.log").as_str())
    );
    assert!(first.get_attr("isreg").unwrap().is_true());

    let out = env
        .run(
            "find",
            json!({"paths": root, "patterns": "*.log", "recurse": true, "hidden": true}),
        )
        .await;
    assert_eq!(i(&out, "matched"), 4);
    let out = env
        .run(
            "find",
            json!({"paths": [root], "contains": "ERROR", "recurse": true}),
        )
        .await;
    assert_eq!(i(&out, "matched"), 2);
    let out = env
        .run(
            "find",
            json!({"paths": root, "size": "4k", "recurse": true}),
        )
        .await;
    assert_eq!(i(&out, "matched"), 1);
    let out = env
        .run("find", json!({"paths": root, "file_type": "directory"}))
        .await;
    assert_eq!(i(&out, "matched"), 1);
    let out = env
        .run("find", json!({"paths": root, "patterns": [r"[ab]\.log"], "use_regex": true, "excludes": "b.*", "get_checksum": true}))
        .await;
    assert_eq!(i(&out, "matched"), 1);
    let first = out.data["files"].get_item_by_index(0).unwrap();
    assert_eq!(
        first.get_attr("checksum").unwrap().as_str().map(str::len),
        Some(40)
    );
    let out = env.run("find", json!({"paths": root, "age": "1d"})).await;
    assert_eq!(i(&out, "matched"), 0);
    let out = env.run("find", json!({"paths": root, "age": "-1d"})).await;
    assert_eq!(i(&out, "matched"), 3);

    let out = env.run("find", json!({"paths": env.path("nowhere")})).await;
    assert_eq!(i(&out, "matched"), 0);
    assert_eq!(out.warnings.len(), 1);
}

#[tokio::test]
async fn tempfile_creates_unique_paths() {
    let env = Env::new().await;
    let dir = env.path("");
    let a = env
        .run("tempfile", json!({"path": dir, "suffix": ".tmp"}))
        .await;
    let b = env
        .run(
            "tempfile",
            json!({"path": dir, "state": "directory", "prefix": "work."}),
        )
        .await;
    let pa = s(&a, "path");
    let pb = s(&b, "path");
    assert!(
        a.changed && pa.ends_with(".tmp") && pa.contains("ansible."),
        "{pa}"
    );
    assert!(std::path::Path::new(&pa).is_file());
    assert!(std::path::Path::new(&pb).is_dir());
    assert_eq!(s(&a, "mode"), "0600");
    assert_eq!(s(&b, "mode"), "0700");
    let c = env.run("tempfile", json!({"path": dir})).await;
    assert_ne!(s(&c, "path"), pa);
}

#[tokio::test]
async fn tempfile_rejects_missing_parent_and_path_parts() {
    let env = Env::new().await;
    for state in ["file", "directory"] {
        let out = env
            .run(
                "tempfile",
                json!({"path": env.path("missing"), "state": state}),
            )
            .await;
        assert!(out.failed, "{state}: {:?}", out.data);
        assert!(!env.exists("missing"));
        for (key, value) in [("prefix", "../../nested"), ("suffix", "../world")] {
            let out = env
                .run(
                    "tempfile",
                    json!({"path": env.path(""), "state": state, key: value}),
                )
                .await;
            assert!(out.failed);
            let msg = out.msg.unwrap_or_default();
            assert!(
                msg.contains(&format!("{key} must be a valid file name component")),
                "{msg}"
            );
        }
    }
}

#[tokio::test]
async fn assemble_fragments() {
    let env = Env::new().await;
    env.write("frags/10-a", "a\n");
    env.write("frags/20-b", "b");
    env.write("frags/.skip", "hidden\n");
    env.write("frags/30-c", "c\n");
    let args = json!({"src": env.path("frags"), "dest": env.path("out"), "ignore_hidden": true, "delimiter": "###"});
    let out = env.check("assemble", args.clone()).await;
    assert!(out.changed);
    assert!(!env.exists("out"));
    let out = env.run("assemble", args.clone()).await;
    assert!(out.changed, "{:?}", out.msg);
    assert_eq!(env.read("out"), "a\n###\nb\n###\nc\n");
    assert!(!env.run("assemble", args).await.changed);
    // With --diff, the result carries the before/after as Ansible registers them.
    let out = env
        .run(
            "assemble",
            json!({"src": env.path("frags"), "dest": env.path("out3")}),
        )
        .await;
    let diff = &out.data["diff"];
    assert_eq!(diff.get_attr("before").unwrap().as_str(), Some(""));
    assert_eq!(
        diff.get_attr("after").unwrap().as_str(),
        Some("hidden\na\nb\nc\n")
    );
    let out = env
        .run(
            "assemble",
            json!({"src": env.path("frags"), "dest": env.path("out2"), "regexp": "^[12]"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.read("out2"), "a\nb");
}

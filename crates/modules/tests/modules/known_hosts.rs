//! `known_hosts` on real files.

use serde_json::json;

use crate::support::{s, Env};

const RSA: &str = "example.org ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAglyZmHHWskQ9wkh8LYbI";
const ED: &str = "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIzlnSq5ESxLgW0avvPk";
const EXISTING: &str = "example.com ssh-rsa AAAAexisting\n\
                        @cert-authority *.example.org ssh-rsa AAAAca\n\
                        # a comment\n";

#[tokio::test]
async fn add_is_idempotent_and_keeps_order() {
    let env = Env::new().await;
    env.write("kh", EXISTING);
    let path = env.path("kh");
    let args = json!({"name": "example.org", "key": RSA, "path": path});

    let out = env.check("known_hosts", args.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("kh"), EXISTING, "check mode changes nothing");
    let diff = &out.data["diff"];
    assert_eq!(
        diff.get_attr("after").unwrap().as_str().unwrap(),
        format!("{EXISTING}{RSA}\n")
    );

    let out = env.run("known_hosts", args.clone()).await;
    assert!(out.changed && !out.failed, "{out:?}");
    assert_eq!(env.read("kh"), format!("{EXISTING}{RSA}\n"));
    assert_eq!(s(&out, "path"), path);

    let out = env.run("known_hosts", args.clone()).await;
    assert!(!out.changed, "{out:?}");
    assert_eq!(env.read("kh"), format!("{EXISTING}{RSA}\n"));

    // Removing a key the host does not have changes nothing.
    let out = env
        .run(
            "known_hosts",
            json!({"name": "example.org", "key": ED, "path": path, "state": "absent"}),
        )
        .await;
    assert!(!out.changed);

    let out = env
        .run(
            "known_hosts",
            json!({"name": "example.org", "key": RSA, "path": path, "state": "absent"}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.read("kh"), EXISTING);
}

#[tokio::test]
async fn hashed_hosts() {
    let env = Env::new().await;
    env.write("kh", EXISTING);
    let path = env.path("kh");
    let hashed = json!({"name": "example.org", "key": RSA, "path": path, "hash_host": true});

    let out = env.run("known_hosts", hashed.clone()).await;
    assert!(out.changed);
    let text = env.read("kh");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("|1|"), "{last}");
    assert!(last.ends_with(RSA.split(' ').next_back().unwrap()));
    assert!(!text.lines().any(|l| l.starts_with("example.org")));

    // A fresh salt would change the line: the existing hashed entry is recognised instead.
    let out = env.run("known_hosts", hashed.clone()).await;
    assert!(!out.changed);
    assert_eq!(env.read("kh"), text);

    // A plain entry replaces the hashed one.
    let plain = json!({"name": "EXAMPLE.org", "key": RSA, "path": path});
    let out = env.run("known_hosts", plain.clone()).await;
    assert!(out.changed);
    assert_eq!(env.read("kh"), format!("{EXISTING}{RSA}\n"));

    // Removing the host without a key drops its plain entries, keeps CA lines, saves `.old`.
    env.run("known_hosts", hashed.clone()).await;
    let out = env
        .run(
            "known_hosts",
            json!({"name": "example.org", "path": path, "state": "absent"}),
        )
        .await;
    assert!(out.changed, "{out:?}");
    assert_eq!(env.read("kh"), EXISTING);
    assert!(env
        .read("kh.old")
        .lines()
        .last()
        .unwrap()
        .starts_with("|1|"));
}

#[tokio::test]
async fn new_file_and_errors() {
    let env = Env::new().await;
    let path = env.path("new_known_hosts");
    let out = env
        .check(
            "known_hosts",
            json!({"name": "example.org", "key": RSA, "path": path}),
        )
        .await;
    assert_eq!(
        out.data["diff"].get_attr("before_header").unwrap().as_str(),
        Some("/dev/null")
    );
    let out = env
        .run(
            "known_hosts",
            json!({"name": "example.org", "key": RSA, "path": path}),
        )
        .await;
    assert!(out.changed);
    assert_eq!(env.read("new_known_hosts"), format!("{RSA}\n"));

    let out = env
        .run(
            "known_hosts",
            json!({"name": "example.org,acme.com", "key": RSA, "path": path}),
        )
        .await;
    assert!(out.failed);
    assert!(out
        .msg
        .unwrap()
        .starts_with("Comma separated list of names"));
    let out = env
        .run(
            "known_hosts",
            json!({"name": "example.com", "key": RSA, "path": path}),
        )
        .await;
    assert_eq!(
        out.msg.as_deref(),
        Some("Host parameter does not match hashed host field in supplied key")
    );
    let out = env
        .run("known_hosts", json!({"name": "example.org", "path": path}))
        .await;
    assert_eq!(
        out.msg.as_deref(),
        Some("No key specified when adding a host")
    );
}

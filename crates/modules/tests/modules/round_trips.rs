//! An idempotent task costs one primitive call (one round trip on a remote host).

use serde_json::json;

use crate::support::Env;

#[tokio::test]
async fn unchanged_tasks_cost_one_primitive() {
    let mut env = Env::new().await;
    env.controller_file("files/a.conf", "a\n");
    env.controller_file("templates/t.j2", "t={{ 1 + 1 }}\n");
    std::fs::create_dir_all(env.path("etc")).unwrap();
    let cases = [
        (
            "copy",
            json!({"content": "x\n", "dest": env.path("c"), "mode": "0644"}),
        ),
        ("copy", json!({"src": "a.conf", "dest": env.path("etc")})),
        (
            "template",
            json!({"src": "t.j2", "dest": env.path("t"), "mode": "0600"}),
        ),
        (
            "file",
            json!({"path": env.path("d"), "state": "directory", "mode": "0755"}),
        ),
        (
            "file",
            json!({"path": env.path("l"), "src": env.path("c"), "state": "link"}),
        ),
        ("file", json!({"path": env.path("gone"), "state": "absent"})),
        ("lineinfile", json!({"path": env.path("c"), "line": "y"})),
        ("blockinfile", json!({"path": env.path("c"), "block": "b"})),
        (
            "replace",
            json!({"path": env.path("c"), "regexp": "^y$", "replace": "y"}),
        ),
        ("stat", json!({"path": env.path("c")})),
        (
            "fetch",
            json!({"src": env.path("c"), "dest": env.path("fetched/")}),
        ),
        (
            "known_hosts",
            json!({
                "name": "h.example",
                "key": "h.example ssh-ed25519 AAAAkey",
                "path": env.path("kh"),
            }),
        ),
    ];
    for (module, args) in cases {
        // The first run converges; the second must be a single primitive.
        env.primitives(module, args.clone()).await;
        let calls = env.primitives(module, args.clone()).await;
        assert_eq!(calls.len(), 1, "{module} {args}: {calls:?}");
    }
}

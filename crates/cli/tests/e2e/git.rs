//! The `git` module against a repository in a temporary directory, cloned over `file://` with
//! this machine's git: clone, no-op, update, tags, branches, local modifications, check mode.

use std::path::Path;
use std::process::Command;

use crate::support::{run, write_tree, LOCAL_INVENTORY};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=drover",
            "-c",
            "user.email=drover@example.invalid",
        ])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn commit(repo: &Path, file: &str, content: &str) -> String {
    std::fs::write(repo.join(file), content).expect("write");
    git(repo, &["add", file]);
    git(repo, &["commit", "-q", "-m", content]);
    git(repo, &["rev-parse", "HEAD"])
}

fn play(dir: &Path, body: &str, extra: &[&str]) -> crate::support::Run {
    write_tree(
        dir,
        &[("inventory.ini", LOCAL_INVENTORY), ("site.yml", body)],
    );
    let mut args = vec!["playbook", "-i", "inventory.ini", "site.yml"];
    args.extend_from_slice(extra);
    run(&args, dir)
}

#[test]
fn git_clones_updates_and_checks_out_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q"]);
    let first = commit(&repo, "app.txt", "one");
    git(&repo, &["tag", "-a", "v1", "-m", "v1"]);
    let url = format!("file://{}", repo.display());
    let dest = tmp.path().join("checkout");
    let vars = format!("url={url} dest={}", dest.display());
    let checkout = r#"
- hosts: local
  gather_facts: false
  tasks:
    - git: repo={{ url }} dest={{ dest }} version={{ version | default('HEAD') }} force={{ force | default(false) }}
      register: g
    - debug: msg="changed={{ g.changed }} before={{ g.before }} after={{ g.after }}"
"#;
    let run_with = |extra: &[&str]| {
        let mut args = vec!["-e", vars.as_str()];
        args.extend_from_slice(extra);
        play(tmp.path(), checkout, &args)
    };

    let r = run_with(&[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains(&format!("changed=True before= after={first}")),
        "{}",
        r.all()
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("app.txt")).expect("cloned"),
        "one"
    );

    let r = run_with(&[]);
    assert!(
        r.stdout
            .contains(&format!("changed=False before={first} after={first}")),
        "{}",
        r.all()
    );

    let second = commit(&repo, "app.txt", "two");
    let r = run_with(&["--check"]);
    assert!(
        r.stdout
            .contains(&format!("changed=True before={first} after={second}")),
        "{}",
        r.all()
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("app.txt")).expect("file"),
        "one"
    );
    let r = run_with(&[]);
    assert!(
        r.stdout
            .contains(&format!("changed=True before={first} after={second}")),
        "{}",
        r.all()
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("app.txt")).expect("file"),
        "two"
    );

    let r = run_with(&["-e", "version=v1"]);
    assert!(r.stdout.contains(&format!("after={first}")), "{}", r.all());
    assert_eq!(
        std::fs::read_to_string(dest.join("app.txt")).expect("file"),
        "one"
    );

    git(&repo, &["checkout", "-q", "-b", "feature"]);
    let feature = commit(&repo, "app.txt", "feature");
    git(&repo, &["checkout", "-q", "main"]);
    let r = run_with(&["-e", "version=feature"]);
    assert!(
        r.stdout
            .contains(&format!("changed=True before={first} after={feature}")),
        "{}",
        r.all()
    );

    std::fs::write(dest.join("app.txt"), "edited by hand").expect("edit");
    let r = run_with(&["-e", "version=feature"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("Local modifications exist in the destination"),
        "{}",
        r.all()
    );
    let r = run_with(&["-e", "version=feature", "-e", "force=true"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("changed=True"), "{}", r.all());
    assert_eq!(
        std::fs::read_to_string(dest.join("app.txt")).expect("file"),
        "feature"
    );
    let _ = second;
}

//! The `constructed` inventory plugin through the binary: groups and variables built from
//! Jinja2 expressions over each host's variables, usable in `--graph`, `--host` and plays.

use crate::support::{run, write_tree};

const STATIC: &str = r#"
all:
  hosts:
    web1: {role: web, env: prod, tags: {team: blue, tier: ""}}
    web2: {role: web, env: dev, tags: {team: red, tier: front}}
    db1: {role: db, env: prod}
"#;

const CONSTRUCTED: &str = r#"
plugin: ansible.builtin.constructed
compose:
  fqdn: inventory_hostname ~ '.example.com'
  is_prod: env == 'prod'
groups:
  production: env == 'prod'
  webs_in_prod: role == 'web' and is_prod
keyed_groups:
  - key: role
    prefix: role
  - key: tags
    prefix: tag
    default_value: none
    parent_group: tagged
"#;

const PLAY: &str = r#"
- hosts: webs_in_prod
  gather_facts: false
  connection: local
  tasks:
    - debug: msg="{{ inventory_hostname }} {{ fqdn }} {{ group_names | join(',') }}"
"#;

#[test]
fn constructed_groups_and_variables() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            ("static.yml", STATIC),
            ("constructed.yml", CONSTRUCTED),
            ("site.yml", PLAY),
            (
                "strict.yml",
                "plugin: constructed\nstrict: true\ncompose:\n  x: nosuchvar.attr\n",
            ),
            (
                "other.yml",
                "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n",
            ),
        ],
    );
    let inv = ["-i", "static.yml", "-i", "constructed.yml"];
    let graph = run(
        &[&["inventory"][..], &inv, &["--graph"]].concat(),
        dir.path(),
    );
    assert_eq!(graph.code, 0, "{}", graph.all());
    for line in [
        "@production:",
        "@webs_in_prod:",
        "@role_web:",
        "@role_db:",
        "@tagged:",
        "|--@tag_team_blue:",
        "|--@tag_tier_none:",
        "|--@tag_tier_front:",
    ] {
        assert!(graph.stdout.contains(line), "{line}\n{}", graph.all());
    }
    let host = run(
        &[&["inventory"][..], &inv, &["--host", "web1"]].concat(),
        dir.path(),
    );
    assert!(
        host.stdout.contains(r#""fqdn": "web1.example.com""#),
        "{}",
        host.all()
    );
    assert!(host.stdout.contains(r#""is_prod": true"#), "{}", host.all());

    let play = run(
        &[&["playbook"][..], &inv, &["site.yml"]].concat(),
        dir.path(),
    );
    assert_eq!(play.code, 0, "{}", play.all());
    assert!(
        play.stdout.contains("web1 web1.example.com"),
        "{}",
        play.all()
    );
    assert!(!play.stdout.contains("web2"), "{}", play.all());

    // strict: an expression that fails stops the load, naming the file and position.
    let strict = run(
        &[
            "inventory",
            "-i",
            "static.yml",
            "-i",
            "strict.yml",
            "--list",
        ],
        dir.path(),
    );
    assert_ne!(strict.code, 0, "{}", strict.all());
    assert!(strict.stderr.contains("strict.yml:4:"), "{}", strict.all());
    assert!(
        strict.stderr.contains("Could not set x for host"),
        "{}",
        strict.all()
    );

    // Other inventory plugins are refused by name.
    let other = run(&["inventory", "-i", "other.yml", "--list"], dir.path());
    assert_ne!(other.code, 0, "{}", other.all());
    assert!(
        other
            .stderr
            .contains("inventory plugin \"amazon.aws.aws_ec2\" is not supported"),
        "{}",
        other.all()
    );
}

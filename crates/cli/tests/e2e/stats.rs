//! `set_stats` and the `CUSTOM STATS` block.

use crate::support::{run, write_tree, LOCAL_INVENTORY};

const STATS_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  tasks:
    - set_stats:
        data:
          my_int: 10
          names: [a]
      register: first
    - set_stats:
        data:
          my_int: 15
          names: [b]
    - set_stats:
        data:
          mine: "{{ 'x' ~ 1 }}"
        per_host: yes
    - set_stats:
        data: [1, 2]
      register: bad
      ignore_errors: true
    - assert:
        that:
          - first is not changed
          - first.ansible_stats.data.my_int == 10
          - first.ansible_stats.aggregate
          - not first.ansible_stats.per_host
          - bad.msg == "The 'data' option needs to be a dictionary/hash"
"#;

#[test]
fn set_stats_aggregates_and_shows_custom_stats() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            ("inventory.ini", LOCAL_INVENTORY),
            ("site.yml", STATS_PLAY),
            ("ansible.cfg", "[defaults]\nshow_custom_stats = yes\n"),
        ],
    );
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
    let after_recap = r
        .stdout
        .split("PLAY RECAP")
        .nth(1)
        .expect("recap")
        .to_string();
    assert!(after_recap.contains("CUSTOM STATS:"), "{}", r.all());
    assert!(
        after_recap.contains("\tlocalhost: { \"mine\": \"x1\"}"),
        "{}",
        r.all()
    );
    assert!(
        after_recap.contains("\tRUN: { \"my_int\": 25, \"names\": [  \"a\",  \"b\" ]}"),
        "{}",
        r.all()
    );

    // Without the setting, nothing is shown.
    std::fs::remove_file(dir.path().join("ansible.cfg")).expect("rm");
    let quiet = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(quiet.code, 0, "{}", quiet.all());
    assert!(!quiet.stdout.contains("CUSTOM STATS"), "{}", quiet.all());
}

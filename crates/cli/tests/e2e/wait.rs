//! `wait_for_connection` against a reachable and an unreachable host.

use crate::support::{run, write_tree};

const INVENTORY: &str = "[local]\nlocalhost ansible_connection=local\n\
[down]\nnowhere ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n";

const WAIT_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  tasks:
    - wait_for_connection:
        delay: 1
        timeout: 5
      register: up
    - assert:
        that:
          - up is not changed
          - up.elapsed >= 1
    - wait_for_connection:
        foo: bar
      register: bad
      ignore_errors: true
    - assert:
        that: "bad.msg == 'Invalid options for wait_for_connection: foo'"
- hosts: down
  gather_facts: false
  tasks:
    - wait_for_connection:
        timeout: 2
        sleep: 1
      register: down
      ignore_errors: true
    - assert:
        that:
          - down is failed
          - down.msg.startswith('timed out waiting for ping module test')
    - ping:
      register: pinged
      ignore_unreachable: true
    - assert:
        that:
          - pinged is unreachable
          - not (pinged is reachable)
          - down is reachable
    - name: delegated, the delegate's connection is the one waited for
      wait_for_connection:
        timeout: 5
      delegate_to: localhost
      register: via_local
    - assert:
        that: via_local is succeeded
"#;

#[test]
fn wait_for_connection_waits_and_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[("inventory.ini", INVENTORY), ("site.yml", WAIT_PLAY)],
    );
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
    // The failed wait and the unreachable ping, both ignored.
    assert_eq!(r.count("nowhere", "ignored"), 2, "{}", r.all());
    assert_eq!(r.count("nowhere", "unreachable"), 0, "{}", r.all());
}

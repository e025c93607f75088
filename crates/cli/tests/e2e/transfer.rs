//! `script`, `fetch` and `known_hosts` in real playbooks, against `localhost` with the local
//! connection, inside temporary directories.

use std::path::Path;

use crate::support::{run, write_tree, LOCAL_INVENTORY};

fn setup(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &[("inventory.ini", LOCAL_INVENTORY)]);
    write_tree(dir.path(), files);
    dir
}

fn play(dir: &Path) -> crate::support::Run {
    let root = format!("root={}", dir.join("out").display());
    run(
        &["playbook", "-i", "inventory.ini", "site.yml", "-e", &root],
        dir,
    )
}

// `HOME` points into the test directory so the scripts' staging directories stay there.
const SCRIPT_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  environment:
    HOME: "{{ root }}/home"
  roles:
    - scripted
  tasks:
    - file: path={{ root }}/home state=directory
    - name: script with arguments from the playbook's files/
      script: args.sh one 'two words' "{{ root }}"
      register: args
    - assert:
        that:
          - args is changed
          - args.rc == 0
          - args.stdout_lines == ['one', 'two words', root]
          - args.stderr == ''
    - name: creates guards the second run
      script: create.sh {{ root }}/made.txt
      args:
        creates: "{{ root }}/made.txt"
      register: made
    - name: removes skips when the file is missing
      script: create.sh {{ root }}/never.txt
      args:
        removes: "{{ root }}/missing"
      register: never
    - assert:
        that:
          - never is skipped
          - never.msg == root ~ '/missing does not exist, matching removes option'
    - name: a failing script is a failed task
      script: fail.sh
      register: failing
      ignore_errors: true
    - assert:
        that:
          - failing is failed
          - failing.rc == 4
          - failing.msg == 'non-zero return code'
    - name: the staging directories are gone
      find:
        paths: "{{ root }}/home/.ansible/tmp"
        file_type: any
      register: staged
    - assert:
        that: staged.matched == 0
"#;

#[test]
fn script_runs_role_and_playbook_files_with_arguments_and_creates() {
    let dir = setup(&[
        ("site.yml", SCRIPT_PLAY),
        (
            "files/args.sh",
            "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n",
        ),
        (
            "files/create.sh",
            "#!/bin/sh\necho created > \"$1\"\necho \"$1\" >> \"$(dirname \"$1\")/runs\"\n",
        ),
        ("files/fail.sh", "#!/bin/sh\nexit 4\n"),
        (
            "roles/scripted/tasks/main.yml",
            "- script: role.sh\n  register: from_role\n- assert:\n    that: from_role.stdout == 'from the role'\n",
        ),
        ("roles/scripted/files/role.sh", "#!/bin/sh\nprintf 'from the role'\n"),
    ]);
    let first = play(dir.path());
    assert_eq!(first.code, 0, "{}", first.all());
    let out = dir.path().join("out");
    assert_eq!(
        std::fs::read_to_string(out.join("made.txt")).expect("made"),
        "created\n"
    );
    let second = play(dir.path());
    assert_eq!(second.code, 0, "{}", second.all());
    // create.sh ran once: the second run was skipped by `creates`.
    let runs = std::fs::read_to_string(out.join("runs")).expect("runs");
    assert_eq!(runs.lines().count(), 1, "{runs}");
    assert_eq!(second.count("localhost", "ignored"), 1, "{}", second.all());
}

const FETCH_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  tasks:
    - file: path={{ root }}/remote state=directory
    - copy:
        dest: "{{ root }}/remote/app.conf"
        content: "port = 8080\n"
    - name: per host
      fetch:
        src: "{{ root }}/remote/app.conf"
        dest: fetched
      register: per_host
    - name: flat
      fetch:
        src: "{{ root }}/remote/app.conf"
        dest: flat/
        flat: true
      register: flat
    - name: missing files may be ignored
      fetch:
        src: "{{ root }}/remote/nope"
        dest: fetched
        fail_on_missing: false
      register: missing
    - assert:
        that:
          - missing is not failed
          - missing is not changed
          - per_host is not changed or per_host.checksum == per_host.remote_checksum
          - flat.dest.endswith('/flat/app.conf')
"#;

#[test]
fn fetch_flat_and_per_host_then_unchanged() {
    let dir = setup(&[("site.yml", FETCH_PLAY)]);
    let first = play(dir.path());
    assert_eq!(first.code, 0, "{}", first.all());
    let root = dir.path().join("out");
    let per_host = dir
        .path()
        .join("fetched/localhost")
        .join(root.strip_prefix("/").expect("absolute"))
        .join("remote/app.conf");
    assert_eq!(
        std::fs::read_to_string(&per_host).expect("per-host copy"),
        "port = 8080\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flat/app.conf")).expect("flat copy"),
        "port = 8080\n"
    );
    assert_eq!(first.count("localhost", "changed"), 4, "{}", first.all());
    let second = play(dir.path());
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(second.count("localhost", "changed"), 0, "{}", second.all());
}

const KNOWN_HOSTS_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  vars:
    kh: "{{ root }}/known_hosts"
    key: "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIzlnSq5ESxLgW0avvPk3j7zLV59hcAPkxrMNdnZMKP2"
  tasks:
    - file: path={{ root }} state=directory
    - copy:
        dest: "{{ kh }}"
        content: "example.com ssh-rsa AAAAexisting\n"
        force: false
    - name: add hashed
      known_hosts: name=example.org key="{{ key }}" path={{ kh }} hash_host=yes
      register: added
    - name: add hashed again
      known_hosts: name=example.org key="{{ key }}" path={{ kh }} hash_host=yes
      register: again
    - command: cat {{ kh }}
      register: content
      changed_when: false
    - assert:
        that:
          - added is changed
          - again is not changed
          - content.stdout_lines | length == 2
          - content.stdout_lines[0] == 'example.com ssh-rsa AAAAexisting'
          - content.stdout_lines[1].startswith('|1|')
          - content.stdout_lines[1].endswith(key.split()[-1])
    - name: remove
      known_hosts: name=example.org key="{{ key }}" path={{ kh }} state=absent
      register: removed
    - name: remove again
      known_hosts: name=example.org key="{{ key }}" path={{ kh }} state=absent
      register: removed_again
    - command: cat {{ kh }}
      register: after
      changed_when: false
    - assert:
        that:
          - removed is changed
          - removed_again is not changed
          - after.stdout == 'example.com ssh-rsa AAAAexisting'
"#;

#[test]
fn known_hosts_adds_hashed_idempotently_and_removes() {
    let dir = setup(&[("site.yml", KNOWN_HOSTS_PLAY)]);
    let first = play(dir.path());
    assert_eq!(first.code, 0, "{}", first.all());
    // The whole play again from the same start: the same changes, nothing else.
    std::fs::remove_file(dir.path().join("out/known_hosts")).expect("rm");
    let second = play(dir.path());
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/known_hosts")).expect("known_hosts"),
        "example.com ssh-rsa AAAAexisting\n"
    );
}

//! `unarchive` against this machine, inside a temporary directory: tar (gzip, xz) and zip
//! archives from the controller and from the host, unpacked once and then left alone while
//! the directory matches them.

use std::process::Command;

use crate::support::{run, write_tree, LOCAL_INVENTORY};

fn sh(cwd: &std::path::Path, script: &str) {
    let st = Command::new("sh")
        .args(["-c", script])
        .current_dir(cwd)
        .status()
        .expect("sh");
    assert!(st.success(), "{script}");
}

const PLAY: &str = r#"
- hosts: local
  gather_facts: false
  tasks:
    - file: path={{ root }}/{{ item }} state=directory
      loop: [tgz, txz, zip, remote]
    - unarchive: src=app.tar.gz dest={{ root }}/tgz list_files=true
      register: first
    - unarchive: src=app.tar.gz dest={{ root }}/tgz
      register: again
    - copy: content="changed by hand\n" dest={{ root }}/tgz/app/a.txt
    - unarchive: src=app.tar.gz dest={{ root }}/tgz
      check_mode: true
      register: would
    - command: cat {{ root }}/tgz/app/a.txt
      register: still_hand
    - unarchive: src=app.tar.gz dest={{ root }}/tgz
      register: repaired
    - unarchive: src=app.tar.xz dest={{ root }}/txz mode=0600
      register: xz
    - unarchive: src=app.tar.xz dest={{ root }}/txz mode=0600
      register: xz_again
    - stat: path={{ root }}/txz/app/b/c.txt
      register: c
    - unarchive: src=app.zip dest={{ root }}/zip
      register: zip1
    - unarchive: src=app.zip dest={{ root }}/zip
      register: zip2
    - unarchive: src={{ root }}/../files/app.tar.gz dest={{ root }}/remote remote_src=true
      register: remote
    - unarchive: src=app.tar.gz dest={{ root }}/nowhere
      register: nodir
      ignore_errors: true
    - unarchive: src=not-an-archive.txt dest={{ root }}/tgz
      register: junk
      ignore_errors: true
    - unarchive: src=app.tar.gz dest={{ root }}/tgz creates={{ root }}/tgz/app
      register: created
    - unarchive: src=app.zip dest={{ root }}/zip
      environment:
        PATH: /nonexistent
      register: nobin
      ignore_errors: true
    - assert:
        that:
          - first is changed
          - first.handler == 'TgzArchive'
          - "'app/a.txt' in first.files"
          - again is not changed
          - would is changed
          - still_hand.stdout == 'changed by hand'
          - repaired is changed
          - lookup('file', root ~ '/tgz/app/a.txt') == 'alpha'
          - xz is changed
          - xz_again is not changed
          - c.stat.mode == '0600'
          - zip1 is changed
          - zip1.handler == 'ZipArchive'
          - zip2 is not changed
          - lookup('file', root ~ '/zip/app/b/c.txt') == 'gamma'
          - remote is changed
          - nodir is failed
          - "nodir.msg == \"dest '\" ~ root ~ \"/nowhere' must be an existing dir\""
          - junk is failed
          - junk.msg is search('Failed to find handler')
          - created is not changed
          - nobin is failed
          - "nobin.msg is search(\"Unable to find required 'unzip' or 'zipinfo' binary in the path.\")"
          - "nobin.msg is search(\"Unable to find required 'gtar' or 'tar' binary in the path\")"
"#;

#[test]
fn unarchive_tar_and_zip_idempotently() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            ("inventory.ini", LOCAL_INVENTORY),
            ("site.yml", PLAY),
            ("src/app/a.txt", "alpha\n"),
            ("src/app/b/c.txt", "gamma\n"),
            ("files/not-an-archive.txt", "just text\n"),
        ],
    );
    sh(
        dir.path(),
        "cd src && tar czf ../files/app.tar.gz app && tar cJf ../files/app.tar.xz app && zip -qr ../files/app.zip app",
    );
    let root = dir.path().join("out");
    std::fs::create_dir_all(&root).expect("mkdir");
    let r = run(
        &[
            "playbook",
            "-i",
            "inventory.ini",
            "site.yml",
            "-e",
            &format!("root={}", root.display()),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // Nothing staged is left in the destinations.
    for sub in ["tgz", "txz", "zip", "remote"] {
        let left: Vec<_> = std::fs::read_dir(root.join(sub))
            .expect("readdir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".drover"))
            .collect();
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
}

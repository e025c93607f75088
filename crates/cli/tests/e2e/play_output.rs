//! What ansible-playbook prints around plays and tasks, beyond results: `--list-tasks` tags,
//! the `-vv` playbook banner, `META:` lines and the error header of failed tasks.

use crate::support::{run, write_tree, LOCAL_INVENTORY};

fn setup(site: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[("inventory.ini", LOCAL_INVENTORY), ("site.yml", site)],
    );
    dir
}

#[test]
fn list_tasks_shows_templated_tags_sorted() {
    let dir = setup(
        r#"
- hosts: local
  gather_facts: false
  vars:
    the_tags: [zeta, alpha]
  tasks:
    - name: Templated
      debug: msg=x
      tags: "{{ the_tags }}"
    - name: Never
      debug: msg=x
      tags: [never, donever]
"#,
    );
    let r = run(
        &[
            "playbook",
            "-i",
            "inventory.ini",
            "site.yml",
            "--list-tasks",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Templated\tTAGS: [alpha, zeta]"),
        "{}",
        r.all()
    );
    assert!(!r.stdout.contains("Never"), "{}", r.all());
    let r = run(
        &[
            "playbook",
            "-i",
            "inventory.ini",
            "site.yml",
            "--list-tasks",
            "--tags",
            "donever",
        ],
        dir.path(),
    );
    assert!(
        r.stdout.contains("Never\tTAGS: [donever, never]"),
        "{}",
        r.all()
    );
}

#[test]
fn verbose_run_names_playbook_meta_actions_and_failures() {
    let dir = setup(
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - meta: end_host
      when: false
    - name: Boom
      fail:
        msg: it broke
"#,
    );
    let r = run(
        &["playbook", "-i", "inventory.ini", "site.yml", "-vv"],
        dir.path(),
    );
    assert_eq!(r.code, 2, "{}", r.all());
    let out = &r.stdout;
    assert!(out.contains("\nPLAYBOOK: site.yml ***"), "{out}");
    assert!(out.contains("\n1 plays in site.yml\n"), "{out}");
    assert!(
        out.contains(
            "META: end_host conditional evaluated to False, continuing execution for localhost\n"
        ),
        "{out}"
    );
    let site = dir.path().join("site.yml").canonicalize().expect("path");
    let header = format!(
        "[ERROR]: Task failed: Action failed: it broke\nOrigin: {}:7:7\n\n5     - meta: end_host\n6       when: false\n7     - name: Boom\n        ^ column 7\n\nfatal: [localhost]: FAILED! => ",
        site.display()
    );
    assert!(out.contains(&header), "{out}");
    assert!(out.contains("task path: "), "{out}");
}

#[test]
fn group_by_and_add_host_groups_bring_their_group_vars() {
    let dir = setup(
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - group_by:
        key: "made_{{ 'here' }}"
        parents: [parent_group]
    - add_host:
        name: extra_host
        groups: [made_here]
        ansible_connection: local
- hosts: made_here
  gather_facts: false
  tasks:
    - assert:
        that:
          - from_group == 'made_here'
    - assert:
        that:
          - from_parent == 'parent'
          - "'parent_group' in group_names"
      when: inventory_hostname == 'localhost'
"#,
    );
    write_tree(
        dir.path(),
        &[
            ("group_vars/made_here.yml", "from_group: made_here\n"),
            ("group_vars/parent_group.yml", "from_parent: parent\n"),
        ],
    );
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.count("localhost", "failed"), 0, "{}", r.all());
    assert_eq!(r.count("extra_host", "failed"), 0, "{}", r.all());
}

#[test]
fn refresh_inventory_reads_the_sources_again_and_keeps_added_hosts() {
    let dir = setup(
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - add_host:
        name: added
        ansible_connection: local
    - copy:
        dest: "{{ playbook_dir }}/inventory.ini"
        content: "[local]\nlocalhost ansible_connection=local\nfresh ansible_connection=local\n"
    - meta: refresh_inventory
- hosts: all
  gather_facts: false
  tasks:
    - assert:
        that:
          - "'fresh' in ansible_play_hosts"
          - "'added' in ansible_play_hosts"
      run_once: true
"#,
    );
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.count("localhost", "failed"), 0, "{}", r.all());
}

/// An include that cannot be loaded fails with Ansible's `reason` (no `msg`), explained on
/// stderr with its origin: the include task, or the role name for include_role.
#[test]
fn failed_includes_report_a_reason_on_stdout_and_the_error_on_stderr() {
    let dir = setup(
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - include_tasks: nope.yml\n      ignore_errors: true\n    - include_role:\n        name: no-such-role\n",
    );
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 2, "{}", r.all());
    let root = dir.path().canonicalize().expect("canonical");
    let root = root.display();
    assert!(
        r.stdout.contains(&format!(
            r#"{{"changed": false, "include": "nope.yml", "reason": "Could not find or access '{root}/nope.yml' on the Ansible Controller."}}"#
        )),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains(&format!(
            "\"reason\": \"the role 'no-such-role' was not found in {root}/roles:"
        )),
        "{}",
        r.all()
    );
    assert!(!r.stdout.contains("[ERROR]"), "{}", r.all());
    assert!(
        r.stderr
            .contains("[ERROR]: the role 'no-such-role' was not found in"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("site.yml:7:15\n"), "{}", r.all());
}

fn play_with(dir: &tempfile::TempDir, env: &[(&str, &str)], extra: &[&str]) -> crate::support::Run {
    let mut cmd = std::process::Command::new(crate::support::drover());
    cmd.args(["playbook", "-i", "inventory.ini", "site.yml"])
        .args(extra)
        .current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run drover");
    crate::support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The default callback's settings: hidden skipped and ok results take their task banners
/// with them; failures can go to stderr; check-mode markers; YAML results.
#[test]
fn callback_display_settings() {
    let dir = setup(
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - name: Skipped\n      debug: msg=never\n      when: false\n    - name: Quiet\n      command: echo quiet\n      changed_when: false\n    - name: Loud\n      command: printf 'a\\nb'\n    - name: Broken\n      fail: msg=boom\n      ignore_errors: true\n",
    );
    let hidden = play_with(
        &dir,
        &[
            ("ANSIBLE_DISPLAY_SKIPPED_HOSTS", "false"),
            ("ANSIBLE_DISPLAY_OK_HOSTS", "no"),
            ("ANSIBLE_DISPLAY_FAILED_STDERR", "yes"),
        ],
        &[],
    );
    assert_eq!(hidden.code, 0, "{}", hidden.all());
    assert!(
        !hidden.stdout.contains("TASK [Skipped]"),
        "{}",
        hidden.all()
    );
    assert!(!hidden.stdout.contains("TASK [Quiet]"), "{}", hidden.all());
    assert!(hidden.stdout.contains("TASK [Loud]"), "{}", hidden.all());
    assert!(hidden.stdout.contains("TASK [Broken]"), "{}", hidden.all());
    assert!(!hidden.stdout.contains("fatal:"), "{}", hidden.all());
    assert!(
        hidden
            .stderr
            .contains("fatal: [localhost]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}"),
        "{}",
        hidden.all()
    );
    assert!(hidden.stdout.contains("...ignoring"), "{}", hidden.all());

    let check = play_with(&dir, &[("ANSIBLE_CHECK_MODE_MARKERS", "1")], &["--check"]);
    assert!(check.stdout.contains("DRY RUN"), "{}", check.all());
    assert!(
        check.stdout.contains("PLAY [local] [CHECK MODE]"),
        "{}",
        check.all()
    );
    assert!(
        check.stdout.contains("TASK [Loud] [CHECK MODE]"),
        "{}",
        check.all()
    );

    let yaml = play_with(&dir, &[("ANSIBLE_CALLBACK_RESULT_FORMAT", "yaml")], &["-v"]);
    assert!(
        yaml.stdout
            .starts_with("No config file found; using defaults\n")
            || yaml.stdout.starts_with("Using "),
        "{}",
        yaml.all()
    );
    assert!(
        yaml.stdout
            .contains("changed: [localhost] => \n    changed: true\n"),
        "{}",
        yaml.all()
    );
    assert!(
        yaml.stdout
            .contains("    stdout: |-\n        a\n        b\n    stdout_lines: <omitted>\n"),
        "{}",
        yaml.all()
    );
}

//! Playbooks run against `localhost` with the local connection, inside temporary directories.

use std::path::Path;

use crate::support::{run, workspace, write_tree, LOCAL_INVENTORY};

fn setup(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &[("inventory.ini", LOCAL_INVENTORY)]);
    write_tree(dir.path(), files);
    dir
}

fn play(dir: &Path, extra: &[&str]) -> crate::support::Run {
    let root = format!("root={}", dir.join("out").display());
    let mut args = vec!["playbook", "-i", "inventory.ini", "site.yml", "-e", &root];
    args.extend_from_slice(extra);
    run(&args, dir)
}

#[test]
fn bundled_example_converges_then_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let examples = workspace().join("examples");
    let root = format!("example_root={}", dir.path().join("app").display());
    let inv = examples.join("inventory.ini");
    let site = examples.join("site.yml");
    let args = [
        "playbook",
        "-i",
        inv.to_str().expect("utf8"),
        site.to_str().expect("utf8"),
        "-e",
        &root,
    ];
    let first = run(&args, dir.path());
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(first.count("localhost", "changed") > 0, "{}", first.all());
    assert!(dir.path().join("app/hello/conf/app.conf").is_file());
    assert!(
        dir.path().join("app/hello/logs/reloaded").is_file(),
        "handler ran"
    );
    let conf = std::fs::read_to_string(dir.path().join("app/hello/conf/app.conf")).expect("conf");
    assert!(conf.contains("user.alice = admin"), "{conf}");
    let second = run(&args, dir.path());
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(second.count("localhost", "changed"), 0, "{}", second.all());
    assert!(
        !second.stdout.contains("RUNNING HANDLER"),
        "{}",
        second.all()
    );
}

const FILES_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  tasks:
    - name: make dir
      file: path={{ root }} state=directory mode=0755
    - name: write a file
      copy:
        dest: "{{ root }}/hello.txt"
        content: "hello\n"
    - name: add a line
      lineinfile:
        path: "{{ root }}/lines.txt"
        line: "world"
        create: true
"#;

#[test]
fn check_mode_changes_nothing_and_diff_shows_changes() {
    let dir = setup(&[("site.yml", FILES_PLAY)]);
    let r = play(dir.path(), &["--check", "--diff"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        !dir.path().join("out").exists(),
        "check mode created files\n{}",
        r.all()
    );
    assert!(r.count("localhost", "changed") >= 2, "{}", r.all());
    assert!(
        r.stdout.contains("+hello"),
        "diff shows new content\n{}",
        r.all()
    );

    let real = play(dir.path(), &[]);
    assert_eq!(real.code, 0, "{}", real.all());
    let text = std::fs::read_to_string(dir.path().join("out/hello.txt")).expect("file");
    assert_eq!(text, "hello\n");
    let lines = std::fs::read_to_string(dir.path().join("out/lines.txt")).expect("file");
    assert_eq!(lines, "world\n");
    let again = play(dir.path(), &["--check"]);
    assert_eq!(again.count("localhost", "changed"), 0, "{}", again.all());
}

#[test]
fn handlers_run_once_in_definition_order_at_end_of_play() {
    let dir = setup(&[(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - command: "true"
      notify: [second, first]
    - command: "true"
      notify: second
    - debug: msg=last-task
  handlers:
    - name: first
      debug: msg=first-handler
    - name: second
      debug: msg=second-handler
    - name: never
      debug: msg=never-handler
"#,
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let pos = |s: &str| {
        r.stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing\n{}", r.all()))
    };
    assert!(pos("last-task") < pos("first-handler"));
    assert!(pos("first-handler") < pos("second-handler"));
    assert_eq!(r.stdout.matches("second-handler").count(), 1);
    assert!(!r.stdout.contains("never-handler"));
}

#[test]
fn loops_register_results_per_item() {
    let dir = setup(&[(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - command: "echo {{ item }}"
      loop: [a, b, c]
      register: echoed
    - assert:
        that:
          - echoed.results | length == 3
          - echoed.results[1].stdout == 'b'
          - echoed.results[2].item == 'c'
          - echoed is changed
    - debug:
        msg: "{{ echoed.results | map(attribute='stdout') | join(',') }}"
"#,
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("changed: [localhost] => (item=b)"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("\"msg\": \"a,b,c\""), "{}", r.all());
}

#[test]
fn undefined_variable_names_variable_and_location() {
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - name: uses an undefined variable\n      debug:\n        msg: \"{{ not_defined_anywhere }}\"\n",
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stdout.contains("not_defined_anywhere"), "{}", r.all());
    assert!(
        r.stdout.contains("site.yml:4:"),
        "task location shown\n{}",
        r.all()
    );
}

#[test]
fn bad_input_is_rejected_before_anything_runs() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "yaml syntax",
            "- hosts: local\n  tasks:\n    - debug: msg=\"a\n   - x: [\n",
            "site.yml:",
        ),
        (
            "unknown module",
            "- hosts: local\n  tasks:\n    - file: path={{ root }} state=directory\n    - no_such_module: x=1\n",
            "couldn't resolve module/action 'no_such_module'",
        ),
        (
            "unknown keyword",
            "- hosts: local\n  tasks:\n    - file: path={{ root }} state=directory\n  bogus_keyword: 1\n",
            "'bogus_keyword' is not a valid attribute for a Play",
        ),
        (
            "unknown argument",
            "- hosts: local\n  tasks:\n    - file: path={{ root }} state=directory\n    - copy: dest=/x content=y nonsense=1\n",
            "nonsense",
        ),
        (
            "missing required argument",
            "- hosts: local\n  tasks:\n    - file: path={{ root }} state=directory\n    - file: state=directory\n",
            "missing required arguments: path",
        ),
        (
            "loop and with_items",
            "- hosts: local\n  tasks:\n    - file: path={{ root }} state=directory\n    - debug: msg=x\n      loop: [1]\n      with_items: [2]\n",
            "only one of loop or with_*",
        ),
        (
            "missing role",
            "- hosts: local\n  roles: [does_not_exist]\n  tasks:\n    - file: path={{ root }} state=directory\n",
            "the role 'does_not_exist' was not found",
        ),
    ];
    for (what, playbook, expected) in cases {
        let dir = setup(&[("site.yml", playbook)]);
        let r = play(dir.path(), &[]);
        assert_ne!(r.code, 0, "{what}: {}", r.all());
        assert!(
            r.stderr.contains(expected),
            "{what}: expected {expected:?} in\n{}",
            r.all()
        );
        assert!(
            !dir.path().join("out").exists(),
            "{what}: a host was touched"
        );
        let syntax = run(
            &[
                "playbook",
                "-i",
                "inventory.ini",
                "site.yml",
                "--syntax-check",
            ],
            dir.path(),
        );
        assert_ne!(syntax.code, 0, "{what}: --syntax-check accepted it");
    }
    // Errors point at file:line:col with a snippet.
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  tasks:\n    - debug: msg=ok\n      whenn: true\n",
    )]);
    let r = play(dir.path(), &[]);
    assert!(r.stderr.contains("site.yml:4:7"), "{}", r.all());
    assert!(r.stderr.contains("^"), "snippet with caret\n{}", r.all());
}

#[test]
fn argument_errors_of_a_handled_task_fail_it_at_run_time() {
    // With ignore_errors (or failed_when, or a rescue around it) the author expects the
    // failure: it happens when the task runs, as in Ansible, and the play goes on.
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  tasks:\n    - file: state=directory\n      ignore_errors: true\n      register: r\n    - block:\n        - copy: dest={{ root }}/x\n      rescue:\n        - file: path={{ root }} state=directory\n    - debug: msg=\"{{ r.msg }}\"\n",
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("missing required arguments: path"),
        "{}",
        r.all()
    );
    assert!(
        dir.path().join("out").is_dir(),
        "the rescue ran\n{}",
        r.all()
    );
}

#[test]
fn vaulted_sources_are_decrypted_on_the_controller() {
    let fixtures = workspace().join("crates/vault/tests/fixtures");
    let vaulted = std::fs::read_to_string(fixtures.join("file_1_1.yml")).expect("fixture");
    let dir = setup(&[
        ("files/secrets.yml", &vaulted),
        ("files/tree/inner.yml", &vaulted),
        ("pass.txt", "test-password\n"),
        (
            "site.yml",
            "- hosts: local\n  gather_facts: false\n  tasks:\n    - file: path={{ root }} state=directory\n    - copy: src=secrets.yml dest={{ root }}/plain.yml\n    - copy: src=secrets.yml dest={{ root }}/still.yml decrypt=false\n    - copy: src=tree dest={{ root }}/\n",
        ),
    ]);
    let r = play(dir.path(), &["--vault-password-file", "pass.txt"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let out = dir.path().join("out");
    let plain = std::fs::read_to_string(out.join("plain.yml")).expect("plain");
    assert!(plain.contains("hunter2"), "{plain}");
    let still = std::fs::read_to_string(out.join("still.yml")).expect("still");
    assert!(still.starts_with("$ANSIBLE_VAULT;"), "{still}");
    let inner = std::fs::read_to_string(out.join("tree/inner.yml")).expect("tree");
    assert!(inner.contains("hunter2"), "{inner}");
    assert!(!r.all().contains("hunter2"), "{}", r.all());
    // Without the password the task fails naming the file, and nothing is written.
    let _ = std::fs::remove_dir_all(&out);
    let r = play(dir.path(), &[]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("secrets.yml"), "{}", r.all());
    assert!(!out.join("plain.yml").exists());
}

#[test]
fn exit_codes_follow_ansible() {
    let failing = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n    - debug: msg=not-reached\n",
    )]);
    let r = play(failing.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(!r.stdout.contains("not-reached"));
    assert_eq!(r.count("localhost", "failed"), 1);

    let ignored = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n      ignore_errors: true\n    - debug: msg=reached\n",
    )]);
    let r = play(ignored.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("...ignoring"), "{}", r.all());
    assert_eq!(r.count("localhost", "ignored"), 1);

    // A host whose SSH port is closed is unreachable (exit 4) while the other host goes on.
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            (
                "inventory.ini",
                "localhost ansible_connection=local\nghost ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n",
            ),
            (
                "site.yml",
                "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n    - debug: msg=after-ping\n",
            ),
        ],
    );
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stdout.contains("fatal: [ghost]: UNREACHABLE!"),
        "{}",
        r.all()
    );
    assert_eq!(r.count("ghost", "unreachable"), 1);
    assert_eq!(r.count("localhost", "ok"), 2, "{}", r.all());
}

#[test]
fn blocks_rescue_and_always() {
    let dir = setup(&[(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - block:
        - command: /bin/false
        - debug: msg=not-reached
      rescue:
        - debug:
            msg: "rescued {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}"
      always:
        - debug: msg=always-ran
    - debug: msg=after-block
"#,
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("rescued command rc=1"), "{}", r.all());
    assert!(r.stdout.contains("always-ran") && r.stdout.contains("after-block"));
    assert!(!r.stdout.contains("not-reached"));
    assert_eq!(r.count("localhost", "rescued"), 1);
    assert_eq!(r.count("localhost", "failed"), 0);
}

#[test]
fn json_output_is_one_event_per_line() {
    let dir = setup(&[("site.yml", FILES_PLAY)]);
    let r = play(dir.path(), &["--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert!(kinds.contains(&"task_started") && kinds.contains(&"host_result"));
    assert_eq!(kinds.last(), Some(&"run_finished"));
}

#[test]
fn adhoc_exec_and_inventory_commands() {
    let dir = setup(&[]);
    let r = run(
        &[
            "exec",
            "-i",
            "inventory.ini",
            "local",
            "-m",
            "command",
            "-a",
            "echo hello-adhoc",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("localhost | CHANGED | rc=0 >>"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("hello-adhoc"));

    write_tree(
        dir.path(),
        &[(
            "hosts.ini",
            "[web]\nweb[01:02].example.com\n[db]\ndb1 ansible_port=2222\n[prod:children]\nweb\ndb\n[web:vars]\nhttp_port=80\n",
        )],
    );
    let list = run(&["inventory", "-i", "hosts.ini", "--list"], dir.path());
    assert_eq!(list.code, 0, "{}", list.all());
    let json: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    assert_eq!(json["_meta"]["hostvars"]["db1"]["ansible_port"], 2222);
    assert_eq!(json["web"]["hosts"][1], "web02.example.com");
    let graph = run(&["inventory", "-i", "hosts.ini", "--graph"], dir.path());
    assert!(graph.stdout.starts_with("@all:"), "{}", graph.all());
    assert!(graph.stdout.contains("@prod:"));
    let host = run(
        &[
            "inventory",
            "-i",
            "hosts.ini",
            "--host",
            "web01.example.com",
        ],
        dir.path(),
    );
    let hv: serde_json::Value = serde_json::from_str(&host.stdout).expect("json");
    // Values in `:vars` sections are read as Python literals, as ansible-inventory 2.19 reads
    // them (`80` is a number), like inline host values.
    assert_eq!(hv["http_port"], 80);
}

#[test]
fn environment_reaches_commands() {
    let dir = setup(&[(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  environment:
    OUTER: play-level
  tasks:
    - shell: 'echo "$OUTER $INNER"'
      environment:
        INNER: "{{ 'task' ~ '-level' }}"
      register: out
    - assert:
        that: out.stdout == 'play-level task-level'
"#,
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn interrupt_finishes_the_running_task_and_prints_the_recap() {
    let dir = setup(&[(
        "site.yml",
        r#"
- hosts: local
  gather_facts: false
  tasks:
    - file: path={{ root }} state=directory
    - command: sleep 3
    - file: path={{ root }}/after-interrupt state=touch
"#,
    )]);
    let root = format!("root={}", dir.path().join("out").display());
    let child = std::process::Command::new(crate::support::drover())
        .args(["playbook", "-i", "inventory.ini", "site.yml", "-e", &root])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until the sleep task has started, then interrupt as a terminal's Ctrl-C would.
    let started = std::time::Instant::now();
    while !dir.path().join("out").exists() && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
    assert!(stdout.contains("TASK [command]"), "{stdout}");
    assert!(
        !dir.path().join("out/after-interrupt").exists(),
        "ran a task after Ctrl-C"
    );
}

/// Vaulted files and values made by the real ansible-vault (fixtures of `drover-vault`).
#[test]
fn vault_files_and_inline_values_decrypt_and_stay_secret() {
    let fixtures = workspace().join("crates/vault/tests/fixtures");
    let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).expect("fixture");
    let dir = setup(&[
        ("secrets.yml", &read("file_1_1.yml")),
        ("group_vars/all.yml", &read("inline_1_1.yml")),
        ("api.yml", &read("inline_1_2_prod.yml")),
        ("pass.txt", "test-password\n"),
        ("prod.txt", "prod-password\n"),
        (
            "site.yml",
            r#"
- hosts: local
  gather_facts: false
  vars_files: [secrets.yml, api.yml]
  tasks:
    - assert:
        that:
          - secret == 'hunter2'
          - db_pass == 'hunter2'
          - api_key == 's3cr3t-api'
    - debug:
        msg: "the secret is {{ secret }}"
      no_log: true
"#,
        ),
    ]);
    let ok = play(
        dir.path(),
        &[
            "--vault-password-file",
            "pass.txt",
            "--vault-id",
            "prod@prod.txt",
            "--output",
            "json",
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(
        !ok.all().contains("hunter2"),
        "a vaulted secret was printed:\n{}",
        ok.all()
    );
    assert!(ok.stdout.contains("censored"), "{}", ok.all());

    let wrong = setup(&[
        ("secrets.yml", &read("file_1_1.yml")),
        ("bad.txt", "wrong-password\n"),
        ("site.yml", "- hosts: local\n  vars_files: [secrets.yml]\n  tasks:\n    - debug: msg={{ secret }}\n"),
    ]);
    let r = play(wrong.path(), &["--vault-password-file", "bad.txt"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("Decryption failed"), "{}", r.all());
    assert!(
        r.all().contains("secrets.yml"),
        "names the file\n{}",
        r.all()
    );
    assert!(
        !r.all().contains("wrong-password") && !r.all().contains("hunter2"),
        "{}",
        r.all()
    );
}

#[test]
fn vars_prompt_uses_defaults_and_extra_vars_without_a_terminal() {
    let play_text = r#"
- hosts: local
  gather_facts: false
  vars:
    release: from-vars
  vars_prompt:
    - name: release
      prompt: Which release?
      default: "1.0"
      private: false
    - name: token
      prompt: Token
  tasks:
    - debug: msg="release={{ release }} token={{ token }}"
"#;
    let dir = setup(&[("site.yml", play_text)]);
    let r = play(dir.path(), &["-e", "token=abc"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("release=1.0 token=abc"), "{}", r.all());
    let missing = play(dir.path(), &[]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("vars_prompt 'token'") && missing.stderr.contains("site.yml:"),
        "{}",
        missing.all()
    );
}

#[test]
fn inventory_hostnames_lookup_answers_host_patterns() {
    let dir = setup(&[
        (
            "hosts.ini",
            "[web]\nweb1\nweb2\n[db]\ndb1\n[local]\nlocalhost ansible_connection=local\n",
        ),
        (
            "site.yml",
            r#"- hosts: localhost
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ query('inventory_hostnames', 'all:!db:!local') }} {{ query('inventory_hostnames', 'web:&db') }} {{ lookup('inventory_hostnames', 'db*') }}"
"#,
        ),
    ]);
    let r = run(&["playbook", "-i", "hosts.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(r#""msg": "['web1', 'web2'] [] db1""#),
        "{}",
        r.all()
    );
}

#[test]
fn module_invocation_shows_from_triple_verbosity_on() {
    let dir = setup(&[(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - stat:
        path: /nonexistent-drover-path
"#,
    )]);
    let vvv = run(
        &["playbook", "-i", "inventory.ini", "site.yml", "-vvv"],
        dir.path(),
    );
    assert_eq!(vvv.code, 0, "{}", vvv.all());
    assert!(
        vvv.stdout
            .contains("    \"invocation\": {\n        \"module_args\": {"),
        "{}",
        vvv.all()
    );
    assert!(vvv
        .stdout
        .contains("\"path\": \"/nonexistent-drover-path\""));
    let v = run(
        &["playbook", "-i", "inventory.ini", "site.yml", "-v"],
        dir.path(),
    );
    assert_eq!(v.code, 0, "{}", v.all());
    assert!(!v.stdout.contains("invocation"), "{}", v.all());
}

#[test]
fn copy_registers_its_diff_as_ansible_does() {
    let dir = setup(&[(
        "site.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "managed\n"
        dest: "{{ root }}.txt"
      diff: true
      register: r
    - debug:
        msg: "{{ r.diff[0].before == '' }} {{ r.diff[0].after }} {{ r.diff[0].after_header == root ~ '.txt' }}"
"#,
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(r#""msg": "True managed\n True""#),
        "{}",
        r.all()
    );
}

#[test]
fn entry_points_answer_version_and_plays_see_the_controller_python() {
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - command: \"{{ ansible_playbook_python }} -c 'print(6 * 7)'\"\n      register: py\n    - assert:\n        that: py.stdout == '42'\n",
    )]);
    let link = dir.path().join("ansible");
    std::os::unix::fs::symlink(crate::support::drover(), &link).expect("symlink");
    let out = std::process::Command::new(&link)
        .arg("--version")
        .output()
        .expect("run ansible --version");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ansible [core 2.19"), "{text}");
    assert!(text.contains("config file = "), "{text}");
    // The playbook's own Python commands run with the controller's python3.
    if python3_on_path().is_some() {
        let r = play(dir.path(), &[]);
        assert_eq!(r.code, 0, "{}", r.all());
    }
}

fn python3_on_path() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("python3"))
            .find(|p| p.is_file())
    })
}

#[test]
fn duplicate_yaml_keys_warn_fail_or_pass_as_configured() {
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  vars:\n    foo: bar\n    foo: baz\n  tasks:\n    - debug: var=foo\n",
    )]);
    let warned = play(dir.path(), &[]);
    assert_eq!(warned.code, 0, "{}", warned.all());
    assert!(
        warned
            .stderr
            .contains("Found duplicate mapping key 'foo' (first at line 4); the last value is used.\nOrigin: site.yml:5:5"),
        "{}",
        warned.all()
    );
    assert!(
        warned.stdout.contains("\"foo\": \"baz\""),
        "{}",
        warned.all()
    );
    let run_with = |policy: &str| {
        std::process::Command::new(crate::support::drover())
            .args(["playbook", "-i", "inventory.ini", "site.yml"])
            .current_dir(dir.path())
            .env("ANSIBLE_DUPLICATE_YAML_DICT_KEY", policy)
            .output()
            .expect("run drover")
    };
    let failed = run_with("error");
    assert_eq!(failed.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("Found duplicate mapping key 'foo'"));
    let quiet = run_with("ignore");
    assert_eq!(quiet.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("duplicate"));
}

#[test]
fn include_vars_of_a_vault_file_hides_its_result_and_a_bare_password_script_runs() {
    let dir = setup(&[
        ("secret.yml", "db_password: s3cr3t-value\n"),
        ("pass.sh", "#!/bin/sh\necho vault-pass\n"),
        (
            "site.yml",
            "- hosts: local\n  gather_facts: false\n  tasks:\n    - include_vars: secret.yml\n    - assert:\n        that: db_password | length == 12\n",
        ),
    ]);
    std::fs::set_permissions(
        dir.path().join("pass.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    // A password script named without a directory is the file here, not a program in PATH.
    let enc = run(
        &[
            "vault",
            "encrypt",
            "secret.yml",
            "--vault-password-file",
            "pass.sh",
        ],
        dir.path(),
    );
    assert_eq!(enc.code, 0, "{}", enc.all());
    let r = play(dir.path(), &["-v", "--vault-password-file", "pass.sh"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("the output has been hidden"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("s3cr3t-value"), "{}", r.all());
}

#[test]
fn file_and_template_lookups_decrypt_vault_files() {
    let dir = setup(&[
        ("hello.j2", "Hello {{ who }}!\n"),
        ("plain.txt", "plain text\n"),
        ("pass.txt", "vault-pass\n"),
        (
            "site.yml",
            "- hosts: local\n  gather_facts: false\n  vars:\n    who: vault\n  tasks:\n    - assert:\n        that:\n          - lookup('template', 'hello.j2') | trim == 'Hello vault!'\n          - lookup('file', 'plain.txt') == 'plain text'\n",
        ),
    ]);
    for f in ["hello.j2", "plain.txt"] {
        let enc = run(
            &["vault", "encrypt", f, "--vault-password-file", "pass.txt"],
            dir.path(),
        );
        assert_eq!(enc.code, 0, "{}", enc.all());
    }
    let r = play(dir.path(), &["--vault-password-file", "pass.txt"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn ad_hoc_task_timeout_and_json_arguments() {
    let dir = setup(&[]);
    let slow = run(
        &[
            "exec",
            "-i",
            "inventory.ini",
            "local",
            "-a",
            "sleep 5",
            "--task-timeout",
            "1",
        ],
        dir.path(),
    );
    assert_ne!(slow.code, 0, "{}", slow.all());
    assert!(
        slow.stdout.contains("Timed out after 1 second(s)."),
        "{}",
        slow.all()
    );
    let json = run(
        &[
            "exec",
            "-i",
            "inventory.ini",
            "local",
            "-m",
            "command",
            "-a",
            r#"{"cmd": "echo from-json"}"#,
        ],
        dir.path(),
    );
    assert_eq!(json.code, 0, "{}", json.all());
    assert!(json.stdout.contains("rc=0 >>\nfrom-json"), "{}", json.all());
}

#[test]
fn reboot_refuses_the_local_connection() {
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - reboot:\n      register: r\n      ignore_errors: true\n    - assert:\n        that:\n          - r is failed\n          - r.msg == 'Running reboot with local connection would reboot the control node.'\n          - not r.rebooted\n",
    )]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// Without a roles_path setting, roles are found where `ansible-galaxy install` puts them
/// (~/.ansible/roles), after the playbook's own roles/.
#[test]
fn roles_are_found_in_the_default_roles_path() {
    let dir = setup(&[
        (
            "site.yml",
            "- hosts: local\n  gather_facts: false\n  roles:\n    - galaxy_role\n",
        ),
        (
            "home/.ansible/roles/galaxy_role/tasks/main.yml",
            "- debug: msg=from-galaxy-roles\n",
        ),
    ]);
    let out = std::process::Command::new(crate::support::drover())
        .args(["playbook", "-i", "inventory.ini", "site.yml"])
        .current_dir(dir.path())
        .env("HOME", dir.path().join("home"))
        .env_remove("ANSIBLE_ROLES_PATH")
        .output()
        .expect("run drover");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("from-galaxy-roles"), "{stdout}");
}

/// `ini_file` (also as community.general.ini_file) edits an INI file in place: an option
/// changed, a commented-out one activated, one added after the section's last setting, a new
/// section, a section removed; re-runs change nothing; check mode writes nothing.
#[test]
fn ini_file_edits_in_place() {
    let dir = setup(&[
        (
            "site.yml",
            r##"- hosts: local
  gather_facts: false
  vars:
    conf: "{{ playbook_dir }}/out/app.ini"
  tasks:
    - copy:
        dest: "{{ conf }}"
        content: "# app\n[db]\nhost = a\n; port = 1\n\n[web]\nport=80\n"
    - ini_file: {path: "{{ conf }}", section: db, option: host, value: b}
      register: changed_host
    - community.general.ini_file: {path: "{{ conf }}", section: db, option: port, value: "5432"}
      register: activated
    - ini_file: {path: "{{ conf }}", section: db, option: user, value: app}
      register: added
    - ini_file: {path: "{{ conf }}", section: cache, option: size, value: "10", no_extra_spaces: true}
      register: new_section
    - ini_file: {path: "{{ conf }}", section: web, state: absent}
      register: removed
    - ini_file: {path: "{{ conf }}", section: db, option: host, value: b}
      register: again
    - ini_file: {path: "{{ conf }}", section: db, option: host, value: c}
      check_mode: true
      register: checked
    - command: cat {{ conf }}
      register: content
    - assert:
        that:
          - changed_host is changed and activated is changed and added is changed
          - new_section is changed and new_section.msg == 'section and option added'
          - removed is changed
          - again is not changed
          - checked is changed
          - content.stdout == expected
      vars:
        expected: "# app\n[db]\nhost = b\nport = 5432\nuser = app\n\n[cache]\nsize=10"
"##,
        ),
        ("out/.keep", ""),
    ]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// SELinux options have no effect on a host without SELinux (as in Ansible), so roles that set
/// `setype` for RHEL run on Debian; `attributes` are refused rather than skipped.
#[test]
fn selinux_options_without_selinux_and_attributes_refused() {
    let dir = setup(&[(
        "site.yml",
        "- hosts: local\n  gather_facts: false\n  tasks:\n    - copy: {content: x, dest: \"{{ root }}/f\", setype: httpd_sys_content_t, seuser: system_u}\n      register: copied\n    - file: {path: \"{{ root }}/f\", attributes: +i}\n      register: attrs\n      ignore_errors: true\n    - assert:\n        that:\n          - copied is changed\n          - attrs is failed and attrs.msg is search('attributes')\n",
    ), ("out/.keep", "")]);
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        return; // The SELinux branch needs a host without SELinux to show the no-op.
    }
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `exec -o` prints Ansible's one-line results; results leave out `invocation` below -vvv.
#[test]
fn adhoc_one_line_and_no_invocation() {
    let dir = setup(&[]);
    let exec = |extra: &[&str]| {
        let mut args = vec!["exec", "-i", "inventory.ini", "local"];
        args.extend_from_slice(extra);
        run(&args, dir.path())
    };
    let ping = exec(&["-m", "ping"]);
    assert_eq!(ping.code, 0, "{}", ping.all());
    assert!(!ping.stdout.contains("invocation"), "{}", ping.all());
    let deep = exec(&["-m", "ping", "-vvv"]);
    assert!(deep.stdout.contains("\"invocation\""), "{}", deep.all());
    let one = exec(&["-m", "ping", "-o"]);
    assert_eq!(
        one.stdout,
        "localhost | SUCCESS => {\"changed\": false,\"ping\": \"pong\"}\n",
        "{}",
        one.all()
    );
    let cmd = exec(&["-m", "shell", "-a", "echo a; echo b; echo c >&2", "-o"]);
    assert_eq!(
        cmd.stdout,
        "localhost | CHANGED | rc=0 | (stdout) a\\nb (stderr) c\n",
        "{}",
        cmd.all()
    );
    let failed = exec(&["-m", "command", "-a", "false", "-o"]);
    assert_eq!(failed.code, 2, "{}", failed.all());
    assert!(
        failed.stdout.starts_with("localhost | FAILED | rc=1 | (stdout) \nlocalhost | FAILED! => {\"changed\": true,\"cmd\": [\"false\"],"),
        "{}",
        failed.all()
    );
}

/// The `vaulted_file` test reads the file's header; a missing file is an error.
#[test]
fn vaulted_file_test() {
    let dir = setup(&[
        ("secret.yml", "$ANSIBLE_VAULT;1.1;AES256\n3132\n"),
        ("plain.yml", "a: 1\n"),
        (
            "site.yml",
            "- hosts: local\n  gather_facts: false\n  tasks:\n    - assert:\n        that:\n          - \"'secret.yml' is vaulted_file\"\n          - \"'plain.yml' is not vaulted_file\"\n    - debug: msg=\"{{ 'missing.yml' is vaulted_file }}\"\n      register: missing\n      ignore_errors: true\n    - assert:\n        that:\n          - missing is failed\n          - \"missing.msg is search(\\\"Cannot test if the file 'missing.yml' is a vault\\\")\"\n",
        ),
    ]);
    let r = play(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

//! Modules that manage a Linux host (`service`/`systemd`, `cron`, `authorized_key`, `hostname`,
//! `wait_for`, `apt_repository`), run over SSH against lab host node03. Each test uses its own unit, user, file
//! or port, starts from a clean state and cleans up after itself, so they run in parallel.

use crate::lab::lab_dir;
use crate::support::{run, Run};

fn play(dir: &tempfile::TempDir, extra: &[&str]) -> Run {
    let mut args = vec!["playbook", "-i", "inventory.ini", "site.yml"];
    args.extend_from_slice(extra);
    run(&args, dir.path())
}

/// Runs the play with `extra` and checks how many tasks it changed.
fn play_changing(dir: &tempfile::TempDir, extra: &[&str], expected: u64) -> Run {
    let r = play(dir, extra);
    assert_eq!(changed(&r), expected, "{}", r.all());
    r
}

fn changed(r: &Run) -> u64 {
    assert_eq!(r.code, 0, "{}", r.all());
    r.count("node03", "changed")
}

/// A unit of our own under /usr/lib (so it can be masked), started, enabled, stopped in check
/// mode only, restarted, masked; then everything is undone.
#[test]
fn ssh_systemd_and_service() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    step: up
    unit: /usr/lib/systemd/system/drover-e2e.service
  tasks:
    - stat: {path: "{{ unit }}"}
      register: unit_file
    - copy:
        dest: "{{ unit }}"
        content: |
          [Unit]
          Description=drover e2e
          [Service]
          ExecStart=/bin/sleep infinity
          ExecReload=/bin/true
          [Install]
          WantedBy=multi-user.target
      when: step == 'up'
    - systemd: {name: drover-e2e, state: started, enabled: true, daemon_reload: true}
      register: s
      when: step == 'up'
    - service: {name: drover-e2e.service, state: started, enabled: yes}
      register: svc
      when: step == 'up'
    - assert:
        that:
          - s.name == 'drover-e2e'
          - s.state == 'started'
          - s.enabled
          - s.status.Id == 'drover-e2e.service'
          - s.status.LoadState == 'loaded'
          - svc.state == 'started'
          - not svc.changed
      when: step == 'up'

    - service: {name: drover-e2e, state: stopped}
      when: step == 'check'
    - ansible.builtin.systemd_service: {name: drover-e2e, masked: true}
      when: step == 'check'

    - service: {name: drover-e2e, state: restarted, sleep: 1}
      register: r
      when: step == 'cycle'
    - systemd: {name: drover-e2e, state: reloaded}
      when: step == 'cycle'
    - assert:
        that:
          - r.state == 'started'
          - r.warnings[0] is search('^Ignoring .sleep. as it is not used in .systemd.$')
      when: step == 'cycle'

    - systemd: {name: drover-e2e-missing, state: started}
      register: missing
      ignore_errors: true
      when: step == 'cycle'
    - assert:
        that:
          - missing.failed
          - "missing.msg == 'Could not find the requested service drover-e2e-missing: host'"
      when: step == 'cycle'

    - systemd: {name: drover-e2e, state: stopped, enabled: false}
      when: step == 'down' and unit_file.stat.exists
    - file: {path: "{{ unit }}", state: absent}
      when: step == 'down'
    - systemd: {daemon_reload: true}
      when: step == 'down'

    - command: systemctl is-active drover-e2e
      register: active
      changed_when: false
      failed_when: false
      check_mode: false
    - command: systemctl is-enabled drover-e2e
      register: enabled
      changed_when: false
      failed_when: false
      check_mode: false
    - assert:
        that:
          - (step in ['up', 'check', 'cycle']) == (active.stdout == 'active')
          - (step in ['up', 'check', 'cycle']) == (enabled.stdout == 'enabled')

"#,
    )]);
    let clean = play(&dir, &["-e", "step=down"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    let first = play(&dir, &[]);
    // copy, systemd (start and enable)
    assert_eq!(changed(&first), 2, "{}", first.all());
    play_changing(&dir, &[], 0);
    // stop and mask are reported, not made (the asserts check the unit is still up).
    play_changing(&dir, &["--check", "-e", "step=check"], 2);
    // restart and reload always change
    play_changing(&dir, &["-e", "step=cycle"], 2);
    play_changing(&dir, &["-e", "step=down"], 2);
    play_changing(&dir, &["-e", "step=down"], 0);
}

/// Jobs and variables in a user's crontab and in a cron.d file, with diffs and check mode.
#[test]
fn ssh_cron() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    st: present
  tasks:
    - user: {name: drover_cron, state: present}
    - cron:
        name: drover e2e job
        user: drover_cron
        minute: "*/5"
        hour: "2"
        job: /bin/true
        state: "{{ st }}"
      register: job
    - cron:
        name: MAILTO
        env: true
        job: ops@example.com
        user: drover_cron
        state: "{{ st }}"
    - cron:
        name: drover e2e file job
        cron_file: drover-e2e
        user: root
        special_time: reboot
        job: /bin/echo hi
        state: "{{ st }}"
    - command: crontab -u drover_cron -l
      register: tab
      changed_when: false
      failed_when: false
      check_mode: false
    - stat: {path: /etc/cron.d/drover-e2e}
      register: cf
    - assert:
        that:
          - (st == 'present') == (('#Ansible:' ~ ' drover e2e job') in tab.stdout_lines)
          - (st == 'present') == ('*/5 2 * * * /bin/true' in tab.stdout_lines)
          - (st == 'present') == (tab.stdout_lines[0] | default('') == 'MAILTO="ops@example.com"')
          - (st == 'present') == cf.stat.exists
          - st == 'absent' or job.jobs == ['drover e2e job']
      when: not ansible_check_mode
"#,
    )]);
    let clean = play(&dir, &["-e", "st=absent"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    play_changing(&dir, &[], 3);
    play_changing(&dir, &["--diff"], 0);
    let check = play_changing(&dir, &["--check", "--diff", "-e", "st=absent"], 3);
    assert!(
        check.stdout.contains("-*/5 2 * * * /bin/true"),
        "{}",
        check.all()
    );
    play_changing(&dir, &[], 0);
    play_changing(&dir, &["-e", "st=absent"], 3);
    play_changing(&dir, &["-e", "st=absent"], 0);
}

/// Keys for a fresh user: ~/.ssh and the file are created with the user's ownership and private
/// modes; options and comments are rewritten in place; `exclusive` drops the rest.
#[test]
fn ssh_authorized_key() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    st: present
    k1: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverE2eKeyOne one@drover
    k2: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverE2eKeyTwo two@drover
  tasks:
    - user: {name: drover_ak, state: "{{ st }}", remove: true}
    - authorized_key:
        user: drover_ak
        key: "{{ k1 }}\n{{ k2 }}"
      register: first
      when: st == 'present'
    - ansible.posix.authorized_key:
        user: drover_ak
        key: "{{ k1 }}"
        key_options: no-pty
        comment: renamed
      when: st == 'present'
    - authorized_key: {user: drover_ak, key: "{{ k1 }}", exclusive: true, key_options: no-pty, comment: renamed}
      when: st == 'present'
    - stat: {path: /home/drover_ak/.ssh}
      register: d
      when: st == 'present'
    - stat: {path: /home/drover_ak/.ssh/authorized_keys}
      register: f
      when: st == 'present'
    - slurp: {src: /home/drover_ak/.ssh/authorized_keys}
      register: content
      when: st == 'present'
    - assert:
        that:
          - first.keyfile == '/home/drover_ak/.ssh/authorized_keys'
          - d.stat.mode == '0700' and d.stat.pw_name == 'drover_ak'
          - f.stat.mode == '0600' and f.stat.pw_name == 'drover_ak'
          - (content.content | b64decode) == 'no-pty ' ~ k1.split(' ')[:2] | join(' ') ~ ' renamed\n'
      when: st == 'present' and not ansible_check_mode
"#,
    )]);
    let clean = play(&dir, &["-e", "st=absent"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    let first = play(&dir, &[]);
    // user, both keys, the options/comment rewrite, exclusive
    assert_eq!(changed(&first), 4, "{}", first.all());
    let again = play(&dir, &["--diff"]);
    // the first task puts k1 (plain) and k2 back, the others make it as before
    assert_eq!(changed(&again), 3, "{}", again.all());
    assert!(
        again
            .stdout
            .contains("+ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDroverE2eKeyTwo two@drover"),
        "{}",
        again.all()
    );
    play_changing(&dir, &["--check"], 1);
    play_changing(&dir, &["-e", "st=absent"], 1);
}

/// An unchanged name is ok (one probe); check mode reports a change with its diff. The lab's
/// containers may not change their running name (no CAP_SYS_ADMIN): then the task fails with
/// the tool's message and, as the running name is set first, leaves /etc/hostname alone.
#[test]
fn ssh_hostname() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    want: node03
  tasks:
    - hostname: {name: "{{ want }}", use: generic}
      register: h
    - command: hostname
      register: running
      changed_when: false
      check_mode: false
    - slurp: {src: /etc/hostname}
      register: file
    - assert:
        that:
          - h.name == want
          - h.ansible_facts.ansible_hostname == want.split('.')[0]
          - h.ansible_facts.ansible_nodename == want
          - running.stdout == want
          - (file.content | b64decode | trim) == want
      when: not ansible_check_mode
"#,
    )]);
    play_changing(&dir, &[], 0);
    let check = play_changing(&dir, &["--check", "--diff", "-e", "want=other"], 1);
    assert!(
        check.stdout.contains("+hostname = other"),
        "{}",
        check.all()
    );
    assert!(
        check.stdout.contains("-hostname = node03"),
        "{}",
        check.all()
    );
    let to = play(&dir, &["-e", "want=drover-e2e.example.org"]);
    if to.code == 0 {
        assert_eq!(to.count("node03", "changed"), 1, "{}", to.all());
        let back = play(&dir, &[]);
        assert_eq!(changed(&back), 1, "{}", back.all());
    } else {
        assert!(
            to.stdout
                .contains("you must be root to change the host name"),
            "{}",
            to.all()
        );
        let unchanged = play(&dir, &[]);
        assert_eq!(changed(&unchanged), 0, "{}", unchanged.all());
    }
}

/// Ports (sshd is up; a closed port stays closed), files with and without a search string, a
/// file appearing while waiting, and a timeout's message.
#[test]
fn ssh_wait_for() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    f: /tmp/drover-e2e-wait-for
  tasks:
    - file: {path: "{{ f }}", state: absent}
    - wait_for: {port: 22, timeout: 10}
    - wait_for: {port: 22, search_regex: '^SSH-(?P<version>[0-9.]+)', timeout: 10}
      register: banner
    - wait_for: {port: 1, state: stopped, timeout: 5}
    - wait_for: {port: 22, state: drained, timeout: 2, active_connection_states: [LISTEN]}
      register: drained
      ignore_errors: true
    - shell: "(sleep 2; echo 'ready pid=42' > {{ f }}) >/dev/null 2>&1 &"
    - wait_for: {path: "{{ f }}", search_regex: 'pid=(\d+)', timeout: 20, sleep: 1}
      register: found
    - wait_for: {path: "{{ f }}", state: absent, timeout: 2}
      register: still
      ignore_errors: true
    - file: {path: "{{ f }}", state: absent}
    - wait_for: {path: "{{ f }}", state: absent, timeout: 5}
    - wait_for: {port: 1, timeout: 2, msg: custom message}
      register: closed
      ignore_errors: true
    - assert:
        that:
          - banner.match_groupdict.version == '2.0'
          - found.match_groups == ['42']
          - found.elapsed >= 1
          - drained is failed
          - "drained.msg == 'Timeout when waiting for 127.0.0.1:22 to drain'"
          - still is failed
          - still.msg is search('to be absent')
          - closed is failed and closed.msg == 'custom message'
"#,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.count("node03", "failed"), 0, "{}", r.all());
}

/// An APT source added (with `apt-get update`), left alone when present, found in
/// sources.list under another file name, re-enabled when commented out, removed with its file;
/// check mode changes nothing; a bad line and a PPA are refused.
#[test]
fn ssh_apt_repository() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    line: deb http://deb.debian.org/debian bookworm-backports main
    file: /etc/apt/sources.list.d/drover-test.list
  tasks:
    - apt_repository: {repo: "{{ line }}", filename: drover-test, state: absent, update_cache: false}
    - apt_repository: {repo: "{{ line }} # backports", filename: drover-test}
      register: added
    - apt_repository: {repo: "{{ line }}", filename: drover-test}
      register: again
    - apt_repository: {repo: "deb http://deb.debian.org/debian  bookworm main"}
      register: elsewhere
    - slurp: {src: "{{ file }}"}
      register: content
    - stat: {path: "{{ file }}"}
      register: st
    - command: sed -i 's/^deb/# deb/' {{ file }}
    - apt_repository: {repo: "{{ line }}", filename: drover-test, update_cache: false}
      register: enabled
    - command: cat {{ file }}
      register: after_enable
    - apt_repository: {repo: "{{ line }}", state: absent}
      check_mode: true
      register: check_absent
    - stat: {path: "{{ file }}"}
      register: still
    - apt_repository: {repo: "{{ line }}", state: absent}
      register: removed
    - apt_repository: {repo: "{{ line }}", state: absent}
      register: removed_again
    - stat: {path: "{{ file }}"}
      register: gone
    - apt_repository: {repo: "not a source line"}
      register: bad
      ignore_errors: true
    - apt_repository: {repo: "ppa:deadsnakes/ppa"}
      register: ppa
      ignore_errors: true
    - assert:
        that:
          - added is changed
          - added.sources_added == [file]
          - again is not changed
          - elsewhere is not changed
          - (content.content | b64decode) == line ~ "\n"
          - st.stat.mode == '0644'
          - enabled is changed
          - after_enable.stdout == line
          - check_absent is changed
          - still.stat.exists
          - removed is changed
          - removed.sources_removed == [file]
          - removed_again is not changed
          - not gone.stat.exists
          - "bad is failed and bad.msg == 'Invalid repository string: not a source line'"
          - ppa is failed
"#,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A package held and released with `dpkg_selections`; a debconf answer set, left alone when
/// equal (booleans in any case), and put back.
#[test]
fn ssh_dpkg_selections_and_debconf() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  tasks:
    - dpkg_selections: {name: cron, selection: hold}
      register: held
    - dpkg_selections: {name: cron, selection: hold}
      register: held_again
    - command: dpkg --get-selections cron
      register: sel
    - dpkg_selections: {name: cron, selection: install}
      register: released
    - dpkg_selections: {name: no-such-package-here, selection: hold}
      register: missing
      ignore_errors: true
    - debconf:
        name: openssh-server
        question: openssh-server/password-authentication
        vtype: boolean
        value: false
      register: set_false
    - debconf:
        name: openssh-server
        question: openssh-server/password-authentication
        vtype: boolean
        value: "False"
      register: set_false_again
    - command: debconf-show openssh-server
      register: shown
    - debconf:
        name: openssh-server
        question: openssh-server/password-authentication
        vtype: boolean
        value: true
      check_mode: true
      register: checked
    - debconf:
        name: openssh-server
        question: openssh-server/password-authentication
        vtype: boolean
        value: true
      register: restored
    - debconf: {name: openssh-server}
      register: listing
    - assert:
        that:
          - held is changed and held.before == 'install' and held.after == 'hold'
          - held_again is not changed
          - sel.stdout is search('hold$')
          - released is changed
          - missing is failed
          - "missing.msg == \"Failed to find package 'no-such-package-here' to perform selection 'hold'.\""
          - set_false is changed
          - "set_false.previous == {'openssh-server/password-authentication': 'true'}"
          - set_false_again is not changed
          - "'password-authentication: false' in shown.stdout"
          - checked is changed
          - restored is changed
          - listing is not changed
          - listing.current['openssh-server/password-authentication'] == 'true'
"#,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A deb822 source written as Ansible writes it (field order, URIs, X-Repolib-Name, yes/no),
/// accepted by `apt-get update`, unchanged when run again; an inline key embedded, a key URL
/// downloaded by the host into /etc/apt/keyrings; `state: absent` removes source and key.
#[test]
fn ssh_deb822_repository() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    dest: /etc/apt/sources.list.d/drover-test.sources
    repo: &repo
      name: drover test
      uris: http://deb.debian.org/debian
      suites: [bookworm-backports]
      components: [main, contrib]
      signed_by: /usr/share/keyrings/debian-archive-keyring.gpg
      enabled: true
  tasks:
    - deb822_repository: {name: drover test, state: absent}
    - deb822_repository: *repo
      register: added
    - deb822_repository: *repo
      register: again
    - command: cat {{ dest }}
      register: content
    - command: apt-get update -q
    - deb822_repository:
        name: drover test
        uris: [http://deb.debian.org/debian]
        suites: [bookworm-backports]
        signed_by: |
          -----BEGIN PGP PUBLIC KEY BLOCK-----

          bm90IGEgcmVhbCBrZXk=
          -----END PGP PUBLIC KEY BLOCK-----
      register: inline
    - deb822_repository:
        name: drover test
        uris: [http://deb.debian.org/debian]
        suites: [bookworm-backports]
        signed_by: http://deb.debian.org/debian/dists/bookworm/Release.gpg
      register: fetched
    - stat: {path: /etc/apt/keyrings/drover-test.gpg}
      register: key
    - deb822_repository: {name: drover test, state: absent}
      register: removed
    - stat: {path: "{{ dest }}"}
      register: gone
    - stat: {path: /etc/apt/keyrings/drover-test.gpg}
      register: key_gone
    - assert:
        that:
          - added is changed and added.dest == dest
          - again is not changed
          - content.stdout == expected
          - inline is changed
          - "'Signed-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    bm90IGEgcmVhbCBrZXk=\n' in inline.repo"
          - fetched is changed and fetched.key_filename == '/etc/apt/keyrings/drover-test.gpg'
          - "'Signed-By: /etc/apt/keyrings/drover-test.gpg' in fetched.repo"
          - key.stat.exists and key.stat.mode == '0644'
          - removed is changed
          - not gone.stat.exists and not key_gone.stat.exists
      vars:
        expected: |-
          Components: main contrib
          Enabled: yes
          X-Repolib-Name: drover test
          Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
          Suites: bookworm-backports
          Types: deb
          URIs: http://deb.debian.org/debian
"#,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A wheel built here, served to pip offline (`--no-index --find-links`): a virtualenv made
/// with `python3 -m venv`, a pinned install, an unchanged re-run decided without pip, an
/// upgrade through a specifier, check mode, removal.
#[test]
fn ssh_pip_in_a_virtualenv() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node03
  gather_facts: false
  vars:
    venv: /opt/drover-pip-test
    offline: --no-index --find-links /tmp/drover-wheels
    common: &common
      virtualenv: /opt/drover-pip-test
      virtualenv_command: python3 -m venv
      extra_args: --no-index --find-links /tmp/drover-wheels
  tasks:
    - file: {path: "{{ venv }}", state: absent}
    - file: {path: /tmp/drover-wheels, state: directory}
    - copy: {src: "{{ item }}", dest: /tmp/drover-wheels/}
      loop: [wheels/drover_demo-1.0-py3-none-any.whl, wheels/drover_demo-2.0-py3-none-any.whl]
    - pip: {name: drover-demo, version: "1.0", <<: *common}
      register: first
    - pip: {name: drover-demo==1.0, <<: *common}
      register: again
    - pip: {name: "drover-demo>=2", <<: *common}
      check_mode: true
      register: checked
    - command: "{{ venv }}/bin/python -c 'import importlib.metadata as m; print(m.version(\"drover-demo\"))'"
      register: v1
    - pip: {name: "drover-demo>=2", <<: *common}
      register: upgraded
    - command: "{{ venv }}/bin/python -c 'import importlib.metadata as m; print(m.version(\"drover-demo\"))'"
      register: v2
    # pip uninstall takes no --find-links: extra_args go to it as given, as in Ansible.
    - pip: {name: drover-demo, state: absent, virtualenv: "{{ venv }}"}
      register: removed
    - pip: {name: drover-demo, state: absent, virtualenv: "{{ venv }}"}
      register: removed_again
    - pip: {name: no-such-dist-anywhere, <<: *common}
      register: missing
      ignore_errors: true
    - file: {path: "{{ venv }}", state: absent}
    - file: {path: /tmp/drover-wheels, state: absent}
    - assert:
        that:
          - first is changed
          - again is not changed
          - again.stdout == ''
          - checked is changed
          - v1.stdout == '1.0'
          - upgraded is changed
          - v2.stdout == '2.0'
          - removed is changed
          - removed_again is not changed
          - missing is failed
"#,
    )]);
    for version in ["1.0", "2.0"] {
        build_wheel(
            &dir.path().join("wheels"),
            "drover_demo",
            "drover-demo",
            version,
        );
    }
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// A minimal pure-Python wheel (a zip with the package and its dist-info), made with `zip`.
fn build_wheel(out: &std::path::Path, module: &str, dist: &str, version: &str) {
    let work = tempfile::tempdir().expect("tempdir");
    let info = format!("{module}-{version}.dist-info");
    let files = [
        (format!("{module}/__init__.py"), format!("VERSION = '{version}'\n")),
        (
            format!("{info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"),
        ),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: drover-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_string(),
        ),
        (
            format!("{info}/RECORD"),
            format!("{module}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n"),
        ),
    ];
    for (path, text) in &files {
        let p = work.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    std::fs::create_dir_all(out).expect("mkdir");
    let wheel = out.join(format!("{module}-{version}-py3-none-any.whl"));
    let status = std::process::Command::new("zip")
        .arg("-qr")
        .arg(&wheel)
        .args([module, info.as_str()])
        .current_dir(work.path())
        .status()
        .expect("zip");
    assert!(status.success());
}

/// `sysctl` (also as `ansible.posix.sysctl`) edits its own file under /etc/sysctl.d: a value
/// set (the kernel already has it, so `sysctl_set` writes nothing), unchanged when run again,
/// another appended and removed; the container's read-only /proc/sys makes a reload fail with
/// Ansible's message.
#[test]
fn ssh_sysctl() {
    let dir = lab_dir(&[(
        "site.yml",
        r##"
- hosts: node03
  gather_facts: false
  vars:
    conf: /etc/sysctl.d/90-drover-test.conf
  tasks:
    - copy: {dest: "{{ conf }}", content: "# drover test\nkernel.panic = 5\n"}
    - sysctl: {name: net.ipv4.ip_forward, value: "1", sysctl_file: "{{ conf }}", sysctl_set: true, reload: false}
      register: set
    - ansible.posix.sysctl: {name: net.ipv4.ip_forward, value: 1, sysctl_file: "{{ conf }}", sysctl_set: true, reload: false}
      register: again
    - sysctl: {name: vm.swappiness, value: "10", sysctl_file: "{{ conf }}", reload: false}
      register: appended
    - command: cat {{ conf }}
      register: content
    - sysctl: {name: vm.swappiness, state: absent, sysctl_file: "{{ conf }}", reload: false}
      register: removed
    - sysctl: {name: kernel.panic, value: "10", sysctl_file: "{{ conf }}"}
      register: reloaded
      ignore_errors: true
    - command: cat {{ conf }}
      register: final
    - file: {path: "{{ conf }}", state: absent}
    - assert:
        that:
          - set is changed
          - again is not changed
          - appended is changed
          - content.stdout == "# drover test\nkernel.panic=5\nnet.ipv4.ip_forward=1\nvm.swappiness=10"
          - removed is changed
          - reloaded is failed
          - reloaded.msg is search('^Failed to reload sysctl')
          - final.stdout == "# drover test\nkernel.panic=10\nnet.ipv4.ip_forward=1"
"##,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `mount` (ansible.posix.mount) on a test fstab: entries added, left alone, rewritten and
/// removed; `unmounted` on a path that is not mounted changes nothing; mounting needs
/// CAP_SYS_ADMIN, which a lab container lacks, and fails with the host's error.
#[test]
fn ssh_mount_fstab_and_states() {
    let dir = lab_dir(&[(
        "site.yml",
        r##"
- hosts: node03
  gather_facts: false
  vars:
    tab: /tmp/drover-fstab
  tasks:
    - copy: {dest: "{{ tab }}", content: "# test\n/dev/sdb1 /data ext4 defaults\n"}
    - mount: {path: /data, src: /dev/sdb1, fstype: ext4, state: present, fstab: "{{ tab }}"}
      register: normalized
    - ansible.posix.mount: {path: /data, src: /dev/sdb1, fstype: ext4, state: present, fstab: "{{ tab }}"}
      register: again
    - mount: {path: /drover-tmpfs, src: tmpfs, fstype: tmpfs, opts: size=1m, boot: false, state: present, fstab: "{{ tab }}"}
      register: added
    - mount: {path: /data, state: absent_from_fstab, fstab: "{{ tab }}"}
      register: removed
    - command: cat {{ tab }}
      register: content
    - mount: {path: /drover-tmpfs, state: unmounted, fstab: "{{ tab }}"}
      register: not_mounted
    - mount: {path: /drover-tmpfs, src: tmpfs, fstype: tmpfs, opts: size=1m, state: mounted, fstab: "{{ tab }}"}
      register: mounted
      ignore_errors: true
    - file: {path: "{{ tab }}", state: absent}
    - file: {path: /drover-tmpfs, state: absent}
    - assert:
        that:
          - normalized is changed
          - again is not changed
          - added is changed and added.boot == 'no' and added.opts == 'size=1m,noauto'
          - removed is changed
          - content.stdout == "# test\ntmpfs /drover-tmpfs tmpfs size=1m,noauto 0 0"
          - not_mounted is not changed
          - mounted is failed and mounted.msg is search('^Error mounting /drover-tmpfs')
"##,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `apt` with `policy_rc_d`: while apt-get runs, /usr/sbin/policy-rc.d answers the given code
/// (seen by a dpkg hook); afterwards the file the host had is back, or none.
#[test]
fn ssh_apt_policy_rc_d() {
    let dir = lab_dir(&[(
        "site.yml",
        r##"
- hosts: node03
  gather_facts: false
  tasks:
    - copy:
        dest: /etc/apt/apt.conf.d/99drover-policy-test
        content: 'DPkg::Pre-Invoke { "cat /usr/sbin/policy-rc.d > /tmp/drover-seen-policy 2>/dev/null || true"; };'
    - copy: {dest: /usr/sbin/policy-rc.d, content: "#!/bin/sh\nexit 0\n", mode: "0755"}
    - apt: {name: sl, state: present, update_cache: true, policy_rc_d: 101, install_python_apt: false}
      register: installed
    - command: cat /tmp/drover-seen-policy
      register: seen
    - command: cat /usr/sbin/policy-rc.d
      register: restored
    - file: {path: /usr/sbin/policy-rc.d, state: absent}
    - apt: {name: sl, state: absent, policy_rc_d: 101}
      register: removed
    - stat: {path: /usr/sbin/policy-rc.d}
      register: none_left
    - file: {path: "{{ item }}", state: absent}
      loop: [/etc/apt/apt.conf.d/99drover-policy-test, /tmp/drover-seen-policy]
    - assert:
        that:
          - installed is changed and removed is changed
          - seen.stdout is search('exit 101')
          - restored.stdout is search('exit 0')
          - not none_left.stat.exists
"##,
    )]);
    let r = play(&dir, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}

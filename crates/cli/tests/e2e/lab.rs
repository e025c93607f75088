//! Playbooks run over SSH against the lab's Debian hosts (`lab/lab up`), each test on its
//! own hosts or paths so tests can run in parallel.

use std::process::Command;
use std::sync::OnceLock;

use crate::support::{run, workspace, write_tree};

const LAB_HOSTS: usize = 4;

/// Brings the lab up once per test run and returns its inventory text.
fn lab_inventory() -> &'static str {
    static INVENTORY: OnceLock<String> = OnceLock::new();
    INVENTORY.get_or_init(|| {
        let lab = workspace().join("lab/lab");
        let up = Command::new(&lab)
            .args(["up", &LAB_HOSTS.to_string()])
            .output()
            .expect("run lab/lab up");
        assert!(
            up.status.success(),
            "the lab did not come up (needs Docker; see lab/README.md):\n{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let inv = Command::new(&lab)
            .arg("inventory")
            .output()
            .expect("lab inventory");
        assert!(
            inv.status.success(),
            "{}",
            String::from_utf8_lossy(&inv.stderr)
        );
        String::from_utf8(inv.stdout).expect("utf8 inventory")
    })
}

pub(crate) fn lab_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &[("inventory.ini", lab_inventory())]);
    write_tree(dir.path(), files);
    dir
}

fn lab_cmd(args: &[&str]) {
    let out = Command::new(workspace().join("lab/lab"))
        .args(args)
        .output()
        .expect("run lab/lab");
    assert!(
        out.status.success(),
        "lab/lab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 30-task playbook mixing file, copy, template, lineinfile and command with creates, the
/// shape of the benchmark's converge scenario.
pub fn thirty_tasks(root: &str) -> String {
    let mut tasks = String::new();
    for i in 0..6 {
        tasks.push_str(&format!(
            r#"
    - name: dir {i}
      file: path={root}/d{i} state=directory mode=0755
    - name: copy {i}
      copy:
        dest: "{root}/d{i}/static.txt"
        content: "static file {i}\n"
        mode: "0644"
    - name: template {i}
      template:
        src: t.j2
        dest: "{root}/d{i}/conf.txt"
    - name: line {i}
      lineinfile:
        path: "{root}/d{i}/lines.txt"
        line: "managed line {i}"
        create: true
    - name: once {i}
      command: "touch {root}/d{i}/once"
      args:
        creates: "{root}/d{i}/once"
"#
        ));
    }
    format!("- hosts: all\n  gather_facts: false\n  tasks:{tasks}")
}

#[test]
fn ssh_converge_is_idempotent_and_check_mode_is_clean() {
    // A fresh path per run: hosts outlive test runs.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let root = format!("/tmp/drover-e2e/converge-{nanos}");
    let dir = lab_dir(&[
        ("site.yml", &thirty_tasks(&root)),
        (
            "t.j2",
            "host={{ inventory_hostname }} port={{ port | default(80) }}\n",
        ),
    ]);
    let args = [
        "playbook",
        "-i",
        "inventory.ini",
        "site.yml",
        "-l",
        "node01,node02,node03",
    ];
    let first = run(&args, dir.path());
    assert_eq!(first.code, 0, "{}", first.all());
    for h in ["node01", "node02", "node03"] {
        assert_eq!(first.count(h, "changed"), 30, "{}", first.all());
    }
    let second = run(&args, dir.path());
    assert_eq!(second.code, 0, "{}", second.all());
    for h in ["node01", "node02", "node03"] {
        assert_eq!(second.count(h, "changed"), 0, "{}", second.all());
        assert_eq!(second.count(h, "ok"), 30, "{}", second.all());
    }
    // A changed template variable is reported by check mode, with a diff, and not applied.
    let mut check_args = args.to_vec();
    check_args.extend(["--check", "--diff", "-e", "port=8080"]);
    let check = run(&check_args, dir.path());
    assert_eq!(check.code, 0, "{}", check.all());
    assert_eq!(check.count("node01", "changed"), 6, "{}", check.all());
    assert!(
        check.stdout.contains("+host=node01 port=8080"),
        "{}",
        check.all()
    );
    let after = run(&args, dir.path());
    assert_eq!(
        after.count("node01", "changed"),
        0,
        "check mode changed a host\n{}",
        after.all()
    );
}

#[test]
fn ssh_facts_and_become() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node01
  gather_facts: true
  remote_user: drover
  tasks:
    - assert:
        that:
          - ansible_distribution == 'Debian'
          - ansible_distribution_major_version == '12'
          - ansible_os_family == 'Debian'
          - ansible_facts.hostname == ansible_hostname
          - ansible_default_ipv4.address is defined
          - ansible_user_id == 'drover'
          # Facts roles test in their conditions, as a Debian container reports them.
          - ansible_virtualization_type == 'docker'
          - ansible_virtualization_role == 'guest'
          - "'container' in ansible_virtualization_tech_guest"
          - ansible_mounts | selectattr('mount', 'equalto', '/etc/hosts') | list | length == 1
          - (ansible_mounts | first).size_total > 0
          - ansible_dns.nameservers | length > 0
          - ansible_memory_mb.real.total == ansible_memtotal_mb
          - ansible_loadavg['1m'] is number
          - ansible_effective_user_id > 0 and ansible_real_user_id == ansible_effective_user_id
          - ansible_machine_id | length == 32
          - ansible_selinux.status == 'disabled'
          - ansible_distribution_file_variety == 'Debian'
          - ansible_lsb == {}
          - "'127.0.0.1' in ansible_locally_reachable_ips.ipv4"
          - ansible_default_ipv4.address in ansible_locally_reachable_ips.ipv4
          - ansible_devices | length > 0
          - (ansible_devices | dict2items | first).value.size is search(' (Bytes|KB|MB|GB|TB)$')
          - ansible_device_links.keys() | sort == ['ids', 'labels', 'masters', 'uuids']
    - command: id -un
      register: plain
    - command: id -un
      become: true
      register: elevated
    - command: id -un
      become: true
      become_user: nobody
      register: nobody
    - assert:
        that:
          - plain.stdout == 'drover'
          - elevated.stdout == 'root'
          - nobody.stdout == 'nobody'
"#,
    )]);
    let mut inv = std::fs::read_to_string(dir.path().join("inventory.ini")).expect("inv");
    // The inventory logs in as root; this play logs in as the lab's sudo user instead.
    inv = inv.replace("ansible_user=root", "");
    std::fs::write(dir.path().join("inventory.ini"), inv).expect("write");
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.count("node01", "failed"), 0);
    // The lab's /tmp is noexec: the helper for `nobody` is staged where it can run.
    assert!(!r.all().contains("using shell commands"), "{}", r.all());
}

#[test]
fn cut_host_is_unreachable_and_others_go_on() {
    let dir = lab_dir(&[(
        "site.yml",
        "- hosts: node03:node04\n  gather_facts: false\n  tasks:\n    - ping:\n    - command: echo still-here\n",
    )]);
    lab_cmd(&["cut", "node04"]);
    let r = run(
        &["playbook", "-i", "inventory.ini", "site.yml", "-T", "3"],
        dir.path(),
    );
    lab_cmd(&["heal", "node04"]);
    assert_eq!(r.code, 4, "{}", r.all());
    assert!(
        r.stdout.contains("fatal: [node04]: UNREACHABLE!"),
        "{}",
        r.all()
    );
    assert_eq!(r.count("node04", "unreachable"), 1);
    assert_eq!(r.count("node03", "changed"), 1, "{}", r.all());
    let healed = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(healed.code, 0, "{}", healed.all());
}

/// Accounts and packages, on a host of their own (node02): a user with its group, supplementary
/// groups, a password hash and an SSH key; a tiny Debian package through `apt` and `package`;
/// `getent` to read the result back. Each state is applied twice (the second run changes
/// nothing), and check mode reports removals without making them.
#[test]
fn ssh_accounts_and_packages() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node02
  gather_facts: false
  vars:
    st: present
    expect: "{{ st }}"
  tasks:
    - group: {name: drover_e2e, gid: 23456}
      when: st == 'present'
    - user:
        name: drover_e2e
        uid: 23456
        group: drover_e2e
        groups: [users]
        shell: /bin/bash
        comment: drover e2e
        password: "$6$drover$notarealhash"
        generate_ssh_key: true
        state: "{{ st }}"
        remove: true
      register: u
    - group: {name: drover_e2e, state: absent}
      when: st == 'absent'
    - apt: {name: sl, state: "{{ st }}", update_cache: true}
    - package: {name: sl, state: "{{ st }}", cache_valid_time: 86400}
    - getent: {database: passwd, key: drover_e2e, fail_key: false}
    - getent: {database: group, key: users}
    - command: dpkg-query -W -f '${Status}' sl
      register: q
      failed_when: false
      changed_when: false
      check_mode: false
    - assert:
        that:
          - (expect == 'present') == ('ok installed' in q.stdout)
          - (expect == 'present') == ('drover_e2e' in ansible_facts.getent_passwd)
          - expect == 'absent' or ansible_facts.getent_passwd.drover_e2e[1] == '23456'
          - expect == 'absent' or ansible_facts.getent_passwd.drover_e2e[3] == 'drover e2e'
          - expect == 'absent' or 'drover_e2e' in ansible_facts.getent_group.users[2].split(',')
          - st == 'absent' or u.uid == 23456
          - st == 'absent' or u.home == '/home/drover_e2e'
          - st == 'absent' or u.ssh_public_key.startswith('ssh-rsa ')
    # Managers drover does not drive on this (Debian) host fail saying so.
    - dnf: {name: sl}
      register: d
      ignore_errors: true
    - package: {name: sl, state: present, use: yum}
      register: p
      ignore_errors: true
    - assert:
        that:
          - d is failed and 'dnf is not available' in d.msg
          - p is failed and "'yum'" in p.msg
"#,
    )]);
    let play = |extra: &[&str]| {
        let mut args = vec!["playbook", "-i", "inventory.ini", "site.yml"];
        args.extend_from_slice(extra);
        run(&args, dir.path())
    };
    // Start from a clean host whatever an earlier run left behind.
    let clean = play(&["-e", "st=absent"]);
    assert_eq!(clean.code, 0, "{}", clean.all());

    let first = play(&[]);
    assert_eq!(first.code, 0, "{}", first.all());
    // group, user, apt (package finds sl installed)
    assert_eq!(first.count("node02", "changed"), 3, "{}", first.all());
    let again = play(&[]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(again.count("node02", "changed"), 0, "{}", again.all());

    // Check mode: user, group, apt and package would remove; nothing is removed.
    let check = play(&["--check", "-e", "st=absent", "-e", "expect=present"]);
    assert_eq!(check.code, 0, "{}", check.all());
    assert_eq!(check.count("node02", "changed"), 4, "{}", check.all());
    let after_check = play(&[]);
    assert_eq!(after_check.code, 0, "{}", after_check.all());
    assert_eq!(
        after_check.count("node02", "changed"),
        0,
        "{}",
        after_check.all()
    );

    let removed = play(&["-e", "st=absent"]);
    assert_eq!(removed.code, 0, "{}", removed.all());
    // user (userdel also drops the same-named primary group, so `group` finds it gone) and
    // apt (package finds sl gone)
    assert_eq!(removed.count("node02", "changed"), 2, "{}", removed.all());
    let removed_again = play(&["-e", "st=absent"]);
    assert_eq!(removed_again.code, 0, "{}", removed_again.all());
    assert_eq!(
        removed_again.count("node02", "changed"),
        0,
        "{}",
        removed_again.all()
    );
}

/// `async` jobs run on the host, detached: a `poll: 0` job goes on after drover has closed its
/// connection and exited, and a later run reads its result. Jobs run as the become user, in
/// that user's `~/.ansible_async`.
#[test]
fn ssh_async_job_outlives_the_connection() {
    let dir = lab_dir(&[
        (
            "start.yml",
            r#"
- hosts: node01
  gather_facts: false
  remote_user: drover
  tasks:
    - name: polled, as root
      command: id -un
      become: true
      async: 20
      poll: 1
      register: polled
    - assert:
        that:
          - polled.stdout == 'root'
          - polled.finished
    - name: left running
      shell: sleep 12; echo "$(id -un)" > /tmp/drover-async-survivor
      become: true
      async: 60
      poll: 0
      register: left
    - copy:
        content: "{{ left.ansible_job_id }}"
        dest: "{{ playbook_dir }}/left.jid"
      delegate_to: localhost
"#,
        ),
        (
            "status.yml",
            r#"
- hosts: node01
  gather_facts: false
  remote_user: drover
  become: true
  tasks:
    - async_status:
        jid: "{{ lookup('file', playbook_dir ~ '/left.jid') }}"
      register: job
      until: job.finished
      retries: 40
      delay: 1
    - command: cat /tmp/drover-async-survivor
      register: survivor
    - stat: path=/root/.ansible_async/{{ job.ansible_job_id }}
      register: job_file
    - async_status:
        jid: "{{ job.ansible_job_id }}"
        mode: cleanup
    - stat: path=/root/.ansible_async/{{ job.ansible_job_id }}
      register: cleaned
    - file: path=/tmp/drover-async-survivor state=absent
    - assert:
        that:
          - job is changed
          - survivor.stdout == 'root'
          - job_file.stat.exists
          - not cleaned.stat.exists
"#,
        ),
    ]);
    let mut inv = std::fs::read_to_string(dir.path().join("inventory.ini")).expect("inv");
    inv = inv.replace("ansible_user=root", "");
    std::fs::write(dir.path().join("inventory.ini"), inv).expect("write");
    let started = std::time::Instant::now();
    let r = run(
        &["playbook", "-i", "inventory.ini", "start.yml"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // The job sleeps 12 s; a run that returns well before that did not wait for it, even on a
    // machine busy with the other lab tests.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "drover waited for the job: {:?}",
        started.elapsed()
    );
    let r = run(
        &["playbook", "-i", "inventory.ini", "status.yml"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `become_method: su` with a password: su reads it from the pipe once it asks (its prompt is
/// PAM's), for the helper and for `raw`; a wrong password fails the host without showing it.
#[test]
fn ssh_become_su_with_password() {
    let dir = lab_dir(&[
        (
            "root_password.yml",
            r#"
- hosts: node03
  gather_facts: false
  remote_user: drover
  become: true
  tasks:
    - user:
        name: root
        password: "{{ 'su-Root-pw' | password_hash('sha512', 'droversalt') }}"
"#,
        ),
        (
            "su.yml",
            r#"
- hosts: node03
  gather_facts: false
  remote_user: drover
  become: true
  become_method: su
  tasks:
    - command: id -un
      register: who
    - raw: id -un
      register: raw_who
    - copy:
        content: "by su\n"
        dest: /root/drover-su.txt
      register: written
    - stat: path=/root/drover-su.txt
      register: st
    - file: path=/root/drover-su.txt state=absent
    - assert:
        that:
          - who.stdout == 'root'
          - raw_who.stdout | trim == 'root'
          - written is changed
          - st.stat.pw_name == 'root'
"#,
        ),
    ]);
    let mut inv = std::fs::read_to_string(dir.path().join("inventory.ini")).expect("inv");
    inv = inv.replace("ansible_user=root", "");
    std::fs::write(dir.path().join("inventory.ini"), inv).expect("write");
    let r = run(
        &["playbook", "-i", "inventory.ini", "root_password.yml"],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(
        &[
            "playbook",
            "-i",
            "inventory.ini",
            "su.yml",
            "-e",
            "ansible_become_password=su-Root-pw",
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // The same password from --become-password-file (a plain file and a script printing it).
    std::fs::write(dir.path().join("become.pw"), "su-Root-pw\n").expect("write");
    let script = dir.path().join("become-pw.sh");
    std::fs::write(&script, "#!/bin/sh\necho su-Root-pw\n").expect("write");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    for file in ["become.pw", "become-pw.sh"] {
        let r = run(
            &[
                "playbook",
                "-i",
                "inventory.ini",
                "su.yml",
                "--become-password-file",
                file,
            ],
            dir.path(),
        );
        assert_eq!(r.code, 0, "{file}: {}", r.all());
    }
    let wrong = run(
        &[
            "playbook",
            "-i",
            "inventory.ini",
            "su.yml",
            "-e",
            "ansible_become_password=not-The-pw",
        ],
        dir.path(),
    );
    assert_ne!(wrong.code, 0, "{}", wrong.all());
    assert!(
        wrong
            .all()
            .contains("become failed: su: Authentication failure"),
        "{}",
        wrong.all()
    );
    assert!(!wrong.all().contains("not-The-pw"), "{}", wrong.all());
}

/// `uri` and `get_url` over SSH: the request is the host's own (here to a web server on the
/// host itself, which the controller could not reach at 127.0.0.1).
#[test]
fn ssh_uri_and_get_url_from_the_host() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node02
  gather_facts: false
  tasks:
    - file: path=/tmp/drover-app.txt state=absent
    - file: path=/srv/drover-http state=directory
    - copy: content="served by the host\n" dest=/srv/drover-http/app.txt
    - shell: >
        cd /srv/drover-http && nohup python3 -m http.server 18080 --bind 127.0.0.1
        >/dev/null 2>&1 &
    - wait_for: port=18080 host=127.0.0.1 timeout=20
    - uri: url=http://127.0.0.1:18080/app.txt return_content=true
      register: page
    - get_url: url=http://127.0.0.1:18080/app.txt dest=/tmp/drover-app.txt mode=0600
      register: first
    - get_url: url=http://127.0.0.1:18080/app.txt dest=/tmp/drover-app.txt mode=0600
      register: second
    - stat: path=/tmp/drover-app.txt
      register: st
    - shell: pkill -f 'http[.]server 18080'; rm -rf /srv/drover-http /tmp/drover-app.txt
    - assert:
        that:
          - page.status == 200
          - page.content == 'served by the host\n'
          - first is changed
          - second is not changed
          - st.stat.mode == '0600'
          - st.stat.size == 19
"#,
    )]);
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `unarchive` over SSH: a tarball from the controller unpacked on the host with the host's
/// own tar, once; mode and owner applied to what it unpacked.
#[test]
fn ssh_unarchive_a_release_tarball() {
    let dir = lab_dir(&[
        ("release/app/bin/run", "#!/bin/sh\necho running\n"),
        ("release/app/VERSION", "1.0\n"),
        (
            "site.yml",
            r#"
- hosts: node02
  gather_facts: false
  tasks:
    - file: path=/opt/drover-release state=absent
    - file: path=/opt/drover-release state=directory
    - unarchive: src=app.tar.gz dest=/opt/drover-release owner=nobody
      register: first
    - unarchive: src=app.tar.gz dest=/opt/drover-release owner=nobody
      register: second
    - stat: path=/opt/drover-release/app/VERSION
      register: version
    - file: path=/opt/drover-release state=absent
    - assert:
        that:
          - first is changed
          - second is not changed
          - version.stat.pw_name == 'nobody'
          - version.stat.size == 4
"#,
        ),
    ]);
    let tar = std::process::Command::new("tar")
        .args(["czf", "../app.tar.gz", "app"])
        .current_dir(dir.path().join("release"))
        .status()
        .expect("tar");
    assert!(tar.success());
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn ssh_package_and_service_facts() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node02
  gather_facts: false
  tasks:
    - package_facts:
    - service_facts:
    - assert:
        that:
          - "'openssh-server' in ansible_facts.packages"
          - ansible_facts.packages['bash'][0].source == 'apt'
          - ansible_facts.packages['bash'][0].version is match('5\\.')
          - ansible_facts.services['ssh.service'].state == 'running'
          - ansible_facts.services['ssh.service'].status == 'enabled'
          - ansible_facts.services['ssh.service'].source == 'systemd'
          - ansible_facts.services['cron.service'].state == 'running'
          - ansible_facts.services['cron'].source == 'sysv'
          - ansible_facts.services['cron'].status is not defined
          - ansible_facts.services['getty@.service'].state == 'unknown'
          - ansible_facts.services | dict2items | selectattr('value.status', 'equalto', 'masked') | list | length > 0
"#,
    )]);
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `reboot` on a host of its own (node05, which no other e2e test uses): the host goes down
/// and comes back, told apart by PID 1's start time (a container shares the kernel's boot id);
/// check mode reboots nothing; an unknown reboot command is named.
#[test]
fn ssh_reboot_waits_for_the_host_to_come_back() {
    let dir = lab_dir(&[(
        "site.yml",
        r#"
- hosts: node05
  gather_facts: false
  vars:
    pid1_start: "cut -d' ' -f22 /proc/1/stat"
  tasks:
    - command: "{{ pid1_start }}"
      register: before
    - reboot:
        boot_time_command: "{{ pid1_start }}"
      check_mode: true
      register: checked
    - command: "{{ pid1_start }}"
      register: unchanged
    - reboot:
        reboot_command: systemctl reboot
        boot_time_command: "{{ pid1_start }}"
        reboot_timeout: 120
      register: rebooted
    - command: "{{ pid1_start }}"
      register: after
    - reboot:
        reboot_command: no-such-reboot-command now
      register: missing
      ignore_errors: true
    - assert:
        that:
          - checked is changed and checked.rebooted
          - unchanged.stdout == before.stdout
          - rebooted is changed and rebooted.rebooted
          - rebooted.elapsed >= 0
          - after.stdout != before.stdout
          - missing is failed
          - missing.msg is search('Unable to find command "no-such-reboot-command" in search paths')
"#,
    )]);
    let r = run(&["playbook", "-i", "inventory.ini", "site.yml"], dir.path());
    assert_eq!(r.code, 0, "{}", r.all());
}

/// `--ssh-common-args` reaches ssh for hosts that set no `ansible_ssh_common_args`: without
/// the lab's known_hosts (which the option names) the host key is unknown and the host
/// unreachable; `--become-password-file` must name a readable file.
#[test]
fn ssh_common_args_from_the_command_line() {
    let dir = lab_dir(&[(
        "site.yml",
        "- hosts: node02\n  gather_facts: false\n  tasks:\n    - ping:\n",
    )]);
    let inv = std::fs::read_to_string(dir.path().join("inventory.ini")).expect("inv");
    let line = inv
        .lines()
        .find(|l| l.starts_with("node02 "))
        .expect("node02 line");
    let common = line
        .split("ansible_ssh_common_args='")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("common args")
        .to_string();
    let bare: String = line
        .split(" ansible_ssh_common_args=")
        .next()
        .expect("host part")
        .to_string();
    std::fs::write(dir.path().join("bare.ini"), format!("{bare}\n")).expect("write");
    let without = run(&["playbook", "-i", "bare.ini", "site.yml"], dir.path());
    assert_eq!(without.code, 4, "{}", without.all());
    let with = run(
        &[
            "playbook",
            "-i",
            "bare.ini",
            "site.yml",
            "--ssh-common-args",
            &common,
        ],
        dir.path(),
    );
    assert_eq!(with.code, 0, "{}", with.all());
    let missing = run(
        &[
            "playbook",
            "-i",
            "bare.ini",
            "site.yml",
            "--become-password-file",
            "no-such-file",
        ],
        dir.path(),
    );
    assert_ne!(missing.code, 0, "{}", missing.all());
    assert!(
        missing.stderr.contains("--become-password-file"),
        "{}",
        missing.all()
    );
}

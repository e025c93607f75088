//! Modules that manage a Linux host (`service`/`systemd`, `cron`, `authorized_key`, `hostname`,
//! `wait_for`), run over SSH against lab host node03. Each test uses its own unit, user, file
//! or port, starts from a clean state and cleans up after itself, so they run in parallel.

use crate::lab::lab_dir;
use crate::support::{run, Run};

fn play(dir: &tempfile::TempDir, extra: &[&str]) -> Run {
    let mut args = vec!["playbook", "-i", "inventory.ini", "site.yml"];
    args.extend_from_slice(extra);
    run(&args, dir.path())
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
    let again = play(&dir, &[]);
    assert_eq!(changed(&again), 0, "{}", again.all());
    // stop and mask are reported, not made (the asserts check the unit is still up).
    let check = play(&dir, &["--check", "-e", "step=check"]);
    assert_eq!(changed(&check), 2, "{}", check.all());
    // restart and reload always change
    let cycle = play(&dir, &["-e", "step=cycle"]);
    assert_eq!(changed(&cycle), 2, "{}", cycle.all());
    let down = play(&dir, &["-e", "step=down"]);
    assert_eq!(changed(&down), 2, "{}", down.all());
    let down_again = play(&dir, &["-e", "step=down"]);
    assert_eq!(changed(&down_again), 0, "{}", down_again.all());
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
    let first = play(&dir, &[]);
    assert_eq!(changed(&first), 3, "{}", first.all());
    let again = play(&dir, &["--diff"]);
    assert_eq!(changed(&again), 0, "{}", again.all());
    let check = play(&dir, &["--check", "--diff", "-e", "st=absent"]);
    assert_eq!(changed(&check), 3, "{}", check.all());
    assert!(
        check.stdout.contains("-*/5 2 * * * /bin/true"),
        "{}",
        check.all()
    );
    let still = play(&dir, &[]);
    assert_eq!(changed(&still), 0, "{}", still.all());
    let removed = play(&dir, &["-e", "st=absent"]);
    assert_eq!(changed(&removed), 3, "{}", removed.all());
    let removed_again = play(&dir, &["-e", "st=absent"]);
    assert_eq!(changed(&removed_again), 0, "{}", removed_again.all());
}

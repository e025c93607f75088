//! `async`/`poll` and `async_status` in real playbooks, against `localhost`.

use crate::support::{run, write_tree, LOCAL_INVENTORY};

const ASYNC_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  vars:
    ansible_async_dir: "{{ root }}/jobs"
  tasks:
    - file: path={{ root }} state=directory
    - name: waited for
      command: echo waited
      async: 10
      poll: 1
      register: waited
    - assert:
        that:
          - waited is changed
          - waited.finished
          - waited.stdout == 'waited'
          - waited.ansible_job_id.startswith('j')
    - name: a polled job's file is gone once its result is in
      stat: path={{ root }}/jobs/{{ waited.ansible_job_id }}
      register: waited_file
    - assert:
        that: not waited_file.stat.exists
    - name: too slow
      shell: sleep 3; echo late > {{ root }}/late.txt
      async: 1
      poll: 1
      register: slow
      ignore_errors: true
    - assert:
        that:
          - slow is failed
          - slow.msg == 'async task did not complete within the requested time - 1s'
          - not slow.async_result.finished
    - name: in the background
      shell: sleep 1; echo done > {{ root }}/bg.txt
      async: 30
      poll: 0
      register: bg
    - assert:
        that:
          - bg.started
          - not bg.finished
    - name: wait for the job
      async_status:
        jid: "{{ bg.ansible_job_id }}"
      register: job
      until: job.finished
      retries: 30
      delay: 1
    - assert:
        that:
          - job.rc == 0
          - lookup('file', root ~ '/bg.txt') == 'done'
    - async_status: jid={{ bg.ansible_job_id }} mode=cleanup
    - async_status: jid={{ bg.ansible_job_id }}
      register: gone
      ignore_errors: true
    - assert:
        that: gone.msg == 'could not find job'
    - name: copy does not support async
      copy: content=x dest={{ root }}/x
      async: 5
      register: refused
      ignore_errors: true
    - assert:
        that: refused.msg == 'This action (copy) does not support async.'
    - name: left running when the play ends
      shell: sleep 2; echo survived > {{ root }}/survived.txt
      async: 60
      poll: 0
      register: left
    - copy: content={{ left.ansible_job_id }} dest={{ root }}/left.jid
"#;

/// A later run asks about the job the first one left running.
const STATUS_PLAY: &str = r#"
- hosts: local
  gather_facts: false
  vars:
    ansible_async_dir: "{{ root }}/jobs"
  tasks:
    - async_status:
        jid: "{{ lookup('file', root ~ '/left.jid') }}"
      register: job
      until: job.finished
      retries: 20
      delay: 1
    - assert:
        that:
          - job is changed
          - job.rc == 0
          - job.cmd is search('survived')
"#;

#[test]
fn async_poll_background_jobs_and_async_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            ("inventory.ini", LOCAL_INVENTORY),
            ("site.yml", ASYNC_PLAY),
            ("status.yml", STATUS_PLAY),
        ],
    );
    let root = format!("root={}", dir.path().join("out").display());
    let started = std::time::Instant::now();
    let r = run(
        &["playbook", "-i", "inventory.ini", "site.yml", "-e", &root],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.count("localhost", "ignored"), 3, "{}", r.all());
    // The default callback's lines about polled jobs.
    assert!(
        r.stdout.contains("ASYNC OK on localhost: jid=j"),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains("ASYNC POLL on localhost: jid=j")
            && r.stdout.contains("started=True finished=False"),
        "{}",
        r.all()
    );
    assert!(
        r.stdout.contains("ASYNC FAILED on localhost: jid=j"),
        "{}",
        r.all()
    );
    // drover does not wait for the job left running: it runs on, detached from drover.
    assert!(!dir.path().join("out/survived.txt").exists(), "{}", r.all());
    let r = run(
        &["playbook", "-i", "inventory.ini", "status.yml", "-e", &root],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/survived.txt"))
            .ok()
            .as_deref(),
        Some("survived\n")
    );
    // The job that ran out of time was killed with what it started.
    let late = dir.path().join("out/late.txt");
    while started.elapsed() < std::time::Duration::from_secs(6) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(!late.exists(), "a timed-out job kept running");
}

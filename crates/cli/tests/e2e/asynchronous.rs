//! `async`/`poll` and `async_status` in real playbooks, against `localhost`.

use crate::support::{run, write_tree, LOCAL_INVENTORY};

const ASYNC_PLAY: &str = r#"
- hosts: local
  gather_facts: false
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
    - name: too slow
      command: sleep 2
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
      command: sleep 15
      async: 60
      poll: 0
"#;

#[test]
fn async_poll_background_jobs_and_async_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[("inventory.ini", LOCAL_INVENTORY), ("site.yml", ASYNC_PLAY)],
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
    // drover does not wait for the abandoned job, as Ansible leaves it to the host.
    assert!(started.elapsed().as_secs() < 12, "{:?}", started.elapsed());
}

//! Playbook in, events out: each file under `tests/cases/` is a YAML mapping with
//! - `hosts`: inventory host names (all reached with the local connection),
//! - `groups` (optional): group name → host names,
//! - `options` (optional): `tags`, `skip_tags`, `check`, `limit`, `extra_vars`, `fact_cache`,
//!   `hash_behaviour`
//!   (a jsonfile fact cache in `<tmp>/facts`),
//! - `playbook`: the plays,
//! - `expect`: the run's outline, one line per event: `TASK name`, `HANDLER name`,
//!   `host status [item] [msg=...]` for results whose task is `debug` or that failed, and a
//!   final `RECAP host ok=.. changed=.. failed=.. skipped=.. rescued=.. ignored=..` per host,
//!   then `EXIT code`; verbose lines (`META: ...`) as they are.
//!
//! Hosts work inside a temporary directory exported as the variable `tmp`.

use std::path::Path;
use std::sync::Arc;

use drover_engine::{
    BecomeInfo, Collect, ConnectionInfo, Connector, Event, InventorySource, RunOptions, RunShared,
    Status,
};
use drover_host::{Host, HostError};
use drover_playbook::{Loader, LoaderConfig, Vars};
use drover_template::Templar;
use indexmap::IndexMap;
use minijinja::Value;

struct TestInventory {
    hosts: Vec<String>,
    groups: IndexMap<String, Vec<String>>,
}

impl InventorySource for TestInventory {
    fn hosts_matching(&self, pattern: &str) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = Vec::new();
        for part in pattern.split([':', ',']).filter(|p| !p.is_empty()) {
            let found: Vec<String> = if part == "all" || part == "*" {
                self.hosts.clone()
            } else if let Some(g) = self.groups.get(part) {
                g.clone()
            } else if self.hosts.iter().any(|h| h == part) || part == "localhost" {
                vec![part.to_string()]
            } else {
                Vec::new()
            };
            for h in found {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
        Ok(out)
    }
    fn host_vars(&self, _host: &str) -> Vars {
        let mut v = Vars::new();
        v.insert("ansible_connection".into(), Value::from("local"));
        v
    }
    fn groups(&self) -> IndexMap<String, Vec<String>> {
        let mut g = self.groups.clone();
        g.insert("all".into(), self.hosts.clone());
        g
    }
    fn group_names(&self, host: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|(_, m)| m.iter().any(|h| h == host))
            .map(|(g, _)| g.clone())
            .collect()
    }
}

/// Every host is this machine, through the real local transport.
struct LocalConnector(drover_transport::Transport);

#[async_trait::async_trait]
impl Connector for LocalConnector {
    async fn host(
        &self,
        info: &ConnectionInfo,
        _become: Option<&BecomeInfo>,
    ) -> Result<Arc<dyn Host>, HostError> {
        self.0
            .connection(&info.host, drover_transport::ConnectionSpec::Local)
            .host(None)
            .await
    }
    async fn reset(&self, _host: &str) {}
    async fn close_all(&self) {}
}

fn outline(events: &[Event]) -> String {
    let mut lines = Vec::new();
    // Hosts finish a task in any order, as in Ansible: results are sorted by host (stably, so
    // a host's loop items keep their order) before they are compared.
    let mut pending: Vec<(String, String)> = Vec::new();
    let flush = |pending: &mut Vec<(String, String)>, lines: &mut Vec<String>| {
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        lines.extend(pending.drain(..).map(|(_, l)| l));
    };
    let mut current_module: Option<String> = None;
    for e in events {
        if !matches!(e, Event::HostResult { .. }) {
            flush(&mut pending, &mut lines);
        }
        match e {
            Event::TaskStarted {
                name,
                handler,
                module,
                ..
            } => {
                current_module = module.clone();
                lines.push(format!(
                    "{} {name}",
                    if *handler { "HANDLER" } else { "TASK" }
                ));
            }
            Event::HostResult {
                host,
                status,
                item,
                result,
                ignored,
                ..
            } => {
                let status = match status {
                    Status::Ok => "ok",
                    Status::Changed => "changed",
                    Status::Failed if *ignored => "failed-ignored",
                    Status::Failed => "failed",
                    Status::Skipped => "skipping",
                    Status::Unreachable => "unreachable",
                };
                let mut line = format!("{host} {status}");
                if let Some(i) = item {
                    line.push_str(&format!(" ({i})"));
                }
                let show_msg =
                    current_module.as_deref() == Some("debug") || status.starts_with("failed");
                if show_msg && result.get("results").is_none() {
                    if let Some(msg) = result.get("msg") {
                        let text = msg
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| msg.to_string());
                        line.push_str(&format!(" msg={text}"));
                    }
                }
                pending.push((host.clone(), line));
            }
            Event::Recap { hosts } => {
                for (h, s) in hosts {
                    lines.push(format!(
                        "RECAP {h} ok={} changed={} failed={} skipped={} rescued={} ignored={}",
                        s.ok, s.changed, s.failed, s.skipped, s.rescued, s.ignored
                    ));
                }
            }
            Event::RunFinished { exit_code, .. } => lines.push(format!("EXIT {exit_code}")),
            Event::Verbose { message, .. } => lines.push(message.clone()),
            _ => {}
        }
    }
    lines.join("\n")
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn check(case: &Path) {
    let text = std::fs::read_to_string(case).expect("case");
    let doc: serde_json::Value = drover_yaml::parse_one(&text, &case.display().to_string())
        .expect("case yaml")
        .root
        .to_json();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let playbook_text = serde_json::to_string(&doc["playbook"]).expect("playbook");
    std::fs::write(dir.join("site.yml"), playbook_text).expect("write");
    if let Some(files) = doc["files"].as_object() {
        for (name, content) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, content.as_str().unwrap_or_default()).expect("write");
        }
    }
    let hosts = strings(doc.get("hosts"));
    let mut groups = IndexMap::new();
    if let Some(g) = doc["groups"].as_object() {
        for (k, v) in g {
            groups.insert(k.clone(), strings(Some(v)));
        }
    }
    let opts = &doc["options"];
    let options = RunOptions {
        tags: strings(opts.get("tags")),
        skip_tags: strings(opts.get("skip_tags")),
        check: opts["check"].as_bool().unwrap_or(false),
        limit: opts["limit"].as_str().map(str::to_string),
        gather_facts: false,
        fact_cache_dir: opts["fact_cache"]
            .as_bool()
            .unwrap_or(false)
            .then(|| dir.join("facts")),
        hash_merge: opts["hash_behaviour"].as_str() == Some("merge"),
        ..RunOptions::default()
    };
    let mut extra = Vars::new();
    extra.insert("tmp".into(), Value::from(dir.display().to_string()));
    if let Some(e) = opts["extra_vars"].as_object() {
        for (k, v) in e {
            extra.insert(k.clone(), Value::from(minijinja::value::Serde(v.clone())));
        }
    }
    let loader = Loader::new(dir, LoaderConfig::default());
    let pb = loader.load_playbook(&dir.join("site.yml")).expect("load");
    let events = Arc::new(Collect::default());
    let transport = drover_transport::Transport::new(drover_transport::TransportConfig::new(None))
        .expect("transport");
    let run = RunShared::new(
        Templar::default(),
        Arc::new(TestInventory { hosts, groups }),
        extra,
        dir.to_path_buf(),
        options,
        events.clone(),
        Arc::new(LocalConnector(transport)),
        Loader::new(dir, LoaderConfig::default()),
    );
    drover_engine::run_playbook(run, &pb).await;
    let got = outline(&events.0.lock().expect("events"));
    let expected = doc["expect"].as_str().unwrap_or_default().trim_end();
    assert_eq!(
        got.trim_end(),
        expected,
        "case {}:\n--- got ---\n{got}\n",
        case.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let only = std::env::var("CASE").ok();
    for case in cases {
        if only
            .as_deref()
            .is_some_and(|o| !case.to_string_lossy().contains(o))
        {
            continue;
        }
        check(&case).await;
    }
}

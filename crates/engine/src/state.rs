//! The state of a run: what is shared by all hosts, what belongs to one host, and to one play.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use drover_host::{Host, HostError};
use drover_modules::Registry;
use drover_playbook::{Loader, Play, Vars};
use drover_template::Templar;
use indexmap::IndexMap;
use minijinja::Value;

use crate::event::{Event, EventSink, HostStats};
use crate::inventory::InventorySource;

/// How to reach a host, from its (templated) connection variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionInfo {
    /// The inventory name.
    pub host: String,
    /// `ansible_connection`: `ssh`, `local`, or another transport the connector knows.
    pub kind: String,
    /// `ansible_host`, else the inventory name.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key_file: Option<String>,
    pub ssh_common_args: Option<String>,
    pub ssh_extra_args: Option<String>,
    pub host_key_checking: Option<bool>,
    pub timeout: Option<u64>,
    /// For `ansible_connection=sim` (benchmarks): injected round-trip latency,
    /// from `drover_sim_latency_ms`.
    pub sim_latency_ms: Option<u64>,
}

/// How to become another user for a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BecomeInfo {
    pub method: String,
    pub user: String,
    pub password: Option<String>,
    pub flags: Option<String>,
    pub exe: Option<String>,
}

/// Opens (and caches) connections; the binary wires it to `drover-transport`.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// The host handle for `info` as the given user. Called for every task: must be cheap after
    /// the first call for the same host and become user.
    async fn host(
        &self,
        info: &ConnectionInfo,
        become_: Option<&BecomeInfo>,
    ) -> Result<Arc<dyn Host>, HostError>;
    /// Drops the connection of one host (`meta: reset_connection`, unreachable hosts).
    async fn reset(&self, host: &str);
    /// Closes every connection at the end of the run.
    async fn close_all(&self);
    /// Warnings the transport wants shown (helper fallback and such), drained.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Options of a run (the command line, mostly).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub verbosity: u8,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub limit: Option<String>,
    pub start_at_task: Option<String>,
    /// `-u`: default remote user.
    pub remote_user: Option<String>,
    /// `-b`: become for every task unless a task says otherwise.
    pub become_: bool,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub become_password: Option<String>,
    /// Gather facts unless a play says otherwise (`gathering = implicit`).
    pub gather_facts: bool,
    pub host_key_checking: Option<bool>,
    pub timeout: Option<u64>,
    pub private_key_file: Option<String>,
    /// `ssh_args` from ansible.cfg: put before each host's `ansible_ssh_common_args`.
    pub ssh_args: Option<String>,
    /// `--ssh-common-args` / `--ssh-extra-args`: for hosts that set none of their own.
    pub ssh_common_args: Option<String>,
    pub ssh_extra_args: Option<String>,
    /// Ansible's `jsonfile` fact cache (`fact_caching_connection`): a directory with one
    /// JSON file of facts per host, read when a host is first seen and written when its facts
    /// change. `None`: facts live for the run only.
    pub fact_cache_dir: Option<PathBuf>,
    /// `fact_caching_prefix`: the start of every cache file's name.
    pub fact_cache_prefix: String,
    /// `fact_caching_timeout` in seconds: older cache files are ignored; 0 never expires.
    pub fact_cache_timeout: u64,
    /// `hash_behaviour = merge`: a mapping variable set in several layers is their recursive
    /// merge.
    pub hash_merge: bool,
    /// `--force-handlers` / `force_handlers`: notified handlers run on failed hosts too, for
    /// plays that do not say.
    pub force_handlers: bool,
    /// `error_on_missing_handler`: notifying a handler that no handler answers to fails the
    /// task (Ansible's default); otherwise it is a warning.
    pub error_on_missing_handler: bool,
    /// `private_role_vars` when set (`None`: not set, Ansible's default of public roles
    /// with private `include_role`s).
    pub private_role_vars: Option<bool>,
    /// `ansible_playbook_python`: the Python a playbook's own commands may run (drover has
    /// none of its own; the CLI names the controller's `python3`).
    pub playbook_python: Option<String>,
}

impl RunOptions {
    /// The fact cache file of `host`, when a fact cache is configured.
    pub fn fact_cache_file(&self, host: &str) -> Option<PathBuf> {
        let dir = self.fact_cache_dir.as_ref()?;
        Some(dir.join(format!("{}{host}", self.fact_cache_prefix)))
    }

    /// The cached facts of `host` (names as Ansible stores them, `ansible_` included), unless
    /// missing, unreadable or expired.
    fn cached_facts(&self, host: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let path = self.fact_cache_file(host)?;
        let meta = std::fs::metadata(&path).ok()?;
        if self.fact_cache_timeout > 0 {
            let age = meta.modified().ok()?.elapsed().unwrap_or_default();
            if age.as_secs() > self.fact_cache_timeout {
                return None;
            }
        }
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str(&text).ok()? {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        }
    }
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            check: false,
            diff: false,
            forks: crate::DEFAULT_FORKS,
            verbosity: 0,
            tags: Vec::new(),
            skip_tags: Vec::new(),
            limit: None,
            start_at_task: None,
            remote_user: None,
            become_: false,
            become_user: None,
            become_method: None,
            become_password: None,
            gather_facts: true,
            host_key_checking: None,
            timeout: None,
            private_key_file: None,
            ssh_args: None,
            ssh_common_args: None,
            ssh_extra_args: None,
            fact_cache_dir: None,
            fact_cache_prefix: "ansible_facts".into(),
            fact_cache_timeout: 86400,
            hash_merge: false,
            force_handlers: false,
            error_on_missing_handler: true,
            private_role_vars: None,
            playbook_python: None,
        }
    }
}

/// Everything shared by the whole run.
pub struct RunShared {
    pub templar: Templar,
    pub inventory: Arc<dyn InventorySource>,
    pub extra_vars: Arc<Vars>,
    pub playbook_dir: PathBuf,
    pub options: RunOptions,
    pub events: Arc<dyn EventSink>,
    pub connector: Arc<dyn Connector>,
    pub registry: Registry,
    pub loader: Loader,
    hosts: RwLock<HashMap<String, Arc<HostCtx>>>,
    /// Groups and members added at run time (`add_host`, `group_by`).
    added_groups: RwLock<IndexMap<String, Vec<String>>>,
    groups_cache: RwLock<Option<Value>>,
    /// Set by Ctrl-C: no new task starts.
    pub interrupted: std::sync::atomic::AtomicBool,
    /// Controller files (templates) and path resolutions, read once per run rather than once
    /// per host.
    files: Mutex<HashMap<PathBuf, Arc<str>>>,
    paths: Mutex<HashMap<String, PathBuf>>,
    identities: Mutex<HashMap<PathBuf, (String, String)>>,
    /// Background jobs of `async`/`poll: 0` tasks, for `async_status`.
    pub jobs: crate::jobs::Jobs,
    /// What `set_stats` recorded.
    pub custom_stats: crate::custom_stats::CustomStats,
}

/// Lookups that need the run itself: `inventory_hostnames` reads the inventory as it is now
/// (hosts and groups added at run time included), as Ansible's reads `groups`.
fn register_lookups(templar: &Templar, run: std::sync::Weak<RunShared>) {
    templar.register_lookup(
        "inventory_hostnames",
        Arc::new(move |call: &drover_template::LookupCall<'_>| {
            let Some(run) = run.upgrade() else {
                return Ok(Vec::new());
            };
            let mut out: Vec<minijinja::Value> = Vec::new();
            for term in &call.terms {
                // Ansible answers an invalid pattern with no hosts, not an error.
                for h in run
                    .hosts_matching(&drover_template::py_str(term))
                    .unwrap_or_default()
                {
                    let h = minijinja::Value::from(h);
                    if !out.contains(&h) {
                        out.push(h);
                    }
                }
            }
            Ok(out)
        }),
    );
}

impl RunShared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        templar: Templar,
        inventory: Arc<dyn InventorySource>,
        extra_vars: Vars,
        playbook_dir: PathBuf,
        options: RunOptions,
        events: Arc<dyn EventSink>,
        connector: Arc<dyn Connector>,
        loader: Loader,
    ) -> Arc<RunShared> {
        Arc::new_cyclic(|run: &std::sync::Weak<RunShared>| {
            register_lookups(&templar, run.clone());
            RunShared {
                templar,
                inventory,
                extra_vars: Arc::new(extra_vars),
                playbook_dir,
                options,
                events,
                connector,
                registry: Registry::builtin(),
                loader,
                hosts: RwLock::new(HashMap::new()),
                added_groups: RwLock::new(IndexMap::new()),
                groups_cache: RwLock::new(None),
                interrupted: std::sync::atomic::AtomicBool::new(false),
                files: Mutex::new(HashMap::new()),
                paths: Mutex::new(HashMap::new()),
                identities: Mutex::new(HashMap::new()),
                jobs: Default::default(),
                custom_stats: Default::default(),
            }
        })
    }

    /// The content of a controller file, read once per run.
    pub fn read_controller_file(&self, path: &std::path::Path) -> std::io::Result<Arc<str>> {
        if let Some(text) = lock(&self.files).get(path) {
            return Ok(text.clone());
        }
        let text: Arc<str> = Arc::from(std::fs::read_to_string(path)?);
        lock(&self.files).insert(path.to_path_buf(), text.clone());
        Ok(text)
    }

    /// `template_host` and `template_uid` of a template file, computed once per run.
    pub fn template_identity(&self, path: &std::path::Path) -> (String, String) {
        if let Some(v) = lock(&self.identities).get(path) {
            return v.clone();
        }
        let v = (
            drover_template::controller_hostname(),
            drover_template::owner_name(path),
        );
        lock(&self.identities).insert(path.to_path_buf(), v.clone());
        v
    }

    pub fn cached_path(&self, key: &str) -> Option<PathBuf> {
        lock(&self.paths).get(key).cloned()
    }

    pub fn cache_path(&self, key: String, path: PathBuf) {
        lock(&self.paths).insert(key, path);
    }

    pub fn emit(&self, event: Event) {
        self.events.emit(&event);
    }

    /// The state of a host, created on first use.
    pub fn host(&self, name: &str) -> Arc<HostCtx> {
        if let Some(h) = read(&self.hosts).get(name) {
            return h.clone();
        }
        let ctx = Arc::new(HostCtx::new(name, self.inventory.host_vars(name)));
        if let Some(cached) = self.options.cached_facts(name) {
            let mut state = ctx.write();
            for (k, v) in cached {
                state.set_fact_named(&k, Value::from(minijinja::value::Serde(v)));
            }
        }
        write(&self.hosts)
            .entry(name.to_string())
            .or_insert(ctx)
            .clone()
    }

    /// A host's state if the host exists in the inventory (or was added at run time).
    pub fn host_if_known(&self, name: &str) -> Option<Arc<HostCtx>> {
        if let Some(h) = read(&self.hosts).get(name) {
            return Some(h.clone());
        }
        let known = self
            .groups_value()
            .get_attr("all")
            .ok()
            .and_then(|all| {
                all.try_iter()
                    .ok()
                    .map(|mut it| it.any(|h| h.as_str() == Some(name)))
            })
            .unwrap_or(false);
        (known || name == "localhost").then(|| self.host(name))
    }

    pub fn known_host_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inventory
            .groups()
            .get("all")
            .cloned()
            .unwrap_or_default();
        for members in read(&self.added_groups).values() {
            for m in members {
                if !names.contains(m) {
                    names.push(m.clone());
                }
            }
        }
        names
    }

    /// `groups`, including run-time additions; cached until the next addition.
    pub fn groups_value(&self) -> Value {
        if let Some(v) = read(&self.groups_cache).as_ref() {
            return v.clone();
        }
        let mut groups = self.inventory.groups();
        for (g, members) in read(&self.added_groups).iter() {
            let entry = groups.entry(g.clone()).or_default();
            for m in members {
                if !entry.contains(m) {
                    entry.push(m.clone());
                }
            }
            let all = groups.entry("all".to_string()).or_default();
            for m in members {
                if !all.contains(m) {
                    all.push(m.clone());
                }
            }
        }
        let v = Value::from(minijinja::value::Serde(groups));
        *write(&self.groups_cache) = Some(v.clone());
        v
    }

    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names = self.inventory.group_names(host);
        for (g, members) in read(&self.added_groups).iter() {
            if g != "all" && members.iter().any(|m| m == host) && !names.contains(g) {
                names.push(g.clone());
            }
        }
        names.sort();
        names
    }

    /// `add_host` / `group_by`: puts `host` into `group` for the rest of the run.
    pub fn add_to_group(&self, group: &str, host: &str) -> bool {
        let mut groups = write(&self.added_groups);
        let members = groups.entry(group.to_string()).or_default();
        if members.iter().any(|m| m == host) {
            return false;
        }
        members.push(host.to_string());
        drop(groups);
        *write(&self.groups_cache) = None;
        // The new group's variables now apply to the host.
        self.inventory.add_membership(host, group);
        if let Some(h) = read(&self.hosts).get(host) {
            h.write().inventory_refreshed = Some(self.inventory.host_vars(host));
        }
        true
    }

    /// `meta: refresh_inventory`: the inventory is read again and every known host's
    /// inventory variables follow.
    pub fn refresh_inventory(&self) -> Result<(), String> {
        self.inventory.refresh()?;
        *write(&self.groups_cache) = None;
        for (name, h) in read(&self.hosts).iter() {
            h.write().inventory_refreshed = Some(self.inventory.host_vars(name));
        }
        Ok(())
    }

    /// Hosts matching a pattern, including run-time groups and hosts.
    pub fn hosts_matching(&self, pattern: &str) -> Result<Vec<String>, String> {
        let added = read(&self.added_groups).clone();
        if added.is_empty() {
            return self.inventory.hosts_matching(pattern);
        }
        // Run-time groups: resolve simple names here, delegate the rest.
        let mut out: Vec<String> = Vec::new();
        for part in pattern.split([':', ',']).filter(|p| !p.is_empty()) {
            // The inventory's hosts of the group first, then those added at run time.
            for h in self.inventory.hosts_matching(part).unwrap_or_default() {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
            if let Some(members) = added.get(part) {
                for m in members {
                    if !out.contains(m) {
                        out.push(m.clone());
                    }
                }
                continue;
            }
            if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && added.values().any(|m| m.iter().any(|h| h == part))
                && !out.iter().any(|h| h == part)
            {
                out.push(part.to_string());
            }
        }
        Ok(out)
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What a host accumulates during a run.
#[derive(Default)]
pub struct HostState {
    /// Facts without the `ansible_` prefix (`ansible_facts` shows them so).
    pub facts: Vars,
    /// Facts a module returned without the prefix (`getent_passwd`): as variables they go by
    /// that bare name, as Ansible injects them, not as `ansible_<name>`.
    pub bare_facts: std::collections::HashSet<String>,
    /// `set_fact` and registered results.
    pub set_facts: Vars,
    pub include_vars: Vars,
    /// The current play's `vars_files`, loaded for this host.
    pub vars_files: Vars,
    /// Variables added by `add_host` (host-level, like inventory vars).
    pub added_vars: Vars,
    /// The host's inventory variables recomputed after it joined groups at run time.
    pub inventory_refreshed: Option<Vars>,
    /// Roles this host included with public variables (`include_role: public: yes`), in
    /// order: their vars and defaults are visible to the rest of the play.
    pub public_roles: Vec<Arc<drover_playbook::Role>>,
}

impl HostState {
    /// Records a fact under the name a module or the cache gave it.
    pub fn set_fact_named(&mut self, name: &str, value: Value) {
        match name.strip_prefix("ansible_") {
            Some(short) => {
                self.bare_facts.remove(short);
                self.facts.insert(short.to_string(), value);
            }
            None => {
                self.bare_facts.insert(name.to_string());
                self.facts.insert(name.to_string(), value);
            }
        }
    }

    /// The fact a variable name refers to: `ansible_<fact>`, or a bare fact by its own name.
    pub fn fact_var(&self, name: &str) -> Option<&Value> {
        if self.bare_facts.contains(name) {
            return self.facts.get(name);
        }
        let short = name.strip_prefix("ansible_")?;
        if self.bare_facts.contains(short) {
            return None;
        }
        self.facts.get(short)
    }

    /// The variable names of the facts (see [`HostState::fact_var`]).
    pub fn fact_var_names(&self) -> impl Iterator<Item = String> + '_ {
        self.facts.keys().map(|k| {
            if self.bare_facts.contains(k) {
                k.clone()
            } else {
                format!("ansible_{k}")
            }
        })
    }

    pub fn clear_facts(&mut self) {
        self.facts.clear();
        self.bare_facts.clear();
    }
}

impl RunShared {
    /// Writes a host's facts to the fact cache, if one is configured. A cache that cannot be
    /// written costs the cache, not the run: the failure is a warning.
    pub fn persist_facts(&self, host: &HostCtx) {
        let Some(path) = self.options.fact_cache_file(&host.name) else {
            return;
        };
        let facts: serde_json::Map<String, serde_json::Value> = {
            let state = host.read();
            state
                .fact_var_names()
                .zip(state.facts.values())
                .map(|(k, v)| {
                    (
                        k,
                        serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect()
        };
        let text =
            serde_json::to_string_pretty(&serde_json::Value::Object(facts)).unwrap_or_default();
        // Written beside and renamed over, so an interrupted run never leaves half a cache.
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = result {
            self.emit(Event::Warning {
                message: format!("cannot write the fact cache {}: {e}", path.display()),
            });
        }
    }
}

/// One host during the run.
pub struct HostCtx {
    pub name: String,
    pub inventory_vars: Vars,
    state: RwLock<HostState>,
    pub stats: Mutex<HostStats>,
    /// Tasks that ran on this host (ok, changed or failed), ever: the play runner compares it
    /// around a task to tell whether the task ran here (role completion).
    tasks_ran: std::sync::atomic::AtomicU64,
}

impl HostCtx {
    pub fn new(name: &str, inventory_vars: Vars) -> HostCtx {
        HostCtx {
            name: name.to_string(),
            inventory_vars,
            state: RwLock::new(HostState::default()),
            stats: Mutex::new(HostStats::default()),
            tasks_ran: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts a task that ran on this host (see `tasks_ran`).
    pub fn note_task_ran(&self) {
        self.tasks_ran
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many tasks have run on this host so far.
    pub fn tasks_ran(&self) -> u64 {
        self.tasks_ran.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, HostState> {
        read(&self.state)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, HostState> {
        write(&self.state)
    }

    pub fn count(&self, f: impl FnOnce(&mut HostStats)) {
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut stats);
    }

    pub fn stats(&self) -> HostStats {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// One play while it runs.
pub struct PlayCtx {
    pub play: Arc<Play>,
    /// Every host the play targets (`ansible_play_hosts_all`).
    pub all_hosts: Vec<String>,
    /// The current batch (`ansible_play_batch`).
    batch: RwLock<Vec<String>>,
    /// Hosts that failed or became unreachable in this play.
    failed: RwLock<Vec<String>>,
    /// Roles listed in the play (`ansible_play_role_names`).
    pub role_names: Vec<String>,
    /// Roles pulled in as dependencies (`ansible_dependent_role_names`).
    pub dependent_role_names: Vec<String>,
    /// Defaults of the play's roles, visible play-wide.
    pub role_defaults: Vec<Arc<Vars>>,
    /// `vars/` of the play's roles, visible play-wide (roles are public).
    pub role_vars: Vec<Arc<Vars>>,
    /// The strategy in force (a templated `strategy:` resolved at play start).
    pub strategy: RwLock<drover_playbook::Strategy>,
    /// Handlers added at run time by `include_role`.
    extra_handlers: RwLock<Vec<drover_playbook::Task>>,
    /// Handler names/topics notified per host, in notification order.
    notified: Mutex<HashMap<String, Vec<String>>>,
    /// Included task files, loaded once per including task and shared by all hosts so that
    /// hosts stay in lockstep through them.
    includes: Mutex<HashMap<String, drover_playbook::TaskList>>,
    /// Warnings already given in this play (each is shown once).
    warned: Mutex<std::collections::HashSet<String>>,
    /// `throttle` under the free strategy: one semaphore per task.
    throttles: Mutex<HashMap<(usize, usize), Arc<tokio::sync::Semaphore>>>,
}

/// The roles a task list runs statically (`roles:` entries, their dependencies, `import_role`),
/// in order, blocks and roles' own task lists included.
fn static_roles(tasks: &[drover_playbook::Task], out: &mut Vec<Arc<drover_playbook::RoleScope>>) {
    for t in tasks {
        match &t.kind {
            drover_playbook::TaskKind::RoleTasks { scope, tasks } => {
                out.push(scope.clone());
                static_roles(tasks, out);
            }
            drover_playbook::TaskKind::Block {
                block,
                rescue,
                always,
            } => {
                static_roles(block, out);
                static_roles(rescue, out);
                static_roles(always, out);
            }
            _ => {}
        }
    }
}

impl PlayCtx {
    /// `private_role_vars`: the run's setting; roles of `roles:` and `import_role` are public
    /// unless it is true or their `public` option says otherwise.
    pub fn new(play: Arc<Play>, all_hosts: Vec<String>, private_role_vars: bool) -> PlayCtx {
        let mut role_names = Vec::new();
        let mut role_defaults = Vec::new();
        let mut role_vars = Vec::new();
        let mut dependent_role_names = Vec::new();
        for t in play.roles.iter() {
            if let drover_playbook::TaskKind::RoleTasks { scope, .. } = &t.kind {
                if scope.parent.is_some() {
                    if !dependent_role_names.contains(&scope.role.name) {
                        dependent_role_names.push(scope.role.name.clone());
                    }
                } else if !role_names.contains(&scope.role.name) {
                    role_names.push(scope.role.name.clone());
                }
            }
        }
        // Roles are public (Ansible's default): the defaults and vars of every role of
        // `roles:` and of every statically imported role are visible to the whole play.
        let mut public = Vec::new();
        for section in [&play.roles, &play.pre_tasks, &play.tasks, &play.post_tasks] {
            static_roles(section, &mut public);
        }
        for scope in public {
            if !scope.public.unwrap_or(!private_role_vars) {
                continue;
            }
            let role = &scope.role;
            if !role_defaults
                .iter()
                .any(|d: &Arc<Vars>| Arc::ptr_eq(d, &role.defaults))
            {
                role_defaults.push(role.defaults.clone());
                role_vars.push(role.vars.clone());
            }
        }
        // Later roles win, as their variables (and defaults) were set last.
        role_vars.reverse();
        role_defaults.reverse();
        PlayCtx {
            strategy: RwLock::new(play.strategy),
            play,
            batch: RwLock::new(all_hosts.clone()),
            all_hosts,
            failed: RwLock::new(Vec::new()),
            role_names,
            dependent_role_names,
            role_defaults,
            role_vars,
            extra_handlers: RwLock::new(Vec::new()),
            notified: Mutex::new(HashMap::new()),
            includes: Mutex::new(HashMap::new()),
            warned: Mutex::new(std::collections::HashSet::new()),
            throttles: Mutex::new(HashMap::new()),
        }
    }

    pub fn notify(&self, host: &str, name: &str) {
        let mut n = lock(&self.notified);
        let list = n.entry(host.to_string()).or_default();
        if !list.iter().any(|x| x == name) {
            list.push(name.to_string());
        }
    }

    /// Takes the notifications of `host` that `matches` accepts.
    pub fn take_notified(&self, host: &str, matches: impl Fn(&str) -> bool) -> bool {
        let mut n = lock(&self.notified);
        let Some(list) = n.get_mut(host) else {
            return false;
        };
        let before = list.len();
        list.retain(|x| !matches(x));
        list.len() != before
    }

    /// Takes every pending notification of `host`.
    pub fn take_all_notified(&self, host: &str) -> Vec<String> {
        lock(&self.notified)
            .get_mut(host)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub fn has_notifications(&self, host: &str) -> bool {
        lock(&self.notified)
            .get(host)
            .is_some_and(|l| !l.is_empty())
    }

    pub fn handlers(&self) -> Vec<drover_playbook::Task> {
        let mut all: Vec<drover_playbook::Task> = self.play.handlers.iter().cloned().collect();
        all.extend(read(&self.extra_handlers).iter().cloned());
        all
    }

    /// Handlers of an included role. A role's handlers are listed once however often it is
    /// included (and however many hosts loaded the include at the same moment).
    pub fn add_handlers(&self, handlers: Vec<drover_playbook::Task>) {
        let mut extra = write(&self.extra_handlers);
        for h in handlers {
            let known = self
                .play
                .handlers
                .iter()
                .chain(extra.iter())
                .any(|k| k.loc.to_string() == h.loc.to_string());
            if !known {
                extra.push(h);
            }
        }
    }

    /// The included tasks for `key`, loading them with `load` the first time.
    pub fn cached_include<E>(
        &self,
        key: &str,
        load: impl FnOnce() -> Result<drover_playbook::TaskList, E>,
    ) -> Result<drover_playbook::TaskList, E> {
        if let Some(t) = lock(&self.includes).get(key) {
            return Ok(t.clone());
        }
        let tasks = load()?;
        Ok(lock(&self.includes)
            .entry(key.to_string())
            .or_insert(tasks)
            .clone())
    }

    pub fn strategy(&self) -> drover_playbook::Strategy {
        *read(&self.strategy)
    }

    pub fn set_strategy(&self, s: drover_playbook::Strategy) {
        *write(&self.strategy) = s;
    }

    /// Hosts of the current batch not failed so far (`ansible_play_batch`).
    pub fn batch(&self) -> Vec<String> {
        let failed = read(&self.failed);
        read(&self.batch)
            .iter()
            .filter(|h| !failed.contains(h))
            .cloned()
            .collect()
    }

    pub fn set_batch(&self, hosts: Vec<String>) {
        *write(&self.batch) = hosts;
    }

    /// Hosts of the play not failed so far (`ansible_play_hosts`).
    pub fn active_hosts(&self) -> Vec<String> {
        let failed = read(&self.failed);
        self.all_hosts
            .iter()
            .filter(|h| !failed.contains(h))
            .cloned()
            .collect()
    }

    /// The semaphore limiting the task `key` to `limit` hosts at once.
    pub fn throttle_for(&self, key: (usize, usize), limit: usize) -> Arc<tokio::sync::Semaphore> {
        lock(&self.throttles)
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(limit)))
            .clone()
    }

    /// Whether `message` is new in this play (and records it): for warnings shown once.
    pub fn first_warning(&self, message: &str) -> bool {
        lock(&self.warned).insert(message.to_string())
    }

    pub fn mark_failed(&self, host: &str) {
        let mut failed = write(&self.failed);
        if !failed.iter().any(|h| h == host) {
            failed.push(host.to_string());
        }
    }

    pub fn clear_failed(&self, host: &str) {
        write(&self.failed).retain(|h| h != host);
    }

    pub fn is_failed(&self, host: &str) -> bool {
        read(&self.failed).iter().any(|h| h == host)
    }

    pub fn failed_count(&self) -> usize {
        read(&self.failed).len()
    }
}

fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

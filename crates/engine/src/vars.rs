//! Variable resolution: Ansible's precedence order as a lookup through layers, highest first.
//!
//! Nothing is merged or copied per task: a [`TaskVars`] holds shared references to the layers
//! and answers `get(name)` by asking them in order. Values are returned raw; the templar
//! templates them lazily when a template reads them.

use std::sync::Arc;

use drover_playbook::{RoleScope, Vars};
use drover_template::{Scope, VarSource};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::state::{HostCtx, PlayCtx, RunShared};

/// The variables visible to one task on one host.
#[derive(Clone)]
pub struct TaskVars {
    pub run: Arc<RunShared>,
    pub host: Arc<HostCtx>,
    pub play: Option<Arc<PlayCtx>>,
    /// Block and task `vars`, outermost first.
    pub scopes: Vec<Arc<Vars>>,
    pub role: Option<Arc<RoleScope>>,
    /// Variables passed to `include_tasks`/`include_role`, outermost first.
    pub include_params: Vec<Arc<Vars>>,
    /// Loop variables and other per-invocation values (`item`, `ansible_loop`, the registered
    /// result while `changed_when` runs): above everything but extra vars.
    pub locals: Arc<Vars>,
    /// The directory of the file the task was written in (searched by lookups, as Ansible does).
    pub task_dir: Option<std::path::PathBuf>,
    /// The lookup context of [`TaskVars::scope`], computed on first use.
    lookup: std::sync::OnceLock<Arc<drover_template::LookupContext>>,
}

impl TaskVars {
    pub fn new(run: Arc<RunShared>, host: Arc<HostCtx>, play: Option<Arc<PlayCtx>>) -> TaskVars {
        TaskVars {
            run,
            host,
            play,
            scopes: Vec::new(),
            role: None,
            include_params: Vec::new(),
            locals: Arc::new(Vars::new()),
            task_dir: None,
            lookup: std::sync::OnceLock::new(),
        }
    }

    /// The variables of the task `tref` points at on `host`: its vars, role, include
    /// parameters and directory, and inside a rescue `ansible_failed_task`/`_result`.
    pub fn for_task(
        run: &Arc<RunShared>,
        play: &Arc<PlayCtx>,
        host: &Arc<HostCtx>,
        tref: &crate::cursor::TaskRef,
    ) -> TaskVars {
        let task = tref.task();
        let mut vars = TaskVars::new(run.clone(), host.clone(), Some(play.clone()));
        vars.scopes = task.keywords.vars.clone();
        vars.role = task.role.clone();
        vars.include_params = tref.include_params.clone();
        vars.task_dir = std::path::Path::new(&*task.loc.file)
            .parent()
            .map(std::path::Path::to_path_buf);
        if let Some(failure) = &tref.failure {
            let mut locals = Vars::new();
            locals.insert("ansible_failed_task".into(), failure.0.clone());
            locals.insert("ansible_failed_result".into(), failure.1.clone());
            vars.locals = Arc::new(locals);
        }
        vars
    }

    pub fn with_local(&self, name: &str, value: Value) -> TaskVars {
        let mut next = self.clone();
        let mut locals = (*self.locals).clone();
        locals.insert(name.to_string(), value);
        next.locals = Arc::new(locals);
        next
    }

    /// A templating scope over these variables.
    pub fn scope(&self) -> Scope {
        // The lookup paths depend only on the role and the play: built once per task.
        let lookup = self
            .lookup
            .get_or_init(|| {
                Arc::new(drover_template::LookupContext {
                    file_paths: self.search_paths("files"),
                    template_paths: self.search_paths("templates"),
                    cwd: Some(self.run.playbook_dir.clone()),
                })
            })
            .clone();
        Scope {
            vars: Arc::new(self.clone()),
            lookup,
        }
    }

    /// Where relative controller paths are looked up, as Ansible does: the role's `<kind>/`
    /// and the role itself (and its parents'), then the play's directory's `<kind>/` and the
    /// directory itself, then the playbook directory's.
    pub fn search_paths(&self, kind: &str) -> Vec<std::path::PathBuf> {
        let mut paths = Vec::new();
        let mut role = self.role.as_ref();
        while let Some(scope) = role {
            paths.push(scope.role.path.join(kind));
            paths.push(scope.role.path.clone());
            role = scope.parent.as_ref();
        }
        if let Some(dir) = &self.task_dir {
            if !paths.contains(dir) {
                paths.push(dir.join(kind));
                paths.push(dir.clone());
            }
        }
        if let Some(play) = &self.play {
            paths.push(play.play.dir.join(kind));
            paths.push(play.play.dir.clone());
        }
        if !paths.contains(&self.run.playbook_dir) {
            paths.push(self.run.playbook_dir.join(kind));
            paths.push(self.run.playbook_dir.clone());
        }
        paths
    }

    /// Connection variables Ansible defines for every task when the inventory does not
    /// (its play context's `update_vars`): the address a host is reached at is its name.
    fn connection_default(&self, name: &str) -> Option<Value> {
        match name {
            "ansible_host" => self
                .layered("ansible_ssh_host")
                .or_else(|| Some(Value::from(self.host.name.as_str()))),
            "ansible_ssh_host" => self
                .layered("ansible_host")
                .or_else(|| Some(Value::from(self.host.name.as_str()))),
            _ => None,
        }
    }

    fn magic(&self, name: &str) -> Option<Value> {
        let run = &self.run;
        Some(match name {
            "inventory_hostname" => Value::from(self.host.name.as_str()),
            "inventory_hostname_short" => {
                Value::from(self.host.name.split('.').next().unwrap_or_default())
            }
            "hostvars" => Value::from_object(HostVars {
                run: run.clone(),
                play: self.play.clone(),
            }),
            "groups" => run.groups_value(),
            "group_names" => Value::from(run.group_names(&self.host.name)),
            "playbook_dir" => Value::from(run.playbook_dir.display().to_string()),
            "ansible_check_mode" => Value::from(run.options.check),
            "ansible_diff_mode" => Value::from(run.options.diff),
            "ansible_verbosity" => Value::from(run.options.verbosity),
            "ansible_forks" => Value::from(run.options.forks),
            "omit" => Value::from(drover_template::OMIT),
            "ansible_playbook_python" => match &run.options.playbook_python {
                Some(p) => Value::from(p.as_str()),
                None => return None,
            },
            "ansible_version" => Value::from(minijinja::value::Serde(serde_json::json!({
                "full": "2.19.0", "major": 2, "minor": 19, "revision": 0, "string": "2.19.0 (drover)"
            }))),
            "ansible_facts" => {
                let state = self.host.read();
                Value::from_pairs(state.facts.iter().map(|(k, v)| (k.clone(), v.clone())))
            }
            // No --tags means every task: Ansible shows that as ['all'].
            "ansible_run_tags" if run.options.tags.is_empty() => Value::from(vec!["all"]),
            "ansible_run_tags" => Value::from(run.options.tags.clone()),
            "ansible_skip_tags" => Value::from(run.options.skip_tags.clone()),
            "ansible_play_name" => {
                Value::from(self.play.as_ref()?.play.name.clone().unwrap_or_default())
            }
            "play_hosts" | "ansible_play_batch" => Value::from(self.play.as_ref()?.batch()),
            "ansible_play_hosts" => Value::from(self.play.as_ref()?.active_hosts()),
            "ansible_play_hosts_all" => Value::from(self.play.as_ref()?.all_hosts.clone()),
            "role_name" => Value::from(self.role.as_ref()?.role.name.as_str()),
            "role_path" => Value::from(self.role.as_ref()?.role.path.display().to_string()),
            // Ansible's task search path: the role chain's paths (outermost first), then the
            // task file's directory.
            "ansible_search_path" => {
                let mut paths = Vec::new();
                let mut cur = self.role.as_ref();
                while let Some(scope) = cur {
                    paths.insert(0, scope.role.path.display().to_string());
                    cur = scope.parent.as_ref();
                }
                if let Some(dir) = &self.task_dir {
                    let dir = dir.display().to_string();
                    if !paths.contains(&dir) {
                        paths.push(dir);
                    }
                }
                Value::from(paths)
            }
            "ansible_role_name" => Value::from(self.role.as_ref()?.role.shown_name()),
            "ansible_parent_role_names" => {
                let mut names = Vec::new();
                let mut cur = self.role.as_ref()?.parent.clone();
                while let Some(p) = cur {
                    names.push(p.role.name.clone());
                    cur = p.parent.clone();
                }
                // Undefined outside a dependency, as in Ansible.
                if names.is_empty() {
                    return None;
                }
                Value::from(names)
            }
            "ansible_parent_role_paths" => {
                let mut paths = Vec::new();
                let mut cur = self.role.as_ref()?.parent.clone();
                while let Some(p) = cur {
                    paths.push(p.role.path.display().to_string());
                    cur = p.parent.clone();
                }
                if paths.is_empty() {
                    return None;
                }
                Value::from(paths)
            }
            "role_names" | "ansible_play_role_names" => {
                Value::from(self.play.as_ref()?.role_names.clone())
            }
            "ansible_dependent_role_names" => {
                Value::from(self.play.as_ref()?.dependent_role_names.clone())
            }
            "ansible_role_names" => {
                let play = self.play.as_ref()?;
                let mut all = play.role_names.clone();
                all.extend(play.dependent_role_names.iter().cloned());
                Value::from(all)
            }
            _ => return None,
        })
    }

    /// Below the magic variables, in Ansible's order from highest to lowest.
    fn layered(&self, name: &str) -> Option<Value> {
        self.layered_trusted(name).map(|(v, _)| v)
    }

    /// As [`Self::layered`], with whether the value was written (may be templated) rather
    /// than produced (set_fact and registered results, facts, add_host variables).
    fn layered_trusted(&self, name: &str) -> Option<(Value, bool)> {
        let mut found = None;
        self.each_layer(name, &mut |v, written| {
            found = Some((v.clone(), written));
            false
        });
        found
    }

    /// Offers each layer's value of `name` to `f`, highest precedence first, while `f` asks
    /// for more (returns true), with whether the value was written (may be templated).
    fn each_layer(&self, name: &str, f: &mut dyn FnMut(&Value, bool) -> bool) {
        macro_rules! offer {
            ($v:expr, $written:expr) => {
                if !f($v, $written) {
                    return;
                }
            };
        }
        for params in self.include_params.iter().rev() {
            if let Some(v) = params.get(name) {
                offer!(v, true);
            }
        }
        let mut role = self.role.as_ref();
        while let Some(scope) = role {
            if let Some(v) = scope.params.get(name) {
                offer!(v, true);
            }
            role = scope.parent.as_ref();
        }
        {
            let state = self.host.read();
            if let Some(v) = state.set_facts.get(name) {
                offer!(v, false);
            }
            if let Some(v) = state.include_vars.get(name) {
                offer!(v, true);
            }
        }
        for scope in self.scopes.iter().rev() {
            if let Some(v) = scope.get(name) {
                offer!(v, true);
            }
        }
        // Role vars: the role's own, then what its dependencies export, then its parents'
        // (innermost first), as Ansible's Role.get_vars ranks them.
        if let Some(scope) = self.role.as_ref() {
            if let Some(v) = scope.role.vars.get(name) {
                offer!(v, true);
            }
            if let Some(v) = scope.dependency_vars().and_then(|d| d.get(name)) {
                offer!(v, true);
            }
            let mut role = scope.parent.as_ref();
            while let Some(scope) = role {
                if let Some(v) = scope.role.vars.get(name) {
                    offer!(v, true);
                }
                role = scope.parent.as_ref();
            }
        }
        // Roles are public: the vars of the play's roles are visible to the whole play, and
        // those of roles this host included publicly from then on.
        for role in self.host.read().public_roles.iter().rev() {
            if let Some(v) = role.vars.get(name) {
                offer!(v, true);
            }
        }
        if let Some(play) = &self.play {
            for vars in &play.role_vars {
                if let Some(v) = vars.get(name) {
                    offer!(v, true);
                }
            }
        }
        if let Some(play) = &self.play {
            if let Some(v) = self.host.read().vars_files.get(name) {
                offer!(v, true);
            }
            if let Some(v) = play.play.vars.get(name) {
                offer!(v, true);
            }
        }
        if let Some(v) = self.host.read().fact_var(name) {
            offer!(v, false);
        }
        if let Some(v) = self.host.read().added_vars.get(name) {
            offer!(v, false);
        }
        if let Some(v) = self
            .host
            .read()
            .inventory_refreshed
            .as_ref()
            .and_then(|r| r.get(name))
        {
            offer!(v, true);
        }
        if let Some(v) = self.host.inventory_vars.get(name) {
            offer!(v, true);
        }
        let mut role = self.role.as_ref();
        while let Some(scope) = role {
            if let Some(v) = scope.role.defaults.get(name) {
                offer!(v, true);
            }
            role = scope.parent.as_ref();
        }
        for role in self.host.read().public_roles.iter().rev() {
            if let Some(v) = role.defaults.get(name) {
                offer!(v, true);
            }
        }
        // Play-level roles' defaults are visible to the whole play in Ansible.
        if let Some(play) = &self.play {
            for defaults in &play.role_defaults {
                if let Some(v) = defaults.get(name) {
                    offer!(v, true);
                }
            }
        }
    }

    /// Under `hash_behaviour = merge`: the value of `name` is the recursive merge of every
    /// layer's mapping, from the highest down to the first layer that is not a mapping.
    fn merged_layers(&self, name: &str, top: Option<(Value, bool)>) -> Option<(Value, bool)> {
        let mut values: Vec<(Value, bool)> = top.into_iter().collect();
        self.each_layer(name, &mut |v, written| {
            values.push((v.clone(), written));
            v.kind() == minijinja::value::ValueKind::Map
        });
        if values
            .first()
            .is_some_and(|(v, _)| v.kind() != minijinja::value::ValueKind::Map)
        {
            return values.into_iter().next();
        }
        let written = values.iter().any(|(_, w)| *w);
        let mut iter = values.into_iter().rev();
        let (mut merged, _) = iter.next()?;
        for (v, _) in iter {
            merged = drover_yaml::merge_hash(&merged, &v);
        }
        Some((merged, written))
    }
}

impl VarSource for TaskVars {
    fn get(&self, name: &str) -> Option<Value> {
        if self.run.options.hash_merge {
            return self.get_trusted(name).map(|(v, _)| v);
        }
        if let Some(v) = self.run.extra_vars.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.locals.get(name) {
            return Some(v.clone());
        }
        self.magic(name)
            .or_else(|| self.layered(name))
            .or_else(|| self.connection_default(name))
    }

    fn get_trusted(&self, name: &str) -> Option<(Value, bool)> {
        if self.run.options.hash_merge {
            let top = self.run.extra_vars.get(name).map(|v| (v.clone(), true));
            if top.is_none() {
                if let Some(v) = self.locals.get(name) {
                    return Some((v.clone(), false));
                }
                if let Some(v) = self.magic(name) {
                    return Some((v, false));
                }
            }
            return self
                .merged_layers(name, top)
                .or_else(|| self.connection_default(name).map(|v| (v, false)));
        }
        if let Some(v) = self.run.extra_vars.get(name) {
            return Some((v.clone(), true));
        }
        // Loop items, registered results under evaluation, ansible_failed_result: data.
        if let Some(v) = self.locals.get(name) {
            return Some((v.clone(), false));
        }
        match self.magic(name) {
            Some(v) => Some((v, false)),
            None => self
                .layered_trusted(name)
                .or_else(|| self.connection_default(name).map(|v| (v, false))),
        }
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |k: &String| {
            if !names.contains(k) {
                names.push(k.clone());
            }
        };
        self.run.extra_vars.keys().for_each(&mut add);
        self.locals.keys().for_each(&mut add);
        for p in &self.include_params {
            p.keys().for_each(&mut add);
        }
        {
            let state = self.host.read();
            state.set_facts.keys().for_each(&mut add);
            state.include_vars.keys().for_each(&mut add);
            state.vars_files.keys().for_each(&mut add);
            for k in state.fact_var_names() {
                add(&k);
            }
        }
        for s in &self.scopes {
            s.keys().for_each(&mut add);
        }
        let mut role = self.role.as_ref();
        while let Some(scope) = role {
            scope.params.keys().for_each(&mut add);
            scope.role.vars.keys().for_each(&mut add);
            if let Some(d) = scope.dependency_vars() {
                d.keys().for_each(&mut add);
            }
            scope.role.defaults.keys().for_each(&mut add);
            role = scope.parent.as_ref();
        }
        if let Some(play) = &self.play {
            play.play.vars.keys().for_each(&mut add);
            for layer in play.role_vars.iter().chain(&play.role_defaults) {
                layer.keys().for_each(&mut add);
            }
        }
        {
            let state = self.host.read();
            state.added_vars.keys().for_each(&mut add);
            for role in &state.public_roles {
                role.vars
                    .keys()
                    .chain(role.defaults.keys())
                    .for_each(&mut add);
            }
        }
        self.host.inventory_vars.keys().for_each(&mut add);
        if let Some(r) = &self.host.read().inventory_refreshed {
            r.keys().for_each(&mut add);
        }
        for m in [
            "inventory_hostname",
            "inventory_hostname_short",
            "hostvars",
            "groups",
            "group_names",
            "playbook_dir",
            "ansible_check_mode",
            "ansible_facts",
            "omit",
        ] {
            add(&m.to_string());
        }
        names
    }
}

/// `hostvars`: every host's variables, resolved lazily at play level.
#[derive(Debug)]
struct HostVars {
    run: Arc<RunShared>,
    play: Option<Arc<PlayCtx>>,
}

impl std::fmt::Debug for RunShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunShared")
    }
}

impl std::fmt::Debug for PlayCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlayCtx")
    }
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let host = self.run.host_if_known(name)?;
        Some(Value::from_object(OneHostVars {
            vars: TaskVars::new(self.run.clone(), host, self.play.clone()),
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.run
                .known_host_names()
                .into_iter()
                .map(Value::from)
                .collect(),
        )
    }
}

/// `hostvars['name']`: one host's variables, templated on access in that host's context.
struct OneHostVars {
    vars: TaskVars,
}

impl std::fmt::Debug for OneHostVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hostvars[{}]", self.vars.host.name)
    }
}

impl Object for OneHostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        // As Ansible's: a host's variables do not hold `hostvars` (which would hold them).
        if name == "hostvars" {
            return None;
        }
        let (raw, trusted) = self.vars.get_trusted(name)?;
        if !trusted {
            return Some(raw);
        }
        match self.vars.run.templar.render_value(&raw, &self.vars.scope()) {
            Ok(v) => Some(v),
            Err(_) => Some(raw),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.vars
                .names()
                .into_iter()
                .filter(|n| n != "hostvars")
                .map(Value::from)
                .collect(),
        )
    }
}

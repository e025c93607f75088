//! The typed model of plays, blocks, tasks and roles.
//!
//! Values that Ansible templates stay raw [`Value`]s here: templating is lazy and happens in the
//! engine, per host. Keyword inheritance (block → task, role → task, import → task) is resolved
//! by the loader, so every [`Task`] carries its effective keywords.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Value;

/// Where something was written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// An ordered set of variables as written (untemplated).
pub type Vars = IndexMap<String, Value>;

/// A list of tasks, shared: the engine's per-host cursors hold these without copying tasks.
pub type TaskList = Arc<Vec<Task>>;

/// A whole playbook file, with `import_playbook` already expanded.
#[derive(Debug)]
pub struct Playbook {
    pub path: PathBuf,
    /// The directory of the top playbook: `playbook_dir`, and where `group_vars/`, `host_vars/`
    /// and `roles/` are looked up.
    pub dir: PathBuf,
    pub plays: Vec<Arc<Play>>,
}

/// How the hosts of a play are batched (`serial`).
#[derive(Debug, Clone, PartialEq)]
pub enum Serial {
    Count(u64),
    Percent(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    #[default]
    Linear,
    Free,
    HostPinned,
}

/// One `vars_prompt` entry: asked for by the binary before the run starts.
#[derive(Debug, Clone)]
pub struct VarPrompt {
    pub loc: Loc,
    pub name: String,
    pub prompt: Option<String>,
    pub default: Option<Value>,
    /// Input not echoed (Ansible's default is true).
    pub private: bool,
    pub confirm: bool,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub loc: Loc,
    pub name: Option<String>,
    /// The host pattern, possibly templated.
    pub hosts: Value,
    /// The directory of the file the play was written in (for relative paths).
    pub dir: PathBuf,
    pub vars: Arc<Vars>,
    pub vars_files: Vec<Value>,
    pub vars_prompt: Vec<VarPrompt>,
    pub gather_facts: Option<Value>,
    /// `fact_path` for local facts gathered by the implicit setup.
    pub fact_path: Option<Value>,
    pub strategy: Strategy,
    /// A templated `strategy:`, resolved when the play starts.
    pub strategy_expr: Option<Value>,
    pub serial: Vec<Serial>,
    pub max_fail_percentage: Option<f64>,
    pub any_errors_fatal: bool,
    /// `None`: the run's setting (`--force-handlers`, `force_handlers`) decides.
    pub force_handlers: Option<bool>,
    pub order: Option<String>,
    /// Keywords tasks inherit from the play.
    pub keywords: Keywords,
    pub pre_tasks: TaskList,
    pub roles: TaskList,
    pub tasks: TaskList,
    pub post_tasks: TaskList,
    /// The play's own handlers followed by those of its roles.
    pub handlers: TaskList,
    pub tags: Vec<String>,
}

/// A role as found on disk, loaded once and shared by every use of it.
#[derive(Debug)]
pub struct Role {
    pub name: String,
    /// `ns.col.name` for a role from a collection.
    pub fqcn: Option<String>,
    pub path: PathBuf,
    pub defaults: Arc<Vars>,
    pub vars: Arc<Vars>,
    /// The entry points of `meta/argument_specs.yml` (or of `meta/main.yml`'s
    /// `argument_specs`), by name.
    pub argument_specs: Option<RoleArgSpecs>,
}

/// A role's argument specs and where they were written.
#[derive(Debug)]
pub struct RoleArgSpecs {
    pub loc: Loc,
    pub entry_points: Vars,
}

impl Role {
    /// The name in task titles: the fully qualified one for a collection role.
    pub fn shown_name(&self) -> &str {
        self.fqcn.as_deref().unwrap_or(&self.name)
    }
}

/// The role context of a task: which role (and with which parameters) it belongs to.
#[derive(Debug)]
pub struct RoleScope {
    pub role: Arc<Role>,
    /// Role parameters from the play's `roles:` entry or `include_role`/`import_role` `vars`.
    pub params: Arc<Vars>,
    /// The scope of the role that depended on this one, for `role_path` chains and default
    /// lookups.
    pub parent: Option<Arc<RoleScope>>,
    /// Runs at most once per play and host (with the same parameters): roles from `roles:`
    /// and dependencies. Roles named by `import_role`/`include_role` run each time.
    pub once: bool,
    /// `import_role`/`include_role`'s `public` option, when given.
    pub public: Option<bool>,
    /// The variables the role's dependencies export (their `vars/`, recursively), which rank
    /// between its own vars and its parents'. Set once the dependencies are loaded.
    pub dep_vars: std::sync::OnceLock<Arc<Vars>>,
}

impl RoleScope {
    /// The variables of this role's dependencies (empty until they are loaded).
    pub fn dependency_vars(&self) -> Option<&Vars> {
        self.dep_vars.get().map(|v| v.as_ref())
    }
}

/// A `loop:` or `with_<lookup>:`.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopSpec {
    Loop(Value),
    With { lookup: String, terms: Value },
}

/// Keywords that apply to a task, after inheritance. `None`/empty means "not set anywhere".
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    /// All conditions that must hold, outermost first (block, role, import, then the task's).
    pub when: Vec<Value>,
    pub tags: Vec<String>,
    /// Variable scopes, outermost first (block vars, then the task's own `vars`).
    pub vars: Vec<Arc<Vars>>,
    /// Handlers every included task notifies (`include_tasks`/`include_role` `apply: notify`).
    pub notify: Vec<String>,
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub become_exe: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub no_log: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub environment: Vec<Value>,
    pub delegate_to: Option<Value>,
    pub delegate_facts: Option<Value>,
    pub run_once: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    pub throttle: Option<Value>,
    pub timeout: Option<Value>,
    pub remote_user: Option<Value>,
    pub connection: Option<Value>,
    pub module_defaults: Vec<Value>,
}

/// One entry of a task list.
#[derive(Debug, Clone)]
pub struct Task {
    pub loc: Loc,
    pub name: Option<String>,
    pub kind: TaskKind,
    pub keywords: Keywords,
    pub register: Option<String>,
    pub loop_: Option<LoopSpec>,
    pub loop_control: Option<Value>,
    pub until: Option<Value>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    pub changed_when: Vec<Value>,
    pub failed_when: Vec<Value>,
    pub notify: Vec<String>,
    /// Handler topics (`listen`).
    pub listen: Vec<String>,
    pub async_: Option<Value>,
    pub poll: Option<Value>,
    pub role: Option<Arc<RoleScope>>,
}

#[derive(Debug, Clone)]
pub enum TaskKind {
    /// A module or controller action, with its arguments as written: either a free-form string
    /// (`command: ls -l`, `file: path=/x state=touch`) or a mapping.
    Action {
        /// Canonical module name (no `ansible.builtin.` prefix).
        module: String,
        args: Args,
        args_loc: Loc,
    },
    Block {
        block: TaskList,
        rescue: TaskList,
        always: TaskList,
    },
    /// `include_tasks`: loaded per host at run time.
    IncludeTasks {
        file: Value,
        /// Keywords applied to the included tasks (`apply`).
        apply: Keywords,
        /// Variables passed to the included file (`vars` on the include).
        params: Arc<Vars>,
    },
    /// `include_role`: loaded per host at run time.
    IncludeRole(RoleInclude),
    /// The marker that a role's tasks start here (from `roles:` or `import_role`), so the
    /// engine can run a role only once per play and print `role : task` names. The role's
    /// tasks follow in `tasks`.
    RoleTasks {
        scope: Arc<RoleScope>,
        tasks: TaskList,
    },
}

#[derive(Debug, Clone)]
pub struct RoleInclude {
    pub name: Value,
    /// Where the role's name was written, for errors about it.
    pub name_loc: Option<Loc>,
    pub tasks_from: Option<Value>,
    pub vars_from: Option<Value>,
    pub defaults_from: Option<Value>,
    pub handlers_from: Option<Value>,
    /// `public` as written (`None`: the default, which `private_role_vars` decides).
    pub public: Option<bool>,
    /// `allow_duplicates` as written.
    pub allow_duplicates: Option<bool>,
    /// `rolespec_validate: false` skips the role's argument validation.
    pub rolespec_validate: Option<bool>,
    pub apply: Keywords,
    pub params: Arc<Vars>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    /// A `k=v` or free-form string.
    Free(String),
    Map(Vars),
}

impl Strategy {
    pub fn parse(name: &str) -> Option<Strategy> {
        match name {
            "linear" => Some(Strategy::Linear),
            "free" => Some(Strategy::Free),
            "host_pinned" => Some(Strategy::HostPinned),
            _ => None,
        }
    }
}

impl Task {
    /// The name Ansible shows: the task's name, else the module name.
    pub fn display_name(&self) -> String {
        let base = match (&self.name, &self.kind) {
            (Some(n), _) => n.clone(),
            (None, TaskKind::Action { module, .. }) => module.clone(),
            (None, TaskKind::Block { .. }) => "block".to_string(),
            (None, TaskKind::IncludeTasks { .. }) => "include_tasks".to_string(),
            // As Ansible's IncludeRole.get_name: the action and the role as written.
            (None, TaskKind::IncludeRole(inc)) => match inc.name.as_str() {
                Some(name) => format!("include_role : {name}"),
                None => format!("include_role : {}", inc.name),
            },
            (None, TaskKind::RoleTasks { scope, .. }) => scope.role.name.clone(),
        };
        match &self.role {
            Some(scope) => format!("{} : {}", scope.role.shown_name(), base),
            None => base,
        }
    }

    pub fn module(&self) -> Option<&str> {
        match &self.kind {
            TaskKind::Action { module, .. } => Some(module),
            _ => None,
        }
    }
}

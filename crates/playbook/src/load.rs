//! Reading playbooks, task files and roles from disk into the model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use drover_yaml::{Node, NodeKind, SourceError};
use indexmap::IndexMap;
use minijinja::Value;

use crate::keywords::{
    strip_builtin, BLOCK_KEYWORDS, PLAY_KEYWORDS, ROLE_ENTRY_KEYWORDS, TASK_KEYWORDS,
};
use crate::model::*;

/// A problem in the playbook, its roles or task files.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// Bad content at a position of a file.
    // Transparent: `{:#}` on an anyhow chain would otherwise print the message twice.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A file or role that cannot be found or read.
    #[error("{message}")]
    Missing { message: String },
    /// A construct Ansible refuses where it stands, reported as Ansible 2.19 reports it: the
    /// message, then where.
    #[error("{message}\nOrigin: {loc}")]
    Refused { message: String, loc: Loc },
}

type Result<T> = std::result::Result<T, LoadError>;

#[derive(Debug, Clone, Default)]
pub struct LoaderConfig {
    /// Extra directories to search for roles (`roles_path`), after `<playbook dir>/roles`.
    pub roles_path: Vec<PathBuf>,
    /// Where collection roles (`ns.col.role`) are looked for, after `<playbook dir>/collections`:
    /// each entry holds `ansible_collections/<ns>/<col>/roles/<role>` (or is itself an
    /// `ansible_collections` directory).
    pub collections_path: Vec<PathBuf>,
    /// Templates what Ansible templates while loading (`import_playbook` file names), given
    /// the variables in scope there; without it such templates are an error.
    pub templater: Option<LoadTemplater>,
}

/// A function that renders a template string with the given variables (plus whatever the
/// caller adds, such as extra vars).
#[derive(Clone)]
pub struct LoadTemplater(pub Arc<LoadTemplateFn>);

/// The function inside a [`LoadTemplater`]: template text and variables to text or an error.
pub type LoadTemplateFn = dyn Fn(&str, &Vars) -> std::result::Result<String, String> + Send + Sync;

impl std::fmt::Debug for LoadTemplater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoadTemplater")
    }
}

/// A loaded source file: its name for messages and its text for snippets.
#[derive(Clone)]
struct Src {
    file: Arc<str>,
    text: Arc<str>,
}

impl Src {
    fn err(&self, node: &Node, message: impl Into<String>) -> LoadError {
        LoadError::Source(node.error(&self.file, &self.text, message))
    }
    fn loc(&self, node: &Node) -> Loc {
        Loc {
            file: self.file.clone(),
            line: node.span.start.line,
            column: node.span.start.column,
        }
    }
}

/// Loads playbooks, task files and roles, caching roles by path.
pub struct Loader {
    config: LoaderConfig,
    /// The top playbook's directory, for role lookup and `playbook_dir`.
    base_dir: PathBuf,
    roles: Mutex<HashMap<PathBuf, Arc<Role>>>,
    /// Handlers of roles imported with `import_role` while a play loads; the play takes them.
    imported_handlers: Mutex<Vec<Task>>,
    /// What the YAML of the files read so far warned about (duplicate keys), for the caller.
    warnings: Mutex<Vec<String>>,
    /// The `vars` of the play being loaded, for what is templated while loading.
    play_vars: Mutex<Arc<Vars>>,
}

/// Where a task list is being read: for relative paths and inherited keywords.
#[derive(Clone)]
struct Ctx {
    /// Directory of the file being read.
    dir: PathBuf,
    role: Option<Arc<RoleScope>>,
    inherited: Keywords,
}

impl Loader {
    pub fn new(base_dir: impl Into<PathBuf>, config: LoaderConfig) -> Loader {
        Loader {
            config,
            base_dir: base_dir.into(),
            roles: Mutex::new(HashMap::new()),
            imported_handlers: Mutex::new(Vec::new()),
            warnings: Mutex::new(Vec::new()),
            play_vars: Mutex::new(Arc::new(Vars::new())),
        }
    }

    /// Renders a template that Ansible resolves while loading, with the variables of the
    /// enclosing scopes (innermost last, so it wins).
    fn template_at_load(&self, text: &str, kw: &Keywords) -> std::result::Result<String, String> {
        let Some(templater) = &self.config.templater else {
            return Err("templates cannot be resolved while loading here".to_string());
        };
        let mut vars: Vars = self
            .play_vars
            .lock()
            .map(|v| (**v).clone())
            .unwrap_or_default();
        for scope in &kw.vars {
            vars.extend(scope.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        (templater.0)(text, &vars)
    }

    /// What the YAML of the files loaded so far warned about, once each; drained.
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// [`read_yaml`], keeping its warnings for [`Loader::take_warnings`].
    fn read_yaml(&self, path: &Path) -> Result<(Src, Node)> {
        let (src, root, warnings) = read_yaml_warning(path)?;
        for warning in warnings {
            self.warn(warning);
        }
        Ok((src, root))
    }

    fn warn(&self, warning: String) {
        if let Ok(mut w) = self.warnings.lock() {
            if !w.contains(&warning) {
                w.push(warning);
            }
        }
    }

    /// Ansible warns about `vars:` entries named like a playbook keyword or a Jinja2 global.
    fn warn_reserved(&self, src: &Src, vars: &Node) {
        for (k, _) in vars.as_map().unwrap_or_default() {
            if let Some(name) = k.as_str().filter(|n| crate::keywords::is_reserved_name(n)) {
                self.warn(format!(
                    "Found variable using reserved name '{name}'.\nOrigin: {}:{}:{}",
                    src.file, k.span.start.line, k.span.start.column
                ));
            }
        }
    }

    /// Loads a playbook given as text (ad-hoc runs), as if it were the file `path`.
    pub fn load_playbook_str(&self, text: &str, path: &Path) -> Result<Playbook> {
        let file: Arc<str> = Arc::from(path.display().to_string());
        let doc = drover_yaml::parse_one(text, &file)?;
        let src = Src {
            file,
            text: Arc::from(text),
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut plays = Vec::new();
        for entry in doc.root.as_seq().unwrap_or_default() {
            plays.push(Arc::new(self.load_play(
                &src,
                entry,
                &dir,
                &Keywords::default(),
            )?));
        }
        Ok(Playbook {
            path: path.to_path_buf(),
            dir,
            plays,
        })
    }

    /// Loads a playbook file with everything it imports.
    pub fn load_playbook(&self, path: &Path) -> Result<Playbook> {
        let mut plays = Vec::new();
        self.load_playbook_into(path, &Keywords::default(), &mut plays, 0)?;
        if plays.is_empty() {
            return Err(LoadError::Missing {
                message: format!(
                    "{}: A playbook must contain at least one play",
                    path.display()
                ),
            });
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Playbook {
            path: path.to_path_buf(),
            dir,
            plays,
        })
    }

    fn load_playbook_into(
        &self,
        path: &Path,
        inherited: &Keywords,
        plays: &mut Vec<Arc<Play>>,
        depth: usize,
    ) -> Result<()> {
        if depth > 32 {
            return Err(LoadError::Missing {
                message: format!(
                    "{}: import_playbook nested too deeply (a cycle?)",
                    path.display()
                ),
            });
        }
        let (src, root) = self.read_yaml(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let entries = match &root.kind {
            NodeKind::Seq(items) => items,
            NodeKind::Null => return Ok(()),
            _ => {
                return Err(src.err(
                    &root,
                    format!(
                        "a playbook must be a list of plays, found {}",
                        root.kind_name()
                    ),
                ))
            }
        };
        for entry in entries {
            let Some(map) = entry.as_map() else {
                return Err(src.err(
                    entry,
                    format!("a play must be a mapping, found {}", entry.kind_name()),
                ));
            };
            if let Some(target) = IMPORT_PLAYBOOK.iter().find_map(|k| entry.get(k)) {
                let mut kw = inherited.clone();
                for (k, v) in map {
                    match k.as_str().unwrap_or_default() {
                        key if IMPORT_PLAYBOOK.contains(&key) => {}
                        "name" => {}
                        "when" => kw.when.extend(conditions(v)),
                        "tags" => kw.tags.extend(string_list(&src, v, "tags")?),
                        "vars" => kw.vars.push(Arc::new(vars_map(&src, v)?)),
                        other => {
                            return Err(src.err(
                                k,
                                format!("'{other}' is not a valid keyword for import_playbook"),
                            ))
                        }
                    }
                }
                let Some(file) = target.as_str() else {
                    return Err(src.err(target, "import_playbook expects a file name"));
                };
                let file = if file.contains("{{") || file.contains("{%") {
                    // Ansible templates the name with the import's own vars (and extra vars).
                    self.template_at_load(file, &kw)
                        .map_err(|e| src.err(target, format!("import_playbook: {e}")))?
                } else {
                    file.to_string()
                };
                let target_path = resolve_relative(&dir, &file);
                if !target_path.is_file() {
                    return Err(src.err(
                        target,
                        format!(
                            "could not find playbook '{}' to import",
                            target_path.display()
                        ),
                    ));
                }
                self.load_playbook_into(&target_path, &kw, plays, depth + 1)?;
                continue;
            }
            plays.push(Arc::new(self.load_play(&src, entry, &dir, inherited)?));
        }
        Ok(())
    }

    fn load_play(&self, src: &Src, node: &Node, dir: &Path, inherited: &Keywords) -> Result<Play> {
        let map = node.as_map().unwrap_or_default();
        let mut kw = inherited.clone();
        let mut play = Play {
            loc: src.loc(node),
            name: None,
            hosts: Value::UNDEFINED,
            dir: dir.to_path_buf(),
            vars: Arc::new(Vars::new()),
            vars_files: Vec::new(),
            vars_prompt: Vec::new(),
            gather_facts: None,
            fact_path: None,
            strategy: Strategy::Linear,
            strategy_expr: None,
            serial: Vec::new(),
            max_fail_percentage: None,
            any_errors_fatal: false,
            force_handlers: None,
            order: None,
            keywords: Keywords::default(),
            pre_tasks: TaskList::default(),
            roles: TaskList::default(),
            tasks: TaskList::default(),
            post_tasks: TaskList::default(),
            handlers: TaskList::default(),
            tags: Vec::new(),
        };
        // Play vars first: the tasks below may be templated with them while loading.
        if let Some(v) = node.get("vars") {
            if let Ok(mut current) = self.play_vars.lock() {
                *current = Arc::new(vars_map(src, v)?);
            }
        } else if let Ok(mut current) = self.play_vars.lock() {
            *current = Arc::new(Vars::new());
        }
        if let (Some(user), true) = (node.get("user"), node.get("remote_user").is_some()) {
            return Err(src.err(
                user,
                "both 'user' and 'remote_user' are set for this play. The use of 'user' is deprecated, and should be removed",
            ));
        }
        for (k, v) in map {
            let key = k.as_str().unwrap_or_default();
            if !PLAY_KEYWORDS.contains(&key) {
                return Err(src.err(k, format!("'{key}' is not a valid attribute for a Play")));
            }
            match key {
                "name" => play.name = Some(scalar_string(src, v, "name")?),
                "user" => set_keyword(src, &mut kw, "remote_user", v)?,
                "hosts" => {
                    play.hosts = match &v.kind {
                        NodeKind::Seq(items) if items.is_empty() => {
                            return Err(src
                                .err(v, "Hosts list cannot be empty. Please check your playbook"));
                        }
                        NodeKind::Seq(items) => {
                            let parts: Vec<String> = items
                                .iter()
                                .map(|i| scalar_string(src, i, "hosts"))
                                .collect::<Result<_>>()?;
                            Value::from(parts.join(","))
                        }
                        NodeKind::Null => {
                            return Err(src
                                .err(v, "Hosts list cannot be empty. Please check your playbook"));
                        }
                        _ => Value::from(scalar_string(src, v, "hosts")?),
                    }
                }
                "vars" => {
                    self.warn_reserved(src, v);
                    play.vars = Arc::new(vars_map(src, v)?)
                }
                "vars_files" => {
                    play.vars_files = match &v.kind {
                        NodeKind::Seq(items) => items.iter().map(Node::to_value).collect(),
                        NodeKind::Null => Vec::new(),
                        _ => vec![v.to_value()],
                    }
                }
                "gather_facts" => play.gather_facts = Some(v.to_value()),
                "fact_path" => play.fact_path = Some(v.to_value()),
                "strategy" if v.as_str().is_some_and(|s| s.contains("{{")) => {
                    play.strategy_expr = Some(v.to_value())
                }
                "strategy" => {
                    play.strategy = match v.as_str() {
                        Some("linear") => Strategy::Linear,
                        Some("free") => Strategy::Free,
                        Some("host_pinned") => Strategy::HostPinned,
                        _ => {
                            return Err(src.err(
                                v,
                                "unknown strategy: expected one of linear, free, host_pinned",
                            ))
                        }
                    }
                }
                "serial" => play.serial = serial(src, v)?,
                "max_fail_percentage" => {
                    play.max_fail_percentage = Some(match &v.kind {
                        NodeKind::Int(i) => *i as f64,
                        NodeKind::Float(f) => *f,
                        NodeKind::Str(s) => s
                            .trim_end_matches('%')
                            .parse()
                            .map_err(|_| src.err(v, "max_fail_percentage must be a number"))?,
                        _ => return Err(src.err(v, "max_fail_percentage must be a number")),
                    })
                }
                "any_errors_fatal" => play.any_errors_fatal = bool_node(src, v)?,
                "force_handlers" => play.force_handlers = Some(bool_node(src, v)?),
                "order" => play.order = Some(scalar_string(src, v, "order")?),
                "tags" => play.tags = string_list(src, v, "tags")?,
                "vars_prompt" => play.vars_prompt = vars_prompt(src, v)?,
                "pre_tasks" | "roles" | "tasks" | "post_tasks" | "handlers" | "gather_subset"
                | "gather_timeout" | "collections" | "debugger" | "port" => {}
                _ => set_keyword(src, &mut kw, key, v)?,
            }
        }
        if play.hosts.is_undefined() {
            return Err(src.err(node, "the field 'hosts' is required but was not set"));
        }
        kw.tags.extend(play.tags.iter().cloned());
        play.keywords = kw.clone();
        let ctx = Ctx {
            dir: dir.to_path_buf(),
            role: None,
            inherited: kw,
        };
        let mut seen_roles: Vec<(PathBuf, String)> = Vec::new();
        let mut role_handlers = Vec::new();
        let mut role_tasks = Vec::new();
        if let Some(roles) = node.get("roles") {
            let entries = match &roles.kind {
                NodeKind::Seq(items) => items.as_slice(),
                NodeKind::Null => &[],
                _ => {
                    return Err(src.err(
                        roles,
                        "A malformed role declaration was encountered. roles must be a list",
                    ))
                }
            };
            for entry in entries {
                self.play_role(
                    src,
                    entry,
                    &ctx,
                    &mut seen_roles,
                    &mut role_tasks,
                    &mut role_handlers,
                )?;
            }
        }
        play.roles = Arc::new(role_tasks);
        let mut handlers = Vec::new();
        for (field, list) in [
            ("pre_tasks", &mut play.pre_tasks),
            ("tasks", &mut play.tasks),
            ("post_tasks", &mut play.post_tasks),
        ] {
            if let Some(n) = node.get(field) {
                if !matches!(n.kind, NodeKind::Seq(_) | NodeKind::Null) {
                    return Err(src.err(
                        n,
                        format!(
                            "A malformed block was encountered while loading {field}: {} should be a list or None",
                            n.to_value()
                        ),
                    ));
                }
                *list = Arc::new(self.task_list(src, n, &ctx, false)?);
            }
        }
        if let Some(n) = node.get("handlers") {
            handlers = self.task_list(src, n, &ctx, true)?;
        }
        handlers.extend(role_handlers);
        handlers.extend(self.imported_handlers.lock().map_err(poisoned)?.drain(..));
        play.handlers = Arc::new(handlers);
        Ok(play)
    }

    /// One entry of a play's `roles:`: the role's dependencies first (once each), then the role.
    fn play_role(
        &self,
        src: &Src,
        entry: &Node,
        ctx: &Ctx,
        seen: &mut Vec<(PathBuf, String)>,
        out: &mut Vec<Task>,
        handlers: &mut Vec<Task>,
    ) -> Result<()> {
        let (name_node, kw, params) = self.role_entry(src, entry, &ctx.inherited)?;
        let name = scalar_string(src, name_node, "role")?;
        // `role,version` was the pre-1.x requirement syntax Ansible still recognises to refuse.
        if name.contains(',') {
            return Err(src.err(
                name_node,
                format!("Invalid old style role requirement: {name}"),
            ));
        }
        let role = self.role(src, name_node, &name, &ctx.dir)?;
        self.push_role(role, params, kw, src.loc(entry), None, seen, out, handlers)
            .map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    fn push_role(
        &self,
        role: Arc<Role>,
        params: Vars,
        kw: Keywords,
        loc: Loc,
        parent: Option<Arc<RoleScope>>,
        seen: &mut Vec<(PathBuf, String)>,
        out: &mut Vec<Task>,
        handlers: &mut Vec<Task>,
    ) -> Result<Vars> {
        let key = (role.path.clone(), format!("{params:?}"));
        // Repeats are left to the engine, which runs a role once per play and host once it
        // completed (a role skipped by its condition may run later); a role among its own
        // ancestors is a dependency cycle.
        let mut ancestor = parent.as_deref();
        while let Some(a) = ancestor {
            if a.role.path == role.path && format!("{:?}", a.params) == key.1 {
                return Err(LoadError::Missing {
                    message: format!("{loc}: role '{}' depends on itself", role.name),
                });
            }
            ancestor = a.parent.as_deref();
        }
        let when = kw.when.clone();
        let scope = Arc::new(RoleScope {
            role: role.clone(),
            params: Arc::new(params),
            parent,
            // `allow_duplicates: true` in the role's meta lets it run again.
            once: !self.role_allows_duplicates(&role)?,
            public: None,
            dep_vars: std::sync::OnceLock::new(),
        });
        let mut dep_vars = Vars::new();
        for (dep_node_src, dep) in self.role_dependencies(&role)? {
            let (name_node, dep_kw, dep_params) = self.role_entry(&dep_node_src, &dep, &kw)?;
            let dep_name = scalar_string(&dep_node_src, name_node, "role")?;
            let dep_role = self.role(&dep_node_src, name_node, &dep_name, &role.path)?;
            dep_vars.extend(self.push_role(
                dep_role,
                dep_params,
                dep_kw,
                dep_node_src.loc(&dep),
                Some(scope.clone()),
                seen,
                out,
                handlers,
            )?);
        }
        let _ = scope.dep_vars.set(Arc::new(dep_vars.clone()));
        // What this role exports to the role that depends on it: its dependencies' vars, then
        // its own, as Ansible's Role.get_vars(only_exports) combines them.
        let mut exported = dep_vars;
        exported.extend(role.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let provided = scope.params.clone();
        let (tasks, role_handlers) =
            self.role_body(&scope, "main", "main", kw, Some(provided.as_ref()))?;
        // A role's handlers are listed once however often the role appears.
        if !seen.contains(&key) {
            seen.push(key);
            handlers.extend(role_handlers);
        }
        let mut marker = role_marker(scope, tasks, loc);
        marker.keywords.when = when;
        out.push(marker);
        Ok(exported)
    }

    /// Splits a `roles:` / `dependencies:` entry into the role name node, keywords and params.
    fn role_entry<'n>(
        &self,
        src: &Src,
        entry: &'n Node,
        inherited: &Keywords,
    ) -> Result<(&'n Node, Keywords, Vars)> {
        let mut kw = inherited.clone();
        let mut params = Vars::new();
        match &entry.kind {
            NodeKind::Str(_) => Ok((entry, kw, params)),
            NodeKind::Map(map) => {
                let mut name = None;
                for (k, v) in map {
                    let key = k.as_str().unwrap_or_default();
                    match key {
                        "role" | "name" => name = Some(v),
                        "vars" => {
                            for (pk, pv) in vars_map(src, v)? {
                                params.insert(pk, pv);
                            }
                        }
                        _ if ROLE_ENTRY_KEYWORDS.contains(&key) => {
                            set_keyword(src, &mut kw, key, v)?
                        }
                        _ => {
                            params.insert(key.to_string(), v.to_value());
                        }
                    }
                }
                let name = name.ok_or_else(|| {
                    src.err(
                        entry,
                        "role definitions must contain a role name ('role:' or 'name:')",
                    )
                })?;
                Ok((name, kw, params))
            }
            _ => Err(src.err(
                entry,
                format!(
                    "a role entry must be a name or a mapping, found {}",
                    entry.kind_name()
                ),
            )),
        }
    }

    /// The tasks and handlers of a role entry point (`tasks/<name>.yml`, `handlers/main.yml`).
    /// With `validate` (the role parameters), an entry point that has an argument spec starts
    /// with the task that validates it, as Ansible inserts it.
    fn role_body(
        &self,
        scope: &Arc<RoleScope>,
        tasks_from: &str,
        handlers_from: &str,
        kw: Keywords,
        validate: Option<&Vars>,
    ) -> Result<(Vec<Task>, Vec<Task>)> {
        let ctx = Ctx {
            dir: scope.role.path.join("tasks"),
            role: Some(scope.clone()),
            inherited: kw,
        };
        let validation =
            validate.and_then(|params| validation_task(scope, tasks_from, params, &ctx));
        let tasks = match find_role_file(scope, "tasks", tasks_from)? {
            Some(path) => {
                let (src, root) = self.read_yaml(&path)?;
                self.task_list(&src, &root, &ctx, false)?
            }
            None if tasks_from == "main" => Vec::new(),
            // An entry point with a spec but no file: only the validation runs.
            None if validation.is_some() => Vec::new(),
            None => {
                return Err(LoadError::Missing {
                    message: format!(
                        "could not find tasks file '{tasks_from}' in role '{}' ({})",
                        scope.role.name,
                        scope.role.path.join("tasks").display()
                    ),
                })
            }
        };
        let tasks = match validation {
            Some(v) => std::iter::once(v).chain(tasks).collect(),
            None => tasks,
        };
        let handler_ctx = Ctx {
            dir: scope.role.path.join("handlers"),
            ..ctx
        };
        let handlers = match find_role_file(scope, "handlers", handlers_from)? {
            Some(path) => {
                let (src, root) = self.read_yaml(&path)?;
                self.task_list(&src, &root, &handler_ctx, true)?
            }
            None if handlers_from == "main" => Vec::new(),
            None => {
                return Err(LoadError::Missing {
                    message: format!(
                        "could not find handlers file '{handlers_from}' in role '{}' ({})",
                        scope.role.name,
                        scope.role.path.join("handlers").display()
                    ),
                })
            }
        };
        Ok((tasks, handlers))
    }

    /// Whether the role's meta says `allow_duplicates: true` (it may then run more than once
    /// per play, like an included role).
    fn role_allows_duplicates(&self, role: &Role) -> Result<bool> {
        let Some(path) = find_yaml(&role.path.join("meta"), "main") else {
            return Ok(false);
        };
        let (_, root) = self.read_yaml(&path)?;
        Ok(root
            .get("allow_duplicates")
            .and_then(|v| bool_value(&v.to_value()))
            .unwrap_or(false))
    }

    fn role_dependencies(&self, role: &Role) -> Result<Vec<(Src, Node)>> {
        let Some(path) = find_yaml(&role.path.join("meta"), "main") else {
            return Ok(Vec::new());
        };
        let (src, root) = self.read_yaml(&path)?;
        let Some(deps) = root.get("dependencies") else {
            return Ok(Vec::new());
        };
        match &deps.kind {
            NodeKind::Seq(items) => Ok(items.iter().map(|n| (src.clone(), n.clone())).collect()),
            NodeKind::Null => Ok(Vec::new()),
            _ => Err(src.err(deps, "role dependencies must be a list")),
        }
    }

    /// Finds and loads (once) the role called `name`.
    fn role(&self, src: &Src, at: &Node, name: &str, from_dir: &Path) -> Result<Arc<Role>> {
        let path = self
            .find_role(name, from_dir)
            .ok_or_else(|| src.err(at, self.role_not_found(name, from_dir)))?;
        self.role_at(&path, name)
    }

    /// Ansible's message for a role it cannot find, with the directories it searched.
    fn role_not_found(&self, name: &str, from_dir: &Path) -> String {
        let searched: Vec<String> = self
            .role_search_dirs(from_dir)
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        format!("the role '{name}' was not found in {}", searched.join(":"))
    }

    /// Loads the role in directory `path` (cached).
    pub fn role_at(&self, path: &Path, name: &str) -> Result<Arc<Role>> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if let Some(r) = self.roles.lock().map_err(poisoned)?.get(&canonical) {
            return Ok(r.clone());
        }
        let defaults = load_vars_file_opt(&canonical.join("defaults"), "main")?;
        let vars = load_vars_file_opt(&canonical.join("vars"), "main")?;
        let argument_specs = self.role_argument_specs(&canonical.join("meta"))?;
        let fqcn = collection_role(name).map(|_| name.to_string());
        let role_name = match collection_role(name) {
            Some((_, _, short)) => short.to_string(),
            None => Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| name.to_string()),
        };
        let role = Arc::new(Role {
            name: role_name,
            fqcn,
            path: canonical.clone(),
            defaults: Arc::new(defaults),
            vars: Arc::new(vars),
            argument_specs,
        });
        self.roles
            .lock()
            .map_err(poisoned)?
            .insert(canonical, role.clone());
        Ok(role)
    }

    /// A role's argument specs: `meta/argument_specs.yml` if it exists (even when it holds
    /// none, as in Ansible), else the `argument_specs` of `meta/main.yml`.
    fn role_argument_specs(&self, meta: &Path) -> Result<Option<RoleArgSpecs>> {
        let (src, root) = match find_yaml(meta, "argument_specs") {
            Some(path) => self.read_yaml(&path)?,
            None => match find_yaml(meta, "main") {
                Some(path) => self.read_yaml(&path)?,
                None => return Ok(None),
            },
        };
        let Some(specs) = root.get("argument_specs") else {
            return Ok(None);
        };
        let entry_points = match &specs.kind {
            NodeKind::Null => return Ok(None),
            NodeKind::Map(map) => {
                let mut out = Vars::new();
                for (k, v) in map {
                    if !matches!(v.kind, NodeKind::Map(_) | NodeKind::Null) {
                        return Err(src.err(
                            v,
                            format!(
                                "the argument spec of entry point '{}' must be a mapping, found {}",
                                key_string(k),
                                v.kind_name()
                            ),
                        ));
                    }
                    if let Some(options) = v.get("options") {
                        if !matches!(options.kind, NodeKind::Map(_) | NodeKind::Null) {
                            return Err(src.err(
                                options,
                                format!(
                                    "the options of entry point '{}' must be a mapping, found {}",
                                    key_string(k),
                                    options.kind_name()
                                ),
                            ));
                        }
                    }
                    // The spec is data: nothing in it is ever templated.
                    out.insert(key_string(k), drover_yaml::mark_unsafe(v.to_value()));
                }
                out
            }
            _ => {
                return Err(src.err(
                    specs,
                    format!(
                        "argument_specs must be a mapping of entry points, found {}",
                        specs.kind_name()
                    ),
                ))
            }
        };
        Ok(Some(RoleArgSpecs {
            loc: src.loc(specs),
            entry_points,
        }))
    }

    fn role_search_dirs(&self, from_dir: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![self.base_dir.join("roles")];
        dirs.extend(self.config.roles_path.iter().cloned());
        // A role's own directory's parent, so sibling roles resolve as dependencies (a play's
        // directory is the playbook's, whose parent Ansible does not search).
        if from_dir != self.base_dir.as_path() {
            if let Some(parent) = from_dir.parent() {
                dirs.push(parent.to_path_buf());
            }
        }
        dirs.push(self.base_dir.clone());
        dirs
    }

    /// Where the role called `name` lives: a path if it contains `/`, else the search path.
    pub fn find_role(&self, name: &str, from_dir: &Path) -> Option<PathBuf> {
        if name.contains('/') {
            let p = resolve_relative(&self.base_dir, name);
            return p.is_dir().then_some(p);
        }
        if let Some((ns, col, role)) = collection_role(name) {
            let roots = std::iter::once(self.base_dir.join("collections"))
                .chain(self.config.collections_path.iter().cloned());
            for root in roots {
                let base = if root.ends_with("ansible_collections") {
                    root
                } else {
                    root.join("ansible_collections")
                };
                let p = base.join(ns).join(col).join("roles").join(role);
                if p.is_dir() {
                    return Some(p);
                }
            }
            return None;
        }
        self.role_search_dirs(from_dir)
            .into_iter()
            .map(|d| d.join(name))
            .find(|p| p.is_dir())
    }

    /// Loads a task file for `include_tasks` at run time, with the include's keywords and role.
    /// `handlers`: the file is included by a handler, so handler rules apply to it.
    pub fn load_tasks_file(
        &self,
        path: &Path,
        role: Option<Arc<RoleScope>>,
        inherited: Keywords,
        handlers: bool,
    ) -> Result<Vec<Task>> {
        let (src, root) = self.read_yaml(path)?;
        let ctx = Ctx {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            role,
            inherited,
        };
        let mut tasks = self.task_list(&src, &root, &ctx, handlers)?;
        if !ctx.inherited.notify.is_empty() {
            add_notify(&mut tasks, &ctx.inherited.notify);
        }
        Ok(tasks)
    }

    /// Builds the role scope and tasks for `include_role`/`import_role`, returning the
    /// role's tasks (as one role marker task) and its handlers.
    #[allow(clippy::too_many_arguments)]
    pub fn load_role_include(
        &self,
        name: &str,
        from_dir: &Path,
        params: Vars,
        from: RoleFiles<'_>,
        inherited: Keywords,
        loc: Loc,
        parent: Option<Arc<RoleScope>>,
    ) -> Result<(Task, Vec<Task>)> {
        let (tasks_from, handlers_from) = (from.tasks, from.handlers);
        let path = self
            .find_role(name, from_dir)
            .ok_or_else(|| LoadError::Missing {
                message: self.role_not_found(name, from_dir),
            })?;
        let role = self.role_at(&path, name)?;
        let scope = Arc::new(RoleScope {
            role,
            params: Arc::new(params),
            parent,
            once: from.allow_duplicates == Some(false),
            public: from.public,
            dep_vars: std::sync::OnceLock::new(),
        });
        let mut out = Vec::new();
        let mut handlers = Vec::new();
        let mut seen = Vec::new();
        let mut dep_vars = Vars::new();
        for (dep_src, dep) in self.role_dependencies(&scope.role)? {
            let (name_node, dep_kw, dep_params) = self.role_entry(&dep_src, &dep, &inherited)?;
            let dep_name = scalar_string(&dep_src, name_node, "role")?;
            let dep_role = self.role(&dep_src, name_node, &dep_name, &scope.role.path)?;
            dep_vars.extend(self.push_role(
                dep_role,
                dep_params,
                dep_kw,
                dep_src.loc(&dep),
                Some(scope.clone()),
                &mut seen,
                &mut out,
                &mut handlers,
            )?);
        }
        let _ = scope.dep_vars.set(Arc::new(dep_vars));
        // Variables given to include_role/import_role are not role parameters: validation reads
        // them as variables, and names outside the spec are not errors.
        let no_params = Vars::new();
        let (tasks, role_handlers) = self.role_body(
            &scope,
            tasks_from.unwrap_or("main"),
            handlers_from.unwrap_or("main"),
            inherited,
            (!from.skip_validation).then_some(&no_params),
        )?;
        handlers.extend(role_handlers);
        // Roles the included role imports statically bring their handlers along.
        handlers.extend(self.imported_handlers.lock().map_err(poisoned)?.drain(..));
        out.push(role_marker(scope, tasks, loc.clone()));
        let block = Task {
            loc,
            name: None,
            kind: TaskKind::Block {
                block: Arc::new(out),
                rescue: TaskList::default(),
                always: TaskList::default(),
            },
            ..empty_task()
        };
        Ok((block, handlers))
    }

    fn task_list(&self, src: &Src, node: &Node, ctx: &Ctx, handlers: bool) -> Result<Vec<Task>> {
        let items = match &node.kind {
            NodeKind::Seq(items) => items.as_slice(),
            NodeKind::Null => &[],
            _ => {
                return Err(src.err(
                    node,
                    format!("a task list must be a list, found {}", node.kind_name()),
                ))
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            self.task(src, item, ctx, handlers, &mut out)?;
        }
        Ok(out)
    }

    /// Reads one entry of a task list into `out` (an import adds several).
    fn task(
        &self,
        src: &Src,
        node: &Node,
        ctx: &Ctx,
        handler: bool,
        out: &mut Vec<Task>,
    ) -> Result<()> {
        let Some(map) = node.as_map() else {
            return Err(src.err(
                node,
                format!("a task must be a mapping, found {}", node.kind_name()),
            ));
        };
        if node.get("block").is_some() {
            return self.block(src, node, map, ctx, handler, out);
        }
        let mut task = empty_task();
        task.loc = src.loc(node);
        task.role = ctx.role.clone();
        let mut kw = ctx.inherited.clone();
        let mut own = Keywords::default();
        let mut action: Option<(&Node, &Node)> = None;
        let mut loop_seen: Option<&Node> = None;
        let mut args_extra: Option<&Node> = None;
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                return Err(src.err(k, "task keys must be strings"));
            };
            if let Some(lookup) = key.strip_prefix("with_") {
                if let Some(prev) = loop_seen {
                    return Err(src.err(
                        k,
                        format!(
                            "only one of loop or with_* may be used per task (also at line {})",
                            prev.span.start.line
                        ),
                    ));
                }
                loop_seen = Some(k);
                task.loop_ = Some(LoopSpec::With {
                    lookup: lookup.to_string(),
                    terms: v.to_value(),
                });
                continue;
            }
            if !TASK_KEYWORDS.contains(&key) {
                if let Some((prev, _)) = action {
                    return Err(src.err(
                        k,
                        format!(
                            "conflicting action statements: {}, {key}",
                            prev.as_str().unwrap_or_default()
                        ),
                    ));
                }
                action = Some((k, v));
                continue;
            }
            match key {
                "name" => task.name = Some(scalar_string(src, v, "name")?),
                "action" | "local_action" => {
                    if let Some((prev, _)) = action {
                        return Err(src.err(
                            k,
                            format!(
                                "conflicting action statements: {}, {key}",
                                prev.as_str().unwrap_or_default()
                            ),
                        ));
                    }
                    if key == "local_action" {
                        own.delegate_to = Some(Value::from("localhost"));
                    }
                    action = Some((k, v));
                }
                "args" => args_extra = Some(v),
                "register" => {
                    let name = scalar_string(src, v, "register")?;
                    check_var_name(src, v, &name)?;
                    task.register = Some(name);
                }
                "loop" => {
                    if let Some(prev) = loop_seen {
                        return Err(src.err(
                            k,
                            format!(
                                "only one of loop or with_* may be used per task (also at line {})",
                                prev.span.start.line
                            ),
                        ));
                    }
                    loop_seen = Some(k);
                    task.loop_ = Some(LoopSpec::Loop(v.to_value()));
                }
                "loop_control" => {
                    if v.as_map().is_none() {
                        return Err(src.err(v, "loop_control must be a mapping"));
                    }
                    for (lk, _) in v.as_map().unwrap_or_default() {
                        let lkey = lk.as_str().unwrap_or_default();
                        if ![
                            "loop_var",
                            "index_var",
                            "label",
                            "pause",
                            "extended",
                            "extended_allitems",
                            "break_when",
                        ]
                        .contains(&lkey)
                        {
                            return Err(
                                src.err(lk, format!("'{lkey}' is not a valid loop_control option"))
                            );
                        }
                    }
                    task.loop_control = Some(v.to_value());
                }
                "until" => task.until = Some(v.to_value()),
                "retries" => task.retries = Some(v.to_value()),
                "delay" => task.delay = Some(v.to_value()),
                "changed_when" => task.changed_when = conditions(v),
                "failed_when" => task.failed_when = conditions(v),
                "notify" => task.notify = string_list(src, v, "notify")?,
                "listen" => {
                    if !handler {
                        return Err(src.err(k, "'listen' is only valid on handlers"));
                    }
                    task.listen = string_list(src, v, "listen")?;
                }
                "async" => task.async_ = Some(v.to_value()),
                "poll" => task.poll = Some(v.to_value()),
                "collections" | "debugger" | "port" => {}
                _ => {
                    if key == "vars" {
                        self.warn_reserved(src, v);
                    }
                    set_keyword(src, &mut own, key, v)?
                }
            }
        }
        let Some((action_key, action_value)) = action else {
            return Err(src.err(
                node,
                "no module/action detected in task (expected a module name such as 'command', or 'block')",
            ));
        };
        let mut module = strip_builtin(action_key.as_str().unwrap_or_default()).to_string();
        let mut args_node = action_value;
        let mut args = if module == "action" || module == "local_action" {
            // `action: copy src=a dest=b` or `action: {module: copy, src: a}`
            match &action_value.kind {
                NodeKind::Str(s) => {
                    let s = s.trim();
                    // The module may itself be a template (`action: "{{ mod }} msg=x"`): it
                    // runs to the end of its `}}`, spaces inside included.
                    let (m, rest) = match s.strip_prefix("{{").and_then(|r| r.find("}}")) {
                        Some(end) => s.split_at(end + 4),
                        None => s.split_once(char::is_whitespace).unwrap_or((s, "")),
                    };
                    module = strip_builtin(m).to_string();
                    Args::Free(rest.trim().to_string())
                }
                NodeKind::Map(m) => {
                    let mut vars = Vars::new();
                    let mut name = None;
                    for (k, v) in m {
                        match (k.as_str(), &v.kind) {
                            (Some("module"), _) => name = v.as_str().map(str::to_string),
                            // `action: {module: x, args: {...}}`: the arguments of the module.
                            (Some("args"), NodeKind::Map(inner)) => {
                                for (ik, iv) in inner {
                                    vars.insert(key_string(ik), iv.to_value());
                                }
                            }
                            _ => {
                                vars.insert(key_string(k), v.to_value());
                            }
                        }
                    }
                    module = strip_builtin(&name.ok_or_else(|| {
                        src.err(action_value, "no module name given to 'action'")
                    })?)
                    .to_string();
                    Args::Map(vars)
                }
                _ => {
                    return Err(
                        src.err(action_value, "'action' expects a module name and arguments")
                    )
                }
            }
        } else {
            match &action_value.kind {
                NodeKind::Map(m) => Args::Map(
                    m.iter()
                        .map(|(k, v)| (key_string(k), v.to_value()))
                        .collect(),
                ),
                NodeKind::Null => Args::Map(Vars::new()),
                NodeKind::Str(s) => Args::Free(s.clone()),
                NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                    Args::Free(action_value.scalar_text().unwrap_or_default())
                }
                NodeKind::Seq(_) => {
                    return Err(src.err(
                        action_value,
                        format!(
                        "the arguments of '{module}' must be a mapping or a string, found a list"
                    ),
                    ))
                }
            }
        };
        if let Some(extra) = args_extra {
            let Some(m) = extra.as_map() else {
                return Err(src.err(extra, "'args' must be a mapping"));
            };
            let mut merged = match args {
                Args::Map(m) => m,
                Args::Free(s) if s.is_empty() => Vars::new(),
                Args::Free(s) => {
                    let mut v = Vars::new();
                    v.insert("_free_form".to_string(), Value::from(s));
                    v
                }
            };
            for (k, v) in m {
                merged.insert(key_string(k), v.to_value());
            }
            args = Args::Map(merged);
            args_node = extra;
        }
        // Own keywords on top of the inherited ones.
        merge_keywords(&mut kw, own);
        // Result keys starting with `_ansible_` steer Ansible itself; arguments may not set them.
        if let Args::Map(m) = &args {
            let free_form = matches!(module.as_str(), "command" | "shell" | "script" | "raw");
            if let Some(k) = m
                .keys()
                .find(|k| k.starts_with("_ansible_"))
                .filter(|_| !free_form)
            {
                return Err(src.err(
                    args_node,
                    format!(
                        "Invalid parameter specified beginning with keyword '_ansible_' for action '{module}': '{k}'. The prefix '_ansible_' is reserved for internal use only."
                    ),
                ));
            }
        }
        match module.as_str() {
            "include" => Err(src.err(
                action_key,
                "'include' was removed from Ansible; use include_tasks or import_tasks",
            )),
            "import_playbook" => Err(src.err(
                action_key,
                "import_playbook is only allowed at the top level of a playbook, not as a task",
            )),
            "import_tasks" => {
                let mut file = include_file_arg(src, action_value, &args)?;
                // The variables a static import may use are known at load time.
                if let Some(scope) = &ctx.role {
                    for pat in ["{{ role_path }}", "{{role_path}}"] {
                        file = file.replace(pat, &scope.role.path.display().to_string());
                    }
                }
                for pat in ["{{ playbook_dir }}", "{{playbook_dir}}"] {
                    file = file.replace(pat, &self.base_dir.display().to_string());
                }
                if file.contains("{{") {
                    return Err(src.err(action_value, "import_tasks is static: its file name cannot use host variables (use include_tasks)"));
                }
                let path = self.task_file_path(ctx, &file);
                if !path.is_file() {
                    return Err(src.err(
                        action_value,
                        format!(
                            "could not find or access '{file}' (looked for {})",
                            path.display()
                        ),
                    ));
                }
                let params = match &args {
                    Args::Map(m) => m
                        .iter()
                        .filter(|(k, _)| k.as_str() != "file" && k.as_str() != "_raw_params")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    Args::Free(_) => Vars::new(),
                };
                if !params.is_empty() {
                    kw.vars.push(Arc::new(params));
                }
                let (isrc, root) = self.read_yaml(&path)?;
                let ictx = Ctx {
                    dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                    role: ctx.role.clone(),
                    inherited: kw,
                };
                let mut tasks = self.task_list(&isrc, &root, &ictx, handler)?;
                // `notify` on the import reaches every imported task.
                if !task.notify.is_empty() {
                    add_notify(&mut tasks, &task.notify);
                }
                out.extend(tasks);
                Ok(())
            }
            "include_tasks" => {
                let (file, apply, params) = match &args {
                    Args::Free(s) => (
                        Value::from(free_file_arg(s).map_err(|e| src.err(args_node, e))?),
                        Keywords::default(),
                        Vars::new(),
                    ),
                    Args::Map(m) => {
                        let mut file = None;
                        let mut apply = Keywords::default();
                        let mut params = Vars::new();
                        for (k, v) in m {
                            match k.as_str() {
                                "file" | "_raw_params" | "_free_form" => file = Some(v.clone()),
                                "apply" => apply = apply_keywords(src, args_node, v)?,
                                _ => {
                                    params.insert(k.clone(), v.clone());
                                }
                            }
                        }
                        let file = file.ok_or_else(|| {
                            src.err(args_node, "include_tasks requires a file name ('file:')")
                        })?;
                        (file, apply, params)
                    }
                };
                // Variables on an include are passed to the included tasks.
                let mut params = params;
                for scope in kw.vars.iter().skip(ctx.inherited.vars.len()) {
                    for (k, v) in scope.iter() {
                        params.insert(k.clone(), v.clone());
                    }
                }
                task.kind = TaskKind::IncludeTasks {
                    file,
                    apply,
                    params: Arc::new(params),
                };
                task.keywords = kw;
                out.push(task);
                Ok(())
            }
            "import_role" | "include_role" if handler => Err(src.err(
                node,
                format!("Using '{module}' as a handler is not supported."),
            )),
            "import_role" | "include_role" => {
                // `include_role: name=x tasks_from=y` is the k=v form of the same mapping.
                let kv_args;
                let m = match &args {
                    Args::Map(m) => m,
                    Args::Free(s) => {
                        kv_args = parse_kv_words(s).map_err(|e| src.err(action_value, e))?;
                        &kv_args
                    }
                };
                let mut inc = RoleInclude {
                    name: Value::UNDEFINED,
                    name_loc: args_node
                        .get("name")
                        .or_else(|| args_node.get("role"))
                        .map(|n| src.loc(n)),
                    tasks_from: None,
                    vars_from: None,
                    defaults_from: None,
                    handlers_from: None,
                    public: None,
                    allow_duplicates: None,
                    rolespec_validate: None,
                    apply: Keywords::default(),
                    params: Arc::new(Vars::new()),
                };
                for (k, v) in m {
                    match k.as_str() {
                        "name" | "role" => inc.name = v.clone(),
                        "tasks_from" => inc.tasks_from = Some(v.clone()),
                        "vars_from" => inc.vars_from = Some(v.clone()),
                        "defaults_from" => inc.defaults_from = Some(v.clone()),
                        "handlers_from" => inc.handlers_from = Some(v.clone()),
                        "public" => {
                            inc.public = Some(bool_value(v).ok_or_else(|| {
                                src.err(args_node, format!("{module}: public must be a boolean"))
                            })?)
                        }
                        "allow_duplicates" => {
                            inc.allow_duplicates = Some(bool_value(v).ok_or_else(|| {
                                src.err(
                                    args_node,
                                    format!("{module}: allow_duplicates must be a boolean"),
                                )
                            })?)
                        }
                        "rolespec_validate" => {
                            inc.rolespec_validate = Some(bool_value(v).ok_or_else(|| {
                                src.err(
                                    args_node,
                                    format!("{module}: rolespec_validate must be a boolean"),
                                )
                            })?)
                        }
                        "apply" if module == "include_role" => {
                            inc.apply = apply_keywords(src, args_node, v)?
                        }
                        other => {
                            return Err(
                                src.err(args_node, format!("invalid option for {module}: {other}"))
                            )
                        }
                    }
                }
                if inc.name.is_undefined() {
                    return Err(src.err(
                        action_value,
                        format!("{module} requires a role name ('name:')"),
                    ));
                }
                let own_vars: Vars = kw
                    .vars
                    .iter()
                    .skip(ctx.inherited.vars.len())
                    .flat_map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .collect();
                if module == "import_role" {
                    let name = inc.name.as_str().map(str::to_string).ok_or_else(|| {
                        src.err(action_value, "import_role needs a literal role name")
                    })?;
                    let name = if name.contains("{{") {
                        // Templated while loading, with the variables known then (import and
                        // block vars, extra vars), as Ansible does.
                        self.template_at_load(&name, &kw).map_err(|e| {
                            src.err(
                                action_value,
                                format!("import_role is static: its name must be known when the playbook is loaded ({e}); use include_role"),
                            )
                        })?
                    } else {
                        name
                    };
                    let tasks_from = inc
                        .tasks_from
                        .as_ref()
                        .and_then(|v| v.as_str().map(str::to_string));
                    let handlers_from = inc
                        .handlers_from
                        .as_ref()
                        .and_then(|v| v.as_str().map(str::to_string));
                    let role_dir = ctx
                        .role
                        .as_ref()
                        .map(|r| r.role.path.clone())
                        .unwrap_or_else(|| ctx.dir.clone());
                    let (block, handlers) = self
                        .load_role_include(
                            &name,
                            &role_dir,
                            own_vars,
                            RoleFiles {
                                tasks: tasks_from.as_deref(),
                                handlers: handlers_from.as_deref(),
                                public: inc.public,
                                allow_duplicates: inc.allow_duplicates,
                                skip_validation: inc.rolespec_validate == Some(false),
                            },
                            kw,
                            task.loc.clone(),
                            ctx.role.clone(),
                        )
                        .map_err(|e| match e {
                            LoadError::Missing { message } => src.err(action_value, message),
                            other => other,
                        })?;
                    self.imported_handlers
                        .lock()
                        .map_err(poisoned)?
                        .extend(handlers);
                    out.push(block);
                    return Ok(());
                }
                inc.params = Arc::new(own_vars);
                task.kind = TaskKind::IncludeRole(inc);
                task.keywords = kw;
                out.push(task);
                Ok(())
            }
            "meta"
                if (handler || ctx.role.is_none())
                    && matches!(&args, Args::Free(a) if a.trim() == "end_role") =>
            {
                let message = if handler {
                    "Cannot execute 'end_role' from a handler"
                } else {
                    "Cannot execute 'end_role' from outside of a role"
                };
                Err(LoadError::Refused {
                    message: message.into(),
                    loc: task.loc.clone(),
                })
            }
            _ => {
                task.kind = TaskKind::Action {
                    module,
                    args,
                    args_loc: src.loc(args_node),
                };
                task.keywords = kw;
                out.push(task);
                Ok(())
            }
        }
    }

    fn block(
        &self,
        src: &Src,
        node: &Node,
        map: &[(Node, Node)],
        ctx: &Ctx,
        handler: bool,
        out: &mut Vec<Task>,
    ) -> Result<()> {
        let mut own = Keywords::default();
        let mut name = None;
        let mut notify = Vec::new();
        for (k, v) in map {
            let key = k.as_str().unwrap_or_default();
            if !BLOCK_KEYWORDS.contains(&key) {
                return Err(src.err(k, format!("'{key}' is not a valid attribute for a Block")));
            }
            match key {
                "block" | "rescue" | "always" => {}
                "name" => name = Some(scalar_string(src, v, "name")?),
                "notify" => notify = string_list(src, v, "notify")?,
                "collections" | "debugger" | "port" => {}
                _ => {
                    if key == "vars" {
                        self.warn_reserved(src, v);
                    }
                    set_keyword(src, &mut own, key, v)?
                }
            }
        }
        let mut kw = ctx.inherited.clone();
        merge_keywords(&mut kw, own);
        let inner = Ctx {
            inherited: kw.clone(),
            ..ctx.clone()
        };
        let mut lists: [Vec<Task>; 3] = Default::default();
        for (i, field) in ["block", "rescue", "always"].iter().enumerate() {
            if let Some(n) = node.get(field) {
                // A block in handlers is only a way to group them; a block inside it would be
                // a handler made of tasks, which Ansible refuses.
                if handler {
                    if let Some(nested) = n
                        .as_seq()
                        .and_then(|items| items.iter().find(|item| item.get("block").is_some()))
                    {
                        return Err(src.err(nested, "Using a block as a handler is not supported."));
                    }
                }
                lists[i] = self.task_list(src, n, &inner, handler)?;
                if !notify.is_empty() {
                    add_notify(&mut lists[i], &notify);
                }
            }
        }
        let [block, rescue, always] = lists;
        out.push(Task {
            loc: src.loc(node),
            name,
            kind: TaskKind::Block {
                block: Arc::new(block),
                rescue: Arc::new(rescue),
                always: Arc::new(always),
            },
            keywords: kw,
            role: ctx.role.clone(),
            ..empty_task()
        });
        Ok(())
    }

    fn task_file_path(&self, ctx: &Ctx, file: &str) -> PathBuf {
        let direct = resolve_relative(&ctx.dir, file);
        if direct.exists() {
            return direct;
        }
        if let Some(scope) = &ctx.role {
            let in_role = scope.role.path.join("tasks").join(file);
            if in_role.exists() {
                return in_role;
            }
        }
        let from_base = resolve_relative(&self.base_dir, file);
        if from_base.exists() {
            return from_base;
        }
        direct
    }
}

fn poisoned<T>(_: T) -> LoadError {
    LoadError::Missing {
        message: "internal error: role cache lock poisoned".to_string(),
    }
}

/// The task Ansible puts first in a role entry point that has an argument spec: it validates
/// the role's variables (and `params`, the role parameters of a `roles:` entry) against the
/// entry point's `options`, tagged `always` so that tag selection never skips it.
fn validation_task(
    scope: &Arc<RoleScope>,
    entry_point: &str,
    params: &Vars,
    ctx: &Ctx,
) -> Option<Task> {
    let specs = scope.role.argument_specs.as_ref()?;
    let spec = specs.entry_points.get(entry_point)?;
    // An entry point written with nothing under it has no spec, as in Ansible.
    if spec.is_none() || spec.len() == Some(0) {
        return None;
    }
    let mut name = format!("Validating arguments against arg spec '{entry_point}'");
    if let Ok(short) = spec.get_attr("short_description") {
        if !short.is_undefined() && !short.is_none() {
            name.push_str(" - ");
            name.push_str(&short.to_string());
        }
    }
    let options = spec
        .get_attr("options")
        .ok()
        .filter(|o| !o.is_undefined() && !o.is_none())
        .unwrap_or_else(|| Value::from_pairs(Vec::<(&str, Value)>::new()));
    let context = Value::from_pairs([
        ("type", Value::from("role")),
        ("name", Value::from(scope.role.name.as_str())),
        ("argument_spec_name", Value::from(entry_point)),
        ("path", Value::from(scope.role.path.display().to_string())),
    ]);
    let mut args = Vars::new();
    args.insert("argument_spec".into(), options);
    args.insert(
        "provided_arguments".into(),
        Value::from_pairs(params.iter().map(|(k, v)| (k.as_str(), v.clone()))),
    );
    args.insert("validate_args_context".into(), context);
    let mut keywords = ctx.inherited.clone();
    if !keywords.tags.iter().any(|t| t == "always") {
        keywords.tags.push("always".into());
    }
    Some(Task {
        loc: specs.loc.clone(),
        name: Some(name),
        kind: TaskKind::Action {
            module: "validate_argument_spec".into(),
            args: Args::Map(args),
            args_loc: specs.loc.clone(),
        },
        keywords,
        role: Some(scope.clone()),
        ..empty_task()
    })
}

fn role_marker(scope: Arc<RoleScope>, tasks: Vec<Task>, loc: Loc) -> Task {
    Task {
        loc,
        name: None,
        kind: TaskKind::RoleTasks {
            scope: scope.clone(),
            tasks: Arc::new(tasks),
        },
        role: Some(scope),
        ..empty_task()
    }
}

fn add_notify(tasks: &mut [Task], notify: &[String]) {
    for t in tasks {
        match &mut t.kind {
            TaskKind::Block {
                block,
                rescue,
                always,
            } => {
                add_notify(Arc::make_mut(block).as_mut_slice(), notify);
                add_notify(Arc::make_mut(rescue).as_mut_slice(), notify);
                add_notify(Arc::make_mut(always).as_mut_slice(), notify);
            }
            _ => t.notify.extend(notify.iter().cloned()),
        }
    }
}

fn empty_task() -> Task {
    Task {
        loc: Loc::default(),
        name: None,
        kind: TaskKind::Block {
            block: TaskList::default(),
            rescue: TaskList::default(),
            always: TaskList::default(),
        },
        keywords: Keywords::default(),
        register: None,
        loop_: None,
        loop_control: None,
        until: None,
        retries: None,
        delay: None,
        changed_when: Vec::new(),
        failed_when: Vec::new(),
        notify: Vec::new(),
        listen: Vec::new(),
        async_: None,
        poll: None,
        role: None,
    }
}

/// `own` on top of `base`: conditions and scopes accumulate, tags unite, scalars override.
fn merge_keywords(base: &mut Keywords, own: Keywords) {
    base.when.extend(own.when);
    for t in own.tags {
        if !base.tags.contains(&t) {
            base.tags.push(t);
        }
    }
    base.vars.extend(own.vars);
    base.environment.extend(own.environment);
    base.module_defaults.extend(own.module_defaults);
    macro_rules! over {
        ($($f:ident),*) => { $( if own.$f.is_some() { base.$f = own.$f; } )* };
    }
    over!(
        become_,
        become_user,
        become_method,
        become_flags,
        become_exe,
        ignore_errors,
        ignore_unreachable,
        no_log,
        check_mode,
        diff,
        delegate_to,
        delegate_facts,
        run_once,
        any_errors_fatal,
        throttle,
        timeout,
        remote_user,
        connection
    );
}

/// Sets an inheritable keyword from its node.
fn set_keyword(src: &Src, kw: &mut Keywords, key: &str, v: &Node) -> Result<()> {
    let val = || Some(v.to_value());
    match key {
        "when" => kw.when.extend(conditions(v)),
        "tags" => {
            for t in string_list(src, v, "tags")? {
                if !kw.tags.contains(&t) {
                    kw.tags.push(t);
                }
            }
        }
        "vars" => kw.vars.push(Arc::new(vars_map(src, v)?)),
        "become" => kw.become_ = val(),
        "become_user" => kw.become_user = val(),
        "become_method" => kw.become_method = val(),
        "become_flags" => kw.become_flags = val(),
        "become_exe" => kw.become_exe = val(),
        "ignore_errors" => kw.ignore_errors = val(),
        "ignore_unreachable" => kw.ignore_unreachable = val(),
        "no_log" => kw.no_log = val(),
        "check_mode" => kw.check_mode = val(),
        "diff" => kw.diff = val(),
        "environment" => kw.environment.push(v.to_value()),
        "delegate_to" => kw.delegate_to = val(),
        "delegate_facts" => kw.delegate_facts = val(),
        "run_once" => kw.run_once = val(),
        "any_errors_fatal" => kw.any_errors_fatal = val(),
        "throttle" => kw.throttle = val(),
        "timeout" => kw.timeout = val(),
        "remote_user" => kw.remote_user = val(),
        "connection" => kw.connection = val(),
        "module_defaults" => kw.module_defaults.push(v.to_value()),
        _ => return Err(src.err(v, format!("'{key}' is not a valid keyword here"))),
    }
    Ok(())
}

fn apply_keywords(src: &Src, at: &Node, v: &Value) -> Result<Keywords> {
    // `apply` arrives as a converted value; rebuild keyword fields from it.
    let mut kw = Keywords::default();
    let Ok(keys) = v.try_iter() else {
        return Err(src.err(at, "'apply' must be a mapping"));
    };
    for key in keys {
        let k = key.as_str().unwrap_or_default().to_string();
        let val = v.get_item(&key).unwrap_or(Value::UNDEFINED);
        match k.as_str() {
            "when" => match val.as_str() {
                Some(_) => kw.when.push(val),
                None => kw.when.extend(val.try_iter().into_iter().flatten()),
            },
            "tags" => match val.as_str() {
                Some(s) => kw.tags.extend(s.split(',').map(|t| t.trim().to_string())),
                None => kw
                    .tags
                    .extend(val.try_iter().into_iter().flatten().map(|t| t.to_string())),
            },
            "vars" => {
                let mut vars = Vars::new();
                if let Ok(it) = val.try_iter() {
                    for vk in it {
                        let item = val.get_item(&vk).unwrap_or(Value::UNDEFINED);
                        vars.insert(vk.to_string(), item);
                    }
                }
                kw.vars.push(Arc::new(vars));
            }
            "become" => kw.become_ = Some(val),
            "become_user" => kw.become_user = Some(val),
            "become_method" => kw.become_method = Some(val),
            "ignore_errors" => kw.ignore_errors = Some(val),
            "no_log" => kw.no_log = Some(val),
            "check_mode" => kw.check_mode = Some(val),
            "diff" => kw.diff = Some(val),
            "environment" => kw.environment.push(val),
            "delegate_to" => kw.delegate_to = Some(val),
            "run_once" => kw.run_once = Some(val),
            "remote_user" => kw.remote_user = Some(val),
            "notify" => match val.as_str() {
                Some(s) => kw.notify.push(s.to_string()),
                None => kw
                    .notify
                    .extend(val.try_iter().into_iter().flatten().map(|t| t.to_string())),
            },
            other => return Err(src.err(at, format!("'{other}' cannot be used in 'apply'"))),
        }
    }
    Ok(kw)
}

/// `k=v` words (quotes allowed) into a mapping, for keywords that also take that form.
fn parse_kv_words(s: &str) -> std::result::Result<Vars, String> {
    let mut out = Vars::new();
    for word in split_quoted(s)? {
        let Some((k, v)) = word.split_once('=') else {
            return Err(format!("expected key=value arguments, found '{word}'"));
        };
        out.insert(k.to_string(), Value::from(v.to_string()));
    }
    Ok(out)
}

fn split_quoted(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in '{s}'"));
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

/// The file of `include_tasks: x.yml` or of its k=v form `include_tasks: file=x.yml`.
fn free_file_arg(s: &str) -> std::result::Result<String, String> {
    let s = s.trim();
    if !s.starts_with("file=") {
        return Ok(s.to_string());
    }
    let kv = parse_kv_words(s)?;
    if let Some(extra) = kv.keys().find(|k| k.as_str() != "file") {
        return Err(format!("invalid option '{extra}' for a task include"));
    }
    Ok(kv.get("file").map(|v| v.to_string()).unwrap_or_default())
}

fn include_file_arg(src: &Src, at: &Node, args: &Args) -> Result<String> {
    let v = match args {
        Args::Free(s) => return free_file_arg(s).map_err(|e| src.err(at, e)),
        Args::Map(m) => m.get("file").or_else(|| m.get("_raw_params")),
    };
    match v.and_then(|v| v.as_str()) {
        Some(s) if !s.contains("{{") => Ok(s.to_string()),
        Some(_) => Err(src.err(
            at,
            "import_tasks is static: its file name cannot use host variables (use include_tasks)",
        )),
        None => Err(src.err(at, "import_tasks requires a file name")),
    }
}

fn key_string(k: &Node) -> String {
    k.scalar_text().unwrap_or_default()
}

fn conditions(v: &Node) -> Vec<Value> {
    match &v.kind {
        NodeKind::Seq(items) => items.iter().map(Node::to_value).collect(),
        NodeKind::Null => Vec::new(),
        _ => vec![v.to_value()],
    }
}

fn scalar_string(src: &Src, v: &Node, what: &str) -> Result<String> {
    match &v.kind {
        NodeKind::Seq(_) | NodeKind::Map(_) => Err(src.err(
            v,
            format!("'{what}' must be a string, found {}", v.kind_name()),
        )),
        _ => Ok(v.scalar_text().unwrap_or_default()),
    }
}

fn bool_node(src: &Src, v: &Node) -> Result<bool> {
    match &v.kind {
        NodeKind::Bool(b) => Ok(*b),
        NodeKind::Str(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Ok(true),
            "no" | "false" | "off" | "0" => Ok(false),
            _ => Err(src.err(v, "expected a boolean")),
        },
        NodeKind::Int(i) => Ok(*i != 0),
        _ => Err(src.err(v, "expected a boolean")),
    }
}

/// A string or a list of strings (comma-separated strings are split, as for tags).
fn string_list(src: &Src, v: &Node, what: &str) -> Result<Vec<String>> {
    match &v.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Seq(items) => items.iter().map(|i| scalar_string(src, i, what)).collect(),
        NodeKind::Map(_) => Err(src.err(v, format!("'{what}' must be a string or a list"))),
        _ => {
            let s = v.scalar_text().unwrap_or_default();
            if what == "tags" {
                Ok(s.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect())
            } else {
                Ok(vec![s])
            }
        }
    }
}

fn vars_map(src: &Src, v: &Node) -> Result<Vars> {
    match &v.kind {
        NodeKind::Null => Ok(Vars::new()),
        NodeKind::Map(m) => {
            let mut vars = IndexMap::with_capacity(m.len());
            for (k, val) in m {
                let key = key_string(k);
                check_var_name(src, k, &key)?;
                vars.insert(key, val.to_value());
            }
            Ok(vars)
        }
        // Ansible also accepts a list of single-key mappings.
        NodeKind::Seq(items) => {
            let mut vars = IndexMap::new();
            for item in items {
                for (k, val) in vars_map(src, item)? {
                    vars.insert(k, val);
                }
            }
            Ok(vars)
        }
        _ => Err(src.err(
            v,
            format!("vars must be a mapping, found {}", v.kind_name()),
        )),
    }
}

fn check_var_name(src: &Src, at: &Node, name: &str) -> Result<()> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(src.err(
            at,
            format!(
                "Invalid variable name '{name}'. Variable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores."
            ),
        ))
    }
}

fn vars_prompt(src: &Src, v: &Node) -> Result<Vec<VarPrompt>> {
    let items = match &v.kind {
        NodeKind::Seq(items) => items.as_slice(),
        NodeKind::Null => &[],
        _ => return Err(src.err(v, "vars_prompt must be a list of mappings")),
    };
    let mut out = Vec::new();
    for item in items {
        let Some(map) = item.as_map() else {
            return Err(src.err(
                item,
                "a vars_prompt entry must be a mapping with at least 'name'",
            ));
        };
        if item.get("name").is_none() {
            return Err(src.err(
                item,
                "Invalid vars_prompt data structure, missing 'name' key",
            ));
        }
        let mut p = VarPrompt {
            loc: src.loc(item),
            name: String::new(),
            prompt: None,
            default: None,
            private: true,
            confirm: false,
        };
        for (k, val) in map {
            match k.as_str().unwrap_or_default() {
                "name" => p.name = scalar_string(src, val, "name")?,
                "prompt" => p.prompt = Some(scalar_string(src, val, "prompt")?),
                "default" => p.default = Some(val.to_value()),
                "private" => p.private = bool_node(src, val)?,
                "confirm" => p.confirm = bool_node(src, val)?,
                "encrypt" | "salt_size" | "salt" | "unsafe" => {}
                other => {
                    return Err(src.err(k, format!("'{other}' is not a valid vars_prompt option")))
                }
            }
        }
        if p.name.is_empty() {
            return Err(src.err(
                item,
                "Invalid vars_prompt data structure, missing 'name' key",
            ));
        }
        check_var_name(src, item, &p.name)?;
        out.push(p);
    }
    Ok(out)
}

fn serial(src: &Src, v: &Node) -> Result<Vec<Serial>> {
    let one = |n: &Node| -> Result<Serial> {
        match &n.kind {
            NodeKind::Int(i) if *i >= 0 => Ok(Serial::Count(*i as u64)),
            NodeKind::Str(s) if s.ends_with('%') => s
                .trim_end_matches('%')
                .trim()
                .parse::<f64>()
                .map(Serial::Percent)
                .map_err(|_| src.err(n, "serial must be a number, a percentage or a list of them")),
            NodeKind::Str(s) => {
                s.trim().parse::<u64>().map(Serial::Count).map_err(|_| {
                    src.err(n, "serial must be a number, a percentage or a list of them")
                })
            }
            _ => Err(src.err(n, "serial must be a number, a percentage or a list of them")),
        }
    };
    match &v.kind {
        NodeKind::Seq(items) => items.iter().map(one).collect(),
        NodeKind::Null => Ok(Vec::new()),
        _ => Ok(vec![one(v)?]),
    }
}

/// `path` relative to `dir` unless absolute; `~/` expands to the home directory.
pub(crate) fn resolve_relative(dir: &Path, path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// `dir/name.yml`, `.yaml`, `.json` or `dir/name` — the first that exists.
fn find_yaml(dir: &Path, name: &str) -> Option<PathBuf> {
    let direct = dir.join(name);
    if Path::new(name).extension().is_some() && direct.is_file() {
        return Some(direct);
    }
    ["yml", "yaml", "json"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .chain(std::iter::once(direct))
        .find(|p| p.is_file())
}

/// Reads a YAML file; vault-encrypted files and `!vault` values are decrypted with the run's
/// keyring.
fn read_yaml(path: &Path) -> Result<(Src, Node)> {
    read_yaml_warning(path).map(|(src, root, _)| (src, root))
}

/// [`read_yaml`], with what the YAML warned about.
fn read_yaml_warning(path: &Path) -> Result<(Src, Node, Vec<String>)> {
    if !path.exists() {
        return Err(LoadError::Missing {
            message: format!("{}: cannot read: file not found", path.display()),
        });
    }
    let text = drover_vault::yaml::read_source(path)?;
    let file: Arc<str> = Arc::from(path.display().to_string());
    let mut doc = drover_yaml::parse_one(&text, &file)?;
    drover_vault::yaml::decrypt_tags(&mut doc.root, &file, &text)?;
    let warnings = doc
        .warnings
        .iter()
        .map(|w| {
            format!(
                "{}.\nOrigin: {}:{}:{}",
                w.message, w.file, w.span.start.line, w.span.start.column
            )
        })
        .collect();
    Ok((
        Src {
            file,
            text: Arc::from(text),
        },
        doc.root,
        warnings,
    ))
}

/// Loads a vars file (role defaults/vars, `vars_files`, `include_vars`): a mapping at the top.
pub fn load_vars_file(path: &Path) -> Result<Vars> {
    let (src, root) = read_yaml(path)?;
    match &root.kind {
        NodeKind::Null => Ok(Vars::new()),
        NodeKind::Map(_) => vars_map(&src, &root),
        _ => Err(src.err(
            &root,
            format!(
                "a vars file must contain a mapping, found {}",
                root.kind_name()
            ),
        )),
    }
}

/// A play's `vars_files` entry: a mapping, or (as Ansible accepts there) a list of mappings
/// merged in order.
pub fn load_play_vars_file(path: &Path) -> Result<Vars> {
    let (src, root) = read_yaml(path)?;
    match &root.kind {
        NodeKind::Seq(items) => {
            let mut out = Vars::new();
            for item in items {
                match &item.kind {
                    NodeKind::Map(_) => out.extend(vars_map(&src, item)?),
                    NodeKind::Null => {}
                    _ => {
                        return Err(src.err(
                            item,
                            format!(
                                "a vars file must contain mappings, found {}",
                                item.kind_name()
                            ),
                        ))
                    }
                }
            }
            Ok(out)
        }
        _ => load_vars_file(path),
    }
}

/// How `include_role`/`import_role` use a role: which files they read (`tasks_from`,
/// `handlers_from`; `None` means `main`) and its `public` option as written.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleFiles<'a> {
    pub tasks: Option<&'a str>,
    pub handlers: Option<&'a str>,
    pub public: Option<bool>,
    /// `allow_duplicates: false` makes the role run once per play and host, like `roles:`.
    pub allow_duplicates: Option<bool>,
    /// `rolespec_validate: false`: no argument validation task.
    pub skip_validation: bool,
}

/// The spellings of `import_playbook` a playbook may use.
const IMPORT_PLAYBOOK: [&str; 3] = [
    "import_playbook",
    "ansible.builtin.import_playbook",
    "ansible.legacy.import_playbook",
];

/// A boolean option written as YAML or as a `k=v` string (`yes`, `no`, `true`, `0`, ...).
fn bool_value(v: &Value) -> Option<bool> {
    if v.kind() == minijinja::value::ValueKind::Bool {
        return Some(v.is_true());
    }
    match v.as_str()?.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" | "y" => Some(true),
        "no" | "false" | "off" | "0" | "n" => Some(false),
        _ => None,
    }
}

/// `ns.col.role` split in three, for a role named by its collection (its fully qualified name).
fn collection_role(name: &str) -> Option<(&str, &str, &str)> {
    if name.contains('/') {
        return None;
    }
    let mut parts = name.splitn(3, '.');
    let (ns, col, role) = (parts.next()?, parts.next()?, parts.next()?);
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (word(ns) && word(col) && word(role)).then_some((ns, col, role))
}

/// A role's `<kind>/<name>` file (`tasks_from`, `handlers_from`, ...), which must stay inside
/// the role's `<kind>` directory: `../` or an absolute path out of it is refused, as Ansible
/// refuses it.
fn find_role_file(scope: &RoleScope, kind: &str, name: &str) -> Result<Option<PathBuf>> {
    let dir = scope.role.path.join(kind);
    let Some(found) = find_yaml(&dir, name) else {
        return Ok(None);
    };
    let inside = match (std::fs::canonicalize(&found), std::fs::canonicalize(&dir)) {
        (Ok(f), Ok(d)) => f.starts_with(d),
        _ => false,
    };
    if !inside {
        return Err(LoadError::Missing {
            message: format!(
                "Failed loading '{}' for role ({}) as it is not inside the expected role path: '{}'",
                found.display(),
                scope.role.name,
                dir.display()
            ),
        });
    }
    Ok(Some(found))
}

fn load_vars_file_opt(dir: &Path, name: &str) -> Result<Vars> {
    if let Some(p) = find_yaml(dir, name) {
        return load_vars_file(&p);
    }
    // A role's `defaults/main/` or `vars/main/` directory: every vars file in it, in sorted
    // order (subdirectories included), later files overriding earlier ones, as Ansible does.
    let mut out = Vars::new();
    for file in vars_dir_files(&dir.join(name)) {
        out.extend(load_vars_file(&file)?);
    }
    Ok(out)
}

/// The vars files under `dir` in Ansible's order: names sorted, each subdirectory's files at
/// its place; hidden files and names with other extensions left out.
fn vars_dir_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            out.extend(vars_dir_files(&p));
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            None | Some("yml" | "yaml" | "json")
        ) {
            out.push(p);
        }
    }
    out
}

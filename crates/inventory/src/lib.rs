//! Ansible-compatible inventories.
//!
//! Sources, as `-i` takes them: INI files, YAML (and JSON) files, directories of those, comma
//! separated host lists (`host1,host2,` or `host1,`), and executable dynamic-inventory scripts
//! (`script --list`). Several sources merge into one [`Inventory`].
//!
//! The model keeps inventory-file variables apart from `group_vars/` and `host_vars/`
//! directories, so [`Inventory::host_vars`] can layer them in Ansible's order:
//!
//! 1. `all` group vars from inventory files, then `group_vars/all` next to the inventory, then
//!    next to the playbook;
//! 2. for every other group of the host, sorted by depth, then `ansible_group_priority`, then
//!    name: its inventory-file vars, then `group_vars/<group>` next to the inventory, then next
//!    to the playbook (so a group's vars override `all`'s whatever their source);
//! 3. the host's inventory-file vars, then `host_vars/<host>` next to the inventory, then next
//!    to the playbook.
//!
//! Later layers replace earlier ones key by key (Ansible's default `hash_behaviour=replace`).
//! Values are untemplated `minijinja::Value`s: templating is lazy and belongs to the engine.
//!
//! Deliberate choices where Ansible's behaviour is configuration-dependent or undocumented:
//! - in a directory source, hidden files, `group_vars`/`host_vars`, and files ending in
//!   `~`, `.orig`, `.bak`, `.swp`, `.pyc`, `.pyo`, `.rpm`, `.md`, `.txt`, `.rst`, `.cfg`,
//!   `.retry` are skipped; everything else, `.ini` included, is read in name order;
//! - `group_vars`/`host_vars` files are all parsed when the directory is added, whether or not
//!   the inventory has that group or host, so a broken file is reported up front;
//! - a missing source is an error (Ansible only warns), since running against fewer hosts than
//!   meant is worse than stopping.

mod constructed;
mod ini;
mod output;
mod pattern;
mod pyliteral;
mod range;
mod script;
mod vars;
mod yamlinv;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use minijinja::Value;

pub use drover_yaml::SourceError;
pub use pattern::Selection;
pub use pyliteral::host_value as ini_host_value;
pub use range::expand as expand_host_range;

/// Variables by name, in definition order.
pub type Vars = IndexMap<String, Value>;

pub use constructed::Evaluate;

/// The first executable `python3` on `PATH`.
pub fn python3_on_path() -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| std::path::Path::new(d).join("python3"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|p| p.to_string_lossy().into_owned())
}

/// The names of the implicit localhost: used when a pattern names it and the inventory does
/// not define it.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Bad input at a position of a file (or about a whole file or source).
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("invalid host pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
}

/// A managed host.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub name: String,
    /// Variables from inventory files and scripts (not `host_vars/`).
    pub vars: Vars,
    /// Groups the host was put in directly, in order of appearance.
    pub groups: Vec<String>,
}

/// A group of hosts and child groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// Variables from inventory files and scripts (not `group_vars/`).
    pub vars: Vars,
    /// Hosts put in this group directly, in order of appearance.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub parents: Vec<String>,
}

/// Where a `group_vars`/`host_vars` directory pair sits, which decides its precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarsDirKind {
    /// Next to an inventory source.
    Inventory,
    /// Next to the playbook; added by the engine, overrides the inventory's.
    Playbook,
}

/// Everything known about a fleet: hosts, groups, variables.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    vars_dirs: Vec<vars::VarsDir>,
    warnings: Vec<String>,
    /// `constructed` sources read, not yet applied (see [`Inventory::construct`]).
    constructed: Vec<constructed::Spec>,
    /// `hash_behaviour = merge`: a dictionary set again (another source, another layer) is
    /// merged recursively into the earlier one instead of replacing it.
    hash_merge: bool,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory::new()
    }
}

impl Inventory {
    /// An inventory with only the groups `all` and `ungrouped`.
    pub fn new() -> Inventory {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            vars_dirs: Vec::new(),
            warnings: Vec::new(),
            constructed: Vec::new(),
            hash_merge: false,
        };
        inv.ensure_group("all");
        inv.ensure_group("ungrouped");
        inv.reconcile();
        inv
    }

    /// Loads and merges `sources` in order, as repeated `-i` options do, together with the
    /// `group_vars/` and `host_vars/` next to each.
    ///
    /// # Errors
    /// The first malformed or missing source.
    pub fn load<S: AsRef<str>>(sources: &[S]) -> Result<Inventory, InventoryError> {
        Inventory::load_merging(sources, false)
    }

    /// [`Inventory::load`] with `hash_behaviour = merge` when `hash_merge`.
    ///
    /// # Errors
    /// The first malformed or missing source.
    pub fn load_merging<S: AsRef<str>>(
        sources: &[S],
        hash_merge: bool,
    ) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::new();
        inv.hash_merge = hash_merge;
        for source in sources {
            inv.add_source(source.as_ref())?;
        }
        Ok(inv)
    }

    /// Adds one `-i` source: a file, a directory, an executable script, or a host list.
    ///
    /// # Errors
    /// When the source is missing or malformed, or makes the group graph cyclic.
    pub fn add_source(&mut self, source: &str) -> Result<(), InventoryError> {
        let path = Path::new(source);
        if !path.exists() {
            if source.contains(',') {
                self.add_host_list(source)?;
                self.reconcile();
                return Ok(());
            }
            return Err(SourceError::whole_file(
                source,
                "inventory source not found (a list of hosts needs a comma, e.g. \"host1,\")",
            )
            .into());
        }
        if path.is_dir() {
            self.add_directory(path)?;
            self.reconcile();
            self.add_vars_dir(path, VarsDirKind::Inventory)?;
        } else {
            self.add_file(path)?;
            self.reconcile();
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            self.add_vars_dir(&dir, VarsDirKind::Inventory)?;
        }
        Ok(())
    }

    /// Adds the `group_vars/` and `host_vars/` found in `dir` (either may be missing) as a
    /// layer of kind `kind`; later layers of the same kind override earlier ones.
    ///
    /// # Errors
    /// A malformed vars file.
    pub fn add_vars_dir(&mut self, dir: &Path, kind: VarsDirKind) -> Result<(), InventoryError> {
        // Two sources in one directory share its group_vars/host_vars: one layer.
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if self
            .vars_dirs
            .iter()
            .any(|d| d.kind == kind && d.dir == canonical)
        {
            return Ok(());
        }
        let mut layer = vars::VarsDir::load(dir, kind)?;
        self.warnings.append(&mut layer.warnings);
        self.vars_dirs.push(layer);
        Ok(())
    }

    fn add_directory(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            SourceError::whole_file(dir.display().to_string(), format!("cannot read: {e}"))
        })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if ignored_in_directory(&name) {
                continue;
            }
            if path.is_dir() {
                self.add_directory(&path)?;
            } else {
                self.add_file(&path)?;
            }
        }
        Ok(())
    }

    fn add_file(&mut self, path: &Path) -> Result<(), InventoryError> {
        let file = path.display().to_string();
        if script::is_executable(path) {
            match script::run(path) {
                Ok(data) => return self.add_script_data(&file, &data),
                Err(err) => {
                    // An inventory file that merely has the executable bit (common on shared
                    // mounts) is still read as a static file; a real script's error stands.
                    let starts_with_shebang = std::fs::read(path)
                        .map(|b| b.starts_with(b"#!"))
                        .unwrap_or(false);
                    if starts_with_shebang {
                        return Err(err);
                    }
                }
            }
        }
        let bytes = std::fs::read(path)
            .map_err(|e| SourceError::whole_file(file.clone(), format!("cannot read: {e}")))?;
        let src = String::from_utf8(bytes)
            .map_err(|_| SourceError::whole_file(file.clone(), "not valid UTF-8"))?;
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("yml" | "yaml" | "json") => yamlinv::load(self, &file, &src),
            _ => {
                // Like Ansible's plugin chain: YAML when the file is a YAML mapping, INI
                // otherwise (an INI file is rarely valid YAML, and never a mapping of groups).
                if yamlinv::looks_like_yaml_inventory(&src, &file) {
                    yamlinv::load(self, &file, &src)
                } else {
                    ini::load(self, &file, &src)
                }
            }
        }
    }

    fn add_host_list(&mut self, list: &str) -> Result<(), InventoryError> {
        for entry in list.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (name, port) = split_port(entry);
            self.add_host(name, "ungrouped");
            if let Some(port) = port {
                self.set_host_var(name, "ansible_port", Value::from(port));
            }
        }
        Ok(())
    }

    // ---- building ----

    pub(crate) fn ensure_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(
                name.to_string(),
                Group {
                    name: name.to_string(),
                    vars: Vars::new(),
                    hosts: Vec::new(),
                    children: Vec::new(),
                    parents: Vec::new(),
                },
            );
        }
    }

    /// Adds `host` (if new) to `group` (created if new). Call [`Inventory::reconcile`] when
    /// done building.
    pub fn add_host(&mut self, host: &str, group: &str) {
        self.ensure_group(group);
        let h = self.hosts.entry(host.to_string()).or_insert_with(|| Host {
            name: host.to_string(),
            vars: Vars::new(),
            groups: Vec::new(),
        });
        if group != "all" && !h.groups.iter().any(|g| g == group) {
            h.groups.push(group.to_string());
        }
        if group != "all" {
            if let Some(g) = self.groups.get_mut(group) {
                if !g.hosts.iter().any(|x| x == host) {
                    g.hosts.push(host.to_string());
                }
            }
        }
    }

    pub fn set_host_var(&mut self, host: &str, key: &str, value: Value) {
        let merging = self.hash_merge;
        if let Some(h) = self.hosts.get_mut(host) {
            set_var(&mut h.vars, key, value, merging);
        }
    }

    pub fn set_group_var(&mut self, group: &str, key: &str, value: Value) {
        self.ensure_group(group);
        let merging = self.hash_merge;
        if let Some(g) = self.groups.get_mut(group) {
            set_var(&mut g.vars, key, value, merging);
        }
    }

    /// Makes `child` a child group of `parent`, creating both if needed.
    ///
    /// # Errors
    /// A message (for the caller to position) when this would make the group graph cyclic.
    pub fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if child == "all" {
            return Err("the group \"all\" cannot be a child group".to_string());
        }
        if parent == child || self.descendants(child).contains(parent) {
            return Err(format!(
                "adding group {child:?} as a child of {parent:?} creates a cycle"
            ));
        }
        self.ensure_group(parent);
        self.ensure_group(child);
        if let Some(p) = self.groups.get_mut(parent) {
            if !p.children.iter().any(|c| c == child) {
                p.children.push(child.to_string());
            }
        }
        if let Some(c) = self.groups.get_mut(child) {
            if !c.parents.iter().any(|p| p == parent) {
                c.parents.push(parent.to_string());
            }
        }
        Ok(())
    }

    pub(crate) fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    /// Restores the invariants after building with [`Inventory::add_host`],
    /// [`Inventory::add_child`] and friends (loading does this itself): every top-level group
    /// becomes a child of `all`; hosts in no group but `all` are in `ungrouped`, and hosts with
    /// a real group leave it.
    pub fn reconcile(&mut self) {
        let orphans: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.name != "all" && g.parents.is_empty())
            .map(|g| g.name.clone())
            .collect();
        for name in orphans {
            // Cannot cycle: `all` is nobody's child.
            let _ = self.add_child("all", &name);
        }
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        for name in names {
            let in_real_group = self.hosts[&name].groups.iter().any(|g| g != "ungrouped");
            if in_real_group {
                if let Some(h) = self.hosts.get_mut(&name) {
                    h.groups.retain(|g| g != "ungrouped");
                }
                if let Some(g) = self.groups.get_mut("ungrouped") {
                    g.hosts.retain(|h| h != &name);
                }
            } else {
                self.add_host(&name, "ungrouped");
            }
        }
    }

    // ---- queries ----

    /// Hosts in inventory order.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// Groups in order of first appearance (`all` and `ungrouped` first).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Non-fatal problems found while loading (unknown keys in YAML inventories, duplicate
    /// keys, unmatched patterns are reported by [`Selection`] instead).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// All groups below `group`, not including it.
    fn descendants(&self, group: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![group.to_string()];
        while let Some(g) = stack.pop() {
            if let Some(grp) = self.groups.get(&g) {
                for c in &grp.children {
                    if seen.insert(c.clone()) {
                        stack.push(c.clone());
                    }
                }
            }
        }
        seen
    }

    /// Hosts of `group` and of its descendants: its own hosts first, then each child's, depth
    /// first, without repeats. `all` gives every host in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        if group == "all" {
            return self.hosts.keys().cloned().collect();
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut visited = HashSet::new();
        self.collect_hosts(group, &mut out, &mut seen, &mut visited);
        out
    }

    fn collect_hosts(
        &self,
        group: &str,
        out: &mut Vec<String>,
        seen: &mut HashSet<String>,
        visited: &mut HashSet<String>,
    ) {
        if !visited.insert(group.to_string()) {
            return;
        }
        let Some(g) = self.groups.get(group) else {
            return;
        };
        for h in &g.hosts {
            if seen.insert(h.clone()) {
                out.push(h.clone());
            }
        }
        for c in &g.children {
            self.collect_hosts(c, out, seen, visited);
        }
    }

    /// Every group `host` belongs to, directly or through a parent, `all` included.
    fn host_groups(&self, host: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        out.insert("all".to_string());
        let mut stack: Vec<String> = self
            .hosts
            .get(host)
            .map(|h| h.groups.clone())
            .unwrap_or_default();
        while let Some(g) = stack.pop() {
            if out.insert(g.clone()) {
                if let Some(grp) = self.groups.get(&g) {
                    stack.extend(grp.parents.iter().cloned());
                }
            }
        }
        out
    }

    /// The groups of `host` as Ansible's `group_names` shows them: sorted, without `all`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        names.sort();
        names
    }

    /// Ansible's `groups` magic variable: every group with all its hosts.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| (g.clone(), self.group_hosts(g)))
            .collect()
    }

    /// The length of the longest path from `all` to `group`.
    fn depth(&self, group: &str, memo: &mut HashMap<String, usize>) -> usize {
        if let Some(&d) = memo.get(group) {
            return d;
        }
        // Cycles are refused when edges are added, so this recursion ends.
        let d = match self.groups.get(group) {
            Some(g) if group != "all" => g
                .parents
                .iter()
                .map(|p| self.depth(p, memo) + 1)
                .max()
                .unwrap_or(1),
            _ => 0,
        };
        memo.insert(group.to_string(), d);
        d
    }

    fn priority(&self, group: &str) -> i64 {
        let Some(v) = self
            .groups
            .get(group)
            .and_then(|g| g.vars.get("ansible_group_priority"))
        else {
            return 1;
        };
        i64::try_from(v.clone())
            .ok()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .unwrap_or(1)
    }

    /// The groups of `host` in the order their variables apply: by depth, then
    /// `ansible_group_priority`, then name; `all` first.
    pub fn sorted_groups(&self, host: &str) -> Vec<String> {
        let mut memo = HashMap::new();
        let mut groups: Vec<(usize, i64, String)> = self
            .host_groups(host)
            .into_iter()
            .map(|g| (self.depth(&g, &mut memo), self.priority(&g), g))
            .collect();
        groups.sort();
        groups.into_iter().map(|(_, _, g)| g).collect()
    }

    /// Whether `name` is the implicit localhost: named like localhost and not in the
    /// inventory.
    pub fn is_implicit_localhost(&self, name: &str) -> bool {
        LOCALHOST_NAMES.contains(&name) && !self.hosts.contains_key(name)
    }

    /// The inventory variables of `host`, merged in Ansible's precedence order (see the
    /// crate documentation). For the implicit localhost, `all`'s variables plus
    /// `ansible_connection: local`. Empty for unknown hosts.
    pub fn host_vars(&self, host: &str) -> Vars {
        self.host_vars_with(host, true)
    }

    /// [`Inventory::host_vars`], with or without the `group_vars/`/`host_vars/` layers.
    pub(crate) fn host_vars_with(&self, host: &str, dirs: bool) -> Vars {
        let implicit = self.is_implicit_localhost(host);
        if !implicit && !self.hosts.contains_key(host) {
            return Vars::new();
        }
        let mut out = Vars::new();
        let layers = |kind: VarsDirKind| {
            self.vars_dirs
                .iter()
                .filter(move |d| dirs && d.kind == kind)
        };
        let groups = if implicit {
            vec!["all".to_string()]
        } else {
            self.sorted_groups(host)
        };
        // Ansible's documented order: group variables written in inventory sources (by
        // depth), then group_vars/all (inventory's, then the playbook's), then every other
        // group's group_vars/ (the inventory's layer, then the playbook's, each by depth).
        for g in &groups {
            if let Some(grp) = self.groups.get(g) {
                merge(&mut out, &grp.vars, self.hash_merge);
            }
        }
        for kind in [VarsDirKind::Inventory, VarsDirKind::Playbook] {
            for layer in layers(kind) {
                if let Some(v) = layer.groups.get("all") {
                    merge(&mut out, v, self.hash_merge);
                }
            }
        }
        for kind in [VarsDirKind::Inventory, VarsDirKind::Playbook] {
            for g in groups.iter().filter(|g| *g != "all") {
                for layer in layers(kind) {
                    if let Some(v) = layer.groups.get(g) {
                        merge(&mut out, v, self.hash_merge);
                    }
                }
            }
        }
        if implicit {
            out.insert("ansible_connection".to_string(), Value::from("local"));
            // Ansible gives the implicit localhost its own interpreter; drover has none, so
            // the controller's `python3` stands in when there is one.
            if let Some(py) = python3_on_path() {
                out.insert("ansible_python_interpreter".to_string(), Value::from(py));
            }
        } else if let Some(h) = self.hosts.get(host) {
            merge(&mut out, &h.vars, self.hash_merge);
        }
        for kind in [VarsDirKind::Inventory, VarsDirKind::Playbook] {
            for layer in layers(kind) {
                if let Some(v) = layer.hosts.get(host) {
                    merge(&mut out, v, self.hash_merge);
                }
            }
        }
        out
    }
}

fn merge(into: &mut Vars, from: &Vars, hash_merge: bool) {
    for (k, v) in from {
        set_var(into, k, v.clone(), hash_merge);
    }
}

fn set_var(into: &mut Vars, key: &str, value: Value, hash_merge: bool) {
    let value = match into.get(key) {
        Some(old) if hash_merge => drover_yaml::merge_hash(old, &value),
        _ => value,
    };
    into.insert(key.to_string(), value);
}

/// `host:port` → (`host`, port). IPv6 addresses, `[v6]:port`, and ranges holding colons
/// (`web[1:3]:2222`) are understood.
pub(crate) fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((addr, port)) = rest.split_once("]:") {
            if !addr.contains('[') {
                if let Ok(p) = port.parse() {
                    return (addr, Some(p));
                }
            }
        }
    }
    if let Some((name, port)) = entry.rsplit_once(':') {
        if colons_outside_brackets(name) == 0 {
            if let Ok(p) = port.parse() {
                return (name, Some(p));
            }
        }
    }
    (entry, None)
}

fn colons_outside_brackets(s: &str) -> usize {
    let mut depth = 0usize;
    let mut n = 0;
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => n += 1,
            _ => {}
        }
    }
    n
}

fn ignored_in_directory(name: &str) -> bool {
    const IGNORED: [&str; 12] = [
        "~", ".orig", ".bak", ".swp", ".pyc", ".pyo", ".rpm", ".md", ".txt", ".rst", ".cfg",
        ".retry",
    ];
    name.starts_with('.')
        || name == "group_vars"
        || name == "host_vars"
        || IGNORED.iter().any(|ext| name.ends_with(ext))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_implicit_localhost_runs_python_from_path() {
        let inv = Inventory::load::<&str>(&[]).unwrap();
        let vars = inv.host_vars("localhost");
        assert_eq!(vars.get("ansible_connection"), Some(&Value::from("local")));
        assert_eq!(
            vars.get("ansible_python_interpreter")
                .map(ToString::to_string),
            python3_on_path()
        );
    }

    #[test]
    fn ports_and_ignored_names() {
        assert_eq!(split_port("web:2222"), ("web", Some(2222)));
        assert_eq!(split_port("web"), ("web", None));
        assert_eq!(split_port("fe80::1"), ("fe80::1", None));
        assert_eq!(split_port("[fe80::1]:22"), ("fe80::1", Some(22)));
        assert_eq!(split_port("web:x"), ("web:x", None));
        assert_eq!(split_port("web[1:3]:2222"), ("web[1:3]", Some(2222)));
        assert_eq!(split_port("web[1:3]"), ("web[1:3]", None));
        assert!(ignored_in_directory("hosts~"));
        assert!(ignored_in_directory("README.md"));
        assert!(ignored_in_directory(".hidden"));
        assert!(ignored_in_directory("group_vars"));
        assert!(!ignored_in_directory("hosts.ini"));
        assert!(!ignored_in_directory("prod.yml"));
    }

    #[test]
    fn building_by_hand_then_reconciling() {
        let mut inv = Inventory::new();
        inv.add_host("h1", "web");
        inv.add_host("h2", "ungrouped");
        inv.add_child("web", "canary").unwrap();
        inv.add_host("h1", "canary");
        inv.reconcile();
        assert_eq!(inv.group("all").unwrap().children, ["ungrouped", "web"]);
        assert_eq!(inv.group("ungrouped").unwrap().hosts, ["h2"]);
        assert_eq!(inv.group_names("h1"), ["canary", "web"]);
        assert_eq!(inv.sorted_groups("h1"), ["all", "web", "canary"]);
        assert_eq!(inv.group_hosts("web"), ["h1"]);
        inv.add_host("h2", "web");
        inv.reconcile();
        assert!(inv.group("ungrouped").unwrap().hosts.is_empty());
        assert_eq!(inv.groups_map()["all"], ["h1", "h2"]);
    }

    #[test]
    fn cycles_are_refused() {
        let mut inv = Inventory::new();
        inv.add_child("a", "b").unwrap();
        inv.add_child("b", "c").unwrap();
        assert!(inv.add_child("c", "a").unwrap_err().contains("cycle"));
        assert!(inv.add_child("a", "a").is_err());
        assert!(inv.add_child("a", "all").is_err());
    }
}

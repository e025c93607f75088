//! What `drover inventory --list | --graph | --host` print, shaped as `ansible-inventory`
//! shapes it. Object keys are sorted, as `ansible-inventory` sorts them.

use serde_json::{Map, Value as Json};

use crate::{Inventory, InventoryError, Vars};

fn sorted_json(v: Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_json(v)))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted_json).collect()),
        other => other,
    }
}

fn vars_json(vars: &Vars) -> Json {
    let map: Map<String, Json> = vars
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Json::Null)))
        .collect();
    sorted_json(Json::Object(map))
}

impl Inventory {
    /// `ansible-inventory --list`: `_meta.hostvars` with each host's merged variables (hosts
    /// without variables left out) and ansible-core 2.19's `profile`, then every group with its
    /// `hosts` and `children` in the order they were defined (`all` lists `ungrouped` first);
    /// groups with neither are left out, except `all`.
    pub fn list_json(&self) -> Json {
        self.list_json_as(false)
    }

    /// `--list`, with `--export`: each group carries its own `vars` and each host only its
    /// own variables, instead of every host's merged view.
    pub fn list_json_as(&self, export: bool) -> Json {
        let mut top = Map::new();
        let mut hostvars = Map::new();
        for name in self.hosts.keys() {
            let vars = self.exported_host_vars(name, export);
            if !vars.is_empty() {
                hostvars.insert(name.clone(), vars_json(&vars));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".to_string(), Json::Object(hostvars));
        meta.insert("profile".to_string(), Json::from("inventory_legacy"));
        top.insert("_meta".to_string(), Json::Object(meta));
        for g in self.groups.values() {
            let mut entry = Map::new();
            let mut children = g.children.clone();
            if let Some(at) = children.iter().position(|c| c == "ungrouped") {
                let ungrouped = children.remove(at);
                children.insert(0, ungrouped);
            }
            if !children.is_empty() {
                entry.insert("children".to_string(), Json::from(children));
            }
            if !g.hosts.is_empty() {
                entry.insert("hosts".to_string(), Json::from(g.hosts.clone()));
            }
            if export {
                let vars = self.group_own_vars(&g.name);
                if !vars.is_empty() {
                    entry.insert("vars".to_string(), vars_json(&vars));
                }
            }
            if !entry.is_empty() || g.name == "all" {
                top.insert(g.name.clone(), Json::Object(entry));
            }
        }
        sorted_json(Json::Object(top))
    }

    /// `--list --yaml`: the group tree as nested `children`, each host under the first group
    /// that lists it with its variables (later groups name it with `{}`), group `vars` with
    /// `--export`; empty parts left out, as ansible-inventory shapes it.
    pub fn list_yaml_tree(&self, export: bool) -> Json {
        let mut seen_hosts = std::collections::HashSet::new();
        let mut seen_groups = std::collections::HashSet::new();
        let mut out = Map::new();
        if let Some(v) = self.yaml_group("all", export, &mut seen_hosts, &mut seen_groups) {
            out.insert("all".to_string(), v);
        }
        sorted_json(Json::Object(out))
    }

    fn yaml_group(
        &self,
        name: &str,
        export: bool,
        seen_hosts: &mut std::collections::HashSet<String>,
        seen_groups: &mut std::collections::HashSet<String>,
    ) -> Option<Json> {
        let g = self.groups.get(name)?;
        let mut entry = Map::new();
        let mut children = Map::new();
        for c in &g.children {
            if c == "all" {
                continue;
            }
            if seen_groups.insert(c.clone()) {
                if let Some(v) = self.yaml_group(c, export, seen_hosts, seen_groups) {
                    children.insert(c.clone(), v);
                }
            } else {
                children.insert(c.clone(), Json::Object(Map::new()));
            }
        }
        if !children.is_empty() {
            entry.insert("children".to_string(), Json::Object(children));
        }
        if name != "all" {
            let mut hosts = Map::new();
            for h in &g.hosts {
                let vars = if seen_hosts.insert(h.clone()) {
                    vars_json(&self.exported_host_vars(h, export))
                } else {
                    Json::Object(Map::new())
                };
                hosts.insert(h.clone(), vars);
            }
            if !hosts.is_empty() {
                entry.insert("hosts".to_string(), Json::Object(hosts));
            }
        }
        if export {
            let vars = self.group_own_vars(name);
            if !vars.is_empty() {
                entry.insert("vars".to_string(), vars_json(&vars));
            }
        }
        (!entry.is_empty()).then_some(Json::Object(entry))
    }

    /// A host's variables as `--list` shows them: merged, or with `--export` only its own
    /// (inventory file, then `host_vars/`).
    fn exported_host_vars(&self, host: &str, export: bool) -> Vars {
        if !export {
            return self.host_vars(host);
        }
        let mut out = Vars::new();
        if let Some(h) = self.hosts.get(host) {
            crate::merge(&mut out, &h.vars, self.hash_merge);
        }
        for kind in [crate::VarsDirKind::Inventory, crate::VarsDirKind::Playbook] {
            for layer in self.vars_dirs.iter().filter(|d| d.kind == kind) {
                if let Some(v) = layer.hosts.get(host) {
                    crate::merge(&mut out, v, self.hash_merge);
                }
            }
        }
        out
    }

    /// A group's own variables (inventory file, then `group_vars/`), for `--export`.
    fn group_own_vars(&self, group: &str) -> Vars {
        let mut out = Vars::new();
        if let Some(g) = self.groups.get(group) {
            crate::merge(&mut out, &g.vars, self.hash_merge);
        }
        for kind in [crate::VarsDirKind::Inventory, crate::VarsDirKind::Playbook] {
            for layer in self.vars_dirs.iter().filter(|d| d.kind == kind) {
                if let Some(v) = layer.groups.get(group) {
                    crate::merge(&mut out, v, self.hash_merge);
                }
            }
        }
        out
    }

    /// `ansible-inventory --graph [GROUP]`: the group tree from `group` (default `all`), child
    /// groups then hosts, each sorted by name.
    ///
    /// # Errors
    /// When `group` does not exist.
    pub fn graph(&self, group: Option<&str>) -> Result<String, InventoryError> {
        let root = group.unwrap_or("all");
        if !self.groups.contains_key(root) {
            return Err(InventoryError::Pattern {
                pattern: root.to_string(),
                message: "no such group in the inventory".to_string(),
            });
        }
        let mut lines = Vec::new();
        self.graph_group(root, 0, &mut lines);
        Ok(lines.join("\n"))
    }

    fn graph_group(&self, name: &str, depth: usize, lines: &mut Vec<String>) {
        let Some(g) = self.groups.get(name) else {
            return;
        };
        lines.push(graph_line(&format!("@{name}:"), depth));
        // In the order the inventory defined them, as ansible-core 2.19 prints them.
        for c in &g.children {
            self.graph_group(c, depth + 1, lines);
        }
        if name != "all" {
            for h in &g.hosts {
                lines.push(graph_line(h, depth + 1));
            }
        }
    }

    /// `ansible-inventory --host NAME`: the host's merged variables, or `None` for a host the
    /// inventory does not have (the implicit localhost included, as with Ansible).
    pub fn host_json(&self, host: &str) -> Option<Json> {
        self.hosts
            .contains_key(host)
            .then(|| vars_json(&self.host_vars(host)))
    }
}

fn graph_line(text: &str, depth: usize) -> String {
    if depth == 0 {
        text.to_string()
    } else {
        format!("{}--{text}", "  |".repeat(depth))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::Inventory;

    fn inventory(ini: &str) -> (tempfile::TempDir, Inventory) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, ini).unwrap();
        let inv = Inventory::load(&[path.display().to_string()]).unwrap();
        (dir, inv)
    }

    #[test]
    fn export_keeps_group_vars_with_their_groups() {
        let (_dir, inv) = inventory("[web]\nw1 a=1\n[web:vars]\nport=80\n[all:vars]\nntp=pool\n");
        let merged = inv.list_json_as(false);
        assert_eq!(merged["_meta"]["hostvars"]["w1"]["port"], 80);
        assert!(merged["web"].get("vars").is_none());
        let export = inv.list_json_as(true);
        assert_eq!(
            export["_meta"]["hostvars"]["w1"],
            serde_json::json!({"a": 1})
        );
        assert_eq!(export["web"]["vars"], serde_json::json!({"port": 80}));
        assert_eq!(export["all"]["vars"], serde_json::json!({"ntp": "pool"}));
    }

    #[test]
    fn yaml_tree_nests_groups_and_lists_a_host_once() {
        let (_dir, inv) = inventory("[web]\nw1 a=1\n[db]\nw1\n[prod:children]\nweb\n");
        let tree = inv.list_yaml_tree(false);
        let all = &tree["all"]["children"];
        // Groups in all's order (web, now under prod, comes after db): w1's variables go with
        // its first group, as ansible-inventory writes them.
        assert_eq!(all["db"]["hosts"]["w1"]["a"], 1);
        assert_eq!(
            all["prod"]["children"]["web"]["hosts"]["w1"],
            serde_json::json!({})
        );
        assert!(all.get("ungrouped").is_none());
    }

    #[test]
    fn host_output_has_sorted_keys() {
        let (_dir, inv) = inventory("[web]\nw1 zeta=1 alpha='a'\n[web:vars]\nmid=m\n");
        let json = inv.host_json("w1").unwrap().to_string();
        assert_eq!(json, r#"{"alpha":"a","mid":"m","zeta":1}"#);
        assert!(inv.host_json("nope").is_none());
        assert!(inv.host_json("localhost").is_none());
    }

    #[test]
    fn graph_of_one_group_in_definition_order() {
        let (_dir, inv) = inventory("[a:children]\nb\n[b]\nh2\nh1\n[a]\nh3\n");
        assert_eq!(
            inv.graph(Some("a")).unwrap(),
            "@a:\n  |--@b:\n  |  |--h2\n  |  |--h1\n  |--h3"
        );
        assert!(inv.graph(Some("zzz")).is_err());
    }
}

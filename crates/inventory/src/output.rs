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
        let mut top = Map::new();
        let mut hostvars = Map::new();
        for name in self.hosts.keys() {
            let vars = self.host_vars(name);
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
            if !entry.is_empty() || g.name == "all" {
                top.insert(g.name.clone(), Json::Object(entry));
            }
        }
        sorted_json(Json::Object(top))
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

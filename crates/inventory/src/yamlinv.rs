//! YAML (and JSON) inventories: a mapping of group names to groups, each group a mapping with
//! optional `hosts` (host name → variables), `vars` and `children` (group name → group).

use drover_yaml::{parse_one, Node, NodeKind, SourceError};

use crate::{range, split_port, Inventory, InventoryError};

/// Whether `src` parses as YAML whose top level is a mapping, i.e. could be a YAML inventory.
pub(crate) fn looks_like_yaml_inventory(src: &str, file: &str) -> bool {
    parse_one(src, file).is_ok_and(|d| d.root.as_map().is_some())
}

pub(crate) fn load(inv: &mut Inventory, file: &str, src: &str) -> Result<(), InventoryError> {
    let doc = parse_one(src, file)?;
    for w in &doc.warnings {
        inv.warn(w.to_string());
    }
    let ctx = Ctx { file, src };
    let root = &doc.root;
    if root.is_null() {
        return Ok(());
    }
    let Some(groups) = root.as_map() else {
        return Err(ctx.err(
            root,
            format!(
                "a YAML inventory must be a mapping of group names to groups, found {}",
                root.kind_name()
            ),
        ));
    };
    // An inventory plugin's configuration rather than groups.
    if let Some((_, plugin)) = groups.iter().find(|(k, _)| k.as_str() == Some("plugin")) {
        let name = plugin.scalar_text().unwrap_or_default();
        if crate::constructed::is_constructed(&name) {
            let spec = crate::constructed::parse(file, src, root)?;
            inv.constructed.push(spec);
            return Ok(());
        }
        return Err(ctx.err(
            plugin,
            format!(
                "inventory plugin {name:?} is not supported: drover reads INI, YAML and script inventories, and the constructed plugin"
            ),
        ));
    }
    for (key, body) in groups {
        let name = ctx.name(key)?;
        ctx.group(inv, &name, body, None)?;
    }
    Ok(())
}

struct Ctx<'a> {
    file: &'a str,
    src: &'a str,
}

impl Ctx<'_> {
    fn err(&self, node: &Node, message: String) -> InventoryError {
        SourceError::new(self.file, self.src, node.span.start, message).into()
    }

    fn name(&self, key: &Node) -> Result<String, InventoryError> {
        match &key.kind {
            NodeKind::Str(s) if !s.is_empty() => Ok(s.clone()),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                Ok(key.scalar_text().unwrap_or_default())
            }
            _ => Err(self.err(key, format!("expected a name, found {}", key.kind_name()))),
        }
    }

    fn group(
        &self,
        inv: &mut Inventory,
        name: &str,
        body: &Node,
        parent: Option<(&str, &Node)>,
    ) -> Result<(), InventoryError> {
        inv.ensure_group(name);
        if let Some((parent, key)) = parent {
            inv.add_child(parent, name).map_err(|m| self.err(key, m))?;
        }
        if body.is_null() {
            return Ok(());
        }
        let Some(entries) = body.as_map() else {
            return Err(self.err(
                body,
                format!(
                    "group {name:?} must be a mapping with \"hosts\", \"vars\" or \"children\", found {}",
                    body.kind_name()
                ),
            ));
        };
        for (key, value) in entries {
            match key.as_str() {
                Some("hosts") => self.hosts(inv, name, value)?,
                Some("vars") => {
                    for (k, v) in self.mapping(value, &format!("\"vars\" of group {name:?}"))? {
                        inv.set_group_var(name, &self.name(k)?, v.to_value());
                    }
                }
                Some("children") => {
                    let what = format!("\"children\" of group {name:?}");
                    for (k, v) in self.mapping(value, &what)? {
                        let child = self.name(k)?;
                        self.group(inv, &child, v, Some((name, k)))?;
                    }
                }
                _ => inv.warn(format!(
                    "{}:{}:{}: skipping unexpected key {:?} in group {name:?}: only \"hosts\", \"vars\" and \"children\" are valid",
                    self.file,
                    key.span.start.line,
                    key.span.start.column,
                    key.scalar_text().unwrap_or_default()
                )),
            }
        }
        Ok(())
    }

    fn hosts(&self, inv: &mut Inventory, group: &str, value: &Node) -> Result<(), InventoryError> {
        let what = format!("\"hosts\" of group {group:?}");
        for (key, vars) in self.mapping(value, &what)? {
            // As Ansible: a host written as a number would silently change (1234 vs 01234).
            if matches!(key.kind, NodeKind::Int(_) | NodeKind::Float(_)) {
                return Err(self.err(
                    key,
                    format!(
                        "Host pattern {} must be a string. Enclose integers/floats in quotation marks.",
                        key.scalar_text().unwrap_or_default()
                    ),
                ));
            }
            let text = self.name(key)?;
            let (pattern, port) = split_port(&text);
            let names = range::expand(pattern).map_err(|m| self.err(key, m))?;
            let host_vars = self.mapping(vars, &format!("the variables of host {text:?}"))?;
            for host in &names {
                inv.add_host(host, group);
                if let Some(p) = port {
                    inv.set_host_var(host, "ansible_port", minijinja::Value::from(p));
                }
                for (k, v) in host_vars {
                    inv.set_host_var(host, &self.name(k)?, v.to_value());
                }
            }
        }
        Ok(())
    }

    /// The entries of a mapping that may also be empty (null).
    fn mapping<'n>(
        &self,
        node: &'n Node,
        what: &str,
    ) -> Result<&'n [(Node, Node)], InventoryError> {
        match &node.kind {
            NodeKind::Null => Ok(&[]),
            NodeKind::Map(m) => Ok(m),
            _ => Err(self.err(
                node,
                format!("{what} must be a mapping, found {}", node.kind_name()),
            )),
        }
    }
}

//! The `constructed` inventory plugin: a YAML source (`plugin: constructed`) that adds
//! variables (`compose`) and groups (`groups`, `keyed_groups`) to the hosts the other sources
//! define, from Jinja2 expressions over each host's variables.
//!
//! Templating lives above this crate, so a source is only parsed here ([`Spec`]); the binary
//! applies the pending specs with its templar through [`Evaluate`] once every source is
//! loaded ([`Inventory::construct`]). Unlike Ansible, which runs it at its place among the
//! sources, a constructed source therefore sees the hosts of every source, also later ones.

use drover_yaml::{Node, NodeKind, Pos, SourceError};
use minijinja::Value;

use crate::{Inventory, InventoryError, Vars};

/// Jinja2 evaluation for the plugin, provided by the caller (lookups off, as in Ansible).
pub trait Evaluate {
    /// The value of the expression `expr` over `vars`.
    fn value(&self, expr: &str, vars: &Vars) -> Result<Value, String>;
}

/// One expression of the source, with where it was written (for errors).
#[derive(Debug, Clone)]
struct Expr {
    text: String,
    pos: Pos,
}

#[derive(Debug, Clone)]
struct KeyedGroup {
    key: Expr,
    prefix: String,
    separator: String,
    parent_group: Option<String>,
    default_value: Option<String>,
    trailing_separator: bool,
}

/// A parsed `constructed` source, waiting to be applied.
#[derive(Debug, Clone)]
pub struct Spec {
    file: String,
    src: String,
    strict: bool,
    compose: Vec<(String, Expr)>,
    groups: Vec<(String, Expr)>,
    keyed_groups: Vec<KeyedGroup>,
    leading_separator: bool,
    use_vars_plugins: bool,
}

/// The plugin names drover runs; others are refused by name.
pub(crate) fn is_constructed(plugin: &str) -> bool {
    matches!(plugin, "constructed" | "ansible.builtin.constructed")
}

fn err(file: &str, src: &str, node: &Node, message: impl Into<String>) -> InventoryError {
    SourceError::new(file, src, node.span.start, message.into()).into()
}

fn text(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
            node.scalar_text()
        }
        _ => None,
    }
}

fn flag(file: &str, src: &str, node: &Node) -> Result<bool, InventoryError> {
    match &node.kind {
        NodeKind::Bool(b) => Ok(*b),
        _ => Err(err(file, src, node, "expected a boolean")),
    }
}

/// Parses a `constructed` source's options.
pub(crate) fn parse(file: &str, src: &str, root: &Node) -> Result<Spec, InventoryError> {
    let mut spec = Spec {
        file: file.to_string(),
        src: src.to_string(),
        strict: false,
        compose: Vec::new(),
        groups: Vec::new(),
        keyed_groups: Vec::new(),
        leading_separator: true,
        use_vars_plugins: false,
    };
    let entries = root.as_map().unwrap_or(&[]);
    let expr_map = |node: &Node, what: &str| -> Result<Vec<(String, Expr)>, InventoryError> {
        let Some(m) = node.as_map() else {
            if node.is_null() {
                return Ok(Vec::new());
            }
            return Err(err(file, src, node, format!("{what} must be a mapping")));
        };
        m.iter()
            .map(|(k, v)| {
                let name = text(k).ok_or_else(|| err(file, src, k, "expected a name"))?;
                let expr = text(v)
                    .ok_or_else(|| err(file, src, v, format!("{what}: expected an expression")))?;
                Ok((
                    name,
                    Expr {
                        text: expr,
                        pos: v.span.start,
                    },
                ))
            })
            .collect()
    };
    for (key, value) in entries {
        match key.as_str().unwrap_or_default() {
            "plugin" => {}
            "strict" => spec.strict = flag(file, src, value)?,
            "leading_separator" => spec.leading_separator = flag(file, src, value)?,
            "use_vars_plugins" => spec.use_vars_plugins = flag(file, src, value)?,
            // Extra variables are not known to the inventory loader; accepted, and unused.
            "use_extra_vars" | "cache" | "cache_plugin" | "cache_timeout" | "cache_connection"
            | "cache_prefix" => {}
            "compose" => spec.compose = expr_map(value, "compose")?,
            "groups" => spec.groups = expr_map(value, "groups")?,
            "keyed_groups" => {
                let items = match &value.kind {
                    NodeKind::Seq(items) => items.as_slice(),
                    NodeKind::Null => &[],
                    _ => return Err(err(file, src, value, "keyed_groups must be a list")),
                };
                for item in items {
                    spec.keyed_groups.push(keyed_group(file, src, item)?);
                }
            }
            other => {
                return Err(err(
                    file,
                    src,
                    key,
                    format!("unknown option {other:?} of the constructed inventory plugin"),
                ))
            }
        }
    }
    Ok(spec)
}

fn keyed_group(file: &str, src: &str, item: &Node) -> Result<KeyedGroup, InventoryError> {
    let Some(entries) = item.as_map() else {
        return Err(err(
            file,
            src,
            item,
            "Invalid keyed group entry, it must be a dictionary",
        ));
    };
    let mut key = None;
    let mut kg = KeyedGroup {
        key: Expr {
            text: String::new(),
            pos: item.span.start,
        },
        prefix: String::new(),
        separator: "_".into(),
        parent_group: None,
        default_value: None,
        trailing_separator: true,
    };
    let mut trailing_set = false;
    for (k, v) in entries {
        let field = k.as_str().unwrap_or_default();
        let value =
            || text(v).ok_or_else(|| err(file, src, v, format!("{field}: expected a string")));
        match field {
            "key" => {
                key = Some(Expr {
                    text: value()?,
                    pos: v.span.start,
                })
            }
            "prefix" => kg.prefix = if v.is_null() { String::new() } else { value()? },
            "separator" => kg.separator = if v.is_null() { String::new() } else { value()? },
            "parent_group" => kg.parent_group = Some(value()?),
            "default_value" => kg.default_value = Some(value()?),
            "trailing_separator" => {
                kg.trailing_separator = flag(file, src, v)?;
                trailing_set = true;
            }
            other => {
                return Err(err(
                    file,
                    src,
                    k,
                    format!("unknown keyed_groups option {other:?}"),
                ))
            }
        }
    }
    if trailing_set && kg.default_value.is_some() {
        return Err(err(
            file,
            src,
            item,
            "parameters are mutually exclusive for keyed groups: default_value|trailing_separator",
        ));
    }
    kg.key = key.ok_or_else(|| err(file, src, item, "a keyed group needs a key"))?;
    Ok(kg)
}

/// Ansible's `to_safe_group_name(force=True)`: anything but letters, digits and `_` becomes `_`.
fn safe_group_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A group-name part as Python's `%s` prints it; `None` counts as empty, as in ansible-core.
fn part(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        return String::new();
    }
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

impl Spec {
    fn fail(&self, pos: Pos, message: String) -> InventoryError {
        SourceError::new(&self.file, &self.src, pos, message).into()
    }
}

impl Inventory {
    /// Whether `constructed` sources wait to be applied.
    pub fn has_pending_constructed(&self) -> bool {
        !self.constructed.is_empty()
    }

    /// Applies the `constructed` sources, in order, to every host.
    ///
    /// # Errors
    /// With `strict: true`, an expression that fails; always, a keyed group whose key is
    /// not a string, list or mapping.
    pub fn construct(&mut self, eval: &dyn Evaluate) -> Result<(), InventoryError> {
        let specs = std::mem::take(&mut self.constructed);
        for spec in &specs {
            let hosts: Vec<String> = self.hosts.keys().cloned().collect();
            for host in hosts {
                self.construct_host(spec, &host, eval)?;
            }
            self.reconcile();
        }
        Ok(())
    }

    fn construct_host(
        &mut self,
        spec: &Spec,
        host: &str,
        eval: &dyn Evaluate,
    ) -> Result<(), InventoryError> {
        // A host's variables as Ansible's Host.get_vars() gives them: with its magic variables.
        let vars = |inv: &Inventory| {
            let mut v = inv.host_vars_with(host, spec.use_vars_plugins);
            v.insert("inventory_hostname".into(), Value::from(host));
            let short = host.split('.').next().unwrap_or(host);
            v.insert("inventory_hostname_short".into(), Value::from(short));
            v.insert("group_names".into(), Value::from(inv.group_names(host)));
            v
        };
        for (name, expr) in &spec.compose {
            match eval.value(&expr.text, &vars(self)) {
                Ok(v) => self.set_host_var(host, name, v),
                Err(e) if spec.strict => {
                    return Err(spec.fail(
                        expr.pos,
                        format!("Could not set {name} for host {host}: {e}"),
                    ))
                }
                Err(_) => {}
            }
        }
        let vars = vars(self);
        for (group, expr) in &spec.groups {
            match eval.value(&expr.text, &vars) {
                Ok(v) if v.is_true() => {
                    let g = safe_group_name(group);
                    self.ensure_group(&g);
                    self.add_host(host, &g);
                }
                Ok(_) => {}
                Err(e) if spec.strict => {
                    return Err(spec.fail(
                        expr.pos,
                        format!("Could not add host {host} to group {group}: {e}"),
                    ))
                }
                Err(_) => {}
            }
        }
        for kg in &spec.keyed_groups {
            let key = match eval.value(&kg.key.text, &vars) {
                Ok(v) => v,
                Err(e) if spec.strict => {
                    return Err(spec.fail(
                        kg.key.pos,
                        format!(
                            "Could not generate group for host {host} from {} entry: {e}",
                            kg.key.text
                        ),
                    ))
                }
                Err(_) => continue,
            };
            let empty = key.is_none() || key.as_str() == Some("");
            if !(key.is_true() || empty && kg.default_value.is_some()) {
                let container = matches!(
                    key.kind(),
                    minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map
                );
                if spec.strict && !container {
                    return Err(spec.fail(
                        kg.key.pos,
                        format!(
                            "No key or key resulted empty for {} in host {host}, invalid entry",
                            kg.key.text
                        ),
                    ));
                }
                continue;
            }
            let or_default = |s: String| match (&kg.default_value, s.is_empty()) {
                (Some(d), true) => d.clone(),
                _ => s,
            };
            let mut names = Vec::new();
            match key.kind() {
                minijinja::value::ValueKind::String | minijinja::value::ValueKind::None => {
                    names.push(or_default(part(&key)));
                }
                minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Iterable => {
                    for item in key.try_iter().map_err(|e| spec.fail(kg.key.pos, e.to_string()))? {
                        names.push(or_default(part(&item)));
                    }
                }
                minijinja::value::ValueKind::Map => {
                    for k in key.try_iter().map_err(|e| spec.fail(kg.key.pos, e.to_string()))? {
                        let v = part(&key.get_item(&k).unwrap_or_default());
                        let bare = match (&kg.default_value, v.is_empty()) {
                            (Some(d), true) => format!("{}{}{d}", part(&k), kg.separator),
                            (None, true) if !kg.trailing_separator => part(&k),
                            _ => format!("{}{}{v}", part(&k), kg.separator),
                        };
                        names.push(bare);
                    }
                }
                _ => {
                    return Err(spec.fail(
                        kg.key.pos,
                        format!(
                            "Invalid group name format, expected a string or a list of them or dictionary, got: {}",
                            key.kind()
                        ),
                    ))
                }
            }
            for bare in names {
                let sep = if kg.prefix.is_empty() && !spec.leading_separator {
                    ""
                } else {
                    kg.separator.as_str()
                };
                let g = safe_group_name(&format!("{}{sep}{bare}", kg.prefix));
                self.ensure_group(&g);
                self.add_host(host, &g);
                if let Some(parent) = &kg.parent_group {
                    let p = safe_group_name(parent);
                    self.ensure_group(&p);
                    self.add_child(&p, &g)
                        .map_err(|m| spec.fail(kg.key.pos, m))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_made_safe() {
        assert_eq!(safe_group_name("tag_a-b.c"), "tag_a_b_c");
        assert_eq!(safe_group_name("ok_1"), "ok_1");
    }
}

//! Module lookup by name, short or fully qualified.

use std::collections::HashMap;

use crate::Module;

/// The prefixes under which Ansible's builtin modules are also known.
const PREFIXES: &[&str] = &["ansible.builtin.", "ansible.legacy."];

/// `ansible.builtin.copy` → `copy`; other names unchanged.
pub fn canonical_name(name: &str) -> &str {
    if let Some((_, short)) = COLLECTION_MODULES.iter().find(|(full, _)| *full == name) {
        return short;
    }
    PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name)
}

/// Modules known by another name: ones from collections that drover ships under their short
/// names (Ansible routes the short name to the collection too), and `gather_facts`, the action
/// that runs the fact modules, which for drover is `setup`.
const COLLECTION_MODULES: &[(&str, &str)] = &[
    ("ansible.posix.authorized_key", "authorized_key"),
    ("ansible.posix.sysctl", "sysctl"),
    ("ansible.posix.mount", "mount"),
    ("community.general.ini_file", "ini_file"),
    ("gather_facts", "setup"),
    ("ansible.builtin.gather_facts", "setup"),
    ("ansible.legacy.gather_facts", "setup"),
];

/// All host modules drover knows.
pub struct Registry {
    modules: HashMap<&'static str, Box<dyn Module>>,
}

impl Registry {
    pub fn builtin() -> Registry {
        let list: Vec<Box<dyn Module>> = crate::all();
        Registry {
            modules: list.into_iter().map(|m| (m.spec().name, m)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&dyn Module> {
        self.modules.get(canonical_name(name)).map(|m| m.as_ref())
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.modules.keys().copied()
    }
}

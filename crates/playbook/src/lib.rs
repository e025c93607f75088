//! Ansible playbooks, roles and task files as a typed model with source locations.
//!
//! The loader resolves everything that Ansible resolves statically — `import_playbook`,
//! `import_tasks`, `import_role`, `roles:` with their `meta/` dependencies, and keyword
//! inheritance from blocks, roles and imports — and rejects malformed input with a positioned
//! error before any host is contacted. Dynamic includes stay as [`TaskKind::IncludeTasks`] and
//! [`TaskKind::IncludeRole`]; the engine loads them per host through [`Loader`].

mod keywords;
pub use keywords::is_reserved_name;
mod load;
mod model;

pub use load::{
    load_play_vars_file, load_vars_file, LoadError, LoadTemplater, Loader, LoaderConfig, RoleFiles,
};
pub use model::*;

//! The playbook engine: runs plays on hosts and emits typed events.
//!
//! Architecture invariants:
//! - the engine never touches a terminal or a socket: hosts are reached through
//!   [`state::Connector`] (wired to `drover-transport` by the binary), output goes out as
//!   [`event::Event`]s to an [`event::EventSink`];
//! - nothing runs on a host before [`validate::validate`] accepted the whole playbook;
//! - variables are never merged per task: [`vars::TaskVars`] looks names up through the
//!   precedence layers, and values are templated lazily when read.

mod actions;
mod argspec;
mod controller;
mod cursor;
mod custom_stats;
mod deadline;
pub mod event;
mod exec;
pub mod inventory;
mod jobs;
mod meta;
mod play;
mod reboot;
pub mod state;
pub mod validate;
pub mod vars;
mod wait_for_connection;

pub use event::{Collect, Event, EventSink, HostStats, Status};
pub use inventory::InventorySource;
pub use jobs::{failed_on_host, run_on_host};
pub use play::{display_hosts, play_hosts, run_playbook, tags_selected, task_tags, RunSummary};
pub use state::{BecomeInfo, ConnectionInfo, Connector, RunOptions, RunShared};

/// Hosts worked on at once by default. drover's cost per host is one SSH connection and a
/// small helper process, so it can afford far more than Ansible's 5.
pub const DEFAULT_FORKS: usize = 100;

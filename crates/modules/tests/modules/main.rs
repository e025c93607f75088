//! Module behaviour against the real local transport, in temporary directories.

#[path = "../support/mod.rs"]
mod support;

mod command;
mod copy;
mod file;

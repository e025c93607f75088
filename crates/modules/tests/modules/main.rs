//! Module behaviour against the real local transport, in temporary directories.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod command;
mod copy;
mod edit;
mod file;
mod info;
mod known_hosts;
mod round_trips;
mod transfer;

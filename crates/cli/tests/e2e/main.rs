//! End-to-end tests of the `drover` binary: playbooks in, output and machine state out.
//! One test binary (modules below) so linking happens once.

mod archives;
mod asynchronous;
mod constructed;
mod git;
mod http;
mod lab;
mod lab_system;
mod local;
mod play_output;
mod stats;
mod support;
mod transfer;
mod wait;

//! Running the binary and reading its output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The recap counters of a host: `ok=2 changed=1 ...` as (name, value) pairs.
    pub fn recap(&self, host: &str) -> Vec<(String, u64)> {
        let line = self
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("PLAY RECAP"))
            .find(|l| l.split_whitespace().next() == Some(host))
            .unwrap_or_else(|| panic!("no recap line for {host} in:\n{}", self.stdout));
        line.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
            .collect()
    }

    pub fn count(&self, host: &str, what: &str) -> u64 {
        self.recap(host)
            .into_iter()
            .find(|(k, _)| k == what)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {what} in recap"))
    }

    pub fn all(&self) -> String {
        format!("{}\n--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

pub fn drover() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_drover"))
}

pub fn run(args: &[&str], cwd: &Path) -> Run {
    let out: Output = Command::new(drover())
        .args(args)
        .current_dir(cwd)
        .env_remove("ANSIBLE_INVENTORY")
        .env("CI", "1")
        .output()
        .expect("run drover");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes files given as (relative path, content) under `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
}

/// The workspace root (for `examples/` and `lab/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub const LOCAL_INVENTORY: &str = "[local]\nlocalhost ansible_connection=local\n";

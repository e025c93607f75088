//! Where vault passwords come from: `--vault-password-file`, `--vault-id label@source` and
//! `--ask-vault-pass`.
//!
//! Prompting is the caller's job (library crates never touch the terminal): [`VaultIdSpec::load`]
//! takes a callback that is asked for a password with the prompt text Ansible uses.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{LabeledSecret, Secret, VaultError, DEFAULT_VAULT_ID};

/// Where one password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file holding the password, or an executable printing it on stdout.
    File(PathBuf),
    /// Ask on the terminal.
    Prompt,
}

/// One `--vault-id` (or `--vault-password-file`, or `--ask-vault-pass`) argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultIdSpec {
    pub label: Option<String>,
    pub source: PasswordSource,
}

impl VaultIdSpec {
    /// Parses `label@source` or a bare `source`, where a source is a path or `prompt`.
    pub fn parse(arg: &str) -> Result<VaultIdSpec, VaultError> {
        let (label, source) = match arg.split_once('@') {
            Some((label, source)) => {
                if label.is_empty() || label.contains(|c: char| c == ';' || c.is_whitespace()) {
                    return Err(VaultError::BadVaultId(label.to_owned()));
                }
                (Some(label.to_owned()), source)
            }
            None => (None, arg),
        };
        let source = match source {
            "" => return Err(VaultError::BadVaultId(arg.to_owned())),
            "prompt" | "prompt_ask_vault_pass" => PasswordSource::Prompt,
            path => PasswordSource::File(PathBuf::from(path)),
        };
        Ok(VaultIdSpec { label, source })
    }

    /// `--vault-password-file PATH`: the unlabelled (`default`) password from a file.
    pub fn password_file(path: impl Into<PathBuf>) -> VaultIdSpec {
        VaultIdSpec {
            label: None,
            source: PasswordSource::File(path.into()),
        }
    }

    /// `--ask-vault-pass`: the unlabelled password from the terminal.
    pub fn ask() -> VaultIdSpec {
        VaultIdSpec {
            label: None,
            source: PasswordSource::Prompt,
        }
    }

    /// The label as Ansible names it: `default` when none was given.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(DEFAULT_VAULT_ID)
    }

    /// The text Ansible prompts with for this source.
    pub fn prompt_text(&self) -> String {
        match self.label.as_deref() {
            Some(label) if label != DEFAULT_VAULT_ID => format!("Vault password ({label}): "),
            _ => "Vault password: ".to_owned(),
        }
    }

    /// Reads the password. `prompt` is called with [`VaultIdSpec::prompt_text`] for a
    /// `prompt` source; it should fail clearly when there is no terminal.
    pub fn load(
        &self,
        prompt: &mut dyn FnMut(&str) -> Result<Secret, VaultError>,
    ) -> Result<LabeledSecret, VaultError> {
        let secret = match &self.source {
            PasswordSource::Prompt => {
                let secret = prompt(&self.prompt_text())?;
                if secret.is_empty() {
                    return Err(VaultError::EmptyPassword("prompt".to_owned()));
                }
                secret
            }
            PasswordSource::File(path) => read_password_file(path, self.label.as_deref())?,
        };
        Ok(LabeledSecret {
            label: self.label.clone(),
            secret,
        })
    }
}

fn expand_home(path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    path.to_owned()
}

/// Reads a password file. An executable file is run and its stdout (without surrounding
/// CR/LF) is the password; a script whose name ends in `-client` (before any extension) is
/// asked for `label` with `--vault-id LABEL`, as Ansible's vault client scripts are. A plain
/// file's contents are stripped of surrounding whitespace. An empty password is an error.
pub fn read_password_file(path: &Path, label: Option<&str>) -> Result<Secret, VaultError> {
    let path = expand_home(path);
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VaultError::PasswordFileMissing(shown))
        }
        Err(err) => return Err(VaultError::PasswordFile { path: shown, err }),
    };
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        return run_password_script(&path, label);
    }
    let data =
        zeroize::Zeroizing::new(
            std::fs::read(&path).map_err(|err| VaultError::PasswordFile {
                path: shown.clone(),
                err,
            })?,
        );
    let secret = Secret::new(data.trim_ascii());
    if secret.is_empty() {
        return Err(VaultError::EmptyPassword(format!("file ({shown})")));
    }
    Ok(secret)
}

fn is_client_script(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
}

fn run_password_script(path: &Path, label: Option<&str>) -> Result<Secret, VaultError> {
    let shown = path.display().to_string();
    let client = is_client_script(path);
    let label = label.unwrap_or(DEFAULT_VAULT_ID);
    // A bare file name is a file here, not a program to look up in PATH.
    let program = if path.components().count() == 1 {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    };
    let mut command = Command::new(&program);
    if client {
        command.args(["--vault-id", label]);
    }
    // stderr stays the caller's so a script can prompt on it, as with Ansible.
    let output = command
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| VaultError::ScriptSpawn {
            path: shown.clone(),
            err,
        })?;
    let stdout = zeroize::Zeroizing::new(output.stdout);
    if !output.status.success() {
        if client && output.status.code() == Some(2) {
            return Err(VaultError::ClientUnknownId {
                path: shown,
                label: label.to_owned(),
            });
        }
        let code = output
            .status
            .code()
            .map_or_else(|| "killed by a signal".to_owned(), |c| c.to_string());
        return Err(VaultError::ScriptFailed { path: shown, code });
    }
    let start = stdout
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(stdout.len());
    let end = stdout
        .iter()
        .rposition(|b| !matches!(b, b'\r' | b'\n'))
        .map_or(start, |i| i + 1);
    let secret = Secret::new(&stdout[start..end.max(start)]);
    if secret.is_empty() {
        return Err(VaultError::EmptyPassword(format!("script ({shown})")));
    }
    Ok(secret)
}

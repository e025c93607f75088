//! `ansible.cfg` and the matching `ANSIBLE_*` environment variables, for the settings users
//! actually set. Precedence, as in Ansible: command line > environment > config file > default.
//!
//! The config file is the first of `$ANSIBLE_CONFIG`, `./ansible.cfg`, `~/.ansible.cfg`,
//! `/etc/ansible/ansible.cfg` that exists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The settings drover reads, each already resolved from environment and file.
#[derive(Debug, Default, Clone)]
pub struct Config {
    /// The file the settings came from, if any.
    pub file: Option<PathBuf>,
    pub inventory: Vec<String>,
    pub roles_path: Vec<PathBuf>,
    /// Where collections (`<path>/ansible_collections/<ns>/<name>`) are looked for; `None`:
    /// Ansible's default, `~/.ansible/collections:/usr/share/ansible/collections`.
    pub collections_path: Option<Vec<PathBuf>>,
    pub forks: Option<usize>,
    pub remote_user: Option<String>,
    pub host_key_checking: Option<bool>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    /// `gathering`: `implicit` (default) gathers unless a play says otherwise; `explicit` only
    /// when a play asks. `smart` is treated as `implicit`.
    pub gather_by_default: Option<bool>,
    pub private_key_file: Option<String>,
    pub timeout: Option<u64>,
    pub ssh_args: Option<String>,
    /// `show_custom_stats`: print what `set_stats` recorded after the recap.
    pub show_custom_stats: bool,
    /// `force_handlers`: run notified handlers on failed hosts too.
    pub force_handlers: bool,
    /// `error_on_missing_handler` (`None`: Ansible's default, true).
    pub error_on_missing_handler: Option<bool>,
    /// `private_role_vars` (`None`: not set).
    pub private_role_vars: Option<bool>,
    /// `duplicate_dict_key`: what a YAML mapping key given twice does (`None`: warn).
    pub duplicate_dict_key: Option<drover_yaml::DuplicateKeys>,
    /// `allow_broken_conditionals`: non-boolean conditional results use Python truthiness.
    pub allow_broken_conditionals: bool,
    /// `hash_behaviour = merge`: a dictionary variable defined in several places is their
    /// recursive merge, not the highest one.
    pub hash_merge: bool,
    /// The default callback's `display_skipped_hosts` (`None`: true).
    pub display_skipped_hosts: Option<bool>,
    /// `display_ok_hosts` (`None`: true).
    pub display_ok_hosts: Option<bool>,
    /// `display_failed_stderr`: failed and unreachable results on stderr.
    pub display_failed_stderr: bool,
    /// `check_mode_markers`: `[CHECK MODE]` on banners and a `DRY RUN` banner under --check.
    pub check_mode_markers: bool,
    /// `show_task_path_on_failure`.
    pub show_task_path_on_failure: bool,
    /// `callback_result_format = yaml`.
    pub yaml_results: bool,
    /// `callback_format_pretty` (`None`: not set).
    pub pretty_results: Option<bool>,
    /// `fact_caching`: the cache plugin (`memory`, the default, or `jsonfile`).
    pub fact_caching: Option<String>,
    /// `fact_caching_connection`: the `jsonfile` cache's directory.
    pub fact_caching_connection: Option<PathBuf>,
    pub fact_caching_prefix: Option<String>,
    pub fact_caching_timeout: Option<u64>,
    /// Settings in the file that drover does not use, to be shown as warnings.
    pub warnings: Vec<String>,
}

/// (section, key, environment variable) of every supported setting.
const SETTINGS: &[(&str, &str, &str)] = &[
    ("defaults", "inventory", "ANSIBLE_INVENTORY"),
    ("defaults", "roles_path", "ANSIBLE_ROLES_PATH"),
    ("defaults", "collections_path", "ANSIBLE_COLLECTIONS_PATH"),
    ("defaults", "forks", "ANSIBLE_FORKS"),
    ("defaults", "remote_user", "ANSIBLE_REMOTE_USER"),
    ("defaults", "host_key_checking", "ANSIBLE_HOST_KEY_CHECKING"),
    ("defaults", "gathering", "ANSIBLE_GATHERING"),
    ("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE"),
    ("defaults", "timeout", "ANSIBLE_TIMEOUT"),
    ("privilege_escalation", "become", "ANSIBLE_BECOME"),
    ("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER"),
    (
        "privilege_escalation",
        "become_method",
        "ANSIBLE_BECOME_METHOD",
    ),
    ("ssh_connection", "ssh_args", "ANSIBLE_SSH_ARGS"),
    ("defaults", "show_custom_stats", "ANSIBLE_SHOW_CUSTOM_STATS"),
    ("defaults", "force_handlers", "ANSIBLE_FORCE_HANDLERS"),
    (
        "defaults",
        "error_on_missing_handler",
        "ANSIBLE_ERROR_ON_MISSING_HANDLER",
    ),
    ("defaults", "private_role_vars", "ANSIBLE_PRIVATE_ROLE_VARS"),
    (
        "defaults",
        "duplicate_dict_key",
        "ANSIBLE_DUPLICATE_YAML_DICT_KEY",
    ),
    (
        "defaults",
        "allow_broken_conditionals",
        "ANSIBLE_ALLOW_BROKEN_CONDITIONALS",
    ),
    ("defaults", "hash_behaviour", "ANSIBLE_HASH_BEHAVIOUR"),
    (
        "defaults",
        "display_skipped_hosts",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS",
    ),
    ("defaults", "display_ok_hosts", "ANSIBLE_DISPLAY_OK_HOSTS"),
    (
        "defaults",
        "display_failed_stderr",
        "ANSIBLE_DISPLAY_FAILED_STDERR",
    ),
    (
        "defaults",
        "check_mode_markers",
        "ANSIBLE_CHECK_MODE_MARKERS",
    ),
    (
        "defaults",
        "show_task_path_on_failure",
        "ANSIBLE_SHOW_TASK_PATH_ON_FAILURE",
    ),
    (
        "defaults",
        "callback_result_format",
        "ANSIBLE_CALLBACK_RESULT_FORMAT",
    ),
    (
        "defaults",
        "callback_format_pretty",
        "ANSIBLE_CALLBACK_FORMAT_PRETTY",
    ),
    ("defaults", "fact_caching", "ANSIBLE_CACHE_PLUGIN"),
    (
        "defaults",
        "fact_caching_connection",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION",
    ),
    (
        "defaults",
        "fact_caching_prefix",
        "ANSIBLE_CACHE_PLUGIN_PREFIX",
    ),
    (
        "defaults",
        "fact_caching_timeout",
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT",
    ),
];

/// Settings drover accepts and ignores because they only tune Ansible's own machinery.
const ACCEPTED: &[&str] = &[
    "pipelining",
    "control_path",
    "control_path_dir",
    "retry_files_enabled",
    "stdout_callback",
    "callbacks_enabled",
    "callback_whitelist",
    "interpreter_python",
    "deprecation_warnings",
    "nocows",
    "strategy",
    "ansible_managed",
];

impl Config {
    /// Settings that act on the whole process (how YAML treats duplicate keys), applied once
    /// before anything is loaded.
    pub fn apply_process_settings(&self) {
        if let Some(policy) = self.duplicate_dict_key {
            drover_yaml::set_duplicate_keys(policy);
        }
    }
    /// Loads the config file (if any) and the environment.
    pub fn load() -> Result<Config> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = find_file(&env);
        let text = match &file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?,
            None => String::new(),
        };
        let mut config = Config::from_parts(file, &text, &env)?;
        if let Some(f) = &config.file {
            config.warnings = Config::unknown_keys(&text)
                .into_iter()
                .map(|k| format!("{}: setting {k} is not used by drover", f.display()))
                .collect();
        }
        Ok(config)
    }

    fn from_parts(
        file: Option<PathBuf>,
        text: &str,
        env: &HashMap<String, String>,
    ) -> Result<Config> {
        let name = file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "ansible.cfg".into());
        let ini = parse_ini(text, &name)?;
        let base = file
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        let get = |section: &str, key: &str, var: &str| -> Option<String> {
            env.get(var)
                .cloned()
                .or_else(|| ini.get(&(section.to_string(), key.to_string())).cloned())
        };
        let mut c = Config {
            file: file.clone(),
            ..Config::default()
        };
        let bool_of = |key: &str, v: String| -> Result<bool> {
            match v.trim().to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" | "y" | "t" => Ok(true),
                "no" | "false" | "off" | "0" | "n" | "f" => Ok(false),
                _ => bail!("{name}: {key} = {v:?} is not a boolean"),
            }
        };
        // Relative paths in the file are relative to the file's directory.
        let path_of = |p: &str| -> String {
            let expanded = expand_home(p.trim());
            match &base {
                Some(b) if !Path::new(&expanded).is_absolute() && !expanded.contains(',') => {
                    b.join(&expanded).display().to_string()
                }
                _ => expanded,
            }
        };
        for (section, key, var) in SETTINGS {
            let Some(v) = get(section, key, var) else {
                continue;
            };
            match *key {
                "inventory" => {
                    c.inventory = v
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| {
                            if env.contains_key(*var) {
                                s.trim().to_string()
                            } else {
                                path_of(s)
                            }
                        })
                        .collect();
                    // A host list keeps its trailing comma meaning.
                    if v.contains(',') && !Path::new(v.trim()).exists() {
                        c.inventory = vec![v.trim().to_string()];
                    }
                }
                "roles_path" | "collections_path" => {
                    // Relative entries: to the config file's directory when they come from
                    // the file, to the current directory when from the environment.
                    let from_env = env.contains_key(*var);
                    let paths: Vec<PathBuf> = v
                        .split(':')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| {
                            if from_env {
                                PathBuf::from(expand_home(s.trim()))
                            } else {
                                PathBuf::from(path_of(s))
                            }
                        })
                        .collect();
                    if *key == "roles_path" {
                        c.roles_path = paths;
                    } else {
                        c.collections_path = Some(paths);
                    }
                }
                "forks" => {
                    c.forks =
                        Some(v.trim().parse().map_err(|_| {
                            anyhow::anyhow!("{name}: forks = {v:?} is not a number")
                        })?)
                }
                "remote_user" => c.remote_user = Some(v.trim().to_string()),
                "host_key_checking" => c.host_key_checking = Some(bool_of(key, v)?),
                "gathering" => {
                    c.gather_by_default = Some(match v.trim() {
                        "implicit" | "smart" => true,
                        "explicit" => false,
                        other => bail!(
                            "{name}: gathering = {other:?}: expected implicit, explicit or smart"
                        ),
                    })
                }
                "private_key_file" => c.private_key_file = Some(path_of(&v)),
                "timeout" => {
                    c.timeout = Some(v.trim().parse().map_err(|_| {
                        anyhow::anyhow!("{name}: timeout = {v:?} is not a number of seconds")
                    })?)
                }
                "become" => c.become_ = Some(bool_of(key, v)?),
                "become_user" => c.become_user = Some(v.trim().to_string()),
                "become_method" => c.become_method = Some(v.trim().to_string()),
                "ssh_args" => c.ssh_args = Some(v.trim().to_string()),
                "show_custom_stats" => c.show_custom_stats = bool_of(key, v)?,
                "force_handlers" => c.force_handlers = bool_of(key, v)?,
                "error_on_missing_handler" => c.error_on_missing_handler = Some(bool_of(key, v)?),
                "private_role_vars" => c.private_role_vars = Some(bool_of(key, v)?),
                "duplicate_dict_key" => {
                    c.duplicate_dict_key = Some(match v.trim().to_ascii_lowercase().as_str() {
                        "warn" => drover_yaml::DuplicateKeys::Warn,
                        "error" => drover_yaml::DuplicateKeys::Error,
                        "ignore" => drover_yaml::DuplicateKeys::Ignore,
                        other => bail!(
                            "{name}: duplicate_dict_key = {other:?}: expected warn, error or ignore"
                        ),
                    })
                }
                "allow_broken_conditionals" => c.allow_broken_conditionals = bool_of(key, v)?,
                "display_skipped_hosts" => c.display_skipped_hosts = Some(bool_of(key, v)?),
                "display_ok_hosts" => c.display_ok_hosts = Some(bool_of(key, v)?),
                "display_failed_stderr" => c.display_failed_stderr = bool_of(key, v)?,
                "check_mode_markers" => c.check_mode_markers = bool_of(key, v)?,
                "show_task_path_on_failure" => c.show_task_path_on_failure = bool_of(key, v)?,
                "callback_result_format" => {
                    c.yaml_results = match v.trim().to_ascii_lowercase().as_str() {
                        "yaml" => true,
                        "json" => false,
                        other => bail!(
                            "{name}: callback_result_format = {other:?} is not one of json, yaml"
                        ),
                    }
                }
                "callback_format_pretty" => c.pretty_results = Some(bool_of(key, v)?),
                "hash_behaviour" => {
                    c.hash_merge = match v.trim().to_ascii_lowercase().as_str() {
                        "merge" => true,
                        "replace" => false,
                        other => {
                            bail!("{name}: hash_behaviour = {other:?} is not one of replace, merge")
                        }
                    }
                }
                "fact_caching" => c.fact_caching = Some(v.trim().to_string()),
                "fact_caching_connection" => {
                    c.fact_caching_connection = Some(PathBuf::from(path_of(&v)))
                }
                "fact_caching_prefix" => c.fact_caching_prefix = Some(v),
                "fact_caching_timeout" => {
                    c.fact_caching_timeout = Some(v.trim().parse().map_err(|_| {
                        anyhow::anyhow!(
                            "{name}: fact_caching_timeout = {v:?} is not a number of seconds"
                        )
                    })?)
                }
                _ => {}
            }
        }
        Ok(c)
    }

    /// Keys in the file that drover neither uses nor knows to be harmless.
    fn unknown_keys(text: &str) -> Vec<String> {
        let Ok(ini) = parse_ini(text, "ansible.cfg") else {
            return Vec::new();
        };
        let mut out: Vec<String> = ini
            .keys()
            .filter(|(s, k)| {
                !SETTINGS.iter().any(|(ss, kk, _)| ss == s && kk == k)
                    && !ACCEPTED.contains(&k.as_str())
            })
            .map(|(s, k)| format!("[{s}] {k}"))
            .collect();
        out.sort();
        out
    }
}

fn find_file(env: &HashMap<String, String>) -> Option<PathBuf> {
    if let Some(p) = env.get("ANSIBLE_CONFIG") {
        let p = PathBuf::from(expand_home(p));
        return p.is_file().then_some(p);
    }
    let mut candidates = vec![PathBuf::from("ansible.cfg")];
    if let Some(home) = env.get("HOME") {
        candidates.push(Path::new(home).join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    candidates.into_iter().find(|p| p.is_file())
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

/// A small INI reader in Python configparser's spirit: `[section]`, `key = value` or
/// `key: value`, `#`/`;` comment lines, continuation lines indented.
fn parse_ini(text: &str, name: &str) -> Result<HashMap<(String, String), String>> {
    let mut out = HashMap::new();
    let mut section: Option<String> = None;
    let mut last: Option<(String, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(key) = &last {
                if let Some(v) = out.get_mut(key) {
                    let v: &mut String = v;
                    v.push('\n');
                    v.push_str(trimmed);
                }
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(s) = rest.strip_suffix(']') else {
                bail!("{name}:{}: malformed section header: {trimmed}", i + 1);
            };
            section = Some(s.trim().to_string());
            last = None;
            continue;
        }
        let Some(sec) = &section else {
            bail!(
                "{name}:{}: a setting before any [section]: {trimmed}",
                i + 1
            );
        };
        let Some(pos) = trimmed.find(['=', ':']) else {
            bail!("{name}:{}: expected 'key = value', found: {trimmed}", i + 1);
        };
        let key = trimmed[..pos].trim().to_ascii_lowercase();
        let mut value = trimmed[pos + 1..].trim().to_string();
        // Inline comments need whitespace before them, as configparser's inline prefixes.
        for marker in [" #", " ;"] {
            if let Some(p) = value.find(marker) {
                value.truncate(p);
                value = value.trim_end().to_string();
            }
        }
        let k = (sec.clone(), key);
        out.insert(k.clone(), value);
        last = Some(k);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str, env: &[(&str, &str)]) -> Result<Config> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_parts(Some(PathBuf::from("/proj/ansible.cfg")), text, &env)
    }

    #[test]
    fn reads_settings_relative_to_the_file() {
        let c = cfg(
            "[defaults]\ninventory = hosts.ini\nroles_path = roles:/opt/roles\nforks = 50\nhost_key_checking = False\ngathering = explicit\n\n[privilege_escalation]\nbecome = yes\nbecome_user: admin\n[ssh_connection]\nssh_args = -o ControlMaster=auto # tuned\npipelining = True\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.inventory, vec!["/proj/hosts.ini"]);
        assert_eq!(
            c.roles_path,
            vec![PathBuf::from("/proj/roles"), PathBuf::from("/opt/roles")]
        );
        assert_eq!(c.forks, Some(50));
        assert_eq!(c.host_key_checking, Some(false));
        assert_eq!(c.gather_by_default, Some(false));
        assert_eq!(c.become_, Some(true));
        assert_eq!(c.become_user.as_deref(), Some("admin"));
        assert_eq!(c.ssh_args.as_deref(), Some("-o ControlMaster=auto"));
    }

    #[test]
    fn environment_wins_over_the_file() {
        let c = cfg(
            "[defaults]\nforks = 5\n",
            &[("ANSIBLE_FORKS", "7"), ("ANSIBLE_BECOME", "true")],
        )
        .unwrap();
        assert_eq!(c.forks, Some(7));
        assert_eq!(c.become_, Some(true));
    }

    #[test]
    fn fact_cache_settings() {
        let c = cfg(
            "[defaults]\nfact_caching = jsonfile\nfact_caching_connection = /tmp/fc\nfact_caching_timeout = 60\n",
            &[("ANSIBLE_CACHE_PLUGIN_PREFIX", "p_")],
        )
        .unwrap();
        assert_eq!(c.fact_caching.as_deref(), Some("jsonfile"));
        assert_eq!(c.fact_caching_connection, Some(PathBuf::from("/tmp/fc")));
        assert_eq!(c.fact_caching_prefix.as_deref(), Some("p_"));
        assert_eq!(c.fact_caching_timeout, Some(60));
    }

    #[test]
    fn allow_broken_conditionals_from_file_and_environment() {
        let c = cfg("[defaults]\nallow_broken_conditionals = yes\n", &[]).unwrap();
        assert!(c.allow_broken_conditionals);
        let c = cfg(
            "[defaults]\nallow_broken_conditionals = yes\n",
            &[("ANSIBLE_ALLOW_BROKEN_CONDITIONALS", "0")],
        )
        .unwrap();
        assert!(!c.allow_broken_conditionals);
    }

    #[test]
    fn bad_values_are_errors_with_the_file_name() {
        let e = cfg("[defaults]\nforks = many\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/proj/ansible.cfg") && e.contains("forks"),
            "{e}"
        );
        let e = cfg("forks = 1\n", &[]).unwrap_err().to_string();
        assert!(e.contains("ansible.cfg:1"), "{e}");
        let e = cfg("[defaults]\nhost_key_checking = maybe\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("host_key_checking"), "{e}");
    }

    #[test]
    fn unknown_keys_are_listed() {
        let u = Config::unknown_keys("[defaults]\nforks=1\nnocows=1\nfrobnicate=2\n");
        assert_eq!(u, vec!["[defaults] frobnicate"]);
    }
}

//! The `drover` command: argument parsing, wiring of inventory, engine and transport, and the
//! one place that reports errors to people.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod async_job;
mod config;
mod connect;
mod extra_vars;
mod inventory;
mod output;
mod vault_cmd;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use drover_engine::{RunOptions, RunShared};
use drover_inventory::{Inventory, VarsDirKind};
use drover_playbook::{Loader, LoaderConfig, Playbook, Task, TaskKind, Vars};
use drover_template::{Templar, TemplarConfig};
use drover_transport::{HelperBinary, Transport, TransportConfig};

use crate::output::{Format, Printer};

#[derive(Parser)]
#[command(
    name = "drover",
    version,
    about = "Runs Ansible playbooks natively over SSH, without Python on targets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run playbooks (as ansible-playbook).
    Playbook(PlaybookArgs),
    /// Run one module on hosts matching a pattern (as ansible).
    Exec(ExecArgs),
    /// Show the inventory (as ansible-inventory).
    Inventory(InventoryArgs),
    /// Encrypt and decrypt Ansible vault files (as ansible-vault).
    Vault(vault_cmd::VaultArgs),
    /// Serve the helper RPC on stdin/stdout (what drover runs on managed hosts).
    #[command(name = "__helper", hide = true)]
    Helper,
    /// Run an `async` job on this host (what a helper starts for an async task).
    #[command(name = "__async_job", hide = true)]
    AsyncJob {
        /// The job's result file.
        file: std::path::PathBuf,
        /// Seconds after which the job is killed.
        timeout: u64,
    },
}

/// Options shared by `playbook` and `exec`.
#[derive(Args, Clone)]
struct Common {
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    inventory: Vec<String>,
    /// Further limit the selected hosts to a pattern.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    limit: Option<String>,
    /// Extra variables: key=value, YAML/JSON, or @file (repeatable).
    #[arg(short = 'e', long = "extra-vars", value_name = "EXTRA_VARS")]
    extra_vars: Vec<String>,
    /// Number of hosts worked on in parallel.
    #[arg(short = 'f', long = "forks")]
    forks: Option<usize>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    user: Option<String>,
    /// Connection type (ssh or local).
    #[arg(short = 'c', long = "connection")]
    connection: Option<String>,
    /// Private key file for SSH.
    #[arg(
        long = "private-key",
        alias = "key-file",
        value_name = "PRIVATE_KEY_FILE"
    )]
    private_key: Option<String>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long = "timeout")]
    timeout: Option<u64>,
    /// Run operations with become.
    #[arg(short = 'b', long = "become")]
    become_: bool,
    #[arg(long = "become-user")]
    become_user: Option<String>,
    #[arg(long = "become-method")]
    become_method: Option<String>,
    /// Ask for the become password.
    #[arg(short = 'K', long = "ask-become-pass")]
    ask_become_pass: bool,
    /// Read the become password from this file (an executable file is run and prints it).
    #[arg(
        long = "become-password-file",
        alias = "become-pass-file",
        value_name = "BECOME_PASSWORD_FILE"
    )]
    become_password_file: Option<PathBuf>,
    /// Arguments for every ssh, sftp and scp command (hosts' ansible_ssh_common_args win).
    #[arg(
        long = "ssh-common-args",
        value_name = "SSH_COMMON_ARGS",
        allow_hyphen_values = true
    )]
    ssh_common_args: Option<String>,
    /// Arguments for ssh only (hosts' ansible_ssh_extra_args win).
    #[arg(
        long = "ssh-extra-args",
        value_name = "SSH_EXTRA_ARGS",
        allow_hyphen_values = true
    )]
    ssh_extra_args: Option<String>,
    /// Report what would change without changing anything.
    #[arg(short = 'C', long = "check")]
    check: bool,
    /// Show the differences in files changed.
    #[arg(short = 'D', long = "diff")]
    diff: bool,
    /// More output (-vvvv for the most).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Output format: human (Ansible's) or json (one event per line).
    #[arg(long = "output", default_value = "human", value_parser = ["human", "json"])]
    output: String,
    #[command(flatten)]
    vault: vault_cmd::VaultPasswordArgs,
}

impl Common {
    /// Loads the vault secrets into the run's keyring, before anything is read.
    fn load_vault(&self) -> Result<()> {
        drover_vault::yaml::set_keyring(self.vault.load()?);
        Ok(())
    }
}

#[derive(Args)]
struct PlaybookArgs {
    #[command(flatten)]
    common: Common,
    /// Only run tasks tagged with these tags.
    #[arg(short = 't', long = "tags", value_delimiter = ',')]
    tags: Vec<String>,
    /// Skip tasks tagged with these tags.
    #[arg(long = "skip-tags", value_delimiter = ',')]
    skip_tags: Vec<String>,
    /// Check the playbooks without running them.
    #[arg(long = "syntax-check")]
    syntax_check: bool,
    /// List the hosts each play would run on.
    #[arg(long = "list-hosts")]
    list_hosts: bool,
    /// List the tasks each play would run.
    #[arg(long = "list-tasks")]
    list_tasks: bool,
    /// List all tags.
    #[arg(long = "list-tags")]
    list_tags: bool,
    /// Run notified handlers even on hosts that failed.
    #[arg(long = "force-handlers")]
    force_handlers: bool,
    /// Start at the task with this name.
    #[arg(long = "start-at-task")]
    start_at_task: Option<String>,
    /// Clear the fact cache of every host in the inventory first.
    #[arg(long = "flush-cache")]
    flush_cache: bool,
    /// Playbook files.
    #[arg(required = true)]
    playbooks: Vec<PathBuf>,
}

#[derive(Args)]
struct ExecArgs {
    #[command(flatten)]
    common: Common,
    /// Module name.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    module: String,
    /// Module arguments (k=v or free form).
    #[arg(short = 'a', long = "args", default_value = "")]
    args: String,
    /// Host pattern.
    pattern: String,
    /// Only list the hosts the pattern (and --limit) select.
    #[arg(long = "list-hosts")]
    list_hosts: bool,
    /// Seconds after which the task fails as timed out (its `timeout` keyword).
    #[arg(long = "task-timeout", value_name = "TASK_TIMEOUT")]
    task_timeout: Option<u64>,
    /// One line per host.
    #[arg(short = 'o', long = "one-line")]
    one_line: bool,
}

#[derive(Args)]
struct InventoryArgs {
    #[arg(short = 'i', long = "inventory")]
    inventory: Vec<String>,
    /// All hosts and groups as JSON.
    #[arg(long = "list")]
    list: bool,
    /// The group tree.
    #[arg(long = "graph")]
    graph: bool,
    /// One host's variables.
    #[arg(long = "host")]
    host: Option<String>,
    /// Group for --graph.
    group: Option<String>,
    /// Also show variables with --graph.
    #[arg(long = "vars")]
    vars: bool,
    /// With --list: groups carry their own vars, hosts only theirs.
    #[arg(long = "export")]
    export: bool,
    /// With --list: YAML instead of JSON, groups nested as in a YAML inventory.
    #[arg(short = 'y', long = "yaml")]
    yaml: bool,
    /// Verbosity, accepted as ansible-inventory accepts it (the output does not change).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // Multi-call: invoked as `ansible-playbook`, `ansible`, `ansible-inventory`.
    let invoked = argv
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    // `ansible --version` and friends: what Ansible prints first, naming drover.
    if invoked.starts_with("ansible") && argv.iter().skip(1).any(|a| a == "--version") {
        let config = config::Config::load().ok().and_then(|c| c.file);
        println!(
            "{invoked} [core 2.19.0] (drover {})\n  config file = {}",
            env!("CARGO_PKG_VERSION"),
            config.map_or_else(|| "None".to_string(), |p| p.display().to_string())
        );
        return ExitCode::SUCCESS;
    }
    let mut args = argv.clone();
    match invoked.as_str() {
        "ansible-playbook" => args.insert(1, "playbook".into()),
        "ansible" => args.insert(1, "exec".into()),
        "ansible-inventory" => args.insert(1, "inventory".into()),
        "ansible-vault" => args.insert(1, "vault".into()),
        _ => {}
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 5 } else { 0 });
        }
    };
    if let Command::AsyncJob { file, timeout } = &cli.command {
        return async_job::main(file, *timeout);
    }
    // Jobs of `async` tasks run this very executable on the host (and on the controller, for
    // the local connection).
    if let Ok(exe) = std::env::current_exe() {
        drover_helper::jobs::set_job_runner(exe);
    }
    if let Command::Helper = cli.command {
        return match drover_helper::serve(std::io::stdin().lock(), std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("drover helper: {e}");
                ExitCode::from(1)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("[ERROR]: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Playbook(a) => playbook(a).await,
            Command::Exec(a) => exec(a).await,
            Command::Inventory(a) => inventory_cmd(a),
            Command::Vault(a) => vault_cmd::run(a),
            Command::Helper | Command::AsyncJob { .. } => Ok(0),
        }
    });
    // Background `async` jobs (`poll: 0`) kept on the controller (hosts without a helper) that
    // are still running are abandoned: the process does not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("[ERROR]: {e:#}");
            // ansible-playbook: 1 for errors, 4 for parser errors, 5 for bad options.
            let parse_error = e.downcast_ref::<drover_playbook::LoadError>().is_some()
                || e.downcast_ref::<drover_yaml::YamlError>().is_some();
            ExitCode::from(if parse_error { 4 } else { 1 })
        }
    }
}

/// The inventory sources of a run: `-i`, else the configured ones.
fn inventory_sources(sources: &[String], config: &config::Config) -> Vec<String> {
    if sources.is_empty() {
        config.inventory.clone()
    } else {
        sources.to_vec()
    }
}

/// Jinja2 expressions over a host's variables, for the `constructed` inventory plugin.
struct InventoryJinja(Templar);

impl drover_inventory::Evaluate for InventoryJinja {
    fn value(
        &self,
        expr: &str,
        vars: &drover_inventory::Vars,
    ) -> std::result::Result<minijinja::Value, String> {
        let map: std::collections::BTreeMap<String, minijinja::Value> =
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.0
            .eval_expression(expr, &drover_template::Scope::new(Arc::new(map)))
            .map_err(|e| e.to_string())
    }
}

/// Loads the inventory sources and applies the `constructed` ones among them.
fn read_inventory(
    sources: &[String],
    hash_merge: bool,
) -> std::result::Result<Inventory, drover_inventory::InventoryError> {
    let mut inv = Inventory::load_merging(sources, hash_merge)?;
    if inv.has_pending_constructed() {
        inv.construct(&InventoryJinja(Templar::new(TemplarConfig::default())))?;
    }
    Ok(inv)
}

fn load_inventory(sources: &[String], config: &config::Config) -> Result<Inventory> {
    let sources = inventory_sources(sources, config);
    let inv = read_inventory(&sources, config.hash_merge)?;
    for w in inv.warnings() {
        eprintln!("[WARNING]: {w}");
    }
    Ok(inv)
}

fn options(common: &Common, config: &config::Config) -> Result<RunOptions> {
    let become_password = if common.ask_become_pass {
        Some(prompt_password("BECOME password: ")?)
    } else if let Some(file) = &common.become_password_file {
        let secret = drover_vault::read_password_file(file, None)
            .map_err(|e| anyhow!("--become-password-file: {e}"))?;
        Some(String::from_utf8_lossy(secret.expose()).into_owned())
    } else {
        None
    };
    Ok(RunOptions {
        check: common.check,
        diff: common.diff,
        forks: common
            .forks
            .or(config.forks)
            .unwrap_or(drover_engine::DEFAULT_FORKS)
            .max(1),
        verbosity: common.verbose,
        limit: common.limit.clone(),
        remote_user: common.user.clone().or_else(|| config.remote_user.clone()),
        become_: common.become_ || config.become_.unwrap_or(false),
        become_user: common
            .become_user
            .clone()
            .or_else(|| config.become_user.clone()),
        become_method: common
            .become_method
            .clone()
            .or_else(|| config.become_method.clone()),
        become_password,
        timeout: common.timeout.or(config.timeout),
        private_key_file: common
            .private_key
            .clone()
            .or_else(|| config.private_key_file.clone()),
        host_key_checking: config.host_key_checking,
        gather_facts: config.gather_by_default.unwrap_or(true),
        ssh_args: config.ssh_args.clone(),
        fact_cache_dir: fact_cache_dir(config),
        fact_cache_prefix: config
            .fact_caching_prefix
            .clone()
            .unwrap_or_else(|| RunOptions::default().fact_cache_prefix),
        fact_cache_timeout: config
            .fact_caching_timeout
            .unwrap_or_else(|| RunOptions::default().fact_cache_timeout),
        playbook_python: drover_inventory::python3_on_path(),
        hash_merge: config.hash_merge,
        ssh_common_args: common.ssh_common_args.clone(),
        ssh_extra_args: common.ssh_extra_args.clone(),
        ..RunOptions::default()
    })
}

/// The `jsonfile` fact cache's directory; the other cache plugins are not drover's.
fn fact_cache_dir(config: &config::Config) -> Option<PathBuf> {
    match config.fact_caching.as_deref() {
        None | Some("memory") | Some("ansible.builtin.memory") => None,
        Some("jsonfile") | Some("ansible.builtin.jsonfile") => {
            if config.fact_caching_connection.is_none() {
                eprintln!("[WARNING]: the jsonfile fact cache needs fact_caching_connection (ANSIBLE_CACHE_PLUGIN_CONNECTION); facts are kept for this run only");
            }
            config.fact_caching_connection.clone()
        }
        Some(other) => {
            eprintln!("[WARNING]: fact_caching = {other} is not supported by drover (only jsonfile); facts are kept for this run only");
            None
        }
    }
}

fn prompt_password(prompt: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("{prompt}needs an interactive terminal (set ansible_become_password instead)");
    }
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The helper to upload: this very executable, run as `drover __helper`.
fn helper_binary() -> Option<HelperBinary> {
    let exe = std::env::current_exe().ok()?;
    HelperBinary::from_path(exe, vec!["__helper".into()]).ok()
}

struct Wiring {
    run: Arc<RunShared>,
}

fn wire(
    inventory: inventory::InventoryAdapter,
    extra_vars: Vars,
    playbook_dir: PathBuf,
    options: RunOptions,
    printer: Arc<Printer>,
    loader: Loader,
) -> Result<Wiring> {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let mut config = TransportConfig::new(helper_binary());
    if let Some(t) = options.timeout {
        config.connect_timeout = std::time::Duration::from_secs(t);
    }
    config.warnings = Some(Arc::new(move |w: drover_transport::Warning| {
        if let Ok(mut v) = sink.lock() {
            v.push(format!("{}: {}", w.host, w.message));
        }
    }));
    let transport = Transport::new(config)?;
    let connector = Arc::new(connect::TransportConnector::new(transport, warnings));
    // The callers have already reported a broken config file; defaults are fine here.
    let settings = config::Config::load().unwrap_or_default();
    let run = RunShared::new(
        Templar::new(TemplarConfig {
            allow_broken_conditionals: settings.allow_broken_conditionals,
            private_role_vars: settings.private_role_vars.unwrap_or(false),
            ..TemplarConfig::default()
        }),
        Arc::new(inventory),
        extra_vars,
        playbook_dir,
        options,
        printer,
        connector,
        loader,
    );
    Ok(Wiring { run })
}

/// Ctrl-C: the first stops new tasks (running ones finish, files stay whole), the second exits.
fn install_interrupt(run: Arc<RunShared>) -> Result<()> {
    // Registered here, synchronously: a Ctrl-C that arrives before the watcher task first runs
    // must not fall back to the default action (killing drover mid-write).
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::spawn(async move {
        if sigint.recv().await.is_some() {
            run.interrupted
                .store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!("\n[WARNING]: interrupted: finishing running tasks (Ctrl-C again to abort)");
            if sigint.recv().await.is_some() {
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

/// What ansible-playbook and ansible say first from -v on.
fn announce_config(config: &config::Config, verbosity: u8) {
    if verbosity == 0 {
        return;
    }
    match &config.file {
        Some(f) => println!("Using {} as config file", f.display()),
        None => println!("No config file found; using defaults"),
    }
}

async fn playbook(a: PlaybookArgs) -> Result<i32> {
    let common = &a.common;
    let config = config::Config::load()?;
    config.apply_process_settings();
    announce_config(&config, common.verbose);
    for w in &config.warnings {
        eprintln!("[WARNING]: {w}");
    }
    common.load_vault()?;
    let mut inventory = load_inventory(&common.inventory, &config)?;
    let extra = extra_vars::parse_all(&common.extra_vars)?;
    let first = a
        .playbooks
        .first()
        .ok_or_else(|| anyhow!("no playbook given"))?;
    let playbook_dir = first
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let playbook_dir = playbook_dir.canonicalize().unwrap_or(playbook_dir);
    // Everything is loaded and checked before any host is contacted.
    let loader_config = LoaderConfig {
        roles_path: if config.roles_path.is_empty() {
            // Ansible's default roles_path: where `ansible-galaxy install` puts roles.
            let mut default = Vec::new();
            if let Some(home) = std::env::var_os("HOME") {
                default.push(PathBuf::from(home).join(".ansible/roles"));
            }
            default.push(PathBuf::from("/usr/share/ansible/roles"));
            default.push(PathBuf::from("/etc/ansible/roles"));
            default
        } else {
            config.roles_path.clone()
        },
        collections_path: config.collections_path.clone().unwrap_or_else(|| {
            let mut default = Vec::new();
            if let Some(home) = std::env::var_os("HOME") {
                default.push(PathBuf::from(home).join(".ansible/collections"));
            }
            default.push(PathBuf::from("/usr/share/ansible/collections"));
            default
        }),
        templater: Some(load_templater(&extra)),
    };
    let mut playbooks: Vec<Playbook> = Vec::new();
    for path in &a.playbooks {
        if !path.is_file() {
            bail!("the playbook: {} could not be found", path.display());
        }
        let loader = Loader::new(&playbook_dir, loader_config.clone());
        let loaded = loader.load_playbook(path);
        for w in loader.take_warnings() {
            eprintln!("[WARNING]: {w}");
        }
        playbooks.push(loaded?);
    }
    let registry = drover_modules::Registry::builtin();
    for pb in &playbooks {
        if let Err(errors) = drover_engine::validate::validate(pb, &registry) {
            let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            bail!("{}", text.join("\n"));
        }
    }
    inventory.add_vars_dir(&playbook_dir, VarsDirKind::Playbook)?;
    if a.syntax_check {
        for p in &a.playbooks {
            println!("\nplaybook: {}", p.display());
        }
        return Ok(0);
    }
    let playbooks = playbooks
        .into_iter()
        .map(|pb| answer_prompts(pb, &extra))
        .collect::<Result<Vec<_>>>()?;
    let mut options = options(common, &config)?;
    if a.flush_cache {
        for host in inventory.hosts() {
            if let Some(path) = options.fact_cache_file(&host.name) {
                if let Err(e) = std::fs::remove_file(&path) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        eprintln!("[WARNING]: cannot flush {}: {e}", path.display());
                    }
                }
            }
        }
    }
    options.tags = a.tags.clone();
    options.skip_tags = a.skip_tags.clone();
    options.start_at_task = a.start_at_task.clone();
    options.force_handlers = a.force_handlers || config.force_handlers;
    options.error_on_missing_handler = config.error_on_missing_handler.unwrap_or(true);
    options.private_role_vars = config.private_role_vars;
    if a.list_hosts || a.list_tasks || a.list_tags {
        return list(&a, &playbooks, inventory, extra, playbook_dir, options);
    }
    let format = if common.output == "json" {
        Format::Json
    } else {
        Format::Human
    };
    let printer = Arc::new(
        Printer::new(
            format,
            common.verbose,
            std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
        )
        .show_custom_stats(config.show_custom_stats)
        .callback(output::CallbackOptions {
            display_skipped_hosts: config.display_skipped_hosts.unwrap_or(true),
            display_ok_hosts: config.display_ok_hosts.unwrap_or(true),
            display_failed_stderr: config.display_failed_stderr,
            check_mode_markers: config.check_mode_markers,
            show_task_path_on_failure: config.show_task_path_on_failure,
            yaml_results: config.yaml_results,
            pretty_results: config.pretty_results,
            check: common.check,
        })
        .debug(
            std::env::var("ANSIBLE_DEBUG")
                .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "True" | "yes" | "on")),
        ),
    );
    let mut code = 0;
    for pb in &playbooks {
        let loader = Loader::new(&playbook_dir, loader_config.clone());
        // `meta: refresh_inventory` reads the sources again, with the playbook's vars dirs.
        let reload = {
            let (sources, dir, hash_merge) = (
                inventory_sources(&common.inventory, &config),
                playbook_dir.clone(),
                config.hash_merge,
            );
            move || -> std::result::Result<Inventory, String> {
                let mut inv = read_inventory(&sources, hash_merge).map_err(|e| e.to_string())?;
                inv.add_vars_dir(&dir, VarsDirKind::Playbook)
                    .map_err(|e| e.to_string())?;
                Ok(inv)
            }
        };
        let w = wire(
            inventory::InventoryAdapter::new(inventory.clone()).with_reload(Box::new(reload)),
            extra.clone(),
            playbook_dir.clone(),
            options.clone(),
            printer.clone(),
            loader,
        )?;
        install_interrupt(w.run.clone())?;
        let summary = drover_engine::run_playbook(w.run, pb).await;
        code = code.max(summary.exit_code);
        if summary.interrupted {
            break;
        }
    }
    Ok(code)
}

/// Templates what the loader must template (`import_playbook` names): the given variables
/// under the extra vars, with drover's filters.
fn load_templater(extra: &Vars) -> drover_playbook::LoadTemplater {
    let extra = extra.clone();
    let templar = Templar::new(TemplarConfig::default());
    drover_playbook::LoadTemplater(Arc::new(move |text: &str, vars: &Vars| {
        let mut all: std::collections::HashMap<String, minijinja::Value> =
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        let scope = drover_template::Scope::new(Arc::new(all));
        templar
            .render_str(text, &scope)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .map_err(|e| e.to_string())
    }))
}

/// Asks the `vars_prompt` questions of every play before anything runs; the answers become
/// play variables (above `vars:`, below extra vars, as in Ansible). Variables given with `-e`
/// are not asked for. Without a terminal, a prompt with a default takes it, others fail.
fn answer_prompts(mut pb: Playbook, extra: &Vars) -> Result<Playbook> {
    let interactive = std::io::stdin().is_terminal();
    for play in &mut pb.plays {
        if play.vars_prompt.is_empty() {
            continue;
        }
        let mut vars = (*play.vars).clone();
        for p in &play.vars_prompt {
            if extra.contains_key(&p.name) {
                continue;
            }
            let question = p.prompt.clone().unwrap_or_else(|| p.name.clone());
            let value = if interactive {
                let default_text = p
                    .default
                    .as_ref()
                    .map(|d| {
                        format!(
                            " [{}]",
                            d.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| d.to_string())
                        )
                    })
                    .unwrap_or_default();
                let ask = |q: &str| -> Result<String> {
                    if p.private {
                        Ok(rpassword::prompt_password(format!("{q}{default_text}: "))?)
                    } else {
                        eprint!("{q}{default_text}: ");
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line)?;
                        Ok(line.trim_end_matches(['\n', '\r']).to_string())
                    }
                };
                let answer = ask(&question)?;
                if p.confirm && ask(&format!("confirm {question}"))? != answer {
                    bail!("***** VALUES ENTERED DO NOT MATCH ****");
                }
                match (&p.default, answer.is_empty()) {
                    (Some(d), true) => d.clone(),
                    _ => minijinja::Value::from(answer),
                }
            } else {
                match &p.default {
                    Some(d) => d.clone(),
                    None => bail!(
                        "{}: vars_prompt '{}' needs an answer but there is no terminal; pass it with -e {}=VALUE",
                        p.loc,
                        p.name,
                        p.name
                    ),
                }
            };
            vars.insert(p.name.clone(), value);
        }
        let mut new_play = (**play).clone();
        new_play.vars = Arc::new(vars);
        *play = Arc::new(new_play);
    }
    Ok(pb)
}

/// `--list-hosts`, `--list-tasks`, `--list-tags` in ansible-playbook's layout.
fn list(
    a: &PlaybookArgs,
    playbooks: &[Playbook],
    inventory: Inventory,
    extra: Vars,
    playbook_dir: PathBuf,
    options: RunOptions,
) -> Result<i32> {
    let printer = Arc::new(Printer::new(Format::Human, 0, false));
    let loader = Loader::new(&playbook_dir, LoaderConfig::default());
    let w = wire(
        inventory::InventoryAdapter::new(inventory),
        extra,
        playbook_dir,
        options,
        printer,
        loader,
    )?;
    for (pb, path) in playbooks.iter().zip(&a.playbooks) {
        println!("\nplaybook: {}", path.display());
        for (i, play) in pb.plays.iter().enumerate() {
            let name = play
                .name
                .clone()
                .unwrap_or_else(|| drover_engine::display_hosts(&play.hosts));
            let hosts = drover_engine::play_hosts(&w.run, play).map_err(|e| anyhow!(e))?;
            println!(
                "\n  play #{} ({}): {}\tTAGS: [{}]",
                i + 1,
                drover_engine::display_hosts(&play.hosts),
                name,
                play.tags.join(", ")
            );
            if a.list_hosts {
                println!(
                    "    pattern: ['{}']",
                    drover_engine::display_hosts(&play.hosts)
                );
                println!("    hosts ({}):", hosts.len());
                for h in &hosts {
                    println!("      {h}");
                }
            }
            if a.list_tasks || a.list_tags {
                let mut lines = Vec::new();
                let mut tags = Vec::new();
                for list in [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks] {
                    collect_tasks(list, &w.run, play, &mut lines, &mut tags);
                }
                if a.list_tasks {
                    println!("    tasks:");
                    for l in lines {
                        println!("      {l}");
                    }
                }
                if a.list_tags {
                    tags.sort();
                    tags.dedup();
                    println!("      TASK TAGS: [{}]", tags.join(", "));
                }
            }
        }
    }
    Ok(0)
}

fn collect_tasks(
    list: &[Task],
    run: &Arc<RunShared>,
    play: &Arc<drover_playbook::Play>,
    lines: &mut Vec<String>,
    tags: &mut Vec<String>,
) {
    for t in list {
        match &t.kind {
            TaskKind::Block {
                block,
                rescue,
                always,
            } => {
                for l in [block, rescue, always] {
                    collect_tasks(l, run, play, lines, tags);
                }
            }
            TaskKind::RoleTasks { tasks, .. } => collect_tasks(tasks, run, play, lines, tags),
            _ => {
                let mut task_tags = drover_engine::task_tags(run, play, t);
                if !drover_engine::tags_selected(run, &task_tags) {
                    continue;
                }
                tags.extend(task_tags.iter().cloned());
                // ansible-playbook lists a task's tags sorted.
                task_tags.sort();
                lines.push(format!(
                    "{}\tTAGS: [{}]",
                    t.display_name(),
                    task_tags.join(", ")
                ));
            }
        }
    }
}

async fn exec(a: ExecArgs) -> Result<i32> {
    let common = &a.common;
    let config = config::Config::load()?;
    config.apply_process_settings();
    announce_config(&config, common.verbose);
    common.load_vault()?;
    let inventory = load_inventory(&common.inventory, &config)?;
    let extra = extra_vars::parse_all(&common.extra_vars)?;
    let module = drover_modules::canonical_name(&a.module).to_string();
    // An ad-hoc run is a one-task play, so it shares every behaviour of playbooks.
    let dir = std::env::current_dir().context("current directory")?;
    let yaml = ad_hoc_play(
        &a.pattern,
        &module,
        &a.args,
        common.connection.as_deref(),
        a.task_timeout.filter(|t| *t > 0),
    );
    let tmp = dir.join(".drover-adhoc.yml");
    let loader = Loader::new(&dir, LoaderConfig::default());
    let pb = loader
        .load_playbook_str(&yaml, &tmp)
        .map_err(|e| anyhow!("{e}"))?;
    let registry = drover_modules::Registry::builtin();
    if let Err(errors) = drover_engine::validate::validate(&pb, &registry) {
        let text: Vec<String> = errors.iter().map(|e| e.message.clone()).collect();
        bail!("{}", text.join("\n"));
    }
    let mut options = options(common, &config)?;
    options.gather_facts = false;
    let format = if common.output == "json" {
        Format::Json
    } else {
        Format::Human
    };
    let printer = Arc::new(
        Printer::new(format, common.verbose.max(1), false)
            .ad_hoc()
            .one_line(a.one_line),
    );
    let w = wire(
        inventory::InventoryAdapter::new(inventory),
        extra,
        dir.clone(),
        options,
        printer,
        Loader::new(&dir, LoaderConfig::default()),
    )?;
    if a.list_hosts {
        // As ansible --list-hosts: the selected hosts, nothing run.
        let hosts = match pb.plays.first() {
            Some(play) => drover_engine::play_hosts(&w.run, play).map_err(|e| anyhow!(e))?,
            None => Vec::new(),
        };
        let mut out = format!("  hosts ({}):\n", hosts.len());
        for h in &hosts {
            out.push_str(&format!("    {h}\n"));
        }
        std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
        return Ok(0);
    }
    install_interrupt(w.run.clone())?;
    let summary = drover_engine::run_playbook(w.run, &pb).await;
    Ok(summary.exit_code)
}

/// The one-task play of an ad-hoc command. Arguments that are a JSON object (`-a '{"cmd":
/// "id"}'`) are the module's mapping of arguments, as in Ansible; others are its free form.
fn ad_hoc_play(
    pattern: &str,
    module: &str,
    args: &str,
    connection: Option<&str>,
    timeout: Option<u64>,
) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let conn = connection
        .map(|c| format!("  connection: {}\n", q(c)))
        .unwrap_or_default();
    let args_yaml = match serde_json::from_str::<serde_json::Value>(args.trim()) {
        Ok(v @ serde_json::Value::Object(_)) => v.to_string(),
        _ => q(args),
    };
    let timeout = timeout
        .map(|t| format!("      timeout: {t}\n"))
        .unwrap_or_default();
    format!(
        "- hosts: {}\n  gather_facts: false\n{conn}  tasks:\n    - {}: {}\n{timeout}",
        q(pattern),
        module,
        args_yaml
    )
}

/// JSON as ansible-inventory prints it: four-space indentation (Python's `indent=4`), text
/// as it is.
fn inventory_json(v: &serde_json::Value) -> Result<String> {
    use serde::Serialize;
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}

fn inventory_cmd(a: InventoryArgs) -> Result<i32> {
    let config = config::Config::load()?;
    config.apply_process_settings();
    let inv = load_inventory(&a.inventory, &config)?;
    if let Some(h) = &a.host {
        let json = inv
            .host_json(h)
            .ok_or_else(|| anyhow!("You must pass a single valid host to --host parameter"))?;
        println!("{}", inventory_json(&json)?);
    } else if a.graph {
        println!("{}", inv.graph(a.group.as_deref())?);
    } else if a.list && a.yaml {
        let tree = drover_template::from_serde(inv.list_yaml_tree(a.export));
        let style = drover_template::YamlStyle {
            flow: Some(false),
            sort_keys: true,
            ..drover_template::YamlStyle::default()
        };
        print!("{}", drover_template::to_yaml_string(&tree, &style));
    } else if a.list {
        println!("{}", inventory_json(&inv.list_json_as(a.export))?);
    } else {
        bail!(
            "No action selected, at least one of --host, --graph or --list needs to be specified."
        );
    }
    Ok(0)
}

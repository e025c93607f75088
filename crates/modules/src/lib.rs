//! Ansible-compatible modules that act on a managed host.
//!
//! Every module is one file behind the [`Module`] trait and declares its arguments as data
//! ([`ModuleSpec`]), so the engine validates a whole playbook before any host is touched, and
//! `--syntax-check`, docs and run time all read the same declaration. Modules reach the host only
//! through [`drover_host::Host`]; they never know whether it is local, SSH or simulated.
//!
//! Modules that act only on the controller (`debug`, `set_fact`, `assert`, `meta`, includes...)
//! are not here: they need the engine's variables and live in `drover-engine`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod args;
mod registry;
mod result;

pub use args::{parse_kv, ArgDef, ArgKind, Args, ArgsError, ModuleSpec};
pub use registry::{canonical_name, Registry};
pub use result::{FileDiff, ModuleError, Outcome};

use std::path::PathBuf;

use drover_host::Host;

/// What a module may ask of the controller: files shipped with the playbook or role, and
/// rendering of templates with the task's variables.
pub trait Controller: Send + Sync {
    /// Resolves a relative `src` the way Ansible does: the role's `files/` (or `templates/` for
    /// `kind == "templates"`), then the role root, then the playbook directory's `files/`, then the
    /// playbook directory. Absolute paths are returned as they are.
    fn find_file(&self, kind: &str, src: &str) -> Result<PathBuf, ModuleError>;

    /// Renders a template file on the controller with the task's variables.
    fn render_template(&self, path: &std::path::Path, dest: &str) -> Result<String, ModuleError>;

    /// [`Controller::render_template`] with the `template` module's Jinja2 options. A
    /// controller that cannot apply options refuses non-default ones rather than ignore them.
    fn render_template_with(
        &self,
        path: &std::path::Path,
        dest: &str,
        options: &TemplateOptions,
    ) -> Result<String, ModuleError> {
        if *options == TemplateOptions::default() {
            self.render_template(path, dest)
        } else {
            Err(ModuleError::Controller(
                "this controller cannot apply template options".into(),
            ))
        }
    }

    /// A controller path a module writes to (`fetch`'s `dest`): relative paths are taken from
    /// the play's directory, as Ansible's `path_dwim` does.
    fn local_path(&self, path: &str) -> PathBuf {
        PathBuf::from(path)
    }

    /// The inventory name of the host the task runs for (the delegating host, not the
    /// delegate); `None` when the controller does not know it.
    fn inventory_hostname(&self) -> Option<String> {
        None
    }
}

/// The `template` module's Jinja2 environment options; `None` keeps Ansible's default (a
/// `#jinja2:` first line of the template still overrides them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateOptions {
    pub trim_blocks: Option<bool>,
    pub lstrip_blocks: Option<bool>,
    pub block_start_string: Option<String>,
    pub block_end_string: Option<String>,
    pub variable_start_string: Option<String>,
    pub variable_end_string: Option<String>,
    pub comment_start_string: Option<String>,
    pub comment_end_string: Option<String>,
}

/// Everything a module run can see besides its arguments.
pub struct Context<'a> {
    pub host: &'a dyn Host,
    pub controller: &'a dyn Controller,
    /// `--check`: report what would change, change nothing.
    pub check: bool,
    /// `--diff`: fill [`Outcome::diff`].
    pub diff: bool,
    /// The task's `environment:`, for modules that run programs.
    pub env: std::collections::BTreeMap<String, String>,
}

/// One module.
#[async_trait::async_trait]
pub trait Module: Send + Sync {
    fn spec(&self) -> &'static ModuleSpec;

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError>;
}

/// Runs `module` after refusing what drover accepts but does not do: the SELinux context and
/// file attribute options Ansible's file modules share (`seuser`, `serole`, `setype`,
/// `selevel`, `attributes`). SELinux options on a host without SELinux have no effect, as in
/// Ansible, so roles written for both families run; on an SELinux host, and for any
/// `attributes`, the task fails instead of silently skipping them.
pub async fn run_module(
    module: &dyn Module,
    args: &Args,
    ctx: &Context<'_>,
) -> Result<Outcome, ModuleError> {
    let set = |name: &str| {
        args.get(name)
            .is_some_and(|v| !v.is_none() && !v.is_undefined() && v.as_str() != Some(""))
    };
    if set("attributes") {
        return Ok(Outcome::failed(
            "attributes (chattr flags) are not supported by drover; set them with a command task",
        ));
    }
    let selinux: Vec<&str> = ["seuser", "serole", "setype", "selevel"]
        .into_iter()
        .filter(|n| set(n))
        .collect();
    if !selinux.is_empty() {
        let probe = drover_host::ExecRequest::shell("test -e /sys/fs/selinux/enforce");
        if ctx.host.exec(&probe).await?.rc == 0 {
            return Ok(Outcome::failed(format!(
                "this host has SELinux, and drover does not set SELinux contexts ({}); use a command task with chcon or semanage",
                selinux.join(", ")
            )));
        }
    }
    module.run(args, ctx).await
}

pub use util::sh_quote;

/// A path on the controller, used in module results.
pub type ControllerPath = PathBuf;

mod accounts;
pub mod shlex;
mod textfile;
mod util;

mod apt;
mod apt_repository;
mod assemble;
mod authorized_key;
mod blockinfile;
mod command;
mod copy;
mod cron;
mod deb822_repository;
mod debconf;
mod dnf;
mod dpkg_selections;
mod fetch;
mod file;
mod find;
mod get_url;
mod getent;
mod git;
mod group;
mod hostname;
mod http;
mod ini_file;
mod known_hosts;
mod lineinfile;
mod mount;
mod package;
mod package_facts;
mod ping;
mod pip;
mod raw;
mod replace;
mod script;
mod service;
mod service_facts;
mod setup;
mod shell;
mod slurp;
mod stat;
mod sysctl;
mod systemd;
mod tempfile;
mod template;
mod unarchive;
mod uri;
mod user;
mod wait_for;

/// Every builtin host module; one line per module file.
fn all() -> Vec<Box<dyn Module>> {
    vec![
        Box::new(apt::Apt),
        Box::new(apt_repository::AptRepository),
        Box::new(assemble::Assemble),
        Box::new(authorized_key::AuthorizedKey),
        Box::new(blockinfile::BlockInFile),
        Box::new(command::Command),
        Box::new(copy::Copy),
        Box::new(cron::Cron),
        Box::new(deb822_repository::Deb822Repository),
        Box::new(debconf::Debconf),
        Box::new(dnf::Dnf),
        Box::new(dpkg_selections::DpkgSelections),
        Box::new(fetch::Fetch),
        Box::new(file::File),
        Box::new(find::Find),
        Box::new(get_url::GetUrl),
        Box::new(getent::Getent),
        Box::new(git::Git),
        Box::new(group::Group),
        Box::new(hostname::Hostname),
        Box::new(ini_file::IniFile),
        Box::new(known_hosts::KnownHosts),
        Box::new(lineinfile::LineInFile),
        Box::new(mount::Mount),
        Box::new(package::Package),
        Box::new(package_facts::PackageFacts),
        Box::new(ping::Ping),
        Box::new(pip::Pip),
        Box::new(raw::Raw),
        Box::new(replace::Replace),
        Box::new(script::Script),
        Box::new(service::Service),
        Box::new(service_facts::ServiceFacts),
        Box::new(setup::Setup),
        Box::new(shell::Shell),
        Box::new(slurp::Slurp),
        Box::new(stat::Stat),
        Box::new(sysctl::Sysctl),
        Box::new(systemd::Systemd),
        Box::new(systemd::SystemdService),
        Box::new(tempfile::TempFile),
        Box::new(template::Template),
        Box::new(unarchive::Unarchive),
        Box::new(uri::Uri),
        Box::new(user::User),
        Box::new(wait_for::WaitFor),
    ]
}

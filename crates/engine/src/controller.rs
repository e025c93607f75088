//! What modules may ask of the controller for one task: files shipped with the playbook or
//! role, and templates rendered with the task's variables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use drover_modules::{Controller, ModuleError, TemplateOptions};
use drover_playbook::Task;

use crate::state::RunShared;
use crate::vars::TaskVars;

pub struct TaskController {
    run: Arc<RunShared>,
    vars: TaskVars,
}

impl TaskController {
    pub fn new(run: Arc<RunShared>, vars: TaskVars, _task: &Task) -> TaskController {
        TaskController { run, vars }
    }
}

impl Controller for TaskController {
    fn find_file(&self, kind: &str, src: &str) -> Result<PathBuf, ModuleError> {
        let p = Path::new(src);
        if p.is_absolute() {
            return if p.exists() {
                Ok(p.to_path_buf())
            } else {
                Err(ModuleError::Controller(format!(
                    "Could not find or access '{src}' on the Ansible Controller."
                )))
            };
        }
        let paths = self.vars.search_paths(kind);
        let key = format!("{kind}\0{src}\0{paths:?}");
        if let Some(found) = self.run.cached_path(&key) {
            return Ok(found);
        }
        paths
            .iter()
            .map(|d| d.join(src))
            .find(|c| c.exists())
            .inspect(|found| self.run.cache_path(key, found.clone()))
            .ok_or_else(|| {
                let searched: Vec<String> = paths.iter().map(|d| d.display().to_string()).collect();
                ModuleError::Controller(format!(
                    "Could not find or access '{src}'\nSearched in:\n\t{}\non the Ansible Controller.",
                    searched.join("\n\t")
                ))
            })
    }

    fn render_template(&self, path: &Path, dest: &str) -> Result<String, ModuleError> {
        self.render_template_with(path, dest, &TemplateOptions::default())
    }

    fn render_template_with(
        &self,
        path: &Path,
        dest: &str,
        options: &TemplateOptions,
    ) -> Result<String, ModuleError> {
        let source = self.run.read_controller_file(path).map_err(|e| {
            ModuleError::Controller(format!("could not read template '{}': {e}", path.display()))
        })?;
        let mut search_paths: Vec<PathBuf> = Vec::new();
        if let Some(dir) = path.parent() {
            search_paths.push(dir.to_path_buf());
        }
        search_paths.extend(self.vars.search_paths("templates"));
        let (host, uid) = self.run.template_identity(path);
        let extra = drover_template::TemplateFileVars {
            host: Some(host),
            uid: Some(uid),
            path: path.display().to_string(),
            fullpath: path.to_path_buf(),
            search_paths,
            destpath: Some(dest.to_string()),
            options: template_options(options),
            ..Default::default()
        };
        self.run
            .templar
            .render_template_file(
                &source,
                &path.display().to_string(),
                &self.vars.scope(),
                &extra,
            )
            .map_err(|e| ModuleError::Controller(format!("{}: {e}", path.display())))
    }

    fn local_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        let joined = match &self.vars.play {
            Some(play) => play.play.dir.join(p),
            None => self.run.playbook_dir.join(p),
        };
        // A playbook named relatively has a relative directory; results name absolute paths.
        if joined.is_relative() {
            if let Ok(cwd) = std::env::current_dir() {
                return cwd.join(joined);
            }
        }
        joined
    }

    fn inventory_hostname(&self) -> Option<String> {
        Some(self.vars.host.name.clone())
    }
}

/// The template module's options as the templar takes them.
fn template_options(o: &TemplateOptions) -> drover_template::TemplateOptions {
    let mut out = drover_template::TemplateOptions::default();
    if let Some(t) = o.trim_blocks {
        out.trim_blocks = t;
    }
    if let Some(l) = o.lstrip_blocks {
        out.lstrip_blocks = l;
    }
    let strings = [
        &o.block_start_string,
        &o.block_end_string,
        &o.variable_start_string,
        &o.variable_end_string,
        &o.comment_start_string,
        &o.comment_end_string,
    ];
    if strings.iter().any(|s| s.is_some()) {
        let mut d = drover_template::Delimiters::default();
        let set = |slot: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *slot = v.clone();
            }
        };
        set(&mut d.block.0, &o.block_start_string);
        set(&mut d.block.1, &o.block_end_string);
        set(&mut d.variable.0, &o.variable_start_string);
        set(&mut d.variable.1, &o.variable_end_string);
        set(&mut d.comment.0, &o.comment_start_string);
        set(&mut d.comment.1, &o.comment_end_string);
        out.delimiters = Some(d);
    }
    out
}

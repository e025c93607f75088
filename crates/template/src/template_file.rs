//! Rendering template files for the `template` module and the `template` lookup: search paths
//! for `include`/`import`/`extends`, the `template_*` variables, `ansible_managed`, and the
//! `#jinja2:` first-line overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value;

use crate::context::Ctx;
use crate::{convert, Inner, Scope, TemplateError, TemplateErrorKind};

/// What the `template` module knows about the file being rendered.
#[derive(Debug, Clone, Default)]
pub struct TemplateFileVars {
    /// The template's path as the user gave it (`template_path`).
    pub path: String,
    /// The absolute path (`template_fullpath`); its directory is searched first for includes.
    pub fullpath: PathBuf,
    /// Directories searched, in order, for `{% include %}`, `{% import %}`, `{% extends %}`.
    pub search_paths: Vec<PathBuf>,
    /// `template_destpath`: where the result goes on the host.
    pub destpath: Option<String>,
    /// `template_host`: the controller's host name. Computed when `None`.
    pub host: Option<String>,
    /// `template_uid`: the template owner's user name. Computed from the file when `None`.
    pub uid: Option<String>,
    /// `template_run_date`. Computed (UTC, Python's `datetime` text form) when `None`.
    pub run_date: Option<String>,
    /// The template module's own whitespace options; `#jinja2:` lines override them.
    pub options: TemplateOptions,
    /// Extra variables visible only inside this template (`template_vars` of the lookup).
    pub locals: BTreeMap<String, Value>,
}

/// The template module's Jinja2 options.
#[derive(Debug, Clone)]
pub struct TemplateOptions {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub keep_trailing_newline: bool,
    /// `\n`, `\r\n` or `\r`.
    pub newline_sequence: String,
    pub delimiters: Option<Delimiters>,
    /// Jinja2's line statements (`# for x in y` on a line of its own), off by default.
    pub line_statement_prefix: Option<String>,
    pub line_comment_prefix: Option<String>,
}

impl Default for TemplateOptions {
    fn default() -> TemplateOptions {
        TemplateOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: true,
            newline_sequence: "\n".into(),
            delimiters: None,
            line_statement_prefix: None,
            line_comment_prefix: None,
        }
    }
}

/// Custom Jinja2 delimiters (`variable_start_string`, …).
#[derive(Debug, Clone)]
pub struct Delimiters {
    pub block: (String, String),
    pub variable: (String, String),
    pub comment: (String, String),
}

impl Default for Delimiters {
    fn default() -> Delimiters {
        Delimiters {
            block: ("{%".into(), "%}".into()),
            variable: ("{{".into(), "}}".into()),
            comment: ("{#".into(), "#}".into()),
        }
    }
}

impl TemplateFileVars {
    /// The variables for a template file at `path`, searching its own directory for includes.
    pub fn for_path(path: &Path) -> TemplateFileVars {
        let fullpath = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let search_paths = fullpath
            .parent()
            .map(|p| vec![p.to_path_buf()])
            .unwrap_or_default();
        TemplateFileVars {
            path: path.to_string_lossy().into_owned(),
            fullpath,
            search_paths,
            ..TemplateFileVars::default()
        }
    }
}

/// Applies a `#jinja2: key: value, key: value` first line to the options; returns the source
/// without that line. Values are Python literals (`True`, `'\\r\\n'`, `":"`), as in Ansible.
fn apply_header<'a>(source: &'a str, opts: &mut TemplateOptions) -> Result<&'a str, TemplateError> {
    let Some(rest) = source.strip_prefix("#jinja2:") else {
        return Ok(source);
    };
    let bad = |msg: String| TemplateError::new(TemplateErrorKind::Syntax, msg);
    let Some((line, body)) = rest.split_once('\n') else {
        return Err(bad("Missing newline after '#jinja2:' override.".into()));
    };
    let mut d = opts.delimiters.clone().unwrap_or_default();
    for pair in line.split(',') {
        if pair.trim().is_empty() {
            return Err(bad("Empty '#jinja2:' override pair not allowed.".into()));
        }
        let Some((key, raw)) = pair.split_once(':') else {
            return Err(bad(format!(
                "Missing key-value separator `:` in '#jinja2:' override pair {}.",
                crate::pyrepr::py_repr(&Value::from(pair))
            )));
        };
        let key = key.trim();
        let value = crate::pylit::parse(raw.trim()).map_err(|e| {
            bad(format!(
                "Invalid '#jinja2:' override value for {key}: {}: {e}",
                raw.trim()
            ))
        })?;
        let text = || match value.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(bad(format!(
                "'#jinja2:' override {key} expects a string, got {}",
                raw.trim()
            ))),
        };
        let optional_text = || {
            if value.is_none() {
                Ok(None)
            } else {
                text().map(Some)
            }
        };
        let flag = || match value.kind() {
            minijinja::value::ValueKind::Bool => Ok(value.is_true()),
            _ => Err(bad(format!(
                "'#jinja2:' override {key} expects True or False, got {}",
                raw.trim()
            ))),
        };
        match key {
            "trim_blocks" => opts.trim_blocks = flag()?,
            "lstrip_blocks" => opts.lstrip_blocks = flag()?,
            "keep_trailing_newline" => opts.keep_trailing_newline = flag()?,
            "newline_sequence" => {
                let nl = text()?;
                if !matches!(nl.as_str(), "\n" | "\r\n" | "\r") {
                    return Err(bad(format!(
                        "'#jinja2:' override newline_sequence must be one of '\\n', '\\r\\n', '\\r', got {}",
                        raw.trim()
                    )));
                }
                opts.newline_sequence = nl;
            }
            "line_statement_prefix" => opts.line_statement_prefix = optional_text()?,
            "line_comment_prefix" => opts.line_comment_prefix = optional_text()?,
            "variable_start_string" => d.variable.0 = text()?,
            "variable_end_string" => d.variable.1 = text()?,
            "block_start_string" => d.block.0 = text()?,
            "block_end_string" => d.block.1 = text()?,
            "comment_start_string" => d.comment.0 = text()?,
            "comment_end_string" => d.comment.1 = text()?,
            _ => {
                return Err(bad(format!(
                    "Invalid '#jinja2:' override key {}.",
                    crate::pyrepr::py_repr(&Value::from(key))
                )))
            }
        }
    }
    let default = Delimiters::default();
    opts.delimiters = (d.block != default.block
        || d.variable != default.variable
        || d.comment != default.comment)
        .then_some(d);
    Ok(body)
}

pub(crate) fn render(
    inner: &Arc<Inner>,
    source: &str,
    name: &str,
    scope: &Scope,
    extra: &TemplateFileVars,
) -> Result<String, TemplateError> {
    let mut opts = extra.options.clone();
    let body = apply_header(source, &mut opts)?;
    let mut env = inner.env.clone();
    env.set_syntax(crate::syntax_with(&opts));
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(parent) = extra.fullpath.parent() {
        dirs.push(parent.to_path_buf());
    }
    dirs.extend(extra.search_paths.iter().cloned());
    // Included and imported templates lose their final newline (Jinja2's default, which
    // Ansible keeps for them) unless the template's `#jinja2:` header asks to keep it; only
    // the template itself has its trailing newlines restored.
    let header_keeps = source
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("#jinja2:") && l.contains("keep_trailing_newline"))
        && opts.keep_trailing_newline;
    env.set_loader(move |name| {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                return std::fs::read_to_string(&p)
                    .map(|mut text| {
                        if !header_keeps && text.ends_with('\n') {
                            text.pop();
                        }
                        Some(text)
                    })
                    .map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::TemplateNotFound,
                            format!("could not read {}: {e}", p.display()),
                        )
                    });
            }
        }
        Ok(None)
    });
    env.add_template_owned(
        name.to_string(),
        crate::safe_access::rewrite_template(body).into_owned(),
    )
    .map_err(|e| with_name(convert_plain(e, body), name))?;

    let mut locals = extra.locals.clone();
    let fullpath = extra.fullpath.to_string_lossy().into_owned();
    locals.insert("template_path".into(), Value::from(extra.path.clone()));
    locals.insert("template_fullpath".into(), Value::from(fullpath));
    locals.insert(
        "template_host".into(),
        Value::from(extra.host.clone().unwrap_or_else(controller_hostname)),
    );
    locals.insert(
        "template_uid".into(),
        Value::from(
            extra
                .uid
                .clone()
                .unwrap_or_else(|| owner_name(&extra.fullpath)),
        ),
    );
    locals.insert(
        "template_run_date".into(),
        Value::from(extra.run_date.clone().unwrap_or_else(now_text)),
    );
    // `template_mtime`: the template file's modification time, as Python prints a datetime.
    if let Ok(modified) = std::fs::metadata(&extra.fullpath).and_then(|m| m.modified()) {
        let local: chrono::DateTime<chrono::Local> = modified.into();
        locals.insert(
            "template_mtime".into(),
            Value::from(local.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        );
    }
    if let Some(dest) = &extra.destpath {
        locals.insert("template_destpath".into(), Value::from(dest.clone()));
    }
    let ctx = Ctx::new(inner.clone(), scope.clone(), locals);
    // A variable named `ansible_managed` (task or play vars, ...) wins over the configured text.
    let ctx = if scope.vars.get("ansible_managed").is_some() {
        ctx
    } else {
        let managed = inner.render_str_in(&ctx, &inner.config.ansible_managed)?;
        Ctx::new(inner.clone(), scope.clone(), {
            let mut l = ctx.locals.clone();
            l.insert("ansible_managed".into(), managed);
            l
        })
    };
    let template = env
        .get_template(name)
        .map_err(|e| with_name(convert(&e, body, &ctx), name))?;
    let mut out = template
        .render(Value::from_dyn_object(ctx.clone()))
        .map_err(|e| with_name(convert(&e, body, &ctx), name))?;
    // Ansible tops the result up to the template's own number of trailing newlines, which
    // trim_blocks may have eaten after a final block tag.
    let trailing = |s: &str| s.len() - s.trim_end_matches('\n').len();
    for _ in trailing(&out)..trailing(body) {
        out.push('\n');
    }
    Ok(if opts.newline_sequence == "\n" {
        out
    } else {
        out.replace('\n', &opts.newline_sequence)
    })
}

fn with_name(mut e: TemplateError, name: &str) -> TemplateError {
    match &mut e.location {
        Some(loc) if loc.template_name.is_none() => loc.template_name = Some(name.to_string()),
        Some(_) => {}
        None => {
            e.location = Some(Box::new(crate::TemplateLocation {
                template_name: Some(name.to_string()),
                line: 1,
                column: None,
                source_line: None,
            }))
        }
    }
    e
}

fn convert_plain(e: minijinja::Error, body: &str) -> TemplateError {
    let mut out = TemplateError::new(
        TemplateErrorKind::Syntax,
        format!(
            "Syntax error in template: {}",
            e.detail().unwrap_or_default()
        ),
    );
    if let Some(line) = e.line() {
        out.location = Some(Box::new(crate::TemplateLocation {
            template_name: None,
            line,
            column: None,
            source_line: body.lines().nth(line.saturating_sub(1)).map(String::from),
        }));
    }
    out
}

/// The controller's host name (`template_host`).
pub fn controller_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The user name owning `path` (numeric id when it has no passwd entry).
pub fn owner_name(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return String::new();
    };
    let uid = meta.uid().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or(uid)
}

/// The current UTC time as Python prints a `datetime` (`2024-05-01 12:30:00.123456`).
fn now_text() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_overrides() {
        let mut o = TemplateOptions::default();
        let body = apply_header(
            "#jinja2: trim_blocks: False, lstrip_blocks: True, newline_sequence: '\\r\\n'\nbody",
            &mut o,
        )
        .unwrap();
        assert_eq!(body, "body");
        assert!(!o.trim_blocks);
        assert!(o.lstrip_blocks);
        assert_eq!(o.newline_sequence, "\r\n");
        assert!(o.delimiters.is_none());
        let mut o = TemplateOptions::default();
        apply_header(
            "#jinja2: variable_start_string: '[%', variable_end_string: '%]'\n",
            &mut o,
        )
        .unwrap();
        assert_eq!(
            o.delimiters.unwrap().variable,
            ("[%".to_string(), "%]".to_string())
        );
        assert!(apply_header(
            "#jinja2: trim_blocks: maybe\n",
            &mut TemplateOptions::default()
        )
        .is_err());
        let mut o = TemplateOptions::default();
        apply_header("#jinja2: line_statement_prefix:\":\"\n", &mut o).unwrap();
        assert_eq!(o.line_statement_prefix.as_deref(), Some(":"));
        let err = apply_header(
            "#jinja2: lstrip_blocks=True\n",
            &mut TemplateOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "Missing key-value separator `:` in '#jinja2:' override pair ' lstrip_blocks=True'"
            ),
            "{err}"
        );
        assert!(apply_header("#jinja2: nope: 1\n", &mut TemplateOptions::default()).is_err());
        assert!(apply_header(
            "#jinja2: trim_blocks: True",
            &mut TemplateOptions::default()
        )
        .is_err());
    }

    #[test]
    fn template_mtime_is_the_files_modification_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.j2");
        std::fs::write(&path, "{{ template_mtime }}").unwrap();
        let templar = crate::Templar::default();
        let vars: std::sync::Arc<dyn crate::VarSource> = std::sync::Arc::new(BTreeMap::new());
        let extra = TemplateFileVars {
            fullpath: path.clone(),
            ..TemplateFileVars::default()
        };
        let out = templar
            .render_template_file(
                "{{ template_mtime }}",
                "t.j2",
                &crate::Scope::new(vars),
                &extra,
            )
            .unwrap();
        let year = chrono::Local::now().format("%Y").to_string();
        assert!(out.starts_with(&year) && out.len() == 26, "{out}");
    }

    #[test]
    fn newline_sequence_applies_to_output() {
        let templar = crate::Templar::default();
        let vars: std::sync::Arc<dyn crate::VarSource> = std::sync::Arc::new(BTreeMap::new());
        let scope = crate::Scope::new(vars);
        let out = templar
            .render_template_file(
                "#jinja2: newline_sequence: '\\r\\n'\na\nb\n",
                "t.j2",
                &scope,
                &TemplateFileVars::default(),
            )
            .unwrap();
        assert_eq!(out, "a\r\nb\r\n");
    }

    #[test]
    fn trailing_newlines_and_ansible_managed() {
        let templar = crate::Templar::default();
        let render = |vars: BTreeMap<String, Value>, src: &str| {
            let vars: std::sync::Arc<dyn crate::VarSource> = std::sync::Arc::new(vars);
            templar
                .render_template_file(
                    src,
                    "t.j2",
                    &crate::Scope::new(vars),
                    &TemplateFileVars::default(),
                )
                .unwrap()
        };
        // trim_blocks eats the newline after the last tag; Ansible puts it back.
        assert_eq!(
            render(BTreeMap::new(), "{% for i in [1] %}\n  x\n  {% endfor %}\n"),
            "  x\n  \n"
        );
        assert_eq!(render(BTreeMap::new(), "a\n\n"), "a\n\n");
        assert_eq!(
            render(BTreeMap::new(), "{{ ansible_managed }}"),
            "Ansible managed"
        );
        let vars = BTreeMap::from([("ansible_managed".to_string(), Value::from("mine"))]);
        assert_eq!(render(vars, "{{ ansible_managed }}"), "mine");
    }

    #[test]
    fn run_date_shape() {
        let t = now_text();
        assert_eq!(t.len(), 26, "{t}");
        assert_eq!(&t[4..5], "-");
    }
}

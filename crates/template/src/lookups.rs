//! Lookup plugins: `lookup('name', terms…, kw=…)`, `query(…)` / `q(…)`.
//!
//! Lookups live in a registry (name → function) shared by the templar's clones so the engine can
//! add its own (`password`, …) with [`Templar::register_lookup`](crate::Templar::register_lookup).
//! They run on the controller, as Ansible's do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::context::{Ctx, CTX_KEY};
use crate::filters::map_value;
use crate::pyrepr::py_str;
use crate::{TemplateError, TemplateErrorKind, TemplateFileVars};

/// Where lookups look for files on the controller, given by the engine per task.
#[derive(Debug, Clone, Default)]
pub struct LookupContext {
    /// Directories searched in order for relative paths of `file`, `fileglob`, `first_found`
    /// (e.g. the role's `files/`, the role, the playbook's `files/`, the playbook directory).
    pub file_paths: Vec<PathBuf>,
    /// Directories searched in order by the `template` lookup (role `templates/`, playbook dir).
    pub template_paths: Vec<PathBuf>,
    /// Working directory of `pipe` and `lines` commands (Ansible: the playbook directory).
    pub cwd: Option<PathBuf>,
}

/// One lookup invocation, as a lookup function sees it.
pub struct LookupCall<'a> {
    pub name: &'a str,
    /// The positional terms; a single list argument is spread into terms, as Ansible does.
    pub terms: Vec<Value>,
    /// Keyword arguments other than `wantlist` and `errors`.
    pub kwargs: BTreeMap<String, Value>,
    ctx: &'a Arc<Ctx>,
}

/// A lookup plugin.
pub type LookupFn = Arc<dyn Fn(&LookupCall<'_>) -> Result<Vec<Value>, TemplateError> + Send + Sync>;

impl LookupCall<'_> {
    pub fn context(&self) -> &LookupContext {
        &self.ctx.scope.lookup
    }

    /// A variable of the current scope, templated.
    pub fn var(&self, name: &str) -> Option<Value> {
        self.ctx.resolve(name)
    }

    pub fn var_names(&self) -> Vec<String> {
        self.ctx.scope.vars.names()
    }

    pub fn kwarg(&self, name: &str) -> Option<&Value> {
        self.kwargs.get(name)
    }

    /// Finds a relative path in the lookup search paths (absolute paths are taken as they are).
    pub fn find_file(&self, name: &str) -> Option<PathBuf> {
        find_in(name, &self.context().file_paths)
    }

    /// Renders a template file with the current variables (the `template` lookup).
    pub fn render_template_file(
        &self,
        path: &Path,
        locals: BTreeMap<String, Value>,
        options: crate::TemplateOptions,
    ) -> Result<String, TemplateError> {
        let source = read_controller_text(path).map_err(|e| {
            lookup_error(
                self.name,
                format!("could not read template {}: {e}", path.display()),
            )
        })?;
        let mut extra = TemplateFileVars::for_path(path);
        extra.locals = locals;
        extra.options = options;
        let inner = self.ctx.inner.clone();
        crate::template_file::render(
            &inner,
            &source,
            &path.to_string_lossy(),
            &self.ctx.scope,
            &extra,
        )
    }

    fn bool_kwarg(&self, name: &str, default: bool) -> bool {
        self.kwargs.get(name).map_or(default, Value::is_true)
    }
}

pub(crate) fn lookup_error(name: &str, msg: impl Into<String>) -> TemplateError {
    TemplateError::new(
        TemplateErrorKind::Lookup,
        format!("An unhandled exception occurred while running the lookup plugin '{name}'. Error was: {}", msg.into()),
    )
}

fn find_in(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    dirs.iter().map(|d| d.join(p)).find(|c| c.exists())
}

pub(crate) fn register(
    env: &mut Environment<'static>,
    registry: Arc<RwLock<BTreeMap<String, LookupFn>>>,
) {
    let r = registry.clone();
    env.add_function("lookup", move |state: &State, args: Rest<ValueOrKwargs>| {
        invoke(state, &r, args, false)
    });
    let r = registry.clone();
    env.add_function("query", move |state: &State, args: Rest<ValueOrKwargs>| {
        invoke(state, &r, args, true)
    });
    env.add_function("q", move |state: &State, args: Rest<ValueOrKwargs>| {
        invoke(state, &registry, args, true)
    });
}

fn to_mj(err: TemplateError) -> Error {
    Error::new(ErrorKind::InvalidOperation, err.message.clone()).with_source(err)
}

fn invoke(
    state: &State,
    registry: &RwLock<BTreeMap<String, LookupFn>>,
    args: Rest<ValueOrKwargs>,
    query: bool,
) -> Result<Value, Error> {
    let mut positional = Vec::new();
    let mut kwargs = BTreeMap::new();
    for a in args.0 {
        let v = a.into_value();
        match Kwargs::try_from(v.clone()) {
            Ok(kw) if v.kind() == ValueKind::Map => kwargs.extend(crate::filters::kwargs_map(&kw)?),
            _ => positional.push(v),
        }
    }
    if positional.is_empty() {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            "lookup requires the name of a lookup plugin",
        ));
    }
    let name = py_str(&positional.remove(0));
    let short = name
        .strip_prefix("ansible.builtin.")
        .unwrap_or(&name)
        .to_string();
    let wantlist = query || kwargs.remove("wantlist").is_some_and(|v| v.is_true());
    let errors = kwargs
        .remove("errors")
        .map_or_else(|| "strict".to_string(), |v| py_str(&v));
    let f = registry
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&short)
        .cloned()
        .ok_or_else(|| {
            to_mj(TemplateError::new(
                TemplateErrorKind::Lookup,
                format!("lookup plugin ({name}) not found"),
            ))
        })?;
    let ctx = state
        .lookup(CTX_KEY)
        .and_then(|v| v.downcast_object::<Ctx>())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "lookups need a drover render context",
            )
        })?;
    let terms = match positional.as_slice() {
        [single] if single.kind() == ValueKind::Seq => single.try_iter()?.collect(),
        _ => positional,
    };
    let call = LookupCall {
        name: &short,
        terms,
        kwargs,
        ctx: &ctx,
    };
    let result = match f(&call) {
        Ok(r) => r,
        Err(e) if errors == "ignore" || errors == "warn" => {
            let _ = e;
            return Ok(if wantlist {
                Value::from(Vec::<Value>::new())
            } else {
                Value::from(())
            });
        }
        Err(e) => return Err(to_mj(e)),
    };
    if wantlist {
        return Ok(Value::from(result));
    }
    // As Ansible: no result is an empty list, one result is itself, several strings are joined
    // with commas, anything else stays a list.
    if result.len() == 1 {
        return Ok(result.into_iter().next().unwrap_or_default());
    }
    if !result.is_empty() && result.iter().all(|v| v.kind() == ValueKind::String) {
        return Ok(Value::from(
            result.iter().map(py_str).collect::<Vec<_>>().join(","),
        ));
    }
    Ok(Value::from(result))
}

macro_rules! lookup {
    ($f:expr) => {
        Arc::new($f) as LookupFn
    };
}

pub(crate) fn builtin() -> BTreeMap<String, LookupFn> {
    let mut m: BTreeMap<String, LookupFn> = BTreeMap::new();
    m.insert("env".into(), lookup!(env_lookup));
    m.insert("file".into(), lookup!(file_lookup));
    m.insert("template".into(), lookup!(template_lookup));
    m.insert("vars".into(), lookup!(vars_lookup));
    m.insert("varnames".into(), lookup!(varnames_lookup));
    m.insert("pipe".into(), lookup!(pipe_lookup));
    m.insert("lines".into(), lookup!(lines_lookup));
    m.insert("items".into(), lookup!(items_lookup));
    m.insert(
        "list".into(),
        lookup!(|c: &LookupCall<'_>| Ok(c.terms.clone())),
    );
    m.insert("dict".into(), lookup!(dict_lookup));
    m.insert(
        "indexed_items".into(),
        lookup!(|c: &LookupCall<'_>| {
            Ok(c.terms
                .iter()
                .enumerate()
                .map(|(i, t)| Value::from(vec![Value::from(i), t.clone()]))
                .collect())
        }),
    );
    m.insert("together".into(), lookup!(together_lookup));
    m.insert("nested".into(), lookup!(nested_lookup));
    m.insert("sequence".into(), lookup!(sequence_lookup));
    m.insert("first_found".into(), lookup!(first_found_lookup));
    m.insert("fileglob".into(), lookup!(fileglob_lookup));
    m.insert("subelements".into(), lookup!(subelements_lookup));
    m.insert("ini".into(), lookup!(crate::ini::ini_lookup));
    m.insert("csvfile".into(), lookup!(csvfile_lookup));
    m.insert("config".into(), lookup!(config_lookup));
    m.insert("random_choice".into(), lookup!(random_choice_lookup));
    m.insert("password".into(), lookup!(crate::password::password_lookup));
    m
}

fn env_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let default = c.kwarg("default").cloned();
    c.terms
        .iter()
        .map(|t| {
            let name = py_str(t);
            match (std::env::var(&name), &default) {
                (Ok(v), _) => Ok(Value::from(v)),
                (Err(_), Some(d)) => Ok(d.clone()),
                (Err(_), None) => Ok(Value::from("")),
            }
        })
        .collect()
}

fn file_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let rstrip = c.bool_kwarg("rstrip", true);
    let lstrip = c.bool_kwarg("lstrip", false);
    c.terms
        .iter()
        .map(|t| {
            let name = py_str(t);
            let path = c.find_file(&name).ok_or_else(|| {
                lookup_error("file", format!("could not locate file in lookup: {name}"))
            })?;
            let mut text = read_controller_text(&path).map_err(|e| {
                lookup_error("file", format!("could not read {}: {e}", path.display()))
            })?;
            if rstrip {
                text.truncate(text.trim_end().len());
            }
            if lstrip {
                text = text.trim_start().to_string();
            }
            Ok(Value::from(text))
        })
        .collect()
}

fn template_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let locals: BTreeMap<String, Value> = match c.kwarg("template_vars") {
        Some(v) if v.kind() == ValueKind::Map => v
            .try_iter()
            .map(|keys| {
                keys.map(|k| (py_str(&k), v.get_item(&k).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    // The lookup's Jinja options, as the template module's `#jinja2:` header would give them.
    let mut options = crate::TemplateOptions::default();
    let text = |k: &str| c.kwarg(k).map(py_str);
    if [
        "variable_start_string",
        "variable_end_string",
        "comment_start_string",
        "comment_end_string",
    ]
    .iter()
    .any(|k| c.kwarg(k).is_some())
    {
        let mut d = crate::Delimiters::default();
        if let Some(v) = text("variable_start_string") {
            d.variable.0 = v;
        }
        if let Some(v) = text("variable_end_string") {
            d.variable.1 = v;
        }
        if let Some(v) = text("comment_start_string") {
            d.comment.0 = v;
        }
        if let Some(v) = text("comment_end_string") {
            d.comment.1 = v;
        }
        options.delimiters = Some(d);
    }
    if let Some(v) = c.kwarg("trim_blocks") {
        options.trim_blocks = v.is_true();
    }
    c.terms
        .iter()
        .map(|t| {
            let name = py_str(t);
            let path = find_in(&name, &c.context().template_paths).ok_or_else(|| {
                lookup_error(
                    "template",
                    format!("the template file {name} could not be found for the lookup"),
                )
            })?;
            // As Ansible 2.19's native templating: a template that is one expression (macro
            // definitions aside) yields that expression's value; anything else is text. The
            // value is read back from its rendering, which is its Python repr.
            let source = read_controller_text(&path).unwrap_or_default();
            let single = single_expression_template(&source);
            c.render_template_file(&path, locals.clone(), options.clone())
                .map(|text| {
                    // A template that renders nothing at all (only comments) is None.
                    if text.trim().is_empty() && without_comments(&source).trim().is_empty() {
                        return Value::from(());
                    }
                    match crate::pylit::parse(text.trim()) {
                        Ok(v) if single && v.kind() != ValueKind::String => v,
                        _ => Value::from(text),
                    }
                })
        })
        .collect()
}

/// A template's text without its `{# ... #}` comments.
fn without_comments(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(start) = rest.find("{#") {
        out.push_str(&rest[..start]);
        match rest[start..].find("#}") {
            Some(end) => rest = &rest[start + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Whether a template file's output is a single `{{ expression }}`: without its `#jinja2:`
/// header, macro definitions and surrounding whitespace, nothing else is left.
fn single_expression_template(source: &str) -> bool {
    let mut rest = match source.strip_prefix("#jinja2:") {
        Some(r) => r.split_once('\n').map_or("", |(_, body)| body),
        None => source,
    }
    .to_string();
    while let Some(start) = rest.find("{% macro") {
        let Some(end) = rest[start..].find("{% endmacro %}") else {
            return false;
        };
        rest.replace_range(start..start + end + "{% endmacro %}".len(), "");
    }
    let t = rest.trim();
    t.starts_with("{{")
        && t.ends_with("}}")
        && t[2..t.len() - 2].find("{{").is_none()
        && !t.contains("{%")
}

fn vars_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    c.terms
        .iter()
        .map(|t| {
            let Some(name) = t.as_str() else {
                return Err(lookup_error(
                    "vars",
                    format!(
                        "Variable name must be 'str' not '{}'",
                        crate::filters::type_name(t)
                    ),
                ));
            };
            match (c.var(name), c.kwarg("default")) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(lookup_error(
                    "vars",
                    format!("No variable named '{name}' was found"),
                )),
            }
        })
        .collect()
}

fn varnames_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let names = c.var_names();
    let mut out = Vec::new();
    let err = |e: drover_pyre::PyReError| lookup_error("varnames", e.to_string());
    for t in &c.terms {
        let Some(term) = t.as_str() else {
            return Err(lookup_error(
                "varnames",
                format!(
                    "Invalid setting identifier, \"{}\" is not a string, it is a <class '{}'>",
                    py_str(t),
                    crate::filters::type_name(t)
                ),
            ));
        };
        // Python's `re.match`: anchored at the start of the name.
        let re = drover_pyre::compile(term, drover_pyre::Flags::NONE)
            .and_then(|_| drover_pyre::compile(&format!(r"\A(?:{term})"), drover_pyre::Flags::NONE))
            .map_err(|e| {
                lookup_error(
                    "varnames",
                    format!(
                        "Unable to use \"{term}\" as a search parameter: {}",
                        e.reason
                    ),
                )
            })?;
        for n in names.iter() {
            if re.is_match(n).map_err(err)? {
                out.push(Value::from(n.as_str()));
            }
        }
    }
    Ok(out)
}

fn run_shell(c: &LookupCall<'_>, cmd: &str) -> Result<String, TemplateError> {
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(cmd);
    if let Some(cwd) = &c.context().cwd {
        command.current_dir(cwd);
    }
    let out = command
        .output()
        .map_err(|e| lookup_error(c.name, format!("could not run {cmd}: {e}")))?;
    if !out.status.success() {
        return Err(lookup_error(
            c.name,
            format!(
                "lookup_plugin.{}({cmd}) returned {}",
                c.name,
                out.status.code().unwrap_or(-1)
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn pipe_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    c.terms
        .iter()
        .map(|t| run_shell(c, &py_str(t)).map(|s| Value::from(s.trim_end())))
        .collect()
}

fn lines_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let mut out = Vec::new();
    for t in &c.terms {
        out.extend(run_shell(c, &py_str(t))?.lines().map(Value::from));
    }
    Ok(out)
}

fn items_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let mut out = Vec::new();
    for t in &c.terms {
        match t.kind() {
            ValueKind::Seq => out.extend(t.try_iter().into_iter().flatten()),
            _ => out.push(t.clone()),
        }
    }
    Ok(out)
}

fn dict_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let mut out = Vec::new();
    for t in &c.terms {
        if t.kind() != ValueKind::Map {
            return Err(lookup_error(
                "dict",
                format!(
                    "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                    crate::py_str(t),
                    crate::filters::type_name(t)
                ),
            ));
        }
        for k in t.try_iter().into_iter().flatten() {
            let v = t.get_item(&k).unwrap_or_default();
            out.push(map_value([
                ("key".to_string(), k),
                ("value".to_string(), v),
            ]));
        }
    }
    Ok(out)
}

fn term_lists(c: &LookupCall<'_>) -> Result<Vec<Vec<Value>>, TemplateError> {
    c.terms
        .iter()
        .map(|t| match t.kind() {
            ValueKind::Seq => Ok(t.try_iter().map(Iterator::collect).unwrap_or_default()),
            _ => Ok(vec![t.clone()]),
        })
        .collect()
}

fn together_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let lists = term_lists(c)?;
    if lists.is_empty() {
        return Err(lookup_error(
            "together",
            "with_together requires at least one element in each list",
        ));
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok((0..n)
        .map(|i| {
            Value::from(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                    .collect::<Vec<_>>(),
            )
        })
        .collect())
}

fn nested_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let lists = term_lists(c)?;
    if lists.is_empty() {
        return Err(lookup_error(
            "nested",
            "with_nested requires at least one element in the nested list",
        ));
    }
    Ok(crate::filters::cartesian(&lists))
}

/// Splits `key=value key2=value2` term syntax; the first bare word is returned separately.
fn parse_kv(term: &str) -> (Option<String>, BTreeMap<String, String>) {
    let mut bare = None;
    let mut kv = BTreeMap::new();
    for part in term.split_whitespace() {
        match part.split_once('=') {
            Some((k, v)) => {
                kv.insert(k.to_string(), v.trim_matches(['"', '\'']).to_string());
            }
            None if bare.is_none() => bare = Some(part.to_string()),
            None => {}
        }
    }
    (bare, kv)
}

fn parse_num(name: &str, s: &str) -> Result<i64, TemplateError> {
    crate::filters::parse_py_int(s, 0).ok_or_else(|| {
        lookup_error(
            "sequence",
            format!("Config '{name}' for 'ansible.builtin.sequence' lookup plugin from 'Direct' has an invalid value."),
        )
    })
}

/// The shortcut form `[start-]end[/stride][:format]`, each number `0?x?[0-9a-f]+`. A match
/// only says which parts are where; the numbers are validated afterwards, as in Ansible.
fn sequence_shortcut(term: &str) -> Option<Vec<(&'static str, String)>> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE
        .get_or_init(|| {
            let num = "(0?x?[0-9a-f]+)";
            regex::Regex::new(&format!("(?i)^(?:{num}-)?{num}(?:/{num})?(?::(.+))?$")).ok()
        })
        .as_ref()?;
    let caps = re.captures(term)?;
    let mut out = Vec::new();
    for (i, name) in [(1, "start"), (2, "end"), (3, "stride"), (4, "format")] {
        if let Some(m) = caps.get(i) {
            out.push((name, m.as_str().to_string()));
        }
    }
    Some(out)
}

fn sequence_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    const FIELDS: [&str; 5] = ["start", "end", "stride", "count", "format"];
    let mut out = Vec::new();
    let terms: Vec<String> = if c.terms.is_empty() && !c.kwargs.is_empty() {
        // Keyword arguments alone still make one sequence.
        vec![String::new()]
    } else {
        c.terms.iter().map(py_str).collect()
    };
    for term in terms {
        // Keyword arguments first; what the term says overrides them.
        let mut opts: BTreeMap<String, String> = c
            .kwargs
            .iter()
            .map(|(k, v)| (k.clone(), py_str(v)))
            .collect();
        if let Some(parts) = sequence_shortcut(term.trim()) {
            for (k, v) in parts {
                opts.insert(k.to_string(), v);
            }
        } else {
            let (_, mut kv) = parse_kv(&term);
            for f in FIELDS {
                if let Some(v) = kv.remove(f) {
                    opts.insert(f.to_string(), v);
                }
            }
            if !kv.is_empty() {
                let names: Vec<String> = kv.keys().map(|k| format!("'{k}'")).collect();
                return Err(lookup_error(
                    "sequence",
                    format!(
                        "unrecognized arguments to with_sequence: [{}]",
                        names.join(", ")
                    ),
                ));
            }
        }
        let num = |name: &str| opts.get(name).map(|s| parse_num(name, s)).transpose();
        let start = num("start")?.unwrap_or(1);
        let stride = num("stride")?.unwrap_or(1);
        let end = match (num("end")?, num("count")?) {
            (None, None) => {
                return Err(lookup_error(
                    "sequence",
                    "must specify count or end in with_sequence",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(lookup_error(
                    "sequence",
                    "can't specify both count and end in with_sequence",
                ))
            }
            (Some(e), None) => e,
            (None, Some(0)) => continue,
            // Ansible's formula, odd as it is for negative strides.
            (None, Some(n)) => start + n * stride - 1,
        };
        if stride > 0 && end < start {
            return Err(lookup_error(
                "sequence",
                "to count backwards make stride negative",
            ));
        }
        if stride < 0 && end > start {
            return Err(lookup_error(
                "sequence",
                "to count forward don't make stride negative",
            ));
        }
        if stride == 0 {
            continue;
        }
        let format = opts.get("format").cloned().unwrap_or_else(|| "%d".into());
        if format.matches('%').count() != 1 {
            return Err(lookup_error(
                "sequence",
                format!("bad formatting string: {format}"),
            ));
        }
        let last = if stride > 0 { end + 1 } else { end - 1 };
        let mut i = start;
        while (stride > 0 && i < last) || (stride < 0 && i > last) {
            out.push(Value::from(printf_int(&format, i)));
            i += stride;
        }
    }
    Ok(out)
}

pub(crate) fn printf_int(format: &str, n: i64) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || d == '-' || d == '0' {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let conv = chars.next().unwrap_or('d');
        let body = match conv {
            '%' => {
                out.push('%');
                continue;
            }
            'x' => format!("{n:x}"),
            'X' => format!("{n:X}"),
            'o' => format!("{n:o}"),
            _ => n.to_string(),
        };
        let left = spec.starts_with('-');
        let zero = spec.trim_start_matches('-').starts_with('0');
        let width: usize = spec.trim_start_matches(['-', '0']).parse().unwrap_or(0);
        let pad = width.saturating_sub(body.len());
        if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(pad));
        } else if zero {
            match body.strip_prefix('-') {
                Some(digits) => out.push_str(&format!("-{}{digits}", "0".repeat(pad))),
                None => out.push_str(&format!("{}{body}", "0".repeat(pad))),
            }
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&body);
        }
    }
    out
}

fn first_found_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let mut files: Vec<String> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut skip = c.bool_kwarg("skip", false);
    let split = |v: &Value| -> Vec<String> {
        match v.kind() {
            ValueKind::Seq => v
                .try_iter()
                .into_iter()
                .flatten()
                .map(|x| py_str(&x))
                .collect(),
            _ => py_str(v)
                .split([',', ';'])
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    };
    if let Some(f) = c.kwarg("files") {
        files.extend(split(f));
    }
    if let Some(p) = c.kwarg("paths") {
        paths.extend(split(p));
    }
    for t in &c.terms {
        if t.kind() == ValueKind::Map {
            if let Ok(f) = t.get_attr("files") {
                files.extend(split(&f));
            }
            if let Ok(p) = t.get_attr("paths") {
                if !p.is_undefined() {
                    paths.extend(split(&p));
                }
            }
            if t.get_attr("skip").is_ok_and(|s| s.is_true()) {
                skip = true;
            }
        } else {
            files.push(py_str(t));
        }
    }
    let base = &c.context().file_paths;
    for f in &files {
        let candidates: Vec<String> = if paths.is_empty() {
            vec![f.clone()]
        } else {
            paths
                .iter()
                .map(|p| format!("{}/{f}", p.trim_end_matches('/')))
                .collect()
        };
        for cand in candidates {
            if let Some(found) = find_in(&cand, base) {
                return Ok(vec![Value::from(found.to_string_lossy().into_owned())]);
            }
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(lookup_error(
        "first_found",
        "No file was found when using first_found.",
    ))
}

fn fileglob_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let mut out = Vec::new();
    for t in &c.terms {
        let pattern = py_str(t);
        let (dir, file_pat) = match pattern.rfind('/') {
            Some(i) => (&pattern[..i.max(1)], &pattern[i + 1..]),
            None => ("", pattern.as_str()),
        };
        // As Ansible: a bare pattern is tried in every search path in turn (the role's and
        // the play's `files/` and directories) until one has matches; a pattern with a
        // directory looks in the first search path that has that directory.
        let candidates: Vec<PathBuf> = if Path::new(dir).is_absolute() {
            vec![PathBuf::from(dir)]
        } else if dir.is_empty() {
            c.context().file_paths.clone()
        } else {
            c.context()
                .file_paths
                .iter()
                .map(|b| b.join(dir))
                .find(|p| p.is_dir())
                .into_iter()
                .collect()
        };
        let glob = globset::GlobBuilder::new(file_pat)
            .literal_separator(true)
            .build()
            .map_err(|e| lookup_error("fileglob", e.to_string()))?
            .compile_matcher();
        for dir_path in candidates {
            let dir_path = std::path::absolute(&dir_path).unwrap_or(dir_path);
            let mut found: Vec<String> = std::fs::read_dir(&dir_path)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().is_file() && glob.is_match(e.file_name()))
                .map(|e| e.path().to_string_lossy().into_owned())
                .collect();
            if !found.is_empty() {
                found.sort();
                out.extend(found.into_iter().map(Value::from));
                break;
            }
        }
    }
    Ok(out)
}

/// A copy of mapping `v` without the key at `path` (Ansible's lookup pops the list it
/// iterates out of the item it returns).
fn without_path(v: &Value, path: &[&str]) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return v.clone();
    };
    let Ok(keys) = v.try_iter() else {
        return v.clone();
    };
    let mut out = Vec::new();
    for k in keys {
        let item = v.get_item(&k).unwrap_or_default();
        let name = k.as_str().map(str::to_string).unwrap_or_else(|| py_str(&k));
        if name == *first {
            if rest.is_empty() {
                continue;
            }
            out.push((name, without_path(&item, rest)));
        } else {
            out.push((name, item));
        }
    }
    map_value(out)
}

fn subelements_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let terms_error = |msg: &str| {
        lookup_error(
            "subelements",
            format!("subelements lookup expects a list of two or three items, {msg}"),
        )
    };
    if !(2..=3).contains(&c.terms.len()) {
        return Err(terms_error(""));
    }
    let first = &c.terms[0];
    let is_container = matches!(first.kind(), ValueKind::Seq | ValueKind::Map);
    let Some(key) = c.terms[1].as_str().filter(|_| is_container) else {
        return Err(terms_error(
            "first a dict or a list, second a string pointing to the subkey",
        ));
    };
    let subkeys: Vec<&str> = key.split('.').collect();
    let skipped = |v: &Value| {
        v.get_attr("skipped")
            .is_ok_and(|s| !s.is_undefined() && s != Value::from(false))
    };
    let elements: Vec<Value> = if first.kind() == ValueKind::Map {
        // A registered result that was skipped as a whole.
        if skipped(first) {
            return Ok(Vec::new());
        }
        first
            .try_iter()
            .into_iter()
            .flatten()
            .map(|k| first.get_item(&k).unwrap_or_default())
            .collect()
    } else {
        first.try_iter().into_iter().flatten().collect()
    };
    let skip_missing = match c.terms.get(2) {
        None => false,
        Some(flags) if flags.kind() == ValueKind::Map => flags
            .get_attr("skip_missing")
            // Ansible's non-strict boolean().
            .is_ok_and(|v| match v.as_str() {
                Some(t) => matches!(
                    t.to_ascii_lowercase().as_str(),
                    "y" | "yes" | "on" | "1" | "true" | "t"
                ),
                None => v.is_true(),
            }),
        Some(_) => {
            return Err(terms_error(
                "the optional third item must be a dict with flags ('skip_missing',)",
            ))
        }
    };
    let mut out = Vec::new();
    for item0 in elements {
        if item0.kind() != ValueKind::Map {
            return Err(lookup_error(
                "subelements",
                format!(
                    "subelements lookup expects a dictionary, got '{}'",
                    py_str(&item0)
                ),
            ));
        }
        if skipped(&item0) {
            continue;
        }
        let mut sub = item0.clone();
        let mut sublist = Vec::new();
        for (i, subkey) in subkeys.iter().enumerate() {
            let last = i + 1 == subkeys.len();
            let has = sub.kind() == ValueKind::Map
                && sub.get_attr(subkey).is_ok_and(|v| !v.is_undefined());
            if !has {
                if skip_missing {
                    continue;
                }
                return Err(lookup_error(
                    "subelements",
                    format!(
                        "could not find '{subkey}' key in iterated item '{}'",
                        py_str(&sub)
                    ),
                ));
            }
            let next = sub.get_attr(subkey).unwrap_or_default();
            if !last {
                if next.kind() != ValueKind::Map {
                    if skip_missing {
                        continue;
                    }
                    return Err(lookup_error(
                        "subelements",
                        format!(
                            "the key {subkey} should point to a dictionary, got '{}'",
                            py_str(&next)
                        ),
                    ));
                }
                sub = next;
            } else if next.kind() != ValueKind::Seq {
                return Err(lookup_error(
                    "subelements",
                    format!(
                        "the key {subkey} should point to a list, got '{}'",
                        py_str(&next)
                    ),
                ));
            } else {
                sublist = next.try_iter().into_iter().flatten().collect();
            }
        }
        let shown = without_path(&item0, &subkeys);
        for item1 in sublist {
            out.push(Value::from(vec![shown.clone(), item1]));
        }
    }
    Ok(out)
}

/// A controller file's bytes, decrypted when it is a vault file (as Ansible's loader reads
/// files for lookups and templates).
pub(crate) fn read_controller_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    drover_vault::yaml::decrypt_bytes(bytes, &path.display().to_string())
}

/// [`read_controller_bytes`] as UTF-8 text.
pub(crate) fn read_controller_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_controller_bytes(path)?).map_err(|_| "not valid UTF-8".to_string())
}

pub(crate) fn read_lookup_file(
    c: &LookupCall<'_>,
    name: &str,
    encoding: Option<&str>,
) -> Result<String, TemplateError> {
    let path = c
        .find_file(name)
        .ok_or_else(|| lookup_error(c.name, format!("could not locate file in lookup: {name}")))?;
    let bytes = read_controller_bytes(&path)
        .map_err(|e| lookup_error(c.name, format!("could not read {}: {e}", path.display())))?;
    decode(&bytes, encoding.unwrap_or("utf-8"))
        .map_err(|e| lookup_error(c.name, format!("could not read {}: {e}", path.display())))
}

/// Text in the encodings lookups accept (`encoding=`): UTF-8, ASCII, Latin-1 and Latin-9.
fn decode(bytes: &[u8], encoding: &str) -> Result<String, String> {
    let name = encoding.to_ascii_lowercase().replace(['-', '_'], "");
    match name.as_str() {
        "utf8" | "ascii" | "usascii" => String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("the file is not valid {encoding}")),
        "latin1" | "iso88591" | "l1" => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        "latin9" | "iso885915" => Ok(bytes
            .iter()
            .map(|&b| match b {
                0xA4 => '€',
                0xA6 => 'Š',
                0xA8 => 'š',
                0xB4 => 'Ž',
                0xB8 => 'ž',
                0xBC => 'Œ',
                0xBD => 'œ',
                0xBE => 'Ÿ',
                b => char::from(b),
            })
            .collect()),
        _ => Err(format!("unsupported encoding {encoding:?}")),
    }
}

/// `random_choice`: one of the terms, chosen with the system's random source (Ansible uses
/// `secrets.choice`); no terms give no result.
fn random_choice_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    if c.terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf).map_err(|e| {
        lookup_error(
            "random_choice",
            format!("Unable to choose random term: {e}"),
        )
    })?;
    // The modulo bias over 2^64 is far below anything a playbook could notice.
    let idx = (u64::from_le_bytes(buf) % c.terms.len() as u64) as usize;
    Ok(vec![c.terms[idx].clone()])
}

/// `config`: the Ansible settings drover itself honours (others are reported as missing).
fn config_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let on_missing = c
        .kwargs
        .get("on_missing")
        .map(py_str)
        .unwrap_or_else(|| "error".into());
    if !["error", "warn", "skip"].contains(&on_missing.as_str()) {
        return Err(lookup_error(
            "config",
            format!("\"on_missing\" must be a string and one of \"error\", \"warn\" or \"skip\", not {on_missing}"),
        ));
    }
    let config = &c.ctx.inner.config;
    let mut out = Vec::new();
    for t in &c.terms {
        let name = py_str(t);
        let value = match name.as_str() {
            "ALLOW_BROKEN_CONDITIONALS" => Some(Value::from(config.allow_broken_conditionals)),
            "DEFAULT_MANAGED_STR" => Some(Value::from(config.ansible_managed.as_str())),
            "DEFAULT_PRIVATE_ROLE_VARS" => Some(Value::from(config.private_role_vars)),
            _ => None,
        };
        match value {
            Some(v) => out.push(v),
            None if on_missing == "error" => {
                return Err(lookup_error(
                    "config",
                    format!("Unable to find setting {name}"),
                ))
            }
            None => {}
        }
    }
    Ok(out)
}

/// Ansible's `parse_kv` for lookup terms: words split on spaces (quoted parts kept whole, quotes
/// kept), `k=v` words as options (value unquoted), the other words joined as the raw parameter.
fn parse_kv_raw(term: &str) -> (Option<String>, Vec<(String, String)>) {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut prev = '\0';
    for ch in term.chars() {
        match quote {
            Some(q) if ch == q && prev != '\\' => quote = None,
            Some(_) => {}
            None if (ch == '"' || ch == '\'') && prev != '\\' => quote = Some(ch),
            None if ch == ' ' || ch == '\n' => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                prev = ch;
                continue;
            }
            None => {}
        }
        cur.push(ch);
        prev = ch;
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut raw = Vec::new();
    let mut kv = Vec::new();
    for w in words {
        // The first `=` not escaped, not at the very start.
        let eq = w
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !w[..i].ends_with('\\'))
            .map(|(i, _)| i);
        match eq {
            Some(i) => kv.push((
                w[..i].trim().to_string(),
                unquote(&decode_escapes(w[i + 1..].trim())),
            )),
            None => raw.push(w),
        }
    }
    let raw = (!raw.is_empty()).then(|| raw.join(" "));
    (raw, kv)
}

fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// The escapes Python's `unicode_escape` decodes that matter in option values.
fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 2 => out.push(ch),
                    _ => {
                        out.push_str("\\x");
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// One CSV record per line as Python's `csv` module reads the excel dialect: quoted fields
/// with doubled quotes, any line ending.
fn csv_rows(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            c if c == delimiter => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn csvfile_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    const OPTIONS: [&str; 6] = ["col", "keycol", "default", "delimiter", "file", "encoding"];
    let invalid = |name: &str| {
        lookup_error(
            "csvfile",
            format!("Config '{name}' for 'ansible.builtin.csvfile' lookup plugin from 'Direct' has an invalid value."),
        )
    };
    let mut opts: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in &c.kwargs {
        if !OPTIONS.contains(&k.as_str()) {
            return Err(lookup_error(
                "csvfile",
                format!("'{k}' is not a valid option"),
            ));
        }
        opts.insert(k.clone(), v.clone());
    }
    if c.terms.is_empty() {
        return Err(lookup_error(
            "csvfile",
            "Search key is required but was not found",
        ));
    }
    let mut out = Vec::new();
    for t in &c.terms {
        let (key, kv) = parse_kv_raw(&py_str(t));
        let Some(key) = key else {
            return Err(lookup_error(
                "csvfile",
                "Search key is required but was not found",
            ));
        };
        // Options given inside a term stay set for the following terms, as in Ansible.
        for (k, v) in kv {
            if !OPTIONS.contains(&k.as_str()) {
                return Err(lookup_error(
                    "csvfile",
                    format!("'{k}' is not a valid option"),
                ));
            }
            opts.insert(k, Value::from(v));
        }
        let int_opt = |name: &str, default: i64| -> Result<i64, TemplateError> {
            match opts.get(name) {
                None => Ok(default),
                Some(v) => v
                    .as_i64()
                    .or_else(|| crate::filters::parse_py_int(&py_str(v), 10))
                    .ok_or_else(|| invalid(name)),
            }
        };
        let col = int_opt("col", 1)?;
        let keycol = int_opt("keycol", 0)?;
        let file = opts
            .get("file")
            .map(py_str)
            .unwrap_or_else(|| "ansible.csv".into());
        let delimiter = match opts.get("delimiter").map(py_str).as_deref() {
            None | Some("TAB") | Some("\\t") => '\t',
            Some(d) => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(ch), None) => ch,
                    _ => {
                        return Err(lookup_error(
                            "csvfile",
                            "\"delimiter\" must be a 1-character string",
                        ))
                    }
                }
            }
        };
        let path = c.find_file(&file).ok_or_else(|| {
            lookup_error(
                "csvfile",
                format!("could not locate file in lookup: {file} (No such file or directory)"),
            )
        })?;
        let text = read_controller_text(&path).map_err(|e| {
            lookup_error("csvfile", format!("could not read {}: {e}", path.display()))
        })?;
        // Python indexes from the end for negative columns.
        let pick = |row: &[String], i: i64| -> Option<String> {
            let idx = if i < 0 { row.len() as i64 + i } else { i };
            usize::try_from(idx).ok().and_then(|i| row.get(i).cloned())
        };
        let found = csv_rows(&text, delimiter)
            .into_iter()
            .find(|row| !row.is_empty() && pick(row, keycol).as_deref() == Some(key.as_str()));
        match found {
            Some(row) => match pick(&row, col) {
                Some(v) => out.push(Value::from(v)),
                None => {
                    return Err(lookup_error(
                        "csvfile",
                        format!("list index out of range (col={col})"),
                    ))
                }
            },
            None => match opts.get("default") {
                Some(d) if d.kind() == ValueKind::Seq => {
                    out.extend(d.try_iter().into_iter().flatten())
                }
                Some(d) if !d.is_none() => out.push(d.clone()),
                _ => {}
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::printf_int;

    #[test]
    fn printf_formats() {
        assert_eq!(printf_int("%d", 5), "5");
        assert_eq!(printf_int("x%02d", 5), "x05");
        assert_eq!(printf_int("%03x", 255), "0ff");
        assert_eq!(printf_int("host%-3d|", 7), "host7  |");
        assert_eq!(printf_int("100%%", 1), "100%");
    }
}

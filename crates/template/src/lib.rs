//! Jinja2 templating as Ansible uses it, on minijinja.
//!
//! One [`Templar`] is built per run. It owns a minijinja environment with Ansible's filters,
//! tests, lookups and Python-style methods, strict undefined handling, `trim_blocks` on and
//! trailing newlines kept (as Ansible configures Jinja2), and renders against a [`Scope`]: the
//! caller's variables behind the [`VarSource`] trait plus the search paths of lookups.
//!
//! Semantics follow ansible-core 2.19:
//! - a string that is exactly one `{{ expr }}` yields the expression's native value (list, dict,
//!   int, bool, None); anything else yields a string, which is never re-parsed as a literal;
//! - strings without `{{`, `{%` or `{#` are returned as they are, without touching minijinja;
//! - variables are templated lazily, when read, with a guard against cycles;
//! - conditionals must produce a boolean unless `allow_broken_conditionals` is set.
//!
//! Architecture invariant: this crate does no terminal output and no network I/O. The only
//! controller-side effects are the lookups that Ansible also runs on the controller (`file`,
//! `pipe`, `env`, …).

// Tests may unwrap (house rule); library code may not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod context;
mod error;
mod filters;
mod ini;
mod lookups;
mod methods;
mod password;
mod pylit;
mod pyrepr;
mod safe_access;
mod template_file;
mod tests;
mod yaml_in;
mod yaml_out;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, UndefinedBehavior};

use context::Ctx;
pub use context::{has_markers, is_unsafe, needs_templating, unsafe_string};
pub use error::{TemplateError, TemplateErrorKind, TemplateLocation};
pub use filters::data::python_json;
pub use filters::parse_human_bytes;
pub use lookups::{LookupCall, LookupContext, LookupFn};
pub use pyrepr::{py_repr, py_str};
pub use template_file::{
    controller_hostname, owner_name, Delimiters, TemplateFileVars, TemplateOptions,
};
pub use yaml_out::{to_yaml_string, YamlStyle};

/// The map type behind template dictionaries (insertion-ordered, any value as key).
pub type ValueMap = indexmap::IndexMap<Value, Value>;

/// Converts any serde value (JSON from modules, YAML documents) into a template value.
pub fn from_serde<T: serde::Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// Reads `a.b.0.c` out of a value; missing parts give undefined.
pub(crate) fn get_path(v: &Value, path: &str) -> Value {
    let mut cur = v.clone();
    for part in path.split('.') {
        let next = match part.parse::<i64>() {
            Ok(i) if cur.kind() == ValueKind::Seq => cur.get_item(&Value::from(i)),
            _ => cur.get_attr(part),
        };
        cur = next.unwrap_or_default();
    }
    cur
}

/// The placeholder `omit` evaluates to; the engine drops module arguments equal to it.
pub const OMIT: &str = "__omit_place_holder__drover__";

/// Where a template's variables come from. The engine implements it over its layered scopes.
pub trait VarSource: Send + Sync {
    /// The raw (untemplated) value of a variable.
    fn get(&self, name: &str) -> Option<Value>;
    /// The raw value and whether it may be templated when read. Written values (playbooks,
    /// inventories, vars files) may; data — results of templating such as `set_fact` values,
    /// registered results, facts from hosts — may not, so data is never run as a template
    /// (Ansible 2.19's trust rule).
    fn get_trusted(&self, name: &str) -> Option<(Value, bool)> {
        self.get(name).map(|v| (v, true))
    }
    /// All variable names, for `vars`, the `vars` lookup and `varnames`.
    fn names(&self) -> Vec<String>;
}

impl VarSource for BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        BTreeMap::get(self, name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl VarSource for std::collections::HashMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        std::collections::HashMap::get(self, name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// A map-like [`Value`] (e.g. converted from YAML) as a variable source.
impl VarSource for Value {
    fn get(&self, name: &str) -> Option<Value> {
        self.get_attr(name).ok().filter(|v| !v.is_undefined())
    }
    fn names(&self) -> Vec<String> {
        self.try_iter()
            .map(|it| it.filter_map(|k| k.as_str().map(String::from)).collect())
            .unwrap_or_default()
    }
}

/// Everything a render needs from the caller: the variables and the lookups' search paths.
///
/// Variables are shared (`Arc`) because minijinja's context objects must be `'static`; the
/// engine's scopes are cheap to share.
#[derive(Clone)]
pub struct Scope {
    pub vars: Arc<dyn VarSource>,
    pub lookup: Arc<LookupContext>,
}

impl Scope {
    pub fn new(vars: Arc<dyn VarSource>) -> Scope {
        Scope {
            vars,
            lookup: Arc::default(),
        }
    }

    pub fn with_lookup_context(mut self, lookup: LookupContext) -> Scope {
        self.lookup = Arc::new(lookup);
        self
    }
}

/// Run-wide settings of the templar.
#[derive(Debug, Clone)]
pub struct TemplarConfig {
    /// The value of `ansible_managed` in template files (Ansible's `DEFAULT_MANAGED_STR`).
    pub ansible_managed: String,
    /// Ansible's `ALLOW_BROKEN_CONDITIONALS`: accept non-boolean conditional results using
    /// Python truthiness instead of failing.
    pub allow_broken_conditionals: bool,
    /// Ansible's `escape_backslashes` for strings from playbooks and variables: string
    /// literals inside `{{ }}` keep their backslashes as written. On by default, as in
    /// Ansible; off gives plain Jinja2 string literals.
    pub escape_backslashes: bool,
    /// Ansible's `DEFAULT_PRIVATE_ROLE_VARS` (`private_role_vars`), for `lookup('config')`.
    pub private_role_vars: bool,
}

impl Default for TemplarConfig {
    fn default() -> TemplarConfig {
        TemplarConfig {
            ansible_managed: "Ansible managed".into(),
            allow_broken_conditionals: false,
            escape_backslashes: true,
            private_role_vars: false,
        }
    }
}

/// The shared state behind a [`Templar`] (and behind every render context).
pub(crate) struct Inner {
    pub(crate) env: Environment<'static>,
    pub(crate) config: TemplarConfig,
    pub(crate) lookups: Arc<RwLock<BTreeMap<String, LookupFn>>>,
}

/// Ansible's templating engine. Cheap to clone; build one per run.
#[derive(Clone)]
pub struct Templar {
    inner: Arc<Inner>,
}

impl Default for Templar {
    fn default() -> Templar {
        Templar::new(TemplarConfig::default())
    }
}

impl Templar {
    pub fn new(config: TemplarConfig) -> Templar {
        let lookups = Arc::new(RwLock::new(lookups::builtin()));
        let env = build_environment(&lookups);
        Templar {
            inner: Arc::new(Inner {
                env,
                config,
                lookups,
            }),
        }
    }

    /// Adds (or replaces) a lookup plugin, e.g. `password`, usable by every clone of this templar.
    pub fn register_lookup(&self, name: &str, f: LookupFn) {
        self.inner
            .lookups
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_string(), f);
    }

    pub fn config(&self) -> &TemplarConfig {
        &self.inner.config
    }

    /// Templates a string: native value for a lone `{{ expr }}`, a string otherwise, the input
    /// itself when it has no template markers.
    pub fn render_str(&self, template: &str, scope: &Scope) -> Result<Value, TemplateError> {
        if !has_markers(template) {
            return Ok(Value::from(template));
        }
        let ctx = Ctx::new(self.inner.clone(), scope.clone(), BTreeMap::new());
        context::materialize(self.inner.render_str_in(&ctx, template)?)
    }

    /// Templates every string inside a value (list items, map keys and values).
    pub fn render_value(&self, value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
        if !needs_templating(value) {
            return Ok(value.clone());
        }
        let ctx = Ctx::new(self.inner.clone(), scope.clone(), BTreeMap::new());
        context::materialize(self.inner.render_value_in(&ctx, value)?)
    }

    /// Evaluates a bare Jinja expression (`x | length > 2`) to its native value.
    pub fn eval_expression(&self, expr: &str, scope: &Scope) -> Result<Value, TemplateError> {
        let ctx = Ctx::new(self.inner.clone(), scope.clone(), BTreeMap::new());
        context::materialize(self.inner.eval_expr_in(&ctx, expr)?)
    }

    /// Evaluates a `when:` / `failed_when:` / `changed_when:` / `assert that:` condition.
    ///
    /// The condition is a bare expression, or (discouraged, but accepted like Ansible does) a
    /// string with embedded `{{ }}` whose result, if a string, is evaluated as an expression.
    /// The result must be a boolean unless `allow_broken_conditionals` is configured.
    pub fn eval_condition(&self, expr: &str, scope: &Scope) -> Result<bool, TemplateError> {
        let ctx = Ctx::new(self.inner.clone(), scope.clone(), BTreeMap::new());
        // `when: "{{ x }}"`: the value is the condition; a string is evaluated as an
        // expression only when it is a written (trusted) variable's value, as in Ansible 2.19.
        if let Some(inner) = single_expression(expr.trim()) {
            let value = self.inner.eval_expr_in(&ctx, inner)?;
            if value.as_str().is_none() {
                return self.inner.condition_result(expr, &value);
            }
            if value.is_safe() || !trusted_path(inner, scope) {
                return Err(untrusted());
            }
            let text = value.as_str().unwrap_or_default();
            let result = self.inner.eval_expr_in(&ctx, text)?;
            return self.inner.condition_result(text, &result);
        }
        let value = match embedded_to_expression(expr) {
            // `"x" in {{ result.stdout }}` is evaluated as `"x" in (result.stdout)`: the data a
            // template yields is never parsed as code (a host's output could otherwise run a
            // lookup on the controller), as in ansible-core 2.19. A string literal holding a
            // template (`"{{ 'hi' }}" == "hi"`) is rendered, as Ansible renders such constants.
            Some((rewritten, consts)) => {
                let mut locals = BTreeMap::new();
                for (name, template) in consts {
                    locals.insert(name, self.inner.render_str_in(&ctx, &template)?);
                }
                let ctx = Ctx::new(self.inner.clone(), scope.clone(), locals);
                self.inner.eval_expr_in(&ctx, &rewritten)?
            }
            None if has_markers(expr) => self.inner.render_str_in(&ctx, expr)?,
            None => self.inner.eval_expr_in(&ctx, expr)?,
        };
        self.inner.condition_result(expr, &value)
    }

    /// A conditional given as a YAML value: booleans pass, strings are expressions.
    pub fn eval_condition_value(
        &self,
        value: &Value,
        scope: &Scope,
    ) -> Result<bool, TemplateError> {
        match value.as_str() {
            // `!unsafe` text is never code.
            Some(_) if value.is_safe() => Err(untrusted()),
            Some(s) => self.eval_condition(s, scope),
            None => self.inner.condition_result(&value.to_string(), value),
        }
    }

    /// The conditions of an `assert` `that:`: a list, one condition, or a lone `{{ var }}`
    /// naming a list of conditions, whose items keep the trust of that variable.
    pub fn condition_list(&self, that: &Value, scope: &Scope) -> Result<Vec<Value>, TemplateError> {
        if that.kind() == ValueKind::Seq {
            return Ok(that.try_iter().map(|it| it.collect()).unwrap_or_default());
        }
        let Some(inner) = that
            .as_str()
            .filter(|_| !that.is_safe())
            .and_then(|s| single_expression(s.trim()))
        else {
            return Ok(vec![that.clone()]);
        };
        let ctx = Ctx::new(self.inner.clone(), scope.clone(), BTreeMap::new());
        let value = self.inner.eval_expr_in(&ctx, inner)?;
        if value.kind() != ValueKind::Seq {
            return Ok(vec![that.clone()]);
        }
        let trusted = trusted_path(inner, scope);
        Ok(value
            .try_iter()
            .map(|it| {
                it.map(|item| match item.as_str() {
                    // Text from data must not become an expression: mark it untrusted.
                    Some(s) if !trusted => Value::from_safe_string(s.to_string()),
                    _ => item,
                })
                .collect()
            })
            .unwrap_or_default())
    }

    /// Renders a template file for the `template` module (and the `template` lookup).
    pub fn render_template_file(
        &self,
        source: &str,
        name: &str,
        scope: &Scope,
        extra: &TemplateFileVars,
    ) -> Result<String, TemplateError> {
        template_file::render(&self.inner, source, name, scope, extra)
    }
}

/// Ansible's error for text from data used as a template or expression.
/// minijinja's "unable to calculate 5 / 0" as Python's ZeroDivisionError says it, which
/// playbooks (and ansible-core's tests) look for; other messages unchanged.
fn python_arithmetic_error(detail: &str) -> String {
    let Some(expr) = detail.strip_prefix("unable to calculate ") else {
        return detail.to_string();
    };
    let by_zero = |op: &str| {
        expr.split_once(op)
            .is_some_and(|(_, d)| d.trim().parse::<f64>().is_ok_and(|d| d == 0.0))
    };
    if by_zero(" // ") || by_zero(" % ") {
        "integer division or modulo by zero".to_string()
    } else if by_zero(" / ") {
        "division by zero".to_string()
    } else {
        detail.to_string()
    }
}

fn untrusted() -> TemplateError {
    TemplateError::new(
        TemplateErrorKind::Conditional,
        "Encountered untrusted template or expression.",
    )
}

/// Whether `expr` is a variable (`name` or `name.attr...`) whose value was written in the
/// playbook, inventory or vars files rather than produced at run time.
fn trusted_path(expr: &str, scope: &Scope) -> bool {
    let expr = expr.trim();
    let mut parts = expr.split('.');
    let Some(name) = parts.next() else {
        return false;
    };
    let ident = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !ident(name) || !expr.split('.').all(ident) {
        return false;
    }
    scope
        .vars
        .get_trusted(name)
        .is_some_and(|(_, trusted)| trusted)
}

/// `a {{ b }} c` → `a (b) c` for conditionals, and string literals that hold a template
/// replaced by a local name bound to the rendered literal (returned with its template text).
/// `None` when there is nothing to rewrite, or when a block outside a string literal makes a
/// rewrite unsafe.
fn embedded_to_expression(expr: &str) -> Option<(String, Vec<(String, String)>)> {
    if !expr.contains("{{") && !expr.contains("{%") {
        return None;
    }
    let mut out = String::with_capacity(expr.len());
    let mut consts = Vec::new();
    let mut i = 0;
    let bytes = expr.as_bytes();
    while i < expr.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' {
            // A string literal: find its end, honouring backslash escapes.
            let mut j = i + 1;
            while j < expr.len() && bytes[j] != c {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = j.min(expr.len());
            let content = &expr[i + 1..end];
            if has_markers(content) {
                let name = format!("__drover_const_{}", consts.len());
                out.push_str(&name);
                consts.push((name, content.to_string()));
            } else {
                out.push_str(&expr[i..(end + 1).min(expr.len())]);
            }
            i = end + 1;
            continue;
        }
        if expr[i..].starts_with("{%") || expr[i..].starts_with("{#") {
            return None;
        }
        if expr[i..].starts_with("{{") {
            let after = &expr[i + 2..];
            let close = after.find("}}")?;
            let inner = after[..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
            out.push('(');
            out.push_str(inner);
            out.push(')');
            i += 2 + close + 2;
            continue;
        }
        let ch = expr[i..].chars().next()?;
        out.push(ch);
        i += ch.len_utf8();
    }
    Some((out, consts))
}

fn build_environment(lookups: &Arc<RwLock<BTreeMap<String, LookupFn>>>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(default_syntax());
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            // Re-raise through a typed conversion so minijinja keeps the undefined origin
            // (`foo.bar`) that names the culprit in the error.
            let _: (String,) = minijinja::value::from_args(std::slice::from_ref(value))?;
        }
        out.write_str(&pyrepr::py_output(value))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
    });
    env.set_unknown_method_callback(methods::call_method);
    // Jinja2 builtins minijinja keeps in contrib (truncate, striptags, filesizeformat, cycler,
    // joiner); registered first so Ansible's versions below take precedence.
    minijinja_contrib::add_to_environment(&mut env);
    env.add_global("omit", Value::from(OMIT));
    env.add_filter(safe_access::ATTR_FILTER, safe_access::attr_filter);
    filters::register(&mut env);
    tests::register(&mut env);
    lookups::register(&mut env, lookups.clone());
    env
}

/// Ansible's Jinja2 settings: `trim_blocks` on, `lstrip_blocks` off, trailing newline kept.
pub(crate) fn default_syntax() -> minijinja::syntax::SyntaxConfig {
    syntax_with(&template_file::TemplateOptions::default())
}

pub(crate) fn syntax_with(
    opts: &template_file::TemplateOptions,
) -> minijinja::syntax::SyntaxConfig {
    let mut b = minijinja::syntax::SyntaxConfig::builder();
    b.trim_blocks(opts.trim_blocks)
        .lstrip_blocks(opts.lstrip_blocks)
        .keep_trailing_newline(opts.keep_trailing_newline);
    if let Some(d) = &opts.delimiters {
        b.block_delimiters(d.block.0.clone(), d.block.1.clone())
            .variable_delimiters(d.variable.0.clone(), d.variable.1.clone())
            .comment_delimiters(d.comment.0.clone(), d.comment.1.clone());
    }
    if let Some(p) = &opts.line_statement_prefix {
        b.line_statement_prefix(p.clone());
    }
    if let Some(p) = &opts.line_comment_prefix {
        b.line_comment_prefix(p.clone());
    }
    // Only custom delimiters can make this fail; fall back to the defaults then.
    b.build().unwrap_or_default()
}

/// The expression inside a string that is exactly one `{{ expr }}`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    // A `}}` inside may close nested dict literals (`{{ {'a': {'b': 1}} }}`); if it ends the
    // expression instead, the text does not compile as one and is rendered as a template.
    if has_markers(inner) || inner.contains("%}") {
        return None;
    }
    Some(inner)
}

impl Inner {
    pub(crate) fn render_value_in(
        &self,
        ctx: &Arc<Ctx>,
        value: &Value,
    ) -> Result<Value, TemplateError> {
        match value.kind() {
            ValueKind::String => match value.as_str() {
                Some(s) if !value.is_safe() && has_markers(s) => self.render_str_in(ctx, s),
                _ => Ok(value.clone()),
            },
            ValueKind::Seq => {
                let mut out = Vec::new();
                for item in value.try_iter().map_err(|e| convert(&e, "", ctx))? {
                    out.push(self.render_value_in(ctx, &item)?);
                }
                Ok(Value::from(out))
            }
            ValueKind::Map if needs_templating(value) => {
                let mut out = ValueMap::new();
                for key in value.try_iter().map_err(|e| convert(&e, "", ctx))? {
                    let item = value.get_item(&key).unwrap_or_default();
                    out.insert(
                        self.render_value_in(ctx, &key)?,
                        self.render_value_in(ctx, &item)?,
                    );
                }
                Ok(Value::from_object(out))
            }
            _ => Ok(value.clone()),
        }
    }

    pub(crate) fn render_str_in(&self, ctx: &Arc<Ctx>, s: &str) -> Result<Value, TemplateError> {
        if !has_markers(s) {
            return Ok(Value::from(s));
        }
        let escaped = if self.config.escape_backslashes {
            safe_access::escape_backslashes(s)
        } else {
            std::borrow::Cow::Borrowed(s)
        };
        let s: &str = &escaped;
        // Jinja drops one trailing newline when it compiles a template, so `{{ expr }}\n` (a
        // folded YAML scalar) is still a lone expression with a native value; Ansible adds the
        // newline back only when the result is a string.
        let (body, newline) = match s.strip_suffix('\n') {
            Some(b) if !b.ends_with('\n') => (b, true),
            _ => (s, false),
        };
        if let Some(expr) = single_expression(body) {
            let rewritten = safe_access::rewrite_expr(expr);
            if let Ok(compiled) = self.env.compile_expression_owned(rewritten.into_owned()) {
                let v = compiled
                    .eval(Value::from_dyn_object(ctx.clone()))
                    .map_err(|e| convert(&e, s, ctx))?;
                if !v.is_undefined() {
                    if holds_undefined(&v) {
                        return Err(undefined_inside(expr, ctx));
                    }
                    let v = plain(v);
                    if newline {
                        if let Some(text) = v.as_str() {
                            if !text.ends_with('\n') {
                                return Ok(Value::from(format!("{text}\n")));
                            }
                        }
                    }
                    return Ok(v);
                }
                // Render as a template to get minijinja's description of the undefined value.
            }
        }
        self.env
            .render_str(
                &safe_access::rewrite_template(s),
                Value::from_dyn_object(ctx.clone()),
            )
            .map(Value::from)
            .map_err(|e| convert(&e, s, ctx))
    }

    pub(crate) fn eval_expr_in(&self, ctx: &Arc<Ctx>, expr: &str) -> Result<Value, TemplateError> {
        let expr = expr.trim();
        let compiled = self
            .env
            .compile_expression_owned(safe_access::rewrite_expr(expr).into_owned())
            .map_err(|e| convert(&e, expr, ctx))?;
        let v = compiled
            .eval(Value::from_dyn_object(ctx.clone()))
            .map_err(|e| convert(&e, expr, ctx))?;
        if v.is_undefined() {
            // Printing it in strict mode produces the error with the culprit's name.
            let template = format!("{{{{ {expr} }}}}");
            self.env
                .render_str(&template, Value::from_dyn_object(ctx.clone()))
                .map_err(|e| convert(&e, &template, ctx))?;
            return Err(TemplateError::undefined(
                expr,
                format!("'{expr}' is undefined"),
            ));
        }
        Ok(plain(v))
    }

    fn condition_result(&self, expr: &str, value: &Value) -> Result<bool, TemplateError> {
        if value.kind() == ValueKind::Bool {
            return Ok(value.is_true());
        }
        let truthy = value.is_true();
        if self.config.allow_broken_conditionals {
            return Ok(truthy);
        }
        let truthy_text = if truthy { "True" } else { "False" };
        Err(TemplateError::new(
            TemplateErrorKind::Conditional,
            format!(
                "Conditional result ({truthy_text}) was derived from value of type '{}' at '{expr}'. \
                 Conditionals must have a boolean result.",
                filters::type_name(value)
            ),
        ))
    }
}

/// Whether a built list or dict (`{'k': missing}`) holds an undefined value, which Ansible
/// refuses when it finalizes a template's result. Only plain containers are searched.
fn holds_undefined(v: &Value) -> bool {
    if let Some(items) = v.downcast_object_ref::<Vec<Value>>() {
        return items.iter().any(|i| i.is_undefined() || holds_undefined(i));
    }
    if let Some(map) = v.downcast_object_ref::<ValueMap>() {
        return map.values().any(|i| i.is_undefined() || holds_undefined(i));
    }
    false
}

/// The error for an undefined value inside an expression's result, naming the first variable
/// the expression mentions that is not defined.
fn undefined_inside(expr: &str, ctx: &Arc<Ctx>) -> TemplateError {
    const WORDS: &[&str] = &[
        "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False",
        "None",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut prev = ' ';
    let mut prev_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // Skip a string literal.
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            prev = c;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let rest: String = chars[i..].iter().collect::<String>();
            let rest = rest.trim_start();
            let is_kwarg = rest.starts_with('=') && !rest.starts_with("==");
            let is_name = prev != '.'
                && prev != '|'
                && prev_word != "is"
                && prev_word != "not"
                && !is_kwarg
                && !WORDS.contains(&word.as_str());
            if is_name && ctx.resolve(&word).is_none_or(|v| v.is_undefined()) {
                if let Some(failure) = ctx.failure(&word) {
                    return failure;
                }
                return TemplateError::undefined(&word, format!("'{word}' is undefined"));
            }
            prev_word = word;
            prev = 'a';
            continue;
        }
        if !c.is_whitespace() {
            prev = c;
            prev_word.clear();
        }
        i += 1;
    }
    TemplateError::new(
        TemplateErrorKind::Undefined,
        format!(
            "an undefined value is part of the result of '{}'",
            expr.trim()
        ),
    )
}

/// Turns lazily produced values (iterators, `vars`) into plain data before they leave the crate.
fn plain(v: Value) -> Value {
    match v.kind() {
        ValueKind::Iterable => v
            .try_iter()
            .map(|it| Value::from(it.map(plain).collect::<Vec<_>>()))
            .unwrap_or(v),
        ValueKind::Map if v.downcast_object_ref::<context::VarsView>().is_some() => {
            let mut out = ValueMap::new();
            if let Ok(keys) = v.try_iter() {
                for k in keys {
                    let item = v.get_item(&k).unwrap_or_default();
                    out.insert(k, item);
                }
            }
            Value::from_object(out)
        }
        _ => v,
    }
}

/// Converts a minijinja error into ours, naming the undefined variable as Ansible does.
pub(crate) fn convert(err: &minijinja::Error, source: &str, ctx: &Arc<Ctx>) -> TemplateError {
    use minijinja::ErrorKind as K;
    use std::error::Error as _;

    // Errors we raised ourselves (lookups, nested renders) travel as the error's source.
    if let Some(inner) = err.source().and_then(|s| s.downcast_ref::<TemplateError>()) {
        return inner.clone();
    }
    // An error inside an included or imported template: the inner error says what went wrong
    // and where (the outer one only "error in <name>").
    if let Some(inner) = err
        .source()
        .and_then(|s| s.downcast_ref::<minijinja::Error>())
    {
        return convert(inner, source, ctx);
    }
    let detail = python_arithmetic_error(err.detail().unwrap_or_default());
    let mut out = match err.kind() {
        K::UndefinedError => undefined_error(&detail, ctx),
        K::SyntaxError => TemplateError::new(
            TemplateErrorKind::Syntax,
            format!("Syntax error in template: {detail}"),
        ),
        K::TemplateNotFound => TemplateError::new(TemplateErrorKind::NotFound, detail),
        K::UnknownFilter | K::UnknownTest | K::UnknownFunction => TemplateError::new(
            TemplateErrorKind::Runtime,
            format!("{}: {detail}", err.kind()),
        ),
        _ if detail.is_empty() => {
            TemplateError::new(TemplateErrorKind::Runtime, err.kind().to_string())
        }
        _ => TemplateError::new(TemplateErrorKind::Runtime, detail),
    };
    if out.location.is_none() {
        if let Some(line) = err.line() {
            let text = err.template_source().unwrap_or(source);
            let column = err.range().map(|range| {
                let before = text.get(..range.start).unwrap_or_default();
                before
                    .rsplit('\n')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .count()
                    + 1
            });
            out.location = Some(Box::new(TemplateLocation {
                template_name: err
                    .name()
                    .filter(|n| *n != "<string>" && *n != "<expression>")
                    .map(String::from),
                line,
                column,
                source_line: text.lines().nth(line.saturating_sub(1)).map(String::from),
            }));
        }
    }
    out
}

fn undefined_error(detail: &str, ctx: &Arc<Ctx>) -> TemplateError {
    let expr = detail
        .split('`')
        .nth(1)
        .filter(|_| detail.contains("is undefined"))
        .unwrap_or_default();
    if expr.is_empty() {
        return TemplateError::new(
            TemplateErrorKind::Undefined,
            "undefined variable".to_string(),
        );
    }
    let root: String = expr
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if let Some(failure) = ctx.failure(&root) {
        return failure;
    }
    let split = expr.rfind(['.', '[']);
    let Some(pos) = split.filter(|p| *p > 0) else {
        return TemplateError::undefined(expr, format!("'{expr}' is undefined"));
    };
    let (base, last) = expr.split_at(pos);
    let attr = last
        .trim_start_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_matches(['"', '\'']);
    let base_type = if base.contains("(...)") || base.contains("[...]") {
        None
    } else {
        ctx.inner
            .env
            .compile_expression_owned(base.to_string())
            .ok()
            .and_then(|e| e.eval(Value::from_dyn_object(ctx.clone())).ok())
            .filter(|v| !v.is_undefined())
    };
    let message = match base_type {
        Some(v) if v.kind() == ValueKind::Seq && last.starts_with('[') => {
            format!("list object has no element {attr}")
        }
        Some(v) => format!(
            "object of type '{}' has no attribute '{attr}'",
            filters::type_name(&v)
        ),
        // The base is a local (loop variable, `set`): minijinja only reaches the attribute
        // when the base itself is defined, so name it.
        None => format!("'{base}' has no attribute '{attr}'"),
    };
    TemplateError::undefined(expr, message)
}

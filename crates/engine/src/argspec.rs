//! Argument specs given as data — a role's `meta/argument_specs.yml` entry points and the
//! `validate_argument_spec` action — validated with Ansible's rules and messages.
//!
//! The built-in modules have static specs (`drover_modules::ModuleSpec`); these specs come from
//! users' files, so everything here is checked at run time and every problem is reported, not
//! only the first: aliases, unsupported names, `mutually_exclusive` and the other sub-option
//! checks, `required`, types (with Ansible's conversions), `elements`, `choices`, and nested
//! `options`, level by level in the order Ansible checks them.

use indexmap::IndexMap;
use minijinja::value::{Value, ValueKind};

use drover_template::{py_repr, py_str};

/// Validates `params` against `spec`, a mapping of option name to option spec, and returns
/// every problem found. `params` are converted in place (`"5"` for an `int` becomes 5) and
/// defaults filled in; Ansible does not hand them back to the play, and neither does drover.
pub fn validate(spec: &Value, params: &mut IndexMap<String, Value>) -> Vec<String> {
    let mut v = Validator::default();
    let options = entries(spec);
    v.level(&options, params, &Value::UNDEFINED, &mut Vec::new());
    if !v.unsupported.is_empty() {
        let mut names: Vec<String> = v.unsupported.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        // Ansible names the supported parameters of the level of the last unsupported one.
        let (supported, aliases) = v
            .unsupported
            .last()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let mut text = supported.join(", ");
        if !aliases.is_empty() {
            text.push_str(&format!(" ({})", aliases.join(", ")));
        }
        v.errors.push(format!(
            "{}. Supported parameters include: {text}.",
            names.join(", ")
        ));
    }
    v.errors
}

type Supported = (Vec<String>, Vec<String>);

#[derive(Default)]
struct Validator {
    errors: Vec<String>,
    /// Dotted names of unsupported parameters, with the supported names and aliases of their
    /// level.
    unsupported: Vec<(String, Supported)>,
}

impl Validator {
    /// One level: the top-level options, or the `options` of one dict (or list element) below.
    /// `parent` is the option spec holding this level's extra checks (undefined at the top).
    fn level(
        &mut self,
        spec: &[(String, Value)],
        params: &mut IndexMap<String, Value>,
        parent: &Value,
        context: &mut Vec<String>,
    ) {
        let aliases = self.aliases(spec, params);
        self.unsupported_names(spec, params, &aliases, context);
        if let Some(groups) = string_groups(parent, "mutually_exclusive") {
            let clashing: Vec<String> = groups
                .iter()
                .filter(|g| count_present(g, params) > 1)
                .map(|g| g.join("|"))
                .collect();
            if !clashing.is_empty() {
                self.errors.push(in_context(
                    format!("parameters are mutually exclusive: {}", clashing.join(", ")),
                    context,
                ));
            }
        }
        set_defaults(spec, params, false);
        let mut missing: Vec<&str> = spec
            .iter()
            .filter(|(name, o)| truthy(o, "required") && !params.contains_key(name))
            .map(|(name, _)| name.as_str())
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            self.errors.push(in_context(
                format!("missing required arguments: {}", missing.join(", ")),
                context,
            ));
        }
        self.types(spec, params, context);
        self.choices(spec, params, context);
        self.extra_checks(parent, params, context);
        set_defaults(spec, params, true);
        self.sub_options(spec, params, context);
    }

    /// Copies each alias's value to its option; returns alias → option.
    fn aliases(
        &mut self,
        spec: &[(String, Value)],
        params: &mut IndexMap<String, Value>,
    ) -> IndexMap<String, String> {
        let mut out = IndexMap::new();
        for (name, o) in spec {
            if !is_null(&o.get_attr("default").unwrap_or_default()) && truthy(o, "required") {
                self.errors.push(format!(
                    "internal error: required and default are mutually exclusive for {name}"
                ));
                continue;
            }
            let Ok(list) = o.get_attr("aliases") else {
                continue;
            };
            if is_null(&list) {
                continue;
            }
            if list.kind() != ValueKind::Seq {
                self.errors
                    .push("internal error: aliases must be a list or tuple".to_string());
                continue;
            }
            for alias in list.try_iter().into_iter().flatten() {
                let alias = py_str(&alias);
                out.insert(alias.clone(), name.clone());
                if let Some(v) = params.get(&alias).cloned() {
                    params.insert(name.clone(), v);
                }
            }
        }
        out
    }

    fn unsupported_names(
        &mut self,
        spec: &[(String, Value)],
        params: &IndexMap<String, Value>,
        aliases: &IndexMap<String, String>,
        context: &[String],
    ) {
        let legal = |k: &str| spec.iter().any(|(n, _)| n == k) || aliases.contains_key(k);
        for k in params.keys() {
            if legal(k) || k.starts_with("_ansible_") {
                continue;
            }
            let mut path = context.to_vec();
            path.push(k.clone());
            let mut names: Vec<String> = spec.iter().map(|(n, _)| n.clone()).collect();
            names.sort();
            let mut alias_names: Vec<String> = aliases.keys().cloned().collect();
            alias_names.sort();
            self.unsupported
                .push((path.join("."), (names, alias_names)));
        }
    }

    fn types(
        &mut self,
        spec: &[(String, Value)],
        params: &mut IndexMap<String, Value>,
        context: &[String],
    ) {
        for (name, o) in spec {
            let Some(value) = params.get(name).cloned() else {
                continue;
            };
            if value.is_none() && !truthy(o, "required") && is_null(&attr(o, "default")) {
                continue;
            }
            let wanted = type_name(o);
            match convert(&wanted, &value) {
                Ok(converted) => {
                    let elements = attr(o, "elements");
                    let converted = if is_null(&elements) {
                        converted
                    } else {
                        self.elements(name, &py_str(&elements), converted, &wanted, context)
                    };
                    params.insert(name.clone(), converted);
                }
                Err(e) => {
                    let mut msg = format!("argument '{name}' is of type {}", py_type(&value));
                    if !context.is_empty() {
                        msg.push_str(&format!(" found in '{}'.", context.join(" -> ")));
                    }
                    msg.push_str(&format!(" and we were unable to convert to {wanted}: {e}"));
                    self.errors.push(msg);
                }
            }
        }
    }

    fn elements(
        &mut self,
        name: &str,
        element_type: &str,
        list: Value,
        wanted: &str,
        context: &[String],
    ) -> Value {
        if list.kind() != ValueKind::Seq {
            let mut msg = format!("Invalid type {wanted} for option '{}'", py_str(&list));
            if !context.is_empty() {
                msg.push_str(&format!(" found in '{}'.", context.join(" -> ")));
            }
            msg.push_str(", elements value check is supported only with 'list' type");
            self.errors.push(msg);
            return list;
        }
        let mut out = Vec::new();
        for item in list.try_iter().into_iter().flatten() {
            match convert(element_type, &item) {
                Ok(v) => out.push(v),
                Err(e) => {
                    let mut msg = format!("Elements value for option '{name}'");
                    if !context.is_empty() {
                        msg.push_str(&format!(" found in '{}'", context.join(" -> ")));
                    }
                    msg.push_str(&format!(
                        " is of type {} and we were unable to convert to {element_type}: {e}",
                        py_type(&item)
                    ));
                    self.errors.push(msg);
                }
            }
        }
        Value::from(out)
    }

    fn choices(
        &mut self,
        spec: &[(String, Value)],
        params: &mut IndexMap<String, Value>,
        context: &[String],
    ) {
        for (name, o) in spec {
            let choices = attr(o, "choices");
            if is_null(&choices) {
                continue;
            }
            if choices.kind() != ValueKind::Seq {
                self.errors.push(in_context(
                    format!(
                        "internal error: choices for argument {name} are not iterable: {}",
                        py_str(&choices)
                    ),
                    context,
                ));
                continue;
            }
            let allowed: Vec<Value> = choices.try_iter().into_iter().flatten().collect();
            let listed = allowed.iter().map(py_str).collect::<Vec<_>>().join(", ");
            let Some(value) = params.get(name).cloned() else {
                continue;
            };
            if value.kind() == ValueKind::Seq {
                let unmatched: Vec<String> = value
                    .try_iter()
                    .into_iter()
                    .flatten()
                    .filter(|item| !allowed.contains(item))
                    .map(|item| py_str(&item))
                    .collect();
                if !unmatched.is_empty() {
                    self.errors.push(in_context(
                        format!(
                            "value of {name} must be one or more of: {listed}. Got no match for: {}",
                            unmatched.join(", ")
                        ),
                        context,
                    ));
                }
            } else if !allowed.contains(&value) {
                // A bool that became the text "True"/"False" matches the one boolean-looking
                // choice of that truth, as Ansible allows.
                let truth = match value.as_str() {
                    Some("True") => Some(true),
                    Some("False") => Some(false),
                    _ => None,
                };
                let matched = truth.and_then(|t| {
                    let hits: Vec<&Value> =
                        allowed.iter().filter(|c| bool_word(c) == Some(t)).collect();
                    (hits.len() == 1).then(|| hits[0].clone())
                });
                match matched {
                    Some(c) => {
                        params.insert(name.clone(), c);
                    }
                    None => self.errors.push(in_context(
                        format!(
                            "value of {name} must be one of: {listed}, got: {}",
                            py_str(&value)
                        ),
                        context,
                    )),
                }
            }
        }
    }

    /// `required_together`, `required_one_of`, `required_if` and `required_by` of a sub-level.
    fn extra_checks(&mut self, parent: &Value, params: &IndexMap<String, Value>, ctx: &[String]) {
        for group in string_groups(parent, "required_together").unwrap_or_default() {
            let n = count_present(&group, params);
            if n > 0 && n < group.len() {
                self.errors.push(in_context(
                    format!("parameters are required together: {}", group.join(", ")),
                    ctx,
                ));
            }
        }
        for group in string_groups(parent, "required_one_of").unwrap_or_default() {
            if count_present(&group, params) == 0 {
                self.errors.push(in_context(
                    format!("one of the following is required: {}", group.join(", ")),
                    ctx,
                ));
            }
        }
        let required_if = attr(parent, "required_if");
        for rule in required_if.try_iter().into_iter().flatten() {
            let parts: Vec<Value> = rule.try_iter().into_iter().flatten().collect();
            let (Some(key), Some(val), Some(reqs)) = (parts.first(), parts.get(1), parts.get(2))
            else {
                continue;
            };
            let any = parts.get(3).is_some_and(|v| v.is_true());
            let key = py_str(key);
            if params.get(&key) != Some(val) {
                continue;
            }
            let reqs: Vec<String> = reqs
                .try_iter()
                .into_iter()
                .flatten()
                .map(|r| py_str(&r))
                .collect();
            let missing: Vec<&String> = reqs.iter().filter(|r| !params.contains_key(*r)).collect();
            let fails = if any {
                missing.len() == reqs.len() && !reqs.is_empty()
            } else {
                !missing.is_empty()
            };
            if fails {
                let missing: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                self.errors.push(in_context(
                    format!(
                        "{key} is {} but {} of the following are missing: {}",
                        py_str(val),
                        if any { "any" } else { "all" },
                        missing.join(", ")
                    ),
                    ctx,
                ));
            }
        }
        let required_by = attr(parent, "required_by");
        if required_by.kind() == ValueKind::Map {
            for key in required_by.try_iter().into_iter().flatten() {
                let key_name = py_str(&key);
                if params.get(&key_name).is_none_or(|v| v.is_none()) {
                    continue;
                }
                let reqs = required_by.get_item(&key).unwrap_or_default();
                let reqs: Vec<String> = if reqs.kind() == ValueKind::Seq {
                    reqs.try_iter()
                        .into_iter()
                        .flatten()
                        .map(|r| py_str(&r))
                        .collect()
                } else {
                    vec![py_str(&reqs)]
                };
                let missing: Vec<String> = reqs
                    .into_iter()
                    .filter(|r| params.get(r).is_none_or(|v| v.is_none()))
                    .collect();
                if !missing.is_empty() {
                    self.errors.push(in_context(
                        format!(
                            "missing parameter(s) required by '{key_name}': {}",
                            missing.join(", ")
                        ),
                        ctx,
                    ));
                }
            }
        }
    }

    /// Validates the `options` of dict options (and of each element of `list` of `dict`).
    fn sub_options(
        &mut self,
        spec: &[(String, Value)],
        params: &mut IndexMap<String, Value>,
        context: &mut Vec<String>,
    ) {
        for (name, o) in spec {
            let wanted = type_name(o);
            let is_dict_list = wanted == "list" && py_str(&attr(o, "elements")) == "dict";
            if wanted != "dict" && !is_dict_list {
                continue;
            }
            let sub = attr(o, "options");
            let present = params.get(name).is_some_and(|v| !v.is_none());
            if truthy(o, "apply_defaults") {
                if is_null(&sub) {
                    continue;
                }
                if !present {
                    params.insert(
                        name.clone(),
                        Value::from_pairs(IndexMap::<String, Value>::new()),
                    );
                }
            } else if is_null(&sub) || !present {
                continue;
            }
            let sub_spec = entries(&sub);
            let value = params.get(name).cloned().unwrap_or_default();
            let is_list = value.kind() == ValueKind::Seq;
            let items: Vec<Value> = if is_list {
                value.try_iter().into_iter().flatten().collect()
            } else {
                vec![value]
            };
            context.push(name.clone());
            let mut out = Vec::new();
            for item in items {
                if item.kind() != ValueKind::Map {
                    self.errors.push(format!(
                        "value of '{name}' must be of type dict or list of dicts"
                    ));
                    out.push(item);
                    continue;
                }
                let mut sub_params = to_map(&item);
                self.level(&sub_spec, &mut sub_params, o, context);
                out.push(Value::from_pairs(sub_params));
            }
            context.pop();
            let converted = if is_list {
                Value::from(out)
            } else {
                out.pop().unwrap_or_default()
            };
            params.insert(name.clone(), converted);
        }
    }
}

/// Ansible's type checks and conversions (`check_type_*`).
pub fn convert(wanted: &str, v: &Value) -> Result<Value, String> {
    let class = || format!("<class '{}'>", py_type(v));
    match wanted {
        "raw" => Ok(v.clone()),
        "str" | "path" => Ok(if v.kind() == ValueKind::String {
            v.clone()
        } else if v.is_none() {
            Value::from("")
        } else {
            Value::from(py_str(v))
        }),
        "list" => match v.kind() {
            ValueKind::Seq => Ok(v.clone()),
            ValueKind::String => Ok(Value::from(
                v.as_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            )),
            ValueKind::Number => Ok(Value::from(vec![Value::from(py_str(v))])),
            _ => Err(format!("{} cannot be converted to a list", class())),
        },
        "dict" => match v.kind() {
            ValueKind::Map => Ok(v.clone()),
            ValueKind::String => dict_from_text(v.as_str().unwrap_or_default()),
            _ => Err(format!("{} cannot be converted to a dict", class())),
        },
        "bool" => match v.kind() {
            ValueKind::Bool => Ok(v.clone()),
            ValueKind::String | ValueKind::Number => {
                bool_word(v).map(Value::from).ok_or_else(|| {
                    format!(
                        "The value '{}' is not a valid boolean. Valid booleans include: {}",
                        py_str(v),
                        BOOLEAN_WORDS.join(", ")
                    )
                })
            }
            _ => Err(format!("{} cannot be converted to a bool", class())),
        },
        "int" => to_int(v)
            .map(Value::from)
            .ok_or_else(|| format!("\"{}\" cannot be converted to an int", py_repr(v))),
        "float" => to_float(v)
            .map(Value::from)
            .ok_or_else(|| format!("{} cannot be converted to a float", class())),
        "json" | "jsonarg" => match v.kind() {
            ValueKind::String => Ok(Value::from(v.as_str().unwrap_or_default().trim())),
            ValueKind::Seq | ValueKind::Map => serde_json::to_string(v)
                .map(Value::from)
                .map_err(|e| e.to_string()),
            _ => Err(format!("{} cannot be converted to a json string", class())),
        },
        "bytes" | "bits" => {
            let isbits = wanted == "bits";
            let parsed = match v.kind() {
                ValueKind::String | ValueKind::Number => {
                    drover_template::parse_human_bytes(&py_str(v), None, isbits).ok()
                }
                _ => None,
            };
            parsed.map(Value::from).ok_or_else(|| {
                format!(
                    "{} cannot be converted to a {} value",
                    class(),
                    if isbits { "Bit" } else { "Byte" }
                )
            })
        }
        other => Err(format!("unknown type '{other}'")),
    }
}

const BOOLEAN_WORDS: &[&str] = &[
    "'y'", "'yes'", "'on'", "'1'", "'true'", "'t'", "1", "1.0", "True", "'n'", "'no'", "'off'",
    "'0'", "'false'", "'f'", "0", "0.0", "False",
];

/// Ansible's `boolean()`: the words and numbers it reads as true or false.
fn bool_word(v: &Value) -> Option<bool> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true()),
        ValueKind::Number => {
            let x = f64::try_from(v.clone()).ok()?;
            if x == 1.0 {
                Some(true)
            } else if x == 0.0 {
                Some(false)
            } else {
                None
            }
        }
        ValueKind::String => match v.as_str()?.trim().to_lowercase().as_str() {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Python's `Decimal(value)` read as a whole number: integers, bools, whole floats, and text
/// that reads as one (`" 12 "`, `"1e3"`, `"12.0"`).
fn to_int(v: &Value) -> Option<i64> {
    match v.kind() {
        ValueKind::Bool => Some(i64::from(v.is_true())),
        ValueKind::Number => {
            if let Ok(i) = i64::try_from(v.clone()) {
                return Some(i);
            }
            let f = f64::try_from(v.clone()).ok()?;
            (f.is_finite() && f.fract() == 0.0).then_some(f as i64)
        }
        ValueKind::String => {
            let t = v.as_str()?.trim().replace('_', "");
            if let Ok(i) = t.parse::<i64>() {
                return Some(i);
            }
            let f: f64 = t.parse().ok()?;
            (f.is_finite() && f.fract() == 0.0).then_some(f as i64)
        }
        _ => None,
    }
}

/// Python's `float(value)`.
fn to_float(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::String => {
            let t = v.as_str()?.trim().replace('_', "");
            match t.to_lowercase().as_str() {
                "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
                "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                "nan" | "+nan" | "-nan" => Some(f64::NAN),
                _ => t.parse().ok(),
            }
        }
        _ => None,
    }
}

/// `check_type_dict` on text: JSON when it starts with `{`, else `k=v` pairs separated by
/// commas or spaces (quotes group, backslash escapes).
fn dict_from_text(s: &str) -> Result<Value, String> {
    if s.starts_with('{') {
        return serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .filter(|j| j.is_object())
            .map(|j| drover_template::from_serde(&j))
            .ok_or_else(|| "unable to evaluate string as dictionary".to_string());
    }
    if !s.contains('=') {
        return Err("dictionary requested, could not parse JSON or key=value".to_string());
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.trim().chars() {
        if escaped {
            field.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some(c);
        } else if quote == Some(c) {
            quote = None;
        } else if quote.is_none() && (c == ',' || c == ' ') {
            if !field.is_empty() {
                fields.push(std::mem::take(&mut field));
            }
        } else {
            field.push(c);
        }
    }
    if !field.is_empty() {
        fields.push(field);
    }
    let mut out = IndexMap::new();
    for f in fields {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            "unable to evaluate string in the \"key=value\" format as dictionary".to_string()
        })?;
        out.insert(k.to_string(), Value::from(v));
    }
    Ok(Value::from_pairs(out))
}

/// Python's name for the type of a value, as Ansible's messages show it.
pub fn py_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.is_integer() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// The option's `type`, `str` when unset.
fn type_name(o: &Value) -> String {
    let t = attr(o, "type");
    if is_null(&t) {
        "str".to_string()
    } else {
        py_str(&t)
    }
}

fn set_defaults(spec: &[(String, Value)], params: &mut IndexMap<String, Value>, all: bool) {
    for (name, o) in spec {
        let default = attr(o, "default");
        if !params.contains_key(name) && (all || !is_null(&default)) {
            params.insert(
                name.clone(),
                if default.is_undefined() {
                    Value::from(())
                } else {
                    default
                },
            );
        }
    }
}

fn in_context(msg: String, context: &[String]) -> String {
    if context.is_empty() {
        msg
    } else {
        format!("{msg} found in {}", context.join(" -> "))
    }
}

fn count_present(group: &[String], params: &IndexMap<String, Value>) -> usize {
    group.iter().filter(|k| params.contains_key(*k)).count()
}

/// A list of lists of names (`mutually_exclusive`, `required_together`, `required_one_of`).
fn string_groups(o: &Value, key: &str) -> Option<Vec<Vec<String>>> {
    let v = attr(o, key);
    if v.kind() != ValueKind::Seq {
        return None;
    }
    Some(
        v.try_iter()
            .into_iter()
            .flatten()
            .map(|g| {
                g.try_iter()
                    .into_iter()
                    .flatten()
                    .map(|n| py_str(&n))
                    .collect()
            })
            .collect(),
    )
}

fn attr(o: &Value, key: &str) -> Value {
    if o.kind() == ValueKind::Map {
        o.get_attr(key).unwrap_or_default()
    } else {
        Value::UNDEFINED
    }
}

fn truthy(o: &Value, key: &str) -> bool {
    bool_word(&attr(o, key)).unwrap_or(false)
}

fn is_null(v: &Value) -> bool {
    v.is_undefined() || v.is_none()
}

/// A mapping's entries in order, keys as text.
pub fn entries(v: &Value) -> Vec<(String, Value)> {
    if v.kind() != ValueKind::Map {
        return Vec::new();
    }
    v.try_iter()
        .into_iter()
        .flatten()
        .map(|k| {
            let item = v.get_item(&k).unwrap_or_default();
            (py_str(&k), item)
        })
        .collect()
}

fn to_map(v: &Value) -> IndexMap<String, Value> {
    entries(v).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        let j: serde_json::Value = serde_yaml_like(text);
        drover_template::from_serde(&j)
    }

    /// The tests write specs and parameters as JSON (a subset of YAML).
    fn serde_yaml_like(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("test JSON")
    }

    struct Outcome {
        errors: Vec<String>,
        validated: IndexMap<String, Value>,
    }

    fn run(spec: &str, params: &str) -> Outcome {
        let mut validated = to_map(&yaml(params));
        let errors = validate(&yaml(spec), &mut validated);
        Outcome { errors, validated }
    }

    #[test]
    fn missing_required_are_sorted_and_listed_once() {
        let o = run(
            r#"{"b_str": {"type": "str", "required": true}, "b_int": {"type": "int", "required": true},
                "b_bool": {"type": "bool", "required": true}}"#,
            r#"{"b_bool": 7}"#,
        );
        assert_eq!(
            o.errors,
            vec![
                "missing required arguments: b_int, b_str",
                "argument 'b_bool' is of type int and we were unable to convert to bool: The value '7' is not a valid boolean. Valid booleans include: 'y', 'yes', 'on', '1', 'true', 't', 1, 1.0, True, 'n', 'no', 'off', '0', 'false', 'f', 0, 0.0, False",
            ]
        );
    }

    #[test]
    fn conversions_follow_ansible() {
        let o = run(
            r#"{"i": {"type": "int"}, "f": {"type": "float"}, "l": {"type": "list"},
                "d": {"type": "dict"}, "s": {"type": "str"}, "b": {"type": "bool"},
                "by": {"type": "bytes"}}"#,
            r#"{"i": "12", "f": "1.5", "l": "a,b", "d": "x=1 y='two words'", "s": 37.5,
                "b": "Yes", "by": "1K"}"#,
        );
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let v = &o.validated;
        assert_eq!(v["i"], Value::from(12));
        assert_eq!(v["f"], Value::from(1.5));
        assert_eq!(v["l"], Value::from(vec!["a", "b"]));
        assert_eq!(v["d"].get_attr("y").ok(), Some(Value::from("two words")));
        assert_eq!(v["s"], Value::from("37.5"));
        assert_eq!(v["b"], Value::from(true));
        assert_eq!(v["by"], Value::from(1024));
    }

    #[test]
    fn none_for_a_required_typed_option_is_an_error() {
        let o = run(
            r#"{"c_int": {"type": "int", "required": true}, "c_list": {"type": "list", "required": true}}"#,
            r#"{"c_int": null, "c_list": null}"#,
        );
        assert_eq!(
            o.errors,
            vec![
                "argument 'c_int' is of type NoneType and we were unable to convert to int: \"None\" cannot be converted to an int",
                "argument 'c_list' is of type NoneType and we were unable to convert to list: <class 'NoneType'> cannot be converted to a list",
            ]
        );
    }

    #[test]
    fn choices_aliases_and_unsupported_names() {
        let o = run(
            r#"{"mode": {"choices": ["a", "b"]}, "name": {"aliases": ["nick"]}}"#,
            r#"{"mode": "c", "nick": "x", "extra": 1}"#,
        );
        assert_eq!(
            o.errors,
            vec![
                "value of mode must be one of: a, b, got: c",
                "extra. Supported parameters include: mode, name (nick).",
            ]
        );
        assert_eq!(o.validated["name"], Value::from("x"));
    }

    #[test]
    fn nested_options_report_their_path() {
        let spec = r#"{"multi": {"type": "dict", "options": {"second": {"type": "dict",
            "options": {"third": {"type": "int", "required": true}}}}}}"#;
        let o = run(spec, r#"{"multi": {"second": {"unknown": true}}}"#);
        assert_eq!(
            o.errors,
            vec![
                "missing required arguments: third found in multi -> second",
                "multi.second.unknown. Supported parameters include: third.",
            ]
        );
        let o = run(spec, r#"{"multi": {"second": {"third": "x"}}}"#);
        assert_eq!(
            o.errors,
            vec!["argument 'third' is of type str found in 'multi -> second'. and we were unable to convert to int: \"'x'\" cannot be converted to an int"]
        );
    }

    #[test]
    fn defaults_fill_in_and_sub_option_checks_apply() {
        let spec = r#"{"opt": {"type": "dict", "apply_defaults": true,
            "mutually_exclusive": [["a", "b"]], "required_one_of": [["c", "d"]],
            "options": {"a": {}, "b": {}, "c": {}, "d": {}, "e": {"default": 5, "type": "int"}}},
            "top": {"type": "str", "default": "x"}}"#;
        let o = run(spec, r#"{"opt": {"a": 1, "b": 2}}"#);
        assert_eq!(
            o.errors,
            vec![
                "parameters are mutually exclusive: a|b found in opt",
                "one of the following is required: c, d found in opt",
            ]
        );
        assert_eq!(o.validated["top"], Value::from("x"));
        assert_eq!(o.validated["opt"].get_attr("e").ok(), Some(Value::from(5)));
    }

    #[test]
    fn elements_are_checked_one_by_one() {
        let o = run(
            r#"{"l": {"type": "list", "elements": "int"}}"#,
            r#"{"l": [1, "2", "x"]}"#,
        );
        assert_eq!(
            o.errors,
            vec!["Elements value for option 'l' is of type str and we were unable to convert to int: \"'x'\" cannot be converted to an int"]
        );
        assert_eq!(o.validated["l"], Value::from(vec![1, 2]));
    }
}

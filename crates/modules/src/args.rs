//! Module argument specifications as data, their validation, and Ansible's `k=v` argument
//! strings.

use indexmap::IndexMap;
use minijinja::value::{Value, ValueKind};

/// The type of one argument. Conversions follow Ansible's argument spec rules: a `Bool` accepts
/// `yes`/`no`/`true`/`false`/`on`/`off`/`1`/`0` in any case, a `Str` accepts numbers and bools
/// (stringified), a `List` accepts a comma-separated string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Str,
    Path,
    Bool,
    Int,
    Float,
    /// A list of strings.
    List,
    Dict,
    /// A file mode: an octal string, a symbolic mode, or an integer (the permission bits, so
    /// YAML `0644` works) — kept as a string.
    Mode,
    /// Any value, unconverted.
    Raw,
}

/// One argument of a module.
#[derive(Debug, Clone, Copy)]
pub struct ArgDef {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: ArgKind,
    pub required: bool,
    /// Allowed values for a `Str` argument.
    pub choices: &'static [&'static str],
    /// `no_log`: never shown in output.
    pub secret: bool,
}

impl ArgDef {
    pub const fn new(name: &'static str, kind: ArgKind) -> ArgDef {
        ArgDef {
            name,
            aliases: &[],
            kind,
            required: false,
            choices: &[],
            secret: false,
        }
    }
    pub const fn required(mut self) -> ArgDef {
        self.required = true;
        self
    }
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> ArgDef {
        self.aliases = aliases;
        self
    }
    pub const fn choices(mut self, choices: &'static [&'static str]) -> ArgDef {
        self.choices = choices;
        self
    }
    pub const fn secret(mut self) -> ArgDef {
        self.secret = true;
        self
    }
}

/// The declaration of a module's interface.
#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub args: &'static [ArgDef],
    /// For modules taking a free-form string (`command: ls -l`): the free text goes into the
    /// argument `_raw_params`, and only these `k=v` words are taken out of it as arguments.
    pub free_form: bool,
    /// Groups of arguments of which at most one may be given.
    pub mutually_exclusive: &'static [&'static [&'static str]],
    /// Groups of arguments of which at least one must be given.
    pub required_one_of: &'static [&'static [&'static str]],
    /// Whether the module honours check mode; others are skipped in check mode, as in Ansible.
    pub check_mode: bool,
}

/// The argument name carrying the free-form text.
pub const RAW_PARAMS: &str = "_raw_params";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("unsupported parameter for module {module}: {name}. Supported parameters include: {supported}")]
    Unknown {
        module: &'static str,
        name: String,
        supported: String,
    },
    #[error("missing required arguments: {names}")]
    Missing { names: String },
    #[error("argument '{name}' is of type {actual} and we were unable to convert to {expected}: {detail}")]
    Type {
        name: String,
        actual: String,
        expected: &'static str,
        detail: String,
    },
    #[error("value of {name} must be one of: {choices}, got: {value}")]
    Choice {
        name: String,
        choices: String,
        value: String,
    },
    #[error("parameters are mutually exclusive: {names}")]
    Exclusive { names: String },
    #[error("one of the following is required: {names}")]
    OneOf { names: String },
    #[error("{0}")]
    Syntax(String),
}

impl ModuleSpec {
    /// Validated arguments from literal pairs, for unit tests of a module's logic.
    #[cfg(test)]
    pub(crate) fn test_args(&self, pairs: &[(&str, Value)]) -> Args {
        let raw: indexmap::IndexMap<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.validate(&raw).expect("test arguments are valid")
    }

    pub fn arg(&self, name: &str) -> Option<&'static ArgDef> {
        self.args
            .iter()
            .find(|a| a.name == name || a.aliases.contains(&name))
    }

    /// The checks that need no variable values: unknown names, missing required arguments,
    /// exclusive groups. Run before anything touches a host.
    pub fn check_names<'k>(
        &self,
        keys: impl Iterator<Item = &'k str> + Clone,
    ) -> Result<(), ArgsError> {
        for key in keys.clone() {
            if key == RAW_PARAMS && self.free_form {
                continue;
            }
            if self.arg(key).is_none() {
                let mut supported: Vec<&str> = self.args.iter().map(|a| a.name).collect();
                supported.sort_unstable();
                return Err(ArgsError::Unknown {
                    module: self.name,
                    name: key.to_string(),
                    supported: supported.join(", "),
                });
            }
        }
        let canonical: Vec<&str> = keys
            .filter_map(|k| {
                self.arg(k)
                    .map(|a| a.name)
                    .or((k == RAW_PARAMS).then_some(RAW_PARAMS))
            })
            .collect();
        let missing: Vec<&str> = self
            .args
            .iter()
            .filter(|a| a.required && !canonical.contains(&a.name))
            .map(|a| a.name)
            .collect();
        if !missing.is_empty() {
            return Err(ArgsError::Missing {
                names: missing.join(", "),
            });
        }
        for group in self.mutually_exclusive {
            let given: Vec<&str> = group
                .iter()
                .copied()
                .filter(|g| canonical.contains(g))
                .collect();
            if given.len() > 1 {
                return Err(ArgsError::Exclusive {
                    names: given.join("|"),
                });
            }
        }
        for group in self.required_one_of {
            if !group.iter().any(|g| canonical.contains(g)) {
                return Err(ArgsError::OneOf {
                    names: group.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Validates and converts templated argument values. `Value::UNDEFINED`/none values count as
    /// not given (that is how `omit` and `null` reach here).
    pub fn validate(&self, raw: &IndexMap<String, Value>) -> Result<Args, ArgsError> {
        let given: Vec<(&String, &Value)> = raw.iter().filter(|(_, v)| !v.is_undefined()).collect();
        self.check_names(given.iter().map(|(k, _)| k.as_str()))?;
        let mut values = IndexMap::new();
        for (key, value) in given {
            if key == RAW_PARAMS {
                values.insert(RAW_PARAMS, Value::from(value_to_string(value)));
                continue;
            }
            let Some(def) = self.arg(key) else { continue };
            if value.is_none() {
                continue;
            }
            let converted = convert(def, value)?;
            values.insert(def.name, converted);
        }
        Ok(Args { values })
    }
}

fn value_to_string(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    }
}

fn type_name(v: &Value) -> String {
    match v.kind() {
        ValueKind::Map => "dict".into(),
        ValueKind::Seq => "list".into(),
        ValueKind::Bool => "bool".into(),
        ValueKind::Number if v.as_i64().is_some() => "int".into(),
        ValueKind::Number => "float".into(),
        ValueKind::String => "str".into(),
        ValueKind::None | ValueKind::Undefined => "NoneType".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Ansible's `boolean()` conversion.
pub fn to_bool(v: &Value) -> Option<bool> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim().to_ascii_lowercase();
            match s.as_str() {
                "yes" | "on" | "1" | "true" | "t" | "y" => Some(true),
                "no" | "off" | "0" | "false" | "f" | "n" | "" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

fn convert(def: &ArgDef, v: &Value) -> Result<Value, ArgsError> {
    let err = |expected: &'static str, detail: &str| ArgsError::Type {
        name: def.name.to_string(),
        actual: type_name(v),
        expected,
        detail: detail.to_string(),
    };
    let out = match def.kind {
        ArgKind::Raw => v.clone(),
        ArgKind::Str | ArgKind::Path => match v.kind() {
            ValueKind::String | ValueKind::Number | ValueKind::Bool => {
                Value::from(value_to_string(v))
            }
            _ => return Err(err("str", "a string was expected")),
        },
        ArgKind::Bool => Value::from(
            to_bool(v)
                .ok_or_else(|| err("bool", &format!("the value {v} is not a valid boolean")))?,
        ),
        ArgKind::Int => match v.kind() {
            ValueKind::Number if v.as_i64().is_some() => v.clone(),
            ValueKind::String => {
                let n: i64 = v
                    .as_str()
                    .unwrap_or_default()
                    .trim()
                    .parse()
                    .map_err(|_| err("int", "invalid literal"))?;
                Value::from(n)
            }
            _ => return Err(err("int", "an integer was expected")),
        },
        ArgKind::Float => match v.kind() {
            ValueKind::Number => v.clone(),
            ValueKind::String => {
                let n: f64 = v
                    .as_str()
                    .unwrap_or_default()
                    .trim()
                    .parse()
                    .map_err(|_| err("float", "invalid literal"))?;
                Value::from(n)
            }
            _ => return Err(err("float", "a number was expected")),
        },
        ArgKind::List => match v.kind() {
            ValueKind::Seq => v.clone(),
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                if s.is_empty() {
                    Value::from(Vec::<Value>::new())
                } else {
                    Value::from(
                        s.split(',')
                            .map(|p| Value::from(p.trim()))
                            .collect::<Vec<_>>(),
                    )
                }
            }
            ValueKind::Number | ValueKind::Bool => {
                Value::from(vec![Value::from(value_to_string(v))])
            }
            _ => return Err(err("list", "a list was expected")),
        },
        ArgKind::Dict => match v.kind() {
            ValueKind::Map => v.clone(),
            ValueKind::String => {
                // Ansible accepts `k=v k2=v2` and JSON for dict arguments.
                let s = v.as_str().unwrap_or_default();
                if s.trim_start().starts_with('{') {
                    let parsed: serde_json::Value =
                        serde_json::from_str(s).map_err(|e| err("dict", &e.to_string()))?;
                    Value::from(minijinja::value::Serde(&parsed))
                } else {
                    let kv = parse_kv(s, false).map_err(|e| err("dict", &e))?;
                    Value::from_pairs(kv.into_iter().map(|(k, v)| (k, Value::from(v))))
                }
            }
            _ => return Err(err("dict", "a dictionary was expected")),
        },
        ArgKind::Mode => match v.kind() {
            // An integer mode is the permission bits themselves (YAML 0644 is 420).
            ValueKind::Number => match v.as_i64() {
                Some(n) if (0..=0o7777).contains(&n) => Value::from(format!("0{n:o}")),
                _ => return Err(err("mode", "an integer mode must be between 0 and 07777")),
            },
            ValueKind::String => v.clone(),
            _ => return Err(err("mode", "a mode string or integer was expected")),
        },
    };
    if !def.choices.is_empty() {
        let s = value_to_string(&out);
        if !def.choices.contains(&s.as_str()) {
            return Err(ArgsError::Choice {
                name: def.name.to_string(),
                choices: def.choices.join(", "),
                value: s,
            });
        }
    }
    Ok(out)
}

/// Validated, converted arguments of one module invocation, by canonical name.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: IndexMap<&'static str, Value>,
}

impl Args {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }
    pub fn string(&self, name: &str) -> Option<String> {
        self.str(name).map(str::to_string)
    }
    /// A boolean argument, `default` when not given.
    pub fn bool(&self, name: &str, default: bool) -> bool {
        self.values.get(name).map_or(default, Value::is_true)
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.values.get(name).and_then(Value::as_i64)
    }
    pub fn float(&self, name: &str) -> Option<f64> {
        self.values
            .get(name)
            .and_then(|v| f64::try_from(v.clone()).ok())
    }
    /// A list argument as strings.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.values.get(name).and_then(|v| v.try_iter().ok()) {
            Some(iter) => iter.map(|v| value_to_string(&v)).collect(),
            None => Vec::new(),
        }
    }
    /// The free-form text, for modules with `free_form`.
    pub fn raw_params(&self) -> Option<&str> {
        self.str(RAW_PARAMS)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(k, v)| (*k, v))
    }

    /// The arguments as a module result's `invocation.module_args` shows them: the values of
    /// secret arguments (`no_log` in Ansible's argument specs) replaced, as Ansible does.
    pub fn invocation(&self, spec: &ModuleSpec) -> Value {
        let args = self.values.iter().map(|(k, v)| {
            let secret = spec.arg(k).is_some_and(|a| a.secret);
            let v = if secret && !v.is_none() {
                Value::from("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")
            } else {
                v.clone()
            };
            (Value::from(*k), v)
        });
        Value::from_pairs([(Value::from("module_args"), Value::from_pairs(args))])
    }
}

/// Splits Ansible's `k=v` argument string (`path=/tmp/x state=directory mode="0755"`), honouring
/// quotes and Jinja blocks as Ansible's `split_args` does. With `free_form`, words that are not
/// `k=v` are joined into `_raw_params` (the command line) with their original spacing and
/// newlines, as Ansible's `parse_kv` does with `check_raw`.
pub fn parse_kv(input: &str, free_form: bool) -> Result<IndexMap<String, String>, String> {
    let words = split_words(input)?;
    let mut out = IndexMap::new();
    let mut raw: Vec<String> = Vec::new();
    for word in words {
        // The first `=` not escaped by a backslash (one at the very start does not count).
        let eq = word
            .raw
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !word.raw[..i].ends_with('\\'))
            .map(|(i, _)| i);
        let is_kv = match eq {
            // Quotes inside a templated key (`{{ 'x' + item }}=v`) do not make a quoted word.
            Some(i) if !word.quoted_before_eq || word.raw[..i].contains("{{") => {
                let key = word.raw[..i].trim();
                !key.is_empty()
                    && (key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        || (key.contains("{{") && !free_form))
                    && (!free_form || FREE_FORM_KEYS.contains(&key))
            }
            _ => false,
        };
        match (is_kv, eq) {
            (true, Some(i)) => {
                let value = unquote(decode_escapes(&word.raw[i + 1..]).trim());
                out.insert(word.raw[..i].trim().to_string(), value);
            }
            // Only escaped `=`s: Ansible keeps the word, decoded, with `\=` unescaped.
            (_, None) if free_form && word.raw.contains('=') => {
                raw.push(decode_escapes(&word.raw).replace("\\=", "="))
            }
            _ if free_form => raw.push(word.raw),
            _ => {
                return Err(format!(
                    "this module requires key=value arguments, found '{}'",
                    word.raw.trim()
                ))
            }
        }
    }
    if free_form && !raw.is_empty() {
        out.insert(RAW_PARAMS.to_string(), join_words(&raw));
    }
    Ok(out)
}

/// Joins split words back into a command line: a space between words, none after a word that
/// ends a line (Ansible's `join_args`).
fn join_words(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// The `k=v` words Ansible takes out of a free-form command line.
const FREE_FORM_KEYS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "argv",
    "expand_argument_vars",
];

struct Word {
    /// The word as written (quotes kept; extra spaces and a line's newline attached), for the
    /// command line.
    raw: String,
    /// A quote opened before any `=`: then the word is a quoted string, never `k=v`.
    quoted_before_eq: bool,
}

/// The quote still open after `token`, starting with `open` (a quote preceded by a backslash
/// neither opens nor closes).
fn quote_state(token: &str, mut open: Option<char>) -> Option<char> {
    let mut prev: Option<char> = None;
    for c in token.chars() {
        if (c == '"' || c == '\'') && prev != Some('\\') {
            match open {
                Some(q) if q == c => open = None,
                Some(_) => {}
                None => open = Some(c),
            }
        }
        prev = Some(c);
    }
    open
}

/// Jinja block depth after `token`, by counting its openers and closers.
fn block_depth(token: &str, depth: usize, open: &str, close: &str) -> usize {
    let (o, c) = (token.matches(open).count(), token.matches(close).count());
    if o == c {
        depth
    } else {
        (depth as isize + o as isize - c as isize).max(0) as usize
    }
}

/// Ansible's `split_args`: splits on spaces and newlines, but keeps quoted strings and Jinja
/// blocks (`{{ }}`, `{% %}`, `{# #}`) whole, keeps runs of spaces and line ends attached to the
/// word before them so the text can be joined back as written, and drops a lone `\` outside
/// quotes together with its line end (a line continuation).
fn split_words(input: &str) -> Result<Vec<Word>, String> {
    let mut params: Vec<String> = Vec::new();
    let mut quote: Option<char> = None;
    let (mut print, mut block, mut comment) = (0usize, 0usize, 0usize);
    let lines: Vec<&str> = input.split('\n').collect();
    for (line_no, line) in lines.iter().enumerate() {
        let mut continuation = false;
        for (idx, token) in line.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                match params.last_mut() {
                    Some(p) => p.push(' '),
                    None => params.push(" ".into()),
                }
                continue;
            }
            if token == "\\" && quote.is_none() {
                continuation = true;
                continue;
            }
            let was_quoted = quote.is_some();
            quote = quote_state(token, quote);
            let quoted = quote.is_some();
            let in_jinja = print > 0 || block > 0 || comment > 0;
            let mut appended = false;
            if quoted && !was_quoted && !in_jinja {
                params.push(token.to_string());
                appended = true;
            } else if in_jinja || quoted || was_quoted {
                let last = match params.last_mut() {
                    Some(p) => p,
                    None => {
                        params.push(String::new());
                        params.last_mut().ok_or("empty arguments")?
                    }
                };
                // A token continuing a quote on a new line follows the kept newline directly.
                if idx > 0 {
                    last.push(' ');
                }
                last.push_str(token);
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print, "{{", "}}"),
                (&mut block, "{%", "%}"),
                (&mut comment, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = block_depth(token, *depth, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            let in_jinja = print > 0 || block > 0 || comment > 0;
            if !in_jinja && quote.is_none() && !appended && !token.is_empty() {
                params.push(token.to_string());
            }
        }
        if lines.len() > 1 && line_no != lines.len() - 1 && !continuation {
            match params.last_mut() {
                Some(p) => p.push('\n'),
                None => params.push("\n".into()),
            }
        }
    }
    if quote.is_some() || print > 0 || block > 0 || comment > 0 {
        return Err(format!(
            "failed at splitting arguments, either an unbalanced jinja2 block or quotes: {input}"
        ));
    }
    Ok(params
        .into_iter()
        .map(|raw| {
            let first_quote = raw.find(['"', '\'']);
            let first_eq = raw.find('=');
            let quoted_before_eq = match (first_quote, first_eq) {
                (Some(q), Some(e)) => q < e,
                (Some(_), None) => true,
                _ => false,
            };
            Word {
                raw,
                quoted_before_eq,
            }
        })
        .collect())
}

/// Resolves the backslash escapes Ansible decodes in `k=v` values before unquoting them:
/// `\\`, `\'`, `\"`, `\a \b \f \n \r \t \v`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`. Anything else (an
/// octal `\1`, a regex `\d`) stays as written, so back-references survive the round.
fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let hex = |len: usize| {
            after
                .get(1..=len)
                .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        let (decoded, used) = match after.chars().next() {
            Some(c @ ('\\' | '\'' | '"')) => (Some(c), 1),
            Some('a') => (Some('\u{7}'), 1),
            Some('b') => (Some('\u{8}'), 1),
            Some('f') => (Some('\u{c}'), 1),
            Some('n') => (Some('\n'), 1),
            Some('r') => (Some('\r'), 1),
            Some('t') => (Some('\t'), 1),
            Some('v') => (Some('\u{b}'), 1),
            Some('x') => (hex(2), 3),
            Some('u') => (hex(4), 5),
            Some('U') => (hex(8), 9),
            _ => (None, 0),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes one level of matching outer quotes (not when the closing one is escaped).
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2
        && (b[0] == b'"' || b[0] == b'\'')
        && b[b.len() - 1] == b[0]
        && b[b.len() - 2] != b'\\'
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, free_form: bool, expected: &[(&str, &str)]) {
        let got = parse_kv(input, free_form).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, expected, "input: {input}");
    }

    #[test]
    fn kv_values_decode_python_escapes() {
        // As Ansible: `\b` is a backspace in k=v form, `\\b` a regex word boundary, and a
        // back-reference `\1` is left alone.
        check(
            r#"regexp='\b(.+)\b' replace='"\1"'"#,
            false,
            &[("regexp", "\u{8}(.+)\u{8}"), ("replace", "\"\\1\"")],
        );
        check(
            r"regexp='\\b(.+)\\b' line=a\tb\x41\u00e9\d",
            false,
            &[("regexp", r"\b(.+)\b"), ("line", "a\tbA\u{e9}\\d")],
        );
        // Words of a free-form command line stay as written.
        check(
            r"echo a\tb chdir=/t\x41",
            true,
            &[("chdir", "/tA"), ("_raw_params", r"echo a\tb")],
        );
    }

    #[test]
    fn kv_strings() {
        check(
            "path=/tmp/x state=directory",
            false,
            &[("path", "/tmp/x"), ("state", "directory")],
        );
        check(
            "dest=/a content='a b c'",
            false,
            &[("dest", "/a"), ("content", "a b c")],
        );
        check(r#"msg="say \"hi\"""#, false, &[("msg", r#"say "hi""#)]);
        check(
            "msg={{ a | default('x y') }} b=1",
            false,
            &[("msg", "{{ a | default('x y') }}"), ("b", "1")],
        );
        check(
            "echo a=b chdir=/tmp creates=/x",
            true,
            &[
                ("chdir", "/tmp"),
                ("creates", "/x"),
                ("_raw_params", "echo a=b"),
            ],
        );
        check(
            "echo 'hello world'  x",
            true,
            &[("_raw_params", "echo 'hello world'  x")],
        );
        check("", false, &[]);
    }

    #[test]
    fn free_form_keeps_lines_and_spacing() {
        // As Ansible's split_args/join_args: newlines and runs of spaces survive, a lone `\`
        // continues the line, quotes may span lines, k=v lines are taken out.
        check(
            "echo a \\\n\"b c\" \\\n\"d\ne\" \\\n| cat\necho   x\n",
            true,
            &[("_raw_params", "echo a \"b c\" \"d\ne\" | cat\necho   x\n")],
        );
        check(
            "executable=\"{{ sh }}\"\ncreates={{ d }}/f.txt\necho \"test\"\n",
            true,
            &[
                ("executable", "{{ sh }}"),
                ("creates", "{{ d }}/f.txt"),
                ("_raw_params", "echo \"test\"\n"),
            ],
        );
        check(
            "cat <<EOF\nOne\n  Two\nEOF\n",
            true,
            &[("_raw_params", "cat <<EOF\nOne\n  Two\nEOF\n")],
        );
        // Tabs do not separate words; an escaped `=` is no separator.
        check("a=1\tb", false, &[("a", "1\tb")]);
        check("echo a\\=b", true, &[("_raw_params", "echo a=b")]);
        check("msg={{ x }}  y=2", false, &[("msg", "{{ x }}"), ("y", "2")]);
    }

    #[test]
    fn kv_errors() {
        assert!(parse_kv("path=/x oops", false).is_err());
        assert!(parse_kv("msg='unterminated", false).is_err());
    }

    #[test]
    fn kv_templated_key_with_quotes() {
        let kv = parse_kv("{{ 'x' + item }}={{ item }}", false).unwrap();
        assert_eq!(
            kv.get("{{ 'x' + item }}").map(String::as_str),
            Some("{{ item }}")
        );
    }

    static SPEC: ModuleSpec = ModuleSpec {
        name: "demo",
        args: &[
            ArgDef::new("path", ArgKind::Path)
                .required()
                .aliases(&["dest", "name"]),
            ArgDef::new("force", ArgKind::Bool),
            ArgDef::new("mode", ArgKind::Mode),
            ArgDef::new("state", ArgKind::Str).choices(&["file", "absent"]),
            ArgDef::new("items", ArgKind::List),
            ArgDef::new("content", ArgKind::Str),
            ArgDef::new("src", ArgKind::Path),
        ],
        free_form: false,
        mutually_exclusive: &[&["content", "src"]],
        required_one_of: &[],
        check_mode: true,
    };

    fn args(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn validate_converts() {
        let a = SPEC
            .validate(&args(&[
                ("dest", Value::from("/x")),
                ("force", Value::from("yes")),
                ("mode", Value::from(0o644)),
                ("items", Value::from("a, b")),
            ]))
            .unwrap();
        assert_eq!(a.str("path"), Some("/x"));
        assert!(a.bool("force", false));
        assert_eq!(a.str("mode"), Some("0644"));
        assert_eq!(a.list("items"), vec!["a", "b"]);
    }

    #[test]
    fn validate_rejects() {
        let e = SPEC.validate(&args(&[
            ("path", Value::from("/x")),
            ("bogus", Value::from(1)),
        ]));
        assert!(matches!(e, Err(ArgsError::Unknown { .. })), "{e:?}");
        let e = SPEC.validate(&args(&[("force", Value::from(true))]));
        assert!(matches!(e, Err(ArgsError::Missing { .. })), "{e:?}");
        let e = SPEC.validate(&args(&[
            ("path", Value::from("/x")),
            ("force", Value::from("maybe")),
        ]));
        assert!(matches!(e, Err(ArgsError::Type { .. })), "{e:?}");
        let e = SPEC.validate(&args(&[
            ("path", Value::from("/x")),
            ("state", Value::from("gone")),
        ]));
        assert!(matches!(e, Err(ArgsError::Choice { .. })), "{e:?}");
        let e = SPEC.validate(&args(&[
            ("path", Value::from("/x")),
            ("content", Value::from("a")),
            ("src", Value::from("b")),
        ]));
        assert!(matches!(e, Err(ArgsError::Exclusive { .. })), "{e:?}");
    }

    #[test]
    fn omitted_values_do_not_count() {
        let a = SPEC
            .validate(&args(&[
                ("path", Value::from("/x")),
                ("mode", Value::UNDEFINED),
            ]))
            .unwrap();
        assert!(!a.has("mode"));
    }
}

//! The `ini` lookup, reading files as Python's `configparser` does (Ansible's plugin is built on
//! it): sections with a shared `DEFAULT`, `=` or `:` delimiters, indented continuation lines,
//! full-line `#`/`;` comments, keys folded to lower case unless `case_sensitive`, strict
//! duplicate checks, `allow_no_value`, and `%(name)s` interpolation.

use indexmap::IndexMap;
use minijinja::Value;

use crate::lookups::{lookup_error, read_lookup_file, LookupCall};
use crate::pyrepr::py_str;
use crate::TemplateError;

/// One option's value: `None` for a key without one (`allow_no_value`), else its lines.
type Entry = Option<Vec<String>>;

#[derive(Default)]
struct Config {
    defaults: IndexMap<String, Entry>,
    sections: IndexMap<String, IndexMap<String, Entry>>,
}

/// What goes wrong reading or querying a file, worded as `configparser` words it.
#[derive(Debug)]
enum IniError {
    DuplicateOption(String),
    Other(String),
}

fn parse(
    text: &str,
    source: &str,
    case_sensitive: bool,
    allow_no_value: bool,
) -> Result<Config, IniError> {
    let mut cfg = Config::default();
    // (section, option) already read: configparser is strict about repeats.
    let mut seen_sections: Vec<String> = Vec::new();
    let mut cur: Option<String> = None;
    let mut opt: Option<String> = None;
    let mut indent_level = 0usize;
    let mut errors: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let stripped = line.trim();
        let comment = stripped.starts_with('#') || stripped.starts_with(';');
        let value = if comment { "" } else { stripped };
        if value.is_empty() {
            // An empty line inside a multi-line value is part of it; a comment is not.
            if !comment {
                if let (Some(s), Some(o)) = (&cur, &opt) {
                    if let Some(Some(lines)) = entry_mut(&mut cfg, s, o) {
                        lines.push(String::new());
                    }
                }
            } else {
                indent_level = usize::MAX;
            }
            continue;
        }
        let cur_indent = line.len() - line.trim_start().len();
        if let (Some(s), Some(o)) = (&cur, &opt) {
            if cur_indent > indent_level {
                if let Some(Some(lines)) = entry_mut(&mut cfg, s, o) {
                    lines.push(value.to_string());
                    continue;
                }
            }
        }
        indent_level = cur_indent;
        if let Some(header) = value
            .strip_prefix('[')
            .and_then(|v| v.rfind(']').map(|e| &v[..e]))
        {
            if header.is_empty() {
                errors.push(format!("\t[line {lineno:2}]: {line:?}"));
                continue;
            }
            if header == "DEFAULT" {
                cur = Some(header.to_string());
            } else {
                if seen_sections.iter().any(|s| s == header) {
                    return Err(IniError::Other(format!(
                        "While reading from {source:?} [line {lineno:2}]: section {header:?} already exists"
                    )));
                }
                seen_sections.push(header.to_string());
                cfg.sections.entry(header.to_string()).or_default();
                cur = Some(header.to_string());
            }
            opt = None;
            continue;
        }
        let Some(section) = cur.clone() else {
            return Err(IniError::Other(format!(
                "File contains no section headers.\nfile: {source:?}, line: {lineno}\n{line:?}"
            )));
        };
        let split = value.find(['=', ':']);
        let (name, val) = match split {
            Some(at) => (
                value[..at].trim_end(),
                Some(value[at + 1..].trim().to_string()),
            ),
            None if allow_no_value => (value, None),
            None => {
                errors.push(format!("\t[line {lineno:2}]: {line:?}"));
                continue;
            }
        };
        if name.is_empty() {
            errors.push(format!("\t[line {lineno:2}]: {line:?}"));
            continue;
        }
        let name = if case_sensitive {
            name.to_string()
        } else {
            name.to_lowercase()
        };
        let options = if section == "DEFAULT" {
            &mut cfg.defaults
        } else {
            cfg.sections.entry(section.clone()).or_default()
        };
        if options.contains_key(&name) {
            return Err(IniError::DuplicateOption(format!(
                "While reading from {source:?} [line {lineno:2}]: option {name:?} in section {section:?} already exists"
            )));
        }
        options.insert(name.clone(), val.map(|v| vec![v]));
        opt = Some(name);
    }
    if !errors.is_empty() {
        return Err(IniError::Other(format!(
            "Source contains parsing errors: {source:?}\n{}",
            errors.join("\n")
        )));
    }
    Ok(cfg)
}

fn entry_mut<'a>(cfg: &'a mut Config, section: &str, opt: &str) -> Option<&'a mut Entry> {
    if section == "DEFAULT" {
        cfg.defaults.get_mut(opt)
    } else {
        cfg.sections.get_mut(section)?.get_mut(opt)
    }
}

/// A multi-line value as configparser joins it (trailing empty lines dropped).
fn joined(lines: &[String]) -> String {
    let mut end = lines.len();
    while end > 0 && lines[end - 1].is_empty() {
        end -= 1;
    }
    lines[..end].join("\n")
}

impl Config {
    /// The section's options over the defaults, in configparser's order.
    fn items(&self, section: &str) -> Result<IndexMap<String, Entry>, IniError> {
        let mut all = self.defaults.clone();
        if section != "DEFAULT" {
            let own = self
                .sections
                .get(section)
                .ok_or_else(|| IniError::Other(format!("No section: {section:?}")))?;
            for (k, v) in own {
                all.insert(k.clone(), v.clone());
            }
        }
        Ok(all)
    }

    /// `%(name)s` from the same section (or the defaults), `%%` as `%`, as BasicInterpolation.
    fn interpolate(
        &self,
        items: &IndexMap<String, Entry>,
        section: &str,
        option: &str,
        value: &str,
        depth: usize,
    ) -> Result<String, IniError> {
        if depth > 10 {
            return Err(IniError::Other(format!(
                "Recursion limit exceeded in value substitution: option {option:?} in section {section:?} contains an interpolation key which cannot be substituted in 10 steps. Raw value: {value:?}"
            )));
        }
        let mut out = String::new();
        let mut rest = value;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if let Some(inner) = after.strip_prefix('(') {
                let close = inner.find(")s").ok_or_else(|| {
                    IniError::Other(format!("bad interpolation variable reference {rest:?}"))
                })?;
                let name = inner[..close].to_lowercase();
                let Some(Some(lines)) = items.get(&name) else {
                    return Err(IniError::Other(format!(
                        "Bad value substitution: option {option:?} in section {section:?} contains an interpolation key {name:?} which is not a valid option name. Raw value: {value:?}"
                    )));
                };
                out.push_str(&self.interpolate(
                    items,
                    section,
                    &name,
                    &joined(lines),
                    depth + 1,
                )?);
                rest = &inner[close + 2..];
            } else {
                return Err(IniError::Other(format!(
                    "'%' must be followed by '%' or '(', found: {:?}",
                    &rest[at..]
                )));
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The lookup's options, and the key, from a term such as `key section=s file=f`: words with
/// `option=` start that option (later words without one extend it), other words extend the key.
fn parse_term(term: &str) -> Result<(String, Vec<(String, String)>), String> {
    const OPTIONS: &[&str] = &[
        "type",
        "file",
        "section",
        "re",
        "encoding",
        "default",
        "case_sensitive",
        "allow_no_value",
        "allow_none",
        "interpolation",
    ];
    let mut params: Vec<(String, String)> = Vec::new();
    let mut current = "key".to_string();
    for (i, word) in term.split_whitespace().enumerate() {
        if word.contains('=') {
            if let Some(k) = OPTIONS.iter().find(|k| word.contains(&format!("{k}="))) {
                current = (*k).to_string();
            }
        }
        match params.iter_mut().find(|(k, _)| *k == current) {
            Some((_, v)) if i != 0 && !v.is_empty() => {
                v.push(' ');
                v.push_str(word);
            }
            _ => params.push((current.clone(), word.to_string())),
        }
    }
    let mut key = None;
    let mut options = Vec::new();
    for (_, param) in params {
        match param.split_once('=') {
            Some((name, value)) => {
                if !OPTIONS.contains(&name) {
                    return Err(format!("{name} is not a valid option."));
                }
                options.push((name.to_string(), value.to_string()));
            }
            None if key.is_none() => key = Some(param),
            None => {}
        }
        if !options.is_empty() && key.is_none() {
            return Err(format!(
                "No key to look up was provided as first term within string inline options: {term}"
            ));
        }
    }
    Ok((key.unwrap_or_default(), options))
}

fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "1" | "y" | "t"
    )
}

pub(crate) fn ini_lookup(c: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    let fail = |msg: String| lookup_error("ini", msg);
    let mut out = Vec::new();
    for t in &c.terms {
        let (key, inline) = parse_term(&py_str(t)).map_err(fail)?;
        let mut opts: IndexMap<String, String> = IndexMap::new();
        for (k, v) in &c.kwargs {
            opts.insert(k.clone(), py_str(v));
        }
        for (k, v) in inline {
            opts.insert(k, v);
        }
        if let Some(bad) = opts.keys().find(|k| {
            !matches!(
                k.as_str(),
                "type"
                    | "file"
                    | "section"
                    | "re"
                    | "encoding"
                    | "default"
                    | "case_sensitive"
                    | "allow_no_value"
                    | "allow_none"
                    | "interpolation"
            )
        }) {
            return Err(fail(format!("{bad} is not a valid option.")));
        }
        let get = |k: &str| opts.get(k).map(String::as_str);
        let file = get("file").unwrap_or("ansible.ini");
        let properties = get("type") == Some("properties");
        let mut section = get("section").unwrap_or("global").to_string();
        let case_sensitive = get("case_sensitive").is_some_and(truthy);
        let allow_no_value = get("allow_no_value")
            .or(get("allow_none"))
            .is_some_and(truthy);
        let interpolation = get("interpolation").is_none_or(truthy);
        let mut text = read_lookup_file(c, file, get("encoding"))?;
        if properties {
            text = format!("[java_properties]\n{text}");
            section = "java_properties".into();
        }
        let cfg = match parse(&text, "<string>", case_sensitive, allow_no_value) {
            Ok(cfg) => cfg,
            Err(IniError::DuplicateOption(e)) => {
                return Err(fail(format!("Duplicate option in '{file}': {e}")))
            }
            Err(IniError::Other(e)) => return Err(fail(e)),
        };
        let items = cfg.items(&section).map_err(|e| match e {
            IniError::DuplicateOption(m) | IniError::Other(m) => fail(m),
        })?;
        let value_of = |name: &str, lines: &[String]| -> Result<String, TemplateError> {
            let raw = joined(lines);
            if interpolation {
                cfg.interpolate(&items, &section, name, &raw, 1)
                    .map_err(|e| match e {
                        IniError::DuplicateOption(m) | IniError::Other(m) => fail(m),
                    })
            } else {
                Ok(raw)
            }
        };
        let key_name = if case_sensitive {
            key.clone()
        } else {
            key.to_lowercase()
        };
        if get("re").is_some_and(truthy) {
            let re = drover_pyre::compile(&format!(r"\A(?:{key})"), drover_pyre::Flags::NONE)
                .map_err(|e| fail(e.to_string()))?;
            for (name, entry) in &items {
                if re.is_match(name).map_err(|e| fail(e.to_string()))? {
                    if let Some(lines) = entry {
                        out.push(Value::from(value_of(name, lines)?));
                    }
                }
            }
            continue;
        }
        match items.get(&key_name) {
            Some(Some(lines)) => out.push(Value::from(value_of(&key_name, lines)?)),
            // A key without a value gives nothing.
            Some(None) => {}
            None => out.push(Value::from(get("default").unwrap_or(""))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        parse(text, "<string>", false, true).unwrap()
    }

    #[test]
    fn sections_defaults_and_continuations() {
        let c = cfg(
            "[DEFAULT]\nbase = /srv\n[app]\nPath: %(base)s/app\nlong = one\n  two\n\n  three\n",
        );
        let items = c.items("app").unwrap();
        let path = joined(items["path"].as_ref().unwrap());
        assert_eq!(
            c.interpolate(&items, "app", "path", &path, 1).unwrap(),
            "/srv/app"
        );
        assert_eq!(joined(items["long"].as_ref().unwrap()), "one\ntwo\n\nthree");
        assert!(matches!(c.items("nope"), Err(IniError::Other(m)) if m == "No section: \"nope\""));
    }

    #[test]
    fn strictness() {
        assert!(matches!(
            parse("[s]\nname = a\nNAME = b\n", "f", false, false),
            Err(IniError::DuplicateOption(_))
        ));
        assert!(parse("[s]\nname = a\nNAME = b\n", "f", true, false).is_ok());
        assert!(matches!(
            parse("[s]\nflag\n", "f", false, false),
            Err(IniError::Other(m)) if m.starts_with("Source contains parsing errors")
        ));
        assert!(matches!(
            parse("key = v\n", "f", false, false),
            Err(IniError::Other(m)) if m.starts_with("File contains no section headers")
        ));
    }

    #[test]
    fn terms() {
        assert_eq!(
            parse_term("field.with.space  type=properties  file=lookup.properties").unwrap(),
            (
                "field.with.space".to_string(),
                vec![
                    ("type".to_string(), "properties".to_string()),
                    ("file".to_string(), "lookup.properties".to_string())
                ]
            )
        );
        assert!(parse_term("file=lookup.ini")
            .unwrap_err()
            .starts_with("No key to look up"));
        assert_eq!(
            parse_term("invalid=option").unwrap_err(),
            "invalid is not a valid option."
        );
        let c = cfg("[s]\nx = 50%%\ny = %u\n");
        let items = c.items("s").unwrap();
        assert_eq!(c.interpolate(&items, "s", "x", "50%%", 1).unwrap(), "50%");
        assert!(c.interpolate(&items, "s", "y", "%u", 1).is_err());
    }
}

//! `setup`: gathers facts in one round trip.

use globset::{Glob, GlobSetBuilder};
use serde_json::{json, Map, Value as Json};

use drover_host::{FileKind, StatOptions};

use crate::util::to_value;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Setup;

static SPEC: ModuleSpec = ModuleSpec {
    name: "setup",
    args: &[
        ArgDef::new("gather_subset", ArgKind::List),
        ArgDef::new("gather_timeout", ArgKind::Int),
        ArgDef::new("filter", ArgKind::List),
        ArgDef::new("fact_path", ArgKind::Path),
        // `gather_facts`'s own option: drover gathers in one round trip either way.
        ArgDef::new("parallel", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Prefixes fact names with `ansible_` and keeps those matching one of `filters` (shell globs,
/// matched against the prefixed name or the bare one; no filters keep everything).
pub(crate) fn shape_facts(
    facts: Map<String, Json>,
    filters: &[String],
) -> Result<Map<String, Json>, String> {
    let mut b = GlobSetBuilder::new();
    for f in filters.iter().filter(|f| !f.is_empty()) {
        b.add(Glob::new(f).map_err(|e| format!("invalid filter {f:?}: {e}"))?);
    }
    let set = b.build().map_err(|e| e.to_string())?;
    let keep_all = set.is_empty();
    Ok(facts
        .into_iter()
        .map(|(k, v)| {
            let name = if k.starts_with("ansible_") {
                k
            } else {
                format!("ansible_{k}")
            };
            (name, v)
        })
        .filter(|(k, _)| {
            keep_all || set.is_match(k) || set.is_match(k.trim_start_matches("ansible_"))
        })
        .collect())
}

#[async_trait::async_trait]
impl Module for Setup {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let facts = ctx.host.facts().await?;
        let mut shaped =
            shape_facts(facts, &args.list("filter")).map_err(ModuleError::Controller)?;
        let mut subset = args.list("gather_subset");
        if subset.is_empty() {
            subset.push("all".into());
        }
        // The module runs in the task's environment, so its `env` fact shows it (Ansible's
        // setup is a process started with that environment).
        if !ctx.env.is_empty() {
            if let Some(Json::Object(env)) = shaped.get_mut("ansible_env") {
                for (k, v) in &ctx.env {
                    env.insert(k.clone(), json!(v));
                }
            }
        }
        shaped.insert("gather_subset".into(), json!(subset));
        shaped.insert("module_setup".into(), json!(true));
        let fact_path = args.str("fact_path").unwrap_or(DEFAULT_FACT_PATH);
        let mut warnings = Vec::new();
        let local = local_facts(ctx, fact_path, &mut warnings).await?;
        let filters = args.list("filter");
        if shape_facts(Map::from_iter([("local".to_string(), json!(1))]), &filters)
            .is_ok_and(|m| !m.is_empty())
        {
            shaped.insert("ansible_local".into(), local);
        }
        let mut out = Outcome::ok().with("ansible_facts", to_value(&Json::Object(shaped)));
        out.warnings = warnings;
        Ok(out)
    }
}

/// Where local facts live unless `fact_path` says otherwise.
const DEFAULT_FACT_PATH: &str = "/etc/ansible/facts.d";

/// Local facts (`ansible_local`): every `*.fact` file in `dir`, by name without the extension.
/// A file whose owner may execute it is run and its output read; content is JSON or INI (as
/// Python's configparser reads it); every problem becomes the fact's value as an error string
/// and a warning, as in Ansible, so one bad file never fails the gathering.
async fn local_facts(
    ctx: &Context<'_>,
    dir: &str,
    warnings: &mut Vec<String>,
) -> Result<Json, ModuleError> {
    let mut entries = match ctx.host.list_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(json!({})),
        Err(e) => return Err(e.into()),
    };
    entries.retain(|e| e.name.ends_with(".fact"));
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let paths: Vec<String> = entries
        .iter()
        .map(|e| format!("{}/{}", dir.trim_end_matches('/'), e.name))
        .collect();
    // Ansible stats through links; only links need the extra round trip.
    let linked: Vec<String> = entries
        .iter()
        .zip(&paths)
        .filter(|(e, _)| e.stat.kind == Some(FileKind::Symlink))
        .map(|(_, p)| p.clone())
        .collect();
    let mut followed = if linked.is_empty() {
        Vec::new()
    } else {
        ctx.host
            .stat_many(
                &linked,
                StatOptions {
                    follow: true,
                    checksum: false,
                },
            )
            .await?
    }
    .into_iter();
    let mut out = Map::new();
    for (entry, path) in entries.iter().zip(paths) {
        let Some(key) = entry.name.strip_suffix(".fact") else {
            continue;
        };
        let stat = if entry.stat.kind == Some(FileKind::Symlink) {
            followed.next().unwrap_or_default()
        } else {
            entry.stat.clone()
        };
        let mut fail = |msg: String| {
            warnings.push(msg.clone());
            out.insert(key.to_string(), json!(msg));
        };
        if !stat.exists {
            fail(format!(
                "Could not stat fact ({path}): [Errno 2] No such file or directory: '{path}'"
            ));
            continue;
        }
        let text = if stat.mode & 0o100 != 0 {
            match ctx
                .host
                .exec(&drover_host::ExecRequest::argv([path.clone()]))
                .await
            {
                Ok(run) if run.rc == 0 => String::from_utf8_lossy(&run.stdout).into_owned(),
                Ok(run) => {
                    fail(format!(
                        "Failure executing fact script ({path}), rc: {}, err: {}",
                        run.rc,
                        String::from_utf8_lossy(&run.stderr)
                    ));
                    continue;
                }
                Err(e @ drover_host::HostError::Unreachable(_)) => return Err(e.into()),
                Err(e) => {
                    fail(format!("Could not execute fact script ({path}): {e}"));
                    continue;
                }
            }
        } else {
            // Ansible reads an unreadable file as empty content.
            match ctx.host.read(&path).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e @ drover_host::HostError::Unreachable(_)) => return Err(e.into()),
                Err(_) => String::new(),
            }
        };
        if let Ok(value) = serde_json::from_str::<Json>(&text) {
            out.insert(key.to_string(), value);
            continue;
        }
        match parse_ini(&text) {
            Ok(value) => {
                out.insert(key.to_string(), value);
            }
            Err(IniError::Parse) => fail(format!(
                "error loading facts as JSON or ini - please check content: {path}"
            )),
            Err(IniError::Value(why)) => fail(format!(
                "error loading facts as ini - please check content: {path} ({why})"
            )),
        }
    }
    Ok(Json::Object(out))
}

/// Why INI content was refused: unparsable as a whole, or one value failed interpolation.
#[derive(Debug, PartialEq)]
enum IniError {
    Parse,
    Value(String),
}

/// INI as Python's `configparser.ConfigParser` reads it: `{section: {key: value}}`, values as
/// strings; keys lower-cased; `DEFAULT` options inherited by every section; indented lines
/// continue a value; duplicate sections or keys, a key outside any section and a line that is
/// neither are errors; `%%` and `%(name)s` interpolated.
fn parse_ini(text: &str) -> Result<Json, IniError> {
    type Section = indexmap::IndexMap<String, String>;
    let mut defaults = Section::new();
    let mut sections: indexmap::IndexMap<String, Section> = indexmap::IndexMap::new();
    // The section being filled (None for DEFAULT), the key whose value may continue, and that
    // key line's indentation.
    let mut current: Option<Option<String>> = None;
    let mut last_key: Option<(String, usize)> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let (Some((key, key_indent)), Some(section)) = (&last_key, &current) {
            if indent > *key_indent {
                let map = match section {
                    None => &mut defaults,
                    Some(name) => sections.get_mut(name).ok_or(IniError::Parse)?,
                };
                if let Some(v) = map.get_mut(key) {
                    v.push('\n');
                    v.push_str(trimmed);
                }
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            if let Some(end) = rest.rfind(']').filter(|&e| e > 0) {
                let name = &rest[..end];
                last_key = None;
                if name == "DEFAULT" {
                    current = Some(None);
                } else {
                    if sections.contains_key(name) {
                        return Err(IniError::Parse);
                    }
                    sections.insert(name.to_string(), Section::new());
                    current = Some(Some(name.to_string()));
                }
                continue;
            }
        }
        let Some(section) = &current else {
            return Err(IniError::Parse);
        };
        let pos = trimmed.find(['=', ':']).ok_or(IniError::Parse)?;
        let key = trimmed[..pos].trim_end().to_lowercase();
        if key.is_empty() {
            return Err(IniError::Parse);
        }
        let value = trimmed[pos + 1..].trim().to_string();
        let map = match section {
            None => &mut defaults,
            Some(name) => sections.get_mut(name).ok_or(IniError::Parse)?,
        };
        if map.contains_key(&key) {
            return Err(IniError::Parse);
        }
        map.insert(key.clone(), value);
        last_key = Some((key, indent));
    }
    let mut out = Map::new();
    for (name, own) in &sections {
        let lookup = |k: &str| own.get(k).or_else(|| defaults.get(k));
        let mut values = Map::new();
        let keys = own
            .keys()
            .chain(defaults.keys().filter(|k| !own.contains_key(*k)));
        for key in keys {
            let raw = lookup(key).cloned().unwrap_or_default();
            let v = interpolate(&raw, name, key, &lookup, 1)?;
            values.insert(key.clone(), json!(v));
        }
        out.insert(name.clone(), Json::Object(values));
    }
    Ok(Json::Object(out))
}

/// configparser's `BasicInterpolation`: `%%` is a literal `%`, `%(name)s` the value of `name`
/// in the same section (or DEFAULT), itself interpolated, at most 10 levels deep.
fn interpolate<'a>(
    raw: &str,
    section: &str,
    option: &str,
    lookup: &dyn Fn(&str) -> Option<&'a String>,
    depth: usize,
) -> Result<String, IniError> {
    if depth > 10 {
        return Err(IniError::Value(format!(
            "Recursion limit exceeded in value substitution: option '{option}' in section \
             '{section}' contains an interpolation key which cannot be substituted in 10 steps. \
             Raw value: '{raw}'"
        )));
    }
    let mut out = String::new();
    let mut rest = raw;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            let close = inner.find(")s").ok_or_else(|| {
                IniError::Value(format!("bad interpolation variable reference '{rest}'"))
            })?;
            let name = inner[..close].to_lowercase();
            let value = lookup(&name).ok_or_else(|| {
                IniError::Value(format!(
                    "Bad value substitution: option '{option}' in section '{section}' contains \
                     an interpolation key '{name}' which is not a valid option name. Raw value: \
                     '{raw}'"
                ))
            })?;
            out.push_str(&interpolate(value, section, option, lookup, depth + 1)?);
            rest = &inner[close + 2..];
        } else {
            return Err(IniError::Value(format!(
                "'%' must be followed by '%' or '(', found: '{rest}'"
            )));
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_local_facts() {
        assert_eq!(
            parse_ini("[general]\nasdf = 1\nbar: baz\n# c\n[other]\n"),
            Ok(json!({"general": {"asdf": "1", "bar": "baz"}, "other": {}}))
        );
        assert_eq!(parse_ini("not ini at all"), Err(IniError::Parse));
        assert_eq!(parse_ini("k=v\n"), Err(IniError::Parse));
        assert_eq!(parse_ini(""), Ok(json!({})));
        assert_eq!(parse_ini("[a]\nk=1\n[a]\n"), Err(IniError::Parse));
        assert_eq!(parse_ini("[a]\nk=1\nK=2\n"), Err(IniError::Parse));
        assert_eq!(
            parse_ini(
                "[DEFAULT]\nbase = /srv\n[app]\nPath = %(base)s/app\npct = 50%%\nlong = a\n  b\n"
            ),
            Ok(json!({"app": {"path": "/srv/app", "pct": "50%", "long": "a\nb", "base": "/srv"}}))
        );
        assert!(matches!(
            parse_ini("[bad fact]\nvalue = this is a % bad % fact\n"),
            Err(IniError::Value(m)) if m.contains("'%' must be followed by '%' or '('")
        ));
        assert!(matches!(
            parse_ini("[a]\nk = %(nope)s\n"),
            Err(IniError::Value(_))
        ));
    }

    #[test]
    fn prefixes_and_filters() {
        let facts: Map<String, Json> = serde_json::from_value(json!({
            "hostname": "web1", "distribution": "Debian", "eth0": {"mtu": 1500}, "ansible_x": 1
        }))
        .unwrap();
        let all = shape_facts(facts.clone(), &[]).unwrap();
        let keys: Vec<&str> = all.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "ansible_hostname",
                "ansible_distribution",
                "ansible_eth0",
                "ansible_x"
            ]
        );
        let some = shape_facts(facts.clone(), &["ansible_eth*".into(), "hostname".into()]).unwrap();
        let keys: Vec<&str> = some.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ansible_hostname", "ansible_eth0"]);
        assert!(shape_facts(facts, &["[".into()]).is_err());
    }
}

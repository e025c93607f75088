//! `setup`: gathers facts in one round trip.

use globset::{Glob, GlobSetBuilder};
use serde_json::{json, Map, Value as Json};

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
        shaped.insert("gather_subset".into(), json!(subset));
        shaped.insert("module_setup".into(), json!(true));
        let fact_path = args.str("fact_path").unwrap_or(DEFAULT_FACT_PATH);
        let local = local_facts(ctx, fact_path).await?;
        let filters = args.list("filter");
        if shape_facts(Map::from_iter([("local".to_string(), json!(1))]), &filters)
            .is_ok_and(|m| !m.is_empty())
        {
            shaped.insert("ansible_local".into(), local);
        }
        Ok(Outcome::ok().with("ansible_facts", to_value(&Json::Object(shaped))))
    }
}

/// Where local facts live unless `fact_path` says otherwise.
const DEFAULT_FACT_PATH: &str = "/etc/ansible/facts.d";

/// Local facts (`ansible_local`): every `*.fact` file in `dir`, by name without the extension.
/// An executable file is run and its output read; content is JSON or INI (sections of
/// `key = value`); content that is neither becomes an error string, as in Ansible.
async fn local_facts(ctx: &Context<'_>, dir: &str) -> Result<Json, ModuleError> {
    let mut entries = match ctx.host.list_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(json!({})),
        Err(e) => return Err(e.into()),
    };
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Map::new();
    for entry in entries {
        let Some(key) = entry.name.strip_suffix(".fact") else {
            continue;
        };
        let path = format!("{}/{}", dir.trim_end_matches('/'), entry.name);
        let text = if entry.stat.mode & 0o111 != 0 {
            let run = ctx
                .host
                .exec(&drover_host::ExecRequest::argv([path.clone()]))
                .await?;
            if run.rc != 0 {
                out.insert(
                    key.to_string(),
                    json!(format!(
                        "Failure executing fact script ({path}), rc: {}, err: {}",
                        run.rc,
                        String::from_utf8_lossy(&run.stderr).trim()
                    )),
                );
                continue;
            }
            String::from_utf8_lossy(&run.stdout).into_owned()
        } else {
            String::from_utf8_lossy(&ctx.host.read(&path).await?).into_owned()
        };
        let value = serde_json::from_str::<Json>(&text)
            .ok()
            .or_else(|| parse_ini(&text))
            .unwrap_or_else(|| {
                json!(format!(
                    "error loading facts as JSON or ini - please check content: {path}"
                ))
            });
        out.insert(key.to_string(), value);
    }
    Ok(Json::Object(out))
}

/// INI as Python's configparser reads it: `{section: {key: value}}`, values as strings.
fn parse_ini(text: &str) -> Option<Json> {
    let mut sections = Map::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            sections
                .entry(name.trim().to_string())
                .or_insert_with(|| json!({}));
            continue;
        }
        let section = current.as_ref()?;
        let pos = line.find(['=', ':'])?;
        let (k, v) = (
            line[..pos].trim().to_ascii_lowercase(),
            line[pos + 1..].trim(),
        );
        if let Some(Json::Object(m)) = sections.get_mut(section) {
            m.insert(k, json!(v));
        }
    }
    (!sections.is_empty()).then_some(Json::Object(sections))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_local_facts() {
        assert_eq!(
            parse_ini("[general]\nasdf = 1\nbar: baz\n# c\n[other]\n"),
            Some(json!({"general": {"asdf": "1", "bar": "baz"}, "other": {}}))
        );
        assert_eq!(parse_ini("not ini at all"), None);
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

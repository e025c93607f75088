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
        Ok(Outcome::ok().with("ansible_facts", to_value(&Json::Object(shaped))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

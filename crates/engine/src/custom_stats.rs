//! `set_stats`: custom statistics, per host or for the whole run, shown after the recap (under
//! `show_custom_stats`) and carried by the JSON output.

use std::collections::BTreeMap;
use std::sync::Mutex;

use indexmap::IndexMap;
use minijinja::value::{Value, ValueKind};

use crate::event::Event;
use crate::exec::ItemResult;
use crate::state::RunShared;

const VALID: &[&str] = &["aggregate", "data", "per_host"];

/// The stats of a run: per host, and `None` for the run as a whole (Ansible's `_run`).
#[derive(Default)]
pub struct CustomStats {
    stats: Mutex<BTreeMap<Option<String>, IndexMap<String, serde_json::Value>>>,
}

impl CustomStats {
    /// Records one stat as Ansible does: `aggregate` adds numbers, concatenates strings and
    /// lists and merges dicts into what is there (a value of another type is ignored);
    /// otherwise the value replaces it.
    fn record(&self, host: Option<&str>, key: &str, value: serde_json::Value, aggregate: bool) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let slot = stats.entry(host.map(str::to_string)).or_default();
        match slot.get_mut(key) {
            Some(old) if aggregate => {
                if let Some(sum) = combine(old, &value) {
                    *old = sum;
                }
            }
            _ => {
                slot.insert(key.to_string(), value);
            }
        }
    }

    /// The event that shows the stats, when any were set.
    pub fn event(&self) -> Option<Event> {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        if stats.is_empty() {
            return None;
        }
        let as_json = |m: &IndexMap<String, serde_json::Value>| {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        };
        let hosts = stats
            .iter()
            .filter_map(|(h, m)| h.as_ref().map(|h| (h.clone(), as_json(m))))
            .collect();
        let run = stats.get(&None).map(as_json);
        Some(Event::CustomStats { hosts, run })
    }
}

/// `old + new` with Python's meaning of `+` for JSON values, `None` when the types differ.
fn combine(old: &serde_json::Value, new: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match (old, new) {
        (J::Number(a), J::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => J::from(x.checked_add(y)?),
            _ => J::from(a.as_f64()? + b.as_f64()?),
        },
        (J::String(a), J::String(b)) => J::String(format!("{a}{b}")),
        (J::Array(a), J::Array(b)) => J::Array(a.iter().chain(b).cloned().collect()),
        (J::Object(_), J::Object(_)) => combine_dicts(old, new),
        // Python's bool is an int: True + True == 2.
        (J::Bool(a), J::Bool(b)) => J::from(i64::from(*a) + i64::from(*b)),
        _ => return None,
    })
}

/// Ansible's `merge_hash`: nested dicts merge, everything else is replaced.
fn combine_dicts(a: &serde_json::Value, b: &serde_json::Value) -> serde_json::Value {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let mut out = x.clone();
            for (k, v) in y {
                let merged = match out.get(k) {
                    Some(old) => combine_dicts(old, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            serde_json::Value::Object(out)
        }
        _ => b.clone(),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Ansible's `boolean(value, strict=False)`: anything it does not recognise is false.
fn loose_bool(v: &Value) -> bool {
    drover_modules::args::to_bool(v).unwrap_or(false)
}

/// Runs `set_stats` for `host` (or, with `per_host: false`, for the run); the arguments are
/// already templated.
pub fn set_stats(run: &RunShared, host: &str, args: &IndexMap<String, Value>) -> ItemResult {
    let bad: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !VALID.contains(k))
        .collect();
    if !bad.is_empty() {
        return ItemResult::failed(format!("Invalid options for set_stats: {}", bad.join(",")));
    }
    let data = args.get("data").cloned().unwrap_or(Value::from(()));
    let data = match data.kind() {
        ValueKind::Map => data,
        ValueKind::None | ValueKind::Undefined => Value::from_pairs(Vec::<(String, Value)>::new()),
        _ => return ItemResult::failed("The 'data' option needs to be a dictionary/hash"),
    };
    let opt = |name: &str, default: bool| match args.get(name) {
        Some(v) if !v.is_none() && !v.is_undefined() => loose_bool(v),
        _ => default,
    };
    let per_host = opt("per_host", false);
    let aggregate = opt("aggregate", true);

    let mut values: Vec<(String, serde_json::Value)> = Vec::new();
    if let Ok(keys) = data.try_iter() {
        for k in keys {
            let name = k.as_str().map_or_else(|| k.to_string(), str::to_string);
            if !is_var_name(&name) {
                return ItemResult::failed(format!(
                    "Invalid variable name '{name}'. Variable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores."
                ));
            }
            let v = data.get_item(&k).unwrap_or(Value::UNDEFINED);
            let json = serde_json::to_value(&v).unwrap_or(serde_json::Value::Null);
            values.push((name, json));
        }
    }
    for (k, v) in &values {
        let target = per_host.then_some(host);
        run.custom_stats.record(target, k, v.clone(), aggregate);
    }
    let data_json = serde_json::Value::Object(values.into_iter().collect());
    let mut stats = IndexMap::new();
    stats.insert(
        "data".to_string(),
        Value::from(minijinja::value::Serde(&data_json)),
    );
    stats.insert("per_host".into(), Value::from(per_host));
    stats.insert("aggregate".into(), Value::from(aggregate));
    let mut result = IndexMap::new();
    result.insert("ansible_stats".to_string(), Value::from_pairs(stats));
    ItemResult::ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregation_follows_python_plus() {
        let s = CustomStats::default();
        s.record(None, "n", json!(10), true);
        s.record(None, "n", json!(15), true);
        s.record(None, "s", json!("a"), true);
        s.record(None, "s", json!("b"), true);
        s.record(None, "l", json!([1]), true);
        s.record(None, "l", json!([2]), true);
        s.record(None, "d", json!({"a": {"x": 1}}), true);
        s.record(None, "d", json!({"a": {"y": 2}, "b": 3}), true);
        // Another type: ignored.
        s.record(None, "n", json!("text"), true);
        // Not aggregated: replaced.
        s.record(Some("h1"), "n", json!(1), false);
        s.record(Some("h1"), "n", json!(2), false);
        let Some(Event::CustomStats { hosts, run }) = s.event() else {
            panic!("no stats")
        };
        assert_eq!(
            run,
            Some(json!({
                "n": 25, "s": "ab", "l": [1, 2],
                "d": {"a": {"x": 1, "y": 2}, "b": 3}
            }))
        );
        assert_eq!(hosts, vec![("h1".to_string(), json!({"n": 2}))]);
    }

    #[test]
    fn no_stats_no_event() {
        assert!(CustomStats::default().event().is_none());
    }

    #[test]
    fn variable_names() {
        assert!(is_var_name("my_int"));
        assert!(is_var_name("_x1"));
        assert!(!is_var_name(".bad"));
        assert!(!is_var_name("1x"));
        assert!(!is_var_name(""));
    }
}

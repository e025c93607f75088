//! Conversion of trees into runtime values: `minijinja::Value` for templating and
//! `serde_json::Value` for JSON output.

use indexmap::IndexMap;
use minijinja::Value;

use crate::{Node, NodeKind};

/// A float as JSON-ish text, for use as a mapping key (`1.5`, `Infinity`, `NaN`).
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        format!("{f:?}")
    }
}

/// A key as a string, the way JSON serialisation of an Ansible value stringifies it
/// (`1` → `"1"`, `true` → `"true"`, `null` → `"null"`). Keys are never lists or mappings (the
/// loader refuses those); should one be built by hand, it is rendered as JSON.
fn key_text(key: &Node) -> String {
    key.scalar_text()
        .unwrap_or_else(|| key.to_json().to_string())
}

/// Every string in `v` (values of mappings and items of sequences included) marked unsafe.
/// A scalar under `!unsafe` is always a string (`!unsafe 12` is the text `12`).
pub fn mark_unsafe(v: Value) -> Value {
    match v.kind() {
        minijinja::value::ValueKind::String => {
            Value::from_safe_string(v.as_str().unwrap_or_default().to_string())
        }
        minijinja::value::ValueKind::Seq => Value::from(
            v.try_iter()
                .map(|items| items.map(mark_unsafe).collect::<Vec<_>>())
                .unwrap_or_default(),
        ),
        minijinja::value::ValueKind::Map => {
            let map: IndexMap<Value, Value> = v
                .try_iter()
                .map(|keys| {
                    keys.map(|k| {
                        let item = v.get_item(&k).unwrap_or_default();
                        (k, mark_unsafe(item))
                    })
                    .collect()
                })
                .unwrap_or_default();
            Value::from(map)
        }
        _ => v,
    }
}

impl Node {
    /// The node as a runtime value: mappings become insertion-ordered maps with string keys.
    /// Strings under an `!unsafe` tag carry minijinja's "safe" flag, which drover's templar
    /// reads as "never template this" (Ansible never auto-escapes, so the flag is free).
    /// Other tagged scalars (`!vault`) become plain strings; callers that care look at
    /// [`Node::tag`] before converting.
    pub fn to_value(&self) -> Value {
        if self.tag.as_deref() == Some("!unsafe") {
            return mark_unsafe(self.plain_value());
        }
        self.plain_value()
    }

    fn plain_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::from(()),
            NodeKind::Bool(b) => Value::from(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => Value::from(*f),
            NodeKind::Str(s) => Value::from(s.as_str()),
            NodeKind::Seq(items) => {
                Value::from(items.iter().map(Node::to_value).collect::<Vec<_>>())
            }
            NodeKind::Map(pairs) => {
                let map: IndexMap<Value, Value> = pairs
                    .iter()
                    .map(|(k, v)| (Value::from(key_text(k)), v.to_value()))
                    .collect();
                Value::from(map)
            }
        }
    }

    /// The node as JSON. Non-finite floats, which JSON cannot express, become null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            NodeKind::Null => J::Null,
            NodeKind::Bool(b) => J::Bool(*b),
            NodeKind::Int(i) => J::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            NodeKind::Str(s) => J::String(s.clone()),
            NodeKind::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(pairs) => J::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (key_text(k), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Ansible's `combine_vars` under `hash_behaviour = merge`: two mappings merge key by key,
/// recursively, the newer winning; anything else is replaced by the newer value.
pub fn merge_hash(old: &Value, new: &Value) -> Value {
    use minijinja::value::ValueKind;
    if old.kind() != ValueKind::Map || new.kind() != ValueKind::Map {
        return new.clone();
    }
    let mut out: IndexMap<Value, Value> = IndexMap::new();
    for k in old.try_iter().into_iter().flatten() {
        let v = old.get_item(&k).unwrap_or_default();
        out.insert(k, v);
    }
    for k in new.try_iter().into_iter().flatten() {
        let nv = new.get_item(&k).unwrap_or_default();
        let merged = match out.get(&k) {
            Some(ov) => merge_hash(ov, &nv),
            None => nv,
        };
        out.insert(k, merged);
    }
    Value::from_object(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::parse_one;

    fn check(src: &str, expected_json: &str) {
        let doc = parse_one(src, "t.yml").unwrap();
        assert_eq!(
            doc.root.to_json().to_string(),
            expected_json,
            "json of {src:?}"
        );
        // minijinja's JSON serialisation of the value must agree with the direct conversion.
        let via_value = serde_json::to_string(&doc.root.to_value()).unwrap();
        assert_eq!(via_value, expected_json, "value of {src:?}");
    }

    #[test]
    fn converts_in_order_with_string_keys() {
        check(
            "b: 1\na: [x, 1.5, ~, yes]\n",
            r#"{"b":1,"a":["x",1.5,null,true]}"#,
        );
        check(
            "2: a\ntrue: b\n~: c\n1.5: d\n",
            r#"{"2":"a","true":"b","null":"c","1.5":"d"}"#,
        );
        check("x: !vault |\n  abc\n", r#"{"x":"abc\n"}"#);
        // Python's dict (so Ansible) has 1 == 1.0 == True as keys: the first key, last value.
        check("1: a\ntrue: b\n1.0: c\n", r#"{"1":"c"}"#);
        check("[]", "[]");
        check("{}", "{}");
    }

    #[test]
    fn json_has_no_nan() {
        let doc = parse_one("[.nan, .inf]", "t.yml").unwrap();
        assert_eq!(doc.root.to_json().to_string(), "[null,null]");
        let v = doc.root.to_value();
        let first = v.get_item_by_index(0).unwrap();
        assert!(f64::try_from(first).unwrap().is_nan());
    }

    #[test]
    fn unsafe_strings_are_marked() {
        let doc = parse_one(
            "a: !unsafe '{{ x }}'\nb: '{{ y }}'\nc: !unsafe [ '{{ z }}', {k: '{{ w }}'} ]\nd: !unsafe 12\n",
            "t.yml",
        )
        .unwrap();
        let v = doc.root.to_value();
        let get = |k: &str| v.get_attr(k).unwrap();
        assert!(get("a").is_safe());
        assert_eq!(get("a").as_str(), Some("{{ x }}"));
        assert!(!get("b").is_safe());
        let c = get("c");
        assert!(c.get_item_by_index(0).unwrap().is_safe());
        assert!(c
            .get_item_by_index(1)
            .unwrap()
            .get_attr("k")
            .unwrap()
            .is_safe());
        assert_eq!(get("d").as_str(), Some("12"));
        assert!(get("d").is_safe());
    }
}

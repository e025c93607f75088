//! `from_yaml` / `from_yaml_all`: YAML text to values with PyYAML's `safe_load` typing
//! (YAML 1.1: `yes`/`on` booleans, `0644` octal, `1_000`, sexagesimal, merge keys).

use std::collections::HashMap;

use minijinja::value::Value;

use crate::ValueMap;
use saphyr_parser::{Event, Parser, ScalarStyle};

enum Frame {
    Seq(Vec<Value>, usize),
    Map(ValueMap, Option<Value>, usize),
}

/// Parses every document of a YAML stream.
pub(crate) fn parse_all(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut current: Option<Value> = None;
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| e.to_string())?;
        let finished: Option<(Value, usize)> = match ev {
            Event::DocumentStart(_) => {
                current = None;
                None
            }
            Event::DocumentEnd => {
                docs.push(current.take().unwrap_or(Value::from(())));
                None
            }
            Event::Alias(id) => Some((
                anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("unknown alias at line {}", span.start.line()))?,
                0,
            )),
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                Some((resolve_scalar(&text, style, tag.as_deref()), anchor))
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(ValueMap::new(), None, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => Some((Value::from(items), anchor)),
                Some(Frame::Map(map, _, anchor)) => Some((Value::from_object(map), anchor)),
                None => None,
            },
            _ => None,
        };
        if let Some((value, anchor)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, value.clone());
            }
            match stack.last_mut() {
                Some(Frame::Seq(items, _)) => items.push(value),
                Some(Frame::Map(map, key, _)) => match key.take() {
                    None => *key = Some(value),
                    Some(k) if k.as_str() == Some("<<") => merge_into(map, &value),
                    Some(k) => {
                        map.insert(k, value);
                    }
                },
                None => current = Some(value),
            }
        }
    }
    Ok(docs)
}

fn merge_into(map: &mut ValueMap, value: &Value) {
    let sources: Vec<Value> = match value.kind() {
        minijinja::value::ValueKind::Seq => {
            value.try_iter().map(Iterator::collect).unwrap_or_default()
        }
        _ => vec![value.clone()],
    };
    for src in sources {
        if let Ok(keys) = src.try_iter() {
            for k in keys {
                if !map.contains_key(&k) {
                    let v = src.get_item(&k).unwrap_or_default();
                    map.insert(k, v);
                }
            }
        }
    }
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("unsafe") => return crate::unsafe_string(text),
        Some("str") => return Value::from(text),
        Some("int") => {
            return resolve_int(text).map_or_else(|| Value::from(text), Value::from);
        }
        Some("float") => {
            return resolve_float(text).map_or_else(|| Value::from(text), Value::from);
        }
        Some("bool") => return resolve_bool(text).map_or_else(|| Value::from(text), Value::from),
        Some("null") => return Value::from(()),
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::from(text);
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::from(());
    }
    if let Some(b) = resolve_bool(text) {
        return Value::from(b);
    }
    if let Some(i) = resolve_int(text) {
        return Value::from(i);
    }
    if let Some(f) = resolve_float(text) {
        return Value::from(f);
    }
    Value::from(text)
}

fn resolve_bool(t: &str) -> Option<bool> {
    match t {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn resolve_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let n = if let Some(b) = clean.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(h) = clean.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') && clean.chars().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.contains(':') {
        // Sexagesimal: 1:30 == 90.
        let mut acc: i64 = 0;
        for part in clean.split(':') {
            acc = acc
                .checked_mul(60)?
                .checked_add(part.parse::<i64>().ok()?)?;
        }
        acc
    } else if clean.chars().all(|c| c.is_ascii_digit()) {
        clean.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -n } else { n })
}

fn resolve_float(t: &str) -> Option<f64> {
    let body = t.trim_start_matches(['-', '+']);
    let sign = if t.starts_with('-') { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if body.len() == t.len() => return Some(f64::NAN),
        _ => {}
    }
    // YAML 1.1 floats need a dot; an exponent needs its sign.
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    // Base 60 (`1:20.5` is 80.5): whole sexagesimal digits, the last one with the fraction.
    if clean.contains(':') {
        let parts: Vec<&str> = clean.split(':').collect();
        let (last, whole) = parts.split_last()?;
        let (digits, _) = last.split_once('.')?;
        let sexagesimal = |p: &str| {
            !p.is_empty()
                && p.len() <= 2
                && p.chars().all(|c| c.is_ascii_digit())
                && p.parse::<u8>().is_ok_and(|n| n < 60)
        };
        if !whole
            .first()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            || !whole.iter().skip(1).all(|p| sexagesimal(p))
            || !sexagesimal(digits)
            || !last.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            return None;
        }
        let mut total = 0.0;
        for p in whole {
            total = total * 60.0 + p.parse::<f64>().ok()?;
        }
        return Some(sign * (total * 60.0 + last.parse::<f64>().ok()?));
    }
    let (mantissa, exp) = match clean.find(['e', 'E']) {
        Some(i) => (&clean[..i], Some(&clean[i + 1..])),
        None => (clean.as_str(), None),
    };
    if !mantissa.contains('.') || mantissa == "." {
        return None;
    }
    if !mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        || mantissa.matches('.').count() != 1
    {
        return None;
    }
    if let Some(e) = exp {
        let digits = e.strip_prefix(['-', '+'])?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    clean.parse::<f64>().ok().map(|f| sign * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        parse_all(text).unwrap().remove(0)
    }

    #[test]
    fn yaml11_typing() {
        assert_eq!(one("a: yes").get_attr("a").unwrap(), Value::from(true));
        assert_eq!(one("a: 'yes'").get_attr("a").unwrap(), Value::from("yes"));
        assert_eq!(one("a: 0644").get_attr("a").unwrap(), Value::from(420));
        assert_eq!(one("a: 1_000").get_attr("a").unwrap(), Value::from(1000));
        assert_eq!(one("a: 1.5").get_attr("a").unwrap(), Value::from(1.5));
        assert_eq!(one("a: 1e3").get_attr("a").unwrap(), Value::from("1e3"));
        assert_eq!(one("a: ~").get_attr("a").unwrap(), Value::from(()));
        assert_eq!(one("a: y").get_attr("a").unwrap(), Value::from("y"));
    }

    #[test]
    fn anchors_and_merge() {
        let v = one("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n");
        let d = v.get_attr("d").unwrap();
        assert_eq!(d.get_attr("x").unwrap(), Value::from(1));
        assert_eq!(d.get_attr("y").unwrap(), Value::from(3));
    }

    #[test]
    fn multiple_documents() {
        let docs = parse_all("---\na: 1\n---\n- x\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(parse_all("a: [1, 2").is_err());
    }
}

//! Serialisation, hashing and URL filters.

use md5::Digest as _;
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::Error;

use super::fail;
use crate::pyrepr::{py_float, py_str};
use crate::yaml_out::{to_yaml_string, YamlStyle};

/// Python's `json.dumps` with its `indent`, `sort_keys`, `separators` and `ensure_ascii`.
struct JsonStyle {
    indent: Option<usize>,
    sort_keys: bool,
    item_sep: String,
    key_sep: String,
    ensure_ascii: bool,
}

fn json_write(out: &mut String, v: &Value, style: &JsonStyle, level: usize) -> Result<(), Error> {
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = style.indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    match v.kind() {
        ValueKind::Undefined => {
            let _: (String,) = minijinja::value::from_args(std::slice::from_ref(v))?;
            out.push_str("null");
        }
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => out.push_str(&v.to_string()),
        ValueKind::Number => {
            let f = f64::try_from(v.clone()).unwrap_or(0.0);
            out.push_str(&if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
            } else {
                py_float(f)
            });
        }
        ValueKind::String => json_string(out, v.as_str().unwrap_or_default(), style.ensure_ascii),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(out, level + 1);
                json_write(out, item, style, level + 1)?;
            }
            newline(out, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut entries: Vec<(Value, Value)> = v
                .try_iter()?
                .map(|k| {
                    let item = v.get_item(&k).unwrap_or_default();
                    (k, item)
                })
                .collect();
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(out, level + 1);
                // JSON keys are strings; Python converts numbers and booleans the same way.
                let key = match k.kind() {
                    ValueKind::String => py_str(k),
                    ValueKind::Bool => if k.is_true() { "true" } else { "false" }.into(),
                    ValueKind::None => "null".into(),
                    _ => k.to_string(),
                };
                json_string(out, &key, style.ensure_ascii);
                out.push_str(&style.key_sep);
                json_write(out, item, style, level + 1)?;
            }
            newline(out, level);
            out.push('}');
        }
        _ => {
            return Err(fail(format!(
                "Object of type {} is not JSON serializable",
                super::type_name(v)
            )))
        }
    }
    Ok(())
}

fn json_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_style(kw: &Kwargs, indent: Option<usize>, sort_keys: bool) -> Result<JsonStyle, Error> {
    let indent = match kw.get::<Option<usize>>("indent")? {
        Some(i) => Some(i),
        None => indent,
    };
    let sort_keys = kw.get::<Option<bool>>("sort_keys")?.unwrap_or(sort_keys);
    let ensure_ascii = kw.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
    let (item_sep, key_sep) = match kw.get::<Option<Vec<String>>>("separators")? {
        Some(seps) if seps.len() == 2 => (seps[0].clone(), seps[1].clone()),
        Some(_) => return Err(fail("separators must be a pair of strings")),
        // Python's default item separator drops its space when indenting.
        None if indent.is_some() => (",".into(), ": ".into()),
        None => (", ".into(), ": ".into()),
    };
    kw.assert_all_used()?;
    Ok(JsonStyle {
        indent,
        sort_keys,
        item_sep,
        key_sep,
        ensure_ascii,
    })
}

pub(crate) fn to_json(v: Value, kw: Kwargs) -> Result<String, Error> {
    let style = json_style(&kw, None, false)?;
    let mut out = String::new();
    json_write(&mut out, &v, &style, 0)?;
    Ok(out)
}

pub(crate) fn to_nice_json(v: Value, kw: Kwargs) -> Result<String, Error> {
    let style = json_style(&kw, Some(4), true)?;
    let mut out = String::new();
    json_write(&mut out, &v, &style, 0)?;
    Ok(out)
}

/// Serialises like Python's `json.dumps(value)` (Ansible's JSON text for results and `debug`).
pub fn python_json(v: &Value) -> String {
    let style = JsonStyle {
        indent: None,
        sort_keys: false,
        item_sep: ", ".into(),
        key_sep: ": ".into(),
        ensure_ascii: true,
    };
    let mut out = String::new();
    // Only non-serialisable objects fail; fall back to the display form then.
    if json_write(&mut out, v, &style, 0).is_err() {
        return v.to_string();
    }
    out
}

pub(crate) fn from_json(v: Value) -> Result<Value, Error> {
    let text = py_str(&v);
    let parsed: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("from_json: {e}")))?;
    Ok(crate::from_serde(&parsed))
}

/// An argument error named after its filter, as Python's `TypeError` names the function.
fn named_error(filter: &str, e: Error) -> Error {
    let detail = e.detail().map_or_else(|| e.to_string(), str::to_string);
    fail(format!("{filter}: {detail}"))
}

fn yaml_style(kw: &Kwargs, indent: usize, flow: Option<bool>) -> Result<YamlStyle, Error> {
    let scalar_style = match kw.get::<Option<Value>>("default_style")? {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => match v.as_str() {
            Some(s @ ("|" | ">" | "\"" | "'")) => s.chars().next(),
            // PyYAML treats any other style as plain.
            _ => None,
        },
    };
    let style = YamlStyle {
        indent: kw.get::<Option<usize>>("indent")?.unwrap_or(indent),
        flow: match kw.get::<Option<Value>>("default_flow_style")? {
            Some(v) if v.is_none() => None,
            Some(v) => Some(v.is_true()),
            None => flow,
        },
        sort_keys: kw
            .get::<Option<Value>>("sort_keys")?
            .is_none_or(|v| v.is_true()),
        width: kw.get::<Option<usize>>("width")?.unwrap_or(80),
        scalar_style,
        canonical: kw
            .get::<Option<Value>>("canonical")?
            .is_some_and(|v| v.is_true()),
        allow_unicode: kw
            .get::<Option<Value>>("allow_unicode")?
            .is_none_or(|v| v.is_true()),
        explicit_start: kw
            .get::<Option<Value>>("explicit_start")?
            .is_some_and(|v| v.is_true()),
        literal_multiline: false,
    };
    // PyYAML's `encoding` has no effect on text output.
    let _ = kw.get::<Option<Value>>("encoding")?;
    kw.assert_all_used()?;
    Ok(style)
}

pub(crate) fn to_yaml(v: Value, kw: Kwargs) -> Result<String, Error> {
    let style = yaml_style(&kw, 2, None).map_err(|e| named_error("to_yaml", e))?;
    Ok(to_yaml_string(&v, &style))
}

pub(crate) fn to_nice_yaml(v: Value, indent: Option<usize>, kw: Kwargs) -> Result<String, Error> {
    let mut style = yaml_style(&kw, 4, Some(false)).map_err(|e| named_error("to_nice_yaml", e))?;
    if let Some(i) = indent {
        style.indent = i;
    }
    Ok(to_yaml_string(&v, &style))
}

pub(crate) fn from_yaml(v: Value) -> Result<Value, Error> {
    if v.kind() != ValueKind::String {
        return Ok(v);
    }
    let docs =
        crate::yaml_in::parse_all(&py_str(&v)).map_err(|e| fail(format!("from_yaml: {e}")))?;
    Ok(docs.into_iter().next().unwrap_or(Value::from(())))
}

pub(crate) fn from_yaml_all(v: Value) -> Result<Value, Error> {
    // None is an empty list; other non-strings pass through unchanged, as in Ansible.
    if v.is_none() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    if v.kind() != ValueKind::String {
        return Ok(v);
    }
    let docs =
        crate::yaml_in::parse_all(&py_str(&v)).map_err(|e| fail(format!("from_yaml_all: {e}")))?;
    Ok(Value::from(docs))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn hash(text: &str, kind: &str) -> Result<String, Error> {
    let data = text.as_bytes();
    Ok(match kind {
        "md5" => hex(&md5::Md5::digest(data)),
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => return Err(fail(format!("unsupported hash type '{other}'"))),
    })
}

/// Ansible's `to_uuid`: a UUIDv5 in Ansible's namespace unless another is given.
pub(crate) fn to_uuid(name: &str, namespace: Option<&str>) -> Result<String, Error> {
    let ns = namespace.unwrap_or("361E6D51-FAEC-444A-9079-341386DA8E2E");
    let ns_hex: String = ns.chars().filter(|c| *c != '-').collect();
    let invalid = || {
        fail(format!(
            "Invalid value '{ns}' for 'namespace': badly formed hexadecimal UUID string"
        ))
    };
    if ns_hex.len() != 32 {
        return Err(invalid());
    }
    let mut ns_bytes = Vec::with_capacity(16);
    for i in 0..16 {
        let byte = ns_hex
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(invalid)?;
        ns_bytes.push(byte);
    }
    let mut h = sha1::Sha1::new();
    h.update(&ns_bytes);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    ))
}

/// The five parts of Python's `urllib.parse.urlsplit`.
pub(crate) struct SplitUrl {
    pub scheme: String,
    pub netloc: String,
    pub path: String,
    pub query: String,
    pub fragment: String,
}

/// Python's `urlsplit`: a scheme is whatever precedes the first `:` if it starts with a letter
/// and uses only scheme characters (`urn:isbn:1`, `admin:secret@host` included), a netloc
/// follows `//` up to the first `/`, `?` or `#`, then the fragment and the query split off.
pub(crate) fn split_url(url: &str) -> SplitUrl {
    let cleaned: String = url
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = cleaned.as_str();
    let mut scheme = String::new();
    if let Some(i) = rest.find(':') {
        let candidate = &rest[..i];
        if i > 0
            && candidate.starts_with(|c: char| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[i + 1..];
        }
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    SplitUrl {
        scheme,
        netloc: netloc.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        fragment: fragment.to_string(),
    }
}

/// `urlsplit(query='')`: Python's `urlsplit` fields, or one of them.
pub(crate) fn urlsplit(v: Value, query: Option<String>) -> Result<Value, Error> {
    let url = py_str(&v);
    let SplitUrl {
        scheme,
        netloc,
        path,
        query: query_s,
        fragment,
    } = split_url(&url);
    let netloc = netloc.as_str();
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
            (h, p.parse::<u16>().map(Value::from).unwrap_or_default())
        }
        _ => (hostport, Value::from(())),
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
        )
    };
    let fields = super::map_value([
        ("fragment".to_string(), Value::from(fragment.as_str())),
        ("hostname".to_string(), hostname),
        ("netloc".to_string(), Value::from(netloc)),
        ("password".to_string(), password),
        ("path".to_string(), Value::from(path.as_str())),
        ("port".to_string(), port),
        ("query".to_string(), Value::from(query_s.as_str())),
        ("scheme".to_string(), Value::from(scheme)),
        ("username".to_string(), username),
    ]);
    match query.as_deref() {
        None | Some("") => Ok(fields),
        Some(q) => match fields.get_attr(q) {
            Ok(v) if !v.is_undefined() => Ok(v),
            _ => Err(fail(format!("urlsplit: unknown URL component: {q}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes() {
        assert_eq!(
            hash("abc", "md5").unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hash("abc", "sha1").unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert!(hash("abc", "nope").is_err());
    }

    #[test]
    fn uuid_v5() {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
        assert_eq!(
            to_uuid("python.org", Some("6ba7b810-9dad-11d1-80b4-00c04fd430c8")).unwrap(),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn python_json_format() {
        let v = crate::from_serde(serde_json::json!({"a": [1, 2.0, "é"], "b": null}));
        assert_eq!(python_json(&v), r#"{"a": [1, 2.0, "\u00e9"], "b": null}"#);
    }
}

//! `-e/--extra-vars`: `key=value` words, inline YAML/JSON, or `@file`.

use anyhow::{anyhow, bail, Result};
use drover_playbook::Vars;

/// Parses every `-e` value; later values override earlier ones.
pub fn parse_all(values: &[String]) -> Result<Vars> {
    let mut out = Vars::new();
    for v in values {
        for (k, val) in parse_one(v)? {
            out.insert(k, val);
        }
    }
    Ok(out)
}

fn parse_one(text: &str) -> Result<Vars> {
    if let Some(path) = text.strip_prefix('@') {
        if !std::path::Path::new(path).is_file() {
            bail!("could not read extra vars file '{path}': file not found");
        }
        let src = drover_vault::yaml::read_source(std::path::Path::new(path))?;
        return yaml_mapping(&src, path);
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return yaml_mapping(text, "<extra vars>");
    }
    let kv = drover_modules::parse_kv(text, false)
        .map_err(|e| anyhow!("invalid extra vars '{text}': {e}"))?;
    Ok(kv
        .into_iter()
        .map(|(k, v)| (k, minijinja::Value::from(v)))
        .collect())
}

fn yaml_mapping(src: &str, name: &str) -> Result<Vars> {
    let mut doc = drover_yaml::parse_one(src, name)?;
    drover_vault::yaml::decrypt_tags(&mut doc.root, name, src)?;
    let Some(map) = doc.root.as_map() else {
        if doc.root.is_null() {
            return Ok(Vars::new());
        }
        bail!(
            "{}",
            doc.root.error(
                name,
                src,
                format!(
                    "extra vars must be a mapping, found {}",
                    doc.root.kind_name()
                )
            )
        );
    };
    Ok(map
        .iter()
        .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_value()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let v = parse_all(&["a=1 b='x y'".into(), r#"{"c": [1, 2], "a": 2}"#.into()]).unwrap();
        assert_eq!(v["a"].as_i64(), Some(2));
        assert_eq!(v["b"].as_str(), Some("x y"));
        assert_eq!(v["c"].len(), Some(2));
    }

    #[test]
    fn errors_name_the_input() {
        let e = parse_all(&["{a: [1".into()]).unwrap_err().to_string();
        assert!(e.contains("<extra vars>"), "{e}");
        let e = parse_all(&["@/nonexistent/file.yml".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/file.yml"), "{e}");
        let e = parse_all(&["[1, 2]".into()]).unwrap_err().to_string();
        assert!(e.contains("mapping"), "{e}");
    }
}

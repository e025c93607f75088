//! A YAML emitter that writes what PyYAML's `yaml.dump` writes for plain data, so `to_yaml` and
//! `to_nice_yaml` produce the same files as under Ansible (keys sorted, PyYAML's quoting
//! choices, line folding at 80 columns, indentless sequences in mappings).

use minijinja::value::{Value, ValueKind};

use crate::pyrepr::py_float;

/// The emitter settings `to_yaml` / `to_nice_yaml` pass.
#[derive(Debug, Clone)]
pub struct YamlStyle {
    /// Spaces per nesting level (PyYAML `indent`, 2 by default, 4 for `to_nice_yaml`).
    pub indent: usize,
    /// PyYAML `default_flow_style`: `None` writes collections of scalars inline, `Some(false)`
    /// writes everything in block style, `Some(true)` everything inline.
    pub flow: Option<bool>,
    pub sort_keys: bool,
    /// PyYAML `width`.
    pub width: usize,
    /// PyYAML `default_style`: every scalar in this style (`|`, `>`, `"` or `'`).
    pub scalar_style: Option<char>,
    /// PyYAML `canonical`: every node tagged, scalars double-quoted, collections in flow style.
    pub canonical: bool,
    /// PyYAML `allow_unicode`; without it non-ASCII text is written as escapes.
    pub allow_unicode: bool,
    /// PyYAML `explicit_start`: the document starts with `---`.
    pub explicit_start: bool,
    /// Strings with line breaks as `|` literal blocks where YAML allows it (Ansible's
    /// callback dumper); other strings as usual.
    pub literal_multiline: bool,
}

impl Default for YamlStyle {
    fn default() -> YamlStyle {
        YamlStyle {
            indent: 2,
            flow: None,
            sort_keys: true,
            width: 80,
            scalar_style: None,
            canonical: false,
            allow_unicode: true,
            explicit_start: false,
            literal_multiline: false,
        }
    }
}

/// Serialises a value as one YAML document, exactly as `yaml.dump(value, allow_unicode=True)`.
pub fn to_yaml_string(v: &Value, style: &YamlStyle) -> String {
    let mut e = Emitter {
        out: String::new(),
        style: style.clone(),
    };
    if style.canonical {
        e.out.push_str("---\n");
        e.canonical(v, 0);
        e.out.push('\n');
        return e.out;
    }
    if style.explicit_start {
        let block = is_collection(v) && !e.flow_for(v);
        e.out.push_str(if block { "---\n" } else { "--- " });
    }
    if is_collection(v) && !e.flow_for(v) {
        e.block(v, 0, Ctx::Root);
        if !e.out.ends_with('\n') {
            e.out.push('\n');
        }
    } else {
        if is_collection(v) {
            let indent = e.style.indent;
            e.flow(v, indent);
        } else {
            let indent = e.style.indent;
            let text = e.scalar_at(v, indent, false, false);
            e.out.push_str(&text);
        }
        e.out.push('\n');
        if !is_collection(v)
            && e.style.scalar_style.is_none()
            && e.plain_ok(&scalar_text(v), false)
            && v.kind() == ValueKind::String
        {
            // PyYAML ends a document holding a bare plain scalar explicitly.
            e.out.push_str("...\n");
        }
    }
    e.out
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Root,
    MapValue,
    SeqItem,
}

struct Emitter {
    out: String,
    style: YamlStyle,
}

fn is_collection(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    )
}

fn entries(v: &Value, sort: bool) -> Vec<(Value, Value)> {
    let mut out: Vec<(Value, Value)> = v
        .try_iter()
        .map(|it| {
            it.map(|k| {
                let item = v.get_item(&k).unwrap_or_default();
                (k, item)
            })
            .collect()
        })
        .unwrap_or_default();
    if sort {
        out.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out
}

fn items(v: &Value) -> Vec<Value> {
    v.try_iter().map(Iterator::collect).unwrap_or_default()
}

fn is_empty_collection(v: &Value) -> bool {
    is_collection(v) && v.len().unwrap_or_else(|| items(v).len()) == 0
}

impl Emitter {
    fn column(&self) -> usize {
        self.out.len() - self.out.rfind('\n').map_or(0, |i| i + 1)
    }

    fn flow_for(&self, v: &Value) -> bool {
        match self.style.flow {
            Some(f) => f || is_empty_collection(v),
            // A styled scalar is never plain, and PyYAML writes a collection inline by default
            // only when all its items are plain scalars.
            None if self.style.scalar_style.is_some() => is_empty_collection(v),
            None => {
                is_empty_collection(v)
                    || match v.kind() {
                        ValueKind::Map => entries(v, false).iter().all(|(_, x)| !is_collection(x)),
                        _ => items(v).iter().all(|x| !is_collection(x)),
                    }
            }
        }
    }

    /// Writes a block collection whose first line continues the current line.
    fn block(&mut self, v: &Value, indent: usize, ctx: Ctx) {
        match v.kind() {
            ValueKind::Map => {
                for (i, (k, val)) in entries(v, self.style.sort_keys).into_iter().enumerate() {
                    if i > 0 || ctx == Ctx::MapValue {
                        self.newline(indent);
                    }
                    let key = self.scalar_at(&k, indent + self.style.indent, false, true);
                    self.out.push_str(&key);
                    self.out.push(':');
                    self.value(&val, indent, Ctx::MapValue);
                }
            }
            _ => {
                for (i, item) in items(v).into_iter().enumerate() {
                    if i > 0 || ctx == Ctx::MapValue {
                        self.newline(indent);
                    }
                    self.out.push('-');
                    let inner = indent + self.style.indent;
                    if is_collection(&item) && !self.flow_for(&item) {
                        let pad = inner - self.column();
                        self.out.push_str(&" ".repeat(pad.max(1)));
                        self.block(&item, inner, Ctx::SeqItem);
                    } else {
                        self.out.push(' ');
                        if is_collection(&item) {
                            self.flow(&item, inner);
                        } else {
                            let text = self.scalar(&item, inner, false);
                            self.out.push_str(&text);
                        }
                    }
                }
            }
        }
    }

    /// Writes a mapping value after `key:`.
    fn value(&mut self, v: &Value, indent: usize, ctx: Ctx) {
        if is_collection(v) && !self.flow_for(v) {
            // Sequences in mappings are not indented (PyYAML's indentless sequences).
            let child = if v.kind() == ValueKind::Map {
                indent + self.style.indent
            } else {
                indent
            };
            self.block(v, child, ctx);
        } else {
            self.out.push(' ');
            if is_collection(v) {
                self.flow(v, indent + self.style.indent);
            } else {
                let text = self.scalar(v, indent + self.style.indent, false);
                self.out.push_str(&text);
            }
        }
    }

    fn newline(&mut self, indent: usize) {
        self.out.push('\n');
        self.out.push_str(&" ".repeat(indent));
    }

    /// Writes a flow collection, breaking lines before an item once past `width` (PyYAML).
    fn flow(&mut self, v: &Value, indent: usize) {
        let is_map = v.kind() == ValueKind::Map;
        let pairs: Vec<(Option<Value>, Value)> = if is_map {
            entries(v, self.style.sort_keys)
                .into_iter()
                .map(|(k, x)| (Some(k), x))
                .collect()
        } else {
            items(v).into_iter().map(|x| (None, x)).collect()
        };
        self.out.push(if is_map { '{' } else { '[' });
        for (i, (key, item)) in pairs.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            if self.column() > self.style.width {
                self.newline(indent);
            } else if i > 0 {
                self.out.push(' ');
            }
            if let Some(k) = key {
                let text = self.scalar_at(k, indent, true, true);
                self.out.push_str(&text);
                self.out.push_str(": ");
            }
            if is_collection(item) {
                self.flow(item, indent + self.style.indent);
            } else {
                let text = self.scalar(item, indent, true);
                self.out.push_str(&text);
            }
        }
        self.out.push(if is_map { '}' } else { ']' });
    }

    /// A scalar's text (a value, not a key, outside flow collections unless `in_flow`).
    fn scalar(&self, v: &Value, indent: usize, in_flow: bool) -> String {
        self.scalar_at(v, indent, in_flow, false)
    }

    /// A scalar's text; long strings are folded at `width` with continuation lines at `indent`.
    fn scalar_at(&self, v: &Value, indent: usize, in_flow: bool, key: bool) -> String {
        if let Some(style) = self.style.scalar_style {
            return self.styled_scalar(v, style, indent, in_flow || key);
        }
        match v.kind() {
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                let start_col = self.column();
                if self.style.literal_multiline
                    && !in_flow
                    && !key
                    && s.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
                    && block_allowed(s)
                {
                    return block_scalar(s, '|', indent);
                }
                if self.needs_double(s) {
                    double_quoted(s, self.style.allow_unicode)
                } else if self.plain_ok(s, in_flow) {
                    fold(s, start_col, indent, self.style.width, false)
                } else {
                    fold(s, start_col, indent, self.style.width, true)
                }
            }
            _ => scalar_text(v),
        }
    }

    /// A scalar in `default_style`: strings untagged, other scalars tagged (quoted, they would
    /// read back as strings); block styles, impossible in keys and flow collections, fall back
    /// to double quotes there as in PyYAML.
    fn styled_scalar(&self, v: &Value, style: char, indent: usize, simple: bool) -> String {
        let text = scalar_text(v);
        let tag = match v.kind() {
            ValueKind::String => "",
            ValueKind::None | ValueKind::Undefined => "!!null ",
            ValueKind::Bool => "!!bool ",
            ValueKind::Number if v.is_integer() => "!!int ",
            ValueKind::Number => "!!float ",
            _ => "!!str ",
        };
        let body = match style {
            '|' | '>' if !simple => block_scalar(&text, style, indent),
            '\'' if !self.needs_double(&text) => {
                fold(&text, self.column(), indent, self.style.width, true)
            }
            _ => double_quoted(&text, self.style.allow_unicode),
        };
        format!("{tag}{body}")
    }

    fn needs_double(&self, s: &str) -> bool {
        needs_double_quotes(s) || (!self.style.allow_unicode && !s.is_ascii())
    }

    fn plain_ok(&self, s: &str, in_flow: bool) -> bool {
        (self.style.allow_unicode || s.is_ascii()) && plain_allowed(s, in_flow)
    }

    /// PyYAML's canonical form of a node whose first line continues the current line.
    fn canonical(&mut self, v: &Value, indent: usize) {
        let pad = " ".repeat(indent + 2);
        match v.kind() {
            ValueKind::Map if !is_empty_collection(v) => {
                self.out.push_str("!!map {\n");
                for (k, x) in entries(v, self.style.sort_keys) {
                    self.out.push_str(&pad);
                    self.out.push_str("? ");
                    self.canonical(&k, indent + 2);
                    self.out.push('\n');
                    self.out.push_str(&pad);
                    self.out.push_str(": ");
                    self.canonical(&x, indent + 2);
                    self.out.push_str(",\n");
                }
                self.out.push_str(&" ".repeat(indent));
                self.out.push('}');
            }
            ValueKind::Map => self.out.push_str("!!map {}"),
            _ if is_collection(v) && !is_empty_collection(v) => {
                self.out.push_str("!!seq [\n");
                for x in items(v) {
                    self.out.push_str(&pad);
                    self.canonical(&x, indent + 2);
                    self.out.push_str(",\n");
                }
                self.out.push_str(&" ".repeat(indent));
                self.out.push(']');
            }
            _ if is_collection(v) => self.out.push_str("!!seq []"),
            kind => {
                let tag = match kind {
                    ValueKind::None | ValueKind::Undefined => "null",
                    ValueKind::Bool => "bool",
                    ValueKind::Number if v.is_integer() => "int",
                    ValueKind::Number => "float",
                    _ => "str",
                };
                let text = double_quoted(&scalar_text(v), self.style.allow_unicode);
                self.out.push_str(&format!("!!{tag} {text}"));
            }
        }
    }
}

/// A literal (`|`) or folded (`>`) block scalar with its chomping indicator, content lines at
/// `indent`; in folded style a line break is written as an empty line.
/// PyYAML's rule for block scalars: printable text, no space before a line break, no
/// trailing space, no leading space on the first line.
fn block_allowed(s: &str) -> bool {
    !s.contains(" \n")
        && !s.ends_with(' ')
        && !s.starts_with(' ')
        && s.chars()
            .all(|c| c == '\n' || (c >= ' ' && c != '\u{7f}' && c != '\u{feff}'))
}

fn block_scalar(text: &str, style: char, indent: usize) -> String {
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("{style}{chomp}");
    let pad = " ".repeat(indent);
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 && style == '>' {
            out.push('\n');
        }
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..(text.len() - body.len()) {
        out.push('\n');
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v.kind() {
        ValueKind::None | ValueKind::Undefined => "null".into(),
        ValueKind::Bool => if v.is_true() { "true" } else { "false" }.into(),
        ValueKind::Number if v.is_integer() => v.to_string(),
        ValueKind::Number => {
            let f = f64::try_from(v.clone()).unwrap_or(0.0);
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if f > 0.0 { ".inf" } else { "-.inf" }.into()
            } else {
                // PyYAML writes `1.0e+16` where Python's repr says `1e+16`.
                let r = py_float(f);
                match r.split_once('e') {
                    Some((m, e)) if !m.contains('.') => format!("{m}.0e{e}"),
                    _ => r,
                }
            }
        }
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        _ => v.to_string(),
    }
}

fn needs_double_quotes(s: &str) -> bool {
    s.chars().any(|c| {
        (c < ' ' && c != '\n')
            || c == '\u{7f}'
            || c == '\u{feff}'
            || ('\u{80}'..'\u{a0}').contains(&c)
    })
}

/// PyYAML's `analyze_scalar` verdict on plain style.
fn plain_allowed(s: &str, in_flow: bool) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') || s.contains('\n') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ');
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if matches!(first, '?' | ':' | '-') && followed_by_space(0) {
        return false;
    }
    for (i, &c) in chars.iter().enumerate().skip(1) {
        if in_flow && ",?[]{}".contains(c) {
            return false;
        }
        if c == ':' && (followed_by_space(i) || in_flow) {
            return false;
        }
        if c == '#' && chars[i - 1] == ' ' {
            return false;
        }
    }
    // A plain scalar must read back as the same string.
    if crate::yaml_in::parse_all(s)
        .ok()
        .and_then(|d| d.into_iter().next())
        .is_none_or(|v| v.as_str() != Some(s))
    {
        return false;
    }
    !looks_like_timestamp(s) && s != "="
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5].is_ascii_digit()
        && s[5..]
            .split(['-', 'T', 't', ' ', ':', '.'])
            .take(2)
            .all(|p| !p.is_empty() && p.chars().take(2).all(|c| c.is_ascii_digit()))
}

/// Plain or single-quoted text with PyYAML's folding: a single space becomes a line break once
/// the column passed `width`; in quoted style a newline is written as an empty line.
fn fold(s: &str, start_col: usize, indent: usize, width: usize, quoted: bool) -> String {
    let mut out = String::new();
    let mut col = start_col;
    if quoted {
        out.push('\'');
        col += 1;
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            let single =
                chars.get(i + 1).is_some_and(|n| *n != ' ') && (i == 0 || chars[i - 1] != ' ');
            if single && col > width && i != 0 && i + 1 != chars.len() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = indent;
            } else {
                out.push(' ');
                col += 1;
            }
        } else if c == '\n' {
            let mut run = 0;
            while chars.get(i + run) == Some(&'\n') {
                run += 1;
            }
            out.push('\n');
            for _ in 0..run {
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
            col = indent;
            i += run;
            continue;
        } else if c == '\'' && quoted {
            out.push_str("''");
            col += 2;
        } else {
            out.push(c);
            col += 1;
        }
        i += 1;
    }
    if quoted {
        out.push('\'');
    }
    out
}

/// A double-quoted scalar; without `allow_unicode`, non-ASCII characters as escapes.
fn double_quoted(s: &str, allow_unicode: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\x1b' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            c if c < ' ' || c == '\u{7f}' || ('\u{80}'..'\u{a0}').contains(&c) => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            '\u{feff}' => out.push_str("\\uFEFF"),
            c if !allow_unicode && (c as u32) <= 0xff && !c.is_ascii() => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c if !allow_unicode && (c as u32) <= 0xffff && !c.is_ascii() => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c if !allow_unicode && !c.is_ascii() => {
                out.push_str(&format!("\\U{:08X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: serde_json::Value, style: YamlStyle, expected: &str) {
        assert_eq!(to_yaml_string(&crate::from_serde(&json), &style), expected);
    }

    #[test]
    fn default_flow_style_none() {
        check(
            serde_json::json!({"b": [1, 2, {"x": "y", "z": [3]}], "a": {"e": [], "k": "v"}}),
            YamlStyle::default(),
            "a:\n  e: []\n  k: v\nb:\n- 1\n- 2\n- x: y\n  z: [3]\n",
        );
        check(
            serde_json::json!({"a": 1}),
            YamlStyle::default(),
            "{a: 1}\n",
        );
        check(serde_json::json!("abc"), YamlStyle::default(), "abc\n...\n");
    }

    #[test]
    fn nice_yaml_indent_four() {
        let style = YamlStyle {
            indent: 4,
            flow: Some(false),
            ..YamlStyle::default()
        };
        check(
            serde_json::json!({"b": [{"x": "y", "z": [3]}], "l": [[1, 2]]}),
            style,
            "b:\n-   x: y\n    z:\n    - 3\nl:\n-   - 1\n    - 2\n",
        );
    }

    #[test]
    fn quoting() {
        check(
            serde_json::json!({"q": "yes", "n": "123", "c": "a: b", "s": "multi\nline", "t": "a\tb", "e": ""}),
            YamlStyle {
                flow: Some(false),
                ..YamlStyle::default()
            },
            "c: 'a: b'\ne: ''\nn: '123'\nq: 'yes'\ns: 'multi\n\n  line'\nt: \"a\\tb\"\n",
        );
    }
}

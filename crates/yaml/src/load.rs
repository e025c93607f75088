//! Builds [`Node`] trees from `saphyr-parser` events: positions, anchors and aliases, tags,
//! merge keys and duplicate keys.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, StrInput, Tag};

use crate::resolve::{bool_value, construct_float, construct_int, resolve_plain};
use crate::{Document, Node, NodeKind, Pos, SourceError, Span, Warning, YamlError};

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 400;
/// Alias expansion copies nodes; this bounds "billion laughs" documents.
const MAX_NODES: usize = 2_000_000;

const CORE: &str = "tag:yaml.org,2002:";

/// Parses every document of a YAML stream. An empty stream is one document holding null.
///
/// # Errors
/// A syntax error, an invalid value for an explicit core tag (`!!int abc`), a bad merge (`<<`
/// of a scalar), a list or mapping used as a key, or an alias to an unknown anchor.
pub fn parse_str(src: &str, file: &str) -> Result<Vec<Document>, YamlError> {
    let mut padding = Padding::default();
    loop {
        let padded;
        let input = if padding.lines.is_empty() {
            src
        } else {
            padded = padding.apply(src);
            padded.as_str()
        };
        match parse_stream(src, input, file, &padding) {
            Ok(docs) => return Ok(docs),
            Err(Failure::Yaml(e)) => return Err(e),
            Err(Failure::ClosingBracket { line, error }) => {
                // saphyr-parser 0.3.4 keeps a one-column indent open inside a flow
                // collection whose entries are all quoted, and then refuses a closing
                // bracket at the parent's indentation, which PyYAML accepts
                // (`a: {\n  "b": "c"\n}`). One leading space on that bracket's line means
                // the same to YAML (flow content ignores indentation) and gets it past the
                // check; positions are mapped back so spans still point into `src`.
                if padding.lines.len() >= MAX_PADDED_LINES || !padding.lines.insert(line) {
                    return Err(error);
                }
            }
        }
    }
}

/// How many closing-bracket lines [`parse_str`] pads before giving up.
const MAX_PADDED_LINES: usize = 64;

/// Lines (1-based) of `src` that get one leading space before parsing.
#[derive(Default)]
struct Padding {
    lines: std::collections::BTreeSet<usize>,
    /// Character index in the padded text of each inserted space, ascending.
    inserted_at: Vec<usize>,
}

impl Padding {
    fn apply(&mut self, src: &str) -> String {
        let mut out = String::with_capacity(src.len() + self.lines.len());
        self.inserted_at.clear();
        let mut chars = 0;
        for (i, line) in src.split_inclusive('\n').enumerate() {
            if self.lines.contains(&(i + 1)) {
                self.inserted_at.push(chars);
                out.push(' ');
                chars += 1;
            }
            out.push_str(line);
            chars += line.chars().count();
        }
        out
    }

    /// A marker of the padded text, as a position in the original.
    fn unpad(&self, line: usize, col: usize, index: usize) -> (usize, usize) {
        let before = self.inserted_at.partition_point(|&at| at < index);
        let col = if col > 0 && self.lines.contains(&line) {
            col - 1
        } else {
            col
        };
        (col, index - before)
    }
}

enum Failure {
    Yaml(YamlError),
    /// saphyr's "invalid indentation" at a line whose first non-blank is `}` or `]`.
    ClosingBracket {
        line: usize,
        error: YamlError,
    },
}

fn parse_stream(
    src: &str,
    input: &str,
    file: &str,
    padding: &Padding,
) -> Result<Vec<Document>, Failure> {
    let mut loader = Loader {
        src,
        file,
        parser: Parser::new_from_str(input),
        offsets: CharOffsets::new(src),
        padding,
        anchors: HashMap::new(),
        warnings: Vec::new(),
        nodes: 0,
        depth: 0,
        last: Pos::default(),
        closing_bracket: None,
    };
    let result = loader.stream();
    result.map_err(|error| match loader.closing_bracket {
        Some(line) => Failure::ClosingBracket { line, error },
        None => Failure::Yaml(error),
    })
}

impl Loader<'_> {
    fn stream(&mut self) -> Result<Vec<Document>, YamlError> {
        let mut docs = Vec::new();
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    let (event, span) = self.next()?;
                    let root = self.node(event, span)?;
                    self.anchors.clear();
                    docs.push(Document {
                        root,
                        warnings: std::mem::take(&mut self.warnings),
                    });
                }
                _ => return Err(self.error_at(span.start, "unexpected event outside a document")),
            }
        }
        if docs.is_empty() {
            docs.push(Document {
                root: Node::new(NodeKind::Null, Span::default()),
                warnings: Vec::new(),
            });
        }
        Ok(docs)
    }
}

/// Parses a stream that must hold at most one document (as playbooks, vars files and YAML
/// inventories must).
///
/// # Errors
/// As [`parse_str`], and when the stream holds more than one document.
pub fn parse_one(src: &str, file: &str) -> Result<Document, YamlError> {
    let mut docs = parse_str(src, file)?;
    if docs.len() > 1 {
        let pos = docs[1].root.span.start;
        return Err(SourceError::new(
            file,
            src,
            pos,
            "expected a single document, but found another one",
        ));
    }
    Ok(docs.remove(0))
}

/// saphyr counts positions in characters; spans carry byte offsets too.
enum CharOffsets {
    Ascii,
    Table(Vec<usize>),
}

impl CharOffsets {
    fn new(src: &str) -> CharOffsets {
        if src.is_ascii() {
            CharOffsets::Ascii
        } else {
            let mut table: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
            table.push(src.len());
            CharOffsets::Table(table)
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match self {
            CharOffsets::Ascii => char_index,
            CharOffsets::Table(t) => t.get(char_index).or_else(|| t.last()).copied().unwrap_or(0),
        }
    }
}

struct Loader<'a> {
    src: &'a str,
    file: &'a str,
    parser: Parser<'a, StrInput<'a>>,
    offsets: CharOffsets,
    padding: &'a Padding,
    anchors: HashMap<usize, Node>,
    warnings: Vec<Warning>,
    nodes: usize,
    depth: usize,
    /// Position of the last event, for errors at the end of input.
    last: Pos,
    /// Set when the scanner refused a closing bracket's indentation (see [`parse_str`]).
    closing_bracket: Option<usize>,
}

type Ev<'a> = (Event<'a>, Span);

impl<'a> Loader<'a> {
    fn pos(&self, m: &Marker) -> Pos {
        let (col, index) = self.padding.unpad(m.line(), m.col(), m.index());
        Pos {
            line: m.line(),
            column: col + 1,
            offset: self.offsets.byte(index),
        }
    }

    fn span(&self, s: &saphyr_parser::Span) -> Span {
        Span {
            start: self.pos(&s.start),
            end: self.pos(&s.end),
        }
    }

    fn error_at(&self, pos: Pos, message: impl Into<String>) -> YamlError {
        SourceError::new(self.file, self.src, pos, message)
    }

    fn scan_error(&mut self, e: &ScanError) -> YamlError {
        let pos = self.pos(e.marker());
        if e.info() == "invalid indentation" {
            let line = self
                .src
                .lines()
                .nth(pos.line.saturating_sub(1))
                .unwrap_or("");
            if matches!(line.trim_start().chars().next(), Some('}' | ']')) {
                self.closing_bracket = Some(pos.line);
            }
        }
        self.error_at(pos, describe_scan_error(e.info()))
    }

    fn next(&mut self) -> Result<Ev<'a>, YamlError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let span = self.span(&span);
                self.last = span.start;
                Ok((event, span))
            }
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(self.error_at(self.last, "unexpected end of input")),
        }
    }

    fn count(&mut self, n: usize, at: Pos) -> Result<(), YamlError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(self.error_at(
                at,
                format!("document too large: more than {MAX_NODES} nodes after expanding aliases"),
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_at(
                span.start,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        let result = self.node_inner(event, span);
        self.depth -= 1;
        result
    }

    fn node_inner(&mut self, event: Event<'a>, span: Span) -> Result<Node, YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, span.start)?;
                let node = self.scalar(&text, style, tag.as_deref(), span)?;
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(self.error_at(span.start, "alias to an unknown anchor"));
                };
                let mut copy = target.clone();
                let size = size_of_tree(&copy);
                self.count(size, span.start)?;
                copy.span = span;
                Ok(copy)
            }
            Event::SequenceStart(anchor, tag) => {
                self.count(1, span.start)?;
                let mut items = Vec::new();
                let end = loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break sp.end;
                    }
                    items.push(self.node(ev, sp)?);
                };
                let whole = Span {
                    start: span.start,
                    end: end.max(span.end),
                };
                let mut node = Node::new(NodeKind::Seq(items), whole);
                self.apply_collection_tag(&mut node, tag.as_deref(), "seq")?;
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                self.count(1, span.start)?;
                let mut pairs = Vec::new();
                let end = loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        break sp.end;
                    }
                    let merge = is_merge_event(&ev);
                    let key = self.node(ev, sp)?;
                    let (ev, sp) = self.next()?;
                    let value = self.node(ev, sp)?;
                    pairs.push((key, value, merge));
                };
                let whole = Span {
                    start: span.start,
                    end: end.max(span.end),
                };
                let map = self.mapping(pairs)?;
                let mut node = Node::new(NodeKind::Map(map), whole);
                self.apply_collection_tag(&mut node, tag.as_deref(), "map")?;
                self.remember(anchor, &node);
                Ok(node)
            }
            _ => Err(self.error_at(span.start, "unexpected YAML event")),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<Node, YamlError> {
        let Some(tag) = tag else {
            let kind = if style == ScalarStyle::Plain {
                resolve_plain(text)
            } else {
                NodeKind::Str(text.to_string())
            };
            return Ok(Node::new(kind, span));
        };
        if tag.handle == CORE {
            let bad = |msg: String| self.error_at(span.start, msg);
            let kind = match tag.suffix.as_str() {
                "str" | "binary" | "timestamp" => NodeKind::Str(text.to_string()),
                "null" => NodeKind::Null,
                "bool" => NodeKind::Bool(
                    bool_value(text).ok_or_else(|| bad(format!("invalid boolean {text:?}")))?,
                ),
                "int" => construct_int(text).map_err(bad)?,
                "float" => NodeKind::Float(construct_float(text).map_err(bad)?),
                "merge" if text == "<<" => NodeKind::Str(text.to_string()),
                other => {
                    return Err(bad(format!("the tag !!{other} cannot be used on a scalar")));
                }
            };
            let mut node = Node::new(kind, span);
            if matches!(tag.suffix.as_str(), "binary" | "timestamp") {
                node.tag = Some(format!("!!{}", tag.suffix));
            }
            return Ok(node);
        }
        let mut node = Node::new(NodeKind::Str(text.to_string()), span);
        // The non-specific tag `!` only says "a string"; any other tag is for the caller.
        if !is_non_specific(tag) {
            node.tag = Some(tag_text(tag));
        }
        Ok(node)
    }

    fn apply_collection_tag(
        &self,
        node: &mut Node,
        tag: Option<&Tag>,
        expected: &str,
    ) -> Result<(), YamlError> {
        let Some(tag) = tag else { return Ok(()) };
        if tag.handle == CORE {
            let fits = tag.suffix == expected
                || (expected == "map" && tag.suffix == "set")
                || (expected == "seq" && matches!(tag.suffix.as_str(), "omap" | "pairs"));
            if !fits {
                return Err(self.error_at(
                    node.span.start,
                    format!(
                        "the tag !!{} cannot be used on {}",
                        tag.suffix,
                        node.kind_name()
                    ),
                ));
            }
            return Ok(());
        }
        if !is_non_specific(tag) {
            node.tag = Some(tag_text(tag));
        }
        Ok(())
    }

    /// Applies merge keys and resolves duplicates. Merged entries come first, in the order
    /// PyYAML flattens them (for `<<: [a, b]`, b's pairs then a's, so a wins), then the
    /// mapping's own entries, which override merged ones.
    fn mapping(&mut self, pairs: Vec<(Node, Node, bool)>) -> Result<Vec<(Node, Node)>, YamlError> {
        let mut merged: Vec<(Node, Node)> = Vec::new();
        let mut own: Vec<(Node, Node)> = Vec::with_capacity(pairs.len());
        for (key, value, is_merge) in pairs {
            if is_merge {
                match value.kind {
                    NodeKind::Map(m) => merged.extend(m),
                    NodeKind::Seq(items) => {
                        let mut sources = Vec::new();
                        for item in items {
                            match item.kind {
                                NodeKind::Map(m) => sources.push(m),
                                _ => {
                                    return Err(self.error_at(
                                        item.span.start,
                                        format!(
                                            "expected a mapping to merge, found {}",
                                            item.kind_name()
                                        ),
                                    ));
                                }
                            }
                        }
                        for m in sources.into_iter().rev() {
                            merged.extend(m);
                        }
                    }
                    _ => {
                        return Err(self.error_at(
                            value.span.start,
                            format!(
                                "expected a mapping or a list of mappings to merge, found {}",
                                value.kind_name()
                            ),
                        ));
                    }
                }
            } else {
                own.push((key, value));
            }
        }

        let mut out: Vec<(Node, Node)> = Vec::with_capacity(merged.len() + own.len());
        let mut from_own: Vec<bool> = Vec::with_capacity(out.capacity());
        let mut index: HashMap<HashKey, usize> = HashMap::new();
        let entries = merged
            .into_iter()
            .map(|p| (p, false))
            .chain(own.into_iter().map(|p| (p, true)));
        for ((key, value), is_own) in entries {
            let Some(hk) = HashKey::of(&key) else {
                let mut message = format!("{} cannot be used as a mapping key", key.kind_name());
                let mut at = key.span.start;
                let before = self.src.get(..at.offset).unwrap_or("");
                if before.ends_with('{') && self.src[at.offset..].starts_with('{') {
                    // `{{ x }}` unquoted: point at the first brace, where the value starts.
                    at.offset -= 1;
                    at.column = at.column.saturating_sub(1).max(1);
                    message = "a value that starts with \"{{\" must be quoted, e.g. msg: \"{{ item }}\" (unquoted, YAML reads it as a mapping)".to_string();
                }
                return Err(self.error_at(at, message));
            };
            match index.get(&hk) {
                Some(&i) => {
                    if is_own && from_own[i] {
                        let message = format!(
                            "Found duplicate mapping key '{}' (first at line {})",
                            key.scalar_text().unwrap_or_default(),
                            out[i].0.span.start.line
                        );
                        match crate::duplicate_keys() {
                            crate::DuplicateKeys::Error => {
                                return Err(self.error_at(key.span.start, message));
                            }
                            crate::DuplicateKeys::Ignore => {}
                            crate::DuplicateKeys::Warn => self.warnings.push(Warning {
                                file: self.file.to_string(),
                                span: key.span,
                                message: format!("{message}; the last value is used"),
                            }),
                        }
                    }
                    // As a Python dict does: the first key stays, the value is replaced.
                    out[i].1 = value;
                    from_own[i] = is_own;
                }
                None => {
                    index.insert(hk, out.len());
                    out.push((key, value));
                    from_own.push(is_own);
                }
            }
        }
        Ok(out)
    }
}

/// Only a plain `<<` (or one tagged `!!merge`) merges; a quoted `"<<"` is an ordinary key.
fn is_merge_event(event: &Event<'_>) -> bool {
    match event {
        Event::Scalar(text, style, _, tag) if text.as_ref() == "<<" => match tag {
            None => *style == ScalarStyle::Plain,
            Some(t) => t.handle == CORE && t.suffix == "merge",
        },
        _ => false,
    }
}

/// The tag `!` alone only says "not implicitly typed", i.e. a string.
fn is_non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

fn tag_text(tag: &Tag) -> String {
    if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else if tag.handle == CORE {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn size_of_tree(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Seq(items) => items.iter().map(size_of_tree).sum(),
        NodeKind::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| size_of_tree(k) + size_of_tree(v))
            .sum(),
        _ => 0,
    }
}

/// Key identity as Python's dict sees it for the scalar types YAML produces.
#[derive(Hash, PartialEq, Eq)]
enum HashKey {
    Null,
    Int(i64),
    Float(u64),
    Str(String),
}

impl HashKey {
    /// Python's dict treats `1`, `1.0` and `True` as the same key (and `0`, `0.0`, `False`);
    /// Ansible, built on it, does too.
    fn of(node: &Node) -> Option<HashKey> {
        Some(match &node.kind {
            NodeKind::Null => HashKey::Null,
            NodeKind::Bool(b) => HashKey::Int(i64::from(*b)),
            NodeKind::Int(i) => HashKey::Int(*i),
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            NodeKind::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => HashKey::Int(*f as i64),
            NodeKind::Float(f) => HashKey::Float(f.to_bits()),
            NodeKind::Str(s) => HashKey::Str(s.clone()),
            NodeKind::Seq(_) | NodeKind::Map(_) => return None,
        })
    }
}

/// The scanner's messages follow libyaml's wording; a few are reworded to say what was
/// expected in terms a playbook author recognises.
fn describe_scan_error(info: &str) -> String {
    let hint = match info {
        s if s.contains("mapping values are not allowed") => {
            "; a value containing \": \" must be quoted, or the indentation is wrong"
        }
        s if s.contains("did not find expected key")
            || s.contains("did not find expected '-' indicator") =>
        {
            "; check the indentation of this line"
        }
        s if s.contains("illegal placement of ':' indicator")
            || s.contains("did not find expected ',' or") =>
        {
            "; is a [ or { on an earlier line left unclosed?"
        }
        s if s.contains("unexpected character")
            || s.contains("found character that cannot start any token") =>
        {
            "; a value starting with this character (such as @ or `) must be quoted"
        }
        s if s.contains("found unexpected end of stream") => "; a quote is left unclosed",
        _ => "",
    };
    format!("YAML syntax error: {info}{hint}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A compact rendering of a tree: `{a: 1, b: [s"x", null]}`, tags as `!t s"v"`.
    fn show(node: &Node) -> String {
        let body = match &node.kind {
            NodeKind::Null => "null".to_string(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => format!("{f:?}"),
            NodeKind::Str(s) => format!("s{s:?}"),
            NodeKind::Seq(items) => {
                format!(
                    "[{}]",
                    items.iter().map(show).collect::<Vec<_>>().join(", ")
                )
            }
            NodeKind::Map(pairs) => format!(
                "{{{}}}",
                pairs
                    .iter()
                    .map(|(k, v)| format!("{}: {}", show(k), show(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        match &node.tag {
            Some(t) => format!("{t} {body}"),
            None => body,
        }
    }

    fn check(input: &str, expected: &str) {
        let docs = parse_str(input, "t.yml").unwrap_or_else(|e| panic!("{input:?}: {e}"));
        let got: Vec<String> = docs.iter().map(|d| show(&d.root)).collect();
        assert_eq!(got.join(" --- "), expected, "input: {input:?}");
    }

    fn check_err(input: &str, expected: &str) {
        let err = parse_str(input, "t.yml").expect_err(input);
        let head = err
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(head.starts_with(expected), "input {input:?}: got {head:?}");
    }

    #[test]
    fn trees() {
        check("", "null");
        check("---\n", "null");
        check(
            "a: 1\nb: [yes, '0644', 0644]\n",
            r#"{s"a": 1, s"b": [true, s"0644", 420]}"#,
        );
        check("- a\n- {x: ~}\n", r#"[s"a", {s"x": null}]"#);
        check("a: 1\n---\nb\n...\n", r#"{s"a": 1} --- s"b""#);
        check("k: |\n  line\n  two\n", r#"{s"k": s"line\ntwo\n"}"#);
        check("k: >-\n  a\n  b\n", r#"{s"k": s"a b"}"#);
        check("\"yes\": 'on'\n", r#"{s"yes": s"on"}"#);
        check("yes: 1\n", "{true: 1}");
        check("%YAML 1.1\n---\na: 0755\n", r#"{s"a": 493}"#);
        check("\u{feff}a: 1\n", r#"{s"a": 1}"#);
        check("a: 1\r\nb: x\r\n", r#"{s"a": 1, s"b": s"x"}"#);
        check("# only a comment\n", "null");
    }

    #[test]
    fn tags() {
        check(
            "- !!str 123\n- !!int '0x10'\n- !!bool 'yes'\n",
            r#"[s"123", 16, true]"#,
        );
        check(
            "- !!float '1'\n- !!null ''\n- ! 12\n",
            r#"[1.0, null, s"12"]"#,
        );
        check(
            "pw: !vault |\n  $ANSIBLE\n",
            r#"{s"pw": !vault s"$ANSIBLE\n"}"#,
        );
        check("x: !unsafe '{{ a }}'\n", r#"{s"x": !unsafe s"{{ a }}"}"#);
        check("x: !unsafe 12\n", r#"{s"x": !unsafe s"12"}"#);
        check("x: !!map {a: 1}\n", r#"{s"x": {s"a": 1}}"#);
        check(
            "d: !!timestamp 2001-12-14\n",
            r#"{s"d": !!timestamp s"2001-12-14"}"#,
        );
        check_err("x: !!int abc\n", "t.yml:1:4: invalid integer");
        check_err("x: !!bool maybe\n", "t.yml:1:4: invalid boolean");
        check_err(
            "x: !!seq {a: 1}\n",
            "t.yml:1:4: the tag !!seq cannot be used on a mapping",
        );
    }

    #[test]
    fn anchors_and_merges() {
        check("a: &x [1, 2]\nb: *x\n", r#"{s"a": [1, 2], s"b": [1, 2]}"#);
        check(
            "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc:\n  <<: [*a, *b]\n  z: 1\n  x: 9\n",
            r#"{s"a": {s"x": 1}, s"b": {s"x": 2, s"y": 3}, s"c": {s"x": 9, s"y": 3, s"z": 1}}"#,
        );
        check(
            "a: &a {x: 1}\nb:\n  y: 2\n  <<: *a\n",
            r#"{s"a": {s"x": 1}, s"b": {s"x": 1, s"y": 2}}"#,
        );
        check("a: {\"<<\": 1}\n", r#"{s"a": {s"<<": 1}}"#);
        check_err(
            "a: {<<: 1}\n",
            "t.yml:1:9: expected a mapping or a list of mappings to merge",
        );
        check_err("a: {<<: [1]}\n", "t.yml:1:10: expected a mapping to merge");
        check_err("a: *nope\n", "t.yml:1:4: YAML syntax error");
    }

    #[test]
    fn duplicates_warn_and_last_wins() {
        let docs = parse_str("a: 1\nb: 2\na: 3\n", "d.yml").unwrap();
        assert_eq!(show(&docs[0].root), r#"{s"a": 3, s"b": 2}"#);
        assert_eq!(docs[0].warnings.len(), 1);
        assert_eq!(
            docs[0].warnings[0].to_string(),
            "d.yml:3:1: Found duplicate mapping key 'a' (first at line 1); the last value is used"
        );
        // Overriding a merged key is what merges are for: no warning.
        let docs = parse_str("a: &a {x: 1}\nb: {<<: *a, x: 2}\n", "d.yml").unwrap();
        assert!(docs[0].warnings.is_empty());
    }

    #[test]
    fn spans() {
        let src = "key: value\nlist:\n  - é: 12\n";
        let doc = parse_one(src, "s.yml").unwrap();
        let pairs = doc.root.as_map().unwrap();
        let key = &pairs[0].0;
        assert_eq!((key.span.start.line, key.span.start.column), (1, 1));
        assert_eq!(pairs[0].1.span.start.column, 6);
        let item = &pairs[1].1.as_seq().unwrap()[0];
        let (k, v) = &item.as_map().unwrap()[0];
        assert_eq!((k.span.start.line, k.span.start.column), (3, 5));
        assert_eq!(k.span.start.offset, src.find('é').unwrap());
        assert_eq!(
            (v.span.start.column, v.span.start.offset),
            (8, src.find("12").unwrap())
        );
        assert_eq!(&src[v.span.start.offset..v.span.end.offset], "12");
    }

    #[test]
    fn flow_collections_of_quoted_scalars_may_close_at_the_parent_indent() {
        // JSON pasted into YAML: PyYAML accepts these; saphyr needs the padding retry.
        check("a: {\n  \"B\": \"x\"\n}\n", r#"{s"a": {s"B": s"x"}}"#);
        check(
            "x:\n  a: [\n    \"q\"\n  ]\n  b: {\n    \"k\": [\"v\"]\n  }\nc: 1\n",
            r#"{s"x": {s"a": [s"q"], s"b": {s"k": [s"v"]}}, s"c": 1}"#,
        );
        let src = "a: {\n  \"B\": \"x\"\n}\nb: \u{e9}t\u{e9}\n";
        let doc = parse_one(src, "s.yml").unwrap();
        let b = doc.root.get("b").unwrap();
        assert_eq!((b.span.start.line, b.span.start.column), (4, 4));
        assert_eq!(
            &src[b.span.start.offset..b.span.end.offset],
            "\u{e9}t\u{e9}"
        );
        // A block scalar's text is never padded, and real errors are still reported.
        check(
            "s: |\n  }\nt: {\n \"u\": \"1\"\n}\n",
            r#"{s"s": s"}\n", s"t": {s"u": s"1"}}"#,
        );
        check_err("a: {\n  \"B\": \"x\"\n}\n}\n", "t.yml:4:1");
    }

    #[test]
    fn alias_copies_take_the_alias_position() {
        let doc = parse_one("a: &x [1]\nb: *x\n", "s.yml").unwrap();
        let b = doc.root.get("b").unwrap();
        assert_eq!((b.span.start.line, b.span.start.column), (2, 4));
        let item = &b.as_seq().unwrap()[0];
        assert_eq!((item.span.start.line, item.span.start.column), (1, 8));
    }

    #[test]
    fn syntax_errors_are_located() {
        check_err("a: [1, 2\n", "t.yml:2:1: YAML syntax error");
        check_err(
            "a: [1, 2\nb: 3\n",
            "t.yml:2:2: YAML syntax error: illegal placement of ':' indicator; is a [ or {",
        );
        check_err(
            "x: @foo\n",
            "t.yml:1:4: YAML syntax error: unexpected character: `@'; a value starting",
        );
        check_err("a:\n  - b\n  c: d\n", "t.yml:3:3: YAML syntax error: while parsing a block collection, did not find expected '-' indicator; check the indentation");
        check_err(
            "a: b: c\n",
            "t.yml:1:5: YAML syntax error: mapping values are not allowed",
        );
        check_err("- x\n y: 1\n", "t.yml:2:3: YAML syntax error");
        check_err(
            "x: {{ foo }}\n",
            "t.yml:1:4: a value that starts with \"{{\" must be quoted",
        );
        check_err(
            "? [a]\n: 1\n",
            "t.yml:1:3: a list cannot be used as a mapping key",
        );
        check_err("a:\n\t- b\n", "t.yml:2:2: YAML syntax error: tabs");
        let err = parse_one("a\n---\nb\n", "one.yml").unwrap_err();
        assert_eq!(err.pos.line, 3);
        assert!(err.message.contains("single document"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            src.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let err = parse_str(&src, "bomb.yml").unwrap_err();
        assert!(err.message.contains("document too large"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = "[".repeat(1000) + &"]".repeat(1000);
        let err = parse_str(&src, "deep.yml").unwrap_err();
        assert!(
            err.message.contains("nesting") || err.message.contains("recursion"),
            "{err}"
        );
    }
}

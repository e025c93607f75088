//! YAML loading with a source span on every node and the YAML 1.1 typing rules Ansible users
//! rely on (`yes`/`no`/`on`/`off` booleans, `0644` octal, `1:20` base 60), as PyYAML's
//! `SafeLoader` applies them.
//!
//! The event parser is `saphyr-parser`; the tree, the resolver, merge keys, anchors and the
//! error rendering are ours, so typing decisions stay under drover's control.
//!
//! Deliberate differences from PyYAML, all in the direction of "keep the text":
//! - timestamps (`2001-12-14`) stay strings;
//! - tags other than the core `!!` tags (`!vault`, `!unsafe`, anything else) are kept in
//!   [`Node::tag`] with their scalar as a string; callers decide what a tag means;
//! - integers beyond 64 bits become floats;
//! - an alias is a copy of the anchored node whose outer span is the alias' position (inner
//!   nodes keep the spans where they were written).

mod convert;
mod error;
mod load;
mod resolve;

pub use convert::{mark_unsafe, merge_hash};
pub use error::{snippet, SourceError, YamlError};
pub use load::{parse_one, parse_str};

use std::fmt;

/// A position in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line; 0 means "no position".
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Byte offset from the start of the source.
    pub offset: usize,
}

/// The extent of a node in its source, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

/// A YAML value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    /// A tag other than the core `!!` tags, as written: `!vault`, `!unsafe`. Core tags are
    /// applied while loading and not kept.
    pub tag: Option<String>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// In insertion order; merge keys are already applied and duplicate keys resolved
    /// (the last value wins, at the position of the first).
    Map(Vec<(Node, Node)>),
}

/// One document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Node,
    /// Things Ansible warns about but accepts, such as duplicate mapping keys.
    pub warnings: Vec<Warning>,
}

/// What a mapping key given twice does (Ansible's `DUPLICATE_YAML_DICT_KEY`): a warning and
/// the last value wins (the default), an error, or the last value silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKeys {
    Warn,
    Error,
    Ignore,
}

static DUPLICATE_KEYS: std::sync::OnceLock<DuplicateKeys> = std::sync::OnceLock::new();

/// Sets the duplicate-key policy for every document loaded afterwards. Like the vault keyring
/// it is a setting of the whole run, set once by the binary before anything is loaded, so the
/// many loaders need no extra parameter; later calls are ignored.
pub fn set_duplicate_keys(policy: DuplicateKeys) {
    let _ = DUPLICATE_KEYS.set(policy);
}

pub(crate) fn duplicate_keys() -> DuplicateKeys {
    DUPLICATE_KEYS.get().copied().unwrap_or(DuplicateKeys::Warn)
}

/// A non-fatal problem found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub span: Span,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.span.start.line, self.span.start.column, self.message
        )
    }
}

impl Node {
    pub fn new(kind: NodeKind, span: Span) -> Node {
        Node {
            span,
            tag: None,
            kind,
        }
    }

    /// The value for `key` when this is a mapping with a string key `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// What the node is, for messages like "expected a mapping, found a list".
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a float",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// A scalar as the text Ansible would use for it in a key or a string context (`true`,
    /// `1`, `1.5`, `null`); `None` for lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.kind {
            NodeKind::Null => "null".to_string(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => convert::float_text(*f),
            NodeKind::Str(s) => s.clone(),
            NodeKind::Seq(_) | NodeKind::Map(_) => return None,
        })
    }

    /// A positioned error about this node.
    pub fn error(&self, file: &str, src: &str, message: impl Into<String>) -> SourceError {
        SourceError::new(file, src, self.span.start, message)
    }
}

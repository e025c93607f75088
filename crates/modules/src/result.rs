//! What a module run produces.

use indexmap::IndexMap;
use minijinja::Value;

use drover_host::HostError;

/// The before/after of one file, for `--diff`.
///
/// Content diffs carry the file as text with headers (`dest`, or `path (content)` for the
/// line-editing modules, as Ansible names them). State/attribute diffs of `file` carry Ansible's
/// before/after dicts already rendered as its diff callback renders them (sorted-key JSON,
/// four-space indent) with empty headers: print those as plain `before`/`after`. Binary or
/// large (> 104448 bytes) content gets no `FileDiff` at all.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FileDiff {
    pub before_header: String,
    pub after_header: String,
    pub before: String,
    pub after: String,
}

/// The result of one module run on one host. `data` carries the module's documented return
/// values (`rc`, `stdout`, `path`, ...); `changed`, `failed` and `msg` are kept apart because the
/// engine reads them.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub changed: bool,
    pub failed: bool,
    pub msg: Option<String>,
    pub data: IndexMap<String, Value>,
    pub diff: Vec<FileDiff>,
    pub warnings: Vec<String>,
    /// Set when the module did nothing because of a condition of its own (`creates`, check
    /// mode without support).
    pub skipped: bool,
}

impl Outcome {
    pub fn ok() -> Outcome {
        Outcome::default()
    }
    pub fn changed(changed: bool) -> Outcome {
        Outcome {
            changed,
            ..Outcome::default()
        }
    }
    pub fn failed(msg: impl Into<String>) -> Outcome {
        Outcome {
            failed: true,
            msg: Some(msg.into()),
            ..Outcome::default()
        }
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Outcome {
        self.data.insert(key.to_string(), value.into());
        self
    }
    pub fn with_msg(mut self, msg: impl Into<String>) -> Outcome {
        self.msg = Some(msg.into());
        self
    }
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.data.insert(key.to_string(), value.into());
    }
}

/// Why a module could not produce an [`Outcome`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModuleError {
    /// The host primitive failed; `Unreachable` marks the host unreachable, the rest fail the
    /// task with the message.
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Args(#[from] crate::ArgsError),
    /// A failure on the controller side (missing `src`, template error), with its message.
    #[error("{0}")]
    Controller(String),
    /// The module gave up the way an Ansible module raises an exception (rather than
    /// reporting a failure): the task's message is Ansible 2.19's for that case.
    #[error("Task failed: Module failed: {0}")]
    Raised(String),
}

//! The one error type of the crate.
//!
//! Messages follow the wording Ansible users know (`'foo' is undefined`, `object of type 'dict'
//! has no attribute 'bar'`); the engine adds the task's file and line, so the error keeps its
//! parts (kind, variable, position inside the template) separate instead of pre-formatting them.

use std::fmt;

/// What kind of templating problem happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// A variable or attribute was used but is not defined.
    Undefined,
    /// The template text does not parse.
    Syntax,
    /// A variable's value refers back to itself.
    Recursion,
    /// A conditional produced something other than a boolean.
    Conditional,
    /// A lookup failed or does not exist.
    Lookup,
    /// A template file (include, import, extends, `template` lookup) was not found.
    NotFound,
    /// A filter, test, function or operation failed at run time.
    Runtime,
}

/// Where inside a template an error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateLocation {
    /// The template file name for template files; `None` for inline strings.
    pub template_name: Option<String>,
    /// 1-based line inside the template.
    pub line: usize,
    /// 1-based column inside the template, when known.
    pub column: Option<usize>,
    /// The template source line the position refers to.
    pub source_line: Option<String>,
}

/// A templating error with enough structure for the engine to point at the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub kind: TemplateErrorKind,
    /// The message alone, e.g. `'foo' is undefined`.
    pub message: String,
    /// For [`TemplateErrorKind::Undefined`]: the undefined expression (`foo`, `foo.bar`).
    pub variable: Option<String>,
    /// The position inside the template, when known (boxed: errors travel in `Result`s).
    pub location: Option<Box<TemplateLocation>>,
}

impl TemplateError {
    pub fn new(kind: TemplateErrorKind, message: impl Into<String>) -> TemplateError {
        TemplateError {
            kind,
            message: message.into(),
            variable: None,
            location: None,
        }
    }

    pub(crate) fn undefined(variable: &str, message: String) -> TemplateError {
        TemplateError {
            variable: Some(variable.to_string()),
            ..TemplateError::new(TemplateErrorKind::Undefined, message)
        }
    }

    pub(crate) fn recursion(name: &str) -> TemplateError {
        TemplateError {
            variable: Some(name.to_string()),
            ..TemplateError::new(
                TemplateErrorKind::Recursion,
                format!("Recursive loop detected in template: variable '{name}' refers to itself"),
            )
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let Some(loc) = &self.location else {
            return Ok(());
        };
        match (&loc.template_name, loc.column) {
            (Some(name), Some(col)) => write!(f, " (in {name}, line {}, column {col})", loc.line),
            (Some(name), None) => write!(f, " (in {name}, line {})", loc.line),
            (None, Some(col)) if loc.line > 1 => write!(f, " (line {}, column {col})", loc.line),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for TemplateError {}

//! The lazy variable context a template renders against.
//!
//! Ansible variables may themselves hold templates (`a: "{{ b }} x"`); they are templated when
//! read, not when defined, and only if read. [`Ctx`] is the minijinja root object: each top-level
//! name is looked up in the caller's [`VarSource`](crate::VarSource) on first access, templated if
//! it contains template markers, and cached for the rest of the render. A stack of names being
//! templated detects cycles.
//!
//! minijinja's `get_value` cannot return an error, so a variable whose own templating fails
//! reads as undefined (which keeps `default` working, as in Ansible) and the real error is kept
//! in [`Shared::failed`]; the caller reports it when the render then fails on that name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};

use crate::{Inner, Scope, TemplateError};

/// The reserved name under which functions (lookups) find the context through `State::lookup`.
pub(crate) const CTX_KEY: &str = "__drover_ctx__";

#[derive(Debug, Default)]
pub(crate) struct Shared {
    cache: Mutex<HashMap<String, Value>>,
    active: Mutex<Vec<String>>,
    failed: Mutex<HashMap<String, TemplateError>>,
}

pub(crate) struct Ctx {
    pub(crate) inner: Arc<Inner>,
    pub(crate) scope: Scope,
    /// Names that shadow the scope (the template module's `template_*` variables).
    pub(crate) locals: BTreeMap<String, Value>,
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<context>")
    }
}

impl Ctx {
    pub(crate) fn new(
        inner: Arc<Inner>,
        scope: Scope,
        locals: BTreeMap<String, Value>,
    ) -> Arc<Ctx> {
        Arc::new(Ctx {
            inner,
            scope,
            locals,
            shared: Arc::default(),
        })
    }

    /// The error a variable's own templating produced during this render, if any.
    pub(crate) fn failure(&self, name: &str) -> Option<TemplateError> {
        lock(&self.shared.failed).get(name).cloned()
    }

    /// Looks a variable up, templating its value on first access.
    pub(crate) fn resolve(self: &Arc<Self>, name: &str) -> Option<Value> {
        if let Some(v) = self.locals.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = lock(&self.shared.cache).get(name) {
            return Some(v.clone());
        }
        let raw = self.scope.vars.get(name)?;
        if !needs_templating(&raw) {
            return Some(raw);
        }
        {
            let mut active = lock(&self.shared.active);
            if active.iter().any(|n| n == name) {
                drop(active);
                lock(&self.shared.failed)
                    .entry(name.to_string())
                    .or_insert_with(|| TemplateError::recursion(name));
                return None;
            }
            active.push(name.to_string());
        }
        let result = self.inner.render_value_in(self, &raw);
        lock(&self.shared.active).retain(|n| n != name);
        match result {
            Ok(v) => {
                lock(&self.shared.cache).insert(name.to_string(), v.clone());
                Some(v)
            }
            Err(err) => {
                lock(&self.shared.failed)
                    .entry(name.to_string())
                    .or_insert(err);
                None
            }
        }
    }

    fn names(&self) -> Vec<String> {
        let mut names = self.scope.vars.names();
        names.extend(self.locals.keys().cloned());
        names.sort();
        names.dedup();
        names
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Object for Ctx {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match name {
            CTX_KEY => Some(Value::from_dyn_object(self.clone())),
            "vars"
                if !self.locals.contains_key("vars") && self.scope.vars.get("vars").is_none() =>
            {
                Some(Value::from_object(VarsView(self.clone())))
            }
            _ => self.resolve(name),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names().into_iter().map(Value::from).collect())
    }
}

/// Ansible's `vars` dictionary: every variable, templated lazily like top-level names.
#[derive(Debug)]
pub(crate) struct VarsView(pub(crate) Arc<Ctx>);

impl Object for VarsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.resolve(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.names().into_iter().map(Value::from).collect())
    }
}

/// Whether a value is or contains a string with template markers (and is not marked unsafe).
pub fn needs_templating(v: &Value) -> bool {
    match v.kind() {
        ValueKind::String => !v.is_safe() && v.as_str().is_some_and(has_markers),
        ValueKind::Seq => v
            .try_iter()
            .map(|mut it| it.any(|x| needs_templating(&x)))
            .unwrap_or(false),
        ValueKind::Map => {
            // Only plain maps hold raw template strings; objects (the variable views,
            // `hostvars`) resolve their own values and may be self-referential.
            if v.downcast_object_ref::<crate::ValueMap>().is_none() {
                return false;
            }
            v.try_iter()
                .map(|mut it| {
                    it.any(|k| {
                        needs_templating(&k)
                            || needs_templating(&v.get_item(&k).unwrap_or_default())
                    })
                })
                .unwrap_or(false)
        }
        _ => false,
    }
}

/// Whether a string contains anything Jinja would act on.
pub fn has_markers(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// A string that is never templated (Ansible's `!unsafe`).
///
/// It is carried as minijinja's "safe" string flag: Ansible never auto-escapes, so the flag is
/// free to mean "do not template this"; the value is still an ordinary string for every filter.
pub fn unsafe_string(s: impl Into<String>) -> Value {
    Value::from_safe_string(s.into())
}

/// Whether a value is a string marked with [`unsafe_string`].
pub fn is_unsafe(v: &Value) -> bool {
    v.kind() == ValueKind::String && v.is_safe()
}

//! The lazy variable context a template renders against.
//!
//! Ansible variables may themselves hold templates (`a: "{{ b }} x"`); they are templated when
//! read, not when defined, and only if read. [`Ctx`] is the minijinja root object: each top-level
//! name is looked up in the caller's [`VarSource`](crate::VarSource) on first access, templated if
//! it contains template markers, and cached for the rest of the render. A stack of names being
//! templated detects cycles.
//!
//! A mapping whose values hold templates becomes a [`LazyMap`]: each value is templated when it
//! is read, so a part nobody reads is never templated (its lookups never run, its undefined
//! names never fail), as with Ansible 2.19's lazy containers. Lazy maps live only inside one
//! render; the `Templar`'s public methods hand out plain data ([`materialize`]).
//!
//! minijinja's `get_value` cannot return an error, so a variable whose own templating fails
//! reads as undefined (which keeps `default` working, as in Ansible) and the real error is kept
//! in [`Shared::failed`]; the caller reports it when the render then fails on that name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

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
        let (raw, trusted) = self.scope.vars.get_trusted(name)?;
        if !trusted || !needs_templating(&raw) {
            return Some(raw);
        }
        if lazy_candidate(&raw) {
            let v = Value::from_object(LazyMap::new(self, raw, name));
            lock(&self.shared.cache).insert(name.to_string(), v.clone());
            return Some(v);
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

/// A mapping variable whose values are templated on first read, for the rest of the render.
pub(crate) struct LazyMap {
    /// Weak: the render's context caches this map, and must not be kept alive by it.
    ctx: Weak<Ctx>,
    raw: Value,
    /// The top-level variable it came from: a failing value is reported under that name.
    root: String,
    done: Mutex<HashMap<Value, Value>>,
    active: Mutex<Vec<Value>>,
}

impl std::fmt::Debug for LazyMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<lazy mapping {}>", self.root)
    }
}

/// A plain mapping with templates in its values (not its keys) is templated lazily.
fn lazy_candidate(v: &Value) -> bool {
    v.kind() == ValueKind::Map
        && v.downcast_object_ref::<crate::ValueMap>().is_some()
        && v.try_iter()
            .map(|mut keys| !keys.any(|k| needs_templating(&k)))
            .unwrap_or(false)
}

impl LazyMap {
    fn new(ctx: &Arc<Ctx>, raw: Value, root: &str) -> LazyMap {
        LazyMap {
            ctx: Arc::downgrade(ctx),
            raw,
            root: root.to_string(),
            done: Mutex::new(HashMap::new()),
            active: Mutex::new(Vec::new()),
        }
    }

    /// The templated value under `key`; `Ok(None)` when the key does not exist.
    fn member(&self, key: &Value) -> Result<Option<Value>, TemplateError> {
        if let Some(v) = lock(&self.done).get(key) {
            return Ok(Some(v.clone()));
        }
        let item = match self.raw.get_item(key) {
            Ok(v) if !v.is_undefined() => v,
            _ => return Ok(None),
        };
        let Some(ctx) = self.ctx.upgrade() else {
            return Ok(Some(item));
        };
        {
            let mut active = lock(&self.active);
            if active.contains(key) {
                return Err(TemplateError::recursion(&format!("{}.{key}", self.root)));
            }
            active.push(key.clone());
        }
        let result = if lazy_candidate(&item) {
            Ok(Value::from_object(LazyMap::new(&ctx, item, &self.root)))
        } else {
            ctx.inner.render_value_in(&ctx, &item)
        };
        lock(&self.active).retain(|k| k != key);
        let v = result?;
        lock(&self.done).insert(key.clone(), v.clone());
        Ok(Some(v))
    }
}

impl Object for LazyMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.member(key) {
            Ok(v) => v,
            Err(err) => {
                // Reads as undefined (so `default` applies); reported if the render fails on it.
                if let Some(ctx) = self.ctx.upgrade() {
                    lock(&ctx.shared.failed)
                        .entry(self.root.clone())
                        .or_insert(err);
                }
                None
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.raw.try_iter() {
            Ok(keys) => Enumerator::Values(keys.collect()),
            Err(_) => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        self.raw.len()
    }
}

/// Turns every [`LazyMap`] inside a value into a plain mapping, templating what was not read
/// yet; values without one are returned as they are (one read-only walk).
pub(crate) fn materialize(v: Value) -> Result<Value, TemplateError> {
    if !contains_lazy(&v) {
        return Ok(v);
    }
    if let Some(lazy) = v.downcast_object_ref::<LazyMap>() {
        let mut out = crate::ValueMap::new();
        for key in lazy.raw.try_iter().into_iter().flatten() {
            if let Some(item) = lazy.member(&key)? {
                out.insert(key, materialize(item)?);
            }
        }
        return Ok(Value::from_object(out));
    }
    match v.kind() {
        ValueKind::Map => {
            let mut out = crate::ValueMap::new();
            for key in v.try_iter().into_iter().flatten() {
                let item = v.get_item(&key).unwrap_or_default();
                out.insert(key, materialize(item)?);
            }
            Ok(Value::from_object(out))
        }
        ValueKind::Seq => {
            let mut out = Vec::new();
            for item in v.try_iter().into_iter().flatten() {
                out.push(materialize(item)?);
            }
            Ok(Value::from(out))
        }
        _ => Ok(v),
    }
}

/// Whether a value is or holds a [`LazyMap`]. Only plain maps and lists are searched: other
/// objects (`hostvars`, the variable views) resolve their own values.
fn contains_lazy(v: &Value) -> bool {
    if v.downcast_object_ref::<LazyMap>().is_some() {
        return true;
    }
    match v.kind() {
        ValueKind::Map if v.downcast_object_ref::<crate::ValueMap>().is_some() => v
            .try_iter()
            .map(|mut keys| keys.any(|k| contains_lazy(&v.get_item(&k).unwrap_or_default())))
            .unwrap_or(false),
        ValueKind::Seq if v.downcast_object_ref::<Vec<Value>>().is_some() => v
            .try_iter()
            .map(|mut items| items.any(|i| contains_lazy(&i)))
            .unwrap_or(false),
        _ => false,
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

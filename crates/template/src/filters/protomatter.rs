//! The parts of ansible-core's internal `ansible._protomatter` collection that make sense
//! without Ansible's data tags. Tests and playbooks call them by their full names.
//!
//! Tag questions (`tag_names`, `tagged_with`, `origin`, `apply_trust`, ...) are left out
//! on purpose: drover keeps no tags on values, so any answer would be made up.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::fail;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("ansible._protomatter.finalize", finalize);
    env.add_filter(
        "ansible._protomatter.python_literal_eval",
        python_literal_eval,
    );
}

/// The value as plain data, as a template's final result would be: tuples, generators and
/// other sequence-like objects become lists, mapping-like objects become dicts, lazily
/// templated variables are resolved, and anything undefined inside is an error.
fn finalize(v: Value) -> Result<Value, Error> {
    let v = crate::context::materialize(v).map_err(|e| fail(e.to_string()))?;
    plain(v)
}

fn plain(v: Value) -> Result<Value, Error> {
    match v.kind() {
        ValueKind::Undefined => Err(fail("the value to finalize is undefined")),
        ValueKind::Seq | ValueKind::Iterable => {
            let items = v.try_iter()?.map(plain).collect::<Result<Vec<_>, _>>()?;
            Ok(Value::from(items))
        }
        ValueKind::Map => {
            let mut out = crate::ValueMap::new();
            for key in v.try_iter()? {
                let item = v.get_item(&key)?;
                out.insert(key, plain(item)?);
            }
            Ok(Value::from_object(out))
        }
        _ => Ok(v),
    }
}

/// `ast.literal_eval` of a string; `ignore_errors=True` returns the input instead of failing.
fn python_literal_eval(v: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let ignore: Option<bool> = kwargs.get("ignore_errors")?;
    kwargs.assert_all_used()?;
    let parsed = match v.as_str() {
        Some(s) if v.kind() == ValueKind::String => {
            crate::pylit::parse(s.trim_start_matches([' ', '\t']))
        }
        _ => Err("The `value` to eval must be a string.".to_string()),
    };
    match parsed {
        Ok(p) => Ok(p),
        Err(_) if ignore.unwrap_or(false) => Ok(v),
        Err(e) => Err(fail(format!("python_literal_eval: {e}"))),
    }
}

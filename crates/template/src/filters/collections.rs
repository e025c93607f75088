//! Filters over lists and dictionaries.

use minijinja::value::{Kwargs, Rest, Value, ValueKind};

use crate::ValueMap;
use minijinja::{Error, State};

use super::{fail, map_value};
use crate::pyrepr::{py_repr, py_str};

fn items(v: &Value, filter: &str) -> Result<Vec<Value>, Error> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
        _ => Err(fail(format!(
            "{filter} expects a list, got {}",
            super::type_name(v)
        ))),
    }
}

fn to_map(v: &Value) -> ValueMap {
    let mut out = ValueMap::new();
    if let Ok(keys) = v.try_iter() {
        for k in keys {
            let item = v.get_item(&k).unwrap_or_default();
            out.insert(k, item);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

fn merge(a: &Value, b: &Value, recursive: bool, lm: ListMerge) -> Value {
    if a.kind() == ValueKind::Map && b.kind() == ValueKind::Map {
        let mut out = to_map(a);
        for (k, bv) in to_map(b) {
            let merged = match out.get(&k) {
                Some(av)
                    if recursive && av.kind() == ValueKind::Map && bv.kind() == ValueKind::Map =>
                {
                    merge(av, &bv, recursive, lm)
                }
                Some(av) if av.kind() == ValueKind::Seq && bv.kind() == ValueKind::Seq => {
                    merge_lists(av, &bv, lm)
                }
                _ => bv,
            };
            out.insert(k, merged);
        }
        return Value::from_object(out);
    }
    b.clone()
}

fn merge_lists(a: &Value, b: &Value, lm: ListMerge) -> Value {
    let av: Vec<Value> = a.try_iter().map(Iterator::collect).unwrap_or_default();
    let bv: Vec<Value> = b.try_iter().map(Iterator::collect).unwrap_or_default();
    let out: Vec<Value> = match lm {
        ListMerge::Replace => bv,
        ListMerge::Keep => av,
        ListMerge::Append => av.into_iter().chain(bv).collect(),
        ListMerge::Prepend => bv.into_iter().chain(av).collect(),
        ListMerge::AppendRp => av
            .into_iter()
            .filter(|x| !bv.contains(x))
            .chain(bv.iter().cloned())
            .collect(),
        ListMerge::PrependRp => bv
            .iter()
            .cloned()
            .chain(av.into_iter().filter(|x| !bv.contains(x)))
            .collect(),
    };
    Value::from(out)
}

/// `combine(*dicts, recursive=False, list_merge='replace')`.
pub(crate) fn combine(v: Value, others: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let recursive = kw.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let lm = match kw.get::<Option<String>>("list_merge")?.as_deref() {
        None | Some("replace") => ListMerge::Replace,
        Some("keep") => ListMerge::Keep,
        Some("append") => ListMerge::Append,
        Some("prepend") => ListMerge::Prepend,
        Some("append_rp") => ListMerge::AppendRp,
        Some("prepend_rp") => ListMerge::PrependRp,
        Some(other) => return Err(fail(format!("combine: unknown list_merge value '{other}'"))),
    };
    if kw.args().any(|k| k != "recursive" && k != "list_merge") {
        return Err(fail(
            "'recursive' and 'list_merge' are the only valid keyword arguments",
        ));
    }
    let mut dicts = Vec::new();
    // The arguments are flattened one level with nulls dropped, as Ansible does
    // (`None | combine` is `{}`).
    let is_null =
        |d: &Value| d.is_none() || d.is_undefined() || matches!(d.as_str(), Some("None" | "null"));
    for d in std::iter::once(v).chain(others.iter().cloned()) {
        if is_null(&d) {
            continue;
        }
        match d.kind() {
            ValueKind::Map => dicts.push(d),
            ValueKind::Seq => dicts.extend(d.try_iter()?.filter(|x| !is_null(x))),
            _ => {
                return Err(fail(format!(
                    "failed to combine variables, expected dicts but got a '{}'",
                    super::type_name(&d)
                )))
            }
        }
    }
    let mut acc = Value::from_object(ValueMap::new());
    for d in dicts {
        if d.kind() != ValueKind::Map {
            return Err(fail(format!(
                "failed to combine variables, expected dicts but got a '{}'",
                super::type_name(&d)
            )));
        }
        // Non-recursive combine still applies list_merge to top-level lists, as Ansible does.
        acc = merge(&acc, &d, recursive, lm);
    }
    Ok(acc)
}

pub(crate) fn dict2items(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let key_name = kw
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name = kw
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    kw.assert_all_used()?;
    if v.is_undefined() {
        // An undefined input is an undefined-variable error (so a false `when` can still skip
        // a task whose loop uses it), not a type error.
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "dict2items requires a dictionary, got an undefined value",
        ));
    }
    if v.kind() != ValueKind::Map {
        return Err(fail(format!(
            "dict2items requires a dictionary, got {} instead.",
            super::type_name(&v)
        )));
    }
    Ok(Value::from(
        to_map(&v)
            .into_iter()
            .map(|(k, val)| map_value([(key_name.clone(), k), (value_name.clone(), val)]))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn items2dict(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let key_name = kw
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name = kw
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    kw.assert_all_used()?;
    let list: Vec<Value> = match v.kind() {
        ValueKind::Seq | ValueKind::Iterable => v.try_iter()?.collect(),
        _ => {
            return Err(fail(format!(
                "items2dict requires a list, got <class '{}'> instead.",
                super::type_name(&v)
            )))
        }
    };
    let mut out = ValueMap::new();
    for item in &list {
        if item.kind() != ValueKind::Map {
            return Err(fail(format!(
                "items2dict requires a list of dictionaries, got {} instead.",
                py_repr(&v)
            )));
        }
        let field = |name: &str| {
            item.get_item(&Value::from(name))
                .ok()
                .filter(|x| !x.is_undefined())
        };
        match (field(&key_name), field(&value_name)) {
            (Some(k), Some(val)) => {
                out.insert(k, val);
            }
            _ => {
                return Err(fail(format!(
                    "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}', got {} instead.",
                    py_repr(&v)
                )))
            }
        }
    }
    Ok(Value::from_object(out))
}

fn flatten_into(out: &mut Vec<Value>, v: &Value, levels: Option<usize>, skip_nulls: bool) {
    for item in v.try_iter().into_iter().flatten() {
        if skip_nulls && (item.is_none() || item.as_str() == Some("None")) {
            continue;
        }
        if item.kind() == ValueKind::Seq && levels != Some(0) {
            flatten_into(out, &item, levels.map(|l| l.saturating_sub(1)), skip_nulls);
        } else {
            out.push(item);
        }
    }
}

/// `flatten(levels=None, skip_nulls=True)`.
pub(crate) fn flatten(v: Value, levels: Option<usize>, kw: Kwargs) -> Result<Value, Error> {
    let levels = super::or_kw(levels, &kw, "levels")?;
    let skip_nulls = kw.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kw.assert_all_used()?;
    let mut out = Vec::new();
    flatten_into(&mut out, &v, levels, skip_nulls);
    Ok(Value::from(out))
}

fn dedup(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

pub(crate) fn union(a: Value, b: Value) -> Result<Value, Error> {
    Ok(Value::from(dedup(
        items(&a, "union")?.into_iter().chain(items(&b, "union")?),
    )))
}

pub(crate) fn intersect(a: Value, b: Value) -> Result<Value, Error> {
    let bv = items(&b, "intersect")?;
    Ok(Value::from(dedup(
        items(&a, "intersect")?
            .into_iter()
            .filter(|x| bv.contains(x)),
    )))
}

pub(crate) fn difference(a: Value, b: Value) -> Result<Value, Error> {
    let bv = items(&b, "difference")?;
    Ok(Value::from(dedup(
        items(&a, "difference")?
            .into_iter()
            .filter(|x| !bv.contains(x)),
    )))
}

pub(crate) fn symmetric_difference(a: Value, b: Value) -> Result<Value, Error> {
    let av = items(&a, "symmetric_difference")?;
    let bv = items(&b, "symmetric_difference")?;
    let both: Vec<Value> = av.iter().filter(|x| bv.contains(x)).cloned().collect();
    Ok(Value::from(dedup(
        av.into_iter().chain(bv).filter(|x| !both.contains(x)),
    )))
}

fn lists(first: Value, rest: &Rest<Value>, name: &str) -> Result<Vec<Vec<Value>>, Error> {
    std::iter::once(first)
        .chain(rest.iter().cloned())
        .map(|l| items_or_chars(&l, name))
        .collect()
}

fn items_or_chars(v: &Value, name: &str) -> Result<Vec<Value>, Error> {
    if let Some(s) = v.as_str() {
        return Ok(s.chars().map(|c| Value::from(c.to_string())).collect());
    }
    items(v, name)
}

pub(crate) fn zip(first: Value, rest: Rest<Value>) -> Result<Value, Error> {
    let ls = lists(first, &rest, "zip")?;
    let n = ls.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(ls.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn zip_longest(first: Value, rest: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let fill = kw
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    kw.assert_all_used()?;
    let ls = lists(first, &rest, "zip_longest")?;
    let n = ls.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| {
                Value::from(
                    ls.iter()
                        .map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn cartesian(ls: &[Vec<Value>]) -> Vec<Value> {
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for l in ls {
        let mut next = Vec::new();
        for prefix in &acc {
            for item in l {
                let mut p = prefix.clone();
                p.push(item.clone());
                next.push(p);
            }
        }
        acc = next;
    }
    acc.into_iter().map(Value::from).collect()
}

pub(crate) fn product(first: Value, rest: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let repeat = kw.get::<Option<usize>>("repeat")?.unwrap_or(1);
    kw.assert_all_used()?;
    let ls = lists(first, &rest, "product")?;
    let all: Vec<Vec<Value>> = (0..repeat).flat_map(|_| ls.iter().cloned()).collect();
    Ok(Value::from(cartesian(&all)))
}

pub(crate) fn permutations(v: Value, r: Option<usize>) -> Result<Value, Error> {
    let pool = items_or_chars(&v, "permutations")?;
    let r = r.unwrap_or(pool.len());
    let mut out = Vec::new();
    fn rec(pool: &[Value], used: &mut Vec<usize>, r: usize, out: &mut Vec<Value>) {
        if used.len() == r {
            out.push(Value::from(
                used.iter().map(|&i| pool[i].clone()).collect::<Vec<_>>(),
            ));
            return;
        }
        for i in 0..pool.len() {
            if !used.contains(&i) {
                used.push(i);
                rec(pool, used, r, out);
                used.pop();
            }
        }
    }
    if r <= pool.len() {
        rec(&pool, &mut Vec::new(), r, &mut out);
    }
    Ok(Value::from(out))
}

pub(crate) fn combinations(v: Value, r: usize) -> Result<Value, Error> {
    let pool = items_or_chars(&v, "combinations")?;
    let mut out = Vec::new();
    fn rec(pool: &[Value], start: usize, cur: &mut Vec<Value>, r: usize, out: &mut Vec<Value>) {
        if cur.len() == r {
            out.push(Value::from(cur.clone()));
            return;
        }
        for i in start..pool.len() {
            cur.push(pool[i].clone());
            rec(pool, i + 1, cur, r, out);
            cur.pop();
        }
    }
    rec(&pool, 0, &mut Vec::new(), r, &mut out);
    Ok(Value::from(out))
}

/// `key | extract(container, morekeys=None)`.
pub(crate) fn extract(
    key: Value,
    container: Value,
    morekeys: Option<Value>,
) -> Result<Value, Error> {
    // A missing container or key is undefined, not an error, so `| default` applies.
    let step = |v: &Value, k: &Value| {
        if v.is_undefined() || v.is_none() {
            Value::UNDEFINED
        } else {
            v.get_item(k).unwrap_or(Value::UNDEFINED)
        }
    };
    let mut v = step(&container, &key);
    if let Some(more) = morekeys {
        let keys: Vec<Value> = match more.kind() {
            ValueKind::Seq => more.try_iter()?.collect(),
            _ => vec![more],
        };
        for k in keys {
            v = step(&v, &k);
        }
    }
    Ok(v)
}

/// `subelements(subelement_path, skip_missing=False)`: `[item, subitem]` pairs.
pub(crate) fn subelements(
    v: Value,
    path: Value,
    skip_missing: Option<bool>,
    kw: Kwargs,
) -> Result<Value, Error> {
    let skip_missing = super::or_kw(skip_missing, &kw, "skip_missing")?.unwrap_or(false);
    kw.assert_all_used()?;
    let elements: Vec<Value> = match v.kind() {
        ValueKind::Map => to_map(&v).into_values().collect(),
        ValueKind::Seq => v.try_iter()?.collect(),
        _ => return Err(fail("obj must be a list of dicts or a nested dict")),
    };
    let keys: Vec<Value> = match path.kind() {
        ValueKind::Seq => path.try_iter()?.collect(),
        ValueKind::String => py_str(&path).split('.').map(Value::from).collect(),
        _ => return Err(fail("subelements must be a list or a string")),
    };
    let mut out = Vec::new();
    for el in elements {
        let mut values = el.clone();
        let mut last = Value::from("");
        let mut skipped = false;
        for key in &keys {
            last = key.clone();
            if values.kind() != ValueKind::Map {
                return Err(fail(format!(
                    "the key {} should point to a dictionary, got '{}'",
                    py_str(key),
                    py_str(&values)
                )));
            }
            match values.get_item(key) {
                Ok(x) if !x.is_undefined() => values = x,
                _ if skip_missing => {
                    skipped = true;
                    break;
                }
                _ => {
                    return Err(fail(format!(
                        "could not find {} key in iterated item {}",
                        py_repr(key),
                        py_repr(&values)
                    )))
                }
            }
        }
        if skipped {
            continue;
        }
        if values.kind() != ValueKind::Seq {
            return Err(fail(format!(
                "the key {} should point to a list, got {}",
                py_repr(&last),
                py_repr(&values)
            )));
        }
        // Python tuples, which compare unequal to lists, as in Ansible.
        for s in values.try_iter()? {
            out.push(Value::from_object(minijinja::value::Tuple::from([
                el.clone(),
                s,
            ])));
        }
    }
    Ok(Value::from(out))
}

/// `random(start=0, step=1, seed=None)`: an item of a list or a number below an integer.
pub(crate) fn random(_state: &State, v: Value, kw: Kwargs) -> Result<Value, Error> {
    let seed = kw.get::<Option<Value>>("seed")?;
    let start_arg = kw.get::<Option<i64>>("start")?;
    let step_arg = kw.get::<Option<i64>>("step")?;
    kw.assert_all_used()?;
    let start = start_arg.unwrap_or(0);
    let step = step_arg.unwrap_or(1).max(1);
    let is_int = v.is_integer() && v.kind() == ValueKind::Number;
    if !is_int {
        if !matches!(
            v.kind(),
            ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::String
        ) {
            return Err(fail("random can only be used on sequences and integers"));
        }
        if start_arg.is_some_and(|s| s != 0) || step_arg.is_some_and(|s| s != 0) {
            return Err(fail("start and step can only be used with integer values"));
        }
    }
    let mut state = match &seed {
        Some(s) => fnv(py_str(s).as_bytes()),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9),
    };
    // xorshift64*: not cryptographic, as Ansible documents for the filter.
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    if let Some(n) = v.as_i64().filter(|_| v.is_integer()) {
        let count = (n - start).max(0) / step + i64::from((n - start) % step != 0);
        if count <= 0 {
            return Err(fail("random: empty range"));
        }
        let pick = (next() % count as u64) as i64;
        return Ok(Value::from(start + pick * step));
    }
    let pool = items_or_chars(&v, "random")?;
    if pool.is_empty() {
        return Err(fail("random: empty sequence"));
    }
    Ok(pool[(next() % pool.len() as u64) as usize].clone())
}

/// `shuffle(seed=None)` (Ansible's `randomize_list`): the items in random order; what is not
/// a list (`22 | shuffle`) is returned unchanged. A seed gives a repeatable order.
pub(crate) fn shuffle(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let seed = kw.get::<Option<Value>>("seed")?;
    kw.assert_all_used()?;
    let mut items: Vec<Value> = match v.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => v.try_iter()?.collect(),
        ValueKind::String => items_or_chars(&v, "shuffle")?,
        _ => return Ok(v),
    };
    let mut state = match &seed {
        Some(s) if s.is_true() => fnv(py_str(s).as_bytes()),
        _ => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9e37_79b9)
                | 1
        }
    };
    // Fisher-Yates with xorshift64*, as `random` uses.
    for i in (1..items.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let j = (r % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    Ok(Value::from(items))
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 1
}

/// Ansible's `unique`: Jinja2's, whose case folding or `attribute` cannot compare unhashable
/// items (mappings, lists); Ansible's fallback handles those only without either option.
pub(crate) fn unique(state: &State, values: Value, kwargs: Kwargs) -> Result<Value, Error> {
    if !matches!(
        values.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::String
    ) {
        return Err(fail(format!(
            "'{}' object is not iterable",
            super::type_name(&values)
        )));
    }
    let explicit_insensitive = kwargs.get::<Option<bool>>("case_sensitive")? == Some(false);
    let attribute = kwargs.get::<Option<Value>>("attribute")?.is_some();
    if explicit_insensitive || attribute {
        let unhashable = values
            .try_iter()?
            .any(|v| matches!(v.kind(), ValueKind::Seq | ValueKind::Map));
        if unhashable && !attribute {
            return Err(fail(
                "Jinja2's unique filter failed and we cannot fall back to Ansible's version as it does not support the parameters supplied",
            ));
        }
    }
    minijinja::filters::unique(state, values, kwargs)
}

/// `rekey_on_member(key, duplicates='error')`: a list (or a mapping's values) of mappings as a
/// mapping keyed by each one's `key`.
pub(crate) fn rekey_on_member(
    data: Value,
    key: Value,
    duplicates: Option<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let duplicates =
        super::or_kw(duplicates, &kwargs, "duplicates")?.unwrap_or_else(|| "error".into());
    kwargs.assert_all_used()?;
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(fail(format!(
            "duplicates parameter to rekey_on_member has unknown value: {duplicates}"
        )));
    }
    let items: Vec<Value> = match data.kind() {
        ValueKind::Map => data
            .try_iter()?
            .map(|k| data.get_item(&k))
            .collect::<Result<_, _>>()?,
        ValueKind::Seq | ValueKind::Iterable => data.try_iter()?.collect(),
        _ => return Err(fail("Type is not a valid list, set, or dict")),
    };
    let mut out = ValueMap::new();
    for item in items {
        if item.kind() != ValueKind::Map {
            return Err(fail("List item is not a valid dict"));
        }
        let elem = item.get_item(&key)?;
        if elem.is_undefined() {
            return Err(fail(format!("Key {} was not found", py_str(&key))));
        }
        if out.contains_key(&elem) && duplicates == "error" {
            return Err(fail(format!(
                "Key {} is not unique, cannot convert to dict",
                py_str(&elem)
            )));
        }
        out.insert(elem, item);
    }
    Ok(Value::from_object(out))
}

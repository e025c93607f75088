//! `debconf`: answers in the debconf database (`debconf-set-selections`), compared first with
//! what `debconf-show` reports so that an unchanged answer changes nothing.

use std::collections::BTreeMap;

use drover_host::ExecRequest;
use minijinja::value::{Value, ValueKind};

use crate::accounts;
use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Debconf;

static SPEC: ModuleSpec = ModuleSpec {
    name: "debconf",
    args: &[
        ArgDef::new("name", ArgKind::Str)
            .aliases(&["pkg"])
            .required(),
        ArgDef::new("question", ArgKind::Str).aliases(&["selection", "setting"]),
        ArgDef::new("vtype", ArgKind::Str).choices(&[
            "boolean",
            "error",
            "multiselect",
            "note",
            "password",
            "seen",
            "select",
            "string",
            "text",
            "title",
        ]),
        ArgDef::new("value", ArgKind::Raw).aliases(&["answer"]),
        ArgDef::new("unseen", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// `debconf-show` output: `* question: value` (the `*` marks a seen question).
pub(crate) fn parse_show(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((
                k.trim().trim_start_matches('*').trim().to_string(),
                v.trim().to_string(),
            ))
        })
        .collect()
}

/// The answer as debconf stores it: booleans in lower case, a multiselect list joined.
fn answer_text(vtype: &str, value: &Value) -> String {
    let text = if value.kind() == ValueKind::Seq {
        let mut items: Vec<String> = value
            .try_iter()
            .into_iter()
            .flatten()
            .map(|v| py_scalar(&v))
            .collect();
        if vtype == "multiselect" {
            items.sort();
        }
        items.join(", ")
    } else {
        py_scalar(value)
    };
    if vtype == "boolean" {
        text.to_lowercase()
    } else {
        text
    }
}

/// Python's `str()` for the scalar answers a task gives (`True`, `5`, text).
fn py_scalar(v: &Value) -> String {
    match v.kind() {
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.to_string(),
        ValueKind::None | ValueKind::Undefined => "None".to_string(),
        _ => v.as_str().map_or_else(|| v.to_string(), str::to_string),
    }
}

/// A multiselect answer as a sorted set, for comparison.
fn sorted_items(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split(',').map(|i| i.trim().to_string()).collect();
    v.sort();
    v
}

#[async_trait::async_trait]
impl Module for Debconf {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let pkg = args.string("name").unwrap_or_default();
        let question = args.string("question");
        let vtype = args.string("vtype");
        let value = args.get("value").cloned();
        let given = [question.is_some(), vtype.is_some(), value.is_some()];
        if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
            return Ok(Outcome::failed(
                "parameters are required together: question, vtype, value",
            ));
        }
        let show = accounts::run(
            ctx,
            vec![
                "sh".into(),
                "-c".into(),
                format!("debconf-show {}", sh_quote(&pkg)),
            ],
            &[],
        )
        .await?;
        if show.out.rc != 0 {
            return Ok(Outcome::failed(
                String::from_utf8_lossy(&show.out.stderr).trim().to_string(),
            ));
        }
        let prev = parse_show(&show.stdout());
        let (Some(question), Some(vtype), Some(value)) = (question, vtype, value) else {
            let mut out = Outcome::ok();
            out.set("msg", Value::from(""));
            out.set("current", Value::from_pairs(prev.clone()));
            return Ok(out);
        };
        let answer = answer_text(&vtype, &value);
        let changed = match prev.get(&question) {
            None => true,
            Some(existing) => match vtype.as_str() {
                "boolean" => existing.to_lowercase() != answer,
                "multiselect" => sorted_items(existing) != sorted_items(&answer),
                // debconf-show hides passwords; debconf-get-selections (debconf-utils) tells.
                "password" => password_of(ctx, &pkg, &question).await?.as_deref() != Some(&answer),
                _ => *existing != answer,
            },
        };
        let mut out = Outcome::ok();
        if changed {
            if !ctx.check {
                let mut argv = vec!["debconf-set-selections".to_string()];
                if args.bool("unseen", false) {
                    argv.push("-u".into());
                }
                let mut req = ExecRequest::argv(argv);
                req.env = ctx.env.clone();
                req.stdin = Some(format!("{pkg} {question} {vtype} {answer}").into_bytes());
                let set = ctx.host.exec(&req).await?;
                if set.rc != 0 {
                    return Ok(Outcome::failed(
                        String::from_utf8_lossy(&set.stderr).trim().to_string(),
                    ));
                }
            }
            out.changed = true;
            let previous = prev.get(&question).cloned().unwrap_or_default();
            let shown = |v: &str| {
                if vtype == "password" {
                    "********".to_string()
                } else {
                    v.to_string()
                }
            };
            out.set(
                "previous",
                Value::from_pairs([(question.clone(), shown(&previous))]),
            );
            out.set(
                "current",
                Value::from_pairs([(question.clone(), shown(&answer))]),
            );
        } else {
            out.set("current", Value::from_pairs(prev.clone()));
        }
        out.set("msg", Value::from(""));
        Ok(out)
    }
}

/// The stored password answer, when debconf-get-selections can tell it.
async fn password_of(
    ctx: &Context<'_>,
    pkg: &str,
    question: &str,
) -> Result<Option<String>, ModuleError> {
    let ran = accounts::run(
        ctx,
        vec![
            "sh".into(),
            "-c".into(),
            "command -v debconf-get-selections >/dev/null && debconf-get-selections".into(),
        ],
        &[],
    )
    .await?;
    if ran.out.rc != 0 {
        return Ok(None);
    }
    Ok(ran.stdout().lines().find_map(|l| {
        let mut f = l.splitn(4, char::is_whitespace);
        let (p, q, _t) = (f.next()?, f.next()?, f.next()?);
        (p == pkg && q == question).then(|| f.next().unwrap_or_default().trim().to_string())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output() {
        let m = parse_show("* tzdata/Areas: Europe\n  tzdata/Zones/Europe: Berlin\n  locales/default_environment_locale: None\n");
        assert_eq!(m["tzdata/Areas"], "Europe");
        assert_eq!(m["tzdata/Zones/Europe"], "Berlin");
    }

    #[test]
    fn answers_as_debconf_stores_them() {
        assert_eq!(answer_text("boolean", &Value::from(true)), "true");
        assert_eq!(
            answer_text("multiselect", &Value::from(vec!["b", "a"])),
            "a, b"
        );
        assert_eq!(answer_text("string", &Value::from(5)), "5");
    }
}

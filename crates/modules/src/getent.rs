//! `getent`: reads a name service database on the host with `getent(1)` and returns it as the
//! fact `getent_<database>`.

use indexmap::IndexMap;
use minijinja::Value;

use crate::accounts;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Getent;

static SPEC: ModuleSpec = ModuleSpec {
    name: "getent",
    args: &[
        ArgDef::new("database", ArgKind::Str).required(),
        ArgDef::new("key", ArgKind::Str),
        ArgDef::new("split", ArgKind::Str),
        ArgDef::new("fail_key", ArgKind::Bool),
        ArgDef::new("service", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Databases whose records are `:`-separated; the others split on whitespace.
const COLON_SEPARATED: &[&str] = &["passwd", "shadow", "group", "gshadow"];

/// Turns `getent` output into `{first field: [other fields]}`. A key seen more than once gets
/// the list of all its records instead.
pub(crate) fn parse(database: &str, split: Option<&str>, text: &str) -> Value {
    let sep = split.or(COLON_SEPARATED.contains(&database).then_some(":"));
    let mut seen: IndexMap<String, Vec<Vec<String>>> = IndexMap::new();
    for line in text.lines() {
        let fields: Vec<String> = match sep {
            Some(s) if !s.is_empty() => line.split(s).map(str::to_string).collect(),
            _ => line.split_whitespace().map(str::to_string).collect(),
        };
        let Some((key, rest)) = fields.split_first() else {
            continue;
        };
        seen.entry(key.clone()).or_default().push(rest.to_vec());
    }
    Value::from_pairs(seen.into_iter().map(|(k, mut records)| {
        let v = if records.len() == 1 {
            Value::from(records.remove(0))
        } else {
            Value::from(records.into_iter().map(Value::from).collect::<Vec<_>>())
        };
        (k, v)
    }))
}

#[async_trait::async_trait]
impl Module for Getent {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let database = args.string("database").unwrap_or_default();
        let mut argv = vec!["getent".to_string()];
        if let Some(s) = args.str("service") {
            argv.extend(["-s".into(), s.into()]);
        }
        argv.push(database.clone());
        if let Some(k) = args.str("key") {
            argv.push(k.into());
        }
        let ran = accounts::run(ctx, argv, &[]).await?;
        let fact = Value::from_pairs([(
            format!("getent_{database}"),
            parse(&database, args.str("split"), &ran.stdout()),
        )]);
        let msg = match ran.out.rc {
            0 => return Ok(Outcome::ok().with("ansible_facts", fact)),
            1 => "Missing arguments, or database unknown.",
            2 if !args.bool("fail_key", true) => {
                return Ok(Outcome::ok()
                    .with("ansible_facts", fact)
                    .with_msg("One or more supplied key could not be found in the database."))
            }
            2 => "One or more supplied key could not be found in the database.",
            3 => "Enumeration not supported on this database.",
            _ => "Unexpected failure!",
        };
        let mut out = Outcome::failed(msg).with("ansible_facts", fact);
        out.set("rc", ran.out.rc);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let v = parse(
            "passwd",
            None,
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
        );
        assert_eq!(
            v.get_attr("root").unwrap().to_string(),
            r#"['x', '0', '0', 'root', '/root', '/bin/bash']"#
        );
        let v = parse(
            "hosts",
            None,
            "127.0.0.1       localhost\n::1 localhost ip6-localhost\n",
        );
        assert_eq!(
            v.get_attr("127.0.0.1").unwrap().to_string(),
            r#"['localhost']"#
        );
        let v = parse("services", None, "http 80/tcp www\nhttp 80/udp\n");
        assert_eq!(
            v.get_attr("http").unwrap().to_string(),
            r#"[['80/tcp', 'www'], ['80/udp']]"#
        );
        let v = parse("group", Some(","), "a,b,c\n");
        assert_eq!(v.get_attr("a").unwrap().to_string(), r#"['b', 'c']"#);
    }
}

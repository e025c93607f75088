//! `dpkg_selections`: a package's dpkg selection (`install`, `hold`, `deinstall`, `purge`), as
//! `apt-mark hold` and friends set it.

use drover_host::ExecRequest;
use minijinja::Value;

use crate::accounts;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct DpkgSelections;

static SPEC: ModuleSpec = ModuleSpec {
    name: "dpkg_selections",
    args: &[
        ArgDef::new("name", ArgKind::Str).required(),
        ArgDef::new("selection", ArgKind::Str)
            .choices(&["install", "hold", "deinstall", "purge"])
            .required(),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// The selection in `dpkg --get-selections NAME` output, or `not present`.
pub(crate) fn current_selection(out: &str) -> String {
    out.split_whitespace()
        .nth(1)
        .map_or_else(|| "not present".to_string(), str::to_string)
}

#[async_trait::async_trait]
impl Module for DpkgSelections {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let name = args.string("name").unwrap_or_default();
        let selection = args.string("selection").unwrap_or_default();
        let ran = accounts::run(
            ctx,
            vec!["dpkg".into(), "--get-selections".into(), name.clone()],
            &[],
        )
        .await?;
        let err = String::from_utf8_lossy(&ran.out.stderr).into_owned();
        if err.contains("no packages found matching") {
            return Ok(Outcome::failed(format!(
                "Failed to find package '{name}' to perform selection '{selection}'."
            )));
        }
        if ran.out.rc != 0 {
            return Ok(Outcome::failed(err.trim().to_string()));
        }
        let current = current_selection(&ran.stdout());
        let changed = current != selection;
        if changed && !ctx.check {
            let mut req = ExecRequest::argv(["dpkg", "--set-selections"]);
            req.env = ctx.env.clone();
            req.env.insert("LC_ALL".into(), "C".into());
            req.stdin = Some(format!("{name} {selection}").into_bytes());
            let set = ctx.host.exec(&req).await?;
            if set.rc != 0 {
                return Ok(Outcome::failed(
                    String::from_utf8_lossy(&set.stderr).trim().to_string(),
                ));
            }
        }
        let mut out = Outcome::ok();
        out.changed = changed;
        out.set("before", Value::from(current));
        out.set("after", Value::from(selection));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_from_dpkg_output() {
        assert_eq!(current_selection("bash\t\t\t\t\thold\n"), "hold");
        assert_eq!(current_selection(""), "not present");
    }
}

//! `raw`: runs a command through the host's login shell without the helper.

use crate::command::finish;
use crate::util::sh_quote;
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Raw;

static SPEC: ModuleSpec = ModuleSpec {
    name: "raw",
    args: &[ArgDef::new("executable", ArgKind::Path)],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: false,
};

#[async_trait::async_trait]
impl Module for Raw {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let Some(cmd) = args.raw_params().filter(|c| !c.trim().is_empty()) else {
            return Ok(Outcome::failed("no command given").with("rc", 256));
        };
        let line = match args.str("executable") {
            Some(exe) => format!("{} -c {}", sh_quote(exe), sh_quote(cmd)),
            None => cmd.to_string(),
        };
        let r = ctx.host.raw(&line).await?;
        // Ansible's raw returns the output as the connection delivered it, untrimmed, and no
        // timing fields.
        let mut out = finish(Outcome::ok(), &r, false);
        for key in ["start", "end", "delta"] {
            out.data.shift_remove(key);
        }
        if !out.failed {
            out.msg = None;
        }
        Ok(out)
    }
}

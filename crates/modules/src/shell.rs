//! `shell`: runs a command line through `/bin/sh` (or `executable`) on the host.

use crate::command::{run, Flavour};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Shell;

static SPEC: ModuleSpec = ModuleSpec {
    name: "shell",
    args: &[
        ArgDef::new("cmd", ArgKind::Str),
        ArgDef::new("chdir", ArgKind::Path),
        ArgDef::new("creates", ArgKind::Path),
        ArgDef::new("removes", ArgKind::Path),
        ArgDef::new("executable", ArgKind::Path),
        ArgDef::new("stdin", ArgKind::Str),
        ArgDef::new("stdin_add_newline", ArgKind::Bool),
        ArgDef::new("strip_empty_ends", ArgKind::Bool),
        ArgDef::new("warn", ArgKind::Bool),
        // Not a shell option: Ansible's shell action refuses it when the task runs, so it passes
        // static validation and fails then.
        ArgDef::new("expand_argument_vars", ArgKind::Bool),
    ],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

#[async_trait::async_trait]
impl Module for Shell {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        if args.has("expand_argument_vars") {
            return Ok(Outcome::failed(
                "Unsupported parameters for (shell) module: expand_argument_vars",
            ));
        }
        run(args, ctx, Flavour::Shell).await
    }
}

//! `ping`: proves the host is reachable and the helper answers.

use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Ping;

static SPEC: ModuleSpec = ModuleSpec {
    name: "ping",
    args: &[ArgDef::new("data", ArgKind::Str)],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

#[async_trait::async_trait]
impl Module for Ping {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let data = args.str("data").unwrap_or("pong");
        if data == "crash" {
            // Ansible's ping raises an exception here, for testing error handling.
            return Err(ModuleError::Raised("boom".into()));
        }
        // One real round trip, so `ping` fails when the host does.
        ctx.host
            .stat("/", drover_host::StatOptions::default())
            .await?;
        Ok(Outcome::ok().with("ping", data))
    }
}

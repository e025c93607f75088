//! `slurp`: returns a file's content, base64-encoded.

use base64::Engine;
use drover_host::{HostError, IoKind};

use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Slurp;

static SPEC: ModuleSpec = ModuleSpec {
    name: "slurp",
    args: &[ArgDef::new("src", ArgKind::Path)
        .required()
        .aliases(&["path"])],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

#[async_trait::async_trait]
impl Module for Slurp {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let src = args.string("src").unwrap_or_default();
        let data = match ctx.host.read(&src).await {
            Ok(d) => d,
            Err(HostError::Io { kind, .. }) if kind != IoKind::Other => {
                let msg = match kind {
                    IoKind::NotFound => format!("file not found: {src}"),
                    IoKind::IsADirectory => {
                        format!("source is a directory and must be a file: {src}")
                    }
                    IoKind::PermissionDenied => format!("file is not readable: {src}"),
                    _ => format!("unable to slurp file: {src}"),
                };
                return Ok(Outcome::failed(msg));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Outcome::ok()
            .with(
                "content",
                base64::engine::general_purpose::STANDARD.encode(data),
            )
            .with("encoding", "base64")
            .with("source", src))
    }
}

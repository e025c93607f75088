//! `template`: renders a Jinja2 template on the controller and places the result like `copy`.

use crate::copy::{place, Placement};
use crate::util::check_validate;
use crate::{
    ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome, TemplateOptions,
};

pub struct Template;

static SPEC: ModuleSpec = ModuleSpec {
    name: "template",
    args: &[
        ArgDef::new("src", ArgKind::Path).required(),
        ArgDef::new("dest", ArgKind::Path).required(),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool),
        ArgDef::new("validate", ArgKind::Str),
        ArgDef::new("follow", ArgKind::Bool),
        ArgDef::new("newline_sequence", ArgKind::Str).choices(&["\\n", "\\r", "\\r\\n"]),
        ArgDef::new("output_encoding", ArgKind::Str),
        ArgDef::new("unsafe_writes", ArgKind::Bool),
        ArgDef::new("trim_blocks", ArgKind::Bool),
        ArgDef::new("lstrip_blocks", ArgKind::Bool),
        ArgDef::new("block_start_string", ArgKind::Str),
        ArgDef::new("block_end_string", ArgKind::Str),
        ArgDef::new("variable_start_string", ArgKind::Str),
        ArgDef::new("variable_end_string", ArgKind::Str),
        ArgDef::new("comment_start_string", ArgKind::Str),
        ArgDef::new("comment_end_string", ArgKind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

#[async_trait::async_trait]
impl Module for Template {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let src = args.string("src").unwrap_or_default();
        let dest = args.string("dest").unwrap_or_default();
        if let Some(enc) = args.str("output_encoding") {
            let e = enc.to_ascii_lowercase().replace('_', "-");
            if e != "utf-8" && e != "utf8" {
                return Ok(Outcome::failed(format!(
                    "output_encoding {enc:?} is not supported for {dest}: drover writes templates as UTF-8"
                )));
            }
        }
        let mut p = Placement::from_args(args, &dest)?;
        if p.attrs.mode.as_deref() == Some("preserve") {
            return Ok(Outcome::failed(format!(
                "{dest}: mode=preserve is not supported by template"
            )));
        }
        if let Err(msg) = check_validate(p.validate.as_deref()) {
            return Ok(Outcome::failed(msg));
        }
        let path = ctx.controller.find_file("templates", &src)?;
        let options = TemplateOptions {
            trim_blocks: args.get("trim_blocks").map(|v| v.is_true()),
            lstrip_blocks: args.get("lstrip_blocks").map(|v| v.is_true()),
            block_start_string: args.string("block_start_string"),
            block_end_string: args.string("block_end_string"),
            variable_start_string: args.string("variable_start_string"),
            variable_end_string: args.string("variable_end_string"),
            comment_start_string: args.string("comment_start_string"),
            comment_end_string: args.string("comment_end_string"),
        };
        let mut text = ctx
            .controller
            .render_template_with(&path, &dest, &options)?;
        // The choices are written escaped, as in Ansible (`newline_sequence: '\r\n'`).
        let nl = match args.str("newline_sequence") {
            Some("\\r\\n") => "\r\n",
            Some("\\r") => "\r",
            _ => "\n",
        };
        if nl != "\n" {
            text = text.replace("\r\n", "\n").replace('\n', nl);
        }
        p.after_header = path.display().to_string();
        place(ctx, &p, text.into_bytes(), Some(&src)).await
    }
}

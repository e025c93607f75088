//! `template`: renders a Jinja2 template on the controller and places the result like `copy`.

use crate::copy::{place, Placement};
use std::os::unix::fs::PermissionsExt;

use crate::util::{check_validate, mode_str};
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
        ArgDef::new("seuser", ArgKind::Str),
        ArgDef::new("serole", ArgKind::Str),
        ArgDef::new("setype", ArgKind::Str),
        ArgDef::new("selevel", ArgKind::Str),
        ArgDef::new("attributes", ArgKind::Str).aliases(&["attr"]),
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
        // An empty output_encoding means the default, as in Ansible.
        let encoding = match args.str("output_encoding") {
            None | Some("") => Encoding::Utf8,
            Some(name) => match Encoding::by_name(name) {
                Some(e) => e,
                None => {
                    return Ok(Outcome::failed(format!(
                        "output_encoding {name:?} is not supported for {dest}: drover can write \
                         utf-8, ascii, latin-1 (iso-8859-1) and windows-1252 (cp1252)"
                    )))
                }
            },
        };
        let mut p = Placement::from_args(args, &dest)?;
        if let Err(msg) = check_validate(p.validate.as_deref()) {
            return Ok(Outcome::failed(msg));
        }
        let path = ctx.controller.find_file("templates", &src)?;
        if p.attrs.mode.as_deref() == Some("preserve") {
            // The template file lives on the controller: its permissions are the ones kept.
            let meta = std::fs::metadata(&path).map_err(|e| {
                ModuleError::Controller(format!("could not stat src {}: {e}", path.display()))
            })?;
            p.attrs.mode = Some(mode_str(meta.permissions().mode()));
        }
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
        let bytes = match encoding.encode(&text) {
            Ok(b) => b,
            Err(c) => {
                return Ok(Outcome::failed(format!(
                    "{dest}: the character {c:?} (U+{:04X}) cannot be written in {}",
                    u32::from(c),
                    encoding.name()
                )))
            }
        };
        place(ctx, &p, bytes, Some(&src)).await
    }
}

/// The encodings `output_encoding` accepts. Python knows many more; these are the ones
/// templates are written in in practice, encoded here without a codec library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Ascii,
    Latin1,
    Cp1252,
}

/// Windows-1252's bytes 0x80..=0x9F (the rest of the upper half is Latin-1). Five bytes are
/// unassigned; Python's codec refuses them, so they are absent here too.
const CP1252_HIGH: [(u8, char); 27] = [
    (0x80, '\u{20AC}'),
    (0x82, '\u{201A}'),
    (0x83, '\u{0192}'),
    (0x84, '\u{201E}'),
    (0x85, '\u{2026}'),
    (0x86, '\u{2020}'),
    (0x87, '\u{2021}'),
    (0x88, '\u{02C6}'),
    (0x89, '\u{2030}'),
    (0x8A, '\u{0160}'),
    (0x8B, '\u{2039}'),
    (0x8C, '\u{0152}'),
    (0x8E, '\u{017D}'),
    (0x91, '\u{2018}'),
    (0x92, '\u{2019}'),
    (0x93, '\u{201C}'),
    (0x94, '\u{201D}'),
    (0x95, '\u{2022}'),
    (0x96, '\u{2013}'),
    (0x97, '\u{2014}'),
    (0x98, '\u{02DC}'),
    (0x99, '\u{2122}'),
    (0x9A, '\u{0161}'),
    (0x9B, '\u{203A}'),
    (0x9C, '\u{0153}'),
    (0x9E, '\u{017E}'),
    (0x9F, '\u{0178}'),
];

impl Encoding {
    /// Python's codec names and aliases for these encodings (case, `-` and `_` ignored).
    fn by_name(name: &str) -> Option<Encoding> {
        let n: String = name
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match n.as_str() {
            "utf8" | "u8" | "utf" | "cp65001" => Encoding::Utf8,
            "ascii" | "usascii" | "646" => Encoding::Ascii,
            "latin1" | "latin" | "l1" | "iso88591" | "iso885911987" | "8859" | "cp819" => {
                Encoding::Latin1
            }
            "cp1252" | "windows1252" => Encoding::Cp1252,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Ascii => "ascii",
            Encoding::Latin1 => "latin-1",
            Encoding::Cp1252 => "windows-1252",
        }
    }

    /// The text's bytes, or the first character the encoding cannot represent.
    fn encode(self, text: &str) -> Result<Vec<u8>, char> {
        if self == Encoding::Utf8 {
            return Ok(text.as_bytes().to_vec());
        }
        text.chars()
            .map(|c| {
                let code = u32::from(c);
                match self {
                    Encoding::Ascii if code < 0x80 => Ok(code as u8),
                    Encoding::Latin1 if code < 0x100 => Ok(code as u8),
                    Encoding::Cp1252 if code < 0x80 || (0xA0..0x100).contains(&code) => {
                        Ok(code as u8)
                    }
                    Encoding::Cp1252 => CP1252_HIGH
                        .iter()
                        .find(|(_, ch)| *ch == c)
                        .map(|(b, _)| *b)
                        .ok_or(c),
                    _ => Err(c),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Encoding;

    #[test]
    fn encodings_follow_pythons_codecs() {
        assert_eq!(Encoding::by_name("Windows-1252"), Some(Encoding::Cp1252));
        assert_eq!(Encoding::by_name("UTF_8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::by_name("ISO-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::by_name("koi8-r"), None);
        assert_eq!(
            Encoding::Cp1252.encode("a\u{20AC}\u{e9}\u{178}"),
            Ok(vec![b'a', 0x80, 0xE9, 0x9F])
        );
        assert_eq!(Encoding::Latin1.encode("\u{e9}"), Ok(vec![0xE9]));
        assert_eq!(Encoding::Latin1.encode("\u{20AC}"), Err('\u{20AC}'));
        assert_eq!(Encoding::Ascii.encode("\u{e9}"), Err('\u{e9}'));
        assert_eq!(Encoding::Cp1252.encode("\u{81}"), Err('\u{81}'));
        assert_eq!(
            Encoding::Utf8.encode("\u{e9}"),
            Ok("\u{e9}".as_bytes().to_vec())
        );
    }
}

//! `deb822_repository`: an APT source as a deb822 `.sources` file in
//! `/etc/apt/sources.list.d`, written field by field as Ansible's module writes it (fields in
//! the order of the option names, `Name` as `X-Repolib-Name`, lists space-separated, booleans
//! `yes`/`no`, multi-line values indented with blank lines as `.`). `signed_by` may be a key
//! file on the host, an armored key (embedded), or a URL the host downloads into
//! `/etc/apt/keyrings/<name>.asc|.gpg`.

use drover_host::{Attrs, FileOp, HttpRequest};
use minijinja::value::{Value, ValueKind};

use crate::util::{content_diff, write_content};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Deb822Repository;

/// The options that become fields, in the (sorted) order Ansible writes them.
const FIELDS: &[(&str, ArgKind)] = &[
    ("allow_downgrade_to_insecure", ArgKind::Bool),
    ("allow_insecure", ArgKind::Bool),
    ("allow_weak", ArgKind::Bool),
    ("architectures", ArgKind::List),
    ("by_hash", ArgKind::Bool),
    ("check_date", ArgKind::Bool),
    ("check_valid_until", ArgKind::Bool),
    ("components", ArgKind::List),
    ("date_max_future", ArgKind::Int),
    ("enabled", ArgKind::Bool),
    ("inrelease_path", ArgKind::Str),
    ("languages", ArgKind::List),
    ("name", ArgKind::Str),
    ("pdiffs", ArgKind::Bool),
    ("signed_by", ArgKind::Str),
    ("suites", ArgKind::List),
    ("targets", ArgKind::List),
    ("trusted", ArgKind::Bool),
    ("types", ArgKind::List),
    ("uris", ArgKind::List),
];

static SPEC: ModuleSpec = ModuleSpec {
    name: "deb822_repository",
    args: &[
        ArgDef::new("allow_downgrade_to_insecure", ArgKind::Bool),
        ArgDef::new("allow_insecure", ArgKind::Bool),
        ArgDef::new("allow_weak", ArgKind::Bool),
        ArgDef::new("architectures", ArgKind::List),
        ArgDef::new("by_hash", ArgKind::Bool),
        ArgDef::new("check_date", ArgKind::Bool),
        ArgDef::new("check_valid_until", ArgKind::Bool),
        ArgDef::new("components", ArgKind::List),
        ArgDef::new("date_max_future", ArgKind::Int),
        ArgDef::new("enabled", ArgKind::Bool),
        ArgDef::new("inrelease_path", ArgKind::Str),
        ArgDef::new("languages", ArgKind::List),
        ArgDef::new("name", ArgKind::Str).required(),
        ArgDef::new("pdiffs", ArgKind::Bool),
        ArgDef::new("signed_by", ArgKind::Str),
        ArgDef::new("suites", ArgKind::List),
        ArgDef::new("targets", ArgKind::List),
        ArgDef::new("trusted", ArgKind::Bool),
        ArgDef::new("types", ArgKind::List),
        ArgDef::new("uris", ArgKind::List),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("state", ArgKind::Str).choices(&["present", "absent"]),
        ArgDef::new("install_python_debian", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const KEYRINGS_DIR: &str = "/etc/apt/keyrings";

/// The file name Ansible derives from `name`: lower case, runs of `_` and whitespace as `-`,
/// anything else outside `[a-z0-9-]` dropped.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in name.to_lowercase().chars() {
        if c == '_' || c.is_whitespace() {
            if !in_run {
                out.push('-');
            }
            in_run = true;
            continue;
        }
        in_run = false;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            out.push(c);
        }
    }
    out
}

pub(crate) fn field_name(option: &str) -> String {
    match option {
        "name" => "X-Repolib-Name".into(),
        "uris" => "URIs".into(),
        _ => option
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| {
                        f.to_uppercase()
                            .chain(c.flat_map(char::to_lowercase))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect::<Vec<String>>()
            .join("-"),
    }
}

/// A value as deb822 holds it; a multi-line one continues on indented lines, `.` for blanks.
pub(crate) fn field_line(field: &str, value: &str) -> String {
    if value.contains('\n') {
        let body: Vec<String> = value
            .trim()
            .lines()
            .map(|l| {
                let l = l.trim();
                format!("    {}", if l.is_empty() { "." } else { l })
            })
            .collect();
        format!("{field}:\n{}\n", body.join("\n"))
    } else {
        format!("{field}: {value}\n")
    }
}

fn is_armored(data: &[u8]) -> bool {
    data.windows(36)
        .any(|w| w == b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
}

#[async_trait::async_trait]
impl Module for Deb822Repository {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let name = args.string("name").unwrap_or_default();
        let slug = slug(&name);
        let dest = format!("/etc/apt/sources.list.d/{slug}.sources");
        let mut out = Outcome::ok();
        if args.str("state") == Some("absent") {
            let mut key_file = String::new();
            for path in [
                dest.clone(),
                format!("{KEYRINGS_DIR}/{slug}.asc"),
                format!("{KEYRINGS_DIR}/{slug}.gpg"),
            ] {
                let r = ctx
                    .host
                    .file_op(&FileOp::Absent { path: path.clone() }, ctx.check)
                    .await?;
                out.changed |= r.changed;
                key_file = path;
            }
            out.set("repo", Value::from(()));
            out.set("dest", Value::from(dest));
            out.set("key_filename", Value::from(key_file));
            return Ok(out);
        }
        let mut text = String::new();
        let mut key_filename = Value::from(());
        for (option, kind) in FIELDS {
            let value = match (*option, args.get(option)) {
                ("types", None) => "deb".to_string(),
                (_, None) => continue,
                (_, Some(v)) if v.is_none() => continue,
                (_, Some(v)) => match kind {
                    ArgKind::Bool => if v.is_true() { "yes" } else { "no" }.to_string(),
                    ArgKind::List if v.kind() == ValueKind::Seq => v
                        .try_iter()
                        .into_iter()
                        .flatten()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => v.as_str().map_or_else(|| v.to_string(), str::to_string),
                },
            };
            let value = if *option == "signed_by" {
                match signed_by(ctx, &value, &slug).await? {
                    SignedBy::File { path, changed } => {
                        out.changed |= changed;
                        key_filename = Value::from(path.as_str());
                        path
                    }
                    SignedBy::Inline(text) => text,
                    SignedBy::Failed(msg) => {
                        return Ok(Outcome::failed(format!(
                            "Could not fetch signed_by key: {msg}"
                        )))
                    }
                }
            } else {
                value
            };
            text.push_str(&field_line(&field_name(option), &value));
        }
        let before = crate::util::read_if_exists(ctx, &dest).await?;
        let attrs = Attrs {
            mode: Some(args.string("mode").unwrap_or_else(|| "0644".into())),
            ..Attrs::default()
        };
        if before.as_deref() != Some(text.as_bytes()) {
            if ctx.diff {
                out.diff.extend(content_diff(
                    if before.is_some() { &dest } else { "/dev/null" },
                    &dest,
                    before.as_deref().unwrap_or_default(),
                    text.as_bytes(),
                ));
            }
            write_content(ctx, &dest, text.clone().into_bytes(), &attrs, false, None).await?;
            out.changed = true;
        } else {
            out.changed |= crate::util::apply_attrs(ctx, &dest, &attrs).await?.changed;
        }
        out.set("repo", Value::from(text));
        out.set("dest", Value::from(dest));
        out.set("key_filename", key_filename);
        Ok(out)
    }
}

enum SignedBy {
    File { path: String, changed: bool },
    Inline(String),
    Failed(String),
}

/// `signed_by`: a file on the host is named as it is; a URL is downloaded by the host into
/// the keyrings directory (`.asc` when armored, else `.gpg`, mode 0644); anything else (an
/// armored key, a fingerprint) is the field's value.
async fn signed_by(ctx: &Context<'_>, value: &str, slug: &str) -> Result<SignedBy, ModuleError> {
    if value.starts_with('/') {
        match ctx.host.stat(value, Default::default()).await {
            Ok(st) if st.exists => {
                return Ok(SignedBy::File {
                    path: value.to_string(),
                    changed: false,
                })
            }
            _ => {}
        }
    }
    let has_scheme = value.split_once("://").is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !has_scheme {
        return Ok(SignedBy::Inline(value.to_string()));
    }
    let req = HttpRequest {
        method: "GET".into(),
        url: value.to_string(),
        headers: Vec::new(),
        body: None,
        timeout_secs: 30,
        validate_certs: true,
        max_redirects: 10,
        body_to: None,
        digest: None,
    };
    let resp = ctx.host.http(&req).await?;
    if resp.status != 200 {
        let why = if resp.status < 0 {
            resp.error.clone().unwrap_or_default()
        } else {
            format!("HTTP Error {}: {}", resp.status, resp.reason)
        };
        return Ok(SignedBy::Failed(why));
    }
    let ext = if is_armored(&resp.body) { "asc" } else { "gpg" };
    let path = format!("{KEYRINGS_DIR}/{slug}.{ext}");
    let current = crate::util::read_if_exists(ctx, &path).await?;
    let changed = current.as_deref() != Some(resp.body.as_slice());
    if changed {
        ctx.host
            .file_op(
                &FileOp::Directory {
                    path: KEYRINGS_DIR.into(),
                    attrs: Attrs {
                        mode: Some("0755".into()),
                        ..Attrs::default()
                    },
                    recurse: false,
                },
                ctx.check,
            )
            .await?;
        let attrs = Attrs {
            mode: Some("0644".into()),
            ..Attrs::default()
        };
        write_content(ctx, &path, resp.body, &attrs, false, None).await?;
    }
    Ok(SignedBy::File { path, changed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fields() {
        assert_eq!(slug("Docker CE_stable!"), "docker-ce-stable");
        assert_eq!(field_name("uris"), "URIs");
        assert_eq!(field_name("name"), "X-Repolib-Name");
        assert_eq!(field_name("check_valid_until"), "Check-Valid-Until");
        assert_eq!(field_name("by_hash"), "By-Hash");
    }

    #[test]
    fn multi_line_values() {
        assert_eq!(
            field_line("Signed-By", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n"),
            "Signed-By:\n    -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n    -----END PGP PUBLIC KEY BLOCK-----\n"
        );
        assert_eq!(field_line("Types", "deb"), "Types: deb\n");
    }
}

//! `authorized_key` (ansible.posix): SSH public keys in a user's `authorized_keys`.
//!
//! The file is read once; keys are matched by their base64 blob, so a key whose options or
//! comment change is rewritten rather than added twice. Lines that are not keys (comments,
//! blanks, anything unparsable) are kept where they are.

use drover_host::{Attrs, FileKind, FileOp, StatOptions, WriteRequest};
use minijinja::Value;

use crate::util::{content_diff, join, parent_of};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct AuthorizedKey;

static SPEC: ModuleSpec = ModuleSpec {
    name: "authorized_key",
    args: &[
        ArgDef::new("user", ArgKind::Str).required(),
        ArgDef::new("key", ArgKind::Str).required(),
        ArgDef::new("path", ArgKind::Path),
        ArgDef::new("manage_dir", ArgKind::Bool),
        ArgDef::new("state", ArgKind::Str).choices(&["absent", "present"]),
        ArgDef::new("key_options", ArgKind::Str),
        ArgDef::new("exclusive", ArgKind::Bool),
        ArgDef::new("validate_certs", ArgKind::Bool),
        ArgDef::new("comment", ArgKind::Str),
        ArgDef::new("follow", ArgKind::Bool),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Key types OpenSSH accepts in `authorized_keys`, certificates included.
const KEY_TYPES: &[&str] = &[
    "ssh-dss",
    "ssh-rsa",
    "ssh-ed25519",
    "ssh-xmss@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
];

/// One option of a key line: `no-pty` or `from="10.0.0.1"` (value as written, quotes kept).
pub(crate) type KeyOption = (String, Option<String>);

/// A parsed key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub options: Vec<KeyOption>,
    pub kind: String,
    pub blob: String,
    pub comment: String,
}

impl Key {
    pub fn render(&self) -> String {
        let mut line = String::new();
        if !self.options.is_empty() {
            let opts: Vec<String> = self
                .options
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect();
            line.push_str(&opts.join(","));
            line.push(' ');
        }
        line.push_str(&self.kind);
        line.push(' ');
        line.push_str(&self.blob);
        if !self.comment.is_empty() {
            line.push(' ');
            line.push_str(&self.comment);
        }
        line
    }
}

/// Splits an options string at commas outside double quotes.
pub(crate) fn parse_options(text: &str) -> Result<Vec<KeyOption>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut push = |cur: &mut String| -> Result<(), String> {
        let part = std::mem::take(cur);
        let part = part.trim();
        if part.is_empty() {
            return Ok(());
        }
        match part.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
            None => out.push((part.to_string(), None)),
        }
        Ok(())
    };
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => push(&mut cur)?,
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err(format!("invalid option string: {text}"));
    }
    push(&mut cur)?;
    Ok(out)
}

/// Parses one `authorized_keys` line; `None` for comments, blanks and anything without a key
/// type followed by a key.
pub(crate) fn parse_key(line: &str) -> Option<Key> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.first().is_none_or(|w| w.starts_with('#')) {
        return None;
    }
    let at = words.iter().position(|w| KEY_TYPES.contains(w))?;
    let blob = words.get(at + 1)?;
    let options = if at > 0 {
        parse_options(&words[..at].join(" ")).ok()?
    } else {
        Vec::new()
    };
    Some(Key {
        options,
        kind: words[at].to_string(),
        blob: blob.to_string(),
        comment: words[at + 2..].join(" "),
    })
}

/// A line of the file: a key or text kept as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    Key(Key),
    Other(String),
}

/// What the wanted keys do to the file's lines. Returns the new lines and whether they differ.
pub(crate) fn apply(
    existing: Vec<Line>,
    wanted: &[Key],
    present: bool,
    exclusive: bool,
) -> (Vec<Line>, bool) {
    let mut lines = existing;
    let mut changed = false;
    for want in wanted {
        let pos = lines
            .iter()
            .position(|l| matches!(l, Line::Key(k) if k.blob == want.blob));
        let matched = pos.is_some_and(|i| lines[i] == Line::Key(want.clone()));
        if present {
            if !matched {
                // A changed key moves to the end, where new keys go.
                if let Some(i) = pos {
                    lines.remove(i);
                }
                lines.push(Line::Key(want.clone()));
                changed = true;
            }
        } else if let (true, Some(i)) = (matched, pos) {
            lines.remove(i);
            changed = true;
        }
    }
    if present && exclusive {
        let before = lines.len();
        lines.retain(|l| match l {
            Line::Key(k) => wanted.iter().any(|w| w.blob == k.blob),
            Line::Other(_) => true,
        });
        changed |= lines.len() != before;
        // Exclusive keys are written in the order they were given.
        let keys: Vec<Line> = wanted
            .iter()
            .filter_map(|w| {
                lines
                    .iter()
                    .find(|l| matches!(l, Line::Key(k) if k.blob == w.blob))
                    .cloned()
            })
            .collect();
        let mut ordered = keys.into_iter();
        for l in lines.iter_mut() {
            if matches!(l, Line::Key(_)) {
                if let Some(next) = ordered.next() {
                    if *l != next {
                        changed = true;
                    }
                    *l = next;
                }
            }
        }
    }
    (lines, changed)
}

pub(crate) fn parse_file(text: &str) -> Vec<Line> {
    text.lines()
        .map(|l| match parse_key(l) {
            Some(k) => Line::Key(k),
            None => Line::Other(l.to_string()),
        })
        .collect()
}

pub(crate) fn render_file(lines: &[Line]) -> String {
    let mut s = String::new();
    for l in lines {
        match l {
            Line::Key(k) => s.push_str(&k.render()),
            Line::Other(t) => s.push_str(t),
        }
        s.push('\n');
    }
    s
}

#[async_trait::async_trait]
impl Module for AuthorizedKey {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let user = args.string("user").unwrap_or_default();
        let key_text = args.string("key").unwrap_or_default();
        let present = args.str("state").unwrap_or("present") == "present";
        let manage_dir = args.bool("manage_dir", true);
        let exclusive = args.bool("exclusive", false);
        let follow = args.bool("follow", false);

        let mut out = Outcome::ok();
        for (name, default) in [
            ("user", Value::from(user.as_str())),
            ("key", Value::from(key_text.as_str())),
            ("path", Value::from(())),
            ("manage_dir", Value::from(true)),
            ("state", Value::from("present")),
            ("key_options", Value::from(())),
            ("exclusive", Value::from(false)),
            ("validate_certs", Value::from(true)),
            ("comment", Value::from(())),
            ("follow", Value::from(false)),
        ] {
            out.set(name, args.get(name).cloned().unwrap_or(default));
        }

        if key_text.starts_with("http://") || key_text.starts_with("https://") {
            return Ok(Outcome::failed(format!(
                "drover's authorized_key does not fetch keys from URLs: {key_text}"
            )));
        }
        let key_options = match args.str("key_options").map(parse_options) {
            Some(Ok(o)) => Some(o),
            Some(Err(msg)) => return Ok(Outcome::failed(msg)),
            None => None,
        };
        let mut wanted = Vec::new();
        for line in key_text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let Some(mut k) = parse_key(line) else {
                return Ok(Outcome::failed(format!("invalid key specified: {line}")));
            };
            if let Some(o) = &key_options {
                k.options = o.clone();
            }
            if let Some(c) = args.str("comment") {
                k.comment = c.to_string();
            }
            wanted.push(k);
        }

        let passwd =
            crate::accounts::parse_passwd(&crate::accounts::read_text(ctx, "/etc/passwd").await?);
        let Some(entry) = passwd.into_iter().find(|p| p.name == user) else {
            return Ok(Outcome::failed(format!(
                "Failed to lookup user {user}: \"getpwnam(): name not found: '{user}'\""
            )));
        };
        let (ssh_dir, mut keyfile) = match args.string("path") {
            Some(p) => (parent_of(&p).to_string(), p),
            None => {
                let dir = join(&entry.home, ".ssh");
                let file = join(&dir, "authorized_keys");
                (dir, file)
            }
        };
        let st = ctx
            .host
            .stat(
                &keyfile,
                StatOptions {
                    follow: false,
                    checksum: false,
                },
            )
            .await?;
        if follow && st.kind == Some(FileKind::Symlink) {
            if let Some(target) = &st.link_target {
                keyfile = if target.starts_with('/') {
                    target.clone()
                } else {
                    join(parent_of(&keyfile), target)
                };
            }
        }
        out.set("keyfile", keyfile.as_str());

        let before = match ctx.host.read(&keyfile).await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e.into()),
        };
        let (lines, changed) = apply(parse_file(&before), &wanted, present, exclusive);
        let after = render_file(&lines);
        // An existing file is left alone when nothing changes; a missing one is created (empty
        // if need be) when writing is allowed, as Ansible does.
        let must_create = !st.exists && present;
        out.changed = changed;
        if (changed || must_create) && !ctx.check {
            let owner = Attrs {
                mode: None,
                owner: Some(entry.uid.to_string()),
                group: Some(entry.gid.to_string()),
            };
            if manage_dir {
                let dir_st = ctx.host.stat(&ssh_dir, StatOptions::default()).await?;
                if !dir_st.exists {
                    ctx.host
                        .file_op(
                            &FileOp::Directory {
                                path: ssh_dir.clone(),
                                attrs: Attrs {
                                    mode: Some("0700".into()),
                                    ..owner.clone()
                                },
                                recurse: false,
                            },
                            false,
                        )
                        .await?;
                }
            }
            let new_file = !ctx
                .host
                .stat(&keyfile, StatOptions::default())
                .await?
                .exists;
            ctx.host
                .write(&WriteRequest {
                    path: keyfile.clone(),
                    content: after.clone().into_bytes(),
                    attrs: if new_file {
                        Attrs {
                            mode: Some("0600".into()),
                            ..owner
                        }
                    } else {
                        Attrs::default()
                    },
                    backup: false,
                    default_mode: Some(0o600),
                    preserve_existing: true,
                    validate: None,
                })
                .await?;
        }
        if changed && ctx.diff {
            if let Some(d) = content_diff(&keyfile, &keyfile, before.as_bytes(), after.as_bytes()) {
                out.diff.push(d);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA one@host";
    const B: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB two";

    #[test]
    fn parses_lines() {
        let k =
            parse_key(r#"no-pty,from="10.0.0.1,10.0.0.2",command="echo a b" ssh-ed25519 AAAA c d"#)
                .unwrap();
        assert_eq!(
            k.options,
            vec![
                ("no-pty".to_string(), None),
                (
                    "from".to_string(),
                    Some("\"10.0.0.1,10.0.0.2\"".to_string())
                ),
                ("command".to_string(), Some("\"echo a b\"".to_string())),
            ]
        );
        assert_eq!(k.kind, "ssh-ed25519");
        assert_eq!(k.blob, "AAAA");
        assert_eq!(k.comment, "c d");
        assert_eq!(
            k.render(),
            r#"no-pty,from="10.0.0.1,10.0.0.2",command="echo a b" ssh-ed25519 AAAA c d"#
        );
        assert!(parse_key("# ssh-rsa AAAA").is_none());
        assert!(parse_key("").is_none());
        assert!(parse_key("garbage here").is_none());
        assert!(parse_key("ssh-rsa").is_none());
        assert!(parse_options("a=\"unterminated").is_err());
    }

    #[test]
    fn add_change_remove() {
        let a = parse_key(A).unwrap();
        let b = parse_key(B).unwrap();
        let file = format!("# keep me\n{A}\n");
        let (lines, changed) = apply(parse_file(&file), std::slice::from_ref(&a), true, false);
        assert!(!changed);
        assert_eq!(render_file(&lines), file);

        let (lines, changed) = apply(parse_file(&file), std::slice::from_ref(&b), true, false);
        assert!(changed);
        assert_eq!(render_file(&lines), format!("# keep me\n{A}\n{B}\n"));

        let mut a2 = a.clone();
        a2.comment = "renamed".into();
        let (lines, changed) = apply(parse_file(&format!("{A}\n{B}\n")), &[a2], true, false);
        assert!(changed);
        assert_eq!(
            render_file(&lines),
            format!("{B}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA renamed\n")
        );

        let (lines, changed) = apply(parse_file(&file), std::slice::from_ref(&a), false, false);
        assert!(changed);
        assert_eq!(render_file(&lines), "# keep me\n");

        let (lines, changed) = apply(parse_file(&format!("{A}\n{B}\n")), &[b], true, true);
        assert!(changed);
        assert_eq!(render_file(&lines), format!("{B}\n"));
    }
}

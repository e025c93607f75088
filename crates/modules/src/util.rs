//! Helpers shared by the modules: modes and attributes, checksums, diffs and the file facts
//! Ansible adds to results.

use std::collections::BTreeMap;

use drover_host::{Attrs, FileKind, FileStat, WriteRequest};
use minijinja::Value;
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::{Args, Context, FileDiff, ModuleError, Outcome};

/// Files larger than this, or binary ones, get no text diff (Ansible's `max_file_size_for_diff`).
pub(crate) const MAX_DIFF_SIZE: usize = 104_448;

/// A mode as Ansible prints it: `"0644"`, `"01777"`.
pub(crate) fn mode_str(mode: u32) -> String {
    format!("0{:03o}", mode & 0o7777)
}

/// Resolves an octal or symbolic mode against the `current` bits with the helper's own code,
/// so the controller can tell whether a host would change.
pub(crate) fn resolve_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32, String> {
    drover_host::mode::resolve_mode(spec, current, is_dir).map_err(|e| e.to_string())
}

/// `mode`, `owner` and `group` of a file module's arguments.
pub(crate) fn attrs_from_args(args: &Args) -> Attrs {
    Attrs {
        mode: args.string("mode"),
        owner: args.string("owner"),
        group: args.string("group"),
    }
}

/// Whether applying `attrs` to the file `st` describes would change it. An invalid mode is an
/// error naming `path`.
pub(crate) fn attrs_differ(path: &str, st: &FileStat, attrs: &Attrs) -> Result<bool, ModuleError> {
    if !st.exists {
        return Ok(!attrs.is_empty());
    }
    let is_link = st.kind == Some(FileKind::Symlink);
    if let (Some(spec), false) = (&attrs.mode, is_link) {
        let new = resolve_mode(spec, st.mode, st.kind == Some(FileKind::Directory))
            .map_err(|e| invalid_mode(path, spec, &e))?;
        if new != st.mode & 0o7777 {
            return Ok(true);
        }
    }
    let differs = |want: &Option<String>, id: u32, name: &str| match want {
        None => false,
        Some(w) => match w.parse::<u32>() {
            Ok(n) => n != id,
            Err(_) => w != name,
        },
    };
    Ok(differs(&attrs.owner, st.uid, &st.owner) || differs(&attrs.group, st.gid, &st.group))
}

pub(crate) fn invalid_mode(path: &str, spec: &str, why: &str) -> ModuleError {
    ModuleError::Controller(format!(
        "{path}: mode must be in octal or symbolic form, got {spec:?} ({why})"
    ))
}

/// Applies `attrs` to `path` (or, with `follow`, to what it links to) when they differ from
/// what `st` describes (only reports, in check mode); answers whether that changed anything.
pub(crate) async fn set_attrs(
    ctx: &crate::Context<'_>,
    path: &str,
    st: &FileStat,
    attrs: &Attrs,
    follow: bool,
) -> Result<bool, ModuleError> {
    if !attrs_differ(path, st, attrs)? {
        return Ok(false);
    }
    let r = ctx
        .host
        .file_op(
            &drover_host::FileOp::Attrs {
                path: path.to_string(),
                attrs: attrs.clone(),
                follow,
                recurse: false,
            },
            ctx.check,
        )
        .await?;
    Ok(r.changed)
}

/// Checks a mode argument before anything touches the host.
pub(crate) fn check_mode_arg(path: &str, attrs: &Attrs) -> Result<(), ModuleError> {
    match &attrs.mode {
        Some(spec) => resolve_mode(spec, 0, false)
            .map(|_| ())
            .map_err(|e| invalid_mode(path, spec, &e)),
        None => Ok(()),
    }
}

pub(crate) fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Ansible's name for what is at a path: `absent`, `directory`, `link`, `hard`, `file`.
pub(crate) fn state_of(st: &FileStat) -> &'static str {
    match st.kind {
        _ if !st.exists => "absent",
        Some(FileKind::Directory) => "directory",
        Some(FileKind::Symlink) => "link",
        _ if st.nlink > 1 => "hard",
        _ => "file",
    }
}

/// The file facts Ansible adds to the result of every module that returns a `path`/`dest`.
pub(crate) fn add_file_info(out: &mut Outcome, st: &FileStat) {
    if !st.exists {
        out.set("state", "absent");
        return;
    }
    out.set("state", state_of(st));
    out.set("mode", mode_str(st.mode));
    out.set("owner", st.owner.clone());
    out.set("group", st.group.clone());
    out.set("uid", st.uid);
    out.set("gid", st.gid);
    out.set("size", st.size);
}

fn looks_binary(data: &[u8]) -> bool {
    data.contains(&0) || std::str::from_utf8(data).is_err()
}

/// A text diff of a file's content, `None` when either side is binary or too large to show.
pub(crate) fn content_diff(
    before_header: &str,
    after_header: &str,
    before: &[u8],
    after: &[u8],
) -> Option<FileDiff> {
    if before.len() > MAX_DIFF_SIZE
        || after.len() > MAX_DIFF_SIZE
        || looks_binary(before)
        || looks_binary(after)
    {
        return None;
    }
    Some(FileDiff {
        before_header: before_header.to_string(),
        after_header: after_header.to_string(),
        before: String::from_utf8_lossy(before).into_owned(),
        after: String::from_utf8_lossy(after).into_owned(),
    })
}

/// A diff of two small dicts, rendered as Ansible's diff callback renders dicts (sorted keys,
/// four-space JSON). Empty headers mean the plain `before`/`after` labels.
pub(crate) fn dict_diff(
    before: &BTreeMap<&str, serde_json::Value>,
    after: &BTreeMap<&str, serde_json::Value>,
) -> FileDiff {
    FileDiff {
        before_header: String::new(),
        after_header: String::new(),
        before: pretty_json(before),
        after: pretty_json(after),
    }
}

fn pretty_json(v: &impl serde::Serialize) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push('\n');
    s
}

/// Before/after dicts of the attributes that `attrs` would change on `st` (for file diffs).
pub(crate) fn attr_diff_entries(
    st: &FileStat,
    attrs: &Attrs,
    before: &mut BTreeMap<&'static str, serde_json::Value>,
    after: &mut BTreeMap<&'static str, serde_json::Value>,
) {
    if !st.exists {
        return;
    }
    if let Some(spec) = &attrs.mode {
        if let Ok(new) = resolve_mode(spec, st.mode, st.kind == Some(FileKind::Directory)) {
            if new != st.mode & 0o7777 && st.kind != Some(FileKind::Symlink) {
                before.insert("mode", json!(mode_str(st.mode)));
                after.insert("mode", json!(mode_str(new)));
            }
        }
    }
    for (key, want, id, name) in [
        ("owner", &attrs.owner, st.uid, &st.owner),
        ("group", &attrs.group, st.gid, &st.group),
    ] {
        if let Some(w) = want {
            let same = match w.parse::<u32>() {
                Ok(n) => n == id,
                Err(_) => w == name,
            };
            if !same {
                before.insert(key, json!(id));
                after.insert(key, json!(w));
            }
        }
    }
}

/// Ansible's rule for `validate`: the command must name the file to check as `%s`.
pub(crate) fn check_validate(validate: Option<&str>) -> Result<(), String> {
    match validate {
        Some(v) if !v.contains("%s") => Err(format!("validate must contain %s: {v}")),
        _ => Ok(()),
    }
}

/// Writes `content` to `path` atomically (keeping the existing file's attributes where `attrs`
/// leave them unset), unless in check mode. Returns the backup file's path when one was made.
/// Applies `attrs` to `path` (following a link), honouring check mode; what the host reports.
pub(crate) async fn apply_attrs(
    ctx: &Context<'_>,
    path: &str,
    attrs: &Attrs,
) -> Result<drover_host::FileOpOutcome, ModuleError> {
    let op = drover_host::FileOp::Attrs {
        path: path.to_string(),
        attrs: attrs.clone(),
        follow: true,
        recurse: false,
    };
    Ok(ctx.host.file_op(&op, ctx.check).await?)
}

/// The content of `path`, or `None` when there is no such file.
pub(crate) async fn read_if_exists(
    ctx: &Context<'_>,
    path: &str,
) -> Result<Option<Vec<u8>>, ModuleError> {
    match ctx.host.read(path).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn write_content(
    ctx: &Context<'_>,
    path: &str,
    content: Vec<u8>,
    attrs: &Attrs,
    backup: bool,
    validate: Option<&str>,
) -> Result<Option<String>, ModuleError> {
    if ctx.check {
        return Ok(None);
    }
    let req = WriteRequest {
        path: path.to_string(),
        content,
        attrs: attrs.clone(),
        backup,
        default_mode: None,
        preserve_existing: true,
        validate: validate.map(str::to_string),
    };
    Ok(ctx.host.write(&req).await?.backup_file)
}

/// Converts a JSON value into a template value.
pub(crate) fn to_value(v: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// `text` split into lines as Python's `splitlines()` does for `\n`/`\r\n`.
pub(crate) fn lines_value(text: &str) -> Value {
    Value::from(text.lines().map(Value::from).collect::<Vec<_>>())
}

/// The parent directory of a host path (`"."` for a bare name).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// The last component of a path (`"b"` for `"/a/b/"`).
pub(crate) fn basename(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Joins host paths with exactly one slash.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        return name.to_string();
    }
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Expands a leading `~` or `~user` of a host path as Python's `expanduser` does on the host;
/// other paths cost nothing, these one round trip.
pub(crate) async fn expand_user(ctx: &Context<'_>, path: &str) -> Result<String, ModuleError> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // Only a plain user name is handed to the shell's tilde expansion.
    let valid = user
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid {
        return Ok(path.to_string());
    }
    let script = if user.is_empty() {
        "printf '%s' \"$HOME\"".to_string()
    } else {
        format!("printf '%s' ~{user}")
    };
    let mut req = drover_host::ExecRequest::shell(script);
    req.env = ctx.env.clone();
    let r = ctx.host.exec(&req).await?;
    let home = String::from_utf8_lossy(&r.stdout).into_owned();
    if r.rc != 0 || home.is_empty() || home.starts_with('~') {
        return Ok(path.to_string());
    }
    let joined = format!("{}{tail}", home.trim_end_matches('/'));
    Ok(if joined.is_empty() {
        "/".into()
    } else {
        joined
    })
}

/// Python's `expandvars` and `expanduser` of a host path, which Ansible applies to every `path`
/// argument on the host: `$VAR`, `${VAR}` (unset ones stay as written) and a leading `~`.
/// Paths without them cost nothing, others one round trip.
pub(crate) async fn expand_host_path(ctx: &Context<'_>, path: &str) -> Result<String, ModuleError> {
    if !crate::command::needs_expansion(path) {
        return Ok(path.to_string());
    }
    if !path.contains('$') {
        return expand_user(ctx, path).await;
    }
    let script = format!("printf '%s' {}", crate::command::expand_word(path));
    let mut req = drover_host::ExecRequest::shell(script);
    req.env = ctx.env.clone();
    let r = ctx.host.exec(&req).await?;
    if r.rc != 0 {
        return Ok(path.to_string());
    }
    Ok(String::from_utf8_lossy(&r.stdout).into_owned())
}

/// Quotes a word for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// A controller file read for a module, decrypted when it is a vault file and the task leaves
/// `decrypt` on (Ansible's default).
pub(crate) fn read_controller_file(
    path: &std::path::Path,
    decrypt: bool,
    what: &str,
) -> Result<Vec<u8>, ModuleError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ModuleError::Controller(format!("could not read {what} {}: {e}", path.display()))
    })?;
    if !decrypt {
        return Ok(bytes);
    }
    drover_vault::yaml::decrypt_bytes(bytes, &path.display().to_string())
        .map_err(ModuleError::Controller)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_mode(spec: &str, current: u32, is_dir: bool, expected: Result<u32, ()>) {
        let got = resolve_mode(spec, current, is_dir).map_err(|_| ());
        assert_eq!(got, expected, "spec {spec:?} on {current:o}");
    }

    #[test]
    fn modes() {
        check_mode("0644", 0o777, false, Ok(0o644));
        check_mode("644", 0, false, Ok(0o644));
        check_mode("1777", 0, true, Ok(0o1777));
        check_mode("u=rw,g=r,o=r", 0o777, false, Ok(0o644));
        check_mode("u+x", 0o644, false, Ok(0o744));
        check_mode("go-w", 0o666, false, Ok(0o644));
        check_mode("a+X", 0o644, false, Ok(0o644));
        check_mode("a+X", 0o744, false, Ok(0o755));
        check_mode("a+X", 0o600, true, Ok(0o711));
        check_mode("+x", 0o600, false, Ok(0o711));
        check_mode("u+s,g+s", 0o755, false, Ok(0o6755));
        check_mode("+t", 0o777, true, Ok(0o1777));
        check_mode("g=u", 0o700, false, Ok(0o770));
        check_mode("u=rwx,g=rx,o=", 0o777, false, Ok(0o750));
        check_mode("o=", 0o4777, false, Ok(0o4770));
        check_mode("u+rw-x", 0o100, false, Ok(0o600));
        check_mode("0999", 0, false, Err(()));
        check_mode("77777", 0, false, Err(()));
        check_mode("u", 0, false, Err(()));
        check_mode("z+x", 0, false, Err(()));
        check_mode("", 0, false, Err(()));
    }

    #[test]
    fn mode_strings() {
        assert_eq!(mode_str(0o644), "0644");
        assert_eq!(mode_str(0o1777), "01777");
        assert_eq!(mode_str(0o100755), "0755");
        assert_eq!(mode_str(0), "0000");
    }

    #[test]
    fn attrs_comparison() {
        let st = FileStat {
            exists: true,
            kind: Some(FileKind::File),
            mode: 0o644,
            uid: 1000,
            gid: 100,
            owner: "alice".into(),
            group: "users".into(),
            ..FileStat::default()
        };
        let a = |mode: Option<&str>, owner: Option<&str>, group: Option<&str>| Attrs {
            mode: mode.map(Into::into),
            owner: owner.map(Into::into),
            group: group.map(Into::into),
        };
        let differ = |attrs: Attrs| attrs_differ("/x", &st, &attrs).unwrap();
        assert!(!differ(a(None, None, None)));
        assert!(!differ(a(Some("0644"), Some("alice"), Some("users"))));
        assert!(!differ(a(Some("u=rw,go=r"), Some("1000"), Some("100"))));
        assert!(differ(a(Some("0600"), None, None)));
        assert!(differ(a(None, Some("bob"), None)));
        assert!(differ(a(None, Some("0"), None)));
        assert!(differ(a(None, None, Some("wheel"))));
        assert!(attrs_differ("/x", &st, &a(Some("bogus"), None, None)).is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("a"), ".");
        assert_eq!(parent_of("/a/b/"), "/a");
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(basename("b"), "b");
        assert_eq!(join("/a/", "b"), "/a/b");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(join("/a", "/b"), "/b");
        assert_eq!(sh_quote("abc"), "abc");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn diffs() {
        assert!(content_diff("a", "b", b"x\0y", b"").is_none());
        assert!(content_diff("a", "b", &vec![b'a'; MAX_DIFF_SIZE + 1], b"").is_none());
        let d = content_diff("a", "b", b"one\n", b"two\n").unwrap();
        assert_eq!((d.before.as_str(), d.after.as_str()), ("one\n", "two\n"));
        let mut before = BTreeMap::new();
        let mut after = BTreeMap::new();
        before.insert("state", json!("absent"));
        before.insert("path", json!("/x"));
        after.insert("path", json!("/x"));
        after.insert("state", json!("directory"));
        let d = dict_diff(&before, &after);
        assert_eq!(
            d.before,
            "{\n    \"path\": \"/x\",\n    \"state\": \"absent\"\n}\n"
        );
        assert_eq!(
            d.after,
            "{\n    \"path\": \"/x\",\n    \"state\": \"directory\"\n}\n"
        );
    }
}

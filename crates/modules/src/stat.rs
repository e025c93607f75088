//! `stat`: facts about a path, shaped as Ansible's `stat` result.

use drover_host::{FileKind, FileStat, StatOptions};
use md5::Md5;
use serde_json::{json, Map, Value as Json};
use sha1::Digest;
use sha2::{Sha224, Sha256, Sha384, Sha512};

use crate::util::{hex, join, mode_str, parent_of, to_value};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Stat;

static SPEC: ModuleSpec = ModuleSpec {
    name: "stat",
    args: &[
        ArgDef::new("path", ArgKind::Path)
            .required()
            .aliases(&["dest", "name"]),
        ArgDef::new("follow", ArgKind::Bool),
        ArgDef::new("get_checksum", ArgKind::Bool),
        ArgDef::new("checksum_algorithm", ArgKind::Str)
            .aliases(&["checksum", "checksum_algo"])
            .choices(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
        // `get_mime` runs the host's `file` as Ansible does; drover does not run `lsattr`.
        ArgDef::new("get_mime", ArgKind::Bool).aliases(&["mime", "mime_type", "mime-type"]),
        ArgDef::new("get_attributes", ArgKind::Bool).aliases(&["attr", "attributes"]),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// Ansible's `stat` dictionary for `path` (also the per-file dicts of `find`).
pub(crate) fn stat_dict(path: &str, st: &FileStat) -> Map<String, Json> {
    let mut m = Map::new();
    if !st.exists {
        m.insert("exists".into(), json!(false));
        return m;
    }
    let kind = st.kind;
    let bit = |b: u32| json!(st.mode & b != 0);
    m.insert("exists".into(), json!(true));
    m.insert("path".into(), json!(path));
    m.insert("mode".into(), json!(mode_str(st.mode)));
    m.insert("isdir".into(), json!(kind == Some(FileKind::Directory)));
    m.insert("ischr".into(), json!(kind == Some(FileKind::CharDevice)));
    m.insert("isblk".into(), json!(kind == Some(FileKind::BlockDevice)));
    m.insert("isreg".into(), json!(kind == Some(FileKind::File)));
    m.insert("isfifo".into(), json!(kind == Some(FileKind::Fifo)));
    m.insert("islnk".into(), json!(kind == Some(FileKind::Symlink)));
    m.insert("issock".into(), json!(kind == Some(FileKind::Socket)));
    m.insert("uid".into(), json!(st.uid));
    m.insert("gid".into(), json!(st.gid));
    m.insert("size".into(), json!(st.size));
    m.insert("inode".into(), json!(st.inode));
    m.insert("dev".into(), json!(st.dev));
    m.insert("nlink".into(), json!(st.nlink));
    m.insert("atime".into(), json!(st.atime));
    m.insert("mtime".into(), json!(st.mtime));
    m.insert("ctime".into(), json!(st.ctime));
    for (name, b) in [
        ("wusr", 0o200),
        ("rusr", 0o400),
        ("xusr", 0o100),
        ("wgrp", 0o020),
        ("rgrp", 0o040),
        ("xgrp", 0o010),
        ("woth", 0o002),
        ("roth", 0o004),
        ("xoth", 0o001),
        ("isuid", 0o4000),
        ("isgid", 0o2000),
    ] {
        m.insert(name.into(), bit(b));
    }
    m.insert("readable".into(), json!(st.readable));
    m.insert("writeable".into(), json!(st.writeable));
    m.insert("executable".into(), json!(st.executable));
    m.insert("pw_name".into(), json!(st.owner));
    m.insert("gr_name".into(), json!(st.group));
    if kind == Some(FileKind::Symlink) {
        if let Some(target) = &st.link_target {
            m.insert("lnk_target".into(), json!(target));
            m.insert(
                "lnk_source".into(),
                json!(normalize(&join(parent_of(path), target))),
            );
        }
    }
    if let Some(sum) = &st.checksum {
        m.insert("checksum".into(), json!(sum));
    }
    m
}

/// Lexical normalisation of an absolute path (`/a/./b/../c` → `/a/c`).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

pub(crate) fn digest(algo: &str, data: &[u8]) -> Option<String> {
    Some(match algo {
        "md5" => hex(&Md5::digest(data)),
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "sha224" => hex(&Sha224::digest(data)),
        "sha256" => hex(&Sha256::digest(data)),
        "sha384" => hex(&Sha384::digest(data)),
        "sha512" => hex(&Sha512::digest(data)),
        _ => return None,
    })
}

#[async_trait::async_trait]
impl Module for Stat {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let path = args.string("path").unwrap_or_default();
        let follow = args.bool("follow", false);
        let get_checksum = args.bool("get_checksum", true);
        let algo = args.str("checksum_algorithm").unwrap_or("sha1");
        let opts = StatOptions {
            follow,
            checksum: get_checksum && algo == "sha1",
        };
        let get_mime = args.bool("get_mime", true);
        let (st, mime) = if get_mime {
            ctx.host.stat_mime(&path, opts).await?
        } else {
            (ctx.host.stat(&path, opts).await?, None)
        };
        let mut dict = stat_dict(&path, &st);
        if get_mime && st.exists {
            // Ansible reports "unknown" when `file` is missing or fails.
            let (mimetype, charset) = mime.map_or_else(
                || ("unknown".to_string(), "unknown".to_string()),
                |m| (m.mimetype, m.charset),
            );
            dict.insert("mimetype".into(), json!(mimetype));
            dict.insert("charset".into(), json!(charset));
        }
        let regular = st.kind == Some(FileKind::File);
        if get_checksum && algo != "sha1" && regular && st.readable {
            // The host computes SHA-1 only; other algorithms hash the content here.
            let data = ctx.host.read(&path).await?;
            if let Some(sum) = digest(algo, &data) {
                dict.insert("checksum".into(), json!(sum));
            }
        }
        Ok(Outcome::ok().with("stat", to_value(&Json::Object(dict))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/a/./b/../c"), "/a/c");
        assert_eq!(normalize("/a/b/../../.."), "/");
        assert_eq!(normalize("a//b"), "a/b");
    }

    #[test]
    fn digests() {
        assert_eq!(
            digest("md5", b"").as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(
            digest("sha256", b"abc").as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(digest("crc", b""), None);
    }

    #[test]
    fn dict_shape() {
        let st = FileStat {
            exists: true,
            kind: Some(FileKind::Symlink),
            mode: 0o4755,
            link_target: Some("../t".into()),
            ..FileStat::default()
        };
        let d = stat_dict("/a/b/l", &st);
        assert_eq!(d["mode"], json!("04755"));
        assert_eq!(d["islnk"], json!(true));
        assert_eq!(d["isuid"], json!(true));
        assert_eq!(d["xoth"], json!(true));
        assert_eq!(d["woth"], json!(false));
        assert_eq!(d["lnk_source"], json!("/a/t"));
        assert_eq!(d["lnk_target"], json!("../t"));
        assert!(!d.contains_key("checksum"));
        let d = stat_dict("/x", &FileStat::default());
        assert_eq!(Json::Object(d), json!({"exists": false}));
    }
}

//! `get_url`: downloads a file from the host's point of view. An existing `dest` is left alone
//! unless `force` (or a `checksum` it does not match) says otherwise; the download goes to a
//! temporary file beside `dest` and replaces it atomically only when its content differs.

use drover_host::{FileKind, FileOp, FileStat, HttpRequest, StatOptions};

use crate::http::{self, URL_ARGS};
use crate::uri::url_file_name;
use crate::util::{add_file_info, attrs_from_args, check_mode_arg, set_attrs};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct GetUrl;

const OWN_ARGS: [ArgDef; 8] = [
    ArgDef::new("dest", ArgKind::Path).required(),
    ArgDef::new("force", ArgKind::Bool).aliases(&["thirsty"]),
    ArgDef::new("checksum", ArgKind::Str),
    ArgDef::new("timeout", ArgKind::Int),
    ArgDef::new("tmp_dest", ArgKind::Path),
    ArgDef::new("mode", ArgKind::Mode),
    ArgDef::new("owner", ArgKind::Str),
    ArgDef::new("group", ArgKind::Str),
];

static ARGS: [ArgDef; 24] = http::args_of(&[&URL_ARGS, &http::UNSUPPORTED_ARGS, &OWN_ARGS]);

static SPEC: ModuleSpec = ModuleSpec {
    name: "get_url",
    args: &ARGS,
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const WITH_SUM: StatOptions = StatOptions {
    checksum: true,
    follow: true,
};

/// `checksum: <algorithm>:<digest or URL>`, split and checked.
fn parse_checksum(spec: &str) -> Result<(String, String), String> {
    let (algo, value) = spec.split_once(':').ok_or_else(|| {
        "The checksum parameter has to be in format <algorithm>:<checksum>".to_string()
    })?;
    let algo = algo.trim().to_ascii_lowercase();
    if !matches!(
        algo.as_str(),
        "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512"
    ) {
        return Err(format!("Unsupported hash algorithm: {algo}"));
    }
    Ok((algo, value.trim().to_string()))
}

/// The digest for `file_name` in a checksum file (`<digest>  <name>` lines, or one digest).
fn digest_from_list(list: &str, file_name: &str) -> Option<String> {
    let lines: Vec<&str> = list.lines().filter(|l| !l.trim().is_empty()).collect();
    if let [only] = lines.as_slice() {
        let mut parts = only.split_whitespace();
        let digest = parts.next()?;
        if parts.next().is_none() {
            return Some(digest.to_ascii_lowercase());
        }
    }
    lines.iter().find_map(|l| {
        let mut parts = l.split_whitespace();
        let digest = parts.next()?;
        let name = parts
            .next()?
            .trim_start_matches('*')
            .trim_start_matches("./");
        (name == file_name).then(|| digest.to_ascii_lowercase())
    })
}

fn dir_and_name(path: &str) -> (String, String) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/".into(), name.into()),
        Some((dir, name)) => (dir.into(), name.into()),
        None => (".".into(), path.into()),
    }
}

#[async_trait::async_trait]
impl Module for GetUrl {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let mut dest = args.string("dest").unwrap_or_default();
        let force = args.bool("force", false);
        let timeout = args.int("timeout").unwrap_or(10).max(1) as u64;
        let attrs = attrs_from_args(args);
        check_mode_arg(&dest, &attrs)?;
        let checksum = match args.string("checksum").filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match parse_checksum(&c) {
                Ok(pair) => Some(pair),
                Err(e) => return Ok(Outcome::failed(e)),
            },
        };
        let mut req = match http::base_request(args, "GET", timeout) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let url = req.url.clone();
        let dest_is_dir =
            ctx.host.stat(&dest, StatOptions::default()).await?.kind == Some(FileKind::Directory);
        if dest_is_dir {
            dest = format!("{}/{}", dest.trim_end_matches('/'), url_file_name(&url));
        }
        // The expected digest: given, or read from a checksum file at a URL.
        let expected = match &checksum {
            None => None,
            Some((algo, value))
                if value.starts_with("http://") || value.starts_with("https://") =>
            {
                let list_req = HttpRequest {
                    url: value.clone(),
                    ..req.clone()
                };
                let resp = http::send(ctx, args, &list_req).await?;
                if resp.status != 200 {
                    return Ok(Outcome::failed(format!(
                        "Request failed: {}",
                        http::status_msg(&resp)
                    ))
                    .with("status_code", resp.status)
                    .with("url", value.clone()));
                }
                let text = String::from_utf8_lossy(&resp.body);
                match digest_from_list(&text, &url_file_name(&url)) {
                    Some(d) => Some((algo.clone(), d)),
                    None => {
                        return Ok(Outcome::failed(format!(
                            "Unable to find a checksum for file '{}' in '{value}'",
                            url_file_name(&url)
                        )))
                    }
                }
            }
            Some((algo, value)) => Some((algo.clone(), value.to_ascii_lowercase())),
        };
        let before: FileStat = ctx.host.stat(&dest, WITH_SUM).await?;
        // An existing file is not downloaded again unless forced or its checksum is wrong.
        if before.exists && !force {
            let satisfied = match &expected {
                None => true,
                Some((algo, digest)) if algo == "sha1" => {
                    before.checksum.as_deref() == Some(digest.as_str())
                }
                Some((algo, digest)) => {
                    let out = ctx
                        .host
                        .exec(&drover_host::ExecRequest::argv([
                            format!("{algo}sum"),
                            dest.clone(),
                        ]))
                        .await?;
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .next()
                        .is_some_and(|d| d.eq_ignore_ascii_case(digest))
                }
            };
            if satisfied {
                let mut out = Outcome::ok();
                out.changed = set_attrs(ctx, &dest, &before, &attrs, true).await?;
                let msg = if expected.is_some() {
                    "file already exists but checksum matches"
                } else {
                    "file already exists"
                };
                out.msg = Some(msg.into());
                out.set("dest", dest.clone());
                out.set("url", url);
                out.set("checksum_dest", before.checksum.clone());
                let after = ctx.host.stat(&dest, StatOptions::default()).await?;
                add_file_info(&mut out, &after);
                return Ok(out);
            }
        }
        let (dir, name) = dir_and_name(&dest);
        let tmp_dir = args.string("tmp_dest").unwrap_or(dir);
        let tmp = format!("{tmp_dir}/.{name}.drover-get_url-{}", std::process::id());
        req.body_to = Some(tmp.clone());
        req.digest = expected.as_ref().map(|(algo, _)| algo.clone());
        let started = std::time::Instant::now();
        let resp = http::send(ctx, args, &req).await?;
        let elapsed = started.elapsed().as_secs() as i64;
        let discard = |tmp: String| async move {
            let _ = ctx.host.file_op(&FileOp::Absent { path: tmp }, false).await;
        };
        if resp.status != 200 {
            discard(tmp).await;
            return Ok(Outcome::failed("Request failed")
                .with("status_code", resp.status)
                .with("response", http::status_msg(&resp))
                .with("url", url)
                .with("dest", dest)
                .with("elapsed", elapsed));
        }
        if let Some((algo, digest)) = &expected {
            let got = if algo == "sha1" {
                Some(resp.sha1.clone())
            } else {
                resp.digest.clone()
            };
            if got.as_deref() != Some(digest.as_str()) {
                discard(tmp.clone()).await;
                return Ok(Outcome::failed(format!(
                    "The checksum for {tmp} did not match {digest}; it was {}.",
                    got.unwrap_or_default()
                )));
            }
        }
        let mut out = Outcome::ok();
        let changed = before.checksum.as_deref() != Some(resp.sha1.as_str());
        if !changed || ctx.check {
            discard(tmp.clone()).await;
        } else {
            // Like Ansible's atomic_move: a replaced file keeps its mode and owner; a new one
            // gets 0644 unless `mode` says otherwise.
            let keep = if before.exists {
                drover_host::Attrs {
                    mode: Some(format!("{:04o}", before.mode & 0o7777)),
                    owner: Some(before.uid.to_string()),
                    group: Some(before.gid.to_string()),
                }
            } else {
                drover_host::Attrs {
                    mode: Some("0644".into()),
                    ..drover_host::Attrs::default()
                }
            };
            ctx.host
                .file_op(
                    &FileOp::Attrs {
                        path: tmp.clone(),
                        attrs: keep,
                        follow: false,
                        recurse: false,
                    },
                    false,
                )
                .await?;
            ctx.host
                .file_op(
                    &FileOp::Rename {
                        from: tmp.clone(),
                        to: dest.clone(),
                    },
                    false,
                )
                .await?;
        }
        out.changed = changed;
        if !ctx.check {
            let now = ctx.host.stat(&dest, StatOptions::default()).await?;
            out.changed |= set_attrs(ctx, &dest, &now, &attrs, true).await?;
        }
        out.msg = Some(http::status_msg(&resp));
        out.set("status_code", resp.status);
        out.set("url", url);
        out.set("dest", dest.clone());
        out.set("src", tmp);
        out.set("elapsed", elapsed);
        out.set("checksum_src", resp.sha1.clone());
        out.set("checksum_dest", before.checksum.clone());
        let after = ctx.host.stat(&dest, StatOptions::default()).await?;
        add_file_info(&mut out, &after);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_specs() {
        assert_eq!(
            parse_checksum("sha256:ABC").unwrap(),
            ("sha256".into(), "ABC".into())
        );
        assert!(parse_checksum("nocolon").is_err());
        assert_eq!(
            parse_checksum("crc32:1").unwrap_err(),
            "Unsupported hash algorithm: crc32"
        );
    }

    #[test]
    fn checksum_files() {
        let list = "abc  other.tar.gz\nDEF *app.tar.gz\n";
        assert_eq!(digest_from_list(list, "app.tar.gz").as_deref(), Some("def"));
        assert_eq!(digest_from_list(list, "missing"), None);
        assert_eq!(digest_from_list("F00\n", "any").as_deref(), Some("f00"));
    }
}

//! `uri`: an HTTP request made from the host, as Ansible's module makes it: the status must be
//! one of `status_code`, JSON bodies are built and parsed, response headers become result keys.

use drover_host::{FileOp, FileStat, StatOptions};
use minijinja::Value;

use crate::http::{self, URL_ARGS};
use crate::util::{add_file_info, attrs_from_args, set_attrs};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Uri;

const OWN_ARGS: [ArgDef; 17] = [
    ArgDef::new("dest", ArgKind::Path),
    ArgDef::new("body", ArgKind::Raw),
    ArgDef::new("body_format", ArgKind::Str).choices(&[
        "form-urlencoded",
        "json",
        "raw",
        "form-multipart",
    ]),
    ArgDef::new("src", ArgKind::Path),
    ArgDef::new("remote_src", ArgKind::Bool),
    ArgDef::new("method", ArgKind::Str),
    ArgDef::new("return_content", ArgKind::Bool),
    ArgDef::new("follow_redirects", ArgKind::Str),
    ArgDef::new("creates", ArgKind::Path),
    ArgDef::new("removes", ArgKind::Path),
    ArgDef::new("status_code", ArgKind::Raw),
    ArgDef::new("timeout", ArgKind::Int),
    ArgDef::new("force", ArgKind::Bool),
    ArgDef::new("unix_socket", ArgKind::Path),
    ArgDef::new("mode", ArgKind::Mode),
    ArgDef::new("owner", ArgKind::Str),
    ArgDef::new("group", ArgKind::Str),
];

static ARGS: [ArgDef; 33] = http::args_of(&[&URL_ARGS, &http::UNSUPPORTED_ARGS, &OWN_ARGS]);

static SPEC: ModuleSpec = ModuleSpec {
    name: "uri",
    args: &ARGS,
    free_form: false,
    mutually_exclusive: &[&["body", "src"]],
    required_one_of: &[],
    check_mode: true,
};

/// `status_code` as a list of numbers (Ansible takes one number or a list).
fn status_codes(args: &Args) -> Result<Vec<i64>, String> {
    let Some(v) = args.get("status_code") else {
        return Ok(vec![200]);
    };
    let one = |v: &Value| -> Result<i64, String> {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| format!("status_code: {v} is not a number"))
    };
    if v.as_str().is_some() {
        return v
            .as_str()
            .unwrap_or_default()
            .split(',')
            .map(|s| one(&Value::from(s.trim())))
            .collect();
    }
    match v.try_iter() {
        Ok(items) => items.map(|i| one(&i)).collect(),
        Err(_) => Ok(vec![one(v)?]),
    }
}

/// Python's rendering of the accepted codes in the failure message (`[200, 201]`).
fn codes_text(codes: &[i64]) -> String {
    let parts: Vec<String> = codes.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The body to send and the content type it implies.
async fn body(
    args: &Args,
    ctx: &Context<'_>,
) -> Result<Option<(Vec<u8>, Option<&'static str>)>, ModuleError> {
    if let Some(src) = args.string("src") {
        let data = if args.bool("remote_src", false) {
            ctx.host.read(&src).await?
        } else {
            let path = ctx.controller.find_file("files", &src)?;
            std::fs::read(&path)
                .map_err(|e| ModuleError::Controller(format!("{}: {e}", path.display())))?
        };
        return Ok(Some((data, None)));
    }
    let Some(body) = args.get("body") else {
        return Ok(None);
    };
    let format = args.str("body_format").unwrap_or("raw");
    Ok(Some(match format {
        "json" => {
            let text = match body.as_str() {
                Some(s) => s.to_string(),
                None => serde_json::to_string(body)
                    .map_err(|e| ModuleError::Controller(format!("body: {e}")))?,
            };
            (text.into_bytes(), Some("application/json"))
        }
        "form-urlencoded" => {
            let text = match body.as_str() {
                Some(s) => s.to_string(),
                None => {
                    let mut enc = form_urlencoded::Serializer::new(String::new());
                    let pairs: Vec<(String, String)> = match body.try_iter() {
                        Ok(keys) if body.kind() == minijinja::value::ValueKind::Map => keys
                            .map(|k| {
                                let v = body.get_item(&k).unwrap_or_default();
                                (k.to_string(), plain(&v))
                            })
                            .collect(),
                        Ok(items) => items
                            .filter_map(|pair| {
                                let k = pair.get_item(&Value::from(0)).ok()?;
                                let v = pair.get_item(&Value::from(1)).ok()?;
                                Some((plain(&k), plain(&v)))
                            })
                            .collect(),
                        Err(_) => {
                            return Err(ModuleError::Controller(
                                "failed to parse body as form_urlencoded: a mapping or a list of pairs is needed".into(),
                            ))
                        }
                    };
                    for (k, v) in &pairs {
                        enc.append_pair(k, v);
                    }
                    enc.finish()
                }
            };
            (text.into_bytes(), Some("application/x-www-form-urlencoded"))
        }
        "form-multipart" => {
            return Err(ModuleError::Controller(
                "body_format form-multipart is not supported by drover's uri yet".into(),
            ))
        }
        _ => {
            let bytes = match body.as_str() {
                Some(s) => s.as_bytes().to_vec(),
                None => serde_json::to_string(body)
                    .map_err(|e| ModuleError::Controller(format!("body: {e}")))?
                    .into_bytes(),
            };
            (bytes, None)
        }
    }))
}

/// The last segment of a URL's path (`index.html` for an empty one).
pub(crate) fn url_file_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let name = path
        .split_once('/')
        .map_or("", |(_, p)| p)
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if name.is_empty() {
        "index.html".into()
    } else {
        name.to_string()
    }
}

fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

#[async_trait::async_trait]
impl Module for Uri {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        if let Some(creates) = args.string("creates") {
            if ctx
                .host
                .stat(&creates, StatOptions::default())
                .await?
                .exists
            {
                return Ok(Outcome::ok()
                    .with("stdout", format!("skipped, since '{creates}' exists"))
                    .with("msg", format!("skipped, since '{creates}' exists")));
            }
        }
        if let Some(removes) = args.string("removes") {
            if !ctx
                .host
                .stat(&removes, StatOptions::default())
                .await?
                .exists
            {
                return Ok(Outcome::ok()
                    .with(
                        "stdout",
                        format!("skipped, since '{removes}' does not exist"),
                    )
                    .with("msg", format!("skipped, since '{removes}' does not exist")));
            }
        }
        if args.string("unix_socket").is_some() {
            return Ok(Outcome::failed(
                "unix_socket is not supported by drover's HTTP client",
            ));
        }
        let method = args
            .string("method")
            .unwrap_or_else(|| "GET".into())
            .to_uppercase();
        let codes = match status_codes(args) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        let timeout = args.int("timeout").unwrap_or(30).max(1) as u64;
        let mut req = match http::base_request(args, &method, timeout) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::failed(e)),
        };
        req.max_redirects =
            match http::max_redirects(args.str("follow_redirects").unwrap_or("safe"), &method) {
                Ok(n) => n,
                Err(e) => return Ok(Outcome::failed(e)),
            };
        if let Some((data, content_type)) = body(args, ctx).await? {
            if let Some(ct) = content_type {
                if !req
                    .headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    req.headers.push(("Content-Type".into(), ct.into()));
                }
            }
            req.body = Some(data);
        }
        // In check mode a request could change the remote side: Ansible's uri skips it.
        if ctx.check {
            let mut out = Outcome::ok();
            out.skipped = true;
            out.msg = Some("remote module (uri) does not support check mode".into());
            return Ok(out);
        }
        let dest = match args.string("dest") {
            None => None,
            // A directory takes the URL's last path segment as the file name.
            Some(d) => {
                let st = ctx.host.stat(&d, StatOptions::default()).await?;
                if st.kind == Some(drover_host::FileKind::Directory) {
                    Some(format!(
                        "{}/{}",
                        d.trim_end_matches('/'),
                        url_file_name(&req.url)
                    ))
                } else {
                    Some(d)
                }
            }
        };
        let tmp = dest.as_ref().map(|d| {
            let name = d.rsplit('/').next().unwrap_or("uri");
            let dir = d
                .rsplit_once('/')
                .map_or(".", |(dir, _)| if dir.is_empty() { "/" } else { dir });
            format!("{dir}/.{name}.drover-uri-{}", std::process::id())
        });
        req.body_to.clone_from(&tmp);
        let started = std::time::Instant::now();
        let resp = http::send(ctx, args, &req).await?;
        let mut out = Outcome::ok();
        out.set("status", resp.status);
        out.set("url", resp.url.clone());
        out.set("redirected", resp.redirected);
        out.set("elapsed", started.elapsed().as_secs() as i64);
        http::add_headers(&mut out, &resp);
        let msg = http::status_msg(&resp);
        // The body was read into memory unless it went to `dest`.
        if dest.is_none() {
            let text = String::from_utf8_lossy(&resp.body).into_owned();
            let is_json = http::header(&resp, "content-type").is_some_and(|ct| {
                let ct = ct.to_ascii_lowercase();
                ct.contains("json")
            });
            if is_json {
                if let Ok(j) = serde_json::from_str::<serde_json::Value>(&text) {
                    out.set("json", Value::from(minijinja::value::Serde(j)));
                }
            }
            if args.bool("return_content", false) {
                out.set("content", text);
            }
        }
        if !codes.contains(&i64::from(resp.status)) {
            if let Some(t) = &tmp {
                let _ = ctx
                    .host
                    .file_op(&FileOp::Absent { path: t.clone() }, false)
                    .await;
            }
            out.failed = true;
            out.msg = Some(format!(
                "Status code was {} and not {}: {msg}",
                resp.status,
                codes_text(&codes)
            ));
            return Ok(out);
        }
        out.msg = Some(msg);
        if let (Some(dest), Some(tmp)) = (dest, tmp) {
            let opts = StatOptions {
                checksum: true,
                ..StatOptions::default()
            };
            let before: FileStat = ctx.host.stat(&dest, opts).await?;
            let same = before.exists && before.checksum.as_deref() == Some(resp.sha1.as_str());
            if same {
                ctx.host
                    .file_op(&FileOp::Absent { path: tmp }, false)
                    .await?;
            } else {
                ctx.host
                    .file_op(
                        &FileOp::Rename {
                            from: tmp,
                            to: dest.clone(),
                        },
                        false,
                    )
                    .await?;
                out.changed = true;
            }
            let attrs = attrs_from_args(args);
            let now = ctx.host.stat(&dest, StatOptions::default()).await?;
            out.changed |= set_attrs(ctx, &dest, &now, &attrs, true).await?;
            let after = ctx.host.stat(&dest, StatOptions::default()).await?;
            add_file_info(&mut out, &after);
            out.set("path", dest);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_urls() {
        assert_eq!(url_file_name("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_file_name("https://h"), "index.html");
        assert_eq!(url_file_name("https://h/dir/"), "index.html");
    }

    #[test]
    fn status_code_lists() {
        assert_eq!(codes_text(&[200, 201]), "[200, 201]");
    }
}

//! What `uri` and `get_url` share: the request options Ansible's `url` helpers take, and the
//! way a response is reported. The request itself is made by the host (`Host::http`).

use base64::Engine;
use drover_host::{HttpRequest, HttpResponse};
use minijinja::Value;

use crate::{ArgDef, ArgKind, Args, Context, ModuleError, Outcome};

/// Arguments of Ansible's `url` documentation fragment, as `uri` and `get_url` both take them.
pub(crate) const URL_ARGS: [ArgDef; 9] = [
    ArgDef::new("url", ArgKind::Str).required(),
    ArgDef::new("headers", ArgKind::Dict),
    ArgDef::new("validate_certs", ArgKind::Bool),
    ArgDef::new("url_username", ArgKind::Str).aliases(&["user", "username"]),
    ArgDef::new("url_password", ArgKind::Str)
        .aliases(&["password"])
        .secret(),
    ArgDef::new("force_basic_auth", ArgKind::Bool),
    ArgDef::new("http_agent", ArgKind::Str),
    ArgDef::new("use_proxy", ArgKind::Bool),
    ArgDef::new("decompress", ArgKind::Bool),
];

/// Arguments accepted for compatibility whose setting drover cannot honour unless it is the
/// default; a task that sets one otherwise fails, naming it.
pub(crate) const UNSUPPORTED_ARGS: [ArgDef; 7] = [
    ArgDef::new("client_cert", ArgKind::Path),
    ArgDef::new("client_key", ArgKind::Path),
    ArgDef::new("ca_path", ArgKind::Path),
    ArgDef::new("use_gssapi", ArgKind::Bool),
    ArgDef::new("use_netrc", ArgKind::Bool),
    ArgDef::new("ciphers", ArgKind::List),
    ArgDef::new("unredirected_headers", ArgKind::List),
];

/// The `N` argument definitions of `parts`, in order: a module's table from the shared ones and
/// its own. A count that does not add up fails the build.
pub(crate) const fn args_of<const N: usize>(parts: &[&[ArgDef]]) -> [ArgDef; N] {
    let mut all = [ArgDef::new("", ArgKind::Raw); N];
    let mut n = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            all[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(n == N, "argument table size does not match its parts");
    all
}

/// Fails for arguments of [`UNSUPPORTED_ARGS`] set to anything but their default.
pub(crate) fn refuse_unsupported(args: &Args) -> Result<(), String> {
    for def in &UNSUPPORTED_ARGS {
        let set = match def.kind {
            ArgKind::Bool => def.name == "use_gssapi" && args.bool(def.name, false),
            ArgKind::List => !args.list(def.name).is_empty(),
            _ => args.string(def.name).is_some(),
        };
        if set {
            return Err(format!(
                "{} is not supported by drover's HTTP client",
                def.name
            ));
        }
    }
    Ok(())
}

/// How many redirects a method may follow under `follow_redirects`.
pub(crate) fn max_redirects(follow: &str, method: &str) -> Result<u32, String> {
    Ok(match follow {
        "all" | "yes" | "urllib2" => 10,
        "safe" if matches!(method, "GET" | "HEAD") => 10,
        "safe" | "no" | "none" => 0,
        other => {
            return Err(format!(
                "value of follow_redirects must be one of: all, no, none, safe, urllib2, yes, got: {other}"
            ))
        }
    })
}

/// The request `args` describe, without its method, body and redirect policy.
pub(crate) fn base_request(
    args: &Args,
    method: &str,
    timeout_secs: u64,
) -> Result<HttpRequest, String> {
    refuse_unsupported(args)?;
    let url = args.string("url").unwrap_or_default();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "drover fetches http:// and https:// URLs only, got {url}"
        ));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(h) = args.get("headers") {
        if let Ok(keys) = h.try_iter() {
            for k in keys {
                let v = h.get_item(&k).unwrap_or_default();
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                headers.push((k.to_string(), v));
            }
        }
    }
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !has(&headers, "user-agent") {
        let agent = args
            .string("http_agent")
            .unwrap_or_else(|| "ansible-httpget".into());
        headers.push(("User-Agent".into(), agent));
    }
    if args.bool("force_basic_auth", false) {
        if let Some(auth) = basic_auth(args) {
            headers.push(("Authorization".into(), auth));
        }
    }
    Ok(HttpRequest {
        method: method.to_string(),
        url,
        headers,
        body: None,
        timeout_secs,
        validate_certs: args.bool("validate_certs", true),
        max_redirects: 10,
        body_to: None,
        digest: None,
    })
}

/// `Authorization: Basic ...` for `url_username`/`url_password`, if a user is given.
fn basic_auth(args: &Args) -> Option<String> {
    let user = args.string("url_username")?;
    let password = args.string("url_password").unwrap_or_default();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Some(format!("Basic {token}"))
}

/// Sends `req`; a 401 that asks for Basic credentials is answered once with them, as urllib's
/// basic auth handler does when `force_basic_auth` is off.
pub(crate) async fn send(
    ctx: &Context<'_>,
    args: &Args,
    req: &HttpRequest,
) -> Result<HttpResponse, ModuleError> {
    let resp = ctx.host.http(req).await?;
    let challenged = resp.status == 401
        && header(&resp, "www-authenticate")
            .is_some_and(|v| v.to_ascii_lowercase().contains("basic"));
    let already = req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    if challenged && !already {
        if let Some(auth) = basic_auth(args) {
            let mut retry = req.clone();
            retry.headers.push(("Authorization".into(), auth));
            if let Some(path) = &retry.body_to {
                let _ = ctx
                    .host
                    .file_op(&drover_host::FileOp::Absent { path: path.clone() }, false)
                    .await;
            }
            return Ok(ctx.host.http(&retry).await?);
        }
    }
    Ok(resp)
}

pub(crate) fn header<'a>(resp: &'a HttpResponse, name: &str) -> Option<&'a str> {
    resp.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// urllib's description of an answer: `OK (N bytes)`, `HTTP Error 404: Not Found`, or the
/// reason a request got no answer.
pub(crate) fn status_msg(resp: &HttpResponse) -> String {
    if let Some(e) = &resp.error {
        return e.clone();
    }
    if resp.status >= 400 {
        return format!("HTTP Error {}: {}", resp.status, resp.reason);
    }
    match header(resp, "content-length") {
        Some(n) => format!("OK ({n} bytes)"),
        None => "OK (unknown bytes)".to_string(),
    }
}

/// Every response header as a result key, as Ansible flattens them (`content_type`, ...).
pub(crate) fn add_headers(out: &mut Outcome, resp: &HttpResponse) {
    for (k, v) in &resp.headers {
        out.set(&k.replace('-', "_"), v.clone());
    }
    let cookies: Vec<(String, String)> = resp
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| {
            let pair = v.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    out.set(
        "cookies_string",
        cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; "),
    );
    out.set(
        "cookies",
        Value::from_pairs(cookies.into_iter().map(|(k, v)| (k, Value::from(v)))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_follow_ansible_choices() {
        assert_eq!(max_redirects("safe", "GET").unwrap(), 10);
        assert_eq!(max_redirects("safe", "POST").unwrap(), 0);
        assert_eq!(max_redirects("all", "POST").unwrap(), 10);
        assert_eq!(max_redirects("none", "GET").unwrap(), 0);
        assert!(max_redirects("sometimes", "GET").is_err());
    }

    #[test]
    fn status_messages_read_as_urllib() {
        let mut r = HttpResponse {
            status: 404,
            reason: "Not Found".into(),
            ..HttpResponse::default()
        };
        assert_eq!(status_msg(&r), "HTTP Error 404: Not Found");
        r.status = 200;
        r.headers = vec![("content-length".into(), "12".into())];
        assert_eq!(status_msg(&r), "OK (12 bytes)");
        r.headers.clear();
        assert_eq!(status_msg(&r), "OK (unknown bytes)");
    }
}

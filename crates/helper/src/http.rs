//! HTTP requests made from the managed host (`uri`, `get_url`), with ureq: the host's own
//! network view, proxies from its environment, and its trust store for TLS.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use drover_host::{HostError, HostResult, HttpRequest, HttpResponse};
use sha1::Digest;
use ureq::tls::{RootCerts, TlsConfig};

/// A digest of the body, computed while it streams.
enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(name: &str) -> Option<Hasher> {
        Some(match name {
            "md5" => Hasher::Md5(md5::Md5::new()),
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha224" => Hasher::Sha224(sha2::Sha224::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            "sha384" => Hasher::Sha384(sha2::Sha384::new()),
            "sha512" => Hasher::Sha512(sha2::Sha512::new()),
            _ => return None,
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Md5(h) => crate::fsops::hex(&h.finalize()),
            Hasher::Sha1(h) => crate::fsops::hex(&h.finalize()),
            Hasher::Sha224(h) => crate::fsops::hex(&h.finalize()),
            Hasher::Sha256(h) => crate::fsops::hex(&h.finalize()),
            Hasher::Sha384(h) => crate::fsops::hex(&h.finalize()),
            Hasher::Sha512(h) => crate::fsops::hex(&h.finalize()),
        }
    }
}

fn failed(req: &HttpRequest, error: String) -> HttpResponse {
    HttpResponse {
        status: -1,
        url: req.url.clone(),
        error: Some(error),
        ..HttpResponse::default()
    }
}

pub fn request(req: &HttpRequest) -> HostResult<HttpResponse> {
    let mut extra = match &req.digest {
        None => None,
        Some(name) => Some(Hasher::new(name).ok_or_else(|| {
            HostError::Unsupported(format!("unsupported checksum algorithm {name:?}"))
        })?),
    };
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .disable_verification(!req.validate_certs)
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(req.timeout_secs.max(1))))
        .http_status_as_error(false)
        .max_redirects(req.max_redirects)
        .save_redirect_history(true)
        .tls_config(tls)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder()
        .method(req.method.as_str())
        .uri(req.url.as_str());
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = match builder.body(req.body.clone().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return Ok(failed(req, format!("invalid request: {e}"))),
    };
    let mut resp = match agent.run(request) {
        Ok(r) => r,
        Err(e) => return Ok(failed(req, format!("Request failed: {e}"))),
    };
    let status = resp.status();
    let final_url = ureq::ResponseExt::get_uri(&resp).to_string();
    let redirected = ureq::ResponseExt::get_redirect_history(&resp).is_some_and(|h| h.len() > 1);
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut reader = resp.body_mut().as_reader();
    let mut sha1 = sha1::Sha1::new();
    let mut body = Vec::new();
    let mut size = 0u64;
    let mut file = match &req.body_to {
        None => None,
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| HostError::io(path, &e))?,
        ),
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                if let Some(path) = &req.body_to {
                    let _ = std::fs::remove_file(path);
                }
                return Ok(failed(
                    req,
                    format!("Request failed: reading the body: {e}"),
                ));
            }
        };
        let chunk = &buf[..n];
        sha1.update(chunk);
        if let Some(h) = extra.as_mut() {
            h.update(chunk);
        }
        size += n as u64;
        match (&mut file, &req.body_to) {
            (Some(f), Some(path)) => f.write_all(chunk).map_err(|e| HostError::io(path, &e))?,
            _ => body.extend_from_slice(chunk),
        }
    }
    if let (Some(f), Some(path)) = (file, &req.body_to) {
        f.sync_all().map_err(|e| HostError::io(path, &e))?;
    }
    Ok(HttpResponse {
        status: i32::from(status.as_u16()),
        reason: status.canonical_reason().unwrap_or_default().to_string(),
        url: final_url,
        redirected,
        headers,
        body,
        size,
        sha1: crate::fsops::hex(&sha1.finalize()),
        digest: extra.map(Hasher::hex),
        error: None,
    })
}

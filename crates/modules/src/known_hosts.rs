//! `known_hosts`: adds, replaces or removes a host's key in an OpenSSH `known_hosts` file.
//!
//! Ansible's module asks `ssh-keygen -F` which lines match the host; here the same matching
//! (host patterns with `*`/`?`/`!`, and hashed `|1|salt|hash` entries, an HMAC-SHA1 of the host
//! name keyed by the salt) is done on the controller, so the host needs no OpenSSH tools. The
//! file is read in one round trip and written atomically when it changes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use minijinja::Value;
use sha1::Sha1;

use drover_host::{HostError, WriteRequest};

use crate::util::expand_user;
use crate::{ArgDef, ArgKind, Args, Context, FileDiff, Module, ModuleError, ModuleSpec, Outcome};

pub struct KnownHosts;

static SPEC: ModuleSpec = ModuleSpec {
    name: "known_hosts",
    args: &[
        ArgDef::new("name", ArgKind::Str)
            .required()
            .aliases(&["host"]),
        ArgDef::new("key", ArgKind::Str),
        ArgDef::new("path", ArgKind::Path),
        ArgDef::new("hash_host", ArgKind::Bool),
        ArgDef::new("state", ArgKind::Str).choices(&["absent", "present"]),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

const DEFAULT_PATH: &str = "~/.ssh/known_hosts";

#[async_trait::async_trait]
impl Module for KnownHosts {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let given_name = args.string("name").unwrap_or_default();
        let host = given_name.to_lowercase();
        let given_key = args.string("key").filter(|k| !k.is_empty());
        let hash_host = args.bool("hash_host", false);
        let present = args.str("state").unwrap_or("present") == "present";
        let path = expand_user(
            ctx,
            args.str("path")
                .filter(|p| !p.is_empty())
                .unwrap_or(DEFAULT_PATH),
        )
        .await?;

        // Ansible returns its parameters with the result.
        let params = |mut out: Outcome| {
            out.set("name", given_name.clone());
            out.set(
                "key",
                given_key.clone().map_or(Value::from(()), Value::from),
            );
            out.set("path", path.clone());
            out.set("hash_host", hash_host);
            out.set("state", if present { "present" } else { "absent" });
            out
        };

        if given_key.is_none() && present {
            return Ok(params(Outcome::failed(
                "No key specified when adding a host",
            )));
        }
        let key = match &given_key {
            Some(k) => {
                let mut line = if hash_host {
                    match hash_key_line(&host, k)? {
                        Some(hashed) => hashed,
                        None => return Ok(params(Outcome::failed(invalid_key(k)))),
                    }
                } else {
                    k.clone()
                };
                if !line.ends_with('\n') {
                    line.push('\n');
                }
                Some(line)
            }
            None => None,
        };

        if let Some(key) = &key {
            if has_name_list(&host) {
                return Ok(params(Outcome::failed(
                    "Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.",
                )));
            }
            if find_host(key, &host).is_empty() {
                return Ok(params(Outcome::failed(
                    "Host parameter does not match hashed host field in supplied key",
                )));
            }
        }

        let before = match ctx.host.read(&path).await {
            Ok(data) => Some(String::from_utf8_lossy(&data).into_owned()),
            Err(e) if e.is_not_found() => None,
            Err(e @ HostError::Io { .. }) => {
                return Ok(params(Outcome::failed(format!(
                    "Failed to read '{path}': {e}"
                ))))
            }
            Err(e) => return Err(e.into()),
        };

        let found = match &before {
            Some(text) => search(text, &host, key.as_deref()),
            None => Some(Search::default()),
        };
        let Some(found) = found else {
            return Ok(params(Outcome::failed(invalid_key(
                given_key.as_deref().unwrap_or_default(),
            ))));
        };

        let after = new_content(
            before.as_deref().unwrap_or_default(),
            &found,
            present,
            key.as_deref(),
        );
        let diff = FileDiff {
            before_header: if before.is_some() {
                path.clone()
            } else {
                "/dev/null".to_string()
            },
            after_header: path.clone(),
            before: before.clone().unwrap_or_default(),
            after: after.clone(),
        };
        let mut out = Outcome::ok().with("diff", diff_value(&diff));
        if ctx.diff && diff.before != diff.after {
            out.diff.push(diff.clone());
        }

        // Removing a key that is not there changes nothing, even when the host has other keys.
        if !present && found.line.is_none() && key.is_some() {
            return Ok(params(out));
        }

        let must_write = found.replace_or_add || found.found != present;
        if ctx.check {
            // Ansible leaves its parameters out of check-mode results.
            out.changed = must_write;
            return Ok(out);
        }

        let mut current = before.clone().unwrap_or_default();
        if found.found && key.is_none() && !present {
            // `ssh-keygen -R`: every plain entry of the host goes; the old file is kept as
            // `<path>.old`.
            write(
                ctx,
                &format!("{path}.old"),
                current.clone().into_bytes(),
                false,
            )
            .await?;
            current = remove_host(&current, &host);
            out.changed = true;
        }
        if must_write {
            let content = new_content(&current, &found, present, key.as_deref());
            if let Err(e) = write(ctx, &path, content.into_bytes(), true).await {
                return match e {
                    ModuleError::Host(e @ HostError::Io { .. }) => Ok(params(Outcome::failed(
                        format!("Failed to write to file '{path}': {e}"),
                    ))),
                    other => Err(other),
                };
            }
            out.changed = true;
        }
        Ok(params(out))
    }
}

async fn write(
    ctx: &Context<'_>,
    path: &str,
    content: Vec<u8>,
    preserve: bool,
) -> Result<(), ModuleError> {
    let req = WriteRequest {
        path: path.to_string(),
        content,
        preserve_existing: preserve,
        ..WriteRequest::default()
    };
    ctx.host.write(&req).await?;
    Ok(())
}

fn invalid_key(key: &str) -> String {
    format!(
        "Invalid key specified: '{}'. A key line is '[@marker] host keytype base64-key'",
        key.trim()
    )
}

fn diff_value(d: &FileDiff) -> Value {
    Value::from_pairs([
        ("before_header", Value::from(d.before_header.clone())),
        ("after_header", Value::from(d.after_header.clone())),
        ("before", Value::from(d.before.clone())),
        ("after", Value::from(d.after.clone())),
    ])
}

/// Whether `name` is a list of names (`a,b`, `a , b`): a comma with something before it.
fn has_name_list(name: &str) -> bool {
    name.match_indices(',')
        .any(|(i, _)| !name[..i].trim_end().is_empty())
}

/// The first line of `key` with its host field replaced by a hashed one for `host` (a fresh
/// random salt each time, as `ssh-keygen -H` does). `None` when the line has too few fields.
fn hash_key_line(host: &str, key: &str) -> Result<Option<String>, ModuleError> {
    let mut parts: Vec<&str> = key.split_whitespace().collect();
    let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
    if parts.len() <= i {
        return Ok(None);
    }
    let mut salt = [0u8; 20];
    getrandom::fill(&mut salt)
        .map_err(|e| ModuleError::Controller(format!("no random salt for hash_host: {e}")))?;
    let hashed = format!(
        "|1|{}|{}",
        B64.encode(salt),
        B64.encode(hmac_sha1(&salt, host))
    );
    parts[i] = &hashed;
    Ok(Some(parts.join(" ")))
}

fn hmac_sha1(salt: &[u8], host: &str) -> Vec<u8> {
    // HMAC accepts keys of any length; this cannot fail.
    match Hmac::<Sha1>::new_from_slice(salt) {
        Ok(mut mac) => {
            mac.update(host.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// A key line split as Ansible compares lines: marker, host field, key type, key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyLine<'a> {
    marker: Option<&'a str>,
    host: &'a str,
    kind: &'a str,
    key: &'a str,
}

impl<'a> KeyLine<'a> {
    fn parse(line: &'a str) -> Option<KeyLine<'a>> {
        let mut words = line.split_whitespace();
        let first = words.next()?;
        let (marker, host) = if first.starts_with('@') {
            (Some(first), words.next()?)
        } else {
            (None, first)
        };
        Some(KeyLine {
            marker,
            host,
            kind: words.next()?,
            key: words.next()?,
        })
    }

    fn is_hashed(&self) -> bool {
        self.host.starts_with("|1|")
    }
}

/// What the file says about the host, as Ansible's `search_for_host_key` reports it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Search {
    /// Some line matches the host.
    found: bool,
    /// The key given differs from what the file has (or the file lacks it).
    replace_or_add: bool,
    /// The 1-based line holding the same key, or a key of the same type to replace.
    line: Option<usize>,
}

/// Looks `host` up in `text` and compares the matching entries with `key`. `None` when `key`
/// is not a valid key line.
fn search(text: &str, host: &str, key: Option<&str>) -> Option<Search> {
    let matches = find_host(text, host);
    if matches.is_empty() {
        return Some(Search::default());
    }
    let Some(key) = key else {
        return Some(Search {
            found: true,
            replace_or_add: false,
            line: None,
        });
    };
    let mut wanted = KeyLine::parse(key)?;
    for (n, line) in matches {
        let Some(have) = KeyLine::parse(line) else {
            continue;
        };
        match have.marker {
            // CA and revocation lines only ever match exactly; they are never replaced.
            Some(m) if m.starts_with("@cert-authority") || m.starts_with("@revoke") => {
                if wanted == have {
                    return Some(found(false, Some(n)));
                }
            }
            _ => {
                // A hashed entry keeps its salt: compare the keys, not the hashes.
                if wanted.is_hashed() && have.is_hashed() {
                    wanted.host = have.host;
                }
                if wanted == have {
                    return Some(found(false, Some(n)));
                }
                if wanted.kind == have.kind {
                    return Some(found(true, Some(n)));
                }
            }
        }
    }
    Some(found(true, None))
}

fn found(replace_or_add: bool, line: Option<usize>) -> Search {
    Search {
        found: true,
        replace_or_add,
        line,
    }
}

/// The file after the change: the found line dropped when it is replaced or removed, the key
/// appended when it is wanted and not already there.
fn new_content(before: &str, s: &Search, present: bool, key: Option<&str>) -> String {
    let mut lines: Vec<&str> = before.split_inclusive('\n').collect();
    if let Some(n) = s.line {
        if (s.replace_or_add || !present) && (1..=lines.len()).contains(&n) {
            lines.remove(n - 1);
        }
    }
    let mut out: String = lines.concat();
    if present && (s.replace_or_add || s.line.is_none()) {
        if let Some(k) = key {
            // Ansible would glue the key to a last line without its newline.
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(k);
        }
    }
    out
}

/// The entries of `text` whose host field matches `host`, with their 1-based line numbers
/// (what `ssh-keygen -F host` prints). Comments and malformed lines never match.
fn find_host<'t>(text: &'t str, host: &str) -> Vec<(usize, &'t str)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| entry_matches(line, host))
        .map(|(i, line)| (i + 1, line))
        .collect()
}

fn entry_matches(line: &str, host: &str) -> bool {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return false;
    }
    let mut words = t.split_whitespace();
    let Some(mut hosts) = words.next() else {
        return false;
    };
    if hosts.starts_with('@') {
        if hosts != "@cert-authority" && hosts != "@revoked" {
            return false;
        }
        let Some(h) = words.next() else {
            return false;
        };
        hosts = h;
    }
    // A host field without a key after it is not an entry.
    if words.next().is_none() {
        return false;
    }
    if let Some(hashed) = hosts.strip_prefix("|1|") {
        return hashed_matches(hashed, host);
    }
    pattern_list_matches(host, hosts)
}

/// `salt|hash` (both base64) against `host`.
fn hashed_matches(field: &str, host: &str) -> bool {
    let Some((salt, hash)) = field.split_once('|') else {
        return false;
    };
    match (B64.decode(salt), B64.decode(hash)) {
        (Ok(salt), Ok(hash)) => hmac_sha1(&salt, host) == hash,
        _ => false,
    }
}

/// OpenSSH's host pattern lists: comma-separated patterns with `*` and `?`, compared without
/// regard to case; a matching `!pattern` rules the host out whatever else matches.
fn pattern_list_matches(host: &str, list: &str) -> bool {
    let host = host.to_lowercase();
    let mut positive = false;
    for pat in list.split(',') {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        if glob_match(pat.to_lowercase().as_bytes(), host.as_bytes()) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// `*` (any run) and `?` (one character) wildcards, everything else literal.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == b'?' || c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// What `ssh-keygen -R host` leaves: every line except the plain entries of the host (CA and
/// revocation lines stay).
fn remove_host(text: &str, host: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| {
            let t = line.trim_start();
            t.starts_with('@') || !entry_matches(line.trim_end_matches(['\n', '\r']), host)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = "example.org ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgl";

    #[test]
    fn globs() {
        assert!(glob_match(b"*.example.com", b"host.example.com"));
        assert!(glob_match(b"*.example.com", b"*.example.com"));
        assert!(!glob_match(b"*.example.com", b"example.com"));
        assert!(glob_match(b"h?st", b"host"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"aXXbYYc"));
        assert!(!glob_match(b"a*b*c", b"aXXbYY"));
        assert!(glob_match(b"[h]:22", b"[h]:22"));
    }

    #[test]
    fn pattern_lists() {
        assert!(pattern_list_matches("a.org", "b.org,a.org"));
        assert!(pattern_list_matches("A.ORG", "a.org"));
        assert!(!pattern_list_matches("a.org", "*.org,!a.org"));
        assert!(pattern_list_matches("b.org", "*.org,!a.org"));
        assert!(!pattern_list_matches("a.org", "!a.org"));
    }

    #[test]
    fn hashed_entries_match_by_hmac() {
        let line = hash_key_line("example.org", RSA).unwrap().unwrap();
        assert!(line.starts_with("|1|"), "{line}");
        assert!(line.ends_with(" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgl"));
        assert!(entry_matches(&line, "example.org"));
        assert!(!entry_matches(&line, "example.com"));
        // A fresh salt each time.
        assert_ne!(line, hash_key_line("example.org", RSA).unwrap().unwrap());
        // Markers keep their place.
        let ca = hash_key_line("h", "@revoked h ssh-ed25519 AAAA")
            .unwrap()
            .unwrap();
        assert!(ca.starts_with("@revoked |1|"), "{ca}");
        assert!(entry_matches(&ca, "h"));
    }

    #[test]
    fn known_hmac_value() {
        // `ssh-keygen -H` output for "localhost" with this salt (RFC 2104 HMAC-SHA1).
        let salt = [0u8; 20];
        let got = B64.encode(hmac_sha1(&salt, "localhost"));
        let expected = {
            use sha1::Digest;
            let mut ipad = [0x36u8; 64];
            let mut opad = [0x5cu8; 64];
            for (i, b) in salt.iter().enumerate() {
                ipad[i] ^= b;
                opad[i] ^= b;
            }
            let inner = Sha1::new()
                .chain_update(ipad)
                .chain_update(b"localhost")
                .finalize();
            B64.encode(
                Sha1::new()
                    .chain_update(opad)
                    .chain_update(inner)
                    .finalize(),
            )
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn finds_lines_like_ssh_keygen() {
        let text = "# example.org ssh-rsa X\n\
                    example.com ssh-rsa A\n\
                    \n\
                    @cert-authority *.org ssh-ed25519 C\n\
                    web,example.org ssh-rsa B\n\
                    example.org\n\
                    @bogus example.org ssh-rsa D\n";
        let found: Vec<usize> = find_host(text, "example.org")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(found, vec![4, 5]);
    }

    #[test]
    fn search_and_rewrite() {
        let key = format!("{RSA}\n");
        let text = format!("a.com ssh-rsa A\n{key}b.com ssh-rsa B\n");
        // Same key: found, nothing to do.
        let s = search(&text, "example.org", Some(&key)).unwrap();
        assert_eq!(s, found(false, Some(2)));
        assert_eq!(new_content(&text, &s, true, Some(&key)), text);
        // Removal drops the line.
        assert_eq!(
            new_content(&text, &s, false, Some(&key)),
            "a.com ssh-rsa A\nb.com ssh-rsa B\n"
        );
        // Another key of the same type replaces it at the end.
        let other = "example.org ssh-rsa OTHER\n";
        let s = search(&text, "example.org", Some(other)).unwrap();
        assert_eq!(s, found(true, Some(2)));
        assert_eq!(
            new_content(&text, &s, true, Some(other)),
            format!("a.com ssh-rsa A\nb.com ssh-rsa B\n{other}")
        );
        // Another type is added beside it.
        let ed = "example.org ssh-ed25519 E\n";
        let s = search(&text, "example.org", Some(ed)).unwrap();
        assert_eq!(s, found(true, None));
        // Unknown host.
        let s = search(&text, "x.org", Some("x.org ssh-rsa Q\n")).unwrap();
        assert_eq!(s, Search::default());
        // A CA line for the host is never replaced by a plain key.
        let ca = "@cert-authority *.org ssh-rsa CA\n";
        let s = search(ca, "example.org", Some(&key)).unwrap();
        assert_eq!(s, found(true, None));
        assert_eq!(new_content(ca, &s, true, Some(&key)), format!("{ca}{key}"));
    }

    #[test]
    fn a_missing_final_newline_is_added_before_the_key() {
        let s = Search::default();
        assert_eq!(
            new_content("a ssh-rsa A", &s, true, Some("b ssh-rsa B\n")),
            "a ssh-rsa A\nb ssh-rsa B\n"
        );
        assert_eq!(
            new_content("", &s, true, Some("b ssh-rsa B\n")),
            "b ssh-rsa B\n"
        );
    }

    #[test]
    fn hashed_entry_is_idempotent() {
        let hashed = format!("{}\n", hash_key_line("example.org", RSA).unwrap().unwrap());
        let again = format!("{}\n", hash_key_line("example.org", RSA).unwrap().unwrap());
        let s = search(&hashed, "example.org", Some(&again)).unwrap();
        assert_eq!(s, found(false, Some(1)));
        // A plain key replaces the hashed one.
        let s = search(&hashed, "example.org", Some(RSA)).unwrap();
        assert_eq!(s, found(true, Some(1)));
    }

    #[test]
    fn name_lists() {
        assert!(has_name_list("a,b"));
        assert!(has_name_list("a , b"));
        assert!(!has_name_list("a"));
        assert!(!has_name_list(",a"));
    }

    #[test]
    fn ssh_keygen_r() {
        let text = "a ssh-rsa A\n@cert-authority a ssh-rsa C\nb ssh-rsa B\na,b ssh-ed25519 E\n";
        assert_eq!(
            remove_host(text, "a"),
            "@cert-authority a ssh-rsa C\nb ssh-rsa B\n"
        );
    }
}

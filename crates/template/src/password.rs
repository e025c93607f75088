//! Passwords: the `password` lookup (generate once, keep in a controller file) and the
//! `password_hash` filter (SHA-crypt, as `/etc/shadow` and the `user` module expect).
//!
//! Hashing is the `sha-crypt` crate's; the `$5$`/`$6$` framing around its digest (salt as
//! given, `rounds=` when not the default) is crypt(3)'s and is built here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind, State};
use sha2::{Digest, Sha256};

use crate::lookups::{lookup_error, LookupCall};
use crate::pyrepr::py_str;
use crate::TemplateError;

/// The alphabet of crypt(3) salts and digests.
const CRYPT64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-crypt's default round count; a hash made with it does not spell out `rounds=`.
const DEFAULT_ROUNDS: u32 = 5000;

const DEFAULT_LENGTH: usize = 20;
const DEFAULT_CHARS: &[&str] = &["ascii_letters", "digits", ".,:-_"];
const SALT_LENGTH: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Sha256,
    Sha512,
}

impl Scheme {
    /// Accepts the filter's names (`sha512`) and the lookup's passlib names (`sha512_crypt`).
    fn parse(name: &str) -> Result<Scheme, String> {
        match name {
            "sha512" | "sha512_crypt" => Ok(Scheme::Sha512),
            "sha256" | "sha256_crypt" => Ok(Scheme::Sha256),
            other => Err(format!(
                "unsupported hash scheme '{other}': drover supports sha512 (sha512_crypt) and sha256 (sha256_crypt)"
            )),
        }
    }

    fn ident(self) -> &'static str {
        match self {
            Scheme::Sha256 => "5",
            Scheme::Sha512 => "6",
        }
    }
}

/// `$6$[rounds=N$]salt$digest`, byte for byte what crypt(3) returns for that setting.
pub(crate) fn crypt(
    scheme: Scheme,
    password: &str,
    salt: &str,
    rounds: u32,
) -> Result<String, String> {
    if let Some(bad) = salt
        .chars()
        .find(|c| !c.is_ascii() || !CRYPT64.contains(&(*c as u8)))
    {
        return Err(format!(
            "invalid character {bad:?} in salt: a salt uses only ./0-9A-Za-z"
        ));
    }
    let salt: String = salt.chars().take(SALT_LENGTH).collect();
    let bad_rounds = |_| {
        format!(
            "rounds must be between {} and {}, got {rounds}",
            sha_crypt::ROUNDS_MIN,
            sha_crypt::ROUNDS_MAX
        )
    };
    let (pw, sb, n) = (password.as_bytes(), salt.as_bytes(), rounds as usize);
    let digest = match scheme {
        Scheme::Sha256 => sha_crypt::Sha256Params::new(n)
            .map_err(bad_rounds)
            .and_then(|p| sha_crypt::sha256_crypt_b64(pw, sb, &p).map_err(|e| format!("{e:?}")))?,
        Scheme::Sha512 => sha_crypt::Sha512Params::new(n)
            .map_err(bad_rounds)
            .and_then(|p| sha_crypt::sha512_crypt_b64(pw, sb, &p).map_err(|e| format!("{e:?}")))?,
    };
    let rounds = if rounds == DEFAULT_ROUNDS {
        String::new()
    } else {
        format!("rounds={rounds}$")
    };
    Ok(format!("${}${rounds}{salt}${digest}", scheme.ident()))
}

/// Random choices: the system's CSPRNG, or a SHA-256 stream of `seed` when one is given (so a
/// seeded password is reproducible; it differs from Python's `random.Random(seed)` output).
struct Picker {
    seed: Option<Vec<u8>>,
    counter: u64,
    pool: Vec<u8>,
}

impl Picker {
    fn new(seed: Option<&str>) -> Picker {
        Picker {
            seed: seed.map(|s| s.as_bytes().to_vec()),
            counter: 0,
            pool: Vec::new(),
        }
    }

    fn byte(&mut self) -> Result<u8, String> {
        if self.pool.is_empty() {
            self.pool = match &self.seed {
                Some(seed) => {
                    let mut h = Sha256::new();
                    h.update(seed);
                    h.update(self.counter.to_le_bytes());
                    self.counter += 1;
                    h.finalize().to_vec()
                }
                None => {
                    let mut buf = vec![0u8; 64];
                    getrandom::fill(&mut buf)
                        .map_err(|e| format!("no randomness available: {e}"))?;
                    buf
                }
            };
        }
        Ok(self.pool.pop().unwrap_or(0))
    }

    /// An index below `n`, without modulo bias.
    fn below(&mut self, n: usize) -> Result<usize, String> {
        let n16 = u16::try_from(n).map_err(|_| "too many characters to choose from".to_string())?;
        if n16 == 0 {
            return Err("no characters to choose from".into());
        }
        let limit = u16::MAX - (u16::MAX % n16);
        loop {
            let v = u16::from_le_bytes([self.byte()?, self.byte()?]);
            if v < limit {
                return Ok(usize::from(v % n16));
            }
        }
    }

    fn string(&mut self, chars: &[char], length: usize) -> Result<String, String> {
        (0..length)
            .map(|_| self.below(chars.len()).map(|i| chars[i]))
            .collect()
    }
}

fn new_salt(picker: &mut Picker) -> Result<String, String> {
    let alphabet: Vec<char> = CRYPT64.iter().map(|b| char::from(*b)).collect();
    picker.string(&alphabet, SALT_LENGTH)
}

/// Expands `chars`: each entry names a set of Python's `string` module or is taken literally.
fn charset(entries: &[String]) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for e in entries {
        let set: String = match e.as_str() {
            "ascii_letters" | "letters" => ('a'..='z').chain('A'..='Z').collect(),
            "ascii_lowercase" | "lowercase" => ('a'..='z').collect(),
            "ascii_uppercase" | "uppercase" => ('A'..='Z').collect(),
            "digits" => ('0'..='9').collect(),
            "hexdigits" => "0123456789abcdefABCDEF".into(),
            "octdigits" => "01234567".into(),
            "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".into(),
            "printable" => ('0'..='9')
                .chain('a'..='z')
                .chain('A'..='Z')
                .chain("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c".chars())
                .collect(),
            "whitespace" => " \t\n\r\x0b\x0c".into(),
            literal => literal.into(),
        };
        for c in set.chars() {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// `chars=a,b,,` as a list: commas separate entries; a doubled comma anywhere adds a
/// literal comma to the set (Ansible's rule).
fn split_chars(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.contains(",,") {
        out.push(",".to_string());
    }
    out.extend(
        s.replace(",,", ",")
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_string),
    );
    out
}

struct Options {
    length: usize,
    chars: Vec<String>,
    encrypt: Option<Scheme>,
    seed: Option<String>,
}

const KNOWN: &[&str] = &["length", "chars", "encrypt", "ident", "seed"];

fn options(call: &LookupCall<'_>, inline: &BTreeMap<String, String>) -> Result<Options, String> {
    let get = |k: &str| -> Option<String> {
        inline
            .get(k)
            .cloned()
            .or_else(|| call.kwarg(k).filter(|v| !v.is_none()).map(py_str))
    };
    let length = match get("length") {
        Some(l) => l
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("length must be an integer, got '{l}'"))?,
        None => DEFAULT_LENGTH,
    };
    let chars = match (inline.get("chars"), call.kwarg("chars")) {
        (Some(s), _) => split_chars(s),
        (None, Some(v)) if v.kind() == minijinja::value::ValueKind::Seq => v
            .try_iter()
            .map(|it| it.map(|x| py_str(&x)).collect())
            .unwrap_or_default(),
        (None, Some(v)) if !v.is_none() => split_chars(&py_str(v)),
        _ => DEFAULT_CHARS.iter().map(|s| s.to_string()).collect(),
    };
    let encrypt = get("encrypt").map(|e| Scheme::parse(&e)).transpose()?;
    if get("ident").is_some() {
        return Err("ident applies to bcrypt only, which drover does not support".into());
    }
    Ok(Options {
        length,
        chars,
        encrypt,
        seed: get("seed"),
    })
}

/// `path [k=v ...]`: Ansible's inline parameter form. A rest without `=` is part of the path.
fn split_term(term: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let mut inline = BTreeMap::new();
    let Some((path, rest)) = term.split_once(' ') else {
        return Ok((term.to_string(), inline));
    };
    if !rest.contains('=') {
        return Ok((term.to_string(), inline));
    }
    let mut unknown = Vec::new();
    for word in rest.split_whitespace() {
        let Some((k, v)) = word.split_once('=') else {
            return Err(format!("invalid parameter '{word}': expected key=value"));
        };
        if !KNOWN.contains(&k) {
            unknown.push(k.to_string());
        }
        inline.insert(k.to_string(), v.to_string());
    }
    if !unknown.is_empty() {
        return Err(format!(
            "Unrecognized parameter(s) given to password lookup: {}",
            unknown.join(", ")
        ));
    }
    Ok((path.to_string(), inline))
}

/// The file's content: the password, then ` salt=…` once an encrypted form was asked for.
fn parse_file(content: &str) -> (String, Option<String>) {
    let line = content.trim_end_matches(['\n', '\r']);
    match line.rsplit_once(" salt=") {
        Some((pw, salt)) => (pw.to_string(), Some(salt.trim().to_string())),
        None => (line.to_string(), None),
    }
}

/// Serialises generation across hosts: every host asking for the same new file gets the
/// password the first one wrote.
static FILE_LOCK: Mutex<()> = Mutex::new(());

fn write_private(path: &Path, content: &str) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.drover-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("could not write {}: {e}", path.display())
    })
}

fn resolve(call: &LookupCall<'_>, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match &call.context().cwd {
        Some(base) => base.join(p),
        None => p.to_path_buf(),
    }
}

fn one(call: &LookupCall<'_>, term: &str) -> Result<String, String> {
    let (path, inline) = split_term(term)?;
    let opts = options(call, &inline)?;
    let mut picker = Picker::new(opts.seed.as_deref());
    let chars = charset(&opts.chars);
    let path = resolve(call, &path);
    let persist = path != Path::new("/dev/null");
    let _guard = FILE_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let existing = if persist {
        match std::fs::read_to_string(&path) {
            Ok(c) => Some(parse_file(&c)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("could not read {}: {e}", path.display())),
        }
    } else {
        None
    };
    let (password, mut salt_in_file, fresh) = match existing {
        Some((pw, salt)) => (pw, salt, false),
        None => (picker.string(&chars, opts.length)?, None, true),
    };
    let Some(scheme) = opts.encrypt else {
        if persist && fresh {
            write_private(&path, &format!("{password}\n"))?;
        }
        return Ok(password);
    };
    let need_salt = salt_in_file.is_none();
    let salt = match salt_in_file.take() {
        Some(s) => s,
        None => new_salt(&mut picker)?,
    };
    if persist && (fresh || need_salt) {
        write_private(&path, &format!("{password} salt={salt}\n"))?;
    }
    crypt(scheme, &password, &salt, DEFAULT_ROUNDS)
}

/// `lookup('password', 'path [length=N] [chars=…] [encrypt=sha512_crypt] [seed=…]')`.
pub(crate) fn password_lookup(call: &LookupCall<'_>) -> Result<Vec<Value>, TemplateError> {
    call.terms
        .iter()
        .map(|t| {
            one(call, &py_str(t))
                .map(Value::from)
                .map_err(|e| lookup_error(call.name, e))
        })
        .collect()
}

/// `password_hash(hashtype='sha512', salt=None, rounds=None, ...)`.
pub(crate) fn password_hash(
    _state: &State,
    value: Value,
    hashtype: Option<String>,
    salt: Option<Value>,
    kw: Kwargs,
) -> Result<Value, Error> {
    let fail = |m: String| Error::new(ErrorKind::InvalidOperation, m);
    let hashtype = match kw.get::<Option<String>>("hashtype")? {
        Some(h) => h,
        None => hashtype.unwrap_or_else(|| "sha512".into()),
    };
    let salt = match kw.get::<Option<Value>>("salt")? {
        Some(s) => Some(s),
        None => salt,
    }
    .filter(|s| !s.is_none() && !s.is_undefined())
    .map(|s| py_str(&s));
    let rounds = kw.get::<Option<u32>>("rounds")?.unwrap_or(DEFAULT_ROUNDS);
    // The length of a generated salt; SHA-crypt reads at most 16 characters of it.
    let salt_size = match kw.get::<Option<Value>>("salt_size")? {
        None => SALT_LENGTH,
        Some(v) if v.is_none() => SALT_LENGTH,
        Some(v) => match v.as_i64().filter(|_| v.is_integer()) {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(SALT_LENGTH),
            _ => return Err(fail("salt_size must be an integer".into())),
        },
    };
    // Accepted for compatibility; SHA-crypt has no other knobs.
    let _ = kw.get::<Option<Value>>("ident")?;
    kw.assert_all_used()?;
    let scheme = Scheme::parse(&hashtype).map_err(|e| {
        fail(format!(
            "{hashtype} is not in the list of supported passlib algorithms ({e})"
        ))
    })?;
    let salt = match salt {
        Some(s) => s,
        None => {
            let alphabet: Vec<char> = CRYPT64.iter().map(|b| char::from(*b)).collect();
            Picker::new(None)
                .string(&alphabet, salt_size)
                .map_err(fail)?
        }
    };
    crypt(scheme, &py_str(&value), &salt, rounds)
        .map(Value::from)
        .map_err(|e| fail(format!("Could not hash the secret: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Expected values come from glibc's crypt(3) (through Python's crypt module).
    #[test]
    fn sha_crypt_matches_glibc() {
        assert_eq!(
            crypt(Scheme::Sha512, "Hello world!", "saltstring", 5000).unwrap(),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            crypt(Scheme::Sha256, "Hello world!", "saltstring", 5000).unwrap(),
            "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        );
        assert_eq!(
            crypt(Scheme::Sha512, "secret", "abc", 10000).unwrap(),
            "$6$rounds=10000$abc$3DDOWZMNRRKDT142bUtYQRY52ycK/xshRXOQgIyt2QRXzLDnoPq6v4lO9bA3f/JhGz1mHrAh.QUDGHmaE5RxP."
        );
        assert_eq!(
            crypt(Scheme::Sha256, "pässword", "ab/cd.EF", 1000).unwrap(),
            "$5$rounds=1000$ab/cd.EF$015jasG9PY82tzrbk6c2/efHRtJGt.Un/IDsdHr0d94"
        );
        assert!(crypt(Scheme::Sha512, "x", "bad salt", 5000).is_err());
        assert!(crypt(Scheme::Sha512, "x", "ok", 10).is_err());
    }

    #[test]
    fn chars_lists_and_escaped_commas() {
        assert_eq!(split_chars("digits,,,"), vec![",", "digits"]);
        assert_eq!(
            split_chars("ascii_lowercase,digits"),
            vec!["ascii_lowercase", "digits"]
        );
        let set = charset(&split_chars("digits,,,"));
        assert_eq!(set.len(), 11);
        assert!(set.contains(&','));
    }

    #[test]
    fn inline_parameters() {
        let (p, kv) = split_term("/tmp/x length=8 chars=digits").unwrap();
        assert_eq!(p, "/tmp/x");
        assert_eq!(kv.get("length").map(String::as_str), Some("8"));
        let (p, kv) = split_term("/tmp/with space").unwrap();
        assert_eq!(p, "/tmp/with space");
        assert!(kv.is_empty());
        let err = split_term("/tmp/x lenght=8").unwrap_err();
        assert!(err.contains("Unrecognized parameter(s) given to password lookup: lenght"));
    }

    #[test]
    fn seeded_passwords_repeat_and_use_only_the_charset() {
        let chars: Vec<char> = "ab".chars().collect();
        let a = Picker::new(Some("s")).string(&chars, 30).unwrap();
        let b = Picker::new(Some("s")).string(&chars, 30).unwrap();
        let c = Picker::new(Some("t")).string(&chars, 30).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.chars().all(|ch| ch == 'a' || ch == 'b'));
        let r1 = Picker::new(None).string(&chars, 30).unwrap();
        let r2 = Picker::new(None).string(&chars, 30).unwrap();
        assert_ne!(r1, r2);
    }

    #[test]
    fn file_content_with_salt() {
        assert_eq!(parse_file("pw\n"), ("pw".into(), None));
        assert_eq!(
            parse_file("p w salt=abc\n"),
            ("p w".into(), Some("abc".into()))
        );
    }
}

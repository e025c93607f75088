//! ansible-vault compatible encryption.
//!
//! The format is the one Ansible documents for `ansible-vault` (formats 1.1 and 1.2, cipher
//! `AES256`):
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256            or   $ANSIBLE_VAULT;1.2;AES256;<vault-id>
//! <hex, wrapped at 80 columns>
//! ```
//!
//! The hex body decodes to three lines: the hex salt, the hex HMAC and the hex ciphertext.
//! PBKDF2-HMAC-SHA256 (10000 iterations) stretches the password and the 32-byte salt into 80
//! bytes: an AES-256 key, an HMAC-SHA256 key and the 16-byte initial counter. The plaintext is
//! PKCS#7-padded to the AES block size and encrypted with AES-256-CTR; the HMAC covers the raw
//! ciphertext and is checked, in constant time, before anything is decrypted.
//!
//! Errors never carry a password or plaintext: a wrong password is
//! [`VaultError::DecryptFailed`], which [`VaultError::in_file`] turns into Ansible's
//! "Decryption failed (no vault secrets were found that could decrypt) on FILE".

mod secret;
mod source;
pub mod yaml;

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

pub use secret::{LabeledSecret, Secret};
pub use source::{read_password_file, PasswordSource, VaultIdSpec};

/// The label Ansible gives a password that came without one; encrypting under it writes the
/// 1.1 header, exactly as `ansible-vault` does.
pub const DEFAULT_VAULT_ID: &str = "default";

const MAGIC: &str = "$ANSIBLE_VAULT";
const CIPHER: &str = "AES256";
const SALT_LEN: usize = 32;
const KDF_ROUNDS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const BLOCK: usize = 16;
const WRAP: usize = 80;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// What went wrong reading or writing vault data. No variant holds a password or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("input is not vault encrypted data")]
    NotVault,
    #[error("invalid vault header {0:?}")]
    BadHeader(String),
    #[error("unsupported vault format version {0:?} (1.1 and 1.2 are supported)")]
    UnsupportedVersion(String),
    #[error("unsupported vault cipher {0:?} (only AES256 is supported)")]
    UnsupportedCipher(String),
    /// The envelope parsed but its body is damaged (bad hex, missing parts, bad padding).
    #[error("vault data is malformed: {0}")]
    Malformed(&'static str),
    #[error("Attempting to decrypt but no vault secrets found")]
    NoSecrets,
    /// No given password authenticates the data.
    #[error("Decryption failed (no vault secrets were found that could decrypt)")]
    DecryptFailed,
    #[error(
        "invalid vault id label {0:?}: it must be non-empty and contain no ';', '@' or whitespace"
    )]
    BadVaultId(String),
    #[error("Invalid vault password was provided from {0}")]
    EmptyPassword(String),
    #[error("Could not read vault password file {path}: {err}")]
    PasswordFile { path: String, err: std::io::Error },
    #[error("The vault password file {0} was not found")]
    PasswordFileMissing(String),
    #[error("Problem running vault password script {path} ({err}). If this is not a script, remove the executable bit from the file.")]
    ScriptSpawn { path: String, err: std::io::Error },
    #[error("Vault password script {path} returned non-zero ({code})")]
    ScriptFailed { path: String, code: String },
    #[error("Vault password client script {path} did not find a secret for vault-id={label}")]
    ClientUnknownId { path: String, label: String },
    /// Reading a vault password from the terminal failed or is impossible (no terminal).
    #[error("{0}")]
    Prompt(String),
    #[error("could not get random bytes for the salt: {0}")]
    Random(String),
    #[error("could not read {path}: {err}")]
    Read { path: String, err: std::io::Error },
    /// Any of the above, for a named file (or `file:line` of an inline value).
    #[error("{err} on {path}")]
    InFile { path: String, err: Box<VaultError> },
}

impl VaultError {
    /// Names the file (or location) the failing data came from, as Ansible's messages do.
    pub fn in_file(self, path: impl Into<String>) -> VaultError {
        VaultError::InFile {
            path: path.into(),
            err: Box::new(self),
        }
    }

    /// The error without the file context.
    pub fn kind(&self) -> &VaultError {
        match self {
            VaultError::InFile { err, .. } => err.kind(),
            other => other,
        }
    }
}

/// Whether `text` starts with a vault header (leading whitespace allowed, as in YAML values).
pub fn is_encrypted(text: &str) -> bool {
    text.trim_start().starts_with(MAGIC)
}

/// Same as [`is_encrypted`] for raw file contents, which may not be UTF-8.
pub fn is_encrypted_bytes(data: &[u8]) -> bool {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    data[start..].starts_with(MAGIC.as_bytes())
}

/// The parsed header of vault text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `1.1` or `1.2`.
    pub version: String,
    pub cipher: String,
    /// The vault id of a 1.2 envelope.
    pub vault_id: Option<String>,
}

struct Envelope {
    header: Header,
    salt: Vec<u8>,
    mac: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Reads only the header line, e.g. to tell which vault id a file was encrypted with.
pub fn parse_header(text: &str) -> Result<Header, VaultError> {
    let line = text
        .trim_start()
        .lines()
        .next()
        .ok_or(VaultError::NotVault)?
        .trim();
    let fields: Vec<&str> = line.split(';').map(str::trim).collect();
    if fields.first() != Some(&MAGIC) {
        return Err(VaultError::NotVault);
    }
    if fields.len() < 3 {
        return Err(VaultError::BadHeader(line.to_owned()));
    }
    let version = fields[1];
    let vault_id = match version {
        "1.1" => None,
        "1.2" => match fields.get(3) {
            Some(id) if !id.is_empty() => Some((*id).to_owned()),
            _ => return Err(VaultError::BadHeader(line.to_owned())),
        },
        other => return Err(VaultError::UnsupportedVersion(other.to_owned())),
    };
    if fields[2] != CIPHER {
        return Err(VaultError::UnsupportedCipher(fields[2].to_owned()));
    }
    Ok(Header {
        version: version.to_owned(),
        cipher: CIPHER.to_owned(),
        vault_id,
    })
}

fn parse_envelope(text: &str) -> Result<Envelope, VaultError> {
    let header = parse_header(text)?;
    // Lines after the header, each trimmed: inline `!vault` values arrive indented and files
    // may have CRLF endings.
    let body: String = text.trim_start().lines().skip(1).map(str::trim).collect();
    let inner =
        hex::decode(body.as_bytes()).map_err(|_| VaultError::Malformed("body is not hex"))?;
    let mut parts = inner.split(|&b| b == b'\n');
    let mut next_hex = |what: &'static str| -> Result<Vec<u8>, VaultError> {
        let part = parts.next().ok_or(VaultError::Malformed(what))?;
        hex::decode(part).map_err(|_| VaultError::Malformed(what))
    };
    let salt = next_hex("bad or missing salt")?;
    let mac = next_hex("bad or missing HMAC")?;
    let ciphertext = next_hex("bad or missing ciphertext")?;
    if parts.next().is_some() {
        return Err(VaultError::Malformed(
            "unexpected data after the ciphertext",
        ));
    }
    if salt.is_empty() || mac.len() != 32 || ciphertext.is_empty() {
        return Err(VaultError::Malformed("wrong part lengths"));
    }
    Ok(Envelope {
        header,
        salt,
        mac,
        ciphertext,
    })
}

struct Keys {
    material: Zeroizing<[u8; 2 * KEY_LEN + IV_LEN]>,
}

impl Keys {
    fn derive(secret: &Secret, salt: &[u8]) -> Keys {
        let mut material = Zeroizing::new([0u8; 2 * KEY_LEN + IV_LEN]);
        pbkdf2::pbkdf2_hmac::<Sha256>(secret.expose(), salt, KDF_ROUNDS, &mut material[..]);
        Keys { material }
    }
    fn cipher_key(&self) -> &[u8] {
        &self.material[..KEY_LEN]
    }
    fn mac_key(&self) -> &[u8] {
        &self.material[KEY_LEN..2 * KEY_LEN]
    }
    fn iv(&self) -> &[u8] {
        &self.material[2 * KEY_LEN..]
    }
    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(self.mac_key()).unwrap_or_else(|_| unreachable!())
    }
    fn apply_keystream(&self, data: &mut [u8]) {
        // Key and IV have the exact lengths AES-256-CTR needs.
        let mut cipher = Aes256Ctr::new_from_slices(self.cipher_key(), self.iv())
            .unwrap_or_else(|_| unreachable!());
        cipher.apply_keystream(data);
    }
}

fn check_vault_id(id: &str) -> Result<(), VaultError> {
    if id.is_empty() || id.contains(|c: char| c == ';' || c == '@' || c.is_whitespace()) {
        return Err(VaultError::BadVaultId(id.to_owned()));
    }
    Ok(())
}

/// Encrypts `plaintext` with `secret`. A `vault_id` other than `default` writes a 1.2 header
/// carrying it; otherwise the header is 1.1. The result ends with a newline, like the files
/// `ansible-vault` writes.
pub fn encrypt(
    plaintext: &[u8],
    secret: &Secret,
    vault_id: Option<&str>,
) -> Result<String, VaultError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| VaultError::Random(e.to_string()))?;
    encrypt_with_salt(plaintext, secret, vault_id, &salt)
}

fn encrypt_with_salt(
    plaintext: &[u8],
    secret: &Secret,
    vault_id: Option<&str>,
    salt: &[u8],
) -> Result<String, VaultError> {
    let vault_id = vault_id.filter(|id| *id != DEFAULT_VAULT_ID);
    if let Some(id) = vault_id {
        check_vault_id(id)?;
    }
    if secret.is_empty() {
        return Err(VaultError::EmptyPassword("the given secret".to_owned()));
    }
    let keys = Keys::derive(secret, salt);
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
    data.extend_from_slice(plaintext);
    data.resize(plaintext.len() + pad, pad as u8);
    keys.apply_keystream(&mut data);
    let ciphertext: &[u8] = &data;
    let mut mac = keys.mac();
    mac.update(ciphertext);
    let tag = mac.finalize().into_bytes();

    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(tag),
        hex::encode(ciphertext)
    );
    let body = hex::encode(inner.as_bytes());
    let mut out = match vault_id {
        Some(id) => format!("{MAGIC};1.2;{CIPHER};{id}\n"),
        None => format!("{MAGIC};1.1;{CIPHER}\n"),
    };
    out.reserve(body.len() + body.len() / WRAP + 1);
    // `body` is ASCII hex, so slicing at any byte offset is on a char boundary.
    let mut rest = body.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(WRAP));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    Ok(out)
}

/// Decrypts vault text with the first secret that authenticates it. For a 1.2 envelope the
/// secrets labelled with its vault id are tried first, then all the others, as Ansible does
/// by default.
pub fn decrypt(text: &str, secrets: &[LabeledSecret]) -> Result<Vec<u8>, VaultError> {
    decrypt_with_label(text, secrets).map(|(plain, _)| plain)
}

/// [`decrypt`], also telling which secret's label succeeded (so `edit` can re-encrypt with the
/// same one).
pub fn decrypt_with_label<'a>(
    text: &str,
    secrets: &'a [LabeledSecret],
) -> Result<(Vec<u8>, &'a LabeledSecret), VaultError> {
    let env = parse_envelope(text)?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecrets);
    }
    let wanted = env.header.vault_id.as_deref();
    let matching = secrets.iter().filter(|s| Some(s.label()) == wanted);
    let others = secrets.iter().filter(|s| Some(s.label()) != wanted);
    for candidate in matching.chain(others) {
        if let Some(plain) = try_secret(&env, &candidate.secret)? {
            return Ok((plain, candidate));
        }
    }
    Err(VaultError::DecryptFailed)
}

fn try_secret(env: &Envelope, secret: &Secret) -> Result<Option<Vec<u8>>, VaultError> {
    let keys = Keys::derive(secret, &env.salt);
    let mut mac = keys.mac();
    mac.update(&env.ciphertext);
    // `verify_slice` compares in constant time.
    if mac.verify_slice(&env.mac).is_err() {
        return Ok(None);
    }
    let mut data = env.ciphertext.clone();
    keys.apply_keystream(&mut data);
    let pad = data.last().copied().map_or(0, usize::from);
    let valid = (1..=BLOCK).contains(&pad)
        && data.len() >= pad
        && data[data.len() - pad..]
            .iter()
            .all(|&b| usize::from(b) == pad);
    if !valid {
        // The HMAC matched, so the producer wrote bad padding: corrupt data, not a wrong key.
        data.zeroize();
        return Err(VaultError::Malformed("bad padding"));
    }
    data.truncate(data.len() - pad);
    Ok(Some(data))
}

/// Decrypts the value of an inline `!vault |` YAML scalar (the block scalar's text, which may
/// still carry indentation or surrounding whitespace).
pub fn decrypt_inline(text: &str, secrets: &[LabeledSecret]) -> Result<Vec<u8>, VaultError> {
    decrypt(text, secrets)
}

/// Reads `path` and decrypts it; errors name the file.
pub fn decrypt_file(path: &Path, secrets: &[LabeledSecret]) -> Result<Vec<u8>, VaultError> {
    let shown = path.display().to_string();
    let data = std::fs::read(path).map_err(|err| VaultError::Read {
        path: shown.clone(),
        err,
    })?;
    let text = std::str::from_utf8(&data)
        .map_err(|_| VaultError::Malformed("not UTF-8 text").in_file(shown.clone()))?;
    decrypt(text, secrets).map_err(|e| e.in_file(shown))
}

/// Formats vault text as the value of a YAML key, the way `ansible-vault encrypt_string`
/// prints it: `name: !vault |` (or just `!vault |` without a name) and the envelope indented
/// by ten spaces.
pub fn format_inline(name: Option<&str>, vault_text: &str) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |\n"),
        None => "!vault |\n".to_owned(),
    };
    for line in vault_text.lines() {
        out.push_str("          ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;

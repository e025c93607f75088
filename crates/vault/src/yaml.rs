//! Vaulted content inside the files drover loads: whole files encrypted with ansible-vault and
//! `!vault`-tagged values in YAML.
//!
//! The secrets are a run-wide keyring set once by the binary before anything is loaded
//! ([`set_keyring`]); the loaders (playbook, inventory, `include_vars`) read it through
//! [`read_source`] and [`decrypt_tags`], so vault support needs no plumbing through every
//! loader signature.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use drover_yaml::{Node, NodeKind, SourceError};

use crate::{decrypt, decrypt_inline, is_encrypted_bytes, LabeledSecret};

static KEYRING: OnceLock<Arc<Vec<LabeledSecret>>> = OnceLock::new();

/// Sets the run's vault secrets. Only the first call takes effect.
pub fn set_keyring(secrets: Vec<LabeledSecret>) {
    let _ = KEYRING.set(Arc::new(secrets));
}

fn keyring() -> &'static [LabeledSecret] {
    KEYRING.get().map(|k| k.as_slice()).unwrap_or(&[])
}

/// Reads a source file as text, decrypting it when it is a vault file. Errors name the file
/// and never any secret or plaintext.
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| SourceError::whole_file(file.clone(), format!("cannot read: {e}")))?;
    let bytes = if is_encrypted_bytes(&bytes) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        decrypt(&text, keyring())
            .map_err(|e| SourceError::whole_file(file.clone(), e.in_file(&file).to_string()))?
    } else {
        bytes
    };
    String::from_utf8(bytes).map_err(|_| SourceError::whole_file(file, "not valid UTF-8"))
}

/// A controller file's bytes as modules use them (`copy`, `script`, `assemble` with their
/// default `decrypt: true`): a vault file's plaintext, anything else unchanged. Errors name the
/// file and never any secret.
pub fn decrypt_bytes(bytes: Vec<u8>, file: &str) -> Result<Vec<u8>, String> {
    if !is_encrypted_bytes(&bytes) {
        return Ok(bytes);
    }
    if keyring().is_empty() {
        return Err(format!(
            "A vault password or secret must be specified to decrypt {file}"
        ));
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    decrypt(&text, keyring()).map_err(|e| e.in_file(file).to_string())
}

/// Replaces every `!vault`-tagged scalar under `node` by its plaintext (as a string).
pub fn decrypt_tags(node: &mut Node, file: &str, src: &str) -> Result<(), SourceError> {
    if node.tag.as_deref() == Some("!vault") {
        let NodeKind::Str(text) = &node.kind else {
            return Err(node.error(file, src, "a !vault value must be a string"));
        };
        let plain = decrypt_inline(text, keyring()).map_err(|e| {
            let at = format!("{file}:{}:{}", node.span.start.line, node.span.start.column);
            node.error(file, src, e.in_file(&at).to_string())
        })?;
        let text = String::from_utf8(plain)
            .map_err(|_| node.error(file, src, "a !vault value must decrypt to UTF-8 text"))?;
        node.kind = NodeKind::Str(text);
        node.tag = None;
        return Ok(());
    }
    match &mut node.kind {
        NodeKind::Seq(items) => {
            for i in items {
                decrypt_tags(i, file, src)?;
            }
        }
        NodeKind::Map(pairs) => {
            for (_, v) in pairs {
                decrypt_tags(v, file, src)?;
            }
        }
        _ => {}
    }
    Ok(())
}

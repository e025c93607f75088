//! Vault passwords in memory.

use std::fmt;

use zeroize::Zeroizing;

/// A vault password. The bytes are wiped when the value is dropped, and there is deliberately
/// no `Display`: the only way to the bytes is [`Secret::expose`], so a password cannot end up in
/// a message by accident. `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(Zeroizing::new(bytes.into()))
    }

    /// The password bytes, for key derivation only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A password together with the vault id label it was given under (`--vault-id dev@file`);
/// `None` when the source had no label, which Ansible treats as the label `default`.
#[derive(Clone, Debug)]
pub struct LabeledSecret {
    pub label: Option<String>,
    pub secret: Secret,
}

impl LabeledSecret {
    pub fn new(label: Option<&str>, secret: Secret) -> LabeledSecret {
        LabeledSecret {
            label: label.map(str::to_owned),
            secret,
        }
    }

    /// The label as Ansible names it: `default` when none was given.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(crate::DEFAULT_VAULT_ID)
    }
}

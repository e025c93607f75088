//! The `password` lookup against a real controller directory: generated once, kept in a
//! private file, reused, salted on demand; and its agreement with `password_hash`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use drover_template::{LookupContext, Scope, Templar, VarSource};
use minijinja::value::Value;

fn render(dir: &std::path::Path, template: &str) -> Result<String, String> {
    let vars: Arc<dyn VarSource> = Arc::new(BTreeMap::<String, Value>::new());
    let scope = Scope::new(vars).with_lookup_context(LookupContext {
        cwd: Some(dir.to_path_buf()),
        ..LookupContext::default()
    });
    Templar::default()
        .render_str(template, &scope)
        .map(|v| drover_template::py_str(&v))
        .map_err(|e| e.to_string())
}

#[test]
fn generated_once_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let first = render(
        dir.path(),
        "{{ lookup('password', 'creds/db length=12 chars=digits') }}",
    )
    .unwrap();
    assert_eq!(first.len(), 12);
    assert!(first.chars().all(|c| c.is_ascii_digit()), "{first}");
    let file = dir.path().join("creds/db");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{first}\n")
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Different options do not regenerate an existing password.
    let again = render(
        dir.path(),
        "{{ lookup('password', 'creds/db', length=30) }}",
    )
    .unwrap();
    assert_eq!(again, first);
    // Default length and charset.
    let other = render(dir.path(), "{{ lookup('password', 'creds/other') }}").unwrap();
    assert_eq!(other.len(), 20);
    assert!(other
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".,:-_".contains(c)));
}

#[test]
fn encrypt_salts_the_file_and_matches_password_hash() {
    let dir = tempfile::tempdir().unwrap();
    let plain = render(dir.path(), "{{ lookup('password', 'pw') }}").unwrap();
    let hashed = render(
        dir.path(),
        "{{ lookup('password', 'pw encrypt=sha512_crypt') }}",
    )
    .unwrap();
    let content = std::fs::read_to_string(dir.path().join("pw")).unwrap();
    let (pw, salt) = content.trim_end().rsplit_once(" salt=").unwrap();
    assert_eq!(pw, plain);
    assert_eq!(salt.len(), 16);
    assert!(hashed.starts_with(&format!("$6${salt}$")), "{hashed}");
    let by_filter = render(
        dir.path(),
        &format!("{{{{ '{plain}' | password_hash('sha512', '{salt}') }}}}"),
    )
    .unwrap();
    assert_eq!(hashed, by_filter);
    // The salt is kept: the same hash every time.
    let again = render(
        dir.path(),
        "{{ lookup('password', 'pw encrypt=sha512_crypt') }}",
    )
    .unwrap();
    assert_eq!(again, hashed);
}

#[test]
fn dev_null_is_never_written_and_bad_options_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = render(
        dir.path(),
        "{{ lookup('password', '/dev/null length=40') }}",
    )
    .unwrap();
    let b = render(
        dir.path(),
        "{{ lookup('password', '/dev/null length=40') }}",
    )
    .unwrap();
    assert_eq!(a.len(), 40);
    assert_ne!(a, b);
    let err = render(dir.path(), "{{ lookup('password', 'x lenght=3') }}").unwrap_err();
    assert!(
        err.contains("Unrecognized parameter(s) given to password lookup: lenght"),
        "{err}"
    );
    let err = render(dir.path(), "{{ lookup('password', 'x length=abc') }}").unwrap_err();
    assert!(err.contains("length must be an integer"), "{err}");
    let err = render(
        dir.path(),
        "{{ lookup('password', 'x encrypt=md5_crypt') }}",
    )
    .unwrap_err();
    assert!(err.contains("unsupported hash scheme 'md5_crypt'"), "{err}");
    assert!(!dir.path().join("x").exists());
}

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn secret(label: Option<&str>, password: &str) -> LabeledSecret {
    LabeledSecret::new(label, Secret::new(password))
}

/// The payload of `ansible.parsing.vault.VaultAES256.encrypt(b"known vector plaintext\n",
/// VaultSecret(b"test-password"), salt=bytes(range(32)))` from ansible-core 2.19.14, i.e. the
/// vault body before it is wrapped under a header.
const KNOWN_BODY: &str = "303030313032303330343035303630373038303930613062306330643065306631303131313231333134313531363137313831393161316231633164316531660a626235383630376435633630626162633736666134313834373235373934356334313232626531633838663031666562303763306533313737313765636535340a35316333316262353261643633626531623735363066613337646435303837663834666433383764313337356164313030643263383836336164383066366463";

#[test]
fn encrypt_matches_ansible_for_a_fixed_salt() {
    let salt: Vec<u8> = (0u8..32).collect();
    let out = encrypt_with_salt(
        b"known vector plaintext\n",
        &Secret::new("test-password"),
        None,
        &salt,
    )
    .unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("$ANSIBLE_VAULT;1.1;AES256"));
    let body: Vec<&str> = lines.collect();
    assert!(body.iter().all(|l| l.len() <= 80));
    assert!(body[..body.len() - 1].iter().all(|l| l.len() == 80));
    assert_eq!(body.concat(), KNOWN_BODY);
    assert!(out.ends_with('\n'));

    let text = format!("$ANSIBLE_VAULT;1.1;AES256\n{KNOWN_BODY}\n");
    let plain = decrypt(&text, &[secret(None, "test-password")]).unwrap();
    assert_eq!(plain, b"known vector plaintext\n");
}

/// Decrypts a fixture written by the real `ansible-vault` and compares with the expected text.
fn check(vault_fixture: &str, secrets: &[LabeledSecret], expected: &[u8]) {
    let text = read(vault_fixture);
    let plain = decrypt(&text, secrets).unwrap_or_else(|e| panic!("{vault_fixture}: {e}"));
    assert_eq!(plain, expected, "{vault_fixture}");
}

/// The `!vault |` value of a one-key YAML document written by `ansible-vault encrypt_string`.
fn inline_value(fixture_name: &str) -> (String, String) {
    let text = read(fixture_name);
    let (key, rest) = text.split_once(": !vault |\n").unwrap();
    (key.to_owned(), rest.to_owned())
}

#[test]
fn decrypts_files_written_by_ansible_vault() {
    let plain = std::fs::read(fixture("plain.yml")).unwrap();
    let block = std::fs::read(fixture("block16.txt")).unwrap();
    let default = secret(None, "test-password");
    let dev = secret(Some("dev"), "dev-password");
    let prod = secret(Some("prod"), "prod-password");
    check("file_1_1.yml", std::slice::from_ref(&default), &plain);
    check("block16.vault", std::slice::from_ref(&default), &block);
    check("file_1_2_dev.yml", std::slice::from_ref(&dev), &plain);
    // The matching label is tried first, but any secret may decrypt (Ansible's default).
    check("file_1_2_dev.yml", &[prod.clone(), dev.clone()], &plain);
    check(
        "file_1_2_dev.yml",
        &[secret(Some("other"), "dev-password")],
        &plain,
    );
    check("file_1_1.yml", &[dev.clone(), default.clone()], &plain);

    let (name, value) = inline_value("inline_1_1.yml");
    assert_eq!(name, "db_pass");
    assert_eq!(
        decrypt_inline(&value, std::slice::from_ref(&default)).unwrap(),
        b"hunter2"
    );
    let (name, value) = inline_value("inline_1_2_prod.yml");
    assert_eq!(name, "api_key");
    assert_eq!(
        parse_header(&value).unwrap().vault_id.as_deref(),
        Some("prod")
    );
    assert_eq!(decrypt_inline(&value, &[dev, prod]).unwrap(), b"s3cr3t-api");
}

#[test]
fn format_inline_matches_encrypt_string() {
    let text = read("inline_1_2_prod.yml");
    let (_, value) = inline_value("inline_1_2_prod.yml");
    let envelope: String = value.lines().map(|l| format!("{}\n", l.trim())).collect();
    assert_eq!(format_inline(Some("api_key"), &envelope), text);
    assert!(format_inline(None, &envelope)
        .starts_with("!vault |\n          $ANSIBLE_VAULT;1.2;AES256;prod\n"));
}

#[test]
fn round_trips_every_padding_length_and_both_formats() {
    let secrets = [secret(None, "pw-one"), secret(Some("dev"), "pw-two")];
    // Each key derivation is 10000 PBKDF2 rounds (slow in debug builds), so the lengths are the
    // ones around block boundaries, alternating the two formats.
    for (n, len) in [0usize, 1, 15, 16, 17, 32, 33].into_iter().enumerate() {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let formats = [(None, &secrets[0]), (Some("dev"), &secrets[1])];
        {
            let (id, s) = formats[n % 2];
            let text = encrypt(&plain, &s.secret, id).unwrap();
            let header = parse_header(&text).unwrap();
            assert_eq!(header.vault_id.as_deref(), id);
            assert_eq!(header.version, if id.is_some() { "1.2" } else { "1.1" });
            assert_eq!(decrypt(&text, &secrets).unwrap(), plain, "len {len}");
        }
    }
    // Two encryptions of the same text differ (fresh salt).
    let a = encrypt(b"x", &secrets[0].secret, None).unwrap();
    let b = encrypt(b"x", &secrets[0].secret, None).unwrap();
    assert_ne!(a, b);
    // `default` is Ansible's name for "no id": it writes the 1.1 header.
    let c = encrypt(b"x", &secrets[0].secret, Some("default")).unwrap();
    assert!(c.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
}

#[test]
fn rejects_bad_envelopes() {
    let good = read("file_1_1.yml");
    let secrets = [secret(None, "test-password")];
    let cases: Vec<(String, &str)> = vec![
        (
            "plain: text\n".to_owned(),
            "input is not vault encrypted data",
        ),
        ("".to_owned(), "input is not vault encrypted data"),
        (
            good.replacen("1.1", "1.0", 1),
            "unsupported vault format version \"1.0\"",
        ),
        (
            good.replacen("AES256", "AES", 1),
            "unsupported vault cipher \"AES\"",
        ),
        (
            good.replacen("1.1;AES256", "1.2;AES256", 1),
            "invalid vault header",
        ),
        (
            "$ANSIBLE_VAULT;1.1\n00\n".to_owned(),
            "invalid vault header",
        ),
        (
            "$ANSIBLE_VAULT;1.1;AES256\nzz\n".to_owned(),
            "vault data is malformed: body is not hex",
        ),
        (
            format!("$ANSIBLE_VAULT;1.1;AES256\n{}\n", hex::encode("00\n11")),
            "vault data is malformed",
        ),
    ];
    for (text, want) in cases {
        let err = decrypt(&text, &secrets).unwrap_err().to_string();
        assert!(
            err.starts_with(want),
            "{text:?}: got {err:?}, want {want:?}"
        );
    }
    assert!(matches!(decrypt(&good, &[]), Err(VaultError::NoSecrets)));
}

#[test]
fn tampering_or_a_wrong_password_fails_authentication() {
    let text = encrypt(b"top secret", &Secret::new("right"), None).unwrap();
    let wrong = [secret(None, "wrong"), secret(Some("x"), "also-wrong")];
    assert!(matches!(
        decrypt(&text, &wrong),
        Err(VaultError::DecryptFailed)
    ));
    // Change one hex digit of the ciphertext inside the envelope (so the body stays valid hex
    // and only authentication can notice).
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: String = lines.collect();
    let mut inner = hex::decode(body).unwrap();
    let last = inner.last_mut().unwrap();
    *last = if *last == b'0' { b'1' } else { b'0' };
    let tampered = format!("{header}\n{}\n", hex::encode(inner));
    assert!(matches!(
        decrypt(&tampered, &[secret(None, "right")]),
        Err(VaultError::DecryptFailed)
    ));
}

#[test]
fn bad_vault_ids_are_rejected_when_encrypting() {
    for id in ["", "a;b", "a b", "a@b"] {
        let err = encrypt(b"x", &Secret::new("p"), Some(id)).unwrap_err();
        assert!(matches!(err, VaultError::BadVaultId(_)), "{id:?}");
    }
    assert!(matches!(
        encrypt(b"x", &Secret::new(""), None),
        Err(VaultError::EmptyPassword(_))
    ));
}

/// No error message or `Debug` output carries the password or the plaintext.
#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let password = "pw-Zq8-do-not-print";
    let plaintext = "plain-Kx3-do-not-print";
    let labeled = secret(Some("dev"), password);
    let debug = format!("{labeled:?} {:?}", labeled.secret);
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!debug.contains(password), "{debug}");

    let dir = tempfile::tempdir().unwrap();
    let vaulted = dir.path().join("vars.yml");
    std::fs::write(
        &vaulted,
        encrypt(plaintext.as_bytes(), &labeled.secret, Some("dev")).unwrap(),
    )
    .unwrap();
    let failing_script = dir.path().join("pass.sh");
    std::fs::write(
        &failing_script,
        format!("#!/bin/sh\necho {password}\nexit 3\n"),
    )
    .unwrap();
    std::fs::set_permissions(&failing_script, std::fs::Permissions::from_mode(0o700)).unwrap();

    let mut errors: Vec<VaultError> = vec![
        decrypt_file(&vaulted, &[secret(Some("dev"), "wrong")]).unwrap_err(),
        decrypt_file(&vaulted, &[]).unwrap_err(),
        read_password_file(&failing_script, None).unwrap_err(),
    ];
    // A corrupt body, tried with the right key.
    let mut keys_text = encrypt(plaintext.as_bytes(), &labeled.secret, None).unwrap();
    keys_text.push_str("00");
    errors.push(decrypt(&keys_text, std::slice::from_ref(&labeled)).unwrap_err());

    let shown = vaulted.display().to_string();
    assert_eq!(
        errors[0].to_string(),
        format!("Decryption failed (no vault secrets were found that could decrypt) on {shown}")
    );
    assert!(matches!(errors[0].kind(), VaultError::DecryptFailed));
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(password), "{text}");
            assert!(!text.contains(plaintext), "{text}");
        }
    }
}

#[test]
fn parses_vault_id_arguments() {
    fn check(arg: &str, label: Option<&str>, source: Option<&str>) {
        let spec = VaultIdSpec::parse(arg).unwrap();
        assert_eq!(spec.label.as_deref(), label, "{arg}");
        let want = match source {
            Some(path) => PasswordSource::File(PathBuf::from(path)),
            None => PasswordSource::Prompt,
        };
        assert_eq!(spec.source, want, "{arg}");
    }
    check("dev@prompt", Some("dev"), None);
    check("prompt", None, None);
    check("dev@~/.vault pass", Some("dev"), Some("~/.vault pass"));
    check("prod@/a/b@c", Some("prod"), Some("/a/b@c"));
    check("/etc/pw", None, Some("/etc/pw"));
    for bad in ["", "dev@", "@file", "a b@file"] {
        assert!(VaultIdSpec::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        VaultIdSpec::parse("dev@prompt").unwrap().prompt_text(),
        "Vault password (dev): "
    );
    assert_eq!(VaultIdSpec::ask().prompt_text(), "Vault password: ");
}

#[test]
fn reads_password_files_and_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str, mode: u32| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let check = |path: &Path, label: Option<&str>, want: &str| {
        let got = read_password_file(path, label).unwrap();
        assert_eq!(got.expose(), want.as_bytes(), "{}", path.display());
    };
    check(&write("plain", "  s3cret \n\n", 0o600), None, "s3cret");
    check(&write("crlf", "s3cret\r\n", 0o600), None, "s3cret");
    check(
        &write(
            "script.sh",
            "#!/bin/sh\nprintf ' from script \\r\\n'\n",
            0o700,
        ),
        None,
        " from script ",
    );
    let client = write(
        "vault-keyring-client.sh",
        "#!/bin/sh\n[ \"$1\" = --vault-id ] || exit 1\n[ \"$2\" = dev ] || exit 2\necho client-pw\n",
        0o700,
    );
    check(&client, Some("dev"), "client-pw");
    assert!(matches!(
        read_password_file(&client, Some("prod")),
        Err(VaultError::ClientUnknownId { .. })
    ));
    assert!(matches!(
        read_password_file(&write("empty", "\n", 0o600), None),
        Err(VaultError::EmptyPassword(_))
    ));
    assert!(matches!(
        read_password_file(&dir.path().join("missing"), None),
        Err(VaultError::PasswordFileMissing(_))
    ));

    let spec = VaultIdSpec::parse(&format!("dev@{}", dir.path().join("plain").display())).unwrap();
    let loaded = spec.load(&mut |_| panic!("no prompt for a file")).unwrap();
    assert_eq!(loaded.label(), "dev");
    assert_eq!(loaded.secret.expose(), b"s3cret");
    let mut asked = Vec::new();
    let loaded = VaultIdSpec::parse("qa@prompt")
        .unwrap()
        .load(&mut |text| {
            asked.push(text.to_owned());
            Ok(Secret::new("typed"))
        })
        .unwrap();
    assert_eq!(asked, ["Vault password (qa): "]);
    assert_eq!(loaded.secret.expose(), b"typed");
}

#[test]
fn detects_vault_text() {
    assert!(is_encrypted("$ANSIBLE_VAULT;1.1;AES256\n00"));
    assert!(is_encrypted("  \n$ANSIBLE_VAULT;1.2;AES256;x\n"));
    assert!(!is_encrypted("key: $ANSIBLE_VAULT"));
    assert!(is_encrypted_bytes(read("file_1_1.yml").as_bytes()));
    assert!(!is_encrypted_bytes(b"\xff\xfe"));
}

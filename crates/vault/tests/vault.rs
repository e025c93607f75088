//! End-to-end tests of the `drover vault` command and the live interoperability check against
//! the real `ansible-vault`.
//!
//! The command lives in `crates/cli/src/vault_cmd.rs`; it only needs this crate, clap, anyhow,
//! tempfile and rpassword, so it is compiled into this test binary as a module and driven through
//! its `Console` with in-memory streams.

#![allow(clippy::unwrap_used)]

#[path = "../../cli/src/vault_cmd.rs"]
#[allow(dead_code)]
mod vault_cmd;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use drover_vault::{LabeledSecret, Secret, VaultError};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: vault_cmd::VaultArgs,
}

struct Outcome {
    stdout: String,
    stderr: String,
    result: anyhow::Result<i32>,
    prompts: Vec<String>,
}

impl Outcome {
    fn ok(&self) -> &str {
        if let Err(e) = &self.result {
            panic!("command failed: {e:#}\nstderr: {}", self.stderr);
        }
        &self.stdout
    }
    fn err(&self) -> String {
        match &self.result {
            Ok(_) => panic!("command succeeded: {}", self.stdout),
            Err(e) => format!("{e:#}"),
        }
    }
}

struct Run<'a> {
    stdin: &'a [u8],
    interactive: bool,
    editor: String,
    /// Answers to password prompts, in order; running out means "no terminal".
    answers: Vec<&'a str>,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            stdin: b"",
            interactive: false,
            editor: "false".to_owned(),
            answers: Vec::new(),
        }
    }
}

fn drover(args: &[&str]) -> Outcome {
    drover_with(args, Run::default())
}

fn drover_with(args: &[&str], run: Run<'_>) -> Outcome {
    let argv = std::iter::once("vault").chain(args.iter().copied());
    let parsed = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = run.stdin;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut prompts = Vec::new();
    let mut answers = run.answers.into_iter();
    let mut prompt = |text: &str| {
        prompts.push(text.to_owned());
        answers
            .next()
            .map(Secret::new)
            .ok_or_else(|| VaultError::Prompt("no terminal".to_owned()))
    };
    let mut console = vault_cmd::Console {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        interactive: run.interactive,
        stdin_is_terminal: false,
        prompt: &mut prompt,
        editor: run.editor,
        pager: None,
    };
    let result = vault_cmd::run_with(parsed.args, &mut console);
    Outcome {
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
        result,
        prompts,
    }
}

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("pw"), "test-password\n").unwrap();
        std::fs::write(tmp.path().join("devpw"), "dev-password\n").unwrap();
        std::fs::write(tmp.path().join("prodpw"), "prod-password\n").unwrap();
        Dir { tmp }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
    fn write(&self, name: &str, body: &str) -> String {
        std::fs::write(self.path(name), body).unwrap();
        self.arg(name)
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
    fn mode(&self, name: &str) -> u32 {
        std::fs::metadata(self.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.write(name, body);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path
    }
}

fn secret(label: Option<&str>, password: &str) -> LabeledSecret {
    LabeledSecret::new(label, Secret::new(password))
}

const PLAIN: &str = "db_password: hunter2-plain\nport: 5432\n";

#[test]
fn encrypt_then_decrypt_files_in_place_and_to_stdout() {
    let d = Dir::new();
    let file = d.write("vars.yml", PLAIN);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pw = format!("--vault-password-file={}", d.arg("pw"));

    let out = drover(&["encrypt", &pw, &file]);
    assert_eq!(out.ok(), "");
    let text = d.read("vars.yml");
    assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    assert_eq!(
        d.mode("vars.yml"),
        0o600,
        "encrypted files are private, as with ansible-vault"
    );
    assert_eq!(
        drover_vault::decrypt(&text, &[secret(None, "test-password")]).unwrap(),
        PLAIN.as_bytes()
    );
    assert!(drover(&["encrypt", &pw, &file])
        .err()
        .contains("already encrypted"));

    let out = drover(&["decrypt", &pw, "--output", "-", &file]);
    assert_eq!(out.ok(), PLAIN);
    assert_eq!(d.read("vars.yml"), text, "--output - leaves the file alone");
    let out = drover(&["view", &pw, &file]);
    assert_eq!(out.ok(), PLAIN);

    let out = drover_with(
        &["decrypt", &pw, &file],
        Run {
            interactive: true,
            ..Run::default()
        },
    );
    out.ok();
    assert_eq!(out.stderr, "Decryption successful\n");
    assert_eq!(d.read("vars.yml"), PLAIN);
    assert_eq!(
        d.mode("vars.yml"),
        0o600,
        "decrypting in place keeps the mode"
    );
    assert!(drover(&["decrypt", &pw, &file])
        .err()
        .starts_with("input is not vault encrypted data on "));
}

#[test]
fn stdin_to_stdout_with_vault_ids() {
    let d = Dir::new();
    let dev = format!("--vault-id=dev@{}", d.arg("devpw"));
    let prod = format!("--vault-id=prod@{}", d.arg("prodpw"));
    let out = drover_with(
        &["encrypt", &dev],
        Run {
            stdin: PLAIN.as_bytes(),
            ..Run::default()
        },
    );
    let text = out.ok().to_owned();
    assert!(
        text.starts_with("$ANSIBLE_VAULT;1.2;AES256;dev\n"),
        "{text}"
    );
    assert!(text.lines().skip(1).all(|l| l.len() <= 80));

    let both = drover(&["encrypt", &dev, &prod, "-"]);
    assert_eq!(
        both.err(),
        "The vault-ids dev,prod are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id"
    );
    let chosen = drover_with(
        &["encrypt", &dev, &prod, "--encrypt-vault-id", "prod"],
        Run {
            stdin: b"x",
            ..Run::default()
        },
    );
    assert!(chosen.ok().starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert!(drover(&["encrypt", &dev, "--encrypt-vault-id", "qa", "-"])
        .err()
        .starts_with("Did not find a match for --encrypt-vault-id=qa"));

    // Decrypting tries the file's own id first, then every other secret.
    let out = drover_with(
        &["decrypt", &prod, &dev],
        Run {
            stdin: text.as_bytes(),
            ..Run::default()
        },
    );
    assert_eq!(out.ok(), PLAIN);
}

#[test]
fn encrypt_string_prints_inline_vault_values() {
    let d = Dir::new();
    let dev = format!("--vault-id=dev@{}", d.arg("devpw"));
    let out = drover(&["encrypt_string", &dev, "--name", "db_pass", "hunter2"]);
    let yaml = out.ok().to_owned();
    let mut lines = yaml.lines();
    assert_eq!(lines.next(), Some("db_pass: !vault |"));
    assert_eq!(
        lines.next(),
        Some("          $ANSIBLE_VAULT;1.2;AES256;dev")
    );
    assert!(lines.all(|l| l.starts_with("          ") && l.len() <= 90));
    let value = yaml.split_once('\n').unwrap().1;
    let devs = [secret(Some("dev"), "dev-password")];
    assert_eq!(
        drover_vault::decrypt_inline(value, &devs).unwrap(),
        b"hunter2"
    );

    let out = drover_with(
        &["encrypt_string", &dev, "--stdin-name", "from_stdin"],
        Run {
            stdin: b"piped value",
            ..Run::default()
        },
    );
    let yaml = out.ok();
    assert!(yaml.starts_with("from_stdin: !vault |\n"), "{yaml}");
    let value = yaml.split_once('\n').unwrap().1;
    assert_eq!(
        drover_vault::decrypt_inline(value, &devs).unwrap(),
        b"piped value"
    );

    let out = drover(&["encrypt_string", &dev, "-n", "a", "one", "two"]);
    let yaml = out.ok();
    assert_eq!(yaml.matches("!vault |").count(), 2);
    assert!(yaml.starts_with("a: !vault |\n"));
    assert!(
        yaml.contains("\n!vault |\n"),
        "the second string has no name: {yaml}"
    );
    assert!(out.stderr.contains("The rest will not have names."));

    assert!(drover(&["encrypt_string", &dev, ""])
        .err()
        .contains("was empty, not encrypting"));
}

#[test]
fn wrong_password_names_the_file_and_nothing_else() {
    let d = Dir::new();
    let file = d.write("secret.yml", PLAIN);
    drover(&[
        "encrypt",
        &format!("--vault-id=dev@{}", d.arg("devpw")),
        &file,
    ])
    .ok();
    let before = d.read("secret.yml");
    for cmd in ["decrypt", "view", "rekey"] {
        let mut args = vec![cmd, "--vault-password-file"];
        let pw = d.arg("pw");
        args.push(&pw);
        let newpw = format!("--new-vault-password-file={}", d.arg("prodpw"));
        if cmd == "rekey" {
            args.push(&newpw);
        }
        args.push(&file);
        let out = drover(&args);
        let err = out.err();
        assert_eq!(
            err,
            format!("Decryption failed (no vault secrets were found that could decrypt) on {file}")
        );
        for leaked in ["test-password", "dev-password", "prod-password", "hunter2"] {
            assert!(
                !out.stdout.contains(leaked) && !out.stderr.contains(leaked),
                "{cmd}"
            );
        }
        assert_eq!(d.read("secret.yml"), before, "{cmd} changed the file");
    }
}

#[test]
fn rekey_switches_password_and_vault_id() {
    let d = Dir::new();
    let a = d.write("a.yml", "a: 1\n");
    let b = d.write("b.yml", "b: 2\n");
    let pw = format!("--vault-password-file={}", d.arg("pw"));
    drover(&["encrypt", &pw, &a, &b]).ok();
    let newid = format!("--new-vault-id=prod@{}", d.arg("prodpw"));
    let out = drover_with(
        &["rekey", &pw, &newid, &a, &b],
        Run {
            interactive: true,
            ..Run::default()
        },
    );
    out.ok();
    assert_eq!(out.stderr, "Rekey successful\n");
    for (name, plain) in [("a.yml", "a: 1\n"), ("b.yml", "b: 2\n")] {
        let text = d.read(name);
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert!(drover_vault::decrypt(&text, &[secret(None, "test-password")]).is_err());
        assert_eq!(
            drover_vault::decrypt(&text, &[secret(Some("prod"), "prod-password")]).unwrap(),
            plain.as_bytes()
        );
    }
}

#[test]
fn prompts_for_a_new_password_twice_when_none_is_given() {
    let out = drover_with(
        &["encrypt_string", "value"],
        Run {
            answers: vec!["pw1", "pw1"],
            ..Run::default()
        },
    );
    let yaml = out.ok().to_owned();
    assert_eq!(
        out.prompts,
        ["New Vault password: ", "Confirm New Vault password: "]
    );
    let value = yaml.split_once('\n').unwrap().1;
    assert_eq!(
        drover_vault::decrypt_inline(value, &[secret(None, "pw1")]).unwrap(),
        b"value"
    );

    let out = drover_with(
        &["encrypt_string", "value"],
        Run {
            answers: vec!["pw1", "pw2"],
            ..Run::default()
        },
    );
    assert_eq!(out.err(), "Passwords do not match");
    // No terminal: the prompt's own error comes through.
    assert_eq!(drover(&["decrypt", "-"]).err(), "no terminal");
    let out = drover(&["view", "--ask-vault-pass", "x"]);
    assert_eq!(out.prompts, ["Vault password: "]);
}

#[test]
fn edit_and_create_use_a_private_temp_file_and_reencrypt() {
    let d = Dir::new();
    let log = d.arg("editor.log");
    // Records the temp file's and its directory's modes, then appends a line.
    let editor = d.script(
        "editor.sh",
        &format!(
            "#!/bin/sh\nstat -c '%a' \"$1\" \"$(dirname \"$1\")\" >> {log}\necho 'added: true' >> \"$1\"\n"
        ),
    );
    let noop = d.script("noop.sh", "#!/bin/sh\nexit 0\n");
    let dev = format!("--vault-id=dev@{}", d.arg("devpw"));
    let file = d.write("vars.yml", PLAIN);
    drover(&["encrypt", &dev, &file]).ok();

    let run = |editor: &str| Run {
        editor: editor.to_owned(),
        ..Run::default()
    };
    assert_eq!(
        drover_with(&["edit", &dev, &file], run(&editor)).err(),
        "not a tty, editor cannot be opened"
    );
    drover_with(&["edit", &dev, "--skip-tty-check", &file], run(&editor)).ok();
    assert_eq!(d.read("editor.log"), "600\n700\n");
    let text = d.read("vars.yml");
    assert!(
        text.starts_with("$ANSIBLE_VAULT;1.2;AES256;dev\n"),
        "keeps the file's vault id"
    );
    let devs = [secret(Some("dev"), "dev-password")];
    assert_eq!(
        drover_vault::decrypt(&text, &devs).unwrap(),
        format!("{PLAIN}added: true\n").as_bytes()
    );
    drover_with(&["edit", &dev, "--skip-tty-check", &file], run(&noop)).ok();
    assert_eq!(
        d.read("vars.yml"),
        text,
        "an unchanged edit does not rewrite the file"
    );
    assert!(
        drover_with(&["edit", &dev, "--skip-tty-check", &file], run("false"))
            .err()
            .contains("nothing was written")
    );
    assert_eq!(d.read("vars.yml"), text);

    let new = d.arg("sub/new.yml");
    drover_with(&["create", &dev, "--skip-tty-check", &new], run(&editor)).ok();
    assert_eq!(d.mode("sub/new.yml"), 0o600);
    assert_eq!(
        drover_vault::decrypt(&d.read("sub/new.yml"), &devs).unwrap(),
        b"added: true\n"
    );
    assert!(
        drover_with(&["create", &dev, "--skip-tty-check", &new], run(&editor))
            .err()
            .ends_with("exists, please use 'edit' instead")
    );
}

// ---------------------------------------------------------------------------------------------
// Live interoperability with the real ansible-vault.

fn ansible_vault() -> Option<PathBuf> {
    std::env::var_os("ANSIBLE_VAULT_BIN").map(PathBuf::from)
}

fn ansible(bin: &Path, args: &[&str], stdin: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Both directions against the real `ansible-vault`, formats 1.1 and 1.2 with vault ids, files
/// and `encrypt_string` values (the latter also loaded by the real `ansible` as a vars file).
///
/// Runs only when `ANSIBLE_VAULT_BIN` names an `ansible-vault` executable, e.g. after
/// `python3 -m venv /tmp/vault-venv && /tmp/vault-venv/bin/pip install ansible-core`:
/// `ANSIBLE_VAULT_BIN=/tmp/vault-venv/bin/ansible-vault cargo test -p drover-vault interop`.
/// Without it the test returns at once; the committed fixtures in `tests/fixtures` (written
/// by ansible-vault 2.19.14) keep the drover-side checks running everywhere.
#[test]
fn interop_with_real_ansible_vault() {
    let Some(bin) = ansible_vault() else {
        return;
    };
    let d = Dir::new();
    let cases: [(Option<&str>, String, &str); 2] = [
        (
            None,
            format!("--vault-password-file={}", d.arg("pw")),
            "test-password",
        ),
        (
            Some("dev"),
            format!("--vault-id=dev@{}", d.arg("devpw")),
            "dev-password",
        ),
    ];
    for (label, flag, password) in &cases {
        let secrets = [secret(*label, password)];
        let header = match label {
            Some(id) => format!("$ANSIBLE_VAULT;1.2;AES256;{id}\n"),
            None => "$ANSIBLE_VAULT;1.1;AES256\n".to_owned(),
        };

        // drover → ansible-vault, a file.
        let file = d.write("to-ansible.yml", PLAIN);
        drover(&["encrypt", flag, &file]).ok();
        assert!(d.read("to-ansible.yml").starts_with(&header));
        assert_eq!(
            ansible(&bin, &["decrypt", flag, "--output", "-", &file], b""),
            PLAIN
        );

        // ansible-vault → drover, a file.
        let file = d.write("from-ansible.yml", PLAIN);
        ansible(&bin, &["encrypt", flag, &file], b"");
        let text = d.read("from-ansible.yml");
        assert!(text.starts_with(&header));
        assert_eq!(
            drover_vault::decrypt(&text, &secrets).unwrap(),
            PLAIN.as_bytes()
        );
        assert_eq!(drover(&["view", flag, &file]).ok(), PLAIN);

        // ansible-vault encrypt_string → drover.
        let yaml = ansible(
            &bin,
            &["encrypt_string", flag, "--name", "api_key", "s3cr3t"],
            b"",
        );
        let value = yaml.strip_prefix("api_key: !vault |\n").unwrap();
        assert_eq!(
            drover_vault::decrypt_inline(value, &secrets).unwrap(),
            b"s3cr3t"
        );

        // drover encrypt_string → the envelope decrypts with ansible-vault, and the real
        // `ansible` loads the YAML as a vars file.
        let yaml = drover(&["encrypt_string", flag, "--name", "api_key", "s3cr3t"])
            .ok()
            .to_owned();
        let envelope: String = yaml
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", l.trim()))
            .collect();
        assert_eq!(
            ansible(
                &bin,
                &["decrypt", flag, "--output", "-", "-"],
                envelope.as_bytes()
            ),
            "s3cr3t"
        );
        let ansible_bin = bin.with_file_name("ansible");
        if ansible_bin.exists() {
            let vars = d.write("vars.yml", &yaml);
            let out = ansible(
                &ansible_bin,
                &[
                    "localhost",
                    "-c",
                    "local",
                    "-m",
                    "debug",
                    "-a",
                    "var=api_key",
                    "-e",
                    &format!("@{vars}"),
                    flag,
                ],
                b"",
            );
            assert!(out.contains("\"api_key\": \"s3cr3t\""), "{out}");
        }
    }
}

/// Without a terminal, asking for a password fails at once with a hint instead of blocking.
/// (Only checkable where the test itself runs without a terminal, as in CI.)
#[test]
fn prompt_without_a_terminal_fails_clearly() {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() || std::io::stderr().is_terminal() {
        return;
    }
    let err = vault_cmd::prompt_password("Vault password: ")
        .unwrap_err()
        .to_string();
    assert!(err.contains("there is no terminal"), "{err}");
    assert!(err.contains("--vault-password-file"), "{err}");
}

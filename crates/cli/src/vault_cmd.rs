//! `drover vault` (and `ansible-vault` through argv[0]): encrypt, decrypt, view, edit, rekey,
//! create and encrypt_string, with ansible-vault's flags and output.
//!
//! All terminal access goes through [`Console`], so the commands can be driven in tests with
//! in-memory streams; [`run`] builds the real one.

use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context as _, Result};
use drover_vault::{LabeledSecret, Secret, VaultError, VaultIdSpec};

/// `drover vault ...`
#[derive(clap::Args, Debug)]
pub struct VaultArgs {
    #[command(subcommand)]
    pub command: VaultCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum VaultCommand {
    /// Create a new encrypted file with $EDITOR.
    Create(EditArgs),
    /// Decrypt files in place (or to --output); stdin to stdout without files.
    Decrypt(DecryptArgs),
    /// Edit an encrypted file with $EDITOR and re-encrypt it.
    Edit(EditArgs),
    /// Print the decrypted contents of files.
    View(ViewArgs),
    /// Encrypt files in place (or to --output); stdin to stdout without files.
    Encrypt(EncryptArgs),
    /// Encrypt strings as inline `!vault` YAML values.
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString(EncryptStringArgs),
    /// Re-encrypt files with a new password.
    Rekey(RekeyArgs),
}

/// Where vault passwords come from; shared with `playbook` (flatten it there).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VaultPasswordArgs {
    /// The vault identity to use, `label@source` where source is a file, an executable or
    /// `prompt` (repeatable).
    #[arg(long = "vault-id", value_name = "VAULT_ID")]
    pub vault_id: Vec<String>,
    /// File holding the vault password; an executable file is run and prints it (repeatable).
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_file: Vec<PathBuf>,
    /// Ask for the vault password on the terminal.
    #[arg(
        short = 'J',
        long = "ask-vault-pass",
        visible_alias = "ask-vault-password"
    )]
    pub ask_vault_pass: bool,
}

impl VaultPasswordArgs {
    /// The password sources in the order given: `--vault-id`s, password files, then
    /// `--ask-vault-pass`; without any, `ANSIBLE_VAULT_IDENTITY_LIST` (comma-separated) and
    /// `ANSIBLE_VAULT_PASSWORD_FILE`, as Ansible reads them.
    pub fn specs(&self) -> Result<Vec<VaultIdSpec>> {
        let mut specs = Vec::new();
        for id in &self.vault_id {
            specs.push(VaultIdSpec::parse(id)?);
        }
        specs.extend(
            self.vault_password_file
                .iter()
                .map(VaultIdSpec::password_file),
        );
        if self.ask_vault_pass {
            specs.push(VaultIdSpec::ask());
        }
        if specs.is_empty() {
            if let Ok(list) = std::env::var("ANSIBLE_VAULT_IDENTITY_LIST") {
                for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    specs.push(VaultIdSpec::parse(id)?);
                }
            }
            if let Some(file) = std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE") {
                if !file.is_empty() {
                    specs.push(VaultIdSpec::password_file(file));
                }
            }
        }
        Ok(specs)
    }

    /// Loads every password, prompting on the terminal for `prompt` sources. Empty when no
    /// source was given (a playbook without vaulted data needs none).
    pub fn load(&self) -> Result<Vec<LabeledSecret>> {
        load_specs(&self.specs()?, &mut prompt_password)
    }
}

fn load_specs(
    specs: &[VaultIdSpec],
    prompt: &mut dyn FnMut(&str) -> Result<Secret, VaultError>,
) -> Result<Vec<LabeledSecret>> {
    specs
        .iter()
        .map(|spec| spec.load(prompt).map_err(anyhow::Error::from))
        .collect()
}

/// Asks for a password on the controlling terminal without echo. Fails clearly when there is
/// no terminal (CI, cron), instead of blocking or reading a pipe.
pub fn prompt_password(text: &str) -> Result<Secret, VaultError> {
    let interactive = std::io::stdin().is_terminal() || std::io::stderr().is_terminal();
    if !interactive || std::fs::File::open("/dev/tty").is_err() {
        return Err(VaultError::Prompt(
            "a vault password was to be prompted for, but there is no terminal; use \
             --vault-password-file FILE or --vault-id LABEL@FILE"
                .to_owned(),
        ));
    }
    rpassword::prompt_password(text)
        .map(Secret::new)
        .map_err(|e| VaultError::Prompt(format!("could not read the vault password: {e}")))
}

#[derive(clap::Args, Debug)]
pub struct EncryptArgs {
    #[command(flatten)]
    pub passwords: VaultPasswordArgs,
    /// The vault id to encrypt with (required when more than one is given).
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
    /// Output file name; `-` for stdout.
    #[arg(long = "output", value_name = "OUTPUT_FILE")]
    pub output: Option<PathBuf>,
    /// Files to encrypt; `-` or none for stdin.
    pub files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DecryptArgs {
    #[command(flatten)]
    pub passwords: VaultPasswordArgs,
    /// Output file name; `-` for stdout.
    #[arg(long = "output", value_name = "OUTPUT_FILE")]
    pub output: Option<PathBuf>,
    /// Files to decrypt; `-` or none for stdin.
    pub files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ViewArgs {
    #[command(flatten)]
    pub passwords: VaultPasswordArgs,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct EditArgs {
    #[command(flatten)]
    pub passwords: VaultPasswordArgs,
    /// The vault id to encrypt with (required when more than one is given).
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
    /// Open the editor even when not on a terminal.
    #[arg(long = "skip-tty-check")]
    pub skip_tty_check: bool,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub passwords: VaultPasswordArgs,
    /// The new vault identity, `label@source`.
    #[arg(long = "new-vault-id", value_name = "NEW_VAULT_ID")]
    pub new_vault_id: Option<String>,
    /// File holding the new vault password.
    #[arg(
        long = "new-vault-password-file",
        value_name = "NEW_VAULT_PASSWORD_FILE"
    )]
    pub new_vault_password_file: Option<PathBuf>,
    /// Accepted for compatibility; the new vault id decides the header.
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct EncryptStringArgs {
    #[command(flatten)]
    pub passwords: VaultPasswordArgs,
    /// The vault id to encrypt with (required when more than one is given).
    #[arg(long = "encrypt-vault-id", value_name = "ENCRYPT_VAULT_ID")]
    pub encrypt_vault_id: Option<String>,
    /// Output file name; `-` for stdout.
    #[arg(long = "output", value_name = "OUTPUT_FILE")]
    pub output: Option<PathBuf>,
    /// Prompt for the string to encrypt.
    #[arg(short = 'p', long = "prompt")]
    pub prompt: bool,
    /// Do not hide input when prompted for the string to encrypt.
    #[arg(long = "show-input")]
    pub show_input: bool,
    /// The variable name for each string, in order (repeatable).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// The variable name for the string read from stdin.
    #[arg(long = "stdin-name", value_name = "NAME")]
    pub stdin_name: Option<String>,
    /// Strings to encrypt; `-` reads stdin.
    pub strings: Vec<String>,
}

/// The terminal, as the commands see it.
pub struct Console<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// Whether a person is watching: status lines ("Encryption successful"), the editor check.
    pub interactive: bool,
    /// Whether stdin is a terminal (encrypt_string says it is reading it).
    pub stdin_is_terminal: bool,
    /// Asks for a password without echo.
    pub prompt: &'a mut dyn FnMut(&str) -> Result<Secret, VaultError>,
    /// The editor command line (`$EDITOR`, default `vi`).
    pub editor: String,
    /// The pager for `view` when stdout is a terminal.
    pub pager: Option<String>,
}

/// Runs a vault command on the real terminal; returns the exit code.
pub fn run(args: VaultArgs) -> Result<i32> {
    let stdout_tty = std::io::stdout().is_terminal();
    let stdin_tty = std::io::stdin().is_terminal();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut prompt = prompt_password;
    let mut console = Console {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        interactive: stdout_tty,
        stdin_is_terminal: stdin_tty,
        prompt: &mut prompt,
        editor: std::env::var("EDITOR")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "vi".to_owned()),
        pager: stdout_tty.then(|| {
            std::env::var("PAGER")
                .ok()
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| "less".to_owned())
        }),
    };
    run_with(args, &mut console)
}

/// Runs a vault command against `console`.
pub fn run_with(args: VaultArgs, console: &mut Console<'_>) -> Result<i32> {
    match args.command {
        VaultCommand::Encrypt(a) => encrypt_files(a, console),
        VaultCommand::Decrypt(a) => decrypt_files(a, console),
        VaultCommand::View(a) => view(a, console),
        VaultCommand::Edit(a) => edit(a, console, false),
        VaultCommand::Create(a) => edit(a, console, true),
        VaultCommand::Rekey(a) => rekey(a, console),
        VaultCommand::EncryptString(a) => encrypt_string(a, console),
    }?;
    console.stdout.flush()?;
    Ok(0)
}

fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The passwords for decrypting: the given sources, or a prompt when none was given.
fn decrypt_secrets(
    args: &VaultPasswordArgs,
    console: &mut Console<'_>,
) -> Result<Vec<LabeledSecret>> {
    let mut specs = args.specs()?;
    if specs.is_empty() {
        specs.push(VaultIdSpec::ask());
    }
    load_specs(&specs, console.prompt)
}

/// The passwords for encrypting: the given sources, or a new password asked twice.
fn encrypt_secrets(
    args: &VaultPasswordArgs,
    console: &mut Console<'_>,
) -> Result<Vec<LabeledSecret>> {
    let specs = args.specs()?;
    if specs.is_empty() {
        return Ok(vec![LabeledSecret::new(None, new_password(console)?)]);
    }
    load_specs(&specs, console.prompt)
}

fn new_password(console: &mut Console<'_>) -> Result<Secret> {
    let first = (console.prompt)("New Vault password: ")?;
    let second = (console.prompt)("Confirm New Vault password: ")?;
    if first != second {
        bail!("Passwords do not match");
    }
    if first.is_empty() {
        bail!(VaultError::EmptyPassword("prompt".to_owned()));
    }
    Ok(first)
}

/// The secret to encrypt with, as ansible-vault chooses it.
fn pick_encrypt_secret<'s>(
    secrets: &'s [LabeledSecret],
    wanted: Option<&str>,
) -> Result<&'s LabeledSecret> {
    let labels = || {
        secrets
            .iter()
            .map(LabeledSecret::label)
            .collect::<Vec<_>>()
            .join(",")
    };
    match wanted {
        Some(id) => secrets.iter().find(|s| s.label() == id).ok_or_else(|| {
            anyhow!(
                "Did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]",
                labels()
            )
        }),
        None => match secrets {
            [one] => Ok(one),
            [] => bail!("A vault password is required to encrypt"),
            _ => bail!(
                "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
                labels()
            ),
        },
    }
}

fn encrypt_with(plaintext: &[u8], secret: &LabeledSecret) -> Result<String> {
    Ok(drover_vault::encrypt(
        plaintext,
        &secret.secret,
        secret.label.as_deref(),
    )?)
}

fn read_input(path: &Path, console: &mut Console<'_>) -> Result<Vec<u8>> {
    if is_dash(path) {
        let mut data = Vec::new();
        console
            .stdin
            .read_to_end(&mut data)
            .context("reading stdin")?;
        return Ok(data);
    }
    std::fs::read(path).with_context(|| format!("could not read {}", path.display()))
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Writes `data` to `path` atomically (temporary file in the same directory, fsync, rename).
/// `mode` applies to the new file; `None` keeps the mode of the file being replaced (0600 for
/// a new one).
fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> Result<()> {
    // Replace the file a symlink points to, not the link.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mode = match mode {
        Some(m) => m,
        None => std::fs::metadata(&target)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o600),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".drover-vault-")
        .tempfile_in(&dir)
        .with_context(|| format!("could not create a temporary file in {}", dir.display()))?;
    tmp.write_all(data)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target)
        .map_err(|e| anyhow!("could not write {}: {}", target.display(), e.error))?;
    Ok(())
}

fn write_output(
    path: &Path,
    data: &[u8],
    mode: Option<u32>,
    console: &mut Console<'_>,
) -> Result<()> {
    if is_dash(path) {
        console.stdout.write_all(data)?;
        return Ok(());
    }
    write_atomic(path, data, mode)
}

fn status(console: &mut Console<'_>, message: &str) -> Result<()> {
    if console.interactive {
        writeln!(console.stderr, "{message}")?;
    }
    Ok(())
}

/// Files to work on (stdin when none) and where each result goes.
fn targets(files: &[PathBuf], output: Option<&Path>) -> Result<Vec<(PathBuf, PathBuf)>> {
    let files = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    };
    if output.is_some() && files.len() > 1 {
        bail!("--output can only be used with one input file");
    }
    Ok(files
        .into_iter()
        .map(|f| {
            let out = output.map_or_else(|| f.clone(), Path::to_owned);
            (f, out)
        })
        .collect())
}

const ENCRYPTED_MODE: u32 = 0o600;

fn encrypt_files(args: EncryptArgs, console: &mut Console<'_>) -> Result<()> {
    let secrets = encrypt_secrets(&args.passwords, console)?;
    let secret = pick_encrypt_secret(&secrets, args.encrypt_vault_id.as_deref())?;
    for (input, output) in targets(&args.files, args.output.as_deref())? {
        let plain = read_input(&input, console)?;
        if drover_vault::is_encrypted_bytes(&plain) {
            bail!("input is already encrypted: {}", shown(&input));
        }
        let text = encrypt_with(&plain, secret)?;
        write_output(&output, text.as_bytes(), Some(ENCRYPTED_MODE), console)?;
    }
    status(console, "Encryption successful")
}

/// `data` as vault text; errors name the file and nothing else.
fn vault_text<'d>(data: &'d [u8], name: &Path) -> Result<&'d str> {
    if !drover_vault::is_encrypted_bytes(data) {
        bail!(VaultError::NotVault.in_file(shown(name)));
    }
    Ok(std::str::from_utf8(data)
        .map_err(|_| VaultError::Malformed("not UTF-8 text").in_file(shown(name)))?)
}

/// Decrypts `data` read from `name`; errors name the file and nothing else.
fn decrypt_data(data: &[u8], name: &Path, secrets: &[LabeledSecret]) -> Result<Vec<u8>> {
    let text = vault_text(data, name)?;
    Ok(drover_vault::decrypt(text, secrets).map_err(|e| e.in_file(shown(name)))?)
}

fn decrypt_files(args: DecryptArgs, console: &mut Console<'_>) -> Result<()> {
    let secrets = decrypt_secrets(&args.passwords, console)?;
    for (input, output) in targets(&args.files, args.output.as_deref())? {
        let data = read_input(&input, console)?;
        let plain = decrypt_data(&data, &input, &secrets)?;
        // In place keeps the file's mode; a new output file is private.
        let mode = (output != input).then_some(ENCRYPTED_MODE);
        write_output(&output, &plain, mode, console)?;
    }
    status(console, "Decryption successful")
}

fn view(args: ViewArgs, console: &mut Console<'_>) -> Result<()> {
    let secrets = decrypt_secrets(&args.passwords, console)?;
    let mut all = Vec::new();
    for file in &args.files {
        let data = read_input(file, console)?;
        all.extend(decrypt_data(&data, file, &secrets)?);
    }
    if let Some(pager) = console.pager.clone() {
        if page(&pager, &all).is_ok() {
            return Ok(());
        }
    }
    console.stdout.write_all(&all)?;
    Ok(())
}

fn page(pager: &str, data: &[u8]) -> Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", pager])
        .stdin(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may quit before reading everything; that is not an error.
        let _ = stdin.write_all(data);
    }
    child.wait()?;
    Ok(())
}

/// A private directory (0700) holding the one plaintext file (0600) the editor works on.
struct EditSpace {
    /// Removed (with the file) on drop.
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl EditSpace {
    fn new(original: &Path, plaintext: &[u8]) -> Result<EditSpace> {
        let dir = tempfile::Builder::new()
            .prefix("drover-vault-")
            .tempdir()
            .context("could not create a private temporary directory")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        // Keep the name so the editor picks the right syntax.
        let name = original
            .file_name()
            .map_or_else(|| "vault".into(), |n| n.to_owned());
        let file = dir.path().join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)?;
        f.write_all(plaintext)?;
        f.sync_all()?;
        Ok(EditSpace { _dir: dir, file })
    }

    fn run_editor(&self, editor: &str) -> Result<Vec<u8>> {
        let mut words = editor.split_whitespace();
        let program = words.next().ok_or_else(|| anyhow!("$EDITOR is empty"))?;
        let status = Command::new(program)
            .args(words)
            .arg(&self.file)
            .status()
            .with_context(|| format!("could not run the editor {program:?}"))?;
        if !status.success() {
            bail!("the editor {program:?} failed ({status}); nothing was written");
        }
        Ok(std::fs::read(&self.file)?)
    }
}

impl Drop for EditSpace {
    fn drop(&mut self) {
        // Overwrite the plaintext before the directory is removed, as Ansible shreds it.
        if let Ok(meta) = std::fs::metadata(&self.file) {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&self.file) {
                let len = usize::try_from(meta.len()).unwrap_or(0);
                let _ = f.write_all(&vec![0u8; len]);
                let _ = f.sync_all();
            }
        }
    }
}

fn edit(args: EditArgs, console: &mut Console<'_>, create: bool) -> Result<()> {
    if !console.interactive && !args.skip_tty_check {
        bail!("not a tty, editor cannot be opened");
    }
    for file in &args.files {
        if create {
            if file.exists() {
                bail!("{} exists, please use 'edit' instead", shown(file));
            }
            let secrets = encrypt_secrets(&args.passwords, console)?;
            let secret = pick_encrypt_secret(&secrets, args.encrypt_vault_id.as_deref())?;
            let space = EditSpace::new(file, b"")?;
            let plain = space.run_editor(&console.editor)?;
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            write_atomic(
                file,
                encrypt_with(&plain, secret)?.as_bytes(),
                Some(ENCRYPTED_MODE),
            )?;
            continue;
        }
        let secrets = decrypt_secrets(&args.passwords, console)?;
        let data = read_input(file, console)?;
        let text = vault_text(&data, file)?;
        let (plain, used) =
            drover_vault::decrypt_with_label(text, &secrets).map_err(|e| e.in_file(shown(file)))?;
        // Re-encrypt under the file's own vault id unless told otherwise.
        let header_id = drover_vault::parse_header(text)?.vault_id;
        let secret = match args.encrypt_vault_id.as_deref() {
            Some(id) => pick_encrypt_secret(&secrets, Some(id))?.clone(),
            None => LabeledSecret {
                label: header_id,
                secret: used.secret.clone(),
            },
        };
        let space = EditSpace::new(file, &plain)?;
        let edited = space.run_editor(&console.editor)?;
        if edited == plain && args.encrypt_vault_id.is_none() {
            continue;
        }
        write_atomic(file, encrypt_with(&edited, &secret)?.as_bytes(), None)?;
    }
    Ok(())
}

fn rekey(args: RekeyArgs, console: &mut Console<'_>) -> Result<()> {
    let secrets = decrypt_secrets(&args.passwords, console)?;
    let new = match (&args.new_vault_id, &args.new_vault_password_file) {
        (Some(_), Some(_)) => {
            bail!("use either --new-vault-id or --new-vault-password-file, not both")
        }
        (Some(id), None) => VaultIdSpec::parse(id)?.load(console.prompt)?,
        (None, Some(path)) => VaultIdSpec::password_file(path).load(console.prompt)?,
        (None, None) => LabeledSecret::new(None, new_password(console)?),
    };
    // Decrypt everything first so a wrong password leaves every file untouched.
    let mut plains = Vec::new();
    for file in &args.files {
        let data = read_input(file, console)?;
        plains.push(decrypt_data(&data, file, &secrets)?);
    }
    for (file, plain) in args.files.iter().zip(&plains) {
        write_atomic(file, encrypt_with(plain, &new)?.as_bytes(), None)?;
    }
    status(console, "Rekey successful")
}

fn encrypt_string(args: EncryptStringArgs, console: &mut Console<'_>) -> Result<()> {
    let secrets = encrypt_secrets(&args.passwords, console)?;
    let secret = pick_encrypt_secret(&secrets, args.encrypt_vault_id.as_deref())?;

    // (name, plaintext, where it came from)
    let mut items: Vec<(Option<String>, Vec<u8>, String)> = Vec::new();
    if args.prompt {
        let value = if args.show_input {
            write!(console.stderr, "String to encrypt: ")?;
            console.stderr.flush()?;
            let mut line = String::new();
            read_line(console.stdin, &mut line)?;
            line.into_bytes()
        } else {
            (console.prompt)("String to encrypt (hidden): ")?
                .expose()
                .to_vec()
        };
        items.push((
            args.names.first().cloned(),
            value,
            "the interactive prompt".to_owned(),
        ));
    }
    if args.strings.len() > args.names.len() && !args.names.is_empty() {
        writeln!(
            console.stderr,
            "The number of --name options do not match the number of args.\nThe last named variable will be \"{}\". The rest will not have names.",
            args.names.last().map_or("", String::as_str)
        )?;
    }
    let read_stdin = |console: &mut Console<'_>| -> Result<Vec<u8>> {
        if console.stdin_is_terminal {
            writeln!(console.stderr, "Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)")?;
        }
        read_input(Path::new("-"), console)
    };
    for (i, value) in args.strings.iter().enumerate() {
        if value == "-" {
            items.push((
                args.stdin_name.clone(),
                read_stdin(console)?,
                "stdin".to_owned(),
            ));
        } else {
            let name = if args.prompt {
                None
            } else {
                args.names.get(i).cloned()
            };
            items.push((
                name,
                value.as_bytes().to_vec(),
                format!("the string #{} from the command line args", i + 1),
            ));
        }
    }
    if items.is_empty() {
        items.push((
            args.stdin_name.clone(),
            read_stdin(console)?,
            "stdin".to_owned(),
        ));
    }

    let mut out = String::new();
    let several = items.len() > 1;
    for (name, value, origin) in &items {
        if value.is_empty() {
            bail!("The plaintext provided from {origin} was empty, not encrypting");
        }
        out.push_str(&drover_vault::format_inline(
            name.as_deref(),
            &encrypt_with(value, secret)?,
        ));
        if several {
            match name {
                Some(n) => writeln!(
                    console.stderr,
                    "# The encrypted version of variable (\"{n}\", {origin})."
                )?,
                None => writeln!(console.stderr, "# The encrypted version of {origin}.")?,
            }
        }
    }
    match &args.output {
        Some(path) => write_output(path, out.as_bytes(), Some(ENCRYPTED_MODE), console)?,
        None => console.stdout.write_all(out.as_bytes())?,
    }
    status(console, "Encryption successful")
}

fn read_line(input: &mut dyn Read, line: &mut String) -> Result<()> {
    let mut byte = [0u8; 1];
    let mut bytes = Vec::new();
    while input.read(&mut byte)? == 1 && byte[0] != b'\n' {
        bytes.push(byte[0]);
    }
    *line = String::from_utf8(bytes).context("the string to encrypt is not UTF-8")?;
    Ok(())
}

//! `group_vars/` and `host_vars/` directories: for an entity `name`, the files `name`,
//! `name.yml`, `name.yaml`, `name.json`, and every such file under a directory `name/`
//! (recursively), merged in path order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use drover_yaml::{parse_one, SourceError};

use crate::{InventoryError, Vars, VarsDirKind};

const VALID_EXTS: [&str; 3] = ["yml", "yaml", "json"];

#[derive(Debug, Clone)]
pub(crate) struct VarsDir {
    pub(crate) kind: VarsDirKind,
    /// The directory, canonicalized when possible, so adding it twice is noticed.
    pub(crate) dir: PathBuf,
    pub(crate) warnings: Vec<String>,
    pub(crate) groups: HashMap<String, Vars>,
    pub(crate) hosts: HashMap<String, Vars>,
}

impl VarsDir {
    pub(crate) fn load(dir: &Path, kind: VarsDirKind) -> Result<VarsDir, InventoryError> {
        let mut warnings = Vec::new();
        Ok(VarsDir {
            kind,
            dir: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()),
            groups: load_entities(&dir.join("group_vars"), &mut warnings)?,
            hosts: load_entities(&dir.join("host_vars"), &mut warnings)?,
            warnings,
        })
    }
}

/// Files a vars directory never holds vars in: hidden files and editor or packaging leftovers.
fn skipped(name: &str) -> bool {
    const SKIP: [&str; 9] = [
        "~", ".orig", ".bak", ".swp", ".retry", ".md", ".txt", ".rst", ".j2",
    ];
    name.starts_with('.') || SKIP.iter().any(|s| name.ends_with(s))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, InventoryError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        SourceError::whole_file(
            dir.display().to_string(),
            format!("cannot read directory: {e}"),
        )
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn load_entities(
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<HashMap<String, Vars>, InventoryError> {
    let mut out: HashMap<String, Vars> = HashMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for path in sorted_entries(dir)? {
        let name = file_name(&path);
        if skipped(&name) {
            continue;
        }
        let (entity, files) = if path.is_dir() {
            let mut files = Vec::new();
            collect_files(&path, &mut files)?;
            (name, files)
        } else {
            // `web.yml` is for `web`; `web.example.com` (no vars extension) is for that host.
            let entity = match name.rsplit_once('.') {
                Some((stem, ext)) if VALID_EXTS.contains(&ext) => stem.to_string(),
                _ => name,
            };
            (entity, vec![path])
        };
        for file in files {
            let vars = load_file(&file, warnings)?;
            let slot = out.entry(entity.clone()).or_default();
            for (k, v) in vars {
                slot.insert(k, v);
            }
        }
    }
    Ok(out)
}

/// Files under an entity directory: those with a vars extension or none, recursively.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    for path in sorted_entries(dir)? {
        let name = file_name(&path);
        if skipped(&name) {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            let ok = match name.rsplit_once('.') {
                Some((_, ext)) => VALID_EXTS.contains(&ext),
                None => true,
            };
            if ok {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// One vars file: a YAML (or JSON) mapping, or empty.
pub(crate) fn load_file(path: &Path, warnings: &mut Vec<String>) -> Result<Vars, InventoryError> {
    let file = path.display().to_string();
    // Vault-encrypted files and `!vault` values are decrypted with the run's keyring.
    let src = drover_vault::yaml::read_source(path)?;
    let mut doc = parse_one(&src, &file)?;
    drover_vault::yaml::decrypt_tags(&mut doc.root, &file, &src)?;
    warnings.extend(doc.warnings.iter().map(ToString::to_string));
    let mut vars = Vars::new();
    if doc.root.is_null() {
        return Ok(vars);
    }
    let Some(pairs) = doc.root.as_map() else {
        return Err(SourceError::new(
            &file,
            &src,
            doc.root.span.start,
            format!(
                "a variables file must be a mapping of names to values, found {}",
                doc.root.kind_name()
            ),
        )
        .into());
    };
    for (k, v) in pairs {
        let Some(key) = k.scalar_text() else {
            return Err(
                SourceError::new(&file, &src, k.span.start, "expected a variable name").into(),
            );
        };
        vars.insert(key, v.to_value());
    }
    Ok(vars)
}

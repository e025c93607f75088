//! `copy`: puts a file (or a tree) from the controller, from `content`, or from elsewhere on the
//! host at a destination. Also the placement logic `template` and `assemble` share.
//!
//! An unchanged file costs one round trip: `stat` with the SHA-1 checksum, compared with the
//! checksum of the local content.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use drover_host::{Attrs, FileKind, FileOp, FileStat, HostError, StatOptions};
use md5::Md5;
use sha1::Digest;

use crate::util::{
    add_file_info, attrs_differ, attrs_from_args, basename, check_mode_arg, check_validate,
    content_diff, hex, join, mode_str, parent_of, sha1_hex, write_content, MAX_DIFF_SIZE,
};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Copy;

static SPEC: ModuleSpec = ModuleSpec {
    name: "copy",
    args: &[
        ArgDef::new("src", ArgKind::Path),
        ArgDef::new("content", ArgKind::Str).secret(),
        // Checked when the task runs, with Ansible's message.
        ArgDef::new("dest", ArgKind::Path),
        ArgDef::new("mode", ArgKind::Mode),
        ArgDef::new("owner", ArgKind::Str),
        ArgDef::new("group", ArgKind::Str),
        ArgDef::new("directory_mode", ArgKind::Mode),
        ArgDef::new("backup", ArgKind::Bool),
        ArgDef::new("force", ArgKind::Bool).aliases(&["thirsty"]),
        ArgDef::new("validate", ArgKind::Str),
        ArgDef::new("remote_src", ArgKind::Bool),
        ArgDef::new("follow", ArgKind::Bool),
        ArgDef::new("local_follow", ArgKind::Bool),
        ArgDef::new("checksum", ArgKind::Str),
        // Vault-encrypted sources are decrypted on the controller unless this is false.
        ArgDef::new("decrypt", ArgKind::Bool),
        ArgDef::new("unsafe_writes", ArgKind::Bool),
        ArgDef::new("seuser", ArgKind::Str),
        ArgDef::new("serole", ArgKind::Str),
        ArgDef::new("setype", ArgKind::Str),
        ArgDef::new("selevel", ArgKind::Str),
        ArgDef::new("attributes", ArgKind::Str).aliases(&["attr"]),
    ],
    free_form: false,
    mutually_exclusive: &[&["content", "src"]],
    required_one_of: &[],
    check_mode: true,
};

const WITH_SUM: StatOptions = StatOptions {
    follow: true,
    checksum: true,
};

#[async_trait::async_trait]
impl Module for Copy {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let dest = args.string("dest").unwrap_or_default();
        let dest = crate::util::expand_host_path(ctx, &dest).await?;
        if !args.has("content") && args.str("src").is_none_or(str::is_empty) {
            return Ok(Outcome::failed("src (or content) is required"));
        }
        if dest.is_empty() {
            return Ok(Outcome::failed("dest is required"));
        }
        let opts = Placement::from_args(args, &dest)?;
        if let Err(msg) = check_validate(opts.validate.as_deref()) {
            return Ok(Outcome::failed(msg));
        }
        if let Some(content) = args.str("content") {
            if dest.ends_with('/') {
                return Ok(Outcome::failed(format!(
                    "can not use content with a dir as dest: {dest}"
                )));
            }
            let mut p = opts;
            // Ansible 2.19 names the destination here (it was "dynamically generated").
            p.after_header = p.dest.clone();
            // `content` travels as a private temporary file (0600) whose mode `preserve` keeps.
            if p.attrs.mode.as_deref() == Some("preserve") {
                p.attrs.mode = Some("0600".into());
            }
            return place(ctx, &p, content.as_bytes().to_vec(), None).await;
        }
        let Some(src) = args.string("src") else {
            return Ok(Outcome::failed("src (or content) is required"));
        };
        if args.bool("remote_src", false) {
            let src = crate::util::expand_host_path(ctx, &src).await?;
            return copy_remote(ctx, opts, &src).await;
        }
        let local = ctx.controller.find_file("files", &src)?;
        if local.is_dir() {
            let mut tree = Tree::read_local(&local, args.bool("local_follow", true))?;
            if args.bool("decrypt", true) {
                // Shallow files first, as Ansible walks the tree (its error names the first).
                let mut order: Vec<usize> = (0..tree.files.len()).collect();
                order.sort_by_key(|&i| tree.files[i].0.matches('/').count());
                for i in order {
                    let (name, content, _) = &mut tree.files[i];
                    let file = local.join(&*name).display().to_string();
                    *content = drover_vault::yaml::decrypt_bytes(std::mem::take(content), &file)
                        .map_err(ModuleError::Controller)?;
                }
            }
            let root = if src.ends_with('/') {
                dest.clone()
            } else {
                join(&dest, basename(&src))
            };
            return copy_tree(ctx, &opts, &root, &src, tree).await;
        }
        let content = crate::util::read_controller_file(&local, args.bool("decrypt", true), "src")?;
        let mut p = opts;
        p.after_header = local.display().to_string();
        if p.attrs.mode.as_deref() == Some("preserve") {
            p.attrs.mode = std::fs::metadata(&local)
                .ok()
                .map(|m| mode_str(m.permissions().mode()));
        }
        place(ctx, &p, content, Some(&src)).await
    }
}

/// How to place one file's content at `dest`.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub dest: String,
    pub attrs: Attrs,
    pub directory_attrs: Attrs,
    pub backup: bool,
    pub force: bool,
    pub validate: Option<String>,
    pub expected_checksum: Option<String>,
    /// `follow`: a destination that is a symlink keeps being one; its target gets the content.
    pub follow: bool,
    /// `local_follow`: links in a copied tree are copied as what they point to.
    pub local_follow: bool,
    /// The `+++` header of the diff: where the new content came from.
    pub after_header: String,
}

impl Placement {
    pub(crate) fn from_args(args: &Args, dest: &str) -> Result<Placement, ModuleError> {
        let attrs = attrs_from_args(args);
        if attrs.mode.as_deref() != Some("preserve") {
            check_mode_arg(dest, &attrs)?;
        }
        let directory_attrs = Attrs {
            mode: args.string("directory_mode"),
            owner: attrs.owner.clone(),
            group: attrs.group.clone(),
        };
        check_mode_arg(dest, &directory_attrs)?;
        Ok(Placement {
            dest: dest.to_string(),
            attrs,
            directory_attrs,
            backup: args.bool("backup", false),
            force: args.bool("force", true),
            validate: args.string("validate"),
            expected_checksum: args.string("checksum"),
            follow: args.bool("follow", false),
            local_follow: args.bool("local_follow", true),
            after_header: String::new(),
        })
    }
}

/// Places `content` at `p.dest` (inside it when it is a directory or ends with `/`, named after
/// `src`), with Ansible's `copy` results.
pub(crate) async fn place(
    ctx: &Context<'_>,
    p: &Placement,
    content: Vec<u8>,
    src: Option<&str>,
) -> Result<Outcome, ModuleError> {
    let checksum = sha1_hex(&content);
    if let Some(expected) = &p.expected_checksum {
        if !expected.eq_ignore_ascii_case(&checksum) {
            return Ok(Outcome::failed(format!(
                "Copied file does not match the expected checksum. Transfer failed. (expected {expected}, got {checksum} for {})",
                p.dest
            )));
        }
    }
    let name = src.map(basename).filter(|n| !n.is_empty());
    // A destination ending with `/` is a directory, created when missing.
    let mut make_dir = None;
    let (dest, st) = match name {
        Some(name) => {
            // One round trip whether or not dest is a directory.
            let inside = join(&p.dest, name);
            let mut both = ctx
                .host
                .stat_many(&[p.dest.clone(), inside.clone()], WITH_SUM)
                .await?;
            let second = both.pop().unwrap_or_default();
            let first = both.pop().unwrap_or_default();
            if p.dest.ends_with('/') && !first.exists {
                make_dir = Some(p.dest.trim_end_matches('/').to_string());
            }
            if first.kind == Some(FileKind::Directory) || p.dest.ends_with('/') {
                (inside, second)
            } else {
                (p.dest.clone(), first)
            }
        }
        None => {
            let st = ctx.host.stat(&p.dest, WITH_SUM).await?;
            if st.kind == Some(FileKind::Directory) {
                return Ok(Outcome::failed(format!(
                    "can not use content with a dir as dest: {}",
                    p.dest
                )));
            }
            (p.dest.clone(), st)
        }
    };
    if st.kind == Some(FileKind::Directory) {
        return Ok(Outcome::failed(format!("{dest} is a directory")).with("dest", dest));
    }
    // Writes go to the link's final target with `follow`; the result still names `dest`.
    let target = if p.follow && st.exists {
        link_target(ctx, &dest).await?
    } else {
        dest.clone()
    };
    let mut out = Outcome::ok()
        .with("dest", dest.clone())
        .with("checksum", checksum.clone())
        .with("md5sum", hex(&Md5::digest(&content)))
        .with("size", content.len());
    if let Some(src) = src {
        out.set("src", src);
    }

    if st.exists && !p.force {
        add_file_info(&mut out, &st);
        out.set("size", st.size);
        return Ok(out);
    }
    let same_content = st.exists && st.checksum.as_deref() == Some(checksum.as_str());
    if same_content {
        if attrs_differ(&dest, &st, &p.attrs)? {
            let r = crate::util::apply_attrs(ctx, &dest, &p.attrs).await?;
            out.changed = r.changed;
            add_file_info(&mut out, if ctx.check { &st } else { &r.after });
        } else {
            add_file_info(&mut out, &st);
        }
        return Ok(out);
    }

    out.changed = true;
    if ctx.diff {
        let before = if st.exists && st.size as usize <= MAX_DIFF_SIZE {
            ctx.host.read(&dest).await?
        } else {
            Vec::new()
        };
        if !st.exists || st.size as usize <= MAX_DIFF_SIZE {
            out.diff
                .extend(content_diff(&dest, &p.after_header, &before, &content));
        }
    }
    if ctx.check {
        add_file_info(&mut out, &st);
        out.set("state", "file");
        out.set("size", content.len());
        return Ok(out);
    }
    if let Some(dir) = make_dir {
        ctx.host
            .file_op(
                &FileOp::Directory {
                    path: dir,
                    attrs: p.directory_attrs.clone(),
                    recurse: false,
                },
                false,
            )
            .await?;
    }
    let parent = parent_of(&dest).to_string();
    let backup = match write_content(
        ctx,
        &target,
        content,
        &p.attrs,
        p.backup,
        p.validate.as_deref(),
    )
    .await
    {
        Ok(b) => b,
        Err(ModuleError::Host(e)) if e.is_not_found() => {
            return Ok(
                Outcome::failed(format!("Destination directory {parent} does not exist"))
                    .with("dest", dest),
            );
        }
        Err(ModuleError::Host(HostError::Io { message, .. })) if p.validate.is_some() => {
            return Ok(Outcome::failed(format!("{dest}: {message}")).with("dest", dest));
        }
        Err(e) => return Err(e),
    };
    if let Some(b) = backup {
        out.set("backup_file", b);
    }
    let after = ctx.host.stat(&dest, StatOptions::default()).await?;
    add_file_info(&mut out, &after);
    Ok(out)
}

/// The final target of `path` when it is a symlink (`readlink -f` on the host), else `path`.
async fn link_target(ctx: &Context<'_>, path: &str) -> Result<String, ModuleError> {
    let st = ctx
        .host
        .stat(
            path,
            StatOptions {
                follow: false,
                checksum: false,
            },
        )
        .await?;
    if st.kind != Some(FileKind::Symlink) {
        return Ok(path.to_string());
    }
    let r = ctx
        .host
        .exec(&drover_host::ExecRequest::argv([
            "readlink", "-f", "--", path,
        ]))
        .await?;
    let real = String::from_utf8_lossy(&r.stdout)
        .trim_end_matches('\n')
        .to_string();
    Ok(if r.rc == 0 && !real.is_empty() {
        real
    } else {
        path.to_string()
    })
}

/// A directory tree to copy: directories and files relative to its root, in creation order.
#[derive(Debug, Default)]
struct Tree {
    dirs: Vec<String>,
    files: Vec<(String, Vec<u8>, u32)>,
    /// Symbolic links recreated as links: (relative path, target as stored).
    links: Vec<(String, String)>,
}

impl Tree {
    fn read_local(root: &Path, follow: bool) -> Result<Tree, ModuleError> {
        let mut tree = Tree::default();
        let mut seen = Vec::new();
        if let Ok(real) = std::fs::canonicalize(root) {
            seen.push(real);
        }
        walk_local(root, "", follow, &mut tree, &mut seen)?;
        Ok(tree)
    }
}

/// Walks a controller directory as Ansible's copy action does: with `follow` (`local_follow`),
/// links to files are copied as files and links to directories are walked, except links back
/// into a directory already being walked; other links (all of them without `follow`, and
/// dangling ones) are recreated as links.
fn walk_local(
    dir: &Path,
    rel: &str,
    follow: bool,
    tree: &mut Tree,
    seen: &mut Vec<std::path::PathBuf>,
) -> Result<(), ModuleError> {
    let err = |p: &Path, e: std::io::Error| {
        ModuleError::Controller(format!("could not read src {}: {e}", p.display()))
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let lmd = std::fs::symlink_metadata(&path).map_err(|e| err(&path, e))?;
        let md = if lmd.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| err(&path, e))?;
            let followed = if follow {
                std::fs::metadata(&path).ok()
            } else {
                None
            };
            let real = std::fs::canonicalize(&path).ok();
            let circular = real.as_ref().is_some_and(|r| seen.contains(r));
            match followed {
                Some(m) if m.is_file() || (m.is_dir() && !circular) => m,
                _ => {
                    tree.links
                        .push((child, target.to_string_lossy().into_owned()));
                    continue;
                }
            }
        } else {
            lmd
        };
        if md.is_dir() {
            tree.dirs.push(child.clone());
            let real = std::fs::canonicalize(&path).ok();
            if let Some(r) = &real {
                seen.push(r.clone());
            }
            walk_local(&path, &child, follow, tree, seen)?;
            if real.is_some() {
                seen.pop();
            }
        } else if md.is_file() {
            let content = std::fs::read(&path).map_err(|e| err(&path, e))?;
            tree.files
                .push((child, content, md.permissions().mode() & 0o7777));
        }
        // Sockets and devices are not copied.
    }
    Ok(())
}

/// Reads a tree on the host (for `remote_src`): one `list_dir` per directory, one `read` per
/// file.
/// With `follow` (`local_follow`), links are copied as what they point to, as Python's
/// `copytree(symlinks=False)` does for Ansible; otherwise, and for dangling links and links
/// back into a directory being walked (`ancestors`: device and inode of each), as links.
async fn read_remote_tree(
    ctx: &Context<'_>,
    root: &str,
    rel: &str,
    follow: bool,
    tree: &mut Tree,
    ancestors: &mut Vec<(u64, u64)>,
) -> Result<(), ModuleError> {
    let dir = if rel.is_empty() {
        root.to_string()
    } else {
        join(root, rel)
    };
    let mut entries = ctx.host.list_dir(&dir).await?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for e in entries {
        let child = if rel.is_empty() {
            e.name.clone()
        } else {
            format!("{rel}/{}", e.name)
        };
        let mut st = e.stat;
        if st.kind == Some(FileKind::Symlink) {
            let target = if follow {
                let followed = ctx
                    .host
                    .stat(
                        &join(root, &child),
                        StatOptions {
                            follow: true,
                            checksum: false,
                        },
                    )
                    .await;
                match followed {
                    Ok(st) => st,
                    // A link that cannot be followed (a loop of links) is copied as a link,
                    // as a dangling one is.
                    Err(drover_host::HostError::Io { .. }) => FileStat::default(),
                    Err(e) => return Err(e.into()),
                }
            } else {
                FileStat::default()
            };
            let circular = target.kind == Some(FileKind::Directory)
                && ancestors.contains(&(target.dev, target.inode));
            if target.exists && !circular {
                st = target;
            } else {
                if let Some(t) = st.link_target.clone() {
                    tree.links.push((child, t));
                }
                continue;
            }
        }
        match st.kind {
            Some(FileKind::Directory) => {
                tree.dirs.push(child.clone());
                ancestors.push((st.dev, st.inode));
                Box::pin(read_remote_tree(ctx, root, &child, follow, tree, ancestors)).await?;
                ancestors.pop();
            }
            Some(FileKind::File) => {
                let content = ctx.host.read(&join(root, &child)).await?;
                tree.files.push((child, content, st.mode));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn copy_remote(
    ctx: &Context<'_>,
    mut p: Placement,
    src: &str,
) -> Result<Outcome, ModuleError> {
    let st = ctx
        .host
        .stat(
            src,
            StatOptions {
                follow: true,
                checksum: false,
            },
        )
        .await?;
    if !st.exists {
        return Ok(Outcome::failed(format!("Source {src} not found")).with("src", src));
    }
    if !matches!(st.kind, Some(FileKind::Directory | FileKind::File)) {
        // Devices, sockets and fifos are never read as content.
        return Ok(
            Outcome::failed(format!("Source {src} is not a file or a directory")).with("src", src),
        );
    }
    if st.kind == Some(FileKind::Directory) {
        let mut tree = Tree::default();
        let mut ancestors = vec![(st.dev, st.inode)];
        read_remote_tree(ctx, src, "", p.local_follow, &mut tree, &mut ancestors).await?;
        let root = if src.ends_with('/') {
            p.dest.clone()
        } else {
            join(&p.dest, basename(src))
        };
        return copy_tree(ctx, &p, &root, src, tree).await;
    }
    let content = ctx.host.read(src).await?;
    if p.attrs.mode.as_deref() == Some("preserve") {
        p.attrs.mode = Some(mode_str(st.mode));
    }
    p.after_header = src.to_string();
    place(ctx, &p, content, Some(src)).await
}

/// Copies a tree under `root`: one `stat_many` with checksums decides everything, so an
/// unchanged tree costs one round trip.
async fn copy_tree(
    ctx: &Context<'_>,
    p: &Placement,
    root: &str,
    src: &str,
    tree: Tree,
) -> Result<Outcome, ModuleError> {
    let dir_paths: Vec<String> = std::iter::once(root.trim_end_matches('/').to_string())
        .chain(tree.dirs.iter().map(|d| join(root, d)))
        .collect();
    let file_paths: Vec<String> = tree.files.iter().map(|(f, _, _)| join(root, f)).collect();
    let all: Vec<String> = dir_paths.iter().chain(&file_paths).cloned().collect();
    let stats = ctx.host.stat_many(&all, WITH_SUM).await?;
    let (dir_stats, file_stats) = stats.split_at(dir_paths.len().min(stats.len()));
    let mut out = Outcome::ok().with("dest", root).with("src", src);
    for (path, st) in dir_paths.iter().zip(dir_stats) {
        if st.exists && st.kind != Some(FileKind::Directory) {
            return Ok(
                Outcome::failed(format!("{path} exists and is not a directory")).with("dest", root),
            );
        }
        if !st.exists {
            out.changed = true;
            if !ctx.check {
                ctx.host
                    .file_op(
                        &FileOp::Directory {
                            path: path.clone(),
                            attrs: p.directory_attrs.clone(),
                            recurse: false,
                        },
                        false,
                    )
                    .await?;
            }
        }
    }
    for (((_, content, src_mode), path), st) in
        tree.files.into_iter().zip(&file_paths).zip(file_stats)
    {
        if st.kind == Some(FileKind::Directory) {
            return Ok(Outcome::failed(format!("{path} is a directory")).with("dest", root));
        }
        if st.exists && !p.force {
            continue;
        }
        let mut attrs = p.attrs.clone();
        if attrs.mode.as_deref() == Some("preserve") {
            attrs.mode = Some(mode_str(src_mode));
        }
        let checksum = sha1_hex(&content);
        if st.exists && st.checksum.as_deref() == Some(checksum.as_str()) {
            if attrs_differ(path, st, &attrs)? {
                let r = crate::util::apply_attrs(ctx, path, &attrs).await?;
                out.changed |= r.changed;
            }
            continue;
        }
        out.changed = true;
        if ctx.diff && (!st.exists || st.size as usize <= MAX_DIFF_SIZE) {
            let before = if st.exists {
                ctx.host.read(path).await?
            } else {
                Vec::new()
            };
            out.diff.extend(content_diff(path, path, &before, &content));
        }
        write_content(ctx, path, content, &attrs, p.backup, p.validate.as_deref()).await?;
    }
    for (rel, target) in tree.links {
        let r = ctx
            .host
            .file_op(
                &FileOp::Symlink {
                    path: join(root, &rel),
                    src: target,
                    force: p.force,
                    attrs: Attrs::default(),
                },
                ctx.check,
            )
            .await?;
        out.changed |= r.changed;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_tree_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", root.join("to_file")).unwrap();
        std::os::unix::fs::symlink("../", root.join("sub/circle")).unwrap();
        std::os::unix::fs::symlink("nowhere", root.join("dangling")).unwrap();

        let t = Tree::read_local(&root, false).unwrap();
        assert_eq!(t.dirs, vec!["sub"]);
        let names: Vec<&str> = t.files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, vec!["sub/a.txt"]);
        assert_eq!(
            t.links,
            vec![
                ("dangling".to_string(), "nowhere".to_string()),
                ("sub/circle".to_string(), "../".to_string()),
                ("to_file".to_string(), "sub/a.txt".to_string()),
            ]
        );

        // Following: a link to a file is a file; a link back up the tree and a dangling link
        // stay links.
        let t = Tree::read_local(&root, true).unwrap();
        let names: Vec<&str> = t.files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, vec!["sub/a.txt", "to_file"]);
        let links: Vec<&str> = t.links.iter().map(|l| l.0.as_str()).collect();
        assert_eq!(links, vec!["dangling", "sub/circle"]);
    }
}

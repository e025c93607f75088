//! `find`: files matching criteria under paths on the host. One `list_dir` per directory.

use std::time::{SystemTime, UNIX_EPOCH};

use drover_host::{FileKind, FileStat, StatOptions};
use drover_pyre::{self as pyre, Flags, PyReError, Regex};
use globset::{GlobBuilder, GlobMatcher};
use serde_json::{json, Map, Value as Json};

use crate::stat::stat_dict;
use crate::util::{join, to_value};
use crate::{ArgDef, ArgKind, Args, Context, Module, ModuleError, ModuleSpec, Outcome};

pub struct Find;

static SPEC: ModuleSpec = ModuleSpec {
    name: "find",
    args: &[
        ArgDef::new("paths", ArgKind::List)
            .required()
            .aliases(&["name", "path"]),
        ArgDef::new("patterns", ArgKind::List).aliases(&["pattern"]),
        ArgDef::new("excludes", ArgKind::List).aliases(&["exclude"]),
        ArgDef::new("contains", ArgKind::Str),
        ArgDef::new("read_whole_file", ArgKind::Bool),
        ArgDef::new("file_type", ArgKind::Str).choices(&["any", "directory", "file", "link"]),
        ArgDef::new("recurse", ArgKind::Bool),
        ArgDef::new("hidden", ArgKind::Bool),
        ArgDef::new("follow", ArgKind::Bool),
        ArgDef::new("get_checksum", ArgKind::Bool),
        ArgDef::new("use_regex", ArgKind::Bool),
        ArgDef::new("age", ArgKind::Str),
        ArgDef::new("age_stamp", ArgKind::Str).choices(&["atime", "ctime", "mtime"]),
        ArgDef::new("size", ArgKind::Str),
        ArgDef::new("depth", ArgKind::Int),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
    check_mode: true,
};

/// File-name patterns: shell globs or (with `use_regex`) Python regexes that must match the
/// whole name.
enum Patterns {
    Globs(Vec<GlobMatcher>),
    Regexes(Vec<Regex>),
}

impl Patterns {
    fn new(list: &[String], regex: bool) -> Result<Patterns, String> {
        // Ansible accepts comma-separated patterns inside one string, too.
        let items: Vec<&str> = list
            .iter()
            .flat_map(|p| {
                if regex {
                    vec![p.as_str()]
                } else {
                    p.split(',').collect()
                }
            })
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if regex {
            items
                .iter()
                .map(|p| {
                    pyre::compile(&format!(r"\A(?:{p})\Z"), Flags::NONE).map_err(|e| e.to_string())
                })
                .collect::<Result<_, _>>()
                .map(Patterns::Regexes)
        } else {
            items
                .iter()
                .map(|p| {
                    GlobBuilder::new(p)
                        .literal_separator(true)
                        .build()
                        .map(|g| g.compile_matcher())
                        .map_err(|e| format!("invalid pattern {p:?}: {e}"))
                })
                .collect::<Result<_, _>>()
                .map(Patterns::Globs)
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Patterns::Globs(g) => g.is_empty(),
            Patterns::Regexes(r) => r.is_empty(),
        }
    }

    fn matches(&self, name: &str) -> Result<bool, PyReError> {
        match self {
            Patterns::Globs(g) => Ok(g.iter().any(|m| m.is_match(name))),
            Patterns::Regexes(r) => {
                for re in r {
                    if re.is_match(name)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
        }
    }
}

/// `"1d"`, `"-2w"`, `"30"` (seconds) → signed seconds.
pub(crate) fn parse_age(s: &str) -> Option<f64> {
    parse_scaled(
        s,
        &[
            ('s', 1.0),
            ('m', 60.0),
            ('h', 3600.0),
            ('d', 86400.0),
            ('w', 604_800.0),
        ],
    )
}

/// `"10k"`, `"-1m"`, `"100"` (bytes) → signed bytes (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Option<f64> {
    let k = 1024.0;
    parse_scaled(
        s,
        &[
            ('b', 1.0),
            ('k', k),
            ('m', k * k),
            ('g', k * k * k),
            ('t', k * k * k * k),
        ],
    )
}

fn parse_scaled(s: &str, units: &[(char, f64)]) -> Option<f64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s.as_str(), ""),
    };
    let n: f64 = num.parse().ok()?;
    let factor = match unit.chars().next() {
        None => 1.0,
        Some(u) => units.iter().find(|(c, _)| *c == u)?.1,
    };
    Some(n * factor)
}

/// A signed threshold: positive means "at least", negative "at most".
fn passes(value: f64, threshold: Option<f64>) -> bool {
    match threshold {
        None => true,
        Some(t) if t >= 0.0 => value >= t,
        Some(t) => value <= -t,
    }
}

struct Criteria {
    patterns: Patterns,
    excludes: Patterns,
    file_type: String,
    hidden: bool,
    age: Option<f64>,
    age_stamp: String,
    size: Option<f64>,
    now: f64,
}

impl Criteria {
    fn wants(&self, name: &str, st: &FileStat) -> Result<bool, PyReError> {
        let kind = st.kind;
        let type_ok = match self.file_type.as_str() {
            "any" => true,
            "directory" => kind == Some(FileKind::Directory),
            "link" => kind == Some(FileKind::Symlink),
            _ => kind == Some(FileKind::File),
        };
        if !type_ok || (!self.hidden && name.starts_with('.')) {
            return Ok(false);
        }
        if !(self.patterns.is_empty() || self.patterns.matches(name)?) {
            return Ok(false);
        }
        if !self.excludes.is_empty() && self.excludes.matches(name)? {
            return Ok(false);
        }
        let stamp = match self.age_stamp.as_str() {
            "atime" => st.atime,
            "ctime" => st.ctime,
            _ => st.mtime,
        };
        if !passes(self.now - stamp, self.age) {
            return Ok(false);
        }
        Ok(kind != Some(FileKind::File) || passes(st.size as f64, self.size))
    }
}

#[async_trait::async_trait]
impl Module for Find {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    async fn run(&self, args: &Args, ctx: &Context<'_>) -> Result<Outcome, ModuleError> {
        let bad = |m: String| ModuleError::Controller(m);
        let use_regex = args.bool("use_regex", false);
        let age = match args.str("age") {
            Some(a) => {
                Some(parse_age(a).ok_or_else(|| bad(format!("failed to process age {a:?}")))?)
            }
            None => None,
        };
        let size = match args.str("size") {
            Some(s) => {
                Some(parse_size(s).ok_or_else(|| bad(format!("failed to process size {s:?}")))?)
            }
            None => None,
        };
        let criteria = Criteria {
            patterns: Patterns::new(&args.list("patterns"), use_regex).map_err(bad)?,
            excludes: Patterns::new(&args.list("excludes"), use_regex).map_err(bad)?,
            file_type: args.string("file_type").unwrap_or_else(|| "file".into()),
            hidden: args.bool("hidden", false),
            age,
            age_stamp: args.string("age_stamp").unwrap_or_else(|| "mtime".into()),
            size,
            now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        };
        let contains = match args.str("contains") {
            Some(c) => {
                let whole = args.bool("read_whole_file", false);
                let p = if whole {
                    c.to_string()
                } else {
                    format!(r"\A(?:{c})")
                };
                Some((
                    pyre::compile(&p, Flags::NONE).map_err(|e| bad(e.to_string()))?,
                    whole,
                ))
            }
            None => None,
        };
        let max_depth = if args.bool("recurse", false) {
            args.int("depth")
                .filter(|d| *d > 0)
                .map_or(usize::MAX, |d| d as usize)
        } else {
            1
        };
        let follow = args.bool("follow", false);

        let mut found: Vec<(String, FileStat)> = Vec::new();
        let mut examined = 0usize;
        let mut skipped = Map::new();
        let mut warnings = Vec::new();
        for root in args.list("paths") {
            // Depth-first, sorted, one listing per directory.
            let mut stack = vec![(root.clone(), 1usize)];
            while let Some((dir, depth)) = stack.pop() {
                let mut entries = match ctx.host.list_dir(&dir).await {
                    Ok(e) => e,
                    Err(e @ drover_host::HostError::Io { .. }) => {
                        let why = e.to_string();
                        warnings.push(format!(
                            "Skipped '{dir}' path due to this access issue: {why}"
                        ));
                        skipped.insert(dir.clone(), json!(why));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                entries.sort_by(|a, b| b.name.cmp(&a.name));
                let mut subdirs = Vec::new();
                for e in entries.into_iter().rev() {
                    examined += 1;
                    let path = join(&dir, &e.name);
                    let mut st = e.stat;
                    if follow && st.kind == Some(FileKind::Symlink) {
                        st = ctx
                            .host
                            .stat(
                                &path,
                                StatOptions {
                                    follow: true,
                                    checksum: false,
                                },
                            )
                            .await?;
                    }
                    if st.kind == Some(FileKind::Directory) && depth < max_depth {
                        subdirs.push((path.clone(), depth + 1));
                    }
                    if criteria
                        .wants(&e.name, &st)
                        .map_err(|e| bad(e.to_string()))?
                    {
                        found.push((path, st));
                    }
                }
                stack.extend(subdirs.into_iter().rev());
            }
        }

        if let Some((re, whole)) = &contains {
            let mut kept = Vec::new();
            for (path, st) in found {
                if st.kind != Some(FileKind::File) {
                    continue;
                }
                let data = match ctx.host.read(&path).await {
                    Ok(d) => d,
                    Err(e) if !matches!(e, drover_host::HostError::Unreachable(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                let text = String::from_utf8_lossy(&data);
                let hit = if *whole {
                    re.is_match(&text)
                } else {
                    text.lines()
                        .map(|l| re.is_match(l))
                        .find(|m| !matches!(m, Ok(false)))
                        .unwrap_or(Ok(false))
                }
                .map_err(|e| bad(e.to_string()))?;
                if hit {
                    kept.push((path, st));
                }
            }
            found = kept;
        }

        if args.bool("get_checksum", false) {
            let files: Vec<String> = found
                .iter()
                .filter(|(_, st)| st.kind == Some(FileKind::File))
                .map(|(p, _)| p.clone())
                .collect();
            if !files.is_empty() {
                let sums = ctx
                    .host
                    .stat_many(
                        &files,
                        StatOptions {
                            follow: true,
                            checksum: true,
                        },
                    )
                    .await?;
                let mut it = files.iter().zip(sums);
                for (path, st) in &mut found {
                    if st.kind == Some(FileKind::File) {
                        if let Some((p, s)) = it.next() {
                            if p == path {
                                st.checksum = s.checksum;
                            }
                        }
                    }
                }
            }
        }

        let files: Vec<Json> = found
            .iter()
            .map(|(p, st)| Json::Object(stat_dict(p, st)))
            .collect();
        let mut out = Outcome::ok()
            .with("files", to_value(&Json::Array(files)))
            .with("matched", found.len())
            .with("examined", examined)
            .with("skipped_paths", to_value(&Json::Object(skipped)));
        out.msg = Some(if warnings.is_empty() {
            "All paths examined".into()
        } else {
            "Not all paths examined, check warnings for details".into()
        });
        out.warnings = warnings;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes() {
        assert_eq!(parse_age("30"), Some(30.0));
        assert_eq!(parse_age("2d"), Some(172_800.0));
        assert_eq!(parse_age("-1w"), Some(-604_800.0));
        assert_eq!(parse_age("5minutes"), Some(300.0));
        assert_eq!(parse_age("x"), None);
        assert_eq!(parse_age("3y"), None);
        assert_eq!(parse_size("10k"), Some(10_240.0));
        assert_eq!(parse_size("-1m"), Some(-1_048_576.0));
        assert_eq!(parse_size("7"), Some(7.0));
        assert!(passes(10.0, Some(5.0)));
        assert!(!passes(10.0, Some(-5.0)));
        assert!(passes(3.0, Some(-5.0)));
        assert!(passes(3.0, None));
    }

    #[test]
    fn patterns() {
        let g = Patterns::new(&["*.log,*.txt".into()], false).unwrap();
        let m = |p: &Patterns, name: &str| p.matches(name).unwrap();
        assert!(m(&g, "a.log") && m(&g, "b.txt") && !m(&g, "c.conf"));
        let r = Patterns::new(&[r".*\.default".into()], true).unwrap();
        assert!(m(&r, "x.default"));
        assert!(!m(&r, "x.default.bak"), "regexes match whole names");
        let look = Patterns::new(&[r"(?!x).*\.conf".into()], true).unwrap();
        assert!(
            m(&look, "a.conf") && !m(&look, "x.conf"),
            "lookahead, as Python"
        );
        assert!(Patterns::new(&["(unclosed".into()], true).is_err());
    }
}

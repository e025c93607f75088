//! Runs modules against the real local transport inside a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use drover_host::Host;
use drover_modules::{Context, Controller, ModuleError, Outcome, Registry};
use drover_transport::{ConnectionSpec, Transport, TransportConfig};
use indexmap::IndexMap;
use minijinja::Value;

/// A controller whose `files/` and `templates/` live in the test's directory; templates see
/// the variables given to [`Env::set_var`].
pub struct TestController {
    root: PathBuf,
    vars: std::sync::Mutex<serde_json::Map<String, serde_json::Value>>,
}

impl Controller for TestController {
    fn find_file(&self, kind: &str, src: &str) -> Result<PathBuf, ModuleError> {
        let p = Path::new(src);
        let path = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(kind).join(src)
        };
        if path.exists() {
            Ok(path)
        } else {
            Err(ModuleError::Controller(format!(
                "Could not find or access '{src}'"
            )))
        }
    }

    fn render_template(&self, path: &Path, _dest: &str) -> Result<String, ModuleError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModuleError::Controller(format!("{}: {e}", path.display())))?;
        let mut env = minijinja::Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .unwrap(),
        );
        let vars = self.vars.lock().unwrap().clone();
        env.render_str(&text, minijinja::Value::from(minijinja::value::Serde(vars)))
            .map_err(|e| ModuleError::Controller(e.to_string()))
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub host: Arc<dyn Host>,
    pub controller: TestController,
    /// The task's `environment:` for every run.
    pub task_env: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    registry: Registry,
    _transport: Transport,
}

impl Env {
    pub async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let transport = Transport::new(TransportConfig::new(None)).unwrap();
        let conn = transport.connection("localhost", ConnectionSpec::Local);
        let host = conn.host(None).await.unwrap();
        let controller = TestController {
            root: dir.path().join("controller"),
            vars: Default::default(),
        };
        std::fs::create_dir_all(dir.path().join("controller/files")).unwrap();
        std::fs::create_dir_all(dir.path().join("controller/templates")).unwrap();
        std::fs::create_dir_all(dir.path().join("host")).unwrap();
        Env {
            dir,
            host,
            controller,
            task_env: Default::default(),
            registry: Registry::builtin(),
            _transport: transport,
        }
    }

    /// A path on the "host" side of the test directory.
    pub fn path(&self, rel: &str) -> String {
        self.dir
            .path()
            .join("host")
            .join(rel)
            .to_string_lossy()
            .into_owned()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir.path().join("host").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn mode(&self, rel: &str) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(self.path(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.path(rel)).is_ok()
    }

    /// A file in the controller's `files/` or `templates/`.
    pub fn controller_file(&self, rel: &str, content: &str) {
        let p = self.dir.path().join("controller").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn set_var(&self, name: &str, value: serde_json::Value) {
        self.controller
            .vars
            .lock()
            .unwrap()
            .insert(name.to_string(), value);
    }

    pub async fn run_mode(
        &self,
        module: &str,
        args: serde_json::Value,
        check: bool,
        diff: bool,
    ) -> Result<Outcome, ModuleError> {
        let m = self.registry.get(module).expect("module exists");
        let raw: IndexMap<String, Value> = match args {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| (k, Value::from(minijinja::value::Serde(v))))
                .collect(),
            serde_json::Value::String(free) => {
                drover_modules::args::parse_kv(&free, m.spec().free_form)
                    .unwrap()
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect()
            }
            other => panic!("bad args {other}"),
        };
        let args = m.spec().validate(&raw)?;
        let ctx = Context {
            host: self.host.as_ref(),
            controller: &self.controller,
            check,
            diff,
            env: self.task_env.lock().unwrap().clone(),
        };
        m.run(&args, &ctx).await
    }

    /// Runs normally (no check, with diff).
    pub async fn run(&self, module: &str, args: serde_json::Value) -> Outcome {
        self.run_mode(module, args, false, true)
            .await
            .unwrap_or_else(|e| panic!("{module} failed: {e}"))
    }

    pub async fn check(&self, module: &str, args: serde_json::Value) -> Outcome {
        self.run_mode(module, args, true, true)
            .await
            .unwrap_or_else(|e| panic!("{module} failed: {e}"))
    }
}

pub fn s(out: &Outcome, key: &str) -> String {
    match out.data.get(key) {
        Some(v) => v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        None => panic!("no {key} in {:?}", out.data),
    }
}

pub fn i(out: &Outcome, key: &str) -> i64 {
    out.data
        .get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("no int {key} in {:?}", out.data))
}

/// Counts the primitives a module uses, to pin down round trips.
pub struct Counting {
    pub inner: Arc<dyn Host>,
    pub calls: std::sync::Mutex<Vec<&'static str>>,
}

impl Counting {
    fn note(&self, what: &'static str) {
        self.calls.lock().unwrap().push(what);
    }
}

#[async_trait::async_trait]
impl Host for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn stat(
        &self,
        path: &str,
        opts: drover_host::StatOptions,
    ) -> drover_host::HostResult<drover_host::FileStat> {
        self.note("stat");
        self.inner.stat(path, opts).await
    }
    async fn stat_many(
        &self,
        paths: &[String],
        opts: drover_host::StatOptions,
    ) -> drover_host::HostResult<Vec<drover_host::FileStat>> {
        self.note("stat_many");
        self.inner.stat_many(paths, opts).await
    }
    async fn stat_mime(
        &self,
        path: &str,
        opts: drover_host::StatOptions,
    ) -> drover_host::HostResult<(drover_host::FileStat, Option<drover_host::MimeInfo>)> {
        self.note("stat_mime");
        self.inner.stat_mime(path, opts).await
    }
    async fn read(&self, path: &str) -> drover_host::HostResult<Vec<u8>> {
        self.note("read");
        self.inner.read(path).await
    }
    async fn write(
        &self,
        req: &drover_host::WriteRequest,
    ) -> drover_host::HostResult<drover_host::WriteOutcome> {
        self.note("write");
        self.inner.write(req).await
    }
    async fn exec(
        &self,
        req: &drover_host::ExecRequest,
    ) -> drover_host::HostResult<drover_host::ExecOutput> {
        self.note("exec");
        self.inner.exec(req).await
    }
    async fn raw(&self, command: &str) -> drover_host::HostResult<drover_host::ExecOutput> {
        self.note("raw");
        self.inner.raw(command).await
    }
    async fn file_op(
        &self,
        op: &drover_host::FileOp,
        check: bool,
    ) -> drover_host::HostResult<drover_host::FileOpOutcome> {
        self.note("file_op");
        self.inner.file_op(op, check).await
    }
    async fn list_dir(&self, path: &str) -> drover_host::HostResult<Vec<drover_host::DirEntry>> {
        self.note("list_dir");
        self.inner.list_dir(path).await
    }
    async fn facts(&self) -> drover_host::HostResult<drover_host::Facts> {
        self.note("facts");
        self.inner.facts().await
    }
}

impl Env {
    /// Runs a module (no check, no diff) and returns the primitives it called.
    pub async fn primitives(&mut self, module: &str, args: serde_json::Value) -> Vec<&'static str> {
        let counting = Arc::new(Counting {
            inner: self.host.clone(),
            calls: Default::default(),
        });
        let saved = std::mem::replace(&mut self.host, counting.clone());
        let out = self.run_mode(module, args, false, false).await;
        self.host = saved;
        let out = out.unwrap_or_else(|e| panic!("{module} failed: {e}"));
        assert!(!out.failed, "{module} failed: {:?}", out.msg);
        let calls = counting.calls.lock().unwrap().clone();
        calls
    }
}

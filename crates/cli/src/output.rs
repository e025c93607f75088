//! Turning engine events into what people and machines read: Ansible's default callback
//! layout on a terminal, or one JSON object per line with `--output json`.
//!
//! This is the one place that writes run output; data goes to stdout, progress to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::sync::Mutex;

use drover_engine::{Event, EventSink, HostStats, Status};
use serde_json::Value as Json;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Ansible's default callback.
    Human,
    /// One JSON event per line.
    Json,
}

pub struct Printer {
    format: Format,
    verbosity: u8,
    out: Mutex<Box<dyn Write + Send>>,
    progress: Option<indicatif::ProgressBar>,
    state: Mutex<PrinterState>,
    /// `drover exec`: Ansible's ad-hoc layout (`host | CHANGED | rc=0 >>`), no banners.
    ad_hoc: bool,
    /// `-o`/`--one-line`: one line per host, as Ansible's oneline callback prints it.
    one_line: bool,
    /// `ANSIBLE_DEBUG`: every diagnostic message is shown, whatever its verbosity.
    debug: bool,
    /// `show_custom_stats`: print `set_stats` data after the recap.
    custom_stats: bool,
    callback: CallbackOptions,
}

/// The default callback's display settings (`display_skipped_hosts`, `display_ok_hosts`,
/// `display_failed_stderr`, `check_mode_markers`), and whether the run is in check mode.
#[derive(Debug, Clone, Copy)]
pub struct CallbackOptions {
    pub display_skipped_hosts: bool,
    pub display_ok_hosts: bool,
    pub display_failed_stderr: bool,
    pub check_mode_markers: bool,
    /// `show_task_path_on_failure`: `task path: file:line` before a failure (below -vv,
    /// where every banner shows it anyway).
    pub show_task_path_on_failure: bool,
    /// `callback_result_format = yaml`: results dumped as YAML blocks instead of JSON.
    pub yaml_results: bool,
    /// `callback_format_pretty` (`None`: the format's default, pretty for YAML).
    pub pretty_results: Option<bool>,
    pub check: bool,
}

impl Default for CallbackOptions {
    fn default() -> CallbackOptions {
        CallbackOptions {
            display_skipped_hosts: true,
            display_ok_hosts: true,
            display_failed_stderr: false,
            check_mode_markers: false,
            show_task_path_on_failure: false,
            yaml_results: false,
            pretty_results: None,
            check: false,
        }
    }
}

impl CallbackOptions {
    /// ` [CHECK MODE]` after banners, when asked for and the run is a check.
    fn check_marker(&self) -> &'static str {
        if self.check && self.check_mode_markers {
            " [CHECK MODE]"
        } else {
            ""
        }
    }
}

#[derive(Default)]
struct PrinterState {
    /// The banner of the current task, printed lazily before its first result (as Ansible
    /// does when `display_skipped_hosts` is on, it is printed right away).
    hosts_in_play: u64,
    /// `file:line:col` of the current task, for error origins.
    task_location: Option<String>,
    /// The current task's module, which names the kind of failure.
    task_module: Option<String>,
    /// Hosts whose failure of the current task was already explained by an error header.
    explained: Vec<String>,
    /// The current task's banner while no result of it was shown: with skipped or ok results
    /// hidden, Ansible prints a task's banner only before its first shown result.
    pending_banner: Option<String>,
}

impl Printer {
    pub fn new(format: Format, verbosity: u8, progress: bool) -> Printer {
        let progress = (progress && format == Format::Human).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos}/{len} host results  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        });
        Printer {
            format,
            verbosity,
            out: Mutex::new(Box::new(std::io::stdout())),
            progress,
            state: Mutex::new(PrinterState::default()),
            ad_hoc: false,
            one_line: false,
            debug: false,
            custom_stats: false,
            callback: CallbackOptions::default(),
        }
    }

    pub fn callback(mut self, options: CallbackOptions) -> Printer {
        self.callback = options;
        self
    }

    /// Writes the pending task banner, if any.
    fn flush_banner(&self) {
        let pending = self
            .state
            .lock()
            .ok()
            .and_then(|mut st| st.pending_banner.take());
        if let Some(b) = pending {
            self.write(&b);
        }
    }

    /// Writes to stderr, holding the stdout lock so the text never lands inside a line.
    fn write_err(&self, text: &str) {
        let write = || {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        };
        if let Ok(_out) = self.out.lock() {
            match &self.progress {
                Some(bar) => bar.suspend(write),
                None => write(),
            }
        }
    }

    pub fn show_custom_stats(mut self, show: bool) -> Printer {
        self.custom_stats = show;
        self
    }

    pub fn ad_hoc(mut self) -> Printer {
        self.ad_hoc = true;
        self
    }

    pub fn one_line(mut self, on: bool) -> Printer {
        self.one_line = on;
        self
    }

    /// Shows every diagnostic message (`ANSIBLE_DEBUG`).
    pub fn debug(mut self, on: bool) -> Printer {
        self.debug = on;
        self
    }

    fn ad_hoc_event(&self, event: &Event) {
        match event {
            Event::HostResult {
                host,
                status,
                result,
                ..
            } => {
                // As Ansible's callbacks: the module's invocation only from -vvv on.
                let mut shown = result.clone();
                if self.verbosity < 3 {
                    if let Json::Object(m) = &mut shown {
                        m.remove("invocation");
                    }
                }
                let result = &shown;
                if self.one_line {
                    self.write(&Self::one_line_text(host, *status, result));
                    return;
                }
                let word = match status {
                    Status::Ok => "SUCCESS",
                    Status::Changed => "CHANGED",
                    Status::Failed => "FAILED",
                    Status::Skipped => "SKIPPED",
                    Status::Unreachable => "UNREACHABLE!",
                };
                let text = match (result.get("rc"), *status) {
                    (Some(rc), Status::Ok | Status::Changed | Status::Failed)
                        if result.get("stdout").is_some() =>
                    {
                        let mut t = format!("{host} | {word} | rc={rc} >>\n");
                        let out = result
                            .get("stdout")
                            .and_then(Json::as_str)
                            .unwrap_or_default();
                        let err = result
                            .get("stderr")
                            .and_then(Json::as_str)
                            .unwrap_or_default();
                        t.push_str(out);
                        if !err.is_empty() {
                            if !out.is_empty() {
                                t.push('\n');
                            }
                            t.push_str(err);
                        }
                        if *status == Status::Failed {
                            if let Some(msg) = result.get("msg").and_then(Json::as_str) {
                                t.push_str(&format!(
                                    "{}{msg}",
                                    if out.is_empty() && err.is_empty() {
                                        ""
                                    } else {
                                        "\n"
                                    }
                                ));
                            }
                        }
                        t.push('\n');
                        t
                    }
                    _ => {
                        let sep = if matches!(status, Status::Failed) {
                            "! =>"
                        } else {
                            " =>"
                        };
                        format!("{host} | {word}{sep} {}\n", dump(result, true))
                    }
                };
                self.write(&text);
            }
            Event::Warning { message } => self.warn(message),
            _ => {}
        }
    }

    /// Ansible's oneline callback: command modules as `rc=N | (stdout) ...`, other results as
    /// compact JSON.
    fn one_line_text(host: &str, status: Status, result: &Json) -> String {
        // Indented by 0, newlines dropped; results that always show expanded (debug) keep the
        // 4-space indentation Ansible forces on them.
        let verbose_always = result.get("_ansible_verbose_always") == Some(&Json::Bool(true));
        let compact = || {
            // The oneline callback shows results uncleaned: every one says whether it changed.
            let mut full = clean(result);
            if let Json::Object(m) = &mut full {
                m.entry("changed").or_insert(Json::Bool(false));
            }
            let mut out = String::new();
            write_json(&mut out, &full, Some(if verbose_always { 4 } else { 0 }), 0);
            out.replace('\n', "")
        };
        let escaped = |key: &str| {
            result
                .get(key)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .replace('\n', "\\n")
                .replace('\r', "\\r")
        };
        let state = if status == Status::Changed {
            "CHANGED"
        } else {
            "SUCCESS"
        };
        match status {
            Status::Unreachable => format!(
                "{host} | UNREACHABLE!: {}\n",
                result.get("msg").and_then(Json::as_str).unwrap_or_default()
            ),
            Status::Skipped => format!("{host} | SKIPPED\n"),
            Status::Failed => {
                // A failed command also gets its generic line first, as Ansible prints it.
                let generic = match (result.get("rc"), result.get("stdout")) {
                    (Some(rc), Some(_)) => format!(
                        "{host} | FAILED | rc={rc} | (stdout) {}\n",
                        escaped("stdout")
                    ),
                    _ => String::new(),
                };
                format!("{generic}{host} | FAILED! => {}\n", compact())
            }
            _ if result.get("rc").is_some()
                && result.get("stdout").is_some()
                && result.get("ansible_job_id").is_none() =>
            {
                let rc = result
                    .get("rc")
                    .map(Json::to_string)
                    .unwrap_or_else(|| "-1".into());
                let err = escaped("stderr");
                if err.is_empty() {
                    format!(
                        "{host} | {state} | rc={rc} | (stdout) {}\n",
                        escaped("stdout")
                    )
                } else {
                    format!(
                        "{host} | {state} | rc={rc} | (stdout) {} (stderr) {err}\n",
                        escaped("stdout")
                    )
                }
            }
            _ => format!("{host} | {state} => {}\n", compact()),
        }
    }

    /// A warning goes to stderr, as Ansible's display prints warnings.
    fn warn(&self, message: &str) {
        self.write_err(&format!("[WARNING]: {message}\n"));
    }

    fn write(&self, text: &str) {
        let write = |out: &mut Box<dyn Write + Send>| {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        };
        if let Ok(mut out) = self.out.lock() {
            match &self.progress {
                Some(bar) => bar.suspend(|| write(&mut out)),
                None => write(&mut out),
            }
        }
    }

    fn human(&self, event: &Event) {
        match event {
            Event::RunStarted {
                playbook, plays, ..
            } => {
                // ansible-playbook -vv names the playbook and counts its plays.
                if self.verbosity >= 2 {
                    let base = std::path::Path::new(playbook)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_else(|| playbook.clone());
                    let mut text = banner(&format!("PLAYBOOK: {base}"));
                    text.push_str(&format!("{plays} plays in {playbook}\n"));
                    self.write(&text);
                }
                if !self.callback.check_marker().is_empty() {
                    self.write(&banner("DRY RUN"));
                }
            }
            Event::Verbose { message, verbosity } => {
                if self.debug || self.verbosity >= *verbosity {
                    self.write(&format!("{message}\n"));
                }
            }
            Event::PlayStarted { name, hosts } => {
                if let Ok(mut st) = self.state.lock() {
                    st.hosts_in_play = hosts.len() as u64;
                }
                if let Some(bar) = &self.progress {
                    bar.set_length(0);
                    bar.set_position(0);
                }
                let marker = self.callback.check_marker();
                self.write(&banner(&format!("PLAY [{name}]{marker}")));
            }
            Event::TaskStarted {
                name,
                handler,
                location,
                module,
            } => {
                let kind = if *handler { "RUNNING HANDLER" } else { "TASK" };
                let marker = self.callback.check_marker();
                let mut text = banner(&format!("{kind} [{name}]{marker}"));
                let origin = Origin::parse(location);
                if self.verbosity >= 2 {
                    if let Some(o) = &origin {
                        text.push_str(&format!("task path: {}:{}\n", o.path, o.line));
                    }
                }
                let hiding = !(self.callback.display_skipped_hosts && self.callback.display_ok_hosts);
                if !hiding {
                    self.write(&text);
                }
                if let Ok(mut st) = self.state.lock() {
                    st.task_location = Some(location.clone());
                    st.task_module = module.clone();
                    st.explained.clear();
                    st.pending_banner = hiding.then_some(text);
                }
                if let Some(bar) = &self.progress {
                    let hosts = self.state.lock().map(|s| s.hosts_in_play).unwrap_or(0);
                    bar.set_length(hosts);
                    bar.set_position(0);
                    bar.set_message(name.clone());
                }
            }
            Event::HostResult {
                host,
                status,
                item,
                delegated_to,
                ignored,
                result,
                diff,
                verbosity,
                ..
            } => {
                if *verbosity > self.verbosity {
                    // `debug` with a verbosity above ours: Ansible prints a skip marker.
                    if self.callback.display_skipped_hosts {
                        self.flush_banner();
                        self.write(&format!("skipping: [{host}]\n"));
                    }
                    return;
                }
                let shown = match status {
                    Status::Failed | Status::Unreachable | Status::Changed => true,
                    Status::Skipped => self.callback.display_skipped_hosts,
                    // Includes are announced whatever display_ok_hosts says.
                    Status::Ok => {
                        self.callback.display_ok_hosts
                            || result.get("_ansible_included_path").is_some()
                            || result.get("include").is_some()
                    }
                };
                if !shown {
                    if item.is_none() {
                        if let Some(bar) = &self.progress {
                            bar.inc(1);
                        }
                    }
                    return;
                }
                self.flush_banner();
                if item.is_none() {
                    if let Some(bar) = &self.progress {
                        bar.inc(1);
                    }
                }
                let mut text = String::new();
                // A module's warnings print on their own lines first and leave its result,
                // as Ansible's callback handles them.
                if let Some(Json::Array(warnings)) = result.get("warnings") {
                    for w in warnings {
                        let w = w.as_str().map_or_else(|| w.to_string(), str::to_string);
                        text.push_str(&format!("[WARNING]: {w}\n"));
                    }
                }
                let to_stderr = self.callback.display_failed_stderr
                    && matches!(status, Status::Failed | Status::Unreachable);
                // The explanation goes where the failure goes.
                let mut explained = String::new();
                if *status == Status::Failed {
                    explained = self.error_header(host, result);
                }
                if !to_stderr {
                    text.push_str(&explained);
                    explained.clear();
                }
                // Modules give diffs only when the task's diff mode is on (`--diff`, or its
                // own `diff:` keyword); as Ansible, only a changed result shows its diff.
                if *status == Status::Changed {
                    for d in diff {
                        text.push_str(&render_diff(d));
                    }
                }
                let line = self.result_line(host, *status, item.as_deref(), delegated_to.as_deref(), result);
                if *status == Status::Failed
                    && item.is_none()
                    && self.callback.show_task_path_on_failure
                    && self.verbosity < 2
                {
                    let location = self.state.lock().ok().and_then(|st| st.task_location.clone());
                    if let Some(o) = location.as_deref().and_then(Origin::parse) {
                        text.push_str(&format!("task path: {}:{}\n", o.path, o.line));
                    }
                }
                if to_stderr {
                    self.write(&text);
                    self.write_err(&format!("{explained}{line}"));
                    text.clear();
                } else {
                    text.push_str(&line);
                }
                if *ignored {
                    text.push_str("...ignoring\n");
                }
                self.write(&text);
            }
            Event::Warning { message } => self.warn(message),
            Event::NoHostsRemaining => self.write("\nNO MORE HOSTS LEFT *************************************************************\n"),
            Event::Recap { hosts } => {
                if let Some(bar) = &self.progress {
                    bar.finish_and_clear();
                }
                let mut text = banner("PLAY RECAP");
                // Ansible's callback lists the hosts sorted by name.
                let mut sorted: Vec<_> = hosts.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                for (h, s) in sorted {
                    text.push_str(&recap_line(h, s));
                }
                text.push('\n');
                if !self.callback.check_marker().is_empty() {
                    text.push_str(&banner("DRY RUN"));
                }
                self.write(&text);
            }
            Event::CustomStats { hosts, run } => {
                if self.custom_stats {
                    self.write(&custom_stats_text(hosts, run.as_ref()));
                }
            }
            Event::RunFinished { interrupted, .. } => {
                if *interrupted {
                    self.write("[ERROR]: User interrupted execution\n");
                }
            }
        }
    }

    /// Ansible 2.19 explains a host's first failure of a task with an error line, the task's
    /// origin and a snippet of its source, before the result itself.
    fn error_header(&self, host: &str, result: &Json) -> String {
        if result.get("results").is_some() {
            // A loop's summary: its failed items were explained already.
            return String::new();
        }
        let Ok(mut st) = self.state.lock() else {
            return String::new();
        };
        if st.explained.iter().any(|h| h == host) {
            return String::new();
        }
        st.explained.push(host.to_string());
        let kind = match st.task_module.as_deref() {
            Some(m) if CONTROLLER_ACTIONS.contains(&m) => "Action failed",
            None => "Action failed",
            Some(_) => "Module failed",
        };
        // An include that could not be loaded has a `reason` instead: Ansible's strategy
        // reports it on stderr, with the include's origin.
        let reason = match (result.get("msg"), result.get("reason")) {
            (None, Some(Json::String(r))) => Some(r.clone()),
            _ => None,
        };
        let mut text = match (&reason, result.get("msg")) {
            (Some(r), _) => format!("[ERROR]: {r}\n"),
            (None, Some(Json::String(m))) => format!("[ERROR]: Task failed: {kind}: {m}\n"),
            (None, Some(other)) => format!("[ERROR]: Task failed: {kind}: {other}\n"),
            (None, None) => format!("[ERROR]: Task failed: {kind}\n"),
        };
        let origin = match result.get("_ansible_error_origin") {
            Some(Json::String(o)) => Some(o.as_str()),
            _ => st.task_location.as_deref(),
        };
        if let Some(o) = origin.and_then(Origin::parse) {
            text.push_str(&format!("Origin: {}:{}:{}\n\n", o.path, o.line, o.column));
            if let Some(snippet) = o.snippet() {
                text.push_str(&snippet);
                text.push('\n');
            }
        }
        if reason.is_some() {
            self.write_err(&text);
            return String::new();
        }
        text
    }

    /// A result after ` => `: JSON (indented when `pretty`), or with `callback_result_format =
    /// yaml` a YAML block on the next lines, as Ansible's callbacks dump it.
    fn dump_result(&self, result: &Json, pretty: bool) -> String {
        if !self.callback.yaml_results {
            let pretty = match self.callback.pretty_results {
                Some(p) => p,
                None => pretty,
            };
            return dump(result, pretty);
        }
        let lossy = self.callback.pretty_results != Some(false);
        let mut cleaned = clean(result);
        if lossy {
            if let Json::Object(m) = &mut cleaned {
                for (text, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
                    if m.contains_key(text) && m.contains_key(lines) {
                        m.insert(lines.to_string(), Json::from("<omitted>"));
                    }
                }
            }
            cleaned = munge_for_block(cleaned);
        }
        let indent = if self.callback.pretty_results == Some(false) {
            2
        } else {
            4
        };
        let style = drover_template::YamlStyle {
            indent,
            flow: Some(false),
            literal_multiline: true,
            ..drover_template::YamlStyle::default()
        };
        let yaml = drover_template::to_yaml_string(&drover_template::from_serde(&cleaned), &style);
        let mut out = String::from("\n");
        for line in yaml.split_inclusive('\n') {
            if !line.trim().is_empty() {
                out.push_str("    ");
            }
            out.push_str(line);
        }
        out.trim_end_matches('\n').to_string()
    }

    fn result_line(
        &self,
        host: &str,
        status: Status,
        item: Option<&str>,
        delegated_to: Option<&str>,
        result: &Json,
    ) -> String {
        let target = match delegated_to {
            Some(d) if d != host => format!("[{host} -> {d}]"),
            _ => format!("[{host}]"),
        };
        let item_part = item.map(|i| format!(" => (item={i})")).unwrap_or_default();
        let is_loop_summary = item.is_none() && result.get("results").is_some();
        let module = self.state.lock().ok().and_then(|st| st.task_module.clone());
        let result = &for_display(&screen_result(result, self.verbosity), module.as_deref());
        let verbose_always = result.get("_ansible_verbose_always") == Some(&Json::Bool(true));
        let included = result
            .get("_ansible_included_path")
            .or_else(|| result.get("include"))
            .and_then(Json::as_str);
        if let (Some(file), Status::Ok) = (included, status) {
            // Ansible announces included files instead of an `ok` line.
            return match item {
                Some(i) => format!("included: {file} for {host} => (item={i})\n"),
                None => format!("included: {file} for {host}\n"),
            };
        }
        // Ansible's callback indents every dumped result from -vvv on.
        let pretty = self.verbosity >= 3;
        match status {
            Status::Failed => {
                let label = if item.is_some() {
                    format!("failed: {target} (item={}) => ", item.unwrap_or_default())
                } else {
                    format!("fatal: {target}: FAILED! => ")
                };
                format!(
                    "{label}{}\n",
                    self.dump_result(result, pretty || verbose_always)
                )
            }
            Status::Unreachable => {
                let label = match item {
                    Some(i) => format!("fatal: {target}: UNREACHABLE! => (item={i}) => "),
                    None => format!("fatal: {target}: UNREACHABLE! => "),
                };
                format!("{label}{}\n", self.dump_result(result, pretty))
            }
            Status::Skipped => {
                if is_loop_summary && (self.verbosity > 0 || verbose_always) {
                    format!(
                        "skipping: {target} => {}\n",
                        self.dump_result(result, pretty || verbose_always)
                    )
                } else if is_loop_summary {
                    // Per-item lines were printed; Ansible prints a plain summary line.
                    format!("skipping: {target}\n")
                } else if self.verbosity > 0 && item.is_none() {
                    format!(
                        "skipping: {target} => {}\n",
                        self.dump_result(result, pretty)
                    )
                } else if item.is_some() && (self.verbosity > 0 || verbose_always) {
                    // Ansible's item line keeps a space after the label, then the result.
                    format!(
                        "skipping: {target}{item_part}  => {}\n",
                        self.dump_result(result, pretty || verbose_always)
                    )
                } else if item.is_some() {
                    format!("skipping: {target}{item_part} \n")
                } else {
                    format!("skipping: {target}\n")
                }
            }
            Status::Ok | Status::Changed => {
                let word = if status == Status::Changed {
                    "changed"
                } else {
                    "ok"
                };
                // The items were shown one by one; Ansible prints no summary line for them.
                if is_loop_summary {
                    return String::new();
                }
                if verbose_always {
                    format!(
                        "{word}: {target}{item_part} => {}\n",
                        self.dump_result(result, true)
                    )
                } else if self.verbosity > 0 {
                    format!(
                        "{word}: {target}{item_part} => {}\n",
                        self.dump_result(result, pretty)
                    )
                } else {
                    format!("{word}: {target}{item_part}\n")
                }
            }
        }
    }
}

impl EventSink for Printer {
    fn emit(&self, event: &Event) {
        match self.format {
            Format::Human if self.ad_hoc => self.ad_hoc_event(event),
            Format::Human => self.human(event),
            Format::Json => {
                if let Ok(line) = serde_json::to_string(event) {
                    self.write(&format!("{line}\n"));
                }
            }
        }
    }
}

/// Actions drover runs on the controller, which Ansible implements as action plugins: their
/// failures are "Action failed", those of modules "Module failed".
const CONTROLLER_ACTIONS: &[&str] = &[
    "fail",
    "assert",
    "debug",
    "set_fact",
    "include_vars",
    "group_by",
    "add_host",
    "pause",
    "set_stats",
    "meta",
    "include_tasks",
    "include_role",
    "validate_argument_spec",
    "reboot",
];

/// Where a task was written, from an event's `file:line:col`.
struct Origin {
    path: String,
    line: usize,
    column: usize,
}

impl Origin {
    fn parse(location: &str) -> Option<Origin> {
        let mut parts = location.rsplitn(3, ':');
        let column = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        let file = parts.next()?;
        // Ansible names files by absolute path.
        let path = std::fs::canonicalize(file)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| file.to_string());
        Some(Origin { path, line, column })
    }

    /// The task's line and up to two lines before it, numbered, with a caret under the column.
    fn snippet(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let lines: Vec<&str> = text.lines().collect();
        if self.line == 0 || self.line > lines.len() {
            return None;
        }
        let first = self.line.saturating_sub(2).max(1);
        let width = self.line.to_string().len();
        let mut out = String::new();
        for n in first..=self.line {
            // An empty source line shows its number alone, as Ansible's snippet does.
            let line = format!("{n:>width$} {}", lines[n - 1]);
            out.push_str(line.trim_end_matches(' '));
            out.push('\n');
        }
        out.push_str(&format!(
            "{}^ column {}\n",
            " ".repeat(width + self.column),
            self.column
        ));
        Some(out)
    }
}

/// `TASK [name] ****...` padded with stars to 80 columns, after a blank line.
/// The `CUSTOM STATS` block of Ansible's default callback: one line per host, then the run's
/// stats, each as sorted one-space-indented JSON with the line breaks taken out.
fn custom_stats_text(hosts: &[(String, Json)], run: Option<&Json>) -> String {
    let mut text = banner("CUSTOM STATS:");
    let mut sorted: Vec<&(String, Json)> = hosts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (host, stats) in sorted {
        text.push_str(&format!("\t{host}: {}\n", one_line_json(stats)));
    }
    if let Some(run) = run {
        text.push_str(&format!("\n\tRUN: {}\n", one_line_json(run)));
    }
    text.push('\n');
    text
}

/// Python's `json.dumps(v, indent=1, sort_keys=True)` with the newlines removed.
fn one_line_json(v: &Json) -> String {
    fn dump(v: &Json, depth: usize, out: &mut String) {
        let pad = |n: usize| " ".repeat(n);
        match v {
            Json::Object(m) if !m.is_empty() => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&pad(depth + 1));
                    out.push_str(&Json::String(k.clone()).to_string());
                    out.push_str(": ");
                    dump(&m[k], depth + 1, out);
                }
                out.push_str(&pad(depth));
                out.push('}');
            }
            Json::Array(a) if !a.is_empty() => {
                out.push('[');
                for (i, item) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&pad(depth + 1));
                    dump(item, depth + 1, out);
                }
                out.push_str(&pad(depth));
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    dump(v, 0, &mut out);
    out
}

pub fn banner(msg: &str) -> String {
    let msg = msg.trim();
    let stars = 79usize.saturating_sub(msg.chars().count()).max(3);
    format!("\n{msg} {}\n", "*".repeat(stars))
}

pub fn recap_line(host: &str, s: &HostStats) -> String {
    format!(
        "{:<26} : {} {} {} {} {} {} {}\n",
        host,
        counter("ok", s.ok),
        counter("changed", s.changed),
        counter("unreachable", s.unreachable),
        counter("failed", s.failed),
        counter("skipped", s.skipped),
        counter("rescued", s.rescued),
        counter("ignored", s.ignored),
    )
}

fn counter(name: &str, n: u64) -> String {
    format!("{name}={:<4}", n)
}

/// A result as shown on screen: Ansible's callback drops `diff` (diffs print apart) and the
/// module's `invocation` below -vvv.
fn screen_result(result: &Json, verbosity: u8) -> std::borrow::Cow<'_, Json> {
    const BELOW_VVV: [&str; 2] = ["diff", "invocation"];
    match result {
        Json::Object(o) if verbosity < 3 && BELOW_VVV.iter().any(|k| o.contains_key(*k)) => {
            let mut o = o.clone();
            for k in BELOW_VVV {
                o.remove(k);
            }
            std::borrow::Cow::Owned(Json::Object(o))
        }
        _ => std::borrow::Cow::Borrowed(result),
    }
}

/// A result as Ansible's default callback shows it: a loop's summary without its per-item
/// `results` (each item had its line), and `debug` reduced to what it was asked to show (its
/// `msg`, or its `var` without the task's own keys).
fn for_display(result: &Json, module: Option<&str>) -> Json {
    let Json::Object(o) = result else {
        return result.clone();
    };
    let mut o = o.clone();
    o.remove("results");
    // The status is the line's own word: callbacks see results without these (ansible-core's
    // TaskResult.clean_copy).
    o.remove("failed");
    o.remove("skipped");
    if matches!(
        module,
        Some("debug" | "ansible.builtin.debug" | "ansible.legacy.debug")
    ) {
        if o.contains_key("msg") {
            o.retain(|k, _| {
                k.starts_with('_')
                    || matches!(
                        k.as_str(),
                        "msg" | "exception" | "warnings" | "deprecations"
                    )
            });
        } else {
            for k in [
                "changed",
                "failed",
                "skipped",
                "invocation",
                "skip_reason",
                "ansible_loop_var",
                "ansible_index_var",
                "ansible_loop",
            ] {
                o.remove(k);
            }
        }
    }
    Json::Object(o)
}

/// A result as Ansible's callback dumps it: internal keys removed, keys sorted, Python's
/// `json.dumps` spacing; indented by 4 when `pretty`.
pub fn dump(result: &Json, pretty: bool) -> String {
    let cleaned = clean(result);
    let mut out = String::new();
    write_json(&mut out, &cleaned, if pretty { Some(4) } else { None }, 0);
    out
}

/// Multi-line strings made fit for a literal block, as Ansible's lossy YAML dumper makes them:
/// no trailing space, tabs expanded, no special characters, no space before a line break.
fn munge_for_block(v: Json) -> Json {
    match v {
        Json::String(s) if s.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) => {
            let mut text = String::new();
            for c in s.trim_end().chars() {
                match c {
                    '\t' => {
                        let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count());
                        text.push_str(&" ".repeat(8 - col % 8));
                    }
                    '\n' => {
                        while text.ends_with(' ') {
                            text.pop();
                        }
                        text.push('\n');
                    }
                    c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{feff}' => {}
                    c => text.push(c),
                }
            }
            Json::String(text)
        }
        Json::Array(items) => Json::Array(items.into_iter().map(munge_for_block).collect()),
        Json::Object(m) => Json::Object(
            m.into_iter()
                .map(|(k, v)| (k, munge_for_block(v)))
                .collect(),
        ),
        other => other,
    }
}

fn clean(v: &Json) -> Json {
    match v {
        Json::Object(o) => {
            let debug = o.get("_ansible_verbose_always") == Some(&Json::Bool(true));
            let mut keys: Vec<&String> = o
                .keys()
                .filter(|k| {
                    !k.starts_with("_ansible")
                        && !matches!(k.as_str(), "_verbosity" | "warnings" | "exception")
                })
                // Shown results carry `failed` only when true; `debug` output never shows
                // `changed`, as Ansible's callback does.
                .filter(|k| *k != "failed")
                .filter(|k| !(debug && *k == "changed"))
                .collect();
            keys.sort();
            let mut m = serde_json::Map::new();
            for k in keys {
                m.insert(k.clone(), o[k].clone());
            }
            Json::Object(m)
        }
        other => other.clone(),
    }
}

fn write_json(out: &mut String, v: &Json, indent: Option<usize>, level: usize) {
    let nl = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    };
    match v {
        Json::Object(o) if !o.is_empty() => {
            out.push('{');
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if indent.is_none() {
                        out.push(' ');
                    }
                }
                nl(out, level + 1);
                out.push_str(&Json::String((*k).clone()).to_string());
                out.push_str(": ");
                write_json(out, &o[*k], indent, level + 1);
            }
            nl(out, level);
            out.push('}');
        }
        Json::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if indent.is_none() {
                        out.push(' ');
                    }
                }
                nl(out, level + 1);
                write_json(out, item, indent, level + 1);
            }
            nl(out, level);
            out.push(']');
        }
        Json::String(s) => out.push_str(&ascii_json_string(s)),
        other => out.push_str(&other.to_string()),
    }
}

/// Python's `json.dumps` escapes non-ASCII characters by default.
fn ascii_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_diff(d: &drover_modules::FileDiff) -> String {
    if d.before == d.after {
        return String::new();
    }
    let diff = similar::TextDiff::from_lines(&d.before, &d.after);
    let mut out = String::new();
    // Headerless diffs are of attributes (the `file` module): Ansible labels them plainly.
    let header = |h: &str, plain: &'static str| {
        if h.is_empty() {
            plain.to_string()
        } else {
            format!("{plain}: {h}")
        }
    };
    out.push_str(&format!(
        "--- {}\n+++ {}\n",
        header(&d.before_header, "before"),
        header(&d.after_header, "after")
    ));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&hunk.to_string());
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_stats_lines_match_ansible() {
        let v = serde_json::json!({"my_int": 25, "b": {"x": [1, "y"]}, "e": {}});
        assert_eq!(
            one_line_json(&v),
            r#"{ "b": {  "x": [   1,   "y"  ] }, "e": {}, "my_int": 25}"#
        );
        let text = custom_stats_text(
            &[("h1".into(), serde_json::json!({"n": 1}))],
            Some(&serde_json::json!({"my_int": 25})),
        );
        assert!(text.starts_with("\nCUSTOM STATS: ***"), "{text}");
        assert!(text.contains("\th1: { \"n\": 1}\n"), "{text}");
        assert!(text.contains("\n\tRUN: { \"my_int\": 25}\n"), "{text}");
    }

    #[test]
    fn banner_is_80_columns() {
        let b = banner("TASK [x]");
        assert_eq!(b.trim_end().trim_start().len(), 80);
        let long = banner(&format!("TASK [{}]", "y".repeat(100)));
        assert!(long.trim_end().ends_with(" ***"));
    }

    #[test]
    fn recap_matches_ansible_layout() {
        let s = HostStats {
            ok: 2,
            changed: 1,
            ..HostStats::default()
        };
        assert_eq!(
            recap_line("host1", &s),
            "host1                      : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \n"
        );
    }

    #[test]
    fn dump_is_python_json() {
        let v = serde_json::json!({"msg": "é x", "changed": false, "_ansible_no_log": false, "a": [1, 2]});
        assert_eq!(
            dump(&v, false),
            r#"{"a": [1, 2], "changed": false, "msg": "\u00e9 x"}"#
        );
        assert_eq!(
            dump(&serde_json::json!({"msg": "hi"}), true),
            "{\n    \"msg\": \"hi\"\n}"
        );
    }

    #[test]
    fn warnings_print_before_the_result_and_leave_it() {
        let p = Printer::new(Format::Human, 1, false);
        let result = serde_json::json!({"changed": false, "warnings": ["mind the gap"], "rc": 0});
        let line = p.result_line("h1", Status::Ok, None, None, &result);
        assert!(!line.contains("mind the gap"), "{line}");
        assert!(line.contains("\"rc\": 0"), "{line}");
    }

    #[test]
    fn diff_key_hidden_below_vvv() {
        let v = serde_json::json!({"changed": true, "diff": {"before": "a"}});
        assert_eq!(
            screen_result(&v, 1).into_owned(),
            serde_json::json!({"changed": true})
        );
        assert_eq!(screen_result(&v, 3).into_owned(), v);
    }
}

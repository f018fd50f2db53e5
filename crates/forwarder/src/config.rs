//! The forwarder's configuration: one YAML file, every setting overridable by an environment variable.
//!
//! Each setting has a dotted name (`hec.batch_bytes`) and an environment variable made from it
//! (`LOGTRIM_HEC_BATCH_BYTES`): [`SETTINGS`] and logtrim-hec's [`HEC_SETTINGS`] are the tables of both, with the help text the
//! README's table is checked against. Sizes take units (`1MB`, `256KiB`, or plain bytes), durations
//! `250ms`, `5s`, `2m` (or plain seconds); lists in variables are comma-separated.
//!
//! A file is read as a tree of positioned YAML nodes and each setting is set through the same table
//! the variables use, rather than by a typed parse that would stop at the first mistake: every unknown
//! key and bad value in the file is reported at once, as `file:line:col: message`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub use logtrim_hec::settings::{Dur, EventMode, HEC_SETTINGS, Hec, Size, Value, enum_value, parse_bool, parse_duration, parse_list, parse_size};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read. (The cause is part of the message, not a `source()`, so that
    /// `{:#}` does not print it twice.)
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Every problem found, one per line: `file:line:col: message` for the file's, `VARIABLE: message`
    /// for the environment's, `setting: message` for values that are wrong together.
    #[error("{} in the configuration:\n{}", problems(.0.len()), .0.join("\n"))]
    Invalid(Vec<String>),
}

fn problems(n: usize) -> String {
    if n == 1 { "1 problem".into() } else { format!("{n} problems") }
}

/// A YAML node with the positions of its keys and values, read without the configuration's shape.
enum Node {
    /// `~`, or a key without a value.
    Null,
    /// Any scalar, as text: `5` and `"5s"` both reach the unit parsers.
    Scalar(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Scalar(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Node::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    v.push(entry);
                }
                Ok(Node::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line (for log pipelines; the default).
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// Which format container log files have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputFormatSetting {
    /// Per file, from its first line (CRI or Docker json-file).
    #[default]
    Auto,
    /// CRI (containerd, CRI-O).
    Cri,
    /// Docker json-file.
    Docker,
}

/// Where to start in files found at the very first start (no checkpoint file yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Read what they already hold.
    #[default]
    Beginning,
    /// Only what is written from now on (avoids sending a node's whole history on first rollout).
    End,
}

/// What the archive does when its spool is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Reading pauses until uploads make room: nothing is lost, the backlog stays in the log files.
    #[default]
    Pause,
    /// The object that does not fit is not archived: counted (`logtrim_archive_lost_*`) and logged.
    Lose,
}

/// The archive of what is not sent (the rule file's `archive:` section says what and how).
#[derive(Clone, Debug)]
pub struct Archive {
    /// `s3://bucket/prefix`, `file:///path` or a directory; empty: no archive.
    pub location: String,
    /// S3: `endpoint/bucket` addressing (MinIO, Ceph, moto).
    pub s3_path_style: bool,
    /// Bytes the spool (`<state_dir>/archive-spool`) may hold before `on_full` applies.
    pub spool_max_bytes: Size,
    /// `pause` (reading waits) or `lose` (the object is counted lost).
    pub on_full: OnFull,
    /// An open object is sealed and spooled at most this long after it was opened: the longest a
    /// line's checkpoint waits for the archive, and so what a `kill -9` may send again.
    pub seal_interval: Dur,
    /// Objects open at once (one per partition).
    pub max_open: usize,
    /// Bytes the open objects may hold in memory together; past it the largest is sealed early.
    pub max_open_bytes: Size,
}

impl Default for Archive {
    fn default() -> Archive {
        Archive {
            location: String::new(),
            s3_path_style: false,
            spool_max_bytes: Size(1 << 30),
            on_full: OnFull::Pause,
            seal_interval: Dur(Duration::from_secs(60)),
            max_open: 8,
            max_open_bytes: Size(8 << 20),
        }
    }
}

/// Where the daily budget's count lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStore {
    /// A file in the state dir: one budget per node, survives restarts.
    #[default]
    File,
    /// A DynamoDB table shared by the whole fleet (needs the `dynamodb` build feature).
    Dynamodb,
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The rule file (a ConfigMap mount); reloaded when it changes.
    pub rules_file: PathBuf,
    /// Checkpoints, the budget file and dead-lettered batches live here (a hostPath).
    pub state_dir: PathBuf,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub listen: String,
    /// The node's name: HEC `host` and `kubernetes.host` (default: `$NODE_NAME`, else the hostname).
    pub node_name: String,
    /// `json` or `text` logs.
    pub log_format: LogFormat,
    /// Log filter (`tracing` EnvFilter syntax).
    pub log_level: String,
    /// How long SIGTERM may take: flush in-flight batches, persist checkpoints; keep it below the pod's
    /// terminationGracePeriodSeconds.
    pub shutdown_deadline: Dur,
    /// How often the rule file is checked for changes.
    pub reload_interval: Dur,
    /// Summaries (`summarize:`): an interval's events are sent once the clock (or the lines' own time)
    /// is this far past its end, so lines read a little late still count in it; also the least time
    /// between two flushes by the clock.
    pub summary_delay: Dur,
    /// Container log files.
    pub inputs: Inputs,
    /// The Splunk HEC sink.
    pub hec: Hec,
    /// The daily byte budget (when the rule file has a `budget:` section).
    pub budget: Budget,
    /// The archive of the lines not sent (off unless `archive.location` is set).
    pub archive: Archive,
}

/// Container log files.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Glob patterns (wildcards `*` and `?` in the file name only).
    pub paths: Vec<String>,
    /// File-name patterns to skip (e.g. the forwarder's own logs).
    pub exclude: Vec<String>,
    /// `auto`, `cri` or `docker`.
    pub format: InputFormatSetting,
    /// Longest message passed on; longer ones are cut and counted.
    pub max_line_bytes: Size,
    /// How often files at their end are checked for new data, rotation and truncation.
    pub poll_interval: Dur,
    /// How often the globs are re-evaluated for new files.
    pub discover_interval: Dur,
    /// How long a rotated-away or deleted file is still read after its last new data.
    pub rotate_wait: Dur,
    /// Least time between checkpoint writes; a crash re-sends what was delivered within it.
    pub checkpoint_interval: Dur,
    /// Files present at the very first start: `beginning` or `end`.
    pub start_at: StartAt,
}

/// The daily byte budget's store.
#[derive(Clone, Debug)]
pub struct Budget {
    /// `file` or `dynamodb`.
    pub store: BudgetStore,
    /// The budget file (default: `<state_dir>/budget.json`).
    pub file: String,
    /// The DynamoDB table, for `store: dynamodb`.
    pub dynamodb_table: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rules_file: "/etc/logtrim/rules.yaml".into(),
            state_dir: "/var/lib/logtrim".into(),
            listen: "0.0.0.0:2020".into(),
            node_name: String::new(),
            log_format: LogFormat::Json,
            log_level: "info".into(),
            shutdown_deadline: Dur(Duration::from_secs(20)),
            reload_interval: Dur(Duration::from_secs(5)),
            summary_delay: Dur(Duration::from_secs(10)),
            inputs: Inputs::default(),
            hec: Hec::default(),
            budget: Budget::default(),
            archive: Archive::default(),
        }
    }
}

impl Default for Inputs {
    fn default() -> Inputs {
        Inputs {
            paths: vec!["/var/log/containers/*.log".into()],
            exclude: Vec::new(),
            format: InputFormatSetting::Auto,
            max_line_bytes: Size(256 * 1024),
            poll_interval: Dur(Duration::from_millis(250)),
            discover_interval: Dur(Duration::from_secs(2)),
            rotate_wait: Dur(Duration::from_secs(5)),
            checkpoint_interval: Dur(Duration::from_secs(1)),
            start_at: StartAt::Beginning,
        }
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { store: BudgetStore::File, file: String::new(), dynamodb_table: String::new() }
    }
}

/// One of the forwarder's own settings.
pub type Setting = logtrim_hec::settings::Setting<Config>;

/// A [`Setting`] of the forwarder's [`Config`] (see `logtrim_hec::setting!`).
macro_rules! setting {
    ($($t:tt)*) => { logtrim_hec::setting!(Config; $($t)*) };
}

/// A setting of either table: the forwarder's own ([`SETTINGS`]) or the `hec.*` ones ([`HEC_SETTINGS`]).
#[derive(Clone, Copy)]
pub enum AnySetting {
    /// The forwarder's own.
    Own(&'static Setting),
    /// `hec.*`, from logtrim-hec.
    Hec(&'static logtrim_hec::settings::Setting<Hec>),
}

impl AnySetting {
    /// Dotted name as in the YAML file.
    pub fn key(self) -> &'static str {
        match self {
            AnySetting::Own(s) => s.key,
            AnySetting::Hec(s) => s.key,
        }
    }

    /// What it does (the README table's text).
    pub fn help(self) -> &'static str {
        match self {
            AnySetting::Own(s) => s.help,
            AnySetting::Hec(s) => s.help,
        }
    }

    /// The environment variable that overrides it.
    pub fn env(self) -> String {
        match self {
            AnySetting::Own(s) => s.env(),
            AnySetting::Hec(s) => s.env(),
        }
    }

    fn set(self, c: &mut Config, v: Value<'_>) -> Result<(), String> {
        match self {
            AnySetting::Own(s) => (s.set)(c, v),
            AnySetting::Hec(s) => (s.set)(&mut c.hec, v),
        }
    }
}

/// Every setting: the forwarder's own, then `hec.*`.
pub fn all_settings() -> impl Iterator<Item = AnySetting> {
    SETTINGS.iter().map(AnySetting::Own).chain(HEC_SETTINGS.iter().map(AnySetting::Hec))
}

/// The forwarder's own settings, in README order (`hec.*` are [`HEC_SETTINGS`]).
pub static SETTINGS: &[Setting] = &[
    setting!("rules_file", "rule file; reloaded when it changes (a ConfigMap update)", |c, v| c.rules_file = v.into()),
    setting!("state_dir", "checkpoints, the budget file, dead-lettered batches", |c, v| c.state_dir = v.into()),
    setting!("listen", "address of /healthz, /readyz, /metrics", |c, v| c.listen = v.into()),
    setting!("node_name", "HEC `host` and `kubernetes.host` (default `$NODE_NAME`, else the hostname)", |c, v| c.node_name = v.into()),
    setting!("log_format", "`json` or `text`", |c, v| c.log_format = enum_value(v)?),
    setting!("log_level", "log filter (`tracing` EnvFilter syntax)", |c, v| c.log_level = v.into()),
    setting!("shutdown_deadline", "SIGTERM: time to flush in-flight batches and persist checkpoints", |c, v| c.shutdown_deadline = Dur(parse_duration(v)?)),
    setting!("reload_interval", "how often the rule file is checked for changes", |c, v| c.reload_interval = Dur(parse_duration(v)?)),
    setting!("summary_delay", "summaries are sent this long after their interval ends (late lines still count); least time between flushes", |c, v| c.summary_delay = Dur(parse_duration(v)?)),
    setting!(list "inputs.paths", "globs of container log files (wildcards in the file name only)", |c, v| c.inputs.paths = v),
    setting!(list "inputs.exclude", "file-name patterns to skip", |c, v| c.inputs.exclude = v),
    setting!("inputs.format", "`auto` (per file), `cri` or `docker`", |c, v| c.inputs.format = enum_value(v)?),
    setting!("inputs.max_line_bytes", "longest message passed on; longer ones are cut and counted", |c, v| c.inputs.max_line_bytes = Size(parse_size(v)?)),
    setting!("inputs.poll_interval", "how often idle files are checked for data, rotation, truncation", |c, v| c.inputs.poll_interval = Dur(parse_duration(v)?)),
    setting!("inputs.discover_interval", "how often globs are re-evaluated for new files", |c, v| c.inputs.discover_interval = Dur(parse_duration(v)?)),
    setting!("inputs.rotate_wait", "how long a rotated-away or deleted file is still read after its last data", |c, v| c.inputs.rotate_wait = Dur(parse_duration(v)?)),
    setting!("inputs.checkpoint_interval", "least time between checkpoint writes (a crash re-sends what was delivered within it); 0: after every delivery", |c, v| c.inputs.checkpoint_interval = Dur(parse_duration(v)?)),
    setting!("inputs.start_at", "files found at the very first start: `beginning` or `end`", |c, v| c.inputs.start_at = enum_value(v)?),
    setting!("budget.store", "`file` (per node) or `dynamodb` (the fleet; `dynamodb` build feature)", |c, v| c.budget.store = enum_value(v)?),
    setting!("budget.file", "budget file (default `<state_dir>/budget.json`)", |c, v| c.budget.file = v.into()),
    setting!("budget.dynamodb_table", "DynamoDB table for `store: dynamodb`", |c, v| c.budget.dynamodb_table = v.into()),
    setting!("archive.location", "where lines not sent are archived: `s3://bucket/prefix`, `file:///path` or a directory; empty: no archive", |c, v| c.archive.location = v.into()),
    setting!("archive.s3_path_style", "S3: `endpoint/bucket` addressing (MinIO, Ceph, moto)", |c, v| c.archive.s3_path_style = parse_bool(v)?),
    setting!("archive.spool_max_bytes", "cap on the spool (`<state_dir>/archive-spool`) of objects not uploaded yet", |c, v| c.archive.spool_max_bytes = Size(parse_size(v)?)),
    setting!("archive.on_full", "spool full: `pause` reading, or `lose` the object (counted, logged)", |c, v| c.archive.on_full = enum_value(v)?),
    setting!("archive.seal_interval", "an open object is spooled at most this long after it opened (the checkpoint waits for it)", |c, v| c.archive.seal_interval = Dur(parse_duration(v)?)),
    setting!("archive.max_open", "objects open at once (one per partition)", |c, v| c.archive.max_open = v.trim().parse().map_err(|_| format!("expected a number, not {v:?}"))?),
    setting!("archive.max_open_bytes", "memory the open objects may hold together (compressed); past it the largest is sealed early", |c, v| c.archive.max_open_bytes = Size(parse_size(v)?)),
];

/// Where each setting was given and which ones were wrong, to point at the place a problem
/// found later (by [`Config::validate`]) comes from.
#[derive(Default)]
struct Origins {
    /// Setting → `file:line:col` or the variable that set it last.
    at: BTreeMap<&'static str, String>,
    /// Settings whose value was rejected: checking them together again would only repeat that.
    failed: BTreeSet<&'static str>,
}

impl Config {
    /// Reads `path` (if given), then applies every `LOGTRIM_*` variable from `env`, then validates.
    /// Every problem is reported, each where it was made.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut errors = Vec::new();
        let mut origins = Origins::default();
        let mut parsed = true;
        if let Some(p) = path {
            let text = crate::files::read_regular_string(p).map_err(|error| ConfigError::Read { path: p.into(), error })?;
            parsed = cfg.apply_yaml(p, &text, &mut origins, &mut errors);
        }
        for s in all_settings() {
            let Some(v) = env(&s.env()) else { continue };
            origins.at.insert(s.key(), s.env());
            if let Err(e) = s.set(&mut cfg, Value::Text(&v)) {
                errors.push(format!("{}: {e}", s.env()));
                origins.failed.insert(s.key());
            }
        }
        if cfg.node_name.is_empty() {
            cfg.node_name = env("NODE_NAME")
                .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
                .unwrap_or_default()
                .trim()
                .to_string();
        }
        if cfg.hec.token.is_empty() && !cfg.hec.token_file.is_empty() {
            match crate::files::read_regular_string(Path::new(&cfg.hec.token_file)) {
                Ok(t) => cfg.hec.token = t.trim().to_string(),
                Err(e) => {
                    let at = origins.at.get("hec.token_file").map(|a| format!("{a}: ")).unwrap_or_default();
                    errors.push(format!("{at}hec.token_file: cannot read {:?}: {e}", cfg.hec.token_file));
                    origins.failed.insert("hec.token_file");
                    // The missing token is this problem, not another one.
                    origins.failed.insert("hec.token");
                }
            }
        }
        // Checked together only when the file could be read as YAML: otherwise every setting it holds
        // would be reported missing.
        for problem in parsed.then(|| cfg.validate().err()).flatten().unwrap_or_default() {
            let key = problem.split(':').next().unwrap_or_default();
            if origins.failed.contains(key) {
                continue;
            }
            match origins.at.get(key) {
                Some(at) => errors.push(format!("{at}: {problem}")),
                None => errors.push(problem),
            }
        }
        if errors.is_empty() { Ok(cfg) } else { Err(ConfigError::Invalid(errors)) }
    }

    /// Parses a configuration file's text (no environment, no validation); every problem in it.
    pub fn from_yaml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut errors = Vec::new();
        cfg.apply_yaml(path, text, &mut Origins::default(), &mut errors);
        if errors.is_empty() { Ok(cfg) } else { Err(ConfigError::Invalid(errors)) }
    }

    /// Sets what the file's text sets; each problem goes to `errors` as `file:line:col: message`.
    /// False when the text is not YAML at all.
    fn apply_yaml(&mut self, path: &Path, text: &str, origins: &mut Origins, errors: &mut Vec<String>) -> bool {
        if text.trim().is_empty() {
            return true;
        }
        let at = |line: u32, col: u32| format!("{}:{line}:{col}", path.display());
        let root: Spanned<Node> = match serde_saphyr::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                // YAML that does not parse stops here: there is no tree to look further into.
                let (line, col) = e.location().map_or((1, 1), |l| (l.line() as u32, l.column() as u32));
                errors.push(format!("{}: {}", at(line, col), yaml_message(&e)));
                return false;
            }
        };
        let mut walk = Walk { cfg: self, at: &at, origins, errors };
        walk.section("", &root);
        true
    }

    /// Every problem with the values, as `setting: message`.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() {
            e.push(format!("listen: {:?} is not an address such as 0.0.0.0:2020", self.listen));
        }
        if self.inputs.paths.is_empty() {
            e.push("inputs.paths: at least one glob is needed".into());
        }
        for p in &self.inputs.paths {
            let dir = Path::new(p).parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
            if dir.contains(['*', '?']) {
                e.push(format!("inputs.paths: {p:?}: wildcards are only supported in the file name"));
            }
        }
        if self.summary_delay.0 < Duration::from_millis(100) {
            // Flushing on every loop turn would turn a backlog into one summary event per group per read.
            e.push("summary_delay: must be at least 100ms".into());
        }
        if self.inputs.max_line_bytes.0 < 1024 {
            e.push("inputs.max_line_bytes: must be at least 1KiB".into());
        }
        if self.hec.endpoints.is_empty() {
            e.push("hec.endpoints: at least one HEC URL is needed (LOGTRIM_HEC_ENDPOINTS)".into());
        }
        for u in &self.hec.endpoints {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                e.push(format!("hec.endpoints: {u:?} is not an http:// or https:// URL"));
            }
        }
        if self.hec.token.is_empty() {
            e.push("hec.token: no token (set LOGTRIM_HEC_TOKEN or hec.token_file)".into());
        }
        if self.hec.batch_bytes.0 < 1024 {
            e.push("hec.batch_bytes: must be at least 1KiB".into());
        }
        if self.hec.gzip_level > 9 {
            e.push("hec.gzip_level: must be 0–9".into());
        }
        if self.hec.max_in_flight == 0 {
            e.push("hec.max_in_flight: must be at least 1".into());
        }
        if self.hec.queue_batches == 0 {
            e.push("hec.queue_batches: must be at least 1".into());
        }
        if self.hec.retry_initial.0.is_zero() || self.hec.retry_max.0 < self.hec.retry_initial.0 {
            e.push("hec.retry_initial/retry_max: need 0 < retry_initial <= retry_max".into());
        }
        if self.hec.eject_after == 0 {
            e.push("hec.eject_after: must be at least 1".into());
        }
        for (name, t) in [("hec.host", &self.hec.host), ("hec.source", &self.hec.source), ("hec.sourcetype", &self.hec.sourcetype), ("hec.index", &self.hec.index)]
            .into_iter()
            .chain(self.hec.fields.values().map(|t| ("hec.fields", t)))
        {
            if let Err(m) = crate::meta::Template::parse(t) {
                e.push(format!("{name}: {m} in {t:?}"));
            }
        }
        if self.budget.store == BudgetStore::Dynamodb {
            if self.budget.dynamodb_table.is_empty() {
                e.push("budget.dynamodb_table: needed for budget.store: dynamodb".into());
            }
            if !cfg!(feature = "dynamodb") {
                e.push("budget.store: dynamodb needs a forwarder built with the `dynamodb` feature".into());
            }
        }
        if !self.archive.location.is_empty() {
            if let Err(m) = archive_location(&self.archive.location) {
                e.push(format!("archive.location: {m}"));
            }
            if self.archive.spool_max_bytes.0 < 1 << 20 {
                e.push("archive.spool_max_bytes: must be at least 1MiB".into());
            }
            if self.archive.seal_interval.0 < Duration::from_millis(100) {
                e.push("archive.seal_interval: must be at least 100ms".into());
            }
            if self.archive.max_open_bytes.0 < 1 << 20 {
                e.push("archive.max_open_bytes: must be at least 1MiB".into());
            }
            if self.archive.max_open == 0 {
                e.push("archive.max_open: must be at least 1".into());
            }
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }

    /// The archive's spool directory.
    pub fn spool_dir(&self) -> PathBuf {
        self.state_dir.join("archive-spool")
    }

    /// The budget file's path.
    pub fn budget_file(&self) -> PathBuf {
        if self.budget.file.is_empty() { self.state_dir.join("budget.json") } else { self.budget.file.clone().into() }
    }
}

/// Checks the shape of an archive location (the store itself is reached only when used).
fn archive_location(l: &str) -> Result<(), String> {
    match l.split_once("://") {
        Some(("s3", rest)) if !rest.split('/').next().unwrap_or_default().is_empty() => Ok(()),
        Some(("file", rest)) if rest.starts_with('/') => Ok(()),
        None if !l.trim().is_empty() => Ok(()),
        _ => Err(format!("{l:?} is not s3://bucket/prefix, file:///path or a directory")),
    }
}

/// The serde-saphyr error's message without its position (given separately) or its snippet.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    let first = full.lines().next().unwrap_or_default().trim();
    let msg = first.strip_prefix("error: ").unwrap_or(first);
    let msg = match msg.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((_, m)) => m,
        None => msg,
    };
    if msg.is_empty() { "invalid YAML".into() } else { msg.to_string() }
}

/// Going through a configuration file's tree, setting what it sets.
struct Walk<'a> {
    cfg: &'a mut Config,
    at: &'a dyn Fn(u32, u32) -> String,
    origins: &'a mut Origins,
    errors: &'a mut Vec<String>,
}

impl Walk<'_> {
    fn pos<T>(&self, n: &Spanned<T>) -> String {
        (self.at)(n.referenced.line() as u32, n.referenced.column() as u32)
    }

    /// The settings under `prefix` (`""`: the top level, `"hec"`: its section).
    fn section(&mut self, prefix: &str, node: &Spanned<Node>) {
        let Node::Map(entries) = &node.value else {
            let what = if prefix.is_empty() { "the configuration".to_string() } else { format!("{prefix:?}") };
            self.errors.push(format!("{}: {what} must be a mapping of settings", self.pos(node)));
            return;
        };
        for (k, v) in entries {
            let key = if prefix.is_empty() { k.value.clone() } else { format!("{prefix}.{}", k.value) };
            if let Some(s) = all_settings().find(|s| s.key() == key) {
                self.setting(s, v);
            } else if all_settings().any(|s| s.key().len() > key.len() && s.key().starts_with(&key) && s.key().as_bytes()[key.len()] == b'.') {
                self.section(&key, v);
            } else {
                self.errors.push(format!("{}: unknown setting {key:?}{}", self.pos(k), suggest(prefix, &k.value)));
            }
        }
    }

    fn setting(&mut self, s: AnySetting, node: &Spanned<Node>) {
        self.origins.at.insert(s.key(), self.pos(node));
        let value = match &node.value {
            Node::Null => Value::Null,
            Node::Scalar(t) => Value::Text(t),
            Node::Seq(items) => {
                let mut list = Vec::new();
                for i in items {
                    match &i.value {
                        Node::Scalar(t) => list.push(t.as_str()),
                        _ => return self.reject(s, i, "expected a list of single values".into()),
                    }
                }
                Value::List(list)
            }
            Node::Map(entries) => {
                let mut pairs = Vec::new();
                for (k, v) in entries {
                    match &v.value {
                        Node::Scalar(t) => pairs.push((k.value.as_str(), t.as_str())),
                        _ => return self.reject(s, v, "expected name: value pairs".into()),
                    }
                }
                Value::Pairs(pairs)
            }
        };
        if let Err(e) = s.set(self.cfg, value) {
            self.reject(s, node, e);
        }
    }

    fn reject<T>(&mut self, s: AnySetting, node: &Spanned<T>, message: String) {
        self.errors.push(format!("{}: {}: {message}", self.pos(node), s.key()));
        self.origins.failed.insert(s.key());
    }
}

/// What to say after "unknown setting": the known key in the same section sharing the longest start
/// with the unknown one (a likely typo), else every key the section accepts.
fn suggest(prefix: &str, key: &str) -> String {
    let mut known: Vec<&str> = all_settings()
        .map(AnySetting::key)
        .filter_map(|k| if prefix.is_empty() { Some(k) } else { k.strip_prefix(prefix)?.strip_prefix('.') })
        .map(|rest| rest.split('.').next().unwrap_or(rest))
        .collect();
    known.dedup();
    let common = |a: &str| a.bytes().zip(key.bytes()).take_while(|(x, y)| x == y).count();
    let best = known.iter().map(|k| common(k)).max().unwrap_or(0);
    let closest: Vec<&&str> = known.iter().filter(|k| common(k) == best).collect();
    let section = if prefix.is_empty() { "the top level" } else { prefix };
    match closest.as_slice() {
        [one] if best >= 3 => format!(" (did you mean {one:?}?)"),
        _ => format!(" ({section} accepts: {})", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("logtrim-fwd-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.yaml");
        std::fs::write(&p, "hec:\n  endpoints: [https://a:8088]\n  batch_bytes: 512KiB\n  batch_time: 250ms\ninputs:\n  paths: [/x/*.log]\n").unwrap();
        std::fs::write(dir.join("token"), "tok-from-file\n").unwrap();
        let c = Config::load(
            Some(&p),
            env(&[
                ("LOGTRIM_HEC_ENDPOINTS", "https://b:8088, https://c:8088"),
                ("LOGTRIM_HEC_TOKEN_FILE", dir.join("token").to_str().unwrap()),
                ("LOGTRIM_HEC_ACK", "true"),
                ("LOGTRIM_HEC_FIELDS", "ns={namespace},pod={pod}"),
                ("NODE_NAME", "node-7"),
            ]),
        )
        .unwrap();
        assert_eq!(c.hec.endpoints, ["https://b:8088", "https://c:8088"]);
        assert_eq!(c.hec.batch_bytes, Size(512 * 1024));
        assert_eq!(c.hec.batch_time, Dur(Duration::from_millis(250)));
        assert_eq!(c.hec.token, "tok-from-file");
        assert!(c.hec.ack);
        assert_eq!(c.hec.fields.get("ns").map(String::as_str), Some("{namespace}"));
        assert_eq!(c.inputs.paths, ["/x/*.log"]);
        assert_eq!(c.node_name, "node-7");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_problem_is_reported() {
        let e = Config::load(None, env(&[("LOGTRIM_HEC_BATCH_TIME", "soon"), ("LOGTRIM_LISTEN", "nowhere"), ("LOGTRIM_HEC_SOURCE", "{pod")]))
            .unwrap_err()
            .to_string();
        for want in ["LOGTRIM_HEC_BATCH_TIME", "listen:", "hec.endpoints", "hec.token", "hec.source"] {
            assert!(e.contains(want), "{want} missing from {e}");
        }
        let e = Config::from_yaml(Path::new("c.yaml"), "hec:\n  batch_byte: 1MB\n").unwrap_err().to_string();
        assert!(e.contains("c.yaml:2:3: unknown setting \"hec.batch_byte\" (did you mean \"batch_bytes\"?)"), "{e}");
    }

    /// Every problem in a file, each at its place; problems found by checking settings together point
    /// at where the setting was given (the file or the variable); a bad value is not reported twice.
    #[test]
    fn every_problem_in_a_file_is_reported_at_its_place() {
        let dir = std::env::temp_dir().join(format!("logtrim-fwd-cfg-all-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.yaml");
        let text = "hec:\n  batch_byte: 1MB\n  batch_time: soon\n  endpoints: [https://a:8088, ftp://b]\n  fields: {ns: \"{namespace}\", pod: [x]}\ninputs:\n  paths:\n    - /x/*.log\n    - [nested]\nlistn: x\nlisten: nowhere\nbudget: 5\nshutdown_deadline: 20s\n";
        std::fs::write(&p, text).unwrap();
        let e = Config::load(Some(&p), env(&[("LOGTRIM_HEC_MAX_IN_FLIGHT", "many"), ("LOGTRIM_SUMMARY_DELAY", "10ms")])).unwrap_err();
        let ConfigError::Invalid(problems) = e else { panic!("{e}") };
        let f = p.display().to_string();
        let want = [
            format!("{f}:2:3: unknown setting \"hec.batch_byte\" (did you mean \"batch_bytes\"?)"),
            format!("{f}:3:15: hec.batch_time: invalid duration \"soon\" (write e.g. 250ms, 5s, 2m)"),
            format!("{f}:5:36: hec.fields: expected name: value pairs"),
            format!("{f}:9:7: inputs.paths: expected a list of single values"),
            format!("{f}:10:1: unknown setting \"listn\" (did you mean \"listen\"?)"),
            format!("{f}:12:9: \"budget\" must be a mapping of settings"),
            "LOGTRIM_HEC_MAX_IN_FLIGHT: not a count: \"many\"".to_string(),
            format!("{f}:11:9: listen: \"nowhere\" is not an address such as 0.0.0.0:2020"),
            "LOGTRIM_SUMMARY_DELAY: summary_delay: must be at least 100ms".to_string(),
            format!("{f}:4:14: hec.endpoints: \"ftp://b\" is not an http:// or https:// URL"),
            "hec.token: no token (set LOGTRIM_HEC_TOKEN or hec.token_file)".to_string(),
        ];
        assert_eq!(problems, want);
        // YAML that does not parse: its one error, and nothing reported missing because of it.
        std::fs::write(&p, "hec:\n  endpoints: [https://a:8088\n").unwrap();
        let e = Config::load(Some(&p), env(&[])).unwrap_err().to_string();
        assert!(e.starts_with("1 problem in the configuration:\n") && e.contains(&format!("{f}:2:")), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn every_setting_has_a_distinct_variable_and_is_documented() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        let mut seen = std::collections::HashSet::new();
        for s in all_settings() {
            assert!(seen.insert(s.env()), "{}", s.env());
            assert!(readme.contains(&format!("`{}`", s.env())), "{} is not in README.md", s.env());
        }
    }
}

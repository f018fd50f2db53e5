//! The `hec:` settings: the HEC endpoints, token and metadata templates, batching and retries — the
//! forwarder's configuration section, which `logtrim replay` reads too (`--config`, `LOGTRIM_HEC_*`).
//!
//! [`HEC_SETTINGS`] is the table of them: each setting's dotted name (`hec.batch_bytes`), the variable that
//! overrides it (`LOGTRIM_HEC_BATCH_BYTES`), its help, and how a value sets it. Sizes take units (`1MB`,
//! `256KiB`, or plain bytes), durations `250ms`, `5s`, `2m` (or plain seconds); lists in variables are
//! comma-separated. The table type, [`Setting`], is generic over what it sets, so a front-end's own
//! table reads the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// A duration in the configuration: `250ms`, `5s`, `2m`, `1h` or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

/// A byte size in the configuration: `1MB` (10^6), `256KiB` (2^10), or a number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

/// Parses a duration setting.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?} (write e.g. 250ms, 5s, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown duration unit {unit:?} in {s:?} (use ms, s, m or h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration {s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a size setting.
pub fn parse_size(s: &str) -> Result<u64, String> {
    logtrim_core::budget::parse_size(s).map_err(|e| format!("{e} ({})", e.hint()))
}

/// Parses a boolean setting.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, not {s:?}")),
    }
}

/// Splits a list setting at commas.
pub fn parse_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}

/// A setting's value as given: a variable's text, or a YAML scalar, list or mapping.
pub enum Value<'a> {
    /// No value (`key:` alone).
    Null,
    /// A scalar, or a variable's text.
    Text(&'a str),
    /// A YAML list.
    List(Vec<&'a str>),
    /// A YAML mapping.
    Pairs(Vec<(&'a str, &'a str)>),
}

impl Value<'_> {
    /// One value as text.
    pub fn text(&self) -> Result<&str, String> {
        match self {
            Value::Text(t) => Ok(t),
            Value::Null => Err("a value is needed".into()),
            Value::List(_) => Err("expected one value, not a list".into()),
            Value::Pairs(_) => Err("expected one value, not a mapping".into()),
        }
    }

    /// A list: a YAML sequence, or text split at commas.
    pub fn list(&self) -> Result<Vec<String>, String> {
        match self {
            Value::Text(t) => Ok(parse_list(t)),
            Value::Null => Ok(Vec::new()),
            Value::List(l) => Ok(l.iter().map(|s| s.to_string()).collect()),
            Value::Pairs(_) => Err("expected a list, not a mapping".into()),
        }
    }

    /// Names and values: a YAML mapping, or text as `name=value,…`.
    pub fn pairs(&self) -> Result<BTreeMap<String, String>, String> {
        match self {
            Value::Text(t) => parse_list(t)
                .into_iter()
                .map(|p| p.split_once('=').map(|(k, t)| (k.trim().to_string(), t.trim().to_string())).ok_or(format!("expected name=template, not {p:?}")))
                .collect(),
            Value::Null => Ok(BTreeMap::new()),
            Value::Pairs(p) => Ok(p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            Value::List(_) => Err("expected a mapping of name: template, not a list".into()),
        }
    }
}

/// What the HEC `event` holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMode {
    /// The record the rules saw: `{"time","stream","log","kubernetes":{…}}` (what the Lambda sends).
    #[default]
    Record,
    /// Only the log message, as a string; put metadata in `hec.fields` (meters fewer licence bytes).
    Log,
}

/// The Splunk HEC sink.
#[derive(Clone, Debug)]
pub struct Hec {
    /// Base URLs (`https://splunk-1:8088`); requests are balanced over them.
    pub endpoints: Vec<String>,
    /// The HEC token (prefer `token_file` or the variable).
    pub token: String,
    /// A file holding the token (a mounted Secret).
    pub token_file: String,
    /// `record` or `log`.
    pub event: EventMode,
    /// `host` template.
    pub host: String,
    /// `source` template.
    pub source: String,
    /// `sourcetype` template.
    pub sourcetype: String,
    /// `index` template; empty leaves it to the token.
    pub index: String,
    /// Indexed fields: name → template.
    pub fields: BTreeMap<String, String>,
    /// Uncompressed bytes of events per request.
    pub batch_bytes: Size,
    /// A batch is sent at least this often.
    pub batch_time: Dur,
    /// gzip level 1–9, 0 for none.
    pub gzip_level: u32,
    /// Requests (or unacknowledged batches) in flight at once.
    pub max_in_flight: usize,
    /// Sealed batches waiting for a request slot; when full, reading pauses.
    pub queue_batches: usize,
    /// Timeout of one request.
    pub request_timeout: Dur,
    /// Timeout of connecting.
    pub connect_timeout: Dur,
    /// First retry delay (doubles per attempt, with jitter).
    pub retry_initial: Dur,
    /// Longest retry delay.
    pub retry_max: Dur,
    /// Wait for indexer acknowledgement before a batch counts as delivered.
    pub ack: bool,
    /// How often acknowledgements are polled.
    pub ack_poll_interval: Dur,
    /// Unacknowledged this long: the batch is sent again.
    pub ack_timeout: Dur,
    /// How often ejected endpoints are health-checked.
    pub health_interval: Dur,
    /// Consecutive failures that eject an endpoint (a connection error ejects at once).
    pub eject_after: u32,
    /// Verify TLS certificates.
    pub tls_verify: bool,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: String,
    /// Cap on the dead-letter directory; beyond it rejected batches are only counted.
    pub dead_letter_max_bytes: Size,
}

impl Default for Hec {
    fn default() -> Hec {
        Hec {
            endpoints: Vec::new(),
            token: String::new(),
            token_file: String::new(),
            event: EventMode::Record,
            host: "{node}".into(),
            source: "{namespace}/{pod}/{container}|{file}".into(),
            sourcetype: "kube:container:{container}|kube:container".into(),
            index: String::new(),
            fields: BTreeMap::new(),
            batch_bytes: Size(1_000_000),
            batch_time: Dur(Duration::from_secs(1)),
            gzip_level: 1,
            max_in_flight: 4,
            queue_batches: 2,
            request_timeout: Dur(Duration::from_secs(30)),
            connect_timeout: Dur(Duration::from_secs(5)),
            retry_initial: Dur(Duration::from_millis(250)),
            retry_max: Dur(Duration::from_secs(30)),
            ack: false,
            ack_poll_interval: Dur(Duration::from_secs(1)),
            ack_timeout: Dur(Duration::from_secs(120)),
            health_interval: Dur(Duration::from_secs(2)),
            eject_after: 3,
            tls_verify: true,
            ca_file: String::new(),
            dead_letter_max_bytes: Size(256 << 20),
        }
    }
}

/// One setting: its dotted name, its help text, and how a value (a variable's text, a file's YAML)
/// sets it.
pub struct Setting<C: 'static> {
    /// Dotted name as in the YAML file.
    pub key: &'static str,
    /// What it does (the README table's text).
    pub help: &'static str,
    /// Sets it from a value.
    pub set: fn(&mut C, Value<'_>) -> Result<(), String>,
}

impl<C> Setting<C> {
    /// The environment variable that overrides it.
    pub fn env(&self) -> String {
        format!("LOGTRIM_{}", self.key.replace('.', "_").to_ascii_uppercase())
    }
}

/// A [`Setting`] of `$t` whose setter takes its value as text (`$v: &str`); `list`: as a `Vec<String>`;
/// `pairs`: as a `BTreeMap<String, String>`.
#[macro_export]
macro_rules! setting {
    ($t:ty; $key:literal, $help:literal, |$c:ident, $v:ident| $body:expr) => {
        $crate::setting!(@ text, $t, $key, $help, |$c, $v| $body)
    };
    ($t:ty; list $key:literal, $help:literal, |$c:ident, $v:ident| $body:expr) => {
        $crate::setting!(@ list, $t, $key, $help, |$c, $v| $body)
    };
    ($t:ty; pairs $key:literal, $help:literal, |$c:ident, $v:ident| $body:expr) => {
        $crate::setting!(@ pairs, $t, $key, $help, |$c, $v| $body)
    };
    (@ $as:ident, $t:ty, $key:literal, $help:literal, |$c:ident, $v:ident| $body:expr) => {
        $crate::settings::Setting::<$t> {
            key: $key,
            help: $help,
            set: |$c: &mut $t, value: $crate::settings::Value<'_>| -> Result<(), String> {
                let $v = value.$as()?;
                $body;
                Ok(())
            },
        }
    };
}
/// Parses a setting that names one of an enum's values.
pub fn enum_value<T: for<'de> Deserialize<'de>>(v: &str) -> Result<T, String> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(v.trim()))
        .map_err(|e| e.to_string())
}

/// Every `hec.*` setting, in README order.
pub static HEC_SETTINGS: &[Setting<Hec>] = &[
    setting!(Hec; list "hec.endpoints", "HEC base URLs, comma-separated; requests are balanced over them", |c, v| c.endpoints = v),
    setting!(Hec; "hec.token", "the HEC token", |c, v| c.token = v.into()),
    setting!(Hec; "hec.token_file", "a file holding the token (a mounted Secret)", |c, v| c.token_file = v.into()),
    setting!(Hec; "hec.event", "`record` (the record the rules saw) or `log` (the message only)", |c, v| c.event = enum_value(v)?),
    setting!(Hec; "hec.host", "`host` template", |c, v| c.host = v.into()),
    setting!(Hec; "hec.source", "`source` template", |c, v| c.source = v.into()),
    setting!(Hec; "hec.sourcetype", "`sourcetype` template", |c, v| c.sourcetype = v.into()),
    setting!(Hec; "hec.index", "`index` template; empty: the token's default", |c, v| c.index = v.into()),
    setting!(Hec; pairs "hec.fields", "indexed fields, `name=template,…`", |c, v| c.fields = v),
    setting!(Hec; "hec.batch_bytes", "uncompressed event bytes per request (Splunk Cloud takes ~1 MB)", |c, v| c.batch_bytes = Size(parse_size(v)?)),
    setting!(Hec; "hec.batch_time", "a partly filled batch is sent after this long", |c, v| c.batch_time = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.gzip_level", "gzip level: 1, logtrim's one-pass encoder over each whole batch; 2–9, zlib-rs; 0 sends uncompressed", |c, v| c.gzip_level = v.trim().parse().map_err(|_| format!("not a level: {v:?}"))?),
    setting!(Hec; "hec.max_in_flight", "requests (and unacknowledged batches) at once", |c, v| c.max_in_flight = v.trim().parse().map_err(|_| format!("not a count: {v:?}"))?),
    setting!(Hec; "hec.queue_batches", "sealed batches waiting for a request slot; when full, reading pauses", |c, v| c.queue_batches = v.trim().parse().map_err(|_| format!("not a count: {v:?}"))?),
    setting!(Hec; "hec.request_timeout", "timeout of one request", |c, v| c.request_timeout = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.connect_timeout", "timeout of connecting", |c, v| c.connect_timeout = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.retry_initial", "first retry delay; doubles per attempt, full jitter", |c, v| c.retry_initial = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.retry_max", "longest retry delay", |c, v| c.retry_max = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.ack", "wait for indexer acknowledgement (the token must have it enabled)", |c, v| c.ack = parse_bool(v)?),
    setting!(Hec; "hec.ack_poll_interval", "how often acknowledgements are polled", |c, v| c.ack_poll_interval = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.ack_timeout", "unacknowledged this long: the batch is sent again", |c, v| c.ack_timeout = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.health_interval", "how often ejected endpoints are health-checked", |c, v| c.health_interval = Dur(parse_duration(v)?)),
    setting!(Hec; "hec.eject_after", "consecutive failures that eject an endpoint (connection errors eject at once)", |c, v| c.eject_after = v.trim().parse().map_err(|_| format!("not a count: {v:?}"))?),
    setting!(Hec; "hec.tls_verify", "verify TLS certificates", |c, v| c.tls_verify = parse_bool(v)?),
    setting!(Hec; "hec.ca_file", "extra CA certificates (PEM) to trust", |c, v| c.ca_file = v.into()),
    setting!(Hec; "hec.dead_letter_max_bytes", "cap on the dead-letter directory", |c, v| c.dead_letter_max_bytes = Size(parse_size(v)?)),
];

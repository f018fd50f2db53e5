//! Shared helpers: fixtures, rules, tools, ports and processes.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use logtrim_core::{Action, Decider, Record, RuleSet};
use logtrim_lambda::decode::{self, Payload};
use logtrim_lambda::event::FirehoseEvent;
use serde_json::Value;

pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn workspace_dir() -> PathBuf {
    manifest_dir().join("../..").canonicalize().unwrap()
}

pub fn fixture_path(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

pub fn fixture(name: &str) -> FirehoseEvent {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn bundled_rules_path() -> PathBuf {
    workspace_dir().join("filters/k8s-splunk.yaml")
}

pub fn bundled_rules() -> RuleSet {
    let text = std::fs::read_to_string(bundled_rules_path()).unwrap();
    RuleSet::from_yaml("filters/k8s-splunk.yaml", &text).unwrap_or_else(|d| panic!("{d}"))
}

/// One log event as the handler sees it: the record given to the rules, and what HEC `event` should be.
#[derive(Debug, Clone)]
pub struct Unit {
    pub record: Vec<u8>,
    pub event: Value,
}

/// Decodes a record's data independently of the transform: its units, or None when undecodable.
pub fn units(data: &str) -> Option<Vec<Unit>> {
    let d = decode::decode_data(data, decode::MAX_DECOMPRESSED).ok()?;
    Some(match &d.payload {
        Payload::CloudWatchControl => vec![],
        Payload::CloudWatch(cw) => cw
            .log_events
            .iter()
            .map(|e| {
                let mut rec = Vec::new();
                decode::cloudwatch_record(cw, e, &mut rec);
                Unit { record: rec, event: Value::String(e.message.clone()) }
            })
            .collect(),
        Payload::Lines(_) => {
            let mut out = Vec::new();
            for (_, l) in d.payload.lines() {
                let event = if decode::is_json_line(l) {
                    serde_json::from_slice(l).ok()?
                } else {
                    Value::String(String::from_utf8(l.to_vec()).ok()?)
                };
                out.push(Unit { record: l.to_vec(), event });
            }
            out
        }
    })
}

/// The units the rules keep, per an independent decider, with the event as sent: trimmed (`trim:`,
/// `sample_rate_field:`) — a JSON record by its fields, a text line or CloudWatch message as its text.
pub fn kept(units: &[Unit], decider: &mut Decider) -> Vec<Unit> {
    units
        .iter()
        .filter_map(|u| {
            // A text line or a CloudWatch message is sent as its text; a JSON record as itself.
            let record = match &u.event {
                Value::String(text) => Record::Event { record: &u.record, message: text.as_bytes() },
                _ => Record::Line(&u.record),
            };
            let mut d = decider.decide_uncounted(record);
            if d.action() != Action::Keep {
                return None;
            }
            let mut sent = Vec::new();
            d.write_kept(&mut sent);
            let event = match &u.event {
                Value::String(_) => Value::String(String::from_utf8(sent).unwrap()),
                _ => serde_json::from_slice(&sent).unwrap(),
            };
            Some(Unit { record: u.record.clone(), event })
        })
        .collect()
}

/// Whether an HEC event is a summary of dropped events (`summarize:`), not a kept event.
pub fn is_summary(e: &Value) -> bool {
    e["sourcetype"] == "logtrim:summary"
}

/// Parses stacked HEC event objects, checking each one's shape.
pub fn parse_hec(bytes: &[u8]) -> Vec<Value> {
    let events: Vec<Value> = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not stacked JSON objects: {e}: {}", String::from_utf8_lossy(bytes)));
    for e in &events {
        let o = e.as_object().expect("each HEC event is an object");
        assert!(o.contains_key("event"), "{e}");
        for (k, v) in o {
            match k.as_str() {
                "time" => assert!(v.is_number(), "{e}"),
                "host" | "source" | "sourcetype" | "index" => assert!(v.is_string(), "{e}"),
                "event" => assert!(!v.is_null(), "{e}"),
                "fields" => assert!(v.as_object().unwrap().values().all(Value::is_string), "{e}"),
                other => panic!("unexpected HEC key {other:?} in {e}"),
            }
        }
    }
    events
}

/// A tool from the project venv or PATH; panics (fails the test) with how to install it.
pub fn tool(name: &str) -> PathBuf {
    let venv = workspace_dir().join(".venv/bin").join(name);
    if venv.is_file() {
        return venv;
    }
    if let Some(p) = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()))
    {
        return p;
    }
    panic!("{name} not found in {} or on PATH: run `bash scripts/python-tools` first", venv.display());
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, timeout: Duration, child: &mut Child, what: &str, log: &Path) {
    let start = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on {port}:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        if start.elapsed() > timeout {
            panic!("{what} did not listen on {port} within {timeout:?}:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process group we started; terminated (group-wide, by its own id) when dropped.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `cmd` in a new process group, output to a log file outside the crate directory.
    pub fn start(mut cmd: Command, log_name: &str) -> Proc {
        use std::os::unix::process::CommandExt;
        let dir = std::env::temp_dir().join(format!("logtrim-lambda-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(log_name);
        let f = std::fs::File::create(&log).unwrap();
        cmd.stdout(f.try_clone().unwrap()).stderr(f).process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Proc { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}

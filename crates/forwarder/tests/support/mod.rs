//! Shared test helpers: the forwarder binary as a process, container log writers, waiting.

#![allow(dead_code)]

pub use logtrim_testkit::hec;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "00000000-0000-4000-8000-000000000001";
pub const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Rules for the end-to-end tests: drop lines marked DROP and everything from namespace `quiet`.
pub const RULES: &str = r#"name: e2e
rules:
  - name: drop-marked
    when: log contains "DROP"
    action: drop
  - name: drop-quiet-namespace
    when: kubernetes.namespace_name == "quiet"
    action: drop
default:
  action: keep
"#;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh directory under the system temp dir (outside the crate), removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("logtrim-fwd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A test setup: directories for logs and state, the rules file, the environment.
pub struct Setup {
    pub dir: TempDir,
    pub logs: PathBuf,
    pub state: PathBuf,
    pub rules: PathBuf,
    pub listen: u16,
    pub env: Vec<(String, String)>,
}

impl Setup {
    pub fn new(name: &str, hec_url: &str) -> Setup {
        let dir = TempDir::new(name);
        let logs = dir.path().join("containers");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&logs).unwrap();
        let rules = dir.path().join("rules.yaml");
        std::fs::write(&rules, RULES).unwrap();
        let listen = free_port();
        let env = [
            ("LOGTRIM_HEC_ENDPOINTS", hec_url.to_string()),
            ("LOGTRIM_HEC_TOKEN", TOKEN.to_string()),
            ("LOGTRIM_RULES_FILE", rules.display().to_string()),
            ("LOGTRIM_STATE_DIR", state.display().to_string()),
            ("LOGTRIM_INPUTS_PATHS", format!("{}/*.log", logs.display())),
            ("LOGTRIM_LISTEN", format!("127.0.0.1:{listen}")),
            ("LOGTRIM_NODE_NAME", "test-node".into()),
            ("LOGTRIM_INPUTS_POLL_INTERVAL", "50ms".into()),
            ("LOGTRIM_INPUTS_DISCOVER_INTERVAL", "200ms".into()),
            ("LOGTRIM_INPUTS_ROTATE_WAIT", "1s".into()),
            ("LOGTRIM_INPUTS_CHECKPOINT_INTERVAL", "100ms".into()),
            ("LOGTRIM_HEC_BATCH_TIME", "200ms".into()),
            ("LOGTRIM_HEC_BATCH_BYTES", "64KiB".into()),
            ("LOGTRIM_HEC_RETRY_INITIAL", "50ms".into()),
            ("LOGTRIM_HEC_RETRY_MAX", "1s".into()),
            ("LOGTRIM_HEC_HEALTH_INTERVAL", "300ms".into()),
            ("LOGTRIM_HEC_ACK_POLL_INTERVAL", "100ms".into()),
            ("LOGTRIM_RELOAD_INTERVAL", "200ms".into()),
            ("LOGTRIM_SHUTDOWN_DEADLINE", "5s".into()),
            ("LOGTRIM_LOG_FORMAT", "text".into()),
            ("LOGTRIM_LOG_LEVEL", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Setup { dir, logs, state, rules, listen, env }
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(x, _)| x != k);
        self.env.push((k.into(), v.into()));
    }

    /// A `/var/log/containers` style file name.
    pub fn log_path(&self, pod: &str, ns: &str, container: &str) -> PathBuf {
        self.logs.join(format!("{pod}_{ns}_{container}-{CID}.log"))
    }

    pub fn start(&self, tag: &str) -> Forwarder {
        let log = self.dir.path().join(format!("forwarder-{tag}.log"));
        let f = File::create(&log).unwrap();
        // LOGTRIM_FORWARDER_BIN runs another build under the same harness (e.g. one with frame
        // pointers for `perf record -g`).
        let bin = std::env::var_os("LOGTRIM_FORWARDER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_logtrim-forwarder").into());
        let mut cmd = Command::new(bin);
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(f.try_clone().unwrap()).stderr(f);
        let child = cmd.spawn().expect("start logtrim-forwarder");
        Forwarder { child: Some(child), log, port: self.listen }
    }
}

pub struct Forwarder {
    pub child: Option<Child>,
    pub log: PathBuf,
    pub port: u16,
}

impl Forwarder {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    pub fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some((200, _)) = self.get("/readyz") {
                return;
            }
            if let Some(Ok(Some(s))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("forwarder exited ({s}):\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("forwarder not ready within {timeout:?}:\n{}", self.log_text());
    }

    /// A counter or gauge from /metrics (summed over label sets that contain `labels`).
    pub fn metric(&self, name: &str, labels: &str) -> f64 {
        let Some((_, text)) = self.get("/metrics") else { return f64::NAN };
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.split(['{', ' ']).next() == Some(name) && l.contains(labels))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]).status();
    }

    /// Waits for exit; the status code and how long it took.
    pub fn wait_exit(&mut self, timeout: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        let child = self.child.as_mut().unwrap();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = child.try_wait() {
                self.child = None;
                return (s.code(), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("forwarder did not exit within {timeout:?}:\n{}", self.log_text());
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Peak resident set size (VmHWM) in KiB.
    pub fn vm_hwm_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP/1.1 GET on 127.0.0.1.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Waits until `f` holds, or panics with `what` and the forwarder's log.
pub fn wait_until(timeout: Duration, what: &str, fwd: Option<&Forwarder>, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}\n{}", fwd.map(|f| f.log_text()).unwrap_or_default());
}

/// A container log file being written, in CRI or Docker json-file format.
pub struct LogWriter {
    pub path: PathBuf,
    file: File,
    pub docker: bool,
    n: u64,
}

impl LogWriter {
    pub fn new(path: PathBuf, docker: bool) -> LogWriter {
        let file = OpenOptions::new().create(true).append(true).open(&path).unwrap();
        LogWriter { path, file, docker, n: 0 }
    }

    /// Reopens the path (after a rename rotation).
    pub fn reopen(&mut self) {
        self.file = OpenOptions::new().create(true).append(true).open(&self.path).unwrap();
    }

    fn time(&mut self) -> String {
        self.n += 1;
        format!("2026-11-22T10:{:02}:{:02}.{:09}Z", self.n / 60000 % 60, self.n / 1000 % 60, self.n % 1000 * 1000)
    }

    /// Where the next line starts in the file.
    pub fn position(&self) -> u64 {
        self.file.metadata().map_or(0, |m| m.len())
    }

    /// Writes one line with `id`; `drop` marks it for the drop rule. Returns the line's `log` text.
    pub fn line(&mut self, id: &str, drop: bool, filler: usize) -> String {
        self.tagged(id, if drop { "DROP " } else { "" }, filler)
    }

    /// Writes one line with `id` and `tag` (a word for rules to match, with its trailing space).
    pub fn tagged(&mut self, id: &str, tag: &str, filler: usize) -> String {
        let text = format!("id={id} {tag}msg=\"hello \\ world\" {}", "x".repeat(filler));
        let t = self.time();
        let line = if self.docker {
            format!("{}\n", serde_json::json!({"log": format!("{text}\n"), "stream": "stdout", "time": t}))
        } else {
            format!("{t} stdout F {text}\n")
        };
        self.file.write_all(line.as_bytes()).unwrap();
        text
    }

    /// Writes one message split into `parts` partial lines (CRI `P` or Docker parts without `\n`).
    pub fn split_line(&mut self, id: &str, parts: usize, part_len: usize) -> String {
        let text = format!("id={id} {}", "p".repeat(parts * part_len));
        let bytes = text.as_bytes();
        let chunk = bytes.len().div_ceil(parts);
        let mut out = String::new();
        for (i, c) in bytes.chunks(chunk).enumerate() {
            let last = i == bytes.len().div_ceil(chunk) - 1;
            let c = std::str::from_utf8(c).unwrap();
            let t = self.time();
            if self.docker {
                let log = if last { format!("{c}\n") } else { c.to_string() };
                out.push_str(&format!("{}\n", serde_json::json!({"log": log, "stream": "stderr", "time": t})));
            } else {
                out.push_str(&format!("{t} stderr {} {c}\n", if last { "F" } else { "P" }));
            }
        }
        self.file.write_all(out.as_bytes()).unwrap();
        text
    }

    pub fn raw(&mut self, s: &str) {
        self.file.write_all(s.as_bytes()).unwrap();
    }
}

/// Checks delivery: every `kept` id arrived at least once, no `dropped` id arrived; returns the number
/// of duplicates.
pub fn check_delivery(got: &HashMap<String, u32>, kept: &[String], dropped: &[String]) -> u64 {
    let missing: Vec<&String> = kept.iter().filter(|id| !got.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} of {} kept lines never arrived, e.g. {:?}", missing.len(), kept.len(), &missing[..missing.len().min(5)]);
    let leaked: Vec<&String> = dropped.iter().filter(|id| got.contains_key(*id)).collect();
    assert!(leaked.is_empty(), "{} dropped lines arrived, e.g. {:?}", leaked.len(), &leaked[..leaked.len().min(5)]);
    let unexpected = got.len() - kept.len();
    assert_eq!(unexpected, 0, "ids that were never written arrived");
    got.values().map(|&n| u64::from(n) - 1).sum()
}

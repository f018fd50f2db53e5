//! The `--html` pages in a real headless browser: Debian's `chromium`, driven over the DevTools protocol.
//!
//! Chromium is started with `--remote-debugging-pipe`: it reads commands from file descriptor 3 and
//! writes answers and events to 4, each a JSON message ended by a NUL byte, so no WebSocket is needed.
//! Each page is loaded from its file; the test collects every console message, uncaught exception and
//! log entry, measures every chart (`svg.chart`) with `getBoundingClientRect`, and keeps a full-page
//! screenshot under `target/test-artifacts/`.
//!
//! `scripts/test` installs `chromium` and sets `LOGTRIM_BROWSER_TESTS=1`, which makes a missing browser
//! a failure; elsewhere the test says it was skipped. `CHROMIUM` names another binary.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::*;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n))).find(|p| p.is_file())
}

/// A pipe as (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes; both are new and owned here.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: pipe(2) succeeded, so both are open descriptors that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A browser and its protocol pipes.
struct Browser {
    child: Child,
    commands: std::fs::File,
    messages: mpsc::Receiver<Value>,
    next: u64,
    /// Events seen while waiting for answers.
    events: Vec<Value>,
    _profile: Scratch,
}

impl Browser {
    fn start(bin: &Path) -> Browser {
        let profile = Scratch::new("chromium-profile");
        let (cmd_read, cmd_write) = pipe();
        let (msg_read, msg_write) = pipe();
        let (r, w) = (std::os::fd::AsRawFd::as_raw_fd(&cmd_read), std::os::fd::AsRawFd::as_raw_fd(&msg_write));
        let mut command = Command::new(bin);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only dup2(2), which is async-signal-safe, is called; it puts the
        // pipe ends where Chromium's --remote-debugging-pipe expects them (3 in, 4 out).
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start chromium");
        drop((cmd_read, msg_write));
        let (tx, rx) = mpsc::channel();
        let mut reader = BufReader::new(std::fs::File::from(msg_read));
        std::thread::spawn(move || {
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        Browser { child, commands: std::fs::File::from(cmd_write), messages: rx, next: 0, events: Vec::new(), _profile: profile }
    }

    /// Sends a command (to a page's session, if given) and waits for its answer.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.messages.recv_timeout(left).unwrap_or_else(|_| panic!("no answer to {method} within a minute"));
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits for an event of `method`.
    fn wait(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.messages.recv_timeout(left).unwrap_or_else(|_| panic!("no {method} within a minute"));
            let done = v["method"] == method;
            self.events.push(v);
            if done {
                return;
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What loading a page showed: console and log problems, chart sizes, and a screenshot.
struct Loaded {
    problems: Vec<String>,
    charts: Vec<(String, f64, f64)>,
    png: Vec<u8>,
}

fn load(browser: &mut Browser, page: &Path) -> Loaded {
    let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"}));
    let attached = browser.call(None, "Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true}));
    let session = attached["sessionId"].as_str().expect("a session").to_string();
    let s = Some(session.as_str());
    for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
        browser.call(s, domain, json!({}));
    }
    browser.call(s, "Emulation.setDeviceMetricsOverride", json!({"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": false}));
    browser.events.clear();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    browser.call(s, "Page.navigate", json!({"url": url}));
    browser.wait("Page.loadEventFired");
    let measured = browser.call(
        s,
        "Runtime.evaluate",
        json!({
            "expression": "JSON.stringify([...document.querySelectorAll('svg.chart')].map(e => { const r = e.getBoundingClientRect(); return [e.id, r.width, r.height]; }))",
            "returnByValue": true,
        }),
    );
    let charts: Vec<(String, f64, f64)> = serde_json::from_str(measured["result"]["value"].as_str().expect("the charts' sizes")).unwrap();
    let shot = browser.call(s, "Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
    let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("screenshot data")).unwrap();
    let problems = browser
        .events
        .iter()
        .filter(|e| e["sessionId"] == json!(session))
        .filter_map(|e| match e["method"].as_str() {
            Some("Runtime.exceptionThrown") => Some(format!("exception: {}", e["params"]["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if matches!(e["params"]["type"].as_str(), Some("error" | "warning" | "assert")) => Some(format!("console: {}", e["params"]["args"])),
            Some("Log.entryAdded") if matches!(e["params"]["entry"]["level"].as_str(), Some("error" | "warning")) => Some(format!("log: {}", e["params"]["entry"])),
            _ => None,
        })
        .collect();
    browser.call(None, "Target.closeTarget", json!({"targetId": target["targetId"]}));
    Loaded { problems, charts, png }
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn report_and_suggest_pages_load_cleanly_in_chromium_with_every_chart_drawn() {
    let Some(bin) = chromium() else {
        assert!(std::env::var_os("LOGTRIM_BROWSER_TESTS").is_none(), "LOGTRIM_BROWSER_TESTS is set but no chromium was found (scripts/test installs it)");
        eprintln!("skipped: no chromium on PATH (scripts/test installs it; set CHROMIUM to use another)");
        return;
    };
    let dir = Scratch::new("html");
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let rules = filter("k8s-splunk.yaml");
    let report = dir.0.join("report.html");
    let o = logtrim(&["report", "--budget", "2GB", "--rate", "8GB", "--html", s(&report), s(&rules), s(&sample)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let suggest = dir.0.join("suggest.html");
    let o = logtrim(&["suggest", "--html", s(&suggest), s(&rules), s(&sample)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut browser = Browser::start(&bin);
    for (page, name, want) in [(&report, "report", ["rules-chart", "per-day-chart", "templates-chart", "budget-chart"].as_slice()), (&suggest, "suggest", &["rules-chart", "per-day-chart", "templates-chart"])] {
        let loaded = load(&mut browser, page);
        let shot = artifacts().join(format!("{name}.png"));
        std::fs::write(&shot, &loaded.png).unwrap();
        assert!(loaded.problems.is_empty(), "{name}: {:?}", loaded.problems);
        let ids: Vec<&str> = loaded.charts.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(ids, want, "{name}");
        for (id, w, h) in &loaded.charts {
            assert!(*w > 100.0 && *h > 50.0, "{name}: chart {id} is {w}×{h}");
        }
        // A PNG, of the whole page.
        assert!(loaded.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let height = u32::from_be_bytes(loaded.png[20..24].try_into().unwrap());
        assert!(height > 900, "{name}: the screenshot is {height} pixels high: not the whole page");
        eprintln!("{name}: {} charts, screenshot {}", loaded.charts.len(), shot.display());
    }
    let _ = browser.call(None, "Browser.close", json!({}));
}

/// A page with a broken script must fail the checks above: the console is read.
#[test]
fn a_console_error_is_seen() {
    let Some(bin) = chromium() else { return };
    let dir = Scratch::new("html-broken");
    let page = dir.file("broken.html", b"<!DOCTYPE html><html><body><svg class=\"chart\" id=\"c\" width=\"300\" height=\"100\"></svg><script>console.error('boom'); nosuchfunction();</script></body></html>");
    let mut browser = Browser::start(&bin);
    let loaded = load(&mut browser, &page);
    assert!(loaded.problems.iter().any(|p| p.contains("boom")), "{:?}", loaded.problems);
    assert!(loaded.problems.iter().any(|p| p.starts_with("exception")), "{:?}", loaded.problems);
    assert_eq!(loaded.charts, [("c".to_string(), 300.0, 100.0)]);
    let _ = browser.call(None, "Browser.close", json!({}));
}

//! A Splunk HEC receiver for tests and the benchmark, on 127.0.0.1: `/services/collector/event`
//! (gzip or plain, stacked events), `/services/collector/ack`, `/services/collector/health`, with the
//! documented answers: 200 code 0 (with `ackId` when ack is on), 503 code 9 (busy), 403 code 4
//! (invalid token), 400 code 6 (invalid data), 400 code 10 (ack on, no channel); and a mode in which
//! it does not listen at all (connection refused), closing every open connection. Two modes are what
//! a receiver that is not HEC does: a proxy's login page with 200, and an answer cut short (the status
//! line and part of the body, then the connection closes); neither indexes the events.

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// How the receiver answers event posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200, code 0.
    Ok,
    /// 503, code 9 (health: 503 code 18).
    Busy,
    /// 403, code 4.
    InvalidToken,
    /// 400, code 6.
    InvalidData,
    /// 200 with a proxy's HTML login page (health checks too).
    LoginPage,
    /// 200 and the start of HEC's success reply, then the connection closes.
    CutShort,
}

/// What was received.
#[derive(Default)]
pub struct Received {
    /// Line id → times received.
    pub ids: HashMap<String, u32>,
    /// Events received (accepted requests only).
    pub events: u64,
    /// Events in the largest accepted request.
    pub max_events_per_request: u64,
    /// Raw `event` values, when `keep_events` is on.
    pub raw: Vec<serde_json::Value>,
}

/// One channel's next ack id and the ids not read yet, with when they turn true.
type AckChannel = (u64, HashMap<u64, Instant>);

pub struct State {
    pub mode: Mutex<Mode>,
    pub ack: AtomicBool,
    /// Acks turn true this long after the post.
    pub ack_delay: Mutex<Duration>,
    pub token: String,
    pub keep_events: AtomicBool,
    /// Only count events (benchmark): no JSON parsing.
    pub count_only: AtomicBool,
    pub received: Mutex<Received>,
    /// Requests by HTTP status.
    pub statuses: Mutex<HashMap<u16, u64>>,
    pub ack_polls: AtomicU64,
    /// HEC success replies sent whole (`{"text":"Success","code":0}`), i.e. receipts.
    pub receipts: AtomicU64,
    /// Event posts answered with the login page, and cut short.
    pub login_pages: AtomicU64,
    pub cut: AtomicU64,
    pub health_checks: AtomicU64,
    acks: Mutex<HashMap<String, AckChannel>>,
    pub wire_bytes: AtomicU64,
    /// When the last accepted event post arrived.
    pub last_post: Mutex<Option<Instant>>,
}

pub struct Receiver {
    pub port: u16,
    pub state: Arc<State>,
    rt: tokio::runtime::Runtime,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn json(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed())
        .unwrap()
}

const LOGIN_PAGE: &str = "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action=\"/login\" method=\"post\">User <input name=\"u\"> Password <input name=\"p\" type=\"password\"></form></body></html>";

fn login_page() -> Response<Body> {
    Response::builder()
        .status(200)
        .header("content-type", "text/html")
        .body(Full::new(Bytes::from(LOGIN_PAGE)).map_err(|e| match e {}).boxed())
        .unwrap()
}

/// A body that sends its first bytes, waits a moment so they reach the client, then fails: hyper
/// closes the connection in the middle of the response.
struct CutShort {
    head: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for CutShort {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(b) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err("connection closed mid-response".into()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn cut_short() -> Response<Body> {
    let body = CutShort { head: Some(Bytes::from_static(br#"{"text":"Succ"#)), pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))) };
    Response::builder().status(200).header("content-type", "application/json").body(body.boxed()).unwrap()
}

/// The `id=<token>` in a log line, if any.
pub fn line_id(s: &str) -> Option<&str> {
    let i = s.find("id=")?;
    let rest = &s[i + 3..];
    Some(&rest[..rest.find([' ', '"', '\\']).unwrap_or(rest.len())])
}

impl Receiver {
    pub fn start(token: &str) -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Ok),
            ack: AtomicBool::new(false),
            ack_delay: Mutex::new(Duration::from_millis(300)),
            token: token.to_string(),
            keep_events: AtomicBool::new(false),
            count_only: AtomicBool::new(false),
            received: Mutex::new(Received::default()),
            statuses: Mutex::new(HashMap::new()),
            ack_polls: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            login_pages: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            health_checks: AtomicU64::new(0),
            acks: Mutex::new(HashMap::new()),
            wire_bytes: AtomicU64::new(0),
            last_post: Mutex::new(None),
        });
        let listener = rt.block_on(bind(0));
        let port = listener.local_addr().unwrap().port();
        let r = Receiver { port, state, rt, server: Mutex::new(None) };
        r.serve(listener);
        r
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let state = Arc::clone(&self.state);
        let h = self.rt.spawn(async move {
            // Dropping this task drops the set: every connection is closed with the listener.
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let st = Arc::clone(&state);
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let st = Arc::clone(&st);
                        async move { Ok::<_, hyper::Error>(handle(req, &st).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
                while conns.try_join_next().is_some() {}
            }
        });
        *self.server.lock().unwrap() = Some(h);
    }

    /// Stops listening and closes every connection: clients get connection refused.
    pub fn go_down(&self) {
        if let Some(h) = self.server.lock().unwrap().take() {
            h.abort();
            let _ = self.rt.block_on(h);
        }
    }

    /// Listens again on the same port.
    pub fn come_up(&self) {
        let listener = self.rt.block_on(bind(self.port));
        self.serve(listener);
    }

    pub fn set_mode(&self, m: Mode) {
        *self.state.mode.lock().unwrap() = m;
    }

    pub fn ids(&self) -> HashMap<String, u32> {
        self.state.received.lock().unwrap().ids.clone()
    }

    pub fn events(&self) -> u64 {
        self.state.received.lock().unwrap().events
    }

    pub fn status_count(&self, s: u16) -> u64 {
        self.state.statuses.lock().unwrap().get(&s).copied().unwrap_or(0)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.go_down();
    }
}

async fn bind(port: u16) -> tokio::net::TcpListener {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..100 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.set_reuseaddr(true).unwrap();
        if s.bind(addr).is_ok() {
            return s.listen(128).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot bind {addr}");
}

async fn handle(req: Request<Incoming>, st: &State) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let mode = *st.mode.lock().unwrap();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (auth, enc, channel) = (header("authorization"), header("content-encoding"), header("x-splunk-request-channel"));
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let resp = match path.as_str() {
        "/services/collector/health" => {
            st.health_checks.fetch_add(1, Ordering::Relaxed);
            match mode {
                Mode::Busy => json(503, r#"{"text":"HEC is unhealthy, queues are full","code":18}"#.into()),
                Mode::LoginPage => login_page(),
                _ => json(200, r#"{"text":"HEC is healthy","code":17}"#.into()),
            }
        }
        "/services/collector/ack" => {
            st.ack_polls.fetch_add(1, Ordering::Relaxed);
            let ch = query.strip_prefix("channel=").map(str::to_string).or(channel).unwrap_or_default();
            let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut acks = st.acks.lock().unwrap();
            let book = acks.entry(ch).or_default();
            let mut out = serde_json::Map::new();
            for id in asked["acks"].as_array().cloned().unwrap_or_default() {
                let id = id.as_u64().unwrap_or(u64::MAX);
                let ready = book.1.get(&id).is_some_and(|t| Instant::now() >= *t);
                if ready {
                    // A status is gone once read.
                    book.1.remove(&id);
                }
                out.insert(id.to_string(), ready.into());
            }
            json(200, serde_json::json!({ "acks": out }).to_string())
        }
        "/services/collector/event" | "/services/collector" => {
            st.wire_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
            if auth.as_deref() != Some(&format!("Splunk {}", st.token)) || mode == Mode::InvalidToken {
                json(403, r#"{"text":"Invalid token","code":4}"#.into())
            } else if mode == Mode::Busy {
                json(503, r#"{"text":"Server is busy","code":9}"#.into())
            } else if mode == Mode::InvalidData {
                json(400, r#"{"text":"Invalid data format","code":6,"invalid-event-number":0}"#.into())
            } else if mode == Mode::LoginPage {
                st.login_pages.fetch_add(1, Ordering::Relaxed);
                login_page()
            } else if mode == Mode::CutShort {
                st.cut.fetch_add(1, Ordering::Relaxed);
                cut_short()
            } else if st.ack.load(Ordering::Relaxed) && channel.is_none() {
                json(400, r#"{"text":"Data channel is missing","code":10}"#.into())
            } else {
                let raw = if enc.as_deref() == Some("gzip") {
                    let mut out = Vec::new();
                    if flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
                        return json(400, r#"{"text":"Invalid data format","code":6}"#.into());
                    }
                    out
                } else {
                    body.to_vec()
                };
                *st.last_post.lock().unwrap() = Some(Instant::now());
                if !record(st, &raw) {
                    json(400, r#"{"text":"Invalid data format","code":6}"#.into())
                } else if st.ack.load(Ordering::Relaxed) {
                    let delay = *st.ack_delay.lock().unwrap();
                    let mut acks = st.acks.lock().unwrap();
                    let book = acks.entry(channel.unwrap_or_default()).or_default();
                    let id = book.0;
                    book.0 += 1;
                    book.1.insert(id, Instant::now() + delay);
                    st.receipts.fetch_add(1, Ordering::Relaxed);
                    json(200, format!(r#"{{"text":"Success","code":0,"ackId":{id}}}"#))
                } else {
                    st.receipts.fetch_add(1, Ordering::Relaxed);
                    json(200, r#"{"text":"Success","code":0}"#.into())
                }
            }
        }
        _ => json(404, r#"{"text":"The requested URL was not found on this server.","code":404}"#.into()),
    };
    *st.statuses.lock().unwrap().entry(resp.status().as_u16()).or_default() += 1;
    resp
}

/// Records a request's events; false when the body is not stacked HEC event objects.
fn record(st: &State, raw: &[u8]) -> bool {
    if st.count_only.load(Ordering::Relaxed) {
        let n = memchr::memmem::find_iter(raw, b"\"event\":").count() as u64;
        let mut r = st.received.lock().unwrap();
        r.events += n;
        r.max_events_per_request = r.max_events_per_request.max(n);
        return true;
    }
    let mut parsed = Vec::new();
    for v in serde_json::Deserializer::from_slice(raw).into_iter::<serde_json::Value>() {
        match v {
            Ok(v) if v.get("event").is_some() => parsed.push(v),
            _ => return false,
        }
    }
    let keep = st.keep_events.load(Ordering::Relaxed);
    let mut r = st.received.lock().unwrap();
    r.events += parsed.len() as u64;
    r.max_events_per_request = r.max_events_per_request.max(parsed.len() as u64);
    for v in parsed {
        let ev = &v["event"];
        let text = ev.get("log").and_then(|l| l.as_str()).or(ev.as_str()).unwrap_or_default();
        if let Some(id) = line_id(text) {
            *r.ids.entry(id.to_string()).or_default() += 1;
        }
        if keep {
            r.raw.push(v);
        }
    }
    true
}

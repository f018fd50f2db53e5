//! A seeded, deterministic generator of Fluent Bit Kubernetes records, for benchmarks and tests.
//!
//! Each record is one JSON line as Fluent Bit's `kubernetes` filter emits it (CRI runtime, so `log` has no
//! trailing newline):
//! `{"log":"…","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z","kubernetes":{…}}`, about 900 bytes
//! on average. The `log` payloads mix what a cluster shipping to Splunk sees: ingress-nginx and nginx access
//! lines (mostly 2xx, kubelet probes on `/healthz` and `/readyz`), Istio sidecar access logs in text and JSON,
//! JSON application logs (string and pino numeric levels), logfmt, log4j with multi-line Java stack traces
//! (one record per line, as a container runtime writes them) and klog lines from `kube-system`.
//!
//! The generator uses its own SplitMix64, not the `rand` crate, so the bytes for a seed never change when
//! dependencies are upgraded: benchmark inputs stay comparable across versions.

use std::collections::VecDeque;

/// Relative weights of the kinds of `log` payload. A weight of 0 turns a kind off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    /// ingress-nginx controller access lines (`ingress_nginx` format).
    pub ingress_nginx: u32,
    /// nginx web servers, `combined` format (with kubelet probes).
    pub nginx_combined: u32,
    /// Istio sidecar (`istio-proxy`) access lines in Istio's default text format.
    pub envoy_text: u32,
    /// Istio sidecar access lines in Istio's JSON encoding.
    pub envoy_json: u32,
    /// JSON application logs: `level`/`msg`/`trace_id`, some with pino numeric levels.
    pub json_app: u32,
    /// logfmt application logs (`time=… level=… msg=…`).
    pub logfmt: u32,
    /// log4j lines from a Java service; errors are followed by their stack trace, one record per line.
    pub log4j: u32,
    /// klog lines from `kube-system` components (`I1122 10:00:00.123456 …`).
    pub klog: u32,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix { ingress_nginx: 30, nginx_combined: 10, envoy_text: 15, envoy_json: 5, json_app: 20, logfmt: 8, log4j: 7, klog: 5 }
    }
}

/// How a corpus is generated: the mix and the time range its records cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Payload weights.
    pub mix: Mix,
    /// Time of the first record, in seconds since the Unix epoch (default 2026-11-22T00:00:00Z).
    pub start_unix: u64,
    /// Seconds covered by `span_bytes` of output (default three days).
    pub span_secs: u64,
    /// Output size over which `span_secs` elapse; times keep increasing at the same pace past it.
    pub span_bytes: u64,
}

/// 2026-11-22T00:00:00Z.
const START_UNIX: u64 = 1_795_305_600;

impl Default for Config {
    fn default() -> Config {
        Config { mix: Mix::default(), start_unix: START_UNIX, span_secs: 3 * 86_400, span_bytes: 64 << 20 }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fully specified here.
#[derive(Clone, Debug)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is far below anything a corpus can show).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub(crate) fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize])).collect()
    }

    pub(crate) fn alnum(&mut self, n: usize) -> String {
        // Kubernetes' pod-name suffix alphabet (no vowels, no ambiguous characters).
        (0..n).map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[self.below(27) as usize])).collect()
    }

    pub(crate) fn uuid(&mut self) -> String {
        format!("{}-{}-4{}-{}{}-{}", self.hex(8), self.hex(4), self.hex(3), self.pick(&['8', '9', 'a', 'b']), self.hex(3), self.hex(12))
    }
}

/// A broken-down UTC time with nanoseconds.
#[derive(Clone, Copy, Debug)]
struct Time {
    unix: u64,
    nanos: u32,
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl Time {
    /// (year, month 1-12, day, hour, minute, second), by Howard Hinnant's days-to-civil algorithm.
    fn civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let days = (self.unix / 86_400) as i64;
        let secs = (self.unix % 86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
    }

    /// `2026-11-22T10:00:00.123456789Z` (Fluent Bit's `time`).
    fn rfc3339_nanos(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:09}Z", self.nanos)
    }

    /// `2026-11-22T10:00:00.123Z` (Envoy `START_TIME`, zap, logfmt).
    fn rfc3339_millis(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z", self.nanos / 1_000_000)
    }

    /// `22/Nov/2026:10:00:00 +0000` (nginx `$time_local` on a UTC node).
    fn nginx(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000", MONTHS[mo as usize - 1])
    }

    /// `2026-11-22 10:00:00,123` (log4j's default ISO8601 layout).
    fn log4j(self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02},{:03}", self.nanos / 1_000_000)
    }

    /// `1122 10:00:00.123456` (klog, after the severity letter).
    fn klog(self) -> String {
        let (_, mo, d, h, mi, s) = self.civil();
        format!("{mo:02}{d:02} {h:02}:{mi:02}:{s:02}.{:06}", self.nanos / 1000)
    }

    fn epoch_millis(self) -> u64 {
        self.unix * 1000 + u64::from(self.nanos / 1_000_000)
    }
}

/// The kinds of payload, in [`Mix`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ingress,
    Nginx,
    EnvoyText,
    EnvoyJson,
    JsonApp,
    Logfmt,
    Log4j,
    Klog,
}

const KINDS: [Kind; 8] = [Kind::Ingress, Kind::Nginx, Kind::EnvoyText, Kind::EnvoyJson, Kind::JsonApp, Kind::Logfmt, Kind::Log4j, Kind::Klog];

/// One running container: the `kubernetes` object Fluent Bit attaches, pre-rendered.
#[derive(Clone, Debug)]
struct Pod {
    /// The serialised `"kubernetes":{…}` member.
    meta: String,
    pod_name: String,
    namespace: &'static str,
    app: &'static str,
}

/// A deployment whose pods produce one kind of payload.
struct Workload {
    kind: Kind,
    namespace: &'static str,
    app: &'static str,
    container: &'static str,
    image: &'static str,
    replicas: usize,
}

const WORKLOADS: &[Workload] = &[
    Workload { kind: Kind::Ingress, namespace: "ingress-nginx", app: "ingress-nginx-controller", container: "controller", image: "registry.k8s.io/ingress-nginx/controller:v1.11.3", replicas: 3 },
    Workload { kind: Kind::Nginx, namespace: "web", app: "storefront", container: "nginx", image: "docker.io/library/nginx:1.27.3", replicas: 4 },
    Workload { kind: Kind::Nginx, namespace: "web", app: "docs", container: "nginx", image: "docker.io/library/nginx:1.27.3-alpine", replicas: 2 },
    Workload { kind: Kind::EnvoyText, namespace: "shop", app: "checkout", container: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.1", replicas: 3 },
    Workload { kind: Kind::EnvoyText, namespace: "shop", app: "cart", container: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.1", replicas: 3 },
    Workload { kind: Kind::EnvoyJson, namespace: "payments", app: "payments-api", container: "istio-proxy", image: "docker.io/istio/proxyv2:1.24.1", replicas: 2 },
    Workload { kind: Kind::JsonApp, namespace: "shop", app: "checkout", container: "checkout", image: "ghcr.io/example/checkout:2.14.0", replicas: 3 },
    Workload { kind: Kind::JsonApp, namespace: "shop", app: "cart", container: "cart", image: "ghcr.io/example/cart-node:5.2.1", replicas: 3 },
    Workload { kind: Kind::Logfmt, namespace: "payments", app: "payments-api", container: "api", image: "ghcr.io/example/payments-api:1.9.4", replicas: 2 },
    Workload { kind: Kind::Log4j, namespace: "orders", app: "orders", container: "orders", image: "ghcr.io/example/orders-service:3.7.2", replicas: 2 },
    Workload { kind: Kind::Klog, namespace: "kube-system", app: "kube-proxy", container: "kube-proxy", image: "registry.k8s.io/kube-proxy:v1.31.2", replicas: 3 },
    Workload { kind: Kind::Klog, namespace: "kube-system", app: "coredns", container: "coredns", image: "registry.k8s.io/coredns/coredns:v1.11.3", replicas: 2 },
];

/// Escapes a string for a JSON string body.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape(s, &mut out);
    out.push('"');
    out
}

fn make_pods(rng: &mut Rng) -> Vec<Vec<Pod>> {
    let nodes: Vec<String> = (0..6).map(|_| format!("ip-10-0-{}-{}.ec2.internal", rng.range(0, 63), rng.range(2, 254))).collect();
    WORKLOADS
        .iter()
        .map(|w| {
            let rs = rng.alnum(10);
            let digest = rng.hex(64);
            (0..w.replicas)
                .map(|_| {
                    let pod_name = if w.namespace == "kube-system" && w.app == "kube-proxy" {
                        format!("{}-{}", w.app, rng.alnum(5))
                    } else {
                        format!("{}-{rs}-{}", w.app, rng.alnum(5))
                    };
                    let (repo, _) = w.image.rsplit_once(':').unwrap_or((w.image, ""));
                    let labels = [("app", w.app.to_string()), ("pod-template-hash", rs.clone())];
                    let annotations = if w.container == "istio-proxy" || matches!(w.namespace, "shop" | "payments") {
                        [("istio.io/rev", "default".to_string())]
                    } else {
                        [("prometheus.io/scrape", "true".to_string())]
                    };
                    let obj = |kv: &[(&str, String)]| -> String {
                        let items: Vec<String> = kv.iter().map(|(k, v)| format!("{}:{}", quoted(k), quoted(v))).collect();
                        format!("{{{}}}", items.join(","))
                    };
                    let meta = format!(
                        r#""kubernetes":{{"pod_name":{},"namespace_name":{},"pod_id":{},"labels":{},"annotations":{},"host":{},"container_name":{},"docker_id":{},"container_hash":{},"container_image":{}}}"#,
                        quoted(&pod_name),
                        quoted(w.namespace),
                        quoted(&rng.uuid()),
                        obj(&labels),
                        obj(&annotations),
                        quoted(rng.pick::<String>(&nodes)),
                        quoted(w.container),
                        quoted(&rng.hex(64)),
                        quoted(&format!("{repo}@sha256:{digest}")),
                        quoted(w.image),
                    );
                    Pod { meta, pod_name, namespace: w.namespace, app: w.app }
                })
                .collect()
        })
        .collect()
}

const PATHS: &[&str] = &[
    "/", "/api/v1/products", "/api/v1/products/4711", "/api/v1/cart", "/api/v1/cart/items", "/api/v1/orders",
    "/api/v1/orders/98213/status", "/api/v2/search?q=running+shoes&page=2", "/static/js/app.3f9c2b.js",
    "/static/css/main.8a1d.css", "/images/hero-1600.webp", "/login", "/account/settings", "/checkout",
    "/graphql", "/favicon.ico", "/robots.txt", "/sitemap.xml",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-requests/2.32.3",
    "Prometheus/2.55.1",
];
const REFERERS: &[&str] = &["-", "-", "-", "https://shop.example.com/", "https://shop.example.com/checkout", "https://www.google.com/"];

/// An HTTP status: mostly 2xx, then 3xx, 4xx and a few 5xx.
fn status(rng: &mut Rng) -> u32 {
    match rng.below(1000) {
        0..=819 => *rng.pick(&[200, 200, 200, 200, 201, 204, 206]),
        820..=889 => *rng.pick(&[301, 302, 304, 304]),
        890..=969 => *rng.pick(&[400, 401, 403, 404, 404, 404, 409, 429, 499]),
        _ => *rng.pick(&[500, 502, 503, 503, 504]),
    }
}

/// An access log's event: its path without the query.
fn path_event(path: &str) -> String {
    path.split('?').next().unwrap_or(path).to_string()
}

fn client_ip(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!("10.244.{}.{}", rng.below(8), rng.range(2, 254)),
        1 => format!("172.16.{}.{}", rng.below(32), rng.range(2, 254)),
        _ => format!("{}.{}.{}.{}", rng.range(23, 223), rng.below(256), rng.below(256), rng.range(1, 254)),
    }
}

/// What made a record: the template of its message, and whether it is of a class suggestions must never
/// drop. The generator knows both, so template mining and proposed rules can be checked against them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Label {
    /// `<namespace>/<container> <event>`: the source, then the event — an access log's path without its
    /// query (ids in the paths are constants of the list they are drawn from), an application message
    /// as written before its variables are filled in, `frame` for every line of a stack trace's frames.
    pub template: String,
    /// Level warn or above, an access log with status 400 or above, or a line of an error's stack trace.
    pub protected: bool,
}

/// A generator of records; also an iterator over them (each without its newline).
#[derive(Clone, Debug)]
pub struct Corpus {
    rng: Rng,
    config: Config,
    pods: Vec<Vec<Pod>>,
    /// Cumulative weights over `KINDS`.
    cumulative: Vec<u64>,
    /// Bytes produced so far, which sets the clock.
    produced: u64,
    /// Last emitted time in nanoseconds since the start, to keep times strictly increasing.
    last_ns: u64,
    /// Lines of a multi-line event still to come (a stack trace), with their pod and event.
    pending: VecDeque<(usize, usize, String, &'static str, String)>,
    /// The event of the record being generated, and whether it is protected (see [`Label`]).
    event: (String, bool),
    /// The label of the last record returned.
    label: Label,
}

impl Corpus {
    /// A corpus with the default mix and time range.
    pub fn new(seed: u64) -> Corpus {
        Corpus::with_config(seed, Config::default())
    }

    /// A corpus with a chosen mix and time range.
    pub fn with_config(seed: u64, config: Config) -> Corpus {
        let mut rng = Rng(seed);
        let pods = make_pods(&mut rng);
        let m = &config.mix;
        let weights = [m.ingress_nginx, m.nginx_combined, m.envoy_text, m.envoy_json, m.json_app, m.logfmt, m.log4j, m.klog];
        let mut total = 0u64;
        let cumulative = weights
            .iter()
            .map(|w| {
                total += u64::from(*w);
                total
            })
            .collect();
        Corpus { rng, config, pods, cumulative, produced: 0, last_ns: 0, pending: VecDeque::new(), event: Default::default(), label: Label::default() }
    }

    /// The next record and what made it.
    pub fn next_labeled(&mut self) -> Option<(Vec<u8>, Label)> {
        let r = self.next()?;
        Some((r, self.label.clone()))
    }

    /// The next records, newline-terminated, up to `n` bytes in all (whole records only; at least one),
    /// with the label of each record in order.
    pub fn take_bytes_labeled(&mut self, n: usize) -> (Vec<u8>, Vec<Label>) {
        let mut out = Vec::with_capacity(n + 1024);
        let mut labels = Vec::new();
        while out.len() < n {
            let Some((r, label)) = self.next_labeled() else { break };
            if !out.is_empty() && out.len() + r.len() + 1 > n {
                break;
            }
            out.extend_from_slice(&r);
            out.push(b'\n');
            labels.push(label);
        }
        (out, labels)
    }

    /// The next records, newline-terminated, up to `n` bytes in all (whole records only; at least one).
    pub fn take_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 1024);
        while out.len() < n {
            let Some(r) = self.next() else { break };
            if !out.is_empty() && out.len() + r.len() + 1 > n {
                break;
            }
            out.extend_from_slice(&r);
            out.push(b'\n');
        }
        out
    }

    /// At least `bytes` of container log files as the kubelet writes them, from the next records: CRI
    /// lines (`<time> <stream> F <log>`, a multi-line `log` on one line) keyed by the file name
    /// `<pod>_<namespace>_<container>-<container_id>.log`, one file per container. For the forwarder's
    /// benchmark and its profiling example.
    pub fn cri_files(&mut self, bytes: usize, container_id: &str) -> std::collections::HashMap<String, Vec<u8>> {
        let mut files: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
        let mut total = 0;
        while total < bytes {
            let Some(rec) = self.next() else { break };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&rec) else { continue };
            let k = &v["kubernetes"];
            let name = format!(
                "{}_{}_{}-{container_id}.log",
                k["pod_name"].as_str().unwrap_or("pod"),
                k["namespace_name"].as_str().unwrap_or("ns"),
                k["container_name"].as_str().unwrap_or("c")
            );
            let log = v["log"].as_str().unwrap_or_default().replace('\n', " ");
            let time = v["time"].as_str().unwrap_or("2026-11-22T00:00:00Z");
            let line = format!("{time} {} F {log}\n", v["stream"].as_str().unwrap_or("stdout"));
            total += line.len();
            files.entry(name).or_default().extend_from_slice(line.as_bytes());
        }
        files
    }

    fn now(&mut self) -> Time {
        let c = &self.config;
        let span_ns = u128::from(c.span_secs) * 1_000_000_000;
        let by_bytes = (span_ns * u128::from(self.produced) / u128::from(c.span_bytes.max(1))) as u64;
        // A little jitter, but never backwards.
        let ns = by_bytes.max(self.last_ns + 1 + self.rng.below(1000));
        self.last_ns = ns;
        let total = u128::from(c.start_unix) * 1_000_000_000 + u128::from(ns);
        Time { unix: (total / 1_000_000_000) as u64, nanos: (total % 1_000_000_000) as u32 }
    }

    fn kind(&mut self) -> Option<Kind> {
        let total = *self.cumulative.last()?;
        if total == 0 {
            return None;
        }
        let x = self.rng.below(total);
        KINDS.iter().zip(&self.cumulative).find(|(_, c)| x < **c).map(|(k, _)| *k)
    }

    fn record(&self, pod: &Pod, stream: &str, t: Time, log: &str) -> Vec<u8> {
        let mut s = String::with_capacity(log.len() + pod.meta.len() + 80);
        s.push_str("{\"log\":\"");
        escape(log, &mut s);
        s.push_str("\",\"stream\":\"");
        s.push_str(stream);
        s.push_str("\",\"time\":\"");
        s.push_str(&t.rfc3339_nanos());
        s.push_str("\",");
        s.push_str(&pod.meta);
        s.push('}');
        s.into_bytes()
    }

    fn request_line(&mut self, probe: bool) -> (String, String, String) {
        if probe {
            return ("GET".into(), (*self.rng.pick(&["/healthz", "/readyz", "/livez"])).into(), "HTTP/1.1".into());
        }
        let method = (*self.rng.pick(METHODS)).to_string();
        let path = (*self.rng.pick(PATHS)).to_string();
        let proto = (*self.rng.pick(&["HTTP/1.1", "HTTP/1.1", "HTTP/2.0"])).to_string();
        (method, path, proto)
    }

    fn ingress(&mut self, t: Time) -> String {
        let probe = self.rng.chance(120);
        let (m, p, proto) = self.request_line(probe);
        let st = if probe { 200 } else { status(&mut self.rng) };
        self.event = (path_event(&p), st >= 400);
        let ua = if probe { format!("kube-probe/1.{}", self.rng.range(29, 31)) } else { (*self.rng.pick(AGENTS)).into() };
        let bytes = if st == 304 || st == 204 { 0 } else { self.rng.range(2, 48_000) };
        let svc = self.rng.pick(&["shop-checkout-8080", "shop-cart-8080", "web-storefront-80", "payments-payments-api-8443"]).to_string();
        let rt = self.rng.range(1, 900);
        let upstream = format!("10.244.{}.{}:{}", self.rng.below(8), self.rng.range(2, 254), svc.rsplit('-').next().unwrap_or("80"));
        let (upstream, ulen, utime, ustatus) = if st == 499 {
            (upstream, "0".to_string(), "-".to_string(), "-".to_string())
        } else if st == 502 && self.rng.chance(500) {
            let second = format!("10.244.{}.{}:8080", self.rng.below(8), self.rng.range(2, 254));
            (format!("{upstream}, {second}"), "0, 0".into(), format!("0.{:03}, 0.{:03}", rt, rt / 2), "502, 502".into())
        } else {
            (upstream, bytes.to_string(), format!("{}.{:03}", rt / 1000, rt % 1000), st.to_string())
        };
        format!(
            r#"{} - - [{}] "{m} {p} {proto}" {st} {bytes} "{}" "{ua}" {} {}.{:03} [{svc}] [] {upstream} {ulen} {utime} {ustatus} {}"#,
            client_ip(&mut self.rng),
            t.nginx(),
            self.rng.pick(REFERERS),
            self.rng.range(60, 1400),
            (rt + 1) / 1000,
            (rt + 1) % 1000,
            self.rng.hex(32),
        )
    }

    fn nginx(&mut self, t: Time) -> String {
        let probe = self.rng.chance(300);
        let (m, p, proto) = self.request_line(probe);
        let st = if probe { if self.rng.chance(20) { 503 } else { 200 } } else { status(&mut self.rng) };
        self.event = (path_event(&p), st >= 400);
        let ua = if probe { format!("kube-probe/1.{}", self.rng.range(29, 31)) } else { (*self.rng.pick(AGENTS)).into() };
        let xff = if self.rng.chance(300) { format!(" \"{}\"", client_ip(&mut self.rng)) } else { String::new() };
        format!(
            r#"{} - - [{}] "{m} {p} {proto}" {st} {} "{}" "{ua}"{xff}"#,
            if probe { format!("10.244.{}.1", self.rng.below(8)) } else { client_ip(&mut self.rng) },
            t.nginx(),
            if st == 304 { 0 } else { self.rng.range(2, 90_000) },
            self.rng.pick(REFERERS),
        )
    }

    fn envoy_text(&mut self, t: Time, pod: &Pod) -> String {
        let (m, p, proto) = self.request_line(false);
        let inbound = self.rng.chance(500);
        let mut st = status(&mut self.rng);
        let mut flags = "-";
        let mut details = "via_upstream";
        if st == 503 && self.rng.chance(500) {
            flags = "UH";
            details = "no_healthy_upstream";
        } else if st == 504 {
            flags = "UT";
            details = "upstream_response_timeout";
        } else if st == 499 {
            st = 0;
            flags = "DC";
            details = "downstream_remote_disconnect";
        } else if st == 404 && self.rng.chance(300) {
            flags = "NR";
            details = "route_not_found";
        }
        self.event = (path_event(&p), st >= 400);
        let dur = self.rng.range(0, 1500);
        let peer = format!("10.244.{}.{}", self.rng.below(8), self.rng.range(2, 254));
        let me = format!("10.244.{}.{}", self.rng.below(8), self.rng.range(2, 254));
        let authority = format!("{}.{}.svc.cluster.local:8080", pod.app, pod.namespace);
        let (cluster, sni, route) = if inbound {
            ("inbound|8080||".to_string(), format!("outbound_.8080_._.{}.{}.svc.cluster.local", pod.app, pod.namespace), "default")
        } else {
            (format!("outbound|8080||{}.{}.svc.cluster.local", pod.app, pod.namespace), "-".to_string(), "allow_any")
        };
        format!(
            r#"[{}] "{m} {p} {proto}" {st} {flags} {details} - "-" {} {} {dur} {} "-" "{}" "{}" "{authority}" "{me}:8080" {cluster} 127.0.0.6:{} {me}:8080 {peer}:{} {sni} {route}"#,
            t.rfc3339_millis(),
            if m == "GET" { 0 } else { self.rng.range(20, 4000) },
            if st == 0 { 0 } else { self.rng.range(0, 30_000) },
            if flags == "-" { dur.saturating_sub(1).to_string() } else { "-".into() },
            self.rng.pick(AGENTS),
            self.rng.uuid(),
            self.rng.range(32_768, 60_999),
            self.rng.range(32_768, 60_999),
        )
    }

    fn envoy_json(&mut self, t: Time, pod: &Pod) -> String {
        let (m, p, proto) = self.request_line(false);
        let st = status(&mut self.rng);
        let flags = match st {
            503 => "UF,URX",
            504 => "UT",
            _ => "-",
        };
        self.event = (path_event(&p), st >= 400);
        let dur = self.rng.range(0, 900);
        let ust = if flags == "-" { quoted(&dur.saturating_sub(1).to_string()) } else { "null".into() };
        format!(
            r#"{{"authority":"{}.{}:8443","bytes_received":{},"bytes_sent":{},"connection_termination_details":null,"downstream_local_address":"10.244.{}.{}:8443","downstream_remote_address":"10.244.{}.{}:{}","duration":{dur},"method":"{m}","path":"{p}","protocol":"{proto}","request_id":"{}","requested_server_name":null,"response_code":{st},"response_code_details":"via_upstream","response_flags":"{flags}","route_name":"default","start_time":"{}","upstream_cluster":"inbound|8443||","upstream_host":"10.244.{}.{}:8443","upstream_local_address":"127.0.0.6:{}","upstream_service_time":{ust},"upstream_transport_failure_reason":null,"user_agent":"{}","x_forwarded_for":null}}"#,
            pod.app,
            pod.namespace,
            if m == "GET" { 0 } else { self.rng.range(20, 3000) },
            self.rng.range(0, 20_000),
            self.rng.below(8),
            self.rng.range(2, 254),
            self.rng.below(8),
            self.rng.range(2, 254),
            self.rng.range(32_768, 60_999),
            self.rng.uuid(),
            t.rfc3339_millis(),
            self.rng.below(8),
            self.rng.range(2, 254),
            self.rng.range(32_768, 60_999),
            self.rng.pick(AGENTS),
        )
    }

    /// A level name by a typical production distribution: mostly info, some debug, few warnings and errors.
    fn level(&mut self) -> usize {
        match self.rng.below(1000) {
            0..=19 => 0,
            20..=169 => 1,
            170..=899 => 2,
            900..=959 => 3,
            960..=994 => 4,
            _ => 5,
        }
    }

    fn json_app(&mut self, t: Time, pod: &Pod) -> (String, &'static str) {
        const NAMES: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];
        const MSGS: [&str; 10] = [
            "request completed", "cache miss", "cart updated", "price lookup", "order submitted", "payment authorised",
            "retrying upstream call", "upstream call failed", "inventory reserved", "session refreshed",
        ];
        let lvl = self.level();
        let msg = self.rng.pick(&MSGS);
        self.event = (msg.to_string(), lvl >= 3);
        let trace = self.rng.hex(32);
        let span = self.rng.hex(16);
        let stream = if lvl >= 4 { "stderr" } else { "stdout" };
        let line = if pod.app == "cart" {
            // pino: numeric levels, epoch milliseconds.
            format!(
                r#"{{"level":{},"time":{},"pid":1,"hostname":"{}","trace_id":"{trace}","span_id":"{span}","req":{{"id":{},"method":"{}","url":"{}"}},"msg":"{msg}"}}"#,
                (lvl + 1) * 10,
                t.epoch_millis(),
                pod.pod_name,
                self.rng.range(1, 99_999),
                self.rng.pick(METHODS),
                self.rng.pick(PATHS),
            )
        } else {
            let key = if self.rng.chance(100) { "severity" } else { "level" };
            let mut name = NAMES[lvl].to_string();
            if key == "severity" {
                name = name.to_ascii_uppercase();
            }
            let err = if lvl >= 4 { r#","error":"context deadline exceeded","stacktrace":"main.handle\n\t/src/handler.go:88\nmain.serve\n\t/src/server.go:41""# } else { "" };
            format!(
                r#"{{"{key}":"{name}","ts":"{}","logger":"checkout.http","caller":"http/handler.go:{}","msg":"{msg}","trace_id":"{trace}","span_id":"{span}","user_id":{},"duration_ms":{}.{}{err}}}"#,
                t.rfc3339_millis(),
                self.rng.range(20, 400),
                self.rng.range(1000, 999_999),
                self.rng.range(0, 800),
                self.rng.below(10),
            )
        };
        (line, stream)
    }

    fn logfmt(&mut self, t: Time) -> (String, &'static str) {
        const NAMES: [&str; 6] = ["trace", "debug", "info", "warning", "error", "critical"];
        let lvl = self.level();
        let st = status(&mut self.rng);
        let msg = *self.rng.pick(&["handled request", "charge created", "refund issued", "card declined", "idempotency key reused"]);
        self.event = (msg.to_string(), lvl >= 3);
        let line = format!(
            r#"time={} level={} msg="{}" method={} path={} status={st} duration={}.{}ms request_id={}"#,
            t.rfc3339_millis(),
            NAMES[lvl],
            msg,
            self.rng.pick(METHODS),
            self.rng.pick(&["/v1/charges", "/v1/refunds", "/v1/customers/cus_42", "/healthz"]),
            self.rng.range(0, 400),
            self.rng.below(1000),
            self.rng.uuid(),
        );
        (line, if lvl >= 4 { "stderr" } else { "stdout" })
    }

    fn log4j(&mut self, t: Time, w: usize, p: usize) -> (String, &'static str) {
        const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let lvl = self.level();
        let thread = format!("http-nio-8080-exec-{}", self.rng.range(1, 40));
        let (class, msg) = *self.rng.pick(&[
            ("c.e.orders.OrderService", "Created order"),
            ("c.e.orders.OrderController", "Request failed"),
            ("c.e.orders.InventoryClient", "Reservation timed out"),
            ("o.s.web.servlet.DispatcherServlet", "Completed initialization"),
            ("c.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Connection is not available"),
        ]);
        self.event = (format!("{class} - {msg}"), lvl >= 3);
        let line = format!("{} {:<5} [{thread}] {class} - {msg} {}", t.log4j(), NAMES[lvl], self.rng.range(10_000, 99_999));
        if lvl >= 4 {
            // The stack trace follows as separate records, as the container runtime splits it into lines.
            let (ex, cause) = *self.rng.pick(&[
                ("java.lang.IllegalStateException: order 4711 is already paid", "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms."),
                ("org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://inventory:8080/reserve\": Read timed out", "java.net.SocketTimeoutException: Read timed out"),
            ]);
            let class = |line: &str| line.split(':').next().unwrap_or(line).to_string();
            self.pending.push_back((w, p, ex.to_string(), "stderr", format!("exception {}", class(ex))));
            let frames = [
                "com.example.orders.OrderService.submit(OrderService.java:212)",
                "com.example.orders.OrderController.create(OrderController.java:87)",
                "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
                "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
                "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:138)",
                "org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:659)",
                "java.base/java.lang.Thread.run(Thread.java:1583)",
            ];
            let n = self.rng.range(3, frames.len() as u64) as usize;
            for f in &frames[..n] {
                self.pending.push_back((w, p, format!("\tat {f}"), "stderr", "frame".into()));
            }
            self.pending.push_back((w, p, format!("Caused by: {cause}"), "stderr", format!("caused by {}", class(cause))));
            self.pending.push_back((w, p, "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)".into(), "stderr", "frame".into()));
            self.pending.push_back((w, p, format!("\t... {} more", self.rng.range(20, 80)), "stderr", "more".into()));
        }
        (line, if lvl >= 4 { "stderr" } else { "stdout" })
    }

    fn klog(&mut self, t: Time, pod: &Pod) -> String {
        let sev = match self.rng.below(100) {
            0..=79 => 'I',
            80..=91 => 'W',
            _ => 'E',
        };
        let body = if pod.app == "coredns" {
            match sev {
                'I' => format!("\"Caches populated\" type=\"*v1.EndpointSlice\" reflector=\"pkg/mod/k8s.io/client-go@v0.31.2/tools/cache/reflector.go:243\" resourceVersion={}", self.rng.range(100_000, 9_999_999)),
                'W' => "pkg/mod/k8s.io/client-go@v0.31.2/tools/cache/reflector.go:561: watch of *v1.Namespace ended with: an error on the server (\"unable to decode an event from the watch stream: http2: client connection lost\") has prevented the request from succeeding".to_string(),
                _ => "\"Unhandled Error\" err=\"pkg/mod/k8s.io/client-go@v0.31.2/tools/cache/reflector.go:243: Failed to watch *v1.Service: the server has asked for the client to provide credentials\" logger=\"UnhandledError\"".to_string(),
            }
        } else {
            match sev {
                'I' => format!("\"Syncing iptables rules\" ipFamily=\"IPv4\" numServices={} numEndpoints={}", self.rng.range(40, 400), self.rng.range(80, 1200)),
                'W' => "\"Ignoring same-zone topology hints for service since no hints were provided for zone\" service=\"shop/checkout\" zone=\"eu-west-1a\"".to_string(),
                _ => format!("\"Failed to execute iptables-restore\" err=\"exit status 4: iptables-restore: line {} failed\"", self.rng.range(100, 9000)),
            }
        };
        self.event = (sev.to_string(), sev != 'I');
        let file = self.rng.pick(&["proxier.go:805", "proxier.go:1510", "reflector.go:368", "config.go:120", "server.go:522"]);
        format!("{sev}{}       1 {file}] {body}", t.klog())
    }

    fn generate(&mut self) -> Option<Vec<u8>> {
        if let Some((w, p, line, stream, event)) = self.pending.pop_front() {
            let t = self.now();
            let pod = self.pods[w][p].clone();
            // Every line of an error's stack trace is part of the error.
            self.label = Label { template: format!("{}/{} {event}", WORKLOADS[w].namespace, WORKLOADS[w].container), protected: true };
            return Some(self.record(&pod, stream, t, &line));
        }
        let kind = self.kind()?;
        let candidates: Vec<usize> = WORKLOADS.iter().enumerate().filter(|(_, w)| w.kind == kind).map(|(i, _)| i).collect();
        let w = *self.rng.pick(&candidates);
        let p = self.rng.below(self.pods[w].len() as u64) as usize;
        let pod = self.pods[w][p].clone();
        let t = self.now();
        let (line, stream) = match kind {
            Kind::Ingress => (self.ingress(t), "stdout"),
            Kind::Nginx => (self.nginx(t), "stdout"),
            Kind::EnvoyText => (self.envoy_text(t, &pod), "stdout"),
            Kind::EnvoyJson => (self.envoy_json(t, &pod), "stdout"),
            Kind::JsonApp => self.json_app(t, &pod),
            Kind::Logfmt => self.logfmt(t),
            Kind::Log4j => self.log4j(t, w, p),
            Kind::Klog => (self.klog(t, &pod), "stderr"),
        };
        let (event, protected) = std::mem::take(&mut self.event);
        self.label = Label { template: format!("{}/{} {event}", WORKLOADS[w].namespace, WORKLOADS[w].container), protected };
        Some(self.record(&pod, stream, t, &line))
    }
}

impl Iterator for Corpus {
    type Item = Vec<u8>;

    /// The next record, without its newline. Endless unless every [`Mix`] weight is 0.
    fn next(&mut self) -> Option<Vec<u8>> {
        let r = self.generate()?;
        self.produced += r.len() as u64 + 1;
        Some(r)
    }
}

/// The records of the bundled `filters/samples/k8s-sample.jsonl.gz`: seed 42, 6 MiB spanning two minutes
/// (`gen-sample --seed 42 --bytes 6MiB --span 2m`): the density of a cluster shipping about 4.5 GB a day,
/// so per-minute summaries see realistic group sizes.
pub fn bundled_sample() -> Vec<u8> {
    let bytes = 6 << 20;
    let config = Config { span_secs: 120, span_bytes: bytes, ..Config::default() };
    Corpus::with_config(42, config).take_bytes(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64;

    #[test]
    fn same_seed_same_bytes_and_pinned() {
        let a = Corpus::new(42).take_bytes(64 * 1024);
        let b = Corpus::new(42).take_bytes(64 * 1024);
        assert_eq!(a, b);
        assert_ne!(a, Corpus::new(43).take_bytes(64 * 1024));
        // Regression guard: benchmark inputs must not drift between versions. Change only on purpose.
        assert_eq!(xxh3_64(&a), 0xf96d16bfc715b7b6, "corpus for seed 42 changed: {:#018x}", xxh3_64(&a));
    }

    #[test]
    fn records_are_json_objects_of_the_fluent_bit_shape() {
        let mut sizes = 0usize;
        let mut n = 0usize;
        let mut last_time = String::new();
        for r in Corpus::new(7).take(5000) {
            let v: serde_json::Value = serde_json::from_slice(&r).expect("valid JSON");
            let k = &v["kubernetes"];
            for key in ["pod_name", "namespace_name", "pod_id", "host", "container_name", "docker_id", "container_hash", "container_image"] {
                assert!(k[key].is_string(), "{key} in {v}");
            }
            assert!(k["labels"].is_object() && k["annotations"].is_object());
            assert!(v["log"].is_string() && !v["log"].as_str().unwrap().ends_with('\n'));
            let time = v["time"].as_str().unwrap().to_string();
            assert_eq!(time.len(), "2026-11-22T10:00:00.123456789Z".len());
            // Same-length RFC 3339 strings order like the times they name.
            assert!(time > last_time, "{time} after {last_time}");
            last_time = time;
            sizes += r.len();
            n += 1;
        }
        let avg = sizes / n;
        assert!((700..=1000).contains(&avg), "average record size {avg}");
        assert!(Corpus::new(7).next().is_some_and(|r| r.starts_with(b"{\"log\":\"")));
    }

    #[test]
    fn times_cover_the_configured_span() {
        let cfg = Config { span_secs: 86_400, span_bytes: 1 << 20, ..Config::default() };
        let bytes = Corpus::with_config(1, cfg).take_bytes(1 << 20);
        let last = bytes.split(|b| *b == b'\n').rfind(|l| !l.is_empty()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(last).unwrap();
        assert!(v["time"].as_str().unwrap().starts_with("2026-11-22T23:"), "{}", v["time"]);
        let first: serde_json::Value = serde_json::from_slice(bytes.split(|b| *b == b'\n').next().unwrap()).unwrap();
        assert!(first["time"].as_str().unwrap().starts_with("2026-11-22T00:00:00."));
    }

    #[test]
    fn mix_weights_select_kinds() {
        let only_klog = Mix { ingress_nginx: 0, nginx_combined: 0, envoy_text: 0, envoy_json: 0, json_app: 0, logfmt: 0, log4j: 0, klog: 1 };
        for r in Corpus::with_config(3, Config { mix: only_klog, ..Config::default() }).take(200) {
            let v: serde_json::Value = serde_json::from_slice(&r).unwrap();
            assert_eq!(v["kubernetes"]["namespace_name"], "kube-system");
        }
        let none = Mix { klog: 0, ..Mix { ingress_nginx: 0, nginx_combined: 0, envoy_text: 0, envoy_json: 0, json_app: 0, logfmt: 0, log4j: 0, klog: 0 } };
        assert!(Corpus::with_config(3, Config { mix: none, ..Config::default() }).next().is_none());
    }

    #[test]
    fn labels_name_the_template_and_the_protected_classes() {
        let mut c = Corpus::new(5);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..5000 {
            let (r, label) = c.next_labeled().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&r).unwrap();
            let k = &v["kubernetes"];
            let source = format!("{}/{}", k["namespace_name"].as_str().unwrap(), k["container_name"].as_str().unwrap());
            assert!(label.template.starts_with(&format!("{source} ")), "{label:?} for {source}");
            let log = v["log"].as_str().unwrap();
            // What the labels say can be read back from the records.
            if log.starts_with("\tat ") {
                assert_eq!(label.template, "orders/orders frame");
            }
            if label.template.ends_with(" /healthz") {
                assert!(log.contains("kube-probe/") || log.contains("/healthz"), "{log}");
            }
            if log.starts_with("{\"level\":\"error\"") || log.starts_with('E') && source.starts_with("kube-system") {
                assert!(label.protected, "{log}");
            }
            if log.starts_with("{\"level\":\"info\"") || log.starts_with("{\"level\":\"debug\"") {
                assert!(!label.protected, "{log}");
            }
            *seen.entry(label.template).or_insert(0) += 1;
        }
        assert!(seen.len() > 50, "{} templates", seen.len());
        // The same seed gives the same labels, and labels change no byte of the records.
        let (bytes, labels) = Corpus::new(5).take_bytes_labeled(64 * 1024);
        assert_eq!(bytes, Corpus::new(5).take_bytes(64 * 1024));
        assert_eq!(labels.len(), bytes.iter().filter(|b| **b == b'\n').count());
    }

    #[test]
    fn civil_dates() {
        let t = Time { unix: START_UNIX, nanos: 5 };
        assert_eq!(t.rfc3339_nanos(), "2026-11-22T00:00:00.000000005Z");
        assert_eq!(t.nginx(), "22/Nov/2026:00:00:00 +0000");
        assert_eq!(Time { unix: 951_782_400, nanos: 0 }.rfc3339_millis(), "2000-02-29T00:00:00.000Z");
    }
}


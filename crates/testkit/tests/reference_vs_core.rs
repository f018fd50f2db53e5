//! The core engine and the reference evaluator must decide every record the same way: action, rule and
//! priority. A mismatch is a bug on one side; the failure prints the record and both decisions.

use logtrim_core::{Decision, RuleSet};
use logtrim_testkit::corpus::Corpus;
use logtrim_testkit::reference::Reference;
use proptest::prelude::*;

// ---- rule sets ----------------------------------------------------------------------------------------

/// Every operator, over access and app fields, with keyed sampling.
const ACCESS_APP: &str = r#"
parse:
  log: [access, app]
rules:
  - name: server-errors
    when: log.status >= 500
    action: keep
    priority: critical
  - name: odd-status
    when: exists(log.status) and not (log.status in 100..599)
    action: keep
    priority: high
  - name: client-errors
    when: log.status in 400..499 and log.method != "GET"
    action: keep
    priority: high
  - name: app-errors
    when: log.level in ["error", "fatal", 3, true, null]
    action: keep
    priority: critical
  - name: warn
    when: log.level == "warn" || log.level == "trace"
    action: keep
    priority: high
  - name: probes
    when: log.user_agent starts_with "kube-probe/" and log.path matches "^/(healthz|readyz|livez)$"
    action: drop
  - name: static
    when: log.path ends_with ".js" or log.path contains "/static/" or log.path < "/b"
    action: sample
    rate: 10%
  - name: slow
    when: log.duration > 250 or log.bytes <= 3 or log.bytes_received == 0
    action: keep
  - name: upstreams
    when: log.upstream_status contains ", " or log.response_flags in ["UH", "UF,URX", "DC"] or exists(log.route_name)
    action: keep
    priority: low
  - name: formats
    when: log.format in ["envoy_text", "nginx_common"] and log.client matches "^10\\."
    action: drop
  - name: sample-2xx
    when: log.status in 200..299
    action: sample
    rate: 30%
    key: log.request_id
    priority: low
  - name: by-format
    when: log.format != "app"
    action: sample
    rate: 0.5
    key: log.format
default:
  action: sample
  rate: 50%
  priority: high
"#;

/// JSON fields, top-level paths, every comparison and literal type, and keyless sampling.
const JSON_FIELDS: &str = r#"
parse:
  log: json
rules:
  - name: raw
    when: _raw contains "needle"
    action: drop
  - name: nested
    when: 'log.http.status >= 500 or log.msg == "say \"hi\"" or log."x.y" == 1'
    action: keep
    priority: critical
  - name: k8s
    when: kubernetes.namespace_name == "kube-system" and not (kubernetes.labels."app.kubernetes.io/name" != "dns")
    action: drop
  - name: bools
    when: a == true or b == false or s == null
    action: keep
    priority: high
  - name: numbers
    when: a < 0 or a > 1000 or s <= -1.5 or b == 42
    action: keep
    priority: low
  - name: strings
    when: s >= "m" and s < "t" or msg matches "(?i)^ERR" or level ends_with "é"
    action: drop
  - name: sets
    when: status in [200, "ok", false, null, 1.5] or log.level in ["warn", 40]
    action: sample
    rate: 25%
  - name: ranges
    when: status in 300..399 or log.status in 0..0
    action: drop
  - name: exists
    when: exists(log.msg) and not exists(log.trace_id) or exists(kubernetes.labels)
    action: sample
    rate: 1
  - name: falsy
    when: false or (true and log != "x")
    action: sample
    rate: 0.2
    key: log
default:
  action: drop
"#;

/// Text lines and keyed sampling on a top-level field; the `app` parser alone.
const APP_ONLY: &str = r#"
parse:
  log: app
rules:
  - name: levels
    when: log.level in ["fatal", "error"]
    action: keep
    priority: critical
  - name: warn
    when: log.level == "warn"
    action: keep
    priority: high
  - name: json-app
    when: log.msg contains "retry" or log.status >= 400 or log.format != "app"
    action: keep
  - name: nolevel
    when: not exists(log.level)
    action: sample
    rate: 5%
    key: kubernetes.pod_name
  - name: info
    when: log.level == "info"
    action: sample
    rate: 40%
    key: msg
default:
  action: keep
  priority: low
"#;

const ACCESS_FIELDS: &[&str] = &[
    "client", "user", "time", "method", "path", "protocol", "status", "bytes", "bytes_received", "duration", "referer",
    "user_agent", "forwarded_for", "request_id", "authority", "upstream", "upstream_status", "response_flags",
    "upstream_cluster", "route_name", "format",
];

/// One rule set per parser and field: it tells missing from present, a few numeric bands, and any string
/// value by its hash (sampling keyed on the field), so any difference in a field's value shows.
fn field_probe(parsers: &str, field: &str) -> String {
    format!(
        r#"
parse:
  log: [{parsers}]
rules:
  - name: missing
    when: not exists(log.{field})
    action: drop
  - name: scalar
    when: log.{field} == null or log.{field} == true or log.{field} == false
    action: keep
    priority: critical
  - name: small
    when: log.{field} < 100
    action: keep
    priority: low
  - name: mid
    when: log.{field} < 1000
    action: keep
    priority: normal
  - name: big
    when: log.{field} >= 1000
    action: keep
    priority: high
  - name: by-value
    when: log.{field} >= ""
    action: sample
    rate: 50%
    key: log.{field}
    priority: critical
default:
  action: drop
  priority: high
"#
    )
}

fn all_rule_sets() -> Vec<(String, String)> {
    let mut sets = vec![
        ("access-app".to_string(), ACCESS_APP.to_string()),
        ("json-fields".to_string(), JSON_FIELDS.to_string()),
        ("app-only".to_string(), APP_ONLY.to_string()),
    ];
    for parsers in ["ingress_nginx", "nginx_combined", "apache_common", "istio_text", "envoy_json", "access"] {
        for f in ACCESS_FIELDS {
            sets.push((format!("{parsers}/{f}"), field_probe(parsers, f)));
        }
    }
    for parsers in ["json", "app", "access, json", "access, app"] {
        for f in ["level", "msg", "status", "format", "http", "trace_id"] {
            sets.push((format!("{parsers}/{f}"), field_probe(parsers, f)));
        }
    }
    sets
}

struct Pair {
    name: String,
    core: RuleSet,
    reference: Reference,
}

fn pairs() -> Vec<Pair> {
    all_rule_sets()
        .into_iter()
        .map(|(name, yaml)| {
            let core = RuleSet::from_yaml(&name, &yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
            let reference = Reference::new(&yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
            Pair { name, core, reference }
        })
        .collect()
}

fn show(d: Decision, rules: &RuleSet) -> String {
    format!("{} by {} ({})", d.action.name(), rules.rule_name(d.rule), d.priority.name())
}

/// The first disagreement on `record`, described.
fn disagreement(pairs: &[Pair], record: &[u8]) -> Option<String> {
    for p in pairs {
        let core = p.core.decider().decide(record);
        let reference = p.reference.decide(record);
        if core != reference {
            return Some(format!(
                "rule set {}: core says {}, reference says {}\nrecord: {}",
                p.name,
                show(core, &p.core),
                show(reference, &p.core),
                String::from_utf8_lossy(record).escape_debug()
            ));
        }
    }
    None
}

// ---- record generators --------------------------------------------------------------------------------

/// A JSON value, serialised by hand so keys can repeat and strings can use `\u` escapes.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String, bool),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn write_str(s: &str, unicode_escapes: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if unicode_escapes && !c.is_ascii_alphanumeric() => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            '/' if unicode_escapes => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl J {
    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s, u) => write_str(s, *u, out),
            J::Arr(v) => {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            J::Obj(v) => {
                out.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if i % 3 == 0 { " , " } else { "," });
                    }
                    write_str(k, i % 4 == 3, out);
                    out.push(':');
                    x.write(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "s", "log", "msg", "status", "level", "severity", "lvl", "log.level", "http", "x.y", "kubernetes",
        "namespace_name", "labels", "app.kubernetes.io/name", "trace_id", "response_code", "method", "path",
        "request_id", "user_agent", "duration", "bytes_sent", "downstream_remote_address", "upstream_status", "é",
    ])
    .prop_map(String::from)
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ._/-]{0,10}",
        prop::sample::select(vec![
            "200", "404", "503", "1.5", "-0", "01", " 200", "0x10", "NaN", "1e3", "-1.5", "1e400", "", "-", "kube-system",
            "dns", "say \"hi\"", "ERROR: boom", "error", "WARNING", "warn", "Info", "fatal", "crit", "notice", "40",
            "café", "needle", "kube-probe/1.30", "m", "t", "x", "ok", "GET", "/static/app.js", "10.0.0.1",
        ])
        .prop_map(String::from),
        "\\PC{0,6}",
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (-2000i64..3000).prop_map(|n| n.to_string()),
        prop::sample::select(vec!["0", "-0", "1.5", "-1.5", "1e3", "2.5E-3", "42", "40", "10", "60", "35", "1000", "99.99", "1e21"])
            .prop_map(String::from),
    ]
}

fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        number().prop_map(J::Num),
        (string(), prop::bool::weighted(0.2)).prop_map(|(s, u)| J::Str(s, u)),
    ]
}

fn json_value() -> impl Strategy<Value = J> {
    scalar().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(J::Arr),
            prop::collection::vec((key(), inner), 0..5).prop_map(J::Obj),
        ]
    })
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..=255, 0u8..=255).prop_map(|(a, b)| format!("10.{a}.{b}.7")),
        Just("[2a02:cf40::4e36]:5000".to_string()),
        Just("192.168.1.1".to_string()),
    ]
}

fn request() -> impl Strategy<Value = String> {
    let method = prop::sample::select(vec!["GET", "POST", "PATCHp", "geti", "-", "HEAD"]);
    let path = prop::sample::select(vec!["/", "/healthz", "/readyz", "/static/app.js", "/api/v1/x?q=1&b=2", "/café", "/a\\x5Cb", "-", "/b"]);
    let proto = prop::sample::select(vec!["HTTP/1.1", "HTTP/2.0", "-"]);
    prop_oneof![
        8 => (method, path, proto).prop_map(|(m, p, v)| format!("{m} {p} {v}")),
        1 => prop::sample::select(vec!["-", "", "- - -", "- - HTTP/1.1", "GET /", "\\x16\\x03\\x01"]).prop_map(String::from),
    ]
}

fn agent() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["kube-probe/1.30", "curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "-", "", "okhttp/4.12"]).prop_map(String::from)
}

fn opt_dash(s: String, dash: bool) -> String {
    if dash { "-".into() } else { s }
}

/// An access-log line in one of the formats, with the odd edge case.
fn access_line() -> impl Strategy<Value = String> {
    let status = prop_oneof![prop::sample::select(vec![200u32, 204, 301, 304, 404, 499, 500, 503, 504]), 100u32..600];
    let common = (ip(), prop::bool::weighted(0.1), request(), status.clone(), 0u64..100_000, prop::bool::weighted(0.1));
    let tail = (agent(), "[0-9a-f]{32}", 0u32..2000, prop::bool::weighted(0.1), prop::bool::weighted(0.05));
    let trail = prop::sample::select(vec!["", "", "", "", " \"1.2.3.4\"", " extra", "\n", "\r\n", "\n\n", "\r", " ", " \t\n", "\t"]);
    (0u8..7, common, tail, trail).prop_map(
        |(fmt, (ip, user_dash, req, st, bytes, bytes_dash), (ua, rid, ms, rid_dash, list), trail)| {
            let user = opt_dash("frank".into(), !user_dash);
            let bytes = opt_dash(bytes.to_string(), bytes_dash);
            let rid = opt_dash(rid, rid_dash);
            let t = "22/Nov/2026:10:00:00 +0000";
            match fmt {
                0 => {
                    let (up, ust) = if list { ("10.0.0.1:80, 10.0.0.2:80", "502, 200") } else { ("10.0.0.1:80", "200") };
                    format!(
                        r#"{ip} - {user} [{t}] "{req}" {st} {bytes} "-" "{ua}" 412 {}.{:03} [shop-80] [] {up} 190 0.004 {ust} {rid}{trail}"#,
                        ms / 1000,
                        ms % 1000
                    )
                }
                1 => format!(r#"{ip} - {user} [{t}] "{req}" {st} {bytes} "https://x/" "{ua}"{trail}"#),
                2 => format!(r#"{ip} - {user} [{t}] "{req}" {st} {bytes}{trail}"#),
                3 => format!(
                    r#"[2026-11-22T10:00:00.123Z] "{req}" {st} UF,URX 0 {bytes} {ms} - "-" "{ua}" "{rid}" "svc:80" "10.0.0.9:80"{trail}"#
                ),
                4 => format!(
                    r#"ACCESS [2026-11-22T10:00:00.123Z] "{req}" {st} - via_upstream - "-" 0 {bytes} {ms} 3 "1.2.3.4" "{ua}" "{rid}" "svc:80" "-" inbound|80|| 127.0.0.6:1 10.0.0.1:80 {ip} - default{trail}"#
                ),
                5 => {
                    let mut o = vec![
                        ("response_code".to_string(), J::Num(st.to_string())),
                        ("method".to_string(), J::Str("GET".into(), false)),
                        ("path".to_string(), J::Str(req.clone(), ms % 3 == 0)),
                        ("duration".to_string(), J::Num(ms.to_string())),
                        ("bytes_sent".to_string(), if bytes_dash { J::Null } else { J::Num(bytes.clone()) }),
                        ("request_id".to_string(), J::Str(rid.clone(), false)),
                        ("user_agent".to_string(), J::Str(ua.clone(), false)),
                        ("downstream_remote_address".to_string(), J::Str(ip.clone(), false)),
                        ("upstream_service_time".to_string(), J::Str(ms.to_string(), false)),
                    ];
                    if list {
                        o.push(("status".to_string(), J::Num("201".into())));
                        o.push(("client".to_string(), J::Str("c".into(), false)));
                        o.retain(|(k, _)| k != "downstream_remote_address" || ms % 2 == 0);
                    }
                    J::Obj(o).text()
                }
                _ => format!(r#"{ip} - - [{t}] "{req}" {st} {bytes} "-" "{ua}" "-"{trail}"#),
            }
        },
    )
}

/// An application log line: JSON with a level under one of the keys, or text in a common layout.
fn app_line() -> impl Strategy<Value = String> {
    let level = prop::sample::select(vec![
        "info", "INFO", "Warning", "warn", "err", "ERROR", "critical", "dpanic", "emerg", "alert", "notice", "information",
        "debug", "trace", "fatal", "verbose", "E", "W", "informational", "emergency", "severe", "fine", "finer", "finest",
        "TRC", "DBG", "INF", "WRN", "FTL", "PNC", "VRB", "crit", "panic", "LOG", "config", " info", "info ",
    ]);
    prop_oneof![
        (prop::sample::select(vec!["level", "severity", "lvl", "loglevel", "log.level", "Level"]), level.clone(), string(), json_value())
            .prop_map(|(k, l, m, extra)| J::Obj(vec![(k.into(), J::Str(l.into(), false)), ("msg".into(), J::Str(m, false)), ("extra".into(), extra)]).text()),
        (prop::sample::select(vec!["10", "20", "30", "40", "50", "60", "35", "0", "70", "30.0"]), string())
            .prop_map(|(n, m)| J::Obj(vec![("level".into(), J::Num(n.into())), ("msg".into(), J::Str(m, false))]).text()),
        (prop::sample::select(vec!["I", "W", "E", "F", "X"]), string())
            .prop_map(|(s, m)| format!("{s}1122 10:00:00.123456       1 reflector.go:147] {m}")),
        (level.clone(), string()).prop_map(|(l, m)| format!("time=2026-11-22T10:00:00Z level={l} msg=\"{m}\"")),
        (level.clone(), string()).prop_map(|(l, m)| format!("2026-11-22T10:00:00.000Z [{l}]  {m}")),
        (level.clone(), string()).prop_map(|(l, m)| format!("2026-11-22T10:00:00.000Z\t{l}\tcaller.go:12\t{m}")),
        (level.clone(), string()).prop_map(|(l, m)| format!("2026-11-22 10:00:00,123 {l} [main] c.e.App - {m}")),
        string().prop_map(|m| format!("\tat com.example.App.run(App.java:12) {m}")),
        (header(), level_word(level), prop::sample::select(vec!["", " ", "\t", "\n", "\r\n"]), string())
            .prop_map(|(h, l, sep, m)| format!("{h}{l}{sep}{m}")),
    ]
}

/// The start of a text line before its level word: timestamps, separators, bracketed fields, words.
fn header() -> impl Strategy<Value = String> {
    let part = prop::sample::select(vec![
        "2026-11-22", "10:00:00,123", "2026-11-22T10:00:00.000Z", "UTC", "-", "|", "---", "[1]", "[main]",
        "[2016-12-19 20:39:48,918]", "[10:00:00", "x.go:12]", "checkout.http", "host", "app[12]:", "1", "word", "",
        "\u{FFFD}I1122", "level=", "k=v", "time=\"x y\"", "<0.9.0>", "(", "[", "]",
    ]);
    let sep = prop::sample::select(vec![" ", "  ", "\t", " \t"]);
    (prop::collection::vec((part, sep), 0..7), prop::bool::weighted(0.1)).prop_map(|(parts, lead)| {
        let mut h = String::from(if lead { " " } else { "" });
        for (p, s) in parts {
            h.push_str(p);
            h.push_str(s);
        }
        h
    })
}

/// A level name in one of the shapes a header may hold it, or a near miss.
fn level_word(level: impl Strategy<Value = &'static str>) -> impl Strategy<Value = String> {
    let shape = prop::sample::select(vec![
        "{}", "[{}]", "<{}>", "({})", "{}:", "{}[0000]", "{},", "{}]", "prod.{}:", "a.b.{}", "{}.", "[{}>", "{}s",
        "level={}", "lvl=\"{}\"", "severity={}\"", "LEVEL={}", "[{}]x",
    ]);
    let case = prop::sample::select(vec![0u8, 1, 2]);
    (level, shape, case).prop_map(|(l, shape, case)| {
        let l = match case {
            0 => l.to_string(),
            1 => l.to_ascii_uppercase(),
            _ => l.to_ascii_lowercase(),
        };
        shape.replace("{}", &l)
    })
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![3 => access_line(), 3 => app_line(), 1 => string()]
}

/// A whole record: a JSON object (often Fluent Bit shaped), a text line, or something broken.
fn record() -> impl Strategy<Value = Vec<u8>> {
    let k8s = (prop::sample::select(vec!["kube-system", "shop", "web"]), prop::sample::select(vec!["dns", "web", "x"]))
        .prop_map(|(ns, app)| {
            J::Obj(vec![
                ("namespace_name".into(), J::Str(ns.into(), false)),
                ("pod_name".into(), J::Str(format!("{app}-5d9c8-abcde"), false)),
                ("labels".into(), J::Obj(vec![("app.kubernetes.io/name".into(), J::Str(app.into(), ns == "shop"))])),
            ])
        });
    let extra = prop::collection::vec((key(), json_value()), 0..4);
    prop_oneof![
        4 => (line(), prop::bool::weighted(0.15), k8s, extra, prop::bool::weighted(0.1)).prop_map(|(l, esc, k, mut extra, dup)| {
            let mut o = vec![("log".to_string(), J::Str(l, esc)), ("stream".into(), J::Str("stdout".into(), false)), ("kubernetes".into(), k)];
            o.append(&mut extra);
            if dup {
                o.push(("log".into(), J::Str("time=x level=error msg=dup".into(), false)));
            }
            J::Obj(o).text().into_bytes()
        }),
        2 => prop::collection::vec((key(), json_value()), 0..6).prop_map(|o| J::Obj(o).text().into_bytes()),
        1 => json_value().prop_map(|v| J::Obj(vec![("log".into(), v)]).text().into_bytes()),
        2 => line().prop_map(String::into_bytes),
        1 => (line(), any::<prop::sample::Index>(), prop::sample::select(vec![&b"\xff"[..], b"\xc3", b"\xe2\x82", b"\x00", b"\\u00"]))
            .prop_map(|(l, at, bad)| {
                let mut b = l.into_bytes();
                let i = at.index(b.len() + 1);
                b.splice(i..i, bad.iter().copied());
                b
            }),
        1 => (record_object(), any::<prop::sample::Index>()).prop_map(|(r, at)| {
            let cut = at.index(r.len().max(1));
            r[..cut].to_vec()
        }),
    ]
}

fn record_object() -> impl Strategy<Value = Vec<u8>> {
    (line(), json_value()).prop_map(|(l, v)| J::Obj(vec![("log".into(), J::Str(l, false)), ("a".into(), v)]).text().into_bytes())
}

// ---- tests --------------------------------------------------------------------------------------------

/// Record bytes, shown as text when a case fails.
#[derive(Clone)]
struct Rec(Vec<u8>);

impl std::fmt::Debug for Rec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// Text lines only: the record is the `log` field, so this exercises the access and level parsers alone.
fn text_record() -> impl Strategy<Value = Rec> {
    prop_oneof![
        3 => text_line().prop_map(|l| Rec(l.into_bytes())),
        1 => (text_line(), any::<prop::sample::Index>(), prop::sample::select(vec![&b"\xff"[..], b"\xc3", b"\xe2\x82", b"\x00"]))
            .prop_map(|(l, at, bad)| {
                let mut b = l.into_bytes();
                let i = at.index(b.len() + 1);
                b.splice(i..i, bad.iter().copied());
                Rec(b)
            }),
    ]
}

/// A line that is not a JSON object (those are records of their own).
fn text_line() -> impl Strategy<Value = String> {
    line().prop_filter("a JSON object is not a text line", |l| !l.trim_start().starts_with('{'))
}

fn check(record: &[u8]) -> Result<(), TestCaseError> {
    thread_local! {
        static PAIRS: Vec<Pair> = pairs();
    }
    let diff = PAIRS.with(|p| disagreement(p, record));
    prop_assert!(diff.is_none(), "{}", diff.unwrap_or_default());
    Ok(())
}

/// 512 cases a test unless `PROPTEST_CASES` says otherwise (a literal `cases` would override it).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Runs the property on a thread with a large stack: generating the nested JSON values takes more than the
/// test thread's 2 MiB in a debug build now and then (proptest builds value trees recursively).
fn run_property<S: Strategy<Value = Rec> + 'static>(strategy: fn() -> S) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut runner = proptest::test_runner::TestRunner::new(config());
            if let Err(e) = runner.run(&strategy(), |r| check(&r.0)) {
                panic!("{e}");
            }
        })
        .expect("spawn the property test thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

#[test]
fn reference_and_core_agree_on_text_lines() {
    run_property(text_record);
}

#[test]
fn reference_and_core_agree_on_generated_records() {
    run_property(|| record().prop_map(Rec));
}

/// Records on which the two sides disagreed once, kept as plain cases (proptest's failure file is not
/// read for tests outside `src/`).
const KNOWN_CASES: &[&[u8]] = &[
    // A repeated key: serde_json keeps the last value, so nothing below the first `kubernetes` is left.
    br#"{"log":"10.0.0.7 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" \"kube-probe/1.30\" 412 0.000 [shop-80] [] 10.0.0.1:80 190 0.004 200 aa0a000aaaa0a000a0a00aaaaa00aa0a","stream":"stdout","kubernetes":{"namespace_name":"kube-system","pod_name":"dns-5d9c8-abcde","labels":{"app.kubernetes.io/name":"dns"}} , "kubernetes":null}"#,
    br#"{"log":"x","kubernetes":{"namespace_name":"kube-system","labels":{"app.kubernetes.io/name":"dns"}},"kubernetes":{}}"#,
    br#"{"log":"x","kubernetes":{"namespace_name":"kube-system","labels":{"app.kubernetes.io/name":"dns"}},"kubernetes":{"namespace_name":"kube-system","labels":{}}}"#,
    br#"{"log":"{\"http\":{\"status\":503},\"http\":{}}","a":{"b":1},"a":{}}"#,
    br#"{"log":"{\"level\":\"error\",\"level\":5}"}"#,
    // A damaged klog prefix: `WARNING` is the first word of the message, the fifth counted word.
    "\u{FFFD}I1122 10:00:00.123456       1 reflector.go:147] WARNING".as_bytes(),
    "\u{FFFD}2026-11-22T10:00:00.000Z [info]  ".as_bytes(),
    b"\tat com.example.App.run(App.java:12) ERROR: boom",
    b"WARNING",
    b"2026-11-22 10:00:00.123 UTC [1] ERROR:  relation \"x\" does not exist",
    b"a b c d [ERROR]",
    b"a b c d e [ERROR]",
    b"  level=info msg=x",
    b"{\"log\":\"time=x level=warn msg=\\\"a\\\"\\n\"}",
    // Line ends: the access parsers ignore any run of trailing CR/LF, common and ingress trailing blanks.
    b"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 404 5\n\n",
    b"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 404 5 \t",
    b"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 404 5\r",
];

#[test]
fn reference_and_core_agree_on_known_cases() {
    let pairs = pairs();
    let failures: Vec<String> = KNOWN_CASES.iter().filter_map(|r| disagreement(&pairs, r)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn reference_and_core_agree_on_the_corpus() {
    let pairs = pairs();
    let corpus = Corpus::new(42).take_bytes(2 << 20);
    let mut failures = Vec::new();
    let mut n = 0;
    for r in corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        n += 1;
        if let Some(d) = disagreement(&pairs, r) {
            failures.push(d);
        }
    }
    assert!(n > 2000, "{n} records");
    assert!(failures.is_empty(), "{} of {n} corpus records disagree; first ones:\n{}", failures.len(), failures[..failures.len().min(5)].join("\n\n"));
}

#[test]
fn reference_passes_the_bundled_rule_files_examples() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../filters");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("filters/") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let yaml = std::fs::read_to_string(&path).unwrap();
        let rules = RuleSet::from_yaml(&path.display().to_string(), &yaml).unwrap_or_else(|e| panic!("{e}"));
        let reference = Reference::new(&yaml).unwrap();
        for ex in rules.examples() {
            let d = reference.decide(&ex.record);
            let label = format!("{}: {:?}", path.display(), ex.name);
            assert_eq!(d.action, ex.action, "{label}");
            if let Some(rule) = &ex.rule {
                assert_eq!(rules.rule_name(d.rule), rule, "{label}");
            }
            if let Some(p) = ex.priority {
                assert_eq!(d.priority, p, "{label}");
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

//! A plain reference evaluator for rule files, written from `docs/rules.md` and nothing else.
//!
//! It shares only the rule-file loader ([`logtrim_core::spec::load::load`]) and the result types with the
//! core engine: every record is decoded into a tree with `serde_json`, access logs are read with regular
//! expressions, and conditions are evaluated by walking the AST. It is slow on purpose — it is the
//! obviously-correct side of the property tests and the naive baseline of the benchmarks — so when it
//! disagrees with [`logtrim_core::Decider`] one of the two has a bug, and this one should be easy to read.

use std::collections::HashMap;

use logtrim_core::spec::ast::{CmpOp, Expr, Lit, Path, StrOp};
use logtrim_core::spec::load::{self, ActionKind, ActionSpec};
use logtrim_core::{Action, Decision, RuleId, RuleSet};
use regex::bytes::{Captures, Regex};
use serde_json::{Map, Value as Json};
use xxhash_rust::xxh3::xxh3_64;

/// A field value as the rules see it. Strings are bytes so text lines with invalid UTF-8 work.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// Absent: the path does not exist, goes through a non-object, or no parser produced it.
    Missing,
    /// JSON `null`.
    Null,
    /// JSON `true` / `false`.
    Bool(bool),
    /// A JSON number, or a numeric access-log field.
    Num(f64),
    /// A decoded JSON string, a text line, or a text field of an access log.
    Str(Vec<u8>),
    /// A JSON object; only `exists` matches it, but the `json`/`app` parsers can read into it.
    Obj(Map<String, Json>),
    /// A JSON array; only `exists` matches it.
    Arr,
}

impl Val {
    fn from_json(v: &Json) -> Val {
        match v {
            Json::Null => Val::Null,
            Json::Bool(b) => Val::Bool(*b),
            // serde_json keeps integers as i64/u64; as_f64 rounds them to nearest like a float parser would.
            Json::Number(n) => n.as_f64().map_or(Val::Missing, Val::Num),
            Json::String(s) => Val::Str(s.as_bytes().to_vec()),
            Json::Object(m) => Val::Obj(m.clone()),
            Json::Array(_) => Val::Arr,
        }
    }
}

/// Walks object keys only: a path never goes into arrays or through scalars.
fn walk<'a>(root: &'a Map<String, Json>, segments: &[String]) -> Option<&'a Json> {
    let (first, rest) = segments.split_first()?;
    let mut cur = root.get(first)?;
    for s in rest {
        cur = cur.as_object()?.get(s)?;
    }
    Some(cur)
}

/// A string is a number for numeric comparisons only when it is exactly a JSON number.
pub fn json_number(s: &[u8]) -> Option<f64> {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$").unwrap());
    if !re.is_match(s) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse::<f64>().ok().filter(|v| v.is_finite())
}

// ---- parsers ------------------------------------------------------------------------------------------

/// One concrete parser, after alias expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parser {
    IngressNginx,
    NginxCombined,
    NginxCommon,
    EnvoyText,
    EnvoyJson,
    Json,
    App,
}

impl Parser {
    /// The value of the `format` field.
    fn name(self) -> &'static str {
        match self {
            Parser::IngressNginx => "ingress_nginx",
            Parser::NginxCombined => "nginx_combined",
            Parser::NginxCommon => "nginx_common",
            Parser::EnvoyText => "envoy_text",
            Parser::EnvoyJson => "envoy_json",
            Parser::Json => "json",
            Parser::App => "app",
        }
    }

    fn expand(name: &str) -> Option<&'static [Parser]> {
        Some(match name {
            "ingress_nginx" => &[Parser::IngressNginx],
            "nginx_combined" | "apache_combined" => &[Parser::NginxCombined],
            "nginx_common" | "apache_common" => &[Parser::NginxCommon],
            "envoy_text" | "istio_text" => &[Parser::EnvoyText],
            "envoy_json" | "istio_json" => &[Parser::EnvoyJson],
            "json" => &[Parser::Json],
            "app" => &[Parser::App],
            "access" => &[Parser::IngressNginx, Parser::NginxCombined, Parser::NginxCommon, Parser::EnvoyText, Parser::EnvoyJson],
            _ => return None,
        })
    }
}

/// Access-log field names and the key Envoy/Istio JSON access logs use for each (docs/rules.md table).
const ENVOY_KEYS: &[(&str, &str)] = &[
    ("client", "downstream_remote_address"),
    ("user", "user"),
    ("time", "start_time"),
    ("method", "method"),
    ("path", "path"),
    ("protocol", "protocol"),
    ("status", "response_code"),
    ("bytes", "bytes_sent"),
    ("bytes_received", "bytes_received"),
    ("duration", "duration"),
    ("referer", "referer"),
    ("user_agent", "user_agent"),
    ("forwarded_for", "x_forwarded_for"),
    ("request_id", "request_id"),
    ("authority", "authority"),
    ("upstream", "upstream_host"),
    ("upstream_status", "upstream_status"),
    ("response_flags", "response_flags"),
    ("upstream_cluster", "upstream_cluster"),
    ("route_name", "route_name"),
];

/// The compiled regular expressions of the text access-log formats.
///
/// `(?-u)` everywhere: a log line is bytes, and `\S`, `[^"]` must match any byte, valid UTF-8 or not.
struct AccessRegexes {
    combined: Regex,
    common: Regex,
    ingress: Regex,
    envoy: Regex,
}

/// A quoted field as nginx/Apache write it: no raw `"` inside, backslash escapes kept as they are.
const Q: &str = r#"((?:[^"\\]|\\.)*)"#;
/// `$remote_addr`; a comma-separated X-Forwarded-For chain is taken whole.
const CLIENT: &str = r"(\S+(?:, \S+)*)";
/// ingress-nginx upstream lists: `a:80, b:80` (retries) and `a:80 : b:80` (internal redirects).
const LIST: &str = r"(\S+(?:(?:, | : )\S+)*)";

impl AccessRegexes {
    fn new() -> AccessRegexes {
        let head = format!(r#"{CLIENT} - (\S+) \[([^\]]*)\] "{Q}" ([0-9]{{3}}) ([0-9]+|-)"#);
        let combined_head = format!(r#"{head} "{Q}" "{Q}""#);
        let build = |s: String| Regex::new(&format!("(?s-u){s}")).expect("access regex");
        AccessRegexes {
            // groups: 1 client, 2 user, 3 time, 4 request, 5 status, 6 bytes, 7 referer, 8 user agent, 9 xff
            combined: build(format!(r#"^{combined_head}(?: "{Q}")?(?: .*)?$"#)),
            // Common and ingress end with a fixed field; spaces or tabs may follow it.
            common: build(format!(r"^{head}[ \t]*$")),
            // 9 request_length, 10 request_time, 11 proxy_upstream_name, 12 alternative, 13 upstream_addr,
            // 14 upstream_response_length, 15 upstream_response_time, 16 upstream_status, 17 req_id
            ingress: build(format!(
                r"^{combined_head} ([0-9]+|-) ([0-9.]+|-) \[([^\]]*)\] \[([^\]]*)\] {LIST} {LIST} {LIST} {LIST} (\S+)[ \t]*$"
            )),
            // Envoy default, with Istio's three extra fields after the flags and its six-token tail.
            // 1 start time, 2 request, 3 code, 4 flags, 5 code details, 6 termination details, 7 transport
            // failure, 8 bytes received, 9 bytes sent, 10 duration, 11 upstream service time, 12 xff,
            // 13 user agent, 14 request id, 15 authority, 16 upstream host, 17 tail
            envoy: build(format!(
                r#"^(?:ACCESS )?\[([^\]]*)\] "{Q}" ([0-9]+) (\S+)(?: (\S+) (\S+) "{Q}")? ([0-9]+|-) ([0-9]+|-) ([0-9]+|-) (\S+) "{Q}" "{Q}" "{Q}" "{Q}" "{Q}"(?: (.*))?$"#
            )),
        }
    }
}

/// Access fields of one text line, by normalised name.
type Fields = HashMap<&'static str, Val>;

fn text(c: &Captures, i: usize) -> Val {
    match c.get(i) {
        Some(m) if m.as_bytes() != b"-" => Val::Str(m.as_bytes().to_vec()),
        _ => Val::Missing,
    }
}

fn number(c: &Captures, i: usize) -> Val {
    match c.get(i).and_then(|m| std::str::from_utf8(m.as_bytes()).ok()) {
        Some(s) if s != "-" => s.parse::<f64>().map_or(Val::Missing, Val::Num),
        _ => Val::Missing,
    }
}

/// `$request` is `METHOD PATH PROTOCOL`; `-` or an empty request gives none of them.
fn request(fields: &mut Fields, req: &[u8]) {
    let parts: Vec<&[u8]> = req.split(|&b| b == b' ').collect();
    let put = |fields: &mut Fields, k: &'static str, v: &[u8]| {
        if v != b"-" && !v.is_empty() {
            fields.insert(k, Val::Str(v.to_vec()));
        }
    };
    match parts.as_slice() {
        [m, p, proto] => {
            put(fields, "method", m);
            put(fields, "path", p);
            put(fields, "protocol", proto);
        }
        [m, p] => {
            put(fields, "method", m);
            put(fields, "path", p);
        }
        _ => {}
    }
}

fn nginx_fields(c: &Captures, combined: bool) -> Fields {
    let mut f = Fields::new();
    f.insert("client", text(c, 1));
    f.insert("user", text(c, 2));
    f.insert("time", text(c, 3));
    request(&mut f, c.get(4).map_or(&[][..], |m| m.as_bytes()));
    f.insert("status", number(c, 5));
    f.insert("bytes", number(c, 6));
    if combined {
        f.insert("referer", text(c, 7));
        f.insert("user_agent", text(c, 8));
    }
    f
}

fn parse_access(re: &AccessRegexes, p: Parser, line: &[u8]) -> Option<Fields> {
    // Docker's json-file driver keeps the line's newline inside `log`: the line ends before the trailing
    // run of `\r` and `\n`.
    let eol = line.iter().rev().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let line = &line[..line.len() - eol];
    match p {
        Parser::NginxCommon => re.common.captures(line).map(|c| nginx_fields(&c, false)),
        Parser::NginxCombined => re.combined.captures(line).map(|c| {
            let mut f = nginx_fields(&c, true);
            f.insert("forwarded_for", text(&c, 9));
            f
        }),
        Parser::IngressNginx => re.ingress.captures(line).map(|c| {
            let mut f = nginx_fields(&c, true);
            f.insert("bytes_received", number(&c, 9));
            // Seconds with millisecond digits: shift the decimal point in the text so 0.004 is exactly 4 ms.
            let ms = c.get(10).and_then(|m| std::str::from_utf8(m.as_bytes()).ok()).filter(|s| *s != "-");
            f.insert("duration", ms.and_then(|s| format!("{s}e3").parse::<f64>().ok()).map_or(Val::Missing, Val::Num));
            f.insert("upstream_cluster", text(&c, 11));
            f.insert("upstream", text(&c, 13));
            f.insert("upstream_status", text(&c, 16));
            f.insert("request_id", text(&c, 17));
            f
        }),
        Parser::EnvoyText => re.envoy.captures(line).map(|c| {
            let mut f = Fields::new();
            f.insert("time", text(&c, 1));
            request(&mut f, c.get(2).map_or(&[][..], |m| m.as_bytes()));
            f.insert("status", number(&c, 3));
            f.insert("response_flags", text(&c, 4));
            f.insert("bytes_received", number(&c, 8));
            f.insert("bytes", number(&c, 9));
            f.insert("duration", number(&c, 10));
            f.insert("forwarded_for", text(&c, 12));
            f.insert("user_agent", text(&c, 13));
            f.insert("request_id", text(&c, 14));
            f.insert("authority", text(&c, 15));
            f.insert("upstream", text(&c, 16));
            // Istio's tail: UPSTREAM_CLUSTER UPSTREAM_LOCAL_ADDRESS DOWNSTREAM_LOCAL_ADDRESS
            // DOWNSTREAM_REMOTE_ADDRESS REQUESTED_SERVER_NAME ROUTE_NAME. Anything else is ignored.
            if let Some(tail) = c.get(17) {
                let t: Vec<&[u8]> = tail.as_bytes().split(|&b| b == b' ').collect();
                if t.len() == 6 {
                    let s = |v: &[u8]| if v == b"-" { Val::Missing } else { Val::Str(v.to_vec()) };
                    f.insert("upstream_cluster", s(t[0]));
                    f.insert("client", s(t[3]));
                    f.insert("route_name", s(t[5]));
                }
            }
            f
        }),
        _ => None,
    }
}

// ---- levels -------------------------------------------------------------------------------------------

/// The JSON keys read for `level`, in order; `log.level` is one literal dotted key (ECS).
const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl", "loglevel", "log.level"];

/// The level names table of docs/rules.md ("Levels"); case and surrounding whitespace are ignored.
fn normalize_level(w: &[u8]) -> Option<&'static str> {
    let w = String::from_utf8_lossy(w).trim_matches(|c: char| c.is_ascii_whitespace()).to_ascii_lowercase();
    Some(match w.as_str() {
        "trace" | "trc" | "verbose" | "vrb" | "finer" | "finest" => "trace",
        "debug" | "dbg" | "fine" => "debug",
        "info" | "inf" | "notice" | "information" | "informational" => "info",
        "warn" | "warning" | "wrn" => "warn",
        "error" | "err" | "severe" => "error",
        "fatal" | "ftl" | "critical" | "crit" | "panic" | "pnc" | "dpanic" | "emerg" | "emergency" | "alert" => "fatal",
        _ => return None,
    })
}

/// pino/bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
fn level_from_number(n: f64) -> Option<&'static str> {
    const BY_TEN: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];
    if !(10.0..=60.0).contains(&n) || n % 10.0 != 0.0 {
        return None;
    }
    Some(BY_TEN[(n / 10.0) as usize - 1])
}

/// The header of a text line is its first 128 bytes; a logfmt line is read for its level key up to 1 KiB.
const HEADER_BYTES: usize = 128;
const LOGFMT_BYTES: usize = 1024;

/// Words are separated by these bytes (and only these: not vertical tab or form feed).
fn is_word_sep(b: &u8) -> bool {
    b" \t\r\n".contains(b)
}

/// The first `limit` bytes of `line`, less a word that runs on past them.
fn cut_at_word(line: &[u8], limit: usize) -> &[u8] {
    if line.len() <= limit || is_word_sep(&line[limit]) {
        return &line[..line.len().min(limit)];
    }
    let mut end = limit;
    while end > 0 && !is_word_sep(&line[end - 1]) {
        end -= 1;
    }
    &line[..end]
}

fn split_words(s: &[u8]) -> Vec<&[u8]> {
    s.split(is_word_sep).filter(|w| !w.is_empty()).collect()
}

struct LevelRegexes {
    klog: Regex,
    logfmt_line: Regex,
    logfmt_pair: Regex,
    zap: Regex,
    bracketed: Regex,
    upper: Regex,
    first_colon: Regex,
}

impl LevelRegexes {
    fn new() -> LevelRegexes {
        // Bytes, not Unicode: a stray invalid byte in a timestamp must not hide the level.
        let r = |s: &str| Regex::new(&format!("(?-u){s}")).expect("level regex");
        LevelRegexes {
            // 1. klog: `E1122 10:00:00.123456 ...`, at the very start of the line.
            klog: r(r"^([IWEF])[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}"),
            // 2. logfmt: the first word is a `key=...` pair; then a whole word `level=NAME` / `level="NAME"`.
            logfmt_line: r(r"^[A-Za-z0-9_.-]+="),
            logfmt_pair: r(r#"^(?:level|lvl|severity|loglevel)=(?:([A-Za-z]+)|"([A-Za-z]+)")$"#),
            // 3. zap console: `2025-04-24T22:09:20.856Z<TAB>error<TAB>...`
            zap: r(r"^[^ \t\r\n]+\t([A-Za-z]+)\t"),
            // 4. `[NAME]...` or `<NAME>...`, any case.
            bracketed: r(r"^(?:\[([A-Za-z]+)\]|<([A-Za-z]+)>)"),
            // 5. upper case: `ERROR`, `(WARN)`, `production.ERROR:`, `WARN[0000]`, `INF]`.
            upper: r(r"^\(?(?:[A-Za-z0-9_-]+\.)?([A-Z]+)(?:[:,)\[\]]|$)"),
            // 6. the first word: `error:`, `Warning:`.
            first_colon: r(r"^([A-Za-z]+):"),
        }
    }

    /// The first non-empty capture group, as a level name.
    fn level(re: &Regex, s: &[u8]) -> Option<&'static str> {
        let c = re.captures(s)?;
        let name = c.iter().skip(1).flatten().next()?;
        normalize_level(name.as_bytes())
    }

    fn detect(&self, line: &[u8]) -> Option<&'static str> {
        if let Some(c) = self.klog.captures(line) {
            return Some(match &c[1] {
                b"I" => "info",
                b"W" => "warn",
                b"E" => "error",
                _ => "fatal",
            });
        }
        let header = cut_at_word(line, HEADER_BYTES);
        let first_word = line.split(is_word_sep).find(|w| !w.is_empty());
        let is_logfmt = first_word.is_some_and(|w| self.logfmt_line.is_match(w));
        let logfmt_span = if is_logfmt { cut_at_word(line, LOGFMT_BYTES) } else { header };
        if let Some(l) = split_words(logfmt_span).iter().find_map(|w| Self::level(&self.logfmt_pair, w)) {
            return Some(l);
        }
        if let Some(l) = Self::level(&self.zap, header) {
            return Some(l);
        }
        self.lead_words(header).into_iter().enumerate().find_map(|(i, w)| {
            Self::level(&self.bracketed, w)
                .or_else(|| Self::level(&self.upper, w))
                .or_else(|| if i == 0 { Self::level(&self.first_colon, w) } else { None })
        })
    }

    /// The header's words before the fifth counted word. Not counted: words without an ASCII letter or
    /// digit, and bracketed fields (a word starting with `[`, through the first word containing `]`).
    fn lead_words<'a>(&self, header: &'a [u8]) -> Vec<&'a [u8]> {
        let words = split_words(header);
        let mut lead = Vec::new();
        let mut counted = 0;
        let mut i = 0;
        while i < words.len() {
            if words[i].starts_with(b"[") {
                // The whole bracketed field, uncounted.
                let mut j = i;
                while j < words.len() && !words[j].contains(&b']') {
                    j += 1;
                }
                let end = (j + 1).min(words.len());
                lead.extend_from_slice(&words[i..end]);
                i = end;
                continue;
            }
            if words[i].iter().any(u8::is_ascii_alphanumeric) {
                counted += 1;
                if counted == 5 {
                    break;
                }
            }
            lead.push(words[i]);
            i += 1;
        }
        lead
    }
}

// ---- the evaluator ------------------------------------------------------------------------------------

struct Source {
    path: Vec<String>,
    parsers: Vec<Parser>,
}

/// What one source's parsers made of its value.
enum Parsed {
    Nothing,
    Access(Parser, Fields),
    /// `json` / `envoy_json` / `app` on a JSON object; `level` only for `app`.
    Object(Parser, Map<String, Json>, Option<&'static str>),
    /// `app` on a text line.
    AppText(Option<&'static str>),
}

/// The reference evaluator: a rule file and nothing cached between records.
pub struct Reference {
    sources: Vec<Source>,
    rules: Vec<(Expr, ActionSpec, RuleId)>,
    default: ActionSpec,
    regexes: HashMap<String, Regex>,
    access: AccessRegexes,
    levels: LevelRegexes,
}

impl Reference {
    /// Loads a rule file; fails with the rendered diagnostics when core's compiler rejects it.
    pub fn new(yaml: &str) -> Result<Reference, String> {
        let ids = RuleSet::from_yaml("rules.yaml", yaml).map_err(|e| e.to_string())?;
        let file = load::load(yaml).map_err(|e| e.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("\n"))?;
        let mut sources = Vec::new();
        for spec in &file.parse {
            let mut parsers = Vec::new();
            for (name, _) in &spec.parsers {
                for p in Parser::expand(name).ok_or_else(|| format!("unknown parser {name}"))? {
                    if !parsers.contains(p) {
                        parsers.push(*p);
                    }
                }
            }
            sources.push(Source { path: spec.field.segments.clone(), parsers });
        }
        let mut regexes = HashMap::new();
        let mut rules = Vec::new();
        for r in file.rules {
            collect_regexes(&r.when, &mut regexes)?;
            let id = ids.rule_id(&r.name).ok_or_else(|| format!("rule {} not in the compiled set", r.name))?;
            rules.push((r.when, r.action, id));
        }
        Ok(Reference {
            sources,
            rules,
            default: file.default,
            regexes,
            access: AccessRegexes::new(),
            levels: LevelRegexes::new(),
        })
    }

    /// Decides one record (a JSON object or a text line, without its newline).
    pub fn decide(&self, record: &[u8]) -> Decision {
        let rec = Record::read(record);
        let mut cache: HashMap<usize, Parsed> = HashMap::new();
        for (when, action, id) in &self.rules {
            if self.eval(when, &rec, &mut cache) {
                return Decision { action: self.act(action, &rec, &mut cache), rule: *id, priority: action.priority };
            }
        }
        Decision { action: self.act(&self.default, &rec, &mut cache), rule: RuleId::DEFAULT, priority: self.default.priority }
    }

    fn act(&self, a: &ActionSpec, rec: &Record, cache: &mut HashMap<usize, Parsed>) -> Action {
        match &a.kind {
            ActionKind::Keep => Action::Keep,
            ActionKind::Drop => Action::Drop,
            ActionKind::Sample { rate, key } => {
                let key_val = key.as_ref().map_or(Val::Missing, |k| self.get(k, rec, cache));
                let hashed = match &key_val {
                    Val::Str(s) => s.as_slice(),
                    _ => rec.raw,
                };
                let rate = rate.get();
                // rate × 2^64, saturating; rate 1 keeps even the one hash equal to u64::MAX.
                let threshold = (rate * 18_446_744_073_709_551_616.0) as u64;
                if rate >= 1.0 || xxh3_64(hashed) < threshold { Action::Keep } else { Action::Drop }
            }
        }
    }

    /// The value of a path: a parsed field when it lies below a `parse:` field, else a record field.
    fn get(&self, path: &Path, rec: &Record, cache: &mut HashMap<usize, Parsed>) -> Val {
        let segs = &path.segments;
        if segs.len() == 1 && segs[0] == "_raw" {
            return Val::Str(rec.raw.to_vec());
        }
        let below = self.sources.iter().position(|s| segs.len() > s.path.len() && segs.starts_with(&s.path));
        let Some(si) = below else { return rec.get(segs) };
        let src = &self.sources[si];
        let sub = &segs[src.path.len()..];
        let parsed = cache.entry(si).or_insert_with(|| self.parse(src, rec.get(&src.path)));
        let single = (sub.len() == 1).then(|| sub[0].as_str());
        if single == Some("format") {
            return match parsed {
                Parsed::Nothing => Val::Missing,
                Parsed::Access(p, _) | Parsed::Object(p, _, _) => Val::Str(p.name().as_bytes().to_vec()),
                Parsed::AppText(_) => Val::Str(b"app".to_vec()),
            };
        }
        match parsed {
            Parsed::Nothing => Val::Missing,
            Parsed::Access(_, fields) => single.and_then(|n| fields.get(n)).cloned().unwrap_or(Val::Missing),
            Parsed::AppText(level) => match (single, level) {
                (Some("level"), Some(l)) => Val::Str(l.as_bytes().to_vec()),
                _ => Val::Missing,
            },
            Parsed::Object(Parser::App, _, level) if single == Some("level") => {
                level.map_or(Val::Missing, |l| Val::Str(l.as_bytes().to_vec()))
            }
            Parsed::Object(Parser::EnvoyJson, obj, _) => {
                let envoy_key = single.and_then(|n| ENVOY_KEYS.iter().find(|(f, _)| *f == n));
                let Some((_, key)) = envoy_key else {
                    return walk(obj, sub).map_or(Val::Missing, Val::from_json);
                };
                let v = obj.get(*key).or_else(|| walk(obj, sub));
                match v {
                    // Envoy logs `-` for "no value" in JSON too; an access field is then missing.
                    Some(Json::String(s)) if s == "-" => Val::Missing,
                    Some(v) => Val::from_json(v),
                    None => Val::Missing,
                }
            }
            Parsed::Object(_, obj, _) => walk(obj, sub).map_or(Val::Missing, Val::from_json),
        }
    }

    /// Tries the source's parsers in order on its value.
    fn parse(&self, src: &Source, v: Val) -> Parsed {
        let object = match &v {
            Val::Obj(m) => Some(m.clone()),
            Val::Str(s) => match serde_json::from_slice::<Json>(s) {
                Ok(Json::Object(m)) => Some(m),
                _ => None,
            },
            _ => None,
        };
        for &p in &src.parsers {
            match p {
                Parser::Json => {
                    if let Some(m) = &object {
                        return Parsed::Object(p, m.clone(), None);
                    }
                }
                Parser::EnvoyJson => {
                    if let Some(m) = object.as_ref().filter(|m| m.contains_key("response_code")) {
                        return Parsed::Object(p, m.clone(), None);
                    }
                }
                Parser::App => {
                    if let Some(m) = &object {
                        let level = LEVEL_KEYS.iter().find_map(|k| match m.get(*k) {
                            Some(Json::String(s)) => normalize_level(s.as_bytes()),
                            Some(Json::Number(n)) => n.as_f64().and_then(level_from_number),
                            _ => None,
                        });
                        return Parsed::Object(p, m.clone(), level);
                    }
                    if let Val::Str(s) = &v {
                        return Parsed::AppText(self.levels.detect(s));
                    }
                }
                access => {
                    if let Val::Str(s) = &v
                        && let Some(f) = parse_access(&self.access, access, s)
                    {
                        return Parsed::Access(access, f);
                    }
                }
            }
        }
        Parsed::Nothing
    }

    fn eval(&self, e: &Expr, rec: &Record, cache: &mut HashMap<usize, Parsed>) -> bool {
        match e {
            Expr::True => true,
            Expr::False => false,
            Expr::Cmp { path, op: CmpOp::Ne, lit } => {
                !self.eval(&Expr::Cmp { path: path.clone(), op: CmpOp::Eq, lit: lit.clone() }, rec, cache)
            }
            Expr::Cmp { path, op, lit } => compare(&self.get(path, rec, cache), *op, lit),
            Expr::InSet { path, set } => {
                let v = self.get(path, rec, cache);
                set.iter().any(|l| compare(&v, CmpOp::Eq, l))
            }
            Expr::InRange { path, lo, hi } => as_number(&self.get(path, rec, cache)).is_some_and(|n| *lo <= n && n <= *hi),
            Expr::Str { path, op, lit, .. } => {
                let Val::Str(s) = self.get(path, rec, cache) else { return false };
                let l = lit.as_bytes();
                match op {
                    StrOp::StartsWith => s.starts_with(l),
                    StrOp::EndsWith => s.ends_with(l),
                    StrOp::Contains => l.is_empty() || s.windows(l.len()).any(|w| w == l),
                    StrOp::Matches => self.regexes[lit].is_match(&s),
                }
            }
            Expr::Exists(p) => self.get(p, rec, cache) != Val::Missing,
            Expr::Not(e) => !self.eval(e, rec, cache),
            Expr::And(v) => v.iter().all(|e| self.eval(e, rec, cache)),
            Expr::Or(v) => v.iter().any(|e| self.eval(e, rec, cache)),
        }
    }
}

fn collect_regexes(e: &Expr, out: &mut HashMap<String, Regex>) -> Result<(), String> {
    match e {
        Expr::Str { op: StrOp::Matches, lit, .. } => {
            out.insert(lit.clone(), Regex::new(lit).map_err(|e| e.to_string())?);
        }
        Expr::Not(e) => collect_regexes(e, out)?,
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|e| collect_regexes(e, out))?,
        _ => {}
    }
    Ok(())
}

fn as_number(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        Val::Str(s) => json_number(s),
        _ => None,
    }
}

/// `value op literal` for every operator but `!=` (which is `not ==`).
fn compare(v: &Val, op: CmpOp, lit: &Lit) -> bool {
    match lit {
        Lit::Num(n) => as_number(v).is_some_and(|x| match op {
            CmpOp::Eq | CmpOp::Ne => x == *n,
            CmpOp::Lt => x < *n,
            CmpOp::Le => x <= *n,
            CmpOp::Gt => x > *n,
            CmpOp::Ge => x >= *n,
        }),
        Lit::Str(s) => match v {
            Val::Str(x) => {
                let (x, s) = (x.as_slice(), s.as_bytes());
                match op {
                    CmpOp::Eq | CmpOp::Ne => x == s,
                    CmpOp::Lt => x < s,
                    CmpOp::Le => x <= s,
                    CmpOp::Gt => x > s,
                    CmpOp::Ge => x >= s,
                }
            }
            _ => false,
        },
        Lit::Bool(b) => *v == Val::Bool(*b),
        Lit::Null => *v == Val::Null,
    }
}

/// One record, read as the rule-file spec says.
struct Record<'a> {
    raw: &'a [u8],
    /// The JSON object, or `None` for a text line (the record is then `{"log": raw}`).
    json: Option<Map<String, Json>>,
}

impl<'a> Record<'a> {
    fn read(raw: &'a [u8]) -> Record<'a> {
        let json = match serde_json::from_slice::<Json>(raw) {
            Ok(Json::Object(m)) => Some(m),
            _ => None,
        };
        Record { raw, json }
    }

    fn get(&self, segs: &[String]) -> Val {
        match &self.json {
            Some(m) => walk(m, segs).map_or(Val::Missing, Val::from_json),
            None if segs.len() == 1 && segs[0] == "log" => Val::Str(self.raw.to_vec()),
            None => Val::Missing,
        }
    }
}

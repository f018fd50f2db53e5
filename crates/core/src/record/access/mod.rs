//! Access-log lines (nginx, Apache, ingress-nginx, Envoy/Istio text) read into byte ranges.
//!
//! The parsers scan bytes by hand: no regular expressions, no allocation, and every range they hand out
//! lies inside the line and starts and ends next to an ASCII delimiter, so it is on a char boundary
//! whenever the line is UTF-8. A line is either recognised as a whole (fixed fields in their places) or
//! not at all; within a recognised line a field logged as `-` is `None`.
//!
//! Quoted fields follow nginx and Apache escaping: a backslash takes the next byte with it (nginx writes
//! `"` as `\x22` and `\` as `\x5C`, Apache writes `\"` and `\\`), and the first unescaped `"` closes the
//! field. Ranges cover the text as logged; escapes are not decoded, so a rule sees what Splunk would.
//!
//! A trailing `\n` or `\r\n` is ignored: Docker json-file `log` values keep the newline.

mod envoy;
mod nginx;

/// An access-log format that [`parse`] can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessFormat {
    /// nginx `combined` (also Apache's): common plus `"$http_referer" "$http_user_agent"`, optionally
    /// followed by more fields; a third quoted field is `forwarded_for`.
    NginxCombined,
    /// nginx/Apache `common`: the line ends after `$body_bytes_sent`.
    NginxCommon,
    /// The Kubernetes ingress-nginx controller's default `log-format-upstream`.
    IngressNginx,
    /// Envoy's default text access log, Istio's default text format, and Ambassador's `ACCESS ` prefix.
    EnvoyText,
}

impl AccessFormat {
    /// The parser name used in rule files and reported as `format`.
    pub fn name(self) -> &'static str {
        match self {
            AccessFormat::NginxCombined => "nginx_combined",
            AccessFormat::NginxCommon => "nginx_common",
            AccessFormat::IngressNginx => "ingress_nginx",
            AccessFormat::EnvoyText => "envoy_text",
        }
    }
}

/// A byte range `start..end` into the line given to [`parse`].
pub type Range = (u32, u32);

/// The access fields of one line (docs/rules.md, "Access fields"). `None` is a field the format lacks or
/// that was logged as `-`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccessFields {
    /// `$remote_addr` (a comma-separated chain is taken whole), or Istio's `DOWNSTREAM_REMOTE_ADDRESS`.
    pub client: Option<Range>,
    /// `$remote_user`.
    pub user: Option<Range>,
    /// `$time_local` or `START_TIME`, without the brackets.
    pub time: Option<Range>,
    /// The request method, from `$request` / the request field.
    pub method: Option<Range>,
    /// The request path with its query, from `$request` / the request field.
    pub path: Option<Range>,
    /// The protocol (`HTTP/1.1`), from `$request` / the request field.
    pub protocol: Option<Range>,
    /// `$status` or `RESPONSE_CODE` (0 when Envoy sent no response).
    pub status: Option<u32>,
    /// `$body_bytes_sent` or `BYTES_SENT`.
    pub bytes: Option<u64>,
    /// `$request_length` or `BYTES_RECEIVED`.
    pub bytes_received: Option<u64>,
    /// `$request_time` × 1000 or `DURATION`, in milliseconds.
    pub duration_ms: Option<f64>,
    /// `$http_referer`.
    pub referer: Option<Range>,
    /// `$http_user_agent` or `USER-AGENT`.
    pub user_agent: Option<Range>,
    /// The third quoted nginx field, or `X-FORWARDED-FOR`.
    pub forwarded_for: Option<Range>,
    /// `$req_id` or `X-REQUEST-ID`.
    pub request_id: Option<Range>,
    /// `:AUTHORITY`.
    pub authority: Option<Range>,
    /// `$upstream_addr` (the whole list) or `UPSTREAM_HOST`.
    pub upstream: Option<Range>,
    /// `$upstream_status` (the whole list).
    pub upstream_status: Option<Range>,
    /// `RESPONSE_FLAGS`.
    pub response_flags: Option<Range>,
    /// `$proxy_upstream_name` or Istio's `UPSTREAM_CLUSTER`.
    pub upstream_cluster: Option<Range>,
    /// Istio's `ROUTE_NAME`.
    pub route_name: Option<Range>,
}

/// Parses `line` as `fmt`. On success fills `out` (resetting every field first) and returns true; on
/// failure returns false and leaves `out` in an unspecified state.
pub fn parse(fmt: AccessFormat, line: &[u8], out: &mut AccessFields) -> bool {
    // Ranges are u32: a longer line cannot be described, and no access log line is 4 GiB.
    if line.len() > u32::MAX as usize {
        return false;
    }
    *out = AccessFields::default();
    let s = trim_eol(line);
    match fmt {
        AccessFormat::NginxCombined => nginx::parse(nginx::Tail::Combined, s, out),
        AccessFormat::NginxCommon => nginx::parse(nginx::Tail::Common, s, out),
        AccessFormat::IngressNginx => nginx::parse(nginx::Tail::Ingress, s, out),
        AccessFormat::EnvoyText => envoy::parse(s, out),
    }
}

/// The most specific of `ingress_nginx`, `nginx_combined` and `nginx_common` that `line` is, reading their
/// shared head once; `out` holds that format's fields. See [`nginx::parse_best`] for the one corner where
/// this differs from trying them in turn.
pub fn parse_nginx_best(line: &[u8], out: &mut AccessFields) -> Option<AccessFormat> {
    if line.len() > u32::MAX as usize {
        return None;
    }
    // Each parse attempt resets `out` before it reads.
    nginx::parse_best(trim_eol(line), out).map(|t| match t {
        nginx::Tail::Common => AccessFormat::NginxCommon,
        nginx::Tail::Combined => AccessFormat::NginxCombined,
        nginx::Tail::Ingress => AccessFormat::IngressNginx,
    })
}

impl AccessFormat {
    /// One of the three nginx formats (they share a head; see [`parse_nginx_best`]).
    pub fn is_nginx(self) -> bool {
        !matches!(self, AccessFormat::EnvoyText)
    }
}

/// Tries `ingress_nginx`, `nginx_combined`, `nginx_common` and `envoy_text` in that order (the most
/// specific nginx shape first, as each is a prefix of the one before) and returns the format that matched.
pub fn parse_any(line: &[u8], out: &mut AccessFields) -> Option<AccessFormat> {
    [AccessFormat::IngressNginx, AccessFormat::NginxCombined, AccessFormat::NginxCommon, AccessFormat::EnvoyText]
        .into_iter()
        .find(|&f| parse(f, line, out))
}

/// The line without its trailing `\n` / `\r\n` (any run of them).
fn trim_eol(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

/// `\S` in the ASCII sense: what a space-separated field may contain.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A position in a line with the small set of field readers every format needs. Each reader either
/// consumes what it recognises and returns it, or returns `None` and leaves the position where it was.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

/// A range in `usize`, converted to [`Range`] only when stored.
type Span = (usize, usize);

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8], i: usize) -> Self {
        Cursor { s, i }
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Consumes `lit` if the line continues with it.
    fn eat(&mut self, lit: &[u8]) -> bool {
        match self.s.get(self.i..self.i + lit.len()) {
            Some(t) if t == lit => {
                self.i += lit.len();
                true
            }
            _ => false,
        }
    }

    /// A maximal run of non-space bytes, at least one.
    fn token(&mut self) -> Option<Span> {
        let start = self.i;
        let mut j = start;
        // Eight bytes at a time up to the first byte at or below b' ' (every space is): paths, times
        // and addresses are long enough for this to beat a byte loop.
        while let Some(word) = self.s.get(j..j + 8) {
            let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            // High bit of each byte below 0x21 (the lowest one exact; bytes >= 0x80 never flagged).
            let low = w.wrapping_sub(0x2121_2121_2121_2121) & !w & 0x8080_8080_8080_8080;
            if low != 0 {
                j += (low.trailing_zeros() / 8) as usize;
                break;
            }
            j += 8;
        }
        while j < self.s.len() && !is_space(self.s[j]) {
            j += 1;
        }
        if j == start {
            return None;
        }
        self.i = j;
        Some((start, j))
    }

    /// A run of ASCII digits, at least one.
    fn digits(&mut self) -> Option<Span> {
        let start = self.i;
        let mut j = start;
        while j < self.s.len() && self.s[j].is_ascii_digit() {
            j += 1;
        }
        if j == start {
            return None;
        }
        self.i = j;
        Some((start, j))
    }

    /// `"…"` with backslash escapes; returns the inside.
    fn quoted(&mut self) -> Option<Span> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.i + 1;
        let mut j = start;
        loop {
            // A lone backslash at the very end escapes nothing: `get` then ends the field unterminated.
            j += memchr::memchr2(b'"', b'\\', self.s.get(j..)?)?;
            if self.s[j] == b'"' {
                self.i = j + 1;
                return Some((start, j));
            }
            j += 2;
        }
    }

    /// `[…]` up to the first `]`; returns the inside.
    fn bracketed(&mut self) -> Option<Span> {
        if self.peek() != Some(b'[') {
            return None;
        }
        let start = self.i + 1;
        let len = self.s[start..].iter().position(|&b| b == b']')?;
        self.i = start + len + 1;
        Some((start, start + len))
    }
}

fn range(sp: Span) -> Range {
    // Callers check that the line fits in u32 before any span is made.
    (sp.0 as u32, sp.1 as u32)
}

/// The field as a range, or `None` when it was logged as `-`.
fn text(s: &[u8], sp: Span) -> Option<Range> {
    if &s[sp.0..sp.1] == b"-" { None } else { Some(range(sp)) }
}

/// ASCII digits as an integer; values too large saturate, as a byte count that big is garbage
/// but still "large" for a comparison, and the line around it is otherwise fine.
fn uint(s: &[u8], sp: Span) -> u64 {
    s[sp.0..sp.1].iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
}

/// A field that is digits or `-`: `Some(None)` for `-`, `None` when it is neither.
fn uint_or_dash(c: &mut Cursor) -> Option<Option<u64>> {
    if let Some(sp) = c.digits() {
        return Some(Some(uint(c.s, sp)));
    }
    if c.eat(b"-") { Some(None) } else { None }
}

/// Splits a request line (`$request`, Envoy's `"METHOD PATH PROTOCOL"`) into method, path and protocol.
///
/// Three space-separated parts are method, path and protocol; two (HTTP/0.9, or a request cut short)
/// are method and path. More than three parts happen when a client sends raw spaces in the path: if the
/// last part is an `HTTP/` protocol, the first is the method and everything between is the path. Anything
/// else (`-`, `""`, a single blob of TLS bytes sent to a plain-HTTP port) gives none of the three; the
/// status and the other fields of the line are still read. The method is not validated, so garbage such
/// as `\x16\x03\x01` or `PATCHp` is kept as logged, which is what a rule hunting for it wants to see.
fn split_request(s: &[u8], sp: Span, out: &mut AccessFields) {
    let req = &s[sp.0..sp.1];
    let spaces = req.iter().filter(|&&b| b == b' ').count();
    let (Some(first), Some(last)) = (req.iter().position(|&b| b == b' '), req.iter().rposition(|&b| b == b' ')) else {
        return;
    };
    let at = |a: usize, b: usize| (sp.0 + a, sp.0 + b);
    let put = |r: Span| if r.0 == r.1 { None } else { text(s, r) };
    match spaces {
        1 => {
            out.method = put(at(0, first));
            out.path = put(at(first + 1, req.len()));
        }
        2 => {
            out.method = put(at(0, first));
            out.path = put(at(first + 1, last));
            out.protocol = put(at(last + 1, req.len()));
        }
        _ if req[last + 1..].starts_with(b"HTTP/") => {
            out.method = put(at(0, first));
            out.path = put(at(first + 1, last));
            out.protocol = put(at(last + 1, req.len()));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text of a range, for assertions.
    pub(super) fn get(line: &[u8], r: Option<Range>) -> Option<&str> {
        r.map(|(a, b)| std::str::from_utf8(&line[a as usize..b as usize]).expect("utf-8 field"))
    }

    /// The one-pass nginx reading agrees with trying ingress, combined and common in turn, fields and
    /// all, on every cut of real lines and on cuts followed by more text: tails that fail part-way
    /// leave nothing of theirs behind.
    #[test]
    fn best_nginx_format_is_the_first_that_reads() {
        use nginx::tests::{COMBINED, COMMON, INGRESS, INGRESS_LISTS};
        let mut checked = 0;
        for line in [INGRESS, INGRESS_LISTS, COMBINED, COMMON] {
            let cuts = line.match_indices(' ').map(|(i, _)| i).chain([line.len()]);
            for cut in cuts {
                for more in ["", " -", " x y", " \"q\" 1", " 12 0.5 [a] [] 10.0.0.1:80 5 0.004 200"] {
                    let l = format!("{}{more}", &line[..cut]);
                    let (mut want, mut got) = (AccessFields::default(), AccessFields::default());
                    let first = [AccessFormat::IngressNginx, AccessFormat::NginxCombined, AccessFormat::NginxCommon]
                        .into_iter()
                        .find(|&f| parse(f, l.as_bytes(), &mut want));
                    let best = parse_nginx_best(l.as_bytes(), &mut got);
                    assert_eq!(best, first, "{l}");
                    if first.is_some() {
                        assert_eq!(got, want, "{l}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 40, "{checked}");
    }

    #[test]
    fn names() {
        assert_eq!(AccessFormat::NginxCombined.name(), "nginx_combined");
        assert_eq!(AccessFormat::NginxCommon.name(), "nginx_common");
        assert_eq!(AccessFormat::IngressNginx.name(), "ingress_nginx");
        assert_eq!(AccessFormat::EnvoyText.name(), "envoy_text");
    }

    #[test]
    fn request_shapes() {
        type Case = (&'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>);
        let cases: &[Case] = &[
            ("GET /a?b=1 HTTP/1.1", Some("GET"), Some("/a?b=1"), Some("HTTP/1.1")),
            ("GET /", Some("GET"), Some("/"), None),
            ("-", None, None, None),
            ("", None, None, None),
            ("- - -", None, None, None),
            ("- - HTTP/1.1", None, None, Some("HTTP/1.1")),
            ("GET /a b HTTP/1.1", Some("GET"), Some("/a b"), Some("HTTP/1.1")),
            ("GET /a b c", None, None, None),
            (r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03", None, None, None),
            (r"\x16\x03\x01 \x00\xA5", Some(r"\x16\x03\x01"), Some(r"\x00\xA5"), None),
        ];
        for &(req, m, p, proto) in cases {
            let mut f = AccessFields::default();
            split_request(req.as_bytes(), (0, req.len()), &mut f);
            let b = req.as_bytes();
            assert_eq!((get(b, f.method), get(b, f.path), get(b, f.protocol)), (m, p, proto), "{req:?}");
        }
    }

    #[test]
    fn trailing_newlines_and_json_are_handled() {
        let line = "10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 2 \"-\" \"curl/8\"";
        let mut f = AccessFields::default();
        for eol in ["", "\n", "\r\n"] {
            let l = format!("{line}{eol}");
            assert_eq!(parse_any(l.as_bytes(), &mut f), Some(AccessFormat::NginxCombined), "{eol:?}");
            assert_eq!(get(l.as_bytes(), f.user_agent), Some("curl/8"));
        }
        let json = r#"{"message":"ACCESS [2019-04-10T03:49:34.451Z] \"GET /httpbin/status/501 HTTP/1.1\" 501 - 0 0 180 179 \"172.17.0.3\" \"curl/7.59.0\" \"413bf460\" \"httpbin.org\" \"67.43.156.18:80\"","stream":"stdout"}"#;
        assert_eq!(parse_any(json.as_bytes(), &mut f), None);
        assert_eq!(parse_any(br#"{"status":200,"msg":"GET / HTTP/1.1"}"#, &mut f), None);
        assert_eq!(parse_any(b"", &mut f), None);
        assert_eq!(parse_any(b"\n", &mut f), None);
    }

    #[test]
    fn parse_resets_fields() {
        let mut f = AccessFields { route_name: Some((1, 2)), status: Some(1), ..AccessFields::default() };
        assert!(parse(AccessFormat::NginxCommon, b"1.2.3.4 - - [t] \"GET / HTTP/1.0\" 200 5", &mut f));
        assert_eq!(f.route_name, None);
        assert_eq!(f.status, Some(200));
    }

    /// Valid lines of every format and quirk, to mutate in the property tests.
    const SEEDS: &[&str] = &[
        nginx::tests::COMBINED,
        nginx::tests::COMMON,
        nginx::tests::INGRESS,
        nginx::tests::INGRESS_LISTS,
        envoy::tests::ENVOY,
        envoy::tests::ISTIO,
    ];

    fn check_ranges(line: &[u8], f: &AccessFields) {
        let ranges = [
            f.client,
            f.user,
            f.time,
            f.method,
            f.path,
            f.protocol,
            f.referer,
            f.user_agent,
            f.forwarded_for,
            f.request_id,
            f.authority,
            f.upstream,
            f.upstream_status,
            f.response_flags,
            f.upstream_cluster,
            f.route_name,
        ];
        let utf8 = std::str::from_utf8(line).ok();
        for (a, b) in ranges.into_iter().flatten() {
            assert!(a <= b && b as usize <= line.len(), "range {a}..{b} outside a line of {}", line.len());
            if let Some(s) = utf8 {
                assert!(s.is_char_boundary(a as usize) && s.is_char_boundary(b as usize), "{a}..{b} in {s:?}");
            }
        }
    }

    fn all_formats(line: &[u8]) {
        let mut f = AccessFields::default();
        for fmt in [
            AccessFormat::IngressNginx,
            AccessFormat::NginxCombined,
            AccessFormat::NginxCommon,
            AccessFormat::EnvoyText,
        ] {
            if parse(fmt, line, &mut f) {
                check_ranges(line, &f);
            }
        }
        if parse_any(line, &mut f).is_some() {
            check_ranges(line, &f);
        }
    }

    /// A seed line with a few bytes replaced, inserted or removed, from an alphabet heavy in delimiters.
    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            Just(b' '),
            Just(b'"'),
            Just(b'\\'),
            Just(b'['),
            Just(b']'),
            Just(b'-'),
            Just(b','),
            Just(b':'),
            Just(b'\n'),
            Just(b'0'),
            Just(b'9'),
            Just(0xc3u8),
            Just(0xa9u8),
            any::<u8>()
        ];
        let edit = (0usize..3, any::<prop::sample::Index>(), byte);
        (prop::sample::select(SEEDS), prop::collection::vec(edit, 1..6)).prop_map(|(seed, edits)| {
            let mut v = seed.as_bytes().to_vec();
            for (kind, at, b) in edits {
                let i = at.index(v.len() + 1);
                match kind {
                    0 if i < v.len() => v[i] = b,
                    1 => v.insert(i, b),
                    _ if i < v.len() => {
                        v.remove(i);
                    }
                    _ => {}
                }
            }
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_do_not_panic(line in prop::collection::vec(any::<u8>(), 0..300)) {
            all_formats(&line);
        }

        #[test]
        fn arbitrary_strings_do_not_panic(line in "[ -~é\"\\[\\]\\\\]{0,200}") {
            all_formats(line.as_bytes());
        }

        #[test]
        fn mutated_lines_do_not_panic(line in mutated()) {
            all_formats(&line);
        }

        /// Any text (multi-byte chars included) inside the quoted request keeps the line recognised, and
        /// every range still falls on char boundaries.
        #[test]
        fn text_inside_quotes_keeps_ranges_on_char_boundaries(seed in prop::sample::select(SEEDS), ins in "[^\"\\\\]{0,16}") {
            let at = seed.find('"').map_or(0, |i| i + 1);
            let line = format!("{}{ins}{}", &seed[..at], &seed[at..]);
            let mut f = AccessFields::default();
            prop_assert!(parse_any(line.as_bytes(), &mut f).is_some(), "{line:?}");
            check_ranges(line.as_bytes(), &f);
        }

        #[test]
        fn truncated_lines_do_not_panic(i in 0usize..400, seed in prop::sample::select(SEEDS)) {
            let b = seed.as_bytes();
            all_formats(&b[..i.min(b.len())]);
        }
    }
}

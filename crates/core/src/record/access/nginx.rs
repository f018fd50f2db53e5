//! nginx / Apache `common` and `combined`, and the ingress-nginx controller's default format.
//!
//! All three start with the same head, `$remote_addr - $remote_user [$time_local] "$request" $status
//! $body_bytes_sent`, and differ in what follows it.

use super::{AccessFields, Cursor, Span, range, split_request, text, uint, uint_or_dash};

/// What follows the head.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tail {
    /// Nothing but trailing whitespace.
    Common,
    /// `"$http_referer" "$http_user_agent"`, then optionally `"…"` (forwarded-for) and anything else.
    Combined,
    /// Combined, then `$request_length $request_time [$proxy_upstream_name]
    /// [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
    /// $upstream_response_time $upstream_status $req_id`.
    Ingress,
}

/// At most this many comma-separated addresses are read as the client before giving up; real
/// X-Forwarded-For chains logged in place of `$remote_addr` are a handful long.
const MAX_CLIENT_CHAIN: usize = 32;

/// Which formats a parse accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Exactly(Tail),
    /// The most specific that fits: ingress, else combined, else common. One pass over the shared head
    /// instead of three when a rule file asks for all of them (as `access` does).
    Best,
}

pub(super) fn parse(tail: Tail, s: &[u8], out: &mut AccessFields) -> bool {
    parse_want(Want::Exactly(tail), s, out).is_some()
}

/// The most specific nginx format `s` is in, with `out` holding that format's fields. Agrees with trying
/// ingress, combined and common in turn, except for a client chain that could end at two places where
/// the two ends fit different formats (the longest end decides here).
pub(super) fn parse_best(s: &[u8], out: &mut AccessFields) -> Option<Tail> {
    parse_want(Want::Best, s, out)
}

fn parse_want(want: Want, s: &[u8], out: &mut AccessFields) -> Option<Tail> {
    // PERF: every line of these formats has the time's `]` followed by ` "` (the request); most lines
    // that are not access lines (JSON and text application logs) have none, and are turned away by one
    // search instead of a parse that fails a few fields in, twice.
    if !memchr::memchr_iter(b']', s).any(|i| s[i + 1..].starts_with(b" \"")) {
        return None;
    }
    if let Some(t) = parse_from(want, s, 0, out) {
        return Some(t);
    }
    // `log_format` variants that put `$http_x_forwarded_for` before `$remote_addr`, quoted or not
    // (`"203.0.113.1, 10.0.0.1" 10.2.1.185 - - [...]`, `2a03::1, 10.0.0.1 10.2.2.121 - - [...]`): the
    // prefix is the forwarded-for chain and the address after it the client.
    let mut c = Cursor::new(s, 0);
    let xff = match c.quoted() {
        Some(q) => q,
        None => match client_chain(&mut c, &mut [0; MAX_CLIENT_CHAIN]) {
            0 => return None,
            _ => (0, c.i),
        },
    };
    if !c.eat(b" ") {
        return None;
    }
    let t = parse_from(want, s, c.i, out)?;
    if out.forwarded_for.is_none() {
        out.forwarded_for = text(s, xff);
    }
    Some(t)
}

/// Reads `a, b, c` and stores where the chain could end after each item; returns how many ends there
/// are (0 when there is no token or the chain is too long) and leaves the cursor after the longest.
fn client_chain(c: &mut Cursor, ends: &mut [usize; MAX_CLIENT_CHAIN]) -> usize {
    let s = c.s;
    let Some(mut tok) = c.token() else { return 0 };
    let mut n = 0;
    loop {
        if n == MAX_CLIENT_CHAIN {
            return 0;
        }
        ends[n] = tok.1;
        n += 1;
        // `a, b`: the comma belongs to the separator, so a lone `,` token does not continue the chain.
        let mut next = *c;
        if tok.1 - tok.0 < 2 || s[tok.1 - 1] != b',' || !next.eat(b" ") {
            return n;
        }
        match next.token() {
            Some(t) => {
                tok = t;
                *c = next;
            }
            None => return n,
        }
    }
}

fn parse_from(want: Want, s: &[u8], start: usize, out: &mut AccessFields) -> Option<Tail> {
    // `$remote_addr` may be replaced by a comma-separated X-Forwarded-For chain (`10.0.0.2, 10.0.0.1,
    // 127.0.0.1 - - [...]`, as `$proxy_add_x_forwarded_for` logs it); it is taken whole. Where a chain
    // item is itself `-` the chain could end before it, so the possible ends are tried longest first,
    // as a greedy pattern would.
    let mut ends = [0usize; MAX_CLIENT_CHAIN];
    let n = client_chain(&mut Cursor::new(s, start), &mut ends);
    ends[..n].iter().rev().find_map(|&end| {
        *out = AccessFields::default();
        out.client = text(s, (start, end));
        parse_after_client(want, Cursor::new(s, end), out)
    })
}

fn parse_after_client(want: Want, mut c: Cursor, out: &mut AccessFields) -> Option<Tail> {
    let s = c.s;
    // The ident field is always `-` in nginx and in Apache without identd; requiring it keeps random text
    // with brackets and quotes from passing as an access line.
    if !c.eat(b" - ") {
        return None;
    }
    let user = c.token()?;
    out.user = text(s, user);
    if !c.eat(b" ") {
        return None;
    }
    let time = c.bracketed()?;
    out.time = Some(range(time));
    if !c.eat(b" ") {
        return None;
    }
    let req = c.quoted()?;
    split_request(s, req, out);
    if !c.eat(b" ") {
        return None;
    }
    let status = c.digits()?;
    if status.1 - status.0 != 3 {
        return None;
    }
    out.status = Some(uint(s, status) as u32);
    if !c.eat(b" ") {
        return None;
    }
    let bytes = uint_or_dash(&mut c)?;
    out.bytes = bytes;
    let blank = |c: &Cursor| s[c.i..].iter().all(|&b| b == b' ' || b == b'\t');
    match want {
        Want::Exactly(Tail::Common) => blank(&c).then_some(Tail::Common),
        Want::Exactly(Tail::Combined) => (combined(&mut c, out) && combined_rest(&mut c, out)).then_some(Tail::Combined),
        Want::Exactly(Tail::Ingress) => (combined(&mut c, out) && ingress(&mut c, out)).then_some(Tail::Ingress),
        Want::Best => {
            if blank(&c) {
                return Some(Tail::Common);
            }
            if !combined(&mut c, out) {
                return None;
            }
            let mut after = c;
            if ingress(&mut after, out) {
                return Some(Tail::Ingress);
            }
            // Undo what the failed ingress tail set: nothing before it sets these (`out` was reset).
            out.bytes_received = None;
            out.duration_ms = None;
            out.upstream_cluster = None;
            out.upstream = None;
            out.upstream_status = None;
            out.request_id = None;
            combined_rest(&mut c, out).then_some(Tail::Combined)
        }
    }
}

/// ` "$http_referer" "$http_user_agent"`.
fn combined(c: &mut Cursor, out: &mut AccessFields) -> bool {
    if !c.eat(b" ") {
        return false;
    }
    let Some(referer) = c.quoted() else { return false };
    if !c.eat(b" ") {
        return false;
    }
    let Some(ua) = c.quoted() else { return false };
    out.referer = text(c.s, referer);
    out.user_agent = text(c.s, ua);
    true
}

/// After combined: nothing, or a space and anything; a quoted field right there is `forwarded_for`
/// (`log_format main '… "$http_x_forwarded_for"'`, nginx's own example), if it ends the line or is
/// followed by a space.
fn combined_rest(c: &mut Cursor, out: &mut AccessFields) -> bool {
    if c.at_end() {
        return true;
    }
    if !c.eat(b" ") {
        return false;
    }
    if let Some(xff) = c.quoted()
        && (c.at_end() || c.peek() == Some(b' '))
    {
        out.forwarded_for = text(c.s, xff);
    }
    true
}

fn ingress(c: &mut Cursor, out: &mut AccessFields) -> bool {
    let s = c.s;
    if !c.eat(b" ") {
        return false;
    }
    let Some(len) = uint_or_dash(c) else { return false };
    out.bytes_received = len;
    if !c.eat(b" ") {
        return false;
    }
    let Some(rt) = c.token() else { return false };
    if &s[rt.0..rt.1] != b"-" && !s[rt.0..rt.1].iter().all(|&b| b.is_ascii_digit() || b == b'.') {
        return false;
    }
    out.duration_ms = seconds_to_ms(&s[rt.0..rt.1]);
    if !c.eat(b" ") {
        return false;
    }
    let Some(name) = c.bracketed() else { return false };
    // `[]` is kept as an empty name rather than `None`: only `-` means "not logged".
    out.upstream_cluster = text(s, name);
    if !c.eat(b" ") || c.bracketed().is_none() {
        return false;
    }
    let mut lists = [(0, 0); 4];
    for l in &mut lists {
        if !c.eat(b" ") {
            return false;
        }
        let Some(sp) = list(c) else { return false };
        *l = sp;
    }
    out.upstream = text(s, lists[0]);
    out.upstream_status = text(s, lists[3]);
    if !c.eat(b" ") {
        return false;
    }
    let Some(id) = c.token() else { return false };
    out.request_id = text(s, id);
    s[c.i..].iter().all(|&b| b == b' ' || b == b'\t')
}

/// An nginx upstream list: `a:80, b:80` (the next server after a failure) and `a:80 : b:80` (an internal
/// redirect to another upstream group), items possibly `-`; taken whole.
fn list(c: &mut Cursor) -> Option<Span> {
    let start = c.i;
    let mut tok = c.token()?;
    loop {
        let mut next = *c;
        // As in the client chain, the comma of `, ` must follow a non-empty item.
        let joined = if tok.1 - tok.0 >= 2 && c.s[tok.1 - 1] == b',' {
            next.eat(b" ").then(|| next.token()).flatten()
        } else {
            next.eat(b" : ").then(|| next.token()).flatten()
        };
        match joined {
            Some(t) => {
                tok = t;
                *c = next;
            }
            None => return Some((start, c.i)),
        }
    }
}

/// `$request_time` (seconds with millisecond digits) in milliseconds. The decimal point is moved in the
/// text, not multiplied, so `0.007` is exactly 7.0 and not 7.000000000000001.
fn seconds_to_ms(t: &[u8]) -> Option<f64> {
    // PERF: nginx writes `$request_time` as `<seconds>.<3 digits>`, whose milliseconds are a whole
    // number, exact as an f64: read directly, as the parse below would read it.
    if let Some(dot) = t.len().checked_sub(4)
        && t[dot] == b'.'
        && (1..=9).contains(&dot)
        && t[..dot].iter().chain(&t[dot + 1..]).all(u8::is_ascii_digit)
    {
        let ms = t[..dot].iter().chain(&t[dot + 1..]).fold(0u64, |a, &d| a * 10 + u64::from(d - b'0'));
        return Some(ms as f64);
    }
    let mut buf = [0u8; 48];
    let n = t.len();
    if n == 0 || n + 2 > buf.len() || !t.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    buf[..n].copy_from_slice(t);
    buf[n..n + 2].copy_from_slice(b"e3");
    std::str::from_utf8(&buf[..n + 2]).ok()?.parse().ok()
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::get;
    use super::super::{AccessFields, AccessFormat, parse, parse_any};

    /// nginx `combined` + `"$http_x_forwarded_for"` (nginx's `main` example format).
    pub(in super::super) const COMBINED: &str = r#"203.0.113.9 - alice [22/Nov/2026:10:00:00 +0330] "GET /search?q=a\x5Cb HTTP/1.1" 499 0 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64) \x22quoted\x22" "198.51.100.7, 10.0.0.1""#;
    pub(in super::super) const COMMON: &str =
        r#"20.38.166.115 - - [21/Feb/2018:17:26:53 +0000] "GET /intra-abdominally HTTP/1.0" 500 2216"#;
    pub(in super::super) const INGRESS: &str = r#"192.168.64.1 - - [07/Feb/2020:11:55:57 +0000] "GET /favicon.ico HTTP/1.1" 200 59 "http://hello-world.info/products/42" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko)" 381 0.007 [default-web-8080] [] 172.17.0.5:8080 59 0.000 200 e983c8cf3d713548baa50c9e2fffeb34"#;
    pub(in super::super) const INGRESS_LISTS: &str = r#"2a02:cf40::4e36 - - [24/Aug/2022:18:05:41 +0000] "GET /favicon.ico HTTP/2.0" 502 552 "https://localhost:8080/" "Mozilla/5.0" 27 0.000 [localhost-8080] [] [2a02:cf40::7]:5000, [2a02:cf40::4e36]:5000 0, 0 0.000, 0.000 502, 502 3db73c6c673c4256ade033a6ce08c2ab"#;

    fn parsed(fmt: AccessFormat, line: &str) -> AccessFields {
        let mut f = AccessFields::default();
        assert!(parse(fmt, line.as_bytes(), &mut f), "{} should read {line:?}", fmt.name());
        f
    }

    /// Asserts the string fields shared by the nginx formats.
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    fn head(line: &str, f: &AccessFields, client: &str, user: Option<&str>, time: &str, req: [Option<&str>; 3]) {
        let b = line.as_bytes();
        assert_eq!(get(b, f.client), Some(client));
        assert_eq!(get(b, f.user), user);
        assert_eq!(get(b, f.time), Some(time));
        assert_eq!([get(b, f.method), get(b, f.path), get(b, f.protocol)], req);
    }

    #[track_caller]
    fn none_of_the_envoy_fields(f: &AccessFields) {
        assert_eq!(
            (f.authority, f.response_flags, f.route_name),
            (None, None, None),
            "nginx formats have no Envoy fields"
        );
    }

    #[test]
    fn combined_with_forwarded_for_and_escapes() {
        let f = parsed(AccessFormat::NginxCombined, COMBINED);
        let b = COMBINED.as_bytes();
        head(
            COMBINED,
            &f,
            "203.0.113.9",
            Some("alice"),
            "22/Nov/2026:10:00:00 +0330",
            [Some("GET"), Some(r"/search?q=a\x5Cb"), Some("HTTP/1.1")],
        );
        assert_eq!((f.status, f.bytes), (Some(499), Some(0)));
        assert_eq!(get(b, f.referer), Some("https://shop.example/"));
        assert_eq!(get(b, f.user_agent), Some(r"Mozilla/5.0 (X11; Linux x86_64) \x22quoted\x22"));
        assert_eq!(get(b, f.forwarded_for), Some("198.51.100.7, 10.0.0.1"));
        assert_eq!(
            (f.bytes_received, f.duration_ms, f.request_id, f.upstream, f.upstream_status, f.upstream_cluster),
            (None, None, None, None, None, None)
        );
        none_of_the_envoy_fields(&f);
        let mut any = AccessFields::default();
        assert_eq!(parse_any(b, &mut any), Some(AccessFormat::NginxCombined));
        assert_eq!(any, f);
    }

    #[test]
    fn combined_variants() {
        // Trailing `"-"` forwarded-for is None; more fields after it are ignored.
        let l = r#"172.17.0.1 - - [29/May/2017:19:02:48 +0000] "GET /stringpatch HTTP/1.1" 404 612 "-" "Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2" "-" rt=0.001 uct="0.000""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        assert_eq!((f.status, f.bytes, f.referer, f.forwarded_for), (Some(404), Some(612), None, None));
        assert_eq!(
            get(l.as_bytes(), f.user_agent),
            Some("Mozilla/5.0 (Windows NT 6.1; rv:15.0) Gecko/20120716 Firefox/15.0a2")
        );

        // Extra unquoted fields: no forwarded-for.
        let l = r#"10.1.2.3 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "curl/8" 0.003"#;
        assert_eq!(parsed(AccessFormat::NginxCombined, l).forwarded_for, None);

        // A comma-separated chain in place of `$remote_addr` is the client, whole; IPv6 clients.
        let l = r#"10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.12; rv:49.0) Gecko/20100101 Firefox/49.0""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        head(
            l,
            &f,
            "10.0.0.2, 10.0.0.1, 127.0.0.1",
            None,
            "07/Dec/2016:11:05:07 +0100",
            [Some("GET"), Some("/ocelot"), Some("HTTP/1.1")],
        );
        let l = r#"2a02:cf40::4e36 - - [24/Aug/2022:18:05:41 +0000] "GET / HTTP/2.0" 200 5 "-" "-""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        assert_eq!((get(l.as_bytes(), f.client), f.user_agent), (Some("2a02:cf40::4e36"), None));

        // `$http_x_forwarded_for` logged before `$remote_addr`, quoted or as a bare chain, or `-`.
        let l = r#""10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET /assets/xxxx?q=100 HTTP/1.1" 200 25507 "-" "Amazon CloudFront""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        head(
            l,
            &f,
            "10.2.1.185",
            None,
            "22/Jan/2016:13:18:29 +0000",
            [Some("GET"), Some("/assets/xxxx?q=100"), Some("HTTP/1.1")],
        );
        assert_eq!(get(l.as_bytes(), f.forwarded_for), Some("10.5.102.222, 199.96.1.1, 204.246.1.1"));
        assert_eq!(
            (f.status, f.bytes, get(l.as_bytes(), f.user_agent)),
            (Some(200), Some(25507), Some("Amazon CloudFront"))
        );
        let l = r#"2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 - - [30/Dec/2016:06:47:09 +0000] "GET /test.html HTTP/1.1" 404 8571 "-" "Mozilla/5.0 (compatible; Facebot 1.0)""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        assert_eq!(get(l.as_bytes(), f.client), Some("10.2.2.121"));
        assert_eq!(get(l.as_bytes(), f.forwarded_for), Some("2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17"));
        let l = r#"- 10.2.2.121 - - [30/Dec/2016:06:47:09 +0000] "GET / HTTP/1.1" 404 8571"#;
        let f = parsed(AccessFormat::NginxCommon, l);
        assert_eq!((get(l.as_bytes(), f.client), f.forwarded_for), (Some("10.2.2.121"), None));

        // The empty request nginx logs for a connection closed before a request line; `-` bytes.
        let l = r#"127.0.0.1 - - [12/Apr/2018:09:48:40 +0200] "" 400 - "-" "-""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        assert_eq!((f.method, f.path, f.protocol, f.status, f.bytes), (None, None, None, Some(400), None));

        // TLS handshake bytes sent to a plain-HTTP port: status still read, the request gives nothing.
        let l = r#"45.1.2.3 - - [22/Nov/2026:10:00:00 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03\x9A" 400 157 "-" "-""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        assert_eq!((f.method, f.path, f.protocol, f.status, f.bytes), (None, None, None, Some(400), Some(157)));

        // HTTP/0.9-style request with no protocol; Apache's `\"` escape in a user agent.
        let l = r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /index.html" 200 10 "-" "Bot \"x\" 1.0""#;
        let f = parsed(AccessFormat::NginxCombined, l);
        assert_eq!((get(l.as_bytes(), f.path), f.protocol), (Some("/index.html"), None));
        assert_eq!(get(l.as_bytes(), f.user_agent), Some(r#"Bot \"x\" 1.0"#));

        // A user agent cut off before its closing quote is not a combined line.
        let l = r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0 (compatible; Yahoo! Slurp"#;
        let mut f = AccessFields::default();
        assert_eq!(parse_any(l.as_bytes(), &mut f), None);
    }

    #[test]
    fn common() {
        let f = parsed(AccessFormat::NginxCommon, COMMON);
        head(
            COMMON,
            &f,
            "20.38.166.115",
            None,
            "21/Feb/2018:17:26:53 +0000",
            [Some("GET"), Some("/intra-abdominally"), Some("HTTP/1.0")],
        );
        assert_eq!((f.status, f.bytes), (Some(500), Some(2216)));
        assert_eq!(
            (f.referer, f.user_agent, f.forwarded_for, f.bytes_received, f.duration_ms),
            (None, None, None, None, None)
        );
        none_of_the_envoy_fields(&f);
        let mut f = AccessFields::default();
        assert_eq!(parse_any(COMMON.as_bytes(), &mut f), Some(AccessFormat::NginxCommon));
        // Trailing whitespace and the Docker newline are fine; anything else after the bytes is not common.
        assert!(parse(AccessFormat::NginxCommon, format!("{COMMON} \t\n").as_bytes(), &mut f));
        assert!(!parse(AccessFormat::NginxCommon, format!("{COMMON} \"-\"").as_bytes(), &mut f));
        // A combined line is not common, and a common line is not combined.
        assert!(!parse(AccessFormat::NginxCommon, COMBINED.as_bytes(), &mut f));
        assert!(!parse(AccessFormat::NginxCombined, COMMON.as_bytes(), &mut f));
    }

    #[test]
    fn ingress() {
        let f = parsed(AccessFormat::IngressNginx, INGRESS);
        let b = INGRESS.as_bytes();
        head(
            INGRESS,
            &f,
            "192.168.64.1",
            None,
            "07/Feb/2020:11:55:57 +0000",
            [Some("GET"), Some("/favicon.ico"), Some("HTTP/1.1")],
        );
        assert_eq!((f.status, f.bytes, f.bytes_received, f.duration_ms), (Some(200), Some(59), Some(381), Some(7.0)));
        assert_eq!(get(b, f.referer), Some("http://hello-world.info/products/42"));
        assert_eq!(
            get(b, f.user_agent),
            Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko)")
        );
        assert_eq!(get(b, f.upstream_cluster), Some("default-web-8080"));
        assert_eq!(get(b, f.upstream), Some("172.17.0.5:8080"));
        assert_eq!(get(b, f.upstream_status), Some("200"));
        assert_eq!(get(b, f.request_id), Some("e983c8cf3d713548baa50c9e2fffeb34"));
        assert_eq!(f.forwarded_for, None);
        none_of_the_envoy_fields(&f);
        let mut any = AccessFields::default();
        assert_eq!(parse_any(b, &mut any), Some(AccessFormat::IngressNginx));
        assert_eq!(any, f);
        // An ingress line is also a combined line with extra fields, which is why parse_any tries ingress first.
        assert!(parse(AccessFormat::NginxCombined, b, &mut any));
        assert!(!parse(AccessFormat::NginxCommon, b, &mut any));
    }

    #[test]
    fn ingress_lists_and_placeholders() {
        // Retries: address, length, time and status lists; bracketed IPv6 upstreams.
        let f = parsed(AccessFormat::IngressNginx, INGRESS_LISTS);
        let b = INGRESS_LISTS.as_bytes();
        assert_eq!(get(b, f.client), Some("2a02:cf40::4e36"));
        assert_eq!(get(b, f.upstream), Some("[2a02:cf40::7]:5000, [2a02:cf40::4e36]:5000"));
        assert_eq!(get(b, f.upstream_status), Some("502, 502"));
        assert_eq!((f.status, f.duration_ms, f.bytes_received), (Some(502), Some(0.0), Some(27)));
        assert_eq!(get(b, f.request_id), Some("3db73c6c673c4256ade033a6ce08c2ab"));

        // Mixed `-` items, a `-` length list; an internal redirect ` : ` between upstream groups.
        let l = r#"192.168.64.14 - - [07/Feb/2020:12:02:42 +0000] "GET /test/test.mp4 HTTP/1.1" 200 61 "-" "Firefox/72.0" 348 0.001 [default-web2-8080] [] 172.17.0.6:8080, 172.17.0.7:8080 : 10.0.0.9:80 - 0.100, - : 0.002 200, - : 200 835136ae24486dbb4156dcbe21f5d402"#;
        let f = parsed(AccessFormat::IngressNginx, l);
        let b = l.as_bytes();
        assert_eq!(get(b, f.upstream), Some("172.17.0.6:8080, 172.17.0.7:8080 : 10.0.0.9:80"));
        assert_eq!(get(b, f.upstream_status), Some("200, - : 200"));
        assert_eq!(get(b, f.request_id), Some("835136ae24486dbb4156dcbe21f5d402"));
        assert_eq!(f.duration_ms, Some(1.0));

        // Invalid method: nginx answers 400 itself, so no upstream was reached and `[]` names none.
        let l = r#"192.168.64.1 - - [07/Feb/2020:11:49:50 +0000] "PATCHp /products/42 HTTP/1.1" 400 163 "-" "-" 0 0.000 [] [] - - - - 4c7d2079340e68353c7d0dfff00b904b"#;
        let f = parsed(AccessFormat::IngressNginx, l);
        let b = l.as_bytes();
        assert_eq!(get(b, f.method), Some("PATCHp"));
        assert_eq!((f.status, f.bytes, f.bytes_received, f.duration_ms), (Some(400), Some(163), Some(0), Some(0.0)));
        assert_eq!(get(b, f.upstream_cluster), Some(""));
        assert_eq!((f.upstream, f.upstream_status, f.user_agent, f.referer), (None, None, None, None));

        // A unix-socket upstream and a user with an IPv6 client.
        let l = r#"2a02:cf40:: - remote_monitoring_user [24/Aug/2022:21:04:17 +0000] "POST /_bulk HTTP/1.1" 200 470 "-" "Elastic-metricbeat/7.16.3 (linux; amd64)" 2057 0.033 [esmon-es-http-9200] [] unix:/var/run/php-fpm.sock 470 0.036 200 3db73c6c"#;
        let f = parsed(AccessFormat::IngressNginx, l);
        let b = l.as_bytes();
        assert_eq!(get(b, f.user), Some("remote_monitoring_user"));
        assert_eq!(get(b, f.upstream), Some("unix:/var/run/php-fpm.sock"));
        assert_eq!(f.duration_ms, Some(33.0));

        // A deliberately malformed IPv6 upstream is still one token.
        let l = INGRESS_LISTS.replace("[2a02:cf40::4e36]:5000 0", "[2a02:cf40::::::::4e36]:500000000 0");
        assert!(parse(AccessFormat::IngressNginx, l.as_bytes(), &mut AccessFields::default()));
    }

    #[test]
    fn ingress_rejects() {
        let mut f = AccessFields::default();
        // One field short, one too many, a word where `$request_length` goes.
        let short = INGRESS.rsplit_once(' ').map(|(a, _)| a).unwrap_or_default();
        for l in [short.to_string(), format!("{INGRESS} extra"), INGRESS.replace(" 381 ", " abc ")] {
            assert!(!parse(AccessFormat::IngressNginx, l.as_bytes(), &mut f), "{l}");
        }
        // A combined line with forwarded-for is not ingress.
        assert!(!parse(AccessFormat::IngressNginx, COMBINED.as_bytes(), &mut f));
    }

    #[test]
    fn nginx_rejects_other_formats() {
        let mut f = AccessFields::default();
        for l in [
            super::super::envoy::tests::ENVOY,
            super::super::envoy::tests::ISTIO,
            r#"{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 2 \"-\" \"-\""}"#,
            "2026-11-22 10:00:00,123 ERROR [main] c.e.Foo - failed",
            r#"[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"#,
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 2000 2 "-" "-""#,
            r#"10.0.0.1 x - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "-""#,
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-"x"-""#,
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "a\"#,
            "10.0.0.1\t-\t-\t[22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 2",
        ] {
            for fmt in [AccessFormat::IngressNginx, AccessFormat::NginxCombined, AccessFormat::NginxCommon] {
                assert!(!parse(fmt, l.as_bytes(), &mut f), "{} read {l:?}", fmt.name());
            }
        }
    }

    #[test]
    fn request_time() {
        use super::seconds_to_ms;
        assert_eq!(seconds_to_ms(b"0.004"), Some(4.0));
        assert_eq!(seconds_to_ms(b"12.345"), Some(12345.0));
        assert_eq!(seconds_to_ms(b"1"), Some(1000.0));
        assert_eq!(seconds_to_ms(b"-"), None);
        assert_eq!(seconds_to_ms(b"1.2.3"), None);
        assert_eq!(seconds_to_ms(b"."), None);
        assert_eq!(seconds_to_ms(b""), None);
        // The fast path for `s.mmm` reads what the parse reads.
        for t in ["0.000", "0.142", "7.5", "123456789.001", "1234567890.001", "00.010", ".123", "1.", "1.2345", "9.99e", "1..23", "1.-23", "1.2.345"] {
            let slow = format!("{t}e3").parse::<f64>().ok().filter(|_| t.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
            assert_eq!(seconds_to_ms(t.as_bytes()), slow, "{t}");
        }
    }
}

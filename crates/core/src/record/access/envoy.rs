//! Envoy's default text access log and Istio's default text format.
//!
//! Envoy: `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
//! %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
//! "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"`.
//!
//! Istio (1.9 and later) adds `%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//! "%UPSTREAM_TRANSPORT_FAILURE_REASON%"` after the flags, and a tail after the upstream host:
//! `%UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//! %REQUESTED_SERVER_NAME% %ROUTE_NAME%`. Istio 1.5–1.8 had `"%DYNAMIC_METADATA(istio.mixer:status)%"
//! "%UPSTREAM_TRANSPORT_FAILURE_REASON%"` in that place instead; both are accepted.
//!
//! Everything up to the upstream host is read strictly. The tail is read only when it has exactly the
//! six Istio fields: with any other count the fields cannot be told apart, so none of them is guessed.

use super::{AccessFields, Cursor, range, split_request, text, uint, uint_or_dash};

/// What sits between `%RESPONSE_FLAGS%` and `%BYTES_RECEIVED%`.
#[derive(Clone, Copy)]
enum Middle {
    /// Istio ≥ 1.9: two tokens and a quoted field.
    Istio,
    /// Envoy's default: nothing.
    Envoy,
    /// Istio 1.5–1.8: two quoted fields.
    Mixer,
}

pub(super) fn parse(s: &[u8], out: &mut AccessFields) -> bool {
    let mut c = Cursor::new(s, 0);
    // Ambassador (Emissary) prefixes its Envoy lines with `ACCESS `.
    c.eat(b"ACCESS ");
    let Some(time) = c.bracketed() else { return false };
    if !c.eat(b" ") {
        return false;
    }
    let Some(req) = c.quoted() else { return false };
    if !c.eat(b" ") {
        return false;
    }
    let Some(code) = c.digits() else { return false };
    if !c.eat(b" ") {
        return false;
    }
    let Some(flags) = c.token() else { return false };
    [Middle::Istio, Middle::Envoy, Middle::Mixer].into_iter().any(|m| {
        *out = AccessFields::default();
        out.time = Some(range(time));
        split_request(s, req, out);
        out.status = Some(u32::try_from(uint(s, code)).unwrap_or(u32::MAX));
        out.response_flags = text(s, flags);
        after_flags(m, c, out)
    })
}

fn after_flags(middle: Middle, mut c: Cursor, out: &mut AccessFields) -> bool {
    let s = c.s;
    let ok = match middle {
        Middle::Istio => {
            c.eat(b" ")
                && c.token().is_some()
                && c.eat(b" ")
                && c.token().is_some()
                && c.eat(b" ")
                && c.quoted().is_some()
        }
        Middle::Envoy => true,
        Middle::Mixer => c.eat(b" ") && c.quoted().is_some() && c.eat(b" ") && c.quoted().is_some(),
    };
    if !ok || !c.eat(b" ") {
        return false;
    }
    let Some(received) = uint_or_dash(&mut c) else { return false };
    if !c.eat(b" ") {
        return false;
    }
    let Some(sent) = uint_or_dash(&mut c) else { return false };
    if !c.eat(b" ") {
        return false;
    }
    let Some(duration) = uint_or_dash(&mut c) else { return false };
    // X-ENVOY-UPSTREAM-SERVICE-TIME is not an access field; any token will do.
    if !c.eat(b" ") || c.token().is_none() {
        return false;
    }
    out.bytes_received = received;
    out.bytes = sent;
    out.duration_ms = duration.map(|d| d as f64);
    let mut quoted = [(0, 0); 5];
    for q in &mut quoted {
        if !c.eat(b" ") {
            return false;
        }
        let Some(sp) = c.quoted() else { return false };
        *q = sp;
    }
    let [xff, ua, id, authority, upstream] = quoted;
    out.forwarded_for = text(s, xff);
    out.user_agent = text(s, ua);
    out.request_id = text(s, id);
    out.authority = text(s, authority);
    out.upstream = text(s, upstream);
    if c.at_end() {
        return true;
    }
    if !c.eat(b" ") {
        return false;
    }
    istio_tail(s, c.i, out);
    true
}

/// `UPSTREAM_CLUSTER UPSTREAM_LOCAL_ADDRESS DOWNSTREAM_LOCAL_ADDRESS DOWNSTREAM_REMOTE_ADDRESS
/// REQUESTED_SERVER_NAME ROUTE_NAME`, single spaces.
fn istio_tail(s: &[u8], start: usize, out: &mut AccessFields) {
    let mut parts = [(0, 0); 6];
    let mut n = 0;
    let mut from = start;
    let spaces = memchr::memchr_iter(b' ', &s[start..]).map(|i| start + i);
    for i in spaces.chain(std::iter::once(s.len())) {
        if n == parts.len() {
            return;
        }
        parts[n] = (from, i);
        n += 1;
        from = i + 1;
    }
    if n == parts.len() {
        out.upstream_cluster = text(s, parts[0]);
        out.client = text(s, parts[3]);
        out.route_name = text(s, parts[5]);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::get;
    use super::super::{AccessFields, AccessFormat, parse, parse_any};

    pub(in super::super) const ENVOY: &str = r#"[2019-04-08T16:16:55.931Z] "GET /service/1?x=1 HTTP/1.1" 200 - 0 89 5 4 "10.0.0.9, 172.17.0.3" "curl/7.54.0" "c219f6da-2b7f-483e-9ced-ec323d9330a9" "localhost:8000" "172.27.0.3:80""#;
    pub(in super::super) const ISTIO: &str = r#"[2022-08-22T13:08:23.188Z] "GET /reviews/0 HTTP/1.1" 200 - via_upstream - "-" 0 442 12 12 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)" "00bcf1d7-12c4-93b9-b36a-bc0faac8e428" "reviews:9080" "10.124.1.5:9080" outbound|9080||reviews.default.svc.cluster.local 10.124.2.6:50960 10.0.18.132:9080 10.124.2.6:52930 - default"#;

    fn parsed(line: &str) -> AccessFields {
        let mut f = AccessFields::default();
        assert!(parse(AccessFormat::EnvoyText, line.as_bytes(), &mut f), "envoy_text should read {line:?}");
        let mut any = AccessFields::default();
        assert_eq!(parse_any(line.as_bytes(), &mut any), Some(AccessFormat::EnvoyText));
        assert_eq!(any, f);
        f
    }

    #[track_caller]
    fn no_nginx_fields(f: &AccessFields) {
        assert_eq!((f.user, f.referer, f.upstream_status), (None, None, None));
    }

    #[test]
    fn envoy_default() {
        let f = parsed(ENVOY);
        let b = ENVOY.as_bytes();
        assert_eq!(get(b, f.time), Some("2019-04-08T16:16:55.931Z"));
        assert_eq!(
            [get(b, f.method), get(b, f.path), get(b, f.protocol)],
            [Some("GET"), Some("/service/1?x=1"), Some("HTTP/1.1")]
        );
        assert_eq!((f.status, f.response_flags), (Some(200), None));
        assert_eq!((f.bytes_received, f.bytes, f.duration_ms), (Some(0), Some(89), Some(5.0)));
        assert_eq!(get(b, f.forwarded_for), Some("10.0.0.9, 172.17.0.3"));
        assert_eq!(get(b, f.user_agent), Some("curl/7.54.0"));
        assert_eq!(get(b, f.request_id), Some("c219f6da-2b7f-483e-9ced-ec323d9330a9"));
        assert_eq!(get(b, f.authority), Some("localhost:8000"));
        assert_eq!(get(b, f.upstream), Some("172.27.0.3:80"));
        assert_eq!((f.client, f.upstream_cluster, f.route_name), (None, None, None));
        no_nginx_fields(&f);
    }

    #[test]
    fn istio_default() {
        let f = parsed(ISTIO);
        let b = ISTIO.as_bytes();
        assert_eq!(get(b, f.time), Some("2022-08-22T13:08:23.188Z"));
        assert_eq!(
            [get(b, f.method), get(b, f.path), get(b, f.protocol)],
            [Some("GET"), Some("/reviews/0"), Some("HTTP/1.1")]
        );
        assert_eq!((f.status, f.response_flags), (Some(200), None));
        assert_eq!((f.bytes_received, f.bytes, f.duration_ms), (Some(0), Some(442), Some(12.0)));
        assert_eq!(f.forwarded_for, None);
        assert_eq!(
            get(b, f.user_agent),
            Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)")
        );
        assert_eq!(get(b, f.request_id), Some("00bcf1d7-12c4-93b9-b36a-bc0faac8e428"));
        assert_eq!(get(b, f.authority), Some("reviews:9080"));
        assert_eq!(get(b, f.upstream), Some("10.124.1.5:9080"));
        assert_eq!(get(b, f.upstream_cluster), Some("outbound|9080||reviews.default.svc.cluster.local"));
        assert_eq!(get(b, f.client), Some("10.124.2.6:52930"));
        assert_eq!(get(b, f.route_name), Some("default"));
        no_nginx_fields(&f);
    }

    #[test]
    fn istio_failures_and_ipv6() {
        // Response code 0 with DC: the client went away before a response.
        let l = r#"[2022-07-22T12:24:09.217Z] "GET /reviews/0 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 3106 - "-" "curl/7.79.1" "d0caf832-6a17-916f-83b4-71a33dc038db" "reviews:9080" "10.24.0.10:9080" inbound|9080|| 127.0.0.6:57403 10.24.0.10:9080 10.24.0.11:49888 outbound_.9080_._.reviews.default.svc.cluster.local default"#;
        let f = parsed(l);
        let b = l.as_bytes();
        assert_eq!((f.status, get(b, f.response_flags), f.duration_ms), (Some(0), Some("DC"), Some(3106.0)));
        assert_eq!(get(b, f.upstream_cluster), Some("inbound|9080||"));
        assert_eq!(get(b, f.client), Some("10.24.0.11:49888"));

        // 503 UF with details in braces; a `-` upstream host; inbound cluster.
        let l = r#"[2022-09-01T09:36:33.553Z] "GET /ratings/0 HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111} - "delayed connect error: 111" 0 91 0 - "-" "curl/7.79.1" "5c2b9b38-8a6a-9b4f-a0b5-d50b5d4f7d13" "ratings:9080" "-" outbound|9080||ratings.default.svc.cluster.local - 10.0.16.224:9080 10.124.2.6:49098 - default"#;
        let f = parsed(l);
        let b = l.as_bytes();
        assert_eq!((f.status, get(b, f.response_flags), f.upstream), (Some(503), Some("UF"), None));
        assert_eq!(get(b, f.route_name), Some("default"));

        // 400 DPE from a bad request: the request line is `- - HTTP/1.1`.
        let l = r#"[2022-09-01T09:36:33.553Z] "- - HTTP/1.1" 400 DPE http1.codec_error - "-" 0 11 46 - "-" "-" "-" "-" "-" - - 10.124.2.10:8080 10.128.0.60:51643 - -"#;
        let f = parsed(l);
        let b = l.as_bytes();
        assert_eq!([f.method, f.path], [None, None]);
        assert_eq!(get(b, f.protocol), Some("HTTP/1.1"));
        assert_eq!((f.status, get(b, f.response_flags)), (Some(400), Some("DPE")));
        assert_eq!(
            (f.user_agent, f.request_id, f.authority, f.upstream, f.upstream_cluster, f.route_name),
            (None, None, None, None, None, None)
        );
        assert_eq!(get(b, f.client), Some("10.128.0.60:51643"));

        // Bracketed IPv6 addresses.
        let l = r#"[2022-08-22T13:20:22.460Z] "GET /ratings/0 HTTP/1.1" 200 - via_upstream - "-" 0 48 1 0 "-" "curl/7.79.1" "72f12c1b" "ratings:9080" "[2a02:cf40::7]:3000" inbound|9080|| 127.0.0.6:38951 10.124.0.11:9080 [2a02:cf40::4e36]:5000 outbound_.9080_._.ratings.default.svc.cluster.local default"#;
        let f = parsed(l);
        let b = l.as_bytes();
        assert_eq!(get(b, f.upstream), Some("[2a02:cf40::7]:3000"));
        assert_eq!(get(b, f.client), Some("[2a02:cf40::4e36]:5000"));
    }

    #[test]
    fn envoy_variants() {
        // TCP proxy: no request line; Ambassador's prefix; flags lists.
        let l = r#"ACCESS [2019-04-06T06:20:05.972Z] "- - -" 0 UF,URX 0 0 0 - "-" "-" "-" "-" "127.0.0.1:9200""#;
        let f = parsed(l);
        let b = l.as_bytes();
        assert_eq!(get(b, f.time), Some("2019-04-06T06:20:05.972Z"));
        assert_eq!([f.method, f.path, f.protocol], [None, None, None]);
        assert_eq!((f.status, get(b, f.response_flags)), (Some(0), Some("UF,URX")));
        assert_eq!((f.bytes_received, f.bytes, f.duration_ms), (Some(0), Some(0), Some(0.0)));
        assert_eq!((f.forwarded_for, f.user_agent, f.request_id, f.authority), (None, None, None, None));
        assert_eq!(get(b, f.upstream), Some("127.0.0.1:9200"));

        // 404 NR with no upstream, and the Docker newline.
        let l = "[2019-04-11T00:31:55.439Z] \"GET /elastic HTTP/1.1\" 404 NR 0 0 0 - \"172.17.0.3\" \"curl/7.59.0\" \"58436667\" \"192.168.99.107:30901\" \"-\"\r\n";
        let f = parsed(l);
        assert_eq!((f.status, get(l.as_bytes(), f.response_flags), f.upstream), (Some(404), Some("NR"), None));

        // Istio 1.5–1.8: mixer status and transport failure reason, both quoted.
        let l = r#"[2020-05-01T10:00:00.000Z] "GET /x HTTP/1.1" 200 - "-" "-" 0 12 3 2 "-" "curl/7.68.0" "abc" "svc:80" "10.0.0.5:80" outbound|80||svc.ns.svc.cluster.local 10.0.0.4:40000 10.96.0.10:80 10.0.0.4:39998 - default"#;
        let f = parsed(l);
        assert_eq!((f.bytes, f.duration_ms), (Some(12), Some(3.0)));
        assert_eq!(get(l.as_bytes(), f.route_name), Some("default"));

        // A tail that is not Istio's six fields gives no Istio fields.
        let l = format!("{ENVOY} extra");
        let f = parsed(&l);
        assert_eq!((f.client, f.upstream_cluster, f.route_name), (None, None, None));
        let l = format!("{ISTIO} more");
        let f = parsed(&l);
        assert_eq!((f.client, f.upstream_cluster, f.route_name), (None, None, None));
    }

    #[test]
    fn envoy_rejects_other_formats() {
        let mut f = AccessFields::default();
        for l in [
            super::super::nginx::tests::COMBINED,
            super::super::nginx::tests::COMMON,
            super::super::nginx::tests::INGRESS,
            r#"{"authority":"reviews:9080","bytes_received":0,"bytes_sent":358,"response_code":200}"#,
            r#"[2019-04-08T16:16:55.931Z] "GET / HTTP/1.1" 200 - 0 89 5 4 "-" "curl" "id" "host""#,
            r#"[2019-04-08T16:16:55.931Z] "GET / HTTP/1.1" 200 - x 89 5 4 "-" "curl" "id" "host" "up""#,
            r#"[2019-04-08T16:16:55.931Z] "GET / HTTP/1.1" - - 0 89 5 4 "-" "curl" "id" "host" "up""#,
            r#"[2019-04-08T16:16:55.931Z] "GET / HTTP/1.1" 200 - 0 89 5 4 "-" "curl" "id" "host" "up"x"#,
            r#"ACCESS  [2019-04-08T16:16:55.931Z] "GET / HTTP/1.1" 200 - 0 89 5 4 "-" "curl" "id" "host" "up""#,
            "[INFO] server started",
            "2026-11-22T10:00:00.000Z\tERROR\tfailed",
        ] {
            assert!(!parse(AccessFormat::EnvoyText, l.as_bytes(), &mut f), "envoy_text read {l:?}");
        }
    }
}

//! The access-log parsers (`logtrim_core::record::access`): nginx/Apache common and combined,
//! ingress-nginx, Envoy/Istio text.
//!
//! Asserts, for any line, for each of the four formats:
//! - no panic;
//! - on success every range lies inside the line, `start <= end`, and — the module's promise — starts and
//!   ends on a char boundary whenever the line is UTF-8 (rules turn ranges into `&str`);
//! - `parse` resets `out` itself: parsing into fields left over from another line gives the same result
//!   as parsing into fresh ones;
//! - `parse_any` returns the first format of its documented order that `parse` accepts, with the same
//!   fields;
//! - `parse_nginx_best` names a format that `parse` accepts, and returns `None` only if none of the three
//!   nginx formats accepts the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrim_core::record::access::{self, AccessFields, AccessFormat, Range};

const ORDER: [AccessFormat; 4] =
    [AccessFormat::IngressNginx, AccessFormat::NginxCombined, AccessFormat::NginxCommon, AccessFormat::EnvoyText];

fn ranges(f: &AccessFields) -> Vec<(&'static str, Range)> {
    let named = [
        ("client", f.client),
        ("user", f.user),
        ("time", f.time),
        ("method", f.method),
        ("path", f.path),
        ("protocol", f.protocol),
        ("referer", f.referer),
        ("user_agent", f.user_agent),
        ("forwarded_for", f.forwarded_for),
        ("request_id", f.request_id),
        ("authority", f.authority),
        ("upstream", f.upstream),
        ("upstream_status", f.upstream_status),
        ("response_flags", f.response_flags),
        ("upstream_cluster", f.upstream_cluster),
        ("route_name", f.route_name),
    ];
    named.into_iter().filter_map(|(n, r)| r.map(|r| (n, r))).collect()
}

fn check_ranges(fmt: AccessFormat, line: &[u8], f: &AccessFields) {
    let text = std::str::from_utf8(line).ok();
    for (name, (s, e)) in ranges(f) {
        let (s, e) = (s as usize, e as usize);
        assert!(s <= e && e <= line.len(), "{}: {name} range {s}..{e} outside the {}-byte line", fmt.name(), line.len());
        if let Some(t) = text {
            assert!(
                t.is_char_boundary(s) && t.is_char_boundary(e),
                "{}: {name} range {s}..{e} splits a character of a UTF-8 line",
                fmt.name()
            );
        }
    }
    if let Some(d) = f.duration_ms {
        assert!(!d.is_nan(), "{}: duration is NaN", fmt.name());
    }
}

fuzz_target!(|line: &[u8]| {
    // Fields from a real line, so that a parser that forgot to reset one would leave it set.
    let mut stale = AccessFields::default();
    let primed = access::parse(
        AccessFormat::IngressNginx,
        br#"10.0.0.1 - bob [22/Nov/2026:10:00:00 +0000] "GET /a?b HTTP/1.1" 200 5 "http://r/" "ua/1" 300 0.005 [ns-svc-80] [] 10.1.1.1:80 5 0.004 200 abc"#,
        &mut stale,
    );
    assert!(primed, "the priming line no longer parses as ingress_nginx");

    let mut results = Vec::new();
    for fmt in ORDER {
        let mut fresh = AccessFields::default();
        let ok = access::parse(fmt, line, &mut fresh);
        let mut reused = stale.clone();
        let ok_reused = access::parse(fmt, line, &mut reused);
        assert_eq!(ok, ok_reused, "{}: result depends on the fields passed in", fmt.name());
        if ok {
            check_ranges(fmt, line, &fresh);
            assert_eq!(fresh, reused, "{}: fields depend on the fields passed in", fmt.name());
        }
        results.push((fmt, ok, fresh));
    }

    let mut any = stale.clone();
    let got = access::parse_any(line, &mut any);
    let want = results.iter().find(|(_, ok, _)| *ok);
    assert_eq!(got, want.map(|(f, _, _)| *f), "parse_any disagrees with parse in its documented order");
    if let Some((_, _, fields)) = want {
        assert_eq!(&any, fields, "parse_any's fields differ from parse's");
    }

    let mut best = stale.clone();
    match access::parse_nginx_best(line, &mut best) {
        Some(fmt) => {
            assert!(fmt.is_nginx(), "parse_nginx_best returned {}", fmt.name());
            let (_, ok, _) = results.iter().find(|(f, _, _)| *f == fmt).expect("every format was tried");
            assert!(ok, "parse_nginx_best says {} but parse({}) refuses the line", fmt.name(), fmt.name());
            check_ranges(fmt, line, &best);
        }
        None => {
            for (fmt, ok, _) in &results {
                assert!(!(fmt.is_nginx() && *ok), "parse_nginx_best says none, but parse({}) accepts", fmt.name());
            }
        }
    }
});

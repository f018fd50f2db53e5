//! One HEC request and what its answer means: [`HecOutcome`] is decided here, in one `match`, and
//! everything else (retrying, ejecting, dead-lettering) follows from it.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

/// What an HEC request came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HecOutcome {
    /// A 2xx answer with HEC's success reply (`{"text":"Success","code":0}`): accepted; with indexer
    /// acknowledgement, the id to poll.
    Success {
        /// `ackId`, when the token has acknowledgement on.
        ack_id: Option<u64>,
    },
    /// Worth sending again later: codes 8, 9, 18–20, HTTP 5xx, 429, 408, connection errors, timeouts,
    /// answers cut short, and 2xx answers without HEC's success reply.
    Retry {
        /// For logs and metrics.
        reason: String,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
        /// The endpoint could not be reached at all (ejected at once).
        unreachable: bool,
        /// HTTP status, when there was a whole answer.
        status: Option<u16>,
        /// A 2xx answer without HEC's success reply: a proxy's login or error page, a request routed
        /// to something that is not HEC. No receipt, so no delivery.
        unconfirmed: bool,
    },
    /// Never going to work as sent: a bad token, bad data, a missing channel, a disabled ack, too
    /// large. The batch goes to the dead-letter directory.
    Reject {
        /// HTTP status.
        status: u16,
        /// HEC code, when the body had one.
        code: Option<i64>,
        /// HEC text or body.
        text: String,
    },
}

/// An HEC response body: `{"text":"…","code":N,"ackId":N,"invalid-event-number":N}`.
#[derive(Debug, Default, Deserialize)]
pub struct HecReply {
    /// Human-readable text.
    #[serde(default)]
    pub text: String,
    /// HEC status code.
    pub code: Option<i64>,
    /// Indexer acknowledgement id.
    #[serde(rename = "ackId")]
    pub ack_id: Option<u64>,
}

/// Classifies an HTTP answer (status, `Retry-After` header, body).
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> HecOutcome {
    let reply: HecReply = serde_json::from_slice(body).unwrap_or_default();
    let text = if reply.text.is_empty() { String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned() } else { reply.text.clone() };
    let retry_after = retry_after.and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
    let retry = |reason: String| HecOutcome::Retry { reason, retry_after, unreachable: false, status: Some(status), unconfirmed: false };
    match (status, reply.code) {
        // HEC's own success reply; without acknowledgement it is the only receipt there is.
        (200..=299, Some(0)) if reply.text == "Success" => HecOutcome::Success { ack_id: reply.ack_id },
        // Internal error, busy, unhealthy queues or ack service: transient by Splunk's own advice.
        (_, Some(8 | 9 | 18..=20)) => retry(format!("HEC code {}: {text}", reply.code.unwrap_or_default())),
        (200..=299, _) => HecOutcome::Retry {
            reason: format!("HTTP {status} without HEC's success reply: {text}"),
            retry_after: None,
            unreachable: false,
            status: Some(status),
            unconfirmed: true,
        },
        (429 | 408 | 500..=599, _) => retry(format!("HTTP {status}: {text}")),
        _ => HecOutcome::Reject { status, code: reply.code, text },
    }
}

/// HEC answers in a few dozen bytes; a proxy's page can be anything. Only this much is read.
const MAX_REPLY: usize = 64 * 1024;

/// Sends one batch body to `url` and classifies the answer.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    token_header: &str,
    channel: Option<&str>,
    body: Bytes,
    gzip: bool,
) -> HecOutcome {
    let mut req = client.post(url).header("Authorization", token_header).header("Content-Type", "application/json");
    if gzip {
        req = req.header("Content-Encoding", "gzip");
    }
    if let Some(ch) = channel {
        req = req.header("X-Splunk-Request-Channel", ch);
    }
    match req.body(body).send().await {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            let mut reply = Vec::new();
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        reply.extend_from_slice(&c[..c.len().min(MAX_REPLY - reply.len())]);
                        if reply.len() == MAX_REPLY {
                            break classify(status, retry_after.as_deref(), &reply);
                        }
                    }
                    Ok(None) => break classify(status, retry_after.as_deref(), &reply),
                    // An answer cut short is no answer: whatever its status line said, nothing confirms
                    // the batch (and the metrics must not count it under that status).
                    Err(e) => {
                        let reason = format!("HTTP {status} answer cut short: {}", error_chain(&e));
                        break HecOutcome::Retry { reason, retry_after: None, unreachable: false, status: None, unconfirmed: false };
                    }
                }
            }
        }
        Err(e) => HecOutcome::Retry { reason: error_chain(&e), retry_after: None, unreachable: e.is_connect(), status: None, unconfirmed: false },
    }
}

/// An error with its causes, for logs (`reqwest` hides the interesting part in `source()`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The label for the requests metric: the HTTP status of a whole answer, or what came instead
/// (`unconfirmed`: a 2xx without HEC's success reply; `connect_error`; `error`: no whole answer).
pub fn status_label(o: &HecOutcome) -> String {
    match o {
        HecOutcome::Success { .. } => "200".into(),
        HecOutcome::Retry { unconfirmed: true, .. } => "unconfirmed".into(),
        HecOutcome::Reject { status, .. } | HecOutcome::Retry { status: Some(status), .. } => status.to_string(),
        HecOutcome::Retry { unreachable: true, .. } => "connect_error".into(),
        HecOutcome::Retry { .. } => "error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_by_code_and_status() {
        assert_eq!(classify(200, None, br#"{"text":"Success","code":0}"#), HecOutcome::Success { ack_id: None });
        assert_eq!(classify(200, None, br#"{"text":"Success","code":0,"ackId":7}"#), HecOutcome::Success { ack_id: Some(7) });
        // Anything else with a 2xx is no receipt: an empty body, a proxy's page, JSON without code 0.
        for body in ["", "<html><title>Sign in</title></html>", "{}", r#"{"text":"Success"}"#, r#"{"code":0}"#, r#"{"text":"OK","code":0}"#] {
            let o = classify(200, None, body.as_bytes());
            assert!(matches!(o, HecOutcome::Retry { unconfirmed: true, status: Some(200), .. }), "{body:?}");
            assert_eq!(status_label(&o), "unconfirmed");
        }
        assert!(matches!(classify(204, None, b""), HecOutcome::Retry { unconfirmed: true, status: Some(204), .. }));
        assert_eq!(status_label(&classify(200, None, br#"{"text":"Success","code":0}"#)), "200");
        for (status, body) in [(503, r#"{"text":"Server is busy","code":9}"#), (500, r#"{"text":"Internal server error","code":8}"#), (503, r#"{"code":19}"#), (502, "<html>bad gateway</html>"), (429, "")] {
            assert!(matches!(classify(status, None, body.as_bytes()), HecOutcome::Retry { .. }), "{status} {body}");
        }
        assert!(matches!(
            classify(429, Some("7"), b""),
            HecOutcome::Retry { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        for (status, body, code) in [
            (403, r#"{"text":"Invalid token","code":4}"#, Some(4)),
            (400, r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#, Some(6)),
            (400, r#"{"text":"Data channel is missing","code":10}"#, Some(10)),
            (413, "too large", None),
        ] {
            match classify(status, None, body.as_bytes()) {
                HecOutcome::Reject { status: s, code: c, .. } => assert_eq!((s, c), (status, code)),
                other => panic!("{status} {body}: {other:?}"),
            }
        }
    }
}

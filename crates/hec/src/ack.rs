//! Indexer acknowledgement: a batch accepted with an `ackId` is delivered only once
//! `POST /services/collector/ack?channel=<guid>` says `true` for it. Each endpoint's outstanding ids
//! are polled together, every `ack_poll_interval`; a batch waits up to `ack_timeout`, then is sent
//! again (Splunk may still index the first copy: a duplicate, never a loss).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::oneshot;

use super::balance::Endpoint;

/// Outstanding acknowledgement ids of one endpoint's channel.
#[derive(Default)]
pub struct AckBook {
    waiting: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

#[derive(Deserialize)]
struct AckReply {
    #[serde(default)]
    acks: HashMap<String, bool>,
}

impl AckBook {
    /// Waits for `id` to be acknowledged; `false` on timeout (the id is forgotten).
    pub async fn wait(&self, id: u64, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let ok = matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(())));
        if !ok {
            self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        }
        ok
    }

    /// Ids waiting.
    pub fn len(&self) -> usize {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Polls the endpoint for every waiting id, forever.
    pub async fn poll_loop(self: Arc<Self>, ep: Arc<Endpoint>, client: reqwest::Client, token_header: String, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let ids: Vec<u64> = self.waiting.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect();
            if ids.is_empty() {
                continue;
            }
            let body = serde_json::json!({ "acks": ids }).to_string();
            let resp = client
                .post(format!("{}?channel={}", ep.ack_url, ep.channel))
                .header("Authorization", &token_header)
                .header("X-Splunk-Request-Channel", &ep.channel)
                .body(body)
                .send()
                .await;
            let reply = match resp {
                Ok(r) if r.status().is_success() => r.bytes().await.ok().and_then(|b| serde_json::from_slice::<AckReply>(&b).ok()),
                Ok(r) => {
                    tracing::warn!(endpoint = %ep.base, status = r.status().as_u16(), "Acknowledgement poll failed.");
                    None
                }
                Err(e) => {
                    tracing::warn!(endpoint = %ep.base, error = %super::client::error_chain(&e), "Acknowledgement poll failed.");
                    None
                }
            };
            let Some(reply) = reply else { continue };
            let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            for (id, done) in reply.acks {
                if done && let Ok(id) = id.parse::<u64>() && let Some(tx) = w.remove(&id) {
                    let _ = tx.send(());
                }
            }
        }
    }
}

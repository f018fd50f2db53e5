//! A straightforward template miner, the baseline `logtrim-suggest`'s is measured against: each record
//! parsed into a `serde_json::Value`, its message masked by a list of regular expressions (one pass each),
//! and the masked text counted in a `HashMap` — what a script would do.

use std::collections::HashMap;

use regex::Regex;

/// The baseline miner.
#[derive(Debug)]
pub struct NaiveMiner {
    masks: Vec<Regex>,
    /// `source \t masked message` → (records, bytes).
    templates: HashMap<String, (u64, u64)>,
}

impl Default for NaiveMiner {
    fn default() -> NaiveMiner {
        NaiveMiner::new()
    }
}

impl NaiveMiner {
    /// Compiles the masks: UUIDs, IPv4 addresses with a port, hex ids, numbers with decimals and units.
    pub fn new() -> NaiveMiner {
        let masks = [
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?",
            r"\b[0-9a-fA-F]{8,}\b",
            r"-?\d+(\.\d+)?(ms|s|µs|ns)?",
        ]
        .iter()
        .map(|r| Regex::new(r).expect("a valid mask"))
        .collect();
        NaiveMiner { masks, templates: HashMap::new() }
    }

    /// Mines one record: a Fluent Bit JSON line (`log`, or its JSON's `msg`), or a text line.
    pub fn add(&mut self, record: &[u8]) {
        let key = self.template_key(record);
        let e = self.templates.entry(key).or_default();
        e.0 += 1;
        e.1 += record.len() as u64;
    }

    /// The template a record is counted in: `source \t masked message`.
    pub fn template_key(&self, record: &[u8]) -> String {
        let (source, message) = match serde_json::from_slice::<serde_json::Value>(record) {
            Ok(v) => {
                let k = &v["kubernetes"];
                let source = format!("{}/{}", k["namespace_name"].as_str().unwrap_or(""), k["container_name"].as_str().unwrap_or(""));
                let log = v["log"].as_str().unwrap_or("").to_string();
                let message = match serde_json::from_str::<serde_json::Value>(&log) {
                    Ok(inner) if inner.is_object() => inner["msg"].as_str().or(inner["message"].as_str()).map_or(log.clone(), str::to_string),
                    _ => log,
                };
                (source, message)
            }
            Err(_) => (String::new(), String::from_utf8_lossy(record).into_owned()),
        };
        let mut masked = message;
        for m in &self.masks {
            masked = m.replace_all(&masked, "<*>").into_owned();
        }
        format!("{source}\t{masked}")
    }

    /// Templates found.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether nothing was mined.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_counts() {
        let mut m = NaiveMiner::new();
        m.add(br#"{"log":"took 12ms from 10.0.0.1:80","kubernetes":{"namespace_name":"a","container_name":"b"}}"#);
        m.add(br#"{"log":"took 7.5ms from 10.0.0.2:81","kubernetes":{"namespace_name":"a","container_name":"b"}}"#);
        m.add(br#"{"log":"{\"msg\":\"order 42 done\"}","kubernetes":{"namespace_name":"a","container_name":"b"}}"#);
        assert_eq!(m.len(), 2);
    }
}

//! Configuration from environment variables, read once per cold start. Every problem is reported, and
//! any problem fails the cold start: there is no silent pass-through or drop-all.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LOGTRIM_RULES_FILE` | – | rule file path (relative paths resolve against the working directory, `/var/task` in Lambda) |
//! | `LOGTRIM_RULES_YAML` | – | the rule set inline; exactly one of the two must be set |
//! | `LOGTRIM_OUTPUT` | `hec` | `hec`: HEC event JSON; `original`: the kept records' bytes, one per line |
//! | `LOGTRIM_HEC_TIME` … `LOGTRIM_HEC_FIELDS` | see [`MappingSpec::default`] | the HEC mapping templates |
//! | `LOGTRIM_DELIVERY_STREAM` | from the event's `deliveryStreamArn` | stream to re-ingest overflow into |
//! | `LOGTRIM_RESPONSE_LIMIT` | `6000000` | response size cap in bytes, `6000000..=6291456` (Lambda's limit is 6 MiB; below, the answers every record needs may not fit) |
//! | `LOGTRIM_REINGEST_MAX_ATTEMPTS` | `10` | PutRecordBatch attempts before the invocation fails |
//! | `LOGTRIM_REINGEST_BACKOFF_MS` | `100` | first retry delay, doubled per attempt up to 5 s |
//! | `LOGTRIM_MAX_DECOMPRESSED` | `67108864` | per-record decompressed size cap |
//! | `LOGTRIM_BUDGET_TABLE` | – | DynamoDB table holding the fleet-wide daily byte budget (rule file `budget:`) |
//! | `LOGTRIM_BUDGET_STORE` | `dynamodb` with a table | `dynamodb`, `local` (this instance alone: tests, one instance) or `off` |
//! | `LOGTRIM_ARCHIVE` | – | where the events that are not sent are archived: `s3://bucket/prefix` (or `file:///path`); unset: no archive |
//! | `LOGTRIM_ARCHIVE_S3_PATH_STYLE` | `false` | `true`: address S3 as `endpoint/bucket` (MinIO, Ceph, moto) |
//! | `LOGTRIM_ARCHIVE_ON_FAILURE` | `fail` | when an object cannot be written after the retries: `fail` the invocation (Firehose retries it) or `continue` (counted as `ArchiveFailedEvents`) |
//! | `LOGTRIM_ARCHIVE_MAX_ATTEMPTS` | `3` | PutObject attempts per object and per index (each with the SDK's own retries) |
//! | `LOGTRIM_ARCHIVE_BACKOFF_MS` | `200` | first retry delay, doubled per attempt up to 5 s |
//! | `LOGTRIM_LOG` | `info` | tracing filter (`RUST_LOG` syntax) |

use std::fmt;
use std::time::Duration;

use logtrim_core::RuleSet;

use crate::archive::OnFailure;
use crate::hec::{Mapping, MappingSpec};
use crate::reingest::RetryPolicy;
use crate::transform::{self, Output, Settings};

/// Where the rule set comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesSource {
    /// A file packaged with the function.
    File(String),
    /// Inline YAML.
    Inline(String),
}

/// Everything the function reads from its environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The rule set.
    pub rules: RulesSource,
    /// HEC events or original bytes.
    pub output: Output,
    /// HEC templates (compiled by [`Config::settings`]).
    pub hec: MappingSpec,
    /// Re-ingestion target; `None` takes it from each event's `deliveryStreamArn`.
    pub delivery_stream: Option<String>,
    /// Response size cap.
    pub response_limit: usize,
    /// Per-record decompressed size cap.
    pub max_decompressed: usize,
    /// PutRecordBatch retries.
    pub retry: RetryPolicy,
    /// Where the daily byte budget is kept; checked against the rule set in [`Config::budget_store`].
    pub budget: BudgetStore,
    /// Whether a budget variable was set at all.
    pub budget_explicit: bool,
    /// The archive of what is not sent, when `LOGTRIM_ARCHIVE` is set.
    pub archive: Option<ArchiveConfig>,
}

/// `LOGTRIM_ARCHIVE*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveConfig {
    /// `s3://bucket/prefix` or `file:///path`.
    pub location: String,
    /// S3 path-style addressing.
    pub path_style: bool,
    /// What a failed write does.
    pub on_failure: OnFailure,
    /// Attempts per object.
    pub retry: RetryPolicy,
}

/// Where the daily byte budget (a rule file's `budget:` section) is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetStore {
    /// Not enforced (also when the rule set has no budget).
    Off,
    /// In this instance's memory only: every concurrent instance would spend the whole limit, so this is
    /// for tests and single-instance use.
    Local,
    /// Leased in chunks from a DynamoDB table shared by every instance and forwarder (`logtrim-aws`).
    DynamoDb {
        /// The table name.
        table: String,
    },
}

/// Every configuration problem found.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.0.join("; "))
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads variables through `var` (tests pass a map).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        let set = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let rules = match (set("LOGTRIM_RULES_FILE"), set("LOGTRIM_RULES_YAML")) {
            (Some(f), None) => RulesSource::File(f),
            (None, Some(y)) => RulesSource::Inline(y),
            (Some(_), Some(_)) => {
                errors.push("set only one of LOGTRIM_RULES_FILE and LOGTRIM_RULES_YAML".to_string());
                RulesSource::Inline(String::new())
            }
            (None, None) => {
                errors.push("no rule set: set LOGTRIM_RULES_FILE (a packaged file) or LOGTRIM_RULES_YAML".to_string());
                RulesSource::Inline(String::new())
            }
        };
        let output = match set("LOGTRIM_OUTPUT").as_deref().map(str::trim) {
            None | Some("hec") => Output::Hec,
            Some("original") => Output::Original,
            Some(o) => {
                errors.push(format!("LOGTRIM_OUTPUT: expected `hec` or `original`, got {o:?}"));
                Output::Hec
            }
        };
        let d = MappingSpec::default();
        // A variable set to the empty string clears a template (e.g. no sourcetype at all).
        let tpl = |k: &str, default: String| var(k).unwrap_or(default);
        let hec = MappingSpec {
            time: tpl("LOGTRIM_HEC_TIME", d.time),
            host: tpl("LOGTRIM_HEC_HOST", d.host),
            source: tpl("LOGTRIM_HEC_SOURCE", d.source),
            sourcetype: tpl("LOGTRIM_HEC_SOURCETYPE", d.sourcetype),
            index: tpl("LOGTRIM_HEC_INDEX", d.index),
            event: tpl("LOGTRIM_HEC_EVENT", d.event),
            fields: tpl("LOGTRIM_HEC_FIELDS", d.fields),
        };
        if let Err(es) = Mapping::new(&hec) {
            errors.extend(es.into_iter().map(|e| format!("LOGTRIM_HEC_{}: {} in {:?}", e.name.to_uppercase(), e.message, e.template)));
        }
        let (min, max) = (transform::MIN_RESPONSE_LIMIT as u64, transform::MAX_RESPONSE_LIMIT as u64);
        let response_limit = match set("LOGTRIM_RESPONSE_LIMIT").map(|v| (v.trim().parse::<u64>(), v)) {
            None => min,
            Some((Ok(n), _)) if (min..=max).contains(&n) => n,
            Some((Ok(n), _)) if n < min => {
                errors.push(format!(
                    "LOGTRIM_RESPONSE_LIMIT: {n} is below {min}: every record of a request is answered, even \
                     without data, and those answers alone can take nearly the request's size, up to 6 MB"
                ));
                min
            }
            Some((_, v)) => {
                errors.push(format!("LOGTRIM_RESPONSE_LIMIT: expected an integer in {min}..={max} (Lambda's 6 MiB), got {v:?}"));
                min
            }
        } as usize;
        let mut num = |k: &str, default: u64, min: u64, max: u64| -> u64 {
            match set(k) {
                None => default,
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        errors.push(format!("{k}: expected an integer in {min}..={max}, got {v:?}"));
                        default
                    }
                },
            }
        };
        let max_decompressed = num("LOGTRIM_MAX_DECOMPRESSED", crate::decode::MAX_DECOMPRESSED as u64, 1 << 20, 1 << 30) as usize;
        let max_attempts = num("LOGTRIM_REINGEST_MAX_ATTEMPTS", 10, 1, 100) as u32;
        let backoff = num("LOGTRIM_REINGEST_BACKOFF_MS", 100, 0, 60_000);
        let archive_attempts = num("LOGTRIM_ARCHIVE_MAX_ATTEMPTS", 3, 1, 20) as u32;
        let archive_backoff = num("LOGTRIM_ARCHIVE_BACKOFF_MS", 200, 0, 60_000);
        let retry = RetryPolicy {
            max_attempts,
            base_backoff: Duration::from_millis(backoff),
            max_backoff: Duration::from_secs(5).max(Duration::from_millis(backoff)),
        };
        let table = set("LOGTRIM_BUDGET_TABLE");
        let budget = match (set("LOGTRIM_BUDGET_STORE").as_deref().map(str::trim), table) {
            (None | Some("dynamodb"), Some(table)) => BudgetStore::DynamoDb { table },
            (Some("dynamodb"), None) => {
                errors.push("LOGTRIM_BUDGET_STORE=dynamodb needs LOGTRIM_BUDGET_TABLE".to_string());
                BudgetStore::Off
            }
            // Without a store setting the rule set decides: see `budget_store`.
            (None, None) => BudgetStore::Off,
            (Some("local"), None) => BudgetStore::Local,
            (Some("off"), None) => BudgetStore::Off,
            (Some(s @ ("local" | "off")), Some(_)) => {
                errors.push(format!("LOGTRIM_BUDGET_STORE={s} but LOGTRIM_BUDGET_TABLE is set: choose one"));
                BudgetStore::Off
            }
            (Some(other), _) => {
                errors.push(format!("LOGTRIM_BUDGET_STORE: expected `dynamodb`, `local` or `off`, got {other:?}"));
                BudgetStore::Off
            }
        };
        let budget_explicit = set("LOGTRIM_BUDGET_STORE").is_some() || set("LOGTRIM_BUDGET_TABLE").is_some();
        let path_style = match set("LOGTRIM_ARCHIVE_S3_PATH_STYLE").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                errors.push(format!("LOGTRIM_ARCHIVE_S3_PATH_STYLE: expected `true` or `false`, got {v:?}"));
                false
            }
        };
        let on_failure = match set("LOGTRIM_ARCHIVE_ON_FAILURE").as_deref().map(str::trim) {
            None | Some("fail") => OnFailure::Fail,
            Some("continue") => OnFailure::Continue,
            Some(v) => {
                errors.push(format!("LOGTRIM_ARCHIVE_ON_FAILURE: expected `fail` or `continue`, got {v:?}"));
                OnFailure::Fail
            }
        };
        let archive = match set("LOGTRIM_ARCHIVE").map(|l| l.trim().to_string()) {
            Some(location) => {
                let local = location.starts_with("file://") || location.starts_with('/');
                if !location.starts_with("s3://") && !local || location == "s3://" || location.starts_with("s3:///") {
                    errors.push(format!("LOGTRIM_ARCHIVE: expected s3://bucket/prefix or file:///path, got {location:?}"));
                }
                Some(ArchiveConfig {
                    location,
                    path_style,
                    on_failure,
                    retry: RetryPolicy {
                        max_attempts: archive_attempts,
                        base_backoff: Duration::from_millis(archive_backoff),
                        max_backoff: Duration::from_secs(5).max(Duration::from_millis(archive_backoff)),
                    },
                })
            }
            None => None,
        };
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Config {
            budget_explicit,
            rules,
            output,
            hec,
            delivery_stream: set("LOGTRIM_DELIVERY_STREAM"),
            response_limit,
            max_decompressed,
            retry,
            budget,
            archive,
        })
    }

    /// The budget store for this rule set. A rule set with a `budget:` needs a store decision — a
    /// per-instance budget would let every concurrent instance spend the whole limit, so it is never
    /// chosen silently — and a store without a budget to enforce is a mistake too.
    pub fn budget_store(&self, rules: &RuleSet) -> Result<BudgetStore, String> {
        match (rules.budget().is_some(), &self.budget, self.budget_explicit) {
            (true, BudgetStore::Off, false) => Err("the rule set has a `budget:` section: set LOGTRIM_BUDGET_TABLE to share it through \
                DynamoDB, or LOGTRIM_BUDGET_STORE=local (this instance alone) or off"
                .to_string()),
            (false, BudgetStore::Local | BudgetStore::DynamoDb { .. }, _) => {
                Err("LOGTRIM_BUDGET_TABLE/LOGTRIM_BUDGET_STORE is set but the rule set has no `budget:` section".to_string())
            }
            (_, b, _) => Ok(b.clone()),
        }
    }

    /// Reads and compiles the rule set. The error carries every diagnostic as `file:line:col: message`.
    pub fn load_rules(&self) -> Result<RuleSet, String> {
        let (name, text) = match &self.rules {
            RulesSource::File(p) => match std::fs::read_to_string(p) {
                Ok(t) => (p.as_str(), t),
                Err(e) => return Err(format!("cannot read rule file {p:?} (LOGTRIM_RULES_FILE): {e}")),
            },
            RulesSource::Inline(y) => ("LOGTRIM_RULES_YAML", y.clone()),
        };
        RuleSet::from_yaml(name, &text).map_err(|d| format!("rule set {name:?} does not compile:\n{d}"))
    }

    /// The transform settings (compiles the HEC mapping, already validated by [`Config::from_vars`]).
    pub fn settings(&self) -> Settings {
        Settings {
            output: self.output,
            mapping: Mapping::new(&self.hec).expect("validated in Config::from_vars"),
            response_limit: self.response_limit,
            max_decompressed: self.max_decompressed,
            ..Settings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("LOGTRIM_RULES_YAML", "rules: []\ndefault: {action: keep}\n")]).unwrap();
        assert_eq!(c.output, Output::Hec);
        assert_eq!(c.response_limit, 6_000_000);
        assert_eq!(c.delivery_stream, None);
        assert_eq!(c.hec, MappingSpec::default());
        assert_eq!(c.retry.max_attempts, 10);
    }

    #[test]
    fn every_problem_is_reported() {
        let e = cfg(&[
            ("LOGTRIM_OUTPUT", "raw"),
            ("LOGTRIM_HEC_HOST", "{kubernetes.host"),
            ("LOGTRIM_RESPONSE_LIMIT", "7000000"),
            ("LOGTRIM_REINGEST_MAX_ATTEMPTS", "many"),
        ])
        .unwrap_err();
        assert_eq!(e.0.len(), 5, "{e}");
        assert!(e.0[0].starts_with("no rule set"));
        assert!(e.to_string().contains("LOGTRIM_HEC_HOST: unclosed"), "{e}");
        let both = cfg(&[("LOGTRIM_RULES_YAML", "x"), ("LOGTRIM_RULES_FILE", "y")]).unwrap_err();
        assert!(both.0[0].contains("only one"));
    }

    #[test]
    fn r15_response_limits_too_small_for_a_full_request_are_refused() {
        let rules = ("LOGTRIM_RULES_YAML", "rules: []\ndefault: {action: keep}\n");
        let e = cfg(&[rules, ("LOGTRIM_RESPONSE_LIMIT", "100000")]).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert!(e.0[0].starts_with("LOGTRIM_RESPONSE_LIMIT: 100000 is below 6000000: every record"), "{e}");
        assert!(cfg(&[rules, ("LOGTRIM_RESPONSE_LIMIT", "5999999")]).is_err());
        assert!(cfg(&[rules, ("LOGTRIM_RESPONSE_LIMIT", "6291457")]).unwrap_err().0[0].contains("6000000..=6291456"));
        for ok in ["6000000", "6291456"] {
            assert_eq!(cfg(&[rules, ("LOGTRIM_RESPONSE_LIMIT", ok)]).unwrap().response_limit.to_string(), ok);
        }
    }

    #[test]
    fn broken_rules_fail_loudly_with_positions() {
        let c = cfg(&[("LOGTRIM_RULES_YAML", "rules:\n  - name: x\n    when: log.status >=\n    action: keep\n")]).unwrap();
        let e = c.load_rules().unwrap_err();
        assert!(e.contains("LOGTRIM_RULES_YAML:"), "{e}");
        let c = cfg(&[("LOGTRIM_RULES_FILE", "/nonexistent/rules.yaml")]).unwrap();
        assert!(c.load_rules().unwrap_err().contains("cannot read rule file"));
    }

    #[test]
    fn a_budget_needs_a_store_decision() {
        let with = "rules: []\ndefault: {action: keep}\nbudget:\n  limit: 4GB\n  time_zone: UTC\n";
        let without = "rules: []\ndefault: {action: keep}\n";
        let store = |yaml: &str, vars: &[(&str, &str)]| {
            let mut v = vars.to_vec();
            v.push(("LOGTRIM_RULES_YAML", yaml));
            let c = cfg(&v)?;
            let rules = c.load_rules().unwrap();
            c.budget_store(&rules).map_err(|e| ConfigError(vec![e]))
        };
        assert!(store(with, &[]).unwrap_err().to_string().contains("set LOGTRIM_BUDGET_TABLE"));
        assert_eq!(store(with, &[("LOGTRIM_BUDGET_TABLE", "t")]).unwrap(), BudgetStore::DynamoDb { table: "t".into() });
        assert_eq!(store(with, &[("LOGTRIM_BUDGET_STORE", "local")]).unwrap(), BudgetStore::Local);
        assert_eq!(store(with, &[("LOGTRIM_BUDGET_STORE", "off")]).unwrap(), BudgetStore::Off);
        assert_eq!(store(without, &[]).unwrap(), BudgetStore::Off);
        assert!(store(without, &[("LOGTRIM_BUDGET_TABLE", "t")]).unwrap_err().to_string().contains("no `budget:`"));
        assert!(store(with, &[("LOGTRIM_BUDGET_STORE", "dynamodb")]).unwrap_err().to_string().contains("needs LOGTRIM_BUDGET_TABLE"));
        assert!(store(with, &[("LOGTRIM_BUDGET_STORE", "redis")]).unwrap_err().to_string().contains("expected `dynamodb`"));
    }

    #[test]
    fn archive_settings() {
        let rules = ("LOGTRIM_RULES_YAML", "rules: []\ndefault: {action: keep}\n");
        assert_eq!(cfg(&[rules]).unwrap().archive, None);
        let a = cfg(&[rules, ("LOGTRIM_ARCHIVE", "s3://b/logs"), ("LOGTRIM_ARCHIVE_ON_FAILURE", "continue")]).unwrap().archive.unwrap();
        assert_eq!((a.location.as_str(), a.on_failure, a.path_style, a.retry.max_attempts), ("s3://b/logs", OnFailure::Continue, false, 3));
        let e = cfg(&[
            rules,
            ("LOGTRIM_ARCHIVE", "bucket/logs"),
            ("LOGTRIM_ARCHIVE_ON_FAILURE", "ignore"),
            ("LOGTRIM_ARCHIVE_S3_PATH_STYLE", "yes"),
            ("LOGTRIM_ARCHIVE_MAX_ATTEMPTS", "0"),
        ])
        .unwrap_err();
        assert_eq!(e.0.len(), 4, "{e}");
        assert!(e.to_string().contains("LOGTRIM_ARCHIVE: expected s3://bucket/prefix"), "{e}");
    }

    #[test]
    fn bundled_rules_load() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../filters/k8s-splunk.yaml");
        let c = cfg(&[("LOGTRIM_RULES_FILE", path), ("LOGTRIM_OUTPUT", "original")]).unwrap();
        assert!(c.load_rules().unwrap().len() > 3);
        assert_eq!(c.output, Output::Original);
    }
}

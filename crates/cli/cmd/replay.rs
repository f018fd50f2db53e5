//! `logtrim replay`: archived records back into Splunk HEC (or a file), selected by time, rule, reason
//! and any condition of the rule language, each at most once.
//!
//! 1. **Select objects.** With `--from` and `--to`, only the `dt=…/hour=…/` partitions of the range are
//!    listed; each object's index ([`ObjectIndex`]) is read, and the object only if the index can match
//!    (its time range, rules, reasons, and the values of its indexed fields against the condition's
//!    `field == "value"` terms). An object whose index is missing is read whole.
//! 2. **Select records.** Each line of those objects is checked against the same selection
//!    ([`Selection::matches`]), its `--where` condition compiled by the rule language's parser and
//!    matcher, with the `parse:` section of `--rules` (or `log: [access, app]`).
//! 3. **Once.** Ids already sent (recorded under `_replay/sent/` beside the partitions) are skipped, as
//!    are ids seen twice in this replay (an archive written twice over the same input): `--force`
//!    sends them again.
//! 4. **Send.** Each record becomes an HEC event with the forwarder's HEC mapping (`--config` and
//!    `LOGTRIM_HEC_*`: host, source, sourcetype, index, fields, event), read from the archived record
//!    (`{namespace}` is its `kubernetes.namespace_name`, `{file}` its origin), plus two indexed fields:
//!    `logtrim_replayed=true` and `logtrim_id=<id>`. Events are batched, gzipped and sent by the
//!    forwarder's sender (load balancing, retries, indexer acknowledgement). With a rule file whose
//!    `budget:` is set, each event is admitted by the daily budget at `--priority` (default low): a
//!    replay never pushes the day past what low-priority records may use, unless told to.
//! 5. **Record.** Once every batch of a partition is delivered, the ids sent are written beside the
//!    archive, so the same replay again sends nothing.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use flate2::Compression;
use flate2::write::GzEncoder;
use indicatif::{ProgressBar, ProgressStyle};
use logtrim_aws::archive::{ObjectStore, Store, StoreError};
use logtrim_core::archive::line::EventId;
use logtrim_core::archive::select::{Filter, Selection};
use logtrim_core::archive::{ArchivedLine, ObjectIndex, Reason};
use logtrim_core::budget::{Accountant, Admission, FileStore, LeaseStore, MemoryStore, Timestamp, metered_event_bytes};
use logtrim_core::{Priority, RuleSet};
use logtrim_formats::hec::{Fallbacks, Mapping, MappingSpec};
use logtrim_hec::settings::{EventMode, HEC_SETTINGS, Hec, Value};
use logtrim_hec::{Batch, Delivery, NoObserver, Sender};
use serde::Serialize;

use crate::Outcome;
use crate::args::OutputFormat;

/// Where the ids a replay sent are recorded, below the archive's root.
pub const SENT_PREFIX: &str = "_replay/sent/";

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The archive: a directory, file:///path or s3://bucket/prefix
    #[arg(value_name = "ARCHIVE")]
    pub archive: String,
    /// Records at or after this time: RFC 3339 (2026-11-22T10:00:00Z), a date (2026-11-22) or epoch
    /// seconds or milliseconds
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Records before this time (same forms as --from)
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Records matching this condition of the rule language (as in `when:`), e.g.
    /// 'log.status >= 500 and kubernetes.namespace_name == "shop"'
    #[arg(long = "where", value_name = "EXPR")]
    pub condition: Option<String>,
    /// Records decided by this rule (repeat for several)
    #[arg(long = "rule", value_name = "NAME")]
    pub rule: Vec<String>,
    /// Records archived for this reason: dropped, sampled, shed, blank, kept (repeat for several)
    #[arg(long = "reason", value_name = "REASON")]
    pub reason: Vec<String>,
    /// A rule file: its `parse:` section reads --where's fields (default `log: [access, app]`), its
    /// `budget:` section is the daily budget replay counts against
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The forwarder's configuration file, for the `hec:` section (endpoints, token, mapping, batching,
    /// retries, ack); LOGTRIM_HEC_* variables override it
    #[arg(long, value_name = "FILE", env = "LOGTRIM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print what would be sent (events, bytes, GB against the daily budget) and send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write the events to this file (NDJSON, one HEC event per line) instead of sending them
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub out: Option<PathBuf>,
    /// Send records again even if a replay sent them before
    #[arg(long)]
    pub force: bool,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Budget priority of replayed events: low, normal, high or critical (never shed)
    #[arg(long, value_name = "PRIORITY", default_value = "low")]
    pub priority: String,
    /// The budget file the forwarders of a node share (the rule file's `budget:` is enforced against it);
    /// without it the budget counts this replay alone
    #[arg(long, value_name = "FILE")]
    pub budget_file: Option<PathBuf>,
    /// Never show a progress bar (it is shown only when stderr is a terminal)
    #[arg(long)]
    pub no_progress: bool,
    /// S3: address the bucket as endpoint/bucket (MinIO, Ceph, moto) rather than bucket.endpoint
    #[arg(long, env = "LOGTRIM_ARCHIVE_S3_PATH_STYLE")]
    pub s3_path_style: bool,
}

/// What a replay did (or, with --dry-run, would do).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub archive: String,
    pub dry_run: bool,
    /// Objects found in the partitions looked at.
    pub objects: u64,
    /// Objects the index ruled out without reading them.
    pub objects_skipped: u64,
    /// Objects read.
    pub objects_read: u64,
    /// Objects without an index (read whole).
    pub objects_without_index: u64,
    /// Bytes of the objects read.
    pub bytes_read: u64,
    /// Lines read from them.
    pub records_read: u64,
    /// Lines that could not be read (not an archive line).
    pub unreadable: u64,
    /// Lines selected.
    pub matched: u64,
    /// Selected but sent by an earlier replay (or twice in this archive): not sent again.
    pub already_sent: u64,
    /// Selected, but the daily budget shed them (sent by a later replay).
    pub shed: u64,
    /// Selected, but nothing is left of their event (hec.event: log, an empty message).
    pub blank: u64,
    /// Events sent (or that would be).
    pub events: u64,
    /// Their bytes, uncompressed.
    pub event_bytes: u64,
    /// The bytes Splunk meters for them.
    pub metered_bytes: u64,
    /// `metered_bytes` in GB (10^9 bytes).
    pub gb: f64,
    /// Requests.
    pub batches: u64,
    /// The daily budget, when the rule file has one.
    pub budget: Option<BudgetReport>,
}

#[derive(Debug, Serialize)]
pub struct BudgetReport {
    pub name: String,
    pub priority: &'static str,
    pub limit_gb: f64,
    /// Spent today before this replay (the store's count; this replay alone without --budget-file).
    pub spent_gb: f64,
    /// This replay's share of the limit.
    pub replay_share: f64,
}

fn parse_time(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    let text = if t.len() == 10 && t.as_bytes()[4] == b'-' { format!("{t}T00:00:00Z") } else { t.to_string() };
    logtrim_core::time::parse_ms(text.as_bytes()).with_context(|| format!("{s:?} is not a time: write 2026-11-22T10:00:00Z, 2026-11-22 or epoch seconds"))
}

/// The `hec:` section of the forwarder's configuration file and the `LOGTRIM_HEC_*` variables.
pub fn hec_settings(config: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Hec> {
    let mut hec = Hec::default();
    let mut errors = Vec::new();
    if let Some(p) = config {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let root: serde_json::Value = serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        if let Some(section) = root.get("hec") {
            let Some(map) = section.as_object() else { bail!("{}: \"hec\" must be a mapping of settings", p.display()) };
            for (k, v) in map {
                let key = format!("hec.{k}");
                let Some(s) = HEC_SETTINGS.iter().find(|s| s.key == key) else {
                    errors.push(format!("{}: unknown setting {key:?}", p.display()));
                    continue;
                };
                let scalar = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let (texts, pairs): (Vec<String>, Vec<(String, String)>) = match v {
                    serde_json::Value::Array(a) => (a.iter().map(scalar).collect(), Vec::new()),
                    serde_json::Value::Object(o) => (Vec::new(), o.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()),
                    _ => (Vec::new(), Vec::new()),
                };
                let one = scalar(v);
                let value = match v {
                    serde_json::Value::Null => Value::Null,
                    serde_json::Value::Array(_) => Value::List(texts.iter().map(String::as_str).collect()),
                    serde_json::Value::Object(_) => Value::Pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()),
                    _ => Value::Text(&one),
                };
                if let Err(e) = (s.set)(&mut hec, value) {
                    errors.push(format!("{}: {key}: {e}", p.display()));
                }
            }
        }
    }
    for s in HEC_SETTINGS {
        if let Some(v) = env(&s.env())
            && let Err(e) = (s.set)(&mut hec, Value::Text(&v))
        {
            errors.push(format!("{}: {e}", s.env()));
        }
    }
    if hec.token.is_empty() && !hec.token_file.is_empty() {
        match std::fs::read_to_string(&hec.token_file) {
            Ok(t) => hec.token = t.trim().to_string(),
            Err(e) => errors.push(format!("hec.token_file: cannot read {:?}: {e}", hec.token_file)),
        }
    }
    if !errors.is_empty() {
        bail!("{} in the HEC settings:\n{}", if errors.len() == 1 { "1 problem".into() } else { format!("{} problems", errors.len()) }, errors.join("\n"));
    }
    Ok(hec)
}

/// The forwarder's templates read its files' metadata (`{namespace}`, `{file}`); an archived record
/// carries the same as fields (the forwarder's records are shaped like Fluent Bit's). This renders a
/// forwarder template as a template over an archive line.
fn over_archive_line(template: &str) -> Result<String, String> {
    let alts = logtrim_formats::template::parse(template, |name| {
        Ok(match name {
            "node" => "record.kubernetes.host",
            "namespace" => "record.kubernetes.namespace_name",
            "pod" => "record.kubernetes.pod_name",
            "container" => "record.kubernetes.container_name",
            "container_id" => "record.kubernetes.docker_id",
            "stream" => "record.stream",
            "file" => "origin",
            other => return Err(format!("unknown placeholder {other:?} (known: node, namespace, pod, container, container_id, stream, file)")),
        })
    })?;
    Ok(alts
        .iter()
        .map(|alt| {
            alt.iter()
                .map(|p| match p {
                    logtrim_formats::template::Part::Lit(l) => l.clone(),
                    logtrim_formats::template::Part::Var(v) => format!("{{{v}}}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|"))
}

/// The HEC mapping of replayed events: the forwarder's, read from the archive line, with the time of
/// the record and the two replay fields.
pub fn replay_mapping(hec: &Hec) -> anyhow::Result<Mapping> {
    let tr = |name: &str, t: &str| over_archive_line(t).map_err(|e| anyhow::anyhow!("hec.{name}: {e} in {t:?}"));
    let mut fields: Vec<String> = Vec::new();
    for (k, t) in &hec.fields {
        fields.push(format!("{k}={}", tr("fields", t)?));
    }
    fields.push("logtrim_replayed=true".into());
    fields.push("logtrim_id={id}".into());
    let spec = MappingSpec {
        time: "{time}".into(),
        host: tr("host", &hec.host)?,
        source: tr("source", &hec.source)?,
        sourcetype: tr("sourcetype", &hec.sourcetype)?,
        index: tr("index", &hec.index)?,
        event: "record".into(),
        fields: fields.join(","),
    };
    Mapping::new(&spec).map_err(|e| anyhow::anyhow!("{}", e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
}

/// Appends the HEC event of an archived line; returns its metered bytes, or `None` (nothing appended)
/// when its event would be blank.
fn write_event(line: &ArchivedLine<'_>, raw: &[u8], mapping: &Mapping, mode: EventMode, out: &mut Vec<u8>, meta: &mut Vec<u8>) -> Option<u64> {
    let at = out.len();
    out.push(b'{');
    meta.clear();
    if let Some(ms) = mapping.write_meta(raw, Fallbacks::default(), meta) {
        out.extend_from_slice(format!("\"time\":{}.{:03},", ms.div_euclid(1000), ms.rem_euclid(1000)).as_bytes());
    }
    out.extend_from_slice(meta);
    out.extend_from_slice(b"\"event\":");
    let value_at = out.len();
    let record = line.record.get();
    let log = match mode {
        EventMode::Log if record.starts_with('{') => serde_json::from_str::<BTreeMap<String, &serde_json::value::RawValue>>(record)
            .ok()
            .and_then(|m| m.get("log").map(|l| l.get().to_string())),
        _ => None,
    };
    match (&line.message, log) {
        (Some(m), _) => {
            // Invalid UTF-8 cannot be in a decoded JSON string: nothing is replaced.
            logtrim_core::record::json::push_json_str(out, m.as_bytes());
        }
        (None, Some(l)) => out.extend_from_slice(l.as_bytes()),
        (None, None) => out.extend_from_slice(record.as_bytes()),
    }
    let value = &out[value_at..];
    if value == b"\"\"" {
        out.truncate(at);
        return None;
    }
    let metered = if value.first() == Some(&b'"') { metered_event_bytes(value) } else { value.len() as u64 };
    out.push(b'}');
    Some(metered)
}

/// Where selected events go.
enum Sink {
    /// Counted only.
    DryRun,
    /// Written to a file.
    File(std::io::BufWriter<std::fs::File>),
    /// Sent to HEC.
    Hec { sender: Arc<Sender>, rt: Arc<tokio::runtime::Runtime>, level: u32, batch_bytes: usize, max_in_flight: usize },
}

/// A partition's progress: its ids, and its batches not yet done.
struct Partition {
    folder: String,
    ids: Vec<EventId>,
    pending: usize,
    read: bool,
    failed: bool,
}

pub fn run(a: &ReplayArgs) -> anyhow::Result<Outcome> {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?,
    );
    // Opening a directory creates it (an archive being written); a replay of one that is not there is a
    // mistake, not an empty archive.
    if !a.archive.starts_with("s3://") && !Path::new(a.archive.strip_prefix("file://").unwrap_or(&a.archive)).is_dir() {
        bail!("no archive at {:?}: not a directory", a.archive);
    }
    let store = rt.block_on(Store::open(&a.archive, logtrim_aws::archive::StoreOptions { path_style: a.s3_path_style })).with_context(|| format!("cannot open the archive {:?}", a.archive))?;
    let rules_text = match &a.rules {
        Some(p) => Some((p.display().to_string(), std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?)),
        None => None,
    };
    let filter = match &a.condition {
        Some(e) => match Filter::compile(e, rules_text.as_ref().map(|(n, t)| (n.as_str(), t.as_str()))) {
            Ok(f) => Some(f),
            Err(d) => {
                eprint!("{d}");
                return Ok(Outcome::Failed);
            }
        },
        None => None,
    };
    let budget_spec = match &rules_text {
        Some((name, text)) => match RuleSet::from_yaml(name, text) {
            Ok(r) => r.budget().cloned(),
            Err(d) => {
                eprint!("{d}");
                return Ok(Outcome::Failed);
            }
        },
        None => None,
    };
    let reasons = a.reason.iter().map(|r| Reason::from_name(r).with_context(|| format!("unknown reason {r:?}: dropped, sampled, shed, blank or kept"))).collect::<anyhow::Result<Vec<_>>>()?;
    let mut sel = Selection {
        from_ms: a.from.as_deref().map(parse_time).transpose()?,
        to_ms: a.to.as_deref().map(parse_time).transpose()?,
        rules: a.rule.clone(),
        reasons,
        filter,
    };
    let priority = Priority::from_name(&a.priority).with_context(|| format!("unknown priority {:?}: low, normal, high or critical", a.priority))?;
    let hec = hec_settings(a.config.as_deref(), |k| std::env::var(k).ok())?;
    let mapping = replay_mapping(&hec)?;
    let mut sink = if a.dry_run {
        Sink::DryRun
    } else if let Some(p) = &a.out {
        Sink::File(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?))
    } else {
        if hec.endpoints.is_empty() || hec.token.is_empty() {
            bail!("no HEC endpoint or token: set hec.endpoints and hec.token in --config, or LOGTRIM_HEC_ENDPOINTS and LOGTRIM_HEC_TOKEN (or use --dry-run or --out)");
        }
        let sender = {
            let _guard = rt.enter();
            Arc::new(Sender::new(&hec, Arc::new(NoObserver)).context("cannot set up the HEC sender")?)
        };
        Sink::Hec { sender, rt: Arc::clone(&rt), level: hec.gzip_level.min(9), batch_bytes: hec.batch_bytes.0 as usize, max_in_flight: hec.max_in_flight.max(1) }
    };
    let background = match &sink {
        Sink::Hec { sender, rt, .. } => {
            let _guard = rt.enter();
            sender.spawn_background()
        }
        _ => Vec::new(),
    };

    // The partitions to look in: the hours of the range, or the whole archive.
    let mut keys = Vec::new();
    match sel.hours() {
        Some(hours) => {
            for h in hours {
                keys.extend(rt.block_on(store.list(&logtrim_core::archive::object::hour_prefix(h)))?);
            }
        }
        None => keys = rt.block_on(store.list(""))?.into_iter().filter(|k| k.starts_with("dt=")).collect(),
    }
    let mut folders: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for k in keys {
        let (folder, name) = k.rsplit_once('/').map_or((String::new(), k.clone()), |(f, n)| (format!("{f}/"), n.to_string()));
        let e = folders.entry(folder).or_default();
        if let Some(stem) = name.strip_suffix(".index.json") {
            e.1.push(stem.to_string());
        } else if let Some(stem) = name.strip_suffix(".ndjson.gz") {
            e.0.push(stem.to_string());
        }
    }
    let mut summary = Summary { archive: store.url(), dry_run: a.dry_run, ..Summary::default() };
    // Which objects to read, from their indexes.
    let mut to_read: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    let mut total_bytes = 0u64;
    for (folder, (objects, indexes)) in &folders {
        let mut read = Vec::new();
        for stem in objects {
            summary.objects += 1;
            if indexes.contains(stem) {
                let idx: ObjectIndex = serde_json::from_slice(&rt.block_on(store.get(&format!("{folder}{stem}.index.json")))?)
                    .with_context(|| format!("{folder}{stem}.index.json is not an archive index"))?;
                if !sel.may_match(&idx) {
                    summary.objects_skipped += 1;
                    continue;
                }
                total_bytes += idx.compressed_bytes;
                read.push((format!("{folder}{stem}.ndjson.gz"), idx.compressed_bytes));
            } else {
                summary.objects_without_index += 1;
                read.push((format!("{folder}{stem}.ndjson.gz"), 0));
            }
        }
        if !read.is_empty() {
            to_read.push((folder.clone(), read));
        }
    }
    let bar = if !a.no_progress && std::io::stderr().is_terminal() {
        let b = ProgressBar::new(total_bytes);
        b.set_style(ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {bar:40} {bytes_per_sec} eta {eta} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
        b
    } else {
        ProgressBar::hidden()
    };

    let mut budget = budget_spec.map(|spec| {
        let store = match &a.budget_file {
            Some(p) => BudgetStore::File(FileStore::new(p.clone())),
            None => BudgetStore::Memory(MemoryStore::new()),
        };
        (Accountant::new(spec, Timestamp::now()), store)
    });
    let spent_before = budget.as_mut().map(|(acc, store)| {
        acc.sync(Timestamp::now(), store);
        acc.status(Timestamp::now()).spent
    });

    let mut partitions: Vec<Partition> = Vec::new();
    let mut in_flight: tokio::task::JoinSet<(usize, u32, Delivery)> = tokio::task::JoinSet::new();
    let mut failure: Option<String> = None;
    let mut events = Vec::new();
    let mut meta = Vec::new();
    let mut batch_events = 0u32;
    let mut seq = 0u64;
    for (folder, objects) in &to_read {
        let sent: HashSet<EventId> = if a.force { HashSet::new() } else { sent_ids(&rt, &store, folder)? };
        let mut seen: HashSet<EventId> = HashSet::new();
        let pi = partitions.len();
        partitions.push(Partition { folder: folder.clone(), ids: Vec::new(), pending: 0, read: false, failed: false });
        for (key, bytes) in objects {
            let body = rt.block_on(store.get(key))?;
            summary.objects_read += 1;
            summary.bytes_read += body.len() as u64;
            let mut text = Vec::new();
            flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut text).with_context(|| format!("{key}: not a gzip archive object"))?;
            for raw in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                summary.records_read += 1;
                let Ok(line) = ArchivedLine::parse(raw) else {
                    summary.unreadable += 1;
                    continue;
                };
                if !sel.matches(&line) {
                    continue;
                }
                summary.matched += 1;
                let Some(id) = line.event_id() else {
                    summary.unreadable += 1;
                    continue;
                };
                if sent.contains(&id) || !seen.insert(id) {
                    summary.already_sent += 1;
                    continue;
                }
                let at = events.len();
                let Some(metered) = write_event(&line, raw, &mapping, hec.event, &mut events, &mut meta) else {
                    summary.blank += 1;
                    continue;
                };
                if let Some((acc, store)) = &mut budget
                    && acc.admit_with(Timestamp::now(), priority, metered, store) == Admission::Shed
                {
                    events.truncate(at);
                    summary.shed += 1;
                    continue;
                }
                summary.events += 1;
                summary.event_bytes += (events.len() - at) as u64;
                summary.metered_bytes += metered;
                match &mut sink {
                    Sink::DryRun => events.clear(),
                    Sink::File(w) => {
                        events.push(b'\n');
                        w.write_all(&events).context("cannot write --out")?;
                        events.clear();
                    }
                    Sink::Hec { batch_bytes, .. } => {
                        // Only what reaches Splunk is recorded as sent (not a dry run, not a file).
                        partitions[pi].ids.push(id);
                        batch_events += 1;
                        if events.len() >= *batch_bytes {
                            send(&mut sink, &mut events, &mut batch_events, &mut seq, pi, &mut partitions, &mut in_flight, &mut summary, &mut failure, &rt);
                        }
                    }
                }
            }
            bar.inc(*bytes);
            if failure.is_some() {
                break;
            }
        }
        // A batch holds one partition's events: its ids are recorded once its batches are delivered.
        send(&mut sink, &mut events, &mut batch_events, &mut seq, pi, &mut partitions, &mut in_flight, &mut summary, &mut failure, &rt);
        partitions[pi].read = true;
        settle(&rt, &store, &mut partitions, &mut in_flight, &mut failure, false)?;
        if failure.is_some() {
            break;
        }
    }
    settle(&rt, &store, &mut partitions, &mut in_flight, &mut failure, true)?;
    if let Sink::File(w) = &mut sink {
        w.flush().context("cannot write --out")?;
        // What is written to a file is not in Splunk: nothing is recorded as sent.
    }
    for t in background {
        t.abort();
    }
    bar.finish_and_clear();
    summary.gb = summary.metered_bytes as f64 / 1e9;
    if let (Some((acc, _)), Some(before)) = (&budget, spent_before) {
        let limit = acc.spec().limit;
        summary.budget = Some(BudgetReport {
            name: acc.spec().name.clone(),
            priority: priority.name(),
            limit_gb: limit as f64 / 1e9,
            spent_gb: before as f64 / 1e9,
            replay_share: summary.metered_bytes as f64 / limit.max(1) as f64,
        });
    }
    print_summary(&summary, a.format)?;
    if let Some(f) = failure {
        bail!("{f}; the partitions sent whole are recorded, a replay again sends the rest");
    }
    Ok(Outcome::Ok)
}

/// The budget's store: a node's budget file, or this replay alone.
enum BudgetStore {
    File(FileStore),
    Memory(MemoryStore),
}

impl LeaseStore for BudgetStore {
    fn lease(&mut self, req: &logtrim_core::budget::LeaseRequest) -> Result<logtrim_core::budget::Lease, logtrim_core::budget::StoreUnavailable> {
        match self {
            BudgetStore::File(s) => s.lease(req),
            BudgetStore::Memory(s) => s.lease(req),
        }
    }
}

/// Seals the open batch (if any) and starts sending it, waiting for a slot.
#[allow(clippy::too_many_arguments)]
fn send(
    sink: &mut Sink,
    events: &mut Vec<u8>,
    batch_events: &mut u32,
    seq: &mut u64,
    pi: usize,
    partitions: &mut [Partition],
    in_flight: &mut tokio::task::JoinSet<(usize, u32, Delivery)>,
    summary: &mut Summary,
    failure: &mut Option<String>,
    rt: &tokio::runtime::Runtime,
) {
    let Sink::Hec { sender, level, max_in_flight, .. } = sink else { return };
    if events.is_empty() {
        return;
    }
    let raw_bytes = events.len() as u64;
    let (body, gzip) = if *level == 0 {
        (std::mem::take(events), false)
    } else {
        let mut g = GzEncoder::new(Vec::with_capacity(events.len() / 4), Compression::new(*level));
        let _ = g.write_all(events);
        events.clear();
        (g.finish().unwrap_or_default(), true)
    };
    *seq += 1;
    let batch = Batch { seq: *seq, body: bytes::Bytes::from(body), gzip, events: *batch_events, raw_bytes };
    *batch_events = 0;
    summary.batches += 1;
    while in_flight.len() >= *max_in_flight {
        if let Some(Ok((p, _, d))) = rt.block_on(in_flight.join_next()) {
            done(p, d, partitions, failure);
        }
    }
    partitions[pi].pending += 1;
    let sender = Arc::clone(sender);
    in_flight.spawn_on(
        async move {
            let d = sender.deliver(&batch).await;
            (pi, batch.events, d)
        },
        rt.handle(),
    );
}

fn done(p: usize, d: Delivery, partitions: &mut [Partition], failure: &mut Option<String>) {
    partitions[p].pending -= 1;
    if let Delivery::Rejected { endpoint, status, code, text } = d {
        partitions[p].failed = true;
        failure.get_or_insert(format!("HEC ({endpoint}) rejected a batch: HTTP {status}, code {code:?}: {text}"));
    }
}

/// Takes the deliveries that are done (all of them with `all`) and records the ids of every partition
/// read whole and delivered whole.
fn settle(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    partitions: &mut [Partition],
    in_flight: &mut tokio::task::JoinSet<(usize, u32, Delivery)>,
    failure: &mut Option<String>,
    all: bool,
) -> anyhow::Result<()> {
    loop {
        let next = if all { rt.block_on(in_flight.join_next()) } else { in_flight.try_join_next() };
        match next {
            Some(Ok((p, _, d))) => done(p, d, partitions, failure),
            Some(Err(e)) => bail!("a delivery failed: {e}"),
            None => break,
        }
    }
    for p in partitions.iter_mut() {
        if p.read && p.pending == 0 && !p.failed && !p.ids.is_empty() {
            record_sent(rt, store, &p.folder, &p.ids)?;
            p.ids.clear();
        }
    }
    Ok(())
}

/// The file of one replay's ids of one partition: hex ids, one per line, gzip.
fn record_sent(rt: &tokio::runtime::Runtime, store: &Store, folder: &str, ids: &[EventId]) -> anyhow::Result<()> {
    let mut text = String::with_capacity(ids.len() * 33);
    for id in ids {
        text.push_str(&id.hex());
        text.push('\n');
    }
    let mut g = GzEncoder::new(Vec::new(), Compression::new(6));
    let _ = g.write_all(text.as_bytes());
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let key = format!("{SENT_PREFIX}{folder}{ms}-{}-{}.ids.gz", std::process::id(), rand_suffix());
    rt.block_on(store.put(&key, g.finish().unwrap_or_default())).with_context(|| format!("sent {} records but cannot record it at {key}", ids.len()))?;
    Ok(())
}

/// Eight random hex digits (std's per-process random hash keys; no RNG dependency for one name).
fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    format!("{:08x}", h.finish() as u32)
}

/// The ids earlier replays sent from one partition.
fn sent_ids(rt: &tokio::runtime::Runtime, store: &Store, folder: &str) -> anyhow::Result<HashSet<EventId>> {
    let mut ids = HashSet::new();
    for key in rt.block_on(store.list(&format!("{SENT_PREFIX}{folder}")))? {
        let body = match rt.block_on(store.get(&key)) {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).with_context(|| format!("{key}: not a record of sent ids"))?;
        ids.extend(text.lines().filter_map(EventId::parse));
    }
    Ok(ids)
}

fn print_summary(s: &Summary, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(s)?),
        OutputFormat::Text => {
            let verb = if s.dry_run { "would send" } else { "sent" };
            println!("archive:  {}", s.archive);
            println!(
                "objects:  {} in the partitions looked at, {} ruled out by their index, {} read ({} bytes){}",
                s.objects,
                s.objects_skipped,
                s.objects_read,
                s.bytes_read,
                if s.objects_without_index > 0 { format!(", {} without an index", s.objects_without_index) } else { String::new() }
            );
            println!("records:  {} read, {} selected, {} sent before (not again)", s.records_read, s.matched, s.already_sent);
            println!("{verb}: {} events, {} bytes ({} metered, {:.6} GB) in {} requests", s.events, s.event_bytes, s.metered_bytes, s.gb, s.batches);
            if s.shed > 0 {
                println!("shed by the daily budget: {} events (a later replay sends them)", s.shed);
            }
            if s.blank > 0 {
                println!("blank: {} events with nothing to send", s.blank);
            }
            if s.unreadable > 0 {
                println!("unreadable: {} lines are not archive lines", s.unreadable);
            }
            if let Some(b) = &s.budget {
                println!(
                    "budget {:?}: {:.3} GB of {:.3} GB spent today; this replay {:.6} GB ({:.2}% of the limit) at priority {}",
                    b.name,
                    b.spent_gb,
                    b.limit_gb,
                    s.gb,
                    b.replay_share * 100.0,
                    b.priority
                );
            }
        }
    }
    Ok(())
}

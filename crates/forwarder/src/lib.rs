//! logtrim-forwarder: the node forwarder (a DaemonSet). It tails the node's container logs, applies a
//! logtrim rule file, and delivers what the rules keep to Splunk HEC, so dropped bytes never leave the
//! node.
//!
//! ```text
//! files ──tail──▶ records ──rules─┬─ kept ──trim──▶ budget ──▶ HEC events ─┬▶ gzip batches ═queue═▶ sink ──▶ HEC
//!   ▲                             └─ dropped ──▶ summaries (per interval) ─┘     (tokio: requests, retries,
//!   │                                  (one reading thread)                       acks, health checks)
//!   └─────────────── checkpoints advance when HEC accepted a batch ◀──────────────────────┘
//! ```
//!
//! - [`config`]: the YAML file and its environment overrides.
//! - [`tail`]: discovery, reading, rotation, truncation; [`tail::checkpoint`]: at-least-once offsets.
//! - [`pipeline`]: the reading thread: records, rules, trimming, summaries, budget, batches.
//! - [`hec`]: the sink: load balancing, retries, acknowledgement, dead letters.
//! - [`archive`]: the lines not sent (`archive.location`): a spool on the node, fsynced before their
//!   checkpoint passes them, uploaded to S3 or a directory.
//! - [`server`]: `/healthz`, `/readyz`, `/metrics`; [`metrics`]: what they export; [`ledger`]: where
//!   every line read went (read = delivered + dropped + shed + blank + dead-lettered + pending).
//!
//! [`run`] is the whole forwarder with an injected shutdown future, so tests and the binary share it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod archive;
pub mod budget;
pub mod config;
pub mod files;
pub mod hec;
pub mod ledger;
pub mod meta;
pub mod metrics;
pub mod pipeline;
pub mod server;
pub mod tail;

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logtrim_core::{BudgetStatus, RuleSet};
use tokio::sync::mpsc;

use config::Config;
use metrics::Metrics;
use tail::checkpoint::{self, TrackId, Tracker};

/// State shared by the reading thread, the sink, the server and the reloader.
#[derive(Default)]
pub struct Shared {
    /// Committed offsets.
    pub tracker: Mutex<Tracker>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set on shutdown: the reading thread stops.
    pub stop: AtomicBool,
    /// A new rule set waits in `new_rules`.
    pub rules_changed: AtomicBool,
    /// The rule set the reloader compiled, for the reading thread to take.
    pub new_rules: Mutex<Option<RuleSet>>,
    /// Files finished while their last lines waited in the open batch.
    pub pending_close: Mutex<Vec<TrackId>>,
    /// The last budget snapshot (for `/metrics`).
    pub budget_status: Mutex<Option<BudgetStatus>>,
    /// A rule set is running (for `/readyz`).
    pub rules_loaded: AtomicBool,
    /// Wakes the checkpoint writer: a batch was delivered.
    pub persist_wake: tokio::sync::Notify,
}

/// Why the forwarder stopped with an error. An I/O cause is part of the message rather than a
/// `source()`: logs print errors with `%`, the binary with `{:#}`, which would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The state directory is unusable.
    #[error("state directory {path}: {error}")]
    StateDir {
        /// The directory.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// Checkpoints cannot be written in the state directory (at start).
    #[error("state directory {path} cannot take checkpoints: {error}; without them every restart would send the log files again (is the volume read-only?)")]
    StateNotWritable {
        /// The directory.
        path: String,
        /// What failed.
        error: checkpoint::CheckpointError,
    },
    /// The checkpoints could not be saved at shutdown.
    #[error("checkpoints not saved: {0}; the next start reads the log files from the last checkpoint saved, sending again what was delivered since")]
    CheckpointsNotSaved(checkpoint::CheckpointError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        error: std::io::Error,
    },
    /// The sink could not be set up.
    #[error(transparent)]
    Sink(#[from] hec::SinkError),
    /// The budget store could not be started.
    #[error(transparent)]
    Budget(#[from] budget::BudgetError),
    /// The reading thread panicked.
    #[error("the reading thread failed")]
    Reader,
    /// The archive's spool cannot be used.
    #[error(transparent)]
    Spool(#[from] archive::SpoolError),
    /// The archive's store cannot be opened.
    #[error("archive.location: {0}")]
    ArchiveStore(#[from] logtrim_aws::archive::StoreError),
}

/// Why a rule file could not be loaded (an I/O cause is part of the message, as in [`RunError`]).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not readable.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// Not a valid rule file (every problem, as `file:line:col: message`).
    #[error("{0}")]
    Invalid(String),
}

/// Reads and compiles a rule file; returns it with its text (to notice changes).
pub fn load_rules(path: &Path) -> Result<(RuleSet, String), RulesError> {
    let text = files::read_regular_string(path).map_err(|error| RulesError::Read { path: path.display().to_string(), error })?;
    let rules = RuleSet::from_yaml(&path.display().to_string(), &text).map_err(|d| RulesError::Invalid(d.to_string()))?;
    Ok((rules, text))
}

/// What a run did, for the exit log.
#[derive(Debug, Default)]
pub struct Summary {
    /// Every in-flight batch was delivered before the deadline.
    pub drained: bool,
    /// Seconds the shutdown took.
    pub shutdown_secs: f64,
}

/// Runs the forwarder until `shutdown` completes, then stops reading, delivers what is in flight within
/// `cfg.shutdown_deadline`, and persists the checkpoints.
pub async fn run(cfg: Config, rules: RuleSet, rules_text: String, shutdown: impl Future<Output = ()>) -> Result<Summary, RunError> {
    let state_err = |error| RunError::StateDir { path: cfg.state_dir.display().to_string(), error };
    std::fs::create_dir_all(&cfg.state_dir).map_err(state_err)?;
    let ckpt = Arc::new(checkpoint::Writer::new(cfg.state_dir.join("checkpoints.json")));
    let ckpt_path = ckpt.path();
    checkpoint::check_writable(ckpt_path).map_err(|error| RunError::StateNotWritable { path: cfg.state_dir.display().to_string(), error })?;
    let startup = match checkpoint::load(ckpt_path) {
        Ok(s) => s,
        Err(e) => {
            // Starting over re-sends files (duplicates) rather than crash-looping on a bad file.
            tracing::error!(error = %e, "Unreadable checkpoint file; moving it aside and reading files from the start.");
            let _ = std::fs::rename(ckpt_path, ckpt_path.with_extension("json.corrupt"));
            Some(Vec::new())
        }
    };

    let shared = Arc::new(Shared::default());
    shared.rules_loaded.store(true, Ordering::Release);
    shared.metrics.rules_ok.set(1);
    let sink = Arc::new(hec::Sink::new(&cfg.hec, &cfg.state_dir, Arc::clone(&shared))?);
    let mut background = sink.spawn_background();

    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|error| RunError::Listen { addr: cfg.listen.clone(), error })?;
    let app = server::router(Arc::clone(&shared), Arc::clone(&sink.balancer));
    background.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped.");
        }
    }));

    let budget = match rules.budget() {
        Some(spec) => Some(budget::start(&cfg, spec.clone())?),
        None => None,
    };

    let (tx, rx) = mpsc::channel(cfg.hec.queue_batches);
    let templates = meta::Templates::new(&cfg.hec).map_err(|e| RunError::Sink(hec::SinkError::Client(e)))?;
    let mut pipeline = pipeline::Pipeline::new(&cfg, rules.clone(), &templates, tx, Arc::clone(&shared), budget);
    let spool = if cfg.archive.location.is_empty() {
        None
    } else {
        let spool = Arc::new(archive::Spool::open(&cfg.spool_dir(), cfg.archive.spool_max_bytes.0)?);
        let options = logtrim_aws::archive::StoreOptions { path_style: cfg.archive.s3_path_style };
        let store = logtrim_aws::archive::Store::open(&cfg.archive.location, options).await?;
        background.push(tokio::spawn(archive::upload_loop(Arc::clone(&spool), store, Arc::clone(&shared.metrics))));
        pipeline = pipeline.with_archive(pipeline::Archiving::new(&cfg, &rules, Arc::clone(&spool)));
        tracing::info!(location = %cfg.archive.location, spool = %cfg.spool_dir().display(), "Archiving the lines not sent.");
        Some(spool)
    };
    let tail = tail::Tail::new(cfg.inputs.clone(), cfg.node_name.clone(), templates, startup);
    let reader_cfg = cfg.clone();
    let reader = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || pipeline.run(&reader_cfg, tail))
        .map_err(state_err)?;
    let sink_task = tokio::spawn(Arc::clone(&sink).run(rx));

    background.push(tokio::spawn(persist_loop(Arc::clone(&shared), Arc::clone(&ckpt), cfg.inputs.checkpoint_interval.0)));
    background.push(tokio::spawn(reload_loop(Arc::clone(&shared), cfg.rules_file.clone(), rules_text, cfg.reload_interval.0)));
    tracing::info!(listen = %cfg.listen, endpoints = ?cfg.hec.endpoints, inputs = ?cfg.inputs.paths, "Forwarder started.");

    shutdown.await;
    let started = Instant::now();
    let deadline = cfg.shutdown_deadline.0;
    tracing::info!(deadline_secs = deadline.as_secs_f64(), "Shutting down: reading stops, in-flight batches are flushed.");
    shared.stop.store(true, Ordering::Release);
    let drained = tokio::time::timeout(deadline, async {
        let joined = tokio::task::spawn_blocking(move || reader.join()).await;
        let budget = match joined {
            Ok(Ok(b)) => b,
            _ => return Err(RunError::Reader),
        };
        let _ = sink_task.await;
        Ok(budget)
    })
    .await;
    let (drained, budget) = match drained {
        Ok(Ok(b)) => (true, b),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            tracing::warn!("Shutdown deadline reached with batches in flight; they will be read again on restart.");
            (false, None)
        }
    };
    if let Some(spool) = &spool
        && drained
    {
        // What the reader spooled last is uploaded within the deadline if it can be; else at the next start.
        let left = deadline.saturating_sub(started.elapsed());
        if !archive::drain(spool, left).await {
            tracing::warn!(objects = spool.objects(), bytes = spool.bytes(), "Archive objects not uploaded by the deadline stay in the spool; the next start uploads them.");
        }
    }
    if let Some(mut b) = budget {
        let left = deadline.saturating_sub(started.elapsed()).min(Duration::from_secs(2));
        tokio::task::spawn_blocking(move || b.flush(left)).await.ok();
    }
    for t in background {
        t.abort();
    }
    // The periodic writer may still be storing (its blocking work outlives the task): the writer makes
    // this store wait for it, and this snapshot is the newest.
    let snapshot = shared.tracker.lock().unwrap_or_else(|e| e.into_inner()).entries();
    let files = snapshot.len();
    let stored = ckpt.store(snapshot);
    let label = if stored.is_ok() { "ok" } else { "error" };
    shared.metrics.checkpoint_writes.get_or_create(&vec![("result".into(), label.into())]).inc();
    // Not saving them is a failed shutdown (the pod's exit code says so), not a clean stop with a log line.
    stored.map_err(RunError::CheckpointsNotSaved)?;
    let summary = Summary { drained, shutdown_secs: started.elapsed().as_secs_f64() };
    tracing::info!(drained = summary.drained, secs = summary.shutdown_secs, files, "Stopped.");
    Ok(summary)
}

/// Writes committed checkpoints as soon as a delivery moved them (and at least once a second for
/// progress through dropped lines), at most once per `every`: what a crash re-sends is the batches in
/// flight plus those delivered within the last `every`.
async fn persist_loop(shared: Arc<Shared>, ckpt: Arc<checkpoint::Writer>, every: Duration) {
    loop {
        tokio::select! {
            _ = shared.persist_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if !every.is_zero() {
            tokio::time::sleep(every).await;
        }
        let Some(snapshot) = shared.tracker.lock().unwrap_or_else(|e| e.into_inner()).snapshot() else { continue };
        let w = Arc::clone(&ckpt);
        let res = tokio::task::spawn_blocking(move || w.store(snapshot)).await;
        // Ok(false): shutdown stored a newer snapshot already.
        let ok = matches!(res, Ok(Ok(_)));
        if let Ok(Err(e)) = &res {
            tracing::error!(error = %e, "Cannot persist checkpoints.");
        }
        let label = if ok { "ok" } else { "error" };
        shared.metrics.checkpoint_writes.get_or_create(&vec![("result".into(), label.into())]).inc();
    }
}

/// Checks the rule file every `every`; a changed file that compiles replaces the running rules, a
/// broken one is logged and counted and the running rules stay.
///
/// Reading and compiling run on the blocking pool: this task shares the runtime's one thread with the
/// probes, `/metrics` and every delivery, and a large rule set takes long enough to compile that
/// kubelet would see the pod as dead and Splunk-bound batches would wait.
async fn reload_loop(shared: Arc<Shared>, path: std::path::PathBuf, mut current: String, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        // ConfigMap updates swap a symlink: read through it each time rather than watching an inode.
        let p = path.clone();
        let Ok(Ok(text)) = tokio::task::spawn_blocking(move || files::read_regular_string(&p)).await else { continue };
        if text == current {
            continue;
        }
        let m = &shared.metrics;
        let (name, src) = (path.display().to_string(), text.clone());
        let compiled = match tokio::task::spawn_blocking(move || RuleSet::from_yaml(&name, &src)).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "Compiling the changed rule file failed; keeping the running rules.");
                m.reloads.get_or_create(&vec![("result".into(), "error".into())]).inc();
                m.rules_ok.set(0);
                current = text;
                continue;
            }
        };
        match compiled {
            Ok(rules) => {
                tracing::info!(file = %path.display(), rules = rules.len(), "Loaded the changed rule file.");
                *shared.new_rules.lock().unwrap_or_else(|e| e.into_inner()) = Some(rules);
                shared.rules_changed.store(true, Ordering::Release);
                m.reloads.get_or_create(&vec![("result".into(), "ok".into())]).inc();
                m.rules_ok.set(1);
            }
            Err(d) => {
                tracing::error!(file = %path.display(), errors = %d, "Rejected the changed rule file; keeping the running rules.");
                m.reloads.get_or_create(&vec![("result".into(), "error".into())]).inc();
                m.rules_ok.set(0);
            }
        }
        current = text;
    }
}

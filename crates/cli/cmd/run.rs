//! `logtrim run`: write what would be sent — the records the rules keep (trimmed), and the summaries of
//! those they drop — as lines, or as the HEC events the Lambda would send (`--hec`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use logtrim_core::budget::Timestamp;
use logtrim_core::archive::{Origin, Reason};
use logtrim_core::run::pipeline::{Encoding, NotSent, Options, Outcome as Pushed, Pipeline, Seen, Sent, Sink};
use logtrim_core::{Decision, Record, Summary};
use logtrim_formats::hec::{Fallbacks, Mapping, MappingSpec, SUMMARY_FALLBACKS};

use crate::Outcome;
use crate::args::InputArgs;
use crate::input::for_each_record_at;

use super::archive::ArchiveOut;

/// How long after a summary interval's end records may still arrive for it before it is written: a file
/// is replayed, not tailed, so the clock is the records' own time.
pub const LATENESS: logtrim_core::budget::SignedDuration = logtrim_core::budget::SignedDuration::from_secs(60);

fn open(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
        Some(p) if p == Path::new("-") => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
        Some(p) => Box::new(BufWriter::with_capacity(1 << 16, File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
    })
}

/// Where `run` writes: events to the output, dropped records to `--dropped`.
struct Output {
    events: Vec<u8>,
    /// The metadata members of the event being written, rendered with its time.
    meta: Vec<u8>,
    /// A dropped record, written out.
    record: Vec<u8>,
    out: Box<dyn Write>,
    dropped: Option<Box<dyn Write>>,
    /// The HEC metadata of `--hec`.
    mapping: Option<Mapping>,
    /// The first write error; writing stops there.
    error: Option<anyhow::Error>,
    /// `--archive`: where the records that are not sent go.
    archive: Option<ArchiveOut>,
    /// The record being pushed: its file, its number there, and the time it is filed under when it has
    /// none of its own.
    origin: (String, u64, i64),
}

impl Output {
    fn write(w: &mut dyn Write, bytes: &[u8], what: &str) -> anyhow::Result<()> {
        w.write_all(bytes).and_then(|()| w.write_all(b"\n")).with_context(|| format!("cannot write {what}"))
    }
}

/// What the rules read of a record, which its metadata is rendered from.
fn seen(record: Record<'_>) -> &[u8] {
    match record {
        Record::Line(l) => l,
        Record::Event { record, .. } => record,
        // The reader gives lines; parts are the forwarder's.
        Record::Parts(_) => &[],
    }
}

impl Sink for Output {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.events
    }

    fn time(&mut self, record: Record<'_>) -> Option<i64> {
        let m = self.mapping.as_ref()?;
        self.meta.clear();
        m.write_meta(seen(record), Fallbacks::default(), &mut self.meta)
    }

    fn meta(&mut self, _: Record<'_>) {
        self.events.extend_from_slice(&self.meta);
    }

    fn summary_meta(&mut self, s: &Summary) {
        if let Some(m) = &self.mapping {
            m.write_meta(s.json.as_bytes(), SUMMARY_FALLBACKS, &mut self.events);
        }
    }

    fn sent(&mut self, e: Sent) {
        if self.error.is_none() {
            // Lines end in a newline already; HEC events are written one per line.
            let event = self.events[e.start..].strip_suffix(b"\n").unwrap_or(&self.events[e.start..]);
            if let Err(err) = Output::write(&mut self.out, event, "output") {
                self.error = Some(err);
            }
        }
        self.events.clear();
    }

    fn not_sent_seen(&mut self, record: Record<'_>, decision: Decision, why: NotSent, seen: &mut Seen<'_, '_, '_>) {
        if let Some(a) = &mut self.archive {
            let (file, n, ms) = &self.origin;
            a.archive.add_seen(record, decision, why, &Origin { source: file, position: Some(*n), time_ms: Some(*ms) }, seen);
        }
        if let (NotSent::Dropped, Some(w), None) = (why, self.dropped.as_mut(), &self.error) {
            self.record.clear();
            record.write_to(&mut self.record);
            if let Err(err) = Output::write(w, &self.record, "dropped records") {
                self.error = Some(err);
            }
        }
    }
}

/// Where `run` writes, besides its output.
pub struct RunOutputs<'a> {
    pub output: Option<&'a Path>,
    pub dropped: Option<&'a Path>,
    pub hec: bool,
    /// `--archive`: a directory or `s3://bucket/prefix`.
    pub archive: Option<&'a str>,
    pub s3_path_style: bool,
}

pub fn run(rules_path: &Path, input: &InputArgs, outputs: &RunOutputs<'_>) -> anyhow::Result<Outcome> {
    let RunOutputs { output, dropped, hec, archive, s3_path_style } = *outputs;
    let Some(rules) = super::require_rules(rules_path)? else { return Ok(Outcome::Failed) };
    let mapping = match hec {
        true => Some(Mapping::new(&MappingSpec::default()).map_err(|e| anyhow::anyhow!("{e:?}"))?),
        false => None,
    };
    let encoding = match &mapping {
        Some(m) => Encoding::Hec(m.event().clone()),
        None => Encoding::Lines,
    };
    let mut pipeline = Pipeline::new(&rules, Options { encoding, lateness: Some(LATENESS) });
    let archive = archive.map(|a| ArchiveOut::new(&rules, a, s3_path_style)).transpose()?;
    if let Some(a) = &archive {
        pipeline.archive_summaries_at(&a.archive, &a.url());
        pipeline.read_for_archive(&a.archive);
    }
    let mut sink = Output {
        events: Vec::new(),
        meta: Vec::new(),
        record: Vec::new(),
        out: open(output)?,
        dropped: dropped.map(|p| open(Some(p))).transpose()?,
        mapping,
        error: None,
        archive,
        origin: (String::new(), 0, 0),
    };
    // A dropped record without a time of its own is summarized at the time of the last one that had
    // one (at the start of the run when none had yet), so the same input always gives the same summaries.
    let start = Timestamp::now();
    let stats = for_each_record_at(input, false, |rec, at| {
        let fallback = pipeline.last_summarized_time().unwrap_or(start);
        if sink.archive.is_some() {
            sink.origin.0.clear();
            sink.origin.0.push_str(&at.file.display().to_string());
            (sink.origin.1, sink.origin.2) = (at.n, fallback.as_millisecond());
        }
        let (decision, pushed) = pipeline.push(rec, fallback, &mut sink);
        if let Some(a) = &mut sink.archive {
            if matches!(pushed, Pushed::Sent(_)) && a.archive.includes(Reason::Kept) {
                let (file, n, ms) = &sink.origin;
                a.archive.add(Record::Line(rec), decision, Reason::Kept, &Origin { source: file, position: Some(*n), time_ms: Some(*ms) });
            }
            a.drain()?;
        }
        sink.error.take().map_or(Ok(()), Err)
    })?;
    pipeline.flush_summaries(None, &mut sink);
    if let Some(e) = sink.error.take() {
        return Err(e);
    }
    let archived = match &mut sink.archive {
        Some(a) => Some((a.finish()?.clone(), a.url())),
        None => None,
    };
    sink.out.flush().context("cannot write output")?;
    if let Some(d) = sink.dropped.as_mut() {
        d.flush().context("cannot write dropped records")?;
    }
    let c = pipeline.counters();
    let t = c.total();
    eprintln!("kept {} of {} records ({} of {} bytes)", t.kept, t.matched, t.kept_bytes, t.matched_bytes);
    if t.trimmed_bytes > 0 || t.added_bytes > 0 {
        eprintln!("trimmed {} bytes from kept records, added {} bytes of sample rates", t.trimmed_bytes, t.added_bytes);
    }
    if t.summary_events > 0 {
        eprintln!(
            "wrote {} summary events ({} bytes) for {} dropped records ({} bytes)",
            t.summary_events, t.summary_bytes, t.summarized, t.summarized_bytes
        );
    }
    if t.blank > 0 {
        eprintln!("note: {} kept records were not written: nothing was left of their event", t.blank);
    }
    if c.invalid_json > 0 {
        eprintln!("note: {} records started with '{{' but were not valid JSON; they were decided as text lines", c.invalid_json);
    }
    if let Some((a, url)) = archived {
        let reasons: Vec<String> =
            Reason::ALL.iter().filter(|r| a.records[r.index()] > 0).map(|r| format!("{} {}", a.records[r.index()], r.name())).collect();
        eprintln!(
            "archived {} records ({}) to {url}: {} bytes in {} objects ({} bytes before compression)",
            a.archived(),
            if reasons.is_empty() { "none".to_string() } else { reasons.join(", ") },
            a.object_bytes,
            a.objects,
            a.line_bytes
        );
    }
    for p in stats.problems() {
        eprintln!("note: {p}");
    }
    Ok(if stats.failed.is_empty() { Outcome::Ok } else { Outcome::Failed })
}

//! `logtrim run`: write the records the rules keep (trimmed), and the summaries of those they drop.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use logtrim_core::Action;

use crate::Outcome;
use crate::args::InputArgs;
use crate::input::for_each_record;
use crate::summaries::Summaries;

fn write_line(w: &mut dyn Write, bytes: &[u8]) -> anyhow::Result<()> {
    w.write_all(bytes).context("cannot write output")?;
    w.write_all(b"\n").context("cannot write output")?;
    Ok(())
}

fn open(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
        Some(p) if p == Path::new("-") => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
        Some(p) => Box::new(BufWriter::with_capacity(1 << 16, File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
    })
}

pub fn run(rules_path: &Path, input: &InputArgs, output: Option<&Path>, dropped: Option<&Path>) -> anyhow::Result<Outcome> {
    let Some(rules) = super::require_rules(rules_path)? else { return Ok(Outcome::Failed) };
    let mut decider = rules.decider();
    let mut summaries = Summaries::new(&rules);
    let mut out = open(output)?;
    let mut dropped_out = dropped.map(|p| open(Some(p))).transpose()?;
    let stats = for_each_record(input, false, |rec| {
        let d = decider.decide(rec);
        match d.action {
            // Trimmed (and tagged with its sample rate) as it would be sent.
            Action::Keep => write_line(&mut out, decider.trim(rec, d))?,
            Action::Drop => {
                if let Some(w) = dropped_out.as_mut() {
                    write_line(w, rec)?;
                }
                // Summary events go out with the kept records, as they would be sent.
                for s in summaries.dropped(&mut decider, rec, d) {
                    write_line(&mut out, s.json.as_bytes())?;
                }
            }
        }
        Ok(())
    })?;
    for s in summaries.finish() {
        write_line(&mut out, s.json.as_bytes())?;
    }
    out.flush().context("cannot write output")?;
    if let Some(d) = dropped_out.as_mut() {
        d.flush().context("cannot write dropped records")?;
    }
    let t = decider.counters().total();
    eprintln!("kept {} of {} records ({} of {} bytes)", t.kept, t.matched, t.kept_bytes, t.matched_bytes);
    if t.trimmed_bytes > 0 || t.added_bytes > 0 {
        eprintln!("trimmed {} bytes from kept records, added {} bytes of sample rates", t.trimmed_bytes, t.added_bytes);
    }
    let sc = summaries.counters().total();
    if sc.events > 0 {
        eprintln!("wrote {} summary events ({} bytes) for {} dropped records ({} bytes)", sc.events, sc.event_bytes, sc.records, sc.bytes);
    }
    let c = decider.counters();
    if c.invalid_json > 0 {
        eprintln!("note: {} records started with '{{' but were not valid JSON; they were decided as text lines", c.invalid_json);
    }
    for p in stats.problems() {
        eprintln!("note: {p}");
    }
    Ok(if stats.failed.is_empty() { Outcome::Ok } else { Outcome::Failed })
}

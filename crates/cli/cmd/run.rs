//! `logtrim run`: write the records the rules keep.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use logtrim_core::Action;

use crate::Outcome;
use crate::args::InputArgs;
use crate::input::for_each_record;

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
    let mut out = open(output)?;
    let mut dropped_out = dropped.map(|p| open(Some(p))).transpose()?;
    let stats = for_each_record(input, false, |rec| {
        let w: Option<&mut Box<dyn Write>> = match decider.decide(rec).action {
            Action::Keep => Some(&mut out),
            Action::Drop => dropped_out.as_mut(),
        };
        if let Some(w) = w {
            w.write_all(rec).context("cannot write output")?;
            w.write_all(b"\n").context("cannot write output")?;
        }
        Ok(())
    })?;
    out.flush().context("cannot write output")?;
    if let Some(d) = dropped_out.as_mut() {
        d.flush().context("cannot write dropped records")?;
    }
    let t = decider.counters().total();
    eprintln!("kept {} of {} records ({} of {} bytes)", t.kept, t.matched, t.kept_bytes, t.matched_bytes);
    let c = decider.counters();
    if c.invalid_json > 0 {
        eprintln!("note: {} records started with '{{' but were not valid JSON; they were decided as text lines", c.invalid_json);
    }
    for p in stats.problems() {
        eprintln!("note: {p}");
    }
    Ok(if stats.failed.is_empty() { Outcome::Ok } else { Outcome::Failed })
}

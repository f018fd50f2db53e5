//! Writes a deterministic sample of Fluent Bit Kubernetes records (the corpus the benchmarks use).
//!
//! The bundled `filters/samples/k8s-sample.jsonl.gz` is `gen-sample --seed 42 --bytes 6MiB --span 2m`;
//! `tests/cli/sample.rs` checks that [`logtrim_testkit::corpus::bundled_sample`] still produces exactly its records.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use logtrim_testkit::corpus::{Config, Corpus};

/// Generate a deterministic, seeded sample of Kubernetes log records (JSON lines).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Seed of the generator: the same seed always gives the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Size of the sample before compression, e.g. 6MiB, 500KB, 1000000.
    #[arg(long, default_value = "6MiB", value_parser = parse_size)]
    bytes: u64,
    /// Time the sample's record timestamps cover, e.g. 1d, 12h, 90m (starting 2026-11-22T00:00:00Z).
    #[arg(long, default_value = "2m", value_parser = parse_span)]
    span: u64,
    /// Output file; gzip-compressed when it ends in `.gz`. Standard output when omitted.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..i].parse().map_err(|_| format!("{s:?} is not a size such as 6MiB"))?;
    let unit = match s[i..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        u => return Err(format!("unknown unit {u:?}: use B, KB, MB, KiB or MiB")),
    };
    Ok(n * unit)
}

fn parse_span(s: &str) -> Result<u64, String> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a span such as 1d, 12h or 90m"))?;
    match unit {
        "d" => Ok(n * 86_400),
        "h" => Ok(n * 3600),
        "m" => Ok(n * 60),
        "s" => Ok(n),
        _ => Err(format!("{s:?}: end the span with d, h, m or s")),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.bytes == 0 || args.span == 0 {
        bail!("--bytes and --span must be above zero");
    }
    let config = Config { span_secs: args.span, span_bytes: args.bytes, ..Config::default() };
    let data = Corpus::with_config(args.seed, config).take_bytes(args.bytes as usize);
    match &args.output {
        None => std::io::stdout().lock().write_all(&data)?,
        Some(p) => {
            let out = if p.extension().is_some_and(|e| e == "gz") {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gz.write_all(&data)?;
                gz.finish()?
            } else {
                data
            };
            std::fs::write(p, out).with_context(|| format!("cannot write {}", p.display()))?;
        }
    }
    Ok(())
}

//! One budget participant as its own process: leases from a DynamoDB table while offering synthetic
//! traffic, then prints a `key value` report (see `logtrim_aws::drill`). Used by the integration tests;
//! against a real table it is a smoke test:
//!
//! ```text
//! budget-participant --table logtrim-budget --budget smoke --limit 10MB --chunk 256KB --records 20000
//! ```
//!
//! Options: `--endpoint URL` (e.g. moto), `--table`, `--budget`, `--zone` (IANA, default UTC), `--limit`, `--chunk`, `--fallback-share`,
//! `--records`, `--seed`, `--seconds`, `--pause-ms`. Credentials and region come from the environment.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use logtrim_aws::drill::{self, DrillConfig};
use logtrim_aws::{DynamoLeaseStore, aws_config};
use logtrim_core::budget::{Accountant, BudgetSpec, LicenseZone, Timestamp, parse_share, parse_size};

fn main() -> ExitCode {
    match run() {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("budget-participant: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<String, String> {
    let mut endpoint = None;
    let mut table = "logtrim-budget".to_string();
    let mut spec = BudgetSpec { pacing: false, ..BudgetSpec::new(10_000_000, LicenseZone::utc()) };
    spec.name = "drill".into();
    let mut chunk = None;
    let mut cfg = DrillConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: String| format!("{flag} {value:?}: {e}");
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value),
            "--table" => table = value,
            "--budget" => spec.name = value,
            "--zone" => spec.zone = LicenseZone::new(&value).map_err(|e| bad(e.to_string()))?,
            "--limit" => spec.limit = parse_size(&value).map_err(|e| bad(e.to_string()))?,
            "--chunk" => chunk = Some(parse_size(&value).map_err(|e| bad(e.to_string()))?),
            "--fallback-share" => spec.fallback_share = parse_share(&value).map_err(|e| bad(e.to_string()))?,
            "--records" => cfg.records = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--seed" => cfg.seed = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--seconds" => {
                cfg.duration = Some(Duration::from_secs_f64(value.parse().map_err(|e| bad(format!("{e}")))?))
            }
            "--pause-ms" => cfg.pause = Duration::from_millis(value.parse().map_err(|e| bad(format!("{e}")))?),
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    spec.chunk = chunk.unwrap_or_else(|| logtrim_core::budget::policy::default_chunk(spec.limit));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let store = DynamoLeaseStore::from_sdk_config(&loader.load().await, table);
        let mut acc = Accountant::new(spec, Timestamp::now());
        let report = drill::run(&mut acc, &store, &cfg).await;
        Ok(report.to_lines())
    })
}

//! `logtrim-forwarder [--config FILE]`: the DaemonSet forwarder. Configuration from the file
//! (`--config`, else `$LOGTRIM_CONFIG`, else none) and `LOGTRIM_*` variables; see README.md, "Node forwarder (DaemonSet)".
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use logtrim_forwarder::config::{Config, LogFormat};

/// Tails Kubernetes container logs, applies logtrim rules and delivers what they keep to Splunk HEC.
#[derive(Parser, Debug)]
#[command(
    name = "logtrim-forwarder",
    version,
    after_help = "Every setting of the file can be overridden by a LOGTRIM_* environment variable \
                  (LOGTRIM_HEC_TOKEN, LOGTRIM_RULES_FILE, ...): see README.md, \"Node forwarder (DaemonSet)\". \
                  SIGTERM drains in-flight batches, saves checkpoints and exits 0 (2 if they \
                  could not be saved)."
)]
struct Args {
    /// The YAML configuration (in Kubernetes, a mounted ConfigMap); default: $LOGTRIM_CONFIG, else
    /// built-in defaults and LOGTRIM_* variables only.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logtrim-forwarder: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let config = args.config.or_else(|| std::env::var_os("LOGTRIM_CONFIG").map(PathBuf::from));
    let cfg = Config::load(config.as_deref(), |k| std::env::var(k).ok()).context("loading the configuration")?;
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level).context("log_level")?;
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cfg.log_format {
        LogFormat::Json => fmt.json().flatten_event(true).init(),
        LogFormat::Text => fmt.with_ansi(false).init(),
    }
    // A broken rule file fails the start loudly, before any line is read.
    let (rules, text) = logtrim_forwarder::load_rules(&cfg.rules_file).context("loading the rules")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(logtrim_forwarder::run(cfg, rules, text, shutdown_signal())).context("running")?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without signal handlers the pod can only be killed; run until then.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

//! `logtrim-forwarder [--config FILE]`: the DaemonSet forwarder. Configuration from the file
//! (`--config`, else `$LOGTRIM_CONFIG`, else none) and `LOGTRIM_*` variables; see README.md, "Node forwarder (DaemonSet)".

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use logtrim_forwarder::config::{Config, LogFormat};

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logtrim-forwarder: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut config = std::env::var_os("LOGTRIM_CONFIG").map(PathBuf::from);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => config = Some(args.next().context("--config needs a file")?.into()),
            "--help" | "-h" => {
                println!("usage: logtrim-forwarder [--config FILE]\nsettings: the file and LOGTRIM_* variables (README.md, \"Node forwarder (DaemonSet)\")");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?} (usage: logtrim-forwarder [--config FILE])"),
        }
    }
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

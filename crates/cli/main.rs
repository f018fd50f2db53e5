//! `logtrim`: check, test and measure rule sets over sample files.

mod args;
mod cmd;
mod input;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit codes: 0 ok, 1 rule errors or failed tests, 2 usage or I/O errors.
pub enum Outcome {
    Ok,
    Failed,
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { rules, explain } => cmd::check::run(&rules, explain),
        Command::Test { rules, format } => cmd::test::run(&rules, format),
        Command::Run { rules, input, output, dropped, hec, archive, s3_path_style } => {
            let outputs = cmd::run::RunOutputs { output: output.as_deref(), dropped: dropped.as_deref(), hec, archive: archive.as_deref(), s3_path_style };
            cmd::run::run(&rules, &input, &outputs)
        }
        Command::Replay(args) => cmd::replay::run(&args),
        Command::Report { rules, input, days, format, no_progress, budget, rate, html } => {
            let budget = budget.as_deref().map(|limit| cmd::report::BudgetArgs { limit: Some(limit), rate: rate.as_deref() });
            cmd::report::run(&rules, &input, days, format, no_progress, budget, html.as_deref())
        }
        Command::Explain { rules, record, format } => cmd::explain::run(&rules, &record, format),
        Command::Suggest(args) => cmd::suggest::run(&args),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            // A closed pipe (`logtrim run … | head`) is how the reader says it has enough: not an error.
            if e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)) {
                return ExitCode::SUCCESS;
            }
            let _ = io::stdout().flush();
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Rust starts programs with SIGPIPE ignored, so writing to a closed pipe (`logtrim report … | head`)
/// fails, and `println!` panics on that. A command-line filter should instead end quietly, as `cat` and
/// `grep` do: the default action ends the process when the reader has gone.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; it only sets this
    // process's disposition of one signal back to the default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

//! The binary's command line: clap help and usage errors, before any configuration is read.

use std::process::Command;

fn forwarder(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_logtrim-forwarder")).args(args).env_remove("LOGTRIM_CONFIG").output().unwrap()
}

#[test]
fn help_names_the_config_file_and_the_environment_overrides() {
    let out = forwarder(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--config <FILE>") && text.contains("LOGTRIM_") && text.contains("SIGTERM"), "{text}");
}

#[test]
fn an_unknown_argument_is_a_usage_error() {
    let out = forwarder(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--bogus") && err.contains("Usage: logtrim-forwarder"), "{err}");
}

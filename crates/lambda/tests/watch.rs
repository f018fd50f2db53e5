//! The function under `cargo lambda watch` (x86_64 debug build, compiled by watch itself), invoked with
//! the committed event deploy/lambda/events/firehose-k8s.json through `cargo lambda invoke`.
//!
//! watch builds into `target/lambda-watch` (CARGO_TARGET_DIR): `cargo test` holds the lock on the
//! default target directory while tests run. The first run compiles the dependencies there (minutes
//! on two cores); later runs are incremental. watch's log goes to the system temp directory: a file
//! inside the crate would make watch rebuild in a loop.

use std::process::Command;
use std::time::{Duration, Instant};

use logtrim_lambda::decode::decode_base64;
use logtrim_lambda::event::{FirehoseEvent, FirehoseResponse, FirehoseResult};

use crate::util::*;

#[test]
fn runs_under_cargo_lambda_watch() {
    let cargo_lambda = tool("cargo-lambda");
    let port = free_port();
    let rules = bundled_rules_path();
    // The binary's archive settings: a local directory (the S3 store is tested against moto in `archive`).
    let archive = std::env::temp_dir().join(format!("logtrim-watch-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&archive);
    let env_vars = [
        format!("LOGTRIM_ARCHIVE=file://{}", archive.display()),
        format!("LOGTRIM_RULES_FILE={}", rules.display()),
        "LOGTRIM_LOG=info".to_string(),
        "AWS_REGION=us-east-1".to_string(),
        "AWS_ACCESS_KEY_ID=testing".to_string(),
        "AWS_SECRET_ACCESS_KEY=testing".to_string(),
        "AWS_EC2_METADATA_DISABLED=true".to_string(),
    ];
    let mut cmd = Command::new(&cargo_lambda);
    cmd.args(["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
        .args(env_vars.iter().flat_map(|v| ["--env-var", v.as_str()]))
        .current_dir(manifest_dir())
        .env("CARGO_TARGET_DIR", workspace_dir().join("target/lambda-watch"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PATH", path_with_venv());
    let mut watch = Proc::start(cmd, "cargo-lambda-watch.log");
    let log = watch.log.clone();
    wait_for_port(port, Duration::from_secs(120), &mut watch.child, "cargo lambda watch", &log);

    let event_file = workspace_dir().join("deploy/lambda/events/firehose-k8s.json");
    // The first invoke waits for watch to build the function.
    let deadline = Instant::now() + Duration::from_secs(20 * 60);
    let stdout = loop {
        let out = Command::new(&cargo_lambda)
            .args(["lambda", "invoke", "logtrim-lambda", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
            .arg("--data-file")
            .arg(&event_file)
            .env("PATH", path_with_venv())
            .output()
            .unwrap();
        if out.status.success() {
            break String::from_utf8(out.stdout).unwrap();
        }
        if Instant::now() > deadline {
            panic!(
                "cargo lambda invoke failed: {}\n--- watch log ---\n{}",
                String::from_utf8_lossy(&out.stderr),
                watch.log_text()
            );
        }
        std::thread::sleep(Duration::from_secs(5));
    };
    let resp: FirehoseResponse =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", watch.log_text()));
    let ev: FirehoseEvent = serde_json::from_str(&std::fs::read_to_string(&event_file).unwrap()).unwrap();
    let ids: Vec<_> = resp.records.iter().map(|r| &r.record_id).collect();
    assert_eq!(ids, ev.records.iter().map(|r| &r.record_id).collect::<Vec<_>>());
    use FirehoseResult::*;
    let results: Vec<_> = resp.records.iter().map(|r| r.result).collect();
    // text 502, text probe, JSON 503, CONTROL_MESSAGE, CloudWatch probe + 502, bad base64 padding.
    assert_eq!(results, [Ok, Dropped, Ok, Dropped, Ok, ProcessingFailed]);
    assert_eq!(resp.records[5].data, ev.records[5].data);
    for r in resp.records.iter().filter(|r| r.result == Ok) {
        parse_hec(&decode_base64(&r.data).unwrap());
    }
    // The raw JSON uses exactly Firehose's field names and always carries data.
    let raw: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for r in raw["records"].as_array().unwrap() {
        assert!(r["data"].is_string() && r["recordId"].is_string() && r["result"].is_string(), "{r}");
    }
    let log = watch.log_text();
    assert!(log.contains("\"_aws\""), "an EMF line per invocation:\n{log}");
    // The dropped probes are archived: an object and its index per hour, below the stream's partition.
    let mut files = Vec::new();
    let mut dirs = vec![archive.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}\n{log}", d.display())).flatten() {
            if e.path().is_dir() { dirs.push(e.path()) } else { files.push(e.path().strip_prefix(&archive).unwrap().display().to_string()) }
        }
    }
    let objects = files.iter().filter(|f| f.ends_with(".ndjson.gz")).count();
    assert!((1..=2).contains(&objects), "one object per hour of the events: {files:?}");
    assert_eq!(files.iter().filter(|f| f.ends_with(".index.json")).count(), objects, "{files:?}");
    assert!(files.iter().all(|f| f.contains("/source=logtrim-test/")), "{files:?}");
    assert!(log.contains("\"ArchivedEvents\""), "{log}");
    let _ = std::fs::remove_dir_all(&archive);
}

fn path_with_venv() -> std::ffi::OsString {
    let mut paths = vec![workspace_dir().join(".venv/bin")];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap()
}

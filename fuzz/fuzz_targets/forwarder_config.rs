//! The forwarder's configuration (`logtrim_forwarder::config`): its YAML file and its `LOGTRIM_*`
//! environment overrides.
//!
//! Input: the YAML text up to the first NUL byte; after it, one override per NUL-separated segment,
//! whose first byte picks the setting (an index into `SETTINGS`) and the rest is the variable's value.
//!
//! Asserts:
//! - no panic in parsing, validating or applying overrides (durations and sizes do arithmetic on what
//!   the user wrote);
//! - a parse error has a message;
//! - a size or duration setting reads the same text the same way from the file (as a quoted YAML string)
//!   and from its environment variable: both accept it with the same value, or both refuse it.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use logtrim_forwarder::config::{Config, SETTINGS};

/// Settings whose file and variable forms both go through the same unit parser (`Size`, `Dur`).
const UNIT_SETTINGS: &[&str] = &[
    "shutdown_deadline",
    "reload_interval",
    "summary_delay",
    "inputs.max_line_bytes",
    "inputs.poll_interval",
    "inputs.discover_interval",
    "inputs.rotate_wait",
    "inputs.checkpoint_interval",
    "hec.batch_bytes",
    "hec.batch_time",
    "hec.request_timeout",
    "hec.connect_timeout",
    "hec.retry_initial",
    "hec.retry_max",
    "hec.ack_poll_interval",
    "hec.ack_timeout",
    "hec.health_interval",
    "hec.dead_letter_max_bytes",
];

/// `Config::load` without a file, with these variables (and a node name, so `/proc` is not read; the
/// token file variable is never passed, so no file is read).
fn load_env(vars: &[(String, String)]) -> Result<Config, String> {
    let env = |k: &str| {
        if k == "NODE_NAME" {
            return Some("node-1".to_string());
        }
        vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    Config::load(None, env).map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    let mut segments = data.split(|&b| b == 0);
    let yaml = String::from_utf8_lossy(segments.next().unwrap_or_default());

    match Config::from_yaml(Path::new("fuzz.yaml"), &yaml) {
        Ok(cfg) => {
            let _ = cfg.validate();
            let _ = cfg.budget_file();
        }
        Err(e) => assert!(!e.to_string().trim().is_empty(), "a parse error without a message"),
    }

    let mut vars = Vec::new();
    for seg in segments {
        let Some((&pick, value)) = seg.split_first() else { continue };
        let setting = &SETTINGS[usize::from(pick) % SETTINGS.len()];
        let name = setting.env();
        if name == "LOGTRIM_HEC_TOKEN_FILE" {
            continue;
        }
        vars.push((name, String::from_utf8_lossy(value).into_owned()));
    }
    let _ = load_env(&vars);

    // The same text for a unit setting, from the file and from the environment. Both start from the
    // same valid base (paths, endpoint, token, node name), so validation judges only this setting.
    for (name, value) in &vars {
        let Some(key) = UNIT_SETTINGS.iter().find(|k| SETTINGS.iter().any(|s| s.key == **k && s.env() == *name)) else { continue };
        // Printable ASCII only: anything else may be refused by YAML itself, which is not the point.
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        let quoted = serde_json::to_string(value).expect("a string serializes");
        let (section, field) = key.split_once('.').unwrap_or(("", key));
        let mut yaml = String::from("node_name: node-1\n");
        let mut inputs = String::from("inputs:\n  paths: [\"/var/log/containers/*.log\"]\n");
        let mut hec = String::from("hec:\n  endpoints: [\"http://127.0.0.1:8088\"]\n  token: t\n");
        match section {
            "" => yaml.push_str(&format!("{field}: {quoted}\n")),
            "inputs" => inputs.push_str(&format!("  {field}: {quoted}\n")),
            "hec" => hec.push_str(&format!("  {field}: {quoted}\n")),
            other => unreachable!("no unit setting in {other}"),
        }
        yaml.push_str(&inputs);
        yaml.push_str(&hec);
        let from_file = Config::from_yaml(Path::new("fuzz.yaml"), &yaml)
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map(|()| c).map_err(|e| e.join("; ")));
        let base = [
            ("LOGTRIM_INPUTS_PATHS".to_string(), "/var/log/containers/*.log".to_string()),
            ("LOGTRIM_HEC_ENDPOINTS".to_string(), "http://127.0.0.1:8088".to_string()),
            ("LOGTRIM_HEC_TOKEN".to_string(), "t".to_string()),
            (name.clone(), value.clone()),
        ];
        let from_env = load_env(&base);
        match (&from_file, &from_env) {
            (Ok(f), Ok(e)) => assert_eq!(format!("{f:?}"), format!("{e:?}"), "{name}={value:?} reads differently from the file"),
            (Err(_), Err(_)) => {}
            (f, e) => panic!("{key}: {value:?} from the file: {:?}; from {name}: {:?}", f.as_ref().map(|_| "ok"), e.as_ref().map(|_| "ok")),
        }
    }
});

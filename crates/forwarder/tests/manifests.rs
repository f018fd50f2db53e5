//! deploy/k8s passes `kubernetes-validate --strict` (unknown fields are errors only with --strict).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tool from the project venv or PATH; fails the test with how to install it.
fn tool(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join(".venv/bin").join(name);
    if venv.is_file() {
        return venv;
    }
    if let Some(p) = std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())) {
        return p;
    }
    panic!("{name} not found in {} or on PATH: run `bash scripts/python-tools` first", venv.display());
}

#[test]
fn manifests_pass_kubernetes_validate_strict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "manifests in {}: {files:?}", dir.display());
    let out = Command::new(tool("kubernetes-validate")).arg("--strict").args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "kubernetes-validate --strict failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_configmap_carries_the_bundled_rules_and_a_valid_configuration() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("deploy/k8s/configmap.yaml")).unwrap();
    let cm: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let rules = cm["data"]["rules.yaml"].as_str().unwrap();
    let bundled = std::fs::read_to_string(root.join("filters/k8s-splunk.yaml")).unwrap();
    assert_eq!(rules.trim_end(), bundled.trim_end(), "deploy/k8s/configmap.yaml rules.yaml differs from filters/k8s-splunk.yaml");
    let cfg = logtrim_forwarder::config::Config::from_yaml(Path::new("forwarder.yaml"), cm["data"]["forwarder.yaml"].as_str().unwrap()).unwrap();
    let problems = cfg.validate().err().unwrap_or_default();
    // The token comes from the Secret at run time.
    assert!(problems.iter().all(|p| p.starts_with("hec.token")), "{problems:?}");
    assert_eq!(cfg.rules_file, Path::new("/etc/logtrim/rules.yaml"));
}

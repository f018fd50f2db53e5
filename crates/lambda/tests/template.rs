//! deploy/lambda/template.yaml passes cfn-lint (warnings fail too: cfn-lint's exit code is non-zero).

use std::process::Command;

use crate::util::*;

#[test]
fn template_passes_cfn_lint() {
    let template = workspace_dir().join("deploy/lambda/template.yaml");
    let out = Command::new(tool("cfn-lint")).arg(&template).output().unwrap();
    assert!(
        out.status.success(),
        "cfn-lint {} failed ({}):\n{}{}",
        template.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

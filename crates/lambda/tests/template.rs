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

#[test]
fn the_archive_permission_is_put_object_below_the_prefix_only() {
    let text = std::fs::read_to_string(workspace_dir().join("deploy/lambda/template.yaml")).unwrap();
    let function_role = text.split("  FunctionRole:").nth(1).and_then(|r| r.split("\n  BackupBucket:").next()).expect("FunctionRole");
    let s3: Vec<&str> = function_role.lines().filter(|l| l.contains("s3:")).collect();
    assert_eq!(
        s3,
        [
            "                  Action: s3:PutObject",
            "                  Resource: !Sub \"arn:${AWS::Partition}:s3:::${ArchiveBucket}/${ArchivePrefix}/*\"",
        ],
        "the function may only put objects below the archive's prefix"
    );
    assert!(text.contains("LOGTRIM_ARCHIVE: !If [UseArchive, !Sub \"s3://${ArchiveBucket}/${ArchivePrefix}\""));
}

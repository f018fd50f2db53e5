//! One module per subcommand.

pub mod archive;
pub mod budget;
pub mod check;
pub mod explain;
pub mod html;
pub mod replay;
pub mod report;
pub mod run;
pub mod suggest;
pub mod test;

use std::path::Path;

use anyhow::Context;
use logtrim_core::RuleSet;

/// Reads and compiles a rule file. `Ok(Err(text))` carries rendered rule errors (exit 1, not 2).
pub fn load_rules(path: &Path) -> anyhow::Result<Result<RuleSet, String>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read rule file {}", path.display()))?;
    Ok(RuleSet::from_yaml_bytes(&path.display().to_string(), &bytes).map_err(|d| d.to_string()))
}

/// Loads rules for commands that need a valid set: rule errors are printed and turn into exit code 1.
pub fn require_rules(path: &Path) -> anyhow::Result<Option<RuleSet>> {
    match load_rules(path)? {
        Ok(r) => Ok(Some(r)),
        Err(text) => {
            eprintln!("{text}");
            Ok(None)
        }
    }
}

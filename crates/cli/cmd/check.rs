//! `logtrim check`: validate rule files.

use std::path::PathBuf;

use crate::Outcome;

pub fn run(files: &[PathBuf], explain: bool) -> anyhow::Result<Outcome> {
    let mut failed = false;
    for f in files {
        match super::load_rules(f)? {
            Ok(rules) => {
                println!("ok: {} ({} rules, {} tests)", f.display(), rules.len(), rules.examples().len());
                if explain {
                    println!("{}", rules.explain());
                }
            }
            Err(text) => {
                eprintln!("{text}");
                failed = true;
            }
        }
    }
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}

//! The rule loader (`RuleSet::from_yaml`): YAML → AST → compiled plan, on any text.
//!
//! Asserts:
//! - no panic and no stack overflow, also nested thousands deep (amplified inputs, `amplify::amplify`) (the process dies on one, which libFuzzer reports);
//! - every diagnostic of a refused file points inside the file: an existing line, a column at one of its
//!   characters or just past its end, a non-empty underline; and the diagnostics render;
//! - a file that loads can be run: `explain`, and deciding a few records and the file's own examples,
//!   do not panic.
//!
//! Inputs that are not UTF-8 are read lossily (the CLI refuses them before loading; the mutations still
//! count as text). `-max_len` is kept small in scripts/fuzz: rule files are short, and a long one is
//! slow to compile (a known, separately tracked issue) without telling anything new.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrim_core::RuleSet;

#[path = "common/rules.rs"]
mod common;
#[path = "common/amplify.rs"]
mod amplify;

fuzz_target!(|data: &[u8]| {
    // `\x01 s A \0 B \0 C \0 P \0 S`: P, A × n, B, C × n, S (`amplify::amplify`): deep nesting from short inputs.
    let data = amplify::amplify(data);
    let text = String::from_utf8_lossy(&data);
    match RuleSet::from_yaml("fuzz.yaml", &text) {
        Ok(rules) => common::exercise(&rules),
        Err(diags) => {
            if let Err(e) = common::check_diagnostics(&text, &diags) {
                panic!("{e}\nfile: {text:?}");
            }
        }
    }
});

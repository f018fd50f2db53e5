//! The `when:` expression parser (`logtrim_core::spec::expr::parse`), then the compiler and engine on
//! what it accepts.
//!
//! The whole rule loader is fuzzed by `rule_file`; this target spends its time on the expression
//! language alone, where the grammar is (the loader reaches it only through valid YAML).
//!
//! Asserts:
//! - no panic and no stack overflow, also nested thousands deep (amplified inputs, `amplify::amplify`);
//! - every byte offset the parser asks to be turned into a position lies inside the expression and on
//!   a character boundary (it is how positions inside the file are made);
//! - the diagnostic's position and underline are inside the expression's one line;
//! - an expression that parses, put in a rule file (single-quoted YAML, when it has no line breaks),
//!   loads or is refused with diagnostics inside the file, and what loads runs on a few records.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use logtrim_core::spec::expr;
use logtrim_core::{Pos, RuleSet};

#[path = "common/rules.rs"]
mod common;
#[path = "common/amplify.rs"]
mod amplify;

fuzz_target!(|data: &[u8]| {
    // `\x01 s A \0 B \0 C \0 P \0 S`: P, A × n, B, C × n, S (`amplify::amplify`): deep nesting from short inputs.
    let data = amplify::amplify(data);
    let src = String::from_utf8_lossy(&data);
    let bad = RefCell::new(None);
    let pos = |off: usize| {
        if off > src.len() || !src.is_char_boundary(off) {
            bad.borrow_mut().get_or_insert(off);
        }
        let chars = src.get(..off).map_or(0, |s| s.chars().count());
        Pos::new(1, chars as u32 + 1)
    };
    let parsed = expr::parse(&src, &pos);
    if let Some(off) = bad.into_inner() {
        panic!("the parser asked for the position of byte {off} of a {}-byte expression (not a char boundary or past the end): {src:?}", src.len());
    }
    match parsed {
        Err(d) => {
            let chars = src.chars().count();
            assert!(d.pos.line == 1 && d.pos.col >= 1 && d.pos.col as usize <= chars + 1, "position {} outside {src:?}", d.pos);
            assert!(
                d.len >= 1 && (d.pos.col + d.len - 1) as usize <= chars + 1,
                "underline of {} at {} runs past the end of {src:?} ({chars} characters): {}",
                d.len,
                d.pos,
                d.message
            );
        }
        Ok(_) => {
            // YAML single quotes keep everything but line breaks; `'` is written `''`.
            if src.contains(['\n', '\r']) || src.chars().any(|c| c.is_control()) {
                return;
            }
            let file = format!("rules:\n  - name: r\n    when: '{}'\n    action: drop\n", src.replace('\'', "''"));
            match RuleSet::from_yaml("fuzz.yaml", &file) {
                Ok(rules) => common::exercise(&rules),
                Err(diags) => {
                    if let Err(e) = common::check_diagnostics(&file, &diags) {
                        panic!("{e}\nfile: {file:?}");
                    }
                }
            }
        }
    }
});

//! Rule files written to hurt: deep nesting, huge sizes, broken structure. Each must give positioned
//! errors (or compile), never a stack overflow, a panic or minutes of CPU.

use logtrim_core::rules::expr::MAX_NESTING;
use logtrim_core::{Action, Diagnostics, RuleSet};

/// Runs `f` on a thread with a small stack, so that recursion growing with the input overflows here
/// reliably. Unoptimised builds have large frames: this is enough for everything at the limits, and far
/// too little for thousands of levels.
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(512 * 1024).spawn(f).expect("spawn").join().expect("no panic")
}

fn one_rule(when: &str) -> String {
    format!("rules:\n  - name: deep\n    when: '{when}'\n    action: drop\n")
}

fn errors(yaml: String) -> (Vec<String>, String) {
    small_stack(move || match RuleSet::from_yaml("f.yaml", &yaml) {
        Ok(_) => panic!("no error for {:.200}", yaml),
        Err(e) => {
            let e: Diagnostics = e;
            (e.headlines(), e.to_string())
        }
    })
}

/// Compiles, explains and runs a condition on the small stack: every recursive walk sees it.
fn decides(when: String, record: &'static [u8]) -> Action {
    small_stack(move || {
        let rules = RuleSet::from_yaml("f.yaml", &one_rule(&when)).unwrap_or_else(|e| panic!("{e}"));
        assert!(rules.explain().contains("deep when"), "{}", rules.explain());
        let action = rules.decider().decide(record).action;
        drop(rules);
        action
    })
}

#[test]
fn nesting_at_the_limit_compiles_explains_and_runs() {
    let n = MAX_NESTING;
    let parens = format!("{}host == \"a\"{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(decides(parens, br#"{"host":"a"}"#), Action::Drop);
    // An even number of `not`s: the record matches.
    let nots = format!("{}host == \"a\"", "not ".repeat(n));
    assert_eq!(decides(nots, br#"{"host":"a"}"#), Action::Drop);
    let bangs = format!("{}host != \"a\"", "!".repeat(n - 1));
    assert_eq!(decides(bangs, br#"{"host":"a"}"#), Action::Drop);
    let mixed = format!("{}host == \"b\"{}", "not (".repeat(n / 2), ")".repeat(n / 2));
    assert_eq!(decides(mixed, br#"{"host":"a"}"#), Action::Keep);
    // Parentheses around one term make no node; alternating `and` and `or` make one per level.
    let alternating = format!("{}host == \"a\"{}", "a == 1 and (b == 1 or (".repeat(n / 2), "))".repeat(n / 2));
    assert_eq!(decides(alternating, br#"{"a":1,"host":"a"}"#), Action::Drop);
}

#[test]
fn nesting_one_past_the_limit_is_a_positioned_error() {
    let n = MAX_NESTING + 1;
    // The condition starts at column 12; the error points at the level that is one too many.
    let cases = [
        (format!("{}host == \"a\"{}", "(".repeat(n), ")".repeat(n)), 12 + n - 1),
        (format!("{}host == \"a\"", "not ".repeat(n)), 12 + 4 * (n - 1)),
        (format!("{}host == \"a\"", "!".repeat(n)), 12 + n - 1),
        (format!("{}host == \"a\"{}", "not (".repeat(n / 2 + 1), ")".repeat(n / 2 + 1)), 12 + 5 * (n / 2)),
        (format!("{}host == \"a\"{}", "a == 1 and (b == 1 or (".repeat(n / 2 + 1), "))".repeat(n / 2 + 1)), 12 + 23 * (n / 2) + 11),
    ];
    for (when, col) in cases {
        let (h, full) = errors(one_rule(&when));
        assert_eq!(h, [format!("f.yaml:3:{col}: condition nested deeper than {MAX_NESTING} levels")], "{when}");
        assert!(full.contains(&format!("hint: parentheses and `not` may nest at most {MAX_NESTING} deep")), "{full}");
    }
}

#[test]
fn thousands_of_levels_are_refused_without_overflowing() {
    for when in ["(".repeat(6000) + "a == 1" + &")".repeat(6000), "not ".repeat(6000) + "a == 1", "(".repeat(6000)] {
        let (h, _) = errors(one_rule(&when));
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h[0].ends_with(&format!("condition nested deeper than {MAX_NESTING} levels")), "{h:?}");
    }
}


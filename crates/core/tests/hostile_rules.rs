//! Rule files written to hurt: deep nesting, huge sizes, broken structure. Each must give positioned
//! errors (or compile), never a stack overflow, a panic or minutes of CPU.

use logtrim_core::spec::expr::MAX_NESTING;
use logtrim_core::{Action, RuleSet};

/// Runs `f` on a thread with a small stack, so that recursion growing with the input overflows here
/// reliably. Unoptimised builds have large frames: this is enough for conditions at the limit, and far
/// too little for thousands of levels.
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    on_stack(512 << 10, f)
}

/// The stack of a thread spawned with the defaults, or of a tokio worker: a forwarder reloads its rules
/// on one. serde-saphyr recurses once per level of YAML with large frames in an unoptimised build, so a
/// file at the YAML limit needs more than [`small_stack`]; thousands of levels would still overflow it.
fn thread_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    on_stack(2 << 20, f)
}

fn on_stack<T: Send + 'static>(bytes: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(bytes).spawn(f).expect("spawn").join().expect("no panic")
}

fn one_rule(when: &str) -> String {
    format!("rules:\n  - name: deep\n    when: '{when}'\n    action: drop\n")
}

fn errors(yaml: String) -> (Vec<String>, String) {
    thread_stack(move || match RuleSet::from_yaml("f.yaml", &yaml) {
        Ok(_) => panic!("no error for {:.200}", yaml),
        Err(e) => (e.headlines(), e.to_string()),
    })
}

/// Compiles, explains and runs a condition on the small stack: every recursive walk sees it.
fn decides(when: String, record: &'static [u8]) -> Action {
    small_stack(move || {
        let rules = RuleSet::from_yaml("f.yaml", &one_rule(&when)).unwrap_or_else(|e| panic!("{e}"));
        assert!(rules.explain().contains("deep when"), "{}", rules.explain());
        let action = rules.decider().decide(record).action();
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


// ---- YAML structure ------------------------------------------------------------------------------

use logtrim_core::MAX_FIELDS;
use logtrim_core::spec::yaml::{MAX_DEPTH, MAX_FILE_BYTES};

/// A test record nested `levels` deep: the file's mapping, `tests`, the test and `record` make four.
fn nested_record(levels: usize) -> String {
    let inner = levels - 3;
    format!("tests:\n  - record: {}1{}\n    expect: keep\n", "{a: ".repeat(inner), "}".repeat(inner))
}

#[test]
fn yaml_nesting_at_the_limit_is_read() {
    let yaml = nested_record(MAX_DEPTH);
    let rules = thread_stack(move || RuleSet::from_yaml("f.yaml", &yaml).map(|r| r.examples().len()).map_err(|e| e.to_string()));
    assert_eq!(rules, Ok(1));
}

#[test]
fn deep_yaml_is_a_positioned_error() {
    let deep = format!("YAML nested deeper than {MAX_DEPTH} levels");
    // One past the limit, then far past it in flow and block style.
    let (h, full) = errors(nested_record(MAX_DEPTH + 1));
    assert_eq!(h, [format!("f.yaml:2:{}: {deep}", 13 + 4 * (MAX_DEPTH + 1 - 4))], "{full}");
    assert!(full.contains("hint: "), "{full}");
    let (h, _) = errors(format!("rules: {}\n", "[".repeat(100_000)));
    assert_eq!(h, [format!("f.yaml:1:{}: {deep}", 8 + MAX_DEPTH)]);
    let (h, _) = errors(format!("tests:\n  - record: {}\n", "{a: ".repeat(100_000)));
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(h[0].ends_with(&deep), "{h:?}");
    let block: String = (0..2000).map(|i| format!("{}a:\n", "  ".repeat(i))).collect();
    let (h, _) = errors(format!("tests:\n  - record:\n{block}"));
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(h[0].ends_with(&deep), "{h:?}");
}

// ---- sizes ---------------------------------------------------------------------------------------

#[test]
fn a_file_over_the_size_limit_is_refused_before_it_is_read() {
    let at_limit = format!("rules: []\n{}\n", "#".repeat(MAX_FILE_BYTES - 11));
    assert_eq!(at_limit.len(), MAX_FILE_BYTES);
    assert!(RuleSet::from_yaml("f.yaml", &at_limit).is_ok());
    let (h, full) = errors(at_limit + " ");
    assert_eq!(h, [format!("f.yaml:1:1: rule file is {} bytes, more than the 16 MiB a rule file may have", MAX_FILE_BYTES + 1)]);
    assert!(full.contains("hint: "), "{full}");
}

#[test]
fn the_fields_read_have_a_limit() {
    let fields = |n: usize| {
        let terms: Vec<String> = (0..n).map(|i| format!("f{i} == 1")).collect();
        format!("rules:\n  - name: many\n    when: {}\n    action: drop\n", terms.join(" or "))
    };
    assert!(RuleSet::from_yaml("f.yaml", &fields(MAX_FIELDS)).is_ok());
    let yaml = fields(MAX_FIELDS + 1);
    // Reported at the field one too many: the last term's.
    let col = yaml.lines().nth(2).and_then(|l| l.rfind('f')).unwrap_or_default() + 1;
    let (h, _) = errors(yaml);
    assert_eq!(h, [format!("f.yaml:3:{col}: the rules read more than {MAX_FIELDS} different fields")]);
    // A summary reads the record's time as well: three more fields, reported at the `summarize`.
    let (h, _) = errors(fields(MAX_FIELDS).replace("action: drop\n", "action: drop\n    summarize: {by: [f0]}\n"));
    assert_eq!(h, [format!("f.yaml:5:16: the rules read more than {MAX_FIELDS} different fields")]);
}

// ---- structural errors -----------------------------------------------------------------------------

/// A rule file's structural mistake, and the headline it must give.
const STRUCTURAL: &[(&str, &str)] = &[
    // Was: data did not match any variant of untagged enum WhenDoc.
    ("rules:\n  - name: a\n    when: [log.status]\n    action: drop\n", "3:11: `when` must be a condition, found a list"),
    // Was: invalid u64.
    ("rules:\n  - name: a\n    action: drop\n    summarize: {max_groups: -1}\n", "4:29: `max_groups` must be a whole number, found the number -1"),
    // Was: duplicate mapping key: action, set DuplicateKeyPolicy in Options if acceptable.
    ("rules:\n  - name: a\n    action: drop\n    action: keep\n", "4:5: duplicate key \"action\" in a rule"),
    // Was: error: line 3 column 13: expected string scalar (the position twice).
    ("rules:\n  - name: a\n    action: [drop\n", "3:13: invalid YAML: unclosed bracket '['"),
    // Was: unknown field `wen`, expected one of …
    ("rules:\n  - name: a\n    wen: a == 1\n    action: drop\n", "3:5: unknown key \"wen\" in a rule"),
    ("rules:\n  - when: a == 1\n    action: drop\n", "2:5: a rule needs a `name`"),
    ("rules: {name: a}\n", "1:8: `rules` must be a list, found a mapping"),
    ("budget: {limit: 4GB, time_zone: UTC, pacing: often}\n", "1:46: `pacing` must be true or false, found \"often\""),
    ("tests:\n  - record: {a: 1}\n    expect: {action: keep, rules: x}\n", "3:28: unknown key \"rules\" in `expect`"),
    ("rules:\n  - name: a\n    when:\n    action: drop\n", "3:5: empty condition"),
    ("", "1:1: the rule file is empty"),
];

#[test]
fn structural_mistakes_read_like_the_other_errors() {
    for (yaml, want) in STRUCTURAL {
        let (h, full) = errors(yaml.to_string());
        assert_eq!(h, [format!("f.yaml:{want}")], "{yaml}");
        assert!(full.contains("= hint: "), "{full}");
        for leak in ["untagged", "u64", "budget breached", "DuplicateKeyPolicy", "error: line", "column", "expected one of"] {
            assert!(!full.contains(leak), "{leak:?} in {full}");
        }
    }
}

#[test]
fn every_structural_mistake_is_reported() {
    let yaml = "rules:\n  - name: a\n    wen: log.status == 1\n    action: drop\n  - action: keep\n  - name: c\n    action: sample\n    rate: [1]\ndefault: {action: keep, priorty: low}\n";
    let (h, _) = errors(yaml.to_string());
    assert_eq!(
        h,
        [
            "f.yaml:3:5: unknown key \"wen\" in a rule",
            "f.yaml:5:5: a rule needs a `name`",
            "f.yaml:8:11: `rate` must be a share, found a list",
            "f.yaml:9:25: unknown key \"priorty\" in `default`",
        ]
    );
    // Structural mistakes in one rule do not hide the other rules' mistakes of any kind.
    let (h, _) = errors("rules:\n  - name: a\n    wen: x\n    action: drop\n  - name: b\n    action: kep\n".to_string());
    assert_eq!(h, ["f.yaml:3:5: unknown key \"wen\" in a rule", "f.yaml:6:13: unknown action \"kep\""]);
}

#[test]
fn invalid_utf8_is_positioned_at_its_first_bad_byte() {
    let bytes = b"rules:\n  - name: a\n    action: keep\n  - name: b\xff\xfe\n    action: drop\n";
    let e = RuleSet::from_yaml_bytes("f.yaml", bytes).map(|_| ()).unwrap_err();
    assert_eq!(e.headlines(), ["f.yaml:4:12: invalid UTF-8: byte 0xff"]);
    assert!(e.to_string().contains("hint: "), "{e}");
    // Columns count characters: `é` is two bytes and one column.
    let bytes = [b"rules:\n  - name: ".as_slice(), "é".as_bytes(), b"\xff"].concat();
    let e = RuleSet::from_yaml_bytes("f.yaml", &bytes).map(|_| ()).unwrap_err();
    assert_eq!(e.headlines(), ["f.yaml:2:12: invalid UTF-8: byte 0xff"]);
}

//! Writing a rule file: the user's rules first, as they wrote them, the proposals after, each with tests.
//!
//! The user's file is edited as text, so its comments, order and spelling stay: the proposals are
//! appended to its `rules:` list, the tests to its `tests:` list (or new sections at the end), and
//! `log: [access, app]` is added under `parse:` when the file does not parse `log` at all (then no rule
//! of the file reads a parsed `log` field, so their decisions cannot change). A file that parses `log`
//! without both the access-log and the app parsers cannot take the proposals' conditions and guard
//! without changing what its own rules see: that is an error, not an edit. Flow-style top-level
//! `rules:` or `tests:` lists (other than `[]`) are errors too. The caller compiles the result and runs
//! its tests before writing it.

use crate::propose::yaml_quote;

/// Why a rule file cannot take the proposals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// `parse:` reads `log` without the parsers the proposals need.
    #[error("the rule file parses `log` as {0}; proposed rules read `log.level`, `log.status` and `log.path`, which need both `access` and `app` (parse: {{log: [access, app]}})")]
    Parsers(String),
    /// A section is written in flow style.
    #[error("the rule file's `{0}:` is written in flow style ([…] or {{…}}); write it as a block list to add proposals to it")]
    Flow(&'static str),
    /// The file is not a YAML mapping.
    #[error("the rule file is not a YAML mapping: {0}")]
    Yaml(String),
}

/// An embedded test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Test {
    /// What it checks.
    pub name: String,
    /// The record, as it came (valid UTF-8 and YAML-printable, see [`printable`]).
    pub record: String,
    /// `keep` or `drop`.
    pub action: &'static str,
    /// The rule that must decide it.
    pub rule: String,
}

impl Test {
    fn yaml(&self, indent: &str) -> String {
        format!(
            "{indent}- name: {}\n{indent}  record: {}\n{indent}  expect: {{action: {}, rule: {}}}\n",
            yaml_quote(&self.name),
            yaml_quote(&self.record),
            self.action,
            self.rule
        )
    }
}

/// Whether a record can be written as a YAML single-quoted scalar: printable characters only (YAML
/// 1.2's c-printable, without line breaks).
pub fn printable(s: &str) -> bool {
    s.chars().all(|c| matches!(c, '\t' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}'))
}

/// What `parse:` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseFix {
    /// `log` is parsed with access and app parsers already.
    None,
    /// `parse:` exists without `log`: add it.
    AddLog,
    /// No `parse:`: add the section.
    AddSection,
}

const ACCESS: [&str; 10] =
    ["access", "ingress_nginx", "nginx_combined", "nginx_common", "apache_combined", "apache_common", "envoy_text", "istio_text", "envoy_json", "istio_json"];

/// What the rule file `text` needs under `parse:` for the proposals' conditions.
pub fn parse_fix(text: &str) -> Result<ParseFix, EmitError> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| EmitError::Yaml(e.to_string()))?;
    let Some(map) = doc.as_object() else { return Err(EmitError::Yaml("expected keys such as rules:".into())) };
    let Some(parse) = map.get("parse").filter(|p| !p.is_null()) else { return Ok(ParseFix::AddSection) };
    let Some(log) = parse.get("log") else { return Ok(ParseFix::AddLog) };
    let list: Vec<String> = match log {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        other => vec![other.to_string()],
    };
    let app = list.iter().position(|p| p == "app");
    let access = list.iter().position(|p| ACCESS.contains(&p.as_str()));
    match (access, app) {
        // The access parsers must come first: `app` recognises any line.
        (Some(a), Some(b)) if a < b => Ok(ParseFix::None),
        _ => Err(EmitError::Parsers(format!("[{}]", list.join(", ")))),
    }
}

/// A top-level key's line: `key:` at column 0.
fn top_key(line: &str) -> Option<(&str, &str)> {
    let first = line.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let colon = line.find(':')?;
    let key = &line[..colon];
    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| (key, line[colon + 1..].trim()))
}

/// The value after a key, without a trailing comment.
fn inline_value(rest: &str) -> &str {
    match rest.find(" #") {
        Some(i) => rest[..i].trim(),
        None if rest.starts_with('#') => "",
        None => rest.trim(),
    }
}

/// The lines of `text` and where each top-level key's block starts.
struct Sections<'a> {
    lines: Vec<&'a str>,
    keys: Vec<(&'a str, usize)>,
}

impl<'a> Sections<'a> {
    fn new(text: &'a str) -> Sections<'a> {
        let lines: Vec<&str> = text.lines().collect();
        let keys = lines.iter().enumerate().filter_map(|(i, l)| top_key(l).map(|(k, _)| (k, i))).collect();
        Sections { lines, keys }
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.keys.iter().find(|(k, _)| *k == key).map(|(_, i)| *i)
    }

    /// The line after the last line of content in the block of the key at line `at`.
    fn block_end(&self, at: usize) -> usize {
        let next = self.keys.iter().map(|(_, i)| *i).find(|&i| i > at).unwrap_or(self.lines.len());
        let mut end = next;
        while end > at + 1 {
            let l = self.lines[end - 1].trim();
            if l.is_empty() || l.starts_with('#') {
                end -= 1;
            } else {
                break;
            }
        }
        end
    }

    /// The indentation of the block's first list item, or two spaces.
    fn item_indent(&self, at: usize) -> String {
        let end = self.block_end(at);
        self.lines[at + 1..end]
            .iter()
            .find(|l| l.trim_start().starts_with("- ") || l.trim() == "-")
            .map(|l| l[..l.len() - l.trim_start().len()].to_string())
            .unwrap_or_else(|| "  ".into())
    }
}

/// The rule file with `rules` (YAML list items, written at `indent` two) and `tests` added. `user` is the
/// user's file, or `None` for a file of the proposals alone (default: keep).
pub fn rule_file(user: Option<&str>, rules: &[String], tests: &[Test], header: &str) -> Result<String, EmitError> {
    let Some(text) = user else {
        let mut out = String::new();
        for l in header.lines() {
            out.push_str(&format!("# {l}\n"));
        }
        out.push_str("name: suggested\nparse:\n  log: [access, app]\nrules:\n");
        for r in rules {
            out.push_str(&reindent(r, "  "));
        }
        out.push_str("default:\n  action: keep\n");
        if !tests.is_empty() {
            out.push_str("tests:\n");
            for t in tests {
                out.push_str(&t.yaml("  "));
            }
        }
        return Ok(out);
    };
    let fix = parse_fix(text)?;
    let s = Sections::new(text);
    // Insertions: (line index to insert before, text), applied from the last.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut replace: Option<(usize, String)> = None;
    let mut appended = String::new();
    match s.find("rules") {
        Some(at) => {
            let v = inline_value(top_key(s.lines[at]).map_or("", |k| k.1));
            let indent = if v.is_empty() {
                s.item_indent(at)
            } else if v == "[]" {
                replace = Some((at, "rules:".into()));
                "  ".into()
            } else {
                return Err(EmitError::Flow("rules"));
            };
            let body: String = rules.iter().map(|r| reindent(r, &indent)).collect();
            inserts.push((s.block_end(at), format!("{}{body}", comment(&indent, header))));
        }
        None => {
            appended.push_str("rules:\n");
            appended.push_str(&comment("  ", header));
            appended.extend(rules.iter().map(|r| reindent(r, "  ")));
        }
    }
    if !tests.is_empty() {
        match s.find("tests") {
            Some(at) => {
                let v = inline_value(top_key(s.lines[at]).map_or("", |k| k.1));
                let indent = if v.is_empty() {
                    s.item_indent(at)
                } else if v == "[]" {
                    replace = replace.or(Some((at, "tests:".into())));
                    "  ".into()
                } else {
                    return Err(EmitError::Flow("tests"));
                };
                let body: String = tests.iter().map(|t| t.yaml(&indent)).collect();
                inserts.push((s.block_end(at), body));
            }
            None => {
                appended.push_str("tests:\n");
                appended.extend(tests.iter().map(|t| t.yaml("  ")));
            }
        }
    }
    match fix {
        ParseFix::None => {}
        ParseFix::AddLog => {
            let at = s.find("parse").expect("parse_fix saw parse:");
            let v = inline_value(top_key(s.lines[at]).map_or("", |k| k.1));
            if !v.is_empty() {
                return Err(EmitError::Flow("parse"));
            }
            let indent = s.lines[at + 1..s.block_end(at)]
                .iter()
                .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(|l| l[..l.len() - l.trim_start().len()].to_string())
                .unwrap_or_else(|| "  ".into());
            inserts.push((at + 1, format!("{indent}log: [access, app]   # added by logtrim suggest: proposed rules read log.level, log.status, log.path\n")));
        }
        ParseFix::AddSection => appended.push_str("parse:\n  log: [access, app]   # added by logtrim suggest: proposed rules read log.level, log.status, log.path\n"),
    }
    let mut lines: Vec<String> = s.lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some((at, line)) = replace {
        lines[at] = format!("{line}\n");
    }
    inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, text) in inserts {
        lines.insert(at, text);
    }
    let mut out: String = lines.concat();
    out.push_str(&appended);
    Ok(out)
}

fn comment(indent: &str, header: &str) -> String {
    header.lines().map(|l| format!("{indent}# {l}\n")).collect()
}

/// Shifts a YAML list item written at column 0 to `indent`.
fn reindent(item: &str, indent: &str) -> String {
    item.lines().map(|l| format!("{indent}{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtrim_core::RuleSet;

    const RULE: &str = "- name: suggest-x\n  when: 'log contains \"x\"'\n  action: drop\n";

    fn test() -> Test {
        Test { name: "drops x".into(), record: r#"{"log":"x 'quoted'"}"#.into(), action: "drop", rule: "suggest-x".into() }
    }

    fn compiles(text: &str) -> RuleSet {
        let r = RuleSet::from_yaml("out.yaml", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let mut d = r.decider();
        for e in r.examples() {
            let got = d.decide_uncounted(&e.record).decision();
            assert_eq!(got.action, e.action, "{text}");
        }
        r
    }

    #[test]
    fn the_users_rules_come_first_with_their_comments() {
        let user = "name: mine   # my rules\nparse:\n  log: [access, app]\nrules:\n  # keep errors\n  - name: errors\n    when: log.level == \"error\"\n    action: keep\n    priority: critical\n\ndefault:\n  action: keep\ntests:\n  - record: {log: 'y'}\n    expect: keep\n";
        let out = rule_file(Some(user), &[RULE.to_string()], &[test()], "proposed by logtrim suggest").unwrap();
        assert!(out.starts_with("name: mine   # my rules\n"));
        assert!(out.contains("  # keep errors\n"));
        let r = compiles(&out);
        let names: Vec<&str> = r.rule_names().collect();
        assert_eq!(names, ["errors", "suggest-x"]);
        assert_eq!(r.examples().len(), 2);
    }

    #[test]
    fn a_list_at_column_zero_and_missing_sections() {
        let user = "rules:\n- name: a\n  when: log contains \"a\"\n  action: drop\n";
        let out = rule_file(Some(user), &[RULE.to_string()], &[test()], "x").unwrap();
        assert!(out.contains("\n- name: suggest-x\n"), "{out}");
        assert!(out.contains("parse:\n  log: [access, app]"), "{out}");
        compiles(&out);
        // `parse:` without `log` gets it; `rules: []` becomes a list.
        let user = "parse:\n  message: [json]\nrules: []\n";
        let out = rule_file(Some(user), &[RULE.to_string()], &[], "x").unwrap();
        assert!(out.contains("parse:\n  log: [access, app]"), "{out}");
        compiles(&out);
    }

    #[test]
    fn files_that_cannot_take_proposals_are_errors() {
        assert_eq!(rule_file(Some("parse:\n  log: [access]\nrules: []\n"), &[], &[], "x"), Err(EmitError::Parsers("[access]".into())));
        assert_eq!(rule_file(Some("parse:\n  log: [app, access]\n"), &[], &[], "x"), Err(EmitError::Parsers("[app, access]".into())));
        assert!(matches!(rule_file(Some("parse: {log: [access, app]}\nrules: [{name: a, action: keep}]\n"), &[], &[], "x"), Err(EmitError::Flow("rules"))));
        assert_eq!(parse_fix("parse:\n  log: [nginx_combined, app]\n"), Ok(ParseFix::None));
    }

    #[test]
    fn without_a_users_file_the_proposals_stand_alone() {
        let out = rule_file(None, &[RULE.to_string()], &[test()], "two lines\nof header").unwrap();
        assert!(out.starts_with("# two lines\n# of header\n"));
        compiles(&out);
    }

    #[test]
    fn printable_records_only() {
        assert!(printable("a\tb µ"));
        assert!(!printable("a\u{1}b") && !printable("a\nb"));
    }
}

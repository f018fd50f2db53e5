//! The rule file as a tree of positioned YAML nodes, read within logtrim's limits.
//!
//! serde-saphyr parses the YAML (anchors, merge keys, block and flow styles) into this tree and nothing
//! more: checking that each key is known and each value has the right shape is done by [`super::load`]
//! on the tree, so that every such mistake is reported, in logtrim's words, rather than only the first.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Error, Location, MessageFormatter, Spanned, UserMessageFormatter};

use crate::diag::{Diagnostic, Pos};

/// The largest rule file read, in bytes.
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// How deep mappings and lists may nest. Reading a node recurses once per level, in serde-saphyr and here,
/// so this bounds the stack; a rule file's own structure needs a handful, test records a few more.
pub const MAX_DEPTH: usize = 32;
/// The most YAML nodes (keys, values, list items, mappings and lists) a rule file may have.
pub const MAX_NODES: usize = 1_000_000;

/// Where a node is: its line and column, and its bytes in the file when known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Loc {
    pub line: u32,
    pub col: u32,
    /// Byte offset and length in the file.
    pub bytes: Option<(usize, usize)>,
}

impl Loc {
    fn of(l: &Location) -> Loc {
        let s = l.span();
        let bytes = s.byte_offset().zip(s.byte_len()).map(|(o, n)| (o as usize, n as usize));
        Loc { line: l.line() as u32, col: l.column() as u32, bytes }
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }
}

/// One YAML node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub at: Loc,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order, repeated keys included (they are reported by the reader).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What the node is, for messages: `a list`, `a mapping`, `the number 5`, `"text"`.
    pub fn describe(&self, src: &str) -> String {
        match &self.kind {
            Kind::Null => "nothing".into(),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(_) | Kind::UInt(_) | Kind::Float(_) => format!("the number {}", self.text(src).unwrap_or_default()),
            Kind::Str(s) => format!("{s:?}"),
        }
    }

    /// A scalar's text: a string's value, or a number's or boolean's spelling in the file.
    pub fn text(&self, src: &str) -> Option<String> {
        let written = || self.at.bytes.and_then(|(o, n)| src.get(o..o + n)).map(str::to_string);
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Bool(b) => Some(written().unwrap_or_else(|| b.to_string())),
            Kind::Int(n) => Some(written().unwrap_or_else(|| n.to_string())),
            Kind::UInt(n) => Some(written().unwrap_or_else(|| n.to_string())),
            Kind::Float(n) => Some(written().unwrap_or_else(|| n.to_string())),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        // Positions come from the `Spanned` wrapper around each child; the root's is set by `parse`.
        d.deserialize_any(KindVisitor).map(|kind| Node { at: Loc::default(), kind })
    }
}

fn spanned(s: Spanned<Node>) -> Node {
    Node { at: Loc::of(&s.referenced), kind: s.value.kind }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Kind, E> {
        Ok(Kind::Int(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Kind, E> {
        Ok(Kind::UInt(n))
    }
    fn visit_i128<E>(self, n: i128) -> Result<Kind, E> {
        Ok(Kind::Float(n as f64))
    }
    fn visit_u128<E>(self, n: u128) -> Result<Kind, E> {
        Ok(Kind::Float(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Kind, E> {
        Ok(Kind::Float(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Kind, E> {
        Ok(Kind::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Kind, E> {
        Ok(Kind::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = a.next_element::<Spanned<Node>>()? {
            v.push(spanned(n));
        }
        Ok(Kind::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Kind, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = a.next_key::<Spanned<Node>>()? {
            let value = a.next_value::<Spanned<Node>>()?;
            v.push((spanned(k), spanned(value)));
        }
        Ok(Kind::Map(v))
    }
}

/// Parses a rule file's YAML into a tree; a syntax error or a limit reached is one positioned diagnostic.
pub(crate) fn parse(src: &str) -> Result<Node, Diagnostic> {
    parse_within(src, MAX_NODES)
}

fn parse_within(src: &str, max_nodes: usize) -> Result<Node, Diagnostic> {
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    // Flow collections (`[[[…`) are bounded by the parser before they reach `max_depth`; the same limit
    // gives the same error.
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = max_nodes;
    // A node is one event, a mapping or list two (start and end).
    budget.max_events = 2 * max_nodes;
    let options = serde_saphyr::options! {
        budget: Some(budget),
        // Repeated keys reach the tree, where each is reported with where the key was first written.
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
    };
    let root: Spanned<Node> = serde_saphyr::from_str_with_options(src, options).map_err(|e| yaml_error(&e, max_nodes))?;
    Ok(spanned(root))
}

/// One positioned diagnostic for a serde-saphyr error, in logtrim's words where it is one of ours.
fn yaml_error(e: &Error, max_nodes: usize) -> Diagnostic {
    let at = e.location().map(|l| Loc::of(&l).pos()).filter(|p| p.line > 0).unwrap_or(Pos::new(1, 1));
    let e = e.without_snippet();
    let yaml_hint = "rule files are YAML: check the indentation, the quotes and the `:` after each key";
    match e {
        Error::Budget { breach, .. } => {
            let (msg, hint) = match breach {
                BudgetBreach::Depth { .. } => (
                    format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    "a rule file needs a few levels of mappings and lists; check for unclosed `[` or `{`".to_string(),
                ),
                BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => (
                    format!("rule file has more than {max_nodes} YAML nodes"),
                    "that is far more than a rule set needs; split it, or check the program that wrote it".to_string(),
                ),
                _ => (
                    "rule file uses too many YAML aliases or too much text".to_string(),
                    "write the rules out without aliases (`*name`) repeating large parts".to_string(),
                ),
            };
            Diagnostic::new(at, msg).hint(hint)
        }
        Error::Eof { .. } => Diagnostic::new(at, "unexpected end of file").hint(yaml_hint),
        Error::MultipleDocuments { .. } => Diagnostic::new(at, "more than one YAML document")
            .hint("a rule file is one rule set: remove the `---` that starts another document"),
        Error::UnknownAnchor { .. } => {
            Diagnostic::new(at, "alias to an unknown anchor").hint("an alias `*name` needs an anchor `&name` written before it")
        }
        _ => {
            let msg = UserMessageFormatter.format_message(e);
            let msg = msg.lines().next().unwrap_or_default().trim().trim_end_matches('.');
            if msg.contains("recursion limit") {
                return Diagnostic::new(at, format!("YAML nested deeper than {MAX_DEPTH} levels"))
                    .hint("a rule file needs a few levels of mappings and lists; check for unclosed `[` or `{`");
            }
            Diagnostic::new(at, format!("invalid YAML: {msg}")).hint(yaml_hint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_limit_is_a_positioned_error() {
        // The mapping, `tests`, the list, the test, `record` and its list: six nodes around the items.
        let list = |items: usize| format!("tests:\n  - record: [{}]\n", vec!["1"; items].join(", "));
        assert!(parse_within(&list(94), 100).is_ok());
        let d = parse_within(&list(95), 100).unwrap_err();
        assert_eq!(d.message, "rule file has more than 100 YAML nodes");
        // At the item one too many (serde-saphyr gives the position just after it).
        assert_eq!(d.pos, Pos::new(2, 13 + 3 * 94 + 1));
        assert!(d.hint.is_some());
    }

    #[test]
    fn scalars_keep_their_spelling_and_position() {
        let root = parse("a: 0x1F\nb: [yes, 1.50, 'q']\n").unwrap();
        let Kind::Map(m) = &root.kind else { panic!("{root:?}") };
        let src = "a: 0x1F\nb: [yes, 1.50, 'q']\n";
        assert_eq!(m[0].1.text(src).as_deref(), Some("0x1F"));
        let Kind::Seq(items) = &m[1].1.kind else { panic!("{m:?}") };
        let texts: Vec<String> = items.iter().filter_map(|n| n.text(src)).collect();
        assert_eq!(texts, ["yes", "1.50", "q"]);
        assert_eq!(items[1].at.pos(), Pos::new(2, 10));
    }
}

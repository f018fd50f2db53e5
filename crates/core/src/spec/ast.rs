//! The rule file after YAML loading and expression parsing, before compilation. Every node keeps its position.

use crate::diag::Pos;

/// A field path such as `kubernetes.labels."app.kubernetes.io/name"`, split into keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// Object keys from the record root.
    pub segments: Vec<String>,
    /// Where the path is written.
    pub pos: Pos,
    /// Its length in characters, for underlining.
    pub len: usize,
}

impl Path {
    /// The path as written in rule files, quoting segments that need it.
    pub fn display(&self) -> String {
        display_path(&self.segments)
    }
}

/// Renders a path as a rule file would write it.
pub fn display_path(segments: &[String]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@')) {
            out.push_str(s);
        } else {
            out.push_str(&format!("{s:?}"));
        }
    }
    out
}

/// A literal value in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// A number; compares numerically.
    Num(f64),
    /// A string; compares byte-wise.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// String operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    /// `starts_with`
    StartsWith,
    /// `ends_with`
    EndsWith,
    /// `contains`
    Contains,
    /// `matches` (regular expression, unanchored)
    Matches,
}

impl StrOp {
    /// The operator as written.
    pub fn keyword(self) -> &'static str {
        match self {
            StrOp::StartsWith => "starts_with",
            StrOp::EndsWith => "ends_with",
            StrOp::Contains => "contains",
            StrOp::Matches => "matches",
        }
    }
}

/// A condition (`when:`).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Matches every record: `true`, or no `when:` at all.
    True,
    /// Matches no record: `false`.
    False,
    /// `path op literal`
    Cmp {
        /// The field.
        path: Path,
        /// The operator.
        op: CmpOp,
        /// The literal.
        lit: Lit,
    },
    /// `path in [a, b, …]`: equal to any member.
    InSet {
        /// The field.
        path: Path,
        /// The members.
        set: Vec<Lit>,
    },
    /// `path in lo..hi`: numeric, both ends inclusive.
    InRange {
        /// The field.
        path: Path,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// `path starts_with "x"` and friends.
    Str {
        /// The field.
        path: Path,
        /// The operator.
        op: StrOp,
        /// The string (a regex for `matches`).
        lit: String,
        /// Where the string literal starts (regex errors point into it).
        lit_pos: Pos,
    },
    /// `exists(path)`
    Exists(Path),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and …`
    And(Vec<Expr>),
    /// `a or b or …`
    Or(Vec<Expr>),
}

impl Expr {
    /// Calls `f` on every path the expression reads.
    pub fn visit_paths<'a>(&'a self, f: &mut impl FnMut(&'a Path)) {
        match self {
            Expr::True | Expr::False => {}
            Expr::Cmp { path, .. } | Expr::InSet { path, .. } | Expr::InRange { path, .. } | Expr::Str { path, .. } => f(path),
            Expr::Exists(p) => f(p),
            Expr::Not(e) => e.visit_paths(f),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.visit_paths(f)),
        }
    }
}


//! The `when:` expression language: a small Pratt-style parser over field paths and literals.
//!
//! Precedence, loosest first: `or` (`||`), `and` (`&&`), `not` (`!`), then one comparison. Parentheses group.
//! Errors carry file positions: the caller maps byte offsets inside the YAML scalar to file line and column.
//!
//! Parentheses and `not` nest at most [`MAX_NESTING`] deep. Every later walk over a condition (checking,
//! compiling, `explain`, evaluating each record) recurses once per level, so this bound is what keeps a
//! hostile rule file from overflowing the stack of the CLI, the Lambda or a running forwarder.

use super::ast::{CmpOp, Expr, Lit, Path, StrOp};
use crate::diag::{Diagnostic, Pos};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    DotDot,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Byte offset in the expression text.
    start: usize,
    end: usize,
}

/// How deep parentheses and `not` may nest in one condition (as regex-syntax's `nest_limit` bounds a
/// regex): far beyond what a person writes, and shallow enough for the recursive walks to fit in a small
/// thread stack.
pub const MAX_NESTING: usize = 64;

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "matches", "starts_with", "ends_with", "contains", "exists", "true", "false", "null",
];

/// Why a condition's text does not split into tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LexErrorKind {
    /// A single `=`.
    #[error("unexpected \"=\"")]
    LoneEquals,
    /// A single `&` or `|`.
    #[error("unexpected \"{0}\"")]
    LoneOperator(char),
    /// A string without its closing quote.
    #[error("unterminated string")]
    Unterminated {
        /// The quote that opened it.
        quote: char,
    },
    /// Digits that are not a number.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// A character the language has no use for.
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
}

impl LexErrorKind {
    fn hint(&self) -> Option<String> {
        match self {
            LexErrorKind::LoneEquals => Some("compare with \"==\"".into()),
            LexErrorKind::LoneOperator('&') => Some("write \"and\" or \"&&\"".into()),
            LexErrorKind::LoneOperator(_) => Some("write \"or\" or \"||\"".into()),
            LexErrorKind::Unterminated { quote } => Some(format!("close it with {quote}")),
            LexErrorKind::InvalidNumber(_) | LexErrorKind::UnexpectedChar(_) => None,
        }
    }
}

/// A lexing error: what, at which byte offset of the condition, over how many bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    at: usize,
    len: usize,
    kind: LexErrorKind,
}

fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b'[' => {
                i += 1;
                Tok::LBracket
            }
            b']' => {
                i += 1;
                Tok::RBracket
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'.' if b.get(i + 1) == Some(&b'.') => {
                i += 2;
                Tok::DotDot
            }
            b'.' => {
                i += 1;
                Tok::Dot
            }
            b'=' | b'!' | b'<' | b'>' | b'&' | b'|' => {
                let two = src.get(i..i + 2).unwrap_or("");
                let op: &'static str = match two {
                    "==" => "==",
                    "!=" => "!=",
                    "<=" => "<=",
                    ">=" => ">=",
                    "&&" => "&&",
                    "||" => "||",
                    _ => match c {
                        b'<' => "<",
                        b'>' => ">",
                        b'!' => "!",
                        b'=' => {
                            return Err(LexError { at: i, len: 1, kind: LexErrorKind::LoneEquals });
                        }
                        _ => return Err(LexError { at: i, len: 1, kind: LexErrorKind::LoneOperator(c as char) }),
                    },
                };
                i += op.len();
                Tok::Op(op)
            }
            b'"' | b'\'' => {
                let quote = c;
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(ch) = src[i..].chars().next() else {
                        return Err(LexError { at: start, len: i - start, kind: LexErrorKind::Unterminated { quote: quote as char } });
                    };
                    if ch as u32 == quote as u32 {
                        i += 1;
                        break;
                    }
                    if ch == '\\' {
                        let esc = src[i + 1..].chars().next();
                        let decoded = match esc {
                            Some('"') => '"',
                            Some('\'') => '\'',
                            Some('\\') => '\\',
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('r') => '\r',
                            Some('0') => '\0',
                            _ => {
                                // Regexes are written in strings; keep unknown escapes (\d, \s, \.) for the regex engine.
                                s.push('\\');
                                i += 1;
                                continue;
                            }
                        };
                        s.push(decoded);
                        i += 2;
                        continue;
                    }
                    s.push(ch);
                    i += ch.len_utf8();
                }
                Tok::Str(s)
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
                    j += 1;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                    let mut k = j + 1;
                    if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                        k += 1;
                    }
                    if k < b.len() && b[k].is_ascii_digit() {
                        while k < b.len() && b[k].is_ascii_digit() {
                            k += 1;
                        }
                        j = k;
                    }
                }
                let text = &src[i..j];
                let n: f64 = text
                    .parse()
                    .map_err(|_| LexError { at: i, len: j - i, kind: LexErrorKind::InvalidNumber(text.into()) })?;
                i = j;
                Tok::Num(n)
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'@' || c == b'$' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'_' | b'-' | b'@' | b'$')) {
                    j += 1;
                }
                let s = src[i..j].to_string();
                i = j;
                Tok::Ident(s)
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(LexError { at: i, len: ch.len_utf8(), kind: LexErrorKind::UnexpectedChar(ch) });
            }
        };
        out.push(Token { tok, start, end: i });
    }
    out.push(Token { tok: Tok::End, start: src.len(), end: src.len() });
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    /// Parentheses and `not`s open around the current token.
    depth: usize,
    src: &'a str,
    pos: &'a dyn Fn(usize) -> Pos,
}

type PResult<T> = Result<T, Diagnostic>;

/// A parenthesis being read (or the whole condition): the `or` terms so far, the `and` terms of the
/// current one, and the `not`s before the atom being read.
#[derive(Default)]
struct Group {
    paren: Option<Token>,
    or: Vec<Expr>,
    and: Vec<Expr>,
    nots: usize,
}

/// One term as itself, several as `and`/`or`.
fn join(mut v: Vec<Expr>, many: fn(Vec<Expr>) -> Expr) -> Expr {
    if v.len() == 1 { v.pop().unwrap_or(Expr::True) } else { many(v) }
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err_at(&self, t: &Token, msg: impl Into<String>) -> Diagnostic {
        let len = self.src[t.start..t.end].chars().count();
        Diagnostic::new((self.pos)(t.start), msg).len(len)
    }

    fn describe(&self, t: &Token) -> String {
        match &t.tok {
            Tok::End => "end of expression".into(),
            _ => format!("{:?}", &self.src[t.start..t.end]),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_or(&self) -> bool {
        self.is_kw("or") || self.is_op("||")
    }

    fn is_and(&self) -> bool {
        self.is_kw("and") || self.is_op("&&")
    }

    fn is_not(&self) -> bool {
        self.is_kw("not") || self.is_op("!")
    }

    /// One more level of nesting at token `t`, or the error that says it is one too many.
    fn enter(&mut self, t: &Token) -> PResult<()> {
        if self.depth == MAX_NESTING {
            return Err(self
                .err_at(t, format!("condition nested deeper than {MAX_NESTING} levels"))
                .hint(format!("parentheses and `not` may nest at most {MAX_NESTING} deep; split the condition into several rules")));
        }
        self.depth += 1;
        Ok(())
    }

    /// `or` of `and`s of (`not`s of) atoms. Open parentheses are kept on an explicit stack rather than
    /// by recursion, so the parser's own stack does not grow with the nesting.
    fn or(&mut self) -> PResult<Expr> {
        let mut open: Vec<Group> = Vec::new();
        let mut g = Group::default();
        loop {
            while self.is_not() {
                let t = self.next();
                self.enter(&t)?;
                g.nots += 1;
            }
            let t = self.next();
            if t.tok == Tok::LParen {
                self.enter(&t)?;
                open.push(std::mem::replace(&mut g, Group { paren: Some(t), ..Group::default() }));
                continue;
            }
            let mut e = self.atom(t)?;
            // `e` is complete: close every `not`, `and`, `or` and parenthesis it completes.
            loop {
                for _ in 0..g.nots {
                    e = Expr::Not(Box::new(e));
                }
                self.depth -= g.nots;
                g.nots = 0;
                g.and.push(e);
                if self.is_and() {
                    self.next();
                    break;
                }
                g.or.push(join(std::mem::take(&mut g.and), Expr::And));
                if self.is_or() {
                    self.next();
                    break;
                }
                e = join(std::mem::take(&mut g.or), Expr::Or);
                let Some(paren) = g.paren.take() else { return Ok(e) };
                let close = self.next();
                if close.tok != Tok::RParen {
                    return Err(self
                        .err_at(&close, format!("expected \")\", found {}", self.describe(&close)))
                        .hint(format!("the \"(\" at {} is not closed", (self.pos)(paren.start))));
                }
                self.depth -= 1;
                g = open.pop().unwrap_or_default();
            }
        }
    }

    /// Everything but `not` and parentheses: `true`, `false`, `exists(…)`, a comparison.
    fn atom(&mut self, t: Token) -> PResult<Expr> {
        match &t.tok {
            Tok::Ident(s) if s == "true" => Ok(Expr::True),
            Tok::Ident(s) if s == "false" => Ok(Expr::False),
            Tok::Ident(s) if s == "exists" => {
                let open = self.next();
                if open.tok != Tok::LParen {
                    return Err(self.err_at(&open, "expected \"(\" after exists").hint("write exists(field.path)"));
                }
                let first = self.next();
                let path = self.path(first)?;
                let close = self.next();
                if close.tok != Tok::RParen {
                    return Err(self.err_at(&close, format!("expected \")\", found {}", self.describe(&close))));
                }
                Ok(Expr::Exists(path))
            }
            Tok::Ident(_) | Tok::Str(_) => {
                let path = self.path(t)?;
                self.comparison(path)
            }
            _ => Err(self
                .err_at(&t, format!("expected a field path or \"(\", found {}", self.describe(&t)))
                .hint("a condition looks like: log.status >= 500 and kubernetes.namespace_name == \"prod\"")),
        }
    }

    /// A path: segments separated by dots; a segment is an identifier or a quoted string.
    fn path(&mut self, first: Token) -> PResult<Path> {
        let mut segments = Vec::new();
        let start = first.start;
        let mut end;
        let mut t = first;
        loop {
            match &t.tok {
                Tok::Ident(s) if KEYWORDS.contains(&s.as_str()) => {
                    return Err(self
                        .err_at(&t, format!("{s:?} is a keyword, not a field"))
                        .hint(format!("to name a field called {s}, quote it: \"{s}\"")));
                }
                Tok::Ident(s) => segments.push(s.clone()),
                Tok::Str(s) if !segments.is_empty() => segments.push(s.clone()),
                Tok::Str(_) => {
                    return Err(self
                        .err_at(&t, "a condition must start with a field, not a string")
                        .hint("write the field on the left: log.level == \"error\""));
                }
                _ => return Err(self.err_at(&t, format!("expected a field name, found {}", self.describe(&t)))),
            }
            end = t.end;
            if *self.peek() == Tok::Dot {
                self.next();
                t = self.next();
            } else {
                break;
            }
        }
        Ok(Path { segments, pos: (self.pos)(start), len: self.src[start..end].chars().count() })
    }

    fn literal(&mut self) -> PResult<Lit> {
        let t = self.next();
        match &t.tok {
            Tok::Num(n) => Ok(Lit::Num(*n)),
            Tok::Str(s) => Ok(Lit::Str(s.clone())),
            Tok::Ident(s) if s == "true" => Ok(Lit::Bool(true)),
            Tok::Ident(s) if s == "false" => Ok(Lit::Bool(false)),
            Tok::Ident(s) if s == "null" => Ok(Lit::Null),
            Tok::Ident(s) => Err(self
                .err_at(&t, format!("expected a value, found {s:?}"))
                .hint(format!("quote strings: \"{s}\"; fields can only stand on the left"))),
            _ => Err(self.err_at(&t, format!("expected a value, found {}", self.describe(&t)))),
        }
    }

    fn string_lit(&mut self, op: &str) -> PResult<(String, Pos)> {
        let t = self.next();
        match &t.tok {
            Tok::Str(s) => Ok((s.clone(), (self.pos)(t.start))),
            _ => Err(self
                .err_at(&t, format!("{op} needs a string, found {}", self.describe(&t)))
                .hint(format!("write: field {op} \"text\""))),
        }
    }

    fn comparison(&mut self, path: Path) -> PResult<Expr> {
        let t = self.next();
        match &t.tok {
            Tok::Op(op @ ("==" | "!=" | "<" | "<=" | ">" | ">=")) => {
                let op = match *op {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let lit = self.literal()?;
                Ok(Expr::Cmp { path, op, lit })
            }
            Tok::Ident(kw) if kw == "in" => {
                let open = self.next();
                match open.tok {
                    Tok::LBracket => {
                        let mut set = Vec::new();
                        if *self.peek() != Tok::RBracket {
                            loop {
                                set.push(self.literal()?);
                                if *self.peek() == Tok::Comma {
                                    self.next();
                                    if *self.peek() == Tok::RBracket {
                                        break;
                                    }
                                } else {
                                    break;
                                }
                            }
                        }
                        let close = self.next();
                        if close.tok != Tok::RBracket {
                            return Err(self
                                .err_at(&close, format!("expected \",\" or \"]\", found {}", self.describe(&close))));
                        }
                        Ok(Expr::InSet { path, set })
                    }
                    Tok::Num(lo) => {
                        let dots = self.next();
                        if dots.tok != Tok::DotDot {
                            return Err(self
                                .err_at(&dots, format!("expected \"..\" in a range, found {}", self.describe(&dots)))
                                .hint("a range is written 200..299 (both ends included); a set is written [200, 204]"));
                        }
                        let hi_t = self.next();
                        let Tok::Num(hi) = hi_t.tok else {
                            return Err(self.err_at(&hi_t, format!("expected a number after \"..\", found {}", self.describe(&hi_t))));
                        };
                        if hi < lo {
                            return Err(self
                                .err_at(&hi_t, format!("empty range: {hi} is below {lo}"))
                                .hint("write the lower bound first"));
                        }
                        Ok(Expr::InRange { path, lo, hi })
                    }
                    _ => Err(self
                        .err_at(&open, format!("expected \"[\" or a number range after in, found {}", self.describe(&open)))
                        .hint("write: field in [\"a\", \"b\"] or field in 500..599")),
                }
            }
            Tok::Ident(kw) if matches!(kw.as_str(), "matches" | "starts_with" | "ends_with" | "contains") => {
                let op = match kw.as_str() {
                    "matches" => StrOp::Matches,
                    "starts_with" => StrOp::StartsWith,
                    "ends_with" => StrOp::EndsWith,
                    _ => StrOp::Contains,
                };
                let (lit, lit_pos) = self.string_lit(op.keyword())?;
                Ok(Expr::Str { path, op, lit, lit_pos })
            }
            _ => Err(self
                .err_at(&t, format!("expected an operator after {}, found {}", path.display(), self.describe(&t)))
                .hint("operators: == != < <= > >= in matches starts_with ends_with contains; or exists(field)")),
        }
    }
}

/// Parses a `when:` expression. `pos` maps a byte offset in `src` to its position in the rule file.
pub fn parse(src: &str, pos: &dyn Fn(usize) -> Pos) -> Result<Expr, Diagnostic> {
    let toks = lex(src).map_err(|LexError { at, len, kind }| {
        let d = Diagnostic::new(pos(at), kind.to_string()).len(src[at..(at + len).min(src.len())].chars().count());
        match kind.hint() {
            Some(h) => d.hint(h),
            None => d,
        }
    })?;
    let mut p = Parser { toks, i: 0, depth: 0, src, pos };
    if *p.peek() == Tok::End {
        return Err(Diagnostic::new(pos(0), "empty condition").hint("omit `when:` to match every record"));
    }
    // Every diagnostic carries a hint; the specific ones above win, this is the fallback.
    let e = p.or().map_err(|d| match d.hint {
        Some(_) => d,
        None => d.hint("a condition is `field op value`, e.g. log.status >= 500 and log.method == \"GET\"; see docs/rules.md#conditions-when"),
    })?;
    let t = p.next();
    if t.tok != Tok::End {
        let d = p.err_at(&t, format!("unexpected {} after a complete condition", p.describe(&t)));
        return Err(d.hint("join conditions with \"and\" or \"or\""));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Expr, Diagnostic> {
        parse(s, &|off| Pos::new(1, off as u32 + 1))
    }

    fn path(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let e = p("a == 1 or b == 2 and not c == 3").unwrap();
        let Expr::Or(v) = e else { panic!("{e:?}") };
        assert_eq!(v.len(), 2);
        let Expr::And(w) = &v[1] else { panic!("{:?}", v[1]) };
        assert!(matches!(&w[1], Expr::Not(_)));
    }

    #[test]
    fn parentheses_override_precedence() {
        let e = p("(a == 1 || b == 2) && !exists(c)").unwrap();
        let Expr::And(v) = e else { panic!() };
        assert!(matches!(v[0], Expr::Or(_)));
        assert!(matches!(&v[1], Expr::Not(b) if matches!(**b, Expr::Exists(_))));
    }

    #[test]
    fn paths_with_quotes_dashes_and_at() {
        let e = p(r#"kubernetes.labels."app.kubernetes.io/name" == "web""#).unwrap();
        let Expr::Cmp { path: pa, .. } = e else { panic!() };
        assert_eq!(pa.segments, path(&["kubernetes", "labels", "app.kubernetes.io/name"]));
        let e = p("kubernetes.labels.pod-template-hash exists_x").unwrap_err();
        assert_eq!(e.pos.col, 37);
        let e = p("@timestamp >= \"2024\"").unwrap();
        assert!(matches!(e, Expr::Cmp { op: CmpOp::Ge, .. }));
    }

    #[test]
    fn sets_ranges_and_string_ops() {
        assert!(matches!(p("log.status in 500..599").unwrap(), Expr::InRange { lo, hi, .. } if lo == 500.0 && hi == 599.0));
        let Expr::InSet { set, .. } = p(r#"log.level in ["warn", 'error', 3, true, null,]"#).unwrap() else { panic!() };
        assert_eq!(set, vec![Lit::Str("warn".into()), Lit::Str("error".into()), Lit::Num(3.0), Lit::Bool(true), Lit::Null]);
        let Expr::Str { op, lit, lit_pos, .. } = p(r#"log.path matches "^/health\d""#).unwrap() else { panic!() };
        assert_eq!((op, lit.as_str(), lit_pos.col), (StrOp::Matches, r"^/health\d", 18));
        assert!(matches!(p("x starts_with \"a\\\"b\"").unwrap(), Expr::Str { lit, .. } if lit == "a\"b"));
        assert!(matches!(p("x >= -1.5e3").unwrap(), Expr::Cmp { lit: Lit::Num(n), .. } if n == -1500.0));
    }

    #[test]
    fn error_positions_point_at_the_culprit() {
        let cases: &[(&str, u32, &str)] = &[
            ("log.status = 500", 12, "unexpected \"=\""),
            ("log.status >= ", 15, "expected a value"),
            ("log.status >= 500 and", 22, "expected a field path"),
            ("(a == 1", 8, "expected \")\""),
            ("a == 1 b == 2", 8, "unexpected \"b\""),
            ("a in 5..1", 9, "empty range"),
            ("a in 5 1", 8, "expected \"..\""),
            ("a == \"x", 6, "unterminated string"),
            ("a matches 5", 11, "matches needs a string"),
            ("a == warn", 6, "expected a value, found \"warn\""),
            ("and == 1", 1, "keyword"),
            ("a ~ 1", 3, "unexpected character"),
            ("a & b", 3, "unexpected \"&\""),
            ("", 1, "empty condition"),
        ];
        for (src, col, msg) in cases {
            let d = p(src).unwrap_err();
            assert_eq!(d.pos.col, *col, "{src}: {d:?}");
            assert!(d.message.contains(msg), "{src}: {d:?}");
        }
    }
}

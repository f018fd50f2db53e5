//! Positioned rule-file errors, rendered as `file:line:col: message` plus a source excerpt and a hint.

use std::fmt;

/// A 1-based position in a rule file. Columns count characters, not bytes, as editors do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub col: u32,
}

impl Pos {
    /// A position; `line` and `col` are 1-based.
    pub const fn new(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }

    /// The position `chars` characters to the right on the same line.
    pub fn right(self, chars: usize) -> Pos {
        Pos { line: self.line, col: self.col + chars as u32 }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One mistake in a rule file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the mistake starts.
    pub pos: Pos,
    /// How many characters to underline (at least 1).
    pub len: u32,
    /// What is wrong: lower case, no final period, user text quoted.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without a hint, underlining one character.
    pub fn new(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic { pos, len: 1, message: message.into(), hint: None }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Sets how many characters to underline.
    pub fn len(mut self, len: usize) -> Diagnostic {
        self.len = len.max(1) as u32;
        self
    }
}

/// Every mistake found in one rule file, sorted by position, with the text needed to render them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name as the user gave it; it starts every rendered line.
    pub file: String,
    /// All diagnostics, in file order.
    pub items: Vec<Diagnostic>,
    text: String,
}

impl std::error::Error for Diagnostics {}

impl Diagnostics {
    pub(crate) fn new(file: &str, source: &str, mut items: Vec<Diagnostic>) -> Diagnostics {
        items.sort_by_key(|d| d.pos);
        items.dedup();
        Diagnostics { file: file.to_string(), items, text: source.to_string() }
    }

    /// The first line of each diagnostic (`file:line:col: message`), for tests and machine output.
    pub fn headlines(&self) -> Vec<String> {
        self.items.iter().map(|d| format!("{}:{}: {}", self.file, d.pos, d.message)).collect()
    }
}

/// Characters of source shown on each side of a caret: a long line is cut around it.
const EXCERPT: usize = 60;

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = LineIndex::new(&self.text);
        // Diagnostics are sorted: the column of each is found from the previous one's on the same line,
        // so a long line holding many mistakes is walked once.
        let mut at: Option<(u32, usize, usize)> = None;
        for d in &self.items {
            writeln!(f, "{}:{}: {}", self.file, d.pos, d.message)?;
            let line_no = d.pos.line as usize;
            if line_no >= 1 && line_no <= lines.len() {
                let text = lines.line(line_no);
                let want = d.pos.col.saturating_sub(1) as usize;
                let (mut b, mut c) = match at {
                    Some((l, b, c)) if l == d.pos.line && c <= want => (b, c),
                    _ => (0, 0),
                };
                for ch in text[b..].chars().take(want - c) {
                    b += ch.len_utf8();
                    c += 1;
                }
                at = Some((d.pos.line, b, c));
                let start = text[..b].char_indices().rev().nth(EXCERPT - 1).map_or(0, |(i, _)| i);
                let end = text[b..].char_indices().nth(EXCERPT + d.len as usize).map_or(text.len(), |(i, _)| b + i);
                let (head, tail) = (if start > 0 { "…" } else { "" }, if end < text.len() { "…" } else { "" });
                let num = d.pos.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(f, "{pad} |")?;
                writeln!(f, "{num} | {head}{}{tail}", &text[start..end])?;
                // Underline in characters; tabs are kept so the caret lines up in a terminal.
                let lead: String = head.chars().chain(text[start..b].chars()).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                writeln!(f, "{pad} | {lead}{}", "^".repeat(d.len as usize))?;
            }
            if let Some(h) = &d.hint {
                writeln!(f, "   = hint: {h}")?;
            }
        }
        let n = self.items.len();
        write!(f, "error: {n} error{} in {}", if n == 1 { "" } else { "s" }, self.file)
    }
}

/// Where each line of a text starts, so a position is found without rescanning the text before it.
/// Lines end as YAML's do (and serde-saphyr counts them): at `\n`, `\r\n`, or a `\r` alone.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> LineIndex<'a> {
        let b = text.as_bytes();
        let breaks = memchr::memchr2_iter(b'\n', b'\r', b).filter(|&i| !(b[i] == b'\r' && b.get(i + 1) == Some(&b'\n')));
        let starts = std::iter::once(0).chain(breaks.map(|i| i + 1)).collect();
        LineIndex { text, starts }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// How many lines there are ([`str::lines`]' count, with lone `\r`s as breaks too).
    pub(crate) fn len(&self) -> usize {
        match self.starts.last() {
            Some(&last) if last == self.text.len() => self.starts.len() - 1,
            _ => self.starts.len(),
        }
    }

    /// Line `n` (1-based) without its line break; empty past the end.
    pub(crate) fn line(&self, n: usize) -> &'a str {
        let Some(&start) = n.checked_sub(1).and_then(|i| self.starts.get(i)) else { return "" };
        let end = self.starts.get(n).map_or(self.text.len(), |&next| next - 1);
        let line = self.text.get(start..end).unwrap_or("");
        line.strip_suffix('\r').unwrap_or(line)
    }

    /// The position of byte offset `b`.
    pub(crate) fn pos(&self, b: usize) -> Pos {
        let b = b.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= b);
        let start = self.starts[line - 1];
        let col = self.text.get(start..b).map_or(0, |s| s.chars().count());
        Pos::new(line as u32, col as u32 + 1)
    }
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `\r` alone ends a line for YAML (and serde-saphyr): positions and excerpts count it as one
    /// (fuzzing found them a line off, past the end of the line they named).
    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        for br in ["\r", "\n", "\r\n"] {
            let text = ["rules:", "  - name: r", "    action: drop", "    when: a ==", "default: {action: keep}"].join(br);
            let e = crate::RuleSet::from_yaml("t.yaml", &text).unwrap_err();
            let out = e.to_string();
            assert!(out.starts_with("t.yaml:4:"), "{br:?}: {out}");
            assert!(out.contains("4 |     when: a =="), "{br:?}: {out}");
        }
        let lines = LineIndex::new("a\rb\r\nc\nd");
        assert_eq!((lines.len(), lines.line(1), lines.line(2), lines.line(3), lines.line(4)), (4, "a", "b", "c", "d"));
        assert_eq!(lines.pos(2), Pos::new(2, 1));
    }

    #[test]
    fn renders_headline_excerpt_and_hint() {
        let src = "rules:\n  - name: a\n    action: kep\n";
        let d = Diagnostic::new(Pos::new(3, 13), "unknown action \"kep\"").len(3).hint("did you mean \"keep\"?");
        let out = Diagnostics::new("f.yaml", src, vec![d]).to_string();
        assert!(out.starts_with("f.yaml:3:13: unknown action \"kep\"\n"), "{out}");
        assert!(out.contains("3 |     action: kep\n  |             ^^^\n"), "{out}");
        assert!(out.contains("= hint: did you mean \"keep\"?"), "{out}");
        assert!(out.ends_with("error: 1 error in f.yaml"), "{out}");
    }

    #[test]
    fn a_long_line_is_cut_around_the_caret() {
        let src = format!("when: {}x == 1\n", "a == 1 and ".repeat(100));
        let col = 7 + 11 * 100;
        let d = |c: usize| Diagnostic::new(Pos::new(1, c as u32), "m");
        let out = Diagnostics::new("f.yaml", &src, vec![d(col), d(3)]).to_string();
        let excerpt: Vec<&str> = out.lines().filter(|l| l.starts_with("1 | ")).collect();
        assert_eq!(excerpt[0], format!("1 | {}…", &src[..2 + EXCERPT + 1]), "{out}");
        assert_eq!(excerpt[1], format!("1 | …{}", &src[col - 1 - EXCERPT..src.len() - 1]), "{out}");
        let carets: Vec<&str> = out.lines().filter(|l| l.ends_with('^')).collect();
        assert_eq!(carets[1], format!("  | {}^", " ".repeat(1 + EXCERPT)), "{out}");
    }

    #[test]
    fn line_index_agrees_with_lines_and_a_scan() {
        for text in ["", "a", "a\n", "a\r\nbé\n\nc", "\n\n", "x\ny\r\n"] {
            let ix = LineIndex::new(text);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(ix.len(), lines.len(), "{text:?}");
            for (i, l) in lines.iter().enumerate() {
                assert_eq!(ix.line(i + 1), *l, "{text:?}");
            }
            for (b, _) in text.char_indices().chain([(text.len(), ' ')]) {
                let before = &text[..b];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                assert_eq!(ix.pos(b), Pos::new(line as u32, col as u32), "{text:?} at {b}");
            }
        }
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("nginx_combine", ["json", "nginx_combined", "app"]), Some("nginx_combined"));
        assert_eq!(did_you_mean("zzz", ["json", "nginx_combined"]), None);
    }
}

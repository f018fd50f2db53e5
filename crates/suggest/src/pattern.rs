//! Regular expressions that match a template's messages, for the `matches` conditions of proposed rules.
//!
//! A message template becomes `^\s*tok\s+tok…\s*$`: a position that never varied is its text, escaped; a
//! masked one is its shape with `\S+` for each variable (`.+?` where values may span words: lists,
//! bracketed fields, a long line's tail); a wildcard is `\S+`. A path template becomes a pattern over the
//! whole request path, segment by segment, with any query string allowed after it. The patterns are
//! written for the `regex` crate's syntax, which rules use.

use crate::mask::VAR;
use crate::miner::{Kind, Template, TemplateToken};

/// Escapes `s` for a regular expression: the characters `regex::escape` escapes, and control characters.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '#' | '&' | '-' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{{{:02x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// One position of a message template.
fn token(t: &TemplateToken, var: &str) -> String {
    let var = if t.spans_words { ".+?" } else { var };
    if t.wild {
        return var.to_string();
    }
    if !t.varies() {
        return escape(&t.first);
    }
    let one = t.shape.split(VAR).map(escape).collect::<Vec<_>>().join(var);
    if t.list { format!(r"{one}(?:\s+{one})*") } else { one }
}

/// A pattern matching the messages of `t`: the whole message for text, the request path for an access log.
pub fn template_regex(t: &Template) -> String {
    match t.kind {
        Kind::Text => {
            let body: Vec<String> = t.tokens.iter().map(|k| token(k, r"\S+")).collect();
            format!(r"^\s*{}\s*$", body.join(r"\s+"))
        }
        Kind::Path => {
            let mut re = String::from("^");
            for k in &t.tokens {
                if k.first == "/..." && !k.varies() {
                    re.push_str("/.*");
                } else if k.wild {
                    re.push_str("/[^/?#]*");
                } else {
                    re.push_str(&token(k, "[^/?#]+"));
                }
            }
            re.push_str("(?:[?#].*)?$");
            re
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageReader;
    use crate::miner::{Config, Miner};

    #[test]
    fn escapes_what_regex_escapes() {
        assert_eq!(escape("a.b(c)[d]*+?|^$#&-~\\"), r"a\.b\(c\)\[d\]\*\+\?\|\^\$\#\&\-\~\\");
        assert_eq!(escape("tab\there\u{1}"), r"tab\there\x{01}");
        assert_eq!(escape("µs"), "µs");
    }

    /// Every template's pattern matches every message of the template, on the corpus and on every shape.
    #[test]
    fn patterns_match_their_templates_messages() {
        let mut inputs: Vec<Vec<String>> = logtrim_testkit::shapes::all(9, 800).into_iter().map(|s| s.lines).collect();
        let corpus = logtrim_testkit::corpus::Corpus::new(9).take_bytes(2 << 20);
        inputs.push(corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| String::from_utf8(l.to_vec()).unwrap()).collect());
        let mut checked = 0;
        for lines in inputs {
            let mut reader = MessageReader::new();
            let mut miner = Miner::new(Config::default());
            let mut messages = Vec::new();
            for l in &lines {
                let m = reader.read(l.as_bytes());
                let g = miner.add(m.source, m.kind, m.text, 1);
                messages.push((g, String::from_utf8_lossy(m.text).into_owned(), m.kind));
            }
            let mined = miner.finish();
            let res: Vec<regex::Regex> = mined.templates.iter().map(|t| regex::Regex::new(&template_regex(t)).expect("a valid pattern")).collect();
            for (g, text, kind) in messages {
                let t = mined.template_of(g).unwrap() as usize;
                // A path is matched as the request path: its segments joined again.
                let subject = if kind == Kind::Path { text.replace(' ', "") } else { text };
                assert!(res[t].is_match(&subject), "{:?} does not match {:?} ({})", res[t].as_str(), subject, mined.templates[t].text());
                checked += 1;
            }
        }
        assert!(checked > 10_000);
    }
}

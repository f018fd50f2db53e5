//! The syntax of HEC metadata templates (`host`, `source`, `sourcetype`, `index`, indexed fields), shared
//! by the Lambda, whose placeholders are record field paths (`{kubernetes.pod_name}`), and the forwarder,
//! whose placeholders are the file's metadata (`{namespace}`): alternatives separated by `|`, each literal
//! text with `{placeholder}`s. What a placeholder means, and so which alternative resolves, is the
//! front-end's; this module only splits the text, so both read templates the same way.

/// One piece of an alternative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part<V> {
    /// Literal text.
    Lit(String),
    /// A placeholder, as the front-end's resolver compiled it.
    Var(V),
}

/// Parses `text` into its alternatives; `var` compiles each placeholder's trimmed text (or says why it
/// is wrong). Blank text has no alternatives. Errors: an unclosed `{`, a `}` without its `{`, and what
/// `var` refuses.
pub fn parse<V>(text: &str, mut var: impl FnMut(&str) -> Result<V, String>) -> Result<Vec<Vec<Part<V>>>, String> {
    let mut alts = Vec::new();
    if text.trim().is_empty() {
        return Ok(alts);
    }
    for alt in text.split('|') {
        let mut parts = Vec::new();
        let mut rest = alt;
        while let Some(open) = rest.find('{') {
            // Every literal is checked, not only the last: `{pod}}-{ns}` has its stray `}` before a `{`.
            if rest[..open].contains('}') {
                return Err("unmatched `}`".into());
            }
            if open > 0 {
                parts.push(Part::Lit(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or("unclosed `{`")?;
            parts.push(Part::Var(var(rest[open + 1..open + close].trim())?));
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err("unmatched `}`".into());
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        alts.push(parts);
    }
    Ok(alts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(s: &str) -> Result<String, String> {
        if s.is_empty() { Err("empty placeholder".into()) } else { Ok(s.to_uppercase()) }
    }

    #[test]
    fn alternatives_literals_and_placeholders() {
        let alts = parse("k8s:{ ns }-x|{a}{b}|plain", upper).unwrap();
        assert_eq!(
            alts,
            vec![
                vec![Part::Lit("k8s:".into()), Part::Var("NS".into()), Part::Lit("-x".into())],
                vec![Part::Var("A".into()), Part::Var("B".into())],
                vec![Part::Lit("plain".into())],
            ]
        );
        assert!(parse("  ", upper).unwrap().is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse("a{b", upper), Err("unclosed `{`".into()));
        assert_eq!(parse("a}b", upper), Err("unmatched `}`".into()));
        assert_eq!(parse("{b}}", upper), Err("unmatched `}`".into()));
        // Fuzzing found these: a stray `}` before a placeholder, and the shortest form of it.
        assert_eq!(parse("{pod}}-{namespace}", upper), Err("unmatched `}`".into()));
        assert_eq!(parse("}{}", upper), Err("unmatched `}`".into()));
        assert_eq!(parse("a}|{b}", upper), Err("unmatched `}`".into()));
        assert_eq!(parse("x|{ }", upper), Err("empty placeholder".into()));
    }
}

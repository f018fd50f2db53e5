//! HEC metadata templates: the shared syntax (`logtrim_formats::template::parse`: alternatives split by
//! `|`, literal text and `{placeholder}`s) and the forwarder's templates on top of it
//! (`logtrim_forwarder::meta::Template`: parse, then render for a file).
//!
//! Asserts, for any text:
//! - no panic, in parsing or rendering;
//! - the documented errors: a `}` without its `{` is refused wherever it stands (the module promises
//!   "Errors: an unclosed `{`, a `}` without its `{`"), so on success no literal holds a brace and no
//!   placeholder a `}`; placeholders are handed over trimmed;
//! - a parsed template written back (alternatives joined by `|`, placeholders as `{name}`) parses to the
//!   same template;
//! - the forwarder's `Template::parse` accepts exactly what the syntax accepts when every placeholder is
//!   one of its names; rendering gives a string only when an alternative resolves, and never a string
//!   with an unresolved placeholder's braces that were not in the literals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrim_formats::template::{self, Part};
use logtrim_forwarder::meta::{Context, PodMeta, Template};

const NAMES: &[&str] = &["node", "namespace", "pod", "container", "container_id", "stream", "file"];

fn write_back(alts: &[Vec<Part<String>>]) -> String {
    let alts: Vec<String> = alts
        .iter()
        .map(|parts| {
            parts
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => l.clone(),
                    Part::Var(v) => format!("{{{v}}}"),
                })
                .collect()
        })
        .collect();
    alts.join("|")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = template::parse(&text, |v| Ok::<_, String>(v.to_string()));
    if let Ok(alts) = &parsed {
        for part in alts.iter().flatten() {
            match part {
                Part::Lit(l) => {
                    assert!(!l.is_empty(), "an empty literal");
                    assert!(!l.contains(['{', '|']), "literal {l:?} holds a `{{` or `|` in {text:?}");
                    // Finding F2 (FUZZING.md, fixed): a `}` before a `{` was taken as literal text.
                    assert!(!l.contains('}'), "literal {l:?}: a `}}` without its `{{` was accepted in {text:?}");
                }
                Part::Var(v) => {
                    assert!(!v.contains(['}', '|']), "placeholder {v:?} holds a `}}` or `|`");
                    assert_eq!(v.trim(), v, "placeholder not trimmed");
                }
            }
        }
        let again = write_back(alts);
        let reparsed = template::parse(&again, |v| Ok::<_, String>(v.to_string()));
        assert_eq!(reparsed.as_ref(), Ok(alts), "{text:?} written back as {again:?} parses differently");
    }

    // The forwarder's templates: the same syntax, with its placeholder names.
    let fwd = Template::parse(&text);
    let names_ok = parsed.as_ref().is_ok_and(|alts| {
        alts.iter().flatten().all(|p| match p {
            Part::Var(v) => NAMES.contains(&v.as_str()),
            Part::Lit(_) => true,
        })
    });
    assert_eq!(fwd.is_ok(), names_ok, "forwarder template acceptance differs from the syntax for {text:?}: {fwd:?}");
    if let Ok(t) = fwd {
        let meta = PodMeta::from_file_name(&format!("web-1_shop_app-{}.log", "a".repeat(64)));
        assert!(meta.is_some(), "the test file name no longer parses");
        for pod in [meta.as_ref(), None] {
            for node in ["node-1", ""] {
                let cx = Context { node, pod, stream: "stdout", file: "/var/log/containers/x.log" };
                if let Some(s) = t.render(&cx) {
                    // Placeholders never render as braces; literals hold none (checked above).
                    assert!(!s.contains(['{', '}']) || text.contains('{'), "rendered {s:?} from {text:?}");
                }
            }
        }
    }
});

//! The raw JSON text of the values at a few paths of a record, read with serde_json: for what is sent
//! as written (an HEC event's field, its metadata), where the scanner's decoded values would not do
//! (a number is sent as spelled).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
pub use serde_json::value::RawValue;

/// A set of dotted paths, compiled once; [`RawPaths::extract`] reads a record's values at all of them.
#[derive(Clone, Debug, Default)]
pub struct RawPaths {
    root: Node,
    len: usize,
}

/// A path trie: which keys to capture while reading a record once.
#[derive(Clone, Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    slot: Option<usize>,
}

impl RawPaths {
    /// The paths, each a list of keys; slot `i` of [`RawPaths::extract`] is `paths[i]`'s value.
    pub fn new(paths: &[Vec<String>]) -> RawPaths {
        let mut root = Node::default();
        for (slot, p) in paths.iter().enumerate() {
            let mut n = &mut root;
            for seg in p {
                let at = match n.children.iter().position(|(k, _)| k == seg) {
                    Some(i) => i,
                    None => {
                        n.children.push((seg.clone(), Node::default()));
                        n.children.len() - 1
                    }
                };
                n = &mut n.children[at].1;
            }
            n.slot = Some(slot);
        }
        RawPaths { root, len: paths.len() }
    }

    /// How many paths.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the JSON object `text` once, validating all of it, and puts the raw value found at each
    /// path into its slot of `out` (the first one, when a key repeats). An error when `text` is not a
    /// JSON object; `out` then holds what was found before it.
    pub fn extract<'t>(&self, text: &'t str, out: &mut [Option<&'t RawValue>]) -> serde_json::Result<()> {
        let mut de = serde_json::Deserializer::from_str(text);
        Walk { node: &self.root, out }.deserialize(&mut de)?;
        de.end()
    }
}

struct Walk<'n, 'o, 'de> {
    node: &'n Node,
    out: &'o mut [Option<&'de RawValue>],
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match self.node.children.iter().find(|(name, _)| *name == k) {
                Some((_, child)) => {
                    let raw: &'de RawValue = map.next_value()?;
                    if let Some(s) = child.slot {
                        self.out[s].get_or_insert(raw);
                    }
                    if !child.children.is_empty() && raw.get().starts_with('{') {
                        let mut de = serde_json::Deserializer::from_str(raw.get());
                        Walk { node: child, out: &mut *self.out }.deserialize(&mut de).map_err(serde::de::Error::custom)?;
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed when it has no escapes (serde's `Cow<str>` is always owned).
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_values_as_written_at_every_path() {
        let paths = RawPaths::new(&[vec!["a".into(), "b".into()], vec!["a".into()], vec!["z".into()], vec!["k\"".into()]]);
        let text = r#"{"a":{"b":1.50,"c":[1]},"n":null,"a":{"b":2},"k\"":"v"}"#;
        let mut out = vec![None; paths.len()];
        paths.extract(text, &mut out).unwrap();
        let got: Vec<Option<&str>> = out.iter().map(|r| r.map(RawValue::get)).collect();
        assert_eq!(got, [Some("1.50"), Some(r#"{"b":1.50,"c":[1]}"#), None, Some(r#""v""#)]);
        let mut out = vec![None; paths.len()];
        assert!(paths.extract(r#"{"a":1"#, &mut out).is_err());
        assert!(paths.extract("[1]", &mut out).is_err());
    }
}

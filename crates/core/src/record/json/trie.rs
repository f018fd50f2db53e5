//! The key paths a scan reports, as a trie over object keys.

use super::string::decoded_eq;

/// Marks "no trie node": the value is not on any wanted path.
pub(super) const NONE: u32 = u32::MAX;

/// The set of key paths a [`scan`](super::scan) should report, shaped as a trie so that one key
/// comparison per object member decides whether to keep looking below it.
#[derive(Debug, Clone)]
pub struct PathTrie {
    /// `nodes[0]` is the top-level object.
    nodes: Vec<Node>,
    /// Number of path ids (`0..ids`).
    pub(super) ids: u32,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    /// Raw UTF-8 key bytes and child node index. Linear search: rule sets name a few fields per
    /// object, and comparing short slices beats hashing them.
    children: Vec<(Box<[u8]>, u32)>,
    /// Bit `min(n, 63)` is set if a child's key is `n` bytes long.
    lengths: u64,
    /// Path ids ending here; more than one only if the caller passed the same path twice.
    pub(super) ids: Vec<u16>,
    /// Path ids ending strictly below this node: what a repeated key withdraws (see [`scan`](super::scan)).
    pub(super) below: Vec<u16>,
}

impl PathTrie {
    /// Builds the trie. `paths[i]` is a list of object keys from the top-level object down (for
    /// example `["kubernetes", "namespace_name"]`) and is reported with id `i`. An empty path names
    /// the top-level object itself. Paths past index `u16::MAX` cannot be given an id and are
    /// ignored.
    pub fn new(paths: &[Vec<String>]) -> PathTrie {
        let mut nodes = vec![Node::default()];
        // Children by (parent, key) while building: a linear search per key would make a rule set naming
        // many fields quadratic to compile.
        let mut index: std::collections::HashMap<(usize, &[u8]), usize> = std::collections::HashMap::new();
        for (id, path) in paths.iter().enumerate() {
            let Ok(id) = u16::try_from(id) else { break };
            let mut at = 0usize;
            for key in path {
                at = *index.entry((at, key.as_bytes())).or_insert_with(|| {
                    let child = nodes.len();
                    nodes.push(Node::default());
                    nodes[at].children.push((key.as_bytes().into(), child as u32));
                    nodes[at].lengths |= length_bit(key.len());
                    child
                });
            }
            nodes[at].ids.push(id);
        }
        // Children are always created after their parent, so a reverse pass sees every node's subtree
        // complete before the node itself.
        for at in (0..nodes.len()).rev() {
            let mut below = Vec::new();
            for &(_, child) in &nodes[at].children {
                let c = &nodes[child as usize];
                below.extend_from_slice(&c.ids);
                below.extend_from_slice(&c.below);
            }
            nodes[at].below = below;
        }
        let ids = paths.len().min(usize::from(u16::MAX) + 1) as u32;
        PathTrie { nodes, ids }
    }

    /// True if no path was given: [`scan`](super::scan) then only validates.
    pub fn is_empty(&self) -> bool {
        self.nodes.first().is_none_or(|n| n.children.is_empty() && n.ids.is_empty())
    }

    pub(super) fn node(&self, node: u32) -> Option<&Node> {
        self.nodes.get(node as usize)
    }

    /// The node to search below `node`'s object members, or `NONE` when nothing deeper is wanted,
    /// so that leaf objects are skipped without any key comparisons.
    pub(super) fn descend(&self, node: u32) -> u32 {
        match self.node(node) {
            Some(n) if !n.children.is_empty() => node,
            _ => NONE,
        }
    }

    /// `key` is a validated string body; `escaped` says whether it has to be decoded to compare.
    #[inline(always)]
    pub(super) fn child(&self, node: u32, key: &[u8], escaped: bool) -> u32 {
        let Some(n) = self.node(node) else { return NONE };
        if escaped {
            return children_decoded(&n.children, key).map_or(NONE, |&(_, child)| child);
        }
        // Most keys of a wanted object are not wanted: their length alone rejects nearly all of them,
        // before any child is looked at.
        if n.lengths & length_bit(key.len()) == 0 {
            return NONE;
        }
        for (k, child) in &n.children {
            if crate::bytes::eq(k, key) {
                return *child;
            }
        }
        NONE
    }
}

fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// The child whose key is `key` once decoded: rare (keys seldom hold escapes), kept out of line.
#[cold]
#[inline(never)]
fn children_decoded<'t>(children: &'t [(Box<[u8]>, u32)], key: &[u8]) -> Option<&'t (Box<[u8]>, u32)> {
    children.iter().find(|(k, _)| decoded_eq(key, k))
}

//! The template miner: groups messages into templates, per source, in one pass with bounded memory.
//!
//! Each message is cut into tokens and masked ([`crate::mask`]). Its *signature* — the source, the kind,
//! the token count and every token's shape — is hashed, and a map from signatures already seen to their
//! template answers nearly every message with one lookup. A new signature is placed like this, among the
//! templates of the same source, kind and token count:
//!
//! 1. a template that accepts it takes it: every position holds the same shape, or is a wildcard;
//! 2. otherwise, a template that differs from it at exactly one position `p`, where one of the two is a
//!    variable the other fits (`rhost=zummit.com` beside `rhost=<*>`), merges with it;
//! 3. otherwise, if templates that differ from it at exactly one position `p` (and agree everywhere
//!    else, with two words at least) hold, with it, [`Config::merge_after`] or more different words at
//!    `p`, `p` is a variable nobody masked (user names, host names, directories): they all become one
//!    template with a wildcard at `p`;
//! 4. otherwise it starts a template of its own.
//!
//! Step 3 is where this differs from Drain, which merges a line into the most similar template once a
//! share of tokens agree: that merges `VM Started` with `VM Paused`, or `GET` with `POST`, which differ
//! in one word but are different events. Counting how many different words a position has seen tells a
//! value (many) from a handful of alternatives (few), and needs no per-source threshold.
//!
//! Finding those templates costs one lookup per position, not a scan: every template is indexed under
//! its shapes with one position left out, so a message finds each template it differs from at one
//! position (or that has a wildcard there). Templates with wildcards at two positions or more are few
//! and kept in a list per bucket. Where Drain keys its tree by the first tokens, and so never merges a
//! variable first word, any position can be the one that differs here.
//!
//! Memory is bounded by [`Config::max_templates`]: at the limit a new signature joins a template it
//! differs from at one position (which becomes a wildcard), or is counted in one overflow template. The
//! signature map is bounded too. The result depends only on the messages and their order: the same input
//! always gives the same templates and ids.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::mask::{self, Token, Tokenizer};

/// Settings of a [`Miner`]; [`Config::default`] needs no tuning per source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Templates kept at most; further new messages join the closest template or the overflow.
    pub max_templates: usize,
    /// How many different words at one position, the rest of the message equal, make the position a
    /// variable (for messages; see the module docs).
    pub merge_after: usize,
    /// The same for the segments of access-log paths: endpoints are few, and `/login` must not become
    /// `/healthz`'s template because a site has many one-segment paths.
    pub merge_paths_after: usize,
    /// Tokens read per message; the rest is one variable tail.
    pub max_tokens: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config { max_templates: 5000, merge_after: 5, merge_paths_after: 32, max_tokens: 128 }
    }
}

/// What a message is: a message text, or the path of an access-log line (segments as tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A log message.
    Text,
    /// An access log's request path, given as its segments separated by spaces (`/api /v1 /orders`).
    Path,
}

/// The group a message was put in; resolve it to a template with [`Mined::template_of`] at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupId(u32);

impl GroupId {
    /// Messages that found no room: more templates than [`Config::max_templates`].
    pub const OVERFLOW: GroupId = GroupId(u32::MAX);

    /// A dense index for per-group counts kept by the caller; `None` for the overflow.
    pub fn index(self) -> Option<usize> {
        (self != GroupId::OVERFLOW).then_some(self.0 as usize)
    }

    /// The group of an [`GroupId::index`].
    pub fn from_index(i: usize) -> GroupId {
        GroupId(i as u32)
    }
}

/// How many different values of a position are remembered, to tell a constant from a variable.
const VALUES: usize = 4;
/// Examples of a position's values kept for people.
const EXAMPLES: usize = 3;
/// Longest example value or message kept.
const EXAMPLE_BYTES: usize = 512;
/// Words, besides the one that differs, two messages must share for that one to be taken for a variable.
const ANCHORS: usize = 2;
/// Sources told apart; messages of further sources share one.
const MAX_SOURCES: usize = 4096;

#[derive(Clone, Debug)]
struct Slot {
    shape: u64,
    /// Any shape is accepted here.
    wild: bool,
    /// A token here was a list of several (`blk_1 blk_2`); `text` is then one element's shape.
    list: bool,
    /// A token here had spaces in it (a bracketed field), or was a long line's tail: its variables may
    /// span words.
    spans_words: bool,
    /// The token's own shape (a header token's `shape` is the header's), and whether it changed.
    form: u64,
    form_varies: bool,
    /// The shape as text, from the first token seen.
    text: Box<str>,
    /// The first token seen, as written.
    first: Box<str>,
    /// Distinct values seen (hashes), up to [`VALUES`]; `more` when there were more.
    values: [u64; VALUES],
    n: u8,
    more: bool,
    examples: Vec<Box<str>>,
}

impl Slot {
    fn see(&mut self, value: u64, text: impl FnOnce() -> Box<str>) {
        if self.values[..self.n as usize].contains(&value) || self.more {
            return;
        }
        if (self.n as usize) < VALUES {
            self.values[self.n as usize] = value;
            self.n += 1;
            if self.examples.len() < EXAMPLES {
                self.examples.push(text());
            }
        } else {
            self.more = true;
        }
    }

    fn absorb(&mut self, other: &Slot) {
        self.wild |= other.wild;
        self.form_varies |= other.form_varies || other.form != self.form;
        self.spans_words |= other.spans_words;
        self.list |= other.list;
        for k in 0..other.n as usize {
            let ex = other.examples.get(k).cloned();
            self.see(other.values[k], || ex.unwrap_or_default());
        }
        self.more |= other.more;
    }

    fn distinct(&self) -> usize {
        self.n as usize + usize::from(self.more)
    }
}

#[derive(Clone, Debug)]
struct Group {
    source: u32,
    kind: Kind,
    slots: Vec<Slot>,
    count: u64,
    weight: u64,
    example: Box<str>,
}

/// A bucket: the templates of one source, kind and token count.
type BucketKey = (u32, Kind, u16);

/// The miner. Feed it with [`Miner::add`], then [`Miner::finish`].
#[derive(Debug)]
pub struct Miner {
    cfg: Config,
    tokenizer: Tokenizer,
    tokens: Vec<Token>,
    sig: Vec<u8>,
    sources: HashMap<Box<[u8]>, u32>,
    source_names: Vec<Box<str>>,
    /// Signature → group, for messages whose signature was seen before.
    cache: HashMap<u64, u32>,
    cache_cap: usize,
    /// Templates by their shapes but one: `near(bucket, q, shapes but q's)` → the groups created with
    /// those shapes. A message finds every template it differs from at one position, or that is a
    /// wildcard there, with one lookup per position, however many templates its bucket holds.
    near: HashMap<u64, Vec<u32>>,
    /// Per bucket, the templates with wildcards at two positions or more, which `near` cannot find.
    floating: HashMap<BucketKey, Vec<u32>>,
    groups: Vec<Group>,
    /// Union-find parents: a merged group points at the group it joined.
    parent: Vec<u32>,
    live: usize,
    overflow: (u64, u64),
    /// Groups merged since the last [`Miner::take_merged`]: (merged, into).
    merged: Vec<(u32, u32)>,
}

fn clip(b: &[u8]) -> Box<str> {
    let mut end = b.len().min(EXAMPLE_BYTES);
    // Cut at a character boundary when the bytes are UTF-8.
    while end < b.len() && end > 0 && (b[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    String::from_utf8_lossy(&b[..end]).into()
}

impl Miner {
    /// A miner with these settings.
    pub fn new(cfg: Config) -> Miner {
        let cache_cap = (cfg.max_templates.saturating_mul(64)).max(1 << 16);
        Miner {
            cfg,
            tokenizer: Tokenizer::default(),
            tokens: Vec::new(),
            sig: Vec::new(),
            sources: HashMap::new(),
            source_names: Vec::new(),
            cache: HashMap::new(),
            cache_cap,
            near: HashMap::new(),
            floating: HashMap::new(),
            groups: Vec::new(),
            parent: Vec::new(),
            live: 0,
            overflow: (0, 0),
            merged: Vec::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn source_id(&mut self, source: &[u8]) -> u32 {
        if let Some(&id) = self.sources.get(source) {
            return id;
        }
        if self.source_names.len() >= MAX_SOURCES {
            // Past the limit every new source shares the last slot, named for what it is.
            return (MAX_SOURCES - 1) as u32;
        }
        let id = self.source_names.len() as u32;
        let name: Box<str> = if id as usize == MAX_SOURCES - 1 { "_other".into() } else { String::from_utf8_lossy(source).into() };
        self.source_names.push(name);
        self.sources.insert(source.into(), id);
        id
    }

    fn find(&mut self, mut g: u32) -> u32 {
        while self.parent[g as usize] != g {
            let p = self.parent[g as usize];
            self.parent[g as usize] = self.parent[p as usize];
            g = p;
        }
        g
    }

    /// Adds one message of `source` (namespace/container, log group, or empty), counting `weight` (its
    /// record's bytes) for its template, and returns its group.
    pub fn add(&mut self, source: &[u8], kind: Kind, message: &[u8], weight: u64) -> GroupId {
        let src = self.source_id(source);
        let mut tokens = std::mem::take(&mut self.tokens);
        self.tokenizer.tokenize(message, self.cfg.max_tokens, &mut tokens);
        self.sig.clear();
        self.sig.extend_from_slice(&src.to_le_bytes());
        self.sig.push(kind as u8);
        for t in &tokens {
            self.sig.extend_from_slice(&t.shape.to_le_bytes());
        }
        let sig = xxh3_64(&self.sig);
        let g = match self.cache.get(&sig) {
            Some(&g) => Some(self.find(g)),
            None => {
                let key = (src, kind, tokens.len().min(u16::MAX as usize) as u16);
                let placed = self.place(key, &tokens, message);
                if let Some(g) = placed
                    && self.cache.len() < self.cache_cap
                {
                    self.cache.insert(sig, g);
                }
                placed
            }
        };
        let id = match g {
            Some(g) => {
                let grp = &mut self.groups[g as usize];
                grp.count += 1;
                grp.weight += weight;
                for (slot, t) in grp.slots.iter_mut().zip(&tokens) {
                    slot.form_varies |= slot.form != t.form;
                    slot.list |= t.list;
                    slot.spans_words |= t.spaced;
                    slot.see(t.value, || clip(&message[t.start as usize..t.end as usize]));
                }
                GroupId(g)
            }
            None => {
                self.overflow.0 += 1;
                self.overflow.1 += weight;
                GroupId::OVERFLOW
            }
        };
        self.tokens = tokens;
        id
    }

    /// The `near` keys of a message's tokens, one per position.
    fn near_keys(key: BucketKey, tokens: &[Token], out: &mut Vec<u64>) {
        let mix = |q: usize, shape: u64| (shape ^ (q as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(29);
        let all = tokens.iter().enumerate().fold(0u64, |h, (q, t)| h.wrapping_add(mix(q, t.shape)));
        let bucket = (u64::from(key.0) << 24) ^ ((key.1 as u64) << 16) ^ u64::from(key.2);
        out.clear();
        out.extend(tokens.iter().enumerate().map(|(q, t)| {
            let rest = all.wrapping_sub(mix(q, t.shape));
            (rest ^ bucket.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)).wrapping_add(mix(q, 0x5bd1_e995))
        }));
    }

    /// Where a message of a new signature goes (see the module docs); `None` is the overflow.
    fn place(&mut self, key: BucketKey, tokens: &[Token], message: &[u8]) -> Option<u32> {
        let mut keys = Vec::with_capacity(tokens.len());
        Miner::near_keys(key, tokens, &mut keys);
        // Candidates: templates created with the same shapes but at one position, and those with
        // wildcards at several; merged ones are left out (and dropped from the lists on the way).
        let mut candidates: Vec<u32> = Vec::new();
        for k in &keys {
            if let Some(list) = self.near.get_mut(k) {
                list.retain(|&g| self.parent[g as usize] == g);
                candidates.extend_from_slice(list);
            }
        }
        if let Some(list) = self.floating.get_mut(&key) {
            list.retain(|&g| self.parent[g as usize] == g);
            candidates.extend_from_slice(list);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let groups = &self.groups;
        let mismatches = |g: u32| {
            groups[g as usize].slots.iter().zip(tokens).enumerate().filter(|(_, (s, t))| !s.wild && s.shape != t.shape).map(|(i, _)| i)
        };
        // 1. A template that accepts it; the most specific one (fewest wildcards) if several.
        let accepting = candidates
            .iter()
            .copied()
            .filter(|&g| mismatches(g).next().is_none())
            .min_by_key(|&g| (groups[g as usize].slots.iter().filter(|s| s.wild).count(), g));
        if accepting.is_some() {
            return accepting;
        }
        // 2. Siblings: templates that differ from it at exactly one position, and agree on words elsewhere:
        // a message that is one word after its header has no context to call that word a variable.
        let mut siblings: Vec<(usize, u32)> = Vec::new();
        for &g in &candidates {
            let mut m = mismatches(g);
            if let (Some(p), None) = (m.next(), m.next())
                && tokens.iter().enumerate().filter(|(q, t)| *q != p && !t.masked).count() >= ANCHORS
            {
                siblings.push((p, g));
            }
        }
        // A word that fits a variable's shape there (`rhost=zummit.com` beside `rhost=<*>`, a host name
        // beside an address) is a value of it: the position is a variable already.
        let fits_here = |p: usize, g: u32| {
            let raw = &message[tokens[p].start as usize..tokens[p].end as usize];
            let slot = &groups[g as usize].slots[p];
            (slot.text.contains(mask::VAR) && fits(raw, &slot.text))
                || (tokens[p].masked && fits(slot.first.as_bytes(), &mask::shape_text(&mut Tokenizer::default(), raw)))
        };
        if let Some(&(p, _)) = siblings.iter().find(|&&(p, g)| fits_here(p, g)) {
            let members: Vec<u32> = siblings.iter().filter(|&&(q, g)| q == p && fits_here(p, g)).map(|s| s.1).collect();
            return Some(self.merge(key, &members, p));
        }
        let k = match key.1 {
            Kind::Text => self.cfg.merge_after,
            Kind::Path => self.cfg.merge_paths_after,
        };
        let mut best: Option<(usize, usize)> = None;
        for &(p, _) in &siblings {
            let mut shapes: Vec<u64> = siblings.iter().filter(|s| s.0 == p).map(|s| groups[s.1 as usize].slots[p].shape).collect();
            shapes.sort_unstable();
            shapes.dedup();
            let distinct = shapes.len() + 1;
            if distinct >= k.max(2) && best.is_none_or(|(bp, bn)| distinct > bn || (distinct == bn && p < bp)) {
                best = Some((p, distinct));
            }
        }
        if let Some((p, _)) = best {
            let members: Vec<u32> = siblings.iter().filter(|s| s.0 == p).map(|s| s.1).collect();
            return Some(self.merge(key, &members, p));
        }
        // 3. A template of its own, or, at the limit, the closest candidate (one position apart, which
        // becomes a wildcard) or the overflow.
        if self.live >= self.cfg.max_templates {
            let closest = candidates
                .iter()
                .copied()
                .filter(|&g| {
                    let mut m = mismatches(g);
                    m.next().is_some() && m.next().is_none()
                })
                .min();
            if let Some(g) = closest {
                let slots = &mut self.groups[g as usize].slots;
                for (s, t) in slots.iter_mut().zip(tokens) {
                    if s.shape != t.shape {
                        s.wild = true;
                    }
                }
                self.refloat(key, g);
            }
            return closest;
        }
        let id = self.groups.len() as u32;
        let mut slots = Vec::with_capacity(tokens.len());
        for t in tokens {
            let raw = &message[t.start as usize..t.end as usize];
            // A list is shown, and matched, as one of its elements repeated.
            let elem = if t.list { raw.split(u8::is_ascii_whitespace).next().unwrap_or(raw) } else { raw };
            slots.push(Slot {
                shape: t.shape,
                wild: false,
                form: t.form,
                form_varies: false,
                list: t.list,
                spans_words: t.spaced,
                text: match mask::shape_text(&mut self.tokenizer, elem) {
                    // A tail, or a list of words masked by their neighbours (`Jun 14 15:16:01`): any words.
                    s if t.tail || (t.list && !s.contains(mask::VAR)) => mask::VAR.into(),
                    s => s.into(),
                },
                first: clip(raw),
                values: [0; VALUES],
                n: 0,
                more: false,
                examples: Vec::new(),
            });
        }
        self.groups.push(Group { source: key.0, kind: key.1, slots, count: 0, weight: 0, example: clip(message) });
        self.parent.push(id);
        self.live += 1;
        for k in keys {
            self.near.entry(k).or_default().push(id);
        }
        Some(id)
    }

    /// Puts `g` among the floating templates of its bucket once it has two wildcards or more.
    fn refloat(&mut self, key: BucketKey, g: u32) {
        if self.groups[g as usize].slots.iter().filter(|s| s.wild).count() >= 2 {
            let list = self.floating.entry(key).or_default();
            if !list.contains(&g) {
                list.push(g);
            }
        }
    }

    /// Merges `members` (siblings at position `p`) into the first of them, with a wildcard at `p`.
    fn merge(&mut self, key: BucketKey, members: &[u32], p: usize) -> u32 {
        let keep = members[0];
        self.groups[keep as usize].slots[p].wild = true;
        for &m in &members[1..] {
            // What is left of a merged group is its parent link and an empty record: memory goes with the
            // live templates.
            let other = std::mem::take(&mut self.groups[m as usize].slots);
            self.groups[m as usize].example = Box::default();
            self.merged.push((m, keep));
            let (count, weight) = (self.groups[m as usize].count, self.groups[m as usize].weight);
            let g = &mut self.groups[keep as usize];
            for (s, o) in g.slots.iter_mut().zip(&other) {
                s.absorb(o);
            }
            g.count += count;
            g.weight += weight;
            self.parent[m as usize] = keep;
            self.live -= 1;
        }
        self.refloat(key, keep);
        keep
    }

    /// Groups merged into others since the last call, as (merged, into): callers that keep counts per
    /// group fold them now, so that what they hold stays bounded by the live templates.
    pub fn take_merged(&mut self) -> impl Iterator<Item = (GroupId, GroupId)> + '_ {
        self.merged.drain(..).map(|(a, b)| (GroupId(a), GroupId(b)))
    }

    /// Templates so far (merged groups count once).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no message was added.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.overflow.0 == 0
    }

    /// The templates, numbered in the order their first message came.
    pub fn finish(mut self) -> Mined {
        let n = self.groups.len();
        let mut map = vec![u32::MAX; n];
        let mut templates = Vec::new();
        for g in 0..n as u32 {
            if self.find(g) != g {
                continue;
            }
            let grp = &self.groups[g as usize];
            map[g as usize] = templates.len() as u32;
            templates.push(Template {
                id: templates.len() as u32,
                source: self.source_names[grp.source as usize].to_string(),
                kind: grp.kind,
                tokens: grp
                    .slots
                    .iter()
                    .map(|s| TemplateToken {
                        shape: s.text.to_string(),
                        first: s.first.to_string(),
                        wild: s.wild || s.form_varies,
                        spans_words: s.spans_words,
                        list: s.list,
                        distinct: s.distinct(),
                        examples: s.examples.iter().map(|e| e.to_string()).collect(),
                    })
                    .collect(),
                count: grp.count,
                weight: grp.weight,
                example: grp.example.to_string(),
            });
        }
        for g in 0..n as u32 {
            let r = self.find(g);
            map[g as usize] = map[r as usize];
        }
        let overflow = Overflow { count: self.overflow.0, weight: self.overflow.1 };
        Mined { templates, map, overflow }
    }
}

/// Whether `raw` fits `shape`, a token's shape with `<*>` for its variable parts: its literal pieces in
/// order, anchored at both ends, each `<*>` standing for any bytes (`()` is `(<*>)` with nothing in it).
fn fits(raw: &[u8], shape: &str) -> bool {
    let parts: Vec<&[u8]> = shape.split(mask::VAR).map(str::as_bytes).collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 || raw.len() < first.len() + last.len() || !raw.starts_with(first) || !raw.ends_with(last) {
        return false;
    }
    let mut at = first.len();
    let end = raw.len() - last.len();
    for p in &parts[1..parts.len() - 1] {
        if p.is_empty() {
            continue;
        }
        match raw[at..end].windows(p.len()).position(|w| w == *p) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    true
}

/// One position of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateToken {
    /// The shape: text with `<*>` for its variable parts.
    pub shape: String,
    /// The first token seen here, as written.
    pub first: String,
    /// Tokens of different shapes are here: a variable without digits, found by its many values, or
    /// a header field (thread, logger) that changed.
    pub wild: bool,
    /// Distinct values seen here (up to a few, then one more for "more").
    pub distinct: usize,
    /// Its values may span several words (a bracketed field, the tail of a long line).
    pub spans_words: bool,
    /// It is a list: one element's shape (`shape`), repeated (`blk_1 blk_2 blk_3`).
    pub list: bool,
    /// A few values seen here.
    pub examples: Vec<String>,
}

impl TemplateToken {
    /// Whether the position took more than one value.
    pub fn varies(&self) -> bool {
        self.distinct > 1
    }

    /// The text shown for it: `<*>` for a wildcard, the value itself when it never varied (so a
    /// constant with a digit, `jk2_init()`, reads as written), else the shape.
    pub fn display(&self) -> String {
        if self.wild {
            mask::VAR.to_string()
        } else if !self.varies() {
            self.first.clone()
        } else if self.list && self.shape != mask::VAR {
            format!("{}…", self.shape)
        } else {
            self.shape.clone()
        }
    }
}

/// A mined template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// Its number: templates are numbered in the order their first message came.
    pub id: u32,
    /// The source its messages came from.
    pub source: String,
    /// Messages or access-log paths.
    pub kind: Kind,
    /// Its positions.
    pub tokens: Vec<TemplateToken>,
    /// Messages.
    pub count: u64,
    /// Sum of the weights given with them (record bytes).
    pub weight: u64,
    /// The first message.
    pub example: String,
}

impl Template {
    /// The template as text: `Found child <*> in scoreboard slot <*>`; a path's segments are joined.
    pub fn text(&self) -> String {
        let sep = match self.kind {
            Kind::Text => " ",
            Kind::Path => "",
        };
        self.tokens.iter().map(|t| t.display()).collect::<Vec<_>>().join(sep)
    }
}

/// Messages that found no room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overflow {
    /// Messages.
    pub count: u64,
    /// Their weight.
    pub weight: u64,
}

/// The result of mining.
#[derive(Clone, Debug)]
pub struct Mined {
    /// The templates, by id.
    pub templates: Vec<Template>,
    map: Vec<u32>,
    /// Messages counted in no template.
    pub overflow: Overflow,
}

impl Mined {
    /// The template of a group [`Miner::add`] returned; `None` for the overflow.
    pub fn template_of(&self, g: GroupId) -> Option<u32> {
        self.map.get(g.0 as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(lines: &[&str], cfg: Config) -> (Mined, Vec<Option<u32>>) {
        let mut m = Miner::new(cfg);
        let ids: Vec<GroupId> = lines.iter().map(|l| m.add(b"src", Kind::Text, l.as_bytes(), l.len() as u64)).collect();
        let mined = m.finish();
        let t = ids.iter().map(|g| mined.template_of(*g)).collect();
        (mined, t)
    }

    #[test]
    fn masked_variables_share_a_template() {
        let (mined, ids) = mine(
            &["Found child 6725 in scoreboard slot 10", "Found child 6726 in scoreboard slot 8", "workerEnv.init() ok /etc/a2.properties"],
            Config::default(),
        );
        assert_eq!(ids, [Some(0), Some(0), Some(1)]);
        assert_eq!(mined.templates[0].text(), "Found child <*> in scoreboard slot <*>");
        assert_eq!(mined.templates[0].count, 2);
        // A constant with a digit reads as written.
        assert_eq!(mined.templates[1].text(), "workerEnv.init() ok /etc/a2.properties");
    }

    #[test]
    fn a_word_with_many_values_becomes_a_wildcard_and_few_alternatives_do_not() {
        let users = ["alice", "bob", "carol", "dave", "erin", "frank"];
        let mut lines: Vec<String> = users.iter().map(|u| format!("session opened for user {u} by root")).collect();
        for s in ["Started", "Paused", "Resumed", "Started", "Paused"] {
            lines.push(format!("VM {s} (Lifecycle Event)"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (mined, ids) = mine(&refs, Config::default());
        assert!(ids[..6].iter().all(|i| *i == ids[0]), "{ids:?}");
        assert_eq!(mined.templates[ids[0].unwrap() as usize].text(), "session opened for user <*> by root");
        // Three alternatives stay three templates.
        let vm: std::collections::BTreeSet<_> = ids[6..].iter().collect();
        assert_eq!(vm.len(), 3);
        assert_eq!(ids[6], ids[9]);
    }

    #[test]
    fn a_word_that_fits_a_variable_shape_joins_it() {
        assert!(fits(b"rhost=zummit.com", "rhost=<*>"));
        assert!(fits(b"a1b", "a<*>b") && fits(b"()", "(<*>)"));
        assert!(!fits(b"ab", "a<*>c") && !fits(b"rhost", "rhost=<*>"));
        assert!(fits(b"x-1-y", "x<*>-<*>y") && !fits(b"xy", "x<*>-<*>y"));
        let (mined, ids) = mine(
            &["connection from 10.0.0.1 closed", "connection from zummit.com closed", "connection from 10.0.0.2 closed"],
            Config::default(),
        );
        assert_eq!(ids, [Some(0), Some(0), Some(0)]);
        assert_eq!(mined.templates[0].text(), "connection from <*> closed");
    }

    #[test]
    fn sources_are_mined_apart() {
        let mut m = Miner::new(Config::default());
        let a = m.add(b"a", Kind::Text, b"ready", 1);
        let b = m.add(b"b", Kind::Text, b"ready", 1);
        let mined = m.finish();
        assert_ne!(mined.template_of(a), mined.template_of(b));
        assert_eq!(mined.templates[1].source, "b");
    }

    #[test]
    fn the_template_limit_bounds_memory_and_counts_the_overflow() {
        let cfg = Config { max_templates: 2, ..Config::default() };
        let lines = ["one two three", "four five", "six", "one two four", "seven eight nine ten"];
        let (mined, ids) = mine(&lines, cfg);
        assert_eq!(mined.templates.len(), 2);
        // "six" and the four-word line have no room; "one two four" joins its closest template.
        assert_eq!(ids, [Some(0), Some(1), None, Some(0), None]);
        assert_eq!(mined.overflow.count, 2);
        assert_eq!(mined.templates[0].text(), "one two <*>");
    }

    #[test]
    fn templates_stay_within_the_limit_whatever_comes() {
        let cfg = Config { max_templates: 40, ..Config::default() };
        let mut m = Miner::new(cfg);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut word = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"][(x % 10) as usize].repeat(1 + (x >> 8) as usize % 3)
        };
        for _ in 0..20_000 {
            let n = 1 + (word().len() % 7);
            let line: Vec<String> = (0..n).map(|_| word()).collect();
            m.add(b"s", Kind::Text, line.join(" ").as_bytes(), 1);
            assert!(m.len() <= 40);
        }
        let mined = m.finish();
        assert!(mined.templates.len() <= 40);
        assert_eq!(mined.templates.iter().map(|t| t.count).sum::<u64>() + mined.overflow.count, 20_000);
    }

    #[test]
    fn same_input_same_output() {
        let lines: Vec<String> = (0..500).map(|i| format!("user u{} did thing{} at {}", i % 7, i % 3, i)).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (a, ia) = mine(&refs, Config::default());
        let (b, ib) = mine(&refs, Config::default());
        assert_eq!(ia, ib);
        assert_eq!(a.templates, b.templates);
    }
}

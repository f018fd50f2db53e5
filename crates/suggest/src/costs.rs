//! What each template costs: its records and bytes, what the rules still send of them, and what they are
//! (levels, statuses, probes, ids), so that rules can be proposed for the expensive ones.

use logtrim_core::record::level::Level;

use crate::message::{IdField, Message, MessageReader, Place, SourceKind};
use crate::miner::{Config, GroupId, Kind, Mined, Miner, Template};

/// What the caller knows of a record besides its bytes: what the existing rules did with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The rules send it (they keep it).
    pub sent: bool,
    /// The rule that decided it, by position in the file; `None` for the default action.
    pub rule: Option<usize>,
    /// A rule keeps it at `high` or `critical`: suggestions must leave it alone.
    pub kept_high: bool,
}

/// Largest record kept as an example (examples become embedded tests).
const EXAMPLE_BYTES: usize = 8 << 10;
/// Methods and deciding rules remembered per template.
const FEW: usize = 8;

/// The counts of one template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Records of the template in the input.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Records the rules send.
    pub sent_records: u64,
    /// Their bytes.
    pub sent_bytes: u64,
    /// Sent records a rule added after the existing ones could still decide: sent by the default action,
    /// and not protected.
    pub open_records: u64,
    /// Their bytes.
    pub open_bytes: u64,
    /// Sent records by level: none, trace, debug, info, warn, error, fatal.
    pub levels: [u64; 7],
    /// Sent records by HTTP status class: none, below 200 (and Envoy's 0), 2xx, 3xx, 4xx, 5xx.
    pub statuses: [u64; 6],
    /// Sent records that are protected: level warn or above, status 400 or above, a stack trace line, or
    /// kept at high or critical by a rule.
    pub protected_records: u64,
    /// Sent records of Kubernetes probes.
    pub probe_records: u64,
    /// Sent records with a request or trace id, and the field of the first one.
    pub id_records: u64,
    /// The id field.
    pub id_field: Option<IdField>,
    /// HTTP methods of sent records, with counts (a few).
    pub methods: Vec<(String, u64)>,
    /// Which rules decided the sent records (`None`: the default), with counts (a few).
    pub rules: Vec<(Option<usize>, u64)>,
    /// Where the message was.
    pub place: Option<Place>,
    /// What the source is.
    pub source_kind: Option<SourceKind>,
    /// The namespace's length in the source (Kubernetes).
    pub namespace_len: usize,
    /// A sent, unprotected record, and a protected one, as they came (for tests and people).
    pub example_open: Option<Vec<u8>>,
    /// A protected record of the template.
    pub example_protected: Option<Vec<u8>>,
}

fn count<K: PartialEq>(list: &mut Vec<(K, u64)>, key: K, n: u64) {
    if let Some(e) = list.iter_mut().find(|(k, _)| *k == key) {
        e.1 += n;
    } else if list.len() < FEW {
        list.push((key, n));
    }
}

impl Stats {
    fn add(&mut self, m: &Message<'_>, record: &[u8], seen: Seen) {
        let bytes = record.len() as u64;
        self.records += 1;
        self.bytes += bytes;
        if self.place.is_none() {
            self.place = Some(m.place);
            self.source_kind = Some(m.source_kind);
            self.namespace_len = m.namespace_len;
        }
        if !seen.sent {
            return;
        }
        self.sent_records += 1;
        self.sent_bytes += bytes;
        let protected = m.protected() || seen.kept_high;
        if protected {
            self.protected_records += 1;
            if self.example_protected.is_none() && record.len() <= EXAMPLE_BYTES {
                self.example_protected = Some(record.to_vec());
            }
        } else if seen.rule.is_none() {
            self.open_records += 1;
            self.open_bytes += bytes;
            if self.example_open.is_none() && record.len() <= EXAMPLE_BYTES {
                self.example_open = Some(record.to_vec());
            }
        }
        self.levels[m.level.map_or(0, |l| l as usize + 1)] += 1;
        self.statuses[match m.status {
            None => 0,
            Some(s) => (s / 100).clamp(1, 5) as usize,
        }] += 1;
        self.probe_records += u64::from(m.probe);
        if let Some(id) = m.id {
            self.id_records += 1;
            self.id_field.get_or_insert(id);
        }
        if let Some(method) = m.method {
            // Compared as bytes: a name is allocated once, when first seen.
            if let Some(e) = self.methods.iter_mut().find(|(k, _)| k.as_bytes() == method) {
                e.1 += 1;
            } else if self.methods.len() < FEW {
                self.methods.push((String::from_utf8_lossy(method).into_owned(), 1));
            }
        }
        count(&mut self.rules, seen.rule, 1);
    }

    fn absorb(&mut self, o: Stats) {
        self.records += o.records;
        self.bytes += o.bytes;
        self.sent_records += o.sent_records;
        self.sent_bytes += o.sent_bytes;
        self.open_records += o.open_records;
        self.open_bytes += o.open_bytes;
        for (a, b) in self.levels.iter_mut().zip(o.levels) {
            *a += b;
        }
        for (a, b) in self.statuses.iter_mut().zip(o.statuses) {
            *a += b;
        }
        self.protected_records += o.protected_records;
        self.probe_records += o.probe_records;
        self.id_records += o.id_records;
        self.id_field = self.id_field.or(o.id_field);
        for (k, n) in o.methods {
            count(&mut self.methods, k, n);
        }
        for (k, n) in o.rules {
            count(&mut self.rules, k, n);
        }
        if self.place.is_none() {
            self.place = o.place;
            self.source_kind = o.source_kind;
            self.namespace_len = o.namespace_len;
        }
        self.example_open = self.example_open.take().or(o.example_open);
        self.example_protected = self.example_protected.take().or(o.example_protected);
    }

    /// The level mix of sent records, as (name, records), most first; `-` for none.
    pub fn level_mix(&self) -> Vec<(&'static str, u64)> {
        const NAMES: [&str; 7] = ["-", "trace", "debug", "info", "warn", "error", "fatal"];
        mix(&self.levels, &NAMES)
    }

    /// The status mix of sent records, as (class, records), most first.
    pub fn status_mix(&self) -> Vec<(&'static str, u64)> {
        const NAMES: [&str; 6] = ["-", "1xx", "2xx", "3xx", "4xx", "5xx"];
        mix(&self.statuses, &NAMES)
    }

    /// Sent records at `level` or above.
    pub fn at_least(&self, level: Level) -> u64 {
        self.levels[level as usize + 1..].iter().sum()
    }
}

fn mix(counts: &[u64], names: &[&'static str]) -> Vec<(&'static str, u64)> {
    let mut v: Vec<(&'static str, u64)> = names.iter().zip(counts).filter(|(_, n)| **n > 0).map(|(k, n)| (*k, *n)).collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

/// A template and what it costs.
#[derive(Clone, Debug)]
pub struct TemplateCost {
    /// The template.
    pub template: Template,
    /// Its counts.
    pub stats: Stats,
}

/// Mines records and counts what each template costs. Feed it every record, in order.
#[derive(Debug)]
pub struct Costs {
    reader: MessageReader,
    miner: Miner,
    /// Per group, by [`GroupId::index`].
    stats: Vec<Stats>,
    overflow: Stats,
}

/// The result: templates with their costs, and how to find a record's template.
#[derive(Debug)]
pub struct Mining {
    /// Every template, by id.
    pub templates: Vec<TemplateCost>,
    /// Records over the template limit.
    pub overflow: Stats,
    mined: Mined,
}

impl Mining {
    /// The template of a group [`Costs::add`] returned; `None` for the overflow.
    pub fn template_of(&self, g: GroupId) -> Option<u32> {
        self.mined.template_of(g)
    }
}

impl Costs {
    /// Costs with these miner settings.
    pub fn new(cfg: Config) -> Costs {
        Costs { reader: MessageReader::new(), miner: Miner::new(cfg), stats: Vec::new(), overflow: Stats::default() }
    }

    /// Templates so far.
    pub fn templates(&self) -> usize {
        self.miner.len()
    }

    /// Mines one record and counts it; returns its group.
    pub fn add(&mut self, record: &[u8], seen: Seen) -> GroupId {
        let m = self.reader.read(record);
        let g = self.miner.add(m.source, m.kind, m.text, record.len() as u64);
        // Fold the counts of merged groups now: what is held stays bounded by the live templates.
        for (from, into) in self.miner.take_merged() {
            if let (Some(f), Some(i)) = (from.index(), into.index())
                && f < self.stats.len()
            {
                let moved = std::mem::take(&mut self.stats[f]);
                if self.stats.len() <= i {
                    self.stats.resize_with(i + 1, Stats::default);
                }
                self.stats[i].absorb(moved);
            }
        }
        let stats = match g.index() {
            Some(i) => {
                if self.stats.len() <= i {
                    self.stats.resize_with(i + 1, Stats::default);
                }
                &mut self.stats[i]
            }
            None => &mut self.overflow,
        };
        stats.add(&m, record, seen);
        g
    }

    /// The templates and their costs.
    pub fn finish(self) -> Mining {
        let mined = self.miner.finish();
        let mut per: Vec<Stats> = vec![Stats::default(); mined.templates.len()];
        for (i, s) in self.stats.into_iter().enumerate() {
            if let Some(t) = mined.template_of(GroupId::from_index(i)) {
                per[t as usize].absorb(s);
            }
        }
        let templates = mined.templates.iter().cloned().zip(per).map(|(template, stats)| TemplateCost { template, stats }).collect();
        Mining { templates, overflow: self.overflow, mined }
    }
}

/// Whether a template's messages are access-log paths.
pub fn is_access(t: &Template) -> bool {
    t.kind == Kind::Path
}

//! The fields of one record as the rules see them, filled lazily and stored without allocating.
//!
//! A value is a [`Slot`]: scalars inline, strings as a range into the record itself or into one of three
//! reused buffers (strings decoded from the record, strings decoded from JSON found inside a parsed field,
//! and the values of the [`Members`] of a record given as parts, kept while the next record shares them).
//! Ranges, not references, so buffers can grow while slots point into them.

use super::access::{self, AccessFields, AccessFormat};
use super::json::{self, Raw};
use super::level;
use super::parts::{Members, Parts};
use crate::plan::{AccessField, FieldRef, ParserKind, Plan, Source};

/// Which bytes a string slot points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Buf {
    Input,
    Decoded,
    Nested,
    /// The values of a record's [`Members`], read once for all the records that share them.
    Members,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Slot {
    Missing,
    Null,
    Bool(bool),
    Num(f64),
    Str(Buf, u32, u32),
    Static(&'static str),
    /// Object or array: exists, but matches no comparison. The range is the JSON text in `Buf`.
    Container(Buf, u32, u32),
}

pub use crate::primitives::{RecordKind, Value};

/// Per-source parse outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Parsed {
    NotYet,
    /// No parser recognised the value, or it was missing.
    Nothing,
    /// Recognised by this parser; fields are in `fields`/`nested`.
    By(ParserKind),
}

#[derive(Debug)]
struct SourceState {
    parsed: Parsed,
    /// Where the source text lives (for access-field ranges).
    text: (Buf, u32, u32),
    access: AccessFields,
    nested: Vec<Slot>,
    level: Option<level::Level>,
}

/// Scratch state for one record, reused across records.
#[derive(Debug)]
pub(crate) struct View {
    top: Vec<Slot>,
    sources: Vec<SourceState>,
    decoded: Vec<u8>,
    nested_buf: Vec<u8>,
    /// The JSON scanners' reused token lists: the record's, kept for trimming, and parsed fields'.
    json: json::Index,
    nested_json: json::Index,
    scanned: bool,
    kind: RecordKind,
    /// Lazily computed: whether the record contains `\u` (prefilters are skipped then).
    has_u_escape: Option<bool>,
    /// The record was given as [`Parts`]: `Buf::Input` is its `log`.
    parts: bool,
    /// The top-level paths that read a part (the others read the members), for records given as parts.
    part_of: Vec<(usize, PartOf)>,
    /// The [`Members`] whose values `members_top` and `members_buf` hold (0: none yet).
    members_id: u64,
    members_top: Vec<Slot>,
    members_buf: Vec<u8>,
    /// Paths a front-end reads besides the rules' ([`View::read_also`]), found by the same scan.
    also: Option<Also>,
}

/// The paths of [`View::read_also`] and what the last scan found at them.
#[derive(Debug)]
struct Also {
    /// The rules' top-level paths, then these: ids from `first` on are these paths.
    trie: json::PathTrie,
    first: usize,
    /// The first value found at each path (a repeated key's later values are ignored).
    values: Vec<Option<Raw>>,
}

/// Where a top-level path's value is, in a record given as [`Parts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PartOf {
    Time,
    Stream,
    Log,
    /// Below a part, which is a string: missing.
    Inside,
    Members,
}

impl PartOf {
    fn of(path: &[String]) -> PartOf {
        let part = match path.first().map(String::as_str) {
            Some("time") => PartOf::Time,
            Some("stream") => PartOf::Stream,
            Some("log") => PartOf::Log,
            _ => return PartOf::Members,
        };
        if path.len() == 1 { part } else { PartOf::Inside }
    }
}

/// JSON whitespace, which serde_json skips around values.
fn trim_json_ws(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

impl View {
    pub(crate) fn new(plan: &Plan) -> View {
        View {
            top: vec![Slot::Missing; plan.top_paths.len()],
            sources: plan
                .sources
                .iter()
                .map(|s| SourceState {
                    parsed: Parsed::NotYet,
                    text: (Buf::Input, 0, 0),
                    access: AccessFields::default(),
                    nested: vec![Slot::Missing; s.nested_paths.len()],
                    level: None,
                })
                .collect(),
            decoded: Vec::new(),
            nested_buf: Vec::new(),
            json: json::Index::new(),
            nested_json: json::Index::new(),
            scanned: false,
            kind: RecordKind::Text,
            has_u_escape: None,
            parts: false,
            part_of: plan.top_paths.iter().map(|p| PartOf::of(p)).enumerate().filter(|(_, p)| *p != PartOf::Members).collect(),
            members_id: 0,
            members_top: Vec::new(),
            members_buf: Vec::new(),
            also: None,
        }
    }

    /// Reads `paths` too whenever a record is scanned, for [`View::also`].
    pub(crate) fn read_also(&mut self, plan: &Plan, paths: &[Vec<String>]) {
        let all: Vec<Vec<String>> = plan.top_paths.iter().chain(paths).cloned().collect();
        self.also = Some(Also { trie: json::PathTrie::new(&all), first: plan.top_paths.len(), values: vec![None; paths.len()] });
    }

    /// The first value at each path of [`View::read_also`] in the record scanned last, as the scanner
    /// reported it (ranges into that record); `None` unless it was read as a JSON object.
    pub(crate) fn also(&self) -> Option<&[Option<Raw>]> {
        let also = self.also.as_ref()?;
        (self.scanned && self.kind == RecordKind::Json && !self.parts).then_some(&also.values[..])
    }

    /// Forgets the previous record. O(fields), no allocation.
    pub(crate) fn reset(&mut self) {
        self.scanned = false;
        self.parts = false;
        self.has_u_escape = None;
        for s in &mut self.sources {
            s.parsed = Parsed::NotYet;
        }
    }

    pub(crate) fn has_u_escape(&mut self, input: &[u8]) -> bool {
        *self.has_u_escape.get_or_insert_with(|| memchr::memmem::find(input, b"\\u").is_some())
    }

    /// The record's JSON tokens (after [`View::kind`] or a field read on this record), when the fast
    /// scanner read it.
    pub(crate) fn tokens(&self) -> Option<json::Tokens<'_>> {
        if self.scanned && self.kind == RecordKind::Json && !self.parts { self.json.tokens() } else { None }
    }

    /// Holds the record `p` (a JSON object, as [`Parts::write_json`] writes it) in place of a scan: its
    /// parts as they are, its members as read when they were last seen. Fields are then read with
    /// `input` = `p.log`.
    pub(crate) fn load_parts(&mut self, plan: &Plan, p: &Parts<'_>) {
        self.reset();
        self.scanned = true;
        self.parts = true;
        self.kind = RecordKind::Json;
        self.decoded.clear();
        self.nested_buf.clear();
        if self.members_id != p.members.id() {
            self.read_members(plan, p.members);
        }
        // The members have none of the parts' keys: their slots there are missing, and the parts fill them.
        self.top.copy_from_slice(&self.members_top);
        for &(i, part) in &self.part_of {
            let mut put = |v: &str| {
                let from = self.decoded.len() as u32;
                self.decoded.extend_from_slice(v.as_bytes());
                Slot::Str(Buf::Decoded, from, self.decoded.len() as u32)
            };
            self.top[i] = match part {
                PartOf::Time => p.time.map_or(Slot::Missing, &mut put),
                PartOf::Stream => p.stream.map_or(Slot::Missing, &mut put),
                PartOf::Log => Slot::Str(Buf::Input, 0, p.log.len() as u32),
                PartOf::Inside | PartOf::Members => Slot::Missing,
            };
        }
    }

    /// Reads the top-level paths of `m` into `members_top`, their strings decoded into `members_buf`.
    fn read_members(&mut self, plan: &Plan, m: &Members) {
        self.members_id = m.id();
        self.members_buf.clear();
        self.members_top.clear();
        self.members_top.resize(plan.top_paths.len(), Slot::Missing);
        let (top, buf) = (&mut self.members_top, &mut self.members_buf);
        let object = m.object();
        let mut bad = false;
        // `Members::new` checked the object with serde_json, whose acceptance the scanner shares.
        let r = self.json.scan(object, &plan.top, &mut |id, raw| {
            top[id as usize] = match raw {
                Raw::Str { start, end, escaped } => {
                    let from = buf.len() as u32;
                    let body = &object[start as usize..end as usize];
                    if escaped {
                        bad |= json::unescape(body, buf).is_err();
                    } else {
                        buf.extend_from_slice(body);
                    }
                    Slot::Str(Buf::Members, from, buf.len() as u32)
                }
                Raw::Object { start, end } | Raw::Array { start, end } => {
                    let from = buf.len() as u32;
                    buf.extend_from_slice(&object[start as usize..end as usize]);
                    Slot::Container(Buf::Members, from, buf.len() as u32)
                }
                other => scalar(other),
            };
        });
        debug_assert!(r.is_ok() && !bad, "members that serde_json accepted were refused");
    }

    pub(crate) fn kind(&mut self, plan: &Plan, input: &[u8]) -> RecordKind {
        self.scan(plan, input);
        self.kind
    }

    /// One pass over the record: validates JSON and fills every wanted top-level path.
    #[inline]
    fn scan(&mut self, plan: &Plan, input: &[u8]) {
        if !self.scanned {
            self.scan_record(plan, input);
        }
    }

    #[inline(never)]
    fn scan_record(&mut self, plan: &Plan, input: &[u8]) {
        self.scanned = true;
        self.decoded.clear();
        // Shared by every parsed field of the record: each source appends, so one source's slots stay valid
        // after another is parsed.
        self.nested_buf.clear();
        self.top.iter_mut().for_each(|s| *s = Slot::Missing);
        let looks_json = trim_json_ws(input).first() == Some(&b'{');
        let ok = looks_json && {
            let top = &mut self.top;
            let decoded = &mut self.decoded;
            let mut bad_escape = false;
            let r = match &mut self.also {
                None => self.json.scan(input, &plan.top, &mut |id, raw| {
                    top[id as usize] = slot_of(raw, input, Buf::Input, decoded, &mut bad_escape);
                }),
                Some(Also { trie, first, values }) => {
                    values.iter_mut().for_each(|v| *v = None);
                    self.json.scan(input, trie, &mut |id, raw| match (id as usize).checked_sub(*first) {
                        None => top[id as usize] = slot_of(raw, input, Buf::Input, decoded, &mut bad_escape),
                        Some(i) => {
                            if let Some(v @ None) = values.get_mut(i)
                                && raw != Raw::Missing
                            {
                                *v = Some(raw);
                            }
                        }
                    })
                }
            };
            r.is_ok() && !bad_escape
        };
        if ok {
            self.kind = RecordKind::Json;
            return;
        }
        self.kind = if looks_json { RecordKind::InvalidJson } else { RecordKind::Text };
        // Not JSON: the record is `{"log": <line>}`, so `log` (and `_raw`) are all a rule can see.
        self.top.iter_mut().for_each(|s| *s = Slot::Missing);
        if let Some(i) = plan.top_paths.iter().position(|p| p.len() == 1 && p[0] == "log") {
            self.top[i] = Slot::Str(Buf::Input, 0, input.len() as u32);
        }
    }

    fn bytes<'a>(&'a self, input: &'a [u8], b: Buf, s: u32, e: u32) -> &'a [u8] {
        let buf = match b {
            Buf::Input => input,
            Buf::Decoded => &self.decoded,
            Buf::Nested => &self.nested_buf,
            Buf::Members => &self.members_buf,
        };
        buf.get(s as usize..e as usize).unwrap_or(&[])
    }

    fn value_of<'a>(&'a self, input: &'a [u8], s: Slot) -> Value<'a> {
        match s {
            Slot::Missing => Value::Missing,
            Slot::Null => Value::Null,
            Slot::Bool(b) => Value::Bool(b),
            Slot::Num(n) => Value::Num(n),
            Slot::Str(b, s, e) => Value::Str(self.bytes(input, b, s, e)),
            Slot::Static(s) => Value::Str(s.as_bytes()),
            Slot::Container(b, s, e) => Value::Container(self.bytes(input, b, s, e)),
        }
    }

    /// The value of a field, parsing what it needs on first use.
    pub(crate) fn get<'a>(&'a mut self, plan: &Plan, input: &'a [u8], f: FieldRef) -> Value<'a> {
        let slot = match f {
            FieldRef::Raw => return Value::Str(input),
            FieldRef::Top(i) => {
                self.scan(plan, input);
                self.top[i as usize]
            }
            FieldRef::Parsed { source, field } => {
                self.scan(plan, input);
                let src = &plan.sources[source as usize];
                if self.sources[source as usize].parsed == Parsed::NotYet {
                    self.parse_source(src, source as usize, input);
                }
                self.parsed_slot(src, source as usize, field as usize, input)
            }
        };
        self.value_of(input, slot)
    }

    fn parsed_slot(&self, src: &Source, si: usize, fi: usize, input: &[u8]) -> Slot {
        let st = &self.sources[si];
        let Parsed::By(kind) = st.parsed else { return Slot::Missing };
        let pf = &src.fields[fi];
        if pf.is_format {
            return Slot::Static(kind.name());
        }
        match kind {
            ParserKind::Access(_) => match pf.access {
                Some(a) => access_slot(&st.access, a, st.text),
                None => Slot::Missing,
            },
            ParserKind::Json => pf.nested.map_or(Slot::Missing, |i| st.nested[i as usize]),
            ParserKind::EnvoyJson => {
                let alias = pf.envoy_alias.map_or(Slot::Missing, |i| st.nested[i as usize]);
                let slot = match alias {
                    Slot::Missing => pf.nested.map_or(Slot::Missing, |i| st.nested[i as usize]),
                    s => s,
                };
                // Envoy writes `-` for an absent value in JSON logs too; an access field is then missing,
                // as it is in the text formats.
                match slot {
                    Slot::Str(b, s, e) if pf.access.is_some() && self.bytes(input, b, s, e) == b"-" => Slot::Missing,
                    s => s,
                }
            }
            ParserKind::App => {
                if pf.is_level {
                    st.level.map_or(Slot::Missing, |l| Slot::Static(l.name()))
                } else {
                    pf.nested.map_or(Slot::Missing, |i| st.nested[i as usize])
                }
            }
        }
    }

    // PERF: once per source and record, against several `get`s per record: kept out of `get`, whose
    // every call otherwise paid for this function's registers and stack.
    #[inline(never)]
    fn parse_source(&mut self, src: &Source, si: usize, input: &[u8]) {
        let raw = self.top[src.top as usize];
        let st = &mut self.sources[si];
        st.parsed = Parsed::Nothing;
        st.level = None;
        let (buf, s, e, is_str) = match raw {
            Slot::Str(b, s, e) => (b, s, e, true),
            Slot::Container(b, s, e) => (b, s, e, false),
            _ => return,
        };
        st.text = (buf, s, e);
        let text: &[u8] = match buf {
            Buf::Input => &input[s as usize..e as usize],
            Buf::Decoded => &self.decoded[s as usize..e as usize],
            Buf::Members => &self.members_buf[s as usize..e as usize],
            Buf::Nested => return,
        };
        // JSON parsers read the value as a JSON object at most once, whichever asks first.
        let mut json_state: Option<bool> = None;
        // The nginx formats share their head: parse it once for all of them (`access` lists all three).
        // `holds` says whether `st.access` still has the fields of that parse.
        let mut nginx_best: Option<Option<AccessFormat>> = None;
        let mut holds = false;
        for &kind in &src.parsers {
            let hit = match kind {
                ParserKind::Access(fmt) if is_str && fmt.is_nginx() => {
                    let best = match nginx_best {
                        Some(b) => b,
                        None => {
                            holds = true;
                            *nginx_best.insert(access::parse_nginx_best(text, &mut st.access))
                        }
                    };
                    match best {
                        Some(b) if b == fmt && holds => true,
                        // An ingress line is also a combined one (with fewer fields).
                        Some(b) if b == fmt || (b == AccessFormat::IngressNginx && fmt == AccessFormat::NginxCombined) => {
                            access::parse(fmt, text, &mut st.access)
                        }
                        _ => false,
                    }
                }
                ParserKind::Access(fmt) => {
                    holds = false;
                    is_str && access::parse(fmt, text, &mut st.access)
                }
                ParserKind::Json | ParserKind::EnvoyJson | ParserKind::App => {
                    let is_obj = *json_state.get_or_insert_with(|| {
                        scan_nested(&mut self.nested_json, src, text, buf, s, &mut st.nested, &mut self.nested_buf)
                    });
                    match kind {
                        ParserKind::Json => is_obj,
                        ParserKind::EnvoyJson => is_obj && src.envoy_marker.is_some_and(|m| st.nested[m as usize] != Slot::Missing),
                        _ => {
                            if is_obj {
                                st.level = src.level_keys.iter().find_map(|&k| match st.nested[k as usize] {
                                    Slot::Str(b, s0, e0) => {
                                        let bytes = match b {
                                            Buf::Input => &input[s0 as usize..e0 as usize],
                                            Buf::Decoded => &self.decoded[s0 as usize..e0 as usize],
                                            Buf::Nested => &self.nested_buf[s0 as usize..e0 as usize],
                                            Buf::Members => &self.members_buf[s0 as usize..e0 as usize],
                                        };
                                        level::normalize(bytes)
                                    }
                                    Slot::Num(n) => level::from_number(n),
                                    _ => None,
                                });
                                true
                            } else if is_str {
                                st.level = level::detect_text(text);
                                true
                            } else {
                                false
                            }
                        }
                    }
                }
            };
            if hit {
                st.parsed = Parsed::By(kind);
                return;
            }
        }
    }
}

/// Scans a source's text as a JSON object into its nested slots. Returns whether it was a valid object.
/// Decoded strings are appended to `out`, which holds those of the record's other parsed fields too.
fn scan_nested(
    index: &mut json::Index,
    src: &Source,
    text: &[u8],
    buf: Buf,
    base: u32,
    nested: &mut [Slot],
    out: &mut Vec<u8>,
) -> bool {
    nested.iter_mut().for_each(|s| *s = Slot::Missing);
    if trim_json_ws(text).first() != Some(&b'{') {
        return false;
    }
    let mut bad = false;
    let ok = index.scan(text, &src.nested, &mut |id, raw| {
        nested[id as usize] = match raw {
            Raw::Str { start, end, escaped: false } => Slot::Str(buf, base + start, base + end),
            Raw::Object { start, end } | Raw::Array { start, end } => Slot::Container(buf, base + start, base + end),
            Raw::Str { start, end, escaped: true } => {
                let from = out.len() as u32;
                if json::unescape(&text[start as usize..end as usize], out).is_err() {
                    bad = true;
                }
                Slot::Str(Buf::Nested, from, out.len() as u32)
            }
            other => scalar(other),
        };
    })
    .is_ok();
    if !ok || bad {
        nested.iter_mut().for_each(|s| *s = Slot::Missing);
        return false;
    }
    true
}

fn scalar(raw: Raw) -> Slot {
    match raw {
        Raw::Null => Slot::Null,
        Raw::Bool(b) => Slot::Bool(b),
        Raw::Num(n) => Slot::Num(n),
        _ => Slot::Missing,
    }
}

fn slot_of(raw: Raw, input: &[u8], buf: Buf, decoded: &mut Vec<u8>, bad: &mut bool) -> Slot {
    match raw {
        Raw::Str { start, end, escaped: false } => Slot::Str(buf, start, end),
        Raw::Str { start, end, escaped: true } => {
            let from = decoded.len() as u32;
            if json::unescape(&input[start as usize..end as usize], decoded).is_err() {
                *bad = true;
            }
            Slot::Str(Buf::Decoded, from, decoded.len() as u32)
        }
        Raw::Object { start, end } | Raw::Array { start, end } => Slot::Container(buf, start, end),
        other => scalar(other),
    }
}

fn access_slot(a: &AccessFields, f: AccessField, (buf, base, _): (Buf, u32, u32)) -> Slot {
    let r = |r: Option<access::Range>| r.map_or(Slot::Missing, |(s, e)| Slot::Str(buf, base + s, base + e));
    let n = |v: Option<f64>| v.map_or(Slot::Missing, Slot::Num);
    match f {
        AccessField::Client => r(a.client),
        AccessField::User => r(a.user),
        AccessField::Time => r(a.time),
        AccessField::Method => r(a.method),
        AccessField::Path => r(a.path),
        AccessField::Protocol => r(a.protocol),
        AccessField::Status => n(a.status.map(f64::from)),
        AccessField::Bytes => n(a.bytes.map(|b| b as f64)),
        AccessField::BytesReceived => n(a.bytes_received.map(|b| b as f64)),
        AccessField::Duration => n(a.duration_ms),
        AccessField::Referer => r(a.referer),
        AccessField::UserAgent => r(a.user_agent),
        AccessField::ForwardedFor => r(a.forwarded_for),
        AccessField::RequestId => r(a.request_id),
        AccessField::Authority => r(a.authority),
        AccessField::Upstream => r(a.upstream),
        AccessField::UpstreamStatus => r(a.upstream_status),
        AccessField::ResponseFlags => r(a.response_flags),
        AccessField::UpstreamCluster => r(a.upstream_cluster),
        AccessField::RouteName => r(a.route_name),
    }
}

use std::io::Read;

use super::select::{Filter, Selection};
use super::*;
use crate::record::parts::{Members, Parts};
use crate::run::pipeline::{Options, Pipeline, Sink};
use crate::{Action, Priority};

const RULES: &str = r#"
name: t
parse:
  log: [access, app]
rules:
  - name: drop-debug
    when: log.level == "debug"
    action: drop
  - name: sample-2xx
    when: log.status in 200..299
    action: sample
    rate: 10%
    key: log.request_id
"#;

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(b).read_to_string(&mut s).unwrap();
    s
}

fn drop_by(rules: &RuleSet, rule: &str) -> Decision {
    Decision { action: Action::Drop, rule: rules.rule_id(rule).unwrap(), priority: Priority::Normal }
}

fn access(i: usize, status: u16, ns: &str) -> String {
    format!(
        r#"{{"time":"2026-11-22T10:{:02}:{:02}Z","log":"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] \"GET /x HTTP/1.1\" {status} 5 \"-\" \"curl\" 100 0.1 [u] [] 1.1.1.1:80 5 0.1 {status} req-{i}","kubernetes":{{"namespace_name":"{ns}","container_name":"c{}","pod_name":"p"}}}}"#,
        (i / 60) % 60,
        i % 60,
        i % 3
    )
}

fn all_objects(a: &mut Archive) -> Vec<Object> {
    a.seal_all();
    std::iter::from_fn(|| a.pop()).collect()
}

#[test]
fn lines_partitions_and_index() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let mut a = Archive::new(&rules, ArchiveOptions { writer: "w 1".into(), ..ArchiveOptions::default() });
    let d = drop_by(&rules, "sample-2xx");
    for i in 0..40 {
        let line = access(i, 200, if i % 2 == 0 { "shop" } else { "/aws/x" });
        let at = Origin { source: "in.jsonl", position: Some(i as u64), time_ms: None };
        assert!(matches!(a.add_not_sent(Record::Line(line.as_bytes()), d, NotSent::Dropped, &at), Added::To(_)));
    }
    // A text line without a time of its own or a source: the origin's time, `source=_none`.
    let at = Origin { source: "", position: None, time_ms: Some(1_795_345_200_000) };
    a.add(Record::Line(b"plain \"text\""), drop_by(&rules, "drop-debug"), Reason::Dropped, &at);
    let objects = all_objects(&mut a);
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "dt=2026-11-22/hour=10/source=shop/w_1-00000001.ndjson.gz",
            "dt=2026-11-22/hour=10/source=%2Faws%2Fx/w_1-00000002.ndjson.gz",
            "dt=2026-11-22/hour=11/source=_none/w_1-00000003.ndjson.gz"
        ]
    );
    let shop = &objects[0];
    assert_eq!(shop.index_key, "dt=2026-11-22/hour=10/source=shop/w_1-00000001.index.json");
    let text = gunzip(&shop.body);
    assert_eq!(text.lines().count(), 20);
    assert_eq!(shop.index.records, 20);
    assert_eq!(shop.index.bytes, text.len() as u64);
    assert_eq!(shop.index.reasons.get("sampled"), Some(&20));
    assert_eq!(shop.index.rules.get("sample-2xx"), Some(&20));
    assert_eq!(shop.index.source.as_deref(), Some("shop"));
    assert_eq!((shop.index.time_min, shop.index.time_max), (1_795_341_600_000, 1_795_341_638_000));
    assert_eq!(shop.index.fields["kubernetes.container_name"], index::ValueSet::Values(vec!["c0".into(), "c1".into(), "c2".into()]));
    // The sample rule's key is indexed by default.
    assert!(shop.index.fields["log.request_id"].may_contain("req-0") && !shop.index.fields["log.request_id"].may_contain("req-1"));
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["reason"], "sampled");
    assert_eq!(first["rule"], "sample-2xx");
    assert_eq!(first["action"], "drop");
    assert_eq!(first["origin"], "in.jsonl");
    assert_eq!(first["position"], 0);
    assert_eq!(first["time"], 1_795_341_600_000_i64);
    assert_eq!(first["record"], serde_json::from_str::<serde_json::Value>(&access(0, 200, "shop")).unwrap());
    let none = gunzip(&objects[2].body);
    let l = ArchivedLine::parse(none.trim_end().as_bytes()).unwrap();
    assert_eq!(&*l.record_bytes(), b"plain \"text\"");
    assert_eq!((l.time, l.origin.as_deref()), (1_795_345_200_000, None));
    assert_eq!(a.counters().records[Reason::Sampled.index()], 40);
    assert_eq!(a.counters().archived(), 41);
}

#[test]
fn ids_are_stable_and_tell_positions_apart() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let d = drop_by(&rules, "drop-debug");
    let ids = |positions: &[Option<u64>], source: &str| {
        let mut a = Archive::new(&rules, ArchiveOptions::default());
        for p in positions {
            a.add(Record::Line(b"{\"log\":\"same\"}"), d, Reason::Dropped, &Origin { source, position: *p, time_ms: Some(0) });
        }
        let objects = all_objects(&mut a);
        gunzip(&objects[0].body).lines().map(|l| ArchivedLine::parse(l.as_bytes()).unwrap().id.into_owned()).collect::<Vec<_>>()
    };
    let a = ids(&[Some(1), Some(2), None], "f");
    assert_eq!(a, ids(&[Some(1), Some(2), None], "f"), "the same record from the same place: the same id");
    assert_ne!(a[0], a[1], "two positions: two records");
    assert_ne!(a[0], ids(&[Some(1)], "g")[0], "another source");
    assert!(a.iter().all(|id| line::EventId::parse(id).is_some()));
}

#[test]
fn parts_are_archived_as_their_json_text() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let d = drop_by(&rules, "drop-debug");
    let members = Members::new(br#"{"kubernetes":{"namespace_name":"shop","container_name":"api"}}"#).unwrap();
    let parts = Parts { time: Some("2026-11-22T10:00:00.5Z"), stream: Some("stdout"), log: "level=debug \"x\"", members: &members };
    let mut json = Vec::new();
    parts.write_json(&mut json);
    let origin = Origin { source: "f.log", position: Some(7), time_ms: None };
    let mut lines = Vec::new();
    for r in [Record::Parts(&parts), Record::Line(&json)] {
        let mut a = Archive::new(&rules, ArchiveOptions::default());
        a.add(r, d, Reason::Dropped, &origin);
        let o = all_objects(&mut a).remove(0);
        assert_eq!(o.key, "dt=2026-11-22/hour=10/source=shop/logtrim-00000001.ndjson.gz");
        assert_eq!(o.index.fields["kubernetes.container_name"], index::ValueSet::Values(vec!["api".into()]));
        lines.push(gunzip(&o.body));
    }
    assert_eq!(lines[0], lines[1]);
}

#[test]
fn objects_are_bounded_in_size_and_number() {
    let yaml = format!("{RULES}archive:\n  object_size: 64KiB\n");
    let rules = RuleSet::from_yaml("r.yaml", &yaml).unwrap();
    let d = drop_by(&rules, "sample-2xx");
    let mut a = Archive::new(&rules, ArchiveOptions { max_open: 2, ..ArchiveOptions::default() });
    let mut max_open = 0;
    for i in 0..3000 {
        let line = access(i, 204, ["a", "b", "c"][i % 3]);
        a.add(Record::Line(line.as_bytes()), d, Reason::Sampled, &Origin::default());
        max_open = max_open.max(a.open().0);
        assert!(a.open().1 < 64 * 1024 * 2);
    }
    assert_eq!(max_open, 2);
    let objects = all_objects(&mut a);
    let mut total = 0;
    for o in &objects {
        assert!(o.index.bytes < 64 * 1024 + 1024, "{}", o.index.bytes);
        total += o.index.records;
        assert_eq!(gunzip(&o.body).lines().count() as u64, o.index.records);
    }
    assert_eq!(total, 3000);
    // Sequence numbers are unique, and each record was told the object it went into.
    let mut seqs: Vec<u64> = objects.iter().map(|o| o.seq).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), objects.len());
}

/// An object of many chunks is several gzip members, which a multi-member reader (replay's) reads as one
/// stream and a single-member reader would cut short; at the encoder's level (1) and zlib-rs's.
#[test]
fn objects_are_gzip_members_of_bounded_chunks_read_back_whole() {
    for level in [1, 3, 9] {
        let yaml = format!("{RULES}archive:\n  gzip_level: {level}\n");
        let rules = RuleSet::from_yaml("r.yaml", &yaml).unwrap();
        let d = drop_by(&rules, "sample-2xx");
        let mut a = Archive::new(&rules, ArchiveOptions::default());
        let mut lines = Vec::new();
        let mut i = 0;
        while lines.iter().map(|l: &String| l.len()).sum::<usize>() < 3 * object::CHUNK + 1000 {
            lines.push(access(i, 204, "shop"));
            i += 1;
        }
        for (i, line) in lines.iter().enumerate() {
            let at = Origin { source: "f", position: Some(i as u64), time_ms: None };
            a.add(Record::Line(line.as_bytes()), d, Reason::Sampled, &at);
        }
        let objects = all_objects(&mut a);
        assert_eq!(objects.len(), 1, "level {level}");
        let o = &objects[0];
        let text = gunzip(&o.body);
        assert_eq!(text.len() as u64, o.index.bytes, "level {level}");
        assert_eq!(o.index.compressed_bytes, o.body.len() as u64);
        let back: Vec<String> = text.lines().map(|l| String::from_utf8(ArchivedLine::parse(l.as_bytes()).unwrap().record_bytes().into_owned()).unwrap()).collect();
        assert!(back == lines, "level {level}: {} lines of {} came back", back.len(), lines.len());
        let mut first = String::new();
        flate2::read::GzDecoder::new(&o.body[..]).read_to_string(&mut first).unwrap();
        assert!(first.len() >= object::CHUNK && first.len() < text.len(), "level {level}: the first member holds {} bytes of {}", first.len(), text.len());
        assert!(o.body.len() * 4 < text.len(), "level {level}: {} bytes of {}", o.body.len(), text.len());
    }
}

/// With `max_open_bytes`, what the open objects hold never passes it: the largest is sealed early, and
/// every record is still in exactly one object.
#[test]
fn open_objects_hold_at_most_max_open_bytes() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let d = drop_by(&rules, "sample-2xx");
    let max = 1_500_000;
    let mut a = Archive::new(&rules, ArchiveOptions { max_open_bytes: Some(max), ..ArchiveOptions::default() });
    let n = 40_000;
    for i in 0..n {
        let line = access(i, 204, ["a", "b", "c", "d"][i % 4]);
        a.add(Record::Line(line.as_bytes()), d, Reason::Sampled, &Origin { source: "f", position: Some(i as u64), time_ms: None });
        assert!(a.open_bytes() <= max, "{} bytes open after line {i}", a.open_bytes());
    }
    let objects = all_objects(&mut a);
    // Without the bound the four partitions would be four objects.
    assert!(objects.len() > 4, "{} objects", objects.len());
    assert_eq!(objects.iter().map(|o| o.index.records).sum::<u64>(), n as u64);
    let lines: usize = objects.iter().map(|o| gunzip(&o.body).lines().count()).sum();
    assert_eq!(lines, n);
}

#[test]
fn archive_section_errors_are_positioned() {
    let bad = format!("{RULES}archive:\n  include: [droped, kept]\n  gzip_level: 12\n  object_size: 1KiB\n");
    let e = RuleSet::from_yaml("r.yaml", &bad).unwrap_err().to_string();
    for want in [
        "r.yaml:15:13: unknown reason \"droped\" in archive.include",
        "did you mean \"dropped\"?",
        "r.yaml:16:15: archive.gzip_level 12 is outside 1..9",
        "r.yaml:17:16: archive.object_size 1024 B is outside 64KiB..4GiB",
    ] {
        assert!(e.contains(want), "{want:?} not in\n{e}");
    }
    // Fields are checked against the `parse:` section, as rule fields are.
    let bad = "parse:\n  log: [nginx_combined]\narchive:\n  index: [log.stauts]\n";
    let e = RuleSet::from_yaml("r.yaml", bad).unwrap_err().to_string();
    assert!(e.starts_with("r.yaml:4:11: unknown field \"log.stauts\""), "{e}");
    let rules = RuleSet::from_yaml("r.yaml", &format!("{RULES}archive:\n  include: [shed, kept]\n")).unwrap();
    let a = Archive::new(&rules, ArchiveOptions::default());
    assert!(a.includes(Reason::Kept) && a.includes(Reason::Shed) && !a.includes(Reason::Dropped));
    assert!(!a.keeps_drops_of(rules.rule_id("drop-debug").unwrap()));
}

#[test]
fn summaries_say_where_their_records_are() {
    let yaml = "rules:\n  - name: drop-debug\n    when: level == \"debug\"\n    action: drop\n    summarize: {by: [app]}\n";
    let rules = RuleSet::from_yaml("s.yaml", yaml).unwrap();
    struct Lines(Vec<u8>);
    impl Sink for Lines {
        fn out(&mut self) -> &mut Vec<u8> {
            &mut self.0
        }
    }
    let archive = Archive::new(&rules, ArchiveOptions::default());
    let mut p = Pipeline::new(&rules, Options { encoding: crate::Encoding::Lines, ..Options::default() });
    p.archive_summaries_at(&archive, "s3://b/p/");
    let mut out = Lines(Vec::new());
    p.push(r#"{"time":"2026-11-22T10:00:05Z","level":"debug","app":"web"}"#, crate::budget::Timestamp::UNIX_EPOCH, &mut out);
    p.flush_summaries(None, &mut out);
    let v: serde_json::Value = serde_json::from_slice(&out.0).unwrap();
    assert_eq!(v["logtrim_summary"]["archive"], "s3://b/p/dt=2026-11-22/hour=10/");
    // Not archived: no member.
    let rules2 = RuleSet::from_yaml("s.yaml", &format!("{yaml}archive:\n  include: [shed]\n")).unwrap();
    let mut p = Pipeline::new(&rules2, Options { encoding: crate::Encoding::Lines, ..Options::default() });
    p.archive_summaries_at(&Archive::new(&rules2, ArchiveOptions::default()), "s3://b/p");
    let mut out = Lines(Vec::new());
    p.push(r#"{"time":"2026-11-22T10:00:05Z","level":"debug","app":"web"}"#, crate::budget::Timestamp::UNIX_EPOCH, &mut out);
    p.flush_summaries(None, &mut out);
    assert!(!String::from_utf8_lossy(&out.0).contains("archive"));
}

#[test]
fn selections_and_index_pruning() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let mut a = Archive::new(&rules, ArchiveOptions::default());
    for i in 0..200 {
        let (rule, status) = if i % 4 == 0 { ("drop-debug", 500) } else { ("sample-2xx", 200) };
        let line = access(i, status, "shop");
        a.add(Record::Line(line.as_bytes()), drop_by(&rules, rule), if rule == "drop-debug" { Reason::Dropped } else { Reason::Sampled }, &Origin::default());
    }
    let o = all_objects(&mut a).remove(0);
    let text = gunzip(&o.body);
    let lines: Vec<ArchivedLine<'_>> = text.lines().map(|l| ArchivedLine::parse(l.as_bytes()).unwrap()).collect();
    let count = |sel: &mut Selection| lines.iter().filter(|l| sel.matches(l)).count();
    let filter = |e: &str| Some(Filter::compile(e, Some(("r.yaml", RULES))).unwrap());
    let mut s = Selection { filter: filter("log.status >= 500"), ..Selection::default() };
    assert_eq!(count(&mut s), 50);
    assert!(s.may_match(&o.index));
    let mut s = Selection { filter: filter(r#"log.request_id == "req-7" or log.request_id in ["req-9"]"#), ..Selection::default() };
    assert_eq!(count(&mut s), 2);
    assert!(s.may_match(&o.index));
    let s = Selection { filter: filter(r#"log.request_id == "req-100000" and log.status == 200"#), ..Selection::default() };
    assert!(!s.may_match(&o.index), "no such request id in the object");
    let mut s = Selection { rules: vec!["drop-debug".into()], from_ms: Some(1_795_341_600_000 + 10_000), to_ms: Some(1_795_341_600_000 + 20_000), ..Selection::default() };
    assert_eq!(count(&mut s), 2, "seconds 10..19, every fourth");
    assert!(s.may_match(&o.index));
    let s = Selection { from_ms: Some(o.index.time_max + 1), ..Selection::default() };
    assert!(!s.may_match(&o.index));
    let s = Selection { rules: vec!["nope".into()], ..Selection::default() };
    assert!(!s.may_match(&o.index));
    // A mistake in the condition is positioned in it.
    let e = Filter::compile("log.stauts == 1", Some(("r.yaml", "parse:\n  log: [nginx_combined]\n"))).err().unwrap().to_string();
    assert!(e.starts_with("--where:1:1: unknown field \"log.stauts\""), "{e}");
    let e = Filter::compile("log.status >= ", None).err().unwrap().to_string();
    assert!(e.starts_with("--where:1:"), "{e}");
}

#[test]
fn a_source_named_by_the_front_end_files_every_record_under_it_and_indexes_the_partition_fields() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let d = drop_by(&rules, "sample-2xx");
    let mut a = Archive::new(&rules, ArchiveOptions { source: Some("stream-1".into()), ..ArchiveOptions::default() });
    for i in 0..30 {
        a.add(Record::Line(access(i, 200, ["shop", "pay", "web"][i % 3]).as_bytes()), d, Reason::Sampled, &Origin::default());
    }
    let objects = all_objects(&mut a);
    // One hour, one named source: one object, whatever the records' namespaces.
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].key, "dt=2026-11-22/hour=10/source=stream-1/logtrim-00000001.ndjson.gz");
    assert_eq!(objects[0].index.records, 30);
    let ns = &objects[0].index.fields["kubernetes.namespace_name"];
    assert_eq!(*ns, index::ValueSet::Values(vec!["pay".into(), "shop".into(), "web".into()]));
    // A record of another hour still goes to its own hour's partition.
    let other = access(0, 200, "shop").replace("T10:", "T11:");
    a.add(Record::Line(other.as_bytes()), d, Reason::Sampled, &Origin::default());
    assert_eq!(all_objects(&mut a)[0].key, "dt=2026-11-22/hour=11/source=stream-1/logtrim-00000002.ndjson.gz");
    // Without a named source the namespace is the partition, not an index field.
    let mut a = Archive::new(&rules, ArchiveOptions::default());
    a.add(Record::Line(access(0, 200, "shop").as_bytes()), d, Reason::Sampled, &Origin::default());
    assert!(!all_objects(&mut a)[0].index.fields.contains_key("kubernetes.namespace_name"));
}

#[test]
fn ids_hash_the_origin_position_and_record_as_documented() {
    let rules = RuleSet::from_yaml("r.yaml", RULES).unwrap();
    let d = drop_by(&rules, "drop-debug");
    let mut a = Archive::new(&rules, ArchiveOptions::default());
    let records: [&[u8]; 3] = [b"{\"log\":\"x\", \"n\": -1}", b"text \"line\"", b"{}"];
    let origins = [
        Origin { source: "f.log", position: Some(u64::MAX), time_ms: Some(-1_500) },
        Origin { source: "", position: None, time_ms: Some(0) },
        Origin { source: "g", position: Some(0), time_ms: Some(i64::MAX / 2) },
    ];
    for (r, o) in records.iter().zip(&origins) {
        a.add(Record::Line(r), d, Reason::Dropped, o);
    }
    let mut lines = Vec::new();
    for o in all_objects(&mut a) {
        lines.extend(gunzip(&o.body).lines().map(str::to_string));
    }
    lines.sort_by_key(|l| ArchivedLine::parse(l.as_bytes()).unwrap().time);
    for (line, o) in lines.iter().zip(&origins) {
        let l = ArchivedLine::parse(line.as_bytes()).unwrap();
        // The documented id, by a streaming hasher fed the pieces one at a time.
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&(o.source.len() as u64).to_le_bytes());
        h.update(o.source.as_bytes());
        match o.position {
            Some(p) => {
                h.update(&[1]);
                h.update(&p.to_le_bytes());
            }
            None => h.update(&[0]),
        }
        h.update(l.record.get().as_bytes());
        assert_eq!(l.event_id(), Some(line::EventId(h.digest128())), "{line}");
        // Numbers as Rust writes them.
        assert_eq!(l.time, o.time_ms.unwrap(), "{line}");
        assert!(line.contains(&format!("\"time\":{},", o.time_ms.unwrap())), "{line}");
        assert_eq!(l.position, o.position, "{line}");
    }
}

/// A pipeline deciding with the archive's plan hands the archive what deciding read
/// ([`Pipeline::read_for_archive`], [`Archive::add_seen`]): the archive is line for line what the
/// archive's own view reads, and the decisions and counts are the rule set's.
#[test]
fn what_deciding_read_archives_as_the_archive_reading_alone() {
    let rules = RuleSet::from_yaml("r.yaml", &format!("{RULES}  - name: errors\n    when: log.status >= 500\n    action: keep\n  - name: drop-404\n    when: log.status == 404\n    action: drop\n    summarize: {{by: [kubernetes.namespace_name, log.method]}}\n")).unwrap();
    struct Out {
        events: Vec<u8>,
        archive: Archive,
        seen: bool,
        n: u64,
    }
    impl Sink for Out {
        fn out(&mut self) -> &mut Vec<u8> {
            &mut self.events
        }
        // Every third kept record is shed: archived from the kept path too.
        fn admit(&mut self, _: Priority, _: u64) -> bool {
            self.n += 1;
            !self.n.is_multiple_of(3)
        }
        fn not_sent(&mut self, record: Record<'_>, decision: Decision, why: NotSent) {
            self.archive.add_not_sent(record, decision, why, &Origin { source: "in", position: Some(self.n), time_ms: Some(5) });
        }
        fn not_sent_seen(&mut self, record: Record<'_>, decision: Decision, why: NotSent, seen: &mut crate::Seen<'_, '_, '_>) {
            if !self.seen {
                return self.not_sent(record, decision, why);
            }
            self.archive.add_seen(record, decision, why, &Origin { source: "in", position: Some(self.n), time_ms: Some(5) }, seen);
        }
    }
    let members = Members::new(br#"{"kubernetes":{"namespace_name":"web","container_name":"nginx","pod_name":"w-1"}}"#).unwrap();
    let run = |seen: bool| {
        let mut out = Out { events: Vec::new(), archive: Archive::new(&rules, ArchiveOptions::default()), seen, n: 0 };
        let mut p = Pipeline::new(&rules, Options::default());
        if seen {
            p.read_for_archive(&out.archive);
        }
        let mut decisions = Vec::new();
        for i in 0..300 {
            let status = [200, 201, 404, 503, 200][i % 5];
            let line = access(i, status, ["shop", "web"][i % 2]);
            decisions.push(p.push(line.as_str(), crate::budget::Timestamp::UNIX_EPOCH, &mut out));
            let log = format!("1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] \"POST /y HTTP/1.1\" {status} 5 \"-\" \"curl\" 100 0.1 [u] [] 1.1.1.1:80 5 0.1 {status} part-{i}");
            let parts = Parts { time: Some("2026-11-22T11:00:00.5Z"), stream: Some("stdout"), log: &log, members: &members };
            decisions.push(p.push(&parts, crate::budget::Timestamp::UNIX_EPOCH, &mut out));
            decisions.push(p.push(format!("plain text {i}").as_str(), crate::budget::Timestamp::UNIX_EPOCH, &mut out));
        }
        p.flush_summaries(None, &mut out);
        let objects: Vec<(String, String, ObjectIndex)> = all_objects(&mut out.archive).into_iter().map(|o| (o.key.clone(), gunzip(&o.body), o.index)).collect();
        (decisions, out.events, p.counters().total(), objects)
    };
    let (alone, seen) = (run(false), run(true));
    assert_eq!(alone.0, seen.0, "decisions");
    assert_eq!(alone.1, seen.1, "events");
    assert_eq!(alone.2, seen.2, "counts");
    assert_eq!(alone.3, seen.3, "archive objects");
    let archived: u64 = seen.3.iter().map(|o| o.2.records).sum();
    let reasons: std::collections::BTreeSet<&String> = seen.3.iter().flat_map(|o| o.2.reasons.keys()).collect();
    assert!(archived > 300 && reasons.len() == 3, "{archived} {reasons:?}");
    assert!(seen.3.iter().any(|o| matches!(o.2.fields.get("log.request_id"), Some(index::ValueSet::Bloom(_)))), "request ids indexed");
}

//! Budget behaviour with a controllable clock: every `now` is a literal or a step from one.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::RuleSet;
use crate::primitives::Priority::{self, Critical, High, Low, Normal};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn spec(limit: u64, chunk: u64, zone: &str) -> BudgetSpec {
    BudgetSpec { chunk, pacing: false, name: "test".into(), ..BudgetSpec::new(limit, LicenseZone::new(zone).unwrap()) }
}

// ---- the rule file section -------------------------------------------------------------------------

#[test]
fn budget_section_parses_with_defaults_and_overrides() {
    let rules = RuleSet::from_yaml(
        "f.yaml",
        "name: k8s\nbudget:\n  limit: 4GB\n  time_zone: America/New_York\n  shed: {low: 70%, normal: 0.9}\n  chunk: 8MB\n  fallback_share: 25%\n  pacing: false\n",
    )
    .unwrap();
    let b = rules.budget().unwrap();
    assert_eq!(b.name, "k8s");
    assert_eq!(b.limit, 4 * GB);
    assert_eq!(b.zone.name(), "America/New_York");
    assert_eq!(b.shed, Thresholds { low: 0.7, normal: 0.9, high: 1.0 });
    assert_eq!((b.chunk, b.fallback_share, b.pacing), (8 * MB, 0.25, false));

    let b = RuleSet::from_yaml("f.yaml", "budget: {name: fleet, limit: 4GiB, time_zone: UTC}\n").unwrap();
    let b = b.budget().unwrap();
    assert_eq!((b.name.as_str(), b.limit, b.chunk, b.pacing), ("fleet", 4 * GIB, 4 * GIB / 1000, true));
    assert_eq!(b.shed, Thresholds::default());
    assert!(RuleSet::from_yaml("f.yaml", "rules: []\n").unwrap().budget().is_none());
}

fn errors(yaml: &str) -> (Vec<String>, String) {
    let e = RuleSet::from_yaml("f.yaml", yaml).unwrap_err();
    (e.headlines(), e.to_string())
}

#[test]
fn budget_errors_are_positioned_with_hints() {
    let (h, full) = errors(
        "budget:\n  limit: 4XB\n  time_zone: America/NewYork\n  shed:\n    lo: 80%\n    normal: 120%\n    critical: 100%\n",
    );
    assert_eq!(
        h,
        [
            "f.yaml:2:10: daily limit: unknown size unit \"XB\" in \"4XB\"",
            "f.yaml:3:14: unknown time zone \"America/NewYork\"",
            "f.yaml:5:5: unknown priority \"lo\"",
            "f.yaml:6:13: shed threshold for normal: share 120% is outside 0–100%",
            "f.yaml:7:5: critical is never shed",
        ],
        "{full}"
    );
    assert!(full.contains("hint: write a number and a unit: B, KB, MB, GB, TB"), "{full}");
    assert!(full.contains("did you mean \"America/New_York\"?"), "{full}");
    assert!(full.contains("did you mean \"low\"?"), "{full}");
    assert!(full.contains("2 |   limit: 4XB\n  |          ^^^"), "{full}");

    let (h, full) = errors("budget:\n  limit: 4GB\n  time_zone: UTC\n  shed: {low: 96%, normal: 95%}\n");
    assert_eq!(h, ["f.yaml:4:28: shed thresholds out of order: normal is shed at 95% but low at 96%"], "{full}");
    assert!(full.contains("low ≤ normal ≤ high"), "{full}");

    let (h, full) = errors("budget:\n  limit: 4GB\n  shed: {high: 90%}\n");
    assert_eq!(
        h,
        [
            "f.yaml:2:3: budget needs a `time_zone`",
            "f.yaml:3:16: shed thresholds out of order: high is shed at 90% but normal at 95%",
        ],
        "{full}"
    );
    assert!(full.contains("America/New_York"), "{full}");

    let (h, full) = errors("budget: {time_zone: UTC, limt: 4GB}\n");
    assert_eq!(h, ["f.yaml:1:26: unknown key \"limt\" in `budget`"]);
    assert!(full.contains("hint: did you mean \"limit\"? `budget` accepts: name, limit, time_zone"), "{full}");
    let (h, _) = errors("budget: {time_zone: UTC, limit: 4GB, chunk: 5GB, fallback_share: 0}\n");
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h[0].ends_with("lease chunk is larger than the daily limit"), "{h:?}");
    assert!(h[1].ends_with("fallback share is 0%"), "{h:?}");
}

// ---- day rollover ----------------------------------------------------------------------------------

/// Spends before and after local midnight; checks the day key, the reset, and that the old day's bytes reach
/// the store under the old day's key.
fn rollover(zone: &str, before: &str, after: &str, old_day: &str, new_day: &str) {
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(spec(10 * MB, 100 * KB, zone), t(before));
    assert_eq!(acc.admit_with(t(before), Normal, 150 * KB, &mut store), Admission::Keep);
    assert_eq!(acc.status(t(before)).day.key(), old_day);
    // 150 KB spent, 100 KB leased + 50 KB owed: the debt goes to yesterday when the day turns.
    assert_eq!(acc.admit(t(after), Normal, 1000), Admission::Keep);
    let st = acc.status(t(after));
    assert_eq!(st.day.key(), new_day, "{zone}");
    assert_eq!(st.spent_local, 1000);
    acc.sync(t(after), &mut store);
    let key = |d: &str| LeaseKey { budget: "test".into(), day: d.into() };
    assert_eq!(
        store.totals(&key(old_day)),
        Totals { counted: 150 * KB, kept: 150 * KB },
        "{zone}: yesterday's bytes are counted under yesterday"
    );
    assert_eq!(store.totals(&key(new_day)), Totals { counted: 100 * KB + 1000, kept: 1000 }, "{zone}");
}

#[test]
fn day_rolls_over_at_local_midnight_in_several_zones() {
    rollover("UTC", "2026-06-30T23:59:59Z", "2026-07-01T00:00:00Z", "2026-06-30", "2026-07-01");
    rollover("Asia/Kolkata", "2026-06-30T18:29:59Z", "2026-06-30T18:30:00Z", "2026-06-30", "2026-07-01");
    rollover("America/Los_Angeles", "2026-07-01T06:59:59Z", "2026-07-01T07:00:00Z", "2026-06-30", "2026-07-01");
    // New York on the spring-forward day: 23 hours, so the next midnight is 04:00Z, not 05:00Z.
    rollover("America/New_York", "2026-03-09T03:59:59Z", "2026-03-09T04:00:00Z", "2026-03-08", "2026-03-09");
    // ... and on the fall-back day: 25 hours.
    rollover("America/New_York", "2026-11-02T04:59:59Z", "2026-11-02T05:00:00Z", "2026-11-01", "2026-11-02");
    rollover("Europe/Berlin", "2026-03-28T22:59:59Z", "2026-03-28T23:00:00Z", "2026-03-28", "2026-03-29");
}

#[test]
fn a_23_hour_day_paces_against_23_hours() {
    let z = LicenseZone::new("America/New_York").unwrap();
    let day = z.day(t("2026-03-08T17:00:00Z"));
    assert_eq!(day.length(), SignedDuration::from_hours(23));
    // Noon local on the short day: 11 hours have passed, 12 remain.
    assert_eq!(day.elapsed(t("2026-03-08T16:00:00Z")), SignedDuration::from_hours(11));
    assert_eq!(day.remaining(t("2026-03-08T16:00:00Z")), SignedDuration::from_hours(12));
}

// ---- thresholds ------------------------------------------------------------------------------------

/// Offers 1 KB records of `p` until one is shed; returns the bytes spent when it first was.
fn spent_when_shed(shed: Thresholds, p: Priority) -> u64 {
    let now = t("2026-05-04T12:00:00Z");
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(BudgetSpec { shed, ..spec(1000 * KB, 10 * KB, "UTC") }, now);
    for _ in 0..2000 {
        if acc.admit_with(now, p, KB, &mut store) == Admission::Shed {
            return acc.status(now).spent;
        }
    }
    panic!("{p:?} never shed")
}

#[test]
fn each_priority_is_shed_at_its_threshold() {
    let d = Thresholds::default();
    assert_eq!(spent_when_shed(d, Low), 800 * KB);
    assert_eq!(spent_when_shed(d, Normal), 950 * KB);
    assert_eq!(spent_when_shed(d, High), 1000 * KB);
    let custom = Thresholds { low: 0.5, normal: 0.6, high: 0.7 };
    assert_eq!(spent_when_shed(custom, Low), 500 * KB);
    assert_eq!(spent_when_shed(custom, Normal), 600 * KB);
    assert_eq!(spent_when_shed(custom, High), 700 * KB);
    assert_eq!(spent_when_shed(Thresholds { low: 0.0, ..d }, Low), 0);
}

#[test]
fn shedding_level_and_critical_overage_are_reported() {
    let now = t("2026-05-04T12:00:00Z");
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(spec(1000 * KB, 10 * KB, "UTC"), now);
    let mut levels = Vec::new();
    for i in 0..1100 {
        acc.admit_with(now, if i % 2 == 0 { High } else { Critical }, KB, &mut store);
        let st = acc.status(now);
        if levels.last() != Some(&st.shedding) {
            levels.push(st.shedding);
        }
    }
    assert_eq!(levels, [None, Some(Low), Some(Normal), Some(High)]);
    let st = acc.status(now);
    assert_eq!(st.level(), 3);
    assert_eq!(st.kept.get(High), 500 * KB, "high until the limit");
    assert_eq!(st.kept_records.get(Critical), 550, "every critical record");
    assert_eq!(st.over_limit, 50 * KB, "critical bytes beyond the limit");
    assert!(st.exhausted);
    // The overage reaches the store as reports: the store's count covers every kept byte.
    acc.sync(now, &mut store);
    if let Some(req) = acc.flush_request(now) {
        let r = store.lease(&req);
        acc.apply(now, r);
    }
    let key = LeaseKey { budget: "test".into(), day: "2026-05-04".into() };
    let st = acc.status(now);
    let totals = store.totals(&key);
    assert_eq!(totals.kept, st.spent_local);
    assert!(totals.counted >= st.spent_local && totals.counted - st.spent_local <= 10 * KB);
}

#[test]
fn critical_is_never_shed_in_any_state() {
    let now = t("2026-05-04T12:00:00Z");
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(BudgetSpec { pacing: true, ..spec(100 * KB, 10 * KB, "UTC") }, now);
    // Never leased, store down, fallback, over the limit, exhausted, after midnight: critical is kept.
    assert_eq!(acc.admit(now, Critical, 50 * KB), Admission::Keep);
    store.set_unreachable(true);
    for i in 0..400 {
        let now = now + SignedDuration::from_secs(i * 60);
        if i == 200 {
            store.set_unreachable(false);
        }
        acc.sync(now, &mut store);
        assert_eq!(acc.admit(now, Critical, 10 * KB), Admission::Keep, "step {i}");
        acc.admit(now, Low, KB);
    }
    let st = acc.status(now + SignedDuration::from_secs(400 * 60));
    assert_eq!(st.shed_records.get(Critical), 0);
    assert_eq!(st.shed_records.get(Low) + st.kept_records.get(Low), 400);
}

// ---- leasing, fallback, recovery -------------------------------------------------------------------

#[test]
fn the_store_is_called_about_once_per_chunk() {
    let mut now = t("2026-05-04T00:00:00Z");
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(spec(100 * MB, MB, "UTC"), now);
    for _ in 0..10_000 {
        now += SignedDuration::from_millis(100);
        assert_eq!(acc.admit_with(now, Normal, 5 * KB, &mut store), Admission::Keep);
    }
    // 50 MB kept with 1 MB chunks in 1000 s: 50 leases, plus a refresh a minute at most.
    let st = acc.status(now);
    assert!(st.lease_requests >= 50 && st.lease_requests <= 50 + 17, "{}", st.lease_requests);
    assert_eq!(st.counted_local - st.spent_local, MB - (50 * MB) % MB);
}

#[test]
fn a_batch_front_end_leases_for_the_whole_batch_in_whole_chunks() {
    let now = t("2026-05-04T10:00:00Z");
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(spec(100 * MB, 100 * KB, "UTC"), now);
    let req = acc.lease_request_for(now, 250 * KB).expect("first lease");
    assert_eq!(req.chunk, 300 * KB, "whole chunks covering the need");
    acc.apply(now, store.lease(&req));
    // The whole batch is admitted without another request.
    for _ in 0..250 {
        assert_eq!(acc.admit(now, Normal, KB), Admission::Keep);
    }
    // Holding 50 KB: a 40 KB batch needs nothing new, a 120 KB one one more chunk.
    assert_eq!(acc.lease_request_for(now, 40 * KB), None);
    assert_eq!(acc.lease_request_for(now, 120 * KB).map(|r| r.chunk), Some(100 * KB));
    assert_eq!(acc.status(now).shed.0, [0; 4]);
}

#[test]
fn async_front_end_may_owe_half_a_chunk_while_a_lease_is_in_flight() {
    let now = t("2026-05-04T10:00:00Z");
    let mut acc = Accountant::new(spec(100 * MB, 100 * KB, "UTC"), now);
    let req = acc.lease_request(now).expect("first lease");
    assert_eq!((req.chunk, req.report), (100 * KB, 0));
    assert_eq!(acc.lease_request(now), None, "one request in flight");
    // Before the answer: up to half a chunk on credit.
    let mut kept = 0;
    while acc.admit(now, Normal, KB) == Admission::Keep {
        kept += KB;
    }
    assert_eq!(kept, 50 * KB);
    acc.apply(now, Ok(Lease { granted: 100 * KB, totals: Totals { counted: 100 * KB, kept: 0 } }));
    assert_eq!(acc.admit(now, Normal, KB), Admission::Keep);
    // An unanswered request times out into the fallback after 30 s.
    let later = now + SignedDuration::from_secs(29);
    let _ = acc.lease_request(later);
    assert_eq!(acc.lease_request(later + SignedDuration::from_secs(5)), None);
    assert!(matches!(acc.status(later).store, StoreState::Connected));
    let _ = acc.lease_request(later + SignedDuration::from_secs(31));
    assert!(matches!(acc.status(later).store, StoreState::Fallback { .. }));
}

#[test]
fn fallback_spends_a_local_share_then_recovers_and_reports() {
    let start = t("2026-05-04T00:00:00Z");
    let mut store = MemoryStore::new();
    let key = LeaseKey { budget: "test".into(), day: "2026-05-04".into() };
    // Another participant already counted 40 MB.
    store
        .lease(&LeaseRequest { key: key.clone(), chunk: 0, report: 40 * MB, spent: 40 * MB, limit: 100 * MB })
        .unwrap();
    let mut acc = Accountant::new(BudgetSpec { fallback_share: 0.25, ..spec(100 * MB, MB, "UTC") }, start);
    let mut now = start;
    for _ in 0..1000 {
        now += SignedDuration::from_secs(1);
        acc.admit_with(now, High, 10 * KB, &mut store);
    }
    assert_eq!(acc.status(now).spent, 50 * MB);
    // The store goes away: from here on our spending counts four times.
    store.set_unreachable(true);
    let mut kept_in_fallback = 0;
    for _ in 0..20_000 {
        now += SignedDuration::from_millis(100);
        if acc.admit_with(now, High, 10 * KB, &mut store) == Admission::Keep {
            kept_in_fallback += 10 * KB;
        }
    }
    let st = acc.status(now);
    assert!(matches!(st.store, StoreState::Fallback { .. }), "{:?}", st.store);
    // 50 MB were left; a 25% share of it is 12.5 MB.
    assert!((12 * MB..=13 * MB).contains(&kept_in_fallback), "{kept_in_fallback}");
    assert!(st.spent >= 99 * MB && st.spent <= 101 * MB, "extrapolated estimate {}", st.spent);
    assert_eq!(st.shedding, Some(High));
    assert!(st.store_failures > 5);
    // Back: everything kept meanwhile is reported, and the real total replaces the extrapolation.
    store.set_unreachable(false);
    now += SignedDuration::from_secs(61);
    acc.sync(now, &mut store);
    let st = acc.status(now);
    assert_eq!(st.store, StoreState::Connected);
    assert!(st.counted_local >= st.spent_local);
    assert_eq!(store.totals(&key), Totals { counted: 40 * MB + st.counted_local, kept: 40 * MB + st.spent_local });
    assert_eq!(st.spent, 40 * MB + st.spent_local);
    assert_eq!(st.shedding, None, "62.5 MB of 100: nothing shed once the real total is known");
    assert_eq!(acc.admit(now, Normal, KB), Admission::Keep);
}

#[test]
fn starting_with_the_store_down_allows_the_fallback_share_of_the_limit() {
    let now = t("2026-05-04T00:00:00Z");
    let mut store = MemoryStore::new();
    store.set_unreachable(true);
    let mut acc = Accountant::new(BudgetSpec { fallback_share: 0.1, ..spec(100 * MB, MB, "UTC") }, now);
    let mut kept = 0;
    for i in 0..20_000 {
        if acc.admit_with(now + SignedDuration::from_millis(i), High, 10 * KB, &mut store) == Admission::Keep {
            kept += 10 * KB;
        }
    }
    // Half a chunk on credit before the first failure, then 10% of the limit.
    assert!((10 * MB..=10 * MB + MB / 2).contains(&kept), "{kept}");
}

// ---- pacing ----------------------------------------------------------------------------------------

/// The worked example in docs/rules.md: limit 4 GB (low shed at 80% = 3.2 GB), UTC. By 08:00 the fleet
/// has kept 2.0 GB evenly: 1.6 GB low, 0.4 GB normal (50 MB/h). The projection is 2.0 + 16 h × 250 MB/h =
/// 6.0 GB > 3.2 GB, so low is paced: the room left below 3.2 GB is 1.2 GB / 16 h = 75 MB/h, normal takes
/// 50 MB/h of it, so low gets 25 MB/h of the 200 MB/h offered.
#[test]
fn pacing_worked_example() {
    let start = t("2026-05-04T00:00:00Z");
    let mut store = MemoryStore::new();
    let paced = BudgetSpec { pacing: true, ..spec(4 * GB, 4 * MB, "UTC") };
    // Until 08:00 pacing is off (as if the budget were switched on at 08:00): 0.8 MB low + 0.2 MB normal
    // every 14.4 s.
    let mut acc = Accountant::new(BudgetSpec { pacing: false, ..paced.clone() }, start);
    for i in 0..2000 {
        let now = start + SignedDuration::from_millis(i * 14_400);
        assert_eq!(acc.admit_with(now, Low, 800 * KB, &mut store), Admission::Keep);
        assert_eq!(acc.admit_with(now, Normal, 200 * KB, &mut store), Admission::Keep);
    }
    let eight = t("2026-05-04T08:00:00Z");
    acc.set_spec(paced);
    let st = acc.status(eight);
    assert_eq!(st.spent, 2 * GB);
    assert!((st.projected as f64 / GB as f64 - 6.0).abs() < 0.01, "{}", st.projected);
    assert!(st.pacing);
    assert_eq!(st.shedding, None);
    // 08:00 to 09:00: low is offered at 200 MB/h (10 KB every 50 ms), normal goes on at 50 MB/h.
    let mut kept = 0;
    for i in 0..72_000 {
        let now = eight + SignedDuration::from_millis(i * 50);
        if i % 1440 == 0 {
            assert_eq!(acc.admit_with(now, Normal, MB, &mut store), Admission::Keep, "normal is not paced");
        }
        if acc.admit_with(now, Low, 10 * KB, &mut store) == Admission::Keep {
            kept += 10 * KB;
        }
    }
    // About 25 MB: the bucket starts with a minute's worth, and the allowance moves a little as the day goes.
    assert!((22 * MB..=27 * MB).contains(&kept), "kept {kept}");
    let st = acc.status(t("2026-05-04T09:00:00Z"));
    assert!(st.pacing);
    assert!(st.shed_by[ShedReason::Pacing as usize] > 60_000);
}

#[test]
fn no_pacing_when_the_day_is_on_track() {
    let start = t("2026-05-04T00:00:00Z");
    let mut store = MemoryStore::new();
    let mut acc = Accountant::new(BudgetSpec { pacing: true, ..spec(4 * GB, 4 * MB, "UTC") }, start);
    // 100 MB/h: 2.4 GB a day, well under 4 GB.
    for i in 0..12 * 3600 {
        let now = start + SignedDuration::from_secs(i);
        let p = if i % 2 == 0 { Low } else { Normal };
        assert_eq!(acc.admit_with(now, p, 100 * MB / 3600, &mut store), Admission::Keep, "{i}");
    }
    assert!(!acc.status(t("2026-05-04T12:00:00Z")).pacing);
}

// ---- a simulated day with a spike ------------------------------------------------------------------

struct Day {
    kept: [u64; 4],
    spent: u64,
    totals: Totals,
    over_limit: u64,
    offered_critical: u64,
    first_shed: [Option<Timestamp>; 4],
    last_low_kept: Option<Timestamp>,
    day: LicenseDay,
}

const N: usize = 4;
const CHUNK: u64 = 256 * KB;
const LIMIT: u64 = 100 * MB;

/// Four participants share a 100 MB budget through one store on New York's 23-hour spring-forward day,
/// stepping a simulated clock by 10 s. Baseline traffic is ~3.6 MB/h for the fleet (68% low, 24% normal,
/// 6% high, 2% critical; participants carry 10/20/30/40% of it), multiplied by `spike` from 12:00 to 14:00.
fn simulate(spike: u64, pacing: bool) -> Day {
    let start = t("2026-03-08T05:00:00Z"); // midnight in New York
    let mut store = MemoryStore::new();
    let spec = BudgetSpec { pacing, ..spec(LIMIT, CHUNK, "America/New_York") };
    let mut accs: Vec<Accountant> = (0..N).map(|_| Accountant::new(spec.clone(), start)).collect();
    let day = spec.zone.day(start);
    assert_eq!(day.length(), SignedDuration::from_hours(23));
    let step = SignedDuration::from_secs(10);
    let mut out = Day {
        kept: [0; 4],
        spent: 0,
        totals: Totals::default(),
        over_limit: 0,
        offered_critical: 0,
        first_shed: [None; 4],
        last_low_kept: None,
        day,
    };
    for s in 0..day.length().as_secs() / 10 {
        let now = start + step * s as i32;
        let hour = s * 10 / 3600;
        let repeat = if (12..14).contains(&hour) { spike } else { 1 };
        for (i, acc) in accs.iter_mut().enumerate() {
            let weight = (i as u64 + 1) * 2;
            for _ in 0..repeat {
                for (p, bytes) in [(Low, 1000), (Low, 700), (Normal, 600), (High, 150), (Critical, 50)] {
                    let bytes = bytes * weight / 5;
                    acc.sync(now, &mut store);
                    let a = acc.admit(now, p, bytes);
                    if p == Critical {
                        out.offered_critical += bytes;
                        assert_eq!(a, Admission::Keep, "critical is never shed");
                    }
                    if a == Admission::Shed && out.first_shed[p as usize].is_none() {
                        out.first_shed[p as usize] = Some(now);
                    }
                    if a == Admission::Keep && p == Low {
                        out.last_low_kept = Some(now);
                    }
                }
            }
        }
    }
    let end = day.end - SignedDuration::from_secs(1);
    for acc in &mut accs {
        if let Some(req) = acc.flush_request(end) {
            let r = store.lease(&req);
            acc.apply(end, r);
        }
        let st = acc.status(end);
        out.spent += st.spent_local;
        out.over_limit += st.over_limit;
        for p in Priority::ALL {
            out.kept[p as usize] += st.kept.get(p);
        }
    }
    out.totals = store.totals(&LeaseKey { budget: "test".into(), day: "2026-03-08".into() });
    eprintln!(
        "spike x{spike}, pacing {pacing}: kept per priority {:?}, spent {}, totals {:?}, first shed {:?}, last low {:?}",
        out.kept, out.spent, out.totals, out.first_shed, out.last_low_kept
    );
    out
}

/// The limit holds within one chunk per participant, every critical record is kept, low is shed before
/// normal before high, and the store's count equals the bytes kept within one chunk per participant.
#[test]
fn simulated_day_with_a_big_spike_sheds_in_priority_order() {
    let d = simulate(40, true);
    let slack = N as u64 * CHUNK;
    assert_eq!(d.kept[Critical as usize], d.offered_critical, "every critical record is kept");
    // Critical records beyond the limit are kept and reported as overage; everything else fits the limit.
    let within = d.spent - d.over_limit;
    assert!(within <= LIMIT + slack, "limit respected: {within} > {LIMIT} + {slack}");
    assert!(within >= LIMIT - slack, "and used: {within}");
    assert!(d.over_limit > 0 && d.over_limit <= d.kept[Critical as usize]);
    assert!(d.last_low_kept.is_some());
    assert_eq!(d.totals.kept, d.spent, "the store's kept total is exact after the flush");
    assert!(
        d.totals.counted >= d.spent && d.totals.counted - d.spent <= slack,
        "counted {:?} vs kept {}",
        d.totals,
        d.spent
    );
    let [low, normal, high, critical] = d.first_shed;
    let (low, normal, high) = (low.unwrap(), normal.unwrap(), high.unwrap());
    assert!(low < normal && normal < high, "shed in order: {low} {normal} {high}");
    assert_eq!(critical, None);
}

/// With a moderate spike, pacing keeps some low priority flowing all day; without it low is cut off during
/// the spike and never comes back.
#[test]
fn simulated_day_pacing_spreads_low_priority_over_the_day() {
    let paced = simulate(10, true);
    let unpaced = simulate(10, false);
    let evening = paced.day.end - SignedDuration::from_hours(2);
    assert!(paced.last_low_kept.unwrap() > evening, "paced: low still flows in the evening");
    assert!(
        unpaced.last_low_kept.unwrap() < paced.day.start + SignedDuration::from_hours(14),
        "unpaced: low runs out in the spike"
    );
    for d in [&paced, &unpaced] {
        assert!(d.spent - d.over_limit <= LIMIT + N as u64 * CHUNK);
        assert_eq!(d.kept[Critical as usize], d.offered_critical);
        assert_eq!(d.first_shed[Critical as usize], None);
    }
}

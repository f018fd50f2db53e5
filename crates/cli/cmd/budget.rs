//! `logtrim report --budget`: replays a sample as one licence day and shows what the daily byte budget
//! would do: when pacing starts, when each priority is shed, and what each priority keeps.
//!
//! The sample's records are decided once; the replay then cycles through their outcomes, advancing a
//! simulated clock by each record's input bytes at the chosen input rate, and admits every kept record
//! through the same [`Accountant`] the Lambda and the forwarder use (with an in-memory store, one
//! participant). It answers "with this licence and this much traffic, what would we lose, and when?".

use logtrim_core::budget::{
    Accountant, Admission, BudgetSpec, BudgetStatus, LicenseZone, MemoryStore, SignedDuration, Timestamp, parse_size,
};
use logtrim_core::{Priority, RuleSet};
use serde_json::json;

/// What the replay needs of one sample record.
#[derive(Clone, Copy)]
pub struct Outcome {
    /// Input bytes (they set the pace of the simulated clock).
    pub input: u32,
    /// The priority and metered bytes of a record the rules keep.
    pub kept: Option<(Priority, u32)>,
}

/// The budget to replay: `--budget SIZE` over the rule file's `budget:` section (or the defaults);
/// `limit` is `None` for `--budget rules`.
pub fn spec(rules: &RuleSet, limit: Option<&str>) -> anyhow::Result<BudgetSpec> {
    let from_file = rules.budget().cloned();
    let spec = match (limit, from_file) {
        (None, Some(s)) => s,
        (None, None) => anyhow::bail!(
            "--budget rules: the rule file has no `budget:` section; give the daily limit instead, e.g. --budget 4GB (see docs/rules.md, \"Daily byte budget\")"
        ),
        (Some(text), file) => {
            let limit = parse_size(text).map_err(|e| anyhow::anyhow!("--budget {text:?}: {e}; {}", e.hint()))?;
            anyhow::ensure!(limit > 0, "--budget must be above zero");
            match file {
                Some(s) => BudgetSpec { limit, chunk: logtrim_core::budget::policy::default_chunk(limit), ..s },
                None => BudgetSpec { name: rules.name().unwrap_or("default").to_string(), ..BudgetSpec::new(limit, LicenseZone::utc()) },
            }
        }
    };
    Ok(spec)
}

/// A change of budget state during the day.
struct Event {
    at: Timestamp,
    what: String,
}

/// The replayed day.
pub struct Replay {
    spec: BudgetSpec,
    rate: u64,
    passes: f64,
    day_start: Timestamp,
    timeline: Vec<Event>,
    first_shed: [Option<Timestamp>; 4],
    end: BudgetStatus,
    /// What the rules alone keep per day at this rate (before the budget).
    rules_keep: u64,
    /// Seconds into the day and bytes spent, once a simulated minute (for `--html`).
    curve: Vec<(f64, u64)>,
}

/// Replays `outcomes` as the licence day that contains `start`, at `rate` input bytes per day.
pub fn replay(spec: BudgetSpec, outcomes: &[Outcome], rate: u64, start: Timestamp) -> anyhow::Result<Replay> {
    let input: u64 = outcomes.iter().map(|o| u64::from(o.input)).sum();
    anyhow::ensure!(input > 0, "the input has no records to replay");
    anyhow::ensure!(rate > 0, "the input rate must be above zero");
    let day = spec.zone.day(start);
    let kept_per_pass: u64 = outcomes.iter().filter_map(|o| o.kept.map(|(_, b)| u64::from(b))).sum();
    // Seconds of simulated time per input byte (a rate is per 24 hours, also on 23- and 25-hour days).
    let pace = 86_400.0 / rate as f64;
    let mut acc = Accountant::new(spec.clone(), day.start);
    let mut store = MemoryStore::new();
    let mut timeline = vec![];
    let mut curve = vec![];
    let mut first_shed = [None; 4];
    let (mut level, mut pacing) = (0u8, false);
    let mut next_check = 0.0f64;
    let mut elapsed = 0.0f64;
    let mut replayed = 0u64;
    'day: loop {
        for o in outcomes {
            let now = day.start + SignedDuration::from_secs_f64(elapsed);
            if now >= day.end {
                break 'day;
            }
            if let Some((p, bytes)) = o.kept {
                acc.sync(now, &mut store);
                if acc.admit(now, p, u64::from(bytes)) == Admission::Shed && first_shed[p as usize].is_none() {
                    first_shed[p as usize] = Some(now);
                }
            }
            // The state is sampled once a simulated minute: enough for a timeline, cheap per record.
            if elapsed >= next_check {
                next_check = elapsed + 60.0;
                let st = acc.status(now);
                curve.push((elapsed, st.spent));
                if st.pacing != pacing {
                    pacing = st.pacing;
                    let what = if pacing {
                        format!("pacing low priority: projected {} for the day", gb(st.projected))
                    } else {
                        "pacing off".to_string()
                    };
                    timeline.push(Event { at: now, what });
                }
                if st.level() != level {
                    level = st.level();
                    let what = match st.shedding {
                        None => "shedding stopped".to_string(),
                        Some(p) => format!("shedding {} and below: {} spent ({:.1}%)", p.name(), gb(st.spent), pct(st.spent, st.limit)),
                    };
                    timeline.push(Event { at: now, what });
                }
            }
            elapsed += f64::from(o.input) * pace;
            replayed += u64::from(o.input);
        }
    }
    let end_at = day.end - SignedDuration::from_nanos(1);
    Ok(Replay {
        end: acc.status(end_at),
        spec,
        rate,
        passes: replayed as f64 / input as f64,
        day_start: day.start,
        timeline,
        first_shed,
        rules_keep: (kept_per_pass as f64 * rate as f64 / input as f64) as u64,
        curve,
    })
}

/// Budget sizes are decimal, as `budget.limit` is (GB = 10^9 bytes).
fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

impl Replay {
    fn clock(&self, t: Timestamp) -> String {
        self.spec.zone.wall_clock(t)
    }

    pub fn print_text(&self) {
        let s = &self.spec;
        let e = &self.end;
        println!();
        println!(
            "budget replay: limit {}/day (\"{}\", day ends at midnight {}), input {}/day, sample replayed {:.1} times",
            gb(s.limit),
            s.name,
            s.zone.name(),
            gb(self.rate),
            self.passes
        );
        println!("the rules alone would keep {}/day ({:.0}% of the limit)", gb(self.rules_keep), pct(self.rules_keep, s.limit));
        println!("  {}  day starts", self.clock(self.day_start));
        for ev in &self.timeline {
            println!("  {}  {}", self.clock(ev.at), ev.what);
        }
        println!();
        println!("{:<10} {:>12} {:>12} {:>11}", "priority", "kept", "shed", "first shed");
        for p in Priority::ALL.into_iter().rev() {
            let first = self.first_shed[p as usize].map_or("never".to_string(), |t| self.clock(t));
            println!("{:<10} {:>12} {:>12} {:>11}", p.name(), gb(e.kept.get(p)), gb(e.shed.get(p)), first);
        }
        let kept: u64 = e.kept.0.iter().sum();
        println!(
            "kept {} of the {} limit ({:.1}%); critical kept beyond the limit: {}",
            gb(kept),
            gb(s.limit),
            pct(kept, s.limit),
            gb(e.over_limit)
        );
    }

    /// The day as `--html` draws it: spend against the limit, and when pacing and shedding start.
    pub fn chart(&self) -> logtrim_suggest::html::Timeline {
        let secs = |t: Timestamp| t.duration_since(self.day_start).as_secs_f64();
        logtrim_suggest::html::Timeline {
            limit: self.spec.limit,
            spend: self.curve.clone(),
            events: self.timeline.iter().map(|e| (secs(e.at), format!("{} {}", self.clock(e.at), e.what))).collect(),
            caption: format!(
                "Replayed as one licence day: limit {}/day (\"{}\", the day ends at midnight {}), input {}/day. Critical records are never shed.",
                gb(self.spec.limit),
                self.spec.name,
                self.spec.zone.name(),
                gb(self.rate)
            ),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let e = &self.end;
        let priorities: serde_json::Map<String, serde_json::Value> = Priority::ALL
            .into_iter()
            .map(|p| {
                let first = self.first_shed[p as usize].map(|t| t.to_string());
                (
                    p.name().to_string(),
                    json!({
                        "kept_bytes": e.kept.get(p), "kept_records": e.kept_records.get(p),
                        "shed_bytes": e.shed.get(p), "shed_records": e.shed_records.get(p),
                        "first_shed": first,
                    }),
                )
            })
            .collect();
        json!({
            "name": self.spec.name,
            "limit_bytes": self.spec.limit,
            "time_zone": self.spec.zone.name(),
            "day_start": self.day_start.to_string(),
            "input_bytes_per_day": self.rate,
            "sample_passes": self.passes,
            "rules_keep_bytes_per_day": self.rules_keep,
            "kept_bytes": e.kept.0.iter().sum::<u64>(),
            "critical_over_limit_bytes": e.over_limit,
            "shed_by": {"threshold": e.shed_by[0], "pacing": e.shed_by[1], "exhausted": e.shed_by[2]},
            "priorities": priorities,
            "timeline": self.timeline.iter().map(|ev| json!({"at": ev.at.to_string(), "event": ev.what})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtrim_core::budget::GB;

    fn outcomes() -> Vec<Outcome> {
        // 1 MB in per record (few records, a fast test); each priority keeps 100 KB of every 5 MB in.
        Priority::ALL
            .iter()
            .map(|&p| Outcome { input: 1_000_000, kept: Some((p, 100_000)) })
            .chain([Outcome { input: 1_000_000, kept: None }])
            .collect()
    }

    fn start() -> Timestamp {
        "2026-11-22T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn under_the_limit_nothing_is_shed() {
        let spec = BudgetSpec::new(4 * GB, LicenseZone::utc());
        // 10 GB in; the rules keep 8% of it: 0.8 GB.
        let r = replay(spec, &outcomes(), 10 * GB, start()).unwrap();
        assert!(r.timeline.is_empty(), "{:?}", r.timeline.iter().map(|e| &e.what).collect::<Vec<_>>());
        assert_eq!(r.end.shed.0, [0; 4]);
        let kept: u64 = r.end.kept.0.iter().sum();
        assert!((kept as f64 - 0.8e9).abs() < 1e6, "{kept}");
    }

    #[test]
    fn over_the_limit_sheds_low_first_and_never_critical() {
        let spec = BudgetSpec::new(GB, LicenseZone::utc());
        // The rules would keep 4 GB: four times the limit.
        let r = replay(spec, &outcomes(), 50 * GB, start()).unwrap();
        let first = |p: Priority| r.first_shed[p as usize];
        assert!(first(Priority::Low).unwrap() < first(Priority::Normal).unwrap());
        assert!(first(Priority::Normal).unwrap() < first(Priority::High).unwrap());
        assert_eq!(first(Priority::Critical), None);
        assert_eq!(r.end.shed.get(Priority::Critical), 0);
        // Critical keeps all of its 1 GB (50 GB/day, a fifth of it critical records keeping 10%); the
        // others share what is left of the limit.
        assert!((r.end.kept.get(Priority::Critical) as f64 - 1e9).abs() < 1e6);
        let non_critical: u64 = [Priority::Low, Priority::Normal, Priority::High].iter().map(|&p| r.end.kept.get(p)).sum();
        assert!(non_critical <= GB + r.spec.chunk, "{non_critical}");
        assert!(r.timeline.iter().any(|e| e.what.starts_with("shedding low")), "{:?}", r.timeline.iter().map(|e| &e.what).collect::<Vec<_>>());
    }
}

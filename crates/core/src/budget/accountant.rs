//! The per-worker budget state: admits or sheds each record, and leases budget from a store in chunks.
//!
//! Sans-IO: the accountant never reads a clock or touches a store. Every call takes `now`, and the
//! front-end moves [`LeaseRequest`]s and [`Lease`]s between the accountant and its store (see
//! [`Accountant::sync`] for the blocking loop, and `logtrim-aws` for DynamoDB).
//!
//! # The ledger
//!
//! For the current licence day the accountant knows what it admitted (`spent`), what the store counted for
//! it (`counted`: chunks granted plus bytes reported), and the store's totals at the last answer. Each
//! request also reports what it kept since the previous one, so the store knows what the fleet actually
//! kept, not only what it leased. The fleet's spend is estimated as *what everyone else had reported at the
//! last answer + our own spend*; it is behind by what the others kept since their last request (at most
//! their chunk or a minute of their traffic), never ahead, so unspent leases do not trigger shedding.
//!
//! A non-critical record is kept when (1) the estimate is below its priority's shed threshold, (2) this
//! participant still holds leased bytes for it (or, while a lease is being fetched, owes at most half a
//! chunk), and (3) for `low` while pacing, the low-priority allowance has room. Critical records are always
//! kept; bytes kept beyond the leases are reported to the store with the next request, and bytes kept with
//! the fleet over its limit are reported as overage.
//!
//! # Fallback
//!
//! When a request fails, the accountant keeps going on a local share: from that moment it assumes every
//! other participant spends as it does, i.e. its own new spending counts `1 / fallback_share` times in the
//! estimate. With `fallback_share = 1/N` for N participants the fleet cannot overshoot. It retries with
//! exponential backoff (1 s to 60 s) and, once the store answers, reports everything it kept meanwhile.

use jiff::{SignedDuration, Timestamp};

use super::day::LicenseDay;
use super::policy::BudgetSpec;
use super::store::{Lease, LeaseKey, LeaseRequest, LeaseStore, StoreUnavailable, Totals};
use crate::primitives::Priority;

/// The rate used for the end-of-day projection is the larger of the day's average and the last window's.
const RATE_WINDOW: SignedDuration = SignedDuration::from_mins(5);
/// Pacing lets low priority burst for this long at its allowance.
const BURST: SignedDuration = SignedDuration::from_secs(60);
/// An idle participant refreshes the fleet total this often, so thresholds see others' spending.
const REFRESH: SignedDuration = SignedDuration::from_secs(60);
/// A request unanswered for this long counts as failed.
const PENDING_TIMEOUT: SignedDuration = SignedDuration::from_secs(30);
const RETRY_FIRST: SignedDuration = SignedDuration::from_secs(1);
const RETRY_MAX: SignedDuration = SignedDuration::from_secs(60);
/// Past days whose unreported bytes we still try to deliver.
const MAX_STALE: usize = 7;

/// Whether a record may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send it; its bytes are counted.
    Keep,
    /// Drop it to save the budget.
    Shed,
}

/// Why a record was shed, counted in [`BudgetStatus::shed_by`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShedReason {
    /// The estimated spend reached the priority's threshold.
    Threshold,
    /// Low priority was paced: the projected end-of-day use exceeds the limit.
    Pacing,
    /// The store has no budget left for this day and this participant's lease is used up.
    Exhausted,
}

/// A value per priority, indexed by [`Priority`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerPriority<T>(pub [T; 4]);

impl<T: Copy> PerPriority<T> {
    /// The value for `p`.
    pub fn get(&self, p: Priority) -> T {
        self.0[p as usize]
    }
}

impl<T> PerPriority<T> {
    fn get_mut(&mut self, p: Priority) -> &mut T {
        &mut self.0[p as usize]
    }
}

/// How the accountant stands with its store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreState {
    /// No answer yet today (before the first lease).
    Unknown,
    /// The last request was answered.
    Connected,
    /// Requests fail; admitting on the local fallback share since `since`.
    Fallback {
        /// When the first failed request was answered.
        since: Timestamp,
        /// The last error, for logs.
        error: String,
    },
}

/// A snapshot for metrics (Prometheus in the forwarder, EMF in the Lambda) and reports.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetStatus {
    /// The budget's name.
    pub budget: String,
    /// The current licence day.
    pub day: LicenseDay,
    /// The daily limit in bytes.
    pub limit: u64,
    /// Estimated bytes the fleet kept today (see the module docs for how far off it can be).
    pub spent: u64,
    /// Bytes this participant kept today.
    pub spent_local: u64,
    /// Bytes the store counted for this participant today (leases + reports).
    pub counted_local: u64,
    /// The store's totals for today at its last answer.
    pub fleet: Totals,
    /// Projected end-of-day use at the current rate.
    pub projected: u64,
    /// The highest priority being shed by its threshold (`None`: thresholds shed nothing).
    pub shedding: Option<Priority>,
    /// Whether low priority is paced.
    pub pacing: bool,
    /// The store has no budget left today.
    pub exhausted: bool,
    /// The store connection, or the fallback.
    pub store: StoreState,
    /// Critical bytes kept today while the fleet was at or over its limit (the overage).
    pub over_limit: u64,
    /// Bytes kept today per priority.
    pub kept: PerPriority<u64>,
    /// Records kept today per priority.
    pub kept_records: PerPriority<u64>,
    /// Bytes shed today per priority.
    pub shed: PerPriority<u64>,
    /// Records shed today per priority.
    pub shed_records: PerPriority<u64>,
    /// Records shed today by reason: threshold, pacing, exhausted.
    pub shed_by: [u64; 3],
    /// Requests sent to the store since start.
    pub lease_requests: u64,
    /// Requests that failed since start.
    pub store_failures: u64,
}

impl BudgetStatus {
    /// The shedding level as a number for a gauge: 0 nothing, 1 low, 2 low and normal, 3 everything but critical.
    pub fn level(&self) -> u8 {
        match self.shedding {
            None => 0,
            Some(Priority::Low) => 1,
            Some(Priority::Normal) => 2,
            Some(_) => 3,
        }
    }
}

#[derive(Clone, Debug)]
struct Fallback {
    since: Timestamp,
    error: String,
    /// Everyone else's count when the store was lost.
    others: u64,
    /// Our spend when the store was lost; spending beyond it is extrapolated to the fleet.
    spent_at_loss: u64,
    retry_at: Timestamp,
    backoff: SignedDuration,
}

#[derive(Clone, Debug)]
struct Pending {
    req: LeaseRequest,
    sent: Timestamp,
}

/// Per-day counters, reset at midnight.
#[derive(Clone, Debug, Default)]
struct Today {
    kept: PerPriority<u64>,
    kept_records: PerPriority<u64>,
    shed: PerPriority<u64>,
    shed_records: PerPriority<u64>,
    shed_by: [u64; 3],
    over_limit: u64,
}

/// The budget state of one participant (one Lambda instance, one forwarder pod, or one worker thread).
///
/// ```
/// use logtrim_core::budget::{Accountant, Admission, BudgetSpec, LicenseZone, MemoryStore, MB};
/// use logtrim_core::Priority;
///
/// let spec = BudgetSpec { chunk: MB, ..BudgetSpec::new(100 * MB, LicenseZone::new("Europe/Berlin")?) };
/// let now: jiff::Timestamp = "2026-05-04T08:00:00Z".parse()?;
/// let mut store = MemoryStore::new();
/// let mut acc = Accountant::new(spec, now);
/// acc.sync(now, &mut store); // leases the first chunk
/// assert_eq!(acc.admit(now, Priority::Normal, 1200), Admission::Keep);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Accountant {
    spec: BudgetSpec,
    day: LicenseDay,
    // The day's key in stores, kept to compare answers with without allocating.
    day_key: String,
    spent: u64,
    // Our spend the store has acknowledged (sent as `LeaseRequest::spent`).
    reported: u64,
    counted: u64,
    fleet: Totals,
    last_contact: Option<Timestamp>,
    exhausted: bool,
    fallback: Option<Fallback>,
    pending: Option<Pending>,
    // Reports for past days that could not be delivered yet.
    stale: Vec<LeaseRequest>,
    // Rate window for the projection: its start, the fleet estimate and our non-low bytes then, and the last
    // full window's fleet rate and our non-low rate (B/s).
    window_start: Option<(Timestamp, u64, u64)>,
    window_rate: f64,
    window_nonlow_rate: f64,
    // Low-priority token bucket while pacing.
    tokens: f64,
    tokens_at: Timestamp,
    paced: bool,
    today: Today,
    lease_requests: u64,
    store_failures: u64,
}

impl Accountant {
    /// A new accountant for `spec`, starting on the licence day of `now`. It holds no budget until its first
    /// lease: call [`Accountant::lease_request`] (or [`Accountant::sync`]) before admitting.
    pub fn new(spec: BudgetSpec, now: Timestamp) -> Accountant {
        let day = spec.zone.day(now);
        Accountant {
            day_key: day.key(),
            day,
            spec,
            spent: 0,
            reported: 0,
            counted: 0,
            fleet: Totals::default(),
            last_contact: None,
            exhausted: false,
            fallback: None,
            pending: None,
            stale: Vec::new(),
            window_start: None,
            window_rate: 0.0,
            window_nonlow_rate: 0.0,
            tokens: 0.0,
            tokens_at: now,
            paced: false,
            today: Today::default(),
            lease_requests: 0,
            store_failures: 0,
        }
    }

    /// The budget this accountant enforces.
    pub fn spec(&self) -> &BudgetSpec {
        &self.spec
    }

    /// Replaces the budget (a rule-file reload) and keeps the day's ledger. A new `name` or `zone` takes
    /// effect for store keys and day boundaries from the next request and the next midnight.
    pub fn set_spec(&mut self, spec: BudgetSpec) {
        self.spec = spec;
    }

    /// Decides whether a record of `priority` whose metered size is `bytes` may be sent at `now`, and counts
    /// it if so. Critical records are always kept.
    pub fn admit(&mut self, now: Timestamp, priority: Priority, bytes: u64) -> Admission {
        self.roll(now);
        let est = self.estimate();
        self.observe_rate(now, est);
        let verdict = self.verdict(now, est, priority, bytes);
        match verdict {
            None => {
                if priority == Priority::Critical {
                    self.today.over_limit += est.saturating_add(bytes).saturating_sub(self.spec.limit).min(bytes);
                } else if priority == Priority::Low && self.paced {
                    self.tokens -= bytes as f64;
                }
                self.spent = self.spent.saturating_add(bytes);
                *self.today.kept.get_mut(priority) += bytes;
                *self.today.kept_records.get_mut(priority) += 1;
                Admission::Keep
            }
            Some(reason) => {
                *self.today.shed.get_mut(priority) += bytes;
                *self.today.shed_records.get_mut(priority) += 1;
                self.today.shed_by[reason as usize] += 1;
                Admission::Shed
            }
        }
    }

    fn verdict(&mut self, now: Timestamp, est: u64, priority: Priority, bytes: u64) -> Option<ShedReason> {
        let share = self.spec.shed.shed_at(priority)?;
        if est as f64 >= share * self.spec.limit as f64 {
            return Some(ShedReason::Threshold);
        }
        if self.fallback.is_none() && self.counted < self.spent.saturating_add(bytes) {
            // Not covered by our lease: borrow at most half a chunk while the next lease is on its way.
            let owed = self.spent + bytes - self.counted;
            if self.exhausted || owed > (self.spec.chunk / 2).max(1) {
                return Some(ShedReason::Exhausted);
            }
        }
        if priority == Priority::Low && !self.low_allowance(now, est) {
            return Some(ShedReason::Pacing);
        }
        None
    }

    /// Refills the low-priority bucket and says whether it has room. Only runs while pacing.
    fn low_allowance(&mut self, now: Timestamp, est: u64) -> bool {
        let Some(rate) = self.low_rate(now, est) else {
            self.paced = false;
            return true;
        };
        let cap = rate * BURST.as_secs_f64();
        if !self.paced {
            self.paced = true;
            self.tokens = cap;
        } else {
            let dt = now.duration_since(self.tokens_at).as_secs_f64().max(0.0);
            self.tokens = (self.tokens + rate * dt).min(cap);
        }
        self.tokens_at = now;
        self.tokens > 0.0
    }

    /// Our share of the fleet's spend today, with a floor so a participant that has kept nothing yet is not
    /// starved.
    fn my_share(&self, est: u64) -> f64 {
        let floor = (self.spec.fallback_share * 0.1).clamp(1e-4, 1.0);
        if est == 0 { 1.0 } else { (self.spent as f64 / est as f64).clamp(floor, 1.0) }
    }

    /// While pacing, our low-priority allowance in bytes per second; `None` when not pacing.
    ///
    /// Pacing starts when the projected end-of-day use exceeds the low threshold `L` (low is cut off there,
    /// so a day projected to end between `L` and the limit would lose low priority in the evening). The fleet
    /// may then spend `(L − spent) / remaining` per second for the rest of the day; higher priorities are
    /// not paced, so low gets what is left after their current rate. We take our share of that: our share
    /// of the room minus our own non-low rate (the larger of today's average and the last window's).
    fn low_rate(&self, now: Timestamp, est: u64) -> Option<f64> {
        let low_ceiling = self.spec.shed.low * self.spec.limit as f64;
        if !self.spec.pacing || self.projected(now, est) as f64 <= low_ceiling {
            return None;
        }
        let remaining = self.day.remaining(now).as_secs_f64();
        if remaining <= 0.0 {
            return Some(0.0);
        }
        let room = (low_ceiling - est as f64).max(0.0) / remaining;
        let elapsed = self.day.elapsed(now).as_secs_f64().max(1.0);
        let nonlow = (self.nonlow_kept() as f64 / elapsed).max(self.window_nonlow_rate);
        Some((room * self.my_share(est) - nonlow).max(0.0))
    }

    /// Projected end-of-day use: the estimate plus the current rate over the rest of the day. The rate is the
    /// larger of the day's average and the last five-minute window's; in the first window of the day there is
    /// no rate yet and the projection is the estimate.
    fn projected(&self, now: Timestamp, est: u64) -> u64 {
        let elapsed = self.day.elapsed(now);
        if elapsed < RATE_WINDOW {
            return est;
        }
        let rate = (est as f64 / elapsed.as_secs_f64()).max(self.window_rate);
        (est as f64 + rate * self.day.remaining(now).as_secs_f64()) as u64
    }

    fn observe_rate(&mut self, now: Timestamp, est: u64) {
        let nonlow = self.nonlow_kept();
        match self.window_start {
            None => self.window_start = Some((now, est, nonlow)),
            Some((t0, e0, n0)) => {
                let dt = now.duration_since(t0);
                if dt >= RATE_WINDOW {
                    self.window_rate = est.saturating_sub(e0) as f64 / dt.as_secs_f64();
                    self.window_nonlow_rate = nonlow.saturating_sub(n0) as f64 / dt.as_secs_f64();
                    self.window_start = Some((now, est, nonlow));
                }
            }
        }
    }

    /// Bytes of normal, high and critical priority we kept today.
    fn nonlow_kept(&self) -> u64 {
        let k = &self.today.kept.0;
        k[1] + k[2] + k[3]
    }

    /// The fleet's estimated spend today.
    fn estimate(&self) -> u64 {
        match &self.fallback {
            None => self.fleet.kept.saturating_sub(self.reported).saturating_add(self.spent),
            Some(f) => {
                let share = self.spec.fallback_share.clamp(1e-6, 1.0);
                let since = self.spent.saturating_sub(f.spent_at_loss) as f64 / share;
                f.others.saturating_add(f.spent_at_loss).saturating_add(since as u64)
            }
        }
    }

    /// Starts a new licence day when `now` has passed midnight; bytes the store has not counted yet are
    /// queued as a report for the old day.
    fn roll(&mut self, now: Timestamp) {
        if now < self.day.end {
            return;
        }
        let debt = self.spent.saturating_sub(self.counted);
        let unreported = self.spent - self.reported;
        if debt > 0 || unreported > 0 {
            let key = self.key();
            match self.stale.iter_mut().find(|r| r.key == key) {
                Some(r) => {
                    r.report += debt;
                    r.spent += unreported;
                }
                None => self.stale.push(LeaseRequest {
                    key,
                    chunk: 0,
                    report: debt,
                    spent: unreported,
                    limit: self.spec.limit,
                }),
            }
            if self.stale.len() > MAX_STALE {
                self.stale.remove(0);
            }
        }
        self.day = self.spec.zone.day(now);
        self.day_key = self.day.key();
        self.spent = 0;
        self.reported = 0;
        self.counted = 0;
        self.fleet = Totals::default();
        self.last_contact = None;
        self.exhausted = false;
        self.window_start = None;
        self.window_rate = 0.0;
        self.window_nonlow_rate = 0.0;
        self.paced = false;
        self.today = Today::default();
        if let Some(f) = &mut self.fallback {
            f.others = 0;
            f.spent_at_loss = 0;
        }
    }

    fn key(&self) -> LeaseKey {
        LeaseKey { budget: self.spec.name.clone(), day: self.day_key.clone() }
    }

    /// What to ask the store next, if anything: a chunk when the held lease runs low, a report of bytes kept
    /// beyond the leases, or a refresh of the fleet total once a minute. Returns `None` while a request is in
    /// flight (until [`Accountant::apply`], or 30 s), while waiting to retry an unreachable store, and when
    /// nothing is needed. Cheap to call before every record.
    pub fn lease_request(&mut self, now: Timestamp) -> Option<LeaseRequest> {
        self.lease_request_for(now, 0)
    }

    /// [`Accountant::lease_request`] for a front-end about to admit up to `need` bytes without being able
    /// to reach the store meanwhile (the Lambda decides a whole batch at once): the lease asked for covers
    /// `need` in whole chunks. The fleet total can then be off by `need` more for this participant.
    pub fn lease_request_for(&mut self, now: Timestamp, need: u64) -> Option<LeaseRequest> {
        self.roll(now);
        if let Some(p) = &self.pending {
            if now.duration_since(p.sent) < PENDING_TIMEOUT {
                return None;
            }
            self.apply(now, Err(StoreUnavailable::new("no answer to the lease request within 30 s")));
        }
        if !self.stale.is_empty() && self.fallback.as_ref().is_none_or(|f| now >= f.retry_at) {
            let req = self.stale.remove(0);
            return Some(self.send(now, req));
        }
        if self.fallback.as_ref().is_some_and(|f| now < f.retry_at) {
            return None;
        }
        let chunk = self.spec.chunk.max(1);
        let holding = self.counted.saturating_sub(self.spent);
        let debt = self.spent.saturating_sub(self.counted);
        let want_chunk = !self.exhausted && (holding < chunk.div_ceil(2) || holding < need);
        let ask = chunk.saturating_mul(need.saturating_sub(holding).div_ceil(chunk).max(1));
        let refresh = self.fallback.is_some() || self.last_contact.is_none_or(|t| now.duration_since(t) >= REFRESH);
        let report_due = debt > 0 && debt >= (chunk / 4).max(1);
        if !(want_chunk || refresh || report_due) {
            return None;
        }
        let req = LeaseRequest {
            key: self.key(),
            chunk: if want_chunk { ask } else { 0 },
            report: debt,
            spent: self.spent - self.reported,
            limit: self.spec.limit,
        };
        Some(self.send(now, req))
    }

    /// A request reporting every byte kept but not yet counted, e.g. before shutting down. `None` when there
    /// is nothing to report or a request is in flight.
    pub fn flush_request(&mut self, now: Timestamp) -> Option<LeaseRequest> {
        self.roll(now);
        if self.pending.is_some() {
            return None;
        }
        if !self.stale.is_empty() {
            let req = self.stale.remove(0);
            return Some(self.send(now, req));
        }
        let debt = self.spent.saturating_sub(self.counted);
        let unreported = self.spent - self.reported;
        (debt > 0 || unreported > 0).then(|| {
            let req =
                LeaseRequest { key: self.key(), chunk: 0, report: debt, spent: unreported, limit: self.spec.limit };
            self.send(now, req)
        })
    }

    fn send(&mut self, now: Timestamp, req: LeaseRequest) -> LeaseRequest {
        self.lease_requests += 1;
        self.pending = Some(Pending { req: req.clone(), sent: now });
        req
    }

    /// Takes the store's answer to the last request, or its failure. Answers to no request (late, after a
    /// timeout) are ignored: the store counted them, so the fleet total only errs on the safe side.
    pub fn apply(&mut self, now: Timestamp, reply: Result<Lease, StoreUnavailable>) {
        let Some(Pending { req, .. }) = self.pending.take() else { return };
        let today = req.key.day == self.day_key;
        match reply {
            Ok(lease) if today => {
                // The estimate jumps when the first answer of the day or of a recovery arrives; that jump is
                // not a rate.
                if self.last_contact.is_none() || self.fallback.is_some() {
                    self.window_start = None;
                }
                self.fallback = None;
                self.counted = self.counted.saturating_add(req.report).saturating_add(lease.granted);
                self.reported = self.reported.saturating_add(req.spent);
                self.fleet = Totals {
                    counted: lease.totals.counted.max(self.counted),
                    kept: lease.totals.kept.max(self.reported),
                };
                self.exhausted = lease.granted == 0 && lease.totals.counted >= self.spec.limit;
                self.last_contact = Some(now);
            }
            Ok(_) => {
                // A past day's report was delivered; today's request can go right away.
                if let Some(f) = &mut self.fallback {
                    f.retry_at = now;
                }
            }
            Err(e) => {
                self.store_failures += 1;
                if !today {
                    self.stale.insert(0, req);
                }
                match &mut self.fallback {
                    Some(f) => {
                        f.backoff = (f.backoff * 2).min(RETRY_MAX);
                        f.retry_at = now + f.backoff;
                        f.error = e.message;
                    }
                    None => {
                        self.fallback = Some(Fallback {
                            since: now,
                            error: e.message,
                            others: self.fleet.kept.saturating_sub(self.reported),
                            spent_at_loss: self.spent,
                            retry_at: now + RETRY_FIRST,
                            backoff: RETRY_FIRST,
                        });
                    }
                }
            }
        }
    }

    /// Runs the request/answer loop against a blocking store: call before [`Accountant::admit`], or use
    /// [`Accountant::admit_with`].
    pub fn sync(&mut self, now: Timestamp, store: &mut impl LeaseStore) {
        // At most: a past day's report, today's request, and one more if a large report left us short.
        for _ in 0..3 {
            let Some(req) = self.lease_request(now) else { break };
            let reply = store.lease(&req);
            self.apply(now, reply);
        }
    }

    /// [`Accountant::sync`] then [`Accountant::admit`].
    pub fn admit_with(
        &mut self,
        now: Timestamp,
        priority: Priority,
        bytes: u64,
        store: &mut impl LeaseStore,
    ) -> Admission {
        self.sync(now, store);
        self.admit(now, priority, bytes)
    }

    /// A snapshot for metrics and reports.
    pub fn status(&self, now: Timestamp) -> BudgetStatus {
        let est = self.estimate();
        let limit = self.spec.limit as f64;
        let shedding = [Priority::High, Priority::Normal, Priority::Low]
            .into_iter()
            .find(|&p| self.spec.shed.shed_at(p).is_some_and(|s| est as f64 >= s * limit));
        let store = match (&self.fallback, self.last_contact) {
            (Some(f), _) => StoreState::Fallback { since: f.since, error: f.error.clone() },
            (None, Some(_)) => StoreState::Connected,
            (None, None) => StoreState::Unknown,
        };
        BudgetStatus {
            budget: self.spec.name.clone(),
            day: self.day,
            limit: self.spec.limit,
            spent: est,
            spent_local: self.spent,
            counted_local: self.counted,
            fleet: self.fleet,
            projected: self.projected(now, est),
            shedding,
            pacing: shedding.is_none() && self.low_rate(now, est).is_some(),
            exhausted: self.exhausted,
            store,
            over_limit: self.today.over_limit,
            kept: self.today.kept,
            kept_records: self.today.kept_records,
            shed: self.today.shed,
            shed_records: self.today.shed_records,
            shed_by: self.today.shed_by,
            lease_requests: self.lease_requests,
            store_failures: self.store_failures,
        }
    }
}

//! The licence day: midnight to midnight in the licence manager's IANA time zone.
//!
//! Splunk meters "per calendar day (from midnight to midnight by the clock on the license manager)", so a
//! budget day is a civil date in a configured zone, not 86 400 seconds from a UTC midnight. On a daylight
//! saving change the day is 23 or 25 hours long; where a zone skips midnight itself (clocks jump from
//! 00:00 to 01:00), the day starts at the first instant that exists. [`jiff`] does that arithmetic, with
//! its bundled time zone database so every front-end agrees without `/usr/share/zoneinfo`.

use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// A time zone that failed to load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {name:?}")]
pub struct UnknownTimeZone {
    /// The name as given.
    pub name: String,
}

/// The IANA time zone the licence manager's clock runs in. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseZone {
    name: String,
    tz: TimeZone,
}

impl LicenseZone {
    /// Looks a zone up by IANA name (`America/New_York`, `Europe/Berlin`, `UTC`) in the bundled database.
    pub fn new(name: &str) -> Result<LicenseZone, UnknownTimeZone> {
        let tz = TimeZone::get(name).map_err(|_| UnknownTimeZone { name: name.to_string() })?;
        Ok(LicenseZone { name: name.to_string(), tz })
    }

    /// UTC.
    pub fn utc() -> LicenseZone {
        LicenseZone { name: "UTC".into(), tz: TimeZone::UTC }
    }

    /// The name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `now` on the licence manager's wall clock, as `HH:MM` (for reports and logs).
    pub fn wall_clock(&self, now: Timestamp) -> String {
        now.to_zoned(self.tz.clone()).strftime("%H:%M").to_string()
    }

    /// The licence day that contains `now`.
    pub fn day(&self, now: Timestamp) -> LicenseDay {
        let date = now.to_zoned(self.tz.clone()).date();
        self.day_of(date)
    }

    /// The licence day of a calendar date.
    pub fn day_of(&self, date: Date) -> LicenseDay {
        // `start_of_day` is the first instant of the date, which is later than 00:00 when a zone skips
        // midnight. The fallbacks only trigger at the ends of jiff's supported range (years ±9999).
        let start = date
            .to_zoned(self.tz.clone())
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MIN);
        let end = date
            .tomorrow()
            .and_then(|d| d.to_zoned(self.tz.clone()))
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX);
        LicenseDay { date, start, end }
    }
}

/// One licence day: `[start, end)` in absolute time, and the civil date it is named by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LicenseDay {
    /// The calendar date in the licence zone; names the day in stores (`2026-03-08`).
    pub date: Date,
    /// The first instant of the day.
    pub start: Timestamp,
    /// The first instant of the next day.
    pub end: Timestamp,
}

impl LicenseDay {
    /// Whether `now` falls in this day.
    pub fn contains(&self, now: Timestamp) -> bool {
        self.start <= now && now < self.end
    }

    /// The day's length: 24 hours, or 23 or 25 on a daylight saving change.
    pub fn length(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }

    /// Time since the day started (zero before it, the day's length after it).
    pub fn elapsed(&self, now: Timestamp) -> SignedDuration {
        now.clamp(self.start, self.end).duration_since(self.start)
    }

    /// Time left until the day ends (zero after it).
    pub fn remaining(&self, now: Timestamp) -> SignedDuration {
        self.end.duration_since(now.clamp(self.start, self.end))
    }

    /// The share of the day that has passed, in [0, 1].
    pub fn elapsed_fraction(&self, now: Timestamp) -> f64 {
        let len = self.length().as_secs_f64();
        if len <= 0.0 { 1.0 } else { self.elapsed(now).as_secs_f64() / len }
    }

    /// The day's name in stores and reports: `YYYY-MM-DD`.
    pub fn key(&self) -> String {
        self.date.to_string()
    }
}

impl fmt::Display for LicenseDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn utc_days_are_24_hours() {
        let d = LicenseZone::utc().day(ts("2026-03-08T23:59:59.999Z"));
        assert_eq!(d.key(), "2026-03-08");
        assert_eq!(d.start, ts("2026-03-08T00:00:00Z"));
        assert_eq!(d.end, ts("2026-03-09T00:00:00Z"));
        assert_eq!(d.length(), SignedDuration::from_hours(24));
    }

    #[test]
    fn new_york_spring_forward_is_23_hours_and_fall_back_25() {
        let z = LicenseZone::new("America/New_York").unwrap();
        // 2026-03-08: clocks go 02:00 → 03:00 EST→EDT.
        let d = z.day(ts("2026-03-08T12:00:00Z"));
        assert_eq!(d.key(), "2026-03-08");
        assert_eq!(d.start, ts("2026-03-08T05:00:00Z")); // midnight EST
        assert_eq!(d.end, ts("2026-03-09T04:00:00Z")); // midnight EDT
        assert_eq!(d.length(), SignedDuration::from_hours(23));
        // 2026-11-01: 02:00 EDT → 01:00 EST.
        let d = z.day(ts("2026-11-01T12:00:00Z"));
        assert_eq!(d.length(), SignedDuration::from_hours(25));
        assert_eq!(d.start, ts("2026-11-01T04:00:00Z"));
        assert_eq!(d.end, ts("2026-11-02T05:00:00Z"));
    }

    #[test]
    fn day_boundary_is_local_midnight_not_utc() {
        let z = LicenseZone::new("Asia/Kolkata").unwrap(); // UTC+05:30, no DST
        assert_eq!(z.day(ts("2026-06-30T18:29:59Z")).key(), "2026-06-30");
        assert_eq!(z.day(ts("2026-06-30T18:30:00Z")).key(), "2026-07-01");
        let z = LicenseZone::new("Pacific/Auckland").unwrap(); // UTC+12/13, DST ends 2026-04-05
        let d = z.day(ts("2026-04-04T12:00:00Z"));
        assert_eq!(d.key(), "2026-04-05");
        assert_eq!(d.length(), SignedDuration::from_hours(25));
    }

    #[test]
    fn zone_that_skips_midnight_starts_at_one() {
        // Cuba springs forward at 00:00 → 01:00 (second Sunday of March): 2026-03-08.
        let z = LicenseZone::new("America/Havana").unwrap();
        let d = z.day(ts("2026-03-08T12:00:00Z"));
        assert_eq!(d.key(), "2026-03-08");
        assert_eq!(d.start, ts("2026-03-08T05:00:00Z")); // 01:00 CDT == 00:00 CST, the first instant
        assert_eq!(d.length(), SignedDuration::from_hours(23));
        // The previous day ends exactly where this one starts: no gap, no overlap.
        let prev = z.day(ts("2026-03-08T04:59:59Z"));
        assert_eq!(prev.end, d.start);
    }

    #[test]
    fn fractions_and_unknown_zone() {
        let d = LicenseZone::utc().day(ts("2026-01-01T06:00:00Z"));
        assert!((d.elapsed_fraction(ts("2026-01-01T06:00:00Z")) - 0.25).abs() < 1e-12);
        assert_eq!(d.remaining(ts("2026-01-02T06:00:00Z")), SignedDuration::ZERO);
        assert_eq!(LicenseZone::new("Mars/Olympus").unwrap_err().to_string(), "unknown time zone \"Mars/Olympus\"");
    }
}

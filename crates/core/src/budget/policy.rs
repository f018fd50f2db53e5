//! What a budget allows: the daily limit, the spent share at which each priority is shed, pacing, and how
//! the fleet leases it. Built from a rule file's `budget:` section ([`crate::RuleSet::budget`]) or in code.

use crate::primitives::Priority;

use super::day::LicenseZone;

/// 10^3 bytes.
pub const KB: u64 = 1_000;
/// 10^6 bytes.
pub const MB: u64 = 1_000_000;
/// 10^9 bytes: what `GB` means in a budget (see [`parse_size`]).
pub const GB: u64 = 1_000_000_000;
/// 2^10 bytes.
pub const KIB: u64 = 1 << 10;
/// 2^20 bytes.
pub const MIB: u64 = 1 << 20;
/// 2^30 bytes.
pub const GIB: u64 = 1 << 30;

const UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kb", KB),
    ("mb", MB),
    ("gb", GB),
    ("tb", 1_000 * GB),
    ("kib", KIB),
    ("mib", MIB),
    ("gib", GIB),
    ("tib", 1 << 40),
];

/// A budget value that failed to parse: what is wrong ([`std::fmt::Display`]: lower case, no final
/// period, user text quoted), and how to write it ([`SpecError::hint`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A size with a unit that is not one.
    #[error("unknown size unit {unit:?} in {text:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole size as written.
        text: String,
    },
    /// A size that is not a number and a unit.
    #[error("invalid byte size {0:?}")]
    InvalidSize(String),
    /// A size past what a byte count holds.
    #[error("byte size {0:?} is too large")]
    TooLarge(String),
    /// A share outside 0–100%; `bare` when written without `%`.
    #[error("share {text} is outside 0–100%")]
    ShareOutside {
        /// The share as written.
        text: String,
        /// Written as a bare number (a fraction), not a percentage.
        bare: bool,
    },
    /// A share that is not a number.
    #[error("invalid share {0:?}")]
    InvalidShare(String),
}

impl SpecError {
    /// How to write the value.
    pub fn hint(&self) -> String {
        match self {
            SpecError::UnknownUnit { .. } | SpecError::InvalidSize(_) | SpecError::TooLarge(_) => {
                "write a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 4GB".into()
            }
            SpecError::ShareOutside { text, bare: true } => {
                format!("a bare number is a fraction of the limit (0.8 = 80%); did you mean {text}%?")
            }
            SpecError::ShareOutside { .. } | SpecError::InvalidShare(_) => {
                "write a percentage of the daily limit between 0% and 100%, e.g. 80%".into()
            }
        }
    }
}

/// Parses a byte size: `4GB`, `500 MB`, `1.5GB`, `4GiB`, or a plain number of bytes.
///
/// Decimal units are powers of 1000 (`GB` = 10^9), binary units powers of 1024 (`GiB` = 2^30); unit case
/// does not matter. A budget's `GB` is decimal on purpose: it is the smaller reading of "GB", so a `4GB`
/// budget never exceeds a 4 GB licence however Splunk defines its GB (see docs/rules.md).
pub fn parse_size(text: &str) -> Result<u64, SpecError> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let mult = if unit.is_empty() {
        Some(1)
    } else {
        UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)).map(|&(_, m)| m)
    };
    let (Some(mult), Ok(n)) = (mult, num.parse::<f64>()) else {
        if mult.is_none() && !num.is_empty() {
            return Err(SpecError::UnknownUnit { unit: unit.into(), text: text.into() });
        }
        return Err(SpecError::InvalidSize(text.into()));
    };
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(SpecError::TooLarge(text.into()));
    }
    Ok(bytes.round() as u64)
}

/// Parses a share of the limit: `80%`, or a fraction such as `0.8`; must be within 0–100%.
pub fn parse_share(text: &str) -> Result<f64, SpecError> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => t.parse::<f64>().ok(),
    };
    match v {
        Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Some(_) => Err(SpecError::ShareOutside { text: t.into(), bare: !t.ends_with('%') }),
        None => Err(SpecError::InvalidShare(t.into())),
    }
}

/// The spent share of the daily limit at which each priority stops being admitted.
///
/// Critical has no threshold: it is never shed, only counted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Shed `low` once this share is spent (default 80%).
    pub low: f64,
    /// Shed `normal` once this share is spent (default 95%).
    pub normal: f64,
    /// Shed `high` once this share is spent (default 100%).
    pub high: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { low: 0.80, normal: 0.95, high: 1.0 }
    }
}

impl Thresholds {
    /// The share at which `p` is shed; `None` for critical.
    pub fn shed_at(&self, p: Priority) -> Option<f64> {
        match p {
            Priority::Low => Some(self.low),
            Priority::Normal => Some(self.normal),
            Priority::High => Some(self.high),
            Priority::Critical => None,
        }
    }

    /// Sets the share for `p` (ignored for critical).
    pub fn set(&mut self, p: Priority, share: f64) {
        match p {
            Priority::Low => self.low = share,
            Priority::Normal => self.normal = share,
            Priority::High => self.high = share,
            Priority::Critical => {}
        }
    }
}

/// A daily byte budget: the parsed `budget:` section of a rule file.
///
/// Build one in code with `BudgetSpec { pacing: false, ..BudgetSpec::new(4 * GB, zone) }`.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetSpec {
    /// Names the budget in shared stores, so several rule sets can share one licence (`budget.name`,
    /// else the rule file's `name`, else `default`).
    pub name: String,
    /// Bytes Splunk may meter per licence day.
    pub limit: u64,
    /// The licence manager's time zone: the day ends at midnight there.
    pub zone: LicenseZone,
    /// When each priority is shed.
    pub shed: Thresholds,
    /// Whether low priority is paced when the day's projected use exceeds the limit.
    pub pacing: bool,
    /// Bytes leased from the store at a time: the store is called about once per chunk, and the fleet total
    /// can be off by at most one chunk per participant.
    pub chunk: u64,
    /// The share of the remaining budget one participant may spend on its own while the shared store is
    /// unreachable: 1/N for N participants is exact, less is safer.
    pub fallback_share: f64,
}

impl BudgetSpec {
    /// A budget with the default thresholds (80/95/100%), pacing on, the default chunk and a 10% fallback share.
    pub fn new(limit: u64, zone: LicenseZone) -> BudgetSpec {
        BudgetSpec {
            name: "default".into(),
            limit,
            zone,
            shed: Thresholds::default(),
            pacing: true,
            chunk: default_chunk(limit),
            fallback_share: 0.10,
        }
    }
}

/// A thousandth of the limit, between 64 KiB and 64 MiB (and never more than the limit): ~1000 store calls
/// per day for the whole fleet, and a fleet-wide error of at most 0.1% of the limit per participant.
pub fn default_chunk(limit: u64) -> u64 {
    (limit / 1000).clamp(64 * KIB, 64 * MIB).min(limit.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4GB"), Ok(4 * GB));
        assert_eq!(parse_size("4 gb"), Ok(4 * GB));
        assert_eq!(parse_size("500MB"), Ok(500 * MB));
        assert_eq!(parse_size("4GiB"), Ok(4 * GIB));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        let e = parse_size("4XB").unwrap_err();
        assert_eq!(e.to_string(), "unknown size unit \"XB\" in \"4XB\"");
        assert!(e.hint().contains("GiB"));
        assert_eq!(parse_size("lots").unwrap_err().to_string(), "invalid byte size \"lots\"");
        assert!(parse_size("1e30TB").is_err());
    }

    #[test]
    fn shares() {
        assert_eq!(parse_share("80%"), Ok(0.8));
        assert_eq!(parse_share("0.95"), Ok(0.95));
        assert_eq!(parse_share("100%"), Ok(1.0));
        assert_eq!(parse_share("120%").unwrap_err().to_string(), "share 120% is outside 0–100%");
        assert!(parse_share("80").unwrap_err().hint().contains("80%"));
        assert_eq!(parse_share("most").unwrap_err().to_string(), "invalid share \"most\"");
    }

    #[test]
    fn default_chunk_is_a_thousandth_within_bounds() {
        assert_eq!(default_chunk(4 * GB), 4 * MB);
        assert_eq!(default_chunk(10 * MB), 64 * KIB);
        assert_eq!(default_chunk(1000 * GB), 64 * MIB);
        assert_eq!(default_chunk(1000), 1000);
    }
}

//! Value types of the contract. Each checks its own rule when it is built, so
//! that an instance in memory is always valid.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RuleError;

/// The id alphabet of DESIGN.md §2: 1–64 characters of `A-Za-z0-9._:-`.
pub fn check_id(s: &str) -> Result<(), RuleError> {
    if s.is_empty() {
        return Err(RuleError::new("must not be empty"));
    }
    if s.len() > 64 {
        return Err(RuleError::new(format!(
            "must be at most 64 characters, got {}",
            s.len()
        )));
    }
    // Bytes first (every id is checked on every event read): a string of
    // allowed ASCII bytes is valid; otherwise find the character to name.
    if s.bytes().all(id_byte) {
        return Ok(());
    }
    let c = s
        .chars()
        .find(|&c| !c.is_ascii() || !id_byte(c as u8))
        .expect("a byte failed");
    Err(RuleError::new(format!(
        "character {c:?} is not allowed (use A-Z a-z 0-9 . _ : -)"
    )))
}

/// Whether `b` is in the id alphabet.
fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-')
}

/// A lowercase slug: starts with `a-z`, then `a-z 0-9 _ -`, at most 40 characters.
pub fn check_slug(s: &str) -> Result<(), RuleError> {
    let mut chars = s.chars();
    match chars.next() {
        None => return Err(RuleError::new("must not be empty")),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err(RuleError::new("must start with a lowercase letter a-z"))
        }
        _ => {}
    }
    if s.len() > 40 {
        return Err(RuleError::new(format!(
            "must be at most 40 characters, got {}",
            s.len()
        )));
    }
    if let Some(c) =
        chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')))
    {
        return Err(RuleError::new(format!(
            "character {c:?} is not allowed in a lowercase slug (a-z 0-9 _ -)"
        )));
    }
    Ok(())
}

macro_rules! string_type {
    ($(#[$meta:meta])* $name:ident, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Box<str>);

        impl $name {
            /// Checks the rule and wraps the string.
            pub fn new(s: impl Into<String>) -> Result<Self, RuleError> {
                let s = s.into();
                $check(&s)?;
                Ok(Self(s.into_boxed_str()))
            }

            /// The string itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = RuleError;
            fn from_str(s: &str) -> Result<Self, RuleError> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_type!(
    /// The unique id of an event; processing an id twice changes nothing.
    EventId, check_id
);
string_type!(
    /// A worker (employee on loan or flexible worker).
    WorkerId, check_id
);
string_type!(
    /// A shortage (gap) posted by a borrowing enterprise.
    GapId, check_id
);
string_type!(
    /// An enterprise (lender or borrower) or agency.
    EnterpriseId, check_id
);
string_type!(
    /// A proposal of one worker for one gap.
    MatchId, check_id
);
string_type!(
    /// An opaque labour-market code, e.g. the division code `620100`.
    Region, check_id
);
string_type!(
    /// A certificate name, e.g. `forklift-licence`.
    Certificate, check_id
);
string_type!(
    /// A skill slug such as `forklift` or `cashier`.
    Skill, check_slug
);
string_type!(
    /// An industry slug such as `logistics`.
    Industry, check_slug
);

/// An integer type that holds only `LO..=HI`: built by `new` (or by
/// serde from an `i64`), refused with "`WHAT` must be LO–HI, got N"
/// otherwise, and written back as its number.
macro_rules! bounded_int {
    ($(#[$meta:meta])* $name:ident($repr:ty), $lo:expr, $hi:expr, $what:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name($repr);

        impl $name {
            /// Smallest accepted value.
            pub const MIN: i64 = $lo;
            /// Largest accepted value.
            pub const MAX: i64 = $hi;
            /// Checks the range.
            pub fn new(n: i64) -> Result<Self, RuleError> {
                if (Self::MIN..=Self::MAX).contains(&n) {
                    Ok(Self(n as $repr))
                } else {
                    Err(RuleError::new(format!(
                        "{} must be {}–{}, got {n}",
                        $what,
                        Self::MIN,
                        Self::MAX
                    )))
                }
            }
            /// The value.
            pub fn get(self) -> $repr {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = RuleError;
            fn try_from(v: i64) -> Result<Self, RuleError> {
                Self::new(v)
            }
        }

        impl From<$name> for i64 {
            fn from(v: $name) -> i64 {
                i64::from(v.0)
            }
        }
    };
}

bounded_int!(
    /// A skill level, 1 (novice) to 5 (master).
    Level(u8), 1, 5, "level"
);
bounded_int!(
    /// Open positions of a shortage, 1–10000.
    Headcount(u32), 1, 10_000, "headcount"
);

// After the macros it uses.
mod v2;
pub use v2::*;

/// Money in fen (1/100 yuan) per hour; an integer, never a float. The upper
/// bound (¥100 000 per hour) only keeps arithmetic far from overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Fen(i64);

impl Fen {
    /// Largest accepted hourly wage, in fen.
    pub const MAX: i64 = 10_000_000;
    /// Checks 0 ≤ fen ≤ [`Fen::MAX`].
    pub fn new(fen: i64) -> Result<Self, RuleError> {
        if fen < 0 {
            Err(RuleError::new(format!(
                "money must not be negative, got {fen}"
            )))
        } else if fen > Self::MAX {
            Err(RuleError::new(format!(
                "must be at most {} fen per hour, got {fen}",
                Self::MAX
            )))
        } else {
            Ok(Self(fen))
        }
    }
    /// The amount in fen.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for Fen {
    type Error = RuleError;
    fn try_from(v: i64) -> Result<Self, RuleError> {
        Self::new(v)
    }
}

impl From<Fen> for i64 {
    fn from(f: Fen) -> i64 {
        f.0
    }
}

/// A distance in kilometres, finite, 0–20 000.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Km(f64);

impl Km {
    /// Checks the distance is finite and within 0–20 000 km.
    pub fn new(km: f64) -> Result<Self, RuleError> {
        if km.is_finite() && (0.0..=20_000.0).contains(&km) {
            Ok(Self(km))
        } else {
            Err(RuleError::new(format!(
                "distance must be 0–20000 km, got {km}"
            )))
        }
    }
    /// The distance in km.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Km {
    type Error = RuleError;
    fn try_from(v: f64) -> Result<Self, RuleError> {
        Self::new(v)
    }
}

impl From<Km> for f64 {
    fn from(k: Km) -> f64 {
        k.0
    }
}

/// Latitude in WGS-84 degrees, −90 to 90.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Lat(f64);

impl TryFrom<f64> for Lat {
    type Error = RuleError;
    fn try_from(v: f64) -> Result<Self, RuleError> {
        if v.is_finite() && (-90.0..=90.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(RuleError::new(format!(
                "latitude must be within ±90 degrees, got {v}"
            )))
        }
    }
}

impl From<Lat> for f64 {
    fn from(l: Lat) -> f64 {
        l.0
    }
}

/// Longitude in WGS-84 degrees, −180 to 180.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Lon(f64);

impl TryFrom<f64> for Lon {
    type Error = RuleError;
    fn try_from(v: f64) -> Result<Self, RuleError> {
        if v.is_finite() && (-180.0..=180.0).contains(&v) {
            Ok(Self(v))
        } else {
            Err(RuleError::new(format!(
                "longitude must be within ±180 degrees, got {v}"
            )))
        }
    }
}

impl From<Lon> for f64 {
    fn from(l: Lon) -> f64 {
        l.0
    }
}

/// A place in WGS-84 degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Latitude.
    pub lat: Lat,
    /// Longitude.
    pub lon: Lon,
}

impl Place {
    /// A place from degrees, checking both ranges.
    pub fn new(lat: f64, lon: f64) -> Result<Self, RuleError> {
        Ok(Self {
            lat: Lat::try_from(lat)?,
            lon: Lon::try_from(lon)?,
        })
    }
    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat.0
    }
    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon.0
    }
}

/// A calendar date, `YYYY-MM-DD` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

impl Date {
    /// Parses `YYYY-MM-DD` strictly.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        let ok_shape = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !ok_shape {
            return Err(RuleError::new(format!(
                "expected a date YYYY-MM-DD, got {s:?}"
            )));
        }
        // The shape is checked: read the digits directly (chrono's
        // format-string parser was a tenth of the gateway's posting cost).
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
        };
        NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))
            .map(Date)
            .ok_or_else(|| RuleError::new(format!("{s:?} is not a calendar date")))
    }
    /// The date `days` later.
    pub fn plus_days(self, days: i64) -> Self {
        Date(self.0 + chrono::Duration::days(days))
    }
    /// The day number (days since 0001-01-01 plus one), for fast
    /// comparisons in indexes.
    pub fn day_number(self) -> i32 {
        chrono::Datelike::num_days_from_ce(&self.0)
    }

    /// Days from `self` to `other`.
    pub fn days_until(self, other: Date) -> i64 {
        (other.0 - self.0).num_days()
    }

    /// `YYYY-MM-DD` as chrono's `%Y-%m-%d` writes it, into `buf`, without
    /// its format-string machinery; `None` when chrono must write it (a
    /// year beyond 0000–9999, which only dates built in code can have: the
    /// parser takes four digits).
    fn write_ascii(self, buf: &mut [u8]) -> Option<&str> {
        use chrono::Datelike;
        let y = u32::try_from(self.0.year()).ok().filter(|y| *y < 10_000)?;
        put_digits(&mut buf[0..4], y);
        buf[4] = b'-';
        put_digits(&mut buf[5..7], self.0.month());
        buf[7] = b'-';
        put_digits(&mut buf[8..10], self.0.day());
        std::str::from_utf8(&buf[..10]).ok()
    }
}

/// Writes `n` as `out.len()` decimal digits, zero-padded (the high digits
/// beyond the width are dropped; callers pass numbers that fit).
fn put_digits(out: &mut [u8], mut n: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A property test compares this with chrono over every four-digit year.
        match self.write_ascii(&mut [0; 10]) {
            Some(text) => f.write_str(text),
            None => write!(f, "{}", self.0.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.write_ascii(&mut [0; 10]) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An inclusive date window, `{"start": …, "end": …}` with start ≤ end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawWindow")]
pub struct Window {
    /// First day.
    pub start: Date,
    /// Last day (inclusive).
    pub end: Date,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    start: Date,
    end: Date,
}

impl TryFrom<RawWindow> for Window {
    type Error = RuleError;
    fn try_from(r: RawWindow) -> Result<Self, RuleError> {
        Window::new(r.start, r.end)
    }
}

impl Window {
    /// Checks start ≤ end.
    pub fn new(start: Date, end: Date) -> Result<Self, RuleError> {
        if end < start {
            Err(RuleError::new(format!(
                "window end {end} is before its start {start}"
            )))
        } else {
            Ok(Self { start, end })
        }
    }
    /// Whether `inner` lies inside `self` (both inclusive).
    pub fn contains(&self, inner: &Window) -> bool {
        self.start <= inner.start && inner.end <= self.end
    }
    /// Whether the two windows share at least one day.
    pub fn overlaps(&self, other: &Window) -> bool {
        self.start <= other.end && other.start <= self.end
    }
    /// Number of days, both ends counted.
    pub fn days(&self) -> i64 {
        self.start.days_until(self.end) + 1
    }
}

/// An instant in UTC, RFC 3339 on the wire (written back with `Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parses RFC 3339 (`2026-03-01T08:00:00Z`, offsets allowed).
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| {
                RuleError::new(format!(
                    "expected an RFC 3339 time such as 2026-03-01T08:00:00Z ({e})"
                ))
            })
    }
    /// RFC 3339 as chrono writes it with `SecondsFormat::AutoSi` and `Z`,
    /// into `buf`, without its formatting machinery; `None` when chrono
    /// must write it (a year beyond 0000–9999 or a leap second).
    fn write_ascii(self, buf: &mut [u8; 30]) -> Option<&str> {
        use chrono::Timelike;
        let t = self.0.time();
        let nanos = t.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        Date(self.0.date_naive()).write_ascii(&mut buf[0..10])?;
        buf[10] = b'T';
        put_digits(&mut buf[11..13], t.hour());
        buf[13] = b':';
        put_digits(&mut buf[14..16], t.minute());
        buf[16] = b':';
        put_digits(&mut buf[17..19], t.second());
        let mut end = 19;
        let digits = match nanos {
            0 => 0,
            n if n % 1_000_000 == 0 => 3,
            n if n % 1_000 == 0 => 6,
            _ => 9,
        };
        if digits > 0 {
            buf[end] = b'.';
            put_digits(
                &mut buf[end + 1..end + 1 + digits],
                nanos / 10u32.pow(9 - digits as u32),
            );
            end += 1 + digits;
        }
        buf[end] = b'Z';
        std::str::from_utf8(&buf[..end + 1]).ok()
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }
    /// The instant `secs` seconds since the Unix epoch.
    pub fn from_unix_seconds(secs: i64) -> Option<Self> {
        DateTime::from_timestamp(secs, 0).map(Timestamp)
    }
    /// The calendar date of this instant in UTC.
    pub fn date(&self) -> Date {
        Date(self.0.date_naive())
    }
    /// The market day of this instant: its date in China Standard Time
    /// (UTC+8), the time zone of the regions the contract's dates are
    /// written in. A start at 07:00 in Lanzhou on the window's first day is
    /// on that day, although it is 23:00 UTC the day before.
    pub fn market_date(&self) -> Date {
        Date((self.0 + chrono::Duration::seconds(MARKET_UTC_OFFSET_SECS)).date_naive())
    }
}

/// The offset of market time from UTC, in seconds (China Standard Time).
pub const MARKET_UTC_OFFSET_SECS: i64 = 8 * 3600;

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.write_ascii(&mut [0; 30]) {
            Some(text) => f.write_str(text),
            None => f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.write_ascii(&mut [0; 30]) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Free text such as a withdrawal reason: at most 500 characters, no control
/// characters (they would corrupt logs and terminals).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reason(Box<str>);

impl Reason {
    /// Checks length and characters.
    pub fn new(s: impl Into<String>) -> Result<Self, RuleError> {
        let s = s.into();
        let n = s.chars().count();
        if n > 500 {
            return Err(RuleError::new(format!(
                "must be at most 500 characters, got {n}"
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(RuleError::new("must not contain control characters"));
        }
        Ok(Self(s.into_boxed_str()))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Reason::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_alphabet() {
        assert!(WorkerId::new("w-1.a:b_C").is_ok());
        assert!(WorkerId::new("").is_err());
        assert!(WorkerId::new("a b").is_err());
        assert!(WorkerId::new("x".repeat(65)).is_err());
        assert!(WorkerId::new("x".repeat(64)).is_ok());
    }

    #[test]
    fn slugs_are_lowercase() {
        assert!(Skill::new("forklift").is_ok());
        assert!(Skill::new("Forklift").is_err());
        assert!(Skill::new("1abc").is_err());
        assert!(Skill::new("fork lift").is_err());
    }

    #[test]
    fn dates_are_strict() {
        assert!(Date::parse("2026-02-28").is_ok());
        assert!(Date::parse("2026-02-30").is_err());
        assert!(Date::parse("2026-2-3").is_err());
        assert!(Date::parse("+2026-02-03").is_err());
    }

    #[test]
    fn windows_are_inclusive() {
        let d = |s| Date::parse(s).unwrap();
        let a = Window::new(d("2026-01-01"), d("2026-01-10")).unwrap();
        let b = Window::new(d("2026-01-10"), d("2026-01-12")).unwrap();
        assert!(a.overlaps(&b));
        assert_eq!(a.days(), 10);
        assert!(Window::new(d("2026-01-02"), d("2026-01-01")).is_err());
    }

    #[test]
    fn timestamps_round_trip_in_utc() {
        let t = Timestamp::parse("2026-03-01T16:00:00+08:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-01T08:00:00Z");
        assert!(Timestamp::parse("2026-03-01 08:00").is_err());
    }
}

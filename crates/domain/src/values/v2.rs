//! The value types contract version 2 added (DESIGN §5): a shortage's
//! title and description, a worker's display name, hours per day, minutes
//! of a timesheet day, an amount paid, and a document's SHA-256.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::RuleError;

/// Free text of the contract version 2 (a shortage's title and
/// description, a worker's display name): at most `MAX` characters, not
/// blank, no control characters except — where `LINES` — line breaks.
macro_rules! text_type {
    ($(#[$meta:meta])* $name:ident, $max:expr, $lines:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(Box<str>);

        impl $name {
            /// Longest accepted text, in characters.
            pub const MAX: usize = $max;

            /// Checks length and characters.
            pub fn new(s: impl Into<String>) -> Result<Self, RuleError> {
                let s = s.into();
                let n = s.chars().count();
                if n > Self::MAX {
                    return Err(RuleError::new(format!(
                        "must be at most {} characters, got {n}",
                        Self::MAX
                    )));
                }
                if s.trim().is_empty() {
                    return Err(RuleError::new("must not be empty"));
                }
                if s.chars().any(|c| c.is_control() && !($lines && (c == '\n' || c == '\r'))) {
                    return Err(RuleError::new("must not contain control characters"));
                }
                Ok(Self(s.into_boxed_str()))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
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

text_type!(
    /// A shortage's title (v2): at most 80 characters, one line.
    Title, 80, false
);
text_type!(
    /// A shortage's description (v2): at most 2000 characters.
    Description, 2000, true
);
text_type!(
    /// The name a worker is shown by to the parties of their own
    /// proposals (v2): at most 40 characters, one line.
    DisplayName, 40, false
);

/// Working hours per day of a shortage (v2), 1–12; 8 when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct HoursPerDay(u8);

impl HoursPerDay {
    /// The hours of a shortage that names none.
    pub const DEFAULT: HoursPerDay = HoursPerDay(8);
    /// Checks 1 ≤ hours ≤ 12.
    pub fn new(n: i64) -> Result<Self, RuleError> {
        if (1..=12).contains(&n) {
            Ok(Self(n as u8))
        } else {
            Err(RuleError::new(format!(
                "hours per day must be 1–12, got {n}"
            )))
        }
    }
    /// The hours.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for HoursPerDay {
    type Error = RuleError;
    fn try_from(v: i64) -> Result<Self, RuleError> {
        Self::new(v)
    }
}

impl From<HoursPerDay> for u8 {
    fn from(h: HoursPerDay) -> u8 {
        h.0
    }
}

/// Minutes worked on one day, 0–1440.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u16")]
pub struct Minutes(u16);

impl Minutes {
    /// Checks 0 ≤ minutes ≤ 1440.
    pub fn new(n: i64) -> Result<Self, RuleError> {
        if (0..=1440).contains(&n) {
            Ok(Self(n as u16))
        } else {
            Err(RuleError::new(format!(
                "minutes in a day must be 0–1440, got {n}"
            )))
        }
    }
    /// The minutes.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for Minutes {
    type Error = RuleError;
    fn try_from(v: i64) -> Result<Self, RuleError> {
        Self::new(v)
    }
}

impl From<Minutes> for u16 {
    fn from(m: Minutes) -> u16 {
        m.0
    }
}

/// An amount of money paid, in fen: a positive integer, at most ¥10
/// billion (which only keeps sums far from overflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct AmountFen(i64);

impl AmountFen {
    /// Largest accepted amount.
    pub const MAX: i64 = 1_000_000_000_000;
    /// Checks 1 ≤ fen ≤ [`AmountFen::MAX`].
    pub fn new(fen: i64) -> Result<Self, RuleError> {
        if (1..=Self::MAX).contains(&fen) {
            Ok(Self(fen))
        } else {
            Err(RuleError::new(format!(
                "an amount paid must be 1–{} fen, got {fen}",
                Self::MAX
            )))
        }
    }
    /// The amount.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for AmountFen {
    type Error = RuleError;
    fn try_from(v: i64) -> Result<Self, RuleError> {
        Self::new(v)
    }
}

impl From<AmountFen> for i64 {
    fn from(a: AmountFen) -> i64 {
        a.0
    }
}

/// A SHA-256 digest as 64 lowercase hexadecimal digits (the hash of an
/// agreement document that a party signs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(Box<str>);

impl Sha256Hex {
    /// Checks the shape.
    pub fn new(s: impl Into<String>) -> Result<Self, RuleError> {
        let s = s.into();
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(RuleError::new(format!(
                "must be a SHA-256 digest as 64 lowercase hexadecimal digits, got {} characters",
                s.chars().count()
            )));
        }
        Ok(Self(s.into_boxed_str()))
    }
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sha256Hex::new(s).map_err(serde::de::Error::custom)
    }
}

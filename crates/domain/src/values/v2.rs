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

bounded_int!(
    /// Working hours per day of a shortage (v2), 1–12; 8 when absent.
    HoursPerDay(u8), 1, 12, "hours per day"
);

impl HoursPerDay {
    /// The hours of a shortage that names none.
    pub const DEFAULT: HoursPerDay = HoursPerDay(8);
}

bounded_int!(
    /// Minutes worked on one day, 0–1440.
    Minutes(u16), 0, 1440, "minutes in a day"
);

bounded_int!(
    /// An amount of money paid, in fen: a positive integer, at most ¥10
    /// billion (which only keeps sums far from overflow).
    AmountFen(i64), 1, 1_000_000_000_000, "an amount paid in fen"
);

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

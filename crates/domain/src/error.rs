//! Errors that name the field and the rule.

use std::fmt;

/// A value broke one rule of the contract. Carries only the rule's message;
/// [`ValidationError`] adds the field it was found in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

impl RuleError {
    /// A rule error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// An input broke the event contract: `field` is a JSON path such as
/// `skills[2].level` (or `$` for the whole line) and `message` states the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Path of the offending field, `$` for the document itself.
    pub field: String,
    /// The rule that was broken, in words.
    pub message: String,
}

impl ValidationError {
    /// An error at `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error one level deeper, e.g. `explanation` + `terms.x`.
    pub fn within(self, parent: &str) -> Self {
        let field = if self.field == "$" || self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        Self {
            field,
            message: self.message,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

//! Reading events: the fast paths for valid events and the path-tracking
//! one that explains a refusal (see the parent module's docs), and the
//! [`serde::Deserialize`] impl that calls them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{Event, EventKind, EVENT_TYPES};
use crate::error::ValidationError;
use crate::values::*;

/// Deserializes the body of a variant, tracking the path of any error.
fn body<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        let field = match (message.strip_prefix("missing field `"), path.as_str()) {
            (Some(rest), p) => {
                let name = rest.split('`').next().unwrap_or_default();
                if p == "." {
                    name.to_owned()
                } else {
                    format!("{p}.{name}")
                }
            }
            (None, ".") => "$".to_owned(),
            (None, p) => p.to_owned(),
        };
        ValidationError::new(field, message)
    })
}

fn take_str(map: &mut Map<String, Value>, field: &str) -> Result<String, ValidationError> {
    match map.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ValidationError::new(
            field,
            format!("must be a string, got {}", json_kind(&other)),
        )),
        None => Err(ValidationError::new(
            field,
            format!("missing field `{field}`"),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Event {
    /// Parses and validates one JSON document (one line of a `.jsonl` file).
    ///
    /// Valid events take a fast path ([`Event::from_json_fast`]) that
    /// deserializes each field straight from the text; anything it refuses
    /// goes through [`Event::from_json_checked`], which builds the JSON tree
    /// and tracks paths so the error names the field. Both give the same
    /// verdict and the same event (the property tests check it).
    pub fn from_json(text: &str) -> Result<Event, ValidationError> {
        match Event::from_json_fast(text) {
            Some(e) => Ok(e),
            None => Event::from_json_checked(text),
        }
    }

    /// The path-tracking parser: slower, and the one that explains errors.
    #[doc(hidden)]
    pub fn from_json_checked(text: &str) -> Result<Event, ValidationError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ValidationError::new("$", format!("not valid JSON: {e}")))?;
        Event::from_value_checked(value)
    }

    /// The fast path: the top-level object is split into raw (unparsed)
    /// members, and the event's body is deserialized from them directly —
    /// the same derive, the same field rules, the same duplicate-key
    /// semantics as the checked path (the last one wins), but no tree of
    /// values and no path bookkeeping. `None` on anything it does not
    /// accept (including keys written with escapes), for the checked path
    /// to decide and explain.
    #[doc(hidden)]
    pub fn from_json_fast(text: &str) -> Option<Event> {
        if let Some(e) = Event::from_json_canonical(text) {
            return Some(e);
        }
        use serde_json::value::RawValue;
        let mut map: BTreeMap<&str, &RawValue> = serde_json::from_str(text).ok()?;
        let mut string = |field: &str| -> Option<String> {
            serde_json::from_str::<String>(map.remove(field)?.get()).ok()
        };
        let (ty, id, at) = (string("type")?, string("id")?, string("at")?);
        Event::from_members(&ty, &id, &at, map.into_iter())
    }

    /// The fastest path, for an event laid out as [`Event::to_json`]
    /// writes it (what the gateway, the matchers and `simulate` publish):
    /// `{"id":"…","at":"…","type":"…"` and then the body's members. The
    /// three strings are taken in place (an escape cannot get through:
    /// the id's alphabet, the time's format and the type names have no
    /// backslash) and the body is deserialized in one pass by its own
    /// derive, with the same field rules as the other paths. A repeated or reserved key in the
    /// body is an unknown or duplicate field there, so such a text goes to
    /// the member-splitting path, which decides as the checked one does.
    /// `None` for any other layout.
    fn from_json_canonical(text: &str) -> Option<Event> {
        fn quoted<'a>(text: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
            text.strip_prefix(key)?.split_once('"')
        }
        let (id, rest) = quoted(text, r#"{"id":""#)?;
        let (at, rest) = quoted(rest, r#","at":""#)?;
        let (ty, rest) = quoted(rest, r#","type":""#)?;
        let body = match rest.strip_prefix(',') {
            Some(members) => format!("{{{members}"),
            None => rest.starts_with('}').then(|| format!("{{{rest}"))?,
        };
        Event::from_body(
            ty,
            EventId::new(id).ok()?,
            Timestamp::parse(at).ok()?,
            &body,
        )
    }

    /// An event from its type, id, time and its body as one JSON object
    /// (the members besides `type`, `id` and `at`), deserialized in one
    /// pass by the body type's derive; `None` on anything the body type
    /// or the event's rules refuse, including a repeated or unknown member
    /// (the slower paths then decide and explain).
    #[doc(hidden)]
    pub fn from_body(ty: &str, id: EventId, at: Timestamp, body: &str) -> Option<Event> {
        let mut de = serde_json::Deserializer::from_str(body);
        let kind = EventKind::of_type(ty, &mut de)?;
        de.end().ok()?;
        kind.check().ok()?;
        Some(Event { id, at, kind })
    }

    /// Validates a JSON value as an event (a fast path for valid events,
    /// as in [`Event::from_json`]).
    pub fn from_value(value: Value) -> Result<Event, ValidationError> {
        match Event::from_value_fast(&value) {
            Some(e) => Ok(e),
            None => Event::from_value_checked(value),
        }
    }

    /// [`Event::from_json_fast`] on a parsed value: the members are
    /// deserialized in place, without path bookkeeping.
    #[doc(hidden)]
    pub fn from_value_fast(value: &Value) -> Option<Event> {
        let map = value.as_object()?;
        let text = |field: &str| map.get(field)?.as_str();
        let (ty, id, at) = (text("type")?, text("id")?, text("at")?);
        let members = map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "type" | "id" | "at"))
            .map(|(k, v)| (k.as_str(), v));
        Event::from_members(ty, id, at, members)
    }

    /// Builds an event from its type, id and time and an iterator of its
    /// other members (each deserializable on its own, e.g. raw JSON or
    /// parsed values); `None` on anything the checked path would refuse.
    /// The members must have distinct names.
    #[doc(hidden)]
    pub fn from_members<'de, V>(
        ty: &str,
        id: &str,
        at: &str,
        members: impl Iterator<Item = (&'de str, V)>,
    ) -> Option<Event>
    where
        V: serde::de::IntoDeserializer<'de, serde_json::Error>,
    {
        Self::from_members_at(ty, id, Timestamp::parse(at).ok()?, members)
    }

    /// [`Event::from_members`] with the time already read (a writer that
    /// stamps events itself need not print and re-read it).
    #[doc(hidden)]
    pub fn from_members_at<'de, V>(
        ty: &str,
        id: &str,
        at: Timestamp,
        members: impl Iterator<Item = (&'de str, V)>,
    ) -> Option<Event>
    where
        V: serde::de::IntoDeserializer<'de, serde_json::Error>,
    {
        use serde::de::value::MapDeserializer;
        let id = EventId::new(id).ok()?;
        let members = MapDeserializer::<_, serde_json::Error>::new(members);
        let kind = EventKind::of_type(ty, serde::de::value::MapAccessDeserializer::new(members))?;
        kind.check().ok()?;
        Some(Event { id, at, kind })
    }

    /// The path-tracking validation of a parsed value.
    #[doc(hidden)]
    pub fn from_value_checked(value: Value) -> Result<Event, ValidationError> {
        let Value::Object(mut map) = value else {
            return Err(ValidationError::new(
                "$",
                format!("an event must be a JSON object, got {}", json_kind(&value)),
            ));
        };
        let ty = take_str(&mut map, "type")?;
        let id = take_str(&mut map, "id")?;
        let id = EventId::new(id).map_err(|e| ValidationError::new("id", e.0))?;
        let at = take_str(&mut map, "at")?;
        let at = Timestamp::parse(&at).map_err(|e| ValidationError::new("at", e.0))?;
        let kind = match ty.as_str() {
            "worker_offered" => EventKind::WorkerOffered(body(map)?),
            "worker_withdrawn" => EventKind::WorkerWithdrawn(body(map)?),
            "shortage_posted" => EventKind::ShortagePosted(body(map)?),
            "shortage_withdrawn" => EventKind::ShortageWithdrawn(body(map)?),
            "match_proposed" => EventKind::MatchProposed(body(map)?),
            "match_accepted" => EventKind::MatchAccepted(body(map)?),
            "match_declined" => EventKind::MatchDeclined(body(map)?),
            "match_expired" => EventKind::MatchExpired(body(map)?),
            "assignment_started" => EventKind::AssignmentStarted(body(map)?),
            "assignment_ended" => EventKind::AssignmentEnded(body(map)?),
            "agreement_signed" => EventKind::AgreementSigned(body(map)?),
            "preference_set" => EventKind::PreferenceSet(body(map)?),
            "timesheet_submitted" => EventKind::TimesheetSubmitted(body(map)?),
            "timesheet_confirmed" => EventKind::TimesheetConfirmed(body(map)?),
            "timesheet_disputed" => EventKind::TimesheetDisputed(body(map)?),
            "payment_recorded" => EventKind::PaymentRecorded(body(map)?),
            other => {
                return Err(ValidationError::new(
                    "type",
                    format!(
                        "unknown event type {other:?}, expected one of {}",
                        EVENT_TYPES.join(", ")
                    ),
                ))
            }
        };
        kind.check()?;
        Ok(Event { id, at, kind })
    }

    /// The event as one line of JSON (no newline).
    pub fn to_json(&self) -> String {
        // Written into a scratch buffer sized for a typical event (growing
        // from serde_json's 128 bytes took two reallocations and copies per
        // event), then copied out at its exact length: the logs keep these
        // strings, and a 512-byte buffer for a 370-byte event would keep a
        // quarter of it empty.
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, self).expect("events always serialize");
        std::str::from_utf8(&out)
            .expect("serde_json writes UTF-8")
            .to_owned()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Event::from_value(v).map_err(serde::de::Error::custom)
    }
}

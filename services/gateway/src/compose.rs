//! Client bodies into events: the client's fields plus the gateway's own
//! (`type`, `id`, `at`, and the caller's enterprise id), validated by the
//! domain crate so that every refusal names its field.

use axum::http::StatusCode;
use lendwork_domain::{Event, EventId, Timestamp};
use serde_json::{json, Map, Value};

use crate::error::ApiError;

/// The wall clock as a [`Timestamp`] (services only; the engine never reads it).
pub fn now_timestamp() -> Timestamp {
    now()
}

pub(crate) fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp::from_unix_seconds(secs).expect("the clock is after 1970")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// Builds an event from client fields plus the gateway's own; the client
/// may not set `type`, `id` or `at`.
pub(crate) fn compose(
    kind: &str,
    id: String,
    mut fields: Map<String, Value>,
    prefix: &str,
) -> Result<Event, ApiError> {
    for reserved in ["type", "id", "at"] {
        if fields.contains_key(reserved) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&format!("{prefix}{reserved}")),
                "is set by the gateway; leave it out",
            ));
        }
    }
    fields.insert("type".into(), json!(kind));
    fields.insert("id".into(), json!(id));
    fields.insert("at".into(), json!(now().to_string()));
    Event::from_value(Value::Object(fields)).map_err(|e| {
        let text = e.to_string();
        let (field, message) = text.split_once(": ").unwrap_or(("(body)", text.as_str()));
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&format!("{prefix}{field}")),
            message.to_owned(),
        )
    })
}

/// The fast path of [`object`] + [`compose`] for a valid body: the body's
/// members are taken raw and deserialized straight into the event, with
/// `own` (a field the gateway fills from the principal, e.g. the
/// borrower's enterprise id) added when missing. `None` whenever the
/// checked path could answer differently — a reserved or escaped key, a
/// mismatching `own` field, any invalid member — so that path decides and
/// explains.
pub(crate) fn compose_fast(kind: &str, id: &str, body: &[u8], own: (&str, &str)) -> Option<Event> {
    // Commonest: the body leaves `own` out; with it put in front, the
    // body is the event's body and deserializes in one pass (a body that
    // repeats a member or sets `own` itself is refused there and goes
    // on to the member-splitting path below).
    if let Some(e) = compose_one_pass(kind, id, body, own) {
        return Some(e);
    }
    use serde_json::value::RawValue;
    let mut members: std::collections::BTreeMap<&str, &RawValue> =
        serde_json::from_slice(body).ok()?;
    if ["type", "id", "at"].iter().any(|k| members.contains_key(k)) {
        return None;
    }
    let mine = serde_json::value::to_raw_value(own.1).ok()?;
    match members.get(own.0) {
        None => {
            members.insert(own.0, &mine);
        }
        Some(v) if serde_json::from_str::<&str>(v.get()).ok()? == own.1 => {}
        Some(_) => return None,
    }
    Event::from_members_at(kind, id, now(), members.into_iter())
}

/// [`compose_fast`]'s one-pass case: `{"own":"…",` followed by the
/// body's members.
fn compose_one_pass(kind: &str, id: &str, body: &[u8], own: (&str, &str)) -> Option<Event> {
    let members = std::str::from_utf8(body)
        .ok()?
        .trim_start()
        .strip_prefix('{')?;
    // `{"own":"…",` + members, built without `format!`.
    let mut text = Vec::with_capacity(members.len() + own.0.len() + own.1.len() + 8);
    text.push(b'{');
    serde_json::to_writer(&mut text, own.0).ok()?;
    text.push(b':');
    serde_json::to_writer(&mut text, own.1).ok()?;
    if !members.trim_start().starts_with('}') {
        text.push(b',');
    }
    text.extend_from_slice(members.as_bytes());
    let text = String::from_utf8(text).ok()?;
    Event::from_body(kind, EventId::new(id).ok()?, now(), &text)
}

/// Puts the contract's slugs in place of skill and certificate names a
/// person typed (`叉车` → `forklift`, `健康证` → `health-cert`): in
/// `requirements[].skill` and `skills[].skill` and in `certificates[]`
/// (and a requirement's `certificate`). A value that is already a slug is
/// left as it is (the contract's identifiers are open); a name the
/// vocabulary does not know is 422 naming the field, with suggestions.
pub(crate) fn names_to_slugs(
    fields: &mut Map<String, Value>,
    prefix: &str,
) -> Result<(), ApiError> {
    use lendwork_domain::vocab::{vocabulary, Lookup};
    let v = vocabulary();
    let fix = |value: &mut Value, field: String, skill: bool| -> Result<(), ApiError> {
        let Value::String(name) = value else {
            return Ok(());
        };
        if lendwork_domain::check_slug(name).is_ok() {
            return Ok(());
        }
        let found = if skill {
            v.skill(name)
        } else {
            v.certificate(name)
        };
        match found {
            Lookup::Found(slug) => {
                *value = json!(slug);
                Ok(())
            }
            Lookup::Slug(s) => {
                *value = json!(s);
                Ok(())
            }
            Lookup::Unknown(near) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&field),
                unknown_name(name, skill, &near),
            )),
        }
    };
    for list in ["requirements", "skills"] {
        if let Some(Value::Array(items)) = fields.get_mut(list) {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(o) = item {
                    if let Some(s) = o.get_mut("skill") {
                        fix(s, format!("{prefix}{list}[{i}].skill"), true)?;
                    }
                    if let Some(c) = o.get_mut("certificate") {
                        fix(c, format!("{prefix}{list}[{i}].certificate"), false)?;
                    }
                }
            }
        }
    }
    if let Some(Value::Array(items)) = fields.get_mut("certificates") {
        for (i, c) in items.iter_mut().enumerate() {
            fix(c, format!("{prefix}certificates[{i}]"), false)?;
        }
    }
    Ok(())
}

/// "unknown skill …; did you mean …?", in Chinese and English.
pub(crate) fn unknown_name(name: &str, skill: bool, near: &[&str]) -> String {
    use lendwork_domain::vocab::{vocabulary, Lang};
    let v = vocabulary();
    let (zh, en) = if skill {
        ("技能", "skill")
    } else {
        ("证书", "certificate")
    };
    let named = |lang| {
        near.iter()
            .map(|s| {
                let n = if skill {
                    v.skill_name(s, lang)
                } else {
                    v.certificate_name(s, lang)
                };
                format!("{n} ({s})")
            })
            .collect::<Vec<_>>()
    };
    if near.is_empty() {
        format!("未知的{zh}“{name}” / unknown {en} {name:?}")
    } else {
        format!(
            "未知的{zh}“{name}”，是否指：{}？ / unknown {en} {name:?}; did you mean {}?",
            named(Lang::Zh).join("、"),
            named(Lang::En).join(", ")
        )
    }
}

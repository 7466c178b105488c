//! A borrower's shortages: post, read, withdraw.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_domain::{Event, EventKind};
use lendwork_state::views::GapView;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::{Principal, Role};
use crate::compose::{compose, compose_fast, names_to_slugs};
use crate::error::{json_body, object, parse, ApiError, ApiResult};
use crate::Gateway;

pub(crate) async fn post_shortage(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise])?;
    json_body(&headers, &body)?;
    post_shortage_as(&g, &p, &headers, &body).await
}

/// Posts a shortage (a JSON body) as borrower `p`: the API's route and
/// the portal's form both come here.
pub(crate) async fn post_shortage_as(
    g: &Gateway,
    p: &Principal,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let (p, headers, body) = (p.clone(), headers, body);
    let id = g.event_id(&p, headers, 0)?;
    let e = match compose_fast("shortage_posted", &id, body, ("enterprise_id", &p.id)) {
        Some(e) => e,
        None => shortage_checked(&p, id, body)?,
    };
    if let EventKind::ShortagePosted(s) = &e.kind {
        timely(s, crate::compose::now().market_date())?;
    }
    g.bind_key(&p, headers, "POST /v1/shortages", body).await?;
    if let EventKind::ShortagePosted(s) = &e.kind {
        // A re-post keeps the gap's region: its proposals and their
        // routes are that region's (the engine refuses a move too).
        if !g.claim("gap", s.gap_id.as_str(), &p).await? {
            if let Some(r) = g.routed_region("gap", s.gap_id.as_str()).await? {
                if r != s.region.as_str() {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        Some("region"),
                        format!(
                            "gap {} is posted in region {r}; a gap's region cannot change \
                             (withdraw it and post a new gap)",
                            s.gap_id
                        ),
                    ));
                }
            }
        }
    }
    g.append_one(e).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Preference {
    worker_id: String,
    kind: Value,
}

/// `POST /v1/preferences` `{"worker_id", "kind"}`: a borrower blocks a
/// worker (never proposed to its gaps again: rule 10), marks a favourite,
/// or clears the mark. Only for workers proposed to the borrower before:
/// a borrower cannot probe which worker ids exist.
pub(crate) async fn set_preference(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise])?;
    json_body(&headers, &body)?;
    let pref: Preference = parse(&body, "{\"worker_id\": …, \"kind\": …}")?;
    let mut f = Map::new();
    f.insert("enterprise_id".into(), json!(p.id));
    f.insert("worker_id".into(), json!(pref.worker_id));
    f.insert("kind".into(), pref.kind);
    let e = compose("preference_set", g.event_id(&p, &headers, 0)?, f, "")?;
    let mine = g
        .store
        .members_many(&[g.keys.borrower_set(&p.id)])
        .await?
        .pop()
        .unwrap_or_default();
    let keys: Vec<String> = mine.iter().map(|m| g.keys.proposal(m)).collect();
    let known = g
        .store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice::<lendwork_state::views::MatchView>(&b).ok())
        .any(|v| v.proposed.worker_id.as_str() == pref.worker_id);
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Some("worker_id"),
            "no worker of this id was ever proposed to you",
        ));
    }
    g.bind_key(&p, &headers, "POST /v1/preferences", &body)
        .await?;
    g.append_one(e).await
}

/// How far ahead a shortage's window may end: two years.
pub const HORIZON_DAYS: i64 = 731;

/// What the contract allows but no real shortage posted today has: a
/// window already over, a window ending more than [`HORIZON_DAYS`] ahead
/// (a `9999` typed for "open-ended"), a wage of 0. The log keeps any
/// valid event (a replayed or imported log may hold old shortages); the
/// API refuses these at the door, naming the field.
pub(crate) fn timely(
    s: &lendwork_domain::ShortagePosted,
    today: lendwork_domain::Date,
) -> Result<(), ApiError> {
    let bad = |field: &str, m: String| {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
            m,
        ))
    };
    if s.window.end < today {
        return bad(
            "window.end",
            format!(
                "the window ended on {}, before today ({today}); post the days still to come",
                s.window.end
            ),
        );
    }
    let horizon = today.plus_days(HORIZON_DAYS);
    if s.window.end > horizon {
        return bad(
            "window.end",
            format!(
                "{} is more than two years ahead (at most {horizon}); post a window you can staff",
                s.window.end
            ),
        );
    }
    if s.hourly_wage_fen.get() == 0 {
        return bad(
            "hourly_wage_fen",
            "must be more than 0 fen an hour".to_owned(),
        );
    }
    Ok(())
}

/// The checked path of posting a shortage: every refusal names its field.
pub(crate) fn shortage_checked(p: &Principal, id: String, body: &[u8]) -> Result<Event, ApiError> {
    let mut fields = object(body)?;
    match fields.get("enterprise_id") {
        None => {
            fields.insert("enterprise_id".into(), json!(p.id));
        }
        Some(Value::String(e)) if *e == p.id => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("enterprise_id"),
                "must be your own enterprise (or left out)",
            ))
        }
    }
    names_to_slugs(&mut fields, "")?;
    compose("shortage_posted", id, fields, "")
}

pub(crate) async fn get_shortage(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise])?;
    if g.owner("gap", &id).await?.as_deref() != Some(&p.id) {
        return Err(ApiError::not_found());
    }
    match g.store.get(&g.keys.gap(&id)).await? {
        Some(b) => {
            let v: GapView = serde_json::from_slice(&b).map_err(|_| ApiError::not_found())?;
            Ok(Json(v).into_response())
        }
        // Posted, not yet seen by a matcher.
        None => Ok((
            StatusCode::OK,
            Json(json!({"gap_id": id, "status": "pending"})),
        )
            .into_response()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reason {
    reason: Option<String>,
}

pub(crate) fn reason_of(body: &[u8]) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok("withdrawn by the owner".into());
    }
    let r: Reason = parse(body, "{\"reason\": …}")?;
    Ok(r.reason.unwrap_or_else(|| "withdrawn by the owner".into()))
}

/// Withdraws the caller's own gap or worker: (owner kind, id field, event).
pub(crate) async fn withdraw(
    g: &Gateway,
    headers: &HeaderMap,
    roles: &[Role],
    (kind, field, event): (&str, &str, &str),
    id: String,
    body: &[u8],
) -> ApiResult {
    let p = g.authenticate(headers, None)?;
    g.require(&p, roles)?;
    json_body(headers, body)?;
    if g.owner(kind, &id).await?.as_deref() != Some(&p.id) {
        return Err(ApiError::not_found());
    }
    let mut f = Map::new();
    f.insert(field.into(), json!(id));
    f.insert("reason".into(), json!(reason_of(body)?));
    let e = compose(event, g.event_id(&p, headers, 0)?, f, "")?;
    g.bind_key(&p, headers, &format!("DELETE {kind} {id}"), body)
        .await?;
    g.append_one(e).await
}

pub(crate) async fn withdraw_shortage(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let what = ("gap", "gap_id", "shortage_withdrawn");
    withdraw(&g, &headers, &[Role::Enterprise], what, id, &body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path of posting a shortage gives the checked path's event
    /// or steps aside; it never accepts what the checked path refuses.
    #[test]
    fn posting_fast_path_agrees_with_the_checked_one() {
        let p = Principal {
            role: Role::Enterprise,
            id: "ent-1".into(),
        };
        let base = r#""gap_id":"g-1","region":"620100","site":{"lat":36.06,"lon":103.83},"requirements":[{"skill":"forklift","min_level":2}],"certificates":[],"headcount":2,"window":{"start":"2026-04-01","end":"2026-04-30"},"hourly_wage_fen":3000"#;
        let cases = [
            (format!("{{{base}}}"), true),
            (format!(r#"{{{base},"enterprise_id":"ent-1"}}"#), true),
            (format!(r#"{{{base},"enterprise_id":"ent-2"}}"#), false),
            (format!(r#"{{{base},"enterprise_id":7}}"#), false),
            (format!(r#"{{{base},"type":"worker_offered"}}"#), false),
            (format!(r#"{{{base},"at":"2026-01-01T00:00:00Z"}}"#), false),
            (format!(r#"{{{base},"headcount":3}}"#), true),
            (format!(r#"{{{base},"headcount":"3"}}"#), false),
            (format!(r#"{{{base},"surprise":1}}"#), false),
            (format!(r#"{{{base},"industry":null}}"#), true),
            (format!(r#"{{{base},"gap\u005fid":"g-2"}}"#), true),
            (format!("[{{{base}}}]"), false),
            (format!("{{{base}"), false),
            ("{}".to_owned(), false),
        ];
        for (body, valid) in cases {
            let fast = compose_fast(
                "shortage_posted",
                "evt-1",
                body.as_bytes(),
                ("enterprise_id", &p.id),
            );
            let checked = shortage_checked(&p, "evt-1".into(), body.as_bytes());
            assert_eq!(checked.is_ok(), valid, "{body}: {checked:?}");
            // Valid bodies without escaped keys take the fast path.
            assert_eq!(fast.is_some(), valid && !body.contains('\\'), "{body}");
            match (fast, checked) {
                (Some(mut f), Ok(c)) => {
                    f.at = c.at;
                    assert_eq!(f, c, "{body}");
                }
                (Some(f), Err(e)) => {
                    panic!("{body}: fast path accepted {f:?}, checked refused: {e:?}")
                }
                (None, _) => {}
            }
        }
    }
}

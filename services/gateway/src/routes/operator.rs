//! The operator's routes: statistics, a proposal's audit trail
//! (pseudonymous worker), the live feed.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

use lendwork_state::views::{RegionView, Slice};

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::{Gateway, STATS_TTL};

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    access_token: Option<String>,
}

/// The query of `GET /v1/stats`: unknown parameters are refused by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    access_token: Option<String>,
    /// Only this region (its statistics, and a total over it alone).
    region: Option<String>,
}

/// Statistics over every region (or one), with totals.
pub(crate) async fn stats(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let q: StatsQuery = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, Some("(query)"), e.body_text()))?;
    let p = g.caller(&headers, q.access_token.as_deref()).await?;
    g.require(&p, &[Role::Operator])?;
    let only = match q.region.as_deref() {
        None => None,
        Some(r) => Some(lendwork_domain::Region::new(r).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("region"),
                e.to_string(),
            )
        })?),
    };
    if only.is_none() {
        if let Some((at, body)) = g.stats_cache.lock().expect("not poisoned").as_ref() {
            if at.elapsed() < STATS_TTL {
                return Ok(([("content-type", "application/json")], body.clone()).into_response());
            }
        }
    }
    let regions: Vec<RegionView> = match &only {
        // One region: its view alone, by key (empty when it has none yet).
        Some(r) => g
            .store
            .get(&g.keys.region(r.as_str()))
            .await?
            .and_then(|v| serde_json::from_slice(&v).ok())
            .into_iter()
            .collect(),
        None => {
            let mut all: Vec<RegionView> = g
                .store
                .scan_prefix(&g.keys.regions())
                .await?
                .into_iter()
                .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
                .collect();
            all.sort_by(|a, b| a.region.cmp(&b.region));
            all
        }
    };
    let total = total(&regions);
    let body = Bytes::from(
        serde_json::to_vec(&json!({"total": total, "regions": regions})).expect("serializable"),
    );
    if only.is_none() {
        *g.stats_cache.lock().expect("not poisoned") = Some((Instant::now(), body.clone()));
    }
    Ok(([("content-type", "application/json")], body).into_response())
}

pub(crate) fn total(regions: &[RegionView]) -> RegionView {
    let mut t = RegionView {
        region: "all".into(),
        ..Default::default()
    };
    for r in regions {
        macro_rules! sum {
            ($($f:ident),*) => { $( t.$f += r.$f; )* };
        }
        sum!(
            workers,
            gaps,
            positions,
            open_positions,
            positions_filled,
            positions_started,
            proposed,
            agreed,
            signed,
            declined,
            expired,
            started,
            completed,
            returned,
            no_show,
            ended_cancelled,
            terminated,
            cancelled,
            time_to_fill_secs_sum,
            time_to_fill_count,
            minutes_confirmed,
            owed_fen,
            paid_by_borrower_fen,
            paid_to_worker_fen
        );
        for (k, v) in &r.ledger_flags {
            *t.ledger_flags.entry(k.clone()).or_default() += v;
        }
        for (map, from) in [
            (&mut t.work_by_industry, &r.work_by_industry),
            (&mut t.work_by_group, &r.work_by_group),
        ] {
            for (k, s) in from {
                map.entry(k.clone()).or_default().add(s);
            }
        }
        for (k, v) in &r.priority_served {
            *t.priority_served.entry(k.clone()).or_default() += v;
        }
        for (map, from) in [
            (&mut t.by_industry, &r.by_industry),
            (&mut t.by_skill, &r.by_skill),
        ] {
            for (k, s) in from {
                let e: &mut Slice = map.entry(k.clone()).or_default();
                e.positions += s.positions;
                e.open += s.open;
                e.filled += s.filled;
                e.started += s.started;
                e.agreed += s.agreed;
            }
        }
        t.updated_at = t.updated_at.max(r.updated_at);
    }
    t
}

pub(crate) async fn audit_trail(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    let Some(mut view) = g.view(&id).await? else {
        return Err(ApiError::not_found());
    };
    match p.role {
        Role::Operator => {
            let pseudo = g.pseudonym(view.proposed.worker_id.as_str()).await?;
            let pseudo = lendwork_domain::WorkerId::new(pseudo).expect("valid id");
            view.proposed.worker_id = pseudo.clone();
            view.worker_name = None;
            // The agreement names the worker: the operator sees the
            // pseudonym, and no name.
            if let Some(a) = view.agreement.as_mut() {
                a.worker_id = pseudo;
                a.worker_name = None;
            }
        }
        _ => {
            if g.party(&p, &view).await?.is_none() {
                return Err(ApiError::not_found());
            }
        }
    }
    Ok(Json(view).into_response())
}

/// A tenant's live feed: the matches-topic events about its own gaps and
/// workers, as server-sent events.
fn tenant_feed(g: &Gateway, me: String) -> Response {
    let rx = g.tenant_feed.subscribe();
    let stream = futures::stream::unfold((rx, me), |(mut rx, me)| async move {
        loop {
            match rx.recv().await {
                Ok(item) if item.0.contains(&me) => {
                    let ev = SseEvent::default().data(item.1.clone());
                    return Some((Ok::<_, std::convert::Infallible>(ev), (rx, me)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

pub(crate) async fn feed(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q: TokenQuery = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, Some("(query)"), e.body_text()))?;
    // A portal session (the cookie) or a bearer token; the operator's
    // dashboard may also give its token as `access_token`.
    let p = g.caller(&headers, q.access_token.as_deref()).await?;
    if p.role != Role::Operator {
        g.require(&p, &[Role::Enterprise, Role::Agency])?;
        if q.access_token.is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("access_token"),
                "is the operator dashboard's; send the token as Authorization: Bearer",
            ));
        }
        return Ok(tenant_feed(&g, p.id));
    }
    let rx = g.feed.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) => {
                    return Some((
                        Ok::<_, std::convert::Infallible>(SseEvent::default().data(line)),
                        rx,
                    ))
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

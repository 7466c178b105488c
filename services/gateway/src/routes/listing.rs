//! Listings of what a client owns: `GET /v1/shortages` (a borrower's
//! gaps), `GET /v1/workers` (a lender's or agency's workers) and
//! `GET /v1/workers/{id}`.
//!
//! A listing reads the client's own index set and the matcher's views of
//! its members: what it reads grows with what the client owns, never with
//! the market. A borrower's gaps are indexed by the matcher with their
//! first view (so a posting costs no extra write on its path, and a gap
//! is listed once the matcher has it, within the batch); a lender's or
//! agency's workers by the gateway when they are offered (the offer does
//! not name an agency), and one the matcher has not seen yet is listed as
//! `pending`.
//!
//! Pagination: items are in id order; `limit` (1–500, default 100) items
//! per page, and `next_cursor` (the last id of the page, or `null` on the
//! last page) is passed back as `cursor` for the next one. Ids are
//! stable, so a page boundary never skips or repeats an item that existed
//! when the first page was read. Filters: `status` and `region`; an
//! unknown parameter or value is 422 naming it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_state::views::{GapView, WorkerView};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::Gateway;

/// The query of a listing; unknown parameters are refused by name.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only items in this status.
    pub status: Option<String>,
    /// Only items in this region.
    pub region: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Items per page (1–500).
    pub limit: Option<String>,
    /// Only this borrower's gaps (the operator's search).
    pub enterprise_id: Option<String>,
}

/// The default and largest page.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page.
pub const MAX_LIMIT: usize = 500;

pub(crate) fn bad(field: &str, m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(field), m)
}

/// The query of `uri`, 400 naming an unknown parameter.
pub(crate) fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::try_from_uri(uri).map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("(query)"),
            e.body_text(),
        )
    })
}

impl ListQuery {
    /// The page size, checked.
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        match self.limit.as_deref() {
            None => Ok(DEFAULT_LIMIT),
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    bad(
                        "limit",
                        format!("must be a whole number 1–{MAX_LIMIT}, got {l:?}"),
                    )
                }),
        }
    }

    /// The status filter, checked against `allowed`.
    pub(crate) fn status(&self, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(s) if allowed.contains(&s) => Ok(Some(s.to_owned())),
            Some(s) => Err(bad(
                "status",
                format!("must be one of {}, got {s:?}", allowed.join(", ")),
            )),
        }
    }

    /// The region filter, checked as a division code.
    pub(crate) fn region(&self) -> Result<Option<String>, ApiError> {
        match self.region.as_deref() {
            None => Ok(None),
            Some(r) => lendwork_domain::Region::new(r)
                .map(|_| Some(r.to_owned()))
                .map_err(|e| bad("region", e.to_string())),
        }
    }
}

/// One page of `items` (id, item), in id order, after `cursor`.
pub(crate) fn page<T: Serialize>(
    mut items: Vec<(String, T)>,
    cursor: Option<&str>,
    limit: usize,
    name: &str,
) -> Value {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let start = cursor.map_or(0, |c| items.partition_point(|(id, _)| id.as_str() <= c));
    let rest = items.len().saturating_sub(start);
    let taken: Vec<(String, T)> = items.into_iter().skip(start).take(limit).collect();
    let next = (rest > limit)
        .then(|| taken.last().map(|(id, _)| id.clone()))
        .flatten();
    let list: Vec<T> = taken.into_iter().map(|(_, v)| v).collect();
    json!({ name: list, "next_cursor": next })
}

/// `GET /v1/shortages`: the borrower's own gaps (the operator: every gap,
/// `?enterprise_id=` to search one borrower's). `status`:
/// `open | filled | withdrawn | pending`.
pub(crate) async fn list_shortages(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let q: ListQuery = query(&uri)?;
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Operator])?;
    let (status, region, limit) = (
        q.status(&["open", "filled", "withdrawn", "pending"])?,
        q.region()?,
        q.limit()?,
    );
    // A borrower lists its own gaps; the operator every gap (a region's
    // through the region's index set, all of them by a scan of the views:
    // an office's search, not a hot path).
    let (ids, views): (Vec<String>, Vec<Option<axum::body::Bytes>>) = if p.role == Role::Operator {
        match &region {
            Some(r) => {
                let mut ids = owned(&g, &g.keys.region_gaps(r)).await?;
                ids.dedup();
                let keys: Vec<String> = ids.iter().map(|id| g.keys.gap(id)).collect();
                let views = g.store.get_many(&keys).await?;
                (ids, views)
            }
            None => {
                let prefix = g.keys.gaps();
                g.store
                    .scan_prefix(&prefix)
                    .await?
                    .into_iter()
                    .map(|(k, v)| (k[prefix.len()..].to_owned(), Some(v)))
                    .unzip()
            }
        }
    } else {
        let ids = owned(&g, &g.keys.owned_gaps(&p.id)).await?;
        let keys: Vec<String> = ids.iter().map(|id| g.keys.gap(id)).collect();
        let views = g.store.get_many(&keys).await?;
        (ids, views)
    };
    let items = listed(
        ids,
        views,
        status.as_deref(),
        region.is_some(),
        "gap_id",
        |v: GapView| {
            let keep = region.as_deref().map_or(true, |r| r == v.region.as_str())
                && q.enterprise_id
                    .as_deref()
                    .map_or(true, |e| e == v.enterprise_id.as_str());
            keep.then(|| (serde_json::to_value(v.status).ok(), json!(v)))
        },
    );
    Ok(Json(page(items, q.cursor.as_deref(), limit, "shortages")).into_response())
}

/// `GET /v1/workers`: the lender's or agency's own workers. `status`:
/// `available | withdrawn | pending`.
pub(crate) async fn list_workers(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let q: ListQuery = query(&uri)?;
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    let (status, region, limit) = (
        q.status(&["available", "withdrawn", "pending"])?,
        q.region()?,
        q.limit()?,
    );
    let ids = owned(&g, &g.keys.owned_workers(&p.id)).await?;
    let keys: Vec<String> = ids.iter().map(|id| g.keys.worker(id)).collect();
    let views = g.store.get_many(&keys).await?;
    let items = listed(
        ids,
        views,
        status.as_deref(),
        region.is_some(),
        "worker_id",
        |v: WorkerView| {
            let keep = region
                .as_deref()
                .map_or(true, |r| r == v.offer.region.as_str());
            keep.then(|| (serde_json::to_value(v.status).ok(), worker_json(&v)))
        },
    );
    Ok(Json(page(items, q.cursor.as_deref(), limit, "workers")).into_response())
}

/// The items of a listing: each id with its view as `show` gives it
/// (`None`: filtered out; else the view's status and its JSON), or as
/// `{"<id_field>": id, "status": "pending"}` when the matcher has not
/// written its view yet (left out by a region filter, which a pending
/// item cannot match); `status` filters on the status.
fn listed<V: serde::de::DeserializeOwned>(
    ids: Vec<String>,
    views: Vec<Option<axum::body::Bytes>>,
    status: Option<&str>,
    by_region: bool,
    id_field: &str,
    show: impl Fn(V) -> Option<(Option<Value>, Value)>,
) -> Vec<(String, Value)> {
    let mut items = Vec::new();
    for (id, v) in ids.into_iter().zip(views) {
        let item = match v.and_then(|b| serde_json::from_slice::<V>(&b).ok()) {
            Some(v) => match show(v) {
                Some((st, item)) if status.map_or(true, |s| st == Some(json!(s))) => item,
                _ => continue,
            },
            None if status.map_or(true, |s| s == "pending") && !by_region => {
                json!({ id_field: id, "status": "pending" })
            }
            None => continue,
        };
        items.push((id, item));
    }
    items
}

/// A worker as listed: the offer's fields, with `status` and `updated_at`.
fn worker_json(v: &WorkerView) -> Value {
    let mut o = json!(v.offer);
    o["status"] = json!(v.status);
    o["updated_at"] = json!(v.updated_at.to_string());
    o
}

/// `GET /v1/workers/{id}`: one of the caller's own workers (404 for
/// anyone else's, as if it did not exist).
pub(crate) async fn get_worker(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    if g.owner("worker", &id).await?.as_deref() != Some(&p.id) {
        return Err(ApiError::not_found());
    }
    match g.store.get(&g.keys.worker(&id)).await? {
        Some(b) => {
            let v: WorkerView = serde_json::from_slice(&b).map_err(|_| ApiError::not_found())?;
            Ok(Json(worker_json(&v)).into_response())
        }
        None => Ok(Json(json!({"worker_id": id, "status": "pending"})).into_response()),
    }
}

pub(crate) async fn owned(g: &Gateway, set: &str) -> Result<Vec<String>, ApiError> {
    let mut ids = g
        .store
        .members_many(&[set.to_owned()])
        .await?
        .pop()
        .unwrap_or_default();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_without_gaps_or_repeats() {
        let items: Vec<(String, u32)> = (0..7).map(|i| (format!("id-{i}"), i)).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let v = page(items.clone(), cursor.as_deref(), 3, "x");
            seen.extend(
                v["x"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap()),
            );
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).collect::<Vec<u64>>());
        // Exactly one full page: no next cursor.
        let v = page(items[..3].to_vec(), None, 3, "x");
        assert!(v["next_cursor"].is_null());
    }
}

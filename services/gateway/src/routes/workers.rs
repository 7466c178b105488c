//! A lender's or agency's workers: offer (one or a batch), withdraw.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_domain::EventKind;
use serde_json::{json, Value};

use crate::auth::Role;
use crate::compose::{compose, names_to_slugs};
use crate::error::{accepted, json_body, object, ApiError, ApiResult};
use crate::routes::shortages::withdraw;
use crate::{roster, Gateway};

pub(crate) async fn post_workers(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    json_body(&headers, &body)?;
    post_workers_as(&g, &p, &headers, &body).await
}

/// Offers one worker or a batch (a JSON body) as `p`: the API's route and
/// the portal's worker form both come here.
pub(crate) async fn post_workers_as(
    g: &Gateway,
    p: &crate::Principal,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let (p, headers) = (p.clone(), headers);
    let mut fields = object(body)?;
    // One worker, or {"workers": [ … ]} (up to 10,000).
    let (batch, items): (bool, Vec<Value>) = match fields.remove("workers") {
        Some(Value::Array(items)) if fields.is_empty() => (true, items),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("workers"),
                "must be an array of worker offers, alone in the body",
            ))
        }
        None => (false, vec![Value::Object(fields)]),
    };
    if items.is_empty() || items.len() > 10_000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("workers"),
            format!("must hold 1–10000 offers, got {}", items.len()),
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if batch {
            format!("workers[{i}].")
        } else {
            String::new()
        };
        let Value::Object(mut f) = item else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&format!("workers[{i}]")),
                "must be an object",
            ));
        };
        // An enterprise lends its own employees; an agency's workers are
        // flexible (no employer).
        match (p.role, f.get("employer_id")) {
            (Role::Enterprise, None) => {
                f.insert("employer_id".into(), json!(p.id));
            }
            (Role::Enterprise, Some(Value::String(e))) if *e == p.id => {}
            (Role::Agency, None) => {}
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&format!("{prefix}employer_id")),
                    "an enterprise offers its own employees (leave it out); an agency's workers have no employer",
                ))
            }
        }
        names_to_slugs(&mut f, &prefix)?;
        events.push(compose(
            "worker_offered",
            g.event_id(&p, headers, i)?,
            f,
            &prefix,
        )?);
    }
    g.bind_key(&p, headers, "POST /v1/workers", body).await?;
    let mut owned = Vec::with_capacity(events.len());
    for e in &events {
        if let EventKind::WorkerOffered(w) = &e.kind {
            g.claim("worker", w.worker_id.as_str(), &p).await?;
            owned.push((g.keys.owned_workers(&p.id), w.worker_id.to_string()));
        }
    }
    // Indexed before the offer is in the log, so a proposal of the worker
    // is listed for the principal as soon as it is made.
    g.store.add_to_sets(&owned).await?;
    let answer = accepted(events.iter().map(|e| e.id.to_string()).collect());
    g.append(events).await?;
    Ok(answer)
}

pub(crate) async fn withdraw_worker(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let what = ("worker", "worker_id", "worker_withdrawn");
    let roles = [Role::Enterprise, Role::Agency];
    withdraw(&g, &headers, &roles, what, id, &body).await
}

/// The query of a roster import.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    dry_run: Option<String>,
}

/// `POST /v1/workers/import[?dry_run=true]`: a roster as CSV (`text/csv`)
/// or XLSX, all or nothing ([`crate::roster`]). A dry run answers 200
/// with the offers it would make (a preview); otherwise 202 with the
/// event ids. Any refused row: 422 with every error (row, column,
/// message), and nothing is appended.
pub(crate) async fn import(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> ApiResult {
    let q: ImportQuery = super::listing::query(&uri)?;
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    let dry = match q.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(x) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("dry_run"),
                format!("must be true or false, got {x:?}"),
            ))
        }
    };
    let format = roster_format(&headers)?;
    import_as(&g, &p, &headers, dry, format, &body).await
}

/// Imports (or, `dry`, previews) a roster as `p`: the API's route and the
/// portal's upload both come here.
pub(crate) async fn import_as(
    g: &Gateway,
    p: &crate::Principal,
    headers: &HeaderMap,
    dry: bool,
    format: roster::Format,
    body: &[u8],
) -> ApiResult {
    let employer = (p.role == Role::Enterprise).then_some(p.id.as_str());
    let roster = roster::read(body, format, employer).map_err(refused_rows)?;
    let mut ids = Vec::with_capacity(roster.offers.len());
    for _ in 0..roster.offers.len() {
        ids.push(g.event_id(p, headers, ids.len())?);
    }
    let events = roster::events(&roster, |i, f| {
        compose("worker_offered", ids[i].clone(), f, "")
            .map_err(|e| (e.field.clone().unwrap_or_default(), e.message.clone()))
    })
    .map_err(refused_rows)?;
    // Workers someone else offered are refused here, not half-way
    // through the claims.
    let worker_ids: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WorkerOffered(w) => Some(w.worker_id.to_string()),
            _ => None,
        })
        .collect();
    let owner_keys: Vec<String> = worker_ids
        .iter()
        .map(|w| g.keys.owner("worker", w))
        .collect();
    let owners = g.store.get_many(&owner_keys).await?;
    let mut theirs = Vec::new();
    for (((row, _), w), o) in roster.offers.iter().zip(&worker_ids).zip(owners) {
        if o.is_some_and(|o| o[..] != *p.id.as_bytes()) {
            let h = roster
                .headers
                .get("worker_id")
                .cloned()
                .unwrap_or_else(|| "worker_id".into());
            theirs.push(roster::error(
                *row,
                Some((&h, "worker_id")),
                format!("{w} 已由其他单位登记 / worker {w} belongs to someone else"),
            ));
        }
    }
    if !theirs.is_empty() {
        return Err(refused_rows(theirs));
    }
    if dry {
        let preview: Vec<Value> = events
            .iter()
            .take(50)
            .filter_map(|e| match &e.kind {
                EventKind::WorkerOffered(w) => Some(json!(w)),
                _ => None,
            })
            .collect();
        return Ok(
            Json(json!({"rows": events.len(), "workers": preview, "errors": []})).into_response(),
        );
    }
    g.bind_key(p, headers, "POST /v1/workers/import", body)
        .await?;
    let mut owned = Vec::with_capacity(worker_ids.len());
    for w in &worker_ids {
        g.claim("worker", w, p).await?;
        owned.push((g.keys.owned_workers(&p.id), w.clone()));
    }
    g.store.add_to_sets(&owned).await?;
    let answer = accepted(events.iter().map(|e| e.id.to_string()).collect());
    g.append(events).await?;
    Ok(answer)
}

fn roster_format(headers: &HeaderMap) -> Result<roster::Format, ApiError> {
    let essence = headers
        .get(axum::http::header::CONTENT_TYPE)
        .map(crate::error::media_type)
        .unwrap_or_default();
    match essence.as_str() {
        "text/csv" => Ok(roster::Format::Csv),
        roster::XLSX_TYPE => Ok(roster::Format::Xlsx),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("content-type"),
            format!("must be text/csv or {}, not {other:?}", roster::XLSX_TYPE),
        )),
    }
}

/// 422 listing every refused row.
pub(crate) fn refused_rows(errors: Vec<roster::RowError>) -> ApiError {
    let first = errors.first().map(|e| e.en.clone()).unwrap_or_default();
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("(rows)"),
        format!(
            "{} error(s); nothing was imported. First: {first}",
            errors.len()
        ),
    );
    let mut extra = serde_json::Map::new();
    extra.insert("rows".into(), json!(errors));
    e.extra = Some(extra);
    e
}

/// `GET /v1/workers/import/template?lang=zh|en`: the roster template,
/// CSV with a BOM and one example row.
pub(crate) async fn template(uri: axum::http::Uri) -> ApiResult {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        lang: Option<String>,
    }
    let q: Q = super::listing::query(&uri)?;
    let lang = match q.lang.as_deref() {
        None | Some("zh") => lendwork_domain::vocab::Lang::Zh,
        Some("en") => lendwork_domain::vocab::Lang::En,
        Some(x) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("lang"),
                format!("must be zh or en, got {x:?}"),
            ))
        }
    };
    let name = if lang == lendwork_domain::vocab::Lang::Zh {
        "roster-zh.csv"
    } else {
        "roster-en.csv"
    };
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        roster::template(lang),
    )
        .into_response())
}

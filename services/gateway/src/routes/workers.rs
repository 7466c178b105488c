//! A lender's or agency's workers: offer (one or a batch), withdraw.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use lendwork_domain::EventKind;
use serde_json::{json, Value};

use crate::auth::Role;
use crate::compose::{compose, names_to_slugs};
use crate::error::{accepted, json_body, object, ApiError, ApiResult};
use crate::routes::shortages::withdraw;
use crate::Gateway;

pub(crate) async fn post_workers(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    json_body(&headers, &body)?;
    let mut fields = object(&body)?;
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
            g.event_id(&p, &headers, i)?,
            f,
            &prefix,
        )?);
    }
    g.bind_key(&p, &headers, "POST /v1/workers", &body).await?;
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

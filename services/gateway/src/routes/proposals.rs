//! Proposals as their parties see them: the listing, and the parties'
//! actions (accept, decline, start, end).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_domain::Party;
use lendwork_state::views::MatchView;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::Role;
use crate::compose::compose;
use crate::error::{json_body, parse, ApiError, ApiResult};
use crate::Gateway;

pub(crate) async fn list_proposals(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    // Index sets only: an enterprise's as borrower and as lender, an
    // agency's through the workers it offered (flexible workers have no
    // employer). What a listing reads grows with what the client owns.
    let keys = match p.role {
        Role::Agency => vec![g.keys.owned_workers(&p.id)],
        _ => vec![g.keys.borrower_set(&p.id), g.keys.lender_set(&p.id)],
    };
    let mut sets = g.store.members_many(&keys).await?;
    let workers = match p.role {
        Role::Agency => sets.pop().unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut ids: Vec<String> = sets.into_iter().flatten().collect();
    if !workers.is_empty() {
        let keys: Vec<String> = workers.iter().map(|w| g.keys.worker_set(w)).collect();
        ids.extend(g.store.members_many(&keys).await?.into_iter().flatten());
    }
    ids.sort();
    ids.dedup();
    let keys: Vec<String> = ids.iter().map(|m| g.keys.proposal(m)).collect();
    let views: Vec<MatchView> = g
        .store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    Ok(Json(json!({"proposals": views})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ending {
    outcome: Value,
}

/// What a party does to a proposal: the last segment of
/// `POST /v1/proposals/{id}/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `accept`: `match_accepted`.
    Accept,
    /// `decline`: `match_declined`.
    Decline,
    /// `start`: `assignment_started` (the borrower's).
    Start,
    /// `end`: `assignment_ended` (the borrower's).
    End,
}

impl Action {
    /// The action a path segment names, if any.
    pub fn parse(segment: &str) -> Option<Action> {
        match segment {
            "accept" => Some(Action::Accept),
            "decline" => Some(Action::Decline),
            "start" => Some(Action::Start),
            "end" => Some(Action::End),
            _ => None,
        }
    }

    /// The type of the event it appends.
    pub fn event_type(self) -> &'static str {
        match self {
            Action::Accept => "match_accepted",
            Action::Decline => "match_declined",
            Action::Start => "assignment_started",
            Action::End => "assignment_ended",
        }
    }
}

pub(crate) async fn act(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    let Some(action) = Action::parse(&action) else {
        return Err(ApiError::not_found());
    };
    json_body(&headers, &body)?;
    let Some(view) = g.view(&id).await? else {
        return Err(ApiError::not_found());
    };
    let Some(party) = g.party(&p, &view).await? else {
        return Err(ApiError::not_found());
    };
    let mut f = Map::new();
    f.insert("match_id".into(), json!(id));
    match action {
        Action::Accept | Action::Decline => {
            let d: Decision = if body.iter().all(u8::is_ascii_whitespace) {
                Decision { reason: None }
            } else {
                parse(&body, "{\"reason\": …}")?
            };
            f.insert("by".into(), json!(party));
            if let Some(r) = d.reason {
                f.insert("reason".into(), json!(r));
            }
        }
        Action::End => {
            if party != Party::Borrower {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the borrower ends an assignment",
                ));
            }
            let e: Ending = parse(&body, "{\"outcome\": …}")?;
            f.insert("outcome".into(), e.outcome);
        }
        Action::Start => {
            if party != Party::Borrower {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the borrower starts an assignment",
                ));
            }
        }
    }
    let e = compose(action.event_type(), g.event_id(&p, &headers, 0)?, f, "")?;
    let what = format!("POST proposal {id} {}", action.event_type());
    g.bind_key(&p, &headers, &what, &body).await?;
    g.append_one(e).await
}

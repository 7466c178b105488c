//! Worker links: a worker acts on their own proposal without an account.
//!
//! The lender or agency that offered the worker asks for a link
//! (`POST /v1/proposals/{id}/worker-link`) and sends it to the worker. The
//! link's token is `{expires}.{mac}.{match_id}`: the expiry as Unix
//! seconds, and 32 hex digits of HMAC-SHA256, under the gateway's secret
//! (the one pseudonyms use, with its own domain label), over the proposal,
//! its worker and the expiry. Nothing is stored: the gateway checks the
//! MAC (in constant time) and the expiry on every use, so a link cannot be
//! forged, widened to another proposal or worker, or stretched. It expires
//! after [`LINK_DAYS`] days; the lender can make a new one.
//!
//! Through the link the worker reads their proposal and its agreement
//! (`GET /v1/w/{token}`, `GET /v1/w/{token}/agreement`), accepts or
//! declines, signs, and returns early (`POST /v1/w/{token}/{accept |
//! decline | sign | return | confirm | dispute}`: a timesheet day), as the
//! party `worker`; nothing else is
//! visible through it. `GET /w/{token}` is the same as a page for a phone.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::Json;
use hmac::Mac;
use lendwork_domain::{Party, Timestamp};
use lendwork_state::views::MatchView;
use serde_json::json;
use sha2::Sha256;

use super::proposals::{agreement_page, perform, Action};
use crate::auth::{Principal, Role};
use crate::compose::hex;
use crate::error::{ApiError, ApiResult};
use crate::Gateway;

/// How long a worker link is valid.
pub const LINK_DAYS: i64 = 14;

impl Gateway {
    async fn link_mac(
        &self,
        match_id: &str,
        worker: &str,
        expires: i64,
    ) -> Result<String, ApiError> {
        let key = self.pseudonym_key().await?;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
        mac.update(format!("worker-link\0{match_id}\0{worker}\0{expires}").as_bytes());
        Ok(hex(&mac.finalize().into_bytes())[..32].to_owned())
    }
}

/// `POST /v1/proposals/{id}/worker-link`, for the worker's lender or
/// agency: 201 with the link.
pub(crate) async fn make_link(
    g: &Gateway,
    p: &Principal,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
) -> ApiResult {
    if !body.iter().all(u8::is_ascii_whitespace) {
        crate::error::json_body(headers, body)?;
    }
    let Some(view) = g.view(id).await? else {
        return Err(ApiError::not_found());
    };
    match g.party(p, &view).await? {
        Some(Party::Lender) => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                None,
                "the worker's lender or agency sends the worker their link",
            ))
        }
        None => return Err(ApiError::not_found()),
    }
    let now = crate::compose::now().unix_seconds();
    let expires = now + LINK_DAYS * 86_400;
    let mac = g
        .link_mac(id, view.proposed.worker_id.as_str(), expires)
        .await?;
    let token = format!("{expires}.{mac}.{id}");
    let at = Timestamp::from_unix_seconds(expires).expect("in range");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "url": format!("/w/{token}"),
            "api": format!("/v1/w/{token}"),
            "expires_at": at.to_string(),
        })),
    )
        .into_response())
}

/// The proposal a link opens, after checking its MAC and expiry; 404 for
/// anything else (a forged, altered or expired link says no more than a
/// missing one).
async fn open(g: &Gateway, token: &str) -> Result<MatchView, ApiError> {
    let mut parts = token.splitn(3, '.');
    let (Some(expires), Some(mac), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::not_found());
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return Err(ApiError::not_found());
    };
    if expires < crate::compose::now().unix_seconds() {
        return Err(ApiError::new(
            StatusCode::GONE,
            None,
            "this link has expired; ask your employer or agency for a new one",
        ));
    }
    let Some(view) = g.view(id).await? else {
        return Err(ApiError::not_found());
    };
    let want = g
        .link_mac(id, view.proposed.worker_id.as_str(), expires)
        .await?;
    let same = want.len() == mac.len()
        && want
            .bytes()
            .zip(mac.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(ApiError::not_found());
    }
    Ok(view)
}

/// The caller behind a link: the worker, for event ids and idempotency.
fn worker(view: &MatchView) -> Principal {
    Principal {
        role: Role::Worker,
        id: format!("worker:{}", view.proposed.worker_id),
    }
}

/// `GET /v1/w/{token}`: what the worker needs to decide — the post, the
/// place, the days, the hours and the wage, where the proposal stands and
/// what they may do.
pub(crate) async fn read(State(g): State<Arc<Gateway>>, Path(token): Path<String>) -> ApiResult {
    let view = open(&g, &token).await?;
    let gap = g.gap_view(view.proposed.gap_id.as_str()).await?;
    Ok(Json(worker_view(&view, gap.as_ref())).into_response())
}

/// What the worker reads: the agreement's terms once there is one, and
/// before that the gap's own (post, wage, hours, place), with the
/// proposal's reasons in plain words.
fn worker_view(v: &MatchView, gap: Option<&lendwork_state::views::GapView>) -> serde_json::Value {
    let a = v.agreement.as_ref();
    let (why_zh, why_en) = crate::portal::words::explanation(&v.proposed.explanation.terms);
    let (region_zh, region_en) = crate::portal::words::region(v.proposed.region.as_str());
    json!({
        "explanation_zh": why_zh,
        "explanation_en": why_en,
        "region_name": region_zh,
        "region_name_en": region_en,
        "match_id": v.proposed.match_id,
        "status": v.status,
        "window": v.window,
        "borrower": v.enterprise_id,
        "lender": v.lender_id,
        "explanation": v.proposed.explanation,
        "title": a.and_then(|a| a.title.clone()).or_else(|| gap.and_then(|g| g.title.clone())),
        "hours_per_day": a.map(|a| a.hours_per_day.get()).or_else(|| gap.map(|g| g.hours_per_day)),
        "hourly_wage_fen": a.map(|a| a.hourly_wage_fen.get()).or_else(|| gap.map(|g| g.hourly_wage_fen.get())),
        "accepted": v.accepted,
        "signed": v.signed,
        "required": v.required,
        "agreement_sha256": v.agreement_sha256,
        "allowed": v.allowed,
        "days": v.sheet.days,
        "my_record": v.worker_record,
        "ledger": v.ledger,
    })
}

/// `GET /v1/w/{token}/agreement` (HTML with its hash) and the page
/// `GET /w/{token}`.
pub(crate) async fn agreement(
    State(g): State<Arc<Gateway>>,
    Path((token, what)): Path<(String, String)>,
) -> ApiResult {
    if what != "agreement" {
        return Err(ApiError::not_found());
    }
    let view = open(&g, &token).await?;
    agreement_page(&view)
}

/// `POST /v1/w/{token}/{accept | decline | sign | return}`, as the worker.
pub(crate) async fn act(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((token, action)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let action = match Action::parse(&action) {
        Some(
            a @ (Action::Accept
            | Action::Decline
            | Action::Sign
            | Action::Return
            | Action::Confirm
            | Action::Dispute),
        ) => a,
        _ => return Err(ApiError::not_found()),
    };
    crate::error::json_body(&headers, &body)?;
    let view = open(&g, &token).await?;
    perform(
        &g,
        &worker(&view),
        &headers,
        &view,
        Party::Worker,
        action,
        &body,
    )
    .await
}

/// `GET /w/{token}`: the worker's page (Chinese first, English beside).
pub(crate) async fn page(State(g): State<Arc<Gateway>>, Path(token): Path<String>) -> ApiResult {
    let view = open(&g, &token).await?;
    let gap = g.gap_view(view.proposed.gap_id.as_str()).await?;
    let data = serde_json::to_string(&worker_view(&view, gap.as_ref())).expect("serializable");
    let safe = data.replace('<', "\\u003c");
    Ok(Html(WORKER_PAGE.replace("/*DATA*/null", &safe)).into_response())
}

const WORKER_PAGE: &str = include_str!("worker.html");

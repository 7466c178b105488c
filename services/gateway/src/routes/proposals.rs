//! Proposals as their parties see them: the listing, the parties' actions
//! (accept, decline, sign, start, end, return), each decided by the
//! engine's state machine before anything is appended, and the agreement
//! pack.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_domain::{Outcome, Party, Sha256Hex};
use lendwork_engine::machine::Step;
use lendwork_state::views::MatchView;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::{Principal, Role};
use crate::compose::compose;
use crate::error::{json_body, parse, ApiError, ApiResult};
use crate::Gateway;

/// The query of `GET /v1/proposals`; unknown parameters are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProposalQuery {
    status: Option<String>,
    region: Option<String>,
    gap_id: Option<String>,
    worker_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// The statuses a proposal's view can have.
const STATUSES: [&str; 12] = [
    "proposed",
    "agreed",
    "signed",
    "started",
    "completed",
    "returned",
    "no_show",
    "ended_cancelled",
    "terminated",
    "declined",
    "expired",
    "cancelled",
];

/// `GET /v1/proposals`: the caller's proposals, in id order, paginated as
/// the other listings are ([`super::listing`]); filters `status`,
/// `region`, `gap_id`, `worker_id`.
pub(crate) async fn list_proposals(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> ApiResult {
    let q: ProposalQuery = super::listing::query(&uri)?;
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency, Role::Operator])?;
    let lq = super::listing::ListQuery {
        status: q.status,
        region: q.region,
        cursor: q.cursor,
        limit: q.limit,
        enterprise_id: None,
    };
    let (status, region, limit) = (lq.status(&STATUSES)?, lq.region()?, lq.limit()?);
    let views = if p.role == Role::Operator {
        // Every proposal, by a scan of the views (an office's search), with
        // pseudonymous workers and no names; `worker_id` searches by
        // pseudonym.
        let mut all = Vec::new();
        for (_, b) in g.store.scan_prefix(&g.keys.proposals()).await? {
            let Ok(mut v) = serde_json::from_slice::<MatchView>(&b) else {
                continue;
            };
            if region
                .as_deref()
                .is_some_and(|r| v.proposed.region.as_str() != r)
                || status.as_deref().is_some_and(|s| v.status != s)
            {
                continue;
            }
            let pseudo = g.pseudonym(v.proposed.worker_id.as_str()).await?;
            let pseudo = lendwork_domain::WorkerId::new(pseudo).expect("a valid id");
            v.proposed.worker_id = pseudo.clone();
            v.worker_name = None;
            if let Some(a) = v.agreement.as_mut() {
                a.worker_id = pseudo;
                a.worker_name = None;
            }
            all.push(v);
        }
        all
    } else {
        visible(&g, &p).await?
    };
    let items = views
        .into_iter()
        .filter(|v| {
            status.as_deref().map_or(true, |s| v.status == s)
                && region
                    .as_deref()
                    .map_or(true, |r| v.proposed.region.as_str() == r)
                && q.gap_id
                    .as_deref()
                    .map_or(true, |x| v.proposed.gap_id.as_str() == x)
                && q.worker_id
                    .as_deref()
                    .map_or(true, |x| v.proposed.worker_id.as_str() == x)
        })
        .map(|v| (v.proposed.match_id.to_string(), v))
        .collect();
    Ok(Json(super::listing::page(
        items,
        lq.cursor.as_deref(),
        limit,
        "proposals",
    ))
    .into_response())
}

/// The proposals `p` is a party to (an enterprise's as borrower and as
/// lender, an agency's through its workers), from the index sets.
pub(crate) async fn visible(g: &Gateway, p: &Principal) -> Result<Vec<MatchView>, ApiError> {
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
    Ok(views)
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
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Signature {
    document_sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DayReport {
    date: Value,
    minutes: Option<Value>,
    reason: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaymentReport {
    to: Value,
    amount_fen: Value,
    period: Value,
}

/// What a party does to a proposal: the last segment of
/// `POST /v1/proposals/{id}/{action}` (and of a worker link's actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `accept`: `match_accepted`.
    Accept,
    /// `decline`: `match_declined`.
    Decline,
    /// `sign`: `agreement_signed`, with `{"document_sha256"}`.
    Sign,
    /// `start`: `assignment_started` (the borrower's).
    Start,
    /// `end`: `assignment_ended`, with `{"outcome", "reason"?}`.
    End,
    /// `return`: `assignment_ended` as `returned` (the worker's or the
    /// lender's right to return), with `{"reason"?}`.
    Return,
    /// `timesheet`: `timesheet_submitted` (the borrower's), with
    /// `{"date", "minutes"}`.
    Timesheet,
    /// `confirm`: `timesheet_confirmed` (the worker's or the lender's),
    /// with `{"date"}`.
    Confirm,
    /// `dispute`: `timesheet_disputed`, with `{"date", "reason",
    /// "minutes"?}`.
    Dispute,
    /// `payment`: `payment_recorded` by the caller's party, with `{"to",
    /// "amount_fen", "period"}`.
    Payment,
}

impl Action {
    /// The action a path segment names, if any.
    pub fn parse(segment: &str) -> Option<Action> {
        match segment {
            "accept" => Some(Action::Accept),
            "decline" => Some(Action::Decline),
            "sign" => Some(Action::Sign),
            "start" => Some(Action::Start),
            "end" => Some(Action::End),
            "return" => Some(Action::Return),
            "timesheet" => Some(Action::Timesheet),
            "confirm" => Some(Action::Confirm),
            "dispute" => Some(Action::Dispute),
            "payment" => Some(Action::Payment),
            _ => None,
        }
    }

    /// The type of the event it appends.
    pub fn event_type(self) -> &'static str {
        match self {
            Action::Accept => "match_accepted",
            Action::Decline => "match_declined",
            Action::Sign => "agreement_signed",
            Action::Start => "assignment_started",
            Action::End | Action::Return => "assignment_ended",
            Action::Timesheet => "timesheet_submitted",
            Action::Confirm => "timesheet_confirmed",
            Action::Dispute => "timesheet_disputed",
            Action::Payment => "payment_recorded",
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
    if action == "worker-link" {
        return crate::routes::links::make_link(&g, &p, &headers, &id, &body).await;
    }
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
    perform(&g, &p, &headers, &view, party, action, &body).await
}

/// Takes `action` on proposal `view` as `party` for caller `p`: the body is
/// read, the step is decided by the engine's state machine on the view
/// (409 with the state and what is allowed when it does not apply, and
/// nothing is appended), and the event is appended.
pub(crate) async fn perform(
    g: &Gateway,
    p: &Principal,
    headers: &HeaderMap,
    view: &MatchView,
    party: Party,
    action: Action,
    body: &[u8],
) -> ApiResult {
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let id = view.proposed.match_id.as_str();
    if matches!(
        action,
        Action::Timesheet | Action::Confirm | Action::Dispute | Action::Payment
    ) {
        return report(g, p, headers, view, party, action, body).await;
    }
    let mut f = Map::new();
    f.insert("match_id".into(), json!(id));
    let sha;
    let step = match action {
        Action::Accept | Action::Decline => {
            let d: Decision = if empty {
                Decision { reason: None }
            } else {
                parse(body, "{\"reason\": …}")?
            };
            f.insert("by".into(), json!(party));
            if let Some(r) = d.reason {
                f.insert("reason".into(), json!(r));
            }
            if action == Action::Accept {
                Step::Accept(party)
            } else {
                Step::Decline(party)
            }
        }
        Action::Sign => {
            let s: Signature = parse(body, "{\"document_sha256\": …}")?;
            sha = Sha256Hex::new(s.document_sha256).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("document_sha256"),
                    e.to_string(),
                )
            })?;
            f.insert("by".into(), json!(party));
            f.insert("document_sha256".into(), json!(sha.as_str()));
            Step::Sign(party, &sha)
        }
        Action::Start => {
            if party != Party::Borrower {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the borrower starts an assignment",
                ));
            }
            Step::Start
        }
        Action::End | Action::Return => {
            let (outcome, reason) = if action == Action::Return {
                let d: Decision = if empty {
                    Decision { reason: None }
                } else {
                    parse(body, "{\"reason\": …}")?
                };
                (Outcome::Returned, d.reason)
            } else {
                let e: Ending = parse(body, "{\"outcome\": …, \"reason\": …}")?;
                let o: Outcome = serde_json::from_value(e.outcome).map_err(|_| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some("outcome"),
                        "must be one of completed, returned, no_show, cancelled, terminated",
                    )
                })?;
                (o, e.reason)
            };
            let permitted = match outcome {
                Outcome::Completed | Outcome::Cancelled | Outcome::NoShow => {
                    party == Party::Borrower
                }
                Outcome::Returned => matches!(party, Party::Worker | Party::Lender),
                Outcome::Terminated => party == Party::Lender,
            };
            if !permitted {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    Some("outcome"),
                    format!(
                        "the {} cannot end an assignment as {}: the borrower completes, cancels \
                         or reports a no-show, the worker or the lender returns, the lender \
                         terminates",
                        party.slug(),
                        outcome.slug()
                    ),
                ));
            }
            f.insert("outcome".into(), json!(outcome));
            f.insert("by".into(), json!(party));
            if let Some(r) = reason {
                f.insert("reason".into(), json!(r));
            }
            Step::End(outcome, Some(party))
        }
        Action::Timesheet | Action::Confirm | Action::Dispute | Action::Payment => {
            unreachable!("reports are handled above")
        }
    };
    let now = crate::compose::now();
    view.decide(step, now).map_err(|r| ApiError::refused(&r))?;
    let e = compose(action.event_type(), g.event_id(p, headers, 0)?, f, "")?;
    let what = format!("POST proposal {id} {}", action.event_type());
    g.bind_key(p, headers, &what, body).await?;
    g.append_one(e).await
}

/// `GET /v1/proposals/{id}/agreement`: the agreement pack as printable
/// HTML, its SHA-256 in `X-Document-SHA256` (what each party signs), to
/// the proposal's parties once it is agreed; 409 before.
pub(crate) async fn agreement(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
) -> ApiResult {
    if what != "agreement" {
        return Err(ApiError::not_found());
    }
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    let Some(view) = g.view(&id).await? else {
        return Err(ApiError::not_found());
    };
    if g.party(&p, &view).await?.is_none() {
        return Err(ApiError::not_found());
    }
    agreement_page(&view)
}

/// The agreement of `view` as an HTML response with its hash.
pub(crate) fn agreement_page(view: &MatchView) -> ApiResult {
    let Some(terms) = &view.agreement else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            None,
            format!(
                "the proposal is {}: the agreement exists once every required party has accepted",
                view.status
            ),
        ));
    };
    let html = terms.render_html();
    let sha = terms.sha256();
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (
                header::HeaderName::from_static("x-document-sha256"),
                sha.to_string(),
            ),
        ],
        html,
    )
        .into_response())
}

/// A timesheet or payment report on `view` by `party`: read, checked by
/// the contract (422 naming the field) and by the timesheet rules of
/// `lendwork_engine::sheet` on the view (422 naming the field for a bad
/// day or amount, 409 for a state that does not allow it), then appended.
async fn report(
    g: &Gateway,
    p: &Principal,
    headers: &HeaderMap,
    view: &MatchView,
    party: Party,
    action: Action,
    body: &[u8],
) -> ApiResult {
    use lendwork_domain::EventKind;
    use lendwork_engine::sheet;
    let forbidden = |m: &str| Err(ApiError::new(StatusCode::FORBIDDEN, None, m.to_owned()));
    let mut f = Map::new();
    f.insert("match_id".into(), json!(view.proposed.match_id));
    match action {
        Action::Timesheet | Action::Confirm | Action::Dispute => {
            let d: DayReport = parse(body, "{\"date\": …}")?;
            f.insert("date".into(), d.date);
            match action {
                Action::Timesheet => {
                    if party != Party::Borrower {
                        return forbidden("the borrower submits timesheets");
                    }
                    f.insert("minutes".into(), d.minutes.unwrap_or(Value::Null));
                }
                Action::Dispute => {
                    f.insert("reason".into(), d.reason.unwrap_or(Value::Null));
                    if let Some(m) = d.minutes {
                        f.insert("minutes".into(), m);
                    }
                }
                _ => {}
            }
            if action != Action::Timesheet && party == Party::Borrower {
                return forbidden("the worker or the lender confirms or disputes a day");
            }
            f.insert("by".into(), json!(party));
        }
        Action::Payment => {
            if party == Party::Worker {
                return forbidden("the borrower or the lender reports a payment it made");
            }
            let x: PaymentReport = parse(body, "{\"to\": …, \"amount_fen\": …, \"period\": …}")?;
            f.insert("from".into(), json!(party));
            f.insert("to".into(), x.to);
            f.insert("amount_fen".into(), x.amount_fen);
            f.insert("period".into(), x.period);
        }
        _ => unreachable!("reports only"),
    }
    let e = compose(action.event_type(), g.event_id(p, headers, 0)?, f, "")?;
    let Some(work) = view.work() else {
        return Err(ApiError::not_found());
    };
    let today = crate::compose::now().market_date();
    let pay = &g.opts.pay;
    let decided = match &e.kind {
        EventKind::TimesheetSubmitted(x) => sheet::submit(&view.sheet, &work, x, today, pay),
        EventKind::TimesheetConfirmed(x) => sheet::confirm(&view.sheet, &work, x.date, x.by),
        EventKind::TimesheetDisputed(x) => sheet::dispute(&view.sheet, &work, x.date, x.by),
        EventKind::PaymentRecorded(x) => sheet::pay(&work, x),
        _ => Ok(()),
    };
    if let Err(why) = decided {
        // A bad day or amount names its field (422); a state that does
        // not allow the report is a conflict (409).
        let field = ["date", "minutes", "by", "to", "from"]
            .into_iter()
            .find(|f| why.starts_with(&format!("{f}: ")));
        let state_bound = why.contains("confirmed")
            || why.contains("disputed")
            || why.contains("not started")
            || why.contains("not submitted");
        return Err(match field {
            Some(f) if !state_bound => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(f), why)
            }
            _ => ApiError::new(StatusCode::CONFLICT, field, why),
        });
    }
    let what = format!(
        "POST proposal {} {}",
        view.proposed.match_id,
        action.event_type()
    );
    g.bind_key(p, headers, &what, body).await?;
    g.append_one(e).await
}

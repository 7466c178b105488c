//! The lending lifecycle through the API, each test the repro of a
//! defect an office found, now refused (409/403) with nothing appended and
//! nothing counted: a proposal filling a position, steps on a finished
//! proposal, ends twice, a gap moved between regions, the borrower acting
//! alone for a lent employee, the lender declining after the start, a
//! worker re-proposed after returning, a completion before the last day.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

/// The proposal's view as `token` sees it, once it satisfies `ok`.
async fn view_until(
    app: &axum::Router,
    m: &str,
    token: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    until(what, || {
        let app = app.clone();
        let path = format!("/v1/proposals/{m}");
        let token = token.to_owned();
        let ok = &ok;
        async move {
            let (_, v) = call(&app, "GET", &path, Some(&token), "").await;
            ok(&v).then_some(v)
        }
    })
    .await
}

async fn status_is(app: &axum::Router, m: &str, status: &str) -> Value {
    view_until(app, m, ENT_A, status, |v| v["status"] == status).await
}

/// The borrower's proposals for `gap`, once there are `n`.
async fn proposals(app: &axum::Router, gap: &str, n: usize) -> Vec<Value> {
    let v = until("proposals", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/proposals", Some(ENT_A), "").await;
            let mine: Vec<Value> = v["proposals"]
                .as_array()?
                .iter()
                .filter(|p| p["gap_id"] == gap && p["status"] == "proposed")
                .cloned()
                .collect();
            (mine.len() >= n).then_some(json!(mine))
        }
    })
    .await;
    v.as_array().unwrap().clone()
}

async fn act(
    app: &axum::Router,
    m: &str,
    action: &str,
    token: &str,
    body: &str,
) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        &format!("/v1/proposals/{m}/{action}"),
        Some(token),
        body,
    )
    .await
}

/// The worker link's API path, made by the worker's lender or agency.
async fn link(app: &axum::Router, m: &str, lender: &str) -> String {
    let (s, v) = act(app, m, "worker-link", lender, "").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["api"].as_str().unwrap().to_owned()
}

/// Waits until the operator's totals read `want` (statistics are written
/// at most every 500 ms), and fails naming the first that does not.
async fn expect_stats(app: &axum::Router, want: &[(&str, u64)]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let t = call(app, "GET", "/v1/stats", Some(OPERATOR), "").await.1["total"].clone();
        let wrong = want.iter().find(|(k, n)| t[*k] != *n);
        match wrong {
            None => return,
            Some((k, n)) if std::time::Instant::now() > deadline => {
                panic!("{k} is {} (want {n}): {t}", t[*k])
            }
            Some(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// Carries proposal `m` to `signed`: every required party accepts (the
/// worker through the link `api`, the lender with `lender` when there is
/// one) and signs the agreement.
async fn sign_all(app: &axum::Router, m: &str, api: &str, lender: Option<&str>) {
    let mut parties: Vec<(Option<&str>, String)> =
        vec![(Some(ENT_A), format!("/v1/proposals/{m}"))];
    if let Some(l) = lender {
        parties.push((Some(l), format!("/v1/proposals/{m}")));
    }
    parties.push((None, api.to_owned()));
    for (token, base) in &parties {
        let (s, v) = call(app, "POST", &format!("{base}/accept"), *token, "{}").await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        // Each acceptance is read back before the next (one at a time,
        // as people answer).
        let n = parties
            .iter()
            .position(|p| p.1 == *base && p.0 == *token)
            .unwrap()
            + 1;
        view_until(app, m, ENT_A, "the acceptance", |v| {
            v["accepted"].as_array().is_some_and(|a| a.len() >= n)
        })
        .await;
    }
    let agreed = status_is(app, m, "agreed").await;
    let sha = agreed["agreement_sha256"].as_str().unwrap().to_owned();
    let body = format!(r#"{{"document_sha256":"{sha}"}}"#);
    for (token, base) in &parties {
        let (s, v) = call(app, "POST", &format!("{base}/sign"), *token, &body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    status_is(app, m, "signed").await;
}

async fn post(app: &axum::Router, token: &str, path: &str, body: &str) {
    let (s, v) = call(app, "POST", path, Some(token), body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{path}: {v}");
}

fn gap_with(id: &str, headcount: u32, start: i64, end: i64) -> String {
    let mut g: Value = serde_json::from_str(&shortage(id)).unwrap();
    g["headcount"] = json!(headcount);
    g["window"] = json!({"start": day(start), "end": day(end)});
    g.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_alone_fills_no_position_and_the_office_counts_only_what_happened() {
    let app = app().await;
    post(&app, ENT_A, "/v1/shortages", &gap_with("g-2", 2, -10, 0)).await;
    post(
        &app,
        AGENCY,
        "/v1/workers",
        &json!({"workers": [worker("w-1"), worker("w-2")]}).to_string(),
    )
    .await;
    proposals(&app, "g-2", 2).await;
    let (_, g) = call(&app, "GET", "/v1/shortages/g-2", Some(ENT_A), "").await;
    assert_eq!(
        (
            g["open"].as_u64(),
            g["proposed"].as_u64(),
            g["filled"].as_u64()
        ),
        (Some(2), Some(2), Some(0)),
        "{g}"
    );
    assert_eq!(g["status"], "open");
    expect_stats(
        &app,
        &[
            ("positions", 2),
            ("open_positions", 2),
            ("positions_filled", 0),
            ("positions_started", 0),
            ("agreed", 0),
            ("proposed", 2),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_on_a_declined_proposal_are_409_nothing_is_appended_and_nothing_counted() {
    let app = app().await;
    post(&app, ENT_A, "/v1/shortages", &shortage("g-1")).await;
    post(
        &app,
        AGENCY,
        "/v1/workers",
        &json!({"workers": [worker("w-1")]}).to_string(),
    )
    .await;
    let m = proposals(&app, "g-1", 1).await[0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = act(
        &app,
        &m,
        "decline",
        ENT_A,
        r#"{"reason":"need a night-shift licence"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let declined = status_is(&app, &m, "declined").await;
    let sha = format!(r#"{{"document_sha256":"{}"}}"#, "a".repeat(64));
    for (action, body) in [
        ("accept", ""),
        ("decline", ""),
        ("start", ""),
        ("sign", sha.as_str()),
        ("end", r#"{"outcome":"completed"}"#),
    ] {
        let (s, v) = act(&app, &m, action, ENT_A, body).await;
        assert_eq!(
            s,
            StatusCode::CONFLICT,
            "{action} on a declined proposal: {v}"
        );
        assert_eq!(v["error"]["state"], "declined");
        assert_eq!(v["error"]["allowed"], json!([]));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, after) = call(&app, "GET", &format!("/v1/proposals/{m}"), Some(ENT_A), "").await;
    assert_eq!(
        after["history"], declined["history"],
        "nothing was appended"
    );
    assert_eq!(
        after["history"][1]["reason"], "need a night-shift licence",
        "the audit trail keeps the reason"
    );
    expect_stats(
        &app,
        &[
            ("declined", 1),
            ("agreed", 0),
            ("started", 0),
            ("completed", 0),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_then_no_show_and_an_end_twice_are_409_and_counted_once() {
    let app = app().await;
    post(&app, ENT_A, "/v1/shortages", &shortage("g-1")).await;
    post(
        &app,
        AGENCY,
        "/v1/workers",
        &json!({"workers": [worker("w-1")]}).to_string(),
    )
    .await;
    let m = proposals(&app, "g-1", 1).await[0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = link(&app, &m, AGENCY).await;
    sign_all(&app, &m, &api, None).await;
    post(&app, ENT_A, &format!("/v1/proposals/{m}/start"), "").await;
    status_is(&app, &m, "started").await;
    post(
        &app,
        ENT_A,
        &format!("/v1/proposals/{m}/end"),
        r#"{"outcome":"completed"}"#,
    )
    .await;
    status_is(&app, &m, "completed").await;
    for outcome in ["no_show", "completed", "cancelled"] {
        let (s, v) = act(
            &app,
            &m,
            "end",
            ENT_A,
            &format!(r#"{{"outcome":"{outcome}"}}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{outcome} after completed: {v}");
    }
    let (s, v) = act(&app, &m, "start", ENT_A, "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    expect_stats(
        &app,
        &[
            ("agreed", 1),
            ("signed", 1),
            ("started", 1),
            ("completed", 1),
            ("no_show", 0),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_keeps_its_region_and_a_withdrawn_gaps_proposal_cannot_be_accepted_or_started() {
    let app = app().await;
    post(&app, ENT_A, "/v1/shortages", &shortage("g-1")).await;
    post(
        &app,
        AGENCY,
        "/v1/workers",
        &json!({"workers": [worker("w-1")]}).to_string(),
    )
    .await;
    let m = proposals(&app, "g-1", 1).await[0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let moved = shortage("g-1").replace("620100", "620200");
    let (s, v) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &moved).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::CONFLICT, Some("region")),
        "{v}"
    );
    let (s, _) = call(&app, "DELETE", "/v1/shortages/g-1", Some(ENT_A), "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    status_is(&app, &m, "cancelled").await;
    for action in ["accept", "start"] {
        let (s, v) = act(&app, &m, action, ENT_A, "").await;
        assert_eq!(
            s,
            StatusCode::CONFLICT,
            "{action} on a withdrawn gap's proposal: {v}"
        );
    }
    let (_, g) = call(&app, "GET", "/v1/shortages/g-1", Some(ENT_A), "").await;
    assert_eq!(g["status"], "withdrawn", "{g}");
    expect_stats(&app, &[("cancelled", 1)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_start_without_the_lender_and_the_workers_own_acceptance_and_no_lender_decline_after_the_start(
) {
    let app = app().await;
    post(&app, ENT_A, "/v1/shortages", &shortage("g-1")).await;
    // Enterprise B lends its own employee, with consent.
    post(
        &app,
        ENT_B,
        "/v1/workers",
        &json!({"workers": [worker("e-1")]}).to_string(),
    )
    .await;
    let m = proposals(&app, "g-1", 1).await[0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    post(&app, ENT_A, &format!("/v1/proposals/{m}/accept"), "").await;
    view_until(&app, &m, ENT_A, "the borrower's acceptance", |v| {
        v["accepted"] == json!(["borrower"])
    })
    .await;
    let (s, v) = act(&app, &m, "start", ENT_A, "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let waiting = v["error"]["message"].as_str().unwrap();
    assert!(
        waiting.contains("lender") && waiting.contains("worker"),
        "{v}"
    );
    let api = link(&app, &m, ENT_B).await;
    // The lender's acceptance is not the worker's: still no start.
    post(&app, ENT_B, &format!("/v1/proposals/{m}/accept"), "").await;
    view_until(&app, &m, ENT_A, "the lender's acceptance", |v| {
        v["accepted"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let (s, v) = act(&app, &m, "start", ENT_A, "").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = call(&app, "POST", &format!("{api}/accept"), None, "{}").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let agreed = status_is(&app, &m, "agreed").await;
    assert_eq!(agreed["required"], json!(["borrower", "lender", "worker"]));
    let sha = agreed["agreement_sha256"].as_str().unwrap().to_owned();
    let body = format!(r#"{{"document_sha256":"{sha}"}}"#);
    post(&app, ENT_A, &format!("/v1/proposals/{m}/sign"), &body).await;
    post(&app, ENT_B, &format!("/v1/proposals/{m}/sign"), &body).await;
    view_until(&app, &m, ENT_A, "two signatures", |v| {
        v["signed"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let (s, v) = act(&app, &m, "start", ENT_A, "").await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "no start before the last signature: {v}"
    );
    let (s, v) = call(&app, "POST", &format!("{api}/sign"), None, &body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    status_is(&app, &m, "signed").await;
    post(&app, ENT_A, &format!("/v1/proposals/{m}/start"), "").await;
    status_is(&app, &m, "started").await;
    let (s, v) = act(&app, &m, "decline", ENT_B, "").await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "the lender cannot decline after the start: {v}"
    );
    let (s, v) = act(
        &app,
        &m,
        "return",
        ENT_B,
        r#"{"reason":"needed back on our own line"}"#,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::ACCEPTED,
        "the lender may call the worker back: {v}"
    );
    let ended = status_is(&app, &m, "returned").await;
    let last = ended["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["by"].as_str(), last["reason"].as_str()),
        (Some("lender"), Some("needed back on our own line"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_waits_for_the_last_day_and_a_worker_who_returned_is_not_proposed_again_for_that_gap(
) {
    let app = app().await;
    post(&app, ENT_A, "/v1/shortages", &gap_with("g-1", 1, -5, 5)).await;
    post(
        &app,
        AGENCY,
        "/v1/workers",
        &json!({"workers": [worker("w-1")]}).to_string(),
    )
    .await;
    let m = proposals(&app, "g-1", 1).await[0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = link(&app, &m, AGENCY).await;
    sign_all(&app, &m, &api, None).await;
    post(&app, ENT_A, &format!("/v1/proposals/{m}/start"), "").await;
    status_is(&app, &m, "started").await;
    let (s, v) = act(&app, &m, "end", ENT_A, r#"{"outcome":"completed"}"#).await;
    assert_eq!(s, StatusCode::CONFLICT, "completed five days early: {v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&day(5)),
        "{v}"
    );
    let (s, v) = call(
        &app,
        "POST",
        &format!("{api}/return"),
        None,
        r#"{"reason":"家里有事"}"#,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::ACCEPTED,
        "the worker returns early through the link: {v}"
    );
    status_is(&app, &m, "returned").await;
    // The position is free again; a second worker fills it, not the one
    // who returned.
    post(
        &app,
        AGENCY,
        "/v1/workers",
        &json!({"workers": [worker("w-2")]}).to_string(),
    )
    .await;
    let next = proposals(&app, "g-1", 1).await;
    assert_eq!(next[0]["worker_id"], "w-2", "{next:?}");
    expect_stats(&app, &[("returned", 1), ("completed", 0)]).await;
}

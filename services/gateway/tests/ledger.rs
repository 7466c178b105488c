//! Work and pay through the API: an employee's assignment runs a week,
//! one day is disputed and resettled, the borrower pays the lender in
//! full and the lender pays the worker 1 % less; the ledger shows a
//! `deduction` for that period, the operator's flag count is 1, the CSV
//! opens with the right columns; every refused report names its field
//! and rule; a lender sees only its own workers' assignments.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::*;
use lendwork_domain::*;
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::EventBus;
use serde_json::{json, Value};

async fn wait(
    app: &axum::Router,
    path: &str,
    token: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    until(what, || {
        let (app, path, token) = (app.clone(), path.to_owned(), token.to_owned());
        let ok = &ok;
        async move {
            let (_, v) = call(&app, "GET", &path, Some(&token), "").await;
            ok(&v).then_some(v)
        }
    })
    .await
}

async fn post(
    app: &axum::Router,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    call(app, "POST", path, token, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_of_work_a_dispute_resettled_and_a_one_percent_deduction_flagged() {
    let bus = Arc::new(MemoryBus::new());
    let app = app_with(bus.clone(), Arc::new(MemoryStore::new()), true).await;
    // Eight hours a day at ¥25.
    let gap = json!({"gap_id": "g-w", "region": "620100", "site": {"lat": 36.06, "lon": 103.83},
        "requirements": [], "certificates": [], "headcount": 1,
        "window": {"start": day(-10), "end": day(10)}, "hourly_wage_fen": 2500, "hours_per_day": 8});
    assert_eq!(
        post(&app, "/v1/shortages", Some(ENT_A), &gap.to_string())
            .await
            .0,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        post(
            &app,
            "/v1/workers",
            Some(ENT_B),
            &json!({"workers": [worker("e-1")]}).to_string()
        )
        .await
        .0,
        StatusCode::ACCEPTED
    );
    let list = wait(&app, "/v1/proposals", ENT_A, "a proposal", |v| {
        v["proposals"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let m = list["proposals"][0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v1/proposals/{m}");
    let (_, link) = post(&app, &format!("{base}/worker-link"), Some(ENT_B), "").await;
    let api = link["api"].as_str().unwrap().to_owned();
    for (path, token) in [
        (base.clone(), Some(ENT_A)),
        (base.clone(), Some(ENT_B)),
        (api.clone(), None),
    ] {
        assert_eq!(
            post(&app, &format!("{path}/accept"), token, "{}").await.0,
            StatusCode::ACCEPTED
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let agreed = wait(&app, &base, ENT_A, "the agreement", |v| {
        v["status"] == "agreed"
    })
    .await;
    let sign = format!(
        r#"{{"document_sha256":"{}"}}"#,
        agreed["agreement_sha256"].as_str().unwrap()
    );
    for (path, token) in [
        (base.clone(), Some(ENT_A)),
        (base.clone(), Some(ENT_B)),
        (api.clone(), None),
    ] {
        assert_eq!(
            post(&app, &format!("{path}/sign"), token, &sign).await.0,
            StatusCode::ACCEPTED
        );
    }
    wait(&app, &base, ENT_A, "the signatures", |v| {
        v["status"] == "signed"
    })
    .await;
    // The worker started a week ago: the start is in the log with its own
    // time (as a log imported with `publish` would have it).
    let start = Event {
        id: EventId::new("evt-start-week-ago").unwrap(),
        at: Timestamp::from_unix_seconds(
            lendwork_gateway::now_timestamp().unix_seconds() - 7 * 86_400,
        )
        .unwrap(),
        kind: EventKind::AssignmentStarted(MatchRef {
            match_id: MatchId::new(&m).unwrap(),
        }),
    };
    bus.publish_all(
        "lendwork.market.v1",
        &[(
            axum::body::Bytes::from("620100"),
            axum::body::Bytes::from(start.to_json()),
        )],
    )
    .await
    .unwrap();
    wait(&app, &base, ENT_A, "the start", |v| {
        v["status"] == "started"
    })
    .await;

    // Refusals name their field and rule; nothing of them is applied.
    for (body, field, code) in [
        (
            json!({"date": day(1), "minutes": 480}),
            "date",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"date": day(-9), "minutes": 480}),
            "date",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"date": day(-3), "minutes": 661}),
            "minutes",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"date": day(-3), "minutes": 1441}),
            "minutes",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"date": "2026-02-30", "minutes": 60}),
            "date",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, v) = post(
            &app,
            &format!("{base}/timesheet"),
            Some(ENT_A),
            &body.to_string(),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (code, Some(field)),
            "{body}: {v}"
        );
    }
    let (s, v) = post(
        &app,
        &format!("{base}/timesheet"),
        Some(ENT_B),
        &json!({"date": day(-3), "minutes": 480}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the lender does not submit: {v}");
    let (s, v) = post(
        &app,
        &format!("{api}/confirm"),
        None,
        &json!({"date": day(-3)}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "nothing submitted yet: {v}");

    // Seven days of eight hours; the worker confirms six, disputes one.
    for k in 1..=7 {
        let (s, v) = post(
            &app,
            &format!("{base}/timesheet"),
            Some(ENT_A),
            &json!({"date": day(-k), "minutes": 480}).to_string(),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    wait(&app, &base, ENT_A, "seven days", |v| {
        v["sheet"]["days"].as_object().is_some_and(|d| d.len() == 7)
    })
    .await;
    for k in 1..=7 {
        let (action, body) = if k == 4 {
            (
                "dispute",
                json!({"date": day(-k), "reason": "我 16:00 就走了 I left at four", "minutes": 420}),
            )
        } else {
            ("confirm", json!({"date": day(-k)}))
        };
        let (s, v) = post(&app, &format!("{api}/{action}"), None, &body.to_string()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{action}: {v}");
    }
    let disputed = day(-4);
    wait(&app, &base, ENT_A, "the dispute", |v| {
        v["sheet"]["days"][&disputed]["state"] == "disputed"
    })
    .await;
    let (s, v) = post(
        &app,
        &format!("{base}/confirm"),
        Some(ENT_B),
        &json!({"date": disputed}).to_string(),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a disputed day waits for a new submission: {v}"
    );
    // Resettled: the borrower submits seven hours, the worker confirms.
    post(
        &app,
        &format!("{base}/timesheet"),
        Some(ENT_A),
        &json!({"date": disputed, "minutes": 420}).to_string(),
    )
    .await;
    wait(&app, &base, ENT_A, "the resubmission", |v| {
        v["sheet"]["days"][&disputed]["state"] == "submitted"
    })
    .await;
    let (s, v) = post(
        &app,
        &format!("{base}/confirm"),
        Some(ENT_B),
        &json!({"date": disputed}).to_string(),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "only the worker who disputed confirms: {v}"
    );
    let (s, v) = post(
        &app,
        &format!("{api}/confirm"),
        None,
        &json!({"date": disputed}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    // Six days of 8 h and one of 7 h at ¥25: 6 × 20 000 + 17 500 = 137 500 fen.
    let owed: i64 = 137_500;
    let row = wait(&app, &base, ENT_A, "the ledger", |v| {
        v["ledger"].as_array().is_some_and(|l| {
            l.iter()
                .map(|r| r["owed_fen"].as_i64().unwrap())
                .sum::<i64>()
                == owed
        })
    })
    .await;
    let periods: Vec<Value> = row["ledger"].as_array().unwrap().clone();
    // Pay each period: the borrower in full, the lender 1 % less.
    for r in &periods {
        let amount = r["owed_fen"].as_i64().unwrap();
        if amount == 0 {
            continue;
        }
        let period = &r["period"];
        let (s, v) = post(
            &app,
            &format!("{base}/payment"),
            Some(ENT_A),
            &json!({"to": "lender", "amount_fen": amount, "period": period}).to_string(),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let less = amount - amount / 100;
        let (s, v) = post(
            &app,
            &format!("{base}/payment"),
            Some(ENT_B),
            &json!({"to": "worker", "amount_fen": less, "period": period}).to_string(),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let (s, v) = post(
        &app,
        &format!("{base}/payment"),
        Some(ENT_A),
        &json!({"to": "worker", "amount_fen": 100, "period": periods[0]["period"]}).to_string(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("to")),
        "an employee is paid through the lender: {v}"
    );
    let flagged = wait(
        &app,
        "/v1/ledger?flag=deduction",
        ENT_A,
        "the deduction",
        |v| v["assignments"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let lines = flagged["assignments"].as_array().unwrap();
    for l in lines {
        assert!(
            l["flags"].as_array().unwrap().contains(&json!("deduction")),
            "{l}"
        );
        assert_eq!(l["paid_by_borrower_fen"], l["owed_fen"]);
    }
    let total: i64 = lines.iter().map(|l| l["owed_fen"].as_i64().unwrap()).sum();
    assert_eq!(total, owed);
    // The operator's count: one line per flagged period.
    let (_, stats) = call(&app, "GET", "/v1/stats", Some(OPERATOR), "").await;
    let n = lines.len() as u64;
    let stats = if stats["total"]["ledger_flags"]["deduction"] == n {
        stats
    } else {
        wait(&app, "/v1/stats", OPERATOR, "the flag count", |v| {
            v["total"]["ledger_flags"]["deduction"] == n
        })
        .await
    };
    assert_eq!(stats["total"]["owed_fen"], owed);
    assert_eq!(stats["total"]["minutes_confirmed"], 6 * 480 + 420);
    // Isolation: another lender and an agency see none of it.
    for token in [AGENCY, AGENCY_Y] {
        let (_, v) = call(&app, "GET", "/v1/ledger", Some(token), "").await;
        assert_eq!(v["assignments"], json!([]), "{token}");
    }
    let (_, v) = call(&app, "GET", "/v1/ledger?party=lender", Some(ENT_B), "").await;
    assert_eq!(v["assignments"].as_array().unwrap().len(), periods.len());
    let (_, v) = call(&app, "GET", "/v1/ledger?party=lender", Some(ENT_A), "").await;
    assert_eq!(
        v["assignments"],
        json!([]),
        "the borrower is not the lender"
    );
    // The operator sees a pseudonym; the worker's link sees their days.
    let (_, v) = call(&app, "GET", "/v1/ledger", Some(OPERATOR), "").await;
    assert!(
        v["assignments"][0]["worker"]
            .as_str()
            .unwrap()
            .starts_with("p-"),
        "{v}"
    );
    let (_, w) = call(&app, "GET", &api, None, "").await;
    assert_eq!(w["days"].as_object().unwrap().len(), 7);
    // CSV: a BOM, the columns, one line a period.
    let req = axum::http::Request::builder()
        .uri("/v1/ledger?format=csv")
        .header("authorization", format!("Bearer {ENT_A}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = std::str::from_utf8(&body).unwrap();
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    let mut rows = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        rows.next().unwrap(),
        "match_id,gap_id,worker,borrower,lender,region,period_start,period_end,minutes,owed_fen,paid_by_borrower_fen,paid_to_worker_fen,flags"
    );
    assert_eq!(rows.count(), periods.len());
    // Bad filters name themselves.
    for (q, field) in [
        ("period=2026-13", "period"),
        ("flag=cheated", "flag"),
        ("format=xml", "format"),
    ] {
        let (s, v) = call(&app, "GET", &format!("/v1/ledger?{q}"), Some(ENT_A), "").await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{q}: {v}"
        );
    }
    let (s, _) = call(&app, "GET", "/v1/ledger?color=red", Some(ENT_A), "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

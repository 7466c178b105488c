//! The office's view through the API: every gap and proposal listed and
//! searched (workers pseudonymous, no names), and the training needs
//! recounted by hand from the market the test built.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn the_operator_lists_and_searches_gaps_and_proposals_without_names() {
    let app = app().await;
    let mut w = worker("w-op");
    w["display_name"] = json!("孙悟空");
    let (s, _) = call(&app, "POST", "/v1/workers", Some(AGENCY), &w.to_string()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    for (token, gap) in [(ENT_A, "g-op-a"), (ENT_B, "g-op-b")] {
        let (s, _) = call(&app, "POST", "/v1/shortages", Some(token), &shortage(gap)).await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
    let all = until("both gaps", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/shortages", Some(OPERATOR), "").await;
            (v["shortages"].as_array()?.len() == 2).then_some(v)
        }
    })
    .await;
    assert_eq!(all["shortages"][0]["gap_id"], "g-op-a");
    let (_, v) = call(
        &app,
        "GET",
        "/v1/shortages?enterprise_id=ent-b",
        Some(OPERATOR),
        "",
    )
    .await;
    assert_eq!(v["shortages"].as_array().unwrap().len(), 1);
    assert_eq!(v["shortages"][0]["gap_id"], "g-op-b");
    let (_, v) = call(
        &app,
        "GET",
        "/v1/shortages?region=620100&limit=1",
        Some(OPERATOR),
        "",
    )
    .await;
    assert_eq!(v["shortages"].as_array().unwrap().len(), 1);
    assert_eq!(v["next_cursor"], "g-op-a");
    let v = until("a proposal", || {
        let app = app.clone();
        async move {
            let (_, v) = call(
                &app,
                "GET",
                "/v1/proposals?status=proposed",
                Some(OPERATOR),
                "",
            )
            .await;
            (!v["proposals"].as_array()?.is_empty()).then_some(v)
        }
    })
    .await;
    let text = v.to_string();
    assert!(!text.contains("w-op") && !text.contains("孙悟空"), "{text}");
    let pseudo = v["proposals"][0]["worker_id"].as_str().unwrap().to_owned();
    assert!(pseudo.starts_with("p-"), "{pseudo}");
    let (_, v) = call(
        &app,
        "GET",
        &format!("/v1/proposals?worker_id={pseudo}"),
        Some(OPERATOR),
        "",
    )
    .await;
    assert_eq!(
        v["proposals"].as_array().unwrap().len(),
        1,
        "searched by pseudonym"
    );
    let (s, v) = call(
        &app,
        "GET",
        "/v1/proposals?status=nonsense",
        Some(OPERATOR),
        "",
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
}

#[tokio::test]
async fn training_needs_match_a_recount_of_the_market() {
    let app = app().await;
    // Five forklift drivers at level 2, two with the licence; one cook.
    let mut batch = Vec::new();
    for i in 0..5 {
        let mut w = worker(&format!("w-t{i}"));
        w["skills"] = json!([{"skill": "forklift", "level": 2}]);
        if i < 2 {
            w["certificates"] = json!(["forklift-licence"]);
        }
        batch.push(w);
    }
    let mut cook = worker("w-cook");
    cook["skills"] = json!([{"skill": "cooking", "level": 4}]);
    batch.push(cook);
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(AGENCY),
        &json!({"workers": batch}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // Gap 1: forklift level 3 with the licence, 4 positions. Gap 2: forklift
    // level 2 with the licence, 3 positions (the two licensed drivers fit).
    let mut g1: Value = serde_json::from_str(&shortage("g-t1")).unwrap();
    g1["requirements"] = json!([{"skill": "forklift", "min_level": 3}]);
    g1["certificates"] = json!(["forklift-licence"]);
    g1["headcount"] = json!(4);
    let mut g2: Value = serde_json::from_str(&shortage("g-t2")).unwrap();
    g2["certificates"] = json!(["forklift-licence"]);
    g2["headcount"] = json!(3);
    for g in [g1, g2] {
        let (s, v) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &g.to_string()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let needs = until("needs", || {
        let app = app.clone();
        async move {
            let (_, v) = call(
                &app,
                "GET",
                "/v1/training-needs?region=620100",
                Some(OPERATOR),
                "",
            )
            .await;
            let (_, g2) = call(&app, "GET", "/v1/shortages/g-t2", Some(ENT_A), "").await;
            (g2["proposed"] == 2 && !v["needs"].as_array()?.is_empty()).then_some(v)
        }
    })
    .await;
    let find = |kind: &str, slug: &str, level: Option<u64>| -> Value {
        needs["needs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == kind && n["slug"] == slug && n["level"].as_u64() == level)
            .cloned()
            .unwrap_or_else(|| panic!("{kind} {slug} {level:?} in {needs}"))
    };
    // Recount: g-t1 lacks 4 proposals, g-t2 lacks 3 − 2 = 1.
    // forklift ≥3: g-t1's 4; forklift ≥2: g-t2's 1; the licence: 4 + 1 = 5.
    // One away: the two licensed drivers miss g-t1 by the level alone; the
    // three unlicensed miss g-t2 by the licence alone (and g-t1 by two things).
    let f3 = find("skill", "forklift", Some(3));
    assert_eq!(
        (
            f3["positions_short"].as_u64(),
            f3["workers_one_away"].as_u64()
        ),
        (Some(4), Some(2)),
        "{f3}"
    );
    assert_eq!(f3["zh"], "叉车司机");
    let lic = find("certificate", "forklift-licence", None);
    assert_eq!(
        (
            lic["positions_short"].as_u64(),
            lic["workers_one_away"].as_u64()
        ),
        (Some(5), Some(3)),
        "{lic}"
    );
    let f2 = find("skill", "forklift", Some(2));
    assert_eq!(
        (
            f2["positions_short"].as_u64(),
            f2["workers_one_away"].as_u64()
        ),
        (Some(1), Some(0)),
        "{f2}"
    );
    assert_eq!(
        needs["needs"][0]["slug"], "forklift-licence",
        "most positions first"
    );
    // CSV with a BOM; only the operator; bad parameters by name.
    let ((s, _), h) = call_h(
        &app,
        "GET",
        "/v1/training-needs?format=csv",
        Some(OPERATOR),
        "",
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    for token in [ENT_A, AGENCY] {
        let (s, _) = call(&app, "GET", "/v1/training-needs", Some(token), "").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    for (q, field) in [
        ("format=xml", "format"),
        ("region=%20x", "region"),
        ("who=1", "(query)"),
    ] {
        let (s, v) = call(
            &app,
            "GET",
            &format!("/v1/training-needs?{q}"),
            Some(OPERATOR),
            "",
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{q}"
        );
    }
}

#[tokio::test]
async fn the_history_keeps_a_sample_a_minute_for_a_day_and_an_hour_for_a_quarter() {
    use lendwork_domain::Timestamp;
    let (app, g) = app_and_gateway().await;
    let now = lendwork_gateway::now_timestamp().unix_seconds();
    let at = |s: i64| Timestamp::from_unix_seconds(s).unwrap();
    g.record_history(at(now - 300)).await.unwrap();
    let mut s: Value = serde_json::from_str(&shortage("g-hist")).unwrap();
    s["headcount"] = json!(2);
    let (st, _) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &s.to_string()).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    until("the region's view", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/stats", Some(OPERATOR), "").await;
            (v["total"]["positions"] == 2).then_some(v)
        }
    })
    .await;
    g.record_history(at(now - 60)).await.unwrap();
    let (st, v) = call(&app, "GET", "/v1/stats/history", Some(OPERATOR), "").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{v}");
    assert_eq!(
        (
            points[0]["positions"].as_u64(),
            points[1]["positions"].as_u64()
        ),
        (Some(0), Some(2))
    );
    assert_eq!(points[1]["open_positions"], 2);
    assert_eq!(points[1]["at"], at(now - 60).to_string());
    let (_, v) = call(
        &app,
        "GET",
        "/v1/stats/history?region=620100",
        Some(OPERATOR),
        "",
    )
    .await;
    assert_eq!(v["points"][1]["positions"], 2);
    let (_, v) = call(
        &app,
        "GET",
        "/v1/stats/history?region=620200",
        Some(OPERATOR),
        "",
    )
    .await;
    assert_eq!(
        v["points"][1]["positions"], 0,
        "a region without a view counts nothing"
    );
    let (_, v) = call(
        &app,
        "GET",
        "/v1/stats/history?resolution=hour",
        Some(OPERATOR),
        "",
    )
    .await;
    let hours = v["points"].as_array().unwrap();
    assert!(
        !hours.is_empty() && hours.last().unwrap()["positions"] == 2,
        "{v}"
    );
    // A day later the minute sample has aged out; the hour's stays.
    let later = now - 60 + 24 * 3600;
    g.record_history(at(later)).await.unwrap();
    let minutes = g.history(at(later), false).await.unwrap();
    assert_eq!(minutes.len(), 1, "only the newest minute is within the day");
    let hours = g.history(at(later), true).await.unwrap();
    assert!(hours.len() >= 2, "hours are kept for a quarter");
    for (q, field) in [
        ("resolution=second", "resolution"),
        ("region=%20", "region"),
        ("from=1", "(query)"),
    ] {
        let (st, v) = call(
            &app,
            "GET",
            &format!("/v1/stats/history?{q}"),
            Some(OPERATOR),
            "",
        )
        .await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{q}"
        );
    }
    let (st, _) = call(&app, "GET", "/v1/stats/history", Some(ENT_A), "").await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

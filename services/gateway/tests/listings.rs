//! What a clerk lists: their own shortages and workers (filtered,
//! paginated, pending until the matcher has them), a worker by id, the
//! proposals filtered, skills typed by their Chinese names; and the bad
//! queries, each refused by name.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

async fn list(app: &axum::Router, path: &str, token: &str) -> Value {
    let (s, v) = call(app, "GET", path, Some(token), "").await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v
}

#[tokio::test]
async fn a_borrower_lists_its_own_shortages_page_by_page_and_filtered() {
    let app = app().await;
    for i in 0..5 {
        let (s, v) = call(
            &app,
            "POST",
            "/v1/shortages",
            Some(ENT_A),
            &shortage(&format!("g-a{i}")),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let (s, _) = call(
        &app,
        "POST",
        "/v1/shortages",
        Some(ENT_B),
        &shortage("g-b0"),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = call(&app, "DELETE", "/v1/shortages/g-a4", Some(ENT_A), "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // Pages of two, in id order, until the matcher has seen all five.
    until("all five seen", || {
        let app = app.clone();
        async move {
            let v = list(&app, "/v1/shortages", ENT_A).await;
            let all = v["shortages"].as_array()?;
            (all.len() == 5 && all.iter().all(|g| g["status"] != "pending")).then_some(Value::Null)
        }
    })
    .await;
    let mut ids = Vec::new();
    let mut path = "/v1/shortages?limit=2".to_owned();
    loop {
        let v = list(&app, &path, ENT_A).await;
        let page = v["shortages"].as_array().unwrap();
        assert!(page.len() <= 2);
        ids.extend(
            page.iter()
                .map(|g| g["gap_id"].as_str().unwrap().to_owned()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/shortages?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        ids,
        ["g-a0", "g-a1", "g-a2", "g-a3", "g-a4"],
        "the other borrower's gap is not listed"
    );
    let withdrawn = until("withdrawn", || {
        let app = app.clone();
        async move {
            let v = list(&app, "/v1/shortages?status=withdrawn", ENT_A).await;
            (v["shortages"].as_array()?.len() == 1).then_some(v)
        }
    })
    .await;
    assert_eq!(withdrawn["shortages"][0]["gap_id"], "g-a4");
    let v = list(&app, "/v1/shortages?region=620200", ENT_A).await;
    assert_eq!(v["shortages"], json!([]));
    let v = list(&app, "/v1/shortages", ENT_B).await;
    assert_eq!(v["shortages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_listing_queries_are_refused_by_name() {
    let app = app().await;
    for (path, field) in [
        ("/v1/shortages?status=sleeping", "status"),
        ("/v1/shortages?limit=0", "limit"),
        ("/v1/shortages?limit=501", "limit"),
        ("/v1/shortages?limit=ten", "limit"),
        ("/v1/shortages?region=%E5%85%B0%20%E5%B7%9E", "region"),
        ("/v1/shortages?colour=red", "(query)"),
        ("/v1/workers?status=open", "status"),
        ("/v1/proposals?status=maybe", "status"),
        ("/v1/proposals?surprise=1", "(query)"),
    ] {
        let (s, v) = call(
            &app,
            "GET",
            path,
            Some(if path.contains("workers") {
                AGENCY
            } else {
                ENT_A
            }),
            "",
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(v["error"]["field"], field, "{path}: {v}");
        if field == "(query)" {
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("unknown field"),
                "{v}"
            );
        }
    }
    // Roles: an agency has no shortages; an operator lists neither.
    let (s, _) = call(&app, "GET", "/v1/shortages", Some(AGENCY), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&app, "GET", "/v1/workers", Some(OPERATOR), "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(&app, "GET", "/v1/workers", None, "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_agency_lists_its_workers_and_reads_one_and_nobody_else_can() {
    let app = app().await;
    let mut w = worker("w-1");
    w["display_name"] = json!("张三");
    let body = json!({"workers": [w, worker("w-2")]}).to_string();
    let (s, v) = call(&app, "POST", "/v1/workers", Some(AGENCY), &body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(ENT_A),
        &worker("w-e1").to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let v = until("both seen", || {
        let app = app.clone();
        async move {
            let v = list(&app, "/v1/workers?status=available", AGENCY).await;
            (v["workers"].as_array()?.len() == 2).then_some(v)
        }
    })
    .await;
    assert_eq!(v["workers"][0]["worker_id"], "w-1");
    assert_eq!(v["workers"][0]["display_name"], "张三");
    assert_eq!(v["workers"][0]["skills"][0]["skill"], "forklift");
    // An enterprise lists its own employees too.
    let v = list(&app, "/v1/workers", ENT_A).await;
    assert_eq!(v["workers"].as_array().unwrap().len(), 1);
    assert_eq!(v["workers"][0]["worker_id"], "w-e1");
    // One by id; another client's worker is 404, as if it did not exist.
    let v = list(&app, "/v1/workers/w-2", AGENCY).await;
    assert_eq!(v["worker_id"], "w-2");
    for (token, id) in [
        (AGENCY_Y, "w-1"),
        (ENT_A, "w-1"),
        (AGENCY, "w-e1"),
        (AGENCY, "w-none"),
    ] {
        let (s, _) = call(&app, "GET", &format!("/v1/workers/{id}"), Some(token), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{token} {id}");
    }
    // Withdrawn: listed as such.
    let (s, _) = call(&app, "DELETE", "/v1/workers/w-2", Some(AGENCY), "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    until("withdrawn", || {
        let app = app.clone();
        async move {
            let v = list(&app, "/v1/workers?status=withdrawn", AGENCY).await;
            (v["workers"].as_array()?.len() == 1 && v["workers"][0]["worker_id"] == "w-2")
                .then_some(Value::Null)
        }
    })
    .await;
}

#[tokio::test]
async fn skills_and_certificates_may_be_typed_by_name_and_unknown_names_get_suggestions() {
    let app = app().await;
    let mut s: Value = serde_json::from_str(&shortage("g-zh")).unwrap();
    s["requirements"] = json!([{"skill": "叉车", "min_level": 2}]);
    s["certificates"] = json!(["叉车证"]);
    let (st, v) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &s.to_string()).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let g = until("seen", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/shortages/g-zh", Some(ENT_A), "").await;
            (v["status"] != "pending").then_some(v)
        }
    })
    .await;
    assert_eq!(g["requirements"][0]["skill"], "forklift");
    assert_eq!(g["certificates"], json!(["forklift-licence"]));
    // A typo: 422 naming the field, with the nearest names.
    s["gap_id"] = json!("g-typo");
    s["requirements"] = json!([{"skill": "叉车师傅", "min_level": 2}]);
    let (st, v) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &s.to_string()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "requirements[0].skill");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains("叉车司机") && m.contains("forklift"), "{m}");
    // In a batch of workers the field carries the item's index.
    let mut w = worker("w-zh");
    w["skills"] = json!([{"skill": "焊功", "level": 2}]);
    let body = json!({"workers": [worker("w-ok"), w]}).to_string();
    let (st, v) = call(&app, "POST", "/v1/workers", Some(AGENCY), &body).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "workers[1].skills[0].skill");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("焊工"),
        "{v}"
    );
    // Nothing of the refused batch was applied.
    let (_, v) = call(&app, "GET", "/v1/workers/w-ok", Some(AGENCY), "").await;
    assert_eq!(v["error"]["status"], 404, "{v}");
}

#[tokio::test]
async fn proposals_filter_by_gap_and_status() {
    let app = app().await;
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(AGENCY),
        &worker("w-p").to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    for gap in ["g-p1", "g-p2"] {
        let (s, _) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &shortage(gap)).await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
    until("a proposal", || {
        let app = app.clone();
        async move {
            let v = list(&app, "/v1/proposals?status=proposed", ENT_A).await;
            (!v["proposals"].as_array()?.is_empty()).then_some(Value::Null)
        }
    })
    .await;
    let all = list(&app, "/v1/proposals", ENT_A).await;
    let gap = all["proposals"][0]["gap_id"].as_str().unwrap().to_owned();
    let v = list(&app, &format!("/v1/proposals?gap_id={gap}"), ENT_A).await;
    assert!(v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["gap_id"] == gap.as_str()));
    let v = list(&app, "/v1/proposals?status=started", ENT_A).await;
    assert_eq!(v["proposals"], json!([]));
    let v = list(&app, "/v1/proposals?worker_id=w-p&limit=1", AGENCY).await;
    assert_eq!(v["proposals"].as_array().unwrap().len(), 1);
}

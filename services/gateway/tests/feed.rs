//! A tenant's own live feed: an enterprise hears of the proposals for its
//! gaps and an agency of its workers' — as server-sent events, with real
//! ids — and another tenant hears nothing of them.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use futures::StreamExt;
use serde_json::Value;
use tower::ServiceExt;

/// Opens `token`'s feed; returns a stream of its `data:` lines.
async fn feed(app: &axum::Router, token: &str) -> impl futures::Stream<Item = String> {
    let r = Request::builder()
        .uri("/v1/feed")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(r).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body()
        .into_data_stream()
        .map(|c| String::from_utf8_lossy(&c.unwrap()).into_owned())
        .flat_map(|chunk| {
            futures::stream::iter(
                chunk
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: ").map(str::to_owned))
                    .collect::<Vec<_>>(),
            )
        })
}

async fn next_of(s: &mut (impl futures::Stream<Item = String> + Unpin), kind: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let line = s.next().await.expect("the feed goes on");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} in the feed"))
}

#[tokio::test]
async fn each_tenant_hears_its_own_events_and_no_one_elses() {
    let app = app_live().await;
    let mut borrower = Box::pin(feed(&app, ENT_A).await);
    let mut agency = Box::pin(feed(&app, AGENCY).await);
    let mut stranger = Box::pin(feed(&app, ENT_B).await);
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(AGENCY),
        &worker("w-feed").to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = call(
        &app,
        "POST",
        "/v1/shortages",
        Some(ENT_A),
        &shortage("g-feed"),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let b = next_of(&mut borrower, "match_proposed").await;
    assert_eq!(
        (b["gap_id"].as_str(), b["worker_id"].as_str()),
        (Some("g-feed"), Some("w-feed"))
    );
    let a = next_of(&mut agency, "match_proposed").await;
    assert_eq!(a["match_id"], b["match_id"]);
    // A decision reaches both parties.
    let m = b["match_id"].as_str().unwrap();
    let (s, _) = call(
        &app,
        "POST",
        &format!("/v1/proposals/{m}/accept"),
        Some(ENT_A),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let d = next_of(&mut agency, "match_accepted").await;
    assert_eq!(d["match_id"], m);
    // The stranger heard nothing.
    let heard = tokio::time::timeout(Duration::from_millis(500), stranger.next()).await;
    assert!(heard.is_err(), "another tenant heard {heard:?}");
    // A tenant may not use the dashboard's token-in-the-URL.
    let (s, v) = call(
        &app,
        "GET",
        &format!("/v1/feed?access_token={ENT_B}"),
        Some(ENT_B),
        "",
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("access_token"))
    );
}

//! What the gateway's router tests share: tokens of every role, the
//! gateway in-process with a matcher on the embedded bus and store, calls,
//! fixtures dated from today, and waiting for the read models.
#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use lendwork_engine::EngineConfig;
use lendwork_gateway::{router, Gateway, GatewayOptions, Role, Tokens};
use lendwork_matcher::{Health, Matcher, MatcherOptions};
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::{EventBus, StateStore};
use serde_json::{json, Value};
use tower::ServiceExt;

pub const ENT_A: &str = "token-enterprise-a-0001";
pub const ENT_B: &str = "token-enterprise-b-0002";
pub const AGENCY: &str = "token-agency-x-000003";
pub const OPERATOR: &str = "token-operator-000004";
pub const AGENCY_Y: &str = "token-agency-y-000005";

pub fn tokens() -> Tokens {
    let mut t = Tokens::default();
    t.insert(ENT_A, Role::Enterprise, "ent-a");
    t.insert(ENT_B, Role::Enterprise, "ent-b");
    t.insert(AGENCY, Role::Agency, "agency-x");
    t.insert(OPERATOR, Role::Operator, "operator");
    t.insert(AGENCY_Y, Role::Agency, "agency-y");
    t
}

pub fn gw_options() -> GatewayOptions {
    GatewayOptions {
        market_topic: "lendwork.market.v1".into(),
        matches_topic: "lendwork.matches.v1".into(),
        partitions: 4,
        prefix: "lw".into(),
        rate_per_sec: 10_000.0,
        burst: 10_000.0,
        pseudonym_key: None,
        pay: Default::default(),
    }
}

pub async fn app_with(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    matcher: bool,
) -> axum::Router {
    app_with_feed(bus, store, matcher, false).await
}

/// The gateway with a matcher and its background tasks (the live feed's
/// reader among them).
pub async fn app_live() -> axum::Router {
    app_with_feed(
        Arc::new(MemoryBus::new()),
        Arc::new(MemoryStore::new()),
        true,
        true,
    )
    .await
}

/// The gateway's router with a matcher, and the gateway itself (for what
/// the background tasks do, called at chosen times).
pub async fn app_and_gateway() -> (axum::Router, Arc<Gateway>) {
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    bus.ensure_topic("lendwork.market.v1", 4).await.unwrap();
    bus.ensure_topic("lendwork.matches.v1", 4).await.unwrap();
    let g = Gateway::new(bus.clone(), store.clone(), gw_options(), tokens());
    let _ = app_with_feed(bus, store, true, false).await;
    (router(g.clone()), g)
}

pub async fn app_with_feed(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    matcher: bool,
    live: bool,
) -> axum::Router {
    bus.ensure_topic("lendwork.market.v1", 4).await.unwrap();
    bus.ensure_topic("lendwork.matches.v1", 4).await.unwrap();
    let g = Gateway::new(bus.clone(), store.clone(), gw_options(), tokens());
    if live {
        g.spawn_background();
    }
    if matcher {
        let health = Arc::new(Health::default());
        let mut m = Matcher::new(
            bus,
            store,
            MatcherOptions {
                market_topic: "lendwork.market.v1".into(),
                matches_topic: "lendwork.matches.v1".into(),
                partitions: 4,
                group: "matchers".into(),
                prefix: "lw".into(),
                engine: EngineConfig::default(),
                max_batch: 100,
                linger: std::time::Duration::from_millis(5),
                snapshot_every: 0,
            },
            health,
        );
        tokio::spawn(async move { m.run(std::future::pending()).await.unwrap() });
    }
    router(g)
}

pub async fn app() -> axum::Router {
    app_with(
        Arc::new(MemoryBus::new()),
        Arc::new(MemoryStore::new()),
        true,
    )
    .await
}

pub async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    call_h(app, method, path, token, body, &[]).await.0
}

pub async fn call_h(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> ((StatusCode, Value), axum::http::HeaderMap) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    ((status, v), headers)
}

/// The market day `n` days from today (the gateway stamps events with
/// the wall clock, and the state machine's time rules read them).
pub fn day(n: i64) -> String {
    lendwork_gateway::now_timestamp()
        .market_date()
        .plus_days(n)
        .to_string()
}

/// A shortage whose window ran from ten days ago to today: it may start
/// now and be completed now.
pub fn shortage(gap: &str) -> String {
    json!({"gap_id": gap, "region": "620100", "site": {"lat": 36.06, "lon": 103.83},
        "requirements": [{"skill": "forklift", "min_level": 2}], "certificates": [], "headcount": 1,
        "window": {"start": day(-10), "end": day(0)}, "hourly_wage_fen": 3000, "industry": "logistics"})
    .to_string()
}

pub fn worker(id: &str) -> Value {
    json!({"worker_id": id, "region": "620100", "home": {"lat": 36.07, "lon": 103.84},
        "skills": [{"skill": "forklift", "level": 3}], "certificates": [],
        "available": {"start": day(-60), "end": day(365)}, "max_commute_km": 30.0,
        "min_hourly_wage_fen": 2000, "consent": true, "priority_group": "graduate"})
}

pub async fn until<F, Fut>(what: &str, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

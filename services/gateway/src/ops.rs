//! Health, readiness and metrics: `/healthz`, `/readyz`, `/metrics`, and
//! the middleware that counts responses. The matcher's own health server
//! ([`health_router`]) serves the same endpoints from a [`Probe`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use lendwork_ports::health::{prometheus, Probe};
use serde_json::json;

use crate::error::ApiError;
use crate::Gateway;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct GatewayMetrics {
    pub(crate) by_class: [AtomicU64; 6],
    pub(crate) events_accepted: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
}

pub(crate) async fn readyz(State(g): State<Arc<Gateway>>) -> Response {
    let kafka = g.bus_ok.load(Ordering::Relaxed);
    let redis = g.store_ok.load(Ordering::Relaxed);
    let matcher = g.matcher.as_ref().map_or(true, |h| h.ready());
    let ready = kafka && redis && matcher;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({"ready": ready, "kafka": kafka, "redis": redis, "matcher": matcher})),
    )
        .into_response()
}

pub(crate) async fn metrics(State(g): State<Arc<Gateway>>) -> Response {
    let m = &g.metrics;
    let mut out = String::new();
    out.push_str("# HELP lendwork_gateway_requests_total HTTP requests by status class\n# TYPE lendwork_gateway_requests_total counter\n");
    for (i, class) in ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
        .iter()
        .enumerate()
    {
        out.push_str(&format!(
            "lendwork_gateway_requests_total{{class=\"{class}\"}} {}\n",
            m.by_class[i].load(Ordering::Relaxed)
        ));
    }
    for (name, help, v) in [
        (
            "lendwork_gateway_events_accepted_total",
            "events appended to the market topic",
            &m.events_accepted,
        ),
        (
            "lendwork_gateway_unavailable_total",
            "writes answered 503 (bus down)",
            &m.unavailable,
        ),
        (
            "lendwork_gateway_rate_limited_total",
            "requests answered 429",
            &m.rate_limited,
        ),
    ] {
        prometheus(&mut out, "counter", name, help, v.load(Ordering::Relaxed));
    }
    if let Some(h) = &g.matcher {
        out.push_str(&h.metrics());
    }
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}

/// Counts responses by class and logs the route template, never the path.
pub(crate) async fn observe(
    State(g): State<Arc<Gateway>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = req.method().clone();
    // Kept as the matched template (a cheap clone), formatted only for a
    // log line.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    // One span per request: the method and the route template, never the
    // path (it holds ids) nor the principal.
    let span = tracing::debug_span!(
        "request",
        %method,
        route = route.as_ref().map_or("(unmatched)", |m| m.as_str())
    );
    let mut r = tracing::Instrument::instrument(next.run(req), span).await;
    let status = r.status().as_u16();
    // Rejections from the framework itself (a bad path encoding, a body over
    // the limit, a method not allowed: plain text or nothing) get the same
    // JSON error shape; the portal's pages (HTML) stay pages.
    let plain = r
        .headers()
        .get("content-type")
        .map_or(true, |v| v.as_bytes().starts_with(b"text/plain"));
    if (400..500).contains(&status) && plain {
        let allow = r.headers().get("allow").cloned();
        let text = axum::body::to_bytes(std::mem::take(r.body_mut()), 64 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let message = if text.trim().is_empty() {
            r.status()
                .canonical_reason()
                .unwrap_or("error")
                .to_lowercase()
        } else {
            text.trim().to_owned()
        };
        let code = r.status();
        r = ApiError::new(code, None, message).into_response();
        if let Some(a) = allow {
            r.headers_mut().insert("allow", a);
        }
    }
    let class = match status / 100 {
        1..=5 => (status / 100 - 1) as usize,
        _ => 5,
    };
    g.metrics.by_class[class].fetch_add(1, Ordering::Relaxed);
    if status >= 500 {
        let route = route.as_ref().map_or("(unmatched)", |m| m.as_str());
        tracing::error!(%method, route, status, "server error");
    }
    r
}

/// `/healthz`, `/readyz` and `/metrics` of a component that serves no API
/// (`lendwork matcher`).
pub fn health_router(probe: Arc<dyn Probe>) -> axum::Router {
    let (p1, p2) = (probe.clone(), probe);
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let p = p1.clone();
                async move {
                    let mut body = serde_json::Map::new();
                    body.insert("ready".into(), json!(p.ready()));
                    for (name, ok) in p.checks() {
                        body.insert(name.into(), json!(ok));
                    }
                    let code = if p.ready() {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (code, Json(body)).into_response()
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let p = p2.clone();
                async move { ([("content-type", "text/plain; version=0.0.4")], p.metrics()) }
            }),
        )
}

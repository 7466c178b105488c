//! The baseline of `benches/gateway_load.sh`: a trivial axum handler (the
//! same axum, tokio and build profile as the gateway) answering a small
//! JSON body, so the gateway's rate can be read as a fraction of what the
//! framework itself does on this machine in the same run.
//!
//! ```text
//! cargo run --release -p lendwork --example trivial_server -- 127.0.0.1:8181
//! ```

use axum::routing::{get, post};
use axum::Json;
use serde_json::json;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8181".into());
    let app = axum::Router::new()
        .route("/get", get(|| async { Json(json!({"ok": true})) }))
        .route(
            "/post",
            post(|body: axum::body::Bytes| async move {
                (
                    axum::http::StatusCode::ACCEPTED,
                    Json(json!({"len": body.len()})),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}

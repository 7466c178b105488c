//! # lendwork-gateway
//!
//! The HTTP gateway: the versioned JSON API every user meets, the
//! operator's dashboard, and the health endpoints.
//!
//! Writes become events of DESIGN §2 on the market topic (202 with the
//! event id once the log has them; 503 with `Retry-After` when the bus or
//! the store is down, and nothing is half-applied: the event is either in
//! the log or the client is told to retry). Reads are served from the read
//! models the matchers write (`lendwork_state::views`).
//!
//! Security:
//! * bearer tokens map to a role (`enterprise`, `agency`, `operator`) and a
//!   principal ([`Tokens`]); tokens are kept only as SHA-256 digests;
//! * tenant isolation: an enterprise sees its own gaps and the proposals for
//!   them, a lender or agency the proposals of its own workers, an operator
//!   aggregates and audit trails with pseudonymous worker ids; anything else
//!   answers 404, as if it did not exist;
//! * request bodies are limited (64 KiB; 8 MiB for batches of workers), each
//!   token has a token-bucket rate limit (429 with `Retry-After`);
//! * logs carry the route template, status and a digest of the principal,
//!   never ids or bodies.
//!
//! Errors are JSON `{"error": {"status", "field", "message"}}`: 400 for a
//! body that is not JSON, 422 for one that breaks the event contract (the
//! field and the rule, from the domain crate), 401/403/404/405/409/413/429
//! as usual. Nothing a client sends yields a 5xx; 503 means "retry".
//!
//! Idempotency: a write with an `Idempotency-Key` header gets the event id
//! `evt-g-` + a digest of (principal, key), so a retried request appends an
//! event with the same id, which the engine applies once.
//!
//! The rooms: [`auth`] (tokens, roles, rate limits), [`error`] (the error
//! answer), [`compose`] (client bodies into events), [`routes`] (one file
//! per kind of user), [`ops`] (health, readiness, metrics — also the
//! matcher's health server), [`openapi`] (the API's document).
//!
//! ```
//! use lendwork_gateway::{router, Gateway, GatewayOptions, Tokens};
//! use lendwork_ports::memory::{MemoryBus, MemoryStore};
//! use std::sync::Arc;
//!
//! let g = Gateway::new(
//!     Arc::new(MemoryBus::new()),
//!     Arc::new(MemoryStore::new()),
//!     GatewayOptions::default(),
//!     Tokens::default(),
//! );
//! let app: axum::Router = router(g);
//! # let _ = app;
//! ```

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::Json;
use lendwork_domain::{Event, EventKind, Party};
use lendwork_ports::health::Probe;
use lendwork_ports::{BusError, EventBus, StateStore};
use lendwork_state::keys::Keys;
use lendwork_state::routes::{RouteError, Router};
use lendwork_state::views::MatchView;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

pub mod auth;
pub mod compose;
pub mod error;
pub mod listener;
pub mod openapi;
pub mod ops;
pub mod portal;
pub mod roster;
pub mod routes;

pub use auth::{Principal, Role, Tokens};
pub use compose::now_timestamp;
pub use error::ApiError;
pub use listener::ServeLimits;
pub use ops::GatewayMetrics;

use auth::Bucket;
use compose::hex;
use error::{accepted_one, ApiResult};

/// Gateway settings.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// Market topic (writes go here).
    pub market_topic: String,
    /// Matches topic (the live feed reads it).
    pub matches_topic: String,
    /// Partitions of topics created at start-up.
    pub partitions: u32,
    /// Store key prefix.
    pub prefix: String,
    /// Requests per second per token (sustained).
    pub rate_per_sec: f64,
    /// Burst per token.
    pub burst: f64,
    /// The key of operators' pseudonymous worker ids (HMAC-SHA256). `None`:
    /// a random secret kept in the store, made by the first gateway that
    /// needs it and shared by every gateway of the store (on the embedded
    /// default it lives in the data directory). Never a public value: a
    /// pseudonym must not be recomputable from a guessed worker id.
    pub pseudonym_key: Option<String>,
    /// Timesheet rules and pay periods (the engine's, so that the gateway
    /// refuses what the engine would).
    pub pay: lendwork_engine::sheet::PayConfig,
}

impl GatewayOptions {
    /// The defaults under store prefix `prefix`: the default topics, 200
    /// requests per second per token with bursts of 400.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            market_topic: "lendwork.market.v1".into(),
            matches_topic: "lendwork.matches.v1".into(),
            partitions: 4,
            prefix: prefix.into(),
            rate_per_sec: 200.0,
            burst: 400.0,
            pseudonym_key: None,
            pay: Default::default(),
        }
    }
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self::with_prefix("lendwork")
    }
}

/// Shared state of the gateway's handlers.
pub struct Gateway {
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) opts: GatewayOptions,
    pub(crate) keys: Keys,
    pub(crate) tokens: Tokens,
    pub(crate) router: Router,
    pub(crate) buckets: Mutex<HashMap<[u8; 32], Bucket>>,
    /// The matchers' health, when they run in this process.
    pub matcher: Option<Arc<dyn Probe>>,
    pub(crate) bus_ok: std::sync::atomic::AtomicBool,
    pub(crate) store_ok: std::sync::atomic::AtomicBool,
    pub(crate) metrics: GatewayMetrics,
    pub(crate) feed: broadcast::Sender<String>,
    /// The tenants' live feed: each line with the principals it concerns
    /// (filled only while a tenant listens: finding the parties costs a
    /// store read per event).
    pub(crate) tenant_feed: broadcast::Sender<Arc<(Vec<String>, String)>>,
    /// The last statistics answer and when it was made: aggregates change
    /// once per matcher batch, so a wall of dashboards polling them costs
    /// one store scan per half second, not one per request.
    pub(crate) stats_cache: Mutex<Option<(Instant, Bytes)>>,
    /// The pseudonym key, read (or made) once.
    pub(crate) pseudonym_key: tokio::sync::OnceCell<[u8; 32]>,
    /// The public board's material and when it was built
    /// ([`portal::board`]).
    pub(crate) board_cache: Mutex<Option<(Instant, Arc<portal::board::Built>)>>,
}

/// How long a statistics answer is reused.
pub(crate) const STATS_TTL: Duration = Duration::from_millis(500);

impl Gateway {
    /// A gateway over `bus` and `store`. Starts the live feed's reader.
    pub fn new(
        bus: Arc<dyn EventBus>,
        store: Arc<dyn StateStore>,
        opts: GatewayOptions,
        tokens: Tokens,
    ) -> Arc<Self> {
        let (feed, _) = broadcast::channel(1024);
        let (tenant_feed, _) = broadcast::channel(1024);
        Arc::new(Self {
            keys: Keys::new(opts.prefix.clone()),
            router: Router::new(opts.prefix.clone()),
            bus,
            store,
            opts,
            tokens,
            buckets: Mutex::new(HashMap::new()),
            matcher: None,
            bus_ok: true.into(),
            store_ok: true.into(),
            metrics: GatewayMetrics::default(),
            feed,
            tenant_feed,
            stats_cache: Mutex::new(None),
            pseudonym_key: tokio::sync::OnceCell::new(),
            board_cache: Mutex::new(None),
        })
    }

    /// Same, with the in-process matchers' health joined into readiness.
    pub fn with_matcher(self: Arc<Self>, h: Arc<dyn Probe>) -> Arc<Self> {
        let mut g = Arc::try_unwrap(self).unwrap_or_else(|_| panic!("not shared yet"));
        g.matcher = Some(h);
        Arc::new(g)
    }

    /// Reads the matches topic into the live feed, and probes both servers
    /// every second for readiness. Runs until the process ends.
    pub fn spawn_background(self: &Arc<Self>) {
        let g = self.clone();
        tokio::spawn(async move {
            let group = format!(
                "lendwork-gateway-feed-{}-{}",
                std::process::id(),
                rand::random::<u32>()
            );
            let started = compose::now_timestamp();
            loop {
                let _ = g
                    .bus
                    .ensure_topic(&g.opts.matches_topic, g.opts.partitions)
                    .await;
                let Ok(mut sub) = g.bus.subscribe(&g.opts.matches_topic, &group).await else {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                };
                while let Ok(r) = sub.next().await {
                    if let Ok(text) = std::str::from_utf8(&r.payload) {
                        // A fresh group reads the topic from its start: on a
                        // durable log that is the whole history, which a
                        // live feed does not replay.
                        let live = |e: &Event| e.at.unix_seconds() >= started.unix_seconds() - 60;
                        if let Some(e) = Event::from_json(text).ok().filter(live) {
                            if g.feed.receiver_count() > 0 {
                                let _ = g.feed.send(g.feed_line(&e).await.to_string());
                            }
                            if g.tenant_feed.receiver_count() > 0 {
                                if let Some(item) = g.tenant_line(&e).await {
                                    let _ = g.tenant_feed.send(Arc::new(item));
                                }
                            }
                        }
                    }
                }
            }
        });
        let g = self.clone();
        tokio::spawn(async move {
            // The statistics' history, sampled at the turn of each minute.
            loop {
                let now = compose::now_timestamp().unix_seconds();
                tokio::time::sleep(Duration::from_secs((60 - now.rem_euclid(60)) as u64)).await;
                let _ = g.record_history(compose::now_timestamp()).await;
            }
        });
        let g = self.clone();
        tokio::spawn(async move {
            loop {
                let s = tokio::time::timeout(Duration::from_secs(2), g.store.get(&g.keys.probe()))
                    .await;
                g.store_ok.store(matches!(s, Ok(Ok(_))), Ordering::Relaxed);
                let b = tokio::time::timeout(
                    Duration::from_secs(3),
                    g.bus.ensure_topic(&g.opts.market_topic, g.opts.partitions),
                )
                .await;
                g.bus_ok.store(matches!(b, Ok(Ok(()))), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// The key of operators' pseudonyms: the configured one, or the
    /// store's shared secret (made on first use).
    pub(crate) async fn pseudonym_key(&self) -> Result<[u8; 32], ApiError> {
        let key = self
            .pseudonym_key
            .get_or_try_init(|| async {
                if let Some(k) = &self.opts.pseudonym_key {
                    return Ok(Sha256::digest(k.as_bytes()).into());
                }
                let at = self.keys.pseudonym_secret();
                let fresh: [u8; 32] = rand::random();
                self.store.set_if_absent(&at, &fresh).await?;
                let kept = self.store.get(&at).await?.unwrap_or_default();
                <[u8; 32]>::try_from(&kept[..]).map_err(|_| {
                    ApiError::from(lendwork_ports::StoreError::Invalid(format!(
                        "{at}: not a 32-byte secret"
                    )))
                })
            })
            .await?;
        Ok(*key)
    }

    /// A worker id as operators see it: `p-` and 16 hex digits of
    /// HMAC-SHA256 under the pseudonym key.
    pub async fn pseudonym(&self, worker: &str) -> Result<String, ApiError> {
        use hmac::Mac;
        let key = self.pseudonym_key().await?;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
        mac.update(worker.as_bytes());
        Ok(format!("p-{}", &hex(&mac.finalize().into_bytes())[..16]))
    }

    pub(crate) async fn feed_line(&self, e: &Event) -> Value {
        let mut v =
            json!({"type": e.kind.type_name(), "id": e.id.as_str(), "at": e.at.to_string()});
        if let EventKind::MatchProposed(p) = &e.kind {
            v["match_id"] = json!(p.match_id.as_str());
            v["gap_id"] = json!(p.gap_id.as_str());
            // An unreadable key (store down) leaves the worker out.
            if let Ok(w) = self.pseudonym(p.worker_id.as_str()).await {
                v["worker"] = json!(w);
            }
            v["region"] = json!(p.region.as_str());
            v["cost"] = json!(p.cost);
            v["terms"] = json!(p.explanation.terms);
        }
        match &e.kind {
            EventKind::MatchAccepted(d) | EventKind::MatchDeclined(d) => {
                v["match_id"] = json!(d.match_id.as_str())
            }
            EventKind::MatchExpired(x) | EventKind::AssignmentStarted(x) => {
                v["match_id"] = json!(x.match_id.as_str())
            }
            EventKind::AssignmentEnded(x) => v["match_id"] = json!(x.match_id.as_str()),
            _ => {}
        }
        v
    }

    /// A matches-topic event as its parties see it (real worker id, no
    /// pseudonym), with the principals it concerns: the borrower, and the
    /// lender or agency that offered the worker. `None` for an event about
    /// no proposal, or one whose parties the store does not know yet.
    pub(crate) async fn tenant_line(&self, e: &Event) -> Option<(Vec<String>, String)> {
        let mut v =
            json!({"type": e.kind.type_name(), "id": e.id.as_str(), "at": e.at.to_string()});
        let parties = match &e.kind {
            EventKind::MatchProposed(p) => {
                v["match_id"] = json!(p.match_id.as_str());
                v["gap_id"] = json!(p.gap_id.as_str());
                v["worker_id"] = json!(p.worker_id.as_str());
                v["region"] = json!(p.region.as_str());
                v["terms"] = json!(p.explanation.terms);
                let gap = self.owner("gap", p.gap_id.as_str()).await.ok().flatten();
                let worker = self
                    .owner("worker", p.worker_id.as_str())
                    .await
                    .ok()
                    .flatten();
                gap.into_iter().chain(worker).collect::<Vec<_>>()
            }
            other => {
                let m = match other {
                    EventKind::MatchAccepted(d) | EventKind::MatchDeclined(d) => {
                        d.match_id.as_str()
                    }
                    EventKind::MatchExpired(x) | EventKind::AssignmentStarted(x) => {
                        x.match_id.as_str()
                    }
                    EventKind::AssignmentEnded(x) => x.match_id.as_str(),
                    _ => return None,
                };
                v["match_id"] = json!(m);
                let view = self.view(m).await.ok().flatten()?;
                v["gap_id"] = json!(view.proposed.gap_id.as_str());
                v["worker_id"] = json!(view.proposed.worker_id.as_str());
                v["status"] = json!(view.status);
                let worker = self
                    .owner("worker", view.proposed.worker_id.as_str())
                    .await
                    .ok()
                    .flatten();
                [
                    Some(view.enterprise_id.to_string()),
                    view.lender_id.map(|l| l.to_string()),
                    worker,
                ]
                .into_iter()
                .flatten()
                .collect()
            }
        };
        (!parties.is_empty()).then(|| (parties, v.to_string()))
    }

    /// Binds the request's `Idempotency-Key` (if it has one) to the
    /// request: `what` names the route and its target, `body` is the body.
    /// The first use records a digest of both; a later use with the same
    /// digest is a retry (it appends the same event ids, which the engine
    /// applies once); a later use with another request is refused, 422
    /// naming the header, as the IETF `Idempotency-Key` draft asks. Called
    /// once the request passed validation, so a refused request binds
    /// nothing.
    pub(crate) async fn bind_key(
        &self,
        p: &Principal,
        headers: &HeaderMap,
        what: &str,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let Some(k) = headers.get("idempotency-key") else {
            return Ok(());
        };
        let k = k.as_bytes();
        let owner = Sha256::new()
            .chain_update(p.id.as_bytes())
            .chain_update([0, p.role as u8, 0])
            .chain_update(k)
            .finalize();
        let request = Sha256::new()
            .chain_update(what.as_bytes())
            .chain_update([0])
            .chain_update(body)
            .finalize();
        let key = self.keys.idempotency(&hex(&owner));
        if self.store.set_if_absent(&key, &request).await? {
            return Ok(());
        }
        match self.store.get(&key).await? {
            Some(first) if first[..] == request[..] => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("idempotency-key"),
                "was first used with another request; a key names one request (use a new key)",
            )),
        }
    }

    pub(crate) fn event_id(
        &self,
        p: &Principal,
        headers: &HeaderMap,
        n: usize,
    ) -> Result<String, ApiError> {
        match headers.get("idempotency-key") {
            Some(k) => {
                let k = k
                    .to_str()
                    .ok()
                    .filter(|k| !k.is_empty() && k.len() <= 200)
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_REQUEST,
                            Some("idempotency-key"),
                            "must be 1–200 visible ASCII characters",
                        )
                    })?;
                let d = Sha256::digest(format!("{}\u{0}{}\u{0}{k}\u{0}{n}", p.id, p.role as u8));
                Ok(format!("evt-g-{}", &hex(&d)[..24]))
            }
            None => {
                // 96 random bits, as `evt-g-` and 24 hex digits.
                let bits: [u8; 12] = rand::random();
                Ok(["evt-g-", &hex(&bits)].concat())
            }
        }
    }

    /// Routes and appends events; all are checked before any is published.
    /// The events go to the bus beside their bytes: on the embedded default
    /// the matcher then reads them without parsing them again.
    pub(crate) async fn append(&self, events: Vec<Event>) -> Result<(), ApiError> {
        let mut records = Vec::with_capacity(events.len());
        {
            for e in &events {
                let r =
                    self.router
                        .region(self.store.as_ref(), e)
                        .await
                        .map_err(|err| match err {
                            RouteError::Store(s) => ApiError::from(s),
                            RouteError::Unknown { .. } => ApiError::not_found(),
                        })?;
                records.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
            }
        }
        let n = events.len() as u64;
        let decoded = events
            .into_iter()
            .map(|e| Arc::new(e) as lendwork_ports::Decoded)
            .collect();
        match self
            .bus
            .publish_all_decoded(&self.opts.market_topic, &records, decoded)
            .await
        {
            Ok(_) => {
                self.metrics.events_accepted.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(BusError::Unavailable(_)) => {
                self.metrics.unavailable.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::unavailable("the event log"))
            }
            Err(BusError::Invalid(m)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                format!("the event log refused it: {m}"),
            )),
        }
    }

    /// Appends one event and answers 202 with its id.
    pub(crate) async fn append_one(&self, e: Event) -> ApiResult {
        let answer = accepted_one(&e.id);
        self.append(vec![e]).await?;
        Ok(answer)
    }

    pub(crate) async fn owner(&self, kind: &str, id: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .store
            .get(&self.keys.owner(kind, id))
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Claims `id` for `p`; true when it is new, false when `p` already
    /// owns it (a re-post or re-offer), 409 when someone else does.
    pub(crate) async fn claim(
        &self,
        kind: &str,
        id: &str,
        p: &Principal,
    ) -> Result<bool, ApiError> {
        let key = self.keys.owner(kind, id);
        if !self.store.set_if_absent(&key, p.id.as_bytes()).await? {
            let cur = self.store.get(&key).await?;
            if cur.as_deref() != Some(p.id.as_bytes()) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    Some(if kind == "gap" { "gap_id" } else { "worker_id" }),
                    format!("this {kind} id belongs to someone else"),
                ));
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// The region `kind` `id` was last routed to, if any.
    pub(crate) async fn routed_region(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<String>, ApiError> {
        Ok(self
            .store
            .get(&self.keys.route(kind, id))
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub(crate) async fn gap_view(
        &self,
        gap: &str,
    ) -> Result<Option<lendwork_state::views::GapView>, ApiError> {
        Ok(self
            .store
            .get(&self.keys.gap(gap))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    pub(crate) async fn view(&self, m: &str) -> Result<Option<MatchView>, ApiError> {
        Ok(self
            .store
            .get(&self.keys.proposal(m))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// May `p` see (and act on) proposal `v`? As borrower, as lender or as
    /// the agency that offered the worker.
    pub(crate) async fn party(
        &self,
        p: &Principal,
        v: &MatchView,
    ) -> Result<Option<Party>, ApiError> {
        if p.role == Role::Enterprise && v.enterprise_id.as_str() == p.id {
            return Ok(Some(Party::Borrower));
        }
        if v.lender_id.as_ref().is_some_and(|l| l.as_str() == p.id) {
            return Ok(Some(Party::Lender));
        }
        if self
            .owner("worker", v.proposed.worker_id.as_str())
            .await?
            .as_deref()
            == Some(&p.id)
        {
            return Ok(Some(Party::Lender));
        }
        Ok(None)
    }
}

/// The dashboard page (vendored: no external network at run time).
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// The gateway's routes.
pub fn router(g: Arc<Gateway>) -> axum::Router {
    let small = DefaultBodyLimit::max(64 * 1024);
    axum::Router::new()
        .route(
            "/v1/shortages",
            post(routes::shortages::post_shortage)
                .get(routes::listing::list_shortages)
                .layer(small),
        )
        .route(
            "/v1/shortages/{gap_id}",
            get(routes::shortages::get_shortage)
                .delete(routes::shortages::withdraw_shortage)
                .layer(small),
        )
        .route(
            "/v1/workers",
            post(routes::workers::post_workers)
                .get(routes::listing::list_workers)
                .layer(DefaultBodyLimit::max(8 * 1024 * 1024)),
        )
        .route(
            "/v1/workers/import",
            post(routes::workers::import).layer(DefaultBodyLimit::max(8 * 1024 * 1024)),
        )
        .route(
            "/v1/workers/import/template",
            get(routes::workers::template),
        )
        .route(
            "/v1/workers/{worker_id}/{what}",
            get(routes::why_not::worker),
        )
        .route("/v1/shortages/{gap_id}/{what}", get(routes::why_not::gap))
        .route(
            "/v1/workers/{worker_id}",
            get(routes::listing::get_worker)
                .delete(routes::workers::withdraw_worker)
                .layer(small),
        )
        .route("/v1/proposals", get(routes::proposals::list_proposals))
        .route(
            "/v1/proposals/{match_id}",
            get(routes::operator::audit_trail),
        )
        .route(
            "/v1/proposals/{match_id}/{action}",
            post(routes::proposals::act)
                .get(routes::proposals::agreement)
                .layer(small),
        )
        .route(
            "/v1/preferences",
            post(routes::shortages::set_preference).layer(small),
        )
        .route("/v1/w/{token}", get(routes::links::read))
        .route(
            "/v1/w/{token}/{action}",
            post(routes::links::act)
                .get(routes::links::agreement)
                .layer(small),
        )
        .route("/w/{token}", get(routes::links::page))
        .route("/v1/ledger", get(routes::ledger::ledger))
        .route("/v1/stats", get(routes::operator::stats))
        .route("/v1/training-needs", get(routes::why_not::training))
        .route("/v1/stats/history", get(routes::history::history))
        .route("/v1/feed", get(routes::operator::feed))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route(
            "/dashboard",
            get(|| async { Html(DASHBOARD.replace("/*VOCAB*/null", &portal::vocabulary_json())) }),
        )
        .merge(portal::routes())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            g.clone(),
            ops::observe,
        ))
        .with_state(g)
}

/// Serves `router(gateway)` on `listener` under the default
/// [`ServeLimits`] until `shutdown` resolves; see [`listener`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, gateway, ServeLimits::default(), shutdown).await
}

/// [`serve`] with the given [`ServeLimits`].
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener::serve_router(listener, router(gateway), limits, shutdown).await
}

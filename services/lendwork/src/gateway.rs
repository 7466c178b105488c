//! The HTTP gateway: the versioned JSON API every user meets.
//!
//! Writes become events of DESIGN §2 on the market topic (202 with the
//! event id once the log has them; 503 with `Retry-After` when the bus or
//! the store is down, and nothing is half-applied: the event is either in
//! the log or the client is told to retry). Reads are served from the read
//! models the matchers write ([`crate::readmodel`]).
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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use lendwork_domain::{Event, EventId, EventKind, Timestamp};
use lendwork_ports::{BusError, EventBus, StateStore, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::readmodel::{GapView, Keys, MatchView, RegionView, Slice};
use crate::route::{RouteError, Router};

/// Who may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A borrowing (and possibly lending) enterprise.
    Enterprise,
    /// An HR service agency or public employment service.
    Agency,
    /// A labour-market operator (read-only, aggregates).
    Operator,
}

/// The caller behind a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Its role.
    pub role: Role,
    /// Its id (an enterprise id for enterprises).
    pub id: String,
}

/// Bearer tokens by their SHA-256 digest.
#[derive(Clone, Debug, Default)]
pub struct Tokens(HashMap<[u8; 32], Principal>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    token: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    token: String,
    role: Role,
    principal: String,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl Tokens {
    /// Adds a token.
    pub fn insert(&mut self, token: &str, role: Role, principal: &str) {
        self.0.insert(
            digest(token),
            Principal {
                role,
                id: principal.to_owned(),
            },
        );
    }

    /// Reads a keys file:
    ///
    /// ```toml
    /// [[token]]
    /// token = "…at least 16 characters…"
    /// role = "enterprise"
    /// principal = "ent-lanzhou-001"
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let f: KeysFile = toml::from_str(text).map_err(|e| format!("keys file: {e}"))?;
        let mut t = Tokens::default();
        for (i, k) in f.token.iter().enumerate() {
            check_token(&k.token, &k.principal).map_err(|m| format!("token[{i}]: {m}"))?;
            t.insert(&k.token, k.role, &k.principal);
        }
        Ok(t)
    }

    /// Reads `role:principal:token` entries separated by `;` (the
    /// `LENDWORK_GATEWAY_TOKENS` variable).
    pub fn from_env_value(v: &str) -> Result<Self, String> {
        let mut t = Tokens::default();
        for (i, entry) in v.split(';').filter(|e| !e.trim().is_empty()).enumerate() {
            let mut parts = entry.trim().splitn(3, ':');
            let (Some(role), Some(principal), Some(token)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "LENDWORK_GATEWAY_TOKENS entry {i}: must be role:principal:token"
                ));
            };
            let role: Role = serde_json::from_value(Value::String(role.into())).map_err(|_| {
                format!("LENDWORK_GATEWAY_TOKENS entry {i}: role must be enterprise, agency or operator")
            })?;
            check_token(token, principal)
                .map_err(|m| format!("LENDWORK_GATEWAY_TOKENS entry {i}: {m}"))?;
            t.insert(token, role, principal);
        }
        Ok(t)
    }

    /// Merges `other` in.
    pub fn extend(&mut self, other: Tokens) {
        self.0.extend(other.0);
    }

    /// The principal of a token, with the token's digest (the key of its
    /// rate-limit bucket).
    fn get(&self, token: &str) -> Option<([u8; 32], &Principal)> {
        let d = digest(token);
        self.0.get(&d).map(|p| (d, p))
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No tokens at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_token(token: &str, principal: &str) -> Result<(), String> {
    if token.len() < 16 {
        return Err("token must be at least 16 characters".into());
    }
    if lendwork_domain::EnterpriseId::new(principal).is_err() {
        return Err("principal must be 1–64 characters of A-Za-z0-9._:-".into());
    }
    Ok(())
}

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
    /// Salt of operators' pseudonymous worker ids.
    pub pseudonym_salt: String,
}

impl GatewayOptions {
    /// The options a configuration gives.
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            market_topic: c.topics.market.clone(),
            matches_topic: c.topics.matches.clone(),
            partitions: c.topics.partitions,
            prefix: c.redis.prefix.clone(),
            rate_per_sec: 200.0,
            burst: 400.0,
            pseudonym_salt: c.redis.prefix.clone(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct GatewayMetrics {
    by_class: [AtomicU64; 6],
    events_accepted: AtomicU64,
    unavailable: AtomicU64,
    rate_limited: AtomicU64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Shared state of the gateway's handlers.
pub struct Gateway {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    opts: GatewayOptions,
    keys: Keys,
    tokens: Tokens,
    router: Router,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
    /// The matchers' health, when they run in this process.
    pub matcher: Option<Arc<crate::matcher::Health>>,
    bus_ok: std::sync::atomic::AtomicBool,
    store_ok: std::sync::atomic::AtomicBool,
    metrics: GatewayMetrics,
    feed: broadcast::Sender<String>,
    /// The last statistics answer and when it was made: aggregates change
    /// once per matcher batch, so a wall of dashboards polling them costs
    /// one store scan per half second, not one per request.
    stats_cache: Mutex<Option<(Instant, Bytes)>>,
}

/// How long a statistics answer is reused.
const STATS_TTL: Duration = Duration::from_millis(500);

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    field: Option<String>,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            status,
            field: field.map(str::to_owned),
            message: message.into(),
            retry_after: None,
        }
    }
    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "not found")
    }
    fn unavailable(what: &str) -> Self {
        Self {
            retry_after: Some(5),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                format!("{what} is unavailable; nothing was applied, retry later"),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "status": self.status.as_u16(),
            "field": self.field,
            "message": self.message,
        }});
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert("retry-after", HeaderValue::from(s));
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::unavailable("the state store"),
            StoreError::Invalid(m) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                format!("refused: {m}"),
            ),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

fn accepted(ids: Vec<String>) -> Response {
    let body = if ids.len() == 1 {
        json!({"event_id": ids[0]})
    } else {
        json!({"event_ids": ids})
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// [`accepted`] for one event, written without building a JSON value.
fn accepted_one(id: &EventId) -> Response {
    let body = serde_json::to_vec(&AcceptedOne {
        event_id: id.as_str(),
    })
    .expect("serializable");
    (
        StatusCode::ACCEPTED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(Serialize)]
struct AcceptedOne<'a> {
    event_id: &'a str,
}

/// The wall clock as a [`Timestamp`] (services only; the engine never reads it).
pub fn now_timestamp() -> Timestamp {
    now()
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Timestamp::from_unix_seconds(secs).expect("the clock is after 1970")
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// The store key of the owner of a worker or gap id.
fn owner_key(prefix: &str, kind: &str, id: &str) -> String {
    [prefix, ":owner:", kind, ":", id].concat()
}

impl Gateway {
    /// A gateway over `bus` and `store`. Starts the live feed's reader.
    pub fn new(
        bus: Arc<dyn EventBus>,
        store: Arc<dyn StateStore>,
        opts: GatewayOptions,
        tokens: Tokens,
    ) -> Arc<Self> {
        let (feed, _) = broadcast::channel(1024);
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
            stats_cache: Mutex::new(None),
        })
    }

    /// Same, with the in-process matchers' health joined into readiness.
    pub fn with_matcher(self: Arc<Self>, h: Arc<crate::matcher::Health>) -> Arc<Self> {
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
                        if let Ok(e) = Event::from_json(text) {
                            let _ = g.feed.send(g.feed_line(&e).to_string());
                        }
                    }
                }
            }
        });
        let g = self.clone();
        tokio::spawn(async move {
            loop {
                let s = tokio::time::timeout(
                    Duration::from_secs(2),
                    g.store.get(&format!("{}:probe", g.opts.prefix)),
                )
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

    /// A worker id as operators see it: a salted digest.
    pub fn pseudonym(&self, worker: &str) -> String {
        let d = Sha256::digest(format!("{}\u{0}{worker}", self.opts.pseudonym_salt));
        format!("p-{}", &hex(&d)[..16])
    }

    fn feed_line(&self, e: &Event) -> Value {
        let mut v =
            json!({"type": e.kind.type_name(), "id": e.id.as_str(), "at": e.at.to_string()});
        if let EventKind::MatchProposed(p) = &e.kind {
            v["match_id"] = json!(p.match_id.as_str());
            v["gap_id"] = json!(p.gap_id.as_str());
            v["worker"] = json!(self.pseudonym(p.worker_id.as_str()));
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

    fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let token = headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::to_owned)
            .or_else(|| query.map(str::to_owned));
        let Some(token) = token else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some("authorization"),
                "a bearer token is required",
            ));
        };
        let Some((key, p)) = self.tokens.get(token.trim()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some("authorization"),
                "unknown token",
            ));
        };
        // Rate limit per token.
        let mut buckets = self.buckets.lock().expect("not poisoned");
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: self.opts.burst,
            at: Instant::now(),
        });
        let now = Instant::now();
        b.tokens =
            (b.tokens + (now - b.at).as_secs_f64() * self.opts.rate_per_sec).min(self.opts.burst);
        b.at = now;
        if b.tokens < 1.0 {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, None, "rate limit exceeded")
            });
        }
        b.tokens -= 1.0;
        Ok(p.clone())
    }

    fn require(&self, p: &Principal, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&p.role) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                None,
                format!("this route is not for the {:?} role", p.role).to_lowercase(),
            ))
        }
    }

    fn event_id(&self, p: &Principal, headers: &HeaderMap, n: usize) -> Result<String, ApiError> {
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
    async fn append(&self, events: Vec<Event>) -> Result<(), ApiError> {
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
    async fn append_one(&self, e: Event) -> ApiResult {
        let answer = accepted_one(&e.id);
        self.append(vec![e]).await?;
        Ok(answer)
    }

    async fn owner(&self, kind: &str, id: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .store
            .get(&owner_key(&self.opts.prefix, kind, id))
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    async fn claim(&self, kind: &str, id: &str, p: &Principal) -> Result<(), ApiError> {
        let key = owner_key(&self.opts.prefix, kind, id);
        if !self.store.set_if_absent(&key, p.id.as_bytes()).await? {
            let cur = self.store.get(&key).await?;
            if cur.as_deref() != Some(p.id.as_bytes()) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    Some(if kind == "gap" { "gap_id" } else { "worker_id" }),
                    format!("this {kind} id belongs to someone else"),
                ));
            }
        }
        Ok(())
    }

    async fn view(&self, m: &str) -> Result<Option<MatchView>, ApiError> {
        Ok(self
            .store
            .get(&self.keys.proposal(m))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// May `p` see (and act on) proposal `v`? As borrower, as lender or as
    /// the agency that offered the worker.
    async fn party(&self, p: &Principal, v: &MatchView) -> Result<Option<&'static str>, ApiError> {
        if p.role == Role::Enterprise && v.enterprise_id.as_str() == p.id {
            return Ok(Some("borrower"));
        }
        if v.lender_id.as_ref().is_some_and(|l| l.as_str() == p.id) {
            return Ok(Some("lender"));
        }
        if self
            .owner("worker", v.proposed.worker_id.as_str())
            .await?
            .as_deref()
            == Some(&p.id)
        {
            return Ok(Some("lender"));
        }
        Ok(None)
    }
}

/// Parses a JSON object body: 400 when it is not one.
fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("(body)"),
            format!("must be a JSON object: {e}"),
        )
    })?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("(body)"),
            "must be a JSON object",
        )),
    }
}

/// Builds an event from client fields plus the gateway's own; the client
/// may not set `type`, `id` or `at`.
fn compose(
    kind: &str,
    id: String,
    mut fields: Map<String, Value>,
    prefix: &str,
) -> Result<Event, ApiError> {
    for reserved in ["type", "id", "at"] {
        if fields.contains_key(reserved) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&format!("{prefix}{reserved}")),
                "is set by the gateway; leave it out",
            ));
        }
    }
    fields.insert("type".into(), json!(kind));
    fields.insert("id".into(), json!(id));
    fields.insert("at".into(), json!(now().to_string()));
    Event::from_value(Value::Object(fields)).map_err(|e| {
        let text = e.to_string();
        let (field, message) = text.split_once(": ").unwrap_or(("(body)", text.as_str()));
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&format!("{prefix}{field}")),
            message.to_owned(),
        )
    })
}

/// The fast path of [`object`] + [`compose`] for a valid body: the body's
/// members are taken raw and deserialized straight into the event, with
/// `own` (a field the gateway fills from the principal, e.g. the
/// borrower's enterprise id) added when missing. `None` whenever the
/// checked path could answer differently — a reserved or escaped key, a
/// mismatching `own` field, any invalid member — so that path decides and
/// explains.
fn compose_fast(kind: &str, id: &str, body: &[u8], own: (&str, &str)) -> Option<Event> {
    // Commonest: the body leaves `own` out; with it put in front, the
    // body is the event's body and deserializes in one pass (a body that
    // repeats a member or sets `own` itself is refused there and goes
    // on to the member-splitting path below).
    if let Some(e) = compose_one_pass(kind, id, body, own) {
        return Some(e);
    }
    use serde_json::value::RawValue;
    let mut members: std::collections::BTreeMap<&str, &RawValue> =
        serde_json::from_slice(body).ok()?;
    if ["type", "id", "at"].iter().any(|k| members.contains_key(k)) {
        return None;
    }
    let mine = serde_json::value::to_raw_value(own.1).ok()?;
    match members.get(own.0) {
        None => {
            members.insert(own.0, &mine);
        }
        Some(v) if serde_json::from_str::<&str>(v.get()).ok()? == own.1 => {}
        Some(_) => return None,
    }
    Event::from_members_at(kind, id, now(), members.into_iter())
}

/// [`compose_fast`]'s one-pass case: `{"own":"…",` followed by the
/// body's members.
fn compose_one_pass(kind: &str, id: &str, body: &[u8], own: (&str, &str)) -> Option<Event> {
    let members = std::str::from_utf8(body)
        .ok()?
        .trim_start()
        .strip_prefix('{')?;
    // `{"own":"…",` + members, built without `format!`.
    let mut text = Vec::with_capacity(members.len() + own.0.len() + own.1.len() + 8);
    text.push(b'{');
    serde_json::to_writer(&mut text, own.0).ok()?;
    text.push(b':');
    serde_json::to_writer(&mut text, own.1).ok()?;
    if !members.trim_start().starts_with('}') {
        text.push(b',');
    }
    text.extend_from_slice(members.as_bytes());
    let text = String::from_utf8(text).ok()?;
    Event::from_body(kind, EventId::new(id).ok()?, now(), &text)
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

async fn post_shortage(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise])?;
    let id = g.event_id(&p, &headers, 0)?;
    let e = match compose_fast("shortage_posted", &id, &body, ("enterprise_id", &p.id)) {
        Some(e) => e,
        None => shortage_checked(&p, id, &body)?,
    };
    if let EventKind::ShortagePosted(s) = &e.kind {
        g.claim("gap", s.gap_id.as_str(), &p).await?;
    }
    g.append_one(e).await
}

/// The checked path of posting a shortage: every refusal names its field.
fn shortage_checked(p: &Principal, id: String, body: &[u8]) -> Result<Event, ApiError> {
    let mut fields = object(body)?;
    match fields.get("enterprise_id") {
        None => {
            fields.insert("enterprise_id".into(), json!(p.id));
        }
        Some(Value::String(e)) if *e == p.id => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("enterprise_id"),
                "must be your own enterprise (or left out)",
            ))
        }
    }
    compose("shortage_posted", id, fields, "")
}

async fn get_shortage(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise])?;
    if g.owner("gap", &id).await?.as_deref() != Some(&p.id) {
        return Err(ApiError::not_found());
    }
    match g.store.get(&g.keys.gap(&id)).await? {
        Some(b) => {
            let v: GapView = serde_json::from_slice(&b).map_err(|_| ApiError::not_found())?;
            Ok(Json(v).into_response())
        }
        // Posted, not yet seen by a matcher.
        None => Ok((
            StatusCode::OK,
            Json(json!({"gap_id": id, "status": "pending"})),
        )
            .into_response()),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: Option<String>,
}

/// Parses a small fixed-shape body (`shape` says what it must look like).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("(body)"),
            format!("must be {shape}: {e}"),
        )
    })
}

fn reason_of(body: &[u8]) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok("withdrawn by the owner".into());
    }
    let r: Reason = parse(body, "{\"reason\": …}")?;
    Ok(r.reason.unwrap_or_else(|| "withdrawn by the owner".into()))
}

/// Withdraws the caller's own gap or worker: (owner kind, id field, event).
async fn withdraw(
    g: &Gateway,
    headers: &HeaderMap,
    roles: &[Role],
    (kind, field, event): (&str, &str, &str),
    id: String,
    body: &[u8],
) -> ApiResult {
    let p = g.authenticate(headers, None)?;
    g.require(&p, roles)?;
    if g.owner(kind, &id).await?.as_deref() != Some(&p.id) {
        return Err(ApiError::not_found());
    }
    let mut f = Map::new();
    f.insert(field.into(), json!(id));
    f.insert("reason".into(), json!(reason_of(body)?));
    let e = compose(event, g.event_id(&p, headers, 0)?, f, "")?;
    g.append_one(e).await
}

async fn withdraw_shortage(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let what = ("gap", "gap_id", "shortage_withdrawn");
    withdraw(&g, &headers, &[Role::Enterprise], what, id, &body).await
}

async fn post_workers(State(g): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    let mut fields = object(&body)?;
    // One worker, or {"workers": [ … ]} (up to 10,000).
    let (batch, items): (bool, Vec<Value>) = match fields.remove("workers") {
        Some(Value::Array(items)) if fields.is_empty() => (true, items),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("workers"),
                "must be an array of worker offers, alone in the body",
            ))
        }
        None => (false, vec![Value::Object(fields)]),
    };
    if items.is_empty() || items.len() > 10_000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("workers"),
            format!("must hold 1–10000 offers, got {}", items.len()),
        ));
    }
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if batch {
            format!("workers[{i}].")
        } else {
            String::new()
        };
        let Value::Object(mut f) = item else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&format!("workers[{i}]")),
                "must be an object",
            ));
        };
        // An enterprise lends its own employees; an agency's workers are
        // flexible (no employer).
        match (p.role, f.get("employer_id")) {
            (Role::Enterprise, None) => {
                f.insert("employer_id".into(), json!(p.id));
            }
            (Role::Enterprise, Some(Value::String(e))) if *e == p.id => {}
            (Role::Agency, None) => {}
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&format!("{prefix}employer_id")),
                    "an enterprise offers its own employees (leave it out); an agency's workers have no employer",
                ))
            }
        }
        events.push(compose(
            "worker_offered",
            g.event_id(&p, &headers, i)?,
            f,
            &prefix,
        )?);
    }
    let mut owned = Vec::with_capacity(events.len());
    for e in &events {
        if let EventKind::WorkerOffered(w) = &e.kind {
            g.claim("worker", w.worker_id.as_str(), &p).await?;
            // An enterprise's workers are listed through its lender set.
            if p.role == Role::Agency {
                owned.push((g.keys.owned_workers(&p.id), w.worker_id.to_string()));
            }
        }
    }
    // Indexed before the offer is in the log, so a proposal of the worker
    // is listed for the principal as soon as it is made.
    g.store.add_to_sets(&owned).await?;
    let answer = accepted(events.iter().map(|e| e.id.to_string()).collect());
    g.append(events).await?;
    Ok(answer)
}

async fn withdraw_worker(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let what = ("worker", "worker_id", "worker_withdrawn");
    let roles = [Role::Enterprise, Role::Agency];
    withdraw(&g, &headers, &roles, what, id, &body).await
}

async fn list_proposals(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
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
    Ok(Json(json!({"proposals": views})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ending {
    outcome: Value,
}

async fn act(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency])?;
    let kind = match action.as_str() {
        "accept" => "match_accepted",
        "decline" => "match_declined",
        "start" => "assignment_started",
        "end" => "assignment_ended",
        _ => return Err(ApiError::not_found()),
    };
    let Some(view) = g.view(&id).await? else {
        return Err(ApiError::not_found());
    };
    let Some(party) = g.party(&p, &view).await? else {
        return Err(ApiError::not_found());
    };
    let mut f = Map::new();
    f.insert("match_id".into(), json!(id));
    match kind {
        "match_accepted" | "match_declined" => {
            let d: Decision = if body.iter().all(u8::is_ascii_whitespace) {
                Decision { reason: None }
            } else {
                parse(&body, "{\"reason\": …}")?
            };
            f.insert("by".into(), json!(party));
            if let Some(r) = d.reason {
                f.insert("reason".into(), json!(r));
            }
        }
        "assignment_ended" => {
            if party != "borrower" {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the borrower ends an assignment",
                ));
            }
            let e: Ending = parse(&body, "{\"outcome\": …}")?;
            f.insert("outcome".into(), e.outcome);
        }
        _ => {
            if party != "borrower" {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    None,
                    "the borrower starts an assignment",
                ));
            }
        }
    }
    let e = compose(kind, g.event_id(&p, &headers, 0)?, f, "")?;
    g.append_one(e).await
}

/// Statistics over every region (or one), with totals.
async fn stats(State(g): State<Arc<Gateway>>, headers: HeaderMap, uri: Uri) -> ApiResult {
    let q: TokenQuery = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, Some("(query)"), e.body_text()))?;
    let p = g.authenticate(&headers, q.access_token.as_deref())?;
    g.require(&p, &[Role::Operator])?;
    if let Some((at, body)) = g.stats_cache.lock().expect("not poisoned").as_ref() {
        if at.elapsed() < STATS_TTL {
            return Ok(([("content-type", "application/json")], body.clone()).into_response());
        }
    }
    let mut regions: Vec<RegionView> = g
        .store
        .scan_prefix(&g.keys.regions())
        .await?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect();
    regions.sort_by(|a, b| a.region.cmp(&b.region));
    let total = total(&regions);
    let body = Bytes::from(
        serde_json::to_vec(&json!({"total": total, "regions": regions})).expect("serializable"),
    );
    *g.stats_cache.lock().expect("not poisoned") = Some((Instant::now(), body.clone()));
    Ok(([("content-type", "application/json")], body).into_response())
}

fn total(regions: &[RegionView]) -> RegionView {
    let mut t = RegionView {
        region: "all".into(),
        ..Default::default()
    };
    for r in regions {
        t.workers += r.workers;
        t.gaps += r.gaps;
        t.positions += r.positions;
        t.open_positions += r.open_positions;
        t.proposed += r.proposed;
        t.accepted += r.accepted;
        t.declined += r.declined;
        t.expired += r.expired;
        t.started += r.started;
        t.completed += r.completed;
        t.no_show += r.no_show;
        t.cancelled += r.cancelled;
        t.time_to_fill_secs_sum += r.time_to_fill_secs_sum;
        t.time_to_fill_count += r.time_to_fill_count;
        for (k, v) in &r.priority_served {
            *t.priority_served.entry(k.clone()).or_default() += v;
        }
        for (map, from) in [
            (&mut t.by_industry, &r.by_industry),
            (&mut t.by_skill, &r.by_skill),
        ] {
            for (k, s) in from {
                let e: &mut Slice = map.entry(k.clone()).or_default();
                e.positions += s.positions;
                e.open += s.open;
                e.accepted += s.accepted;
            }
        }
        t.updated_at = t.updated_at.max(r.updated_at);
    }
    t
}

async fn audit_trail(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let p = g.authenticate(&headers, None)?;
    let Some(mut view) = g.view(&id).await? else {
        return Err(ApiError::not_found());
    };
    match p.role {
        Role::Operator => {
            let pseudo = g.pseudonym(view.proposed.worker_id.as_str());
            view.proposed.worker_id = lendwork_domain::WorkerId::new(pseudo).expect("valid id");
        }
        _ => {
            if g.party(&p, &view).await?.is_none() {
                return Err(ApiError::not_found());
            }
        }
    }
    Ok(Json(view).into_response())
}

async fn feed(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q: TokenQuery = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, Some("(query)"), e.body_text()))?;
    let p = g.authenticate(&headers, q.access_token.as_deref())?;
    g.require(&p, &[Role::Operator])?;
    let rx = g.feed.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) => {
                    return Some((
                        Ok::<_, std::convert::Infallible>(SseEvent::default().data(line)),
                        rx,
                    ))
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn readyz(State(g): State<Arc<Gateway>>) -> Response {
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

async fn metrics(State(g): State<Arc<Gateway>>) -> Response {
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
        crate::matcher::prometheus(&mut out, "counter", name, help, v.load(Ordering::Relaxed));
    }
    if let Some(h) = &g.matcher {
        out.push_str(&h.metrics());
    }
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// Counts responses by class and logs the route template, never the path.
async fn observe(
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
    let mut r = next.run(req).await;
    let status = r.status().as_u16();
    // Rejections from the framework itself (a bad path encoding, a body over
    // the limit, a method not allowed) get the same JSON error shape.
    let is_json = r
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (400..500).contains(&status) && !is_json {
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
        eprintln!("lendwork gateway: {method} {route} -> {status}");
    }
    r
}

/// The dashboard page (vendored: no external network at run time).
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// The gateway's routes.
pub fn router(g: Arc<Gateway>) -> axum::Router {
    let small = DefaultBodyLimit::max(64 * 1024);
    axum::Router::new()
        .route("/v1/shortages", post(post_shortage).layer(small))
        .route(
            "/v1/shortages/{gap_id}",
            get(get_shortage).delete(withdraw_shortage).layer(small),
        )
        .route(
            "/v1/workers",
            post(post_workers).layer(DefaultBodyLimit::max(8 * 1024 * 1024)),
        )
        .route(
            "/v1/workers/{worker_id}",
            axum::routing::delete(withdraw_worker).layer(small),
        )
        .route("/v1/proposals", get(list_proposals))
        .route("/v1/proposals/{match_id}", get(audit_trail))
        .route("/v1/proposals/{match_id}/{action}", post(act).layer(small))
        .route("/v1/stats", get(stats))
        .route("/v1/feed", get(feed))
        .route(
            "/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/dashboard", get(|| async { Html(DASHBOARD) }))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(g.clone(), observe))
        .with_state(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path of posting a shortage gives the checked path's event
    /// or steps aside; it never accepts what the checked path refuses.
    #[test]
    fn posting_fast_path_agrees_with_the_checked_one() {
        let p = Principal {
            role: Role::Enterprise,
            id: "ent-1".into(),
        };
        let base = r#""gap_id":"g-1","region":"620100","site":{"lat":36.06,"lon":103.83},"requirements":[{"skill":"forklift","min_level":2}],"certificates":[],"headcount":2,"window":{"start":"2026-04-01","end":"2026-04-30"},"hourly_wage_fen":3000"#;
        let cases = [
            (format!("{{{base}}}"), true),
            (format!(r#"{{{base},"enterprise_id":"ent-1"}}"#), true),
            (format!(r#"{{{base},"enterprise_id":"ent-2"}}"#), false),
            (format!(r#"{{{base},"enterprise_id":7}}"#), false),
            (format!(r#"{{{base},"type":"worker_offered"}}"#), false),
            (format!(r#"{{{base},"at":"2026-01-01T00:00:00Z"}}"#), false),
            (format!(r#"{{{base},"headcount":3}}"#), true),
            (format!(r#"{{{base},"headcount":"3"}}"#), false),
            (format!(r#"{{{base},"surprise":1}}"#), false),
            (format!(r#"{{{base},"industry":null}}"#), true),
            (format!(r#"{{{base},"gap\u005fid":"g-2"}}"#), true),
            (format!("[{{{base}}}]"), false),
            (format!("{{{base}"), false),
            ("{}".to_owned(), false),
        ];
        for (body, valid) in cases {
            let fast = compose_fast(
                "shortage_posted",
                "evt-1",
                body.as_bytes(),
                ("enterprise_id", &p.id),
            );
            let checked = shortage_checked(&p, "evt-1".into(), body.as_bytes());
            assert_eq!(checked.is_ok(), valid, "{body}: {checked:?}");
            // Valid bodies without escaped keys take the fast path.
            assert_eq!(fast.is_some(), valid && !body.contains('\\'), "{body}");
            match (fast, checked) {
                (Some(mut f), Ok(c)) => {
                    f.at = c.at;
                    assert_eq!(f, c, "{body}");
                }
                (Some(f), Err(e)) => {
                    panic!("{body}: fast path accepted {f:?}, checked refused: {e:?}")
                }
                (None, _) => {}
            }
        }
    }
}

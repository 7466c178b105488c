//! The long-running commands: `lendwork matcher`, and the tools that talk
//! to a deployment (`lendwork publish`, `lendwork audit`).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use lendwork_domain::Event;
use lendwork_ports::{EventBus, StateStore};

use crate::config::Config;
use crate::matcher::{Health, Matcher, MatcherOptions};
use crate::route::Router;

/// Where the servers are: flags that override the configuration layers.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServerFlags {
    /// A TOML configuration file (see the config module's docs).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers (`host:port,…`); overrides kafka.brokers.
    #[arg(long)]
    pub kafka: Option<String>,
    /// Redis URL (`redis://host:port/db`); overrides redis.url.
    #[arg(long)]
    pub redis: Option<String>,
    /// Key prefix in Redis; overrides redis.prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Market topic; overrides topics.market.
    #[arg(long)]
    pub market_topic: Option<String>,
    /// Matches topic; overrides topics.matches.
    #[arg(long)]
    pub matches_topic: Option<String>,
    /// Partitions of topics created at start-up; overrides topics.partitions.
    #[arg(long)]
    pub partitions: Option<u32>,
}

impl ServerFlags {
    /// Defaults → file → `LENDWORK_*` → these flags; validated.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(k) = &self.kafka {
            c.kafka.brokers = Some(k.clone());
        }
        if let Some(r) = &self.redis {
            c.redis.url = Some(r.clone());
        }
        if let Some(p) = &self.prefix {
            c.redis.prefix = p.clone();
        }
        if let Some(t) = &self.market_topic {
            c.topics.market = t.clone();
        }
        if let Some(t) = &self.matches_topic {
            c.topics.matches = t.clone();
        }
        if let Some(p) = self.partitions {
            c.topics.partitions = p;
        }
        c.validate().map_err(|mut e| {
            e.source_name = "flags".into();
            e
        })?;
        Ok(c)
    }
}

/// `/healthz`, `/readyz` and `/metrics` of a matcher.
pub fn health_router(health: Arc<Health>) -> axum::Router {
    let (h1, h2) = (health.clone(), health);
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let h = h1.clone();
                async move {
                    let body = serde_json::json!({
                        "ready": h.ready(),
                        "joined": h.running.load(Ordering::Relaxed),
                        "kafka": h.bus_ok.load(Ordering::Relaxed),
                        "redis": h.store_ok.load(Ordering::Relaxed),
                    });
                    let code = if h.ready() {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (code, axum::Json(body)).into_response()
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let h = h2.clone();
                async move { ([("content-type", "text/plain; version=0.0.4")], h.metrics()) }
            }),
        )
}

/// Checks both servers every second, so readiness shows an outage even
/// while no records flow.
pub async fn probe(
    bus: Arc<dyn EventBus>,
    store: Arc<dyn StateStore>,
    topic: String,
    partitions: u32,
    key: String,
    health: Arc<Health>,
) {
    loop {
        let s = tokio::time::timeout(Duration::from_secs(2), store.get(&key)).await;
        health
            .store_ok
            .store(matches!(s, Ok(Ok(_))), Ordering::Relaxed);
        let b = tokio::time::timeout(Duration::from_secs(3), bus.ensure_topic(&topic, partitions))
            .await;
        health
            .bus_ok
            .store(matches!(b, Ok(Ok(()))), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `lendwork matcher`: runs one matcher until SIGINT or SIGTERM.
pub fn run_matcher(
    flags: &ServerFlags,
    group: Option<String>,
    listen: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let mut c = flags.load()?;
    if let Some(g) = group {
        c.matcher.group = g;
        c.validate()?;
    }
    if c.kafka.brokers.is_none() {
        anyhow::bail!("--kafka (or kafka.brokers): a lone matcher needs a shared bus; `lendwork serve` runs one on the embedded bus");
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let bus = crate::connect::bus(&c)?;
        let health = Arc::new(Health::default());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!(
            "lendwork matcher: group {} on {}; health on http://{}/readyz",
            c.matcher.group,
            c.kafka.brokers.as_deref().unwrap_or(""),
            listener.local_addr()?
        );
        let app = health_router(health.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let store = crate::connect::store(&c).await?;
        let opts = MatcherOptions::from_config(&c);
        tokio::spawn(probe(
            bus.clone(),
            store.clone(),
            opts.market_topic.clone(),
            opts.partitions,
            format!("{}:probe", opts.prefix),
            health.clone(),
        ));
        let mut m = Matcher::new(bus, store, opts, health);
        m.run(shutdown_signal()).await?;
        eprintln!("lendwork matcher: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `lendwork publish`: validates a JSONL file and appends its events to the
/// market topic, keyed by region. Nothing is published when any line is
/// invalid or cannot be routed (exit 2, errors as FILE:LINE: field: message).
pub fn run_publish(flags: &ServerFlags, file: &Path) -> anyhow::Result<ExitCode> {
    let c = flags.load()?;
    let (name, reader) = crate::cli::input(file)?;
    let mut events = Vec::new();
    let mut errors = 0u64;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        match Event::from_json(&line) {
            Ok(e) => events.push(e),
            Err(e) => {
                errors += 1;
                eprintln!("{name}:{}: {e}", i + 1);
            }
        }
    }
    if errors > 0 {
        eprintln!("lendwork publish: {errors} invalid lines; nothing published");
        return Ok(ExitCode::from(2));
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let bus = crate::connect::bus(&c)?;
        let store = crate::connect::store(&c).await?;
        bus.ensure_topic(&c.topics.market, c.topics.partitions)
            .await?;
        let router = Router::new(c.redis.prefix.clone());
        let mut records = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            match router.region(store.as_ref(), e).await {
                Ok(r) => records.push((Bytes::from(r.to_string()), Bytes::from(e.to_json()))),
                Err(err) => {
                    eprintln!("{name}:{}: {err}", i + 1);
                    return Ok(ExitCode::from(2));
                }
            }
        }
        for chunk in records.chunks(10_000) {
            bus.publish_all(&c.topics.market, chunk).await?;
        }
        eprintln!(
            "lendwork publish: {} events to {}",
            records.len(),
            c.topics.market
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `lendwork audit`: replays the market topic and checks the matches topic
/// and the read models against it; prints the report as JSON; exit 3 when
/// anything was lost, differs, or someone is double-booked.
pub fn run_audit(flags: &ServerFlags, idle: Duration) -> anyhow::Result<ExitCode> {
    let c = flags.load()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let bus = crate::connect::bus(&c)?;
        let store = crate::connect::store(&c).await?;
        let nonce = std::process::id();
        let market = crate::audit::drain(
            bus.as_ref(),
            &c.topics.market,
            &format!("lendwork-audit-m-{nonce}"),
            idle * 10,
            idle,
        )
        .await?;
        let matches = crate::audit::drain(
            bus.as_ref(),
            &c.topics.matches,
            &format!("lendwork-audit-x-{nonce}"),
            idle * 10,
            idle,
        )
        .await?;
        let report = crate::audit::audit(
            &market,
            &matches,
            store.as_ref(),
            &c.redis.prefix,
            &c.engine,
        )
        .await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(if report.clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(3)
        })
    })
}

/// Flags of `lendwork serve` and `lendwork gateway`.
#[derive(Clone, Debug, clap::Args)]
pub struct GatewayFlags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Bearer tokens (TOML `[[token]]` entries: token, role, principal);
    /// `LENDWORK_GATEWAY_TOKENS=role:principal:token;…` adds more.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Requests per second per token (sustained; bursts of twice that).
    #[arg(long, default_value_t = 200.0)]
    pub rate_limit: f64,
}

fn load_tokens(flags: &GatewayFlags) -> anyhow::Result<crate::gateway::Tokens> {
    let mut tokens = crate::gateway::Tokens::default();
    if let Some(p) = &flags.keys {
        let text =
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        tokens.extend(
            crate::gateway::Tokens::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        );
    }
    if let Ok(v) = std::env::var("LENDWORK_GATEWAY_TOKENS") {
        tokens.extend(crate::gateway::Tokens::from_env_value(&v).map_err(anyhow::Error::msg)?);
    }
    Ok(tokens)
}

fn demo_token() -> String {
    format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    )
}

/// `lendwork serve` (gateway and matcher in one process; embedded bus and
/// store unless Kafka and Redis are configured) and `lendwork gateway`
/// (the gateway alone, against Kafka and Redis).
pub fn run_gateway(
    servers: &ServerFlags,
    flags: &GatewayFlags,
    with_matcher: bool,
    demo: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let c = servers.load()?;
    if !with_matcher && (c.kafka.brokers.is_none() || c.redis.url.is_none()) {
        anyhow::bail!("--kafka and --redis: a lone gateway needs the shared bus and store; `lendwork serve` runs everything in one process");
    }
    let mut tokens = load_tokens(flags)?;
    let mut demo_tokens = Vec::new();
    if demo.is_some() {
        for (role, principal) in [
            (crate::gateway::Role::Operator, "operator"),
            (crate::gateway::Role::Enterprise, "demo-borrower"),
            (crate::gateway::Role::Agency, "demo-agency"),
        ] {
            let tok = demo_token();
            tokens.insert(&tok, role, principal);
            demo_tokens.push((role, principal, tok));
        }
    }
    if tokens.is_empty() {
        anyhow::bail!("no tokens: give --keys FILE or LENDWORK_GATEWAY_TOKENS=role:principal:token (or --demo)");
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let bus = crate::connect::bus(&c)?;
        let store = crate::connect::store(&c).await?;
        bus.ensure_topic(&c.topics.market, c.topics.partitions)
            .await?;
        bus.ensure_topic(&c.topics.matches, c.topics.partitions)
            .await?;
        let mut opts = crate::gateway::GatewayOptions::from_config(&c);
        opts.rate_per_sec = flags.rate_limit;
        opts.burst = flags.rate_limit * 2.0;
        let mut gw = crate::gateway::Gateway::new(bus.clone(), store.clone(), opts, tokens);
        if with_matcher {
            let health = Arc::new(Health::default());
            gw = gw.with_matcher(health.clone());
            let mopts = MatcherOptions::from_config(&c);
            tokio::spawn(probe(
                bus.clone(),
                store.clone(),
                mopts.market_topic.clone(),
                mopts.partitions,
                format!("{}:probe", mopts.prefix),
                health.clone(),
            ));
            let mut m = Matcher::new(bus.clone(), store.clone(), mopts, health);
            // The matcher works in long stretches (a batch is up to
            // `matcher.batch` records); on its own thread and runtime it
            // shares the cores with the gateway through the OS scheduler
            // instead of holding one of the gateway's workers while
            // requests queue behind it.
            std::thread::Builder::new()
                .name("lendwork-matcher".into())
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            eprintln!("lendwork serve: no runtime for the matcher: {e}");
                            return;
                        }
                    };
                    if let Err(e) = rt.block_on(m.run(std::future::pending())) {
                        eprintln!("lendwork serve: the matcher stopped: {e:#}");
                    }
                })?;
        }
        gw.spawn_background();
        let listener = tokio::net::TcpListener::bind(flags.listen).await?;
        let addr = listener.local_addr()?;
        let embedded = c.kafka.brokers.is_none();
        eprintln!(
            "lendwork: gateway on http://{addr}/ ({}), dashboard http://{addr}/dashboard",
            if embedded {
                "embedded bus and store"
            } else {
                "Kafka and Redis"
            }
        );
        if let Some(rate) = demo {
            let op = &demo_tokens[0].2;
            println!("dashboard: http://{addr}/dashboard?token={op}");
            for (role, principal, tok) in &demo_tokens {
                println!(
                    "demo token  {:<10} {principal:<14} {tok}",
                    format!("{role:?}").to_lowercase()
                );
            }
            tokio::spawn(demo_feed(bus.clone(), store.clone(), c.clone(), rate));
        }
        axum::serve(listener, crate::gateway::router(gw))
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The demo: a simulated province fed at `rate` events per second, and
/// borrowers that answer proposals (seven in ten accepted, a few hours of
/// market time later; accepted ones start), so the board moves.
async fn demo_feed(bus: Arc<dyn EventBus>, store: Arc<dyn StateStore>, c: Config, rate: u64) {
    use lendwork_domain::{EventId, EventKind, MatchDecision, MatchRef, Party, Timestamp};
    // The market's clock starts now, so the gateway's own writes (stamped
    // with the wall clock) fall inside the simulated timeline.
    let start = crate::gateway::now_timestamp();
    let events = lendwork_sim::events(&lendwork_sim::SimConfig {
        workers: 20_000,
        gaps: 3_000,
        regions: 4,
        seed: 2026,
        start,
        ..Default::default()
    });
    // Only offers, postings and withdrawals: the engine makes the proposals.
    let events: Vec<Event> = events
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::WorkerOffered(_)
                    | EventKind::ShortagePosted(_)
                    | EventKind::WorkerWithdrawn(_)
                    | EventKind::ShortageWithdrawn(_)
            )
        })
        .collect();
    let answers = {
        let (bus, store, c) = (bus.clone(), store.clone(), c.clone());
        async move {
            let group = format!("lendwork-demo-{}", rand::random::<u32>());
            let Ok(mut sub) = bus.subscribe(&c.topics.matches, &group).await else {
                return;
            };
            let router = Router::new(c.redis.prefix.clone());
            while let Ok(r) = sub.next().await {
                let Ok(e) = Event::from_json(std::str::from_utf8(&r.payload).unwrap_or("")) else {
                    continue;
                };
                let EventKind::MatchProposed(p) = &e.kind else {
                    continue;
                };
                let later = |h: i64| {
                    Timestamp::from_unix_seconds(e.at.unix_seconds() + h * 3600).expect("in range")
                };
                let m = p.match_id.clone();
                let accept = rand::random::<u8>() % 10 < 7;
                let mut out = vec![Event {
                    id: EventId::new(format!("evt-demo-a-{m}")).expect("valid"),
                    at: later(3),
                    kind: if accept {
                        EventKind::MatchAccepted(MatchDecision {
                            match_id: m.clone(),
                            by: Party::Borrower,
                            reason: None,
                        })
                    } else {
                        EventKind::MatchDeclined(MatchDecision {
                            match_id: m.clone(),
                            by: Party::Borrower,
                            reason: None,
                        })
                    },
                }];
                if accept {
                    out.push(Event {
                        id: EventId::new(format!("evt-demo-s-{m}")).expect("valid"),
                        at: later(5),
                        kind: EventKind::AssignmentStarted(MatchRef { match_id: m }),
                    });
                }
                let _ = router.region(store.as_ref(), &e).await;
                let recs: Vec<(Bytes, Bytes)> = out
                    .iter()
                    .map(|x| (Bytes::from(p.region.to_string()), Bytes::from(x.to_json())))
                    .collect();
                let _ = bus.publish_all(&c.topics.market, &recs).await;
            }
        }
    };
    tokio::spawn(answers);
    let router = Router::new(c.redis.prefix.clone());
    let tick = Duration::from_millis(100);
    let per_tick = ((rate as f64) / 10.0).ceil().max(1.0) as usize;
    for chunk in events.chunks(per_tick) {
        let mut recs = Vec::with_capacity(chunk.len());
        for e in chunk {
            if let Ok(r) = router.region(store.as_ref(), e).await {
                recs.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
            }
        }
        if let Err(e) = bus.publish_all(&c.topics.market, &recs).await {
            eprintln!("lendwork demo: {e}");
        }
        tokio::time::sleep(tick).await;
    }
    eprintln!("lendwork demo: the simulated market has been fed");
}

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
        let mut router = Router::new(c.redis.prefix.clone());
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

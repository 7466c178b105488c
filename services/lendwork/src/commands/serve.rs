//! `lendwork serve` (gateway and matcher in one process) and `lendwork
//! gateway` (the gateway alone, against Kafka and Redis).

use std::process::ExitCode;
use std::sync::Arc;

use lendwork_gateway::{Gateway, Role, Tokens};
use lendwork_matcher::{probe, Health, Matcher};

use crate::commands::matcher::shutdown_signal;
use crate::flags::{GatewayFlags, ServerFlags};

fn load_tokens(flags: &GatewayFlags) -> anyhow::Result<Tokens> {
    let mut tokens = Tokens::default();
    if let Some(p) = &flags.keys {
        let text =
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        tokens
            .extend(Tokens::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    }
    if let Ok(v) = std::env::var("LENDWORK_GATEWAY_TOKENS") {
        tokens
            .extend(Tokens::from_env_value(&v).map_err(anyhow::Error::msg)?)
            .map_err(|e| anyhow::anyhow!("LENDWORK_GATEWAY_TOKENS and --keys: {e}"))?;
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

/// `lendwork serve` (gateway and matcher in one process; the embedded bus
/// and store at `embedded` unless Kafka and Redis are configured) and
/// `lendwork gateway` (`embedded` is `None`: the gateway alone, against
/// Kafka and Redis).
pub fn run_gateway(
    servers: &ServerFlags,
    flags: &GatewayFlags,
    embedded: Option<crate::connect::Embedded>,
    demo: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let with_matcher = embedded.is_some();
    let c = servers.load()?;
    if !with_matcher && (c.kafka.brokers.is_none() || c.redis.url.is_none()) {
        anyhow::bail!("--kafka and --redis: a lone gateway needs the shared bus and store; `lendwork serve` runs everything in one process");
    }
    let mut tokens = load_tokens(flags)?;
    let mut demo_tokens = Vec::new();
    if demo.is_some() {
        for (role, principal) in [
            (Role::Operator, "operator"),
            (Role::Enterprise, "demo-borrower"),
            (Role::Agency, "demo-agency"),
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
        // The embedded default on disk: the log and the state in one SQLite
        // database, held (locked) for as long as this process runs.
        let (bus, store, place) = match &embedded {
            Some(e) if c.kafka.brokers.is_none() && c.redis.url.is_none() => {
                crate::connect::embedded(e)?
            }
            _ => (
                crate::connect::bus(&c)?,
                crate::connect::store(&c).await?,
                None,
            ),
        };
        bus.ensure_topic(&c.topics.market, c.topics.partitions)
            .await?;
        bus.ensure_topic(&c.topics.matches, c.topics.partitions)
            .await?;
        let mut opts = crate::config::gateway_options(&c);
        opts.rate_per_sec = flags.rate_limit;
        opts.burst = flags.rate_limit * 2.0;
        let mut gw = Gateway::new(bus.clone(), store.clone(), opts, tokens);
        if with_matcher {
            let health = Arc::new(Health::default());
            gw = gw.with_matcher(health.clone());
            // No snapshots on the embedded bus, durable or not: a snapshot
            // is one large write that the data directory's single writer
            // must finish before any posting behind it is acknowledged
            // (p99 of a posting 135–187 ms with them, 5 ms without, in
            // benches/embedded_load.sh); a restart replays the log instead.
            let mopts = crate::config::matcher_options(&c);
            tokio::spawn(probe(
                bus.clone(),
                store.clone(),
                mopts.market_topic.clone(),
                mopts.partitions,
                lendwork_state::keys::Keys::new(mopts.prefix.clone()).probe(),
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
                    // One worker thread, but a multi-threaded runtime: the
                    // Kafka bus polls librdkafka in `block_in_place`, which
                    // a current-thread runtime refuses (it panicked there
                    // on `serve --kafka`).
                    let rt = match tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .thread_name("lendwork-matcher")
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            tracing::error!(error = %e, "no runtime for the matcher");
                            return;
                        }
                    };
                    if let Err(e) = rt.block_on(m.run(std::future::pending())) {
                        tracing::error!(error = %e, "the matcher stopped");
                    }
                })?;
        }
        gw.spawn_background();
        let listener = tokio::net::TcpListener::bind(flags.listen).await?;
        let addr = listener.local_addr()?;
        let backend = match (&place, c.kafka.brokers.is_none()) {
            (Some(dir), _) => format!("data in {}", dir.display()),
            (None, true) => "in memory: nothing is kept when it stops".to_owned(),
            (None, false) => "Kafka and Redis".to_owned(),
        };
        eprintln!(
            "lendwork: gateway on http://{addr}/ ({backend}), dashboard http://{addr}/dashboard"
        );
        if let Some(rate) = demo {
            println!("dashboard: http://{addr}/dashboard (sign in with the operator's token below)");
            println!("portal:    http://{addr}/portal (an enterprise's or the agency's token); public board http://{addr}/board");
            for (role, principal, tok) in &demo_tokens {
                println!(
                    "demo token  {:<10} {principal:<14} {tok}",
                    format!("{role:?}").to_lowercase()
                );
            }
            tokio::spawn(crate::demo::demo_feed(
                bus.clone(),
                store.clone(),
                c.clone(),
                rate,
            ));
        }
        lendwork_gateway::serve(listener, gw, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

//! `lendwork matcher`: one matcher of the consumer group, with its health
//! server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use lendwork_matcher::{probe, Health, Matcher};

use crate::flags::ServerFlags;

pub(crate) async fn shutdown_signal() {
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
        let app = lendwork_gateway::ops::health_router(health.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let store = crate::connect::store(&c).await?;
        let opts = crate::config::matcher_options(&c);
        tokio::spawn(probe(
            bus.clone(),
            store.clone(),
            opts.market_topic.clone(),
            opts.partitions,
            lendwork_state::keys::Keys::new(opts.prefix.clone()).probe(),
            health.clone(),
        ));
        let mut m = Matcher::new(bus, store, opts, health);
        m.run(shutdown_signal()).await?;
        tracing::info!("matcher stopped");
        Ok(ExitCode::SUCCESS)
    })
}

//! Flags shared by the long-running commands: where the servers are, and
//! the gateway's own.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Config;

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

//! The bus and store a configuration asks for: Kafka and Redis when their
//! addresses are set; otherwise the embedded default — one SQLite database
//! in a data directory (`lendwork-sqlite`), or memory when asked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lendwork_ports::memory::{MemoryBus, MemoryStore};
use lendwork_ports::{EventBus, StateStore};

use crate::config::Config;

/// The event bus of `c` (no connection is made yet for Kafka).
pub fn bus(c: &Config) -> anyhow::Result<Arc<dyn EventBus>> {
    match &c.kafka.brokers {
        None => Ok(Arc::new(MemoryBus::new())),
        #[cfg(feature = "kafka")]
        Some(b) => {
            let mut k = lendwork_kafka::KafkaConfig::new(b.clone());
            if let Some(r) = c.kafka.replication {
                k.replication = r;
            }
            k.extra = c.kafka.client.clone();
            Ok(Arc::new(lendwork_kafka::KafkaBus::new(&k)?))
        }
        #[cfg(not(feature = "kafka"))]
        Some(_) => {
            anyhow::bail!("kafka.brokers: this build has no Kafka support (feature `kafka`)")
        }
    }
}

/// The state store of `c`; waits for Redis to answer at start-up, saying so
/// on stderr every few seconds.
pub async fn store(c: &Config) -> anyhow::Result<Arc<dyn StateStore>> {
    match &c.redis.url {
        None => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "redis")]
        Some(url) => {
            let mut said = false;
            loop {
                match lendwork_redis::RedisStore::connect(url).await {
                    Ok(s) => return Ok(Arc::new(s)),
                    Err(lendwork_ports::StoreError::Unavailable(e)) => {
                        if !said {
                            tracing::warn!(error = %e, "redis unavailable; waiting for it");
                            said = true;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        #[cfg(not(feature = "redis"))]
        Some(_) => anyhow::bail!("redis.url: this build has no Redis support (feature `redis`)"),
    }
}

/// Where `lendwork serve` keeps the embedded log and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Embedded {
    /// A data directory (durable).
    Data(PathBuf),
    /// Memory (gone when the process ends).
    Memory,
}

impl Embedded {
    /// The default data directory.
    pub const DEFAULT_DIR: &'static str = "lendwork-data";

    /// `--data DIR` → that directory; `--memory` → memory; neither → memory
    /// for a demo (it leaves nothing behind), `./lendwork-data` otherwise.
    pub fn choose(data: Option<PathBuf>, memory: bool, demo: bool) -> Embedded {
        match (data, memory, demo) {
            (Some(dir), _, _) => Embedded::Data(dir),
            (None, true, _) | (None, false, true) => Embedded::Memory,
            (None, false, false) => Embedded::Data(PathBuf::from(Self::DEFAULT_DIR)),
        }
    }
}

/// The embedded bus and store at `place`, and the data directory when it
/// is one. The directory is locked while the returned handles live: a
/// second process on it is refused, naming the directory.
#[allow(clippy::type_complexity)]
pub fn embedded(
    place: &Embedded,
) -> anyhow::Result<(Arc<dyn EventBus>, Arc<dyn StateStore>, Option<PathBuf>)> {
    match place {
        Embedded::Memory => Ok((
            Arc::new(MemoryBus::new()),
            Arc::new(MemoryStore::new()),
            None,
        )),
        Embedded::Data(dir) => {
            let data = open_data(dir)?;
            Ok((data.bus(), data.store(), Some(dir.clone())))
        }
    }
}

/// Opens a data directory, with the error naming it.
pub fn open_data(dir: &Path) -> anyhow::Result<lendwork_sqlite::SqliteData> {
    lendwork_sqlite::SqliteData::open(dir)
        .map_err(|e| anyhow::anyhow!("--data {}: {e}", dir.display()))
}

//! The bus and store a configuration asks for: Kafka and Redis when their
//! addresses are set, the embedded in-memory ones otherwise.

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

//! # lendwork-redis
//!
//! The Redis implementation of [`StateStore`]: hot state for the matchers
//! and the gateway (dedupe keys, worker reservations, read models,
//! snapshots). It runs the same contract suite as the in-memory store
//! (`lendwork_ports::contract::store_suite`), against a real `redis-server`.
//!
//! * One [`redis::aio::ConnectionManager`]: it reconnects by itself after
//!   the server goes away, so a restarted Redis is picked up without help;
//!   while it is down, calls fail with [`StoreError::Unavailable`].
//! * `compare_and_swap` is one Lua script, atomic on the server, so two
//!   matchers can never both book a worker.
//! * `scan_prefix` uses `SCAN` (never `KEYS`), escaping glob characters in
//!   the prefix.
//! * A server that may evict keys (a memory limit with an `allkeys-*`
//!   policy) is refused at [`RedisStore::connect`], naming the setting.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lendwork_ports::StoreError> {
//! use lendwork_ports::StateStore;
//! let store = lendwork_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?;
//! store.set("lendwork:hello", b"world").await?;
//! # Ok(()) }
//! ```

use async_trait::async_trait;
use bytes::Bytes;
use lendwork_ports::{StateStore, StoreError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, ErrorKind, RedisError, Script};

/// Hot state in Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    cas: Script,
    cas_many: Script,
}

/// Maps a Redis error: connection trouble is retryable, the rest is not.
fn map_err(e: RedisError) -> StoreError {
    // A server out of memory (`noeviction` refusing a write) is an outage
    // to wait out, not a request to refuse: callers retry until an
    // operator frees memory, as while the server is down.
    if e.code() == Some("OOM")
        || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::BusyLoadingError
                | ErrorKind::TryAgain
                | ErrorKind::ClusterDown
                | ErrorKind::MasterDown
        )
    {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Invalid(e.to_string())
    }
}

const CAS: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
else
  if cur then return 0 end
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
"#;

/// [`CAS`] over many keys in one script: for key i, ARGV[4i+1..4i+4] are
/// (has expected, expected, has new, new); returns one 0/1 per key. A
/// script runs atomically, so each swap is as safe as [`CAS`] alone. (On
/// a Redis Cluster the keys of one call must share a slot; Lendwork runs
/// against one Redis, as the design describes.)
const CAS_MANY: &str = r#"
local out = {}
for i = 1, #KEYS do
  local a = (i - 1) * 4
  local cur = redis.call('GET', KEYS[i])
  local ok
  if ARGV[a + 1] == '1' then ok = (cur == ARGV[a + 2]) else ok = (not cur) end
  if ok then
    if ARGV[a + 3] == '1' then
      redis.call('SET', KEYS[i], ARGV[a + 4])
    else
      redis.call('DEL', KEYS[i])
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"#;

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, or `rediss://` for TLS
    /// where the client is built with it).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Invalid(format!("redis url: {e}")))?;
        // Fail fast while the server is away (callers see Unavailable and
        // retry on their own schedule); the manager reconnects in the
        // background once it is back.
        let cfg = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(500)
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(5));
        let mut conn = ConnectionManager::new_with_config(client, cfg)
            .await
            .map_err(map_err)?;
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        refuse_eviction(&info)?;
        Ok(Self {
            conn,
            cas: Script::new(CAS),
            cas_many: Script::new(CAS_MANY),
        })
    }
}

/// Refuses a server that may evict keys Lendwork wrote: a memory limit
/// with an `allkeys-*` policy (a common setting for caches) would drop
/// worker reservations — the guard against double booking — and gap and
/// worker owners — the tenants' isolation — without a word. Lendwork sets
/// no expiry on its keys, so `volatile-*` policies never touch them, and
/// `noeviction` answers writes with an error when memory is full, which
/// Lendwork reports and retries.
fn refuse_eviction(info: &str) -> Result<(), StoreError> {
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let limit = field("maxmemory").and_then(|v| v.parse::<u64>().ok());
    match (limit, field("maxmemory_policy")) {
        (Some(limit), Some(policy)) if limit > 0 && policy.starts_with("allkeys") => {
            Err(StoreError::Invalid(format!(
                "redis maxmemory-policy is {policy} with maxmemory {limit}: it may evict \
                 worker reservations and owners, which must never vanish; set \
                 maxmemory-policy to noeviction (or maxmemory to 0)"
            )))
        }
        _ => Ok(()),
    }
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

#[async_trait]
impl StateStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let v: Option<Vec<u8>> = self.conn.clone().get(key).await.map_err(map_err)?;
        Ok(v.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .clone()
            .set::<_, _, ()>(key, value)
            .await
            .map_err(map_err)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let mut conn = self.conn.clone();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(1000) {
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            out.extend(values.into_iter().map(|v| v.map(Bytes::from)));
        }
        Ok(out)
    }

    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        for chunk in pairs.chunks(1000) {
            let mut cmd = redis::cmd("MSET");
            for (k, v) in chunk {
                cmd.arg(k).arg(&v[..]);
            }
            cmd.query_async::<()>(&mut conn).await.map_err(map_err)?;
        }
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        self.conn.clone().set_nx(key, value).await.map_err(map_err)
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let n: i64 = self.conn.clone().del(key).await.map_err(map_err)?;
        Ok(n > 0)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let mut inv = self.cas.key(key);
        inv.arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(if new.is_some() { "1" } else { "0" })
            .arg(new.unwrap_or_default());
        let r: i64 = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(r == 1)
    }

    async fn compare_and_swap_many(
        &self,
        ops: &[lendwork_ports::Swap],
    ) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(ops.len());
        for chunk in ops.chunks(500) {
            let mut inv = self.cas_many.prepare_invoke();
            for (k, expected, new) in chunk {
                inv.key(k)
                    .arg(if expected.is_some() { "1" } else { "0" })
                    .arg(expected.as_deref().unwrap_or_default())
                    .arg(if new.is_some() { "1" } else { "0" })
                    .arg(new.as_deref().unwrap_or_default());
            }
            let r: Vec<i64> = inv
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(map_err)?;
            out.extend(r.into_iter().map(|x| x == 1));
        }
        Ok(out)
    }

    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.conn.clone().incr(key, delta).await.map_err(map_err)
    }

    async fn add_to_sets(&self, adds: &[(String, String)]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        for chunk in adds.chunks(1000) {
            // Adjacent adds to one set go in one SADD.
            let mut pipe = redis::pipe();
            for run in chunk.chunk_by(|a, b| a.0 == b.0) {
                let cmd = pipe.cmd("SADD").arg(&run[0].0);
                for (_, m) in run {
                    cmd.arg(m);
                }
                cmd.ignore();
            }
            pipe.query_async::<()>(&mut conn).await.map_err(map_err)?;
        }
        Ok(())
    }

    async fn members_many(&self, keys: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        let mut conn = self.conn.clone();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(1000) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("SMEMBERS").arg(k);
            }
            let sets: Vec<Vec<String>> = pipe.query_async(&mut conn).await.map_err(map_err)?;
            out.extend(sets.into_iter().map(|mut s| {
                s.sort();
                s
            }));
        }
        Ok(out)
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        let pattern = escape_glob(prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(keys
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| (k, Bytes::from(v))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_in_prefixes_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }
}

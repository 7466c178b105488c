//! The Redis store passes the same contract suite as the in-memory one,
//! against a real `redis-server` (started by `scripts/test-infra`, which
//! exports its URL as `LENDWORK_TEST_REDIS`).

use lendwork_ports::contract::{fresh_namespace, store_suite, test_infra};
use lendwork_redis::RedisStore;

fn url() -> String {
    test_infra("LENDWORK_TEST_REDIS")
}

#[tokio::test]
async fn redis_store_passes_the_contract() {
    let store = RedisStore::connect(&url())
        .await
        .expect("redis-server reachable");
    let ns = fresh_namespace("lendwork-test");
    store_suite(&store, &ns).await;
}

#[tokio::test]
async fn a_wrong_url_is_refused_and_an_absent_server_is_unavailable() {
    assert!(matches!(
        RedisStore::connect("not a url").await,
        Err(lendwork_ports::StoreError::Invalid(_))
    ));
    // Port 1 on loopback: nothing listens there.
    assert!(matches!(
        RedisStore::connect("redis://127.0.0.1:1/").await,
        Err(lendwork_ports::StoreError::Unavailable(_))
    ));
}

/// A server that may evict Lendwork's keys is refused with the setting
/// named; the policies that never touch keys without expiry are taken.
#[tokio::test]
async fn a_server_that_may_evict_keys_is_refused() {
    use lendwork_ports::contract::RedisServer;
    let evicting =
        RedisServer::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    match RedisStore::connect(&evicting.url()).await {
        Err(lendwork_ports::StoreError::Invalid(m)) => assert!(
            m.contains("maxmemory-policy is allkeys-lru") && m.contains("noeviction"),
            "{m}"
        ),
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("an evicting server was taken"),
    }
    for policy in ["noeviction", "volatile-lru"] {
        let fine = RedisServer::start_with(&["--maxmemory", "64mb", "--maxmemory-policy", policy]);
        RedisStore::connect(&fine.url())
            .await
            .unwrap_or_else(|e| panic!("{policy}: {e}"));
    }
    // No limit, no eviction, whatever the policy says.
    let unlimited = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    RedisStore::connect(&unlimited.url()).await.unwrap();
}

/// A full server under `noeviction` refuses writes with OOM: the store
/// reports it as unavailable (retried, a 503 at the gateway), not as a
/// refused request.
#[tokio::test]
async fn a_full_server_is_unavailable_not_a_refusal() {
    use lendwork_ports::{StateStore, StoreError};
    let full = lendwork_ports::contract::RedisServer::start_with(&[
        "--maxmemory",
        "2mb",
        "--maxmemory-policy",
        "noeviction",
    ]);
    let store = RedisStore::connect(&full.url()).await.unwrap();
    let value = vec![b'x'; 64 * 1024];
    let mut refused = None;
    for i in 0..1000 {
        if let Err(e) = store.set(&format!("fill:{i}"), &value).await {
            refused = Some(e);
            break;
        }
    }
    match refused {
        Some(StoreError::Unavailable(m)) => assert!(m.contains("OOM"), "{m}"),
        other => panic!("a full server should be unavailable, got {other:?}"),
    }
}

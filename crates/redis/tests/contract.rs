//! The Redis store passes the same contract suite as the in-memory one,
//! against a real `redis-server` (started by `scripts/test-infra`, which
//! exports its URL as `LENDWORK_TEST_REDIS`).

use lendwork_ports::contract::store_suite;
use lendwork_redis::RedisStore;

fn url() -> String {
    std::env::var("LENDWORK_TEST_REDIS").expect(
        "LENDWORK_TEST_REDIS is not set: these tests talk to a real redis-server; run them through scripts/test (or scripts/test-infra cargo test)",
    )
}

#[tokio::test]
async fn redis_store_passes_the_contract() {
    let store = RedisStore::connect(&url())
        .await
        .expect("redis-server reachable");
    let ns = format!(
        "lendwork-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
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

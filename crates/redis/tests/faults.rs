//! Redis stopped and restarted under the store: calls fail fast with
//! `Unavailable` while it is down, and the same store object works again
//! once it is back, without reconnecting by hand. The test starts its own
//! `redis-server` (from `LENDWORK_REDIS_SERVER_BIN`, set by
//! `scripts/test-infra`) on a free port, so it can stop it.

use std::time::{Duration, Instant};

use lendwork_ports::contract::RedisServer;
use lendwork_ports::{StateStore, StoreError};
use lendwork_redis::RedisStore;

#[tokio::test]
async fn the_store_reports_an_outage_and_resumes_by_itself() {
    let mut server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    store.set("k", b"v").await.unwrap();

    server.stop();
    let down = tokio::time::timeout(Duration::from_secs(30), store.get("k"))
        .await
        .expect("fails fast, not hangs");
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");

    server.resume();
    // Poll with a deadline: the connection manager reconnects on its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.set("k", b"again").await {
            Ok(()) => break,
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not come back: {e}"),
        }
    }
    assert_eq!(
        store.get("k").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
}

//! Worker reservations over a real redis-server: the same checks as over
//! the in-memory store, including sixteen concurrent bookings of one
//! worker of which exactly one wins.

use lendwork::reservations::reservation_suite;
use lendwork_redis::RedisStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_on_redis() {
    let url = std::env::var("LENDWORK_TEST_REDIS")
        .expect("LENDWORK_TEST_REDIS is not set: run through scripts/test (or scripts/test-infra cargo test)");
    let store = RedisStore::connect(&url).await.unwrap();
    let prefix = format!(
        "lendwork-test-reserve-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    reservation_suite(&store, &prefix).await;
}

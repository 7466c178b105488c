//! Worker reservations over a real redis-server: the same checks as over
//! the in-memory store, including sixteen concurrent bookings of one
//! worker of which exactly one wins.

use lendwork_ports::contract::{fresh_namespace, test_infra};
use lendwork_redis::RedisStore;
use lendwork_state::reservations::reservation_suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_on_redis() {
    let url = test_infra("LENDWORK_TEST_REDIS");
    let store = RedisStore::connect(&url).await.unwrap();
    let prefix = fresh_namespace("lendwork-test-reserve");
    reservation_suite(&store, &prefix).await;
}

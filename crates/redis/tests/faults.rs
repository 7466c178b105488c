//! Redis stopped and restarted under the store: calls fail fast with
//! `Unavailable` while it is down, and the same store object works again
//! once it is back, without reconnecting by hand. The test starts its own
//! `redis-server` (from `LENDWORK_REDIS_SERVER_BIN`, set by
//! `scripts/test-infra`) on a free port, so it can stop it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lendwork_ports::contract::test_infra;
use lendwork_ports::{StateStore, StoreError};
use lendwork_redis::RedisStore;

fn start(port: u16) -> Child {
    let bin = test_infra("LENDWORK_REDIS_SERVER_BIN");
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server listens within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_store_reports_an_outage_and_resumes_by_itself() {
    let port = free_port();
    let mut server = start(port);
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{port}/"))
        .await
        .unwrap();
    store.set("k", b"v").await.unwrap();

    server.kill().unwrap();
    server.wait().unwrap();
    let down = tokio::time::timeout(Duration::from_secs(30), store.get("k"))
        .await
        .expect("fails fast, not hangs");
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");

    let mut server = start(port);
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
    server.kill().unwrap();
    server.wait().unwrap();
}

//! Issue 26: clients that never finish a request head, or sit idle on a
//! kept-alive connection, are closed by the gateway, and the connection caps
//! keep the process's descriptors bounded while a normal client is served.
//! Every wait polls against a deadline; nothing asserts on speed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lendwork_gateway::{serve_with, Gateway, GatewayOptions, ServeLimits, Tokens};
use lendwork_ports::memory::{MemoryBus, MemoryStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::{timeout, Instant};

const PARTIAL: usize = 1_000;

/// A gateway over the in-memory bus and store, with an operator token.
fn gateway() -> Arc<Gateway> {
    let tokens = Tokens::from_env_value("operator:ops:some-long-token-0001").unwrap();
    Gateway::new(
        Arc::new(MemoryBus::new()),
        Arc::new(MemoryStore::new()),
        GatewayOptions::default(),
        tokens,
    )
}

/// Starts the gateway under `limits`; the returned sender stops it.
async fn start(limits: ServeLimits) -> (SocketAddr, oneshot::Sender<()>) {
    let gw = gateway();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        serve_with(listener, gw, limits, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (addr, tx)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// `GET /healthz` on a fresh connection; `Some(status line)` if answered.
async fn healthz(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut out = Vec::new();
    timeout(Duration::from_secs(2), s.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&out);
    text.lines().next().map(str::to_owned)
}

/// A connection from `source` (a loopback address) that sends part of a
/// request head and never finishes it.
async fn partial(source: &str, addr: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    // The write lands in the kernel's buffers even before the server
    // accepts, or fails if the server already closed it (per-IP cap).
    let _ = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
        .await;
    s
}

/// True when the server has closed `s`: a read returns EOF or an error.
async fn closed_by_server(mut s: TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // Bytes (there should be none): keep reading until the close.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partial_heads_are_closed_and_capped_while_others_are_served() {
    let (addr, stop) = start(ServeLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(30),
        max_connections: 400,
        max_connections_per_ip: 300,
        shutdown_grace: Duration::from_secs(5),
    })
    .await;
    assert!(healthz(addr).await.is_some_and(|l| l.contains(" 200 ")));
    let fds_before = open_fds();

    // 1,000 slow clients from two addresses (500 each, above the per-IP cap
    // of 300; together above the total cap of 400).
    let mut slow = Vec::with_capacity(PARTIAL);
    for i in 0..PARTIAL {
        let source = if i % 2 == 0 { "127.0.0.2" } else { "127.0.0.3" };
        slow.push(partial(source, addr).await);
    }

    // A normal client (a third address) is answered while they are open.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut max_fds = open_fds();
    let status = loop {
        max_fds = max_fds.max(open_fds());
        if let Some(line) = healthz(addr).await {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz not answered while slow clients held connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.contains(" 200 "), "healthz answered {status:?}");

    // Every slow connection is closed by the server; meanwhile the process
    // (the slow clients' own sockets plus the server's) stays bounded: the
    // server holds at most 400 of the 1,000.
    let deadline = Instant::now() + Duration::from_secs(30);
    let watcher = tokio::spawn(async move {
        let mut max = 0;
        while Instant::now() < deadline {
            max = max.max(open_fds());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        max
    });
    let closed = futures::future::join_all(slow.into_iter().map(|s| closed_by_server(s, deadline)))
        .await
        .into_iter()
        .filter(|c| *c)
        .count();
    assert_eq!(closed, PARTIAL, "slow connections left open by the server");
    watcher.abort();
    max_fds = max_fds.max(open_fds());
    let bound = fds_before + PARTIAL + 400 + 64;
    assert!(
        max_fds < bound,
        "open fds reached {max_fds} (before: {fds_before}, bound {bound})"
    );

    // Still serving afterwards.
    assert!(healthz(addr).await.is_some_and(|l| l.contains(" 200 ")));
    let _ = stop.send(());
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    // The header timeout is longer than the idle one, so only the idle
    // timer can close this connection in time.
    let (addr, stop) = start(ServeLimits {
        header_read_timeout: Duration::from_secs(120),
        idle_timeout: Duration::from_secs(1),
        ..ServeLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .unwrap();
    // Read the whole response ("ok\n", with a Content-Length) while the
    // connection stays open.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !(got.ends_with(b"ok\n")) {
        let n = timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("response in time")
            .unwrap();
        assert!(n > 0, "closed before the response was read");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));

    // Then nothing: the server closes the idle connection.
    let deadline = Instant::now() + Duration::from_secs(20);
    assert!(
        closed_by_server(s, deadline).await,
        "idle connection kept open"
    );
    let _ = stop.send(());
}

#[tokio::test]
async fn shutdown_stops_accepting_and_returns() {
    let gw = gateway();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        listener,
        gw,
        ServeLimits {
            header_read_timeout: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(2),
            ..ServeLimits::default()
        },
        async {
            let _ = rx.await;
        },
    ));
    assert!(healthz(addr).await.is_some());
    // A slow client must not hold shutdown up past the grace.
    let _slow = partial("127.0.0.1", addr).await;
    tx.send(()).unwrap();
    timeout(Duration::from_secs(30), server)
        .await
        .expect("serve returned after shutdown")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err() || healthz(addr).await.is_none());
}

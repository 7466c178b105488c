//! The gateway's accept loop: bounds on how long a client may hold a
//! connection without using it, and on how many connections it may hold.
//!
//! `axum::serve` keeps a connection for as long as the client keeps it open:
//! a request whose headers never finish is held forever, and enough of them
//! exhaust the process's file descriptors so nobody is served (issue 26).
//! [`serve_with`] accepts connections itself and serves each with hyper's
//! HTTP/1 connection driver, under the [`ServeLimits`]:
//!
//! - **Header timeout.** A connection waiting for a request head (from
//!   accept, or from the first byte of the next request on a kept-alive
//!   connection) is closed when the head has not completed within
//!   `header_read_timeout`. The timer is the gateway's own, not hyper's
//!   `header_read_timeout`: hyper starts its timer whenever it waits for a
//!   head, including while a kept-alive connection is idle, so it would also
//!   close idle connections after the (short) header timeout.
//! - **Idle timeout.** A kept-alive connection with no request in progress
//!   and no bytes read or written for `idle_timeout` is closed. A request is
//!   in progress from its complete head until its response body is finished
//!   or dropped, so a long response (the feed) is never cut by either timer;
//!   handlers bound their own work.
//! - **Connection caps.** At most `max_connections` connections are open at
//!   once: at the cap the loop stops accepting until one ends, so new clients
//!   wait in the listener's backlog (and get the kernel's answer when it is
//!   full) instead of the process running out of descriptors. At most
//!   `max_connections_per_ip` come from one client address; a connection
//!   beyond that is closed at once, so one client cannot take every slot.
//! - **Shutdown.** When the shutdown future resolves the loop stops
//!   accepting, asks every connection to finish (hyper ends kept-alive
//!   connections after their current response), and waits at most
//!   `shutdown_grace` before dropping those left.
//!
//! A closed connection is dropped without a response: a client that has not
//! sent a complete head has nothing to be answered.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Bounds on the gateway's connections; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// How long a request head (request line and headers) may take to
    /// arrive, from accept or from its first byte. Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may sit with no request in progress
    /// and no traffic before it is closed. Default 60 s.
    pub idle_timeout: Duration,
    /// Open connections in total; at the cap, accepting pauses. Default:
    /// 10,000, or three quarters of the soft open-files limit when that is
    /// lower (read from `/proc/self/limits`; 10,000 where it cannot be
    /// read), leaving the rest for the store, the bus and logs.
    pub max_connections: usize,
    /// Open connections from one client IP address; a connection beyond it
    /// is closed at once. Default 256.
    pub max_connections_per_ip: usize,
    /// How long in-flight connections may take to finish after shutdown is
    /// requested. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        let max_connections = match soft_nofile_limit() {
            Some(soft) => (soft / 4 * 3).clamp(16, 10_000),
            None => 10_000,
        };
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections,
            max_connections_per_ip: 256,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux), without
/// `unsafe`; `None` elsewhere or when unlimited.
fn soft_nofile_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves,
/// then lets open connections finish for at most `limits.shutdown_grace`.
pub async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        // A slot first: at the cap the loop does not accept, so waiting
        // clients stay in the backlog rather than holding descriptors here.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let Some(ip_slot) = IpSlot::take(&per_ip, peer.ip(), limits.max_connections_per_ip) else {
            tracing::debug!(%peer, "per-address connection cap reached; closing");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        conns.spawn(serve_connection(
            stream,
            router.clone(),
            limits.clone(),
            stop_rx.clone(),
            (permit, ip_slot),
        ));
    }

    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = conns.len(),
            "connections still open after the shutdown grace; dropping them"
        );
        conns.shutdown().await;
    }
    Ok(())
}

/// Accept errors are per connection (reset before accept) or resource
/// exhaustion (EMFILE/ENFILE/ENOBUFS); for the latter, back off briefly so
/// the loop does not spin while descriptors are freed.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; backing off");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// One connection: hyper's HTTP/1 driver, raced against the connection's
/// deadline and the shutdown signal.
async fn serve_connection<G: Send>(
    stream: TcpStream,
    router: axum::Router,
    limits: Arc<ServeLimits>,
    mut stop: watch::Receiver<bool>,
    _guards: G,
) {
    let state = Arc::new(Mutex::new(ConnState::new()));
    let settled = state.lock().unwrap().settled.clone();
    let io = TokioIo::new(TrackedIo {
        inner: stream,
        state: state.clone(),
    });
    let svc = TowerToHyperService::new(router);
    let req_state = state.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let guard = InFlight::begin(&req_state);
        let fut = hyper::service::Service::call(&svc, req);
        async move {
            let resp = fut.await?;
            Ok::<_, Infallible>(resp.map(|body| {
                Body::new(GuardedBody {
                    inner: body,
                    _guard: guard,
                })
            }))
        }
    });
    // hyper's own header timer stays off: see the module docs.
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = state.lock().unwrap().deadline(&limits);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline) => {
                if state.lock().unwrap().deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("connection timed out waiting for a request; closing");
                    return;
                }
            }
            // The last request ended: a deadline applies again.
            () = settled.notified() => {}
            r = stop.changed(), if !stopping => {
                stopping = true;
                if r.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What a connection is doing, for its deadline.
struct ConnState {
    /// Requests whose head has completed and whose response body has not.
    in_flight: usize,
    /// When the head now being read started (accept, or its first byte).
    head_since: Option<Instant>,
    /// The last traffic or request end while no request is in flight.
    idle_since: Instant,
    /// Woken when `in_flight` falls to 0, so the connection's task takes up
    /// its deadline again.
    settled: Arc<tokio::sync::Notify>,
}

impl ConnState {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            in_flight: 0,
            head_since: Some(now),
            idle_since: now,
            settled: Arc::default(),
        }
    }

    fn deadline(&self, limits: &ServeLimits) -> Option<Instant> {
        if self.in_flight > 0 {
            None
        } else if let Some(t) = self.head_since {
            Some(t + limits.header_read_timeout)
        } else {
            Some(self.idle_since + limits.idle_timeout)
        }
    }
}

/// Marks a request in progress on its connection until dropped (its
/// response body finished or dropped, or the request abandoned).
struct InFlight(Arc<Mutex<ConnState>>);

impl InFlight {
    fn begin(state: &Arc<Mutex<ConnState>>) -> Self {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.head_since = None;
        drop(s);
        Self(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap();
        s.in_flight -= 1;
        if s.in_flight == 0 {
            // Bytes of a pipelined head read while a request was in flight
            // count from here, under the idle (not the header) timer.
            s.head_since = None;
            s.idle_since = Instant::now();
            s.settled.notify_one();
        }
    }
}

/// A response body that keeps its request in flight until it is dropped.
struct GuardedBody {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting reads (the start of a head) and writes (traffic) in
/// the connection's state.
struct TrackedIo {
    inner: TcpStream,
    state: Arc<Mutex<ConnState>>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let mut s = self.state.lock().unwrap();
            if s.in_flight == 0 && s.head_since.is_none() {
                s.head_since = Some(Instant::now());
            }
        }
        r
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.state.lock().unwrap().idle_since = Instant::now();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.state.lock().unwrap().idle_since = Instant::now();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One connection's place in its client address's count.
struct IpSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, cap: usize) -> Option<Self> {
        let mut map = counts.lock().unwrap();
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Self {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

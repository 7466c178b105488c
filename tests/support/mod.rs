//! Shared pieces of the end-to-end tests: real servers, real processes.

#![allow(dead_code, missing_docs)]

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lendwork_domain::Event;
use lendwork_engine::EngineConfig;
use lendwork_matcher::audit::{audit, drain, AuditReport};
use lendwork_state::routes::Router;

use lendwork_ports::{EventBus, StateStore};
use lendwork_sim::SimConfig;

#[allow(unused_imports)]
pub use lendwork_ports::contract::{free_port, RedisServer};

/// Names of one test's topics, group and keys.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub kafka: String,
    pub redis: String,
    pub ns: String,
    pub partitions: u32,
}

impl Deployment {
    pub fn market(&self) -> String {
        format!("{}.market", self.ns)
    }
    pub fn matches(&self) -> String {
        format!("{}.matches", self.ns)
    }
    pub fn args(&self) -> Vec<String> {
        vec![
            "--kafka".into(),
            self.kafka.clone(),
            "--redis".into(),
            self.redis.clone(),
            "--prefix".into(),
            self.ns.clone(),
            "--market-topic".into(),
            self.market(),
            "--matches-topic".into(),
            self.matches(),
            "--partitions".into(),
            self.partitions.to_string(),
        ]
    }
}

/// A `lendwork matcher` process.
pub struct MatcherProcess {
    pub port: u16,
    child: Child,
}

impl MatcherProcess {
    pub fn start(d: &Deployment) -> Self {
        Self::start_with(d, &[])
    }

    /// Started with `LENDWORK_*` settings in its environment.
    pub fn start_with(d: &Deployment, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_lendwork"))
            .envs(env.iter().copied())
            .arg("matcher")
            .args(d.args())
            .args([
                "--group",
                &format!("{}-matchers", d.ns),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lendwork matcher starts");
        Self { port, child }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// GET a path of the health endpoint: (status, body), or None while it
    /// does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    /// A counter from /metrics.
    pub fn metric(&self, name: &str) -> u64 {
        let Some((_, body)) = self.get("/metrics") else {
            return 0;
        };
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for MatcherProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, &[], "")
}

/// One HTTP/1.1 request: (status, body), or None when the server does not
/// answer (down, restarting).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut extra = String::new();
    for (k, v) in headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    Some((code, body))
}

/// A simulated market's events.
pub fn sim_events(workers: u64, gaps: u64, regions: u32, seed: u64) -> Vec<Event> {
    lendwork_sim::events(&SimConfig {
        workers,
        gaps,
        regions,
        seed,
        ..Default::default()
    })
}

/// Publishes events keyed by region, the way the gateway does.
pub async fn publish(
    bus: &dyn EventBus,
    store: &dyn StateStore,
    router: &Router,
    topic: &str,
    events: &[Event],
) {
    let mut records = Vec::new();
    for e in events {
        let r = router.region(store, e).await.expect("routable");
        records.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
    }
    for chunk in records.chunks(2000) {
        bus.publish_all(topic, chunk).await.unwrap();
    }
}

/// Audits until the report is clean and nothing more arrives, or the
/// deadline passes; returns the last report.
pub async fn settle(
    bus: &dyn EventBus,
    store: &dyn StateStore,
    d: &Deployment,
    deadline: Duration,
) -> AuditReport {
    settle_until(bus, store, d, deadline, AuditReport::clean).await
}

/// [`settle`] with another idea of done.
pub async fn settle_until(
    bus: &dyn EventBus,
    store: &dyn StateStore,
    d: &Deployment,
    deadline: Duration,
    done: impl Fn(&AuditReport) -> bool,
) -> AuditReport {
    let until = Instant::now() + deadline;
    let mut round = 0;
    loop {
        round += 1;
        let first = Duration::from_secs(60);
        let idle = Duration::from_secs(3);
        let market = drain(
            bus,
            &d.market(),
            &format!("{}-audit-m-{round}", d.ns),
            first,
            idle,
        )
        .await
        .unwrap();
        let matches = drain(
            bus,
            &d.matches(),
            &format!("{}-audit-x-{round}", d.ns),
            first,
            idle,
        )
        .await
        .unwrap();
        // The store may be coming back from an outage: retry its reads.
        let report = match audit(&market, &matches, store, &d.ns, &EngineConfig::default()).await {
            Ok(r) => r,
            Err(e) if Instant::now() < until => {
                eprintln!("audit: {e}; again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => panic!("audit: {e}"),
        };
        if done(&report) || Instant::now() > until {
            return report;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub fn wait_for(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One row of the reliability table (`benches/reliability.sh` collects
/// these lines from the tests' output).
pub fn reliability(check: &str, load: &str, report: &AuditReport, note: &str) {
    println!(
        "reliability|{check}|{load}|{}|{}|{}|{note}",
        report.market_records,
        report.missing.len() + report.conflicting_duplicates.len(),
        report.double_booked.len()
    );
}

/// POST a JSON body with a bearer token and headers.
pub fn http_post(
    port: u16,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let auth = format!("Bearer {token}");
    let mut all = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    all.extend_from_slice(headers);
    http(port, "POST", path, &all, body)
}

//! `lendwork serve --demo` as a real process, met from outside:
//!
//! * schemathesis (PyPI) reads `/openapi.json` and fuzzes every operation
//!   as an enterprise, an agency and an operator: no response may be a
//!   server error;
//! * Debian's headless Chromium (driven by playwright-core,
//!   `tests/browser/dashboard.mjs`) opens the dashboard, sees the counters
//!   move, a chart render and the language switch, and saves a screenshot
//!   to `target/test-infra/dashboard.png`.
//!
//! Both tools are installed by `scripts/test-infra`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use lendwork_ports::contract::test_infra;
use support::free_port;

struct Serve {
    child: Child,
    port: u16,
    tokens: Vec<(String, String)>,
}

impl Serve {
    fn start() -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lendwork"))
            .args([
                "serve",
                "--demo",
                "--demo-rate",
                "300",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lendwork serve starts");
        let mut tokens = Vec::new();
        let out = BufReader::new(child.stdout.take().unwrap());
        for line in out.lines() {
            let line = line.unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 5 && f[0] == "demo" && f[1] == "token" {
                tokens.push((f[2].to_owned(), f[4].to_owned()));
            }
            if tokens.len() == 3 {
                break;
            }
        }
        assert_eq!(tokens.len(), 3, "serve --demo prints three demo tokens");
        Self {
            child,
            port,
            tokens,
        }
    }
    fn token(&self, role: &str) -> &str {
        &self.tokens.iter().find(|(r, _)| r == role).unwrap().1
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn schemathesis_finds_no_server_error() {
    let s = Serve::start();
    let st = test_infra("LENDWORK_SCHEMATHESIS");
    for role in ["enterprise", "agency", "operator"] {
        let out = Command::new(&st)
            .args([
                "run",
                &format!("http://127.0.0.1:{}/openapi.json", s.port),
                "--checks",
                "not_a_server_error",
                "--header",
                &format!("Authorization: Bearer {}", s.token(role)),
                "--max-examples",
                "25",
                "--exclude-path",
                "/v1/feed",
                "--seed",
                "1",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {role}: {}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("passed"), "{text}");
    }
}

#[test]
fn the_dashboard_moves_in_headless_chromium() {
    let s = Serve::start();
    let dir = test_infra("LENDWORK_BROWSER_DIR");
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-infra/dashboard.png");
    let out = Command::new("node")
        .arg("dashboard.mjs")
        .arg(format!("http://127.0.0.1:{}/dashboard", s.port))
        .arg(s.token("operator"))
        .arg(&shot)
        .current_dir(dir)
        .env("CHROMIUM", test_infra("LENDWORK_CHROMIUM"))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("proposals_later"), "{report}");
    assert!(shot.exists(), "a screenshot was saved");
}

/// `lendwork gateway` over Tansu and redis-server, with a matcher: a client
/// writes with idempotency keys and retries while the gateway is killed and
/// restarted; every acknowledged event is in the log, and the audit finds
/// nothing lost and nobody double-booked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_restart_loses_no_acknowledged_event() {
    use std::time::{Duration, Instant};
    use support::{http_post, reliability, settle, Deployment, MatcherProcess};
    let d = Deployment {
        kafka: test_infra("LENDWORK_TEST_KAFKA"),
        redis: test_infra("LENDWORK_TEST_REDIS"),
        ns: lendwork_ports::contract::fresh_namespace("gwr"),
        partitions: 4,
    };
    let (ent, agency) = ("restart-enterprise-token-01", "restart-agency-token-00002");
    let tokens = format!("enterprise:ent-r:{ent};agency:agency-r:{agency}");
    let port = free_port();
    let start_gateway = || {
        Command::new(env!("CARGO_BIN_EXE_lendwork"))
            .arg("gateway")
            .args(d.args())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("LENDWORK_GATEWAY_TOKENS", &tokens)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lendwork gateway starts")
    };
    let _m = MatcherProcess::start(&d);
    let mut g = start_gateway();
    let mut writes: Vec<(&str, &str, String)> = Vec::new();
    // Dates from today: the gateway refuses windows already over.
    let day = |n: i64| {
        lendwork_gateway::now_timestamp()
            .market_date()
            .plus_days(n)
            .to_string()
    };
    let (start, end, from, to) = (day(30), day(59), day(0), day(300));
    for i in 0..40 {
        let region = if i % 2 == 0 { "620100" } else { "620200" };
        writes.push(("/v1/shortages", ent, format!(
            r#"{{"gap_id":"gr-{i}","region":"{region}","site":{{"lat":36.06,"lon":103.83}},"requirements":[],"certificates":[],"headcount":2,"window":{{"start":"{start}","end":"{end}"}},"hourly_wage_fen":3000}}"#
        )));
        for j in 0..2 {
            writes.push(("/v1/workers", agency, format!(
                r#"{{"worker_id":"wr-{i}-{j}","region":"{region}","home":{{"lat":36.07,"lon":103.84}},"skills":[],"certificates":[],"available":{{"start":"{from}","end":"{to}"}},"max_commute_km":30.0,"min_hourly_wage_fen":2000,"consent":true}}"#
            )));
        }
    }
    let mut acked: Vec<String> = Vec::new();
    let mut retries = 0;
    let t0 = Instant::now();
    for (n, (path, token, body)) in writes.iter().enumerate() {
        if n == writes.len() / 2 {
            let _ = g.kill();
            let _ = g.wait();
            g = start_gateway();
        }
        let key = format!("write-{n}");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match http_post(port, path, token, &[("Idempotency-Key", &key)], body) {
                Some((202, text)) => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    acked.push(v["event_id"].as_str().unwrap().to_owned());
                    break;
                }
                Some((code, text)) if code < 500 => panic!("{path}: {code} {text}"),
                _ => {
                    retries += 1;
                    assert!(Instant::now() < deadline, "the gateway came back");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    let rate = writes.len() as f64 / t0.elapsed().as_secs_f64();
    let _ = g.kill();
    let _ = g.wait();
    let bus =
        lendwork_kafka::KafkaBus::new(&lendwork_kafka::KafkaConfig::new(d.kafka.clone())).unwrap();
    let store = lendwork_redis::RedisStore::connect(&d.redis).await.unwrap();
    let report = settle(&bus, &store, &d, Duration::from_secs(120)).await;
    let market = lendwork_matcher::audit::drain(
        &bus,
        &d.market(),
        &format!("{}-ids", d.ns),
        Duration::from_secs(60),
        Duration::from_secs(3),
    )
    .await
    .unwrap();
    let in_log: std::collections::HashSet<String> = market
        .iter()
        .filter_map(|r| {
            lendwork_domain::Event::from_json(std::str::from_utf8(&r.payload).unwrap()).ok()
        })
        .map(|e| e.id.to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !in_log.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    assert_eq!(acked.len(), writes.len());
    assert!(report.clean(), "{report:#?}");
    assert!(report.published_ids > 10, "{report:#?}");
    reliability(
        "gateway killed and restarted under writes",
        &format!("{rate:.0} writes/s offered by one client"),
        &report,
        &format!(
            "{} acknowledged, 0 missing from the log, {retries} client retries",
            acked.len()
        ),
    );
}

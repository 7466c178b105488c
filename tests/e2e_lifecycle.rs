//! The lending lifecycle end to end through the HTTP API of a real
//! `lendwork serve`, on the embedded default (`--data DIR`) and on Kafka
//! (Tansu) and Redis (`redis-server`): a borrower posts, a lender offers an
//! employee, the borrower accepts (start refused), the lender and the
//! worker (through the link the lender sends) accept, everyone signs the
//! same hash (start refused before the last signature), the worker starts,
//! returns early through the link, and the position is back-filled by
//! another worker — then `audit` (the log replayed against what was
//! published, and nobody double-booked) is clean.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lendwork_engine::EngineConfig;
use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_matcher::audit::audit;
use lendwork_ports::contract::{fresh_namespace, test_infra};
use lendwork_redis::RedisStore;
use lendwork_sqlite::SqliteData;
use serde_json::{json, Value};
use support::{free_port, http, settle, wait_for, Deployment, RedisServer};

const BORROWER: &str = "lifecycle-borrower-token-01";
const LENDER: &str = "lifecycle-lender-token-0002";
const AGENCY: &str = "lifecycle-agency-token-0003";

fn tokens() -> String {
    format!("enterprise:ent-a:{BORROWER};enterprise:ent-b:{LENDER};agency:agency-x:{AGENCY}")
}

fn day(n: i64) -> String {
    lendwork_gateway::now_timestamp()
        .market_date()
        .plus_days(n)
        .to_string()
}

/// `lendwork serve` with `args`, on `port`.
fn serve(args: &[String], port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lendwork"))
        .arg("serve")
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("LENDWORK_GATEWAY_TOKENS", tokens())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("lendwork serve starts")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a.as_str()));
    }
    let (code, text) = http(port, method, path, &h, body).unwrap_or((0, String::new()));
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ok(port: u16, path: &str, token: Option<&str>, body: &str) {
    let (code, v) = call(port, "POST", path, token, body);
    assert_eq!(code, 202, "POST {path}: {v}");
}

fn refused(port: u16, path: &str, token: Option<&str>, body: &str) -> Value {
    let (code, v) = call(port, "POST", path, token, body);
    assert_eq!(code, 409, "POST {path} must be refused: {v}");
    v
}

/// The borrower's view of `m`, once `done` holds.
fn view(port: u16, m: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    wait_for(what, Duration::from_secs(60), || {
        last = call(
            port,
            "GET",
            &format!("/v1/proposals/{m}"),
            Some(BORROWER),
            "",
        )
        .1;
        done(&last)
    });
    last
}

/// The borrower's standing proposal for gap `g`.
fn proposal_for(port: u16, g: &str) -> Value {
    let mut found = Value::Null;
    wait_for("a proposal", Duration::from_secs(60), || {
        let (_, v) = call(port, "GET", "/v1/proposals", Some(BORROWER), "");
        if let Some(p) = v["proposals"].as_array().and_then(|a| {
            a.iter()
                .find(|p| p["gap_id"] == g && p["status"] == "proposed")
                .cloned()
        }) {
            found = p;
            return true;
        }
        false
    });
    found
}

fn worker(id: &str, km_east: f64) -> Value {
    json!({"worker_id": id, "region": "620100", "home": {"lat": 36.06, "lon": 103.83 + km_east / 90.0},
        "skills": [{"skill": "forklift", "level": 3}], "certificates": [],
        "available": {"start": day(-60), "end": day(365)}, "max_commute_km": 30.0,
        "min_hourly_wage_fen": 2000, "consent": true, "display_name": "李华"})
}

/// The walk through the API (see the module docs).
fn walk(port: u16) {
    wait_for("serve answers", Duration::from_secs(60), || {
        http(port, "GET", "/healthz", &[], "").is_some()
    });
    let gap = json!({"gap_id": "g-life", "region": "620100", "site": {"lat": 36.06, "lon": 103.83},
        "requirements": [{"skill": "forklift", "min_level": 2}], "certificates": [], "headcount": 1,
        "window": {"start": day(-5), "end": day(5)}, "hourly_wage_fen": 3000,
        "title": "叉车司机 Forklift driver", "hours_per_day": 8});
    ok(port, "/v1/shortages", Some(BORROWER), &gap.to_string());
    ok(
        port,
        "/v1/workers",
        Some(LENDER),
        &json!({"workers": [worker("e-1", 1.0)]}).to_string(),
    );
    let m = proposal_for(port, "g-life")["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("/v1/proposals/{m}");
    ok(port, &format!("{base}/accept"), Some(BORROWER), "");
    view(port, &m, "the borrower's acceptance", |v| {
        v["accepted"] == json!(["borrower"])
    });
    refused(port, &format!("{base}/start"), Some(BORROWER), "");
    ok(port, &format!("{base}/accept"), Some(LENDER), "");
    view(port, &m, "the lender's acceptance", |v| {
        v["accepted"].as_array().is_some_and(|a| a.len() == 2)
    });
    let (code, link) = call(
        port,
        "POST",
        &format!("{base}/worker-link"),
        Some(LENDER),
        "",
    );
    assert_eq!(code, 201, "{link}");
    let api = link["api"].as_str().unwrap().to_owned();
    let page = http(port, "GET", link["url"].as_str().unwrap(), &[], "").unwrap();
    assert_eq!(page.0, 200);
    assert!(
        page.1.contains("用工邀请"),
        "the worker's page is in Chinese first"
    );
    ok(port, &format!("{api}/accept"), None, "{}");
    let agreed = view(port, &m, "the agreement", |v| v["status"] == "agreed");
    let sha = agreed["agreement_sha256"].as_str().unwrap().to_owned();
    let doc = http(port, "GET", &format!("{api}/agreement"), &[], "").unwrap();
    assert_eq!(doc.0, 200);
    assert!(
        doc.1.contains("不得扣减") && doc.1.contains("李华"),
        "the pack names the worker and the pass-through rule"
    );
    let signature = format!(r#"{{"document_sha256":"{sha}"}}"#);
    ok(port, &format!("{base}/sign"), Some(BORROWER), &signature);
    ok(port, &format!("{base}/sign"), Some(LENDER), &signature);
    view(port, &m, "two signatures", |v| {
        v["signed"].as_array().is_some_and(|a| a.len() == 2)
    });
    refused(port, &format!("{base}/start"), Some(BORROWER), "");
    ok(port, &format!("{api}/sign"), None, &signature);
    view(port, &m, "every signature", |v| v["status"] == "signed");
    ok(port, &format!("{base}/start"), Some(BORROWER), "");
    view(port, &m, "the start", |v| v["status"] == "started");
    refused(
        port,
        &format!("{base}/end"),
        Some(BORROWER),
        r#"{"outcome":"completed"}"#,
    );
    ok(
        port,
        &format!("{api}/return"),
        None,
        r#"{"reason":"家里有事 family matters"}"#,
    );
    view(port, &m, "the return", |v| v["status"] == "returned");
    // Back-fill: another worker takes the position; not the one who left.
    ok(
        port,
        "/v1/workers",
        Some(AGENCY),
        &json!({"workers": [worker("f-1", 3.0)]}).to_string(),
    );
    let next = proposal_for(port, "g-life");
    assert_eq!(next["worker_id"], "f-1", "{next}");
    let (_, g) = call(port, "GET", "/v1/shortages/g-life", Some(BORROWER), "");
    assert_eq!(
        (g["open"].as_u64(), g["proposed"].as_u64()),
        (Some(1), Some(1)),
        "{g}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_through_the_api_on_the_embedded_default() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(fresh_namespace("lifecycle"));
    let port = free_port();
    let server = Killed(serve(&["--data".into(), dir.display().to_string()], port));
    tokio::task::spawn_blocking(move || walk(port))
        .await
        .unwrap();
    drop(server);
    let data = SqliteData::open(&dir).unwrap();
    let drain = |topic: &'static str| {
        let bus = data.bus();
        async move {
            lendwork_matcher::audit::drain(
                bus.as_ref(),
                topic,
                &fresh_namespace("audit"),
                Duration::from_secs(10),
                Duration::from_secs(1),
            )
            .await
            .unwrap()
        }
    };
    let market = drain("lendwork.market.v1").await;
    let matches = drain("lendwork.matches.v1").await;
    let report = audit(
        &market,
        &matches,
        data.store().as_ref(),
        "lendwork",
        &EngineConfig::default(),
    )
    .await
    .unwrap();
    assert!(report.clean(), "{report:#?}");
    drop(data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_through_the_api_on_kafka_and_redis() {
    let redis = RedisServer::start();
    let d = Deployment {
        kafka: test_infra("LENDWORK_TEST_KAFKA"),
        redis: redis.url(),
        ns: fresh_namespace("lifecycle"),
        partitions: 2,
    };
    let port = free_port();
    let server = Killed(serve(&d.args(), port));
    tokio::task::spawn_blocking(move || walk(port))
        .await
        .unwrap();
    drop(server);
    let bus = KafkaBus::new(&KafkaConfig::new(d.kafka.clone())).unwrap();
    let store = RedisStore::connect(&d.redis).await.unwrap();
    let report = settle(&bus, &store, &d, Duration::from_secs(60)).await;
    assert!(report.clean(), "{report:#?}");
}

//! The embedded default on disk, met from outside: real `lendwork serve
//! --data DIR` processes.
//!
//! * clients write shortages and workers with `Idempotency-Key`s while the
//!   process is killed with SIGKILL at random moments (twenty times) and
//!   restarted; at the end every write answered 202 is in the log and
//!   visible through the API, and the audit (a replay of the log against
//!   the published proposals and the views) is clean;
//! * a second `serve` on the same directory is refused, and so is a
//!   directory of an unknown format version, naming the version;
//! * `export` → `validate` → `publish` to Tansu → `lendwork matcher` gives
//!   the same proposals, with the same ids, as the embedded run.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lendwork_domain::{Event, EventKind};
use lendwork_engine::EngineConfig;
use lendwork_matcher::audit::{audit, drain};
use lendwork_ports::contract::{fresh_namespace, test_infra};
use lendwork_ports::EventBus;
use lendwork_sqlite::SqliteData;
use lendwork_state::routes::Router;
use support::{free_port, http, http_post, wait_for, Deployment, MatcherProcess};

const ENT: &str = "embedded-enterprise-token-1";
const AGENCY: &str = "embedded-agency-token-00002";

fn tokens() -> String {
    format!("enterprise:ent-e:{ENT};agency:agency-e:{AGENCY}")
}

/// A fresh data directory under the target directory.
fn data_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(fresh_namespace(name));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `lendwork serve --data DIR` on `port`.
fn serve(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lendwork"))
        .args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("LENDWORK_GATEWAY_TOKENS", tokens())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("lendwork serve starts")
}

/// A server process, killed when the test ends however it ends.
struct Server(Mutex<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut c) = self.0.lock() {
            kill(&mut c);
        }
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The market day `n` days from today (the gateway refuses windows
/// already over).
fn day(n: i64) -> String {
    lendwork_gateway::now_timestamp()
        .market_date()
        .plus_days(n)
        .to_string()
}

fn shortage(i: usize) -> String {
    let region = if i % 2 == 0 { "620100" } else { "620200" };
    let (start, end) = (day(30), day(59));
    format!(
        r#"{{"gap_id":"ge-{i}","region":"{region}","site":{{"lat":36.06,"lon":103.83}},"requirements":[],"certificates":[],"headcount":2,"window":{{"start":"{start}","end":"{end}"}},"hourly_wage_fen":3000}}"#
    )
}

fn worker(i: usize, j: usize) -> String {
    let region = if i % 2 == 0 { "620100" } else { "620200" };
    let (from, to) = (day(0), day(300));
    format!(
        r#"{{"worker_id":"we-{i}-{j}","region":"{region}","home":{{"lat":36.07,"lon":103.84}},"skills":[],"certificates":[],"available":{{"start":"{from}","end":"{to}"}},"max_commute_km":30.0,"min_hourly_wage_fen":2000,"consent":true}}"#
    )
}

/// Every record of `topic` in the data directory at `dir`.
async fn records(data: &SqliteData, topic: &str, group: &str) -> Vec<lendwork_ports::Record> {
    drain(
        data.bus().as_ref(),
        topic,
        group,
        Duration::from_secs(5),
        Duration::from_millis(500),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_data_loses_no_acknowledged_write_across_twenty_sigkills() {
    let dir = data_dir("crash");
    let port = free_port();
    let server = Server(Mutex::new(serve(&dir, port)));
    wait_for("serve to listen", Duration::from_secs(60), || {
        http(port, "GET", "/healthz", &[], "").is_some()
    });
    // Two clients write, each retrying a write with its key until it is
    // answered 202, until the main thread has killed (SIGKILL) and
    // restarted the server twenty times.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mut clients = Vec::new();
    for half in 0..2 {
        let (acked, stop) = (acked.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let mut i = half;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = vec![("/v1/shortages", ENT, shortage(i), format!("gap-{i}"))];
                for j in 0..2 {
                    batch.push((
                        "/v1/workers",
                        AGENCY,
                        worker(i, j),
                        format!("worker-{i}-{j}"),
                    ));
                }
                for (path, token, body, key) in batch {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    loop {
                        match http_post(port, path, token, &[("Idempotency-Key", &key)], &body) {
                            Some((202, text)) => {
                                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                                let id = v["event_id"].as_str().unwrap().to_owned();
                                acked.lock().unwrap().push((key.clone(), id));
                                break;
                            }
                            Some((code, text)) if code < 500 && code != 429 => {
                                panic!("{path}: {code} {text}")
                            }
                            _ => {
                                assert!(Instant::now() < deadline, "the server came back");
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                }
                i += 2;
            }
            i / 2
        }));
    }
    let mut kills = 0;
    let mut seed = 0x9e37_79b9_u64;
    while kills < 20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(100 + (seed >> 33) % 400));
        let mut c = server.0.lock().unwrap();
        kill(&mut c); // SIGKILL
        kills += 1;
        *c = serve(&dir, port);
    }
    stop.store(true, Ordering::Relaxed);
    let gaps: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), gaps * 3, "every write acknowledged once");

    // Visible through the API once the matcher has caught up: each gap's
    // view, not `pending`.
    let posted: Vec<&str> = acked
        .iter()
        .filter_map(|(key, _)| key.strip_prefix("gap-"))
        .collect();
    assert_eq!(posted.len(), gaps);
    for i in posted {
        let path = format!("/v1/shortages/ge-{i}");
        wait_for(&path, Duration::from_secs(120), || {
            let auth = format!("Bearer {ENT}");
            matches!(
                http(port, "GET", &path, &[("Authorization", &auth)], ""),
                Some((200, body)) if !body.contains("\"pending\"")
            )
        });
    }
    kill(&mut server.0.lock().unwrap());

    let data = SqliteData::open(&dir).unwrap();
    let market = records(&data, "lendwork.market.v1", "check-market").await;
    let matches = records(&data, "lendwork.matches.v1", "check-matches").await;
    let in_log: HashSet<String> = market
        .iter()
        .filter_map(|r| Event::from_json(std::str::from_utf8(&r.payload).unwrap()).ok())
        .map(|e| e.id.to_string())
        .collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|(_, id)| !in_log.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    // The same key always named the same event.
    let by_key: BTreeMap<&String, &String> = acked.iter().map(|(k, id)| (k, id)).collect();
    assert_eq!(by_key.len(), acked.len());
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
    assert!(report.published_ids > 10, "{report:#?}");
    support::reliability(
        "serve --data killed 20 times under writes",
        &format!("2 clients, {} writes with Idempotency-Keys", acked.len()),
        &report,
        &format!("{kills} SIGKILLs, {} acknowledged, 0 missing", acked.len()),
    );
    drop(data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_serve_on_the_same_directory_is_refused() {
    let dir = data_dir("locked");
    let port = free_port();
    let first = Server(Mutex::new(serve(&dir, port)));
    wait_for("serve to listen", Duration::from_secs(60), || {
        http(port, "GET", "/healthz", &[], "").is_some()
    });
    let out = Command::new(env!("CARGO_BIN_EXE_lendwork"))
        .args(["serve", "--data"])
        .arg(&dir)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("LENDWORK_GATEWAY_TOKENS", tokens())
        .output()
        .unwrap();
    drop(first);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another Lendwork process") && err.contains(dir.to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn a_directory_of_an_unknown_format_version_is_refused_naming_the_version() {
    let dir = data_dir("format");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("FORMAT"), "7\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lendwork"))
        .args(["serve", "--data"])
        .arg(&dir)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("LENDWORK_GATEWAY_TOKENS", tokens())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("format version \"7\""), "{err}");
    assert!(err.contains("reads format version 1"), "{err}");
}

/// (match id, gap, worker) of every proposal on a matches topic.
fn proposals(records: &[lendwork_ports::Record]) -> BTreeSet<(String, String, String)> {
    records
        .iter()
        .filter_map(|r| Event::from_json(std::str::from_utf8(&r.payload).unwrap()).ok())
        .filter_map(|e| match e.kind {
            EventKind::MatchProposed(p) => Some((
                p.match_id.to_string(),
                p.gap_id.to_string(),
                p.worker_id.to_string(),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_market_published_to_kafka_gives_the_same_proposals() {
    // The embedded run: a simulated market through the embedded matcher on
    // a data directory, as `lendwork serve` runs it.
    let dir = data_dir("export");
    let events = support::sim_events(3_000, 500, 2, 21);
    let embedded = {
        let data = SqliteData::open(&dir).unwrap();
        let (bus, store) = (data.bus(), data.store());
        let mut opts = lendwork_matcher::MatcherOptions::for_tests("lendwork");
        opts.partitions = 12;
        opts.max_batch = 500;
        for t in [&opts.market_topic, &opts.matches_topic] {
            bus.ensure_topic(t, opts.partitions).await.unwrap();
        }
        let router = Router::new("lendwork");
        support::publish(
            bus.as_ref(),
            store.as_ref(),
            &router,
            &opts.market_topic,
            &events,
        )
        .await;
        let health = Arc::new(lendwork_matcher::Health::default());
        let mut m =
            lendwork_matcher::Matcher::new(bus.clone(), store.clone(), opts, health.clone());
        let total = events.len() as u64;
        let stop = async {
            while health.records.load(Ordering::Relaxed) < total {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        m.run(stop).await.unwrap();
        proposals(&records(&data, "lendwork.matches.v1", "embedded-matches").await)
    };
    assert!(embedded.len() > 100, "{}", embedded.len());

    // export → validate → publish (Tansu, redis-server) → lendwork matcher.
    let file = dir.with_extension("jsonl");
    let routes = dir.with_extension("routes.jsonl");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lendwork"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lendwork {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let (dir_s, file_s, routes_s) = (
        dir.to_str().unwrap(),
        file.to_str().unwrap(),
        routes.to_str().unwrap(),
    );
    run(&[
        "export", "--data", dir_s, "--out", file_s, "--routes", routes_s,
    ]);
    run(&["validate", file_s]);
    let d = Deployment {
        kafka: test_infra("LENDWORK_TEST_KAFKA"),
        redis: test_infra("LENDWORK_TEST_REDIS"),
        ns: fresh_namespace("export"),
        partitions: 12,
    };
    let mut publish = vec!["publish".to_owned()];
    publish.extend(d.args());
    publish.extend([
        "--events".into(),
        file_s.into(),
        "--routes".into(),
        routes_s.into(),
    ]);
    run(&publish.iter().map(String::as_str).collect::<Vec<_>>());
    let _m = MatcherProcess::start(&d);
    let bus =
        lendwork_kafka::KafkaBus::new(&lendwork_kafka::KafkaConfig::new(d.kafka.clone())).unwrap();
    let store = lendwork_redis::RedisStore::connect(&d.redis).await.unwrap();
    let report = support::settle_until(&bus, &store, &d, Duration::from_secs(180), |r| {
        r.clean() && r.published_ids >= embedded.len()
    })
    .await;
    assert!(report.clean(), "{report:#?}");
    let on_kafka = proposals(
        &drain(
            &bus,
            &d.matches(),
            &format!("{}-cmp", d.ns),
            Duration::from_secs(60),
            Duration::from_secs(3),
        )
        .await
        .unwrap(),
    );
    assert_eq!(on_kafka, embedded, "the same proposals, with the same ids");
    for f in [&file, &routes] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

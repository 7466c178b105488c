//! End to end against real servers: Tansu (a Kafka-protocol broker) and
//! `redis-server`, both started by `scripts/test-infra` or by the test, and
//! `lendwork matcher` processes.
//!
//! * events in, proposals out, read models right — across a SIGKILL of the
//!   matcher in the middle of the stream and a restart;
//! * two matchers in one group split the partitions, and the survivor takes
//!   over when one is killed, starting from the partitions' snapshots in
//!   Redis and replaying only the records after them from Tansu;
//! * Redis stopped under a running matcher: readiness says so, the matcher
//!   waits, and resumes by itself when Redis is back.
//!
//! After each, [`support::settle`] replays the market topic and checks the
//! matches topic and the Redis views against it: nothing lost, duplicates
//! identical, nobody double-booked.

mod support;

use std::time::Duration;

use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_ports::contract::{fresh_namespace, test_infra};
use lendwork_ports::EventBus;
use lendwork_redis::RedisStore;
use lendwork_state::routes::Router;
use support::*;

fn deployment(redis: String, partitions: u32) -> Deployment {
    Deployment {
        kafka: test_infra("LENDWORK_TEST_KAFKA"),
        redis,
        ns: fresh_namespace("e2e"),
        partitions,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matcher_killed_mid_stream_and_restarted_loses_nothing() {
    let d = deployment(test_infra("LENDWORK_TEST_REDIS"), 4);
    let bus = KafkaBus::new(&KafkaConfig::new(d.kafka.clone())).unwrap();
    bus.ensure_topic(&d.market(), d.partitions).await.unwrap();
    let store = RedisStore::connect(&d.redis).await.unwrap();
    let router = Router::new(d.ns.clone());
    let events = sim_events(1500, 200, 3, 21);
    let (first, second) = events.split_at(events.len() / 2);
    publish(&bus, &store, &router, &d.market(), first).await;

    let mut m = MatcherProcess::start(&d);
    // Killed as soon as it has started on the first batch (polled every
    // few milliseconds): records read, some effects made, commits behind.
    let until = std::time::Instant::now() + Duration::from_secs(90);
    while m.metric("lendwork_matcher_records_total") == 0 {
        assert!(
            std::time::Instant::now() < until,
            "the matcher handles records"
        );
        std::thread::sleep(Duration::from_millis(3));
    }
    m.kill();
    publish(&bus, &store, &router, &d.market(), second).await;
    let m2 = MatcherProcess::start(&d);
    wait_for(
        "the restarted matcher to be ready",
        Duration::from_secs(90),
        || m2.get("/readyz").is_some_and(|(code, _)| code == 200),
    );
    let report = settle(&bus, &store, &d, Duration::from_secs(120)).await;
    assert!(report.clean(), "{report:#?}");
    assert_eq!(report.market_records, events.len());
    assert!(report.published_ids > 100, "{report:#?}");
    assert!(m2.metric("lendwork_matcher_rebuilds_total") >= 1);
    reliability(
        "matcher SIGKILL mid-stream, restarted",
        "-",
        &report,
        &format!("{} duplicates re-published", report.duplicates),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_matchers_split_the_regions_and_one_survives_the_other() {
    let d = deployment(test_infra("LENDWORK_TEST_REDIS"), 6);
    let bus = KafkaBus::new(&KafkaConfig::new(d.kafka.clone())).unwrap();
    bus.ensure_topic(&d.market(), d.partitions).await.unwrap();
    let store = RedisStore::connect(&d.redis).await.unwrap();
    let router = Router::new(d.ns.clone());
    let events = sim_events(2000, 260, 8, 33);
    let (first, second) = events.split_at(events.len() * 2 / 3);

    // Snapshots after 50 records of a partition (at the latest after 100,
    // with the records flowing), so the survivor's takeover starts from
    // the ones the killed matcher wrote.
    let every = [("LENDWORK_MATCHER__SNAPSHOT_EVERY", "50")];
    let a = MatcherProcess::start_with(&d, &every);
    let mut b = MatcherProcess::start_with(&d, &every);
    for m in [&a, &b] {
        wait_for("both matchers ready", Duration::from_secs(90), || {
            m.get("/readyz").is_some_and(|(code, _)| code == 200)
        });
    }
    publish(&bus, &store, &router, &d.market(), first).await;
    wait_for("both matchers to work", Duration::from_secs(120), || {
        a.metric("lendwork_matcher_records_total") + b.metric("lendwork_matcher_records_total")
            >= first.len() as u64
    });
    let (ra, rb) = (
        a.metric("lendwork_matcher_records_total"),
        b.metric("lendwork_matcher_records_total"),
    );
    assert!(
        ra > 0 && rb > 0,
        "the group split the partitions: {ra} and {rb}"
    );
    // b's snapshots are written after its batches (as the records flow):
    // under a loaded machine the last records can be handled before any
    // snapshot is down, and the takeover this test is about needs one.
    wait_for("b to write a snapshot", Duration::from_secs(60), || {
        b.metric("lendwork_matcher_snapshots_written_total") >= 1
    });
    b.kill();
    publish(&bus, &store, &router, &d.market(), second).await;
    let report = settle(&bus, &store, &d, Duration::from_secs(150)).await;
    assert!(report.clean(), "{report:#?}");
    assert_eq!(report.market_records, events.len());
    assert!(
        a.metric("lendwork_matcher_rebuilds_total") >= 1,
        "a took over b's partitions"
    );
    assert!(
        a.metric("lendwork_matcher_snapshots_restored_total") >= 1,
        "from b's snapshots"
    );
    assert_eq!(a.metric("lendwork_matcher_snapshots_refused_total"), 0);
    assert!(
        a.metric("lendwork_matcher_replayed_total") < rb,
        "replaying less than b had handled"
    );
    reliability(
        "one of two matchers SIGKILLed",
        "-",
        &report,
        &format!("split {ra}/{rb} records before the kill"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_makes_the_matcher_unready_and_it_resumes_by_itself() {
    let mut redis = RedisServer::start();
    let d = deployment(redis.url(), 2);
    let bus = KafkaBus::new(&KafkaConfig::new(d.kafka.clone())).unwrap();
    bus.ensure_topic(&d.market(), d.partitions).await.unwrap();
    let store = RedisStore::connect(&d.redis).await.unwrap();
    let router = Router::new(d.ns.clone());
    let events = sim_events(600, 80, 2, 5);
    // Route everything while Redis is up (the gateway's job).
    let mut records = Vec::new();
    for e in &events {
        records.push((router.region(&store, e).await.unwrap(), e.clone()));
    }
    let (first, second) = records.split_at(records.len() / 2);
    let m = MatcherProcess::start(&d);
    wait_for("ready", Duration::from_secs(90), || {
        m.get("/readyz").is_some_and(|(code, _)| code == 200)
    });
    let send = |part: &[(lendwork_domain::Region, lendwork_domain::Event)]| {
        part.iter()
            .map(|(r, e)| {
                (
                    bytes::Bytes::from(r.to_string()),
                    bytes::Bytes::from(e.to_json()),
                )
            })
            .collect::<Vec<_>>()
    };
    bus.publish_all(&d.market(), &send(first)).await.unwrap();
    wait_for("the first half handled", Duration::from_secs(90), || {
        m.metric("lendwork_matcher_batches_total") > 0
            && m.metric("lendwork_matcher_records_total") >= first.len() as u64
    });
    redis.stop();
    bus.publish_all(&d.market(), &send(second)).await.unwrap();
    wait_for(
        "readiness to report the outage",
        Duration::from_secs(30),
        || {
            m.get("/readyz")
                .is_some_and(|(code, body)| code == 503 && body.contains("\"redis\":false"))
        },
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.resume();
    wait_for("ready again", Duration::from_secs(60), || {
        m.get("/readyz").is_some_and(|(code, _)| code == 200)
    });
    // The views written before the outage are gone with that redis-server
    // (it keeps nothing on disk); what matters here is that the stream
    // went on: every output published, nothing lost.
    let report = settle_until(&bus, &store, &d, Duration::from_secs(90), |r| {
        r.missing.is_empty() && r.unexpected.is_empty() && r.conflicting_duplicates.is_empty()
    })
    .await;
    assert_eq!(report.market_records, events.len());
    assert!(
        report.missing.is_empty()
            && report.unexpected.is_empty()
            && report.conflicting_duplicates.is_empty(),
        "{report:#?}"
    );
    reliability(
        "Redis down and back",
        "-",
        &report,
        "readiness 503 during the outage, resumed by itself",
    );
}

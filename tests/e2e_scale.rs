//! Scale-out on one machine: three `lendwork matcher` processes in one
//! group over Tansu (12 partitions) and a simulated province of 20 regions.
//! While events flow, one matcher is killed (SIGKILL) and another added.
//! Then every region is probed (a fresh worker and a fresh gap that fit
//! each other, stamped after everything else) and the time until each
//! region makes a proposal again is measured. Finally the audit: nothing
//! lost, duplicates identical, nobody double-booked.
//!
//! The measured figures are printed (`cargo test … -- --nocapture`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lendwork_domain::*;
use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_ports::contract::{fresh_namespace, test_infra};
use lendwork_ports::EventBus;
use lendwork_redis::RedisStore;
use lendwork_state::routes::Router;
use support::*;

fn probe(region: &Region, n: u32, at: Timestamp, site: Place) -> Vec<Event> {
    let w = Window::new(
        Date::parse("2027-06-01").unwrap(),
        Date::parse("2027-06-02").unwrap(),
    )
    .unwrap();
    vec![
        Event {
            id: EventId::new(format!("evt-probe-w-{region}-{n}")).unwrap(),
            at,
            kind: EventKind::WorkerOffered(WorkerOffered {
                worker_id: WorkerId::new(format!("probe-w-{region}-{n}")).unwrap(),
                region: region.clone(),
                home: site,
                skills: vec![],
                certificates: vec![],
                available: w,
                max_commute_km: Km::new(50.0).unwrap(),
                min_hourly_wage_fen: Fen::new(100).unwrap(),
                employer_id: None,
                consent: true,
                contract_end: None,
                priority_group: None,
                display_name: None,
            }),
        },
        Event {
            id: EventId::new(format!("evt-probe-g-{region}-{n}")).unwrap(),
            at,
            kind: EventKind::ShortagePosted(ShortagePosted {
                gap_id: GapId::new(format!("probe-g-{region}-{n}")).unwrap(),
                enterprise_id: EnterpriseId::new("probe-borrower").unwrap(),
                region: region.clone(),
                site,
                requirements: vec![],
                certificates: vec![],
                headcount: Headcount::new(1).unwrap(),
                window: w,
                hourly_wage_fen: Fen::new(100_000).unwrap(),
                max_commute_km: None,
                industry: None,
                title: None,
                description: None,
                hours_per_day: None,
            }),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_matchers_one_killed_one_added_twenty_regions_keep_being_served() {
    let d = Deployment {
        kafka: test_infra("LENDWORK_TEST_KAFKA"),
        redis: test_infra("LENDWORK_TEST_REDIS"),
        ns: fresh_namespace("scale"),
        partitions: 12,
    };
    let bus = Arc::new(KafkaBus::new(&KafkaConfig::new(d.kafka.clone())).unwrap());
    bus.ensure_topic(&d.market(), 12).await.unwrap();
    bus.ensure_topic(&d.matches(), 12).await.unwrap();
    let store = RedisStore::connect(&d.redis).await.unwrap();
    let router = Router::new(d.ns.clone());
    let events = sim_events(3000, 400, 20, 77);
    let mut sites: BTreeMap<Region, Place> = BTreeMap::new();
    for e in &events {
        if let EventKind::ShortagePosted(g) = &e.kind {
            sites.entry(g.region.clone()).or_insert(g.site);
        }
    }
    assert_eq!(sites.len(), 20, "twenty regions");

    // Watch the matches topic live: (region, event time) of each proposal.
    let seen: Arc<Mutex<Vec<(Region, Timestamp, Instant)>>> = Arc::default();
    {
        let (bus, seen, topic, group) = (
            bus.clone(),
            seen.clone(),
            d.matches(),
            format!("{}-watch", d.ns),
        );
        tokio::spawn(async move {
            let mut sub = bus.subscribe(&topic, &group).await.unwrap();
            while let Ok(r) = sub.next().await {
                if let Ok(e) = Event::from_json(std::str::from_utf8(&r.payload).unwrap()) {
                    if let EventKind::MatchProposed(p) = &e.kind {
                        seen.lock()
                            .unwrap()
                            .push((p.region.clone(), e.at, Instant::now()));
                    }
                }
            }
        });
    }

    let a = MatcherProcess::start(&d);
    let mut b = MatcherProcess::start(&d);
    let c = MatcherProcess::start(&d);
    for m in [&a, &b, &c] {
        wait_for("three matchers ready", Duration::from_secs(90), || {
            m.get("/readyz").is_some_and(|(code, _)| code == 200)
        });
    }
    let chunks: Vec<&[Event]> = events.chunks(events.len() / 4 + 1).collect();
    let load_start = Instant::now();
    publish(bus.as_ref(), &store, &router, &d.market(), chunks[0]).await;
    wait_for(
        "work spread over the three",
        Duration::from_secs(120),
        || {
            [&a, &b, &c]
                .iter()
                .filter(|m| m.metric("lendwork_matcher_records_total") > 0)
                .count()
                >= 2
        },
    );
    publish(bus.as_ref(), &store, &router, &d.market(), chunks[1]).await;
    // One leaves (SIGKILL) and one joins while events flow.
    b.kill();
    let dm = MatcherProcess::start(&d);
    publish(bus.as_ref(), &store, &router, &d.market(), chunks[2]).await;
    publish(bus.as_ref(), &store, &router, &d.market(), chunks[3]).await;
    let published = load_start.elapsed();
    wait_for("the new matcher ready", Duration::from_secs(90), || {
        dm.get("/readyz").is_some_and(|(code, _)| code == 200)
    });

    // Probe every region; time until each proposes again.
    let last = events.iter().map(|e| e.at).max().unwrap();
    let at = Timestamp::from_unix_seconds(last.unix_seconds() + 3600).unwrap();
    let probes: Vec<Event> = sites
        .iter()
        .flat_map(|(r, s)| probe(r, 1, at, *s))
        .collect();
    let t0 = Instant::now();
    publish(bus.as_ref(), &store, &router, &d.market(), &probes).await;
    let deadline = t0 + Duration::from_secs(180);
    let mut times: BTreeMap<Region, Duration> = BTreeMap::new();
    while times.len() < sites.len() && Instant::now() < deadline {
        for (r, when, got) in seen.lock().unwrap().iter() {
            if *when == at && !times.contains_key(r) {
                times.insert(r.clone(), got.saturating_duration_since(t0));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: BTreeSet<&Region> = sites.keys().filter(|r| !times.contains_key(*r)).collect();
    assert!(
        missing.is_empty(),
        "regions that made no proposal after the move: {missing:?}"
    );
    let mut ms: Vec<u128> = times.values().map(Duration::as_millis).collect();
    ms.sort_unstable();
    println!(
        "scale-out: 20 regions proposing again after kill+join: median {} ms, max {} ms; records a={} c={} new={}",
        ms[ms.len() / 2],
        ms[ms.len() - 1],
        a.metric("lendwork_matcher_records_total"),
        c.metric("lendwork_matcher_records_total"),
        dm.metric("lendwork_matcher_records_total"),
    );

    let offered = events.len() as f64 / published.as_secs_f64();
    let handled = a.metric("lendwork_matcher_records_total")
        + c.metric("lendwork_matcher_records_total")
        + dm.metric("lendwork_matcher_records_total");
    let all: Vec<Event> = events.iter().chain(probes.iter()).cloned().collect();
    let report = settle(bus.as_ref(), &store, &d, Duration::from_secs(150)).await;
    assert!(report.clean(), "{report:#?}");
    reliability(
        "3 matchers, 20 regions: one SIGKILLed, one added",
        &format!("offered {offered:.0} ev/s, {handled} handled live by the survivors"),
        &report,
        &format!(
            "regions proposing again after {} ms (median), {} ms (max)",
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        ),
    );
    assert_eq!(report.market_records, all.len() + report.withheld);
}

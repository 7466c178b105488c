//! Streaming benchmark, in one run against one broker and one Redis:
//!
//! 1. raw `rdkafka`: produce N event-sized records (idempotent, acks=all)
//!    and consume them with a plain consumer — records per second, timed
//!    once both clients are warm; run before and after (2), the ratio taken
//!    to the better run;
//! 2. Lendwork end to end: the same N market events published to the market
//!    topic, an in-process matcher (engine, reservations and read models in
//!    Redis, proposals to the matches topic, commits) — market records per
//!    second, and the ratio to (1);
//! 3. a rebuild: the market topic (2) filled, replayed from offset 0
//!    partition by partition through the bus and applied without effects,
//!    as a matcher does when it takes partitions over — records per
//!    second;
//! 4. latency at a steady offered load: events published at `RATE` per
//!    second; each proposal's latency is the time from the publication of
//!    the event that caused it (proposals carry that event's time) to its
//!    arrival on the matches topic — p50, p99, max; then the same at a
//!    quarter of the event rate (2) measured, when that is below `RATE`.
//!
//! The market answers: simulated parties read the matches topic and answer
//! the matcher's proposals on the market topic ([`lendwork_sim::answer`]:
//! 60 % accepted, 25 % declined, 15 % left to expire), as the simulation's
//! parties answer its own proposals. Without answers every proposal would
//! expire 48 h (of market time) after it was made and be made again to
//! someone else, over and over: on this 30-day market about eight
//! proposals per event, almost all of them for nobody — a load no real
//! market produces. The answers are market records like any other, so the
//! matcher's throughput counts them; both counts are printed. In (2) the
//! events are fed with at most [`WINDOW`] records in flight (published and
//! not yet handled), so an answer waits behind at most that many events —
//! about a day of this market's time — as it would behind a live market's
//! traffic, instead of behind the whole month.
//!
//! `benches/streaming.sh` starts Tansu and redis-server and runs this.
//!
//! ```text
//! cargo run --release -p lendwork --example stream_bench -- KAFKA REDIS [WORKERS] [RATE] [SECONDS]
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lendwork_domain::{Event, EventKind};
use lendwork_engine::EngineConfig;
use lendwork_kafka::{KafkaBus, KafkaConfig};
use lendwork_matcher::{Effects, Health, Matcher, MatcherOptions, PartitionState};
use lendwork_ports::{EventBus, StateStore};
use lendwork_redis::RedisStore;
use lendwork_sim::SimConfig;
use lendwork_state::keys::Keys;
use lendwork_state::routes::Router;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

/// The allocator the `lendwork` binary runs the matcher with (glibc's
/// malloc and free were a sixth of this benchmark's matcher thread).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITIONS: u32 = 4;
/// Records in flight (published, not yet handled) while measuring
/// throughput.
const WINDOW: u64 = 1000;

fn events(workers: u64, seed: u64) -> Vec<Event> {
    lendwork_sim::events(&SimConfig {
        workers,
        gaps: workers / 8,
        regions: 4,
        seed,
        ..Default::default()
    })
}

async fn keyed(store: &dyn StateStore, prefix: &str, evs: &[Event]) -> Vec<(Bytes, Bytes)> {
    let router = Router::new(prefix);
    let mut out = Vec::with_capacity(evs.len());
    for e in evs {
        let r = router.region(store, e).await.unwrap();
        out.push((Bytes::from(r.to_string()), Bytes::from(e.to_json())));
    }
    out
}

/// CPU time used by the processes of a run: this one (the matcher, the
/// parties, the load generator and the raw clients), the broker and
/// redis-server, found by the port in their command lines (`/proc`, Linux).
struct Meter {
    tansu: Option<u32>,
    redis: Option<u32>,
}

/// CPU seconds (user + system) by process, at one moment or over a span.
#[derive(Clone, Copy, Default)]
struct Cpu {
    bench: f64,
    tansu: f64,
    redis: f64,
}

impl Meter {
    fn new(kafka: &str, redis: &str) -> Self {
        let port = |addr: &str| {
            let tail = addr.trim_end_matches('/').rsplit(':').next().unwrap_or("");
            format!(":{tail}")
        };
        Meter {
            tansu: server_pid("tansu", &port(kafka)),
            redis: server_pid("redis-server", &port(redis)),
        }
    }

    /// The CPU used in one second with no traffic: with a step's clients
    /// attached, the consumers' fetches (which Tansu parks for
    /// `fetch.wait.max.ms`) and heartbeats — a cost by the second, not by
    /// the record. Printed, and returned.
    async fn idle(&self) -> Cpu {
        let before = self.read();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = self.read().since(before);
        println!(
            "  idle, these clients attached: Tansu {:.0} % of a core, redis-server {:.0} %",
            idle.tansu * 100.0,
            idle.redis * 100.0
        );
        idle
    }

    fn read(&self) -> Cpu {
        let of = |pid: Option<u32>| pid.and_then(cpu_secs).unwrap_or(f64::NAN);
        Cpu {
            bench: of(Some(std::process::id())),
            tansu: of(self.tansu),
            redis: of(self.redis),
        }
    }
}

impl Cpu {
    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            bench: self.bench - before.bench,
            tansu: self.tansu - before.tansu,
            redis: self.redis - before.redis,
        }
    }

    /// Microseconds of CPU per record, by process.
    fn per(&self, records: u64) -> String {
        let us = |s: f64| s * 1e6 / records as f64;
        format!(
            "this process {:.1} µs, Tansu {:.1} µs, redis-server {:.1} µs",
            us(self.bench),
            us(self.tansu),
            us(self.redis)
        )
    }
}

/// The process whose command line holds `name` and `port` (`:PORT`).
fn server_pid(name: &str, port: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|d| {
        let pid: u32 = d.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(d.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        (cmd.contains(name) && cmd.contains(port)).then_some(pid)
    })
}

/// CPU seconds (user + system) process `pid` has used: fields 14 and 15 of
/// `/proc/PID/stat`, in ticks of `USER_HZ`, which is 100 on every Linux ABI.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which may hold spaces.
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Raw produce-and-consume throughput in records per second, and the CPU
/// the timed part used.
async fn raw(kafka: &str, topic: &str, records: &[(Bytes, Bytes)], meter: &Meter) -> (f64, Cpu) {
    let bus = KafkaBus::new(&KafkaConfig::new(kafka)).unwrap();
    bus.ensure_topic(topic, PARTITIONS).await.unwrap();
    // Both clients warm, as the matcher's are when it is timed: the
    // producer has delivered a record and the consumer has read it.
    let producer = producer(kafka);
    let consumer = assigned(kafka, topic);
    producer
        .send(
            FutureRecord::to(topic).key("warmup").payload("warmup"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    consumer.recv().await.unwrap();
    let cpu0 = meter.read();
    let t0 = Instant::now();
    let n = records.len();
    let consume = async {
        let mut got = 0;
        while got < n {
            let m = consumer.recv().await.unwrap();
            let _ = m.payload();
            got += 1;
        }
    };
    let produce = async {
        let mut pending = Vec::with_capacity(n);
        for (k, v) in records {
            let mut rec = FutureRecord::to(topic).key(&k[..]).payload(&v[..]);
            loop {
                match producer.send_result(rec) {
                    Ok(f) => {
                        pending.push(f);
                        break;
                    }
                    Err((_, r)) => {
                        rec = r;
                        tokio::time::sleep(Duration::from_millis(1)).await
                    }
                }
            }
        }
        for f in pending {
            f.await.unwrap().unwrap();
        }
    };
    tokio::join!(consume, produce);
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    (rate, meter.read().since(cpu0))
}

/// A consumer reading every partition of `topic` from the start, without a
/// group (a group join would be timed too).
fn assigned(kafka: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .set("group.id", "lendwork-bench-reader")
        .set("fetch.wait.max.ms", "20")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..PARTITIONS as i32 {
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    consumer
}

fn producer(kafka: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap()
}

fn options(ns: &str) -> MatcherOptions {
    MatcherOptions {
        market_topic: format!("{ns}.market"),
        matches_topic: format!("{ns}.matches"),
        partitions: PARTITIONS,
        group: format!("{ns}-matchers"),
        prefix: ns.to_owned(),
        engine: EngineConfig::default(),
        max_batch: 500,
        linger: std::time::Duration::from_millis(5),
        // As deployed: the default interval (which these runs' partitions,
        // ~11k records each, do not reach; step 3 measures a snapshot).
        snapshot_every: lendwork::config::MatcherSettings::default().snapshot_every,
    }
}

/// Starts a matcher and waits until it has joined its group and handled a
/// first record (a worker in a region of its own), so that the group join
/// — seconds on Tansu — is not timed.
async fn start_matcher(
    kafka: &str,
    store: Arc<dyn StateStore>,
    opts: MatcherOptions,
) -> (Arc<Health>, Running) {
    let mut config = KafkaConfig::new(kafka);
    config.extra = matcher_client_settings();
    let bus: Arc<dyn EventBus> = Arc::new(KafkaBus::new(&config).unwrap());
    bus.ensure_topic(&opts.market_topic, PARTITIONS)
        .await
        .unwrap();
    let warm = r#"{"type":"worker_offered","id":"evt-warmup","at":"2026-03-01T00:00:00Z","worker_id":"warmup","region":"000000","home":{"lat":36.0,"lon":103.8},"skills":[],"certificates":[],"available":{"start":"2026-03-01","end":"2026-03-02"},"max_commute_km":1.0,"min_hourly_wage_fen":100000,"consent":true}"#;
    bus.publish(&opts.market_topic, b"000000", warm.as_bytes())
        .await
        .unwrap();
    let health = Arc::new(Health::default());
    let mut m = Matcher::new(bus, store, opts, health.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        m.run(async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    while health.records.load(Ordering::Relaxed) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (health, Running { stop, task })
}

/// librdkafka settings for the matcher's clients, as `[kafka.client]`
/// would give them: `STREAM_BENCH_CLIENT="key=value,key=value"` (none by
/// default).
fn matcher_client_settings() -> std::collections::BTreeMap<String, String> {
    std::env::var("STREAM_BENCH_CLIENT")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// A step's matcher, stopped when the step ends: one left running would
/// go on polling the broker through the later steps (an idle consumer
/// costs Tansu about 5 % of a core) and skew their CPU figures.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// The simulated parties' side of the market (see the module docs).
#[derive(Default)]
struct Parties {
    /// Proposals read from the matches topic (the matcher's own and the
    /// ones it echoes).
    seen: AtomicU64,
    /// Answers published to the market topic.
    answered: AtomicU64,
    /// When each answer was published, by its market time (for latency).
    stamps: Mutex<Vec<(String, Instant)>>,
    /// Workers with a lender (whose acceptance is then required too).
    lent: std::collections::HashSet<String>,
}

impl Parties {
    /// The parties of the market `evs`.
    fn of(evs: &[Event]) -> Self {
        Self {
            lent: evs
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::WorkerOffered(w) if w.employer_id.is_some() => {
                        Some(w.worker_id.to_string())
                    }
                    _ => None,
                })
                .collect(),
            ..Self::default()
        }
    }
}

/// Reads the matches topic and answers the matcher's proposals on the
/// market topic until the task is dropped.
async fn respond(
    kafka: &str,
    opts: &MatcherOptions,
    parties: Arc<Parties>,
) -> tokio::task::JoinHandle<()> {
    let consumer = assigned(kafka, &opts.matches_topic);
    let prod = warm(kafka, &opts.matches_topic).await;
    let market = opts.market_topic.clone();
    tokio::spawn(async move {
        loop {
            let m = consumer.recv().await.unwrap();
            let e = Event::from_json(std::str::from_utf8(m.payload().unwrap_or_default()).unwrap())
                .unwrap();
            let EventKind::MatchProposed(p) = &e.kind else {
                continue;
            };
            // The engine's own proposals only: the simulation answers the
            // ones it made itself (echoed here) in its own events.
            if e.id.as_str() == format!("evt-{}", p.match_id) {
                let lent = parties.lent.contains(p.worker_id.as_str());
                for a in lendwork_sim::answer(p, lent, e.at) {
                    send(
                        &prod,
                        &market,
                        p.region.as_str().as_bytes(),
                        a.to_json().as_bytes(),
                    )
                    .await;
                    parties
                        .stamps
                        .lock()
                        .unwrap()
                        .push((a.at.to_string(), Instant::now()));
                    parties.answered.fetch_add(1, Ordering::Relaxed);
                }
            }
            parties.seen.fetch_add(1, Ordering::Relaxed);
        }
    })
}

/// Enqueues one record without waiting for its acknowledgement (retrying
/// while the producer's queue is full).
async fn send(prod: &FutureProducer, topic: &str, key: &[u8], payload: &[u8]) {
    let mut rec = FutureRecord::to(topic).key(key).payload(payload);
    loop {
        match prod.send_result(rec) {
            Ok(f) => {
                drop(f);
                return;
            }
            Err((_, r)) => {
                rec = r;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// A producer that has delivered a first record (to `topic`'s warm-up
/// topic, which it creates): an idempotent producer's first send waits for
/// its producer id and the topic's metadata — hundreds of milliseconds on
/// Tansu — which is the benchmark's own start-up, not the matcher's
/// latency. (The matcher's group join is kept out of the timing likewise.)
async fn warm(kafka: &str, topic: &str) -> FutureProducer {
    let warmup = format!("{topic}.warmup");
    let bus = KafkaBus::new(&KafkaConfig::new(kafka)).unwrap();
    bus.ensure_topic(&warmup, 1).await.unwrap();
    let prod = producer(kafka);
    prod.send(
        FutureRecord::to(&warmup).key("warmup").payload("warmup"),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    prod
}

/// Records the matcher has handled, beside the warm-up record.
fn handled(h: &Health) -> u64 {
    h.records.load(Ordering::Relaxed).saturating_sub(1)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kafka = args.get(1).expect("KAFKA").clone();
    let redis = args.get(2).expect("REDIS").clone();
    let workers: u64 = args.get(3).map_or(20_000, |s| s.parse().unwrap());
    let rate: u64 = args.get(4).map_or(10_000, |s| s.parse().unwrap());
    let seconds: u64 = args.get(5).map_or(10, |s| s.parse().unwrap());
    let nonce = format!(
        "bench-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let store: Arc<dyn StateStore> = Arc::new(RedisStore::connect(&redis).await.unwrap());
    let evs = events(workers, 1);
    let records = keyed(store.as_ref(), &format!("{nonce}-a"), &evs).await;
    println!(
        "market: {} events ({} workers, {} gaps, 4 regions, {PARTITIONS} partitions)",
        evs.len(),
        workers,
        workers / 8
    );

    let meter = Meter::new(&kafka, &redis);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());

    // 1. raw rdkafka.
    let (raw_rate, raw_cpu) = raw(&kafka, &format!("{nonce}.raw"), &records, &meter).await;
    println!(
        "raw rdkafka produce+consume:   {raw_rate:>9.0} records/s (CPU per record: {})",
        raw_cpu.per(records.len() as u64)
    );

    // 2. Lendwork end to end, as fast as it goes.
    let opts = options(&format!("{nonce}-a"));
    let bus = KafkaBus::new(&KafkaConfig::new(kafka.clone())).unwrap();
    bus.ensure_topic(&opts.market_topic, PARTITIONS)
        .await
        .unwrap();
    bus.ensure_topic(&opts.matches_topic, PARTITIONS)
        .await
        .unwrap();
    let (health, matcher) = start_matcher(&kafka, store.clone(), opts.clone()).await;
    let parties = Arc::new(Parties::of(&evs));
    let responder = respond(&kafka, &opts, parties.clone()).await;
    let prod = warm(&kafka, &opts.market_topic).await;
    let idle = meter.idle().await;
    let n = records.len() as u64;
    let cpu0 = meter.read();
    let t0 = Instant::now();
    let mut published = 0u64;
    for chunk in records.chunks(250) {
        while published + parties.answered.load(Ordering::Relaxed) > handled(&health) + WINDOW {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for (k, v) in chunk {
            send(&prod, &opts.market_topic, k, v).await;
        }
        published += chunk.len() as u64;
    }
    // Done when every event and every answer is handled and the parties
    // have read every proposal (twice in a row, 10 ms apart: the last
    // answers' proposals are published just after they are handled).
    let mut calm = 0;
    while calm < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let settled = handled(&health) >= n + parties.answered.load(Ordering::Relaxed)
            && parties.seen.load(Ordering::Relaxed) >= health.proposals.load(Ordering::Relaxed);
        calm = if settled { calm + 1 } else { 0 };
    }
    let secs = t0.elapsed().as_secs_f64() - 0.01;
    let cpu = meter.read().since(cpu0);
    responder.abort();
    matcher.stop().await;
    let answers = parties.answered.load(Ordering::Relaxed);
    let e2e = (n + answers) as f64 / secs;
    println!(
        "lendwork end to end:           {e2e:>9.0} market records/s ({n} events and {answers} answers in {secs:.2} s: {:.0} events/s; {} proposals published)",
        n as f64 / secs,
        health.proposals.load(Ordering::Relaxed)
    );
    // Raw again: on this shared machine raw throughput has swung between
    // runs (24k and 44k records/s from one minute to the next), so the
    // ratio is taken to the better of the two raw runs around Lendwork's.
    println!(
        "  CPU per market record:       {} ({:.0} % of the machine's {cores} cores busy)",
        cpu.per(n + answers),
        (cpu.bench + cpu.tansu + cpu.redis) / secs / cores as f64 * 100.0
    );
    let (raw_again, _) = raw(&kafka, &format!("{nonce}.raw2"), &records, &meter).await;
    println!("raw rdkafka again:             {raw_again:>9.0} records/s");
    let best = raw_rate.max(raw_again);
    println!(
        "ratio lendwork / raw (better):  {:>9.2} (market records; events alone {:.2})",
        e2e / best,
        n as f64 / secs / best
    );
    // The ceiling the servers alone set, with a matcher and parties that
    // cost nothing: their CPU by the second with these clients idle, plus
    // their CPU per market record in (2) beyond that — the market's
    // records, the proposals and the answers through the broker, the
    // reservations and views in Redis.
    let fixed = idle.tansu + idle.redis;
    let per_record = (cpu.tansu + cpu.redis - fixed * secs) / (n + answers) as f64;
    let ceiling = (cores as f64 - fixed) / per_record;
    println!(
        "servers' ceiling:              {ceiling:>9.0} market records/s (ratio {:.2}) if the matcher and parties cost nothing: Tansu and redis-server use {:.0} % of a core with these clients idle, and {:.1} µs per market record beyond that in (2)",
        ceiling / best,
        fixed * 100.0,
        per_record * 1e6
    );
    let stages: Vec<String> = lendwork_matcher::STAGES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{s} {:.2} s",
                health.stage_micros[i].load(Ordering::Relaxed) as f64 / 1e6
            )
        })
        .collect();
    println!(
        "matcher time by stage:         {} ({} batches)",
        stages.join(", "),
        health.batches.load(Ordering::Relaxed)
    );

    // 3. A rebuild: what a matcher
    // taking over these partitions replays before it goes live — each
    // partition read from offset 0 through the bus and applied without
    // effects, as `Matcher` does on assignment.
    let ends = {
        let c = assigned(&kafka, &opts.market_topic);
        (0..PARTITIONS)
            .map(|p| {
                c.fetch_watermarks(&opts.market_topic, p as i32, Duration::from_secs(10))
                    .unwrap()
                    .1 as u64
            })
            .collect::<Vec<_>>()
    };
    let t0 = Instant::now();
    let (mut replayed, mut first_waits) = (0u64, 0.0);
    // And what a snapshot of each rebuilt partition costs: to take, to
    // write to Redis, to read back and restore.
    let (mut snap_bytes, mut take, mut write, mut restore) = (0usize, 0.0, 0.0, 0.0);
    for (p, &end) in ends.iter().enumerate() {
        let t = Instant::now();
        let mut reader = bus
            .read_partition(&opts.market_topic, p as u32, 0, end)
            .await
            .unwrap();
        let mut state = PartitionState::new(opts.engine.clone());
        let mut fx = Effects::default();
        let mut last = None;
        // A bound on each wait: a broker whose high watermark ran ahead of
        // its records would otherwise keep the reader waiting for ever.
        while let Ok(Some(rec)) = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .map(Result::unwrap)
        {
            if rec.position.offset == 0 {
                first_waits += t.elapsed().as_secs_f64();
            }
            state.process(&rec, &mut fx);
            fx = Effects::default();
            replayed += 1;
            last = Some(rec);
        }
        let Some(last) = last else { continue };
        let t = Instant::now();
        let bytes = state.snapshot(&opts.market_topic, p as u32, &last);
        take += t.elapsed().as_secs_f64();
        snap_bytes += bytes.len();
        let key = Keys::new(opts.prefix.clone()).snapshot(&opts.market_topic, p as u32);
        let t = Instant::now();
        store.set(&key, &bytes).await.unwrap();
        write += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = store.get(&key).await.unwrap().expect("just written");
        PartitionState::restore(&back, &opts.market_topic, p as u32, &opts.engine)
            .expect("its own snapshot restores");
        restore += t.elapsed().as_secs_f64();
    }
    let rebuild_secs = t0.elapsed().as_secs_f64() - take - write - restore;
    println!(
        "rebuild (replay of the topic):  {:>9.0} records/s ({replayed} of {} records of {PARTITIONS} partitions in {rebuild_secs:.2} s, {first_waits:.2} s of it until each partition's first record)",
        replayed as f64 / rebuild_secs,
        ends.iter().sum::<u64>()
    );
    println!(
        "snapshots of those partitions:  {:>9.1} MB ({:.0} bytes per record); take {take:.3} s, write to Redis {write:.3} s, read back and restore {restore:.3} s ({:.1}x faster than the replay)",
        snap_bytes as f64 / 1e6,
        snap_bytes as f64 / replayed.max(1) as f64,
        rebuild_secs / restore.max(1e-9)
    );

    // 4. Latency at a steady offered load: the load asked for, and a
    // quarter of the event rate (2) measured — the load generator, the
    // parties and the collector share the machine with the matcher, Tansu
    // and Redis, and the latency run's market is larger.
    steady(
        &kafka,
        &store,
        &bus,
        &meter,
        format!("{nonce}-c"),
        rate,
        seconds,
    )
    .await;
    let sustainable = ((n as f64 / secs / 4.0 / 500.0).round() as u64 * 500).max(500);
    if sustainable < rate {
        steady(
            &kafka,
            &store,
            &bus,
            &meter,
            format!("{nonce}-d"),
            sustainable,
            seconds,
        )
        .await;
    }
}

/// Latency at a steady offered load: `rate` events per second of a fresh
/// market for `seconds`, into a fresh matcher, the parties answering.
async fn steady(
    kafka: &str,
    store: &Arc<dyn StateStore>,
    bus: &KafkaBus,
    meter: &Meter,
    ns: String,
    rate: u64,
    seconds: u64,
) {
    let opts = options(&ns);
    let total = (rate * seconds) as usize;
    let evs = events((total as u64 * 8 / 10).max(1000), 2);
    let records = keyed(store.as_ref(), &ns, &evs[..total.min(evs.len())]).await;
    bus.ensure_topic(&opts.market_topic, PARTITIONS)
        .await
        .unwrap();
    bus.ensure_topic(&opts.matches_topic, PARTITIONS)
        .await
        .unwrap();
    let (health, matcher) = start_matcher(kafka, store.clone(), opts.clone()).await;
    let parties = Arc::new(Parties::of(&evs));
    let responder = respond(kafka, &opts, parties.clone()).await;
    let consumer = assigned(kafka, &opts.matches_topic);
    let prod = warm(kafka, &opts.market_topic).await;
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    meter.idle().await;
    let cpu0 = meter.read();
    let t0 = Instant::now();
    let tick = Duration::from_millis(10);
    let per_tick = ((rate as f64) * tick.as_secs_f64()).ceil() as usize;
    let times: Vec<String> = evs[..records.len()]
        .iter()
        .map(|e| e.at.to_string())
        .collect();
    let publisher = async {
        let mut i = 0;
        let mut next = Instant::now();
        let mut stamps = Vec::new();
        while i < records.len() {
            let end = (i + per_tick).min(records.len());
            let now = Instant::now();
            for at in &times[i..end] {
                stamps.push((at.clone(), now));
            }
            // Enqueue without waiting for acknowledgements, so the offered
            // load holds whatever the broker's round trip.
            for (k, v) in &records[i..end] {
                send(&prod, &opts.market_topic, k, v).await;
            }
            i = end;
            next += tick;
            tokio::time::sleep_until(next.into()).await;
        }
        (stamps, t0.elapsed())
    };
    let mut lat = Vec::new();
    let collector = async {
        let deadline = Instant::now() + Duration::from_secs(seconds + 30);
        let mut arrivals = Vec::new();
        loop {
            let done =
                handled(&health) >= records.len() as u64 + parties.answered.load(Ordering::Relaxed);
            match tokio::time::timeout(
                Duration::from_millis(if done { 1000 } else { 5000 }),
                consumer.recv(),
            )
            .await
            {
                Ok(Ok(m)) => {
                    let now = Instant::now();
                    let text = std::str::from_utf8(m.payload().unwrap_or_default())
                        .unwrap()
                        .to_owned();
                    arrivals.push((text, now));
                }
                _ if done || Instant::now() > deadline => break,
                _ => {}
            }
        }
        arrivals
    };
    let ((stamps, sending), arrivals) = tokio::join!(publisher, collector);
    let expected = records.len() as u64 + parties.answered.load(Ordering::Relaxed);
    if handled(&health) < expected {
        println!(
            "  NOT SETTLED: the matcher handled {} of the {expected} records published ({} proposals published, {} read by the parties; {} rebuilds, {} records replayed)",
            handled(&health),
            health.proposals.load(Ordering::Relaxed),
            parties.seen.load(Ordering::Relaxed),
            health.rebuilds.load(Ordering::Relaxed),
            health.replayed.load(Ordering::Relaxed)
        );
        // Where the records are: on the broker (its end offsets, with the
        // warm-up record) and the group's commits.
        let c = assigned(kafka, &opts.market_topic);
        let mut tpl = rdkafka::TopicPartitionList::new();
        for p in 0..PARTITIONS as i32 {
            let (_, hi) = c
                .fetch_watermarks(&opts.market_topic, p, Duration::from_secs(10))
                .unwrap();
            tpl.add_partition(&opts.market_topic, p);
            print!("  partition {p}: end offset {hi}");
        }
        let group: rdkafka::consumer::BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", kafka)
            .set("group.id", &opts.group)
            .create()
            .unwrap();
        let committed = group
            .committed_offsets(tpl, Duration::from_secs(10))
            .unwrap();
        println!("; committed {:?}", committed.to_topic_map().values());
    }
    // The rate the publisher held (its own time, not the drain after it).
    let offered = records.len() as f64 / sending.as_secs_f64();
    let drained = t0.elapsed().as_secs_f64();
    let cpu = meter.read().since(cpu0);
    responder.abort();
    matcher.stop().await;
    // A proposal carries the market time of the event that caused it: an
    // event of the simulation or an answer (a decline's back-fill).
    let answered = std::mem::take(&mut *parties.stamps.lock().unwrap());
    for (at, t) in stamps.into_iter().chain(answered) {
        sent_at.entry(at).or_insert(t);
    }
    for (text, t) in arrivals {
        let e = Event::from_json(&text).unwrap();
        if let EventKind::MatchProposed(_) = e.kind {
            if let Some(s) = sent_at.get(&e.at.to_string()) {
                lat.push(t.duration_since(*s).as_secs_f64() * 1000.0);
            }
        }
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "steady load: offered {rate} events/s for {seconds} s (sent at {offered:.0}/s; {} answers besides; run over {drained:.1} s after the first send, the last second a wait for quiet), {} proposals timed",
        parties.answered.load(Ordering::Relaxed),
        lat.len()
    );
    println!(
        "event-to-proposal latency:     p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "  CPU over the run:            {:.0} % of {cores} cores busy; per market record {}",
        (cpu.bench + cpu.tansu + cpu.redis) / drained / cores as f64 * 100.0,
        cpu.per(records.len() as u64 + parties.answered.load(Ordering::Relaxed))
    );
}

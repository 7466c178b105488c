//! `kill -9` at a random moment loses nothing acknowledged.
//!
//! The test binary runs itself again as the child (`child_writes_until_killed`
//! with `LENDWORK_SQLITE_CHILD_DIR` set): it publishes numbered records,
//! sets a store key per record and commits a consumer group's offsets from
//! many tasks, printing each acknowledgement. The parent kills it with
//! SIGKILL, reopens the directory and finds every acknowledged write.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{all_records, TempDir};
use lendwork_ports::{EventBus, StateStore};
use lendwork_sqlite::{OpenError, SqliteData};

const CHILD_DIR: &str = "LENDWORK_SQLITE_CHILD_DIR";
const CHILD_ROUND: &str = "LENDWORK_SQLITE_CHILD_ROUND";
const TOPIC: &str = "t";
const GROUP: &str = "g";

/// The child's body; does nothing in an ordinary test run.
#[test]
fn child_writes_until_killed() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let round: u32 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let data = SqliteData::open(std::path::Path::new(&dir)).unwrap();
        let (bus, store) = (data.bus(), data.store());
        bus.ensure_topic(TOPIC, 4).await.unwrap();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (bus, store, next) = (bus.clone(), store.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let key = format!("k{}", n % 13);
                    bus.publish(TOPIC, key.as_bytes(), format!("{round}-{n}").as_bytes())
                        .await
                        .unwrap();
                    store.set(&format!("n:{round}:{n}"), b"1").await.unwrap();
                    // Printed only once both are acknowledged.
                    println!("ack {n}");
                }
            }));
        }
        let mut sub = bus.subscribe(TOPIC, GROUP).await.unwrap();
        tasks.push(tokio::spawn(async move {
            loop {
                let r = sub.next().await.unwrap();
                sub.commit(&r).await.unwrap();
                println!("commit {} {}", r.position.partition, r.position.offset + 1);
            }
        }));
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// A pseudo-random number of milliseconds in `0..span` (the clock's
/// nanoseconds; the test needs no better randomness).
fn random_ms(span: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) % span
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = TempDir::new("kill");
    std::fs::create_dir_all(dir.path()).unwrap();
    let mut total_acks = 0;
    for round in 0..5u32 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writes_until_killed", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let lines = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line.clone());
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        // Wait for the first acknowledgement, then kill at a random moment.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while !seen.iter().any(|l: &String| l.starts_with("ack ")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("the child acknowledged nothing: {}", errors.join().unwrap());
                }
            }
        }
        if round == 0 {
            let second = SqliteData::open(dir.path());
            assert!(
                matches!(second, Err(OpenError::Locked { .. })),
                "another process is refused while the child holds the directory"
            );
        }
        std::thread::sleep(Duration::from_millis(20 + random_ms(400)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed, it did not finish");
        lines.join().unwrap();
        seen.extend(rx.try_iter());
        let errors = errors.join().unwrap();

        let mut acked = Vec::new();
        let mut committed: BTreeMap<u32, u64> = BTreeMap::new();
        for line in &seen {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                ["ack", n] => acked.push(n.parse::<u64>().unwrap()),
                ["commit", p, next] => {
                    let c = committed.entry(p.parse().unwrap()).or_default();
                    *c = (*c).max(next.parse().unwrap());
                }
                _ => {}
            }
        }
        assert!(
            !acked.is_empty(),
            "round {round}: acknowledgements; stderr: {errors}"
        );
        total_acks += acked.len();
        eprintln!(
            "round {round}: {} writes acknowledged, group offsets at {} in all, before kill -9",
            acked.len(),
            committed.values().sum::<u64>()
        );

        let data = SqliteData::open(dir.path())
            .unwrap_or_else(|e| panic!("round {round}: reopens after kill -9: {e}"));
        let bus = data.bus();
        let records = all_records(&bus, TOPIC).await;
        let mut payloads = HashSet::new();
        for r in &records {
            let p = std::str::from_utf8(&r.payload).expect("no garbage record");
            assert!(payloads.insert(p.to_owned()), "round {round}: {p} once");
        }
        for n in &acked {
            assert!(
                payloads.contains(&format!("{round}-{n}")),
                "round {round}: acknowledged record {n} is in the log"
            );
        }
        let keys: Vec<String> = acked.iter().map(|n| format!("n:{round}:{n}")).collect();
        let values = data.store().get_many(&keys).await.unwrap();
        for (k, v) in keys.iter().zip(values) {
            assert!(
                v.is_some(),
                "round {round}: acknowledged store write {k} is there"
            );
        }
        let mut sub = bus.subscribe(TOPIC, GROUP).await.unwrap();
        for (p, next) in committed {
            let c = sub.committed(p).await.unwrap().unwrap_or(0);
            assert!(
                c >= next,
                "round {round}: partition {p} committed {c}, acknowledged {next}"
            );
        }
    }
    assert!(total_acks > 0);
}

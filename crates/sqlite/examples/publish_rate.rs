//! Publish rate and acknowledgement latency of the SQLite bus beside the
//! in-memory bus: 20,000 single-record publishes from 32 concurrent tasks.
//!
//! ```text
//! cargo run --release -p lendwork-sqlite --example publish_rate [DATA_DIR]
//! ```
//!
//! `DATA_DIR` (a fresh directory under the system's temporary directory
//! by default, removed afterwards) should sit on the disk to be measured:
//! each SQLite commit waits for an fsync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lendwork_ports::memory::MemoryBus;
use lendwork_ports::EventBus;
use lendwork_sqlite::SqliteData;

const RECORDS: usize = 20_000;
const TASKS: usize = 32;
const TOPIC: &str = "lendwork.rate.v1";

struct Run {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure(bus: Arc<dyn EventBus>) -> Run {
    bus.ensure_topic(TOPIC, 8).await.unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(RECORDS / TASKS + 1);
                for i in (t..RECORDS).step_by(TASKS) {
                    let key = format!("region-{}", i % 64);
                    let payload = format!("{{\"event\":{i},\"kind\":\"offer\"}}");
                    let sent = Instant::now();
                    bus.publish(TOPIC, key.as_bytes(), payload.as_bytes())
                        .await
                        .unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(RECORDS);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Run {
        per_second: RECORDS as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn show(name: &str, run: &Run, extra: &str) {
    println!(
        "{name:<8} {:>10.0} records/s   p50 ack {:>9.3} ms   p99 ack {:>9.3} ms{extra}",
        run.per_second,
        run.p50.as_secs_f64() * 1e3,
        run.p99.as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let (dir, remove) = match std::env::args_os().nth(1) {
        Some(d) => (std::path::PathBuf::from(d), false),
        None => (
            std::env::temp_dir().join(format!("lendwork-publish-rate-{}", std::process::id())),
            true,
        ),
    };
    println!(
        "{RECORDS} single-record publishes from {TASKS} tasks; SQLite data in {}",
        dir.display()
    );
    let data = SqliteData::open(&dir).expect("the data directory opens");
    let before = data.writer_stats();
    let sqlite = measure(data.bus()).await;
    let after = data.writer_stats();
    let commits = after.transactions - before.transactions;
    let writes = after.writes - before.writes;
    show(
        "sqlite",
        &sqlite,
        &format!(
            "   ({commits} commits, {:.1} publishes a commit)",
            writes as f64 / commits.max(1) as f64
        ),
    );
    drop(data);
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let memory = measure(Arc::new(MemoryBus::new())).await;
    show("memory", &memory, "");
}

//! The contract suites. Every [`EventBus`] and [`StateStore`] implementation
//! runs them unchanged: the in-memory ones in this crate's tests, the Kafka
//! and Redis ones against real servers. `ns` keeps runs apart on a shared
//! server (topics, groups and keys are prefixed with it). Each check panics
//! with a message on failure, like an assertion.

use std::time::Duration;

use crate::{EventBus, StateStore};

/// Deadline for a record to arrive (consumer-group rebalances on a busy
/// machine can take tens of seconds); a deadline, not a speed assertion.
const WAIT: Duration = Duration::from_secs(90);

/// Runs every bus check.
pub async fn bus_suite(bus: &dyn EventBus, ns: &str) {
    keyed_records_keep_their_order(bus, ns).await;
    committed_offsets_resume_and_uncommitted_redeliver(bus, ns).await;
    groups_read_independently(bus, ns).await;
    next_waits_for_a_later_record(bus, ns).await;
    ensure_topic_is_idempotent(bus, ns).await;
    publish_all_keeps_order_and_partitions_read_back(bus, ns).await;
    commit_all_commits_each_partition(bus, ns).await;
}

async fn next_record(sub: &mut dyn crate::Subscription) -> crate::Record {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("a record arrives within the deadline")
        .expect("the bus delivers")
}

/// Records with one key come back in publish order.
pub async fn keyed_records_keep_their_order(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.order");
    bus.ensure_topic(&topic, 3).await.unwrap();
    for i in 0..20 {
        let key = format!("region-{}", i % 4);
        bus.publish(&topic, key.as_bytes(), format!("{i}").as_bytes())
            .await
            .unwrap();
    }
    let mut sub = bus
        .subscribe(&topic, &format!("{ns}-g-order"))
        .await
        .unwrap();
    let mut seen: std::collections::HashMap<Vec<u8>, Vec<u32>> = Default::default();
    for _ in 0..20 {
        let r = next_record(sub.as_mut()).await;
        let n: u32 = std::str::from_utf8(&r.payload).unwrap().parse().unwrap();
        seen.entry(r.key.to_vec()).or_default().push(n);
    }
    assert_eq!(seen.len(), 4, "four keys");
    for (k, ns) in seen {
        let mut sorted = ns.clone();
        sorted.sort_unstable();
        assert_eq!(
            ns,
            sorted,
            "records of key {:?} come back in order",
            String::from_utf8_lossy(&k)
        );
        assert_eq!(ns.len(), 5);
    }
}

/// A new member resumes after the last commit and gets again what was read
/// but not committed (at-least-once).
pub async fn committed_offsets_resume_and_uncommitted_redeliver(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.resume");
    let group = format!("{ns}-g-resume");
    bus.ensure_topic(&topic, 1).await.unwrap();
    for i in 0..10 {
        bus.publish(&topic, b"k", format!("{i}").as_bytes())
            .await
            .unwrap();
    }
    {
        let mut sub = bus.subscribe(&topic, &group).await.unwrap();
        for i in 0..6 {
            let r = next_record(sub.as_mut()).await;
            assert_eq!(&r.payload[..], format!("{i}").as_bytes());
            if i == 0 {
                assert_eq!(
                    sub.committed(0).await.unwrap(),
                    None,
                    "nothing committed yet"
                );
            }
            if i == 3 {
                sub.commit(&r).await.unwrap();
                assert_eq!(sub.committed(0).await.unwrap(), Some(4));
            }
        }
    }
    let mut sub = bus.subscribe(&topic, &group).await.unwrap();
    let r = next_record(sub.as_mut()).await;
    assert_eq!(
        &r.payload[..],
        b"4",
        "resumes right after the committed record"
    );
    sub.commit(&r).await.unwrap();
    drop(sub);
    // A member that has committed nothing itself reads the group's offset.
    let mut later = bus.subscribe(&topic, &group).await.unwrap();
    assert_eq!(later.committed(0).await.unwrap(), Some(5));
}

/// Two groups each see every record.
pub async fn groups_read_independently(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.groups");
    bus.ensure_topic(&topic, 2).await.unwrap();
    for i in 0..6 {
        bus.publish(&topic, format!("k{i}").as_bytes(), b"x")
            .await
            .unwrap();
    }
    for g in ["a", "b"] {
        let mut sub = bus.subscribe(&topic, &format!("{ns}-g-{g}")).await.unwrap();
        for _ in 0..6 {
            next_record(sub.as_mut()).await;
        }
    }
}

/// `next` waits for a record published after it was called.
pub async fn next_waits_for_a_later_record(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.wait");
    bus.ensure_topic(&topic, 1).await.unwrap();
    let mut sub = bus
        .subscribe(&topic, &format!("{ns}-g-wait"))
        .await
        .unwrap();
    let (rec, ()) = tokio::join!(next_record(sub.as_mut()), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        bus.publish(&topic, b"k", b"late").await.unwrap();
    });
    assert_eq!(&rec.payload[..], b"late");
}

/// Creating an existing topic again changes nothing.
pub async fn ensure_topic_is_idempotent(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.twice");
    bus.ensure_topic(&topic, 2).await.unwrap();
    bus.publish(&topic, b"k", b"1").await.unwrap();
    bus.ensure_topic(&topic, 2).await.unwrap();
    let mut sub = bus
        .subscribe(&topic, &format!("{ns}-g-twice"))
        .await
        .unwrap();
    assert_eq!(
        &next_record(sub.as_mut()).await.payload[..],
        b"1",
        "the record survives"
    );
}

/// `publish_all` keeps each key's order, and `read_partition` reads a
/// partition back from its start (or a given offset) up to the bound, in
/// offset order.
pub async fn publish_all_keeps_order_and_partitions_read_back(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.batch");
    bus.ensure_topic(&topic, 2).await.unwrap();
    let records: Vec<(bytes::Bytes, bytes::Bytes)> = (0..40)
        .map(|i| {
            (
                bytes::Bytes::from(format!("key-{}", i % 3)),
                bytes::Bytes::from(format!("{i}")),
            )
        })
        .collect();
    let positions = bus.publish_all(&topic, &records).await.unwrap();
    assert_eq!(positions.len(), 40, "a position per record");
    let mut all = Vec::new();
    for p in 0..2 {
        let end = positions
            .iter()
            .filter(|x| x.partition == p)
            .map(|x| x.offset + 1)
            .max()
            .unwrap_or(0);
        let mut reader = bus.read_partition(&topic, p, 0, end).await.unwrap();
        let mut offsets = Vec::new();
        while let Some(r) = tokio::time::timeout(WAIT, reader.next())
            .await
            .expect("a partition reads back within the deadline")
            .unwrap()
        {
            assert_eq!(r.position.partition, p);
            offsets.push(r.position.offset);
            all.push(r);
            if offsets.len() > 40 {
                panic!("read_partition does not stop");
            }
        }
        let mut sorted = offsets.clone();
        sorted.sort_unstable();
        assert_eq!(offsets, sorted, "partition {p} reads in offset order");
    }
    assert_eq!(all.len(), 40, "every record is read back");
    for k in 0..3 {
        let key = format!("key-{k}");
        let ns: Vec<u32> = all
            .iter()
            .filter(|r| r.key == key.as_bytes())
            .map(|r| std::str::from_utf8(&r.payload).unwrap().parse().unwrap())
            .collect();
        let mut sorted = ns.clone();
        sorted.sort_unstable();
        assert_eq!(ns, sorted, "{key} keeps its order");
    }
    // A bound stops the read early.
    let first = all[0].position;
    let mut reader = bus
        .read_partition(&topic, first.partition, 0, first.offset + 1)
        .await
        .unwrap();
    let r = reader.next().await.unwrap().expect("one record");
    assert_eq!(r.position, first);
    assert!(reader.next().await.unwrap().is_none(), "stops at the bound");
    // A read from a later offset starts there (a rebuild from a snapshot).
    let p = first.partition;
    let in_p: Vec<_> = all.iter().filter(|r| r.position.partition == p).collect();
    if in_p.len() >= 3 {
        let (from, until) = (
            in_p[1].position.offset,
            in_p[in_p.len() - 1].position.offset,
        );
        let mut reader = bus.read_partition(&topic, p, from, until).await.unwrap();
        let mut got = Vec::new();
        while let Some(r) = tokio::time::timeout(WAIT, reader.next())
            .await
            .expect("a partition reads back within the deadline")
            .unwrap()
        {
            got.push((r.position.offset, r.payload));
        }
        let want: Vec<_> = in_p[1..in_p.len() - 1]
            .iter()
            .map(|r| (r.position.offset, r.payload.clone()))
            .collect();
        assert_eq!(got, want, "a read from offset {from} to {until}");
    }
    // Nothing below offset 0: an empty read ends at once.
    let mut reader = bus.read_partition(&topic, 0, 0, 0).await.unwrap();
    assert!(reader.next().await.unwrap().is_none());
}

/// `commit_all` commits each partition's record: a new member resumes
/// after each.
pub async fn commit_all_commits_each_partition(bus: &dyn EventBus, ns: &str) {
    let topic = format!("{ns}.commitall");
    let group = format!("{ns}-g-commitall");
    bus.ensure_topic(&topic, 2).await.unwrap();
    let mut per_partition: std::collections::BTreeMap<u32, u64> = Default::default();
    for i in 0..12 {
        let pos = bus
            .publish(
                &topic,
                format!("k{}", i % 5).as_bytes(),
                format!("{i}").as_bytes(),
            )
            .await
            .unwrap();
        *per_partition.entry(pos.partition).or_default() += 1;
    }
    {
        let mut sub = bus.subscribe(&topic, &group).await.unwrap();
        let mut last: std::collections::BTreeMap<u32, crate::Record> = Default::default();
        for _ in 0..12 {
            let r = next_record(sub.as_mut()).await;
            last.insert(r.position.partition, r);
        }
        let done: Vec<crate::Record> = last.into_values().collect();
        sub.commit_all(&done).await.unwrap();
    }
    bus.publish(&topic, b"k0", b"after").await.unwrap();
    let mut sub = bus.subscribe(&topic, &group).await.unwrap();
    let r = next_record(sub.as_mut()).await;
    assert_eq!(&r.payload[..], b"after", "every partition was committed");
}

/// Runs every store check.
pub async fn store_suite(store: &dyn StateStore, ns: &str) {
    {
        let pairs: Vec<(String, Vec<u8>)> = (0..2500)
            .map(|i| (format!("{ns}:many:{i:05}"), format!("v{i}").into_bytes()))
            .collect();
        store.set_many(&pairs).await.unwrap();
        store.set_many(&[]).await.unwrap();
        let back = store.scan_prefix(&format!("{ns}:many:")).await.unwrap();
        assert_eq!(back.len(), 2500, "set_many sets every key");
        assert_eq!(&back[1234].1[..], b"v1234");
        let keys: Vec<String> = vec![
            format!("{ns}:many:00007"),
            format!("{ns}:many:absent"),
            format!("{ns}:many:02499"),
        ];
        let got = store.get_many(&keys).await.unwrap();
        assert_eq!(got.len(), 3, "get_many answers every key in order");
        assert_eq!(got[0].as_deref(), Some(&b"v7"[..]));
        assert_eq!(got[1], None);
        assert_eq!(got[2].as_deref(), Some(&b"v2499"[..]));
        assert!(store.get_many(&[]).await.unwrap().is_empty());
    }
    {
        // Many swaps in one call, each on its own.
        let k = |i: usize| format!("{ns}:swaps:{i}");
        store.set(&k(1), b"one").await.unwrap();
        store.set(&k(2), b"two").await.unwrap();
        let ops: Vec<crate::Swap> = vec![
            (k(0), None, Some(b"new".to_vec())),
            (k(1), Some(b"one".to_vec()), Some(b"uno".to_vec())),
            (k(2), Some(b"stale".to_vec()), Some(b"x".to_vec())),
            (k(3), Some(b"absent".to_vec()), None),
            (k(4), None, None),
        ];
        let got = store.compare_and_swap_many(&ops).await.unwrap();
        assert_eq!(got, vec![true, true, false, false, true]);
        assert_eq!(
            store.get(&k(0)).await.unwrap().as_deref(),
            Some(&b"new"[..])
        );
        assert_eq!(
            store.get(&k(1)).await.unwrap().as_deref(),
            Some(&b"uno"[..])
        );
        assert_eq!(
            store.get(&k(2)).await.unwrap().as_deref(),
            Some(&b"two"[..]),
            "a failed swap writes nothing"
        );
        assert_eq!(store.get(&k(4)).await.unwrap(), None);
        // Deleting through a swap, and more swaps than one script call takes.
        let many: Vec<crate::Swap> = (0..1200)
            .map(|i| (format!("{ns}:swaps:n{i}"), None, Some(vec![b'a'])))
            .collect();
        let got = store.compare_and_swap_many(&many).await.unwrap();
        assert!(got.len() == 1200 && got.iter().all(|x| *x));
        let again = store.compare_and_swap_many(&many).await.unwrap();
        assert!(
            again.iter().all(|x| !*x),
            "now present: expected-absent fails"
        );
        let delete = vec![(k(0), Some(b"new".to_vec()), None)];
        assert_eq!(
            store.compare_and_swap_many(&delete).await.unwrap(),
            vec![true]
        );
        assert_eq!(store.get(&k(0)).await.unwrap(), None);
        assert!(store.compare_and_swap_many(&[]).await.unwrap().is_empty());
    }
    let k = |s: &str| format!("{ns}:{s}");
    assert_eq!(store.get(&k("missing")).await.unwrap(), None);
    store.set(&k("a"), b"1").await.unwrap();
    assert_eq!(
        store.get(&k("a")).await.unwrap().as_deref(),
        Some(&b"1"[..])
    );
    store.set(&k("a"), b"2").await.unwrap();
    assert_eq!(
        store.get(&k("a")).await.unwrap().as_deref(),
        Some(&b"2"[..]),
        "set overwrites"
    );

    assert!(
        store.set_if_absent(&k("dedupe:e1"), b"x").await.unwrap(),
        "first writer wins"
    );
    assert!(
        !store.set_if_absent(&k("dedupe:e1"), b"y").await.unwrap(),
        "second is refused"
    );
    assert_eq!(
        store.get(&k("dedupe:e1")).await.unwrap().as_deref(),
        Some(&b"x"[..])
    );

    let r = k("reserve:w1");
    assert!(
        store.compare_and_swap(&r, None, Some(b"m1")).await.unwrap(),
        "free worker is booked"
    );
    assert!(
        !store.compare_and_swap(&r, None, Some(b"m2")).await.unwrap(),
        "booked worker is not"
    );
    assert!(
        !store.compare_and_swap(&r, Some(b"m2"), None).await.unwrap(),
        "wrong holder cannot free"
    );
    assert!(
        store
            .compare_and_swap(&r, Some(b"m1"), Some(b"m3"))
            .await
            .unwrap(),
        "holder moves it"
    );
    assert!(
        store.compare_and_swap(&r, Some(b"m3"), None).await.unwrap(),
        "holder frees it"
    );
    assert_eq!(store.get(&r).await.unwrap(), None);

    assert_eq!(store.incr_by(&k("n"), 5).await.unwrap(), 5);
    assert_eq!(store.incr_by(&k("n"), -2).await.unwrap(), 3);
    assert!(
        store.incr_by(&k("a-text"), 0).await.is_ok(),
        "absent counts as zero"
    );
    store.set(&k("t"), b"text").await.unwrap();
    assert!(
        store.incr_by(&k("t"), 1).await.is_err(),
        "text is not a counter"
    );

    assert!(store.delete(&k("a")).await.unwrap());
    assert!(!store.delete(&k("a")).await.unwrap());

    for i in 0..5 {
        store
            .set(&k(&format!("scan:{i}")), format!("{i}").as_bytes())
            .await
            .unwrap();
    }
    store.set(&k("scanx"), b"no").await.unwrap();
    let got = store.scan_prefix(&k("scan:")).await.unwrap();
    let keys: Vec<String> = got.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        keys,
        (0..5).map(|i| k(&format!("scan:{i}"))).collect::<Vec<_>>()
    );
    // Ids may hold ':': a prefix ending inside a key's last segment, at a
    // ':', or deeper than some keys all find exactly the keys under it.
    for s in [
        "deep:a:b:c",
        "deep:a:bc:d",
        "deep:a:b",
        "deep:ab",
        "deep:a:b:c:d",
    ] {
        store.set(&k(s), s.as_bytes()).await.unwrap();
    }
    for (prefix, want) in [
        (
            "deep:a:b",
            &["deep:a:b", "deep:a:b:c", "deep:a:b:c:d", "deep:a:bc:d"][..],
        ),
        ("deep:a:b:", &["deep:a:b:c", "deep:a:b:c:d"]),
        (
            "deep:a",
            &[
                "deep:a:b",
                "deep:a:b:c",
                "deep:a:b:c:d",
                "deep:a:bc:d",
                "deep:ab",
            ],
        ),
        ("deep:a:b:c:", &["deep:a:b:c:d"]),
        ("deep:a:x", &[]),
    ] {
        let got = store.scan_prefix(&k(prefix)).await.unwrap();
        let keys: Vec<String> = got.iter().map(|(k, _)| k.clone()).collect();
        let want: Vec<String> = want.iter().map(|s| k(s)).collect();
        assert_eq!(keys, want, "scan of {prefix:?}");
        assert!(got
            .iter()
            .all(|(key, v)| key.ends_with(std::str::from_utf8(v).unwrap())));
    }

    // Sets: members added once, read back sorted, absent sets empty; a
    // set is not a value key and a prefix ending in ':' is not a set.
    store.add_to_sets(&[]).await.unwrap();
    let adds: Vec<(String, String)> = (0..1500)
        .map(|i| (k(&format!("set:{}", i % 3)), format!("m{i:04}")))
        .chain([
            (k("set:0"), "m0000".to_owned()),
            (k("set:a:b"), "x".to_owned()),
        ])
        .collect();
    store.add_to_sets(&adds).await.unwrap();
    let got = store
        .members_many(&[k("set:0"), k("set:absent"), k("set:2"), k("set:a")])
        .await
        .unwrap();
    assert_eq!(got.len(), 4, "members_many answers every key in order");
    assert_eq!(got[0].len(), 500, "a member added twice is there once");
    assert_eq!(got[0][..2], ["m0000".to_owned(), "m0003".to_owned()]);
    assert!(got[0].windows(2).all(|w| w[0] < w[1]), "sorted");
    assert!(got[1].is_empty(), "an absent set is empty");
    assert_eq!(got[2][0], "m0002");
    assert!(got[3].is_empty(), "set:a is not set:a:b");
    assert!(store.members_many(&[]).await.unwrap().is_empty());
    // Several adds to one set in a row (one SADD on Redis), a repeat among them.
    let run: Vec<(String, String)> = ["b", "a", "b", "c"]
        .iter()
        .map(|m| (k("set:run"), (*m).to_owned()))
        .collect();
    store.add_to_sets(&run).await.unwrap();
    assert_eq!(
        store.members_many(&[k("set:run")]).await.unwrap()[0],
        ["a", "b", "c"]
    );
    assert!(
        store.scan_prefix(&k("set:")).await.unwrap().is_empty(),
        "sets are not values"
    );
    assert!(store.delete(&k("set:1")).await.unwrap(), "a set is deleted");
    assert!(store.members_many(&[k("set:1")]).await.unwrap()[0].is_empty());

    // Concurrent bookings of one worker: exactly one wins.
    let r = k("reserve:race");
    let wins = futures_join_all(store, &r).await;
    assert_eq!(wins, 1, "exactly one of many concurrent bookings wins");
}

async fn futures_join_all(store: &dyn StateStore, key: &str) -> usize {
    let attempts = (0..16).map(|i| {
        let v = format!("m{i}");
        async move {
            store
                .compare_and_swap(key, None, Some(v.as_bytes()))
                .await
                .unwrap()
        }
    });
    // All sixteen requests are in flight at once.
    futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|won| *won)
        .count()
}

/// The value of a variable `scripts/test-infra` exports (a server address
/// or binary); panics with how to run the tests when it is missing, since
/// tests that name a real server must talk to one.
pub fn test_infra(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: these tests talk to real servers; run them through scripts/test (or scripts/test-infra cargo test)")
    })
}

/// A namespace no earlier run used (process id and time), so runs against
/// a shared server never see each other's topics, groups or keys. Topic-safe
/// characters only.
pub fn fresh_namespace(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A free loopback TCP port (bound and released; the caller races nobody
/// on a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port")
        .local_addr()
        .expect("an address")
        .port()
}

/// A `redis-server` of a test's own (the binary from
/// `LENDWORK_REDIS_SERVER_BIN`, set by `scripts/test-infra`) on a free port,
/// keeping nothing on disk, that the test may stop and start again on the
/// same port. Stopped when dropped.
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    child: Option<std::process::Child>,
    /// Settings beyond the defaults, as `redis-server` flags.
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts one and waits until it listens.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`RedisServer::start`] with more `redis-server` flags (e.g.
    /// `["--maxmemory", "64mb"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut s = Self {
            port: free_port(),
            child: None,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        };
        s.resume();
        s
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills it (its data is gone).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and waits until it listens.
    pub fn resume(&mut self) {
        let bin = test_infra("LENDWORK_REDIS_SERVER_BIN");
        let child = std::process::Command::new(bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server listens within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

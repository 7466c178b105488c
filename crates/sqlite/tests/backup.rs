//! Backups and restores: a backup taken while the directory is open holds
//! what was acknowledged; a restore makes a directory that opens to it;
//! a restore refuses a directory in use or not empty, and a backup of
//! another format.

mod common;

use common::{all_records, TempDir};
use lendwork_ports::{EventBus, StateStore};
use lendwork_sqlite::SqliteData;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_an_open_directory_restores_to_what_was_acknowledged() {
    let (src, dst, other) = (
        TempDir::new("bk-src"),
        TempDir::new("bk-dst"),
        TempDir::new("bk-o"),
    );
    let file = src.path().with_extension("backup");
    let _ = std::fs::remove_file(&file);
    let data = SqliteData::open(src.path()).unwrap();
    let (bus, store) = (data.bus(), data.store());
    bus.ensure_topic("market", 3).await.unwrap();
    for i in 0..300u32 {
        let key = format!("region-{}", i % 7);
        bus.publish("market", key.as_bytes(), format!("event {i}").as_bytes())
            .await
            .unwrap();
    }
    store.set("lw:rm:gap:g-1", b"a view").await.unwrap();
    // While the directory is open (as under a running serve).
    let bytes = lendwork_sqlite::backup(src.path(), &file).unwrap();
    assert!(bytes > 0);
    // Written after the backup: not in it.
    bus.publish("market", b"region-0", b"after the backup")
        .await
        .unwrap();
    // A directory in use, or one that holds anything, is not restored into.
    let e = lendwork_sqlite::restore(&file, src.path()).unwrap_err();
    assert!(e.to_string().contains("in use"), "{e}");
    std::fs::create_dir_all(other.path()).unwrap();
    std::fs::write(other.path().join("lendwork.db-wal"), b"old log").unwrap();
    let e = lendwork_sqlite::restore(&file, other.path()).unwrap_err();
    assert!(e.to_string().contains("empty directory"), "{e}");
    drop((bus, store, data));

    lendwork_sqlite::restore(&file, dst.path()).unwrap();
    let restored = SqliteData::open(dst.path()).unwrap();
    let records = all_records(&restored.bus(), "market").await;
    assert_eq!(records.len(), 300);
    let mut payloads: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect();
    payloads.sort();
    let mut want: Vec<String> = (0..300).map(|i| format!("event {i}")).collect();
    want.sort();
    assert_eq!(payloads, want);
    assert_eq!(
        restored
            .store()
            .get("lw:rm:gap:g-1")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"a view"[..])
    );
    // Offsets go on from the restored end.
    let pos = restored
        .bus()
        .publish("market", b"region-0", b"next")
        .await
        .unwrap();
    assert!(pos.offset > 0);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_backup_of_another_format_is_refused_naming_it() {
    let (src, dst) = (TempDir::new("fmt-src"), TempDir::new("fmt-dst"));
    let file = src.path().with_extension("backup");
    let _ = std::fs::remove_file(&file);
    drop(SqliteData::open(src.path()).unwrap());
    lendwork_sqlite::backup(src.path(), &file).unwrap();
    {
        let c = rusqlite::Connection::open(&file).unwrap();
        c.pragma_update(None, "user_version", 9).unwrap();
    }
    let e = lendwork_sqlite::restore(&file, dst.path()).unwrap_err();
    assert!(e.to_string().contains("format version 9"), "{e}");
    let _ = std::fs::remove_file(&file);
}

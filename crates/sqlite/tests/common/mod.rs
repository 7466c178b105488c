//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh directory under Cargo's temporary directory for tests, removed
/// when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A directory named after `name` that no other run uses.
    pub fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "lendwork-sqlite-{name}-{}-{nanos}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    /// Its path (the directory itself may not exist yet).
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every record of `topic`, partition by partition, up to the log's end.
pub async fn all_records(
    bus: &lendwork_sqlite::SqliteBus,
    topic: &str,
) -> Vec<lendwork_ports::Record> {
    use lendwork_ports::EventBus;
    let mut out = Vec::new();
    for (p, end) in bus.end_offsets(topic).unwrap().into_iter().enumerate() {
        let mut reader = bus.read_partition(topic, p as u32, 0, end).await.unwrap();
        while let Some(r) = reader.next().await.unwrap() {
            out.push(r);
        }
    }
    out
}

//! A full disk under the data directory: writes are refused as
//! unavailable (a 503 at the gateway, nothing half-written), the bus
//! reports itself unavailable so readiness says so, and both recover by
//! themselves once there is room again. The disk is a small tmpfs mounted
//! for the test (the suite runs as root, as CI does).

mod common;

use std::process::Command;

use common::TempDir;
use lendwork_ports::{BusError, EventBus};
use lendwork_sqlite::SqliteData;

/// A tmpfs of `size` mounted at `dir`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (the suite runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_as_unavailable_says_so_and_recovers() {
    let root = TempDir::new("disk-full");
    let fs = Tmpfs::mount(root.path(), "2m");
    let dir = root.path().join("data");
    let filler = root.path().join("filler");
    {
        let data = SqliteData::open(&dir).unwrap();
        let bus = data.bus();
        bus.ensure_topic("market", 2).await.unwrap();
        // Fill the disk but for a little room, then write until it is gone.
        let free =
            2 * 1024 * 1024 - std::fs::metadata(dir.join("lendwork.db")).unwrap().len() as usize;
        std::fs::write(&filler, vec![0u8; free.saturating_sub(300 * 1024)]).unwrap_or(());
        let payload = vec![b'x'; 8 * 1024];
        let mut acked = 0;
        let refused = loop {
            match bus.publish("market", b"620100", &payload).await {
                Ok(_) => acked += 1,
                Err(e) => break e,
            }
            assert!(acked < 10_000, "the disk never filled");
        };
        assert!(matches!(refused, BusError::Unavailable(_)), "{refused:?}");
        // Readiness: the probe's call reports the failing disk.
        assert!(matches!(
            bus.ensure_topic("market", 2).await,
            Err(BusError::Unavailable(_))
        ));
        // Room again: the next write commits and the bus is well again.
        std::fs::remove_file(&filler).unwrap();
        bus.publish("market", b"620100", b"after").await.unwrap();
        bus.ensure_topic("market", 2).await.unwrap();
        // Everything acknowledged is there, and nothing of the refused one.
        let records = common::all_records(&bus, "market").await;
        assert_eq!(records.len(), acked + 1);
    }
    drop(fs);
}

//! # lendwork-sqlite
//!
//! The durable embedded default of Lendwork: both ports of
//! `lendwork-ports` — the [`EventBus`] ([`SqliteBus`]) and the
//! [`StateStore`] ([`SqliteStore`]) — on one SQLite database in a data
//! directory. A first run, a small office or a demo gets a market that
//! survives restarts, `kill -9` and power loss with no server to run; it
//! passes the same contract suites as the in-memory and the Kafka/Redis
//! implementations, and moves to Kafka and Redis by exporting its log.
//!
//! ## Why SQLite
//!
//! SQLite (through `rusqlite`, compiled in with its `bundled` feature, so
//! nothing is needed on the machine) is the most widely deployed and most
//! thoroughly tested embedded database, with a file format that is stable
//! and documented for decades to come. Its write-ahead log gives durable
//! commits with one fsync each, readers that never block the writer, and
//! recovery from a torn last write that is part of that testing. An office
//! can open the file with the `sqlite3` shell (`SELECT * FROM log`) to
//! look, back it up (`.backup`) or audit it, even while Lendwork runs
//! (reading only: Lendwork keeps partition ends in memory). A pure-Rust
//! store such as redb would serve as well at this size, but it is younger,
//! its file is readable only through a Rust program, and its long-term
//! upkeep rests on far fewer hands; SQLite's is the most certain there is.
//!
//! ## The data directory
//!
//! * `FORMAT` — the format version (`1`), written before the database; a
//!   directory of another version is refused, naming both versions.
//! * `LOCK` — held with an exclusive `flock` while a process has the
//!   directory open: a second process (or a second [`SqliteData::open`]) is
//!   refused. The kernel drops the lock when the holder dies.
//! * `lendwork.db` — the database; `lendwork.db-wal` and `-shm` beside it
//!   while it is open (a clean close folds the log into the database and
//!   removes them; after a crash SQLite recovers from them).
//!
//! Tables (format 1):
//!
//! | table | columns | holds |
//! | --- | --- | --- |
//! | `topics` | `id`, `name`, `partitions` | the topics |
//! | `records` | `topic`, `"partition"`, `"offset"`, `key`, `payload` | the log; offsets count 0, 1, 2… in each partition |
//! | `group_offsets` | `topic`, `consumer_group`, `"partition"`, `next_offset` | consumer groups' committed offsets |
//! | `store_values` | `key`, `value` | the store's values |
//! | `store_sets` | `key`, `member` | the store's sets, a row a member |
//!
//! and a view `log` (topic name, partition, offset, key and payload as
//! text) for people reading the file.
//!
//! ## Durability and group commit
//!
//! The database runs in WAL mode with `synchronous=FULL`: a commit returns
//! once the write-ahead log is fsynced, and only then is the write
//! acknowledged, so an acknowledged publish, commit of offsets or store
//! write survives `kill -9` and power loss. A crash during a commit leaves
//! a torn tail in the log, whose checksums SQLite checks on recovery: the
//! unfinished transaction is dropped, never half applied.
//!
//! Every write goes to one writer thread, as a job on a channel with a
//! reply channel. The thread takes everything queued, runs it in one
//! transaction, commits (one fsync), and answers each caller: many
//! concurrent publishers share each fsync, and a lone one waits for its
//! own only. `publish_all` is one job, so it is all or nothing. Reads run
//! on tokio's blocking pool over a few read-only connections, each seeing
//! every acknowledged write. Subscribers wait on a signal the writer gives
//! after each commit; nothing polls, since only this process writes.
//!
//! ```
//! use lendwork_ports::{EventBus, StateStore};
//! use lendwork_sqlite::SqliteData;
//! # let dir = std::env::temp_dir().join(format!("lendwork-sqlite-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let data = SqliteData::open(&dir).unwrap();
//! let bus = data.bus();
//! bus.ensure_topic("lendwork.market.v1", 4).await.unwrap();
//! bus.publish("lendwork.market.v1", b"620100", b"{}").await.unwrap();
//! let mut sub = bus.subscribe("lendwork.market.v1", "matchers").await.unwrap();
//! let rec = sub.next().await.unwrap();
//! assert_eq!(&rec.key[..], b"620100");
//! sub.commit(&rec).await.unwrap();
//!
//! let store = data.store();
//! assert!(store.set_if_absent("dedupe:e1", b"1").await.unwrap());
//! # });
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[cfg(doc)]
use lendwork_ports::{EventBus, StateStore};

mod backup;
mod bus;
mod db;
mod dir;
mod hub;
mod schema;
mod store;
mod writer;

pub use backup::{backup, restore, BackupError};
pub use bus::SqliteBus;
pub use dir::FORMAT_VERSION;
pub use store::SqliteStore;

/// Why a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process, or another [`SqliteData`] in this one, has it open.
    #[error("data directory {} is in use by another Lendwork process (its LOCK file is held)", dir.display())]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// Its `FORMAT` file names a version this build does not read.
    #[error("data directory {} has format version {found:?}; this build of Lendwork reads format version {supported}", dir.display())]
    UnknownFormat {
        /// The directory.
        dir: PathBuf,
        /// What its `FORMAT` file says.
        found: String,
        /// The version this build reads ([`FORMAT_VERSION`]).
        supported: u32,
    },
    /// It holds a database but no `FORMAT` file (not made by Lendwork, or
    /// damaged).
    #[error("data directory {} holds {} but no FORMAT file; this build of Lendwork reads format version {FORMAT_VERSION}", dir.display(), dir::DB_FILE)]
    NoFormat {
        /// The directory.
        dir: PathBuf,
    },
    /// SQLite could not use write-ahead logging there (some network file
    /// systems cannot), so durable commits cannot be promised.
    #[error("data directory {}: SQLite cannot use write-ahead logging there (journal mode {mode:?})", dir.display())]
    NoWal {
        /// The directory.
        dir: PathBuf,
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// The file system refused.
    #[error("cannot use data directory {}: {source}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused (a damaged or foreign database file).
    #[error("cannot open the database in data directory {}: {source}", dir.display())]
    Database {
        /// The directory.
        dir: PathBuf,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
}

/// An open data directory: the bus and the store over its one database.
///
/// The directory stays locked, and the database open, until this and
/// every bus, store and subscription taken from it are dropped; the last
/// drop waits for queued writes and closes the database cleanly.
pub struct SqliteData {
    db: Arc<db::Db>,
    bus: Arc<SqliteBus>,
    store: Arc<SqliteStore>,
}

/// What the writer thread has done since the directory was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed (one fsync each).
    pub transactions: u64,
    /// Writes acknowledged (publishes, commits of offsets, store writes).
    pub writes: u64,
}

impl SqliteData {
    /// Opens the data directory `dir`, creating it and its database when
    /// missing. Fails when another process holds it, or when it is of
    /// another format version.
    pub fn open(dir: &Path) -> Result<SqliteData, OpenError> {
        let db = db::Db::open(dir)?;
        Ok(SqliteData {
            bus: Arc::new(SqliteBus::new(db.clone())),
            store: Arc::new(SqliteStore::new(db.clone())),
            db,
        })
    }

    /// The event bus.
    pub fn bus(&self) -> Arc<SqliteBus> {
        self.bus.clone()
    }

    /// The state store.
    pub fn store(&self) -> Arc<SqliteStore> {
        self.store.clone()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.db.dir()
    }

    /// Counts of the writer's work: `writes / transactions` is how many
    /// writes share a commit on average.
    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.db.hub.counters;
        WriterStats {
            transactions: c.transactions.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
        }
    }
}

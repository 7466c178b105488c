//! The open database: the writer thread's queue, a pool of reading
//! connections, and the directory lock, shared by the bus and the store.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::oneshot;

use crate::hub::{Batch, Hub};
use crate::writer::{Job, Pending, Unavailable};
use crate::{dir, schema, OpenError};

/// Reading connections kept open between reads; more are opened when more
/// reads run at once and closed afterwards.
const IDLE_READERS: usize = 8;

/// Shared by [`crate::SqliteBus`], [`crate::SqliteStore`] and their
/// subscriptions; the last one dropped closes the database.
pub(crate) struct Db {
    /// Where jobs go to the writer thread. Taken (closed) on drop, which
    /// ends the thread.
    jobs: Option<Sender<Box<dyn Job>>>,
    writer: Option<JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    dir: PathBuf,
    pub(crate) hub: Arc<Hub>,
    /// Held until everything above is closed (fields drop in order), so
    /// the next process to take the lock finds the database at rest.
    _lock: File,
}

impl Db {
    /// Locks `dir`, checks its format, opens (or creates) the database and
    /// starts the writer thread.
    pub(crate) fn open(dir: &Path) -> Result<Arc<Db>, OpenError> {
        let lock = dir::lock(dir)?;
        dir::check_format(dir)?;
        let path = dir.join(dir::DB_FILE);
        let db_error = |source| OpenError::Database {
            dir: dir.to_owned(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(db_error)?;
        schema::configure(&conn).map_err(db_error)?;
        let mode = schema::create(&mut conn).map_err(db_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::NoWal {
                dir: dir.to_owned(),
                mode,
            });
        }
        // The format is also kept inside the database (`user_version`), so a
        // file moved between directories (a backup, a restore) carries it.
        let inside = schema::format_version(&conn).map_err(db_error)?;
        if inside != dir::FORMAT_VERSION {
            return Err(OpenError::UnknownFormat {
                dir: dir.to_owned(),
                found: format!("{inside} (in {})", dir::DB_FILE),
                supported: dir::FORMAT_VERSION,
            });
        }
        dir::sync_dir(dir).map_err(|source| OpenError::Io {
            dir: dir.to_owned(),
            source,
        })?;
        let hub = Arc::new(Hub::load(&conn).map_err(db_error)?);
        let (jobs, queue) = std::sync::mpsc::channel();
        let writer_hub = hub.clone();
        let writer = std::thread::Builder::new()
            .name("lendwork-sqlite-writer".into())
            .spawn(move || crate::writer::run(conn, queue, writer_hub))
            .map_err(|source| OpenError::Io {
                dir: dir.to_owned(),
                source,
            })?;
        Ok(Arc::new(Db {
            jobs: Some(jobs),
            writer: Some(writer),
            readers: Mutex::new(Vec::new()),
            path,
            dir: dir.to_owned(),
            hub,
            _lock: lock,
        }))
    }

    /// The data directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `work` on the writer thread in the next group commit; answers
    /// once that commit is durable.
    pub(crate) async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: Unavailable + Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut Batch) -> rusqlite::Result<Result<T, E>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending::new(work, reply));
        let stopped = || E::unavailable("the database writer has stopped".to_owned());
        match &self.jobs {
            Some(jobs) if jobs.send(job).is_ok() => {}
            _ => return Err(stopped()),
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Runs `work` with a reading connection on tokio's blocking pool.
    /// Each call reads one consistent snapshot if `work` opens a
    /// transaction; the snapshot includes every acknowledged write.
    pub(crate) async fn read<T, E, F>(self: &Arc<Self>, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: Unavailable + Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let db = self.clone();
        let run = tokio::task::spawn_blocking(move || {
            let mut conn = db.reader()?;
            let out = work(&mut conn);
            let mut idle = db.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
            out
        });
        match run.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(E::unavailable(format!("the database read failed: {e}"))),
            Err(e) => Err(E::unavailable(format!("a database read stopped: {e}"))),
        }
    }

    fn reader(&self) -> rusqlite::Result<Connection> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::configure(&conn)?;
        schema::read_only(&conn)?;
        Ok(conn)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Readers first, so that the writer's connection is the last one
        // and checkpoints the log into the database file as it closes.
        self.readers
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            // Waits for queued writes and the final checkpoint.
            let _ = writer.join();
        }
    }
}

//! Backups and restores of a data directory.
//!
//! A backup is one SQLite file: `VACUUM INTO` from a read-only connection
//! to the directory's database, a consistent snapshot of one moment that
//! does not take the directory's lock, so it runs beside a live `lendwork
//! serve` (WAL lets a reader and the writer work at once). A restore makes
//! a new data directory from such a file: its `FORMAT`, then the database.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::dir::{self, DB_FILE};

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The source is not a Lendwork data directory or backup.
    #[error("{0}")]
    Source(String),
    /// The target exists (nothing is overwritten).
    #[error("{} exists; choose a new path (nothing is overwritten)", .0.display())]
    Exists(std::path::PathBuf),
    /// SQLite refused.
    #[error("{what}: {source}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file system refused.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

fn sqlite(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Sqlite { what, source }
}

/// Writes a consistent copy of data directory `dir`'s database to the new
/// file `out`, while the directory may be in use. Returns the bytes
/// written.
pub fn backup(dir: &Path, out: &Path) -> Result<u64, BackupError> {
    dir::check_format_readonly(dir).map_err(|e| BackupError::Source(e.to_string()))?;
    let db = dir.join(DB_FILE);
    if !db.exists() {
        return Err(BackupError::Source(format!(
            "{} holds no {DB_FILE}: not a Lendwork data directory",
            dir.display()
        )));
    }
    if out.exists() {
        return Err(BackupError::Exists(out.to_owned()));
    }
    let conn = Connection::open_with_flags(
        &db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite(format!("opening {}", db.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sqlite("setting a busy timeout"))?;
    let target = out
        .to_str()
        .ok_or_else(|| BackupError::Source(format!("{}: not UTF-8", out.display())))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(sqlite(format!("writing {}", out.display())))?;
    let f = std::fs::File::open(out).map_err(|source| BackupError::Io {
        what: format!("reading back {}", out.display()),
        source,
    })?;
    f.sync_all().map_err(|source| BackupError::Io {
        what: format!("syncing {}", out.display()),
        source,
    })?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        dir::sync_dir(parent).map_err(|source| BackupError::Io {
            what: format!("syncing {}", parent.display()),
            source,
        })?;
    }
    Ok(f.metadata().map(|m| m.len()).unwrap_or(0))
}

/// Makes the new data directory `dir` from backup file `file`: holds the
/// directory's lock throughout (no `serve` can start on it meanwhile),
/// refuses a directory that holds anything but `FORMAT` and `LOCK` (an old
/// `-wal` beside a restored database would be replayed onto it), checks
/// that the file is a sound Lendwork database of this format, and copies it
/// with SQLite (`VACUUM INTO`, so a live database's log is included), then
/// writes `FORMAT` and renames the copy into place.
pub fn restore(file: &Path, dir: &Path) -> Result<(), BackupError> {
    let _lock = dir::lock(dir).map_err(|e| BackupError::Source(e.to_string()))?;
    let io = |what: String| move |source| BackupError::Io { what, source };
    for entry in std::fs::read_dir(dir).map_err(io(format!("reading {}", dir.display())))? {
        let name = entry
            .map_err(io(format!("reading {}", dir.display())))?
            .file_name();
        if name != "FORMAT" && name != "LOCK" {
            return Err(BackupError::Source(format!(
                "{} holds {:?}: restore into a new, empty directory",
                dir.display(),
                name
            )));
        }
    }
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite(format!("opening {}", file.display())))?;
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| BackupError::Source(format!("{}: not a database: {e}", file.display())))?;
    if ok != "ok" {
        return Err(BackupError::Source(format!(
            "{}: integrity check failed: {ok}",
            file.display()
        )));
    }
    conn.query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))
        .map_err(|e| {
            BackupError::Source(format!(
                "{}: not a Lendwork backup (no records table): {e}",
                file.display()
            ))
        })?;
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite("reading the backup's format"))?;
    if version != 0 && version != dir::FORMAT_VERSION {
        return Err(BackupError::Source(format!(
            "{} has format version {version}; this build of Lendwork reads format version {}",
            file.display(),
            dir::FORMAT_VERSION
        )));
    }
    dir::check_format(dir).map_err(|e| BackupError::Source(e.to_string()))?;
    let tmp = dir.join(format!("{DB_FILE}.restoring"));
    let target = tmp
        .to_str()
        .ok_or_else(|| BackupError::Source(format!("{}: not UTF-8", tmp.display())))?
        .to_owned();
    conn.execute("VACUUM INTO ?1", [&target])
        .map_err(sqlite(format!("writing {}", tmp.display())))?;
    drop(conn);
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("syncing {}", tmp.display())))?;
    std::fs::rename(&tmp, dir.join(DB_FILE)).map_err(io(format!("renaming {}", tmp.display())))?;
    dir::sync_dir(dir).map_err(io(format!("syncing {}", dir.display())))?;
    Ok(())
}

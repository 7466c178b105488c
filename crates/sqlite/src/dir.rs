//! The data directory around the database: its `LOCK` and `FORMAT` files.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::OpenError;

/// The format version this build reads and writes (the `FORMAT` file).
pub const FORMAT_VERSION: u32 = 1;

/// The database file inside the data directory.
pub const DB_FILE: &str = "lendwork.db";
const LOCK_FILE: &str = "LOCK";
const FORMAT_FILE: &str = "FORMAT";

fn io_error(dir: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        dir: dir.to_owned(),
        source,
    }
}

/// Takes the directory's exclusive lock, creating the directory and its
/// `LOCK` file when missing. The lock is an `flock` on the file: the
/// kernel drops it when the holder exits however it exits (`kill -9`
/// included), and a second open file description conflicts with it even in
/// the same process.
pub fn lock(dir: &Path) -> Result<File, OpenError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        // The new directory's own entry must survive a power cut too.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent).map_err(io_error(dir))?;
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
        .map_err(io_error(dir))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::Locked {
            dir: dir.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(dir)(e)),
    }
}

/// Checks the directory's `FORMAT` file, or writes it when the directory
/// holds no database yet. Written before the database is created, so a
/// database never exists without one.
pub fn check_format(dir: &Path) -> Result<(), OpenError> {
    let path = dir.join(FORMAT_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let found = text.trim();
            if found.parse::<u32>() == Ok(FORMAT_VERSION) {
                Ok(())
            } else {
                Err(OpenError::UnknownFormat {
                    dir: dir.to_owned(),
                    found: found.to_owned(),
                    supported: FORMAT_VERSION,
                })
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.join(DB_FILE).exists() {
                return Err(OpenError::NoFormat {
                    dir: dir.to_owned(),
                });
            }
            write_durably(dir, FORMAT_FILE, format!("{FORMAT_VERSION}\n").as_bytes())
                .map_err(io_error(dir))
        }
        Err(e) => Err(io_error(dir)(e)),
    }
}

/// Checks the directory's `FORMAT` file without writing anything (for
/// readers that do not own the directory, such as a backup).
pub fn check_format_readonly(dir: &Path) -> Result<(), OpenError> {
    match std::fs::read_to_string(dir.join(FORMAT_FILE)) {
        Ok(text) if text.trim().parse::<u32>() == Ok(FORMAT_VERSION) => Ok(()),
        Ok(text) => Err(OpenError::UnknownFormat {
            dir: dir.to_owned(),
            found: text.trim().to_owned(),
            supported: FORMAT_VERSION,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(OpenError::NoFormat {
            dir: dir.to_owned(),
        }),
        Err(e) => Err(io_error(dir)(e)),
    }
}

/// Writes `dir/name` whole or not at all: a temporary file, synced, renamed
/// over the name, and the directory synced so the rename survives a crash.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp: PathBuf = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Makes the directory's entries (files created or renamed in it) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

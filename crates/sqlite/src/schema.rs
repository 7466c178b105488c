//! The on-disk layout: the only module that spells out table and column
//! names. Everything else calls these functions.
//!
//! `partition` and `offset` are SQL keywords, so the statements here quote
//! them; the tables are plain (not `STRICT`) so that older `sqlite3` shells
//! can read the file too.

use rusqlite::{params, Connection, OptionalExtension};

/// Format version 1 of the schema. Every statement is idempotent: it runs
/// at each open.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    topic INTEGER NOT NULL REFERENCES topics(id),
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    key BLOB NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (topic, "partition", "offset")
);
CREATE TABLE IF NOT EXISTS group_offsets (
    topic INTEGER NOT NULL REFERENCES topics(id),
    consumer_group TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, consumer_group, "partition")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store_values (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS store_sets (
    key TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (key, member)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS log AS
    SELECT t.name AS topic, r."partition", r."offset",
           CAST(r.key AS TEXT) AS key, CAST(r.payload AS TEXT) AS payload
    FROM records AS r JOIN topics AS t ON t.id = r.topic;
"#;

/// Bytes of write-ahead log kept on disk after a checkpoint (the file is
/// reused rather than grown again; beyond this it is truncated).
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// Settings of every connection. `synchronous=FULL` makes each commit
/// fsync the write-ahead log before it returns: an acknowledged write
/// survives `kill -9` and power loss (NORMAL would only survive the
/// former).
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Switches the database to write-ahead logging (a setting kept in the
/// file) and creates the tables. Answers the journal mode SQLite reports,
/// which is `wal` unless the file system cannot do it.
pub fn create(conn: &mut Connection) -> rusqlite::Result<String> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    tx.commit()?;
    Ok(mode)
}

/// The format version kept in the database (`PRAGMA user_version`);
/// stamps the current one into a database that has none yet (a new one, or
/// one made before the version was kept inside).
pub fn format_version(conn: &Connection) -> rusqlite::Result<u32> {
    let v: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v != 0 {
        return Ok(v);
    }
    conn.pragma_update(None, "user_version", crate::dir::FORMAT_VERSION)?;
    Ok(crate::dir::FORMAT_VERSION)
}

/// Settings of a connection that only reads.
pub fn read_only(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "query_only", true)
}

/// A topic as stored: id, name, partition count.
pub type TopicRow = (i64, String, u32);

/// Every topic.
pub fn topics(conn: &Connection) -> rusqlite::Result<Vec<TopicRow>> {
    let mut st = conn.prepare("SELECT id, name, partitions FROM topics ORDER BY id")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// The topic named `name`, if stored.
pub fn find_topic(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM topics WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()
}

/// Stores a new topic; answers its id.
pub fn insert_topic(conn: &Connection, name: &str, partitions: u32) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO topics (name, partitions) VALUES (?1, ?2)")?
        .execute(params![name, partitions])?;
    Ok(conn.last_insert_rowid())
}

/// The offset after the last record of a partition (0 when empty): one
/// step down the primary-key index.
pub fn end_offset(conn: &Connection, topic: i64, partition: u32) -> rusqlite::Result<u64> {
    let last: Option<i64> = conn
        .prepare_cached(
            r#"SELECT max("offset") FROM records WHERE topic = ?1 AND "partition" = ?2"#,
        )?
        .query_row(params![topic, partition], |r| r.get(0))?;
    Ok(last.map_or(0, |o| o as u64 + 1))
}

/// Appends one record.
pub fn insert_record(
    conn: &Connection,
    topic: i64,
    partition: u32,
    offset: u64,
    key: &[u8],
    payload: &[u8],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        r#"INSERT INTO records (topic, "partition", "offset", key, payload)
           VALUES (?1, ?2, ?3, ?4, ?5)"#,
    )?
    .execute(params![topic, partition, offset as i64, key, payload])?;
    Ok(())
}

/// A record as read: offset, key, payload.
pub type RecordRow = (u64, Vec<u8>, Vec<u8>);

/// The records of a partition from offset `from` up to, not including,
/// `until`, in offset order.
pub fn records(
    conn: &Connection,
    topic: i64,
    partition: u32,
    from: u64,
    until: u64,
) -> rusqlite::Result<Vec<RecordRow>> {
    let mut st = conn.prepare_cached(
        r#"SELECT "offset", key, payload FROM records
           WHERE topic = ?1 AND "partition" = ?2 AND "offset" >= ?3 AND "offset" < ?4
           ORDER BY "offset""#,
    )?;
    let rows = st.query_map(
        params![
            topic,
            partition,
            from as i64,
            until.min(i64::MAX as u64) as i64
        ],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)),
    )?;
    rows.collect()
}

/// Raises a group's committed offset in a partition to `next` (never
/// lowers it: commits may arrive out of order).
pub fn commit_offset(
    conn: &Connection,
    topic: i64,
    group: &str,
    partition: u32,
    next: u64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        r#"INSERT INTO group_offsets (topic, consumer_group, "partition", next_offset)
           VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (topic, consumer_group, "partition")
           DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)"#,
    )?
    .execute(params![topic, group, partition, next as i64])?;
    Ok(())
}

/// A group's committed offset in one partition.
pub fn committed_offset(
    conn: &Connection,
    topic: i64,
    group: &str,
    partition: u32,
) -> rusqlite::Result<Option<u64>> {
    conn.prepare_cached(
        r#"SELECT next_offset FROM group_offsets
           WHERE topic = ?1 AND consumer_group = ?2 AND "partition" = ?3"#,
    )?
    .query_row(params![topic, group, partition], |r| r.get::<_, i64>(0))
    .optional()
    .map(|o| o.map(|o| o as u64))
}

/// A group's committed offsets: (partition, next offset).
pub fn committed_offsets(
    conn: &Connection,
    topic: i64,
    group: &str,
) -> rusqlite::Result<Vec<(u32, u64)>> {
    let mut st = conn.prepare_cached(
        r#"SELECT "partition", next_offset FROM group_offsets
           WHERE topic = ?1 AND consumer_group = ?2"#,
    )?;
    let rows = st.query_map(params![topic, group], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    rows.collect()
}

/// The value at `key`.
pub fn value(conn: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM store_values WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()
}

/// Sets the value at `key`.
pub fn set_value(conn: &Connection, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO store_values (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Sets the value at `key` when there is none; true when it did.
pub fn insert_value(conn: &Connection, key: &str, value: &[u8]) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO store_values (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![key, value])?;
    Ok(n == 1)
}

/// Removes the value at `key`; true when there was one.
pub fn delete_value(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM store_values WHERE key = ?1")?
        .execute([key])?;
    Ok(n > 0)
}

/// Removes the set at `key`; true when there was one.
pub fn delete_set(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM store_sets WHERE key = ?1")?
        .execute([key])?;
    Ok(n > 0)
}

/// The values whose key starts with `prefix`, sorted by key (bytewise, as
/// a Rust `String` sorts: SQLite's BINARY collation compares UTF-8 bytes).
pub fn values_with_prefix(
    conn: &Connection,
    prefix: &str,
) -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
    let rows: Vec<(String, Vec<u8>)> = match prefix_end(prefix) {
        Some(end) => {
            let mut st = conn.prepare_cached(
                "SELECT key, value FROM store_values WHERE key >= ?1 AND key < ?2 ORDER BY key",
            )?;
            let rows = st.query_map(params![prefix, end], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
        None => {
            let mut st = conn.prepare_cached(
                "SELECT key, value FROM store_values WHERE key >= ?1 ORDER BY key",
            )?;
            let rows = st.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    // The bound is exact (see `prefix_end`); the filter keeps this correct
    // for any prefix the bound is loose for.
    Ok(rows
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .collect())
}

/// The smallest string above every string that starts with `prefix`: the
/// prefix with its last character replaced by the next one (UTF-8 sorts
/// bytewise as code points do). None when every string qualifies.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Adds `member` to the set at `key` (no change when it is there).
pub fn add_member(conn: &Connection, key: &str, member: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO store_sets (key, member) VALUES (?1, ?2)")?
        .execute([key, member])?;
    Ok(())
}

/// The members of the set at `key`, sorted.
pub fn members(conn: &Connection, key: &str) -> rusqlite::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT member FROM store_sets WHERE key = ?1 ORDER BY member")?;
    let rows = st.query_map([key], |r| r.get(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_next_string_after_the_prefix() {
        assert_eq!(prefix_end("ab:").as_deref(), Some("ab;"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10ffff}"), None);
    }
}

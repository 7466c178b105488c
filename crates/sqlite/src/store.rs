//! [`SqliteStore`]: the state store on the database, with the in-memory
//! store's semantics.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use lendwork_ports::{StateStore, StoreError, Swap};
use rusqlite::Connection;

use crate::db::Db;
use crate::schema;

/// Durable hot state: values and sets in the data directory's database.
///
/// Every operation is atomic, as the in-memory store's are: each write is
/// one job of the writer thread (which reads and writes inside one
/// transaction, with no other write between), and each read of several
/// keys reads one snapshot. A write is acknowledged once it is durable.
pub struct SqliteStore {
    db: Arc<Db>,
}

impl SqliteStore {
    pub(crate) fn new(db: Arc<Db>) -> Self {
        Self { db }
    }
}

/// The integer a counter holds, as the in-memory store reads it.
fn counter(key: &str, value: Option<&[u8]>) -> Result<i64, StoreError> {
    match value {
        None => Ok(0),
        Some(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| StoreError::Invalid(format!("{key:?} does not hold an integer"))),
    }
}

/// One compare-and-swap inside the writer's transaction.
fn swap(
    conn: &Connection,
    key: &str,
    expected: Option<&[u8]>,
    new: Option<&[u8]>,
) -> rusqlite::Result<bool> {
    if schema::value(conn, key)?.as_deref() != expected {
        return Ok(false);
    }
    match new {
        Some(v) => schema::set_value(conn, key, v)?,
        None => {
            schema::delete_value(conn, key)?;
        }
    }
    Ok(true)
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let key = key.to_owned();
        let v = self.db.read(move |conn| schema::value(conn, &key)).await?;
        Ok(v.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.db
            .write(move |tx, _| Ok(Ok(schema::set_value(tx, &key, &value)?)))
            .await
    }

    /// One snapshot for all the keys.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        let values = self
            .db
            .read(move |conn| {
                let tx = conn.transaction()?;
                keys.iter()
                    .map(|k| schema::value(&tx, k))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect())
    }

    /// One transaction: all set or none.
    async fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let pairs = pairs.to_vec();
        self.db
            .write(move |tx, _| {
                for (k, v) in &pairs {
                    schema::set_value(tx, k, v)?;
                }
                Ok(Ok(()))
            })
            .await
    }

    async fn set_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.db
            .write(move |tx, _| Ok(Ok(schema::insert_value(tx, &key, &value)?)))
            .await
    }

    /// Like Redis's DEL: whatever the key holds, a value or a set.
    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.db
            .write(move |tx, _| {
                let set = schema::delete_set(tx, &key)?;
                let value = schema::delete_value(tx, &key)?;
                Ok(Ok(set || value))
            })
            .await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let (key, expected, new) = (
            key.to_owned(),
            expected.map(<[u8]>::to_vec),
            new.map(<[u8]>::to_vec),
        );
        self.db
            .write(move |tx, _| Ok(Ok(swap(tx, &key, expected.as_deref(), new.as_deref())?)))
            .await
    }

    /// Each swap succeeds or fails on its own, as the trait says; all of
    /// them run in one transaction, so no other write falls between them
    /// and they become durable together.
    async fn compare_and_swap_many(&self, ops: &[Swap]) -> Result<Vec<bool>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let ops = ops.to_vec();
        self.db
            .write(move |tx, _| {
                let done = ops
                    .iter()
                    .map(|(k, expected, new)| swap(tx, k, expected.as_deref(), new.as_deref()))
                    .collect::<rusqlite::Result<Vec<bool>>>()?;
                Ok(Ok(done))
            })
            .await
    }

    async fn incr_by(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        let key = key.to_owned();
        self.db
            .write(move |tx, _| {
                let current = match counter(&key, schema::value(tx, &key)?.as_deref()) {
                    Ok(n) => n,
                    Err(refused) => return Ok(Err(refused)),
                };
                let Some(new) = current.checked_add(delta) else {
                    return Ok(Err(StoreError::Invalid(format!(
                        "counter {key:?} would overflow"
                    ))));
                };
                schema::set_value(tx, &key, new.to_string().as_bytes())?;
                Ok(Ok(new))
            })
            .await
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        let prefix = prefix.to_owned();
        let rows = self
            .db
            .read(move |conn| schema::values_with_prefix(conn, &prefix))
            .await?;
        Ok(rows.into_iter().map(|(k, v)| (k, Bytes::from(v))).collect())
    }

    /// One transaction for all of them.
    async fn add_to_sets(&self, adds: &[(String, String)]) -> Result<(), StoreError> {
        if adds.is_empty() {
            return Ok(());
        }
        let adds = adds.to_vec();
        self.db
            .write(move |tx, _| {
                for (k, m) in &adds {
                    schema::add_member(tx, k, m)?;
                }
                Ok(Ok(()))
            })
            .await
    }

    /// One snapshot for all the sets.
    async fn members_many(&self, keys: &[String]) -> Result<Vec<Vec<String>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        self.db
            .read(move |conn| {
                let tx = conn.transaction()?;
                keys.iter()
                    .map(|k| schema::members(&tx, k))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
    }
}

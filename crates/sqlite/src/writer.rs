//! The writer thread: every write of the bus and the store, group
//! committed.
//!
//! Callers send a [`Job`] down a channel and await its answer. The thread
//! takes the first job, then everything else already queued (up to
//! [`MAX_BATCH`]), runs them all in one transaction, commits (one fsync of
//! the write-ahead log), makes the batch's records visible to readers in
//! this process, and only then answers each caller. While one commit waits
//! for the disk, new jobs queue up and go into the next one, so a busy
//! process pays one fsync for many writes and an idle one pays no waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use lendwork_ports::{BusError, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::hub::{Batch, Hub};

/// The most jobs in one transaction: bounds how long the first of them
/// waits for the others to be written.
const MAX_BATCH: usize = 4096;

/// One write, run on the writer thread inside the batch's transaction.
pub(crate) trait Job: Send {
    /// Does the write. An `Err` (an SQLite failure) fails the whole batch;
    /// a refusal (bad request) is an answer, not an `Err`, and a job that
    /// refuses writes nothing.
    fn apply(&mut self, tx: &Transaction<'_>, batch: &mut Batch) -> rusqlite::Result<()>;
    /// Answers the caller: with what `apply` found, or with `failure` when
    /// the batch was not committed.
    fn finish(self: Box<Self>, failure: Option<&str>);
}

/// An error type that can say "the database failed; try again".
pub(crate) trait Unavailable {
    fn unavailable(message: String) -> Self;
}

impl Unavailable for BusError {
    fn unavailable(message: String) -> Self {
        BusError::Unavailable(message)
    }
}

impl Unavailable for StoreError {
    fn unavailable(message: String) -> Self {
        StoreError::Unavailable(message)
    }
}

/// A [`Job`] made of a closure and the channel its answer goes back on.
pub(crate) struct Pending<T, E, F> {
    work: Option<F>,
    answer: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Pending<T, E, F> {
    pub(crate) fn new(work: F, reply: oneshot::Sender<Result<T, E>>) -> Self {
        Self {
            work: Some(work),
            answer: None,
            reply,
        }
    }
}

impl<T, E, F> Job for Pending<T, E, F>
where
    T: Send,
    E: Unavailable + Send,
    F: FnOnce(&Transaction<'_>, &mut Batch) -> rusqlite::Result<Result<T, E>> + Send,
{
    fn apply(&mut self, tx: &Transaction<'_>, batch: &mut Batch) -> rusqlite::Result<()> {
        if let Some(work) = self.work.take() {
            self.answer = Some(work(tx, batch)?);
        }
        Ok(())
    }

    fn finish(self: Box<Self>, failure: Option<&str>) {
        let answer = match (failure, self.answer) {
            (None, Some(answer)) => answer,
            (Some(message), _) => Err(E::unavailable(message.to_owned())),
            (None, None) => Err(E::unavailable("the write was not run".to_owned())),
        };
        // The caller may have stopped waiting; the write stands anyway.
        let _ = self.reply.send(answer);
    }
}

/// Counts of the writer's work, for measurements.
#[derive(Default)]
pub(crate) struct Counters {
    pub transactions: AtomicU64,
    pub writes: AtomicU64,
    /// The last batch failed to commit (a full or failing disk): the bus
    /// reports itself unavailable, so readiness says so, until a batch
    /// commits again.
    pub failing: std::sync::atomic::AtomicBool,
}

/// The writer thread's body: runs until every sender is gone, then closes
/// the connection (which checkpoints the write-ahead log into the
/// database file).
pub(crate) fn run(mut conn: Connection, jobs: Receiver<Box<dyn Job>>, hub: Arc<Hub>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let mut effects = Batch::default();
        match write(&mut conn, &mut batch, &mut effects) {
            Ok(()) => {
                effects.make_visible(&hub);
                hub.counters.transactions.fetch_add(1, Ordering::Relaxed);
                hub.counters.writes.fetch_add(n, Ordering::Relaxed);
                hub.counters.failing.store(false, Ordering::Relaxed);
                for job in batch {
                    job.finish(None);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = n, "sqlite: a batch of writes failed");
                hub.counters.failing.store(true, Ordering::Relaxed);
                let message = format!("the database write failed: {e}");
                for job in batch {
                    job.finish(Some(&message));
                }
            }
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "sqlite: closing the database failed");
    }
}

/// Runs every job in one transaction and commits it. On an error nothing
/// of the batch is in the database (the transaction rolls back when
/// dropped) and `effects` must be thrown away.
fn write(
    conn: &mut Connection,
    batch: &mut [Box<dyn Job>],
    effects: &mut Batch,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in batch.iter_mut() {
        job.apply(&tx, effects)?;
    }
    tx.commit()
}

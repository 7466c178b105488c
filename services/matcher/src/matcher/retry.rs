//! Waiting out outages: store and bus operations are retried while their
//! server is unavailable, and returned when refused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lendwork_ports::{BusError, Record, StoreError};

/// Waits and retries a store or bus operation while its server is
/// unavailable, keeping `flag` in step; a refused request is returned.
pub(crate) async fn persist<T, E, F, Fut>(flag: &AtomicBool, what: &str, mut f: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Retryable + std::fmt::Display,
{
    let mut delay = Duration::from_millis(50);
    let mut said = false;
    loop {
        match f().await {
            Ok(v) => {
                flag.store(true, Ordering::Relaxed);
                return Ok(v);
            }
            Err(e) if e.retryable() => {
                flag.store(false, Ordering::Relaxed);
                if !said {
                    tracing::warn!(error = %e, "{what}: retrying until it answers");
                    said = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether an error may go away by itself.
pub trait Retryable {
    /// True for an unreachable server.
    fn retryable(&self) -> bool;
}

impl Retryable for StoreError {
    fn retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl Retryable for BusError {
    fn retryable(&self) -> bool {
        matches!(self, BusError::Unavailable(_))
    }
}

pub(crate) fn persist_first(
    flag: &AtomicBool,
    r: Result<Record, BusError>,
) -> Result<Record, BusError> {
    match r {
        Ok(rec) => {
            flag.store(true, Ordering::Relaxed);
            Ok(rec)
        }
        Err(e) => Err(e),
    }
}

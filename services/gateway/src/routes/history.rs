//! The statistics' history: what the office's charts show on first load.
//!
//! Every minute each gateway samples the region views into the store, one
//! key per minute (`P:hist:min:{YYYYMMDDHHMM}`) and one per hour
//! (`P:hist:hour:{YYYYMMDDHH}`, the last sample of the hour): a day at
//! minute resolution, a quarter (92 days) at hour resolution. Writing a
//! sample deletes the one that has just aged out, so the history stays
//! bounded (1,440 + 2,208 keys). Several gateways write the same bucket
//! with the same counters (the read models are shared); the last write
//! wins, which is harmless. A sample holds, per region and in total, the
//! counters the charts need — not the breakdowns.
//!
//! `GET /v1/stats/history?resolution=minute|hour&region=` (operator).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_domain::Timestamp;
use lendwork_state::views::RegionView;
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::Gateway;

/// Minutes kept at minute resolution.
pub const MINUTES_KEPT: i64 = 24 * 60;
/// Hours kept at hour resolution.
pub const HOURS_KEPT: i64 = 92 * 24;

/// The counters of one region (or the total) at one time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Positions posted.
    pub positions: u64,
    /// Positions open.
    pub open_positions: u64,
    /// Positions agreed or later.
    pub positions_filled: u64,
    /// Positions started or later.
    pub positions_started: u64,
    /// Proposals made.
    pub proposed: u64,
    /// Time to fill: sum (seconds) and count.
    pub time_to_fill_secs_sum: u64,
    /// Time to fill: count.
    pub time_to_fill_count: u64,
    /// Minutes confirmed.
    pub minutes_confirmed: u64,
    /// Wages owed (fen).
    pub owed_fen: i64,
    /// Paid to workers (fen).
    pub paid_to_worker_fen: i64,
}

impl Point {
    fn of(r: &RegionView) -> Self {
        Self {
            positions: r.positions,
            open_positions: r.open_positions,
            positions_filled: r.positions_filled,
            positions_started: r.positions_started,
            proposed: r.proposed,
            time_to_fill_secs_sum: r.time_to_fill_secs_sum,
            time_to_fill_count: r.time_to_fill_count,
            minutes_confirmed: r.minutes_confirmed,
            owed_fen: r.owed_fen,
            paid_to_worker_fen: r.paid_to_worker_fen,
        }
    }
}

/// One sample: the time and the counters by region (`all` the total).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was taken.
    pub at: String,
    /// By region code, and `all`.
    pub regions: BTreeMap<String, Point>,
}

fn stamp(t: Timestamp, len: usize) -> String {
    // `2026-12-06T07:05:00Z` → `202612060705` (minute) or `2026120607` (hour).
    let digits: String = t.to_string().chars().filter(char::is_ascii_digit).collect();
    digits[..len].to_owned()
}

impl Gateway {
    /// Samples the region views as of `now` into the minute and hour
    /// buckets, and drops the buckets that aged out.
    pub async fn record_history(&self, now: Timestamp) -> Result<(), ApiError> {
        let regions: Vec<RegionView> = self
            .store
            .scan_prefix(&self.keys.regions())
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        let mut sample = Sample {
            at: now.to_string(),
            regions: regions
                .iter()
                .map(|r| (r.region.clone(), Point::of(r)))
                .collect(),
        };
        sample
            .regions
            .insert("all".into(), Point::of(&super::operator::total(&regions)));
        let value = serde_json::to_vec(&sample).expect("serializable");
        let (minute, hour) = (stamp(now, 12), stamp(now, 10));
        self.store
            .set_many(&[
                (self.keys.history("min", &minute), value.clone()),
                (self.keys.history("hour", &hour), value),
            ])
            .await?;
        let secs = now.unix_seconds();
        let old_min = Timestamp::from_unix_seconds(secs - MINUTES_KEPT * 60).expect("in range");
        let old_hour = Timestamp::from_unix_seconds(secs - HOURS_KEPT * 3600).expect("in range");
        self.store
            .delete(&self.keys.history("min", &stamp(old_min, 12)))
            .await?;
        self.store
            .delete(&self.keys.history("hour", &stamp(old_hour, 10)))
            .await?;
        Ok(())
    }

    /// The samples of the last day (minutes) or quarter (hours), oldest
    /// first, as of `now`.
    pub async fn history(&self, now: Timestamp, hourly: bool) -> Result<Vec<Sample>, ApiError> {
        let (n, step, kind, len) = if hourly {
            (HOURS_KEPT, 3600, "hour", 10)
        } else {
            (MINUTES_KEPT, 60, "min", 12)
        };
        let secs = now.unix_seconds();
        let keys: Vec<String> = (0..n)
            .rev()
            .filter_map(|i| Timestamp::from_unix_seconds(secs - i * step))
            .map(|t| self.keys.history(kind, &stamp(t, len)))
            .collect();
        Ok(self
            .store
            .get_many(&keys)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect())
    }
}

/// `GET /v1/stats/history?resolution=minute|hour&region=CODE`.
pub(crate) async fn history(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        resolution: Option<String>,
        region: Option<String>,
    }
    let q: Q = super::listing::query(&uri)?;
    let p = g.caller(&headers, None).await?;
    g.require(&p, &[Role::Operator])?;
    let hourly = match q.resolution.as_deref() {
        None | Some("minute") => false,
        Some("hour") => true,
        Some(x) => {
            return Err(super::listing::bad(
                "resolution",
                format!("must be minute or hour, got {x:?}"),
            ))
        }
    };
    let region = q.region.unwrap_or_else(|| "all".into());
    if region != "all" {
        lendwork_domain::Region::new(region.as_str())
            .map_err(|e| super::listing::bad("region", e.to_string()))?;
    }
    let samples = g.history(crate::compose::now(), hourly).await?;
    let points: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            let mut v = serde_json::json!(s.regions.get(&region).cloned().unwrap_or_default());
            v["at"] = serde_json::json!(s.at);
            v
        })
        .collect();
    Ok(Json(serde_json::json!({"resolution": if hourly { "hour" } else { "minute" }, "region": region, "points": points})).into_response())
}

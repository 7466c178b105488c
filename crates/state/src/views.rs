//! Read models: what the gateway serves, written by the matchers into the
//! state store after every batch.
//!
//! Gap and proposal views are written with each batch, before its offsets
//! are committed; region statistics at most every 500 ms and whenever the
//! matcher goes idle (recounting a region is linear in its gaps).
//!
//! Every value is the whole current view of one thing (a gap, a proposal, a
//! region), overwritten as it changes. Writing a view twice therefore
//! changes nothing, so a matcher that restarts and handles a record again
//! cannot skew a counter: the counters are folded from the log by the
//! matcher's deterministic state, not incremented in the store. Where each
//! view lives is [`crate::keys`]'s business.

use std::collections::BTreeMap;

use lendwork_domain::*;
use lendwork_engine::{Proposal, Status};
use serde::{Deserialize, Serialize};

/// Where a gap stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapStatus {
    /// Some positions are not yet taken.
    Open,
    /// Every position is taken by a proposal or an assignment.
    Filled,
    /// The borrower withdrew it.
    Withdrawn,
}

/// A gap as the borrower and the operator see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapView {
    /// The gap.
    pub gap_id: GapId,
    /// The borrower.
    pub enterprise_id: EnterpriseId,
    /// Its region.
    pub region: Region,
    /// Positions asked for.
    pub headcount: u32,
    /// Positions not taken by a standing proposal or assignment.
    pub open: u32,
    /// Where it stands.
    pub status: GapStatus,
    /// Industry, when given.
    pub industry: Option<Industry>,
    /// Skills asked for.
    pub requirements: Vec<Requirement>,
    /// Days of work.
    pub window: Window,
    /// Wage offered.
    pub hourly_wage_fen: Fen,
    /// When it was first posted.
    pub posted_at: Timestamp,
}

/// A proposal as its parties and the operator see it, with its audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchView {
    /// The proposal as it went out.
    #[serde(flatten)]
    pub proposed: MatchProposed,
    /// The borrower.
    pub enterprise_id: EnterpriseId,
    /// The lender, for a lent employee.
    pub lender_id: Option<EnterpriseId>,
    /// Days of work.
    pub window: Window,
    /// Where it stands (`proposed`, `accepted`, `started`, `completed`,
    /// `returned`, `no_show`, `ended_cancelled`, `declined`, `expired`,
    /// `cancelled`).
    pub status: String,
    /// Every event that touched it.
    pub history: Vec<HistoryEntry>,
}

/// One step of a proposal's audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The event.
    pub event_id: EventId,
    /// When.
    pub at: Timestamp,
    /// What it did.
    pub what: String,
}

/// A status as one word.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Proposed => "proposed",
        Status::Accepted => "accepted",
        Status::Started => "started",
        Status::Ended(Outcome::Completed) => "completed",
        Status::Ended(Outcome::Returned) => "returned",
        Status::Ended(Outcome::NoShow) => "no_show",
        Status::Ended(Outcome::Cancelled) => "ended_cancelled",
        Status::Declined => "declined",
        Status::Expired => "expired",
        Status::Cancelled => "cancelled",
    }
}

impl MatchView {
    /// The view of `p`, a proposal for a gap of `enterprise`.
    pub fn of(p: &Proposal, enterprise: EnterpriseId, lender: Option<EnterpriseId>) -> Self {
        Self {
            proposed: p.proposed.clone(),
            enterprise_id: enterprise,
            lender_id: lender,
            window: p.window,
            status: status_name(p.status).to_owned(),
            history: p
                .history
                .iter()
                .map(|(id, at, what)| HistoryEntry {
                    event_id: id.clone(),
                    at: *at,
                    what: (*what).to_owned(),
                })
                .collect(),
        }
    }
}

/// Counts for one slice of a region (an industry, a skill, a group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Positions posted (live gaps).
    pub positions: u64,
    /// Of those, not taken.
    pub open: u64,
    /// Proposals accepted.
    pub accepted: u64,
}

/// A region's market at a glance: the operator's statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionView {
    /// The region.
    pub region: String,
    /// Workers offered now.
    pub workers: u64,
    /// Gaps posted now.
    pub gaps: u64,
    /// Positions of the live gaps.
    pub positions: u64,
    /// Of those, not taken by a standing proposal or assignment.
    pub open_positions: u64,
    /// Proposals made, ever.
    pub proposed: u64,
    /// Proposals accepted.
    pub accepted: u64,
    /// Proposals declined.
    pub declined: u64,
    /// Proposals expired.
    pub expired: u64,
    /// Assignments started.
    pub started: u64,
    /// Assignments ended completed.
    pub completed: u64,
    /// Workers who did not show.
    pub no_show: u64,
    /// Proposals cancelled by a withdrawal.
    pub cancelled: u64,
    /// Sum of seconds from a gap's posting to each acceptance for it.
    pub time_to_fill_secs_sum: u64,
    /// Acceptances counted in the sum.
    pub time_to_fill_count: u64,
    /// Accepted proposals by the worker's priority group (`none` when the
    /// worker has none).
    pub priority_served: BTreeMap<String, u64>,
    /// Live positions by industry (`unknown` when not given).
    pub by_industry: BTreeMap<String, Slice>,
    /// Live positions by required skill.
    pub by_skill: BTreeMap<String, Slice>,
    /// Time of the last event folded in.
    pub updated_at: Option<Timestamp>,
}

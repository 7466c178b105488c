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
use lendwork_engine::ledger::Row;
use lendwork_engine::sheet::{PayConfig, Sheet, Work};
use lendwork_engine::{machine, Positions, Proposal, Refused, Reliability, Status};
use serde::{Deserialize, Serialize};

/// Where a gap stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapStatus {
    /// Some positions are not filled (proposals may be waiting for them).
    Open,
    /// Every position is agreed, signed, started or completed.
    Filled,
    /// The borrower withdrew it.
    Withdrawn,
}

/// A gap as the borrower and the operator see it.
///
/// A proposal does not fill a position: `open` counts the positions not
/// yet agreed, and `proposed` how many proposals are waiting for their
/// parties.
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
    /// Positions not yet agreed: the headcount less `filled`.
    pub open: u32,
    /// Proposals waiting for their parties' acceptance.
    #[serde(default)]
    pub proposed: u32,
    /// Positions agreed, signed, started or completed.
    #[serde(default)]
    pub filled: u32,
    /// Of those, started or completed.
    #[serde(default)]
    pub started: u32,
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
    /// Working hours per day.
    #[serde(default = "eight")]
    pub hours_per_day: u8,
    /// Its title, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Title>,
    /// Its description, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    /// Certificates asked for.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    /// Where the work is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Place>,
    /// The borrower's own commute limit, when it set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_commute_km: Option<Km>,
    /// When it was first posted.
    pub posted_at: Timestamp,
}

impl GapView {
    /// The posting the view was made from, as the eligibility rules read
    /// it (`None` for a view without a site: views of an earlier format).
    pub fn post(&self) -> Option<ShortagePosted> {
        Some(ShortagePosted {
            gap_id: self.gap_id.clone(),
            enterprise_id: self.enterprise_id.clone(),
            region: self.region.clone(),
            site: self.site?,
            requirements: self.requirements.clone(),
            certificates: self.certificates.clone(),
            headcount: Headcount::new(i64::from(self.headcount.max(1))).ok()?,
            window: self.window,
            hourly_wage_fen: self.hourly_wage_fen,
            max_commute_km: self.max_commute_km,
            industry: self.industry.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            hours_per_day: HoursPerDay::new(i64::from(self.hours_per_day)).ok(),
        })
    }
}

/// Where an offered worker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    /// Offered: proposed to gaps that fit.
    Available,
    /// Withdrawn by the lender or agency.
    Withdrawn,
}

/// An offered worker as the lender or agency that offered them sees it:
/// the offer as the log last has it, and whether it stands. (Where the
/// worker is proposed, agreed or working is in the proposals.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerView {
    /// The offer.
    pub offer: WorkerOffered,
    /// Where it stands.
    pub status: WorkerStatus,
    /// The time of the event that last changed it.
    pub updated_at: Timestamp,
}

fn eight() -> u8 {
    8
}

impl GapView {
    /// The view of `post` with its positions `pos`, first posted at
    /// `posted_at`.
    pub fn of(post: &ShortagePosted, pos: Positions, posted_at: Timestamp) -> Self {
        Self {
            gap_id: post.gap_id.clone(),
            enterprise_id: post.enterprise_id.clone(),
            region: post.region.clone(),
            headcount: post.headcount.get(),
            open: pos.open(),
            proposed: pos.proposed,
            filled: pos.filled,
            started: pos.started,
            status: if pos.open() == 0 {
                GapStatus::Filled
            } else {
                GapStatus::Open
            },
            industry: post.industry.clone(),
            requirements: post.requirements.clone(),
            window: post.window,
            hourly_wage_fen: post.hourly_wage_fen,
            hours_per_day: post.hours().get(),
            title: post.title.clone(),
            description: post.description.clone(),
            certificates: post.certificates.clone(),
            site: Some(post.site),
            max_commute_km: post.max_commute_km,
            posted_at,
        }
    }
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
    /// Where it stands ([`Status::name`]: `proposed`, `agreed`, `signed`,
    /// `started`, `completed`, `returned`, `no_show`, `ended_cancelled`,
    /// `terminated`, `declined`, `expired`, `cancelled`).
    pub status: String,
    /// Parties that accepted so far.
    #[serde(default)]
    pub accepted: Vec<Party>,
    /// Parties whose acceptance and signature are required.
    #[serde(default)]
    pub required: Vec<Party>,
    /// The agreement, once agreed (the gateway renders it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<AgreementTerms>,
    /// Its SHA-256, which every signature names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_sha256: Option<Sha256Hex>,
    /// Parties that signed so far.
    #[serde(default)]
    pub signed: Vec<Party>,
    /// What may happen next, and who may do it.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Every event that touched it.
    pub history: Vec<HistoryEntry>,
    /// Steps that were refused (the last few), from the log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
    /// The timesheet and the payments, once started.
    #[serde(default, skip_serializing_if = "is_empty_sheet")]
    pub sheet: Sheet,
    /// The settlement by pay period, as of the latest event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ledger: Vec<Row>,
    /// The worker's record of ended assignments (what the explanation's
    /// `no_show_risk` term is made from), for the parties and the worker.
    #[serde(default)]
    pub worker_record: Reliability,
    /// The borrower's late cancellations (declines after an agreement,
    /// assignments called off), shown to lenders.
    #[serde(default)]
    pub borrower_late_cancellations: u32,
    /// The worker's name as offered, for the proposal's parties (the
    /// operator sees a pseudonym and no name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_name: Option<DisplayName>,
}

fn is_empty_sheet(s: &Sheet) -> bool {
    s.days.is_empty() && s.payments.is_empty()
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
    /// Who acted, when the event names a party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Party>,
    /// The reason given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// A status as one word ([`Status::name`]).
pub fn status_name(s: Status) -> &'static str {
    s.name()
}

impl MatchView {
    /// The view of `p`, a proposal for a gap of `enterprise`, at `now`
    /// (for what is allowed next, and whether a payment is late).
    pub fn of(p: &Proposal, enterprise: EnterpriseId, now: Timestamp, pay: &PayConfig) -> Self {
        let facts = p.facts();
        let ledger = p.ledger(pay, now.market_date());
        Self {
            proposed: p.proposed.clone(),
            enterprise_id: enterprise,
            lender_id: p.lender.clone(),
            window: p.window,
            status: p.status.name().to_owned(),
            accepted: p.accepted.clone(),
            required: machine::required(p.lender.is_some()),
            agreement: p.agreement.as_deref().cloned(),
            agreement_sha256: p.agreement_sha256.clone(),
            signed: p.signed.clone(),
            allowed: machine::allowed(&facts, now.market_date()),
            history: p
                .history
                .iter()
                .map(|h| HistoryEntry {
                    event_id: h.event.clone(),
                    at: h.at,
                    what: h.what.to_owned(),
                    by: h.by,
                    reason: h.reason.clone(),
                })
                .collect(),
            refused: p.refused.clone(),
            sheet: p.sheet.clone(),
            ledger,
            worker_record: Reliability::default(),
            borrower_late_cancellations: 0,
            worker_name: None,
        }
    }

    /// What the timesheet rules need to know of the assignment, as this
    /// view records it.
    pub fn work(&self) -> Option<Work> {
        let ended_on = match self.status() {
            Some(Status::Ended(_)) => self
                .history
                .iter()
                .rev()
                .find(|h| h.what == "assignment_ended")
                .map(|h| h.at.market_date()),
            _ => None,
        };
        Some(Work {
            status: self.status()?,
            has_lender: self.lender_id.is_some(),
            window: self.window,
            started_on: self.started_on(),
            ended_on,
            hours_per_day: self.agreement.as_ref().map_or(8, |a| a.hours_per_day.get()),
        })
    }

    /// The state machine's facts, as this view records them (the gateway
    /// decides a step on them before it appends).
    pub fn status(&self) -> Option<Status> {
        Status::from_name(&self.status)
    }

    /// The market day the assignment started on, if it did.
    pub fn started_on(&self) -> Option<Date> {
        self.history
            .iter()
            .rev()
            .find(|h| h.what == "assignment_started")
            .map(|h| h.at.market_date())
    }

    /// Decides `step` on this view at `now` with the engine's machine.
    pub fn decide(
        &self,
        step: machine::Step<'_>,
        now: Timestamp,
    ) -> Result<machine::Next, machine::Refusal> {
        let Some(status) = self.status() else {
            return Err(machine::Refusal {
                status: "unknown",
                allowed: Vec::new(),
                why: format!("unknown status {:?}", self.status),
            });
        };
        let facts = machine::Facts {
            status,
            has_lender: self.lender_id.is_some(),
            accepted: &self.accepted,
            signed: &self.signed,
            agreement: self.agreement_sha256.as_ref(),
            window: self.window,
            started_on: self.started_on(),
        };
        machine::decide(&facts, step, now.market_date())
    }
}

/// Counts for one slice of a region (an industry, a skill).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// Positions posted (live gaps).
    pub positions: u64,
    /// Of those, not filled.
    pub open: u64,
    /// Of those, filled (agreed, signed, started or completed).
    #[serde(default)]
    pub filled: u64,
    /// Of those, started or completed.
    #[serde(default)]
    pub started: u64,
    /// Proposals that became agreed, ever.
    pub agreed: u64,
}

/// Work and pay of one slice (an industry, a priority group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkSlice {
    /// Confirmed minutes.
    pub minutes: u64,
    /// What they are worth, in fen.
    pub owed_fen: i64,
    /// Reported paid to the workers, in fen.
    pub paid_to_worker_fen: i64,
}

impl WorkSlice {
    /// Adds `other` to this slice.
    pub fn add(&mut self, other: &WorkSlice) {
        self.minutes += other.minutes;
        self.owed_fen += other.owed_fen;
        self.paid_to_worker_fen += other.paid_to_worker_fen;
    }
}

/// A region's market at a glance: the operator's statistics.
///
/// Every counter moves only on a transition the engine applied (a step it
/// refused counts nowhere): `agreed` when the last required party accepts,
/// `started` when the worker starts, and so on. Fill rates are positions
/// over positions: `positions_filled / positions` (agreed or later) and
/// `positions_started / positions` — proposals alone fill nothing.
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
    /// Of those, not filled.
    pub open_positions: u64,
    /// Of those, filled: agreed, signed, started or completed.
    #[serde(default)]
    pub positions_filled: u64,
    /// Of those, started or completed.
    #[serde(default)]
    pub positions_started: u64,
    /// Proposals made, ever.
    pub proposed: u64,
    /// Proposals agreed by every required party.
    pub agreed: u64,
    /// Agreements signed by every required party.
    #[serde(default)]
    pub signed: u64,
    /// Proposals declined.
    pub declined: u64,
    /// Proposals expired.
    pub expired: u64,
    /// Assignments started.
    pub started: u64,
    /// Assignments completed.
    pub completed: u64,
    /// Assignments ended early by the worker or the lender.
    #[serde(default)]
    pub returned: u64,
    /// Workers who did not show.
    pub no_show: u64,
    /// Assignments the borrower called off.
    #[serde(default)]
    pub ended_cancelled: u64,
    /// Assignments terminated (contract ended, worker withdrawn).
    #[serde(default)]
    pub terminated: u64,
    /// Proposals cancelled before they started (withdrawals, a lowered
    /// headcount, a block).
    pub cancelled: u64,
    /// Sum of seconds from a gap's posting to each agreement for it.
    pub time_to_fill_secs_sum: u64,
    /// Agreements counted in the sum.
    pub time_to_fill_count: u64,
    /// Agreed proposals by the worker's priority group (`none` when the
    /// worker has none).
    pub priority_served: BTreeMap<String, u64>,
    /// Live positions by industry (`unknown` when not given).
    pub by_industry: BTreeMap<String, Slice>,
    /// Live positions by required skill.
    pub by_skill: BTreeMap<String, Slice>,
    /// Confirmed minutes worked, over every assignment's ledger.
    #[serde(default)]
    pub minutes_confirmed: u64,
    /// What those minutes are worth, in fen.
    #[serde(default)]
    pub owed_fen: i64,
    /// Reported paid by borrowers.
    #[serde(default)]
    pub paid_by_borrower_fen: i64,
    /// Reported paid to workers.
    #[serde(default)]
    pub paid_to_worker_fen: i64,
    /// Ledger lines (assignment and pay period) with each flag.
    #[serde(default)]
    pub ledger_flags: BTreeMap<String, u64>,
    /// Work and pay by industry (`unknown` when not given, or the gap is
    /// withdrawn).
    #[serde(default)]
    pub work_by_industry: BTreeMap<String, WorkSlice>,
    /// Work and pay by the worker's priority group (`none`; `unknown` once
    /// the worker is withdrawn): the groups the policy asks the service to
    /// help first.
    #[serde(default)]
    pub work_by_group: BTreeMap<String, WorkSlice>,
    /// Time of the last event folded in.
    pub updated_at: Option<Timestamp>,
}

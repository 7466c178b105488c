//! The event contract, version 2 (DESIGN.md §2 and §5).
//!
//! Version 2 adds `agreement_signed` and `preference_set`, optional fields
//! on `shortage_posted` (`title`, `description`, `hours_per_day`) and
//! `worker_offered` (`display_name`), `assignment_ended`'s optional `by`
//! and `reason`, and the `terminated` outcome. Every version 1 event is a
//! valid version 2 event, so a version 1 log reads unchanged.
//!
//! Parsing goes through [`Event::from_json`] (or the [`serde::Deserialize`]
//! impl, which calls the same code): the line is read into a JSON value, the
//! `type`, `id` and `at` fields are taken out, and the rest is deserialized
//! into the variant's struct with unknown fields refused and the path of
//! every error tracked. Rules that span fields run last. Either the whole
//! event is valid or an error names the first field that is not.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};

use crate::eligibility::Rule;
use crate::error::ValidationError;
use crate::values::*;

mod parse;
mod v2;
pub use v2::*;

/// One fact of the market, with its unique id and the time it happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Unique per event; processing the same id twice changes nothing.
    pub id: EventId,
    /// When the fact happened.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The payload of an event, tagged by `type` on the wire.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A lender or agency offers a worker; replaces an earlier profile.
    WorkerOffered(WorkerOffered),
    /// A worker leaves the pool.
    WorkerWithdrawn(WorkerWithdrawn),
    /// A borrower posts a shortage.
    ShortagePosted(ShortagePosted),
    /// A borrower withdraws a shortage.
    ShortageWithdrawn(ShortageWithdrawn),
    /// The engine proposes a worker for a gap.
    MatchProposed(MatchProposed),
    /// A party accepts a proposal.
    MatchAccepted(MatchDecision),
    /// A party declines a proposal.
    MatchDeclined(MatchDecision),
    /// A proposal got no answer in time.
    MatchExpired(MatchRef),
    /// The worker started at the borrower.
    AssignmentStarted(MatchRef),
    /// The assignment ended.
    AssignmentEnded(AssignmentEnded),
    /// A party signed the agreement pack of an agreed proposal (v2).
    AgreementSigned(AgreementSigned),
    /// A borrower marks or blocks a worker, or clears the mark (v2).
    PreferenceSet(PreferenceSet),
    /// The borrower reports the minutes worked on one day (v2).
    TimesheetSubmitted(TimesheetSubmitted),
    /// The worker or the lender confirms a day; without `by`, the day
    /// confirmed itself after the confirmation period (v2).
    TimesheetConfirmed(TimesheetConfirmed),
    /// The worker or the lender disputes a day (v2).
    TimesheetDisputed(TimesheetDisputed),
    /// A payer reports money moved for an assignment (v2).
    PaymentRecorded(PaymentRecorded),
}

/// Every `type` tag, in contract order.
pub const EVENT_TYPES: [&str; 16] = [
    "worker_offered",
    "worker_withdrawn",
    "shortage_posted",
    "shortage_withdrawn",
    "match_proposed",
    "match_accepted",
    "match_declined",
    "match_expired",
    "assignment_started",
    "assignment_ended",
    "agreement_signed",
    "preference_set",
    "timesheet_submitted",
    "timesheet_confirmed",
    "timesheet_disputed",
    "payment_recorded",
];

/// A skill held at a level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillLevel {
    /// The skill.
    pub skill: Skill,
    /// Level held, 1–5.
    pub level: Level,
}

/// A skill a gap requires, at a minimum level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The skill.
    pub skill: Skill,
    /// Lowest acceptable level, 1–5.
    pub min_level: Level,
}

/// The groups the policy asks services to help first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityGroup {
    /// Registered unemployed.
    Unemployed,
    /// Recent graduates.
    Graduate,
    /// Rural migrant workers.
    MigrantWorker,
    /// People who find work hard to get.
    HardToEmploy,
}

/// `worker_offered`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerOffered {
    /// The worker.
    pub worker_id: WorkerId,
    /// Labour market the worker is offered in.
    pub region: Region,
    /// Where the worker lives.
    pub home: Place,
    /// Skills and levels (no skill twice).
    pub skills: Vec<SkillLevel>,
    /// Certificates held (no name twice).
    pub certificates: Vec<Certificate>,
    /// Days the worker can work.
    pub available: Window,
    /// Longest acceptable commute.
    pub max_commute_km: Km,
    /// Lowest acceptable wage.
    pub min_hourly_wage_fen: Fen,
    /// The lending enterprise; absent for flexible workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_id: Option<EnterpriseId>,
    /// The worker's consent to be lent.
    pub consent: bool,
    /// End of the worker's contract with the lender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_end: Option<Date>,
    /// Policy priority group, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_group: Option<PriorityGroup>,
    /// The name the parties of the worker's own proposals see (v2);
    /// everyone else sees a pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<DisplayName>,
}

/// `worker_withdrawn`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerWithdrawn {
    /// The worker.
    pub worker_id: WorkerId,
    /// Why.
    pub reason: Reason,
}

/// `shortage_posted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortagePosted {
    /// The gap.
    pub gap_id: GapId,
    /// The borrowing enterprise.
    pub enterprise_id: EnterpriseId,
    /// Labour market of the site.
    pub region: Region,
    /// Where the work is.
    pub site: Place,
    /// Required skills (no skill twice).
    pub requirements: Vec<Requirement>,
    /// Required certificates (no name twice).
    pub certificates: Vec<Certificate>,
    /// Open positions, 1–10000.
    pub headcount: Headcount,
    /// Days of work.
    pub window: Window,
    /// Wage offered.
    pub hourly_wage_fen: Fen,
    /// The borrower's own commute limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_commute_km: Option<Km>,
    /// Industry slug, for statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<Industry>,
    /// A short title (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Title>,
    /// What the work is (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    /// Working hours per day (v2); 8 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_per_day: Option<HoursPerDay>,
}

impl ShortagePosted {
    /// Working hours per day: as given, or 8.
    pub fn hours(&self) -> HoursPerDay {
        self.hours_per_day.unwrap_or(HoursPerDay::DEFAULT)
    }
}

/// `shortage_withdrawn`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortageWithdrawn {
    /// The gap.
    pub gap_id: GapId,
    /// Why.
    pub reason: Reason,
}

/// The cost of a proposal broken into its terms, and the rules it passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// Cost terms by name (`distance`, `wage_margin`, …); they sum to the cost.
    pub terms: BTreeMap<String, u64>,
    /// Every eligibility rule, each once.
    pub rules_passed: Vec<Rule>,
}

/// `match_proposed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchProposed {
    /// Deterministic id of the proposal.
    pub match_id: MatchId,
    /// The gap.
    pub gap_id: GapId,
    /// The worker.
    pub worker_id: WorkerId,
    /// The region both are in.
    pub region: Region,
    /// Total cost, the sum of the explanation's terms.
    pub cost: u64,
    /// Why this pair.
    pub explanation: Explanation,
}

/// A party to a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The borrowing enterprise.
    Borrower,
    /// The lending enterprise or agency.
    Lender,
    /// The worker.
    Worker,
}

impl Party {
    /// Every party, in this order.
    pub const ALL: [Party; 3] = [Party::Borrower, Party::Lender, Party::Worker];

    /// The wire name.
    pub fn slug(self) -> &'static str {
        match self {
            Party::Borrower => "borrower",
            Party::Lender => "lender",
            Party::Worker => "worker",
        }
    }
}

/// `match_accepted` / `match_declined`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDecision {
    /// The proposal.
    pub match_id: MatchId,
    /// Who answered.
    pub by: Party,
    /// Why, optionally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// `match_expired`, `assignment_started`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRef {
    /// The proposal.
    pub match_id: MatchId,
}

/// How an assignment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Worked the whole window.
    Completed,
    /// Returned to the lender early.
    Returned,
    /// Never came.
    NoShow,
    /// Called off by the borrower.
    Cancelled,
    /// Ended because the worker's contract with the lender ended or the
    /// worker was withdrawn mid-assignment (v2; the engine emits it).
    Terminated,
}

impl Outcome {
    /// The wire name.
    pub fn slug(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Returned => "returned",
            Outcome::NoShow => "no_show",
            Outcome::Cancelled => "cancelled",
            Outcome::Terminated => "terminated",
        }
    }
}

/// `assignment_ended`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentEnded {
    /// The proposal.
    pub match_id: MatchId,
    /// How it ended.
    pub outcome: Outcome,
    /// Who ended it (v2; absent in version 1 logs and on the engine's own
    /// terminations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Party>,
    /// Why, optionally (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl EventKind {
    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::WorkerOffered(_) => EVENT_TYPES[0],
            EventKind::WorkerWithdrawn(_) => EVENT_TYPES[1],
            EventKind::ShortagePosted(_) => EVENT_TYPES[2],
            EventKind::ShortageWithdrawn(_) => EVENT_TYPES[3],
            EventKind::MatchProposed(_) => EVENT_TYPES[4],
            EventKind::MatchAccepted(_) => EVENT_TYPES[5],
            EventKind::MatchDeclined(_) => EVENT_TYPES[6],
            EventKind::MatchExpired(_) => EVENT_TYPES[7],
            EventKind::AssignmentStarted(_) => EVENT_TYPES[8],
            EventKind::AssignmentEnded(_) => EVENT_TYPES[9],
            EventKind::AgreementSigned(_) => EVENT_TYPES[10],
            EventKind::PreferenceSet(_) => EVENT_TYPES[11],
            EventKind::TimesheetSubmitted(_) => EVENT_TYPES[12],
            EventKind::TimesheetConfirmed(_) => EVENT_TYPES[13],
            EventKind::TimesheetDisputed(_) => EVENT_TYPES[14],
            EventKind::PaymentRecorded(_) => EVENT_TYPES[15],
        }
    }

    /// The region, for events that carry one (the Kafka key).
    pub fn region(&self) -> Option<&Region> {
        match self {
            EventKind::WorkerOffered(w) => Some(&w.region),
            EventKind::ShortagePosted(g) => Some(&g.region),
            EventKind::MatchProposed(m) => Some(&m.region),
            _ => None,
        }
    }

    /// Rules that span several fields.
    /// The body of an event of type `ty` from `de` (one dispatch on the
    /// type name for the fast paths); `None` for an unknown type or a body
    /// its type's derive refuses.
    fn of_type<'de, D: Deserializer<'de>>(ty: &str, de: D) -> Option<EventKind> {
        fn body<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Option<T> {
            T::deserialize(de).ok()
        }
        Some(match ty {
            "worker_offered" => EventKind::WorkerOffered(body(de)?),
            "worker_withdrawn" => EventKind::WorkerWithdrawn(body(de)?),
            "shortage_posted" => EventKind::ShortagePosted(body(de)?),
            "shortage_withdrawn" => EventKind::ShortageWithdrawn(body(de)?),
            "match_proposed" => EventKind::MatchProposed(body(de)?),
            "match_accepted" => EventKind::MatchAccepted(body(de)?),
            "match_declined" => EventKind::MatchDeclined(body(de)?),
            "match_expired" => EventKind::MatchExpired(body(de)?),
            "assignment_started" => EventKind::AssignmentStarted(body(de)?),
            "assignment_ended" => EventKind::AssignmentEnded(body(de)?),
            "agreement_signed" => EventKind::AgreementSigned(body(de)?),
            "preference_set" => EventKind::PreferenceSet(body(de)?),
            "timesheet_submitted" => EventKind::TimesheetSubmitted(body(de)?),
            "timesheet_confirmed" => EventKind::TimesheetConfirmed(body(de)?),
            "timesheet_disputed" => EventKind::TimesheetDisputed(body(de)?),
            "payment_recorded" => EventKind::PaymentRecorded(body(de)?),
            _ => return None,
        })
    }

    fn check(&self) -> Result<(), ValidationError> {
        match self {
            EventKind::WorkerOffered(w) => {
                no_repeats(w.skills.iter().map(|s| s.skill.as_str()), "skills", "skill")?;
                no_repeats(
                    w.certificates.iter().map(|c| c.as_str()),
                    "certificates",
                    "",
                )?;
                limit(w.skills.len(), 50, "skills")?;
                limit(w.certificates.len(), 50, "certificates")?;
                Ok(())
            }
            EventKind::ShortagePosted(g) => {
                no_repeats(
                    g.requirements.iter().map(|s| s.skill.as_str()),
                    "requirements",
                    "skill",
                )?;
                no_repeats(
                    g.certificates.iter().map(|c| c.as_str()),
                    "certificates",
                    "",
                )?;
                limit(g.requirements.len(), 50, "requirements")?;
                limit(g.certificates.len(), 50, "certificates")?;
                Ok(())
            }
            EventKind::MatchProposed(m) => {
                let mut sum: u64 = 0;
                for (name, v) in &m.explanation.terms {
                    crate::values::check_slug(name).map_err(|e| {
                        ValidationError::new(
                            format!("explanation.terms.{name}"),
                            format!("term name {e}"),
                        )
                    })?;
                    sum = sum.checked_add(*v).ok_or_else(|| {
                        ValidationError::new("explanation.terms", "the terms overflow")
                    })?;
                }
                if sum != m.cost {
                    return Err(ValidationError::new(
                        "cost",
                        format!(
                            "cost {} must equal the sum of explanation.terms ({sum})",
                            m.cost
                        ),
                    ));
                }
                let passed: BTreeSet<Rule> = m.explanation.rules_passed.iter().copied().collect();
                if passed.len() != m.explanation.rules_passed.len() {
                    return Err(ValidationError::new(
                        "explanation.rules_passed",
                        "a rule is listed twice",
                    ));
                }
                if let Some(missing) = Rule::V1.iter().find(|r| !passed.contains(r)) {
                    return Err(ValidationError::new(
                        "explanation.rules_passed",
                        format!(
                            "a proposal must pass every eligibility rule; {} is missing",
                            missing.slug()
                        ),
                    ));
                }
                Ok(())
            }
            EventKind::AssignmentEnded(x) => match (x.outcome, x.by) {
                (_, None)
                | (
                    Outcome::Completed | Outcome::Cancelled | Outcome::NoShow,
                    Some(Party::Borrower),
                )
                | (Outcome::Returned, Some(Party::Worker | Party::Lender))
                | (Outcome::Terminated, Some(Party::Lender)) => Ok(()),
                (o, Some(by)) => Err(ValidationError::new(
                    "by",
                    format!(
                        "{} cannot end an assignment as {}: the borrower completes, cancels \
                         or reports a no-show, the worker or the lender returns, the lender \
                         terminates",
                        by.slug(),
                        o.slug()
                    ),
                )),
            },
            EventKind::TimesheetSubmitted(x) if x.by != Party::Borrower => Err(ValidationError::new(
                "by",
                "timesheets are submitted by the borrower",
            )),
            EventKind::TimesheetConfirmed(TimesheetConfirmed {
                by: Some(Party::Borrower),
                ..
            })
            | EventKind::TimesheetDisputed(TimesheetDisputed {
                by: Party::Borrower,
                ..
            }) => Err(ValidationError::new(
                "by",
                "the worker or the lender confirms or disputes a day, not the borrower who submitted it",
            )),
            EventKind::PaymentRecorded(x) => match (x.from, x.to) {
                (Party::Borrower, Party::Lender)
                | (Party::Lender, Party::Worker)
                | (Party::Borrower, Party::Worker) => Ok(()),
                (from, to) => Err(ValidationError::new(
                    "to",
                    format!(
                        "a payment goes borrower to lender, lender to worker, or (a flexible \
                         worker) borrower to worker; not {} to {}",
                        from.slug(),
                        to.slug()
                    ),
                )),
            },
            _ => Ok(()),
        }
    }
}

fn no_repeats<'a>(
    items: impl Iterator<Item = &'a str>,
    list: &str,
    inner: &str,
) -> Result<(), ValidationError> {
    let mut seen = BTreeSet::new();
    for (i, s) in items.enumerate() {
        if !seen.insert(s) {
            let field = if inner.is_empty() {
                format!("{list}[{i}]")
            } else {
                format!("{list}[{i}].{inner}")
            };
            return Err(ValidationError::new(
                field,
                format!("{s:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

fn limit(n: usize, max: usize, field: &str) -> Result<(), ValidationError> {
    if n > max {
        Err(ValidationError::new(
            field,
            format!("at most {max} entries, got {n}"),
        ))
    } else {
        Ok(())
    }
}

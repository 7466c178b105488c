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

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::eligibility::Rule;
use crate::error::ValidationError;
use crate::values::*;

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

/// `agreement_signed` (v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementSigned {
    /// The proposal.
    pub match_id: MatchId,
    /// Who signed.
    pub by: Party,
    /// SHA-256 of the agreement document signed.
    pub document_sha256: Sha256Hex,
}

/// `timesheet_submitted` (v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimesheetSubmitted {
    /// The assignment.
    pub match_id: MatchId,
    /// The day worked.
    pub date: Date,
    /// Minutes worked that day.
    pub minutes: Minutes,
    /// Who submits: the borrower.
    pub by: Party,
}

/// `timesheet_confirmed` (v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimesheetConfirmed {
    /// The assignment.
    pub match_id: MatchId,
    /// The day.
    pub date: Date,
    /// The worker or the lender; absent when the day confirmed itself
    /// (the engine's event, after the confirmation period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Party>,
}

/// `timesheet_disputed` (v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimesheetDisputed {
    /// The assignment.
    pub match_id: MatchId,
    /// The day.
    pub date: Date,
    /// The worker or the lender.
    pub by: Party,
    /// Why.
    pub reason: Reason,
    /// The minutes the disputing party says were worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<Minutes>,
}

/// `payment_recorded` (v2): reported by the payer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRecorded {
    /// The assignment.
    pub match_id: MatchId,
    /// Who paid: the borrower or the lender.
    pub from: Party,
    /// Who was paid: the lender or the worker.
    pub to: Party,
    /// How much.
    pub amount_fen: AmountFen,
    /// The pay period it is for.
    pub period: Window,
}

/// What a borrower's mark on a worker says (v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreferenceKind {
    /// Preferred: a bounded cost bonus.
    Favourite,
    /// Never proposed to this borrower (eligibility rule 10).
    Blocked,
    /// Neither.
    Cleared,
}

/// `preference_set` (v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceSet {
    /// The borrower whose list it is.
    pub enterprise_id: EnterpriseId,
    /// The worker.
    pub worker_id: WorkerId,
    /// The mark.
    pub kind: PreferenceKind,
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

/// Deserializes the body of a variant, tracking the path of any error.
fn body<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        let field = match (message.strip_prefix("missing field `"), path.as_str()) {
            (Some(rest), p) => {
                let name = rest.split('`').next().unwrap_or_default();
                if p == "." {
                    name.to_owned()
                } else {
                    format!("{p}.{name}")
                }
            }
            (None, ".") => "$".to_owned(),
            (None, p) => p.to_owned(),
        };
        ValidationError::new(field, message)
    })
}

fn take_str(map: &mut Map<String, Value>, field: &str) -> Result<String, ValidationError> {
    match map.remove(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ValidationError::new(
            field,
            format!("must be a string, got {}", json_kind(&other)),
        )),
        None => Err(ValidationError::new(
            field,
            format!("missing field `{field}`"),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Event {
    /// Parses and validates one JSON document (one line of a `.jsonl` file).
    ///
    /// Valid events take a fast path ([`Event::from_json_fast`]) that
    /// deserializes each field straight from the text; anything it refuses
    /// goes through [`Event::from_json_checked`], which builds the JSON tree
    /// and tracks paths so the error names the field. Both give the same
    /// verdict and the same event (the property tests check it).
    pub fn from_json(text: &str) -> Result<Event, ValidationError> {
        match Event::from_json_fast(text) {
            Some(e) => Ok(e),
            None => Event::from_json_checked(text),
        }
    }

    /// The path-tracking parser: slower, and the one that explains errors.
    #[doc(hidden)]
    pub fn from_json_checked(text: &str) -> Result<Event, ValidationError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ValidationError::new("$", format!("not valid JSON: {e}")))?;
        Event::from_value_checked(value)
    }

    /// The fast path: the top-level object is split into raw (unparsed)
    /// members, and the event's body is deserialized from them directly —
    /// the same derive, the same field rules, the same duplicate-key
    /// semantics as the checked path (the last one wins), but no tree of
    /// values and no path bookkeeping. `None` on anything it does not
    /// accept (including keys written with escapes), for the checked path
    /// to decide and explain.
    #[doc(hidden)]
    pub fn from_json_fast(text: &str) -> Option<Event> {
        if let Some(e) = Event::from_json_canonical(text) {
            return Some(e);
        }
        use serde_json::value::RawValue;
        let mut map: BTreeMap<&str, &RawValue> = serde_json::from_str(text).ok()?;
        let mut string = |field: &str| -> Option<String> {
            serde_json::from_str::<String>(map.remove(field)?.get()).ok()
        };
        let (ty, id, at) = (string("type")?, string("id")?, string("at")?);
        Event::from_members(&ty, &id, &at, map.into_iter())
    }

    /// The fastest path, for an event laid out as [`Event::to_json`]
    /// writes it (what the gateway, the matchers and `simulate` publish):
    /// `{"id":"…","at":"…","type":"…"` and then the body's members. The
    /// three strings are taken in place (an escape cannot get through:
    /// the id's alphabet, the time's format and the type names have no
    /// backslash) and the body is deserialized in one pass by its own
    /// derive, with the same field rules as the other paths. A repeated or reserved key in the
    /// body is an unknown or duplicate field there, so such a text goes to
    /// the member-splitting path, which decides as the checked one does.
    /// `None` for any other layout.
    fn from_json_canonical(text: &str) -> Option<Event> {
        fn quoted<'a>(text: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
            text.strip_prefix(key)?.split_once('"')
        }
        let (id, rest) = quoted(text, r#"{"id":""#)?;
        let (at, rest) = quoted(rest, r#","at":""#)?;
        let (ty, rest) = quoted(rest, r#","type":""#)?;
        let body = match rest.strip_prefix(',') {
            Some(members) => format!("{{{members}"),
            None => rest.starts_with('}').then(|| format!("{{{rest}"))?,
        };
        Event::from_body(
            ty,
            EventId::new(id).ok()?,
            Timestamp::parse(at).ok()?,
            &body,
        )
    }

    /// An event from its type, id, time and its body as one JSON object
    /// (the members besides `type`, `id` and `at`), deserialized in one
    /// pass by the body type's derive; `None` on anything the body type
    /// or the event's rules refuse, including a repeated or unknown member
    /// (the slower paths then decide and explain).
    #[doc(hidden)]
    pub fn from_body(ty: &str, id: EventId, at: Timestamp, body: &str) -> Option<Event> {
        let mut de = serde_json::Deserializer::from_str(body);
        let kind = EventKind::of_type(ty, &mut de)?;
        de.end().ok()?;
        kind.check().ok()?;
        Some(Event { id, at, kind })
    }

    /// Validates a JSON value as an event (a fast path for valid events,
    /// as in [`Event::from_json`]).
    pub fn from_value(value: Value) -> Result<Event, ValidationError> {
        match Event::from_value_fast(&value) {
            Some(e) => Ok(e),
            None => Event::from_value_checked(value),
        }
    }

    /// [`Event::from_json_fast`] on a parsed value: the members are
    /// deserialized in place, without path bookkeeping.
    #[doc(hidden)]
    pub fn from_value_fast(value: &Value) -> Option<Event> {
        let map = value.as_object()?;
        let text = |field: &str| map.get(field)?.as_str();
        let (ty, id, at) = (text("type")?, text("id")?, text("at")?);
        let members = map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "type" | "id" | "at"))
            .map(|(k, v)| (k.as_str(), v));
        Event::from_members(ty, id, at, members)
    }

    /// Builds an event from its type, id and time and an iterator of its
    /// other members (each deserializable on its own, e.g. raw JSON or
    /// parsed values); `None` on anything the checked path would refuse.
    /// The members must have distinct names.
    #[doc(hidden)]
    pub fn from_members<'de, V>(
        ty: &str,
        id: &str,
        at: &str,
        members: impl Iterator<Item = (&'de str, V)>,
    ) -> Option<Event>
    where
        V: serde::de::IntoDeserializer<'de, serde_json::Error>,
    {
        Self::from_members_at(ty, id, Timestamp::parse(at).ok()?, members)
    }

    /// [`Event::from_members`] with the time already read (a writer that
    /// stamps events itself need not print and re-read it).
    #[doc(hidden)]
    pub fn from_members_at<'de, V>(
        ty: &str,
        id: &str,
        at: Timestamp,
        members: impl Iterator<Item = (&'de str, V)>,
    ) -> Option<Event>
    where
        V: serde::de::IntoDeserializer<'de, serde_json::Error>,
    {
        use serde::de::value::MapDeserializer;
        let id = EventId::new(id).ok()?;
        let members = MapDeserializer::<_, serde_json::Error>::new(members);
        let kind = EventKind::of_type(ty, serde::de::value::MapAccessDeserializer::new(members))?;
        kind.check().ok()?;
        Some(Event { id, at, kind })
    }

    /// The path-tracking validation of a parsed value.
    #[doc(hidden)]
    pub fn from_value_checked(value: Value) -> Result<Event, ValidationError> {
        let Value::Object(mut map) = value else {
            return Err(ValidationError::new(
                "$",
                format!("an event must be a JSON object, got {}", json_kind(&value)),
            ));
        };
        let ty = take_str(&mut map, "type")?;
        let id = take_str(&mut map, "id")?;
        let id = EventId::new(id).map_err(|e| ValidationError::new("id", e.0))?;
        let at = take_str(&mut map, "at")?;
        let at = Timestamp::parse(&at).map_err(|e| ValidationError::new("at", e.0))?;
        let kind = match ty.as_str() {
            "worker_offered" => EventKind::WorkerOffered(body(map)?),
            "worker_withdrawn" => EventKind::WorkerWithdrawn(body(map)?),
            "shortage_posted" => EventKind::ShortagePosted(body(map)?),
            "shortage_withdrawn" => EventKind::ShortageWithdrawn(body(map)?),
            "match_proposed" => EventKind::MatchProposed(body(map)?),
            "match_accepted" => EventKind::MatchAccepted(body(map)?),
            "match_declined" => EventKind::MatchDeclined(body(map)?),
            "match_expired" => EventKind::MatchExpired(body(map)?),
            "assignment_started" => EventKind::AssignmentStarted(body(map)?),
            "assignment_ended" => EventKind::AssignmentEnded(body(map)?),
            "agreement_signed" => EventKind::AgreementSigned(body(map)?),
            "preference_set" => EventKind::PreferenceSet(body(map)?),
            "timesheet_submitted" => EventKind::TimesheetSubmitted(body(map)?),
            "timesheet_confirmed" => EventKind::TimesheetConfirmed(body(map)?),
            "timesheet_disputed" => EventKind::TimesheetDisputed(body(map)?),
            "payment_recorded" => EventKind::PaymentRecorded(body(map)?),
            other => {
                return Err(ValidationError::new(
                    "type",
                    format!(
                        "unknown event type {other:?}, expected one of {}",
                        EVENT_TYPES.join(", ")
                    ),
                ))
            }
        };
        kind.check()?;
        Ok(Event { id, at, kind })
    }

    /// The event as one line of JSON (no newline).
    pub fn to_json(&self) -> String {
        // Written into a scratch buffer sized for a typical event (growing
        // from serde_json's 128 bytes took two reallocations and copies per
        // event), then copied out at its exact length: the logs keep these
        // strings, and a 512-byte buffer for a 370-byte event would keep a
        // quarter of it empty.
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, self).expect("events always serialize");
        std::str::from_utf8(&out)
            .expect("serde_json writes UTF-8")
            .to_owned()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Event::from_value(v).map_err(serde::de::Error::custom)
    }
}

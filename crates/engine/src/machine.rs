//! A proposal's state machine (DESIGN.md §5): the one place that decides
//! whether a step applies. The market applies every event through it, on
//! the live path and on replay; the gateway asks it before it appends, so
//! that a step that does not apply is refused (409) with the state and
//! what is allowed, and nothing reaches the log.
//!
//! ```text
//! proposed ──accept (each required party)──▶ agreed ──sign (each, same hash)──▶ signed ──start──▶ started ──end──▶ ended(outcome)
//!    │  └─expire                               │                                │                    │
//!    └──────────────decline (any party)────────┴────────────────────────────────┘                    └─(engine) terminated
//! ```
//!
//! * `proposed` keeps the acceptances so far; it becomes `agreed` when the
//!   borrower, the worker and — for an employee — the lender have all
//!   accepted. It can expire (no full answer in time) or be declined by
//!   anyone.
//! * `agreed` waits for the signatures: every required party signs the
//!   same agreement document (its SHA-256, frozen when the proposal was
//!   agreed). Any party may still decline.
//! * `signed` may start on or after the window's first market day.
//! * `started` ends as `completed` (the borrower, on or after the window's
//!   last day), `returned` (the worker or the lender, any day: the right
//!   to return), `cancelled` or `no_show` (the borrower), or `terminated`
//!   (the lender, or the engine itself when the worker's contract ends or
//!   the worker is withdrawn).
//! * Withdrawals of the worker or the gap cancel what has not started.
//!
//! A step twice (a second acceptance by the same party, a second end) is
//! refused like any other step that does not apply.

use lendwork_domain::*;

use crate::market::Status;

/// A step a party (or the engine) takes on a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// `match_accepted` by a party.
    Accept(Party),
    /// `match_declined` by a party.
    Decline(Party),
    /// `match_expired`.
    Expire,
    /// `agreement_signed` by a party, of a document.
    Sign(Party, &'a Sha256Hex),
    /// `assignment_started`.
    Start,
    /// `assignment_ended`, with who ended it when said.
    End(Outcome, Option<Party>),
}

impl Step<'_> {
    /// The action's name, as the API and [`allowed`] spell it.
    pub fn action(&self) -> &'static str {
        match self {
            Step::Accept(_) => "accept",
            Step::Decline(_) => "decline",
            Step::Expire => "expire",
            Step::Sign(..) => "sign",
            Step::Start => "start",
            Step::End(..) => "end",
        }
    }
}

/// What the machine needs to know of a proposal.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// Where it stands.
    pub status: Status,
    /// Whether the worker has a lender (whose acceptance and signature
    /// are then required).
    pub has_lender: bool,
    /// Parties that accepted so far.
    pub accepted: &'a [Party],
    /// Parties that signed so far.
    pub signed: &'a [Party],
    /// The agreement's SHA-256, once agreed.
    pub agreement: Option<&'a Sha256Hex>,
    /// The gap's window.
    pub window: Window,
    /// The market day it started on, once started.
    pub started_on: Option<Date>,
}

/// What a step that applies does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Recorded (an acceptance or a signature), the status stays.
    Stay,
    /// The proposal moves to this status.
    Move(Status),
}

/// Why a step does not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The status the proposal is in.
    pub status: &'static str,
    /// The actions that apply now, for whom.
    pub allowed: Vec<String>,
    /// The rule the step breaks.
    pub why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (the proposal is {}", self.why, self.status)?;
        if self.allowed.is_empty() {
            write!(f, "; nothing applies any more)")
        } else {
            write!(f, "; allowed: {})", self.allowed.join(", "))
        }
    }
}

/// The parties whose acceptance and signature a proposal needs.
pub fn required(has_lender: bool) -> Vec<Party> {
    lendwork_domain::agreement::required_parties(has_lender)
}

/// Decides `step` on a proposal with `f`, taken on market day `today`.
pub fn decide(f: &Facts<'_>, step: Step<'_>, today: Date) -> Result<Next, Refusal> {
    let refuse = |why: String| {
        Err(Refusal {
            status: f.status.name(),
            allowed: allowed(f, today),
            why,
        })
    };
    let need = required(f.has_lender);
    let party_ok = |p: Party| need.contains(&p);
    let missing = |done: &[Party]| -> Vec<&'static str> {
        need.iter()
            .filter(|p| !done.contains(p))
            .map(|p| p.slug())
            .collect()
    };
    match (f.status, step) {
        (_, Step::Accept(p) | Step::Decline(p) | Step::Sign(p, _) | Step::End(_, Some(p)))
            if !party_ok(p) =>
        {
            refuse("the worker has no lender: a flexible worker's proposal is the borrower's and the worker's".into())
        }
        (Status::Proposed, Step::Accept(p)) => {
            if f.accepted.contains(&p) {
                return refuse(format!("the {} has already accepted", p.slug()));
            }
            let rest: Vec<&str> = missing(f.accepted)
                .into_iter()
                .filter(|x| *x != p.slug())
                .collect();
            Ok(if rest.is_empty() {
                Next::Move(Status::Agreed)
            } else {
                Next::Stay
            })
        }
        (Status::Proposed | Status::Agreed | Status::Signed, Step::Decline(_)) => {
            Ok(Next::Move(Status::Declined))
        }
        (Status::Proposed, Step::Expire) => Ok(Next::Move(Status::Expired)),
        (Status::Agreed, Step::Sign(p, hash)) => {
            if f.signed.contains(&p) {
                return refuse(format!("the {} has already signed", p.slug()));
            }
            let Some(expected) = f.agreement else {
                return refuse("no agreement to sign".into());
            };
            if hash != expected {
                return refuse(format!(
                    "document_sha256 {hash} is not the SHA-256 of this proposal's agreement ({expected}); fetch the agreement and sign what it says"
                ));
            }
            let rest: Vec<&str> = missing(f.signed)
                .into_iter()
                .filter(|x| *x != p.slug())
                .collect();
            Ok(if rest.is_empty() {
                Next::Move(Status::Signed)
            } else {
                Next::Stay
            })
        }
        (Status::Signed, Step::Start) => {
            if today < f.window.start {
                return refuse(format!(
                    "an assignment cannot start before its window's first day {}",
                    f.window.start
                ));
            }
            if today > f.window.end {
                return refuse(format!(
                    "the window ended on {}; an assignment cannot start after it",
                    f.window.end
                ));
            }
            Ok(Next::Move(Status::Started))
        }
        (Status::Proposed, Step::Start) => refuse(format!(
            "not agreed: waiting for the acceptance of {}",
            missing(f.accepted).join(", ")
        )),
        (Status::Agreed, Step::Start) => refuse(format!(
            "not signed: waiting for the signature of {}",
            missing(f.signed).join(", ")
        )),
        (Status::Started, Step::End(outcome, _)) => {
            if let Some(s) = f.started_on {
                if today < s {
                    return refuse(format!("it cannot end before it started ({s})"));
                }
            }
            if outcome == Outcome::Completed && today < f.window.end {
                return refuse(format!(
                    "completed only on or after the window's last day {}; an earlier end is returned",
                    f.window.end
                ));
            }
            Ok(Next::Move(Status::Ended(outcome)))
        }
        (s, step) => refuse(format!("{} does not apply to a proposal that is {}", step.action(), s.name())),
    }
}

/// The actions that apply to a proposal with `f` on `today`, each with the
/// parties who may take it (`accept: worker, lender`).
pub fn allowed(f: &Facts<'_>, today: Date) -> Vec<String> {
    let need = required(f.has_lender);
    let names = |ps: &[Party]| ps.iter().map(|p| p.slug()).collect::<Vec<_>>().join(", ");
    let pending = |done: &[Party]| -> Vec<Party> {
        need.iter().copied().filter(|p| !done.contains(p)).collect()
    };
    let mut out = Vec::new();
    match f.status {
        Status::Proposed => {
            out.push(format!("accept: {}", names(&pending(f.accepted))));
            out.push(format!("decline: {}", names(&need)));
        }
        Status::Agreed => {
            out.push(format!("sign: {}", names(&pending(f.signed))));
            out.push(format!("decline: {}", names(&need)));
        }
        Status::Signed => {
            if today >= f.window.start && today <= f.window.end {
                out.push("start: borrower".into());
            } else if today < f.window.start {
                out.push(format!("start: borrower, from {}", f.window.start));
            }
            out.push(format!("decline: {}", names(&need)));
        }
        Status::Started => {
            if today >= f.window.end {
                out.push("end completed: borrower".into());
            } else {
                out.push(format!("end completed: borrower, from {}", f.window.end));
            }
            let returners = if f.has_lender {
                "worker, lender"
            } else {
                "worker"
            };
            out.push(format!("end returned: {returners}"));
            out.push("end cancelled or no_show: borrower".into());
            if f.has_lender {
                out.push("end terminated: lender".into());
            }
        }
        _ => {}
    }
    out
}

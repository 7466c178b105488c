//! The events contract version 2 added (DESIGN §5): signing the
//! agreement, a borrower's marks on workers, timesheets and payments.

use serde::{Deserialize, Serialize};

use super::Party;
use crate::values::*;

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

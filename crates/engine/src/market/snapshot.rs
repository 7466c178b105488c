//! What a market's snapshot needs beyond the derived encoding.
//!
//! A market serializes whole (every index, the solver, the counters that
//! make ids), so a restored market makes the same proposals with the same
//! ids as the one it was taken from. Two fields need a hand: event bodies,
//! kept as their JSON text ([`json_text`]), and the proposals, kept whole
//! with their windows and restored with their history names
//! ([`proposals`]).

/// An event body in a snapshot, as its JSON text. Snapshots encode structs
/// by position (a quarter smaller and faster than by field name), which a
/// body whose optional fields are left out when empty cannot survive; its
/// own JSON form, the one the event contract defines, can.
pub(crate) mod json_text {
    use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&serde_json::to_string(v).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// A market's proposals in a snapshot: whole, window included (the
/// public [`Proposal`](super::Proposal) serialization is the audit trail's, which leaves
/// the window out), as a sequence in the map's order.
pub(crate) mod proposals {
    use std::collections::HashMap;

    use lendwork_domain::{
        AgreementTerms, EnterpriseId, EventId, MatchId, MatchProposed, Party, Reason, Sha256Hex,
        Timestamp, Window,
    };
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::json_text;
    use crate::market::records::{history_name, Refused, Step};
    use crate::market::{Proposal, Status};
    use crate::Ids;

    /// A history step: event, time, what, by, reason.
    type OutStep<'a> = (
        &'a EventId,
        Timestamp,
        &'static str,
        Option<Party>,
        &'a Option<Reason>,
    );
    type InStep = (EventId, Timestamp, String, Option<Party>, Option<Reason>);

    #[derive(Serialize)]
    struct Out<'a> {
        proposed: &'a MatchProposed,
        status: Status,
        window: &'a Window,
        lender: &'a Option<EnterpriseId>,
        accepted: &'a [Party],
        #[serde(with = "json_text")]
        agreement: &'a Option<Box<AgreementTerms>>,
        agreement_sha256: &'a Option<Sha256Hex>,
        signed: &'a [Party],
        history: Vec<OutStep<'a>>,
        refused: &'a [Refused],
        #[serde(with = "json_text")]
        sheet: &'a crate::sheet::Sheet,
    }

    #[derive(Deserialize)]
    struct In {
        proposed: MatchProposed,
        status: Status,
        window: Window,
        lender: Option<EnterpriseId>,
        accepted: Vec<Party>,
        #[serde(with = "json_text")]
        agreement: Option<Box<AgreementTerms>>,
        agreement_sha256: Option<Sha256Hex>,
        signed: Vec<Party>,
        history: Vec<InStep>,
        refused: Vec<Refused>,
        #[serde(with = "json_text")]
        sheet: crate::sheet::Sheet,
    }

    pub fn serialize<S: Serializer>(
        map: &HashMap<MatchId, Box<Proposal>, Ids>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.values().map(|p| {
            Out {
                proposed: &p.proposed,
                status: p.status,
                window: &p.window,
                lender: &p.lender,
                accepted: &p.accepted,
                agreement: &p.agreement,
                agreement_sha256: &p.agreement_sha256,
                signed: &p.signed,
                history: p
                    .history
                    .iter()
                    .map(|h| (&h.event, h.at, h.what, h.by, &h.reason))
                    .collect(),
                refused: &p.refused,
                sheet: &p.sheet,
            }
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<MatchId, Box<Proposal>, Ids>, D::Error> {
        let all = Vec::<In>::deserialize(d)?;
        let mut map = HashMap::with_capacity_and_hasher(all.len(), Ids::default());
        for p in all {
            let mut history = Vec::with_capacity(p.history.len());
            for (event, at, what, by, reason) in p.history {
                let what = history_name(&what).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown history entry {what:?}"))
                })?;
                history.push(Step {
                    event,
                    at,
                    what,
                    by,
                    reason,
                });
            }
            let id = p.proposed.match_id.clone();
            let proposal = Proposal {
                proposed: p.proposed,
                status: p.status,
                window: p.window,
                lender: p.lender,
                accepted: p.accepted,
                agreement: p.agreement,
                agreement_sha256: p.agreement_sha256,
                signed: p.signed,
                history,
                refused: p.refused,
                sheet: p.sheet,
            };
            if map.insert(id.clone(), Box::new(proposal)).is_some() {
                return Err(serde::de::Error::custom(format!("proposal {id} twice")));
            }
        }
        Ok(map)
    }
}

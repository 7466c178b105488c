//! What handling a batch of records leaves to be made durable: reservation
//! steps, outputs, and read-model writes.

use std::collections::{BTreeMap, BTreeSet};

use lendwork_domain::*;
use lendwork_state::views::{GapView, WorkerView};

/// A reservation step, in the order the records asked for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Book the worker for a new proposal.
    Reserve {
        /// The worker.
        worker: WorkerId,
        /// The proposal.
        match_id: MatchId,
        /// Its window.
        window: Window,
        /// Its region (the key of a conflict's decline).
        region: Region,
        /// Time of the record that made it.
        at: Timestamp,
        /// Offset of the record that made it (orders a region's requests).
        offset: u64,
    },
    /// Free the worker from a proposal that no longer holds them.
    Release {
        /// The worker.
        worker: WorkerId,
        /// The proposal.
        match_id: MatchId,
    },
}

/// What a batch must make durable before its offsets are committed.
#[derive(Debug, Default)]
pub struct Effects {
    /// Events for the matches topic, in order, keyed by region.
    pub outputs: Vec<(Region, Event)>,
    /// Reservation steps.
    pub holds: Vec<Hold>,
    /// Proposals whose views changed.
    pub matches: BTreeSet<MatchId>,
    /// Proposals made (or taken in) by this batch: their index-set entries
    /// are written once, with their first view.
    pub new_matches: BTreeSet<MatchId>,
    /// Gaps whose views changed.
    pub gaps: BTreeSet<GapId>,
    /// Gaps posted, with their region and borrower (the region's and the
    /// borrower's index sets get them).
    pub posted: Vec<(GapId, Region, EnterpriseId)>,
    /// Regions whose views changed.
    pub regions: BTreeSet<Region>,
    /// Records that broke the contract: (position, error).
    pub invalid: Vec<String>,
    /// Final views of gaps withdrawn.
    pub withdrawn: Vec<GapView>,
    /// Workers offered (their views are written from the engine's offer).
    pub workers: BTreeSet<WorkerId>,
    /// Final views of workers withdrawn.
    pub withdrawn_workers: Vec<WorkerView>,
    /// The time of the latest record handled (what the proposals' views
    /// say is allowed next is decided on its market day).
    pub at: Option<Timestamp>,
}

impl Effects {
    pub(crate) fn clear(&mut self) {
        *self = Effects::default();
    }
}

/// Read-model writes of a batch: values (a proposal's tagged with its id)
/// and index-set entries (tagged likewise).
#[derive(Debug, Default)]
pub struct Views {
    /// (proposal, key, value).
    pub values: Vec<(Option<MatchId>, String, Vec<u8>)>,
    /// (proposal, set, member).
    pub sets: Vec<(MatchId, String, String)>,
    /// (set, member) entries that belong to no proposal (regions' workers
    /// and gaps): always written.
    pub plain_sets: Vec<(String, String)>,
}

impl Views {
    /// Leaves out the views and entries of the proposals in `withheld`,
    /// and returns what remains as (values, set entries).
    #[allow(clippy::type_complexity)]
    pub(crate) fn withhold(
        self,
        withheld: &BTreeSet<MatchId>,
    ) -> (Vec<(String, Vec<u8>)>, Vec<(String, String)>) {
        let kept = |m: Option<&MatchId>| !matches!(m, Some(m) if withheld.contains(m));
        let values = self
            .values
            .into_iter()
            .filter(|(m, ..)| kept(m.as_ref()))
            .map(|(_, k, v)| (k, v))
            .collect();
        let mut sets: Vec<(String, String)> = self
            .sets
            .into_iter()
            .filter(|(m, ..)| kept(Some(m)))
            .map(|(_, set, member)| (set, member))
            .collect();
        sets.extend(self.plain_sets);
        (values, sets)
    }
}

/// One handled batch's effects, owned, so that they can be made durable
/// while the next batch is handled.
pub(crate) struct Batch {
    pub(crate) fx: BTreeMap<u32, Effects>,
    pub(crate) views: Views,
}

//! Where Lendwork keeps its state: every store key is built here, and
//! nowhere else.
//!
//! Keys (`P` is the configured prefix, `lendwork` by default):
//!
//! | key | value |
//! | --- | --- |
//! | `P:rm:gap:{gap_id}` | [`GapView`](crate::views::GapView) |
//! | `P:rm:match:{match_id}` | [`MatchView`](crate::views::MatchView) |
//! | `P:rm:worker:{worker_id}` | [`WorkerView`](crate::views::WorkerView) |
//! | `P:rm:region:{region}` | [`RegionView`](crate::views::RegionView) |
//! | `P:rm:set:ent:{enterprise_id}` | set of match ids: the borrower's proposals |
//! | `P:rm:set:lender:{enterprise_id}` | set of match ids: where a lender's workers are proposed |
//! | `P:rm:set:region-workers:{region}` | set of worker ids offered in the region |
//! | `P:rm:set:region-gaps:{region}` | set of gap ids posted in the region |
//! | `P:rm:set:worker:{worker_id}` | set of match ids: a flexible worker's (no employer) proposals |
//! | `P:owner:{gap,worker}:{id}` | the principal that posted or offered it (the gateway's) |
//! | `P:owner-set:worker:{principal}` | set of worker ids a lender or agency offered (the gateway's) |
//! | `P:owner-set:gap:{enterprise_id}` | set of gap ids a borrower posted (the matcher's, with the gap's first view) |
//! | `P:route:{worker,gap,match}:{id}` | the region the id was routed to ([`crate::routes`]) |
//! | `P:resv:{worker_id}` | the worker's reservations ([`crate::reservations`]) |
//! | `P:home:{topic}:{region}` | the market topic's partition a region lives in (the matcher's) |
//! | `P:snap:{topic}:{partition}` | a partition's snapshot (the matcher's) |
//! | `P:hist:{min,hour}:{YYYYMMDDHH[MM]}` | a sample of the statistics' history (the gateway's) |
//! | `P:session:{digest}` | a portal session: role, principal, CSRF token, expiry (the gateway's) |
//! | `P:upload:{id}` | a roster uploaded to the portal, until confirmed (the gateway's) |
//! | `P:idem:{digest}` | the request an `Idempotency-Key` is bound to (the gateway's) |
//! | `P:secret:pseudonym` | the key of operators' pseudonymous worker ids (the gateway's) |
//! | `P:probe` | read, never written, to see that the store answers |
//!
//! The per-client indexes are sets (see `StateStore::add_to_sets`): a
//! client's listing reads what it owns, never a scan of the store (on
//! Redis a prefix scan walks the whole keyspace), and an id containing `:`
//! cannot reach into another client's index.

/// Key names under one prefix. Built by concatenation, not `format!`
/// (several keys are built per event, and formatting is a visible share
/// of the embedded default's cost per posting).
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }
    /// A gap's view.
    pub fn gap(&self, g: &str) -> String {
        [self.prefix.as_str(), ":rm:gap:", g].concat()
    }
    /// A proposal's view.
    pub fn proposal(&self, m: &str) -> String {
        [self.prefix.as_str(), ":rm:match:", m].concat()
    }
    /// Prefix of every proposal view.
    pub fn proposals(&self) -> String {
        [self.prefix.as_str(), ":rm:match:"].concat()
    }
    /// Set of borrower `e`'s proposals.
    pub fn borrower_set(&self, e: &str) -> String {
        [self.prefix.as_str(), ":rm:set:ent:", e].concat()
    }
    /// Set of the proposals of lender `e`'s workers.
    pub fn lender_set(&self, e: &str) -> String {
        [self.prefix.as_str(), ":rm:set:lender:", e].concat()
    }
    /// Set of flexible worker `w`'s proposals (a lender's employees are in
    /// the lender's set).
    pub fn worker_set(&self, w: &str) -> String {
        [self.prefix.as_str(), ":rm:set:worker:", w].concat()
    }
    /// Set of the workers principal `p` offered.
    pub fn owned_workers(&self, p: &str) -> String {
        [self.prefix.as_str(), ":owner-set:worker:", p].concat()
    }
    /// Set of the gaps principal `p` posted.
    pub fn owned_gaps(&self, p: &str) -> String {
        [self.prefix.as_str(), ":owner-set:gap:", p].concat()
    }
    /// An offered worker's view.
    pub fn worker(&self, w: &str) -> String {
        [self.prefix.as_str(), ":rm:worker:", w].concat()
    }
    /// Set of the workers offered in region `r` (the matcher's; a worker
    /// who moved region stays a member: readers check the view's region).
    pub fn region_workers(&self, r: &str) -> String {
        [self.prefix.as_str(), ":rm:set:region-workers:", r].concat()
    }
    /// Set of the gaps posted in region `r` (the matcher's).
    pub fn region_gaps(&self, r: &str) -> String {
        [self.prefix.as_str(), ":rm:set:region-gaps:", r].concat()
    }
    /// Prefix of every worker view.
    pub fn workers(&self) -> String {
        [self.prefix.as_str(), ":rm:worker:"].concat()
    }
    /// Prefix of every gap view.
    pub fn gaps(&self) -> String {
        [self.prefix.as_str(), ":rm:gap:"].concat()
    }
    /// A sample of the statistics' history: `kind` `min` or `hour`, `at`
    /// the bucket's digits (the gateway's).
    pub fn history(&self, kind: &str, at: &str) -> String {
        [self.prefix.as_str(), ":hist:", kind, ":", at].concat()
    }
    /// A portal session, by the hex SHA-256 of its cookie (the gateway's).
    pub fn session(&self, digest: &str) -> String {
        [self.prefix.as_str(), ":session:", digest].concat()
    }
    /// A roster uploaded to the portal and waiting for its confirmation
    /// (the gateway's).
    pub fn upload(&self, id: &str) -> String {
        [self.prefix.as_str(), ":upload:", id].concat()
    }
    /// A region's view.
    pub fn region(&self, r: &str) -> String {
        [self.prefix.as_str(), ":rm:region:", r].concat()
    }
    /// Prefix of every region view.
    pub fn regions(&self) -> String {
        [self.prefix.as_str(), ":rm:region:"].concat()
    }
    /// The partition of market topic `topic` that region `r` lives in
    /// (recorded by the first matcher to see the region there).
    pub fn region_home(&self, topic: &str, r: &str) -> String {
        [self.prefix.as_str(), ":home:", topic, ":", r].concat()
    }
    /// A partition's snapshot (the matcher's; see `docs/design/matcher.md`,
    /// "Snapshots").
    pub fn snapshot(&self, topic: &str, partition: u32) -> String {
        format!("{}:snap:{topic}:{partition}", self.prefix)
    }
    /// Prefix of worker reservations.
    pub fn reservations(&self) -> String {
        [self.prefix.as_str(), ":resv"].concat()
    }
    /// The principal that posted gap `id` (`kind` `gap`) or offered worker
    /// `id` (`kind` `worker`).
    pub fn owner(&self, kind: &str, id: &str) -> String {
        [self.prefix.as_str(), ":owner:", kind, ":", id].concat()
    }
    /// The region a worker, gap or match id (`kind`) was routed to.
    pub fn route(&self, kind: &str, id: &str) -> String {
        [self.prefix.as_str(), ":route:", kind, ":", id].concat()
    }
    /// The request an `Idempotency-Key` was first used with (a digest of
    /// the caller, the key, the route and the body); `key_digest` is the
    /// hex digest of the caller and the key, so a client's key can neither
    /// grow the store's keys nor reach another caller's.
    pub fn idempotency(&self, key_digest: &str) -> String {
        [self.prefix.as_str(), ":idem:", key_digest].concat()
    }
    /// The secret of operators' pseudonymous worker ids, made by the first
    /// gateway to need it and shared by every gateway of the store.
    pub fn pseudonym_secret(&self) -> String {
        [self.prefix.as_str(), ":secret:pseudonym"].concat()
    }
    /// The key read to probe that the store answers (never written).
    pub fn probe(&self) -> String {
        [self.prefix.as_str(), ":probe"].concat()
    }
}

/// Worker `w`'s reservations under reservation prefix `prefix`
/// ([`Keys::reservations`] in a deployment; tests pick their own).
pub fn reservation(prefix: &str, w: &str) -> String {
    [prefix, ":", w].concat()
}

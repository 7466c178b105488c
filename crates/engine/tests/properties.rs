//! Property tests over random small markets and random lifecycles:
//! every proposal's history is a path of the state machine and a refused
//! step changes nothing, every proposal passes every rule when made, no worker holds overlapping
//! commitments, no gap exceeds its headcount, each round fills exactly the
//! maximum possible (checked by an independent augmenting-path matching over
//! the domain's rules) at the least cost among those (checked by the network
//! simplex), replays are byte-identical, and an engine restored from a
//! snapshot goes on as the original.

mod common;

use std::collections::HashSet;

use common::*;
use lendwork_domain::*;
use lendwork_engine::{Applied, Engine, EngineConfig, Status};
use lendwork_flow::{Network, Solution};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Worker {
        id: u8,
        east_km: u8,
        skill: u8,
        level: u8,
        start: u8,
        len: u8,
        commute: u8,
        lender: Option<u8>,
    },
    Gap {
        id: u8,
        north_km: u8,
        skill: u8,
        level: u8,
        headcount: u8,
        start: u8,
        len: u8,
    },
    WithdrawWorker(u8),
    WithdrawGap(u8),
    /// The borrower marks worker `w`: 0 favourite, 1 blocked, 2 cleared.
    Prefer(u8, u8),
    /// Acts on the n-th standing proposal: 0 accept, 1 decline, 2 sign
    /// (the agreement's hash when there is one), 3 start, 4–5 end (party
    /// and outcome by n).
    Decide(u8, u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..12, 0u8..20, 0u8..3, 1u8..=5, 0u8..40, 5u8..60, 3u8..25, proptest::option::of(0u8..3)).prop_map(
            |(id, east_km, skill, level, start, len, commute, lender)| Step::Worker { id, east_km, skill, level, start, len, commute, lender }),
        3 => (0u8..8, 0u8..15, 0u8..3, 1u8..=4, 1u8..4, 0u8..50, 0u8..30).prop_map(
            |(id, north_km, skill, level, headcount, start, len)| Step::Gap { id, north_km, skill, level, headcount, start, len }),
        1 => (0u8..12).prop_map(Step::WithdrawWorker),
        1 => (0u8..8).prop_map(Step::WithdrawGap),
        5 => (0u8..24, 0u8..6).prop_map(|(n, a)| Step::Decide(n, a)),
        1 => (0u8..12, 0u8..3).prop_map(|(w, k)| Step::Prefer(w, k)),
    ]
}

const SKILLS: [&str; 3] = ["forklift", "cashier", "welding"];

fn to_event(s: &Step, seq: &mut Seq, e: &Engine) -> Option<Event> {
    let base = d("2026-03-01");
    let kind = match *s {
        Step::Worker {
            id,
            east_km,
            skill,
            level,
            start,
            len,
            commute,
            lender,
        } => {
            let mut w = worker(&format!("w{id}"), f64::from(east_km));
            w.skills = vec![SkillLevel {
                skill: Skill::new(SKILLS[skill as usize]).unwrap(),
                level: Level::new(i64::from(level)).unwrap(),
            }];
            let st = base.plus_days(i64::from(start));
            w.available = Window::new(st, st.plus_days(i64::from(len))).unwrap();
            w.max_commute_km = Km::new(f64::from(commute)).unwrap();
            w.employer_id = lender.map(|l| EnterpriseId::new(format!("lender{l}")).unwrap());
            w.consent = lender != Some(2);
            EventKind::WorkerOffered(w)
        }
        Step::Gap {
            id,
            north_km,
            skill,
            level,
            headcount,
            start,
            len,
        } => {
            let st = base.plus_days(i64::from(start));
            let mut g = gap(
                &format!("g{id}"),
                i64::from(headcount),
                Window::new(st, st.plus_days(i64::from(len))).unwrap(),
            );
            g.site = Place::new(36.06 + f64::from(north_km) / 111.0, 103.83).unwrap();
            g.requirements = vec![Requirement {
                skill: Skill::new(SKILLS[skill as usize]).unwrap(),
                min_level: Level::new(i64::from(level)).unwrap(),
            }];
            g.enterprise_id =
                EnterpriseId::new(if id % 3 == 0 { "lender0" } else { "borrower" }).unwrap();
            EventKind::ShortagePosted(g)
        }
        Step::WithdrawWorker(id) => EventKind::WorkerWithdrawn(WorkerWithdrawn {
            worker_id: WorkerId::new(format!("w{id}")).unwrap(),
            reason: Reason::new("").unwrap(),
        }),
        Step::WithdrawGap(id) => EventKind::ShortageWithdrawn(ShortageWithdrawn {
            gap_id: GapId::new(format!("g{id}")).unwrap(),
            reason: Reason::new("").unwrap(),
        }),
        Step::Prefer(w, k) => EventKind::PreferenceSet(PreferenceSet {
            enterprise_id: EnterpriseId::new("borrower").unwrap(),
            worker_id: WorkerId::new(format!("w{w}")).unwrap(),
            kind: [
                PreferenceKind::Favourite,
                PreferenceKind::Blocked,
                PreferenceKind::Cleared,
            ][k as usize],
        }),
        Step::Decide(n, a) => {
            let standing: Vec<_> = e.proposals().filter(|p| p.status.holds_worker()).collect();
            if standing.is_empty() {
                return None;
            }
            let p = standing[n as usize % standing.len()];
            let m = p.proposed.match_id.clone();
            let by = [Party::Borrower, Party::Lender, Party::Worker][n as usize % 3];
            match a {
                0 => EventKind::MatchAccepted(MatchDecision {
                    match_id: m,
                    by,
                    reason: None,
                }),
                1 => EventKind::MatchDeclined(MatchDecision {
                    match_id: m,
                    by,
                    reason: None,
                }),
                2 => EventKind::AgreementSigned(AgreementSigned {
                    match_id: m,
                    by,
                    document_sha256: p
                        .agreement_sha256
                        .clone()
                        .unwrap_or_else(|| Sha256Hex::new("0".repeat(64)).unwrap()),
                }),
                3 => EventKind::AssignmentStarted(MatchRef { match_id: m }),
                _ => EventKind::AssignmentEnded(AssignmentEnded {
                    match_id: m,
                    outcome: [
                        Outcome::Completed,
                        Outcome::Returned,
                        Outcome::NoShow,
                        Outcome::Cancelled,
                        Outcome::Terminated,
                    ][n as usize % 5],
                    by: None,
                    reason: None,
                }),
            }
        }
    };
    Some(seq.ev(kind))
}

/// The live state as the domain sees it, rebuilt from the events alone.
#[derive(Default)]
struct Shadow {
    workers: std::collections::BTreeMap<String, WorkerOffered>,
    gaps: std::collections::BTreeMap<String, ShortagePosted>,
    /// (worker, borrower) pairs blocked (rule 10).
    blocked: HashSet<(String, String)>,
}

impl Shadow {
    fn apply(&mut self, e: &Event) {
        match &e.kind {
            EventKind::WorkerOffered(w) => {
                self.workers.insert(w.worker_id.to_string(), w.clone());
            }
            EventKind::WorkerWithdrawn(w) => {
                self.workers.remove(w.worker_id.as_str());
            }
            EventKind::ShortagePosted(g) => {
                self.gaps.insert(g.gap_id.to_string(), g.clone());
            }
            EventKind::ShortageWithdrawn(g) => {
                self.gaps.remove(g.gap_id.as_str());
            }
            // A mark on a worker the engine knows (it ignores the rest).
            EventKind::PreferenceSet(x) if self.workers.contains_key(x.worker_id.as_str()) => {
                let pair = (x.worker_id.to_string(), x.enterprise_id.to_string());
                if x.kind == PreferenceKind::Blocked {
                    self.blocked.insert(pair);
                } else {
                    self.blocked.remove(&pair);
                }
            }
            _ => {}
        }
    }
}

/// The most new (worker, gap) pairs — each worker once, each gap up to its
/// open positions, pairs eligible by the domain's rules against the
/// worker's standing commitments and not excluded by an earlier decline,
/// expiry or no-show — by Kuhn's augmenting paths on the expanded slots;
/// and the least total cost among the sets of that many, by
/// the flow crate's network simplex (which shares no code with the
/// engine's incremental solver) over the same pairs: source → worker → gap
/// → sink, with a source → sink bypass whose cost outweighs any pair's, so
/// that filling comes first.
fn best_new_pairs(e: &Engine, sh: &Shadow) -> (usize, u64) {
    let region = Region::new("620100").unwrap();
    let Some(market) = e.market(&region) else {
        return (0, 0);
    };
    let pairs = eligible_pairs(e, sh);
    let kuhn = kuhn(&pairs, sh, market);
    let workers: Vec<&String> = sh.workers.keys().collect();
    let gaps: Vec<&String> = sh.gaps.keys().collect();
    let (nw, ng) = (workers.len(), gaps.len());
    let (s, t) = (0u32, (1 + nw + ng) as u32);
    let mut net = Network::with_nodes(nw + ng + 2);
    net.supply[0] = nw as i64;
    net.supply[t as usize] = -(nw as i64);
    let big = (lendwork_engine::cost::MAX_COST as i64 + 1) * (nw as i64 + 1);
    let bypass = net.add_arc(s, t, nw as i64, big);
    for i in 0..nw {
        net.add_arc(s, 1 + i as u32, 1, 0);
    }
    for (j, g) in gaps.iter().enumerate() {
        let open = market.open(&GapId::new(g.as_str()).unwrap());
        net.add_arc((1 + nw + j) as u32, t, i64::from(open), 0);
    }
    for (i, w) in workers.iter().enumerate() {
        for (j, g) in gaps.iter().enumerate() {
            if pairs.contains(&((*w).clone(), (*g).clone())) {
                let c = market
                    .pair_cost(
                        &WorkerId::new(w.as_str()).unwrap(),
                        &GapId::new(g.as_str()).unwrap(),
                    )
                    .expect("both live");
                net.add_arc((1 + i) as u32, (1 + nw + j) as u32, 1, c as i64);
            }
        }
    }
    let Solution::Optimal { cost, flow } = lendwork_flow::simplex::solve(&net) else {
        panic!("the bypass makes every instance feasible");
    };
    let unfilled = flow[bypass];
    let filled = nw - unfilled as usize;
    assert_eq!(filled, kuhn, "the two independent counts agree");
    (
        filled,
        (cost - i128::from(unfilled) * i128::from(big)) as u64,
    )
}

/// Every (worker, gap) pair that may be proposed now.
fn eligible_pairs(e: &Engine, sh: &Shadow) -> HashSet<(String, String)> {
    let market = e.market(&Region::new("620100").unwrap()).expect("a market");
    let excluded: HashSet<(String, String)> = e
        .proposals()
        .filter(|p| {
            matches!(
                p.status,
                Status::Declined | Status::Expired | Status::Ended(_)
            )
        })
        .map(|p| {
            (
                p.proposed.worker_id.to_string(),
                p.proposed.gap_id.to_string(),
            )
        })
        .collect();
    let mut out = HashSet::new();
    for (wid, w) in &sh.workers {
        let busy = market.busy(&w.worker_id);
        for (gid, g) in &sh.gaps {
            let pair = (wid.clone(), gid.clone());
            let blocked = sh
                .blocked
                .contains(&(wid.clone(), g.enterprise_id.to_string()));
            if !excluded.contains(&pair) && !blocked && check(w, g, &busy).is_ok() {
                out.insert(pair);
            }
        }
    }
    out
}

/// Kuhn's augmenting paths over the pairs, each gap expanded into its open
/// positions.
fn kuhn(pairs: &HashSet<(String, String)>, sh: &Shadow, market: &lendwork_engine::Market) -> usize {
    let slots: Vec<&str> = sh
        .gaps
        .keys()
        .flat_map(|g| {
            std::iter::repeat(g.as_str())
                .take(market.open(&GapId::new(g.as_str()).unwrap()) as usize)
        })
        .collect();
    let workers: Vec<(&String, &WorkerOffered)> = sh.workers.iter().collect();
    let adj: Vec<Vec<usize>> = workers
        .iter()
        .map(|(wid, _)| {
            slots
                .iter()
                .enumerate()
                .filter(|(_, g)| pairs.contains(&((*wid).clone(), (**g).to_owned())))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let mut owner = vec![usize::MAX; slots.len()];
    fn augment(u: usize, adj: &[Vec<usize>], seen: &mut [bool], owner: &mut [usize]) -> bool {
        for &v in &adj[u] {
            if !seen[v] {
                seen[v] = true;
                if owner[v] == usize::MAX || augment(owner[v], adj, seen, owner) {
                    owner[v] = u;
                    return true;
                }
            }
        }
        false
    }
    (0..workers.len())
        .filter(|&u| augment(u, &adj, &mut vec![false; slots.len()], &mut owner))
        .count()
}

/// What a step could change: every proposal's status, acceptances and
/// signatures, and every gap's free positions.
fn fingerprint(e: &Engine) -> Vec<String> {
    let mut out: Vec<String> = e
        .proposals()
        .map(|p| {
            format!(
                "{} {:?} {:?} {:?}",
                p.proposed.match_id, p.status, p.accepted, p.signed
            )
        })
        .collect();
    for m in e.markets() {
        out.extend(
            m.open_positions()
                .into_iter()
                .map(|(g, n)| format!("{g} {n}")),
        );
    }
    out
}

/// The edges of the proposal state machine (DESIGN §5), and the
/// market's own: cancellations of what has not started, terminations.
fn edge(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Proposed, Agreed | Declined | Expired | Cancelled)
            | (Agreed, Signed | Declined | Cancelled)
            | (Signed, Started | Declined | Cancelled)
            | (Started, Ended(_))
    )
}

fn run(steps: &[Step], check_optimum: bool) -> Result<String, TestCaseError> {
    run_on(
        Engine::new(EngineConfig::default()),
        steps,
        check_optimum,
        1,
    )
}

/// Applies the steps' events, with a round after every `every` of them and
/// after the last.
fn run_on(
    mut e: Engine,
    steps: &[Step],
    check_optimum: bool,
    every: usize,
) -> Result<String, TestCaseError> {
    let mut sh = Shadow::default();
    let mut seq = Seq(0);
    let mut log = String::new();
    let mut applied = 0;
    let mut last: std::collections::HashMap<MatchId, Status> = Default::default();
    for (i, s) in steps.iter().enumerate() {
        let Some(ev) = to_event(s, &mut seq, &e) else {
            continue;
        };
        let before = fingerprint(&e);
        let outcome = e.apply(&ev);
        if let Applied::Ignored(why) = &outcome {
            prop_assert_eq!(
                &before,
                &fingerprint(&e),
                "a refused step ({}) changes nothing",
                why
            );
        }
        for t in e.take_transitions() {
            let from = last
                .insert(t.match_id.clone(), t.to)
                .unwrap_or(Status::Proposed);
            prop_assert_eq!(from, t.from, "{}'s history is one path", t.match_id);
            prop_assert!(
                edge(t.from, t.to),
                "{}: {:?} -> {:?} is not a step of the machine",
                t.match_id,
                t.from,
                t.to
            );
        }
        sh.apply(&ev);
        applied += 1;
        if applied % every != 0 && i + 1 < steps.len() {
            continue;
        }
        let want = if check_optimum {
            Some(best_new_pairs(&e, &sh))
        } else {
            None
        };
        let round = e.round(ev.at);
        if let Some((filled, cost)) = want {
            prop_assert_eq!(round.len(), filled, "a round fills the maximum possible");
            let got: u64 = round
                .iter()
                .map(|r| match &r.kind {
                    EventKind::MatchProposed(p) => p.cost,
                    _ => unreachable!(),
                })
                .sum();
            prop_assert_eq!(got, cost, "and among those, at the least cost");
        }
        e.check_invariants().map_err(TestCaseError::fail)?;
        // Every new proposal passes every rule at the moment it is made,
        // against the worker's other commitments.
        for r in &round {
            let EventKind::MatchProposed(p) = &r.kind else {
                unreachable!()
            };
            let w = &sh.workers[p.worker_id.as_str()];
            let g = &sh.gaps[p.gap_id.as_str()];
            let others: Vec<Window> = e
                .proposals()
                .filter(|q| {
                    q.proposed.worker_id == p.worker_id
                        && q.proposed.match_id != p.match_id
                        && q.status.holds_worker()
                })
                .map(|q| q.window)
                .collect();
            prop_assert_eq!(
                check(w, g, &others),
                Ok(()),
                "proposal {} breaks a rule",
                p.match_id
            );
            log.push_str(&r.to_json());
            log.push('\n');
        }
    }
    Ok(log)
}

/// Applies the steps' events with a round and an expiry sweep after each
/// (proposals expire after ten events' time), and — when `restore_every`
/// is given — replaces the engine by a restore of its own snapshot after
/// every that many steps. Returns everything the engine said: each
/// event's outcome, each round's and each sweep's events, and at the end
/// every proposal with its status and trail.
fn run_with_snapshots(
    steps: &[Step],
    restore_every: Option<usize>,
) -> Result<String, TestCaseError> {
    let config = EngineConfig {
        proposal_ttl_secs: 600,
        ..EngineConfig::default()
    };
    let mut e = Engine::new(config.clone());
    let mut seq = Seq(0);
    let mut log = String::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(ev) = to_event(s, &mut seq, &e) {
            log.push_str(&format!("{:?}\n", e.apply(&ev)));
            for out in e.expire(ev.at).iter().chain(&e.round(ev.at)) {
                log.push_str(&out.to_json());
                log.push('\n');
            }
            log.push_str(&format!("{:?}\n", e.take_changed()));
        }
        if restore_every.is_some_and(|n| (i + 1) % n == 0) {
            e = Engine::restore(&e.snapshot(), &config)
                .map_err(|x| TestCaseError::fail(x.to_string()))?;
            e.check_invariants().map_err(TestCaseError::fail)?;
        }
    }
    for p in e.proposals() {
        log.push_str(&serde_json::to_string(p).unwrap());
        log.push_str(&format!(" {:?}\n", p.window));
    }
    log.push_str(&format!("remembered {}\n", e.remembered_ids()));
    Ok(log)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// An engine restored from its snapshot — taken anywhere, once or
    /// many times — goes on exactly as the engine it was taken from:
    /// the same outcomes, proposals, ids, expiries and trails.
    #[test]
    fn a_restored_snapshot_goes_on_as_the_original(steps in proptest::collection::vec(step(), 1..60), every in 1usize..20) {
        let straight = run_with_snapshots(&steps, None)?;
        let restored = run_with_snapshots(&steps, Some(every))?;
        prop_assert_eq!(straight, restored);
    }

    #[test]
    fn rounds_are_optimal_and_proposals_follow_the_rules(steps in proptest::collection::vec(step(), 1..60)) {
        run(&steps, true)?;
    }

    #[test]
    fn replaying_the_same_events_gives_the_same_bytes(steps in proptest::collection::vec(step(), 1..60)) {
        let a = run(&steps, false)?;
        let b = run(&steps, false)?;
        prop_assert_eq!(a, b);
    }

    /// Candidates decided on the grid entries alone (the fast path) and on
    /// the records (the path of markets with more than 64 skills) give the
    /// same proposals, byte for byte.
    #[test]
    fn the_index_and_the_records_decide_alike(steps in proptest::collection::vec(step(), 1..60)) {
        let fast = run(&steps, false)?;
        let mut slow = Engine::new(EngineConfig::default());
        slow.decide_on_records();
        let slow = run_on(slow, &steps, true, 1)?;
        prop_assert_eq!(fast, slow);
    }

    /// Rounds after every few events (as the streaming matcher batches
    /// them): the events between rounds move the solver's uncommitted
    /// assignment, and each round is still optimal.
    #[test]
    fn batched_rounds_are_optimal(steps in proptest::collection::vec(step(), 1..60), every in 2usize..6) {
        run_on(Engine::new(EngineConfig::default()), &steps, true, every)?;
    }
}

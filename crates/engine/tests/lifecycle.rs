//! Every lifecycle path of a proposal, with back-fill, withdrawals, expiry,
//! rule 9, idempotency and the why-not answers.

mod common;

use common::*;
use lendwork_domain::*;
use lendwork_engine::{Applied, Engine, EngineConfig, Status, WhyNot};

fn decide(s: &mut Seq, e: &mut Engine, kind: EventKind) -> Vec<(String, String, MatchId)> {
    let ev = s.ev(kind);
    assert_eq!(e.apply(&ev), Applied::Applied, "{ev:?}");
    let out = proposals(&e.round(ev.at));
    e.check_invariants().unwrap();
    out
}

/// `kind` as an event at `at` (for steps that must wait for their day).
fn at(s: &mut Seq, kind: EventKind, at: &str) -> Event {
    Event {
        at: t(at),
        ..s.ev(kind)
    }
}

/// Carries proposal `m` (of a flexible worker) to `started`: the borrower
/// and the worker accept, both sign the agreement, and the worker starts
/// on the window's first day.
fn start(s: &mut Seq, e: &mut Engine, m: &MatchId) {
    for by in [Party::Borrower, Party::Worker] {
        decide(
            s,
            e,
            EventKind::MatchAccepted(MatchDecision {
                match_id: m.clone(),
                by,
                reason: None,
            }),
        );
    }
    let sha = e.proposal(m).unwrap().agreement_sha256.clone().unwrap();
    for by in [Party::Borrower, Party::Worker] {
        decide(
            s,
            e,
            EventKind::AgreementSigned(AgreementSigned {
                match_id: m.clone(),
                by,
                document_sha256: sha.clone(),
            }),
        );
    }
    let ev = at(
        s,
        EventKind::AssignmentStarted(MatchRef {
            match_id: m.clone(),
        }),
        "2026-04-01T08:00:00+08:00",
    );
    assert_eq!(e.apply(&ev), Applied::Applied);
    assert_eq!(e.proposal(m).unwrap().status, Status::Started);
}

fn market() -> (Seq, Engine, MatchId) {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "g1",
        1,
        window("2026-04-01", "2026-04-30"),
    ))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("near", 1.0))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("far", 10.0))));
    let first = proposals(&e.round(t("2026-03-01T09:00:00Z")));
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].0.as_str(), first[0].1.as_str()),
        ("g1", "near"),
        "the nearer worker costs less"
    );
    (s, e, first[0].2.clone())
}

#[test]
fn decline_backfills_with_the_next_best_and_never_reproposes_the_pair() {
    let (mut s, mut e, m) = market();
    let next = decide(
        &mut s,
        &mut e,
        EventKind::MatchDeclined(MatchDecision {
            match_id: m.clone(),
            by: Party::Worker,
            reason: None,
        }),
    );
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1, "far");
    assert_eq!(e.proposal(&m).unwrap().status, Status::Declined);
    assert_eq!(
        e.why_not(&WorkerId::new("near").unwrap(), &GapId::new("g1").unwrap()),
        WhyNot::Excluded
    );
}

#[test]
fn no_show_backfills_but_completion_keeps_the_position() {
    let (mut s, mut e, m) = market();
    start(&mut s, &mut e, &m);
    let ev = at(
        &mut s,
        EventKind::AssignmentEnded(AssignmentEnded {
            match_id: m.clone(),
            outcome: Outcome::NoShow,
            by: Some(Party::Borrower),
            reason: None,
        }),
        "2026-04-01T12:00:00+08:00",
    );
    assert_eq!(e.apply(&ev), Applied::Applied);
    let next = proposals(&e.round(ev.at));
    assert_eq!(
        next.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["far"]
    );

    let (mut s, mut e, m) = market();
    start(&mut s, &mut e, &m);
    let ev = at(
        &mut s,
        EventKind::AssignmentEnded(AssignmentEnded {
            match_id: m.clone(),
            outcome: Outcome::Completed,
            by: Some(Party::Borrower),
            reason: None,
        }),
        "2026-04-30T18:00:00+08:00",
    );
    assert_eq!(e.apply(&ev), Applied::Applied);
    let next = proposals(&e.round(ev.at));
    assert!(
        next.is_empty(),
        "a completed assignment keeps its position: {next:?}"
    );
    assert_eq!(
        e.market(&Region::new("620100").unwrap())
            .unwrap()
            .open(&GapId::new("g1").unwrap()),
        0
    );
}

#[test]
fn worker_withdrawn_mid_proposal_frees_the_position() {
    let (mut s, mut e, m) = market();
    let next = decide(
        &mut s,
        &mut e,
        EventKind::WorkerWithdrawn(WorkerWithdrawn {
            worker_id: WorkerId::new("near").unwrap(),
            reason: Reason::new("moved").unwrap(),
        }),
    );
    assert_eq!(
        next.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["far"]
    );
    assert_eq!(e.proposal(&m).unwrap().status, Status::Cancelled);
    // A decision on the cancelled proposal is ignored, not applied.
    let late = s.ev(EventKind::MatchAccepted(MatchDecision {
        match_id: m,
        by: Party::Borrower,
        reason: None,
    }));
    assert!(matches!(e.apply(&late), Applied::Ignored(_)));
}

#[test]
fn gap_withdrawn_mid_proposal_frees_the_worker_for_an_overlapping_gap() {
    let (mut s, mut e, m) = market();
    // g2 overlaps g1's window: "near" is blocked by rule 9 while proposed for g1.
    let p = decide(
        &mut s,
        &mut e,
        EventKind::ShortagePosted(gap("g2", 1, window("2026-04-15", "2026-05-15"))),
    );
    assert_eq!(p.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(), ["far"]);
    assert_eq!(
        e.why_not(&WorkerId::new("near").unwrap(), &GapId::new("g2").unwrap()),
        WhyNot::Rule {
            rule: Rule::NoOverlap
        }
    );
    let next = decide(
        &mut s,
        &mut e,
        EventKind::ShortageWithdrawn(ShortageWithdrawn {
            gap_id: GapId::new("g1").unwrap(),
            reason: Reason::new("").unwrap(),
        }),
    );
    assert!(next.is_empty(), "g2 is already served by far: {next:?}");
    assert_eq!(e.proposal(&m).unwrap().status, Status::Cancelled);
    assert!(e
        .market(&Region::new("620100").unwrap())
        .unwrap()
        .busy(&WorkerId::new("near").unwrap())
        .is_empty());
}

#[test]
fn rule_9_allows_disjoint_windows_in_later_rounds() {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    e.apply(&s.ev(EventKind::WorkerOffered(worker("solo", 1.0))));
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "april",
        1,
        window("2026-04-01", "2026-04-30"),
    ))));
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "april2",
        1,
        window("2026-04-10", "2026-04-20"),
    ))));
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "june",
        1,
        window("2026-06-01", "2026-06-30"),
    ))));
    let mut all = Vec::new();
    for _ in 0..3 {
        all.extend(proposals(&e.round(t("2026-03-02T00:00:00Z"))));
        e.check_invariants().unwrap();
    }
    let gaps: Vec<&str> = all.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(gaps.len(), 2, "one April gap and June: {gaps:?}");
    assert!(gaps.contains(&"june"));
}

#[test]
fn unanswered_proposals_expire_and_backfill() {
    let (_, mut e, m) = market();
    assert!(
        e.expire(t("2026-03-02T09:00:00Z")).is_empty(),
        "not yet: 24 h of 48"
    );
    let expired = e.expire(t("2026-03-04T09:00:00Z"));
    assert_eq!(expired.len(), 1);
    assert_eq!(e.proposal(&m).unwrap().status, Status::Expired);
    let next = proposals(&e.round(t("2026-03-04T09:00:00Z")));
    assert_eq!(
        next.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["far"]
    );
}

#[test]
fn duplicate_event_ids_change_nothing() {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    let ev = s.ev(EventKind::ShortagePosted(gap(
        "g1",
        2,
        window("2026-04-01", "2026-04-30"),
    )));
    assert_eq!(e.apply(&ev), Applied::Applied);
    assert_eq!(e.apply(&ev), Applied::Duplicate);
    let w = s.ev(EventKind::WorkerOffered(worker("a", 1.0)));
    e.apply(&w);
    let round = e.round(w.at);
    assert_eq!(round.len(), 1);
    // Our own proposals read back from the log are duplicates too.
    assert_eq!(e.apply(&round[0]), Applied::Duplicate);
    assert!(e.round(w.at).is_empty());
}

#[test]
fn event_ids_are_remembered_for_the_dedupe_window_and_then_forgotten() {
    let day = 24 * 3600;
    let mut e = Engine::new(EngineConfig {
        dedupe_window_secs: 2 * day,
        ..EngineConfig::default()
    });
    let at = |secs: i64| Timestamp::from_unix_seconds(1_772_352_000 + secs).unwrap();
    let posting = |id: &str, gap_id: &str, secs: i64| Event {
        id: EventId::new(id).unwrap(),
        at: at(secs),
        kind: EventKind::ShortagePosted(gap(gap_id, 1, window("2026-04-01", "2026-04-30"))),
    };
    let first = posting("evt-1", "g1", 0);
    assert_eq!(e.apply(&first), Applied::Applied);
    // Within the window, by the latest event time: a duplicate.
    assert_eq!(
        e.apply(&posting("evt-2", "g2", 2 * day - 1)),
        Applied::Applied
    );
    assert_eq!(e.apply(&first), Applied::Duplicate);
    // A quarter of a window past its end, the id has been swept out (ids
    // are kept at most 9/8 of the window) and the event applies again.
    assert_eq!(
        e.apply(&posting("evt-3", "g3", 2 * day + day / 2)),
        Applied::Applied
    );
    assert_eq!(
        e.apply(&first),
        Applied::Applied,
        "forgotten after the window"
    );
    // A month of steady events keeps about a window's worth of ids.
    for i in 0..30 * 24 {
        let ev = posting(&format!("evt-h{i}"), &format!("h{i}"), 3 * day + i * 3600);
        assert_eq!(e.apply(&ev), Applied::Applied);
    }
    let kept = e.remembered_ids();
    assert!((48..=48 + 6 + 1).contains(&kept), "{kept} ids remembered");
    e.check_invariants().unwrap();
}

#[test]
fn foreign_proposals_are_taken_only_when_eligible() {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "g1",
        1,
        window("2026-04-01", "2026-04-30"),
    ))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("a", 1.0))));
    let mut far = worker("z", 1.0);
    far.max_commute_km = Km::new(0.1).unwrap();
    e.apply(&s.ev(EventKind::WorkerOffered(far)));
    let foreign = |w: &str, id: &str| MatchProposed {
        match_id: MatchId::new(id).unwrap(),
        gap_id: GapId::new("g1").unwrap(),
        worker_id: WorkerId::new(w).unwrap(),
        region: Region::new("620100").unwrap(),
        cost: 0,
        explanation: Explanation {
            terms: Default::default(),
            rules_passed: Rule::ALL.to_vec(),
        },
    };
    assert!(
        matches!(
            e.apply(&s.ev(EventKind::MatchProposed(foreign("z", "x1")))),
            Applied::Ignored(_)
        ),
        "commute fails"
    );
    assert_eq!(
        e.apply(&s.ev(EventKind::MatchProposed(foreign("a", "x2")))),
        Applied::Applied
    );
    assert!(
        e.round(t("2026-03-02T00:00:00Z")).is_empty(),
        "the only position is taken"
    );
    e.check_invariants().unwrap();
}

#[test]
fn explanations_sum_to_the_cost_and_name_every_rule() {
    let (_, e, m) = market();
    let entry = e.proposal(&m).unwrap();
    let p = &entry.proposed;
    assert_eq!(p.explanation.terms.values().sum::<u64>(), p.cost);
    assert_eq!(p.explanation.rules_passed, Rule::ALL.to_vec());
    assert_eq!(
        p.explanation.terms["priority"], 300,
        "not in a priority group"
    );
    assert!(entry.history[0].what == "match_proposed");
    // The engine's interned computation equals the cost model's own.
    let w = worker("near", 1.0);
    let g = gap("g1", 1, window("2026-04-01", "2026-04-30"));
    assert_eq!(
        p.explanation.terms,
        lendwork_engine::CostWeights::default()
            .terms(&w, &g, 0, false, 0)
            .to_map()
    );
    assert_eq!(
        p.explanation.terms["over_qualification"], 20,
        "level 3 for a level-2 requirement"
    );
}

#[test]
fn priority_groups_go_first_among_equals() {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "g1",
        1,
        window("2026-04-01", "2026-04-30"),
    ))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("plain", 1.0))));
    let mut grad = worker("grad", 3.0);
    grad.priority_group = Some(PriorityGroup::Graduate);
    e.apply(&s.ev(EventKind::WorkerOffered(grad)));
    let p = proposals(&e.round(t("2026-03-02T00:00:00Z")));
    assert_eq!(p[0].1, "grad", "2 km further but a graduate");
}

//! The policy behind shared employment (人社厅发〔2020〕98号, DESIGN §5),
//! one test a rule, on the engine alone: no start without the worker's own
//! acceptance; no start without every signature on the same agreement; no
//! lending past the worker's contract (terminated automatically, and the
//! position filled again); a worker withdrawn mid-assignment is terminated;
//! a blocked worker is never proposed to that borrower; a step that does
//! not apply changes nothing.

mod common;

use common::*;
use lendwork_domain::*;
use lendwork_engine::{Applied, Engine, EngineConfig, Status};

/// A market with one gap of `borrower` (April) and one employee of
/// `lender` who consented, whose contract ends on `contract_end`; the
/// engine's first proposal pairs them.
fn lent(contract_end: Option<&str>) -> (Seq, Engine, MatchId) {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "g1",
        1,
        window("2026-04-01", "2026-04-30"),
    ))));
    let mut w = worker("emp", 1.0);
    w.employer_id = Some(EnterpriseId::new("lender").unwrap());
    w.contract_end = contract_end.map(d);
    e.apply(&s.ev(EventKind::WorkerOffered(w)));
    let p = proposals(&e.round(t("2026-03-01T09:00:00Z")));
    assert_eq!(p.len(), 1);
    (s, e, p[0].2.clone())
}

fn apply_at(s: &mut Seq, e: &mut Engine, kind: EventKind, at: &str) -> Applied {
    let ev = Event {
        at: t(at),
        ..s.ev(kind)
    };
    let r = e.apply(&ev);
    e.check_invariants().unwrap();
    r
}

fn accept(m: &MatchId, by: Party) -> EventKind {
    EventKind::MatchAccepted(MatchDecision {
        match_id: m.clone(),
        by,
        reason: None,
    })
}

fn sign(m: &MatchId, by: Party, sha: &Sha256Hex) -> EventKind {
    EventKind::AgreementSigned(AgreementSigned {
        match_id: m.clone(),
        by,
        document_sha256: sha.clone(),
    })
}

fn start(m: &MatchId) -> EventKind {
    EventKind::AssignmentStarted(MatchRef {
        match_id: m.clone(),
    })
}

const MARCH: &str = "2026-03-02T09:00:00+08:00";
const FIRST_DAY: &str = "2026-04-01T08:00:00+08:00";

/// Accepts and signs as every party, then starts on the first day.
fn carry_to_started(s: &mut Seq, e: &mut Engine, m: &MatchId) {
    for by in Party::ALL {
        assert_eq!(apply_at(s, e, accept(m, by), MARCH), Applied::Applied);
    }
    let sha = e.proposal(m).unwrap().agreement_sha256.clone().unwrap();
    for by in Party::ALL {
        assert_eq!(apply_at(s, e, sign(m, by, &sha), MARCH), Applied::Applied);
    }
    assert_eq!(apply_at(s, e, start(m), FIRST_DAY), Applied::Applied);
}

fn refused(r: Applied) -> String {
    match r {
        Applied::Ignored(why) => why,
        other => panic!("applied: {other:?}"),
    }
}

#[test]
fn no_start_without_the_workers_own_acceptance() {
    let (mut s, mut e, m) = lent(None);
    for by in [Party::Borrower, Party::Lender] {
        apply_at(&mut s, &mut e, accept(&m, by), MARCH);
    }
    assert_eq!(e.proposal(&m).unwrap().status, Status::Proposed);
    let why = refused(apply_at(&mut s, &mut e, start(&m), FIRST_DAY));
    assert!(
        why.contains("waiting for the acceptance of worker"),
        "{why}"
    );
    let p = e.proposal(&m).unwrap();
    assert_eq!(p.status, Status::Proposed, "a refused step changes nothing");
    assert_eq!(p.refused.len(), 1, "and is recorded for the audit");
}

#[test]
fn no_start_without_every_signature_on_the_same_agreement() {
    let (mut s, mut e, m) = lent(None);
    for by in Party::ALL {
        apply_at(&mut s, &mut e, accept(&m, by), MARCH);
    }
    let p = e.proposal(&m).unwrap();
    assert_eq!(p.status, Status::Agreed);
    let sha = p.agreement_sha256.clone().unwrap();
    let terms = p.agreement.as_deref().unwrap();
    assert_eq!(terms.sha256(), sha, "the hash is the document's");
    let html = terms.render_html();
    for clause in [
        "不得扣减",
        "no deduction",
        "工伤保险",
        "work-injury insurance",
        "返回权",
        "Right to return",
    ] {
        assert!(html.contains(clause), "the pack says {clause}");
    }
    let other = Sha256Hex::new("0".repeat(64)).unwrap();
    let why = refused(apply_at(
        &mut s,
        &mut e,
        sign(&m, Party::Worker, &other),
        MARCH,
    ));
    assert!(
        why.contains("is not the SHA-256 of this proposal's agreement"),
        "{why}"
    );
    apply_at(&mut s, &mut e, sign(&m, Party::Borrower, &sha), MARCH);
    apply_at(&mut s, &mut e, sign(&m, Party::Lender, &sha), MARCH);
    let why = refused(apply_at(&mut s, &mut e, start(&m), FIRST_DAY));
    assert!(why.contains("waiting for the signature of worker"), "{why}");
    apply_at(&mut s, &mut e, sign(&m, Party::Worker, &sha), MARCH);
    let why = refused(apply_at(
        &mut s,
        &mut e,
        start(&m),
        "2026-03-31T23:00:00+08:00",
    ));
    assert!(why.contains("before its window's first day"), "{why}");
    assert_eq!(
        apply_at(&mut s, &mut e, start(&m), FIRST_DAY),
        Applied::Applied
    );
}

#[test]
fn no_lending_past_the_contract_end_terminated_automatically_and_backfilled() {
    let (mut s, mut e, m) = lent(None);
    carry_to_started(&mut s, &mut e, &m);
    // The lender re-offers the employee: the contract now ends on 10 April.
    let mut w = worker("emp", 1.0);
    w.employer_id = Some(EnterpriseId::new("lender").unwrap());
    w.contract_end = Some(d("2026-04-10"));
    apply_at(
        &mut s,
        &mut e,
        EventKind::WorkerOffered(w),
        "2026-04-02T09:00:00+08:00",
    );
    assert_eq!(e.proposal(&m).unwrap().status, Status::Started);
    // A flexible worker stands by for the position.
    apply_at(
        &mut s,
        &mut e,
        EventKind::WorkerOffered(worker("spare", 2.0)),
        "2026-04-02T10:00:00+08:00",
    );
    assert!(
        e.expire(t("2026-04-10T23:00:00+08:00")).is_empty(),
        "the contract's last day is still worked"
    );
    let out = e.expire(t("2026-04-11T06:00:00+08:00"));
    assert_eq!(out.len(), 1, "{out:?}");
    let EventKind::AssignmentEnded(x) = &out[0].kind else {
        panic!("{out:?}")
    };
    assert_eq!((x.outcome, x.by), (Outcome::Terminated, None));
    assert_eq!(
        out[0].id.as_str(),
        format!("evt-term-{m}"),
        "a deterministic id"
    );
    assert_eq!(
        e.proposal(&m).unwrap().status,
        Status::Ended(Outcome::Terminated)
    );
    assert_eq!(
        e.apply(&out[0]),
        Applied::Duplicate,
        "reading it back is a no-op"
    );
    let next = proposals(&e.round(t("2026-04-11T06:00:00+08:00")));
    assert_eq!(
        next.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["spare"],
        "back-filled"
    );
}

#[test]
fn a_worker_withdrawn_mid_assignment_is_terminated_and_the_position_filled_again() {
    let (mut s, mut e, m) = lent(None);
    carry_to_started(&mut s, &mut e, &m);
    apply_at(
        &mut s,
        &mut e,
        EventKind::WorkerOffered(worker("spare", 2.0)),
        "2026-04-02T10:00:00+08:00",
    );
    apply_at(
        &mut s,
        &mut e,
        EventKind::WorkerWithdrawn(WorkerWithdrawn {
            worker_id: WorkerId::new("emp").unwrap(),
            reason: Reason::new("moved away").unwrap(),
        }),
        "2026-04-03T10:00:00+08:00",
    );
    assert_eq!(
        e.proposal(&m).unwrap().status,
        Status::Ended(Outcome::Terminated)
    );
    let emitted = e.take_emitted();
    assert_eq!(emitted.len(), 1, "the termination is an event to publish");
    let next = proposals(&e.round(t("2026-04-03T10:00:00+08:00")));
    assert_eq!(
        next.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["spare"]
    );
}

#[test]
fn a_blocked_worker_is_never_proposed_to_that_borrower() {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    let april = window("2026-04-01", "2026-04-30");
    e.apply(&s.ev(EventKind::ShortagePosted(gap("g1", 1, april))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("near", 1.0))));
    let first = proposals(&e.round(t("2026-03-01T09:00:00Z")));
    assert_eq!(first[0].1, "near");
    let block = |kind| {
        EventKind::PreferenceSet(PreferenceSet {
            enterprise_id: EnterpriseId::new("borrower").unwrap(),
            worker_id: WorkerId::new("near").unwrap(),
            kind,
        })
    };
    assert_eq!(
        e.apply(&s.ev(block(PreferenceKind::Blocked))),
        Applied::Applied
    );
    assert_eq!(
        e.proposal(&first[0].2).unwrap().status,
        Status::Cancelled,
        "the standing proposal goes"
    );
    assert!(
        matches!(
            e.apply(&s.ev(block(PreferenceKind::Blocked))),
            Applied::Ignored(_)
        ),
        "blocking twice changes nothing"
    );
    assert!(proposals(&e.round(t("2026-03-01T10:00:00Z"))).is_empty());
    // Not for this gap, nor for a gap the borrower posts later.
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "g2",
        1,
        window("2026-05-01", "2026-05-30"),
    ))));
    assert!(proposals(&e.round(t("2026-03-01T11:00:00Z"))).is_empty());
    assert_eq!(
        e.why_not(&WorkerId::new("near").unwrap(), &GapId::new("g2").unwrap()),
        lendwork_engine::WhyNot::Rule {
            rule: Rule::NotBlocked
        }
    );
    // Another borrower still gets the worker.
    let mut other = gap("g3", 1, window("2026-06-01", "2026-06-30"));
    other.enterprise_id = EnterpriseId::new("someone-else").unwrap();
    e.apply(&s.ev(EventKind::ShortagePosted(other)));
    let p = proposals(&e.round(t("2026-03-01T12:00:00Z")));
    assert_eq!(p.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["g3"]);
    // Cleared: proposed to the borrower's gaps again.
    e.apply(&s.ev(block(PreferenceKind::Cleared)));
    let p = proposals(&e.round(t("2026-03-01T13:00:00Z")));
    assert!(!p.is_empty() && p.iter().all(|x| x.1 == "near"), "{p:?}");
    e.check_invariants().unwrap();
}

#[test]
fn a_favourite_gets_the_bounded_bonus_shown_in_its_explanation() {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    e.apply(&s.ev(EventKind::ShortagePosted(gap(
        "g1",
        1,
        window("2026-04-01", "2026-04-30"),
    ))));
    // "far" lives 5 km further: 50 more in distance than "near".
    e.apply(&s.ev(EventKind::WorkerOffered(worker("near", 1.0))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("far", 6.0))));
    let first = proposals(&e.round(t("2026-03-01T09:00:00Z")));
    assert_eq!(first[0].1, "near");
    let p = e.proposal(&first[0].2).unwrap();
    assert_eq!(p.proposed.explanation.terms["not_favourite"], 100);
    // The borrower marks "far" as a favourite and declines "near": the
    // bonus (100) outweighs the 5 km (50), and the explanation shows it.
    e.apply(&s.ev(EventKind::PreferenceSet(PreferenceSet {
        enterprise_id: EnterpriseId::new("borrower").unwrap(),
        worker_id: WorkerId::new("far").unwrap(),
        kind: PreferenceKind::Favourite,
    })));
    let near = e.market(&Region::new("620100").unwrap()).unwrap();
    let (cn, cf) = (
        near.pair_cost(&WorkerId::new("near").unwrap(), &GapId::new("g1").unwrap())
            .unwrap(),
        near.pair_cost(&WorkerId::new("far").unwrap(), &GapId::new("g1").unwrap())
            .unwrap(),
    );
    assert!(cf < cn, "the favourite is cheaper now: {cf} against {cn}");
    assert!(cn - cf <= 100, "by at most the weight");
    e.apply(&s.ev(EventKind::MatchDeclined(MatchDecision {
        match_id: first[0].2.clone(),
        by: Party::Borrower,
        reason: None,
    })));
    let next = proposals(&e.round(t("2026-03-01T10:00:00Z")));
    assert_eq!(next[0].1, "far");
    let p = e.proposal(&next[0].2).unwrap();
    assert_eq!(p.proposed.explanation.terms["not_favourite"], 0);
    assert_eq!(
        p.proposed.explanation.terms.values().sum::<u64>(),
        p.proposed.cost
    );
    e.check_invariants().unwrap();
}

#[test]
fn a_no_show_raises_a_bounded_cost_shown_in_the_explanation_and_never_excludes() {
    // A flexible worker agrees, signs, starts and does not show.
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    let april = window("2026-04-01", "2026-04-30");
    e.apply(&s.ev(EventKind::ShortagePosted(gap("g1", 1, april))));
    e.apply(&s.ev(EventKind::WorkerOffered(worker("w", 1.0))));
    let m = proposals(&e.round(t("2026-03-01T09:00:00Z")))[0].2.clone();
    let before = e.proposal(&m).unwrap().proposed.explanation.terms["no_show_risk"];
    assert_eq!(before, 0, "a new worker carries no risk");
    for by in [Party::Borrower, Party::Worker] {
        apply_at(&mut s, &mut e, accept(&m, by), MARCH);
    }
    let sha = e.proposal(&m).unwrap().agreement_sha256.clone().unwrap();
    for by in [Party::Borrower, Party::Worker] {
        apply_at(&mut s, &mut e, sign(&m, by, &sha), MARCH);
    }
    apply_at(&mut s, &mut e, start(&m), FIRST_DAY);
    let end = EventKind::AssignmentEnded(AssignmentEnded {
        match_id: m.clone(),
        outcome: Outcome::NoShow,
        by: Some(Party::Borrower),
        reason: None,
    });
    apply_at(&mut s, &mut e, end, "2026-04-01T12:00:00+08:00");
    let region = Region::new("620100").unwrap();
    let rec = e
        .market(&region)
        .unwrap()
        .reliability(&WorkerId::new("w").unwrap());
    assert_eq!(
        (rec.no_show, rec.ended(), rec.no_show_permille()),
        (1, 1, 333)
    );
    // Still proposed to another gap: the record prices, it does not exclude.
    let mut other = gap("g2", 1, window("2026-05-01", "2026-05-30"));
    other.enterprise_id = EnterpriseId::new("other").unwrap();
    apply_at(
        &mut s,
        &mut e,
        EventKind::ShortagePosted(other),
        "2026-04-02T09:00:00+08:00",
    );
    let next = proposals(&e.round(t("2026-04-02T10:00:00+08:00")));
    assert_eq!(next.len(), 1);
    let p = e.proposal(&next[0].2).unwrap();
    let risk = p.proposed.explanation.terms["no_show_risk"];
    assert_eq!(risk, 200 * 333 / 1000, "weight × smoothed rate");
    assert!(risk <= 200, "bounded by the weight");
    assert_eq!(
        p.proposed.explanation.terms.values().sum::<u64>(),
        p.proposed.cost
    );
    e.check_invariants().unwrap();
}

#[test]
fn a_borrowers_late_cancellations_are_counted_against_it() {
    let (mut s, mut e, m) = lent(None);
    for by in Party::ALL {
        apply_at(&mut s, &mut e, accept(&m, by), MARCH);
    }
    apply_at(
        &mut s,
        &mut e,
        EventKind::MatchDeclined(MatchDecision {
            match_id: m.clone(),
            by: Party::Borrower,
            reason: Some(Reason::new("order cancelled").unwrap()),
        }),
        MARCH,
    );
    let region = Region::new("620100").unwrap();
    let mk = e.market(&region).unwrap();
    assert_eq!(
        mk.late_cancellations(&EnterpriseId::new("borrower").unwrap()),
        1
    );
    assert_eq!(
        mk.late_cancellations(&EnterpriseId::new("lender").unwrap()),
        0
    );
}

use super::*;

fn run(cfg: &SimConfig) -> Vec<u8> {
    let mut out = Vec::new();
    simulate(cfg, &mut out, &mut |_| {}).unwrap();
    out
}

#[test]
fn answers_are_deterministic_valid_and_in_the_simulated_proportions() {
    let at = Timestamp::parse("2026-03-05T08:00:00Z").unwrap();
    let (mut accepted, mut declined, mut silent) = (0, 0, 0);
    for i in 0..2000 {
        let p = MatchProposed {
            match_id: MatchId::new(format!("m-620100-g{i}-w{}", i * 7)).unwrap(),
            gap_id: GapId::new(format!("g{i}")).unwrap(),
            worker_id: WorkerId::new(format!("w{}", i * 7)).unwrap(),
            region: Region::new("620100").unwrap(),
            cost: 1,
            explanation: Explanation {
                terms: Default::default(),
                rules_passed: Rule::ALL.to_vec(),
            },
        };
        let lent = i % 2 == 0;
        let a = answer(&p, lent, at);
        assert_eq!(
            a,
            answer(&p, lent, at),
            "the same proposal, the same answer"
        );
        if a.is_empty() {
            silent += 1;
            continue;
        }
        for e in &a {
            let text = e.to_json();
            assert_eq!(&Event::from_json(&text).unwrap(), e, "a valid event");
            let late = e.at.unix_seconds() - at.unix_seconds();
            assert!((60..603).contains(&late), "answered {late} s later");
        }
        match &a[0].kind {
            EventKind::MatchAccepted(_) => {
                let by: Vec<Party> = a
                    .iter()
                    .map(|e| match &e.kind {
                        EventKind::MatchAccepted(d) if d.match_id == p.match_id => d.by,
                        other => panic!("not an acceptance of the proposal: {other:?}"),
                    })
                    .collect();
                let want = if lent {
                    vec![Party::Borrower, Party::Lender, Party::Worker]
                } else {
                    vec![Party::Borrower, Party::Worker]
                };
                assert_eq!(by, want, "every required party accepts");
                accepted += 1
            }
            EventKind::MatchDeclined(d) => {
                assert_eq!(d.match_id, p.match_id);
                assert_eq!(a.len(), 1);
                declined += 1
            }
            other => panic!("not an answer: {other:?}"),
        }
    }
    // 60 / 25 / 15 % of 2,000, give or take what a hash deals.
    assert!((1100..1300).contains(&accepted), "{accepted} accepted");
    assert!((400..600).contains(&declined), "{declined} declined");
    assert!((200..400).contains(&silent), "{silent} unanswered");
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = SimConfig {
        workers: 2000,
        gaps: 300,
        ..Default::default()
    };
    let a = run(&cfg);
    assert_eq!(a, run(&cfg));
    assert_ne!(a, run(&SimConfig { seed: 2, ..cfg }));
}

#[test]
fn every_line_is_valid_and_time_ordered() {
    let cfg = SimConfig {
        workers: 3000,
        gaps: 400,
        regions: 16,
        work: true,
        ..Default::default()
    };
    let out = run(&cfg);
    let mut last = None;
    let mut types = std::collections::BTreeSet::new();
    let (mut workers, mut gaps) = (0, 0);
    for line in std::str::from_utf8(&out).unwrap().lines() {
        let e = Event::from_json(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(last.map_or(true, |l| l <= e.at), "time goes forward");
        last = Some(e.at);
        types.insert(e.kind.type_name());
        match e.kind {
            EventKind::WorkerOffered(_) => workers += 1,
            EventKind::ShortagePosted(_) => gaps += 1,
            _ => {}
        }
    }
    assert!(workers >= 3000, "every worker offered (plus updates)");
    assert_eq!(gaps, 400);
    // Every type but borrowers' preferences, which the simulation does
    // not make.
    let want: std::collections::BTreeSet<&str> = EVENT_TYPES
        .into_iter()
        .filter(|t| *t != "preference_set")
        .collect();
    assert_eq!(types, want, "all event types occur");
}

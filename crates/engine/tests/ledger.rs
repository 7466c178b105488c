//! The settlement ledger: amounts in integer fen, rounding per day at the
//! half, pay periods, a one-fen deduction flagged, the timesheet rules,
//! and — over random timesheets and payments — the ledger equal to an
//! independent recomputation written here (it shares no code with
//! `lendwork_engine::ledger`).

mod common;

use std::collections::BTreeMap;

use common::*;
use lendwork_domain::*;
use lendwork_engine::ledger::{day_fen, period_of, rows, Flag, Row};
use lendwork_engine::sheet::PayPeriod;
use lendwork_engine::{Applied, Engine, EngineConfig, Status};
use proptest::prelude::*;

#[test]
fn a_day_is_rounded_half_up_to_the_fen() {
    assert_eq!(day_fen(1, 3000), 50);
    assert_eq!(day_fen(1, 3030), 51, "50.5 fen rounds up");
    assert_eq!(day_fen(1, 2970), 50, "49.5 fen rounds up");
    assert_eq!(day_fen(1, 2969), 49, "49.48 rounds down");
    assert_eq!(day_fen(480, 2500), 20_000, "eight hours at ¥25");
    assert_eq!(day_fen(0, 9999), 0);
}

#[test]
fn pay_periods_are_weeks_half_months_and_months() {
    let w = |a: &str, b: &str| window(a, b);
    assert_eq!(
        period_of(d("2026-04-15"), PayPeriod::Monthly),
        w("2026-04-01", "2026-04-30")
    );
    assert_eq!(
        period_of(d("2026-12-31"), PayPeriod::Monthly),
        w("2026-12-01", "2026-12-31")
    );
    assert_eq!(
        period_of(d("2028-02-10"), PayPeriod::Monthly),
        w("2028-02-01", "2028-02-29")
    );
    assert_eq!(
        period_of(d("2026-04-15"), PayPeriod::HalfMonthly),
        w("2026-04-01", "2026-04-15")
    );
    assert_eq!(
        period_of(d("2026-04-16"), PayPeriod::HalfMonthly),
        w("2026-04-16", "2026-04-30")
    );
    // 2026-04-15 is a Wednesday.
    assert_eq!(
        period_of(d("2026-04-15"), PayPeriod::Weekly),
        w("2026-04-13", "2026-04-19")
    );
}

/// An engine with one started assignment (April–May, wage `wage` fen an
/// hour, 8 hours a day), of an employee when `lent`; its id.
fn started(lent: bool, wage: i64) -> (Seq, Engine, MatchId) {
    let mut s = Seq(0);
    let mut e = Engine::new(EngineConfig::default());
    let mut g = gap("g1", 1, window("2026-04-01", "2026-05-31"));
    g.hourly_wage_fen = Fen::new(wage).unwrap();
    e.apply(&s.ev(EventKind::ShortagePosted(g)));
    let mut w = worker("w1", 1.0);
    if lent {
        w.employer_id = Some(EnterpriseId::new("lender").unwrap());
    }
    e.apply(&s.ev(EventKind::WorkerOffered(w)));
    let p = proposals(&e.round(t("2026-03-01T09:00:00Z")));
    let m = p[0].2.clone();
    let parties = lendwork_domain::agreement::required_parties(lent);
    for &by in &parties {
        e.apply(&s.ev(EventKind::MatchAccepted(MatchDecision {
            match_id: m.clone(),
            by,
            reason: None,
        })));
    }
    let sha = e.proposal(&m).unwrap().agreement_sha256.clone().unwrap();
    for &by in &parties {
        e.apply(&s.ev(EventKind::AgreementSigned(AgreementSigned {
            match_id: m.clone(),
            by,
            document_sha256: sha.clone(),
        })));
    }
    let start = Event {
        at: t("2026-04-01T08:00:00+08:00"),
        ..s.ev(EventKind::AssignmentStarted(MatchRef {
            match_id: m.clone(),
        }))
    };
    assert_eq!(e.apply(&start), Applied::Applied);
    assert_eq!(e.proposal(&m).unwrap().status, Status::Started);
    (s, e, m)
}

fn at(s: &mut Seq, kind: EventKind, when: &str) -> Event {
    Event {
        at: t(when),
        ..s.ev(kind)
    }
}

fn submit(m: &MatchId, date: &str, minutes: i64) -> EventKind {
    EventKind::TimesheetSubmitted(TimesheetSubmitted {
        match_id: m.clone(),
        date: d(date),
        minutes: Minutes::new(minutes).unwrap(),
        by: Party::Borrower,
    })
}

fn confirm(m: &MatchId, date: &str, by: Party) -> EventKind {
    EventKind::TimesheetConfirmed(TimesheetConfirmed {
        match_id: m.clone(),
        date: d(date),
        by: Some(by),
    })
}

fn payment(m: &MatchId, from: Party, to: Party, fen: i64, a: &str, b: &str) -> EventKind {
    EventKind::PaymentRecorded(PaymentRecorded {
        match_id: m.clone(),
        from,
        to,
        amount_fen: AmountFen::new(fen).unwrap(),
        period: window(a, b),
    })
}

fn ledger(e: &Engine, m: &MatchId, as_of: &str) -> Vec<Row> {
    let p = e.proposal(m).unwrap();
    rows(
        m,
        &p.sheet,
        p.window,
        p.wage_fen().unwrap(),
        p.lender.is_some(),
        &e.config().pay,
        d(as_of),
    )
}

#[test]
fn a_deduction_of_one_fen_is_flagged() {
    let (mut s, mut e, m) = started(true, 3000);
    for day in ["2026-04-01", "2026-04-02"] {
        e.apply(&at(
            &mut s,
            submit(&m, day, 480),
            "2026-04-03T09:00:00+08:00",
        ));
        e.apply(&at(
            &mut s,
            confirm(&m, day, Party::Worker),
            "2026-04-03T10:00:00+08:00",
        ));
    }
    // Two days of 8 h at ¥30: 48 000 fen. The borrower pays the lender in
    // full; the lender pays the worker one fen less.
    let when = "2026-05-02T09:00:00+08:00";
    e.apply(&at(
        &mut s,
        payment(
            &m,
            Party::Borrower,
            Party::Lender,
            48_000,
            "2026-04-01",
            "2026-04-30",
        ),
        when,
    ));
    e.apply(&at(
        &mut s,
        payment(
            &m,
            Party::Lender,
            Party::Worker,
            47_999,
            "2026-04-01",
            "2026-04-30",
        ),
        when,
    ));
    let r = ledger(&e, &m, "2026-05-03");
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].minutes, r[0].owed_fen), (960, 48_000));
    assert_eq!(
        (r[0].paid_by_borrower_fen, r[0].paid_to_worker_fen),
        (48_000, 47_999)
    );
    assert_eq!(r[0].flags, vec![Flag::Underpaid, Flag::Deduction]);
    // Paid in full: no flag, even long after.
    e.apply(&at(
        &mut s,
        payment(
            &m,
            Party::Lender,
            Party::Worker,
            1,
            "2026-04-01",
            "2026-04-30",
        ),
        when,
    ));
    assert_eq!(ledger(&e, &m, "2026-07-01")[0].flags, vec![]);
}

#[test]
fn timesheet_reports_that_break_a_rule_are_refused_naming_it() {
    let (mut s, mut e, m) = started(true, 3000);
    let refused = |r: Applied| match r {
        Applied::Ignored(why) => why,
        other => panic!("applied: {other:?}"),
    };
    let now = "2026-04-10T20:00:00+08:00";
    let why = refused(e.apply(&at(&mut s, submit(&m, "2026-04-11", 480), now)));
    assert!(
        why.starts_with("date:") && why.contains("has not happened yet"),
        "{why}"
    );
    let why = refused(e.apply(&at(&mut s, submit(&m, "2026-03-31", 480), now)));
    assert!(why.contains("outside the assignment's window"), "{why}");
    let why = refused(e.apply(&at(&mut s, submit(&m, "2026-04-02", 661), now)));
    assert!(why.starts_with("minutes:") && why.contains("660"), "{why}");
    assert_eq!(
        e.apply(&at(&mut s, submit(&m, "2026-04-02", 660), now)),
        Applied::Applied
    );
    let why = refused(e.apply(&at(&mut s, confirm(&m, "2026-04-03", Party::Worker), now)));
    assert!(why.contains("was not submitted"), "{why}");
    // A dispute waits for a new submission, which only the disputing
    // party confirms.
    let dispute = EventKind::TimesheetDisputed(TimesheetDisputed {
        match_id: m.clone(),
        date: d("2026-04-02"),
        by: Party::Worker,
        reason: Reason::new("I left at six").unwrap(),
        minutes: Some(Minutes::new(600).unwrap()),
    });
    assert_eq!(e.apply(&at(&mut s, dispute, now)), Applied::Applied);
    let why = refused(e.apply(&at(&mut s, confirm(&m, "2026-04-02", Party::Lender), now)));
    assert!(why.contains("disputed by the worker"), "{why}");
    assert_eq!(
        e.apply(&at(&mut s, submit(&m, "2026-04-02", 600), now)),
        Applied::Applied
    );
    let why = refused(e.apply(&at(&mut s, confirm(&m, "2026-04-02", Party::Lender), now)));
    assert!(why.contains("only they confirm"), "{why}");
    assert_eq!(
        e.apply(&at(&mut s, confirm(&m, "2026-04-02", Party::Worker), now)),
        Applied::Applied
    );
    let why = refused(e.apply(&at(&mut s, submit(&m, "2026-04-02", 480), now)));
    assert!(why.contains("a confirmed day is final"), "{why}");
    let why = refused(e.apply(&at(
        &mut s,
        payment(
            &m,
            Party::Borrower,
            Party::Worker,
            100,
            "2026-04-01",
            "2026-04-30",
        ),
        now,
    )));
    assert!(why.contains("borrower to lender"), "{why}");
    let p = e.proposal(&m).unwrap();
    assert_eq!(
        p.sheet.days.len(),
        1,
        "nothing of a refused report is applied"
    );
}

#[test]
fn an_unanswered_day_confirms_itself_after_three_days_as_an_event() {
    let (mut s, mut e, m) = started(false, 3000);
    e.apply(&at(
        &mut s,
        submit(&m, "2026-04-01", 480),
        "2026-04-01T20:00:00+08:00",
    ));
    assert!(e.expire(t("2026-04-04T19:59:00+08:00")).is_empty());
    let out = e.expire(t("2026-04-04T20:00:00+08:00"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(matches!(&out[0].kind, EventKind::TimesheetConfirmed(x) if x.by.is_none()));
    assert_eq!(
        e.apply(&out[0]),
        Applied::Duplicate,
        "reading it back is a no-op"
    );
    assert_eq!(ledger(&e, &m, "2026-04-05")[0].owed_fen, 24_000);
}

/// One random report: (kind 0 submit / 1 confirm / 2 dispute / 3 pay,
/// day 0..61, minutes 0..700, party, amount).
fn report() -> impl Strategy<Value = (u8, i64, i64, u8, i64)> {
    (0u8..4, 0i64..61, 0i64..700, 0u8..3, 1i64..60_000)
}

/// The independent recount: months of 2026, confirmed minutes and pay per
/// day rounded half up, the payments, and the flags, from the reports the
/// engine applied.
fn recount(
    applied: &[EventKind],
    wage: i64,
    lent: bool,
    as_of: Date,
) -> Vec<(u32, u64, i64, i64, i64, Vec<Flag>)> {
    use chrono::Datelike;
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Sub,
        Conf,
        Disp,
    }
    let mut days: BTreeMap<Date, (i64, S)> = BTreeMap::new();
    let mut pays: Vec<(Party, Party, i64, Date)> = Vec::new();
    for k in applied {
        match k {
            EventKind::TimesheetSubmitted(x) => {
                days.insert(x.date, (i64::from(x.minutes.get()), S::Sub));
            }
            EventKind::TimesheetConfirmed(x) => days.get_mut(&x.date).unwrap().1 = S::Conf,
            EventKind::TimesheetDisputed(x) => days.get_mut(&x.date).unwrap().1 = S::Disp,
            EventKind::PaymentRecorded(x) => {
                pays.push((x.from, x.to, x.amount_fen.get(), x.period.start))
            }
            _ => {}
        }
    }
    let mut months: BTreeMap<u32, (u64, i64, i64, i64, bool)> = BTreeMap::new();
    for (date, (min, st)) in &days {
        let e = months.entry(date.0.month()).or_default();
        match st {
            S::Conf => {
                e.0 += *min as u64;
                let (q, r) = ((min * wage) / 60, (min * wage) % 60);
                e.1 += if 2 * r >= 60 { q + 1 } else { q };
            }
            S::Disp => e.4 = true,
            S::Sub => {}
        }
    }
    for (from, to, amt, start) in &pays {
        let e = months.entry(start.0.month()).or_default();
        if *from == Party::Borrower {
            e.2 += amt;
        }
        if *to == Party::Worker {
            e.3 += amt;
        }
    }
    months
        .into_iter()
        .map(|(month, (min, owed, b, w, disp))| {
            let last_day = if month == 4 { 30 } else { 31 };
            let end = Date(chrono::NaiveDate::from_ymd_opt(2026, month, last_day).unwrap());
            let paid: Vec<i64> = if lent { vec![b, w] } else { vec![b] };
            let mut f = Vec::new();
            if paid.iter().any(|p| *p > 0 && *p < owed) {
                f.push(Flag::Underpaid);
            }
            if paid.iter().any(|p| *p > owed) {
                f.push(Flag::Overpaid);
            }
            if lent && w < b {
                f.push(Flag::Deduction);
            }
            if as_of.days_until(end) < -15 && paid.iter().any(|p| *p < owed) {
                f.push(Flag::Late);
            }
            if disp {
                f.push(Flag::Disputed);
            }
            (month, min, owed, b, w, f)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn the_ledger_equals_an_independent_recount(
        lent in any::<bool>(),
        wage in 2000i64..9000,
        reports in proptest::collection::vec(report(), 1..80),
        as_of_day in 0i64..60,
    ) {
        let (mut s, mut e, m) = started(lent, wage);
        let mut applied = Vec::new();
        for (kind, day, minutes, party, amount) in reports {
            let date = d("2026-04-01").plus_days(day).to_string();
            let by = [Party::Borrower, Party::Lender, Party::Worker][party as usize];
            let k = match kind {
                0 => submit(&m, &date, minutes),
                1 => confirm(&m, &date, if by == Party::Borrower { Party::Worker } else { by }),
                2 => EventKind::TimesheetDisputed(TimesheetDisputed {
                    match_id: m.clone(),
                    date: d(&date),
                    by: if by == Party::Borrower { Party::Worker } else { by },
                    reason: Reason::new("wrong").unwrap(),
                    minutes: None,
                }),
                _ => {
                    let (from, to) = match (lent, party) {
                        (true, 0) => (Party::Borrower, Party::Lender),
                        (true, _) => (Party::Lender, Party::Worker),
                        (false, _) => (Party::Borrower, Party::Worker),
                    };
                    let start = if day < 30 { "2026-04-01" } else { "2026-05-01" };
                    let end = if day < 30 { "2026-04-30" } else { "2026-05-31" };
                    payment(&m, from, to, amount, start, end)
                }
            };
            if e.apply(&at(&mut s, k.clone(), "2026-06-01T12:00:00+08:00")) == Applied::Applied {
                applied.push(k);
            }
        }
        let as_of = d("2026-05-01").plus_days(as_of_day);
        let got: Vec<_> = ledger(&e, &m, &as_of.to_string())
            .into_iter()
            .map(|r| {
                use chrono::Datelike;
                (r.period.start.0.month(), r.minutes, r.owed_fen, r.paid_by_borrower_fen, r.paid_to_worker_fen, r.flags)
            })
            .collect();
        prop_assert_eq!(got, recount(&applied, wage, lent, as_of));
    }
}

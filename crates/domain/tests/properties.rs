//! Property tests: every event type round-trips through its JSON, and no
//! input line, however mangled, panics the parser or is accepted silently
//! without a field-naming error.

use lendwork_domain::*;
use proptest::prelude::*;
use serde_json::Value;

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:-]{1,64}"
}
fn slug() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,20}"
}
fn date() -> impl Strategy<Value = Date> {
    (0i64..3000).prop_map(|d| Date::parse("2025-01-01").unwrap().plus_days(d))
}
fn window() -> impl Strategy<Value = Window> {
    (date(), 0i64..400).prop_map(|(s, len)| Window::new(s, s.plus_days(len)).unwrap())
}
fn place() -> impl Strategy<Value = Place> {
    (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(a, b)| Place::new(a, b).unwrap())
}
fn at() -> impl Strategy<Value = Timestamp> {
    (1_600_000_000i64..1_900_000_000).prop_map(|s| Timestamp::from_unix_seconds(s).unwrap())
}
fn level() -> impl Strategy<Value = Level> {
    (1i64..=5).prop_map(|l| Level::new(l).unwrap())
}
fn reason() -> impl Strategy<Value = Reason> {
    "[^\\p{Cc}]{0,40}".prop_map(|s| Reason::new(s).unwrap())
}
fn km() -> impl Strategy<Value = Km> {
    (0.0f64..200.0).prop_map(|k| Km::new(k).unwrap())
}
fn fen() -> impl Strategy<Value = Fen> {
    (0i64..100_000).prop_map(|f| Fen::new(f).unwrap())
}
fn unique_slugs() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set(slug(), 0..6).prop_map(|s| s.into_iter().collect())
}

fn worker_offered() -> impl Strategy<Value = EventKind> {
    (
        (
            id(),
            id(),
            place(),
            unique_slugs(),
            proptest::collection::vec(level(), 6),
        ),
        (
            proptest::collection::btree_set(id(), 0..4),
            window(),
            km(),
            fen(),
        ),
        (
            proptest::option::of(id()),
            any::<bool>(),
            proptest::option::of(date()),
        ),
        proptest::option::of(prop_oneof![
            Just(PriorityGroup::Unemployed),
            Just(PriorityGroup::Graduate),
            Just(PriorityGroup::MigrantWorker),
            Just(PriorityGroup::HardToEmploy)
        ]),
    )
        .prop_map(
            |((w, r, home, skills, levels), (certs, available, k, f), (emp, consent, end), pg)| {
                EventKind::WorkerOffered(WorkerOffered {
                    worker_id: WorkerId::new(w).unwrap(),
                    region: Region::new(r).unwrap(),
                    home,
                    skills: skills
                        .into_iter()
                        .zip(levels)
                        .map(|(s, level)| SkillLevel {
                            skill: Skill::new(s).unwrap(),
                            level,
                        })
                        .collect(),
                    certificates: certs
                        .into_iter()
                        .map(|c| Certificate::new(c).unwrap())
                        .collect(),
                    available,
                    max_commute_km: k,
                    min_hourly_wage_fen: f,
                    employer_id: emp.map(|e| EnterpriseId::new(e).unwrap()),
                    consent,
                    contract_end: end,
                    priority_group: pg,
                    display_name: None,
                })
            },
        )
}

fn shortage_posted() -> impl Strategy<Value = EventKind> {
    (
        (
            id(),
            id(),
            id(),
            place(),
            unique_slugs(),
            proptest::collection::vec(level(), 6),
        ),
        (
            proptest::collection::btree_set(id(), 0..4),
            1i64..=10_000,
            window(),
            fen(),
        ),
        (proptest::option::of(km()), proptest::option::of(slug())),
    )
        .prop_map(
            |((g, e, r, site, skills, levels), (certs, h, window, wage), (k, ind))| {
                EventKind::ShortagePosted(ShortagePosted {
                    gap_id: GapId::new(g).unwrap(),
                    enterprise_id: EnterpriseId::new(e).unwrap(),
                    region: Region::new(r).unwrap(),
                    site,
                    requirements: skills
                        .into_iter()
                        .zip(levels)
                        .map(|(s, min_level)| Requirement {
                            skill: Skill::new(s).unwrap(),
                            min_level,
                        })
                        .collect(),
                    certificates: certs
                        .into_iter()
                        .map(|c| Certificate::new(c).unwrap())
                        .collect(),
                    headcount: Headcount::new(h).unwrap(),
                    window,
                    hourly_wage_fen: wage,
                    max_commute_km: k,
                    industry: ind.map(|i| Industry::new(i).unwrap()),
                    title: None,
                    description: None,
                    hours_per_day: None,
                })
            },
        )
}

fn party() -> impl Strategy<Value = Party> {
    prop_oneof![
        Just(Party::Borrower),
        Just(Party::Lender),
        Just(Party::Worker)
    ]
}

fn other_kinds() -> impl Strategy<Value = EventKind> {
    let m = || id().prop_map(|m| MatchId::new(m).unwrap());
    prop_oneof![
        (id(), reason()).prop_map(|(w, reason)| EventKind::WorkerWithdrawn(WorkerWithdrawn {
            worker_id: WorkerId::new(w).unwrap(),
            reason
        })),
        (id(), reason()).prop_map(
            |(g, reason)| EventKind::ShortageWithdrawn(ShortageWithdrawn {
                gap_id: GapId::new(g).unwrap(),
                reason
            })
        ),
        (
            m(),
            id(),
            id(),
            id(),
            proptest::collection::btree_map(slug(), 0u64..1_000_000, 0..5)
        )
            .prop_map(|(match_id, g, w, r, terms)| {
                EventKind::MatchProposed(MatchProposed {
                    match_id,
                    gap_id: GapId::new(g).unwrap(),
                    worker_id: WorkerId::new(w).unwrap(),
                    region: Region::new(r).unwrap(),
                    cost: terms.values().sum(),
                    explanation: Explanation {
                        terms,
                        rules_passed: Rule::ALL.to_vec(),
                    },
                })
            }),
        (m(), party(), proptest::option::of(reason())).prop_map(|(match_id, by, reason)| {
            EventKind::MatchAccepted(MatchDecision {
                match_id,
                by,
                reason,
            })
        }),
        (m(), party(), proptest::option::of(reason())).prop_map(|(match_id, by, reason)| {
            EventKind::MatchDeclined(MatchDecision {
                match_id,
                by,
                reason,
            })
        }),
        m().prop_map(|match_id| EventKind::MatchExpired(MatchRef { match_id })),
        m().prop_map(|match_id| EventKind::AssignmentStarted(MatchRef { match_id })),
        (
            m(),
            prop_oneof![
                Just(Outcome::Completed),
                Just(Outcome::Returned),
                Just(Outcome::NoShow),
                Just(Outcome::Cancelled),
                Just(Outcome::Terminated)
            ]
        )
            .prop_map(
                |(match_id, outcome)| EventKind::AssignmentEnded(AssignmentEnded {
                    match_id,
                    outcome,
                    by: None,
                    reason: None,
                })
            ),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        id(),
        at(),
        prop_oneof![worker_offered(), shortage_posted(), other_kinds()],
    )
        .prop_map(|(id, at, kind)| Event {
            id: EventId::new(id).unwrap(),
            at,
            kind,
        })
}

/// Mangles a valid event's JSON in one of several ways.
fn mangle(v: &mut Value, how: u8, pick: usize, junk: &Value) {
    let obj = v.as_object_mut().unwrap();
    let keys: Vec<String> = obj.keys().cloned().collect();
    let key = keys[pick % keys.len()].clone();
    match how % 4 {
        0 => {
            obj.remove(&key);
        }
        1 => {
            obj.insert(key, junk.clone());
        }
        2 => {
            obj.insert(format!("{key}_extra"), junk.clone());
        }
        _ => {
            obj.insert("type".into(), Value::from(format!("{key}!")));
        }
    }
}

fn junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,10}".prop_map(Value::from),
        Just(serde_json::json!([1, "x"])),
        Just(serde_json::json!({"k": 1})),
    ]
}

proptest! {
    /// Dates parse and print as chrono's `%Y-%m-%d` does, over every year
    /// the wire allows, and refuse what chrono refuses.
    #[test]
    fn dates_read_and_print_like_chrono(y in 0i32..10000, m in 0u32..14, d in 0u32..33) {
        let text = format!("{y:04}-{m:02}-{d:02}");
        let ours = Date::parse(&text).ok();
        let theirs = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
        prop_assert_eq!(ours.map(|x| x.0), theirs);
        if let (Some(a), Some(b)) = (ours, theirs) {
            prop_assert_eq!(a.to_string(), b.format("%Y-%m-%d").to_string());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Instants print as chrono's RFC 3339 with `SecondsFormat::AutoSi`
    /// and `Z` does — every fraction width, leap seconds, years beyond
    /// four digits — as text and as JSON.
    #[test]
    fn timestamps_print_like_chrono(
        secs in -70_000_000_000i64..300_000_000_000,
        nanos in prop_oneof![Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000),
                             (0u32..1_000_000).prop_map(|n| n * 1000), 0u32..2_000_000_000],
    ) {
        let Some(t) = chrono::DateTime::from_timestamp(secs, nanos) else { return Ok(()) };
        let ours = Timestamp(t).to_string();
        prop_assert_eq!(&ours, &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        prop_assert_eq!(serde_json::to_string(&Timestamp(t)).unwrap(), format!("{ours:?}"));
    }
}

/// `v` laid out as `Event::to_json` writes events (`id`, `at`, `type`
/// first, then the other members in order), with `extra` appended as one
/// more member when given.
fn canonical_layout(v: &Value, extra: Option<(&str, &Value)>) -> Option<String> {
    let m = v.as_object()?;
    let member = |k: &str, val: &Value| format!("{}:{}", Value::from(k), val);
    let mut parts: Vec<String> = Vec::new();
    for k in ["id", "at", "type"] {
        parts.push(member(k, m.get(k)?));
    }
    for (k, val) in m {
        if !matches!(k.as_str(), "id" | "at" | "type") {
            parts.push(member(k, val));
        }
    }
    if let Some((k, val)) = extra {
        parts.push(member(k, val));
    }
    Some(format!("{{{}}}", parts.join(",")))
}

/// The fast parser accepts only what the checked one accepts, and gives
/// the same event.
fn same_verdict(text: &str) -> Result<(), TestCaseError> {
    match (Event::from_json_fast(text), Event::from_json_checked(text)) {
        (Some(fast), Ok(checked)) => prop_assert_eq!(fast, checked),
        (Some(fast), Err(e)) => {
            prop_assert!(false, "fast path accepted {text} as {fast:?}; checked: {e}")
        }
        (None, _) => {}
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        match (
            Event::from_value_fast(&v),
            Event::from_value_checked(v.clone()),
        ) {
            (Some(fast), Ok(checked)) => prop_assert_eq!(fast, checked),
            (Some(fast), Err(e)) => {
                prop_assert!(false, "fast path accepted {v} as {fast:?}; checked: {e}")
            }
            (None, _) => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_event_round_trips(e in event()) {
        let json = e.to_json();
        let back = Event::from_json(&json).unwrap();
        prop_assert_eq!(&back, &e);
        // Canonical events take the fast path.
        prop_assert_eq!(Event::from_json_fast(&json), Some(e.clone()));
        let v: Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(Event::from_value_fast(&v), Some(e.clone()));
        // And through serde's own Deserialize, which shares the parser.
        let back2: Event = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back2, &e);
        // The tag is the documented snake_case name.
        let v: Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(v["type"].as_str().unwrap(), e.kind.type_name());
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        same_verdict(&s)?;
        if let Err(err) = Event::from_json(&s) {
            prop_assert!(!err.field.is_empty());
            prop_assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn mangled_events_are_refused_with_a_field(e in event(), how in 0u8..4, pick in 0usize..64, j in junk()) {
        let mut v: Value = serde_json::from_str(&e.to_json()).unwrap();
        mangle(&mut v, how, pick, &j);
        same_verdict(&v.to_string())?;
        // Laid out as our writers lay events out, the mangled body meets
        // the canonical fast path too.
        if let Some(text) = canonical_layout(&v, None) {
            same_verdict(&text)?;
        }
        // A body repeating a member (the last one wins on the checked
        // path) or an envelope key.
        let key = ["headcount", "worker_id", "id", "type", "at", "match_id"][pick % 6];
        if let Some(text) = canonical_layout(&v, Some((key, &j))) {
            same_verdict(&text)?;
        }
        match Event::from_value(v.clone()) {
            Err(err) => {
                prop_assert!(!err.field.is_empty(), "{err}");
                prop_assert!(!err.message.is_empty());
            }
            // Replacing an optional field by null, or a value by an equally
            // valid one, may still give a valid event; it must then round-trip.
            Ok(back) => {
                prop_assert!(how % 4 == 1 || how % 4 == 0, "{} accepted: {}", how, v);
                prop_assert_eq!(Event::from_json(&back.to_json()).unwrap(), back);
            }
        }
    }
}

/// The canonical fast path applies the rules beyond the fields' own types
/// (here: a skill required twice), as the other paths do.
#[test]
fn the_canonical_path_applies_the_event_rules() {
    let text = r#"{"id":"e-1","at":"2026-04-01T08:00:00Z","type":"shortage_posted","gap_id":"g-1","enterprise_id":"ent-1","region":"620100","site":{"lat":36.06,"lon":103.83},"requirements":[{"skill":"forklift","min_level":2},{"skill":"forklift","min_level":3}],"certificates":[],"headcount":2,"window":{"start":"2026-04-01","end":"2026-04-30"},"hourly_wage_fen":3000}"#;
    assert!(Event::from_json_fast(text).is_none());
    let err = Event::from_json(text).unwrap_err();
    assert!(err.field.starts_with("requirements"), "{err}");
    let ok = text.replace(r#",{"skill":"forklift","min_level":3}"#, "");
    let checked = Event::from_json_checked(&ok).unwrap();
    assert_eq!(Event::from_json_fast(&ok), Some(checked));
}

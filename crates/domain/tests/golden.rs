//! Golden files of hand-written events: every type parses and round-trips,
//! every invalid case names the expected field, and every eligibility rule
//! has a named passing and failing case.

use lendwork_domain::{check, Event, EventKind, Window, EVENT_TYPES};
use serde_json::{Map, Value};

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn every_event_type_parses_and_round_trips() {
    let mut seen = std::collections::BTreeSet::new();
    for (i, line) in golden("events.jsonl").lines().enumerate() {
        let event = Event::from_json(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        assert_eq!(
            Event::from_json_fast(line).as_ref(),
            Some(&event),
            "line {}: the fast path agrees",
            i + 1
        );
        seen.insert(event.kind.type_name());
        let again = Event::from_json(&event.to_json()).unwrap();
        assert_eq!(event, again, "line {}", i + 1);
        // The documented JSON and ours agree field by field (times in UTC).
        let ours: Value = serde_json::from_str(&event.to_json()).unwrap();
        let theirs: Value = serde_json::from_str(line).unwrap();
        for (k, v) in theirs.as_object().unwrap() {
            if k == "at" || v.is_null() {
                continue;
            }
            let ours_v = &ours[k];
            let same = match (v.as_f64(), ours_v.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => normalise(v) == normalise(ours_v),
            };
            assert!(same, "line {}: field {k}: {v} vs {ours_v}", i + 1);
        }
    }
    assert_eq!(
        seen.len(),
        EVENT_TYPES.len(),
        "golden file covers every type: {seen:?}"
    );
}

fn normalise(v: &Value) -> Value {
    // 5 and 5.0 are the same number on the wire.
    match v {
        Value::Number(n) => Value::from(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn every_invalid_case_names_its_field() {
    let mut n = 0;
    for line in golden("invalid.jsonl").lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = case["case"].as_str().unwrap();
        let text = case["line"].as_str().unwrap();
        assert!(
            Event::from_json_fast(text).is_none(),
            "case {name:?}: the fast path refuses it too"
        );
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            assert!(Event::from_value_fast(&v).is_none(), "case {name:?}");
        }
        let err = Event::from_json(text).expect_err(&format!("case {name:?} must be refused"));
        assert_eq!(
            err.field,
            case["field"].as_str().unwrap(),
            "case {name:?}: {err}"
        );
        assert!(!err.message.is_empty());
        n += 1;
    }
    assert!(n >= 25);
}

fn patched(base: &Value, patch: Option<&Value>) -> Event {
    let mut obj: Map<String, Value> = base.as_object().unwrap().clone();
    if let Some(Value::Object(p)) = patch {
        for (k, v) in p {
            if v.is_null() {
                obj.remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    Event::from_value(Value::Object(obj)).unwrap()
}

#[test]
fn every_eligibility_rule_has_named_cases() {
    let text = golden("eligibility.jsonl");
    let mut lines = text.lines();
    let base: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let mut failing = std::collections::BTreeSet::new();
    for line in lines {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = case["case"].as_str().unwrap();
        let EventKind::WorkerOffered(w) = patched(&base["base_worker"], case.get("worker")).kind
        else {
            panic!()
        };
        let EventKind::ShortagePosted(g) = patched(&base["base_gap"], case.get("gap")).kind else {
            panic!()
        };
        let busy: Vec<Window> = case
            .get("busy")
            .map(|b| serde_json::from_value(b.clone()).unwrap())
            .unwrap_or_default();
        let got = match check(&w, &g, &busy) {
            Ok(()) => "pass".to_owned(),
            Err(rule) => {
                failing.insert(rule);
                rule.slug().to_owned()
            }
        };
        assert_eq!(got, case["expect"].as_str().unwrap(), "case {name:?}");
    }
    assert_eq!(failing.len(), 9, "every rule has a failing case");
}

//! The `lendwork` binary end to end: exit codes, messages and outputs.

use std::path::PathBuf;
use std::process::{Command, Output};

fn lendwork(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lendwork"))
        .args(args)
        .output()
        .expect("runs")
}

fn tmp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lendwork-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn validate_exits_2_and_names_file_line_and_field() {
    let good = r#"{"type":"match_expired","id":"e1","at":"2026-03-01T08:00:00Z","match_id":"m"}"#;
    let bad =
        r#"{"type":"match_expired","id":"e2","at":"2026-03-01T08:00:00Z","match_id":"m","x":1}"#;
    let f = tmp("events.jsonl", &format!("{good}\n{bad}\n"));
    let out = lendwork(&["validate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("{}:2: x: unknown field", f.display())),
        "{err}"
    );

    let f = tmp("ok.jsonl", &format!("{good}\n"));
    assert_eq!(
        lendwork(&["validate", f.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(
        lendwork(&["validate", "/no/such/file"]).status.code(),
        Some(1)
    );
}

#[test]
fn simulate_is_deterministic_and_valid() {
    let a = lendwork(&[
        "simulate",
        "--workers",
        "300",
        "--gaps",
        "40",
        "--seed",
        "9",
    ]);
    let b = lendwork(&[
        "simulate",
        "--workers",
        "300",
        "--gaps",
        "40",
        "--seed",
        "9",
    ]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let f = tmp("sim.jsonl", std::str::from_utf8(&a.stdout).unwrap());
    assert!(lendwork(&["validate", f.to_str().unwrap()])
        .status
        .success());
    assert_eq!(
        lendwork(&["simulate", "--regions", "0"]).status.code(),
        Some(1)
    );
    assert_eq!(
        lendwork(&["simulate", "--workers", "x"]).status.code(),
        Some(2),
        "clap usage error"
    );
}

#[test]
fn solve_prints_json_and_writes_the_solution() {
    let f = tmp(
        "p.min",
        "c tiny\np min 3 3\nn 1 4\nn 3 -4\na 1 2 0 3 1\na 2 3 0 3 1\na 1 3 0 4 5\n",
    );
    let sol = f.with_extension("sol");
    let out = lendwork(&[
        "solve",
        f.to_str().unwrap(),
        "--solution",
        sol.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        r#"{"status":"optimal","cost":11,"flow":4}"#
    );
    let s = std::fs::read_to_string(&sol).unwrap();
    assert_eq!(s, "s 11\nf 1 2 3\nf 2 3 3\nf 1 3 1\n");

    let f = tmp("inf.min", "p min 2 1\nn 1 2\nn 2 -2\na 1 2 0 1 0\n");
    let out = lendwork(&["solve", f.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains(r#""status":"infeasible""#));
}

#[test]
fn solve_refuses_bad_input_with_file_and_line() {
    let f = tmp("bad.min", "p min 2 1\nn 1 1\na 1 9 0 1 1\n");
    let out = lendwork(&["solve", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("{}:3: head node 9 is outside 1..=2", f.display())),
        "{err}"
    );
}

#[test]
fn gen_market_instances_solve_on_the_bipartite_path() {
    let dir = std::env::temp_dir().join(format!("lendwork-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("m.min");
    let out = lendwork(&[
        "solve",
        "--gen-market",
        "--workers",
        "2000",
        "--seed",
        "3",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lendwork(&["solve", f.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("bipartite path"));
    // The same instance through the general path gives the same optimum.
    let net =
        lendwork_flow::dimacs::read(std::io::BufReader::new(std::fs::File::open(&f).unwrap()))
            .unwrap();
    let general = lendwork_flow::simplex::solve(&net).cost().unwrap();
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.contains(&format!(r#""cost":{general},"#)),
        "{json} vs {general}"
    );
}

#[test]
fn match_reports_one_optimal_round_and_refuses_bad_files_whole() {
    let sim = lendwork(&[
        "simulate",
        "--workers",
        "400",
        "--gaps",
        "60",
        "--seed",
        "4",
    ]);
    let f = tmp("market.jsonl", std::str::from_utf8(&sim.stdout).unwrap());
    let out = lendwork(&["match", "--events", f.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let matches = doc["matches"].as_array().unwrap();
    assert_eq!(doc["filled"].as_u64().unwrap() as usize, matches.len());
    assert!(!matches.is_empty());
    let total: u64 = matches.iter().map(|m| m["cost"].as_u64().unwrap()).sum();
    assert_eq!(doc["total_cost"].as_u64().unwrap(), total);
    for m in matches {
        let terms: u64 = m["explanation"]["terms"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(terms, m["cost"].as_u64().unwrap());
        assert_eq!(
            m["explanation"]["rules_passed"].as_array().unwrap().len(),
            10
        );
    }
    // Same file, same bytes.
    let again = lendwork(&["match", "--events", f.to_str().unwrap()]);
    assert_eq!(out.stdout, again.stdout);

    // One bad line anywhere: errors as validate reports them, nothing matched.
    let mut text = String::from_utf8(sim.stdout).unwrap();
    text.push_str("{\"type\":\"worker_withdrawn\",\"id\":\"bad id\",\"at\":\"2026-03-01T00:00:00Z\",\"worker_id\":\"w\",\"reason\":\"\"}\n");
    let f = tmp("bad-market.jsonl", &text);
    let out = lendwork(&["match", "--events", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing matched");
    let err = String::from_utf8(out.stderr).unwrap();
    let n = text.lines().count();
    assert!(err.contains(&format!("{}:{n}: id: ", f.display())), "{err}");
}

/// `lendwork ledger` on a simulated log with work and pay finds exactly
/// the breaches the simulator planted, on the assignments that ran.
#[test]
fn ledger_finds_exactly_the_planted_breaches() {
    let cfg = lendwork_sim::SimConfig {
        regions: 2,
        workers: 3000,
        gaps: 600,
        seed: 5,
        ..Default::default()
    };
    let (events, planted) = lendwork_sim::events_with_breaches(&cfg);
    let text: String = events.iter().map(|e| e.to_json() + "\n").collect();
    let f = tmp("work.jsonl", &text);
    let out = lendwork(&[
        "ledger",
        "--events",
        f.to_str().unwrap(),
        "--as-of",
        "2030-01-01T00:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["assignments"].as_array().unwrap();
    let ran: std::collections::BTreeSet<String> = rows
        .iter()
        .map(|r| r["match_id"].as_str().unwrap().to_owned())
        .collect();
    let found: std::collections::BTreeSet<(String, String, Vec<String>)> = rows
        .iter()
        .filter(|r| !r["flags"].as_array().unwrap().is_empty())
        .map(|r| {
            (
                r["match_id"].as_str().unwrap().to_owned(),
                r["period"]["start"].as_str().unwrap().to_owned(),
                r["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let want: std::collections::BTreeSet<(String, String, Vec<String>)> = planted
        .iter()
        .filter(|p| ran.contains(p.match_id.as_str()))
        .map(|p| {
            (
                p.match_id.to_string(),
                p.period_start.to_string(),
                p.flags.iter().map(|f| (*f).to_owned()).collect(),
            )
        })
        .collect();
    assert!(
        want.len() >= 10,
        "enough breaches planted on assignments that ran: {}",
        want.len()
    );
    assert!(
        want.len() * 5 >= planted.len() * 4,
        "most planted breaches are on assignments that ran: {} of {}",
        want.len(),
        planted.len()
    );
    assert_eq!(found, want, "the ledger finds exactly the planted breaches");
    // The CSV has the same lines.
    let csv = lendwork(&[
        "ledger",
        "--events",
        f.to_str().unwrap(),
        "--format",
        "csv",
        "--as-of",
        "2030-01-01T00:00:00Z",
    ]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert_eq!(text.lines().count(), rows.len() + 1);
}

//! Parsing one event on each path: as our writers lay it out (the
//! canonical one-pass path), in the documented layout with `type` first
//! (members split, then each deserialized), and the path-tracking
//! checked parser that explains refusals.
//!
//! ```text
//! cargo bench -p lendwork-domain --bench parse
//! ```

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lendwork_domain::Event;

fn parse(c: &mut Criterion) {
    let golden = include_str!("../tests/golden/events.jsonl");
    for ty in ["worker_offered", "shortage_posted", "match_proposed"] {
        let documented = golden
            .lines()
            .find(|l| l.contains(&format!(r#""type":"{ty}""#)))
            .expect("a golden event of each type");
        let canonical = Event::from_json(documented).expect("valid").to_json();
        let mut g = c.benchmark_group(ty);
        g.bench_function("as written by Lendwork (one pass)", |b| {
            b.iter(|| Event::from_json_fast(black_box(&canonical)).expect("valid"))
        });
        g.bench_function("type first (members split)", |b| {
            b.iter(|| Event::from_json_fast(black_box(documented)).expect("valid"))
        });
        g.bench_function("checked (path-tracking)", |b| {
            b.iter(|| Event::from_json_checked(black_box(documented)).expect("valid"))
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);

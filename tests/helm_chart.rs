//! The Helm chart, offline: `helm/check.py` lints it with the Helm library
//! (PyPI `helm-python-sdk`), checks every values file against
//! `values.schema.json` (and that a typo is refused), renders each, and
//! validates every manifest against the Kubernetes schemas (PyPI
//! `kubernetes-validate`), and the `lendwork.toml` each rendering carries
//! is loaded by Lendwork's own configuration loader. `scripts/test-infra`
//! installs both.

use std::process::Command;

use lendwork_ports::contract::test_infra;

#[test]
fn the_chart_lints_renders_and_validates() {
    let python = test_infra("LENDWORK_PYTHON");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helm/check.py");
    let configs = std::env::temp_dir().join(format!("lendwork-chart-{}", std::process::id()));
    std::fs::create_dir_all(&configs).unwrap();
    let out = Command::new(python)
        .arg(script)
        .env("LENDWORK_CHART_OUT", &configs)
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("helm lint --strict"), "{text}");
    assert!(text.contains("typo-values.yaml refused"), "{text}");
    // Every rendered configuration is one Lendwork accepts, with the
    // values the chart was given.
    let load = |name: &str| {
        let path = configs.join(format!("{name}.toml"));
        lendwork::config::Config::load(Some(&path), std::iter::empty())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let defaults = load("defaults");
    assert_eq!(defaults.matcher.snapshot_every, 50_000);
    assert_eq!(defaults.engine.dedupe_window_secs, 7 * 24 * 3600);
    assert_eq!(load("no-snapshots-values").matcher.snapshot_every, 0);
    let sasl = load("sasl-values");
    assert_eq!(
        sasl.kafka.client.get("sasl.mechanisms").map(String::as_str),
        Some("SCRAM-SHA-512")
    );
    std::fs::remove_dir_all(&configs).unwrap();
}

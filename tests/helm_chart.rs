//! The Helm chart, offline: `helm/check.py` lints it with the Helm library
//! (PyPI `helm-python-sdk`), checks every values file against
//! `values.schema.json` (and that a typo is refused), renders each, and
//! validates every manifest against the Kubernetes schemas (PyPI
//! `kubernetes-validate`). `scripts/test-infra` installs both.

use std::process::Command;

use lendwork_ports::contract::test_infra;

#[test]
fn the_chart_lints_renders_and_validates() {
    let python = test_infra("LENDWORK_PYTHON");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helm/check.py");
    let out = Command::new(python)
        .arg(script)
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
}

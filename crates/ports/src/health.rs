//! What a running component reports to the health endpoints
//! (`/readyz`, `/metrics`), whichever service serves them: the gateway's
//! router and the matcher's health server read the same [`Probe`].

/// A component's readiness and counters.
pub trait Probe: Send + Sync {
    /// Ready to do work.
    fn ready(&self) -> bool;
    /// The named checks behind [`Probe::ready`] (for `/readyz`'s body).
    fn checks(&self) -> Vec<(&'static str, bool)>;
    /// The counters in Prometheus' text format.
    fn metrics(&self) -> String;
}

/// Appends one metric in Prometheus' text format (`kind`: `counter` or
/// `gauge`).
pub fn prometheus(
    out: &mut String,
    kind: &str,
    name: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

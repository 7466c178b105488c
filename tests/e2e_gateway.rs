//! `lendwork serve --demo` as a real process, met from outside:
//!
//! * schemathesis (PyPI) reads `/openapi.json` and fuzzes every operation
//!   as an enterprise, an agency and an operator: no response may be a
//!   server error;
//! * Debian's headless Chromium (driven by playwright-core,
//!   `tests/browser/dashboard.mjs`) opens the dashboard, sees the counters
//!   move, a chart render and the language switch, and saves a screenshot
//!   to `target/test-infra/dashboard.png`.
//!
//! Both tools are installed by `scripts/test-infra`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use lendwork_ports::contract::test_infra;
use support::free_port;

struct Serve {
    child: Child,
    port: u16,
    tokens: Vec<(String, String)>,
}

impl Serve {
    fn start() -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lendwork"))
            .args([
                "serve",
                "--demo",
                "--demo-rate",
                "300",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lendwork serve starts");
        let mut tokens = Vec::new();
        let out = BufReader::new(child.stdout.take().unwrap());
        for line in out.lines() {
            let line = line.unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() == 5 && f[0] == "demo" && f[1] == "token" {
                tokens.push((f[2].to_owned(), f[4].to_owned()));
            }
            if tokens.len() == 3 {
                break;
            }
        }
        assert_eq!(tokens.len(), 3, "serve --demo prints three demo tokens");
        Self {
            child,
            port,
            tokens,
        }
    }
    fn token(&self, role: &str) -> &str {
        &self.tokens.iter().find(|(r, _)| r == role).unwrap().1
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn schemathesis_finds_no_server_error() {
    let s = Serve::start();
    let st = test_infra("LENDWORK_SCHEMATHESIS");
    for role in ["enterprise", "agency", "operator"] {
        let out = Command::new(&st)
            .args([
                "run",
                &format!("http://127.0.0.1:{}/openapi.json", s.port),
                "--checks",
                "not_a_server_error",
                "--header",
                &format!("Authorization: Bearer {}", s.token(role)),
                "--max-examples",
                "25",
                "--exclude-path",
                "/v1/feed",
                "--seed",
                "1",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {role}: {}\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("passed"), "{text}");
    }
}

#[test]
fn the_dashboard_moves_in_headless_chromium() {
    let s = Serve::start();
    let dir = test_infra("LENDWORK_BROWSER_DIR");
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-infra/dashboard.png");
    let out = Command::new("node")
        .arg("dashboard.mjs")
        .arg(format!(
            "http://127.0.0.1:{}/dashboard?token={}",
            s.port,
            s.token("operator")
        ))
        .arg(&shot)
        .current_dir(dir)
        .env("CHROMIUM", test_infra("LENDWORK_CHROMIUM"))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("proposals_later"), "{report}");
    assert!(shot.exists(), "a screenshot was saved");
}

//! The portal walked in a real browser: `lendwork serve` on its embedded
//! default (a data directory), and Debian's headless Chromium driven by
//! playwright-core (`tests/browser/portal.mjs`) through every role — the
//! public board, a borrower posting through the form, an agency importing
//! a 500-row XLSX roster (one bad row refused with its row named, then the
//! fixed file previewed and imported), the borrower accepting, the worker
//! on a phone-sized screen accepting and signing through their link, the
//! borrower signing and starting — with axe-core on every page.
//! Screenshots go to `target/test-infra/portal-*.png`; the pages' weight
//! and first paint are printed (`portal|…` lines).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lendwork_ports::contract::test_infra;
use support::{free_port, http_get, wait_for};

const BORROWER: &str = "portal-walk-borrower-token-1";
const AGENCY: &str = "portal-walk-agency-token-0002";

fn day(n: i64) -> lendwork_domain::Date {
    lendwork_gateway::now_timestamp().market_date().plus_days(n)
}

/// A 500-row roster of forklift drivers living near Lanzhou's centre, with
/// English headers, Excel dates and numbers; row `bad` (the header being
/// row 1) names a skill no one has heard of.
fn roster(path: &Path, bad: Option<u32>) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let heads = [
        "worker_id",
        "region",
        "home_lat",
        "home_lon",
        "skills",
        "available_start",
        "available_end",
        "max_commute_km",
        "min_hourly_wage_fen",
        "consent",
        "priority_group",
        "display_name",
    ];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let excel = |d: lendwork_domain::Date| ExcelDateTime::parse_from_str(&d.to_string()).unwrap();
    for i in 0..500u32 {
        let r = i + 1;
        ws.write_string(r, 0, format!("walk-{i:03}")).unwrap();
        ws.write_string(r, 1, "620100").unwrap();
        ws.write_number(r, 2, 36.06 + f64::from(i % 20) / 1000.0)
            .unwrap();
        ws.write_number(r, 3, 103.83).unwrap();
        let skill = if Some(r + 1) == bad {
            "叉车司傅:3"
        } else {
            "叉车:3"
        };
        ws.write_string(r, 4, skill).unwrap();
        ws.write_datetime_with_format(r, 5, excel(day(-5)), &date)
            .unwrap();
        ws.write_datetime_with_format(r, 6, excel(day(200)), &date)
            .unwrap();
        ws.write_number(r, 7, 30).unwrap();
        ws.write_number(r, 8, 2000).unwrap();
        ws.write_string(r, 9, "是").unwrap();
        ws.write_string(r, 10, if i % 3 == 0 { "高校毕业生" } else { "" })
            .unwrap();
        ws.write_string(r, 11, format!("工人{i:03}")).unwrap();
    }
    wb.save(path).unwrap();
}

#[test]
fn every_role_walks_the_portal_in_headless_chromium() {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-infra");
    std::fs::create_dir_all(&out).unwrap();
    let data = out.join(format!("portal-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (bad, good) = (out.join("roster-bad.xlsx"), out.join("roster-good.xlsx"));
    roster(&bad, Some(7));
    roster(&good, None);
    let port = free_port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_lendwork"))
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env(
            "LENDWORK_GATEWAY_TOKENS",
            format!("enterprise:ent-walk:{BORROWER};agency:agency-walk:{AGENCY}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("lendwork serve starts");
    wait_for("serve", Duration::from_secs(30), || {
        http_get(port, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    let run = Command::new("node")
        .arg("portal.mjs")
        .arg(format!("http://127.0.0.1:{port}"))
        .args([BORROWER, AGENCY])
        .args([&bad, &good, &out])
        .current_dir(test_infra("LENDWORK_BROWSER_DIR"))
        .env("CHROMIUM", test_infra("LENDWORK_CHROMIUM"))
        .output()
        .expect("node runs");
    let _ = serve.kill();
    let _ = serve.wait();
    let _ = std::fs::remove_dir_all(&data);
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(report.trim()).expect("a JSON report");
    for p in v["pages"].as_array().unwrap() {
        println!(
            "portal|{}|{} bytes|first paint {} ms|{}",
            p["name"].as_str().unwrap(),
            p["bytes"],
            p["first_paint_ms"],
            p["violations"]
        );
    }
    assert!(out.join("portal-worker-phone.png").exists());
    assert!(out.join("portal-started.png").exists());
}

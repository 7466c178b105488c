//! A roster imported from a spreadsheet, as an agency's clerk does it:
//! 500 rows in CSV (Chinese headers) and in XLSX (English headers, real
//! Excel dates and numbers), one bad row refused with its row and column
//! named and nothing applied, fixed and imported; a preview that applies
//! nothing; and every bad request refused by name.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::Value;
use tower::ServiceExt;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn send(
    app: &axum::Router,
    path: &str,
    token: &str,
    ctype: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ctype)
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn listed(app: &axum::Router, token: &str) -> usize {
    let mut n = 0;
    let mut path = "/v1/workers?limit=500".to_owned();
    loop {
        let (_, v) = call(app, "GET", &path, Some(token), "").await;
        n += v["workers"].as_array().map_or(0, Vec::len);
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/workers?limit=500&cursor={c}"),
            None => return n,
        }
    }
}

async fn until_listed(app: &axum::Router, token: &str, n: usize) {
    until("listed", || {
        let app = app.clone();
        async move { (listed(&app, token).await == n).then_some(Value::Null) }
    })
    .await;
}

/// 500 rows with Chinese headers; row `bad` (file row, header = 1) has
/// the skill `叉车司傅`.
fn roster_csv(prefix: &str, bad: Option<usize>) -> Vec<u8> {
    let mut s = String::from("\u{feff}人员编号,地区,住址纬度,住址经度,技能,证书,可工作开始日期,可工作结束日期,最远通勤公里数,最低时薪（分）,本人同意,重点群体,姓名\n");
    for i in 0..500 {
        let skill = if Some(i + 2) == bad {
            "叉车司傅:2"
        } else {
            "叉车:3;理货员:2"
        };
        s.push_str(&format!(
            "{prefix}-{i:03},兰州市,36.{i:03},103.8,{skill},叉车证,{},{},25,2200,是,农民工,工人{i}\n",
            day(-5),
            day(200)
        ));
    }
    s.into_bytes()
}

fn roster_xlsx(prefix: &str, bad: Option<usize>) -> Vec<u8> {
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
        "display_name",
    ];
    for (c, h) in heads.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let excel_date = |s: String| ExcelDateTime::parse_from_str(&s).unwrap();
    for i in 0..500u32 {
        let r = i + 1;
        ws.write_string(r, 0, format!("{prefix}-{i:03}")).unwrap();
        ws.write_string(r, 1, "620100").unwrap();
        ws.write_number(r, 2, 36.0 + f64::from(i) / 1000.0).unwrap();
        ws.write_number(r, 3, 103.8).unwrap();
        ws.write_string(r, 4, "forklift:3").unwrap();
        ws.write_datetime_with_format(r, 5, excel_date(day(-5)), &date_fmt)
            .unwrap();
        ws.write_datetime_with_format(r, 6, excel_date(day(200)), &date_fmt)
            .unwrap();
        ws.write_number(r, 7, 25).unwrap();
        if Some(r as usize + 1) == bad {
            ws.write_string(r, 8, "two thousand").unwrap();
        } else {
            ws.write_number(r, 8, 2200).unwrap();
        }
        ws.write_boolean(r, 9, true).unwrap();
        ws.write_string(r, 10, format!("Worker {i}")).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[tokio::test]
async fn a_csv_roster_with_one_bad_row_imports_nothing_then_all_once_fixed() {
    let app = app().await;
    let (s, v) = send(
        &app,
        "/v1/workers/import",
        AGENCY,
        "text/csv",
        roster_csv("c", Some(7)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let rows = v["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["row"], 7);
    assert_eq!(rows[0]["column"], "技能");
    assert!(
        rows[0]["zh"]
            .as_str()
            .unwrap()
            .starts_with("第 7 行，技能："),
        "{v}"
    );
    assert!(
        rows[0]["zh"].as_str().unwrap().contains("是否指：叉车司机"),
        "{v}"
    );
    assert!(
        rows[0]["en"]
            .as_str()
            .unwrap()
            .starts_with("row 7, skills: unknown skill"),
        "{v}"
    );
    assert!(
        rows[0]["en"]
            .as_str()
            .unwrap()
            .contains("did you mean Forklift driver (forklift)"),
        "{v}"
    );
    // A preview of the fixed roster applies nothing.
    let (s, v) = send(
        &app,
        "/v1/workers/import?dry_run=true",
        AGENCY,
        "text/csv",
        roster_csv("c", None),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["rows"], 500);
    assert_eq!(v["workers"][0]["skills"][0]["skill"], "forklift");
    assert_eq!(v["workers"][0]["priority_group"], "migrant_worker");
    assert_eq!(v["workers"][0]["region"], "620100");
    assert_eq!(
        listed(&app, AGENCY).await,
        0,
        "nothing applied by a refusal or a preview"
    );
    let (s, v) = send(
        &app,
        "/v1/workers/import",
        AGENCY,
        "text/csv",
        roster_csv("c", None),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["event_ids"].as_array().unwrap().len(), 500);
    until_listed(&app, AGENCY, 500).await;
    // Another agency cannot import the same ids.
    let (s, v) = send(
        &app,
        "/v1/workers/import",
        AGENCY_Y,
        "text/csv",
        roster_csv("c", None),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["rows"][0]["en"]
        .as_str()
        .unwrap()
        .contains("belongs to someone else"));
    assert_eq!(listed(&app, AGENCY_Y).await, 0);
}

#[tokio::test]
async fn an_xlsx_roster_with_excel_dates_is_read_and_its_bad_row_named() {
    let app = app().await;
    let (s, v) = send(
        &app,
        "/v1/workers/import",
        ENT_A,
        XLSX,
        roster_xlsx("x", Some(300)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let rows = v["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(
        rows[0]["en"].as_str().unwrap().split(':').next().unwrap(),
        "row 300, min_hourly_wage_fen"
    );
    let (s, v) = send(
        &app,
        "/v1/workers/import?dry_run=true",
        ENT_A,
        XLSX,
        roster_xlsx("x", None),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["workers"][0]["available"]["start"], day(-5));
    assert_eq!(
        v["workers"][0]["employer_id"], "ent-a",
        "an enterprise's roster is its employees"
    );
    let (s, _) = send(
        &app,
        "/v1/workers/import",
        ENT_A,
        XLSX,
        roster_xlsx("x", None),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    until_listed(&app, ENT_A, 500).await;
}

#[tokio::test]
async fn bad_import_requests_are_refused_by_name() {
    let app = app().await;
    let ok = roster_csv("b", None);
    let (s, v) = send(
        &app,
        "/v1/workers/import",
        AGENCY,
        "application/json",
        ok.clone(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type".into())
    );
    let (s, v) = send(
        &app,
        "/v1/workers/import?dry_run=maybe",
        AGENCY,
        "text/csv",
        ok.clone(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "dry_run".into())
    );
    let (s, _) = send(&app, "/v1/workers/import", OPERATOR, "text/csv", ok.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (body, want) in [
        (b"".to_vec(), "empty"),
        (b"\xff\xfe\x00".to_vec(), "UTF-8"),
        (
            "worker_id,region\nw,620100\n".as_bytes().to_vec(),
            "missing required column",
        ),
        (b"PK\x03\x04 not a workbook".to_vec(), "unreadable"),
    ] {
        let ctype = if body.starts_with(b"PK") {
            XLSX
        } else {
            "text/csv"
        };
        let (s, v) = send(&app, "/v1/workers/import", AGENCY, ctype, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(
            v["error"]["rows"][0]["en"].as_str().unwrap().contains(want),
            "{want}: {v}"
        );
    }
    // A formula planted in a name cell.
    let mut text = String::from_utf8(ok).unwrap();
    text = text.replacen("工人3\n", "=HYPERLINK(\"http://x\",\"点我\")\n", 1);
    let (s, v) = send(
        &app,
        "/v1/workers/import",
        AGENCY,
        "text/csv",
        text.into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["rows"][0]["row"], 5);
    assert_eq!(v["error"]["rows"][0]["column"], "姓名");
    // The template reads back.
    let ((s, _), h) = call_h(
        &app,
        "GET",
        "/v1/workers/import/template?lang=en",
        None,
        "",
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .contains("roster-en.csv"));
    let (s, v) = call(&app, "GET", "/v1/workers/import/template?lang=fr", None, "").await;
    assert_eq!(
        (s, v["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "lang".into())
    );
}

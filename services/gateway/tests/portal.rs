//! The portal as its users meet it, in-process: sign-in for a session
//! cookie (never a token in a URL), CSRF on every form, one tenant's
//! session blind to another's pages, a shortage posted through the form,
//! its proposals accepted, a roster uploaded and previewed before it is
//! imported; the public board without sign-in and without a worker's or
//! an enterprise's identity; the why-not answers.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

async fn req(
    app: &axum::Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    ctype: Option<&str>,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    if let Some(t) = ctype {
        r = r.header("content-type", t);
    }
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(r.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let b = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&b).into_owned(),
    }
}

async fn get(app: &axum::Router, path: &str, cookie: Option<&str>) -> Reply {
    req(app, "GET", path, cookie, None, Vec::new(), &[]).await
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&enc(k));
        s.push('=');
        s.push_str(&enc(v));
    }
    s.into_bytes()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn post_form(app: &axum::Router, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Reply {
    req(
        app,
        "POST",
        path,
        Some(cookie),
        Some("application/x-www-form-urlencoded"),
        form(pairs),
        &[],
    )
    .await
}

/// Signs in with `token`: the session cookie and the page's CSRF token.
async fn sign_in(app: &axum::Router, token: &str) -> (String, String) {
    let r = req(
        app,
        "POST",
        "/portal/signin",
        None,
        Some("application/x-www-form-urlencoded"),
        form(&[("token", token)]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let set = r.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"),
        "{set}"
    );
    assert!(!r.headers["location"].to_str().unwrap().contains(token));
    let cookie = set.split(';').next().unwrap().to_owned();
    let home = get(app, "/portal", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    (cookie, csrf_of(&home.text))
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..at + 32].to_owned()
}

#[tokio::test]
async fn sign_in_gives_a_strict_http_only_cookie_and_a_wrong_token_a_message() {
    let app = app().await;
    let r = req(
        &app,
        "POST",
        "/portal/signin",
        None,
        Some("application/x-www-form-urlencoded"),
        form(&[("token", "not-a-real-token-at-all")]),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.text.contains("令牌无效") && r.text.contains("Unknown token"),
        "{}",
        r.text
    );
    // Behind TLS the cookie is Secure.
    let r = req(
        &app,
        "POST",
        "/portal/signin",
        None,
        Some("application/x-www-form-urlencoded"),
        form(&[("token", ENT_A)]),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));
    // Pages need a session; a forged cookie is no session.
    let r = get(&app, "/portal/shortages", None).await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal/signin")
    );
    let r = get(
        &app,
        "/portal/shortages",
        Some(&format!("lw_session={}", "a".repeat(64))),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Sign-out needs the form's token and ends the session.
    let (cookie, csrf) = sign_in(&app, ENT_A).await;
    let r = post_form(
        &app,
        "/portal/signout",
        &cookie,
        &[("csrf", "0".repeat(32).as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_form(&app, "/portal/signout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = get(&app, "/portal/shortages", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the session is gone");
    // An agency's session is not a borrower's.
    let (cookie, _) = sign_in(&app, AGENCY).await;
    assert_eq!(
        get(&app, "/portal/shortages", Some(&cookie)).await.status,
        StatusCode::FORBIDDEN
    );
}

fn shortage_form<'a>(
    csrf: &'a str,
    title: &'a str,
    start: &'a str,
    end: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("form_key", "k1"),
        ("title", title),
        ("description", "装卸货物"),
        ("region", "620100"),
        ("industry", "logistics"),
        ("site_lat", "36.06"),
        ("site_lon", "103.83"),
        ("skill_1", "forklift"),
        ("level_1", "2"),
        ("skill_2", ""),
        ("level_2", "2"),
        ("skill_3", ""),
        ("level_3", "2"),
        ("headcount", "2"),
        ("hours_per_day", "8"),
        ("start", start),
        ("end", end),
        ("wage_yuan", "30.00"),
        ("gap_id", "g-portal-1"),
    ]
}

#[tokio::test]
async fn a_borrower_posts_through_the_form_and_accepts_a_proposal_and_other_tenants_see_nothing() {
    let app = app().await;
    let (s, v) = call(&app, "POST", "/v1/workers", Some(AGENCY), &{
        let mut w = worker("w-portal");
        w["display_name"] = json!("李四");
        w.to_string()
    })
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (cookie, csrf) = sign_in(&app, ENT_A).await;
    let (start, end) = (day(-10), day(0));
    // Without the CSRF token: refused, nothing posted.
    let mut f = shortage_form("", "叉车司机", &start, &end);
    let r = post_form(&app, "/portal/shortages", &cookie, &f).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A wage of 0 is the domain's refusal, shown by its field, in the form.
    f = shortage_form(&csrf, "叉车司机", &start, &end);
    f.retain(|(k, _)| *k != "wage_yuan");
    f.push(("wage_yuan", "0"));
    let r = post_form(&app, "/portal/shortages", &cookie, &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("时薪") && r.text.contains("more than 0 fen"),
        "{}",
        r.text
    );
    let (s, v) = call(&app, "GET", "/v1/shortages/g-portal-1", Some(ENT_A), "").await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "nothing of the refused form was posted: {v}"
    );
    // The form posts; the page shows the shortage and, soon, the proposal explained.
    let r = post_form(
        &app,
        "/portal/shortages",
        &cookie,
        &shortage_form(&csrf, "叉车司机", &start, &end),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers["location"],
        "/portal/shortages/g-portal-1?posted=1"
    );
    let page = until("the proposal on the page", || {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let r = get(&app, "/portal/shortages/g-portal-1", Some(&cookie)).await;
            r.text.contains("w-portal").then_some(Value::String(r.text))
        }
    })
    .await;
    let page = page.as_str().unwrap();
    assert!(
        page.contains("通勤约") && page.contains("重点群体优先"),
        "plain words: {page}"
    );
    assert!(
        page.contains("为什么推荐人选少于空缺"),
        "one worker for two positions: the why-not box"
    );
    let m = {
        let at = page.find("/portal/proposals/").unwrap() + 18;
        page[at..].split('/').next().unwrap().to_owned()
    };
    let (_, audit) = call(
        &app,
        "GET",
        &format!("/v1/proposals/{m}"),
        Some(OPERATOR),
        "",
    )
    .await;
    assert!(
        audit["status"].is_string() && !audit.to_string().contains("李四"),
        "the operator sees no name: {audit}"
    );
    // Accept through the page's form.
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/accept"),
        &cookie,
        &[("csrf", &csrf), ("back", "/portal/shortages/g-portal-1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers["location"],
        "/portal/shortages/g-portal-1?done=accept"
    );
    until("the acceptance in the view", || {
        let app = app.clone();
        let path = format!("/v1/proposals/{m}");
        async move {
            let (_, v) = call(&app, "GET", &path, Some(ENT_A), "").await;
            v["accepted"]
                .as_array()?
                .contains(&json!("borrower"))
                .then_some(Value::Null)
        }
    })
    .await;
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/accept"),
        &cookie,
        &[("csrf", &csrf), ("back", "https://evil.example/")],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "accepting twice is refused by the state machine"
    );
    // Another tenant: 404 on the shortage, the proposal and its agreement.
    let (other, other_csrf) = sign_in(&app, ENT_B).await;
    assert_eq!(
        get(&app, "/portal/shortages/g-portal-1", Some(&other))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(
            &app,
            &format!("/portal/proposals/{m}/agreement"),
            Some(&other)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/decline"),
        &other,
        &[("csrf", &other_csrf), ("back", "/portal")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = get(&app, "/portal/shortages", Some(&other)).await;
    assert!(!list.text.contains("g-portal-1"));
    // The agency sees the worker's proposal on its roster, with a link to send.
    let (agency, agency_csrf) = sign_in(&app, AGENCY).await;
    let roster = get(&app, "/portal/workers", Some(&agency)).await;
    assert!(
        roster.text.contains("李四") && roster.text.contains("worker-link"),
        "{}",
        roster.text
    );
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/worker-link"),
        &agency,
        &[("csrf", &agency_csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("/w/"), "{}", r.text);
    // Before any agreement the worker reads the post, the wage and why them.
    let token = {
        let at = r.text.find("/w/").unwrap() + 3;
        r.text[at..].split('<').next().unwrap().to_owned()
    };
    let (s, w) = call(&app, "GET", &format!("/v1/w/{token}"), None, "").await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(
        (w["title"].as_str(), w["hourly_wage_fen"].as_i64()),
        (Some("叉车司机"), Some(3000)),
        "{w}"
    );
    assert!(
        w["explanation_zh"].as_str().unwrap().contains("通勤约"),
        "{w}"
    );
    // A step's way back stays inside the portal.
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/decline"),
        &cookie,
        &[("csrf", &csrf), ("back", "//evil.example/x")],
    )
    .await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal?done=decline")
    );
}

#[tokio::test]
async fn the_public_board_shows_positions_and_counts_but_no_one() {
    let app = app().await;
    let mut batch = Vec::new();
    for i in 0..4 {
        let mut w = worker(&format!("w-secret-{i}"));
        w["display_name"] = json!(format!("王秘密{i}"));
        batch.push(w);
    }
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(AGENCY),
        &json!({"workers": batch}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let mut g: Value = serde_json::from_str(&shortage("g-ent-a-secret")).unwrap();
    g["window"] = json!({"start": day(5), "end": day(30)});
    g["title"] = json!("仓库叉车司机");
    g["headcount"] = json!(9);
    let (s, _) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &g.to_string()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let board = until("the board", || {
        let app = app.clone();
        async move {
            let r = get(&app, "/v1/board", None).await;
            let v: Value = serde_json::from_str(&r.text).ok()?;
            (!v["positions"].as_array()?.is_empty() && !v["supply"].as_array()?.is_empty())
                .then_some(v)
        }
    })
    .await;
    assert_eq!(board["positions"][0]["title"], "仓库叉车司机");
    assert_eq!(board["positions"][0]["region_name"], "兰州市");
    assert_eq!(board["supply"][0]["workers"], 4);
    let html = get(&app, "/board", None).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text.contains("仓库叉车司机") && html.text.contains("叉车司机"));
    let rss = get(&app, "/board.rss", None).await;
    assert!(rss.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/rss+xml"));
    assert!(
        rss.text
            .contains("<item><title>仓库叉车司机 · 兰州市 · 9 人"),
        "{}",
        rss.text
    );
    for text in [&html.text, &rss.text, &board.to_string()] {
        for secret in [
            "w-secret",
            "王秘密",
            "ent-a",
            "g-ent-a-secret",
            "agency-x",
            "36.07",
            "103.84",
        ] {
            assert!(!text.contains(secret), "{secret} is on the board");
        }
    }
    // Filters work or are refused by name.
    let v: Value =
        serde_json::from_str(&get(&app, "/v1/board?region=620200", None).await.text).unwrap();
    assert_eq!(v["positions"], json!([]));
    let v: Value = serde_json::from_str(
        &get(&app, &format!("/v1/board?date={}", day(1)), None)
            .await
            .text,
    )
    .unwrap();
    assert_eq!(v["positions"], json!([]), "the window starts in five days");
    for (q, field) in [
        ("skill=%E7%84%8A%E5%8A%9F", "skill"),
        ("date=tomorrow", "date"),
        ("who=me", "(query)"),
    ] {
        let r = get(&app, &format!("/v1/board?{q}"), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        let v: Value = serde_json::from_str(&r.text).unwrap();
        assert_eq!(v["error"]["field"], field);
    }
    // Fewer than three workers of a skill are not counted in public.
    let (s, _) = call(&app, "DELETE", "/v1/workers/w-secret-0", Some(AGENCY), "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = call(&app, "DELETE", "/v1/workers/w-secret-1", Some(AGENCY), "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    until("two left: hidden", || {
        let app = app.clone();
        async move {
            let v: Value = serde_json::from_str(&get(&app, "/v1/board", None).await.text).ok()?;
            v["supply"].as_array()?.is_empty().then_some(Value::Null)
        }
    })
    .await;
}

#[tokio::test]
async fn why_not_counts_the_rules_and_names_the_nearest_misses() {
    let app = app().await;
    let mut batch = Vec::new();
    for (i, (level, wage)) in [(3, 2000), (1, 2000), (1, 2000), (3, 5000)]
        .iter()
        .enumerate()
    {
        let mut w = worker(&format!("w-why-{i}"));
        w["skills"] = json!([{"skill": "forklift", "level": level}]);
        w["min_hourly_wage_fen"] = json!(wage);
        batch.push(w);
    }
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(AGENCY),
        &json!({"workers": batch}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let mut g: Value = serde_json::from_str(&shortage("g-why")).unwrap();
    g["headcount"] = json!(5);
    let (s, _) = call(&app, "POST", "/v1/shortages", Some(ENT_A), &g.to_string()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let v = until("why-not", || {
        let app = app.clone();
        async move {
            let (s, v) = call(&app, "GET", "/v1/shortages/g-why/why-not", Some(ENT_A), "").await;
            (s == StatusCode::OK && v["candidates"] == 4 && v["proposed_here"] == 1).then_some(v)
        }
    })
    .await;
    assert_eq!(v["failing"], json!({"skills": 2, "wage": 1}), "{v}");
    assert_eq!(v["eligible"], 1);
    let misses = v["near_misses"].as_array().unwrap();
    assert_eq!(misses[0]["count"], 2);
    assert_eq!(misses[0]["zh"], "叉车司机等级 1 级，要求 2 级");
    assert_eq!(misses[1]["zh"], "时薪提高到 50.00 元/小时");
    assert!(!v.to_string().contains("w-why"), "no worker ids: {v}");
    // The worker's side: the gap it misses by one level.
    let (s, w) = call(&app, "GET", "/v1/workers/w-why-1/why-not", Some(AGENCY), "").await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["open_gaps"], 1);
    assert_eq!(
        w["near_misses"][0]["count"], 5,
        "five positions one level away: {w}"
    );
    // Others' ids are 404; bad suffixes too.
    for (token, path) in [
        (ENT_B, "/v1/shortages/g-why/why-not"),
        (AGENCY_Y, "/v1/workers/w-why-1/why-not"),
        (ENT_A, "/v1/shortages/g-why/why"),
    ] {
        let (s, _) = call(&app, "GET", path, Some(token), "").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_roster_is_uploaded_previewed_and_imported_once() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, AGENCY).await;
    let csv = format!(
        "worker_id,region,home_lat,home_lon,skills,available_start,available_end,max_commute_km,min_hourly_wage_fen,consent,display_name\n\
         up-1,620100,36.07,103.84,叉车:3,{a},{b},20,2000,是,赵一\n\
         up-2,620100,36.07,103.84,叉车:3,{a},{b},20,2000,是,钱二\n",
        a = day(-5),
        b = day(100)
    );
    let multipart = |csrf: &str, file: &str| {
        let b = "XyZboundary";
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"roster.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{b}--\r\n"
        )
        .into_bytes()
    };
    let ctype = "multipart/form-data; boundary=XyZboundary";
    let r = req(
        &app,
        "POST",
        "/portal/workers/import",
        Some(&cookie),
        Some(ctype),
        multipart("bad", &csv),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bad = csv
        .replace("叉车:3,{", "x")
        .replace("钱二", "=HYPERLINK(\"x\")");
    let r = req(
        &app,
        "POST",
        "/portal/workers/import",
        Some(&cookie),
        Some(ctype),
        multipart(&csrf, &bad),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("第 3 行") && r.text.contains("未导入任何人员"),
        "{}",
        r.text
    );
    let r = req(
        &app,
        "POST",
        "/portal/workers/import",
        Some(&cookie),
        Some(ctype),
        multipart(&csrf, &csv),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text.contains("赵一") && r.text.contains("确认导入 2 人"),
        "{}",
        r.text
    );
    let (_, v) = call(&app, "GET", "/v1/workers", Some(AGENCY), "").await;
    assert_eq!(v["workers"], json!([]), "a preview imports nothing");
    let upload = {
        let at = r.text.find("name=\"upload\" value=\"").unwrap() + 21;
        r.text[at..at + 32].to_owned()
    };
    let r = post_form(
        &app,
        "/portal/workers/import/commit",
        &cookie,
        &[("csrf", &csrf), ("upload", &upload)],
    )
    .await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal/workers?imported=2")
    );
    let r = post_form(
        &app,
        "/portal/workers/import/commit",
        &cookie,
        &[("csrf", &csrf), ("upload", &upload)],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::GONE,
        "a second click imports nothing more"
    );
    // Another agency cannot confirm this upload.
    let (other, other_csrf) = sign_in(&app, AGENCY_Y).await;
    let r = post_form(
        &app,
        "/portal/workers/import/commit",
        &other,
        &[("csrf", &other_csrf), ("upload", &upload)],
    )
    .await;
    assert!(matches!(r.status, StatusCode::GONE | StatusCode::NOT_FOUND));
    until("imported", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/workers", Some(AGENCY), "").await;
            (v["workers"].as_array()?.len() == 2).then_some(Value::Null)
        }
    })
    .await;
}

/// The proposal's view as the borrower reads it, once `ok` holds.
async fn view_until(app: &axum::Router, m: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    until(what, || {
        let app = app.clone();
        let path = format!("/v1/proposals/{m}");
        let ok = &ok;
        async move {
            let (_, v) = call(&app, "GET", &path, Some(ENT_A), "").await;
            ok(&v).then_some(v)
        }
    })
    .await
}

#[tokio::test]
async fn a_borrower_reports_hours_and_records_pay_through_the_page() {
    let app = app().await;
    let (s, _) = call(
        &app,
        "POST",
        "/v1/workers",
        Some(AGENCY),
        &worker("w-pay").to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = call(
        &app,
        "POST",
        "/v1/shortages",
        Some(ENT_A),
        &shortage("g-pay"),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let list = until("a proposal", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/proposals?gap_id=g-pay", Some(ENT_A), "").await;
            (!v["proposals"].as_array()?.is_empty()).then_some(v)
        }
    })
    .await;
    let m = list["proposals"][0]["match_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = call(
        &app,
        "POST",
        &format!("/v1/proposals/{m}/accept"),
        Some(ENT_A),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, link) = call(
        &app,
        "POST",
        &format!("/v1/proposals/{m}/worker-link"),
        Some(AGENCY),
        "",
    )
    .await;
    let w = link["api"].as_str().unwrap().to_owned();
    let (s, _) = call(&app, "POST", &format!("{w}/accept"), None, "").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let v = view_until(&app, &m, "agreed", |v| v["status"] == "agreed").await;
    let sha = json!({"document_sha256": v["agreement_sha256"]}).to_string();
    let (s, _) = call(
        &app,
        "POST",
        &format!("/v1/proposals/{m}/sign"),
        Some(ENT_A),
        &sha,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = call(&app, "POST", &format!("{w}/sign"), None, &sha).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    view_until(&app, &m, "signed", |v| v["status"] == "signed").await;
    let (s, _) = call(
        &app,
        "POST",
        &format!("/v1/proposals/{m}/start"),
        Some(ENT_A),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    view_until(&app, &m, "started", |v| v["status"] == "started").await;
    // Hours through the page's form.
    let (cookie, csrf) = sign_in(&app, ENT_A).await;
    let page = get(&app, "/portal/shortages/g-pay", Some(&cookie)).await;
    assert!(page.text.contains("报工时"), "{}", page.text);
    let back = "/portal/shortages/g-pay";
    let today = day(0);
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/timesheet"),
        &cookie,
        &[
            ("csrf", &csrf),
            ("back", back),
            ("date", &today),
            ("hours", "abc"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/timesheet"),
        &cookie,
        &[
            ("csrf", &csrf),
            ("back", back),
            ("date", &today),
            ("hours", "7.5"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    view_until(&app, &m, "the day", |v| {
        v["sheet"]["days"][&today]["minutes"] == 450
    })
    .await;
    let (s, _) = call(
        &app,
        "POST",
        &format!("{w}/confirm"),
        None,
        &json!({"date": today}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // 7.5 h at ¥30.00: ¥225.00 owed, offered as the payment's amount.
    view_until(&app, &m, "owed", |v| v["ledger"][0]["owed_fen"] == 22500).await;
    let page = get(&app, "/portal/shortages/g-pay", Some(&cookie)).await;
    assert!(page.text.contains("value=\"225.00\""), "{}", page.text);
    let period_start = {
        let at = page.text.find("name=\"period_start\" value=\"").unwrap() + 27;
        page.text[at..at + 10].to_owned()
    };
    let period_end = {
        let at = page.text.find("name=\"period_end\" value=\"").unwrap() + 25;
        page.text[at..at + 10].to_owned()
    };
    let r = post_form(
        &app,
        &format!("/portal/proposals/{m}/payment"),
        &cookie,
        &[
            ("csrf", &csrf),
            ("back", back),
            ("to", "worker"),
            ("amount_yuan", "225.00"),
            ("period_start", &period_start),
            ("period_end", &period_end),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    view_until(&app, &m, "paid", |v| {
        v["ledger"][0]["paid_by_borrower_fen"] == 22500
    })
    .await;
}

#[tokio::test]
async fn an_agency_adds_and_edits_one_worker_by_the_form() {
    let app = app().await;
    let (cookie, csrf) = sign_in(&app, AGENCY).await;
    let (start, end) = (day(0), day(90));
    let base = |wage: &'static str| {
        vec![
            ("form_key", "wk1"),
            ("worker_id", "w-form"),
            ("display_name", "周五"),
            ("region", "620100"),
            ("priority_group", "unemployed"),
            ("home_lat", "36.07"),
            ("home_lon", "103.84"),
            ("skill_1", "forklift"),
            ("level_1", "3"),
            ("skill_2", ""),
            ("level_2", "3"),
            ("skill_3", ""),
            ("level_3", "3"),
            ("certificates", "forklift-licence"),
            ("max_commute_km", "25"),
            ("wage_yuan", wage),
            ("consent", "yes"),
        ]
    };
    let with = |mut v: Vec<(&'static str, &'static str)>, csrf: &str| -> Vec<(String, String)> {
        v.push(("start", Box::leak(start.clone().into_boxed_str())));
        v.push(("end", Box::leak(end.clone().into_boxed_str())));
        let mut out: Vec<(String, String)> = v
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        out.push(("csrf".into(), csrf.to_owned()));
        out
    };
    let send = |pairs: Vec<(String, String)>| {
        let app = app.clone();
        let cookie = cookie.clone();
        async move {
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            post_form(&app, "/portal/workers/new", &cookie, &refs).await
        }
    };
    assert_eq!(
        send(with(base("22.00"), "wrong")).await.status,
        StatusCode::FORBIDDEN
    );
    let r = send(with(base("lots"), &csrf)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("min_hourly_wage_fen") && r.text.contains("周五"),
        "the form keeps what was typed: {}",
        r.text
    );
    let r = send(with(base("22.00"), &csrf)).await;
    assert_eq!(
        (r.status, r.headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/portal/workers?done=save")
    );
    let v = until("the worker", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/workers/w-form", Some(AGENCY), "").await;
            (v["status"] == "available").then_some(v)
        }
    })
    .await;
    assert_eq!(
        (
            v["min_hourly_wage_fen"].as_i64(),
            v["display_name"].as_str()
        ),
        (Some(2200), Some("周五"))
    );
    assert_eq!(v["certificates"], json!(["forklift-licence"]));
    // Editing shows the offer; saving it changes the wage.
    let page = get(&app, "/portal/workers/w-form/edit", Some(&cookie)).await;
    assert!(
        page.text.contains("value=\"22.00\"") && page.text.contains("readonly"),
        "{}",
        page.text
    );
    let mut edited = base("26.50");
    edited.retain(|(k, _)| *k != "form_key");
    edited.push(("form_key", "wk2"));
    let r = send(with(edited, &csrf)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    until("the new wage", || {
        let app = app.clone();
        async move {
            let (_, v) = call(&app, "GET", "/v1/workers/w-form", Some(AGENCY), "").await;
            (v["min_hourly_wage_fen"] == 2650).then_some(v)
        }
    })
    .await;
    // Another agency neither reads nor takes it.
    let (other, other_csrf) = sign_in(&app, AGENCY_Y).await;
    assert_eq!(
        get(&app, "/portal/workers/w-form/edit", Some(&other))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let pairs = with(base("30.00"), &other_csrf);
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = post_form(&app, "/portal/workers/new", &other, &refs).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("belongs to someone else"), "{}", r.text);
}

//! The portal: the pages enterprises, agencies and the public use in a
//! browser, Chinese first with English beside it.
//!
//! Pages are rendered on the server with [`maud`]: HTML written as Rust,
//! checked when the gateway compiles, escaped by default (a worker's or a
//! gap's text can never become markup), with no template files to ship or
//! find at run time. Pages work without JavaScript; there are no assets
//! from the network (the style is inline, a few kilobytes).
//!
//! Sign-in: the token a client already has for the API is exchanged once
//! (`POST /portal/signin`) for a session: a random 256-bit id in a cookie
//! (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` when the request
//! came over TLS — `X-Forwarded-Proto: https` from the proxy in front),
//! kept in the store under its SHA-256 with the role, the principal, the
//! session's CSRF token and its expiry ([`SESSION_HOURS`]). The token is
//! never put in a URL or a page. Every form carries the CSRF token and
//! every `POST` checks it (403 otherwise); sign-out deletes the session.
//!
//! Each page acts through the same functions as the JSON API, so the
//! portal refuses what the API refuses, with the same messages, and
//! tenant isolation is the API's: another tenant's gap, worker or
//! proposal is 404.

// A page's refusal is itself a page (a `Response`), returned from request
// handlers only: boxing it would cost an allocation and buy nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, DOCTYPE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Role};
use crate::compose::hex;
use crate::error::ApiError;
use crate::Gateway;

pub(crate) mod board;
pub(crate) mod borrower;
pub(crate) mod lender;
pub(crate) mod words;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lw_session";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// A signed-in session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Session {
    pub(crate) role: Role,
    pub(crate) id: String,
    pub(crate) csrf: String,
    pub(crate) expires: i64,
}

impl Session {
    pub(crate) fn principal(&self) -> Principal {
        Principal {
            role: self.role,
            id: self.id.clone(),
        }
    }
}

fn now() -> i64 {
    crate::compose::now().unix_seconds()
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn session_key(g: &Gateway, sid: &str) -> String {
    g.keys.session(&hex(&Sha256::digest(sid.as_bytes())))
}

/// The session of the request's cookie, if it is one and not expired.
pub(crate) async fn session(g: &Gateway, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(sid) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if sid.len() != 64 || !sid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(b) = g.store.get(&session_key(g, sid)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Session>(&b)
        .ok()
        .filter(|s| s.expires > now()))
}

impl Gateway {
    /// The caller of a read: the bearer token when the request has one,
    /// else the portal session's principal (the dashboard and the portal
    /// read with the cookie; reads change nothing, so no CSRF token).
    pub(crate) async fn caller(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Principal, ApiError> {
        if headers.get(header::AUTHORIZATION).is_none() && query.is_none() {
            if let Some(s) = session(self, headers).await? {
                return Ok(s.principal());
            }
        }
        self.authenticate(headers, query)
    }
}

/// The vocabulary's names for the dashboard: regions and skills, each
/// `[zh, en]` by code.
pub(crate) fn vocabulary_json() -> String {
    use lendwork_domain::vocab::{vocabulary, REGIONS};
    let regions: serde_json::Map<String, serde_json::Value> = REGIONS
        .iter()
        .map(|(c, zh, en)| ((*c).to_owned(), serde_json::json!([zh, en])))
        .collect();
    let skills: serde_json::Map<String, serde_json::Value> = vocabulary()
        .skills
        .iter()
        .map(|t| (t.slug.to_owned(), serde_json::json!([t.zh, t.en])))
        .collect();
    serde_json::json!({"regions": regions, "skills": skills})
        .to_string()
        .replace('<', "\\u003c")
}

/// A page's outcome: a page, a redirect, or an error page.
pub(crate) type PageResult = Result<Response, Response>;

/// The session, or a redirect to the sign-in page.
pub(crate) async fn signed_in(
    g: &Gateway,
    headers: &HeaderMap,
    roles: &[Role],
) -> Result<Session, Response> {
    match session(g, headers).await {
        Ok(Some(s)) if roles.contains(&s.role) => Ok(s),
        Ok(Some(s)) => Err(error_page(
            Some(&s),
            StatusCode::FORBIDDEN,
            "此页面不适用于您的账户类型",
            "This page is not for your kind of account",
        )),
        Ok(None) => Err(Redirect::to("/portal/signin").into_response()),
        Err(e) => Err(api_error_page(None, &e)),
    }
}

/// Checks a form's CSRF token against the session's (constant time).
pub(crate) fn csrf_ok(s: &Session, token: &str) -> Result<(), Response> {
    let a = s.csrf.as_bytes();
    let b = token.as_bytes();
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same {
        Ok(())
    } else {
        Err(error_page(
            Some(s),
            StatusCode::FORBIDDEN,
            "表单已失效（缺少或错误的安全令牌），请返回刷新后重试",
            "The form is no longer valid (missing or wrong security token); go back, reload and retry",
        ))
    }
}

/// The pairs of a submitted form (repeated names kept, in order).
pub(crate) type Pairs = Vec<(String, String)>;

/// A form field's value, trimmed ("" when absent).
pub(crate) fn field<'a>(f: &'a Pairs, name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

/// Chinese, with the English beside it.
pub(crate) fn bi(zh: &str, en: &str) -> Markup {
    html! { (zh) " " span.en lang="en" { (en) } }
}

const STYLE: &str = "\
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;line-height:1.5;color:#1b1b1b;background:#fafafa}\
header{background:#0b4f8a;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}\
header a,header button{color:#fff;font-size:1rem}header .brand{font-weight:bold;margin-right:auto;text-decoration:none}\
header form{display:inline;margin:0}header button{background:none;border:1px solid #fff;border-radius:.3rem;padding:.1rem .5rem;cursor:pointer}\
main{max-width:62rem;margin:0 auto;padding:1rem}.en{color:#555;font-size:.88em}header .en{color:#dbe8f5}button .en,.button .en,.err .en,.ok .en{color:inherit}\
table{border-collapse:collapse;width:100%;margin:.5rem 0;background:#fff}th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#eef3f8}label{display:block;margin:.6rem 0 .2rem;font-weight:600}\
input,select,textarea{font:inherit;padding:.4rem;border:1px solid #888;border-radius:.3rem;width:100%;max-width:28rem;background:#fff}\
input[type=checkbox]{width:auto}.row{display:flex;gap:.5rem;flex-wrap:wrap}.row>*{flex:1 1 10rem}\
button,.button{font:inherit;padding:.45rem .9rem;border-radius:.3rem;border:1px solid #0b4f8a;background:#0b4f8a;color:#fff;cursor:pointer;text-decoration:none;display:inline-block;margin:.2rem .3rem .2rem 0}\
button.quiet{background:#fff;color:#0b4f8a}.err{color:#a40000;font-weight:600}.ok{color:#1a6b2f;font-weight:600}\
.box{background:#fff;border:1px solid #ccc;border-radius:.4rem;padding:.75rem 1rem;margin:.75rem 0}\
.hint{color:#555;font-size:.9em}a{color:#0b4f8a}\
@media (max-width:40rem){th,td{padding:.3rem}main{padding:.6rem}}";

/// The page frame: header with what the session may reach, then `body`.
pub(crate) fn page(s: Option<&Session>, title_zh: &str, title_en: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title_zh) " · " (title_en) " · 共享用工 Lendwork" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/portal" { "共享用工 " span.en lang="en" { "Lendwork" } }
                    nav aria-label="主导航 Main" {
                        a href="/board" { (bi("供求信息", "Board")) }
                        @if let Some(s) = s {
                            @if s.role == Role::Enterprise {
                                " · " a href="/portal/shortages" { (bi("用工需求", "Shortages")) }
                            }
                            @if matches!(s.role, Role::Enterprise | Role::Agency) {
                                " · " a href="/portal/workers" { (bi("人员", "Workers")) }
                            }
                            @if s.role == Role::Operator {
                                " · " a href="/dashboard" { (bi("监测", "Dashboard")) }
                            }
                        }
                    }
                    @if let Some(s) = s {
                        form method="post" action="/portal/signout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { (bi("退出", "Sign out")) }
                        }
                    } @else {
                        a href="/portal/signin" { (bi("登录", "Sign in")) }
                    }
                }
                main { h1 { (bi(title_zh, title_en)) } (body) }
            }
        }
    }
}

/// A page as a response.
pub(crate) fn html_response(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-frame-options"), "DENY"),
            (
                header::HeaderName::from_static("content-security-policy"),
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        m.into_string(),
    )
        .into_response()
}

/// An error page.
pub(crate) fn error_page(s: Option<&Session>, status: StatusCode, zh: &str, en: &str) -> Response {
    html_response(
        status,
        page(
            s,
            "出错了",
            "Something is wrong",
            html! { p.err role="alert" { (bi(zh, en)) } p { a href="/portal" { (bi("返回首页", "Back to the start")) } } },
        ),
    )
}

/// The API's error as a page.
pub(crate) fn api_error_page(s: Option<&Session>, e: &ApiError) -> Response {
    if e.status == StatusCode::NOT_FOUND {
        return error_page(s, e.status, "没有找到", "Not found");
    }
    let field = e
        .field
        .as_deref()
        .map(|f| format!("{f}: "))
        .unwrap_or_default();
    error_page(s, e.status, "操作未完成", &format!("{field}{}", e.message))
}

#[derive(Deserialize)]
pub(crate) struct SignIn {
    token: String,
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

fn signin_page(message: Option<(&str, &str)>) -> Markup {
    page(
        None,
        "登录",
        "Sign in",
        html! {
            @if let Some((zh, en)) = message {
                p.err role="alert" id="signin-error" { (bi(zh, en)) }
            }
            form method="post" action="/portal/signin" {
                label for="token" { (bi("访问令牌", "Access token")) }
                input id="token" name="token" type="password" autocomplete="current-password" required
                    aria-describedby="token-hint";
                p.hint id="token-hint" { (bi("由就业服务机构发放给贵单位的令牌", "The token your employment office issued to your organisation")) }
                button type="submit" { (bi("登录", "Sign in")) }
            }
        },
    )
}

/// `GET /portal/signin`.
pub(crate) async fn signin_form() -> Response {
    html_response(StatusCode::OK, signin_page(None))
}

/// `POST /portal/signin`: the token for a session cookie.
pub(crate) async fn signin(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let Some((_, p)) = g.tokens.get(f.token.trim()) else {
        return html_response(
            StatusCode::UNAUTHORIZED,
            signin_page(Some((
                "令牌无效，请检查后重试",
                "Unknown token; check it and try again",
            ))),
        );
    };
    let sid = hex(&rand::random::<[u8; 32]>());
    let s = Session {
        role: p.role,
        id: p.id.clone(),
        csrf: hex(&rand::random::<[u8; 16]>()),
        expires: now() + SESSION_HOURS * 3600,
    };
    let value = serde_json::to_vec(&s).expect("serializable");
    if let Err(e) = g.store.set(&session_key(&g, &sid), &value).await {
        return api_error_page(None, &ApiError::from(e));
    }
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{SESSION_COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_HOURS * 3600,
        if secure { "; Secure" } else { "" }
    );
    let home = match p.role {
        Role::Enterprise => "/portal/shortages",
        Role::Agency => "/portal/workers",
        Role::Operator => "/dashboard",
        _ => "/portal",
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, home.to_owned()),
        ],
    )
        .into_response()
}

/// `POST /portal/signout`: ends the session (CSRF-checked).
pub(crate) async fn signout(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    let s = signed_in(
        &g,
        &headers,
        &[Role::Enterprise, Role::Agency, Role::Operator],
    )
    .await?;
    csrf_ok(&s, &f.csrf)?;
    if let Some(sid) = cookie_value(&headers, SESSION_COOKIE) {
        let _ = g.store.delete(&session_key(&g, sid)).await;
    }
    let gone = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, gone),
            (header::LOCATION, "/portal/signin".to_owned()),
        ],
    )
        .into_response())
}

/// `GET /portal`: where a session starts.
pub(crate) async fn home(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> PageResult {
    let s = signed_in(
        &g,
        &headers,
        &[Role::Enterprise, Role::Agency, Role::Operator],
    )
    .await?;
    // What waits for this client's answer: proposals where one of its
    // steps is allowed now (a new proposal, an agreement to sign, a start).
    let mut waiting = Vec::new();
    if matches!(s.role, Role::Enterprise | Role::Agency) {
        let views = crate::routes::proposals::visible(&g, &s.principal())
            .await
            .map_err(|e| api_error_page(Some(&s), &e))?;
        for v in views {
            let party = if v.enterprise_id.as_str() == s.id {
                lendwork_domain::Party::Borrower
            } else {
                lendwork_domain::Party::Lender
            };
            if !borrower::my_steps(&v, party).is_empty() {
                waiting.push((party, v));
            }
        }
        waiting.sort_by(|a, b| b.1.proposed.match_id.cmp(&a.1.proposed.match_id));
    }
    let who = match s.role {
        Role::Enterprise => bi(
            "用工单位（借入与借出）",
            "Enterprise (borrowing and lending)",
        ),
        Role::Agency => bi("人力资源服务机构", "HR service agency"),
        _ => bi("监测人员", "Operator"),
    };
    Ok(html_response(
        StatusCode::OK,
        page(
            Some(&s),
            "共享用工服务",
            "Shared employment",
            html! {
                p { (bi("已登录：", "Signed in as:")) " " strong { (s.id) } " · " (who) }
                @if !waiting.is_empty() {
                    section.box aria-labelledby="waiting" {
                        h2 id="waiting" { (bi(&format!("待您处理（{}）", waiting.len()), &format!("Waiting for you ({})", waiting.len()))) }
                        ul { @for (party, v) in waiting.iter().take(20) {
                            @let (zh, en) = words::status(&v.status);
                            @let href = if *party == lendwork_domain::Party::Borrower { format!("/portal/shortages/{}", v.proposed.gap_id) } else { "/portal/workers".to_owned() };
                            li { a href=(href) { (v.worker_name.as_ref().map_or(v.proposed.worker_id.as_str(), |n| n.as_str())) " → " (v.proposed.gap_id) }
                                " · " (zh) " " span.en lang="en" { (en) } }
                        } }
                    }
                }
                ul {
                    @if s.role == Role::Enterprise {
                        li { a href="/portal/shortages/new" { (bi("发布用工需求", "Post a shortage")) } }
                        li { a href="/portal/shortages" { (bi("我的用工需求与推荐人选", "My shortages and their proposals")) } }
                    }
                    @if matches!(s.role, Role::Enterprise | Role::Agency) {
                        li { a href="/portal/workers" { (bi("我的人员（花名册）", "My workers (roster)")) } }
                        li { a href="/portal/workers/import" { (bi("导入花名册（Excel 或 CSV）", "Import a roster (Excel or CSV)")) } }
                    }
                    @if s.role == Role::Operator {
                        li { a href="/dashboard" { (bi("市场监测", "Market dashboard")) } }
                    }
                    li { a href="/board" { (bi("公开供求信息", "Public board")) } }
                }
            },
        ),
    ))
}

/// The portal's routes.
pub(crate) fn routes() -> axum::Router<Arc<Gateway>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/portal", get(home))
        .route("/portal/signin", get(signin_form).post(signin))
        .route("/portal/signout", post(signout))
        .route(
            "/portal/shortages",
            get(borrower::list).post(borrower::create),
        )
        .route("/portal/shortages/new", get(borrower::new_form))
        .route("/portal/shortages/{gap_id}", get(borrower::detail))
        .route(
            "/portal/proposals/{match_id}/agreement",
            get(borrower::agreement),
        )
        .route("/portal/proposals/{match_id}/{action}", post(borrower::act))
        .route("/portal/workers", get(lender::roster))
        .route(
            "/portal/workers/new",
            get(lender::new_worker).post(lender::save_worker),
        )
        .route("/portal/workers/{worker_id}/edit", get(lender::edit_worker))
        .route(
            "/portal/workers/import",
            get(lender::import_form)
                .post(lender::upload)
                .layer(axum::extract::DefaultBodyLimit::max(9 * 1024 * 1024)),
        )
        .route("/portal/workers/import/commit", post(lender::commit))
        .route(
            "/portal/workers/{worker_id}/withdraw",
            post(lender::withdraw),
        )
        .route("/board", get(board::page))
        .route("/board.rss", get(board::rss))
        .route("/v1/board", get(board::json))
}

//! A borrower's pages: its shortages, the form that posts one, a
//! shortage's proposals with their explanations in plain words and the
//! steps the borrower may take (accept, decline, sign, start, end), and
//! why a shortage has fewer proposals than positions. The steps of a
//! proposal are also the lender's and agency's (the same form posts them).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use lendwork_domain::vocab::vocabulary;
use lendwork_domain::Party;
use lendwork_state::views::{GapView, MatchView};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::{
    api_error_page, bi, csrf_ok, field, html_response, page, signed_in, words, PageResult, Pairs,
    Session,
};
use crate::auth::Role;
use crate::error::ApiError;
use crate::routes::proposals::{perform, visible, Action};
use crate::Gateway;

/// Industries the form offers: slug, Chinese, English.
pub(crate) const INDUSTRIES: [(&str, &str, &str); 7] = [
    ("logistics", "物流仓储", "Logistics"),
    ("retail", "批发零售", "Retail"),
    ("food-processing", "食品加工", "Food processing"),
    ("care", "养老护理", "Care"),
    ("construction", "建筑", "Construction"),
    ("manufacturing", "制造", "Manufacturing"),
    ("hospitality", "住宿餐饮", "Hospitality"),
];

/// The form's fields with their Chinese and English labels (the API's
/// field names, for naming a refusal next to its field).
const LABELS: [(&str, &str, &str); 14] = [
    ("gap_id", "需求编号", "Shortage id"),
    ("title", "岗位名称", "Post title"),
    ("description", "工作内容", "Description"),
    ("region", "地区", "Region"),
    ("site", "工作地点", "Site"),
    ("requirements", "技能要求", "Skills"),
    ("certificates", "证书要求", "Certificates"),
    ("headcount", "人数", "Headcount"),
    ("window", "用工日期", "Days of work"),
    ("hours_per_day", "每天工时", "Hours per day"),
    ("hourly_wage_fen", "时薪", "Hourly wage"),
    ("industry", "行业", "Industry"),
    ("enterprise_id", "单位", "Enterprise"),
    ("idempotency-key", "表单", "Form"),
];

fn label_of(field: &str) -> (&'static str, &'static str) {
    let head = field.split(['.', '[']).next().unwrap_or(field);
    LABELS
        .iter()
        .find(|(f, ..)| *f == head)
        .map_or(("表单", "Form"), |(_, zh, en)| (*zh, *en))
}

/// `GET /portal/shortages?status=`: the borrower's shortages.
pub(crate) async fn list(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise]).await?;
    let want = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("status=")))
        .unwrap_or("")
        .to_owned();
    let gaps = own_gaps(&g, &s)
        .await
        .map_err(|e| api_error_page(Some(&s), &e))?;
    let body = html! {
        p { a.button href="/portal/shortages/new" { (bi("发布用工需求", "Post a shortage")) } }
        form method="get" action="/portal/shortages" {
            label for="status" { (bi("状态", "Status")) }
            select id="status" name="status" {
                option value="" { "全部 All" }
                @for st in ["open", "filled", "withdrawn", "pending"] {
                    @let (zh, en) = words::status(st);
                    option value=(st) selected[want == st] { (zh) " " (en) }
                }
            }
            button.quiet type="submit" { (bi("筛选", "Filter")) }
        }
        @if gaps.is_empty() {
            p { (bi("还没有用工需求。", "No shortages yet.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (bi("需求", "Shortage")) }
                    th scope="col" { (bi("状态", "Status")) }
                    th scope="col" { (bi("人数", "Headcount")) }
                    th scope="col" { (bi("已确定", "Agreed")) }
                    th scope="col" { (bi("待确认推荐", "Proposals waiting")) }
                    th scope="col" { (bi("日期", "Days")) }
                } }
                tbody {
                    @for (id, v) in &gaps {
                        @let st = v.as_ref().map_or("pending".to_owned(), |v| serde_json::to_value(v.status).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default());
                        @if want.is_empty() || want == st {
                            @let (zh, en) = words::status(&st);
                            tr {
                                td { a href={ "/portal/shortages/" (id) } {
                                    (v.as_ref().and_then(|v| v.title.as_ref()).map_or(id.clone(), |t| t.as_str().to_owned()))
                                } br; span.hint { (id) } }
                                td { (zh) " " span.en lang="en" { (en) } }
                                @if let Some(v) = v {
                                    td { (v.headcount) } td { (v.filled) } td { (v.proposed) }
                                    td { (v.window.start) " — " (v.window.end) }
                                } @else {
                                    td {} td {} td {} td {}
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(Some(&s), "我的用工需求", "My shortages", body),
    ))
}

pub(crate) async fn own_gaps(
    g: &Gateway,
    s: &Session,
) -> Result<Vec<(String, Option<GapView>)>, ApiError> {
    let ids = crate::routes::listing::owned(g, &g.keys.owned_gaps(&s.id)).await?;
    let keys: Vec<String> = ids.iter().map(|id| g.keys.gap(id)).collect();
    let views = g.store.get_many(&keys).await?;
    Ok(ids
        .into_iter()
        .zip(views)
        .map(|(id, v)| (id, v.and_then(|b| serde_json::from_slice(&b).ok())))
        .collect())
}

/// A fresh form key: the form's submission is idempotent under it.
fn form_key() -> String {
    crate::compose::hex(&rand::random::<[u8; 12]>())
}

fn shortage_form(s: &Session, f: &Pairs, error: Option<(&str, String)>) -> Markup {
    let vocab = vocabulary();
    let today = crate::compose::now().market_date();
    let v = |name: &str, default: String| {
        let x = field(f, name);
        if x.is_empty() {
            default
        } else {
            x.to_owned()
        }
    };
    let err_field = error.as_ref().map(|(f, _)| *f).unwrap_or("");
    let err_for = |names: &[&str]| -> Option<String> {
        names
            .contains(&err_field)
            .then(|| error.as_ref().map(|(_, m)| m.clone()))
            .flatten()
    };
    let certs: Vec<&str> = f
        .iter()
        .filter(|(k, _)| k == "certificates")
        .map(|(_, v)| v.as_str())
        .collect();
    html! {
        @if let Some((fname, m)) = &error {
            @let (zh, en) = label_of(fname);
            div.box.err role="alert" id="form-error" { (zh) " " span.en lang="en" { (en) } "：" (m) }
        }
        form method="post" action="/portal/shortages" novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="form_key" value=(v("form_key", form_key()));
            label for="title" { (bi("岗位名称", "Post title")) }
            input id="title" name="title" maxlength="80" value=(v("title", String::new())) placeholder="例：仓库叉车司机";
            @if let Some(m) = err_for(&["title"]) { p.err { (m) } }
            label for="description" { (bi("工作内容（选填）", "Description (optional)")) }
            textarea id="description" name="description" rows="3" maxlength="2000" { (v("description", String::new())) }
            div.row {
                div {
                    label for="region" { (bi("地区", "Region")) }
                    select id="region" name="region" required {
                        @for (code, zh, en) in lendwork_domain::vocab::REGIONS {
                            option value=(code) selected[field(f, "region") == *code] { (zh) " " (en) }
                        }
                    }
                }
                div {
                    label for="industry" { (bi("行业", "Industry")) }
                    select id="industry" name="industry" {
                        option value="" { "—" }
                        @for (slug, zh, en) in INDUSTRIES {
                            option value=(slug) selected[field(f, "industry") == slug] { (zh) " " (en) }
                        }
                    }
                }
            }
            fieldset.box {
                legend { (bi("工作地点（坐标）", "Site (coordinates)")) }
                p.hint { (bi("可在地图应用中查到地址的经纬度后填写。", "Look the address up in a map app and copy its latitude and longitude.")) }
                div.row {
                    div { label for="site_lat" { (bi("纬度", "Latitude")) } input id="site_lat" name="site_lat" inputmode="decimal" value=(v("site_lat", "36.06".into())); }
                    div { label for="site_lon" { (bi("经度", "Longitude")) } input id="site_lon" name="site_lon" inputmode="decimal" value=(v("site_lon", "103.83".into())); }
                }
                @if let Some(m) = err_for(&["site"]) { p.err { (m) } }
            }
            fieldset.box {
                legend { (bi("技能要求", "Skills required")) }
                @for i in 1..=3 {
                    div.row {
                        div {
                            label for={ "skill_" (i) } { (bi(&format!("技能 {i}"), &format!("Skill {i}"))) }
                            select id={ "skill_" (i) } name={ "skill_" (i) } {
                                option value="" { "—" }
                                @for t in vocab.skills {
                                    option value=(t.slug) selected[field(f, &format!("skill_{i}")) == t.slug || (i == 1 && field(f, "skill_1").is_empty() && t.slug == "forklift" && f.is_empty())] { (t.zh) " " (t.en) }
                                }
                            }
                        }
                        div {
                            label for={ "level_" (i) } { (bi("最低等级（1–5）", "Lowest level (1–5)")) }
                            input id={ "level_" (i) } name={ "level_" (i) } type="number" min="1" max="5" value=(v(&format!("level_{i}"), "2".into()));
                        }
                    }
                }
                @if let Some(m) = err_for(&["requirements"]) { p.err { (m) } }
            }
            fieldset.box {
                legend { (bi("证书要求（选填）", "Certificates (optional)")) }
                @for t in vocab.certificates {
                    label { input type="checkbox" name="certificates" value=(t.slug) checked[certs.contains(&t.slug)]; " " (t.zh) " " span.en lang="en" { (t.en) } }
                }
            }
            div.row {
                div { label for="headcount" { (bi("人数", "Headcount")) } input id="headcount" name="headcount" type="number" min="1" max="10000" value=(v("headcount", "1".into())); @if let Some(m) = err_for(&["headcount"]) { p.err { (m) } } }
                div { label for="hours_per_day" { (bi("每天工时", "Hours per day")) } input id="hours_per_day" name="hours_per_day" type="number" min="1" max="12" value=(v("hours_per_day", "8".into())); @if let Some(m) = err_for(&["hours_per_day"]) { p.err { (m) } } }
            }
            div.row {
                div { label for="start" { (bi("开始日期", "First day")) } input id="start" name="start" type="date" value=(v("start", today.plus_days(7).to_string())); }
                div { label for="end" { (bi("结束日期", "Last day")) } input id="end" name="end" type="date" value=(v("end", today.plus_days(37).to_string())); }
            }
            @if let Some(m) = err_for(&["window"]) { p.err { (m) } }
            label for="wage_yuan" { (bi("时薪（元/小时）", "Hourly wage (CNY)")) }
            input id="wage_yuan" name="wage_yuan" inputmode="decimal" value=(v("wage_yuan", "25.00".into()));
            @if let Some(m) = err_for(&["hourly_wage_fen"]) { p.err { (m) } }
            label for="gap_id" { (bi("需求编号（选填，留空自动生成）", "Shortage id (optional; made for you when empty)")) }
            input id="gap_id" name="gap_id" maxlength="64" value=(v("gap_id", String::new()));
            p { button type="submit" { (bi("发布", "Post")) } }
        }
    }
}

/// `GET /portal/shortages/new`.
pub(crate) async fn new_form(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise]).await?;
    Ok(html_response(
        StatusCode::OK,
        page(
            Some(&s),
            "发布用工需求",
            "Post a shortage",
            shortage_form(&s, &Vec::new(), None),
        ),
    ))
}

/// The form's fields as the API's JSON body, or the field that is wrong.
fn body_of(f: &Pairs) -> Result<Value, (&'static str, String)> {
    let mut o = Map::new();
    let gap = field(f, "gap_id");
    let gap = if gap.is_empty() {
        format!(
            "g-{}-{}",
            crate::compose::now().market_date(),
            &crate::compose::hex(&rand::random::<[u8; 4]>())
        )
    } else {
        gap.to_owned()
    };
    o.insert("gap_id".into(), json!(gap));
    o.insert("region".into(), json!(field(f, "region")));
    let num = |name: &str| field(f, name).parse::<f64>().ok().filter(|x| x.is_finite());
    let whole = |name: &str| field(f, name).parse::<i64>().ok();
    let (Some(lat), Some(lon)) = (num("site_lat"), num("site_lon")) else {
        return Err((
            "site",
            "纬度和经度须为数字 / latitude and longitude must be numbers".into(),
        ));
    };
    o.insert("site".into(), json!({"lat": lat, "lon": lon}));
    let mut reqs = Vec::new();
    for i in 1..=3 {
        let skill = field(f, &format!("skill_{i}"));
        if skill.is_empty() {
            continue;
        }
        let Some(level) = whole(&format!("level_{i}")) else {
            return Err(("requirements", format!("技能 {i} 的等级须为 1–5 的整数 / the level of skill {i} must be a whole number 1–5")));
        };
        reqs.push(json!({"skill": skill, "min_level": level}));
    }
    o.insert("requirements".into(), json!(reqs));
    let certs: Vec<&str> = f
        .iter()
        .filter(|(k, _)| k == "certificates")
        .map(|(_, v)| v.as_str())
        .collect();
    o.insert("certificates".into(), json!(certs));
    let Some(headcount) = whole("headcount") else {
        return Err(("headcount", "须为整数 / must be a whole number".into()));
    };
    o.insert("headcount".into(), json!(headcount));
    o.insert(
        "window".into(),
        json!({"start": field(f, "start"), "end": field(f, "end")}),
    );
    let Some(hours) = whole("hours_per_day") else {
        return Err(("hours_per_day", "须为整数 / must be a whole number".into()));
    };
    o.insert("hours_per_day".into(), json!(hours));
    let Some(yuan) = num("wage_yuan").filter(|y| *y >= 0.0) else {
        return Err((
            "hourly_wage_fen",
            "须为金额，如 25.50 / must be an amount such as 25.50".into(),
        ));
    };
    o.insert(
        "hourly_wage_fen".into(),
        json!((yuan * 100.0).round() as i64),
    );
    for k in ["title", "description", "industry"] {
        if !field(f, k).is_empty() {
            o.insert(k.into(), json!(field(f, k)));
        }
    }
    Ok(Value::Object(o))
}

/// `POST /portal/shortages`: posts the form through the API's own path.
pub(crate) async fn create(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Form(f): Form<Pairs>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise]).await?;
    csrf_ok(&s, field(&f, "csrf"))?;
    let again = |field: &'static str, m: String| {
        html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                Some(&s),
                "发布用工需求",
                "Post a shortage",
                shortage_form(&s, &f, Some((field, m))),
            ),
        )
    };
    let body = match body_of(&f) {
        Ok(b) => b,
        Err((field, m)) => return Err(again(field, m)),
    };
    let mut h = HeaderMap::new();
    if let Ok(k) = HeaderValue::from_str(&format!("portal-{}", field(&f, "form_key"))) {
        h.insert("idempotency-key", k);
    }
    let gap = body["gap_id"].as_str().unwrap_or_default().to_owned();
    let bytes = serde_json::to_vec(&body).expect("serializable");
    match crate::routes::shortages::post_shortage_as(&g, &s.principal(), &h, &bytes).await {
        Ok(_) => Ok(Redirect::to(&format!("/portal/shortages/{gap}?posted=1")).into_response()),
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT =>
        {
            let fname = e.field.as_deref().unwrap_or("");
            let known = LABELS
                .iter()
                .find(|(f, ..)| fname.starts_with(f))
                .map_or("title", |(f, ..)| *f);
            Err(again(known, format!("{} ({fname})", e.message)))
        }
        Err(e) => Err(api_error_page(Some(&s), &e)),
    }
}

/// The steps `party` may take now, from the view's `allowed` lines
/// (`accept: borrower, worker`, `end completed: borrower`, …): (action,
/// outcome for `end`). A step allowed only from a later day is left out.
pub(crate) fn my_steps(v: &MatchView, party: Party) -> Vec<(String, Option<String>)> {
    let me = party.slug();
    let mut out = Vec::new();
    for line in &v.allowed {
        let Some((what, who)) = line.split_once(':') else {
            continue;
        };
        if who.contains("from ") || !who.split([',', ' ']).any(|p| p == me) {
            continue;
        }
        let mut w = what.split_whitespace();
        let action = w.next().unwrap_or("").to_owned();
        match w.next() {
            Some("cancelled") => {
                out.push((action.clone(), Some("cancelled".into())));
                out.push((action, Some("no_show".into())));
            }
            Some(o) => out.push((action, Some(o.to_owned()))),
            None => out.push((action, None)),
        }
    }
    out
}

fn step_label(action: &str, outcome: Option<&str>) -> (&'static str, &'static str) {
    match (action, outcome) {
        ("accept", _) => ("同意", "Accept"),
        ("decline", _) => ("拒绝", "Decline"),
        ("sign", _) => ("签署协议", "Sign the agreement"),
        ("start", _) => ("确认上岗", "Start"),
        ("end", Some("completed")) => ("确认完成", "Complete"),
        ("end", Some("returned")) => ("提前返回", "Return early"),
        ("end", Some("no_show")) => ("未到岗", "No-show"),
        ("end", Some("cancelled")) => ("取消用工", "Call off"),
        ("end", Some("terminated")) => ("终止借调", "Terminate"),
        _ => ("操作", "Act"),
    }
}

/// The steps of proposal `v` for `party`, as forms, and the agreement.
pub(crate) fn proposal_actions(s: &Session, v: &MatchView, party: Party, back: &str) -> Markup {
    let m = v.proposed.match_id.as_str();
    html! {
        @if v.agreement.is_some() {
            a href={ "/portal/proposals/" (m) "/agreement" } { (bi("阅读协议", "Read the agreement")) } " "
        }
        @for (action, outcome) in my_steps(v, party) {
            @let (zh, en) = step_label(&action, outcome.as_deref());
            @let path = if action == "end" && outcome.as_deref() == Some("returned") { "return".to_owned() } else { action.clone() };
            form method="post" action={ "/portal/proposals/" (m) "/" (path) } style="display:inline" {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="back" value=(back);
                @if let Some(o) = &outcome { input type="hidden" name="outcome" value=(o); }
                @if action == "sign" { input type="hidden" name="document_sha256" value=(v.agreement_sha256.as_ref().map(|h| h.to_string()).unwrap_or_default()); }
                button class=(if action == "decline" || outcome.as_deref() == Some("no_show") || outcome.as_deref() == Some("cancelled") { "quiet" } else { "" }) type="submit"
                    aria-label={ (zh) " " (en) " " (m) } { (zh) " " span.en lang="en" { (en) } }
            }
        }
    }
}

/// The borrower's work and pay forms of an assignment under way: report a
/// day's hours, and record a payment for a pay period still owed.
fn work_forms(s: &Session, v: &MatchView, back: &str) -> Markup {
    let m = v.proposed.match_id.as_str();
    let working = matches!(
        v.status.as_str(),
        "started" | "completed" | "returned" | "terminated"
    );
    if !working {
        return html! {};
    }
    let today = crate::compose::now().market_date();
    let hours = v.agreement.as_ref().map_or(8, |a| a.hours_per_day.get());
    let to = if v.lender_id.is_some() {
        "lender"
    } else {
        "worker"
    };
    html! {
        details {
            summary { (bi("报工时", "Report hours")) }
            form method="post" action={ "/portal/proposals/" (m) "/timesheet" } {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="back" value=(back);
                label for={ "date-" (m) } { (bi("日期", "Date")) }
                input id={ "date-" (m) } name="date" type="date" value=(today.to_string());
                label for={ "hours-" (m) } { (bi("工时（小时）", "Hours")) }
                input id={ "hours-" (m) } name="hours" inputmode="decimal" value=(hours);
                button type="submit" { (bi("提交", "Submit")) }
            }
        }
        @for r in v.ledger.iter().filter(|r| r.owed_fen > r.paid_by_borrower_fen) {
            form method="post" action={ "/portal/proposals/" (m) "/payment" } {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="back" value=(back);
                input type="hidden" name="to" value=(to);
                input type="hidden" name="period_start" value=(r.period.start.to_string());
                input type="hidden" name="period_end" value=(r.period.end.to_string());
                label for={ "pay-" (m) "-" (r.period.start) } {
                    (bi(&format!("{} — {} 应付 {} 元，付款金额", r.period.start, r.period.end, words::yuan(r.owed_fen - r.paid_by_borrower_fen)),
                        &format!("{} — {}: {} owed; amount paid", r.period.start, r.period.end, words::yuan(r.owed_fen - r.paid_by_borrower_fen))))
                }
                input id={ "pay-" (m) "-" (r.period.start) } name="amount_yuan" inputmode="decimal" value=(words::yuan(r.owed_fen - r.paid_by_borrower_fen));
                button type="submit" { (bi("记录付款", "Record the payment")) }
            }
        }
    }
}

/// `GET /portal/shortages/{id}`: a shortage and its proposals.
pub(crate) async fn detail(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise]).await?;
    let err = |e: ApiError| api_error_page(Some(&s), &e);
    if g.owner("gap", &id).await.map_err(err)?.as_deref() != Some(&s.id) {
        return Err(err(ApiError::not_found()));
    }
    let v: Option<GapView> = g
        .store
        .get(&g.keys.gap(&id))
        .await
        .map_err(|e| err(e.into()))?
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut mine: Vec<MatchView> = visible(&g, &s.principal())
        .await
        .map_err(err)?
        .into_iter()
        .filter(|p| p.proposed.gap_id.as_str() == id && p.enterprise_id.as_str() == s.id)
        .collect();
    mine.sort_by_key(|p| p.proposed.cost);
    let why = match &v {
        Some(v) if v.open > v.proposed && v.status == lendwork_state::views::GapStatus::Open => {
            Some(crate::routes::why_not::for_gap(&g, v).await.map_err(err)?)
        }
        _ => None,
    };
    let flash = uri.query().unwrap_or("");
    let back = format!("/portal/shortages/{id}");
    let body = html! {
        @if flash.contains("posted=1") { p.ok role="status" { (bi("已发布。推荐人选会在几秒内出现。", "Posted. Proposals appear within seconds.")) } }
        @if let Some(done) = flash.split('&').find_map(|kv| kv.strip_prefix("done=")) { p.ok role="status" { (bi("已提交：", "Done: ")) (done) } }
        @match &v {
            None => p { (bi("正在处理，请稍后刷新。", "Being processed; reload in a moment.")) }
            Some(v) => {
                @let (zh, en) = words::status(&serde_json::to_value(v.status).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default());
                div.box {
                    h2 { (v.title.as_ref().map_or(id.clone(), |t| t.as_str().to_owned())) }
                    p { (bi("状态：", "Status: ")) (zh) " " span.en lang="en" { (en) }
                        " · " (bi("人数", "Headcount")) " " (v.headcount)
                        " · " (bi("已确定", "agreed")) " " (v.filled)
                        " · " (bi("在岗", "working")) " " (v.started) }
                    p { (v.window.start) " — " (v.window.end) " · " (words::yuan(v.hourly_wage_fen.get())) " 元/小时 CNY/h · " (v.hours_per_day) " 小时/天 h/day · " (words::region(v.region.as_str()).0) }
                    p { (bi("技能：", "Skills: ")) @for (i, r) in v.requirements.iter().enumerate() {
                        @let (zh, en) = words::skill(r.skill.as_str());
                        @if i > 0 { "、" } (zh) " ≥" (r.min_level.get()) " " span.en lang="en" { (en) }
                    } }
                }
            }
        }
        @if let Some(w) = &why { (crate::routes::why_not::render(w)) }
        h2 { (bi("推荐人选", "Proposals")) " (" (mine.len()) ")" }
        @if mine.is_empty() {
            p { (bi("暂无推荐人选。", "No proposals yet.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (bi("人员", "Worker")) }
                    th scope="col" { (bi("推荐理由", "Why this worker")) }
                    th scope="col" { (bi("状态", "Status")) }
                    th scope="col" { (bi("操作", "Actions")) }
                } }
                tbody {
                    @for p in &mine {
                        @let (ezh, een) = words::explanation(&p.proposed.explanation.terms);
                        @let (szh, sen) = words::status(&p.status);
                        tr {
                            td { @if let Some(n) = &p.worker_name { (n.as_str()) br; } (p.proposed.worker_id) br; span.hint { @if p.lender_id.is_some() { (bi("借调员工", "employee on loan")) } @else { (bi("灵活就业人员", "flexible worker")) } } }
                            td { (ezh) br; span.en lang="en" { (een) } }
                            td { (szh) " " span.en lang="en" { (sen) } }
                            td { (proposal_actions(&s, p, Party::Borrower, &back)) (work_forms(&s, p, &back)) }
                        }
                    }
                }
            }
        }
        p { a href="/portal/shortages" { (bi("返回列表", "Back to the list")) } }
    };
    Ok(html_response(
        StatusCode::OK,
        page(Some(&s), "用工需求", "Shortage", body),
    ))
}

/// The party `s` is to `v`, or 404.
async fn party_of(g: &Gateway, s: &Session, v: &MatchView) -> Result<Party, Response> {
    match g.party(&s.principal(), v).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(api_error_page(Some(s), &ApiError::not_found())),
        Err(e) => Err(api_error_page(Some(s), &e)),
    }
}

/// `GET /portal/proposals/{id}/agreement`: the agreement pack to read
/// and print.
pub(crate) async fn agreement(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    let v = g
        .view(&id)
        .await
        .map_err(|e| api_error_page(Some(&s), &e))?
        .ok_or_else(|| api_error_page(Some(&s), &ApiError::not_found()))?;
    party_of(&g, &s, &v).await?;
    crate::routes::proposals::agreement_page(&v).map_err(|e| api_error_page(Some(&s), &e))
}

/// `POST /portal/proposals/{id}/{action}`: a step, through the API's own
/// path (the state machine decides; a refused step shows why).
pub(crate) async fn act(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<Pairs>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    csrf_ok(&s, field(&f, "csrf"))?;
    let v = g
        .view(&id)
        .await
        .map_err(|e| api_error_page(Some(&s), &e))?
        .ok_or_else(|| api_error_page(Some(&s), &ApiError::not_found()))?;
    let party = party_of(&g, &s, &v).await?;
    let back = field(&f, "back");
    // Only a path inside the portal: never a redirect elsewhere.
    let back = if back.starts_with("/portal/") && !back.contains("//") && !back.contains('\\') {
        back.to_owned()
    } else {
        "/portal".to_owned()
    };
    if action == "worker-link" {
        return super::lender::link_page(&g, &s, &id).await;
    }
    let Some(a) = Action::parse(&action) else {
        return Err(api_error_page(Some(&s), &ApiError::not_found()));
    };
    let mut body = Map::new();
    if a == Action::Sign {
        body.insert(
            "document_sha256".into(),
            json!(field(&f, "document_sha256")),
        );
    }
    if a == Action::End {
        body.insert("outcome".into(), json!(field(&f, "outcome")));
    }
    if a == Action::Timesheet {
        let Some(minutes) = field(&f, "hours")
            .parse::<f64>()
            .ok()
            .filter(|h| h.is_finite() && *h >= 0.0)
            .map(|h| (h * 60.0).round() as i64)
        else {
            return Err(super::error_page(
                Some(&s),
                StatusCode::UNPROCESSABLE_ENTITY,
                "工时须为数字，如 7.5",
                "Hours must be a number such as 7.5",
            ));
        };
        body.insert("date".into(), json!(field(&f, "date")));
        body.insert("minutes".into(), json!(minutes));
    }
    if a == Action::Payment {
        let Some(fen) = field(&f, "amount_yuan")
            .parse::<f64>()
            .ok()
            .filter(|y| y.is_finite() && *y >= 0.0)
            .map(|y| (y * 100.0).round() as i64)
        else {
            return Err(super::error_page(
                Some(&s),
                StatusCode::UNPROCESSABLE_ENTITY,
                "金额须为数字，如 1200.00",
                "The amount must be a number such as 1200.00",
            ));
        };
        body.insert("to".into(), json!(field(&f, "to")));
        body.insert("amount_fen".into(), json!(fen));
        body.insert(
            "period".into(),
            json!({"start": field(&f, "period_start"), "end": field(&f, "period_end")}),
        );
    }
    let bytes = serde_json::to_vec(&body).expect("serializable");
    match perform(&g, &s.principal(), &HeaderMap::new(), &v, party, a, &bytes).await {
        Ok(_) => {
            let sep = if back.contains('?') { '&' } else { '?' };
            Ok(Redirect::to(&format!("{back}{sep}done={action}")).into_response())
        }
        Err(e) => Err(api_error_page(Some(&s), &e)),
    }
}

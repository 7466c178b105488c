//! The public board: open positions and available workers by region,
//! skill and date, free to read without signing in (as employment
//! services are asked to publish supply and demand), as a page
//! (`/board`), JSON (`/v1/board`) and RSS (`/board.rss`).
//!
//! What it never shows: a worker's id, name, home or employer (workers
//! appear only as counts per region and skill, and a count under
//! [`MIN_COUNT`] is left out, so that one person cannot be singled out);
//! an enterprise's id or a gap's id (a gap's own id often carries its
//! enterprise's): a position is named by a keyed digest of its gap id,
//! stable across reads. An enterprise is never named, as the contract has
//! no opt-in for it yet.
//!
//! The board is built from the read models by a scan of the gap and worker
//! views, at most once every [`BOARD_TTL`] (a public page must not let a
//! crowd of readers scan the store per request); a shortage posted is on
//! the board within that time plus the matcher's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::Mac;
use lendwork_domain::{Date, Window};
use lendwork_state::views::{GapStatus, GapView, WorkerStatus, WorkerView};
use maud::html;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use lendwork_domain::agreement::esc;

use super::{bi, html_response, session, words};
use crate::compose::hex;
use crate::error::ApiError;
use crate::Gateway;

/// How long a built board is served.
pub const BOARD_TTL: Duration = Duration::from_secs(2);
/// The smallest count of workers shown.
pub const MIN_COUNT: u64 = 3;

/// An open position as published.
#[derive(Clone, Debug, Serialize)]
pub struct Position {
    /// A stable public id (not the gap's).
    pub id: String,
    /// Region code.
    pub region: String,
    /// Region name (Chinese).
    pub region_name: String,
    /// The post's title, when the enterprise gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Industry slug, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Skills asked for: slug, Chinese and English names, lowest level.
    pub skills: Vec<SkillAsked>,
    /// Certificates asked for (slugs).
    pub certificates: Vec<String>,
    /// Positions not yet filled.
    pub open: u32,
    /// Days of work.
    pub window: Window,
    /// Wage offered.
    pub hourly_wage_fen: i64,
    /// Hours a day.
    pub hours_per_day: u8,
    /// When it was posted (RFC 3339).
    pub posted_at: String,
}

/// A skill asked for.
#[derive(Clone, Debug, Serialize)]
pub struct SkillAsked {
    /// Slug.
    pub skill: String,
    /// Chinese name.
    pub zh: String,
    /// English name.
    pub en: String,
    /// Lowest level.
    pub min_level: u8,
}

/// Available workers of one region and skill.
#[derive(Clone, Debug, Serialize)]
pub struct Supply {
    /// Region code.
    pub region: String,
    /// Region name (Chinese).
    pub region_name: String,
    /// Skill slug.
    pub skill: String,
    /// Skill's Chinese name.
    pub zh: String,
    /// Skill's English name.
    pub en: String,
    /// Workers available (at least [`MIN_COUNT`]).
    pub workers: u64,
}

/// What the board is built from (no worker identity is kept).
#[derive(Debug, Default)]
pub(crate) struct Built {
    positions: Vec<(Position, Window)>,
    /// Per available worker: region, skills, availability.
    workers: Vec<(String, Vec<String>, Window)>,
}

/// The board's query; unknown parameters are refused by name.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct BoardQuery {
    region: Option<String>,
    skill: Option<String>,
    date: Option<String>,
}

struct Filter {
    region: Option<String>,
    skill: Option<String>,
    date: Option<Date>,
}

fn filter(uri: &Uri) -> Result<(Filter, BoardQuery), ApiError> {
    let q: BoardQuery = crate::routes::listing::query(uri)?;
    let bad = crate::routes::listing::bad;
    let region = q.region.clone().filter(|r| !r.is_empty());
    if let Some(r) = &region {
        lendwork_domain::Region::new(r.as_str()).map_err(|e| bad("region", e.to_string()))?;
    }
    let skill = match q.skill.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match lendwork_domain::vocab::vocabulary().skill(s) {
            lendwork_domain::vocab::Lookup::Found(x) => Some(x.to_owned()),
            lendwork_domain::vocab::Lookup::Slug(x) => Some(x),
            lendwork_domain::vocab::Lookup::Unknown(near) => {
                return Err(bad("skill", crate::compose::unknown_name(s, true, &near)))
            }
        },
    };
    let date = match q.date.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => Some(Date::parse(d).map_err(|e| bad("date", e.to_string()))?),
    };
    Ok((
        Filter {
            region,
            skill,
            date,
        },
        q,
    ))
}

impl Gateway {
    /// The board's material, rebuilt at most every [`BOARD_TTL`].
    pub(crate) async fn board(&self) -> Result<Arc<Built>, ApiError> {
        if let Some((at, b)) = self.board_cache.lock().expect("not poisoned").as_ref() {
            if at.elapsed() < BOARD_TTL {
                return Ok(b.clone());
            }
        }
        let today = crate::compose::now().market_date();
        let key = self.pseudonym_key().await?;
        let mut built = Built::default();
        for (_, b) in self.store.scan_prefix(&self.keys.gaps()).await? {
            let Ok(v) = serde_json::from_slice::<GapView>(&b) else {
                continue;
            };
            if v.status != GapStatus::Open || v.open == 0 || v.window.end < today {
                continue;
            }
            let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).expect("any key");
            mac.update(b"board\0");
            mac.update(v.gap_id.as_str().as_bytes());
            let (region_name, _) = words::region(v.region.as_str());
            let p = Position {
                id: format!("pos-{}", &hex(&mac.finalize().into_bytes())[..12]),
                region: v.region.to_string(),
                region_name,
                title: v.title.as_ref().map(|t| t.as_str().to_owned()),
                industry: v.industry.as_ref().map(|i| i.as_str().to_owned()),
                skills: v
                    .requirements
                    .iter()
                    .map(|r| {
                        let (zh, en) = words::skill(r.skill.as_str());
                        SkillAsked {
                            skill: r.skill.to_string(),
                            zh,
                            en,
                            min_level: r.min_level.get(),
                        }
                    })
                    .collect(),
                certificates: v.certificates.iter().map(|c| c.to_string()).collect(),
                open: v.open,
                window: v.window,
                hourly_wage_fen: v.hourly_wage_fen.get(),
                hours_per_day: v.hours_per_day,
                posted_at: v.posted_at.to_string(),
            };
            built.positions.push((p, v.window));
        }
        built
            .positions
            .sort_by(|a, b| b.0.posted_at.cmp(&a.0.posted_at).then(a.0.id.cmp(&b.0.id)));
        for (_, b) in self.store.scan_prefix(&self.keys.workers()).await? {
            let Ok(v) = serde_json::from_slice::<WorkerView>(&b) else {
                continue;
            };
            if v.status != WorkerStatus::Available
                || !v.offer.consent
                || v.offer.available.end < today
            {
                continue;
            }
            built.workers.push((
                v.offer.region.to_string(),
                v.offer.skills.iter().map(|s| s.skill.to_string()).collect(),
                v.offer.available,
            ));
        }
        let built = Arc::new(built);
        *self.board_cache.lock().expect("not poisoned") = Some((Instant::now(), built.clone()));
        Ok(built)
    }
}

fn select(b: &Built, f: &Filter) -> (Vec<Position>, Vec<Supply>) {
    let on = |w: &Window| f.date.map_or(true, |d| w.start <= d && d <= w.end);
    let positions = b
        .positions
        .iter()
        .filter(|(p, w)| {
            f.region.as_deref().map_or(true, |r| p.region == r)
                && f.skill
                    .as_deref()
                    .map_or(true, |s| p.skills.iter().any(|x| x.skill == s))
                && on(w)
        })
        .map(|(p, _)| p.clone())
        .collect();
    let mut counts: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for (region, skills, w) in &b.workers {
        if f.region.as_deref().is_some_and(|r| r != region) || !on(w) {
            continue;
        }
        for s in skills {
            if f.skill.as_deref().map_or(true, |x| x == s) {
                *counts.entry((region.clone(), s.clone())).or_default() += 1;
            }
        }
    }
    let supply = counts
        .into_iter()
        .filter(|(_, n)| *n >= MIN_COUNT)
        .map(|((region, skill), workers)| {
            let (zh, en) = words::skill(&skill);
            Supply {
                region_name: words::region(&region).0,
                region,
                skill,
                zh,
                en,
                workers,
            }
        })
        .collect();
    (positions, supply)
}

/// `GET /v1/board?region=&skill=&date=`: the board as JSON.
pub(crate) async fn json(State(g): State<Arc<Gateway>>, uri: Uri) -> Result<Response, ApiError> {
    let (f, _) = filter(&uri)?;
    let b = g.board().await?;
    let (positions, supply) = select(&b, &f);
    Ok(Json(serde_json::json!({
        "positions": positions,
        "supply": supply,
        "min_count": MIN_COUNT,
    }))
    .into_response())
}

/// RFC 3339 (`2026-12-06T07:00:00Z`) as RFC 822, which RSS asks for.
fn rfc822(t: &str) -> String {
    let Ok(d) = Date::parse(t.get(..10).unwrap_or("")) else {
        return String::new();
    };
    let days = Date::parse("1970-01-01").expect("a date").days_until(d);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(t[5..7].parse::<usize>().unwrap_or(1)).clamp(1, 12) - 1];
    format!(
        "{weekday}, {} {month} {} {} GMT",
        &t[8..10],
        &t[..4],
        t.get(11..19).unwrap_or("00:00:00")
    )
}

fn headline(p: &Position) -> String {
    let skills: Vec<&str> = p.skills.iter().map(|s| s.zh.as_str()).collect();
    format!(
        "{} · {} · {} 人 · {} 元/小时",
        p.title.clone().unwrap_or_else(|| skills.join("、")),
        p.region_name,
        p.open,
        words::yuan(p.hourly_wage_fen)
    )
}

/// `GET /board.rss`: the open positions, newest first, as RSS 2.0.
pub(crate) async fn rss(State(g): State<Arc<Gateway>>, uri: Uri) -> Result<Response, ApiError> {
    let (f, _) = filter(&uri)?;
    let b = g.board().await?;
    let (positions, _) = select(&b, &f);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>共享用工供求信息 Lendwork board</title><link>/board</link>\
         <description>开放岗位 Open positions</description><language>zh-cn</language>",
    );
    for p in positions.iter().take(100) {
        out.push_str(&format!(
            "<item><title>{}</title><link>/board#{}</link><guid isPermaLink=\"false\">{}</guid><pubDate>{}</pubDate><description>{}</description></item>",
            esc(&headline(p)),
            esc(&p.id),
            esc(&p.id),
            rfc822(&p.posted_at),
            esc(&format!("{} — {} · 每天 {} 小时", p.window.start, p.window.end, p.hours_per_day)),
        ));
    }
    out.push_str("</channel></rss>\n");
    Ok((
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        out,
    )
        .into_response())
}

/// `GET /board`: the page.
pub(crate) async fn page(
    State(g): State<Arc<Gateway>>,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> Response {
    let s = session(&g, &headers).await.ok().flatten();
    let (f, q) = match filter(&uri) {
        Ok(x) => x,
        Err(e) => return super::api_error_page(s.as_ref(), &e),
    };
    let b = match g.board().await {
        Ok(b) => b,
        Err(e) => return super::api_error_page(s.as_ref(), &e),
    };
    let (positions, supply) = select(&b, &f);
    let vocab = lendwork_domain::vocab::vocabulary();
    let body = html! {
        p.hint { (bi("本页免费公开各地区的用工需求和可借调人员数量，不显示任何个人或单位信息。",
            "Open positions and available workers by region, free to read; no person or enterprise is shown.")) }
        form.box method="get" action="/board" {
            div.row {
                div {
                    label for="region" { (bi("地区", "Region")) }
                    select id="region" name="region" {
                        option value="" { "全部 All" }
                        @for (code, zh, en) in lendwork_domain::vocab::REGIONS {
                            option value=(code) selected[q.region.as_deref() == Some(*code)] { (zh) " " (en) }
                        }
                    }
                }
                div {
                    label for="skill" { (bi("技能", "Skill")) }
                    select id="skill" name="skill" {
                        option value="" { "全部 All" }
                        @for t in vocab.skills {
                            option value=(t.slug) selected[f.skill.as_deref() == Some(t.slug)] { (t.zh) " " (t.en) }
                        }
                    }
                }
                div {
                    label for="date" { (bi("日期", "Date")) }
                    input id="date" name="date" type="date" value=(q.date.clone().unwrap_or_default());
                }
            }
            button type="submit" { (bi("筛选", "Filter")) }
        }
        h2 { (bi("开放岗位", "Open positions")) " (" (positions.len()) ")" }
        @if positions.is_empty() {
            p { (bi("暂无符合条件的岗位。", "No open positions match.")) }
        } @else {
            table {
                caption.hint { (bi("按发布时间排序，最新在前", "Newest first")) }
                thead { tr {
                    th scope="col" { (bi("岗位", "Post")) }
                    th scope="col" { (bi("地区", "Region")) }
                    th scope="col" { (bi("技能要求", "Skills")) }
                    th scope="col" { (bi("人数", "Open")) }
                    th scope="col" { (bi("日期", "Days")) }
                    th scope="col" { (bi("工资（元/小时）", "Wage (CNY/h)")) }
                } }
                tbody {
                    @for p in &positions {
                        tr id=(p.id) {
                            td { (p.title.clone().unwrap_or_else(|| "—".into())) }
                            td { (p.region_name) }
                            td { @for (i, s) in p.skills.iter().enumerate() {
                                @if i > 0 { "、" } (s.zh) " ≥" (s.min_level) " " span.en lang="en" { (s.en) }
                            } }
                            td { (p.open) }
                            td { (p.window.start) " — " (p.window.end) br; span.hint { "每天 " (p.hours_per_day) " 小时 h/day" } }
                            td { (words::yuan(p.hourly_wage_fen)) }
                        }
                    }
                }
            }
        }
        h2 { (bi("可借调人员", "Available workers")) }
        p.hint { (bi(&format!("按地区和技能统计；不足 {MIN_COUNT} 人的组合不显示。"),
            &format!("Counted by region and skill; groups of fewer than {MIN_COUNT} are not shown."))) }
        @if supply.is_empty() {
            p { (bi("暂无可显示的数据。", "Nothing to show.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (bi("地区", "Region")) }
                    th scope="col" { (bi("技能", "Skill")) }
                    th scope="col" { (bi("人数", "Workers")) }
                } }
                tbody { @for x in &supply { tr { td { (x.region_name) } td { (x.zh) " " span.en lang="en" { (x.en) } } td { (x.workers) } } } }
            }
        }
        p { a href="/v1/board" { "JSON" } " · " a href="/board.rss" { "RSS" } }
    };
    html_response(
        StatusCode::OK,
        super::page(s.as_ref(), "共享用工供求信息", "Supply and demand", body),
    )
}

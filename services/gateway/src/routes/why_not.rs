//! Why a gap has fewer proposals than positions, and why a worker is not
//! proposed: `GET /v1/shortages/{id}/why-not`, `GET /v1/workers/{id}/why-not`.
//!
//! The answer is the eligibility rules of DESIGN §3 run over the other
//! side of the gap's (or worker's) region, from the read models: how many
//! candidates fail each rule (counted at the first rule they fail), how
//! many pass rules 1–8, how many of those are proposed, and the nearest
//! misses — candidates that fail exactly one rule — grouped by what would
//! change them ("时薪提高到 26 元可多 4 人", "3 人缺少叉车证"). Rules 9
//! (no overlap) and 10 (not blocked) and the matching's own choice are
//! the engine's state, not the read models': candidates that pass 1–8 and
//! are not proposed are counted together as "busy or better placed".
//!
//! A borrower learns no worker's identity from it: misses are counts per
//! change, never ids. The cost is one read of the region's views per
//! request (the region's index set, then its views).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use lendwork_domain::{haversine_km, Rule, ShortagePosted, WorkerOffered};
use lendwork_state::views::{GapStatus, GapView, WorkerStatus, WorkerView};
use maud::{html, Markup};
use serde::Serialize;

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::portal::{bi, words};
use crate::Gateway;

/// Candidates that fail one rule, grouped by what would change them.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NearMiss {
    /// The rule they fail.
    pub rule: &'static str,
    /// What would change (Chinese).
    pub zh: String,
    /// What would change (English).
    pub en: String,
    /// How many.
    pub count: u64,
}

/// Why a gap has the proposals it has.
#[derive(Clone, Debug, Serialize)]
pub struct GapWhyNot {
    /// Positions not agreed yet.
    pub open: u32,
    /// Proposals waiting.
    pub proposed: u32,
    /// Workers offered in the region and available.
    pub candidates: u64,
    /// Candidates counted at the first rule they fail (rules 2–8).
    pub failing: BTreeMap<&'static str, u64>,
    /// Candidates passing rules 1–8.
    pub eligible: u64,
    /// Of those, proposed to this gap now.
    pub proposed_here: u64,
    /// Of those, not proposed: busy elsewhere (rule 9), blocked (rule 10)
    /// or better placed in another gap by the matching.
    pub busy_or_elsewhere: u64,
    /// The nearest misses, most first.
    pub near_misses: Vec<NearMiss>,
}

/// Why a worker is proposed where they are.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerWhyNot {
    /// Open gaps in the worker's region.
    pub open_gaps: u64,
    /// Gaps counted at the first rule the worker fails for them.
    pub failing: BTreeMap<&'static str, u64>,
    /// Gaps whose rules 1–8 the worker passes.
    pub eligible: u64,
    /// Proposals of the worker waiting or agreed now.
    pub proposed: u64,
    /// The nearest misses: gaps the worker fails by one rule, grouped.
    pub near_misses: Vec<NearMiss>,
}

/// The rules 2–8 in order (rule 1 holds inside a region; 9 and 10 are the
/// engine's).
fn read_rules() -> &'static [Rule] {
    &Rule::V1[1..8]
}

/// The rules of 2–8 that `w` fails for `g`.
fn failed(w: &WorkerOffered, g: &ShortagePosted) -> Vec<Rule> {
    read_rules()
        .iter()
        .copied()
        .filter(|r| !r.holds(w, g, &[]))
        .collect()
}

/// What would change a pair that fails only `rule`, in words; `borrower`:
/// said to the borrower (else to the worker's side).
fn change(rule: Rule, w: &WorkerOffered, g: &ShortagePosted, borrower: bool) -> (String, String) {
    match rule {
        Rule::Skills => {
            let r = g
                .requirements
                .iter()
                .find(|r| {
                    !w.skills
                        .iter()
                        .any(|s| s.skill == r.skill && s.level >= r.min_level)
                })
                .expect("the rule fails for some requirement");
            let (zh, en) = words::skill(r.skill.as_str());
            match w.skills.iter().find(|s| s.skill == r.skill) {
                Some(s) => (
                    format!(
                        "{zh}等级 {} 级，要求 {} 级",
                        s.level.get(),
                        r.min_level.get()
                    ),
                    format!(
                        "{en} at level {}, {} required",
                        s.level.get(),
                        r.min_level.get()
                    ),
                ),
                None => (format!("缺少技能：{zh}"), format!("lacks the skill {en}")),
            }
        }
        Rule::Certificates => {
            let c = g
                .certificates
                .iter()
                .find(|c| !w.certificates.contains(c))
                .expect("the rule fails for some certificate");
            let (zh, en) = words::certificate(c.as_str());
            (
                format!("缺少证书：{zh}"),
                format!("lacks the certificate {en}"),
            )
        }
        Rule::Availability => (
            "可工作日期不覆盖用工日期".into(),
            "available days do not cover the days of work".into(),
        ),
        Rule::Commute => {
            let d = haversine_km(&w.home, &g.site);
            let band = (d / 5.0).floor() as u64 * 5;
            (
                format!("通勤 {band}–{} 公里，超出通勤上限", band + 5),
                format!("commute {band}–{} km, beyond the limit", band + 5),
            )
        }
        Rule::Wage => {
            let want = w.min_hourly_wage_fen.get();
            if borrower {
                (
                    format!("时薪提高到 {} 元/小时", words::yuan(want)),
                    format!("a wage of ¥{}/h", words::yuan(want)),
                )
            } else {
                (
                    format!(
                        "岗位时薪 {} 元/小时，低于本人最低要求",
                        words::yuan(g.hourly_wage_fen.get())
                    ),
                    format!(
                        "pays ¥{}/h, below the worker's minimum",
                        words::yuan(g.hourly_wage_fen.get())
                    ),
                )
            }
        }
        Rule::ConsentAndContract => (
            "未同意借调，或劳动合同在用工结束前到期".into(),
            "no consent to be lent, or the contract ends before the work does".into(),
        ),
        Rule::NotOwnEmployer => ("是本单位员工".into(), "the borrower's own employee".into()),
        _ => (rule.slug().into(), rule.slug().into()),
    }
}

fn group(misses: BTreeMap<(&'static str, String, String), u64>) -> Vec<NearMiss> {
    let mut out: Vec<NearMiss> = misses
        .into_iter()
        .map(|((rule, zh, en), count)| NearMiss {
            rule,
            zh,
            en,
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.zh.cmp(&b.zh)));
    out.truncate(8);
    out
}

async fn members(g: &Gateway, set: String) -> Result<Vec<String>, ApiError> {
    Ok(g.store
        .members_many(&[set])
        .await?
        .pop()
        .unwrap_or_default())
}

/// The available workers offered in region `r`, from its index set.
async fn workers_in(g: &Gateway, r: &str) -> Result<Vec<WorkerView>, ApiError> {
    let ids = members(g, g.keys.region_workers(r)).await?;
    let keys: Vec<String> = ids.iter().map(|w| g.keys.worker(w)).collect();
    Ok(g.store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice::<WorkerView>(&b).ok())
        .filter(|w| w.status == WorkerStatus::Available && w.offer.region.as_str() == r)
        .collect())
}

/// The open gaps of region `r` (positions open, window not over), from
/// its index set.
async fn open_gaps_in(g: &Gateway, r: &str) -> Result<Vec<GapView>, ApiError> {
    let ids = members(g, g.keys.region_gaps(r)).await?;
    let keys: Vec<String> = ids.iter().map(|x| g.keys.gap(x)).collect();
    let today = crate::compose::now().market_date();
    Ok(g.store
        .get_many(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|b| serde_json::from_slice::<GapView>(&b).ok())
        .filter(|v| {
            v.status == GapStatus::Open
                && v.open > 0
                && v.window.end >= today
                && v.region.as_str() == r
        })
        .collect())
}

/// Counts a pair's failed rules `f` (at the first, or as eligible) and
/// returns the one rule it fails alone, if that is a near miss.
fn tally(
    f: &[Rule],
    failing: &mut BTreeMap<&'static str, u64>,
    eligible: &mut u64,
) -> Option<Rule> {
    match f.first() {
        None => *eligible += 1,
        Some(r) => *failing.entry(r.slug()).or_default() += 1,
    }
    match f {
        [only] if *only != Rule::NotOwnEmployer => Some(*only),
        _ => None,
    }
}

/// The why-not of gap view `v`.
pub async fn for_gap(g: &Gateway, v: &GapView) -> Result<GapWhyNot, ApiError> {
    let post = v.post();
    let mut out = GapWhyNot {
        open: v.open,
        proposed: v.proposed,
        candidates: 0,
        failing: BTreeMap::new(),
        eligible: 0,
        proposed_here: u64::from(v.proposed),
        busy_or_elsewhere: 0,
        near_misses: Vec::new(),
    };
    let Some(post) = post else {
        return Ok(out);
    };
    let mut misses = BTreeMap::new();
    for w in workers_in(g, v.region.as_str()).await? {
        out.candidates += 1;
        let f = failed(&w.offer, &post);
        if let Some(only) = tally(&f, &mut out.failing, &mut out.eligible) {
            let (zh, en) = change(only, &w.offer, &post, true);
            *misses.entry((only.slug(), zh, en)).or_default() += 1;
        }
    }
    out.proposed_here = out.proposed_here.min(out.eligible);
    out.busy_or_elsewhere = out.eligible - out.proposed_here;
    out.near_misses = group(misses);
    Ok(out)
}

/// The why-not of worker view `w`; `proposed`: the worker's live proposals.
pub async fn for_worker(
    g: &Gateway,
    w: &WorkerView,
    proposed: u64,
) -> Result<WorkerWhyNot, ApiError> {
    let mut out = WorkerWhyNot {
        open_gaps: 0,
        failing: BTreeMap::new(),
        eligible: 0,
        proposed,
        near_misses: Vec::new(),
    };
    let mut misses = BTreeMap::new();
    for v in open_gaps_in(g, w.offer.region.as_str()).await? {
        let Some(post) = v.post() else {
            continue;
        };
        out.open_gaps += 1;
        let f = failed(&w.offer, &post);
        if let Some(only) = tally(&f, &mut out.failing, &mut out.eligible) {
            let (zh, en) = change(only, &w.offer, &post, false);
            *misses.entry((only.slug(), zh, en)).or_default() += u64::from(v.open);
        }
    }
    out.near_misses = group(misses);
    Ok(out)
}

fn rule_words(slug: &str) -> (&'static str, &'static str) {
    match slug {
        "not_own_employer" => ("本单位员工", "own employees"),
        "consent_and_contract" => ("未同意借调或合同到期", "no consent or contract ends"),
        "skills" => ("技能不符", "skills"),
        "certificates" => ("缺少证书", "certificates"),
        "availability" => ("日期不合", "available days"),
        "commute" => ("通勤太远", "commute"),
        "wage" => ("工资低于要求", "wage"),
        _ => ("其他", "other"),
    }
}

/// A gap's why-not as a box of the borrower's page.
pub fn render(w: &GapWhyNot) -> Markup {
    html! {
        section.box aria-labelledby="why-title" {
            h2 id="why-title" { (bi("为什么推荐人选少于空缺？", "Why fewer proposals than positions?")) }
            p { (bi(&format!("本地区可借调人员 {} 人，其中 {} 人符合条件，{} 人已推荐给本需求，{} 人已有其他安排或更适合其他需求。",
                w.candidates, w.eligible, w.proposed_here, w.busy_or_elsewhere),
                &format!("{} workers available in the region; {} meet the rules, {} are proposed here, {} are busy or better placed elsewhere.",
                w.candidates, w.eligible, w.proposed_here, w.busy_or_elsewhere))) }
            @if !w.failing.is_empty() {
                table {
                    caption { (bi("不符合条件的原因（按第一条不符合的规则计）", "Why the others do not fit (first rule failed)")) }
                    thead { tr { th scope="col" { (bi("原因", "Reason")) } th scope="col" { (bi("人数", "Workers")) } } }
                    tbody { @for (rule, n) in &w.failing { @let (zh, en) = rule_words(rule); tr { td { (zh) " " span.en lang="en" { (en) } } td { (n) } } } }
                }
            }
            @if !w.near_misses.is_empty() {
                h3 { (bi("只差一项的人员", "Workers one change away")) }
                ul { @for m in &w.near_misses { li { (m.zh) " — " (m.count) " 人 " span.en lang="en" { "(" (m.en) ": " (m.count) ")" } } } }
            }
        }
    }
}

/// The caller's own gap or worker view for a why-not (`kind` `gap` or
/// `worker`): 404 for a path that is not `…/why-not` or an id the caller
/// does not own, 409 while the matcher has not written the view yet.
async fn own_view<V: serde::de::DeserializeOwned>(
    g: &Gateway,
    headers: &HeaderMap,
    roles: &[Role],
    (kind, id, what): (&str, &str, &str),
) -> Result<(crate::Principal, V), ApiError> {
    if what != "why-not" {
        return Err(ApiError::not_found());
    }
    let p = g.authenticate(headers, None)?;
    g.require(&p, roles)?;
    if g.owner(kind, id).await?.as_deref() != Some(&p.id) {
        return Err(ApiError::not_found());
    }
    let key = if kind == "gap" {
        g.keys.gap(id)
    } else {
        g.keys.worker(id)
    };
    let Some(b) = g.store.get(&key).await? else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            None,
            format!("the {kind} is still being processed; ask again in a moment"),
        ));
    };
    let v = serde_json::from_slice(&b).map_err(|_| ApiError::not_found())?;
    Ok((p, v))
}

/// `GET /v1/shortages/{id}/why-not` (the borrower's).
pub(crate) async fn gap(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
) -> ApiResult {
    let (_, v): (_, GapView) =
        own_view(&g, &headers, &[Role::Enterprise], ("gap", &id, &what)).await?;
    Ok(Json(for_gap(&g, &v).await?).into_response())
}

/// `GET /v1/workers/{id}/why-not` (the worker's lender or agency).
pub(crate) async fn worker(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
) -> ApiResult {
    let roles = [Role::Enterprise, Role::Agency];
    let (p, w): (_, WorkerView) = own_view(&g, &headers, &roles, ("worker", &id, &what)).await?;
    let live = crate::routes::proposals::visible(&g, &p)
        .await?
        .iter()
        .filter(|m| {
            m.proposed.worker_id.as_str() == id
                && matches!(
                    m.status.as_str(),
                    "proposed" | "agreed" | "signed" | "started"
                )
        })
        .count() as u64;
    Ok(Json(for_worker(&g, &w, live).await?).into_response())
}

/// One line of the training needs: a skill at a level, or a certificate,
/// in a region; the open positions short of proposals that ask for it,
/// and the workers it alone keeps out.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Need {
    /// Region code.
    pub region: String,
    /// Region name (Chinese).
    pub region_name: String,
    /// `skill` or `certificate`.
    pub kind: &'static str,
    /// The skill's or certificate's slug.
    pub slug: String,
    /// Chinese name.
    pub zh: String,
    /// English name.
    pub en: String,
    /// The level asked for (skills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    /// Open positions without a proposal whose gaps ask for it.
    pub positions_short: u64,
    /// Available workers whom only this keeps out of one of those gaps
    /// (one training or certificate away).
    pub workers_one_away: u64,
}

/// The training needs of `region` (or every region with a view): from the
/// why-not of the gaps short of proposals, the skills, levels and
/// certificates that would fill the most positions if more workers held
/// them — the list an office takes to its training providers.
pub async fn training_needs(g: &Gateway, region: Option<&str>) -> Result<Vec<Need>, ApiError> {
    use std::collections::{HashMap, HashSet};
    let regions: Vec<String> = match region {
        Some(r) => vec![r.to_owned()],
        None => {
            let prefix = g.keys.regions();
            g.store
                .scan_prefix(&prefix)
                .await?
                .into_iter()
                .map(|(k, _)| k[prefix.len()..].to_owned())
                .collect()
        }
    };
    let mut out = Vec::new();
    for r in regions {
        let short: Vec<(ShortagePosted, u64)> = open_gaps_in(g, &r)
            .await?
            .into_iter()
            .filter_map(|v| {
                let lack = u64::from(v.open.saturating_sub(v.proposed));
                (lack > 0).then(|| v.post().map(|p| (p, lack))).flatten()
            })
            .collect();
        if short.is_empty() {
            continue;
        }
        // (kind, slug, level) → positions short.
        let mut need: HashMap<(&'static str, String, Option<u8>), u64> = HashMap::new();
        for (p, lack) in &short {
            for q in &p.requirements {
                *need
                    .entry(("skill", q.skill.to_string(), Some(q.min_level.get())))
                    .or_default() += lack;
            }
            for c in &p.certificates {
                *need
                    .entry(("certificate", c.to_string(), None))
                    .or_default() += lack;
            }
        }
        let mut away: HashMap<(&'static str, String, Option<u8>), HashSet<String>> = HashMap::new();
        for w in workers_in(g, &r).await? {
            for (p, _) in &short {
                let key = match failed(&w.offer, p)[..] {
                    [Rule::Skills] => p
                        .requirements
                        .iter()
                        .filter(|q| {
                            !w.offer
                                .skills
                                .iter()
                                .any(|s| s.skill == q.skill && s.level >= q.min_level)
                        })
                        .map(|q| ("skill", q.skill.to_string(), Some(q.min_level.get())))
                        .collect::<Vec<_>>(),
                    [Rule::Certificates] => p
                        .certificates
                        .iter()
                        .filter(|c| !w.offer.certificates.contains(c))
                        .map(|c| ("certificate", c.to_string(), None))
                        .collect(),
                    _ => continue,
                };
                // One thing missing: that is the training.
                if let [one] = &key[..] {
                    away.entry(one.clone())
                        .or_default()
                        .insert(w.offer.worker_id.to_string());
                }
            }
        }
        let (region_name, _) = words::region(&r);
        for ((kind, slug, level), positions_short) in need {
            let (zh, en) = if kind == "skill" {
                words::skill(&slug)
            } else {
                words::certificate(&slug)
            };
            let workers_one_away = away
                .get(&(kind, slug.clone(), level))
                .map_or(0, |s| s.len() as u64);
            out.push(Need {
                region: r.clone(),
                region_name: region_name.clone(),
                kind,
                slug,
                zh,
                en,
                level,
                positions_short,
                workers_one_away,
            });
        }
    }
    out.sort_by(|a, b| {
        b.positions_short
            .cmp(&a.positions_short)
            .then_with(|| (&a.region, &a.slug, a.level).cmp(&(&b.region, &b.slug, b.level)))
    });
    Ok(out)
}

/// `GET /v1/training-needs?region=&format=csv` (operator).
pub(crate) async fn training(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> ApiResult {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        region: Option<String>,
        format: Option<String>,
    }
    let q: Q = crate::routes::listing::query(&uri)?;
    let p = g.caller(&headers, None).await?;
    g.require(&p, &[Role::Operator])?;
    if let Some(r) = &q.region {
        lendwork_domain::Region::new(r.as_str())
            .map_err(|e| crate::routes::listing::bad("region", e.to_string()))?;
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(x) => {
            return Err(crate::routes::listing::bad(
                "format",
                format!("must be json or csv, got {x:?}"),
            ))
        }
    };
    let needs = training_needs(&g, q.region.as_deref()).await?;
    if !csv {
        return Ok(Json(serde_json::json!({ "needs": needs })).into_response());
    }
    use crate::routes::ledger::csv_cell;
    let mut out = String::from("\u{feff}地区代码 region,地区 region_name,类别 kind,代码 slug,名称 name,英文 name_en,等级 level,缺口岗位 positions_short,差一项的人员 workers_one_away\n");
    for n in &needs {
        let row = [
            n.region.clone(),
            n.region_name.clone(),
            n.kind.to_owned(),
            n.slug.clone(),
            n.zh.clone(),
            n.en.clone(),
            n.level.map(|l| l.to_string()).unwrap_or_default(),
            n.positions_short.to_string(),
            n.workers_one_away.to_string(),
        ];
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"lendwork-training-needs.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

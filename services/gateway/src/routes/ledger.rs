//! `GET /v1/ledger`: the settlement ledger of the caller's assignments —
//! an enterprise's as borrower or lender, an agency's workers', every one
//! for the operator (with pseudonymous workers) — per assignment and pay
//! period, as the matcher last derived it from the log
//! (`lendwork_engine::ledger`). Filters: `period=YYYY-MM` (periods that
//! start in that month), `flag=underpaid|overpaid|deduction|late|disputed`,
//! `party=borrower|lender` (an enterprise's side); `format=csv` gives CSV,
//! UTF-8 with a BOM so that Excel opens Chinese text correctly.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use lendwork_engine::ledger::Flag;
use lendwork_state::views::MatchView;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::Gateway;

/// The query; unknown parameters are refused by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LedgerQuery {
    period: Option<String>,
    flag: Option<String>,
    party: Option<String>,
    format: Option<String>,
}

/// One line of the ledger as served.
#[derive(Serialize)]
struct Line {
    match_id: String,
    gap_id: String,
    worker: String,
    borrower: String,
    lender: Option<String>,
    region: String,
    period: lendwork_domain::Window,
    minutes: u64,
    owed_fen: i64,
    paid_by_borrower_fen: i64,
    paid_to_worker_fen: i64,
    flags: Vec<Flag>,
}

fn bad(field: &str, m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some(field), m)
}

pub(crate) async fn ledger(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let q: LedgerQuery = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, Some("(query)"), e.body_text()))?;
    let p = g.authenticate(&headers, None)?;
    g.require(&p, &[Role::Enterprise, Role::Agency, Role::Operator])?;
    let month = match q.period.as_deref() {
        None => None,
        Some(m) => {
            let ok = m.len() == 7
                && m.as_bytes()[4] == b'-'
                && lendwork_domain::Date::parse(&format!("{m}-01")).is_ok();
            if !ok {
                return Err(bad("period", format!("must be a month YYYY-MM, got {m:?}")));
            }
            Some(m.to_owned())
        }
    };
    let flag = match q.flag.as_deref() {
        None => None,
        Some(f) => Some(Flag::ALL.into_iter().find(|x| x.slug() == f).ok_or_else(|| {
            bad(
                "flag",
                format!("unknown flag {f:?}; one of underpaid, overpaid, deduction, late, disputed"),
            )
        })?),
    };
    let party = match q.party.as_deref() {
        None => None,
        Some(s @ ("borrower" | "lender")) if p.role == Role::Enterprise => Some(s.to_owned()),
        Some(s) => {
            return Err(bad(
                "party",
                format!("{s:?}: an enterprise filters by borrower or lender"),
            ))
        }
    };
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => return Err(bad("format", format!("{f:?}: json or csv"))),
    };
    let views: Vec<MatchView> = match p.role {
        Role::Operator => g
            .store
            .scan_prefix(&g.keys.proposals())
            .await?
            .into_iter()
            .filter_map(|(_, b)| serde_json::from_slice(&b).ok())
            .collect(),
        _ => super::proposals::visible(&g, &p).await?,
    };
    let mut lines = Vec::new();
    for v in views.into_iter().filter(|v| !v.ledger.is_empty()) {
        match party.as_deref() {
            Some("borrower") if v.enterprise_id.as_str() != p.id => continue,
            Some("lender") if v.lender_id.as_ref().map(|l| l.as_str()) != Some(p.id.as_str()) => {
                continue
            }
            _ => {}
        }
        let worker = if p.role == Role::Operator {
            g.pseudonym(v.proposed.worker_id.as_str()).await?
        } else {
            v.proposed.worker_id.to_string()
        };
        for r in &v.ledger {
            if month
                .as_deref()
                .is_some_and(|m| !r.period.start.to_string().starts_with(m))
            {
                continue;
            }
            if flag.is_some_and(|f| !r.flags.contains(&f)) {
                continue;
            }
            lines.push(Line {
                match_id: v.proposed.match_id.to_string(),
                gap_id: v.proposed.gap_id.to_string(),
                worker: worker.clone(),
                borrower: v.enterprise_id.to_string(),
                lender: v.lender_id.as_ref().map(|l| l.to_string()),
                region: v.proposed.region.to_string(),
                period: r.period,
                minutes: r.minutes,
                owed_fen: r.owed_fen,
                paid_by_borrower_fen: r.paid_by_borrower_fen,
                paid_to_worker_fen: r.paid_to_worker_fen,
                flags: r.flags.clone(),
            });
        }
    }
    lines.sort_by(|a, b| (&a.match_id, a.period.start).cmp(&(&b.match_id, b.period.start)));
    if !csv {
        return Ok(Json(json!({ "assignments": lines })).into_response());
    }
    let mut out = String::from("\u{feff}match_id,gap_id,worker,borrower,lender,region,period_start,period_end,minutes,owed_fen,paid_by_borrower_fen,paid_to_worker_fen,flags\n");
    for l in &lines {
        let flags: Vec<&str> = l.flags.iter().map(|f| f.slug()).collect();
        let cells = [
            l.match_id.clone(),
            l.gap_id.clone(),
            l.worker.clone(),
            l.borrower.clone(),
            l.lender.clone().unwrap_or_default(),
            l.region.clone(),
            l.period.start.to_string(),
            l.period.end.to_string(),
            l.minutes.to_string(),
            l.owed_fen.to_string(),
            l.paid_by_borrower_fen.to_string(),
            l.paid_to_worker_fen.to_string(),
            flags.join(";"),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lendwork-ledger.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// One CSV cell as a spreadsheet reads it safely: quoted when it holds a
/// comma, quote or line break, and a text that would start a formula (`=`,
/// `+`, `-`, `@`, tab, carriage return) prefixed with `'` so that Excel and
/// WPS show it as text instead of running it (OWASP's CSV injection
/// advice). Numbers are written by the caller and never start so.
pub(crate) fn csv_cell(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn formulas_are_neutralised_and_numbers_left_alone() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-1200"), "-1200");
        assert_eq!(csv_cell("-x"), "'-x");
        assert_eq!(csv_cell("w-1"), "w-1");
    }
}

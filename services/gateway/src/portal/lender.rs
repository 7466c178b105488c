//! A lender's or agency's pages: the roster (each worker with where they
//! are proposed, agreed or working, and the steps the lender may take),
//! importing a roster from Excel or CSV with a preview before anything is
//! applied, withdrawing a worker, and the worker's link to send.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use lendwork_domain::Party;
use lendwork_state::views::{MatchView, WorkerView};
use maud::html;
use serde_json::Value;

use super::{
    api_error_page, bi, csrf_ok, field, html_response, page, signed_in, words, PageResult, Pairs,
    Session,
};
use crate::auth::Role;
use crate::error::ApiError;
use crate::roster::{Format, RowError};
use crate::routes::proposals::visible;
use crate::Gateway;

/// Workers on one page of the roster.
pub const ROSTER_PAGE: usize = 100;

/// `GET /portal/workers`: the roster.
pub(crate) async fn roster(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    let err = |e: ApiError| api_error_page(Some(&s), &e);
    let all = crate::routes::listing::owned(&g, &g.keys.owned_workers(&s.id))
        .await
        .map_err(err)?;
    let proposals: Vec<MatchView> = visible(&g, &s.principal()).await.map_err(err)?;
    // Workers with proposals first (what a clerk acts on), then by id;
    // [`ROSTER_PAGE`] a page, so that a large roster stays light on a phone.
    let busy: std::collections::HashSet<&str> = proposals
        .iter()
        .map(|p| p.proposed.worker_id.as_str())
        .collect();
    let mut ordered: Vec<&String> = all.iter().collect();
    ordered.sort_by_key(|w| (!busy.contains(w.as_str()), w.as_str()));
    let pages = all.len().div_ceil(ROSTER_PAGE).max(1);
    let at = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("page=")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let ids: Vec<String> = ordered
        .into_iter()
        .skip((at - 1) * ROSTER_PAGE)
        .take(ROSTER_PAGE)
        .cloned()
        .collect();
    let keys: Vec<String> = ids.iter().map(|w| g.keys.worker(w)).collect();
    let views: Vec<Option<WorkerView>> = g
        .store
        .get_many(&keys)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|b| b.and_then(|b| serde_json::from_slice(&b).ok()))
        .collect();
    let of = |w: &str| -> Vec<&MatchView> {
        proposals
            .iter()
            .filter(|p| p.proposed.worker_id.as_str() == w && p.enterprise_id.as_str() != s.id)
            .collect()
    };
    let flash = uri.query().unwrap_or("");
    let body = html! {
        @if let Some(n) = flash.split('&').find_map(|kv| kv.strip_prefix("imported=")) {
            p.ok role="status" { (bi(&format!("已导入 {n} 人。", ), &format!("Imported {n} workers."))) }
        }
        @if let Some(done) = flash.split('&').find_map(|kv| kv.strip_prefix("done=")) { p.ok role="status" { (bi("已提交：", "Done: ")) (done) } }
        p { a.button href="/portal/workers/import" { (bi("导入花名册", "Import a roster")) } " " a.button href="/portal/workers/new" { (bi("添加人员", "Add a worker")) } }
        @if all.is_empty() {
            p { (bi("还没有人员。可从 Excel 或 CSV 导入花名册。", "No workers yet. Import a roster from Excel or CSV.")) }
        } @else {
            table {
                caption.hint { (bi(&format!("共 {} 人（第 {at}/{pages} 页）", all.len()), &format!("{} workers (page {at} of {pages})", all.len()))) }
                thead { tr {
                    th scope="col" { (bi("人员", "Worker")) }
                    th scope="col" { (bi("地区与技能", "Region and skills")) }
                    th scope="col" { (bi("状态", "Status")) }
                    th scope="col" { (bi("推荐与借调", "Proposals and assignments")) }
                    th scope="col" { (bi("操作", "Actions")) }
                } }
                tbody {
                    @for (id, v) in ids.iter().zip(&views) {
                        tr {
                            td { (v.as_ref().and_then(|v| v.offer.display_name.as_ref()).map_or(String::new(), |n| n.as_str().to_owned())) br; span.hint { (id) } }
                            @match v {
                                None => { td {} td { (bi("处理中", "being processed")) } td {} td {} }
                                Some(v) => {
                                    td { (words::region(v.offer.region.as_str()).0) br;
                                        @for (i, sk) in v.offer.skills.iter().enumerate() {
                                            @if i > 0 { "、" } (words::skill(sk.skill.as_str()).0) " " (sk.level.get()) "级"
                                        } }
                                    @let st = if v.status == lendwork_state::views::WorkerStatus::Available { "available" } else { "withdrawn" };
                                    @let (zh, en) = words::status(st);
                                    td { (zh) " " span.en lang="en" { (en) } }
                                    td {
                                        @for p in of(id) {
                                            @let (szh, sen) = words::status(&p.status);
                                            div {
                                                (p.window.start) "—" (p.window.end) "：" (szh) " " span.en lang="en" { (sen) }
                                                " " (super::borrower::proposal_actions(&s, p, Party::Lender, "/portal/workers"))
                                                @if matches!(p.status.as_str(), "proposed" | "agreed" | "signed" | "started") {
                                                    form method="post" action={ "/portal/proposals/" (p.proposed.match_id) "/worker-link" } style="display:inline" {
                                                        input type="hidden" name="csrf" value=(s.csrf);
                                                        button.quiet type="submit" { (bi("发送给本人的链接", "Link for the worker")) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                    td {
                                        @if v.status == lendwork_state::views::WorkerStatus::Available {
                                            a href={ "/portal/workers/" (id) "/edit" } aria-label={ "修改 Edit " (id) } { (bi("修改", "Edit")) }
                                            form method="post" action={ "/portal/workers/" (id) "/withdraw" } {
                                                input type="hidden" name="csrf" value=(s.csrf);
                                                button.quiet type="submit" aria-label={ "撤回 Withdraw " (id) } { (bi("撤回", "Withdraw")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav aria-label="分页 Pages" { p {
                    @if at > 1 { a href={ "/portal/workers?page=" (at - 1) } { (bi("上一页", "Previous")) } " " }
                    @if at < pages { a href={ "/portal/workers?page=" (at + 1) } { (bi("下一页", "Next")) } }
                } }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(Some(&s), "我的人员", "My workers", body),
    ))
}

fn import_page(s: &Session, errors: &[RowError], note: Option<(&str, &str)>) -> maud::Markup {
    html! {
        @if let Some((zh, en)) = note { p.err role="alert" { (bi(zh, en)) } }
        @if !errors.is_empty() {
            div.box role="alert" id="import-errors" {
                p.err { (bi(&format!("有 {} 处错误，未导入任何人员。请修改后重新上传。", errors.len()),
                    &format!("{} error(s); nothing was imported. Fix them and upload again.", errors.len()))) }
                table {
                    thead { tr { th scope="col" { (bi("行", "Row")) } th scope="col" { (bi("列", "Column")) } th scope="col" { (bi("问题", "Problem")) } } }
                    tbody { @for e in errors.iter().take(200) { tr {
                        td { (e.row) } td { (e.column.clone().unwrap_or_default()) }
                        td { (e.zh) br; span.en lang="en" { (e.en) } }
                    } } }
                }
            }
        }
        form.box method="post" action="/portal/workers/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(s.csrf);
            label for="file" { (bi("花名册文件（Excel .xlsx 或 CSV）", "Roster file (Excel .xlsx or CSV)")) }
            input id="file" name="file" type="file" required accept=".xlsx,.csv,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            p { button type="submit" { (bi("上传并预览", "Upload and preview")) } }
        }
        p { (bi("模板：", "Templates: ")) a href="/v1/workers/import/template?lang=zh" { "中文表头 CSV" } " · " a href="/v1/workers/import/template?lang=en" { "English headers CSV" } }
        p.hint { (bi("表头可用中文或英文；技能写成“技能:等级”，多项用分号分隔；选填列可以省略。整个文件要么全部导入，要么全部不导入。",
            "Headers in Chinese or English; skills as skill:level, lists separated by semicolons; optional columns may be left out. A file is imported whole or not at all.")) }
    }
}

/// The import page again with a message: the upload could not be read.
fn import_refused(s: &Session, status: StatusCode, zh: &str, en: &str) -> axum::response::Response {
    html_response(
        status,
        page(
            Some(s),
            "导入花名册",
            "Import a roster",
            import_page(s, &[], Some((zh, en))),
        ),
    )
}

/// `GET /portal/workers/import`.
pub(crate) async fn import_form(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    Ok(html_response(
        StatusCode::OK,
        page(
            Some(&s),
            "导入花名册",
            "Import a roster",
            import_page(&s, &[], None),
        ),
    ))
}

fn format_of(name: &str, bytes: &[u8]) -> Format {
    if bytes.starts_with(b"PK\x03\x04") || name.to_ascii_lowercase().ends_with(".xlsx") {
        Format::Xlsx
    } else {
        Format::Csv
    }
}

/// `POST /portal/workers/import` (multipart: `csrf`, `file`): checks the
/// roster (a dry run of the API's import) and shows the errors, or a
/// preview with a button that imports it. The upload is kept in the store
/// until then (a single use).
pub(crate) async fn upload(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        match form.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or("").to_owned();
                let fname = f.file_name().unwrap_or("").to_owned();
                let Ok(bytes) = f.bytes().await else {
                    return Err(import_refused(
                        &s,
                        StatusCode::BAD_REQUEST,
                        "上传失败，请重试",
                        "The upload failed; try again",
                    ));
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "file" => file = Some((fname, bytes.to_vec())),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                return Err(import_refused(
                    &s,
                    StatusCode::BAD_REQUEST,
                    "文件过大或上传中断（上限 8 MB）",
                    "The file is too large or the upload broke off (8 MB at most)",
                ));
            }
        }
    }
    csrf_ok(&s, &csrf)?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(import_refused(
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "请选择文件",
            "Choose a file",
        ));
    };
    let format = format_of(&name, &bytes);
    let preview = crate::routes::workers::import_as(
        &g,
        &s.principal(),
        &HeaderMap::new(),
        true,
        format,
        &bytes,
    )
    .await;
    let preview = match preview {
        Ok(r) => r,
        Err(e) => {
            let rows: Vec<RowError> = e
                .extra
                .as_ref()
                .and_then(|x| x.get("rows"))
                .and_then(|r| serde_json::from_value::<Vec<RowError>>(r.clone()).ok())
                .unwrap_or_default();
            if rows.is_empty() {
                return Err(api_error_page(Some(&s), &e));
            }
            return Err(html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    Some(&s),
                    "导入花名册",
                    "Import a roster",
                    import_page(&s, &rows, None),
                ),
            ));
        }
    };
    let bytes_body = axum::body::to_bytes(preview.into_body(), 1 << 24)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&bytes_body).unwrap_or(Value::Null);
    let rows = v["rows"].as_u64().unwrap_or(0);
    let upload = crate::compose::hex(&rand::random::<[u8; 16]>());
    // The upload as kept: its owner, its format and its checked row count,
    // a line each, then the file.
    let mut stored = Vec::with_capacity(bytes.len() + 64);
    stored.extend_from_slice(
        format!(
            "{}\n{}\n{rows}\n",
            s.id,
            if format == Format::Xlsx {
                "xlsx"
            } else {
                "csv"
            }
        )
        .as_bytes(),
    );
    stored.extend_from_slice(&bytes);
    g.store
        .set(&g.keys.upload(&upload), &stored)
        .await
        .map_err(|e| api_error_page(Some(&s), &e.into()))?;
    let workers = v["workers"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p.ok role="status" { (bi(&format!("检查通过：共 {rows} 人，尚未导入。", ), &format!("Checked: {rows} workers, not imported yet."))) }
        table {
            caption.hint { (bi("预览（前 50 行）", "Preview (first 50 rows)")) }
            thead { tr {
                th scope="col" { (bi("人员编号", "Worker id")) } th scope="col" { (bi("姓名", "Name")) }
                th scope="col" { (bi("地区", "Region")) } th scope="col" { (bi("技能", "Skills")) }
                th scope="col" { (bi("可工作日期", "Available")) } th scope="col" { (bi("最低时薪", "Min. wage")) }
            } }
            tbody { @for w in &workers { tr {
                td { (w["worker_id"].as_str().unwrap_or("")) }
                td { (w["display_name"].as_str().unwrap_or("")) }
                td { (words::region(w["region"].as_str().unwrap_or("")).0) }
                td { @for (i, sk) in w["skills"].as_array().into_iter().flatten().enumerate() {
                    @if i > 0 { "、" } (words::skill(sk["skill"].as_str().unwrap_or("")).0) " " (sk["level"]) "级"
                } }
                td { (w["available"]["start"].as_str().unwrap_or("")) "—" (w["available"]["end"].as_str().unwrap_or("")) }
                td { (words::yuan(w["min_hourly_wage_fen"].as_i64().unwrap_or(0))) }
            } } }
        }
        form method="post" action="/portal/workers/import/commit" {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="upload" value=(upload);
            button type="submit" { (bi(&format!("确认导入 {rows} 人"), &format!("Import {rows} workers"))) }
            " " a href="/portal/workers/import" { (bi("取消", "Cancel")) }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        page(Some(&s), "导入花名册", "Import a roster", body),
    ))
}

/// `POST /portal/workers/import/commit`: imports the checked upload (its
/// id is the import's idempotency key, so a double click imports once).
pub(crate) async fn commit(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Form(f): Form<Pairs>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    csrf_ok(&s, field(&f, "csrf"))?;
    let upload = field(&f, "upload");
    if upload.len() != 32 || !upload.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(api_error_page(Some(&s), &ApiError::not_found()));
    }
    let key = g.keys.upload(upload);
    let stored = g
        .store
        .get(&key)
        .await
        .map_err(|e| api_error_page(Some(&s), &e.into()))?;
    let Some(stored) = stored else {
        return Err(super::error_page(
            Some(&s),
            StatusCode::GONE,
            "这次上传已导入或已失效，请重新上传",
            "This upload was imported already or is gone; upload again",
        ));
    };
    let mut parts = stored.splitn(4, |b| *b == b'\n');
    let (Some(owner), Some(kind), Some(rows), Some(bytes)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(api_error_page(Some(&s), &ApiError::not_found()));
    };
    if owner != s.id.as_bytes() {
        return Err(api_error_page(Some(&s), &ApiError::not_found()));
    }
    let format = if kind == b"xlsx" {
        Format::Xlsx
    } else {
        Format::Csv
    };
    let mut h = HeaderMap::new();
    h.insert(
        "idempotency-key",
        HeaderValue::from_str(&format!("portal-import-{upload}")).expect("hex"),
    );
    match crate::routes::workers::import_as(&g, &s.principal(), &h, false, format, bytes).await {
        Ok(_) => {
            let _ = g.store.delete(&key).await;
            let n = String::from_utf8_lossy(rows);
            Ok(Redirect::to(&format!("/portal/workers?imported={n}")).into_response())
        }
        Err(e) => Err(api_error_page(Some(&s), &e)),
    }
}

/// `POST /portal/workers/{id}/withdraw`.
pub(crate) async fn withdraw(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<Pairs>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    csrf_ok(&s, field(&f, "csrf"))?;
    let p = s.principal();
    let err = |e: ApiError| api_error_page(Some(&s), &e);
    if g.owner("worker", &id).await.map_err(err)?.as_deref() != Some(&s.id) {
        return Err(err(ApiError::not_found()));
    }
    let mut body = serde_json::Map::new();
    body.insert("worker_id".into(), Value::String(id.clone()));
    body.insert(
        "reason".into(),
        Value::String("withdrawn by the owner (portal)".into()),
    );
    let e = crate::compose::compose(
        "worker_withdrawn",
        g.event_id(&p, &HeaderMap::new(), 0).map_err(err)?,
        body,
        "",
    )
    .map_err(err)?;
    g.append_one(e).await.map_err(err)?;
    Ok(Redirect::to("/portal/workers?done=withdraw").into_response())
}

/// The worker's link, made through the API's own path, as a page to copy
/// it from.
pub(crate) async fn link_page(g: &Gateway, s: &Session, id: &str) -> PageResult {
    let r = crate::routes::links::make_link(g, &s.principal(), &HeaderMap::new(), id, b"")
        .await
        .map_err(|e| api_error_page(Some(s), &e))?;
    let b = axum::body::to_bytes(r.into_body(), 1 << 16)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
    let url = v["url"].as_str().unwrap_or("").to_owned();
    let body = html! {
        p { (bi("把下面的链接发给本人（短信或微信）。本人用手机打开即可查看、同意并签署。链接有效期 14 天。",
            "Send this link to the worker (SMS or WeChat). They open it on a phone to read, accept and sign. It is valid for 14 days.")) }
        p.box { code id="worker-link" { (url) } }
        p.hint { (bi("有效期至 ", "Valid until ")) (v["expires_at"].as_str().unwrap_or("")) }
        p { a href="/portal/workers" { (bi("返回人员列表", "Back to the workers")) } }
    };
    Ok(html_response(
        StatusCode::OK,
        page(Some(s), "本人链接", "Worker link", body),
    ))
}

/// The worker form, filled from `f` (a submitted form) or from `offer`
/// (editing), with the refusal `error` (field, message) beside its field.
fn worker_form(
    s: &Session,
    f: &Pairs,
    offer: Option<&lendwork_domain::WorkerOffered>,
    error: Option<(&str, String)>,
) -> maud::Markup {
    let vocab = lendwork_domain::vocab::vocabulary();
    let today = crate::compose::now().market_date();
    let from_offer = |name: &str| -> Option<String> {
        let o = offer?;
        Some(match name {
            "worker_id" => o.worker_id.to_string(),
            "display_name" => o
                .display_name
                .as_ref()
                .map_or(String::new(), |n| n.as_str().to_owned()),
            "region" => o.region.to_string(),
            "home_lat" => o.home.lat().to_string(),
            "home_lon" => o.home.lon().to_string(),
            "start" => o.available.start.to_string(),
            "end" => o.available.end.to_string(),
            "max_commute_km" => o.max_commute_km.get().to_string(),
            "wage_yuan" => words::yuan(o.min_hourly_wage_fen.get()),
            "contract_end" => o.contract_end.map_or(String::new(), |d| d.to_string()),
            "priority_group" => o
                .priority_group
                .and_then(|g| serde_json::to_value(g).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            _ => {
                let i: usize = name.rsplit('_').next()?.parse().ok()?;
                let sk = o.skills.get(i.checked_sub(1)?)?;
                if name.starts_with("skill_") {
                    sk.skill.to_string()
                } else {
                    sk.level.get().to_string()
                }
            }
        })
    };
    let v = |name: &str, default: String| -> String {
        let x = field(f, name);
        if !x.is_empty() {
            x.to_owned()
        } else {
            from_offer(name)
                .filter(|x| !x.is_empty())
                .unwrap_or(default)
        }
    };
    let certs: Vec<String> = if f.is_empty() {
        offer.map_or(Vec::new(), |o| {
            o.certificates.iter().map(|c| c.to_string()).collect()
        })
    } else {
        f.iter()
            .filter(|(k, _)| k == "certificates")
            .map(|(_, v)| v.clone())
            .collect()
    };
    let consent = if f.is_empty() {
        offer.map_or(true, |o| o.consent)
    } else {
        field(f, "consent") == "yes"
    };
    let editing = offer.is_some();
    html! {
        @if let Some((fname, m)) = &error {
            div.box.err role="alert" id="form-error" { (fname) "：" (m) }
        }
        form method="post" action="/portal/workers/new" novalidate {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="form_key" value=(v("form_key", crate::compose::hex(&rand::random::<[u8; 12]>())));
            div.row {
                div {
                    label for="worker_id" { (bi("人员编号", "Worker id")) }
                    @if editing {
                        input id="worker_id" name="worker_id" readonly value=(v("worker_id", String::new()));
                    } @else {
                        input id="worker_id" name="worker_id" maxlength="64" required value=(v("worker_id", String::new()));
                    }
                }
                div { label for="display_name" { (bi("姓名（选填）", "Name (optional)")) } input id="display_name" name="display_name" maxlength="40" value=(v("display_name", String::new())); }
            }
            div.row {
                div {
                    label for="region" { (bi("地区", "Region")) }
                    select id="region" name="region" {
                        @for (code, zh, en) in lendwork_domain::vocab::REGIONS {
                            option value=(code) selected[v("region", String::new()) == *code] { (zh) " " (en) }
                        }
                    }
                }
                div {
                    label for="priority_group" { (bi("重点群体（选填）", "Priority group (optional)")) }
                    select id="priority_group" name="priority_group" {
                        @let current = v("priority_group", String::new());
                        option value="" { "—" }
                        @for (slug, zh, en) in [("unemployed", "失业人员", "Unemployed"), ("graduate", "高校毕业生", "Graduate"), ("migrant_worker", "农民工", "Migrant worker"), ("hard_to_employ", "就业困难人员", "Hard to employ")] {
                            option value=(slug) selected[current == slug] { (zh) " " (en) }
                        }
                    }
                }
            }
            div.row {
                div { label for="home_lat" { (bi("住址纬度", "Home latitude")) } input id="home_lat" name="home_lat" inputmode="decimal" value=(v("home_lat", "36.06".into())); }
                div { label for="home_lon" { (bi("住址经度", "Home longitude")) } input id="home_lon" name="home_lon" inputmode="decimal" value=(v("home_lon", "103.83".into())); }
            }
            fieldset.box {
                legend { (bi("技能", "Skills")) }
                @for i in 1..=3 {
                    div.row {
                        div {
                            label for={ "skill_" (i) } { (bi(&format!("技能 {i}"), &format!("Skill {i}"))) }
                            select id={ "skill_" (i) } name={ "skill_" (i) } {
                                @let current = v(&format!("skill_{i}"), String::new());
                                option value="" { "—" }
                                @for t in vocab.skills { option value=(t.slug) selected[current == t.slug] { (t.zh) " " (t.en) } }
                            }
                        }
                        div { label for={ "level_" (i) } { (bi("等级（1–5）", "Level (1–5)")) } input id={ "level_" (i) } name={ "level_" (i) } type="number" min="1" max="5" value=(v(&format!("level_{i}"), "3".into())); }
                    }
                }
            }
            fieldset.box {
                legend { (bi("证书", "Certificates")) }
                @for t in vocab.certificates {
                    label { input type="checkbox" name="certificates" value=(t.slug) checked[certs.iter().any(|c| c == t.slug)]; " " (t.zh) " " span.en lang="en" { (t.en) } }
                }
            }
            div.row {
                div { label for="start" { (bi("可工作开始日期", "Available from")) } input id="start" name="start" type="date" value=(v("start", today.to_string())); }
                div { label for="end" { (bi("可工作结束日期", "Available until")) } input id="end" name="end" type="date" value=(v("end", today.plus_days(180).to_string())); }
            }
            div.row {
                div { label for="max_commute_km" { (bi("最远通勤（公里）", "Longest commute (km)")) } input id="max_commute_km" name="max_commute_km" inputmode="decimal" value=(v("max_commute_km", "20".into())); }
                div { label for="wage_yuan" { (bi("最低时薪（元）", "Lowest hourly wage (CNY)")) } input id="wage_yuan" name="wage_yuan" inputmode="decimal" value=(v("wage_yuan", "20.00".into())); }
            }
            @if s.role == Role::Enterprise {
                label for="contract_end" { (bi("劳动合同截止日期（选填）", "Contract ends (optional)")) }
                input id="contract_end" name="contract_end" type="date" value=(v("contract_end", String::new()));
            }
            label { input type="checkbox" name="consent" value="yes" checked[consent]; " " (bi("本人同意借调", "The worker consents to be lent")) }
            p { button type="submit" { @if editing { (bi("保存", "Save")) } @else { (bi("添加", "Add")) } } }
        }
    }
}

/// `GET /portal/workers/new`.
pub(crate) async fn new_worker(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    Ok(html_response(
        StatusCode::OK,
        page(
            Some(&s),
            "添加人员",
            "Add a worker",
            worker_form(&s, &Vec::new(), None, None),
        ),
    ))
}

/// `GET /portal/workers/{id}/edit`: the worker's offer, to change.
pub(crate) async fn edit_worker(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    let err = |e: ApiError| api_error_page(Some(&s), &e);
    if g.owner("worker", &id).await.map_err(err)?.as_deref() != Some(&s.id) {
        return Err(err(ApiError::not_found()));
    }
    let view: Option<WorkerView> = g
        .store
        .get(&g.keys.worker(&id))
        .await
        .map_err(|e| err(e.into()))?
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(view) = view else {
        return Err(super::error_page(
            Some(&s),
            StatusCode::CONFLICT,
            "正在处理，请稍后再试",
            "Being processed; try again in a moment",
        ));
    };
    Ok(html_response(
        StatusCode::OK,
        page(
            Some(&s),
            "修改人员信息",
            "Edit a worker",
            worker_form(&s, &Vec::new(), Some(&view.offer), None),
        ),
    ))
}

/// The worker form as the API's JSON offer.
fn offer_of(f: &Pairs) -> Result<Value, (&'static str, String)> {
    let num = |name: &str| field(f, name).parse::<f64>().ok().filter(|x| x.is_finite());
    let (Some(lat), Some(lon)) = (num("home_lat"), num("home_lon")) else {
        return Err((
            "home",
            "纬度和经度须为数字 / latitude and longitude must be numbers".into(),
        ));
    };
    let mut skills = Vec::new();
    for i in 1..=3 {
        let sk = field(f, &format!("skill_{i}"));
        if sk.is_empty() {
            continue;
        }
        let Ok(level) = field(f, &format!("level_{i}")).parse::<i64>() else {
            return Err((
                "skills",
                format!("技能 {i} 的等级须为整数 / the level of skill {i} must be a whole number"),
            ));
        };
        skills.push(serde_json::json!({"skill": sk, "level": level}));
    }
    let Some(km) = num("max_commute_km") else {
        return Err(("max_commute_km", "须为数字 / must be a number".into()));
    };
    let Some(yuan) = num("wage_yuan").filter(|y| *y >= 0.0) else {
        return Err((
            "min_hourly_wage_fen",
            "须为金额，如 20.00 / must be an amount such as 20.00".into(),
        ));
    };
    let certs: Vec<&str> = f
        .iter()
        .filter(|(k, _)| k == "certificates")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut o = serde_json::json!({
        "worker_id": field(f, "worker_id"),
        "region": field(f, "region"),
        "home": {"lat": lat, "lon": lon},
        "skills": skills,
        "certificates": certs,
        "available": {"start": field(f, "start"), "end": field(f, "end")},
        "max_commute_km": km,
        "min_hourly_wage_fen": (yuan * 100.0).round() as i64,
        "consent": field(f, "consent") == "yes",
    });
    for k in ["display_name", "priority_group", "contract_end"] {
        if !field(f, k).is_empty() {
            o[k] = Value::String(field(f, k).to_owned());
        }
    }
    Ok(o)
}

/// `POST /portal/workers/new`: adds (or, for an id the client already
/// offered, changes) a worker through the API's own path.
pub(crate) async fn save_worker(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    Form(f): Form<Pairs>,
) -> PageResult {
    let s = signed_in(&g, &headers, &[Role::Enterprise, Role::Agency]).await?;
    csrf_ok(&s, field(&f, "csrf"))?;
    let again = |fname: &str, m: String| {
        html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                Some(&s),
                "添加人员",
                "Add a worker",
                worker_form(&s, &f, None, Some((fname, m))),
            ),
        )
    };
    let body = offer_of(&f).map_err(|(fname, m)| again(fname, m))?;
    let mut h = HeaderMap::new();
    if let Ok(k) = HeaderValue::from_str(&format!("portal-worker-{}", field(&f, "form_key"))) {
        h.insert("idempotency-key", k);
    }
    let bytes = serde_json::to_vec(&body).expect("serializable");
    match crate::routes::workers::post_workers_as(&g, &s.principal(), &h, &bytes).await {
        Ok(_) => Ok(Redirect::to("/portal/workers?done=save").into_response()),
        Err(e)
            if matches!(
                e.status,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT
            ) =>
        {
            Err(again(
                e.field.as_deref().unwrap_or("(form)"),
                e.message.clone(),
            ))
        }
        Err(e) => Err(api_error_page(Some(&s), &e)),
    }
}

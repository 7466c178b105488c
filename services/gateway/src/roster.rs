//! Rosters: the worker lists lenders and agencies keep in spreadsheets,
//! read from CSV or XLSX into `worker_offered` events.
//!
//! A roster is a table with a header row. Its columns are the contract's
//! fields flattened, named in English (`worker_id, region, home_lat,
//! home_lon, skills, certificates, available_start, available_end,
//! max_commute_km, min_hourly_wage_fen, consent, contract_end,
//! priority_group, display_name`) or in Chinese ([`COLUMNS`]), in any
//! order; the optional fields' columns may be left out. Skills are
//! `name:level` and lists are separated by `;` (full-width `：` and `；`
//! too); a skill or certificate may be given by slug or by its Chinese or
//! English name ([`lendwork_domain::vocab`]); a region by code or name;
//! dates as `YYYY-MM-DD`, `YYYY/M/D` or an Excel date; consent as
//! `true/false`, `yes/no`, `是/否`, `同意/不同意` or `1/0`.
//!
//! Reading is all-or-nothing: every row is checked (each error names the
//! row, counting the header as row 1, and the column as the file names
//! it: "第 7 行，技能：…" / "row 7, skills: …"), and a roster with any
//! error imports nothing. A text cell that starts like a spreadsheet
//! formula (`=`, `+`, `-`, `@`) is refused, so that a roster cannot plant
//! a formula that runs when an export of it is opened.
//!
//! XLSX is read with `calamine` (pure Rust, maintained, reads the
//! formats Excel and WPS write); the first sheet is the roster.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;

use lendwork_domain::vocab::{self, vocabulary, Lang, Lookup};
use lendwork_domain::{Date, Event};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The columns: (field, Chinese header, required).
pub const COLUMNS: [(&str, &str, bool); 14] = [
    ("worker_id", "人员编号", true),
    ("region", "地区", true),
    ("home_lat", "住址纬度", true),
    ("home_lon", "住址经度", true),
    ("skills", "技能", true),
    ("certificates", "证书", false),
    ("available_start", "可工作开始日期", true),
    ("available_end", "可工作结束日期", true),
    ("max_commute_km", "最远通勤公里数", true),
    ("min_hourly_wage_fen", "最低时薪（分）", true),
    ("consent", "本人同意", true),
    ("contract_end", "劳动合同截止日期", false),
    ("priority_group", "重点群体", false),
    ("display_name", "姓名", false),
];

/// The largest roster read at once (the batch limit of `POST /v1/workers`).
pub const MAX_ROWS: usize = 10_000;

/// One refused cell or row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RowError {
    /// Row number, the header being row 1.
    pub row: usize,
    /// The column as the file names it (`None`: the whole row or file).
    pub column: Option<String>,
    /// The contract's field the column holds.
    pub field: Option<String>,
    /// What is wrong (Chinese / English).
    pub message: String,
    /// "第 7 行，技能：…".
    pub zh: String,
    /// "row 7, skills: …".
    pub en: String,
}

/// A refusal of row `row`; `message` is "中文 / English" (or one text,
/// for the contract's own English messages), split between `zh` and `en`.
pub(crate) fn error(row: usize, column: Option<(&str, &str)>, message: String) -> RowError {
    let (m_zh, m_en) = message.split_once(" / ").unwrap_or((&message, &message));
    let (zh, en) = match column {
        Some((header, field)) => (
            format!("第 {row} 行，{header}：{m_zh}"),
            format!("row {row}, {field}: {m_en}"),
        ),
        None => (format!("第 {row} 行：{m_zh}"), format!("row {row}: {m_en}")),
    };
    RowError {
        row,
        column: column.map(|c| c.0.to_owned()),
        field: column.map(|c| c.1.to_owned()),
        message,
        zh,
        en,
    }
}

/// A roster's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, UTF-8 (a BOM is skipped).
    Csv,
    /// Office Open XML workbook.
    Xlsx,
}

/// The MIME type of XLSX.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A cell as read: text, or a number (XLSX keeps numbers and dates as
/// numbers; CSV has only text).
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Text(String),
    Number(f64),
    Date(f64),
    Bool(bool),
    Empty,
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.trim().to_owned(),
            Cell::Number(n) | Cell::Date(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{}", *n as i64)
                } else {
                    n.to_string()
                }
            }
            Cell::Bool(b) => b.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// Reads the table of `body`: its rows of cells, the header first.
fn table(body: &[u8], format: Format) -> Result<Vec<Vec<Cell>>, Box<RowError>> {
    match format {
        Format::Csv => {
            let text = std::str::from_utf8(body).map_err(|_| {
                error(
                    1,
                    None,
                    "CSV 须为 UTF-8 编码 / the CSV must be UTF-8".into(),
                )
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut rows = Vec::new();
            for (i, rec) in r.records().enumerate() {
                let rec = rec.map_err(|e| {
                    error(i + 1, None, format!("CSV 无法读取 / unreadable CSV: {e}"))
                })?;
                rows.push(rec.iter().map(|c| Cell::Text(c.to_owned())).collect());
            }
            Ok(rows)
        }
        Format::Xlsx => {
            use calamine::{Data, Reader, Xlsx};
            let unreadable =
                |e: String| error(1, None, format!("XLSX 无法读取 / unreadable XLSX: {e}"));
            let mut book: Xlsx<_> =
                Xlsx::new(Cursor::new(body)).map_err(|e| unreadable(e.to_string()))?;
            let range = book
                .worksheet_range_at(0)
                .ok_or_else(|| unreadable("the workbook has no sheet".into()))?
                .map_err(|e| unreadable(e.to_string()))?;
            // Rows are counted from the sheet's first row, as Excel numbers them.
            let first = range.start().map_or(0, |(r, _)| r as usize);
            let first_col = range.start().map_or(0, |(_, c)| c as usize);
            let mut rows: Vec<Vec<Cell>> = vec![Vec::new(); first];
            for row in range.rows() {
                let mut cells = vec![Cell::Empty; first_col];
                cells.extend(row.iter().map(|d| match d {
                    Data::Int(i) => Cell::Number(*i as f64),
                    Data::Float(f) => Cell::Number(*f),
                    Data::String(s) => Cell::Text(s.clone()),
                    Data::Bool(b) => Cell::Bool(*b),
                    Data::DateTime(d) => Cell::Date(d.as_f64()),
                    Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
                    Data::Error(e) => Cell::Text(format!("#{e}")),
                    Data::Empty => Cell::Empty,
                }));
                rows.push(cells);
            }
            // Leading empty rows above the header are not part of the table.
            while rows
                .first()
                .is_some_and(|r| r.iter().all(|c| c.text().is_empty()))
                && !rows.is_empty()
            {
                rows.remove(0);
            }
            Ok(rows)
        }
    }
}

/// A roster read and checked: the worker offers as the contract's JSON
/// objects (without `type`, `id` and `at`), in row order.
#[derive(Debug, Default)]
pub struct Roster {
    /// The offers, with their row numbers.
    pub offers: Vec<(usize, Map<String, Value>)>,
    /// The header the file gives each field it has.
    pub headers: HashMap<&'static str, String>,
}

/// The column a header names: by field or Chinese name (case, spaces and
/// full-width brackets aside).
fn column_of(header: &str) -> Option<usize> {
    let norm = |s: &str| {
        s.trim()
            .to_lowercase()
            .replace(['（', '('], "(")
            .replace(['）', ')'], ")")
            .replace(' ', "")
    };
    let h = norm(header);
    COLUMNS
        .iter()
        .position(|(f, zh, _)| norm(f) == h || norm(zh) == h)
}

/// Reads and checks a roster. `employer`: the lender's enterprise id for
/// an enterprise's employees, `None` for an agency's flexible workers.
pub fn read(body: &[u8], format: Format, employer: Option<&str>) -> Result<Roster, Vec<RowError>> {
    let rows = table(body, format).map_err(|e| vec![*e])?;
    let Some((header, data)) = rows.split_first() else {
        return Err(vec![error(
            1,
            None,
            "表格为空，缺少表头 / the file is empty: no header row".into(),
        )]);
    };
    let mut errors = Vec::new();
    let mut at: Vec<Option<usize>> = Vec::new();
    let mut names: HashMap<usize, String> = HashMap::new();
    for cell in header {
        let h = cell.text();
        if h.is_empty() {
            at.push(None);
            continue;
        }
        match column_of(&h) {
            Some(c) if names.contains_key(&c) => {
                errors.push(error(
                    1,
                    Some((&h, COLUMNS[c].0)),
                    "列重复 / the column appears twice".into(),
                ));
                at.push(None);
            }
            Some(c) => {
                names.insert(c, h);
                at.push(Some(c));
            }
            None => {
                let known: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
                errors.push(error(
                    1,
                    None,
                    format!(
                        "未知的列“{h}” / unknown column {h:?} (known: {})",
                        known.join(", ")
                    ),
                ));
                at.push(None);
            }
        }
    }
    for (c, (field, zh, required)) in COLUMNS.iter().enumerate() {
        if *required && !names.contains_key(&c) {
            errors.push(error(
                1,
                None,
                format!("缺少必填列“{zh}” / missing required column {field}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let data: Vec<(usize, &Vec<Cell>)> = data
        .iter()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .filter(|(_, r)| r.iter().any(|c| !c.text().is_empty()))
        .collect();
    if data.is_empty() {
        return Err(vec![error(
            2,
            None,
            "没有数据行 / no rows below the header".into(),
        )]);
    }
    if data.len() > MAX_ROWS {
        return Err(vec![error(
            MAX_ROWS + 2,
            None,
            format!(
                "一次最多导入 {MAX_ROWS} 行 / at most {MAX_ROWS} rows at once, got {}",
                data.len()
            ),
        )]);
    }
    let mut roster = Roster {
        offers: Vec::with_capacity(data.len()),
        headers: names
            .iter()
            .map(|(c, h)| (COLUMNS[*c].0, h.clone()))
            .collect(),
    };
    let mut ids: HashSet<String> = HashSet::new();
    for (n, row) in data {
        let mut cells: HashMap<&'static str, (&str, &Cell)> = HashMap::new();
        for (i, c) in at.iter().enumerate() {
            if let Some(c) = c {
                let cell = row.get(i).unwrap_or(&Cell::Empty);
                cells.insert(COLUMNS[*c].0, (names[c].as_str(), cell));
            }
        }
        match offer(n, &cells, employer) {
            Ok(o) => {
                let id = o["worker_id"].as_str().unwrap_or_default().to_owned();
                if !ids.insert(id.clone()) {
                    let (h, _) = cells["worker_id"];
                    errors.push(error(
                        n,
                        Some((h, "worker_id")),
                        format!(
                            "人员编号 {id} 在表中重复 / worker {id} appears twice in the roster"
                        ),
                    ));
                } else {
                    roster.offers.push((n, o));
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
        if errors.len() >= 200 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(roster)
    } else {
        Err(errors)
    }
}

/// One row into an offer's fields; every cell is checked.
fn offer(
    n: usize,
    cells: &HashMap<&'static str, (&str, &Cell)>,
    employer: Option<&str>,
) -> Result<Map<String, Value>, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut o = Map::new();
    let mut put = |field: &'static str,
                   errors: &mut Vec<RowError>,
                   f: &dyn Fn(&Cell) -> Result<Option<Value>, String>| {
        let Some((header, cell)) = cells.get(field) else {
            return;
        };
        let text = cell.text();
        let required = COLUMNS.iter().any(|(f, _, r)| *f == field && *r);
        if text.is_empty() {
            if required {
                errors.push(error(n, Some((header, field)), "必填 / required".into()));
            }
            return;
        }
        if matches!(cell, Cell::Text(_))
            && text.starts_with(['=', '+', '-', '@'])
            && !numeric(field)
        {
            errors.push(error(
                n,
                Some((header, field)),
                "不能以 = + - @ 开头（电子表格公式）/ must not start with = + - @ (a spreadsheet formula)".into(),
            ));
            return;
        }
        match f(cell) {
            Ok(Some(v)) => {
                o.insert(field.to_owned(), v);
            }
            Ok(None) => {}
            Err(m) => errors.push(error(n, Some((header, field)), m)),
        }
    };
    let text = |c: &Cell| Ok(Some(json!(c.text())));
    put("worker_id", &mut errors, &text);
    put("region", &mut errors, &|c| {
        let t = c.text();
        Ok(Some(json!(vocab::REGIONS
            .iter()
            .find(|r| r.1 == t || r.2.eq_ignore_ascii_case(&t))
            .map_or(t.as_str(), |r| r.0))))
    });
    put("home_lat", &mut errors, &|c| number(c).map(Some));
    put("home_lon", &mut errors, &|c| number(c).map(Some));
    put("skills", &mut errors, &|c| skills(&c.text()).map(Some));
    put("certificates", &mut errors, &|c| {
        certificates(&c.text()).map(Some)
    });
    put("available_start", &mut errors, &|c| date(c).map(Some));
    put("available_end", &mut errors, &|c| date(c).map(Some));
    put("max_commute_km", &mut errors, &|c| number(c).map(Some));
    put("min_hourly_wage_fen", &mut errors, &|c| whole(c).map(Some));
    put("consent", &mut errors, &|c| consent(c).map(Some));
    put("contract_end", &mut errors, &|c| date(c).map(Some));
    put("priority_group", &mut errors, &|c| {
        group(&c.text()).map(Some)
    });
    put("display_name", &mut errors, &text);
    if !errors.is_empty() {
        return Err(errors);
    }
    // Flattened columns back into the contract's objects.
    let mut take = |k: &str| o.remove(k);
    let mut out = Map::new();
    for k in [
        "worker_id",
        "region",
        "skills",
        "max_commute_km",
        "min_hourly_wage_fen",
        "consent",
    ] {
        if let Some(v) = take(k) {
            out.insert(k.into(), v);
        }
    }
    out.insert(
        "home".into(),
        json!({"lat": take("home_lat"), "lon": take("home_lon")}),
    );
    out.insert(
        "available".into(),
        json!({"start": take("available_start"), "end": take("available_end")}),
    );
    out.insert(
        "certificates".into(),
        take("certificates").unwrap_or_else(|| json!([])),
    );
    for k in ["contract_end", "priority_group", "display_name"] {
        if let Some(v) = take(k) {
            out.insert(k.into(), v);
        }
    }
    if let Some(e) = employer {
        out.insert("employer_id".into(), json!(e));
    }
    Ok(out)
}

fn numeric(field: &str) -> bool {
    matches!(
        field,
        "home_lat" | "home_lon" | "max_commute_km" | "min_hourly_wage_fen"
    )
}

fn number(c: &Cell) -> Result<Value, String> {
    match c {
        Cell::Number(x) => Ok(json!(x)),
        _ => c
            .text()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(|x| json!(x))
            .ok_or_else(|| format!("须为数字 / must be a number, got {:?}", c.text())),
    }
}

fn whole(c: &Cell) -> Result<Value, String> {
    let t = c.text();
    match c {
        Cell::Number(x) if x.fract() == 0.0 => Ok(json!(*x as i64)),
        _ => t
            .parse::<i64>()
            .map(|x| json!(x))
            .map_err(|_| format!("须为整数 / must be a whole number, got {t:?}")),
    }
}

/// A date: ISO, `YYYY/M/D`, `YYYY年M月D日`, or an Excel serial date.
fn date(c: &Cell) -> Result<Value, String> {
    if let Cell::Date(serial) | Cell::Number(serial) = c {
        if (1.0..2_958_466.0).contains(serial) {
            // Excel's day 0 is 1899-12-30 (its 1900 leap-year bug folded in).
            let d = Date::parse("1899-12-30")
                .expect("a date")
                .plus_days(serial.floor() as i64);
            return Ok(json!(d.to_string()));
        }
    }
    let t = c.text();
    let parts: Vec<&str> = t
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    let fail = || format!("须为日期 YYYY-MM-DD / must be a date YYYY-MM-DD, got {t:?}");
    if parts.len() != 3 {
        return Err(fail());
    }
    let iso = format!(
        "{:0>4}-{:0>2}-{:0>2}",
        parts[0].trim(),
        parts[1].trim(),
        parts[2].trim()
    );
    Date::parse(&iso)
        .map(|d| json!(d.to_string()))
        .map_err(|_| fail())
}

fn consent(c: &Cell) -> Result<Value, String> {
    if let Cell::Bool(b) = c {
        return Ok(json!(b));
    }
    let t = c.text().to_lowercase();
    match t.as_str() {
        "true" | "yes" | "y" | "1" | "是" | "同意" => Ok(json!(true)),
        "false" | "no" | "n" | "0" | "否" | "不同意" => Ok(json!(false)),
        _ => Err(format!("须为 是/否 / must be yes or no, got {t:?}")),
    }
}

fn group(t: &str) -> Result<Value, String> {
    const GROUPS: [(&str, &str); 4] = [
        ("unemployed", "失业人员"),
        ("graduate", "高校毕业生"),
        ("migrant_worker", "农民工"),
        ("hard_to_employ", "就业困难人员"),
    ];
    GROUPS
        .iter()
        .find(|(slug, zh)| *slug == t || *zh == t)
        .map(|(slug, _)| json!(slug))
        .ok_or_else(|| {
            format!(
                "须为 失业人员、高校毕业生、农民工、就业困难人员 之一 / must be one of unemployed, graduate, migrant_worker, hard_to_employ, got {t:?}"
            )
        })
}

fn list(t: &str) -> impl Iterator<Item = &str> {
    t.split([';', '；'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn skills(t: &str) -> Result<Value, String> {
    let v = vocabulary();
    let mut out = Vec::new();
    for item in list(t) {
        let (name, level) = item
            .rsplit_once([':', '：'])
            .ok_or_else(|| format!("“{item}”须写成 技能:等级 / {item:?} must be skill:level"))?;
        let level: i64 = level.trim().parse().map_err(|_| {
            format!("“{item}”的等级须为整数 / the level of {item:?} must be a whole number")
        })?;
        let slug = match v.skill(name) {
            Lookup::Found(s) => s.to_owned(),
            Lookup::Slug(s) => s,
            Lookup::Unknown(near) => {
                return Err(crate::compose::unknown_name(name.trim(), true, &near))
            }
        };
        out.push(json!({"skill": slug, "level": level}));
    }
    Ok(json!(out))
}

fn certificates(t: &str) -> Result<Value, String> {
    let v = vocabulary();
    let mut out = Vec::new();
    for name in list(t) {
        out.push(json!(match v.certificate(name) {
            Lookup::Found(s) => s.to_owned(),
            Lookup::Slug(s) => s,
            Lookup::Unknown(near) => return Err(crate::compose::unknown_name(name, false, &near)),
        }));
    }
    Ok(json!(out))
}

/// The field of an event-validation error as the roster's column: the
/// contract's `home.lat` is the column `home_lat`, `skills[0].level` the
/// column `skills`.
pub fn column_for(field: &str) -> &'static str {
    let flat = field.replace('.', "_");
    COLUMNS
        .iter()
        .map(|c| c.0)
        .find(|c| flat.starts_with(c))
        .or_else(|| {
            let head = field.split(['.', '[']).next().unwrap_or("");
            COLUMNS.iter().map(|c| c.0).find(|c| c.starts_with(head))
        })
        .unwrap_or("worker_id")
}

/// Checks each offer against the contract (as `POST /v1/workers` does):
/// `compose` makes the event or names the field, which is mapped back to
/// the row and column.
pub fn events(
    roster: &Roster,
    mut make: impl FnMut(usize, Map<String, Value>) -> Result<Event, (String, String)>,
) -> Result<Vec<Event>, Vec<RowError>> {
    let mut out = Vec::with_capacity(roster.offers.len());
    let mut errors = Vec::new();
    for (i, (row, o)) in roster.offers.iter().enumerate() {
        match make(i, o.clone()) {
            Ok(e) => out.push(e),
            Err((field, message)) => {
                let col = column_for(&field);
                let header = roster.headers.get(col).map_or(col, String::as_str);
                errors.push(error(*row, Some((header, col)), message));
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A roster template as CSV (UTF-8 with a BOM, so that Excel reads the
/// Chinese), with one example row.
pub fn template(lang: Lang) -> String {
    let head: Vec<&str> = COLUMNS
        .iter()
        .map(|(f, zh, _)| if lang == Lang::Zh { *zh } else { *f })
        .collect();
    let example = if lang == Lang::Zh {
        "w-0001,兰州市,36.07,103.84,叉车:3;仓储拣货员:2,叉车证,2027-01-01,2027-06-30,20,2500,是,2028-12-31,高校毕业生,张三"
    } else {
        "w-0001,620100,36.07,103.84,forklift:3;warehouse-picking:2,forklift-licence,2027-01-01,2027-06-30,20,2500,yes,2028-12-31,graduate,Zhang San"
    };
    format!("\u{feff}{}\r\n{example}\r\n", head.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD_EN: &str = "worker_id,region,home_lat,home_lon,skills,certificates,available_start,available_end,max_commute_km,min_hourly_wage_fen,consent";

    fn csv(rows: &[&str]) -> Vec<u8> {
        rows.join("\n").into_bytes()
    }

    #[test]
    fn the_templates_read_back_as_one_valid_offer() {
        for lang in [Lang::Zh, Lang::En] {
            let r = read(template(lang).as_bytes(), Format::Csv, None).unwrap();
            assert_eq!(r.offers.len(), 1);
            let o = &r.offers[0].1;
            assert_eq!(o["region"], "620100");
            assert_eq!(o["skills"][0], json!({"skill": "forklift", "level": 3}));
            assert_eq!(o["certificates"], json!(["forklift-licence"]));
            assert_eq!(o["priority_group"], "graduate");
            assert_eq!(o["consent"], true);
        }
    }

    #[test]
    fn errors_name_the_row_counting_the_header_and_the_column_as_written() {
        let body = csv(&[
            "人员编号,地区,住址纬度,住址经度,技能,可工作开始日期,可工作结束日期,最远通勤公里数,最低时薪(分),本人同意",
            "w-1,620100,36.0,103.8,叉车:2,2027-01-01,2027-02-01,20,2500,是",
            "w-2,620100,36.0,103.8,叉车司傅:2,2027-01-01,2027-02-01,20,2500,是",
            "w-3,620100,north,103.8,叉车:2,2027/1/1,2027-02-01,20,2500,maybe",
        ]);
        let errs = read(&body, Format::Csv, None).unwrap_err();
        let texts: Vec<&str> = errs.iter().map(|e| e.zh.as_str()).collect();
        assert!(texts[0].starts_with("第 3 行，技能："), "{texts:?}");
        assert!(texts[0].contains("叉车司机"), "{texts:?}");
        assert!(
            errs.iter().any(|e| e.en.starts_with("row 4, home_lat:")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.en.starts_with("row 4, consent:")),
            "{errs:?}"
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn formulas_unknown_and_missing_columns_and_duplicates_are_refused() {
        let row = "36.0,103.8,forklift:2,,2027-01-01,2027-02-01,20,2500,yes";
        let errs = read(
            &csv(&[HEAD_EN, &format!("=HYPERLINK(\"x\"),620100,{row}")]),
            Format::Csv,
            None,
        )
        .unwrap_err();
        assert!(errs[0].en.contains("formula"), "{errs:?}");
        let errs = read(
            &csv(&[&format!("{HEAD_EN},colour"), &format!("w,620100,{row},red")]),
            Format::Csv,
            None,
        )
        .unwrap_err();
        assert!(errs[0].en.contains("unknown column \"colour\""), "{errs:?}");
        let errs = read(&csv(&["worker_id,region", "w,620100"]), Format::Csv, None).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.en.contains("missing required column home_lat")),
            "{errs:?}"
        );
        let errs = read(
            &csv(&[
                HEAD_EN,
                &format!("w,620100,{row}"),
                &format!("w,620100,{row}"),
            ]),
            Format::Csv,
            None,
        )
        .unwrap_err();
        assert_eq!(errs[0].row, 3);
        assert!(errs[0].en.contains("twice"));
        let errs = read(&csv(&[HEAD_EN]), Format::Csv, None).unwrap_err();
        assert!(errs[0].en.contains("no rows"));
        // Negative numbers are numbers, not formulas.
        let r = read(
            &csv(&[
                HEAD_EN,
                "w,620100,-33.9,151.2,forklift:2,,2027-01-01,2027-02-01,20,2500,yes",
            ]),
            Format::Csv,
            None,
        )
        .unwrap();
        assert_eq!(r.offers[0].1["home"]["lat"], json!(-33.9));
    }

    #[test]
    fn dates_come_as_iso_slashes_chinese_or_excel_serials() {
        assert_eq!(date(&Cell::Text("2027/1/5".into())).unwrap(), "2027-01-05");
        assert_eq!(
            date(&Cell::Text("2027年1月5日".into())).unwrap(),
            "2027-01-05"
        );
        // 46392 is 2027-01-05 in Excel's numbering.
        assert_eq!(date(&Cell::Date(46392.0)).unwrap(), "2027-01-05");
        assert!(date(&Cell::Text("2027-02-30".into())).is_err());
    }

    #[test]
    fn event_fields_map_back_to_columns() {
        assert_eq!(column_for("home.lat"), "home_lat");
        assert_eq!(column_for("available.end"), "available_end");
        assert_eq!(column_for("skills[0].level"), "skills");
        assert_eq!(column_for("min_hourly_wage_fen"), "min_hourly_wage_fen");
        assert_eq!(column_for("certificates[1]"), "certificates");
    }
}

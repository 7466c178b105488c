//! The agreement pack (DESIGN.md §5): the document every required party of
//! an agreed proposal signs before the worker starts.
//!
//! It is generated, never typed in: [`AgreementTerms::of`] takes the terms
//! from the proposal, the shortage and the worker's profile at the moment
//! the proposal became agreed, and [`AgreementTerms::render_html`] writes
//! one printable HTML page, Chinese first with an English rendering, in
//! three parts: the cooperation agreement between the two enterprises, the
//! change to the worker's labour contract (post, place, hours, pay), and
//! the worker's consent — for a flexible worker (no lender) the borrower
//! and the worker only. The text is a pure function of the terms, so the
//! engine (which checks each signature's hash), the gateway (which serves
//! the page) and any replay all make the same bytes and the same SHA-256.
//!
//! What the policy (人社厅发〔2020〕98号) asks the pack to say, each in a
//! clause: who pays whom — borrower to lender, lender to worker, the same
//! amount unchanged, with no deduction, fee or profit; work-injury
//! insurance stays with the lender; the worker may return to the lender;
//! the lending ends no later than the worker's contract with the lender.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::{MatchProposed, Party, Requirement, ShortagePosted, WorkerOffered};
use crate::values::*;

/// The terms an agreement is made of, frozen when the proposal is agreed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementTerms {
    /// The proposal.
    pub match_id: MatchId,
    /// The gap.
    pub gap_id: GapId,
    /// The borrowing enterprise.
    pub borrower: EnterpriseId,
    /// The lending enterprise; `None` for a flexible worker.
    pub lender: Option<EnterpriseId>,
    /// The worker.
    pub worker_id: WorkerId,
    /// The worker's name, when the lender or agency gave one.
    pub worker_name: Option<DisplayName>,
    /// The labour market.
    pub region: Region,
    /// Where the work is.
    pub site: Place,
    /// The post's title, when the borrower gave one.
    pub title: Option<Title>,
    /// The skills the post asks for.
    pub requirements: Vec<Requirement>,
    /// Days of work.
    pub window: Window,
    /// Working hours per day.
    pub hours_per_day: HoursPerDay,
    /// The hourly wage, passed through unchanged.
    pub hourly_wage_fen: Fen,
    /// The end of the worker's contract with the lender, when set.
    pub contract_end: Option<Date>,
}

impl AgreementTerms {
    /// The terms of proposal `p` for gap `g` and worker `w`.
    pub fn of(p: &MatchProposed, g: &ShortagePosted, w: &WorkerOffered) -> Self {
        Self {
            match_id: p.match_id.clone(),
            gap_id: g.gap_id.clone(),
            borrower: g.enterprise_id.clone(),
            lender: w.employer_id.clone(),
            worker_id: w.worker_id.clone(),
            worker_name: w.display_name.clone(),
            region: g.region.clone(),
            site: g.site,
            title: g.title.clone(),
            requirements: g.requirements.clone(),
            window: g.window,
            hours_per_day: g.hours(),
            hourly_wage_fen: g.hourly_wage_fen,
            contract_end: w.contract_end,
        }
    }

    /// Who must sign: the borrower, the worker, and the lender when the
    /// worker has one.
    pub fn signatories(&self) -> Vec<Party> {
        required_parties(self.lender.is_some())
    }

    /// The SHA-256 of [`AgreementTerms::render_html`]'s bytes.
    pub fn sha256(&self) -> Sha256Hex {
        let digest = Sha256::digest(self.render_html().as_bytes());
        let mut hex = String::with_capacity(64);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        Sha256Hex::new(hex).expect("64 lowercase hex digits")
    }

    /// The document: one printable HTML page, Chinese then English.
    pub fn render_html(&self) -> String {
        let wage = yuan(self.hourly_wage_fen.get());
        let title = self.title.as_ref().map_or("—", |t| t.as_str());
        let worker = match &self.worker_name {
            Some(n) => format!("{} ({})", esc(n.as_str()), self.worker_id),
            None => self.worker_id.to_string(),
        };
        let skills = if self.requirements.is_empty() {
            "—".to_owned()
        } else {
            self.requirements
                .iter()
                .map(|r| format!("{} ≥ {}", r.skill, r.min_level.get()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let site = format!("{:.5}, {:.5}", self.site.lat(), self.site.lon());
        let (start, end) = (self.window.start, self.window.end);
        let hours = self.hours_per_day.get();
        let mut h = String::with_capacity(6000);
        let _ = write!(
            h,
            "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>共享用工协议 Shared employment agreement {m}</title>\
             <style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}}\
             .en{{color:#444}}td{{padding:.2em .6em;vertical-align:top}}</style></head><body>\n\
             <h1>共享用工协议<br><span class=\"en\">Shared employment agreement</span></h1>\n\
             <p>编号 No. {m} · 缺口 Gap {g} · 地区 Region {r}</p>\n\
             <table>\n\
             <tr><td>借入企业 Borrower</td><td>{b}</td></tr>\n\
             <tr><td>借出企业 Lender</td><td>{l}</td></tr>\n\
             <tr><td>劳动者 Worker</td><td>{worker}</td></tr>\n\
             <tr><td>岗位 Post</td><td>{t}（技能 skills: {skills}）</td></tr>\n\
             <tr><td>工作地点 Place</td><td>{site}</td></tr>\n\
             <tr><td>期限 Period</td><td>{start} 至 to {end}</td></tr>\n\
             <tr><td>工时 Hours</td><td>每日 {hours} 小时 · {hours} hours a day</td></tr>\n\
             <tr><td>工资 Wage</td><td>每小时 {wage} 元 · CNY {wage} an hour</td></tr>\n\
             </table>\n",
            m = self.match_id,
            g = self.gap_id,
            r = self.region,
            b = self.borrower,
            l = self.lender.as_ref().map_or(
                "无（灵活就业人员）· none (flexible worker)".to_owned(),
                |l| l.to_string()
            ),
            t = esc(title),
        );
        let mut n = 0;
        let mut clause = |zh: &str, en: &str| {
            n += 1;
            let _ = writeln!(h, "<p>{n}. {zh}<br><span class=\"en\">{en}</span></p>");
        };
        match &self.lender {
            Some(l) => {
                clause(
                    &format!(
                        "合作协议：借出企业 {l} 将劳动者借给借入企业 {b}，在上述期限、地点和岗位工作，\
                         借入企业按上述工时和工资安排工作。",
                        b = self.borrower
                    ),
                    &format!(
                        "Cooperation agreement: the lender {l} lends the worker to the borrower {b} \
                         for the post, place and period above; the borrower provides the work at the \
                         hours and wage above.",
                        b = self.borrower
                    ),
                );
                clause(
                    &format!(
                        "工资支付：借入企业按确认的工时、每小时 {wage} 元向借出企业支付；借出企业将同一金额\
                         全额支付给劳动者，不得扣减、收取费用或从中获利。"
                    ),
                    &format!(
                        "Pay: the borrower pays the lender CNY {wage} for each confirmed hour; the lender \
                         pays the worker the same amount in full, with no deduction, no fee and no profit."
                    ),
                );
                clause(
                    "劳动关系与工伤保险：劳动者与借出企业的劳动合同不变，工伤保险由借出企业继续缴纳。",
                    "Employment and injury insurance: the worker's labour contract with the lender \
                     stands, and the lender keeps paying the worker's work-injury insurance.",
                );
                clause(
                    "劳动合同变更：本协议期间劳动者的岗位、工作地点、工时和工资按上表执行。",
                    "Change to the labour contract: for this lending the worker's post, place, hours \
                     and pay are as in the table above.",
                );
                clause(
                    "返回权：劳动者可随时提前返回借出企业，不因此受到不利对待。",
                    "Right to return: the worker may return to the lender early at any time, and is \
                     not penalised for it.",
                );
                let ends = match self.contract_end {
                    Some(d) => format!("，最迟于劳动合同终止日 {d}"),
                    None => String::new(),
                };
                let ends_en = match self.contract_end {
                    Some(d) => format!(", and at the latest on {d}, when the contract ends"),
                    None => String::new(),
                };
                clause(
                    &format!("期限：借用随劳动者与借出企业的劳动合同终止而终止{ends}。"),
                    &format!(
                        "Term: the lending ends when the worker's contract with the lender \
                         ends{ends_en}."
                    ),
                );
            }
            None => {
                clause(
                    &format!(
                        "用工约定：借入企业 {b} 安排劳动者在上述期限、地点和岗位工作，按确认的工时、每小时 \
                         {wage} 元直接向劳动者支付工资，不得扣减。",
                        b = self.borrower
                    ),
                    &format!(
                        "Engagement: the borrower {b} provides the work at the post, place and period \
                         above and pays the worker CNY {wage} for each confirmed hour directly, with no \
                         deduction.",
                        b = self.borrower
                    ),
                );
                clause(
                    "提前结束：劳动者可提前结束本次用工，不因此受到不利对待。",
                    "Ending early: the worker may end this engagement early, and is not penalised \
                     for it.",
                );
            }
        }
        clause(
            "本人同意：劳动者确认已阅读本协议，自愿参加本次共享用工。",
            "Consent: the worker has read this agreement and takes part in this lending of their \
             own free will.",
        );
        let signers: Vec<&str> = self
            .signatories()
            .into_iter()
            .map(|p| match p {
                Party::Borrower => "借入企业 Borrower",
                Party::Lender => "借出企业 Lender",
                Party::Worker => "劳动者 Worker",
            })
            .collect();
        let _ = write!(
            h,
            "<p>签署方 To be signed by: {}。各方以本文件的 SHA-256 签署。\
             <span class=\"en\">Each party signs this document's SHA-256.</span></p>\n\
             </body></html>\n",
            signers.join("、")
        );
        h
    }
}

/// Who must accept and sign a proposal: the borrower and the worker, and
/// the lender when the worker has one.
pub fn required_parties(has_lender: bool) -> Vec<Party> {
    if has_lender {
        vec![Party::Borrower, Party::Lender, Party::Worker]
    } else {
        vec![Party::Borrower, Party::Worker]
    }
}

/// Fen as yuan with two decimals.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02}", f / 100, f % 100)
}

/// Text made safe for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

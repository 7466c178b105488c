//! Plain words for what the engine records in numbers: a proposal's
//! explanation ("通勤约 6.2 公里；技能等级高于要求 1 级；重点群体优先"),
//! statuses, money and skills.
//!
//! The explanation's terms are costs; their meaning in kilometres, levels
//! and yuan is read with the engine's default weights
//! ([`lendwork_engine::CostWeights::default`]), which the service runs
//! with unless its operator changed them (then the words are approximate;
//! the numbers in the API's explanation stay exact).

use lendwork_domain::vocab::{vocabulary, Lang};
use lendwork_engine::CostWeights;
use std::collections::BTreeMap;

/// The explanation's terms in plain words, Chinese and English.
pub(crate) fn explanation(terms: &BTreeMap<String, u64>) -> (String, String) {
    let w = CostWeights::default();
    let get = |k: &str| terms.get(k).copied().unwrap_or(0);
    let mut zh = Vec::new();
    let mut en = Vec::new();
    if w.distance_per_km > 0 {
        let km = get("distance") as f64 / f64::from(w.distance_per_km);
        zh.push(format!("通勤约 {km:.1} 公里"));
        en.push(format!("commute about {km:.1} km"));
    }
    if w.over_qualification_per_level > 0 {
        let levels = get("over_qualification") / u64::from(w.over_qualification_per_level);
        if levels == 0 {
            zh.push("技能等级与要求相符".to_owned());
            en.push("skill levels as required".to_owned());
        } else {
            zh.push(format!("技能等级高于要求 {levels} 级"));
            en.push(format!("{levels} skill level(s) above the requirement"));
        }
    }
    if get("priority") == 0 {
        zh.push("重点群体优先".to_owned());
        en.push("priority group".to_owned());
    }
    if w.wage_margin_per_yuan > 0 {
        let short = get("wage_margin") / u64::from(w.wage_margin_per_yuan);
        if short == 0 {
            zh.push("工资高于本人最低要求 20 元/小时以上".to_owned());
            en.push("wage ¥20+/h above the worker's minimum".to_owned());
        } else {
            let above = 20u64.saturating_sub(short);
            zh.push(format!("工资高于本人最低要求约 {above} 元/小时"));
            en.push(format!("wage about ¥{above}/h above the worker's minimum"));
        }
    }
    if terms.contains_key("not_favourite") && get("not_favourite") == 0 {
        zh.push("贵单位的常用人员".to_owned());
        en.push("one of your favourites".to_owned());
    }
    if terms.contains_key("no_show_risk") && get("no_show_risk") == 0 {
        zh.push("无缺勤记录".to_owned());
        en.push("no missed starts on record".to_owned());
    }
    (zh.join("；"), en.join("; "))
}

/// A proposal status in Chinese and English.
pub(crate) fn status(s: &str) -> (&'static str, &'static str) {
    match s {
        "proposed" => ("待确认", "waiting for answers"),
        "agreed" => ("已同意，待签署", "agreed, to sign"),
        "signed" => ("已签署，待上岗", "signed, to start"),
        "started" => ("在岗", "working"),
        "completed" => ("已完成", "completed"),
        "returned" => ("已返回", "returned"),
        "no_show" => ("未到岗", "no-show"),
        "ended_cancelled" => ("已取消", "called off"),
        "terminated" => ("已终止", "terminated"),
        "declined" => ("已拒绝", "declined"),
        "expired" => ("已过期", "expired"),
        "cancelled" => ("已撤销", "cancelled"),
        "open" => ("招募中", "open"),
        "filled" => ("已满员", "filled"),
        "withdrawn" => ("已撤回", "withdrawn"),
        "pending" => ("处理中", "being processed"),
        "available" => ("可借调", "available"),
        _ => ("—", "—"),
    }
}

/// Fen as yuan with two decimals (the agreement pack's own formatting).
pub(crate) use lendwork_domain::agreement::yuan;

/// A skill's Chinese name with its English.
pub(crate) fn skill(slug: &str) -> (String, String) {
    let v = vocabulary();
    (
        v.skill_name(slug, Lang::Zh).to_owned(),
        v.skill_name(slug, Lang::En).to_owned(),
    )
}

/// A certificate's Chinese name with its English.
pub(crate) fn certificate(slug: &str) -> (String, String) {
    let v = vocabulary();
    (
        v.certificate_name(slug, Lang::Zh).to_owned(),
        v.certificate_name(slug, Lang::En).to_owned(),
    )
}

/// A region's name (or its code when the vocabulary lacks it).
pub(crate) fn region(code: &str) -> (String, String) {
    use lendwork_domain::vocab::region_name;
    (
        region_name(code, Lang::Zh).unwrap_or(code).to_owned(),
        region_name(code, Lang::En).unwrap_or(code).to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_read_in_kilometres_levels_and_groups() {
        let terms: BTreeMap<String, u64> = [
            ("distance", 62),
            ("over_qualification", 20),
            ("priority", 0),
            ("wage_margin", 0),
            ("fairness", 10),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let (zh, en) = explanation(&terms);
        assert_eq!(zh, "通勤约 6.2 公里；技能等级高于要求 1 级；重点群体优先；工资高于本人最低要求 20 元/小时以上");
        assert!(en.starts_with("commute about 6.2 km; 1 skill level(s) above"));
        assert_eq!(yuan(-1234), "-12.34");
        assert_eq!(yuan(5), "0.05");
    }
}

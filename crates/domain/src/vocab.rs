//! The skill, certificate and region vocabulary: Chinese and English names
//! for the contract's slugs.
//!
//! The contract's identifiers stay slugs (`forklift`, `health-cert`,
//! `620100`); people read and type names. The skills' Chinese names are
//! the titles of the *中华人民共和国职业分类大典* (2022 edition) for the
//! occupation or work type a skill is used in, where the book has one
//! (焊工, 中式烹调师, 养老护理员, 收银员, 砌筑工 …), and the common trade
//! name otherwise; the certificates' are the names the issuing schemes
//! use (特种作业操作证, 特种设备作业人员证, 健康证明, 机动车驾驶证). Each
//! term also has aliases: the short names clerks type (叉车, 电焊, 保洁,
//! 厨师, 收银). The book's six-level codes are not carried: a code printed
//! wrong is worse than none.
//!
//! A name is looked up by slug, Chinese name, English name or alias
//! ([`Vocabulary::skill`]); an unknown name gets suggestions (edit
//! distance on characters, and containment for Chinese, where one
//! character can already be a word). A slug the vocabulary does not hold
//! is still a valid identifier of the contract: an office can use its own
//! trades before they are named here.
//!
//! ```
//! use lendwork_domain::vocab::{self, Lookup};
//! let v = vocab::vocabulary();
//! assert_eq!(v.skill("叉车"), Lookup::Found("forklift"));
//! assert_eq!(v.skill("Forklift driver"), Lookup::Found("forklift"));
//! assert_eq!(v.skill_name("forklift", vocab::Lang::Zh), "叉车司机");
//! assert!(matches!(v.skill("焊功"), Lookup::Unknown(s) if s.contains(&"welding")));
//! assert_eq!(vocab::region_name("620100", vocab::Lang::Zh), Some("兰州市"));
//! ```

/// A language of the screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Chinese (the default).
    Zh,
    /// English.
    En,
}

/// One term: its slug, names and aliases.
#[derive(Debug)]
pub struct Term {
    /// The contract's identifier.
    pub slug: &'static str,
    /// Chinese name.
    pub zh: &'static str,
    /// English name.
    pub en: &'static str,
    /// Other names people use.
    pub aliases: &'static [&'static str],
}

impl Term {
    /// The name in `lang`.
    pub fn name(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.en,
        }
    }
}

const fn t(
    slug: &'static str,
    zh: &'static str,
    en: &'static str,
    aliases: &'static [&'static str],
) -> Term {
    Term {
        slug,
        zh,
        en,
        aliases,
    }
}

/// The skills.
pub const SKILLS: &[Term] = &[
    t(
        "assembly",
        "装配工",
        "Assembler",
        &["装配", "组装", "组装工"],
    ),
    t(
        "welding",
        "焊工",
        "Welder",
        &["电焊", "电焊工", "焊接", "气焊"],
    ),
    t(
        "quality-inspection",
        "质检员",
        "Quality inspector",
        &["质检", "检验员", "品检"],
    ),
    t(
        "machine-operation",
        "机床操作工",
        "Machine operator",
        &["机床", "设备操作", "车床工", "操作工"],
    ),
    t(
        "cooking",
        "中式烹调师",
        "Cook",
        &["厨师", "烹饪", "炒菜", "烹调"],
    ),
    t("cleaning", "保洁员", "Cleaner", &["保洁", "清洁", "清洁工"]),
    t(
        "reception",
        "前厅服务员",
        "Receptionist",
        &["前台", "接待", "接待员"],
    ),
    t(
        "forklift",
        "叉车司机",
        "Forklift driver",
        &["叉车", "叉车工", "铲车"],
    ),
    t(
        "warehouse-picking",
        "仓储拣货员",
        "Warehouse picker",
        &["拣货", "拣货员", "仓管", "仓库"],
    ),
    t(
        "delivery-driving",
        "道路货运驾驶员",
        "Delivery driver",
        &["送货司机", "货车司机", "配送", "司机"],
    ),
    t("cashier", "收银员", "Cashier", &["收银"]),
    t(
        "shelf-stocking",
        "理货员",
        "Shelf stocker",
        &["理货", "上架", "补货"],
    ),
    t(
        "food-packing",
        "食品包装工",
        "Food packer",
        &["包装", "包装工", "食品包装"],
    ),
    t(
        "elder-care",
        "养老护理员",
        "Elder-care worker",
        &["护工", "养老护理", "护理员"],
    ),
    t(
        "bricklaying",
        "砌筑工",
        "Bricklayer",
        &["瓦工", "砌砖", "泥瓦工"],
    ),
];

/// The certificates.
pub const CERTIFICATES: &[Term] = &[
    t(
        "welding-cert",
        "特种作业操作证（焊接与热切割作业）",
        "Special operations certificate (welding and thermal cutting)",
        &["焊工证", "电焊证", "焊接证"],
    ),
    t(
        "forklift-licence",
        "特种设备作业人员证（叉车司机 N1）",
        "Special equipment operator certificate (forklift, N1)",
        &["叉车证", "叉车驾驶证", "N1"],
    ),
    t(
        "health-cert",
        "健康证明",
        "Health certificate",
        &["健康证", "食品健康证"],
    ),
    t(
        "driving-licence-c1",
        "机动车驾驶证（C1）",
        "Driving licence (C1)",
        &["驾照", "驾驶证", "C1", "c1驾照"],
    ),
    t(
        "care-worker-cert",
        "养老护理员职业技能等级证书",
        "Elder-care worker skill certificate",
        &["护理证", "养老护理证", "护理员证"],
    ),
];

/// Gansu's prefecture-level divisions (the demo's regions): code, Chinese
/// name, English name (GB/T 2260).
pub const REGIONS: &[(&str, &str, &str)] = &[
    ("620100", "兰州市", "Lanzhou"),
    ("620200", "嘉峪关市", "Jiayuguan"),
    ("620300", "金昌市", "Jinchang"),
    ("620400", "白银市", "Baiyin"),
    ("620500", "天水市", "Tianshui"),
    ("620600", "武威市", "Wuwei"),
    ("620700", "张掖市", "Zhangye"),
    ("620800", "平凉市", "Pingliang"),
    ("620900", "酒泉市", "Jiuquan"),
    ("621000", "庆阳市", "Qingyang"),
    ("621100", "定西市", "Dingxi"),
    ("621200", "陇南市", "Longnan"),
    (
        "622900",
        "临夏回族自治州",
        "Linxia Hui Autonomous Prefecture",
    ),
    (
        "623000",
        "甘南藏族自治州",
        "Gannan Tibetan Autonomous Prefecture",
    ),
];

/// A region's name, when the vocabulary knows its code.
pub fn region_name(code: &str, lang: Lang) -> Option<&'static str> {
    REGIONS
        .iter()
        .find(|r| r.0 == code)
        .map(|r| if lang == Lang::Zh { r.1 } else { r.2 })
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The term's slug.
    Found(&'static str),
    /// A valid slug the vocabulary does not name (the contract allows it).
    Slug(String),
    /// Neither: the nearest terms' slugs (best first, at most three).
    Unknown(Vec<&'static str>),
}

/// The vocabulary.
#[derive(Debug)]
pub struct Vocabulary {
    /// Skills.
    pub skills: &'static [Term],
    /// Certificates.
    pub certificates: &'static [Term],
}

/// The built-in vocabulary.
pub fn vocabulary() -> &'static Vocabulary {
    static V: Vocabulary = Vocabulary {
        skills: SKILLS,
        certificates: CERTIFICATES,
    };
    &V
}

impl Vocabulary {
    /// A skill by slug or name.
    pub fn skill(&self, name: &str) -> Lookup {
        lookup(self.skills, name)
    }
    /// A certificate by slug or name.
    pub fn certificate(&self, name: &str) -> Lookup {
        lookup(self.certificates, name)
    }
    /// A skill's name in `lang`, or the slug when it has none.
    pub fn skill_name<'a>(&self, slug: &'a str, lang: Lang) -> &'a str {
        self.skills
            .iter()
            .find(|t| t.slug == slug)
            .map_or(slug, |t| t.name(lang))
    }
    /// A certificate's name in `lang`, or the slug when it has none.
    pub fn certificate_name<'a>(&self, slug: &'a str, lang: Lang) -> &'a str {
        self.certificates
            .iter()
            .find(|t| t.slug == slug)
            .map_or(slug, |t| t.name(lang))
    }
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

fn lookup(terms: &'static [Term], name: &str) -> Lookup {
    let want = fold(name);
    for term in terms {
        let names = [term.slug, term.zh, term.en]
            .into_iter()
            .chain(term.aliases.iter().copied());
        if names.into_iter().any(|n| fold(n) == want) {
            return Lookup::Found(term.slug);
        }
    }
    let near = suggest(terms, &want);
    // A valid slug the vocabulary lacks is the contract's own identifier,
    // unless it is a near miss of a known one (`cashir`): a typo is asked
    // about rather than taken as a new trade.
    if near.is_empty() && crate::values::check_slug(&want).is_ok() && want == name.trim() {
        return Lookup::Slug(want);
    }
    Lookup::Unknown(near)
}

/// The nearest terms, best first: by edit distance relative to the longer
/// name (at most a third of it), or, for a name in Chinese, by the share
/// of its characters found in one of the term's names (at least a
/// quarter: one character of a Chinese name is often a word).
fn suggest(terms: &'static [Term], want: &str) -> Vec<&'static str> {
    let w: Vec<char> = want.chars().collect();
    let mut scored: Vec<(u32, &'static str)> = terms
        .iter()
        .filter_map(|term| {
            let best = [term.slug, term.zh, term.en]
                .into_iter()
                .chain(term.aliases.iter().copied())
                .filter_map(|n| {
                    let n: Vec<char> = fold(n).chars().collect();
                    let longer = w.len().max(n.len()).max(1) as u32;
                    let rel = distance(&w, &n) as u32 * 1000 / longer;
                    let han = w.iter().filter(|c| !c.is_ascii()).count() as u32;
                    let shared = w.iter().filter(|c| !c.is_ascii() && n.contains(c)).count() as u32;
                    let by_chars = (han > 0 && shared > 0).then(|| 1000 - shared * 1000 / han);
                    let by_edits = (rel <= 340).then_some(rel);
                    match (by_edits, by_chars.filter(|s| *s <= 750)) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                })
                .min()?;
            Some((best, term.slug))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, s)| s).collect()
}

/// Levenshtein distance over characters.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slug_is_a_contract_slug_and_every_name_is_unique() {
        for terms in [SKILLS, CERTIFICATES] {
            let mut seen = std::collections::HashMap::new();
            for t in terms {
                crate::values::check_slug(t.slug).unwrap();
                for n in [t.slug, t.zh, t.en].iter().chain(t.aliases) {
                    let other = seen.insert(fold(n), t.slug);
                    assert!(other.map_or(true, |o| o == t.slug), "{n} names two terms");
                }
            }
        }
    }

    #[test]
    fn names_aliases_and_slugs_find_the_term() {
        let v = vocabulary();
        assert_eq!(v.skill("焊工"), Lookup::Found("welding"));
        assert_eq!(v.skill(" 电焊 "), Lookup::Found("welding"));
        assert_eq!(v.skill("WELDER"), Lookup::Found("welding"));
        assert_eq!(v.skill("welding"), Lookup::Found("welding"));
        assert_eq!(v.certificate("健康证"), Lookup::Found("health-cert"));
        assert_eq!(v.skill("tiling"), Lookup::Slug("tiling".into()));
        assert_eq!(v.skill("scaffolding"), Lookup::Slug("scaffolding".into()));
    }

    #[test]
    fn unknown_names_get_suggestions_and_far_ones_none() {
        let v = vocabulary();
        let Lookup::Unknown(s) = v.skill("cashir") else {
            panic!()
        };
        assert_eq!(s.first(), Some(&"cashier"));
        let Lookup::Unknown(s) = v.skill("叉车师傅") else {
            panic!()
        };
        assert_eq!(s.first(), Some(&"forklift"));
        assert_eq!(v.skill("Xyzzy Q"), Lookup::Unknown(vec![]));
        // Upper case is not a slug, and not near anything.
        assert!(matches!(v.skill("Tiling"), Lookup::Unknown(_)));
    }

    #[test]
    fn distance_is_levenshtein() {
        let d = |a: &str, b: &str| {
            distance(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("叉车", "叉车司机"), 2);
    }
}

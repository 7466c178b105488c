//! The pre-check summaries: for each grid entry, a few integers kept
//! column by column beside the entries ([`WCols`], [`GCols`]), and the
//! branch-free filter every candidate scan runs over them first.
//!
//! Scans of crowded cells are bound by memory traffic; the summaries are a
//! few bytes per entry, streamed, and reject most candidates before a full
//! entry is read. Every test here is a necessary condition of
//! [`WCand::fits`], so the filter never drops a pair the entry would take.
//! Columns are 32 bits wide or less and rows are tested in blocks of 32
//! into a bit mask, so the compiler runs several rows per instruction on
//! x86-64's baseline SSE2 (`docs/design/engine.md`, "The pre-check").

use super::index::{ALL, CLASSES};
use super::{GCand, WCand};
use crate::grid::{Columns, Slotted};

/// Fen as `i32`, saturating: monotone, so comparing the results is a
/// necessary condition of comparing the originals.
pub(super) fn fen32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// A worker's pre-check summary: the tests that reject most gaps (window,
/// wage, contract, first commitment, level in the key's skill, skills).
///
/// Every column is 32 bits wide or less, so that the tests run as many
/// lanes at once as x86-64's baseline SSE2 allows (64-bit lanes have no
/// SSE2 compare): the last day the worker may serve is one column, the
/// earlier of its availability's end and its contract's (a gap must end by
/// both), and the skill bits are folded to 32 (a subset before folding is
/// a subset after, so the test stays a necessary condition).
#[derive(Clone, Copy, Debug)]
pub(super) struct WHot {
    from: i32,
    /// `min(to, lend_until)` of the entry.
    until: i32,
    min_wage: i32,
    /// The first standing commitment, or an empty range.
    busy: (i32, i32),
    /// The worker's level in the key's skill (5 under "any skill").
    level: u8,
    /// Bits of every skill held, at any level, folded to 32 ([`fold32`]).
    skills: u32,
}

/// 64 skill bits folded to 32 (bit `s` lands on bit `s % 32`).
fn fold32(bits: u64) -> u32 {
    (bits as u32) | ((bits >> 32) as u32)
}

/// [`WHot`] by columns.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct WCols {
    from: Vec<i32>,
    until: Vec<i32>,
    min_wage: Vec<i32>,
    busy_from: Vec<i32>,
    busy_to: Vec<i32>,
    level: Vec<u8>,
    skills: Vec<u32>,
}

/// Implements [`Columns`] for a struct of column vectors named like the
/// row's fields (`(column, field expression on the row)` pairs).
macro_rules! columns {
    ($cols:ty, $row:ty, $($col:ident = $get:expr),+ $(,)?) => {
        impl Columns for $cols {
            type Row = $row;
            fn push(&mut self, r: $row) {
                $(self.$col.push($get(&r));)+
            }
            fn swap_remove(&mut self, i: usize) {
                $(self.$col.swap_remove(i);)+
            }
            fn set(&mut self, i: usize, r: $row) {
                $(self.$col[i] = $get(&r);)+
            }
        }
    };
}

columns!(
    WCols,
    WHot,
    from = |r: &WHot| r.from,
    until = |r: &WHot| r.until,
    min_wage = |r: &WHot| r.min_wage,
    busy_from = |r: &WHot| r.busy.0,
    busy_to = |r: &WHot| r.busy.1,
    level = |r: &WHot| r.level,
    skills = |r: &WHot| r.skills,
);

/// Pushes the rows `i` in `0..n` for which `ok(i)` holds, testing 32 rows
/// at a time into a bit mask without branches (so the tests run several
/// lanes at once) and branching only on the rows that pass; the last
/// few rows one by one.
///
/// Each row's result selects its bit from a constant (`ok ? 1 << j : 0`)
/// in 32-bit lanes, which x86-64's baseline SSE2 runs four rows per
/// instruction. Blocks are 32 rows because most cells hold few rows:
/// longer blocks would leave most rows to the one-by-one remainder, and
/// shorter ones run more instructions per row.
#[inline(always)]
fn passing(n: usize, out: &mut Vec<u32>, ok: impl Fn(usize) -> bool) {
    const BLOCK: usize = 32;
    let mut base = 0;
    while base + BLOCK <= n {
        let mut bits = 0u32;
        for j in 0..BLOCK {
            bits |= 0u32.wrapping_sub(u32::from(ok(base + j))) & (1 << j);
        }
        while bits != 0 {
            out.push((base + bits.trailing_zeros() as usize) as u32);
            bits &= bits - 1;
        }
        base += BLOCK;
    }
    for i in base..n {
        if ok(i) {
            out.push(i as u32);
        }
    }
}

impl WCols {
    /// The rows that may fit gap `g` whose requirement in the key's skill
    /// is level `need` and whose required skills have the bits `required`
    /// (a necessary condition of [`WCand::fits`]).
    pub(super) fn may_fit(
        &self,
        g: &GCand,
        wage: i32,
        need: u8,
        required: u64,
        out: &mut Vec<u32>,
    ) {
        let n = self.from.len();
        let required = fold32(required);
        let (from, until, min_wage) = (&self.from[..n], &self.until[..n], &self.min_wage[..n]);
        let (bf, bt, level, skills) = (
            &self.busy_from[..n],
            &self.busy_to[..n],
            &self.level[..n],
            &self.skills[..n],
        );
        passing(n, out, |i| {
            (from[i] <= g.start)
                & (g.end <= until[i])
                & (wage >= min_wage[i])
                & !((bf[i] <= g.end) & (g.start <= bt[i]))
                & (level[i] >= need)
                & (required & !skills[i] == 0)
        });
    }
}

impl Slotted for WCand {
    type Hot = WCols;
    fn slot(&self) -> u32 {
        self.slot
    }
    fn hot(&self, key: u32) -> WHot {
        let skill = key / CLASSES;
        let level = if skill == ALL {
            5
        } else {
            let bit = 1u64 << (skill % 64);
            self.has.iter().filter(|h| *h & bit != 0).count() as u8
        };
        WHot {
            from: self.from,
            until: self.to.min(self.lend_until),
            min_wage: fen32(self.min_wage),
            busy: if self.busy_n > 0 {
                self.busy[0]
            } else {
                (i32::MAX, i32::MIN)
            },
            level,
            skills: fold32(self.has[0]),
        }
    }
}

/// A gap's pre-check summary.
#[derive(Clone, Copy, Debug)]
pub(super) struct GHot {
    start: i32,
    end: i32,
    wage: i32,
    /// The level required in the key's skill (0 under "any skill").
    level: u8,
    /// Bits of every skill required, at any level.
    required: u64,
}

/// [`GHot`] by columns.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct GCols {
    start: Vec<i32>,
    end: Vec<i32>,
    wage: Vec<i32>,
    level: Vec<u8>,
    required: Vec<u64>,
}

columns!(
    GCols,
    GHot,
    start = |r: &GHot| r.start,
    end = |r: &GHot| r.end,
    wage = |r: &GHot| r.wage,
    level = |r: &GHot| r.level,
    required = |r: &GHot| r.required,
);

impl GCols {
    /// The rows that may fit worker `w` whose level in the key's skill is
    /// `level` (a necessary condition of [`WCand::fits`]).
    pub(super) fn may_fit(&self, w: &WCand, min_wage: i32, level: u8, out: &mut Vec<u32>) {
        let n = self.start.len();
        let (start, end, wage, lv, req) = (
            &self.start[..n],
            &self.end[..n],
            &self.wage[..n],
            &self.level[..n],
            &self.required[..n],
        );
        let has = w.has[0];
        passing(n, out, |i| {
            (w.from <= start[i])
                & (end[i] <= w.to)
                & (wage[i] >= min_wage)
                & (end[i] <= w.lend_until)
                & (lv[i] <= level)
                & (req[i] & !has == 0)
        });
    }
}

impl Slotted for GCand {
    type Hot = GCols;
    fn slot(&self) -> u32 {
        self.slot
    }
    fn hot(&self, key: u32) -> GHot {
        let level = if key == ALL {
            0
        } else {
            // The lowest level at which the key's bit is required (with
            // colliding bits, the weakest: still a necessary condition).
            let bit = 1u64 << (key % 64);
            self.req
                .iter()
                .position(|r| r & bit != 0)
                .map_or(0, |l| l as u8 + 1)
        };
        GHot {
            start: self.start,
            end: self.end,
            wage: fen32(self.wage),
            level,
            required: self.required(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The blocked, branch-free filter lists exactly the rows that
        /// pass, in order, for every length (whole blocks and remainders).
        #[test]
        fn passing_lists_exactly_the_rows_that_pass(keep in proptest::collection::vec(any::<bool>(), 0..200)) {
            let mut out = Vec::new();
            passing(keep.len(), &mut out, |i| keep[i]);
            let want: Vec<u32> = (0..keep.len() as u32).filter(|&i| keep[i as usize]).collect();
            prop_assert_eq!(out, want);
        }
    }
}

//! A spatial index: items bucketed by a small integer key (an interned
//! skill, or 0 for "any") and a 0.1° × 0.1° cell, so a query touches only
//! the cells a commute radius can reach and only the items with the right
//! key. Each key's occupied cells are kept in order (row, then column), so
//! a query walks each row of its window as one range and meets only the
//! occupied cells: probing every cell of the window by hash cost more than
//! the scans of sparse grids (the gap grid holds only gaps with a free
//! position). Keys are integers hashed with a multiply-rotate hash.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use lendwork_domain::Place;

const CELL_DEG: f64 = 0.1;

/// The Fx hash (as in rustc): fine for small integer keys that no client
/// chooses adversarially (cells come from validated coordinates).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hasher builder for small integer keys.
pub type Fx = BuildHasherDefault<FxHasher>;

/// An item the grid can find again by id (a worker's or a gap's slot), so
/// removal is O(1) however crowded its cell is.
///
/// Each item also has a small *hot* summary, kept in its own array beside
/// the items: a query first runs its pre-check over the summaries (a few
/// bytes each, streamed) and reads a full item only when the pre-check
/// lets it through. Scans of crowded cells are bound by memory traffic, so
/// this is what keeps them fast.
///
/// The summaries are kept column by column ([`Columns`]), so a pre-check is
/// a loop over a few flat arrays of integers that the compiler can run
/// several lanes at a time.
pub trait Slotted: Copy + PartialEq {
    /// The columns of summaries the pre-check reads.
    type Hot: Columns;
    /// The item's id; at most one item per id under each key.
    fn slot(&self) -> u32;
    /// The item's summary as filed under `key`.
    fn hot(&self, key: u32) -> <Self::Hot as Columns>::Row;
}

/// Summaries stored as one array per field, row `i` for item `i`.
pub trait Columns: Default {
    /// One item's summary.
    type Row: Copy;
    /// Appends a row.
    fn push(&mut self, r: Self::Row);
    /// Removes row `i`, moving the last row into its place.
    fn swap_remove(&mut self, i: usize);
    /// Overwrites row `i`.
    fn set(&mut self, i: usize, r: Self::Row);
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "T: serde::Serialize, T::Hot: serde::Serialize",
    deserialize = "T: serde::Deserialize<'de>, T::Hot: serde::Deserialize<'de>"
))]
struct Cell<T: Slotted> {
    hot: T::Hot,
    items: Vec<T>,
}

impl<T: Slotted> Default for Cell<T> {
    fn default() -> Self {
        Self {
            hot: T::Hot::default(),
            items: Vec::new(),
        }
    }
}

/// Items of type `T` by key and cell.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "T: serde::Serialize, T::Hot: serde::Serialize",
    deserialize = "T: serde::Deserialize<'de>, T::Hot: serde::Deserialize<'de>"
))]
pub struct Grid<T: Slotted> {
    /// key → (row, column) → cell; empty cells are dropped.
    cells: HashMap<u32, BTreeMap<(i32, i32), Cell<T>>, Fx>,
    /// (key, slot) → index of the item in its cell.
    at: HashMap<(u32, u32), u32, Fx>,
}

impl<T: Slotted> Default for Grid<T> {
    fn default() -> Self {
        Self {
            cells: HashMap::default(),
            at: HashMap::default(),
        }
    }
}

fn cell(p: &Place) -> (i32, i32) {
    (
        (p.lat() / CELL_DEG).floor() as i32,
        (p.lon() / CELL_DEG).floor() as i32,
    )
}

impl<T: Slotted> Grid<T> {
    /// Adds `item` under `key` at `place`.
    pub fn insert(&mut self, key: u32, place: &Place, item: T) {
        let c = self
            .cells
            .entry(key)
            .or_default()
            .entry(cell(place))
            .or_default();
        c.hot.push(item.hot(key));
        c.items.push(item);
        self.at
            .insert((key, item.slot()), (c.items.len() - 1) as u32);
    }

    /// Removes `item` from under `key` at `place`.
    pub fn remove(&mut self, key: u32, place: &Place, item: T) {
        let at = cell(place);
        let Some(cells) = self.cells.get_mut(&key) else {
            return;
        };
        let Some(c) = cells.get_mut(&at) else {
            return;
        };
        let i = match self.at.get(&(key, item.slot())) {
            Some(&i) if c.items.get(i as usize) == Some(&item) => i as usize,
            // Not where the index says (never expected): look.
            _ => match c.items.iter().position(|x| *x == item) {
                Some(i) => i,
                None => return,
            },
        };
        self.at.remove(&(key, item.slot()));
        c.items.swap_remove(i);
        c.hot.swap_remove(i);
        if let Some(moved) = c.items.get(i) {
            self.at.insert((key, moved.slot()), i as u32);
        }
        if c.items.is_empty() {
            cells.remove(&at);
        }
    }

    /// Replaces `old` with `new` under `key` at `place`, in place (same
    /// slot, same cell): what a changed worker costs when only its data
    /// changed, not where it is filed. Adds `new` when `old` is not there.
    pub fn replace(&mut self, key: u32, place: &Place, old: T, new: T) {
        debug_assert_eq!(old.slot(), new.slot());
        if let Some(c) = self
            .cells
            .get_mut(&key)
            .and_then(|cells| cells.get_mut(&cell(place)))
        {
            if let Some(&i) = self.at.get(&(key, old.slot())) {
                if c.items.get(i as usize) == Some(&old) {
                    c.items[i as usize] = new;
                    c.hot.set(i as usize, new.hot(key));
                    return;
                }
            }
        }
        self.remove(key, place, old);
        self.insert(key, place, new);
    }

    /// Calls `f` for every item under `key` in the cells within `km` of
    /// `centre` whose summary passes the pre-check (a superset of the items
    /// within `km`: callers check the exact distance). `pre` is given a
    /// cell's summaries and pushes the rows that pass; it must only drop
    /// items `f` would reject.
    pub fn near(
        &self,
        key: u32,
        centre: &Place,
        km: f64,
        pre: impl Fn(&T::Hot, &mut Vec<u32>),
        mut f: impl FnMut(&T),
    ) {
        let dlat = km / 111.0 + CELL_DEG;
        let coslat = centre.lat().to_radians().cos().max(0.01);
        let dlon = (km / (111.0 * coslat) + CELL_DEG).min(360.0);
        let (a0, a1) = (
            ((centre.lat() - dlat) / CELL_DEG).floor() as i32,
            ((centre.lat() + dlat) / CELL_DEG).floor() as i32,
        );
        let (b0, b1) = (
            ((centre.lon() - dlon) / CELL_DEG).floor() as i32,
            ((centre.lon() + dlon) / CELL_DEG).floor() as i32,
        );
        let mut rows = Vec::new();
        let mut visit = |c: &Cell<T>| {
            rows.clear();
            pre(&c.hot, &mut rows);
            for &i in &rows {
                f(&c.items[i as usize]);
            }
        };
        let Some(cells) = self.cells.get(&key) else {
            return;
        };
        let rows = i64::from(a1) - i64::from(a0) + 1;
        if rows > cells.len() as i64 {
            // A window taller than the occupied cells: walking them all is cheaper.
            for ((a, b), c) in cells {
                if (a0..=a1).contains(a) && (b0..=b1).contains(b) {
                    visit(c);
                }
            }
            return;
        }
        for a in a0..=a1 {
            for (_, c) in cells.range((a, b0)..=(a, b1)) {
                visit(c);
            }
        }
    }
}

//! A spatial index: items bucketed by a key (a skill, or `*`) and a
//! 0.1° × 0.1° cell, so a query touches only the cells a commute radius
//! can reach and only the items with the right key.

use std::collections::HashMap;
use std::hash::Hash;

use lendwork_domain::Place;

const CELL_DEG: f64 = 0.1;

/// Items of type `T` by key and cell.
#[derive(Clone, Debug)]
pub struct Grid<T> {
    cells: HashMap<(Box<str>, i32, i32), Vec<T>>,
}

impl<T> Default for Grid<T> {
    fn default() -> Self {
        Self {
            cells: HashMap::new(),
        }
    }
}

fn cell(p: &Place) -> (i32, i32) {
    (
        (p.lat() / CELL_DEG).floor() as i32,
        (p.lon() / CELL_DEG).floor() as i32,
    )
}

impl<T: Clone + PartialEq + Eq + Hash> Grid<T> {
    /// Adds `item` under `key` at `place`.
    pub fn insert(&mut self, key: &str, place: &Place, item: T) {
        let (a, b) = cell(place);
        self.cells.entry((key.into(), a, b)).or_default().push(item);
    }

    /// Removes `item` from under `key` at `place`.
    pub fn remove(&mut self, key: &str, place: &Place, item: &T) {
        let (a, b) = cell(place);
        if let Some(v) = self.cells.get_mut(&(key.into(), a, b)) {
            if let Some(i) = v.iter().position(|x| x == item) {
                v.swap_remove(i);
            }
        }
    }

    /// Calls `f` for every item under `key` in the cells within `km` of
    /// `centre` (a superset of the items within `km`: callers check the
    /// exact distance).
    pub fn near(&self, key: &str, centre: &Place, km: f64, mut f: impl FnMut(&T)) {
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
        let span = (i64::from(a1) - i64::from(a0) + 1) * (i64::from(b1) - i64::from(b0) + 1);
        if span > self.cells.len() as i64 {
            // A radius wider than the occupied cells: scanning them all is cheaper.
            for ((k, a, b), v) in &self.cells {
                if &**k == key && (a0..=a1).contains(a) && (b0..=b1).contains(b) {
                    v.iter().for_each(&mut f);
                }
            }
            return;
        }
        let key: Box<str> = key.into();
        let mut probe = (key, 0, 0);
        for a in a0..=a1 {
            for b in b0..=b1 {
                probe.1 = a;
                probe.2 = b;
                if let Some(v) = self.cells.get(&probe) {
                    v.iter().for_each(&mut f);
                }
            }
        }
    }
}

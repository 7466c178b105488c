//! [`Slots`]: a vector that grows by whole chunks and never moves its
//! items.
//!
//! A market keeps its workers' and gaps' records in slots that only grow
//! (a slot is reused by its id, never freed), up to hundreds of megabytes.
//! A doubling `Vec` copies every record at each growth step and touches
//! fresh memory for the whole new capacity; on the shared virtual machines
//! Lendwork is measured on, first touches of fresh memory cost about a
//! millisecond per megabyte and were a tenth of the embedded matcher's
//! time per posting. Chunks of [`CHUNK`] items are allocated once and
//! filled in place, so each record's memory is touched once and nothing is
//! copied. An index costs a shift, a mask and one more pointer.

use std::ops::{Index, IndexMut};

/// Items per chunk (a power of two).
pub const CHUNK: usize = 4096;

/// A growable vector in fixed chunks; see the module docs.
#[derive(Clone, Debug)]
pub struct Slots<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `item` at index `len()`.
    pub fn push(&mut self, item: T) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk").push(item);
        self.len += 1;
    }

    /// The items in index order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<usize> for Slots<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> IndexMut<usize> for Slots<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

/// Serialized as the sequence of its items (the chunking is rebuilt).
impl<T: serde::Serialize> serde::Serialize for Slots<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Slots<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Items<T> {
            type Value = Slots<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of slots")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Slots<T>, A::Error> {
                let mut out = Slots::new();
                while let Some(item) = a.next_element()? {
                    out.push(item);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Items(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_like_a_vec() {
        let mut s = Slots::new();
        let mut v = Vec::new();
        for i in 0..(2 * CHUNK + 7) {
            s.push(i * 3);
            v.push(i * 3);
        }
        assert_eq!(s.len(), v.len());
        for i in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 6] {
            assert_eq!(s[i], v[i]);
        }
        s[CHUNK] = 1;
        v[CHUNK] = 1;
        assert!(s.iter().eq(v.iter()));
        assert!(!s.is_empty() && Slots::<u8>::new().is_empty());
    }

    #[test]
    #[should_panic]
    fn an_index_past_the_end_panics_like_a_vec() {
        let mut s = Slots::new();
        s.push(1u8);
        let _ = s[1];
    }
}

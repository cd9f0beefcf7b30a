//! The condition cache: per sealed row group and filter condition (a
//! [`crate::RowFilter::key`]), what the condition says of each row ([`crate::Met`],
//! packed), so a repeated query skips row groups where it holds for no row and reads only
//! the filter's cheap columns of the others. Sealed rows never change, so an entry holds
//! until its segment goes; the entries of a store's segments share one [`Budget`].

use std::sync::Arc;

/// Rows of a row group, packed.
pub(crate) enum RowSet {
    None,
    All,
    /// Their indexes, when few.
    Few(Vec<u32>),
    /// A bit per row.
    Bits(Vec<u64>),
}

impl RowSet {
    pub(crate) fn pack(mask: &[bool]) -> RowSet {
        let count = mask.iter().filter(|m| **m).count();
        if count == 0 {
            RowSet::None
        } else if count == mask.len() {
            RowSet::All
        } else if count * 32 < mask.len() {
            RowSet::Few(mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i as u32).collect())
        } else {
            let mut bits = vec![0u64; mask.len().div_ceil(64)];
            for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
                bits[i / 64] |= 1 << (i % 64);
            }
            RowSet::Bits(bits)
        }
    }

    pub(crate) fn unpack(&self, n: usize) -> Vec<bool> {
        match self {
            RowSet::None => vec![false; n],
            RowSet::All => vec![true; n],
            RowSet::Few(at) => {
                let mut v = vec![false; n];
                at.iter().filter(|&&i| (i as usize) < n).for_each(|&i| v[i as usize] = true);
                v
            }
            RowSet::Bits(bits) => (0..n).map(|i| bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)).collect(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            RowSet::None | RowSet::All => 0,
            RowSet::Few(v) => v.len() * 4,
            RowSet::Bits(v) => v.len() * 8,
        }
    }
}

/// What a condition was found to say of a row group's rows ([`crate::Met`], packed).
pub(crate) struct Known {
    pub(crate) n: usize,
    pub(crate) rows: RowSet,
    pub(crate) sure: RowSet,
}

/// What the condition caches of a store's segments may take together, and take.
pub struct Budget {
    limit: usize,
    used: std::sync::atomic::AtomicUsize,
}

impl Budget {
    /// A budget of `limit` bytes (`None` for 0: nothing is kept).
    pub fn new(limit: usize) -> Option<Arc<Budget>> {
        (limit > 0).then(|| Arc::new(Budget { limit, used: Default::default() }))
    }

    /// Bytes taken.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Per filter key ([`crate::RowFilter::key`]) and row group, what its condition says of
/// the rows, within the store's [`Budget`]: past it a segment forgets its oldest
/// entries, or keeps no new one.
pub(crate) struct Remembered {
    budget: Arc<Budget>,
    inner: parking_lot::Mutex<RememberedInner>,
}

#[derive(Default)]
struct RememberedInner {
    bytes: usize,
    known: std::collections::HashMap<(u64, usize), Arc<Known>>,
    order: std::collections::VecDeque<(u64, usize)>,
}

impl Remembered {
    /// What an entry costs besides its rows.
    const ENTRY: usize = 64;

    pub(crate) fn new(budget: Arc<Budget>) -> Remembered {
        Remembered { budget, inner: Default::default() }
    }

    fn size(k: &Known) -> usize {
        Self::ENTRY + k.rows.bytes() + k.sure.bytes()
    }

    pub(crate) fn get(&self, key: u64, g: usize) -> Option<Arc<Known>> {
        self.inner.lock().known.get(&(key, g)).cloned()
    }

    /// Keeps what a condition says of a row group's rows (once: the rows never change).
    pub(crate) fn put(&self, key: u64, g: usize, met: &crate::Met) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut m = self.inner.lock();
        if m.known.contains_key(&(key, g)) {
            return;
        }
        let k = Known { n: met.rows.len(), rows: RowSet::pack(&met.rows), sure: RowSet::pack(&met.sure) };
        let size = Self::size(&k);
        let release = |m: &mut RememberedInner, at: (u64, usize)| {
            if let Some(old) = m.known.remove(&at) {
                m.bytes -= Self::size(&old);
                self.budget.used.fetch_sub(Self::size(&old), Relaxed);
            }
        };
        while self.budget.used() + size > self.budget.limit {
            let Some(oldest) = m.order.pop_front() else { return };
            release(&mut m, oldest);
        }
        self.budget.used.fetch_add(size, Relaxed);
        m.bytes += size;
        m.known.insert((key, g), Arc::new(k));
        m.order.push_back((key, g));
    }
}

impl Drop for Remembered {
    fn drop(&mut self) {
        let bytes = self.inner.lock().bytes;
        self.budget.used.fetch_sub(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn met(n: usize, every: usize) -> crate::Met {
        crate::Met { rows: (0..n).map(|i| i % every == 0).collect(), sure: vec![false; n] }
    }

    #[test]
    fn the_condition_caches_of_a_store_stay_within_its_budget() {
        // Each entry: 64 bytes and a bit per row (4096 rows, every other one: 512 bytes).
        let budget = Budget::new(3 * 576).unwrap();
        let (a, b) = (Remembered::new(budget.clone()), Remembered::new(budget.clone()));
        a.put(1, 0, &met(4096, 2));
        a.put(1, 1, &met(4096, 2));
        b.put(2, 0, &met(4096, 2));
        assert_eq!(budget.used(), 3 * 576);
        // Full: `a` forgets its oldest to keep a new one.
        a.put(3, 0, &met(4096, 2));
        assert!(a.get(1, 0).is_none() && a.get(1, 1).is_some() && a.get(3, 0).is_some());
        assert_eq!(budget.used(), 3 * 576);
        // Again for the same key and group: kept once.
        a.put(3, 0, &met(4096, 2));
        assert_eq!(budget.used(), 3 * 576);
        // `b` has nothing older of its own to forget but its one entry: the new one
        // takes its place.
        b.put(4, 0, &met(4096, 2));
        assert!(b.get(2, 0).is_none() && b.get(4, 0).is_some());
        // A small entry (one row: its index) still needs room: `b` forgets its oldest.
        b.put(5, 1, &met(4096, 5000));
        assert!(b.get(4, 0).is_none());
        assert_eq!(budget.used(), 2 * 576 + 64 + 4);
        // A segment dropped gives its share back.
        drop(a);
        assert_eq!(budget.used(), 64 + 4);
        let got = b.get(5, 1).unwrap();
        assert_eq!(got.rows.unpack(got.n), met(4096, 5000).rows);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}

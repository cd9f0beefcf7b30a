//! The first `limit` items by time, oldest or newest first: what a search page and a
//! LogQL log query keep while every match streams by.

use std::collections::BinaryHeap;

use crate::store::Order;

struct Keyed<T>((i64, u64), T);

impl<T> PartialEq for Keyed<T> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl<T> Eq for Keyed<T> {}
impl<T> PartialOrd for Keyed<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Keyed<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

/// Keeps the first `limit` items offered, by time in `order`; items of equal time in
/// the order they were offered (the order they arrived in), oldest-first or not.
pub struct FirstByTime<T> {
    order: Order,
    limit: usize,
    seq: u64,
    /// Keyed so that the top is the item to drop next.
    heap: BinaryHeap<Keyed<T>>,
}

impl<T> FirstByTime<T> {
    /// Keeps `limit` items in `order`.
    pub fn new(order: Order, limit: usize) -> Self {
        Self { order, limit, seq: 0, heap: BinaryHeap::new() }
    }

    /// A time's rank: lower ranks come first.
    pub fn rank(order: Order, time: i64) -> i64 {
        match order {
            Order::Asc => time,
            Order::Desc => !time,
        }
    }

    /// Offers an item of time `time` (made only if it is kept).
    pub fn offer(&mut self, time: i64, item: impl FnOnce() -> T) {
        self.seq += 1;
        self.offer_at(time, self.seq, item);
    }

    /// Offers an item of time `time` at position `pos`: of items of equal time, those
    /// of lower positions are kept (for items not offered in their order).
    pub fn offer_at(&mut self, time: i64, pos: u64, item: impl FnOnce() -> T) {
        let key = (Self::rank(self.order, time), pos);
        if self.heap.len() < self.limit {
            self.heap.push(Keyed(key, item()));
        } else if self.heap.peek().is_some_and(|top| key < top.0) {
            self.heap.pop();
            self.heap.push(Keyed(key, item()));
        }
    }

    /// The rank ([`FirstByTime::rank`]) an item must not be above to be kept now (of
    /// that rank, only one of a lower position than the last kept is):
    /// `i64::MAX` until `limit` items are held.
    pub fn bar(&self) -> i64 {
        if self.heap.len() < self.limit {
            return i64::MAX;
        }
        self.heap.peek().map_or(i64::MIN, |top| top.0 .0)
    }

    /// The items kept, first first.
    pub fn into_sorted(self) -> Vec<T> {
        self.heap.into_sorted_vec().into_iter().map(|k| k.1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_by_time_either_way() {
        for (order, want) in [(Order::Asc, [1, 2, 3]), (Order::Desc, [9, 8, 7])] {
            let mut k = FirstByTime::new(order, 3);
            assert_eq!(k.bar(), i64::MAX);
            for t in [5, 9, 1, 7, 3, 8, 2] {
                k.offer(t, || t);
            }
            assert_eq!(k.bar(), FirstByTime::<i64>::rank(order, want[2]));
            assert_eq!(k.into_sorted(), want);
        }
        let mut none = FirstByTime::new(Order::Desc, 0);
        none.offer(1, || 1);
        assert!(none.into_sorted().is_empty());
    }
}

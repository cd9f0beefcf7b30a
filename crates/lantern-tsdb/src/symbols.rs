//! The head's symbol table: every label name and value held once, addressed by a `u32`,
//! with a reference count per symbol so that the strings of removed series are freed and
//! their ids reused. Series store their labels as symbol ids (8 bytes a label instead
//! of two 16-byte string pointers).

use std::collections::HashMap;
use std::sync::Arc;

use lantern_core::{Label, Labels};

/// Interned strings with reference counts.
#[derive(Debug, Default)]
pub struct Symbols {
    strings: Vec<Option<Arc<str>>>,
    refs: Vec<u32>,
    ids: HashMap<Arc<str>, u32>,
    free: Vec<u32>,
}

impl Symbols {
    /// The id of `s`, taking one reference (added if new).
    pub fn acquire(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let a: Arc<str> = Arc::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = Some(a.clone());
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.strings.push(Some(a.clone()));
                self.refs.push(1);
                (self.strings.len() - 1) as u32
            }
        };
        self.ids.insert(a, id);
        id
    }

    /// Drops one reference to `id`; the string is freed with its last reference.
    pub fn release(&mut self, id: u32) {
        let i = id as usize;
        debug_assert!(self.refs[i] > 0, "every release matches an acquire");
        self.refs[i] -= 1;
        if self.refs[i] == 0 {
            if let Some(s) = self.strings[i].take() {
                self.ids.remove(&s);
            }
            self.free.push(id);
        }
    }

    /// The string of a live id.
    pub fn get(&self, id: u32) -> &Arc<str> {
        // Ids come from series that hold a reference, so the slot is occupied.
        self.strings[id as usize].as_ref().unwrap_or_else(|| unreachable!("symbol {id} of a live series was freed"))
    }

    /// Label ids (name, value, name, value…) of `labels`, taking a reference to each.
    pub fn acquire_labels(&mut self, labels: &Labels) -> Box<[u32]> {
        labels.iter().flat_map(|l| [&*l.name, &*l.value]).map(|s| self.acquire(s)).collect()
    }

    /// The labels of an id list made by [`Symbols::acquire_labels`].
    pub fn labels(&self, ids: &[u32]) -> Labels {
        Labels::from_sorted_unchecked(
            ids.chunks_exact(2)
                .map(|p| Label { name: self.get(p[0]).clone(), value: self.get(p[1]).clone() })
                .collect(),
        )
    }

    /// Number of live symbols.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_live_while_referenced_and_ids_are_reused() {
        let mut s = Symbols::default();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let ia = s.acquire_labels(&a);
        let ib = s.acquire_labels(&b);
        assert_eq!(s.labels(&ia), a);
        assert_eq!(s.len(), 5);
        for &id in ia.iter() {
            s.release(id);
        }
        assert_eq!(s.len(), 4, "\"a\" is gone; __name__, up and job are still used by b");
        assert_eq!(s.labels(&ib), b);
        let c = Labels::from_pairs([("__name__", "up"), ("job", "c")]);
        let ic = s.acquire_labels(&c);
        assert!(ic.iter().all(|&i| (i as usize) < 5), "the freed id was reused");
        assert_eq!(s.labels(&ic), c);
    }
}

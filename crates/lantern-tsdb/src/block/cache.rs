//! A bounded cache of decompressed chunk frames, shared by all blocks: repeated queries
//! over the same time range decompress each frame once.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

/// Frames keyed by (block id, frame number), evicted least recently used first. One
/// per store (`Options::block_cache_bytes`), shared by its blocks.
pub(crate) struct FrameCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

/// A frame's key: the block id and the frame number.
type Key = (Arc<str>, u32);

#[derive(Default)]
struct Inner {
    /// Each frame with the time it was last used.
    map: HashMap<Key, (Arc<Vec<u8>>, u64)>,
    bytes: usize,
    clock: u64,
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl FrameCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), capacity }
    }

    pub(crate) fn get(&self, block: &Arc<str>, frame: u32) -> Option<Arc<Vec<u8>>> {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let now = inner.clock;
        let e = inner.map.get_mut(&(block.clone(), frame))?;
        e.1 = now;
        Some(e.0.clone())
    }

    pub(crate) fn insert(&self, block: &Arc<str>, frame: u32, data: Arc<Vec<u8>>) {
        let size = data.len();
        if size > self.capacity {
            return;
        }
        let mut inner = self.inner.lock();
        while inner.bytes + size > self.capacity {
            // Few entries (capacity / frame size): a scan for the oldest is cheap enough.
            let Some(oldest) = inner.map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some((d, _)) = inner.map.remove(&oldest) {
                inner.bytes -= d.len();
            }
        }
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner.map.insert((block.clone(), frame), (data, now)) {
            inner.bytes -= old.len();
        }
        inner.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_within_capacity_and_evicts_least_recently_used() {
        let c = FrameCache::new(300);
        let b: Arc<str> = "b".into();
        c.insert(&b, 0, Arc::new(vec![0; 100]));
        c.insert(&b, 1, Arc::new(vec![0; 100]));
        c.insert(&b, 2, Arc::new(vec![0; 100]));
        assert!(c.get(&b, 0).is_some());
        c.insert(&b, 3, Arc::new(vec![0; 100]));
        assert!(c.get(&b, 1).is_none(), "least recently used goes first");
        assert!(c.get(&b, 0).is_some() && c.get(&b, 2).is_some() && c.get(&b, 3).is_some());
        c.insert(&b, 4, Arc::new(vec![0; 1000]));
        assert!(c.get(&b, 4).is_none(), "larger than the cache: not kept");
        assert!(c.inner.lock().bytes <= 300);
    }
}

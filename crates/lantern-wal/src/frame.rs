//! One frame: `u32 LE payload length`, `u32 LE CRC-32 of the payload`, the payload. A
//! frame that is short, longer than [`MAX_FRAME`] or fails its checksum ends a segment.

/// Bytes before a frame's payload.
pub const FRAME_HEADER: usize = 8;
/// Frames larger than this are taken for damage (a length read from a torn header).
pub const MAX_FRAME: usize = 1 << 30;

/// Appends one frame holding `payload` to `buf`.
pub fn frame(payload: &[u8], buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Appends one frame whose payload `encode` writes straight into `buf` (no copy).
pub fn frame_with(buf: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME_HEADER]);
    encode(buf);
    let len = (buf.len() - start - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&buf[start + FRAME_HEADER..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Hands each good frame's payload to `f` (which returns false for a payload it cannot
/// decode: that ends the frames as damage does); returns where the first bad frame
/// starts (`bytes.len()` when every frame was good).
pub fn read_frames(bytes: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> usize {
    let mut pos = 0;
    while let Some(header) = bytes.get(pos..pos + FRAME_HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = pos + FRAME_HEADER;
        let Some(payload) = bytes.get(start..start + len).filter(|_| len <= MAX_FRAME) else {
            return pos;
        };
        if crc32fast::hash(payload) != crc || !f(payload) {
            return pos;
        }
        pos = start + len;
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frames_read_back_and_any_cut_or_flip_stops_at_a_frame_boundary(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
        ) {
            let mut buf = Vec::new();
            let mut ends = vec![0];
            for (i, p) in payloads.iter().enumerate() {
                if i % 2 == 0 { frame(p, &mut buf) } else { frame_with(&mut buf, |b| b.extend_from_slice(p)) }
                ends.push(buf.len());
            }
            let mut seen = Vec::new();
            prop_assert_eq!(read_frames(&buf, |p| { seen.push(p.to_vec()); true }), buf.len());
            prop_assert_eq!(&seen, &payloads);
            if !buf.is_empty() {
                // A torn tail: replay ends at the last whole frame before the cut.
                let at = cut.index(buf.len());
                let good = read_frames(&buf[..at], |_| true);
                prop_assert_eq!(good, *ends.iter().rev().find(|&&e| e <= at).unwrap());
                // A flipped bit: replay ends at or before the frame holding it.
                let mut damaged = buf.clone();
                let i = flip.index(buf.len());
                damaged[i] ^= 0x10;
                let good = read_frames(&damaged, |_| true);
                prop_assert!(good <= i && ends.contains(&good));
            }
        }
    }
}

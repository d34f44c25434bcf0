//! A small, fast, non-cryptographic hasher (the "Fx" multiply-rotate scheme)
//! for the vocabulary maps. Inputs are vocabulary strings and token ids, not
//! attacker-chosen keys in a long-lived server map, so HashDoS resistance is
//! not needed here; load time of a 262k-token vocabulary is.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // fold the well-mixed high bits into the low bits hash tables index by
        let h = self.hash;
        h ^ (h >> 29) ^ (h >> 47)
    }
}

pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Hash of a byte string (Fx words, then a Fibonacci multiply to spread the
/// bits used for the slot index).
#[inline]
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.write_usize(bytes.len());
    h.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Token texts and the text → id index over them. The index stores only ids
/// (open addressing, linear probing) and compares against `texts`, so a
/// 262k-token vocabulary is indexed without copying a single string.
#[derive(Debug)]
pub(crate) struct TokenMap {
    texts: Vec<String>,
    /// (id + 1, hash tag) per slot, id 0 = empty; a power of two, at most
    /// half full. The tag skips most string comparisons of a probe.
    slots: Vec<(u32, u32)>,
    shift: u32,
}

impl TokenMap {
    /// Indexes `texts`; on a duplicate returns the two ids that share a text.
    pub(crate) fn new(texts: Vec<String>) -> Result<Self, (u32, u32)> {
        let n_slots = (texts.len() * 2).next_power_of_two().max(16);
        let shift = 64 - n_slots.trailing_zeros();
        let mut slots = vec![(0u32, 0u32); n_slots];
        let mask = n_slots - 1;
        for (id, text) in texts.iter().enumerate() {
            let hash = hash_bytes(text.as_bytes());
            let tag = hash as u32;
            let mut i = (hash >> shift) as usize;
            loop {
                let (slot, slot_tag) = slots[i];
                if slot == 0 {
                    slots[i] = (id as u32 + 1, tag);
                    break;
                }
                if slot_tag == tag && texts[(slot - 1) as usize] == *text {
                    return Err((slot - 1, id as u32));
                }
                i = (i + 1) & mask;
            }
        }
        Ok(Self {
            texts,
            slots,
            shift,
        })
    }

    /// The id of `text`, if it is a token.
    #[inline]
    pub(crate) fn get(&self, text: &str) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let hash = hash_bytes(text.as_bytes());
        let tag = hash as u32;
        let mut i = (hash >> self.shift) as usize;
        loop {
            let (slot, slot_tag) = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot_tag == tag && self.texts[(slot - 1) as usize] == text {
                return Some(slot - 1);
            }
            i = (i + 1) & mask;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    pub(crate) fn texts(&self) -> &[String] {
        &self.texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_map_finds_every_text_and_rejects_duplicates() {
        let texts: Vec<String> = (0..5000).map(|i| format!("t{i}")).collect();
        let map = TokenMap::new(texts).unwrap();
        for i in 0..5000u32 {
            assert_eq!(map.get(&format!("t{i}")), Some(i));
        }
        assert_eq!(map.get("t5000"), None);
        assert_eq!(map.get(""), None);
        let err = TokenMap::new(vec!["a".into(), "b".into(), "a".into()]).unwrap_err();
        assert_eq!(err, (0, 2));
    }
}

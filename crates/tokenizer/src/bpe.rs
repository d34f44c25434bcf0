//! Byte-level BPE merges (llama.cpp's `llm_tokenizer_bpe_session`).
//!
//! A word is split into code points, then adjacent pairs are merged by rank,
//! lowest rank first and leftmost first on ties, with a priority queue over a
//! linked list of symbols: O(n log n) in the word length.
//!
//! Merges are keyed by interned piece ids rather than strings: every merge side
//! and result gets an id (the token id when the string is a token, a fresh id
//! past the vocabulary otherwise), so the hot loop hashes two `u32`s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::hash::{FxHashMap, TokenMap};

/// "Not a known piece": can take part in no merge.
const NO_PIECE: u32 = u32::MAX;

#[derive(Debug)]
pub(crate) struct BpeMerges {
    /// (left piece, right piece) → (rank, merged piece)
    ranks: FxHashMap<(u32, u32), (u32, u32)>,
    /// Strings of merges that are not tokens; ids start at `n_vocab`.
    extra_pieces: FxHashMap<String, u32>,
}

#[derive(Debug, Clone, Copy)]
struct Symbol {
    /// byte range in the word
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
    piece: u32,
}

/// Buffers reused across the words of one `encode` call.
#[derive(Default)]
pub(crate) struct BpeScratch {
    symbols: Vec<Symbol>,
    /// (rank, left, right, merged byte length)
    queue: BinaryHeap<Reverse<(u32, u32, u32, u32)>>,
}

impl BpeMerges {
    /// Parses `"left right"` merge lines; the rank is the line index and the
    /// first occurrence of a pair wins, as in llama.cpp.
    pub(crate) fn new(merges: &[String], vocab: &TokenMap) -> Self {
        let n_vocab = vocab.len() as u32;
        let mut ranks = FxHashMap::default();
        ranks.reserve(merges.len());
        let mut extra_pieces: FxHashMap<String, u32> = FxHashMap::default();
        let intern = |s: &str, extra: &mut FxHashMap<String, u32>| -> u32 {
            if let Some(id) = vocab.get(s) {
                return id;
            }
            if let Some(&id) = extra.get(s) {
                return id;
            }
            let id = n_vocab + extra.len() as u32;
            extra.insert(s.to_string(), id);
            id
        };
        let mut merged = String::new();
        for (rank, line) in merges.iter().enumerate() {
            // llama.cpp searches for the separator from byte 1 on.
            let sep = line
                .as_bytes()
                .iter()
                .skip(1)
                .position(|&b| b == b' ')
                .map(|p| p + 1);
            let Some(sep) = sep else {
                continue; // a pair of empty strings: matches no symbol
            };
            let (left, right) = (&line[..sep], &line[sep + 1..]);
            if left.is_empty() || right.is_empty() {
                continue;
            }
            let left_id = intern(left, &mut extra_pieces);
            let right_id = intern(right, &mut extra_pieces);
            merged.clear();
            merged.push_str(left);
            merged.push_str(right);
            let merged_id = intern(&merged, &mut extra_pieces);
            ranks
                .entry((left_id, right_id))
                .or_insert((rank as u32, merged_id));
        }
        Self {
            ranks,
            extra_pieces,
        }
    }

    fn piece_id(&self, vocab: &TokenMap, s: &str) -> u32 {
        vocab
            .get(s)
            .or_else(|| self.extra_pieces.get(s).copied())
            .unwrap_or(NO_PIECE)
    }

    fn push_pair(&self, scratch: &mut BpeScratch, left: i32, right: i32) {
        if left < 0 || right < 0 {
            return;
        }
        let (l, r) = (
            scratch.symbols[left as usize],
            scratch.symbols[right as usize],
        );
        if l.piece == NO_PIECE || r.piece == NO_PIECE {
            return;
        }
        if let Some(&(rank, _)) = self.ranks.get(&(l.piece, r.piece)) {
            scratch
                .queue
                .push(Reverse((rank, left as u32, right as u32, l.len + r.len)));
        }
    }

    /// Tokenizes one pre-tokenized, byte-encoded word, appending token ids.
    pub(crate) fn tokenize_word(
        &self,
        vocab: &TokenMap,
        word: &str,
        ignore_merges: bool,
        scratch: &mut BpeScratch,
        out: &mut Vec<u32>,
    ) {
        if word.is_empty() {
            return;
        }
        if ignore_merges {
            if let Some(id) = vocab.get(word) {
                out.push(id);
                return;
            }
        }
        let n_vocab = vocab.len() as u32;
        scratch.symbols.clear();
        scratch.queue.clear();
        let mut char_iter = word.char_indices().peekable();
        let mut index = 0i32;
        while let Some((start, c)) = char_iter.next() {
            let len = c.len_utf8();
            let piece = self.piece_id(vocab, &word[start..start + len]);
            let next = if char_iter.peek().is_some() {
                index + 1
            } else {
                -1
            };
            scratch.symbols.push(Symbol {
                start: start as u32,
                len: len as u32,
                prev: index - 1,
                next,
                piece,
            });
            index += 1;
        }
        for i in 1..scratch.symbols.len() as i32 {
            self.push_pair(scratch, i - 1, i);
        }
        while let Some(Reverse((_, left, right, size))) = scratch.queue.pop() {
            let (l, r) = (
                scratch.symbols[left as usize],
                scratch.symbols[right as usize],
            );
            // Skip pairs made stale by an earlier merge of either side.
            if l.len == 0 || r.len == 0 || l.len + r.len != size {
                continue;
            }
            let merged_piece = self.ranks[&(l.piece, r.piece)].1;
            {
                let sym = &mut scratch.symbols[left as usize];
                sym.len += r.len;
                sym.piece = merged_piece;
                sym.next = r.next;
            }
            scratch.symbols[right as usize].len = 0;
            if r.next >= 0 {
                scratch.symbols[r.next as usize].prev = left as i32;
            }
            self.push_pair(scratch, l.prev, left as i32);
            self.push_pair(scratch, left as i32, r.next);
        }
        for sym in scratch.symbols.iter().filter(|s| s.len > 0) {
            if sym.piece < n_vocab {
                out.push(sym.piece);
                continue;
            }
            // Not a token: fall back to single-byte tokens. Only ASCII bytes can
            // name a token here (llama.cpp looks up each byte as a string).
            let text = &word.as_bytes()[sym.start as usize..(sym.start + sym.len) as usize];
            for &b in text {
                if b.is_ascii() {
                    let mut buf = [0u8; 4];
                    let s = char::from(b).encode_utf8(&mut buf);
                    if let Some(id) = vocab.get(s) {
                        out.push(id);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(tokens: &[&str]) -> TokenMap {
        TokenMap::new(tokens.iter().map(|t| t.to_string()).collect()).unwrap()
    }

    #[test]
    fn merges_by_rank_then_leftmost() {
        let v = vocab(&["a", "b", "c", "ab", "bc", "abc"]);
        // "b c" outranks "a b": "abc" → a + bc, and there is no "a bc" merge.
        let merges = BpeMerges::new(&["b c".into(), "a b".into()], &v);
        let mut out = Vec::new();
        merges.tokenize_word(&v, "abc", false, &mut BpeScratch::default(), &mut out);
        assert_eq!(out, [0, 4]);
        // leftmost wins a tie of equal pairs: "aaa" with "a a" → "aa" + "a"
        let v = vocab(&["a", "aa"]);
        let merges = BpeMerges::new(&["a a".into()], &v);
        let mut out = Vec::new();
        merges.tokenize_word(&v, "aaa", false, &mut BpeScratch::default(), &mut out);
        assert_eq!(out, [1, 0]);
    }

    #[test]
    fn merge_chain_through_non_token_piece() {
        // "xy" is not a token but "xyz" is, reached through it.
        let v = vocab(&["x", "y", "z", "xyz"]);
        let merges = BpeMerges::new(&["x y".into(), "xy z".into()], &v);
        let mut out = Vec::new();
        merges.tokenize_word(&v, "xyz", false, &mut BpeScratch::default(), &mut out);
        assert_eq!(out, [3]);
        // stuck at "xy": falls back to its bytes
        let mut out = Vec::new();
        merges.tokenize_word(&v, "xy", false, &mut BpeScratch::default(), &mut out);
        assert_eq!(out, [0, 1]);
    }

    #[test]
    fn ignore_merges_takes_whole_word_tokens() {
        let v = vocab(&["a", "b", "ab", "ba", "aba"]);
        let merges = BpeMerges::new(&["a b".into()], &v);
        let mut out = Vec::new();
        merges.tokenize_word(&v, "aba", true, &mut BpeScratch::default(), &mut out);
        assert_eq!(out, [4]);
        let mut out = Vec::new();
        merges.tokenize_word(&v, "aba", false, &mut BpeScratch::default(), &mut out);
        assert_eq!(out, [2, 0]);
    }

    #[test]
    fn long_word_is_not_quadratic() {
        let v = vocab(&["a", "aa", "aaaa"]);
        let merges = BpeMerges::new(&["a a".into(), "aa aa".into()], &v);
        let word = "a".repeat(200_000);
        let mut out = Vec::new();
        let t = std::time::Instant::now();
        merges.tokenize_word(&v, &word, false, &mut BpeScratch::default(), &mut out);
        assert_eq!(out.len(), 50_000);
        assert!(out.iter().all(|&id| id == 2));
        assert!(t.elapsed().as_secs_f64() < 2.0);
    }
}

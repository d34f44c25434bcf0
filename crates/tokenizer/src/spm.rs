//! SentencePiece-style BPE with scores and byte fallback (llama.cpp's
//! `llm_tokenizer_spm`, used by "llama" vocabularies such as Gemma's).
//!
//! Start from code points; repeatedly merge the adjacent pair whose
//! concatenation is the highest-scoring token (leftmost on ties). Leftover
//! symbols that are not tokens become `<0xXX>` byte tokens.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::hash::TokenMap;
use crate::TokenizerError;

#[derive(Debug, Clone, Copy)]
struct Symbol {
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

#[derive(Debug, Clone, Copy)]
struct Bigram {
    score: f32,
    left: u32,
    right: u32,
    size: u32,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Bigram {}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bigram {
    /// Max-heap order: higher score first, then the leftmost pair.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// What the SPM pass needs from the vocabulary.
pub(crate) struct SpmVocab<'a> {
    pub tokens: &'a TokenMap,
    pub scores: &'a [f32],
    /// `<0xXX>` (or the single-byte string) token of each byte.
    pub byte_tokens: &'a [Option<u32>; 256],
}

/// Tokenizes `text` (spaces already escaped as `▁`), appending token ids.
pub(crate) fn tokenize(
    vocab: &SpmVocab<'_>,
    text: &str,
    out: &mut Vec<u32>,
) -> Result<(), TokenizerError> {
    let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
    let mut char_iter = text.char_indices().peekable();
    let mut index = 0i32;
    while let Some((start, c)) = char_iter.next() {
        let next = if char_iter.peek().is_some() {
            index + 1
        } else {
            -1
        };
        symbols.push(Symbol {
            start: start as u32,
            len: c.len_utf8() as u32,
            prev: index - 1,
            next,
        });
        index += 1;
    }

    let mut queue: BinaryHeap<Bigram> = BinaryHeap::new();
    let try_add = |queue: &mut BinaryHeap<Bigram>, symbols: &[Symbol], left: i32, right: i32| {
        if left < 0 || right < 0 {
            return;
        }
        let (l, r) = (symbols[left as usize], symbols[right as usize]);
        let merged = &text[l.start as usize..(l.start + l.len + r.len) as usize];
        if let Some(id) = vocab.tokens.get(merged) {
            // `+ 0.0` folds -0.0 into 0.0: llama.cpp compares with `<`/`==`.
            let score = vocab.scores.get(id as usize).copied().unwrap_or(0.0) + 0.0;
            queue.push(Bigram {
                score,
                left: left as u32,
                right: right as u32,
                size: l.len + r.len,
            });
        }
    };

    for i in 1..symbols.len() as i32 {
        try_add(&mut queue, &symbols, i - 1, i);
    }
    while let Some(bigram) = queue.pop() {
        let (l, r) = (
            symbols[bigram.left as usize],
            symbols[bigram.right as usize],
        );
        if l.len == 0 || r.len == 0 || l.len + r.len != bigram.size {
            continue;
        }
        symbols[bigram.left as usize].len += r.len;
        symbols[bigram.left as usize].next = r.next;
        symbols[bigram.right as usize].len = 0;
        if r.next >= 0 {
            symbols[r.next as usize].prev = bigram.left as i32;
        }
        try_add(&mut queue, &symbols, l.prev, bigram.left as i32);
        try_add(&mut queue, &symbols, bigram.left as i32, r.next);
    }

    for sym in symbols.iter().filter(|s| s.len > 0) {
        let piece = &text[sym.start as usize..(sym.start + sym.len) as usize];
        if let Some(id) = vocab.tokens.get(piece) {
            out.push(id);
            continue;
        }
        for &b in piece.as_bytes() {
            out.push(vocab.byte_tokens[b as usize].ok_or(TokenizerError::MissingByteToken(b))?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_by_score_with_byte_fallback() {
        let tokens = [
            "▁", "h", "i", "▁h", "hi", "▁hi", "<0xE2>", "<0x82>", "<0xAC>",
        ];
        let scores = [-1.0, -1.0, -1.0, -3.0, -2.0, -0.5, 0.0, 0.0, 0.0];
        let map = TokenMap::new(tokens.iter().map(|t| t.to_string()).collect()).unwrap();
        let mut byte_tokens = [None; 256];
        byte_tokens[0xE2] = Some(6);
        byte_tokens[0x82] = Some(7);
        byte_tokens[0xAC] = Some(8);
        let vocab = SpmVocab {
            tokens: &map,
            scores: &scores,
            byte_tokens: &byte_tokens,
        };
        let mut out = Vec::new();
        // "hi" (-2) merges before "▁h" (-3); then "▁" + "hi" = "▁hi".
        tokenize(&vocab, "▁hi€", &mut out).unwrap();
        assert_eq!(out, [5, 6, 7, 8]);
        let mut out = Vec::new();
        assert!(matches!(
            tokenize(&vocab, "x", &mut out),
            Err(TokenizerError::MissingByteToken(b'x'))
        ));
    }
}

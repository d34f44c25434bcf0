//! Streaming detokenization: token pieces are bytes, and a UTF-8 character can
//! span several tokens, so hold back an incomplete tail until it completes.

use crate::Tokenizer;

/// Turns a stream of token ids into text, emitting only complete UTF-8.
///
/// Invalid byte sequences become U+FFFD as soon as they are known to be
/// invalid; an incomplete sequence is held (at most 3 bytes) until the next
/// piece completes it, or until [`Detokenizer::flush`].
pub struct Detokenizer<'a> {
    tok: &'a Tokenizer,
    special: bool,
    /// Bytes received but not yet emitted (an incomplete UTF-8 tail).
    pending: Vec<u8>,
    /// Text returned by the last `push`.
    out: String,
}

impl<'a> Detokenizer<'a> {
    /// Control tokens render as nothing (`special = false`), as llama.cpp's
    /// server streams by default.
    pub fn new(tok: &'a Tokenizer) -> Self {
        Self::with_special(tok, false)
    }

    /// `special = true` renders control tokens' text too.
    pub fn with_special(tok: &'a Tokenizer, special: bool) -> Self {
        Self {
            tok,
            special,
            pending: Vec::with_capacity(8),
            out: String::with_capacity(64),
        }
    }

    /// Adds one token; returns the text completed by it (often empty while a
    /// multi-byte character is split across tokens). The slice is valid until
    /// the next call.
    /// The tokenizer this detokenizer reads pieces from.
    pub fn tokenizer(&self) -> &'a Tokenizer {
        self.tok
    }

    pub fn push(&mut self, id: u32) -> &str {
        self.out.clear();
        self.pending
            .extend_from_slice(self.tok.token_to_piece(id, self.special));
        drain_utf8(&mut self.pending, &mut self.out, false);
        &self.out
    }

    /// Ends the stream: returns whatever is held back, a dangling partial
    /// character as U+FFFD.
    pub fn flush(&mut self) -> String {
        let mut out = String::new();
        drain_utf8(&mut self.pending, &mut out, true);
        out
    }

    /// Bytes held back waiting for the rest of a character.
    pub fn n_pending_bytes(&self) -> usize {
        self.pending.len()
    }
}

/// Moves the decodable prefix of `pending` into `out`. Invalid sequences
/// become U+FFFD; an incomplete tail stays in `pending` unless `at_end`.
fn drain_utf8(pending: &mut Vec<u8>, out: &mut String, at_end: bool) {
    let mut start = 0;
    while start < pending.len() {
        match std::str::from_utf8(&pending[start..]) {
            Ok(s) => {
                out.push_str(s);
                start = pending.len();
            }
            Err(e) => {
                let valid = e.valid_up_to();
                let text = std::str::from_utf8(&pending[start..start + valid]).expect("validated");
                out.push_str(text);
                match e.error_len() {
                    Some(n_bad) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        start += valid + n_bad;
                    }
                    None => {
                        start += valid;
                        if at_end {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = pending.len();
                        }
                        break;
                    }
                }
            }
        }
    }
    pending.drain(..start);
}

#[cfg(test)]
mod tests {
    use super::drain_utf8;

    #[test]
    fn holds_back_incomplete_sequences() {
        let euro = "€".as_bytes(); // E2 82 AC
        let mut pending = vec![b'a', euro[0]];
        let mut out = String::new();
        drain_utf8(&mut pending, &mut out, false);
        assert_eq!(out, "a");
        assert_eq!(pending, [euro[0]]);
        pending.extend_from_slice(&euro[1..]);
        out.clear();
        drain_utf8(&mut pending, &mut out, false);
        assert_eq!(out, "€");
        assert!(pending.is_empty());
    }

    #[test]
    fn invalid_bytes_become_replacement_at_once() {
        let mut pending = vec![0xFF, b'x', 0xE2, 0x82];
        let mut out = String::new();
        drain_utf8(&mut pending, &mut out, false);
        assert_eq!(out, "\u{FFFD}x");
        assert_eq!(pending, [0xE2, 0x82]);
        out.clear();
        drain_utf8(&mut pending, &mut out, true);
        assert_eq!(out, "\u{FFFD}");
        assert!(pending.is_empty());
    }
}

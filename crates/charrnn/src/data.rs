//! Corpus, character vocabulary and the sequence dataset.

use crate::rng::Rng;
use crate::Error;
use std::path::Path;

/// Most distinct characters a vocabulary may hold (the unknown id included).
pub const MAX_VOCAB: usize = 65_536;
/// Largest corpus read into memory (a CPU trains on a few MB at most).
pub const MAX_CORPUS_BYTES: u64 = 1 << 30;
/// The id of characters outside the vocabulary (Keras `StringLookup`'s `[UNK]`).
pub const UNK_ID: u32 = 0;

/// Sorted distinct characters; id 0 is unknown, id `i ≥ 1` is `chars[i-1]`
/// (the layout of Keras' `StringLookup(vocabulary=sorted(set(text)))`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// Every distinct character of `text`.
    pub fn from_text(text: &str) -> Result<Vocab, Error> {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab::from_chars(chars)
    }

    /// From characters that must be sorted and distinct.
    pub fn from_chars(chars: Vec<char>) -> Result<Vocab, Error> {
        if chars.is_empty() {
            return Err(Error::Corpus("the corpus has no characters".into()));
        }
        if chars.len() + 1 > MAX_VOCAB {
            return Err(Error::Corpus(format!(
                "{} distinct characters (limit {})",
                chars.len(),
                MAX_VOCAB - 1
            )));
        }
        if chars.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::Config("vocabulary not sorted and distinct".into()));
        }
        Ok(Vocab { chars })
    }

    /// Size including the unknown id.
    pub fn len(&self) -> usize {
        self.chars.len() + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The known characters in id order (id 1 first).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, or [`UNK_ID`].
    pub fn id(&self, c: char) -> u32 {
        match self.chars.binary_search(&c) {
            Ok(i) => i as u32 + 1,
            Err(_) => UNK_ID,
        }
    }

    /// The character of `id`; `None` for the unknown id or out of range.
    pub fn char_of(&self, id: u32) -> Option<char> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.chars.get(i).copied())
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().map(|c| self.id(c)).collect()
    }
}

/// Reads a corpus: one UTF-8 file, or every `*.txt` file of a directory in
/// name order, concatenated.
pub fn load_corpus(path: &Path) -> Result<String, Error> {
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let files = if meta.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt") && p.is_file())
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(Error::Corpus(format!(
                "no .txt files in {}",
                path.display()
            )));
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut total = 0u64;
    let mut text = String::new();
    for f in files {
        let len = std::fs::metadata(&f)
            .map_err(|err| Error::Io {
                path: f.clone(),
                err,
            })?
            .len();
        total += len;
        if total > MAX_CORPUS_BYTES {
            return Err(Error::Corpus(format!(
                "corpus larger than {MAX_CORPUS_BYTES} bytes"
            )));
        }
        let bytes = std::fs::read(&f).map_err(|err| Error::Io {
            path: f.clone(),
            err,
        })?;
        let s = String::from_utf8(bytes)
            .map_err(|e| Error::Corpus(format!("{} is not UTF-8: {e}", f.display())))?;
        text.push_str(&s);
    }
    Ok(text)
}

/// FNV-1a 64 of the corpus ids: checks on resume that the data is the same.
pub fn fingerprint(ids: &[u32]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &id in ids {
        for b in id.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Entropy in nats of the character frequencies of `ids`: the loss of the
/// best model that ignores context.
pub fn unigram_entropy(ids: &[u32]) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for &id in ids {
        *counts.entry(id).or_insert(0u64) += 1;
    }
    let n = ids.len() as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Non-overlapping chunks of `seq_len + 1` ids (input `s[..seq_len]`,
/// target `s[1..]`, as the TensorFlow tutorial builds them). The last
/// `val_fraction` of the chunks (the end of the corpus) is held out.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub ids: Vec<u32>,
    pub seq_len: usize,
    pub n_train: usize,
    pub n_val: usize,
}

impl Dataset {
    pub fn new(ids: Vec<u32>, seq_len: usize, val_fraction: f64) -> Result<Dataset, Error> {
        if seq_len == 0 {
            return Err(Error::Config("seq_len must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&val_fraction) {
            return Err(Error::Config(format!(
                "val_fraction {val_fraction} (must be in [0, 1))"
            )));
        }
        let n_chunks = ids.len() / (seq_len + 1);
        let mut n_val = (n_chunks as f64 * val_fraction).ceil() as usize;
        if n_val >= n_chunks {
            n_val = n_chunks.saturating_sub(1);
        }
        let n_train = n_chunks - n_val;
        if n_train == 0 {
            return Err(Error::Corpus(format!(
                "corpus of {} characters is shorter than one sequence of {}",
                ids.len(),
                seq_len + 1
            )));
        }
        Ok(Dataset {
            ids,
            seq_len,
            n_train,
            n_val,
        })
    }

    /// Chunk `i` (train chunks first, then validation chunks).
    pub fn chunk(&self, i: usize) -> &[u32] {
        let l = self.seq_len + 1;
        &self.ids[i * l..(i + 1) * l]
    }

    /// Training chunk indices in the shuffled order of `epoch`: a function of
    /// `(seed, epoch)` alone, which is what makes resuming exact.
    pub fn epoch_order(&self, seed: u64, epoch: u64) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.n_train as u32).collect();
        Rng::for_stream(seed, epoch).shuffle(&mut order);
        order
    }

    /// Validation chunk indices.
    pub fn val_chunks(&self) -> std::ops::Range<usize> {
        self.n_train..self.n_train + self.n_val
    }
}

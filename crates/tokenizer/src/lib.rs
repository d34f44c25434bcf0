//! edgellm-tokenizer: text ↔ token ids, bit-exact with llama.cpp.
//!
//! The key design decision is *fidelity over elegance*: every step mirrors
//! llama.cpp's `llama-vocab.cpp` / `unicode.cpp`, quirks included, because a
//! single differing token id changes the model's output. In particular:
//!
//! * special-token texts are cut out of the input first, longest token first
//!   (llama.cpp's `tokenizer_st_partition`), user-defined tokens even when
//!   `parse_special` is false;
//! * byte-level BPE (`gpt2` model) pre-splits words with the regexes of the
//!   file's `tokenizer.ggml.pre`, reproducing llama.cpp's Unicode class
//!   handling (its class table is Unicode 15.1, its regex engine sees a
//!   "collapsed" text), then merges by rank;
//! * SentencePiece BPE (`llama` model) merges by score with `<0xXX>` byte
//!   fallback, with the `add_space_prefix` rule applied per text fragment;
//! * the end-of-generation set, token attributes and special-token defaults
//!   are derived from token texts exactly as llama.cpp derives them.
//!
//! The vocabulary is built from a plain [`VocabSpec`] (filled from GGUF
//! metadata by the caller), so this crate does not depend on the file format.
//! A [`Tokenizer`] is immutable and `Send + Sync`; every `encode` call uses
//! only local scratch space. Chat templates are rendered by [`ChatTemplate`]
//! (minijinja with Hugging Face's Jinja settings and llama.cpp's
//! system-message and typed-content fallbacks); [`Detokenizer`] streams text
//! from token ids without ever splitting a UTF-8 character.

mod bpe;
mod chat;
mod detok;
mod gguf;
mod hash;
mod pretokenize;
mod spm;
mod unicode;

pub use gguf::spec_from_gguf;

use std::collections::BTreeSet;

use aho_corasick::AhoCorasick;

pub use chat::{ChatMessage, ChatTemplate};
pub use detok::Detokenizer;

use bpe::{BpeMerges, BpeScratch};
use hash::TokenMap;
use pretokenize::{PreConfig, PreTokenizer};

/// Largest vocabulary accepted: ids are `i32` in llama.cpp and merge pieces
/// get ids past the vocabulary, so stay far below `u32::MAX`. Real
/// vocabularies are at most a few hundred thousand tokens.
pub const N_VOCAB_MAX: usize = 1 << 24;

/// Token attribute bits (llama.cpp's `llama_token_attr`).
pub mod attr {
    pub const UNDEFINED: u16 = 0;
    pub const UNKNOWN: u16 = 1 << 0;
    pub const UNUSED: u16 = 1 << 1;
    pub const NORMAL: u16 = 1 << 2;
    pub const CONTROL: u16 = 1 << 3;
    pub const USER_DEFINED: u16 = 1 << 4;
    pub const BYTE: u16 = 1 << 5;
    pub const NORMALIZED: u16 = 1 << 6;
    pub const LSTRIP: u16 = 1 << 7;
    pub const RSTRIP: u16 = 1 << 8;
    pub const SINGLE_WORD: u16 = 1 << 9;
}

/// Everything that can go wrong building or using a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("unsupported tokenizer model {0:?} (supported: \"gpt2\", \"llama\")")]
    UnsupportedModel(String),
    #[error("unsupported pre-tokenizer {0:?} (tokenizer.ggml.pre)")]
    UnsupportedPreTokenizer(String),
    #[error("invalid vocabulary: {0}")]
    InvalidVocab(String),
    #[error("{0} is requested by the vocabulary flags but the vocabulary has no such token")]
    MissingSpecialToken(&'static str),
    #[error("the vocabulary has no token for byte 0x{0:02X} (byte fallback)")]
    MissingByteToken(u8),
    #[error("pre-tokenizer regex failed: {0}")]
    Regex(String),
    #[error("chat template: {0}")]
    Template(String),
}

/// The vocabulary as stored in GGUF metadata (`tokenizer.ggml.*`), decoupled
/// from the file format. Build one with `VocabSpec { .., ..Default::default() }`.
#[derive(Debug, Clone, Default)]
pub struct VocabSpec {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE).
    pub model: String,
    /// `tokenizer.ggml.pre`: the BPE pre-tokenizer ("qwen2", "llama-bpe", ...).
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores`
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    pub token_types: Option<Vec<i32>>,
    /// `tokenizer.ggml.merges`: "left right", rank = index.
    pub merges: Option<Vec<String>>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    /// `tokenizer.ggml.fim_{pre,suf,mid,pad,rep,sep}_token_id`; detected from
    /// token texts when absent, as llama.cpp does (fim pad/rep/sep end generation).
    pub fim_pre: Option<u32>,
    pub fim_suf: Option<u32>,
    pub fim_mid: Option<u32>,
    pub fim_pad: Option<u32>,
    pub fim_rep: Option<u32>,
    pub fim_sep: Option<u32>,
    pub add_bos: Option<bool>,
    pub add_eos: Option<bool>,
    pub add_space_prefix: Option<bool>,
    /// `tokenizer.chat_template`
    pub chat_template: Option<String>,
    /// `general.architecture`
    pub architecture: String,
    /// `general.name` (llama.cpp keys a few token-attribute quirks on it, e.g. Phi-3).
    pub name: Option<String>,
}

/// Special token ids after defaults, file values and text detection.
#[derive(Debug, Clone, Copy, Default)]
struct SpecialIds {
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    fim_pre: Option<u32>,
    fim_suf: Option<u32>,
    fim_mid: Option<u32>,
    fim_pad: Option<u32>,
    fim_rep: Option<u32>,
    fim_sep: Option<u32>,
}

enum Model {
    /// Byte-level BPE.
    Bpe {
        merges: BpeMerges,
        pre: PreTokenizer,
        ignore_merges: bool,
    },
    /// SentencePiece BPE with byte fallback.
    Spm {
        byte_tokens: Box<[Option<u32>; 256]>,
    },
}

/// A piece of input after special-token partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fragment {
    /// byte range of the input
    Text(usize, usize),
    Token(u32),
}

/// A loaded vocabulary: encode, decode, special tokens, chat template.
pub struct Tokenizer {
    model: Model,
    /// token texts and the text → id index
    vocab: TokenMap,
    scores: Vec<f32>,
    attrs: Vec<u16>,
    ids: SpecialIds,
    /// end-of-generation ids, sorted
    eog: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    clean_spaces: bool,
    /// control, user-defined and unknown tokens, longest text first
    special_cache: Vec<u32>,
    /// finds which of `special_cache` occur in a text (pattern i = cache[i])
    special_matcher: Option<AhoCorasick>,
    /// `token_to_piece(id, special = true)` of every token, concatenated
    piece_bytes: Vec<u8>,
    /// (n_vocab + 1) offsets into `piece_bytes`
    piece_offsets: Vec<u32>,
    /// the compiled chat template, or why it does not compile
    chat: Result<ChatTemplate, String>,
    /// The chat template's Jinja source (the file's, or the built-in one).
    chat_source: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field(
                "model",
                &match self.model {
                    Model::Bpe { .. } => "bpe",
                    Model::Spm { .. } => "spm",
                },
            )
            .field("n_vocab", &self.vocab.texts().len())
            .field("bos", &self.ids.bos)
            .field("eos", &self.ids.eos)
            .field("eog", &self.eog)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

/// Texts llama.cpp recognises as end-of-turn when `eot` is not given.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
/// Texts that end generation.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];
const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];

fn attr_from_type(token_type: i32) -> u16 {
    match token_type {
        1 => attr::NORMAL,
        2 => attr::UNKNOWN,
        3 => attr::CONTROL,
        4 => attr::USER_DEFINED,
        5 => attr::UNUSED,
        6 => attr::BYTE,
        _ => attr::UNDEFINED,
    }
}

/// The byte of a `<0xXX>` token (C `strtol` on the two hex digits).
fn byte_of_token(text: &str) -> u8 {
    let digits = text.get(3..).unwrap_or("");
    let mut value = 0u32;
    for c in digits.chars().take(2) {
        match c.to_digit(16) {
            Some(d) => value = value * 16 + d,
            None => break,
        }
    }
    value as u8
}

/// Settings implied by the model type and pre-tokenizer, before the file's
/// own flags override them (llama.cpp's `llama_vocab::impl::load`).
struct Defaults {
    is_spm: bool,
    ids: SpecialIds,
    pre_config: Option<PreConfig>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    clean_spaces: bool,
}

impl Defaults {
    fn new(model: &str, pre: Option<&str>) -> Result<Self, TokenizerError> {
        match model {
            "llama" => Ok(Self {
                is_spm: true,
                ids: SpecialIds {
                    bos: Some(1),
                    eos: Some(2),
                    unk: Some(0),
                    ..SpecialIds::default()
                },
                pre_config: None,
                add_bos: true,
                add_eos: false,
                add_space_prefix: true,
                clean_spaces: false,
            }),
            "gpt2" => {
                let config = pretokenize::pre_config(pre)?;
                let bos = if config.no_default_bos {
                    None
                } else {
                    Some(11)
                };
                Ok(Self {
                    is_spm: false,
                    ids: SpecialIds {
                        bos,
                        eos: Some(11),
                        ..SpecialIds::default()
                    },
                    add_bos: config.add_bos,
                    add_eos: false,
                    add_space_prefix: false,
                    clean_spaces: config.clean_spaces,
                    pre_config: Some(config),
                })
            }
            other => Err(TokenizerError::UnsupportedModel(other.to_string())),
        }
    }
}

impl Tokenizer {
    /// Builds the tokenizer, applying llama.cpp's defaults and fix-ups.
    pub fn new(spec: VocabSpec) -> Result<Self, TokenizerError> {
        let VocabSpec {
            model,
            pre,
            mut tokens,
            scores,
            token_types,
            merges,
            bos,
            eos,
            eot,
            eom,
            unk,
            pad,
            fim_pre,
            fim_suf,
            fim_mid,
            fim_pad,
            fim_rep,
            fim_sep,
            add_bos,
            add_eos,
            add_space_prefix,
            chat_template,
            architecture,
            name,
        } = spec;
        let n_vocab = tokens.len();
        if n_vocab == 0 {
            return Err(TokenizerError::InvalidVocab(
                "the token list is empty".into(),
            ));
        }
        if n_vocab > N_VOCAB_MAX {
            return Err(TokenizerError::InvalidVocab(format!(
                "{n_vocab} tokens is more than the limit of {N_VOCAB_MAX}"
            )));
        }
        let defaults = Defaults::new(&model, pre.as_deref())?;

        // llama.cpp renames empty tokens rather than rejecting the file.
        for (i, text) in tokens.iter_mut().enumerate() {
            if text.is_empty() {
                *text = format!("[EMPTY_{i}]");
            }
        }
        let vocab = TokenMap::new(tokens).map_err(|(first, second)| {
            TokenizerError::InvalidVocab(format!("duplicate token: ids {first} and {second}"))
        })?;
        let scores = match scores {
            Some(s) if s.len() < n_vocab => {
                return Err(TokenizerError::InvalidVocab(format!(
                    "{} scores for {n_vocab} tokens",
                    s.len()
                )))
            }
            Some(mut s) => {
                s.truncate(n_vocab);
                s
            }
            None => vec![0.0; n_vocab],
        };
        let mut attrs: Vec<u16> = match token_types {
            Some(t) if t.len() < n_vocab => {
                return Err(TokenizerError::InvalidVocab(format!(
                    "{} token types for {n_vocab} tokens",
                    t.len()
                )))
            }
            Some(t) => t[..n_vocab].iter().map(|&t| attr_from_type(t)).collect(),
            None => vec![attr::NORMAL; n_vocab],
        };

        let model = Self::build_model(defaults.pre_config, merges, &vocab)?;

        // Special ids: defaults out of range are dropped; file values override
        // them when in range.
        let mut ids = defaults.ids;
        let in_range = |id: Option<u32>| id.filter(|&id| (id as usize) < n_vocab);
        for slot in [&mut ids.bos, &mut ids.eos, &mut ids.unk] {
            *slot = in_range(*slot);
        }
        let file_ids = [
            (&mut ids.bos, bos, "bos"),
            (&mut ids.eos, eos, "eos"),
            (&mut ids.eot, eot, "eot"),
            (&mut ids.eom, eom, "eom"),
            (&mut ids.unk, unk, "unk"),
            (&mut ids.pad, pad, "pad"),
            (&mut ids.fim_pre, fim_pre, "fim_pre"),
            (&mut ids.fim_suf, fim_suf, "fim_suf"),
            (&mut ids.fim_mid, fim_mid, "fim_mid"),
            (&mut ids.fim_pad, fim_pad, "fim_pad"),
            (&mut ids.fim_rep, fim_rep, "fim_rep"),
            (&mut ids.fim_sep, fim_sep, "fim_sep"),
        ];
        for (slot, value, what) in file_ids {
            match value {
                Some(id) if (id as usize) < n_vocab => *slot = Some(id),
                Some(id) => tracing::warn!(id, what, "special token id out of range, ignored"),
                None => {}
            }
        }
        let add_bos = add_bos.unwrap_or(defaults.add_bos);
        let add_eos = add_eos.unwrap_or(defaults.add_eos);
        if add_bos && ids.bos.is_none() {
            return Err(TokenizerError::MissingSpecialToken("BOS (add_bos)"));
        }
        if add_eos && ids.eos.is_none() {
            return Err(TokenizerError::MissingSpecialToken("EOS (add_eos)"));
        }

        Self::detect_special_tokens(&vocab, &mut ids, &mut attrs);
        let eog = Self::end_of_generation_set(&vocab, &mut attrs, &ids);
        let special_cache = Self::special_cache(vocab.texts(), &attrs);
        Self::apply_name_quirks(
            &vocab,
            &special_cache,
            &mut attrs,
            pre.as_deref().unwrap_or(""),
            &architecture,
            name.as_deref().unwrap_or(""),
        );
        let special_matcher =
            if special_cache.is_empty() {
                None
            } else {
                let patterns = special_cache
                    .iter()
                    .map(|&id| vocab.texts()[id as usize].as_str());
                Some(AhoCorasick::new(patterns).map_err(|e| {
                    TokenizerError::InvalidVocab(format!("special token matcher: {e}"))
                })?)
            };
        let (piece_bytes, piece_offsets) =
            Self::piece_cache(vocab.texts(), &attrs, defaults.is_spm);

        let source = chat::template_source(chat_template.as_deref(), &architecture);
        let chat = ChatTemplate::new(source.clone()).map_err(|e| e.to_string());
        if let Err(e) = &chat {
            tracing::warn!(error = %e, "chat template does not compile");
        }

        Ok(Self {
            chat_source: source,
            model,
            vocab,
            scores,
            attrs,
            ids,
            eog,
            add_bos,
            add_eos,
            add_space_prefix: add_space_prefix.unwrap_or(defaults.add_space_prefix),
            clean_spaces: defaults.clean_spaces,
            special_cache,
            special_matcher,
            piece_bytes,
            piece_offsets,
            chat,
        })
    }

    fn build_model(
        pre_config: Option<PreConfig>,
        merges: Option<Vec<String>>,
        vocab: &TokenMap,
    ) -> Result<Model, TokenizerError> {
        if let Some(config) = pre_config {
            let merges = merges.ok_or_else(|| {
                TokenizerError::InvalidVocab("a \"gpt2\" vocabulary needs merges".into())
            })?;
            return Ok(Model::Bpe {
                merges: BpeMerges::new(&merges, vocab),
                pre: PreTokenizer::new(&config)?,
                ignore_merges: config.ignore_merges,
            });
        }
        let mut byte_tokens = Box::new([None; 256]);
        for (b, slot) in byte_tokens.iter_mut().enumerate() {
            *slot = vocab.get(&format!("<0x{b:02X}>")).or_else(|| {
                // fall back to the byte itself as a token
                let c = char::from(b as u8);
                c.is_ascii()
                    .then(|| vocab.get(c.encode_utf8(&mut [0; 4])))
                    .flatten()
            });
        }
        Ok(Model::Spm { byte_tokens })
    }

    /// Fills EOT/EOM/FIM ids the file does not give from token texts (those
    /// tokens become control tokens), and marks control tokens named "unused".
    fn detect_special_tokens(vocab: &TokenMap, ids: &mut SpecialIds, attrs: &mut [u16]) {
        let detect = [
            (&mut ids.eot, EOT_TEXTS),
            (&mut ids.eom, &["<|eom_id|>"][..]),
            (&mut ids.fim_pre, FIM_PRE_TEXTS),
            (&mut ids.fim_suf, FIM_SUF_TEXTS),
            (&mut ids.fim_mid, FIM_MID_TEXTS),
            (&mut ids.fim_pad, FIM_PAD_TEXTS),
            (&mut ids.fim_rep, FIM_REP_TEXTS),
            (&mut ids.fim_sep, FIM_SEP_TEXTS),
        ];
        for (slot, texts) in detect {
            if slot.is_some() {
                continue;
            }
            // llama.cpp takes the first match in hash-map order (platform
            // dependent); the list order, most specific text first, agrees
            // with it for Llama 3, Qwen 2 and Phi-3 (<|eot_id|>, <|im_end|>, <|end|>).
            if let Some(id) = texts.iter().find_map(|t| vocab.get(t)) {
                *slot = Some(id);
                attrs[id as usize] |= attr::CONTROL;
            }
        }
        for (a, text) in attrs.iter_mut().zip(vocab.texts()) {
            if *a & attr::CONTROL != 0 && text.contains("unused") {
                *a |= attr::UNUSED;
            }
        }
    }

    /// lstrip/rstrip attributes llama.cpp sets by model, pre-tokenizer or
    /// architecture name.
    fn apply_name_quirks(
        vocab: &TokenMap,
        special_cache: &[u32],
        attrs: &mut [u16],
        pre: &str,
        architecture: &str,
        name: &str,
    ) {
        let mut set = |text: &str, bit: u16, on: bool| {
            if let Some(id) = vocab.get(text) {
                if on {
                    attrs[id as usize] |= bit;
                } else {
                    attrs[id as usize] &= !bit;
                }
            }
        };
        let name = name.to_lowercase();
        if ["jina-v2-de", "jina-v2-es", "jina-v2-code"]
            .iter()
            .any(|p| pre.contains(p))
            || ["nomic-bert-moe", "jina-bert-v3"]
                .iter()
                .any(|a| architecture.contains(a))
        {
            set("<mask>", attr::LSTRIP, true);
        } else if name.contains("phi-3") || name.contains("phi3") {
            for &id in special_cache {
                set(&vocab.texts()[id as usize], attr::RSTRIP, true);
            }
            set("</s>", attr::RSTRIP, true);
            for text in ["<unk>", "<s>", "<|endoftext|>"] {
                set(text, attr::RSTRIP, false);
            }
        } else if name.contains("modern-bert") {
            set("[MASK]", attr::LSTRIP, true);
        }
    }

    /// llama.cpp's end-of-generation set (and the attribute fix-ups that go with it).
    fn end_of_generation_set(vocab: &TokenMap, attrs: &mut [u16], ids: &SpecialIds) -> Vec<u32> {
        let mut eog: BTreeSet<u32> = BTreeSet::new();
        eog.extend(
            [ids.fim_pad, ids.fim_rep, ids.fim_sep]
                .into_iter()
                .flatten(),
        );
        for id in EOG_TEXTS.iter().filter_map(|t| vocab.get(t)) {
            eog.insert(id);
            attrs[id as usize] |= attr::CONTROL;
        }
        // gpt-oss: always render these.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let Some(id) = vocab.get(text) {
                attrs[id as usize] = attr::USER_DEFINED;
            }
        }
        eog.extend([ids.eos, ids.eot, ids.eom].into_iter().flatten());
        let in_eog =
            |t: &str, eog: &BTreeSet<u32>| vocab.get(t).is_some_and(|id| eog.contains(&id));
        // o200k_harmony / solar-open: "<|end|>" does not end generation there.
        if let Some(end_id) = vocab.get("<|end|>").filter(|id| eog.contains(id)) {
            let has_call = in_eog("<|call|>", &eog) || in_eog("<|calls|>", &eog);
            if has_call && (in_eog("<|return|>", &eog) || in_eog("<|flush|>", &eog)) {
                eog.remove(&end_id);
                attrs[end_id as usize] = attr::USER_DEFINED;
            }
        }
        // gemma4 / paddleocr: "</s>" is not an end-of-generation token there.
        if let Some(s_id) = vocab.get("</s>").filter(|id| eog.contains(id)) {
            if in_eog("<|tool_response>", &eog) {
                eog.remove(&s_id);
                attrs[s_id as usize] = attr::NORMAL;
            }
        }
        eog.into_iter().collect()
    }

    /// Control, user-defined and unknown tokens, longest first (ties by id).
    fn special_cache(tokens: &[String], attrs: &[u16]) -> Vec<u32> {
        let mut cache: Vec<u32> = (0..tokens.len() as u32)
            .filter(|&id| {
                attrs[id as usize] & (attr::CONTROL | attr::USER_DEFINED | attr::UNKNOWN) != 0
            })
            .collect();
        cache.sort_by_key(|&id| std::cmp::Reverse(tokens[id as usize].len()));
        cache
    }

    /// `token_to_piece(id, special = true)` for every token.
    fn piece_cache(tokens: &[String], attrs: &[u16], is_spm: bool) -> (Vec<u8>, Vec<u32>) {
        let total: usize = tokens.iter().map(String::len).sum();
        let mut bytes = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(tokens.len() + 1);
        offsets.push(0u32);
        for (text, &a) in tokens.iter().zip(attrs) {
            if a & (attr::UNKNOWN | attr::CONTROL | attr::USER_DEFINED) != 0 {
                bytes.extend_from_slice(text.as_bytes());
            } else if a & attr::NORMAL != 0 {
                if is_spm {
                    bytes.extend_from_slice(text.replace('\u{2581}', " ").as_bytes());
                } else {
                    decode_byte_level(text, &mut bytes);
                }
            } else if a & attr::BYTE != 0 {
                bytes.push(byte_of_token(text));
            }
            offsets.push(bytes.len() as u32);
        }
        (bytes, offsets)
    }

    // ---------------------------------------------------------------- queries

    /// Number of tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        self.vocab.texts().len()
    }

    pub fn bos(&self) -> Option<u32> {
        self.ids.bos
    }

    /// The chat template in effect (Jinja source), if it compiled.
    pub fn chat_template_source(&self) -> Option<&str> {
        self.chat.as_ref().ok().map(|_| self.chat_source.as_str())
    }

    /// The fill-in-the-middle tokens (prefix, suffix, middle), when the
    /// vocabulary has all three.
    pub fn fim(&self) -> Option<(u32, u32, u32)> {
        Some((self.ids.fim_pre?, self.ids.fim_suf?, self.ids.fim_mid?))
    }

    pub fn eos(&self) -> Option<u32> {
        self.ids.eos
    }

    pub fn eot(&self) -> Option<u32> {
        self.ids.eot
    }

    pub fn unk(&self) -> Option<u32> {
        self.ids.unk
    }

    pub fn pad(&self) -> Option<u32> {
        self.ids.pad
    }

    /// Whether `encode(.., add_special = true, ..)` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `encode(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether `id` ends generation (EOS, EOT, EOM and tokens such as
    /// `<|im_end|>`, `<|endoftext|>`, `<end_of_turn>`, `<|eot_id|>`).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }

    /// The end-of-generation ids, sorted.
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }

    /// The token's text as stored in the vocabulary ("" when out of range).
    pub fn token_text(&self, id: u32) -> &str {
        self.vocab
            .texts()
            .get(id as usize)
            .map_or("", String::as_str)
    }

    /// The token's score (0 when the vocabulary has none or out of range).
    pub fn token_score(&self, id: u32) -> f32 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }

    /// The token's attribute bits ([`attr`]); `attr::UNDEFINED` when out of range.
    pub fn token_attr(&self, id: u32) -> u16 {
        self.attrs
            .get(id as usize)
            .copied()
            .unwrap_or(attr::UNDEFINED)
    }

    /// Whether the token is a control token (rendered only with `special`).
    pub fn is_control(&self, id: u32) -> bool {
        self.token_attr(id) & attr::CONTROL != 0
    }

    /// The id of a token given its exact vocabulary text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.get(text)
    }

    // ----------------------------------------------------------------- encode

    /// llama.cpp's `llama_tokenize(text, add_special, parse_special)`.
    ///
    /// `add_special` adds BOS/EOS as the vocabulary's `add_bos`/`add_eos` say;
    /// `parse_special` turns the texts of control tokens (e.g. `<|im_start|>`)
    /// into those tokens. User-defined tokens are always matched.
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let fragments = if text.is_empty() {
            Vec::new()
        } else {
            self.partition(text, parse_special)
        };
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        let bos = |out: &mut Vec<u32>| -> Result<(), TokenizerError> {
            out.push(
                self.ids
                    .bos
                    .ok_or(TokenizerError::MissingSpecialToken("BOS"))?,
            );
            Ok(())
        };
        if add_special && self.add_bos {
            bos(&mut out)?;
        }
        match &self.model {
            Model::Bpe {
                merges,
                pre,
                ignore_merges,
            } => {
                let mut scratch = BpeScratch::default();
                let mut encoded = String::new();
                for fragment in fragments {
                    match fragment {
                        Fragment::Token(id) => out.push(id),
                        Fragment::Text(start, end) => {
                            for word in pre.split(&text[start..end])? {
                                encoded.clear();
                                unicode::byte_encode_into(word, &mut encoded);
                                merges.tokenize_word(
                                    &self.vocab,
                                    &encoded,
                                    *ignore_merges,
                                    &mut scratch,
                                    &mut out,
                                );
                            }
                        }
                    }
                }
            }
            Model::Spm { byte_tokens } => {
                let vocab = spm::SpmVocab {
                    tokens: &self.vocab,
                    scores: &self.scores,
                    byte_tokens,
                };
                // A space is prefixed to the first fragment and to every one
                // that follows a special token.
                let mut is_prev_special = true;
                let mut escaped = String::new();
                for fragment in fragments {
                    match fragment {
                        Fragment::Token(id) => {
                            out.push(id);
                            is_prev_special = true;
                        }
                        Fragment::Text(start, end) => {
                            escaped.clear();
                            if self.add_space_prefix && is_prev_special {
                                escaped.push('\u{2581}');
                            }
                            for c in text[start..end].chars() {
                                escaped.push(if c == ' ' { '\u{2581}' } else { c });
                            }
                            spm::tokenize(&vocab, &escaped, &mut out)?;
                            is_prev_special = false;
                        }
                    }
                }
            }
        }
        if add_special && self.add_eos {
            out.push(
                self.ids
                    .eos
                    .ok_or(TokenizerError::MissingSpecialToken("EOS"))?,
            );
        }
        Ok(out)
    }

    /// Cuts the texts of special tokens out of `text`: for each special token,
    /// longest first, every occurrence in the remaining text fragments
    /// (llama.cpp's `tokenizer_st_partition`, lstrip/rstrip included).
    fn partition(&self, text: &str, parse_special: bool) -> Vec<Fragment> {
        let mut fragments = vec![Fragment::Text(0, text.len())];
        let Some(matcher) = &self.special_matcher else {
            return fragments;
        };
        // Only tokens that occur somewhere in the text can split a fragment.
        let mut present = vec![false; self.special_cache.len()];
        let mut n_present = 0;
        for m in matcher.find_overlapping_iter(text) {
            let i = m.pattern().as_usize();
            if !present[i] {
                present[i] = true;
                n_present += 1;
            }
        }
        if n_present == 0 {
            return fragments;
        }
        let bytes = text.as_bytes();
        for (i, &id) in self.special_cache.iter().enumerate() {
            if !present[i] {
                continue;
            }
            let a = self.attrs[id as usize];
            if !parse_special && a & (attr::CONTROL | attr::UNKNOWN) != 0 {
                continue;
            }
            let needle = self.vocab.texts()[id as usize].as_str();
            let mut next = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(mut pos, end) = fragment else {
                    next.push(fragment);
                    continue;
                };
                while let Some(found) = text[pos..end].find(needle) {
                    let m = pos + found;
                    let mut left_end = m;
                    if a & attr::LSTRIP != 0 {
                        while left_end > pos && unicode::is_c_space(bytes[left_end - 1]) {
                            left_end -= 1;
                        }
                    }
                    if left_end > pos {
                        next.push(Fragment::Text(pos, left_end));
                    }
                    next.push(Fragment::Token(id));
                    pos = m + needle.len();
                    if a & attr::RSTRIP != 0 {
                        while pos < end && unicode::is_c_space(bytes[pos]) {
                            pos += 1;
                        }
                    }
                }
                if pos < end {
                    next.push(Fragment::Text(pos, end));
                }
            }
            fragments = next;
        }
        fragments
    }

    // ----------------------------------------------------------------- decode

    /// Bytes of one token, as llama.cpp's `llama_token_to_piece(id, lstrip = 0,
    /// special)`: byte-level BPE pieces un-mapped to raw bytes, SentencePiece
    /// `▁` as space and `<0xXX>` as the byte; control and unknown tokens are
    /// empty unless `special`. A piece may be part of a UTF-8 character.
    /// Out-of-range ids give an empty piece.
    pub fn token_to_piece(&self, id: u32, special: bool) -> &[u8] {
        let i = id as usize;
        if i >= self.vocab.texts().len() {
            return &[];
        }
        if !special && self.attrs[i] & (attr::UNKNOWN | attr::CONTROL) != 0 {
            return &[];
        }
        &self.piece_bytes[self.piece_offsets[i] as usize..self.piece_offsets[i + 1] as usize]
    }

    /// Concatenated pieces as text (invalid UTF-8 → U+FFFD). Lossless for
    /// token sequences of valid UTF-8; no space clean-up or leading-space
    /// removal (see [`Tokenizer::detokenize`] for llama.cpp's variant).
    pub fn decode(&self, ids: &[u32], special: bool) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            bytes.extend_from_slice(self.token_to_piece(id, special));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// llama.cpp's `llama_detokenize(ids, remove_special, unparse_special)`:
    /// drops a leading space of the first piece for SentencePiece
    /// vocabularies, optionally a leading BOS / trailing EOS, and applies
    /// `clean_up_tokenization_spaces` where the vocabulary asks for it.
    pub fn detokenize(&self, ids: &[u32], remove_special: bool, unparse_special: bool) -> String {
        let mut ids = ids;
        let mut remove_space = self.add_space_prefix;
        if remove_special
            && self.add_bos
            && self.ids.bos.is_some()
            && ids.first() == self.ids.bos.as_ref()
        {
            remove_space = false;
            ids = &ids[1..];
        }
        if remove_special
            && self.add_eos
            && self.ids.eos.is_some()
            && ids.last() == self.ids.eos.as_ref()
        {
            ids = &ids[..ids.len() - 1];
        }
        let mut text: Vec<u8> = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let mut piece = self.token_to_piece(id, unparse_special);
            if remove_space && piece.first() == Some(&b' ') {
                piece = &piece[1..];
            }
            remove_space = false;
            text.extend_from_slice(piece);
        }
        if self.clean_spaces {
            clean_up_spaces(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    // ------------------------------------------------------------------- chat

    /// Renders the chat template with `messages`, like llama.cpp's
    /// `common_chat_templates_apply`: `bos_token`/`eos_token` are the pieces of
    /// BOS/EOS, `tools` is none, and a leading BOS text (trailing EOS text) is
    /// removed when `encode` with `add_special` would add it anyway.
    pub fn render_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        self.render_chat_with(messages, add_generation_prompt, None)
    }

    /// [`Tokenizer::render_chat`] with extra template variables (e.g.
    /// `enable_thinking`, `tools`).
    pub fn render_chat_with(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<String, TokenizerError> {
        let template = self
            .chat
            .as_ref()
            .map_err(|e| TokenizerError::Template(e.clone()))?;
        let piece = |id: Option<u32>| {
            id.map(|id| String::from_utf8_lossy(self.token_to_piece(id, true)).into_owned())
                .unwrap_or_default()
        };
        let (bos_token, eos_token) = (piece(self.ids.bos), piece(self.ids.eos));
        let mut text = template.render(
            messages,
            add_generation_prompt,
            &bos_token,
            &eos_token,
            extra,
        )?;
        if self.add_bos && !bos_token.is_empty() && text.starts_with(&bos_token) {
            text.drain(..bos_token.len());
        }
        if self.add_eos && !eos_token.is_empty() && text.ends_with(&eos_token) {
            text.truncate(text.len() - eos_token.len());
        }
        Ok(text)
    }
}

/// Byte-level BPE token text → raw bytes (llama.cpp's `llama_decode_text`).
fn decode_byte_level(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match unicode::char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                // llama.cpp's marker for a code point outside the byte map
                out.extend_from_slice(b"[UNK_BYTE_0x");
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out.push(b']');
            }
        }
    }
}

/// `clean_up_tokenization_spaces`: " ?" " !" " ." " ," lose the space, as do
/// " 's" " 'm" " 're" " 've"; a lone quote between spaces loses both.
fn clean_up_spaces(text: &mut Vec<u8>) {
    // pass 1: space before ?!.,
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    for (i, &x) in text.iter().enumerate() {
        if i > 0 && text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            out.pop();
        }
        out.push(x);
    }
    // pass 2: " ' " → "'" (the space after is blanked, as llama.cpp does in place)
    let mut src = std::mem::take(&mut out);
    let mut i = 0;
    while i < src.len() {
        let x = src[i];
        if i > 0 && x == b'\'' && i + 1 < src.len() && src[i - 1] == b' ' && src[i + 1] == b' ' {
            out.pop();
            out.push(x);
            src[i + 1] = 0;
            i += 2;
            continue;
        }
        out.push(x);
        i += 1;
    }
    // pass 3: " 's" " 'm" " 're" " 've"
    let src = std::mem::take(&mut out);
    for (i, &x) in src.iter().enumerate() {
        if i > 0 && src[i - 1] == b' ' && x == b'\'' && i + 1 < src.len() {
            let x1 = src[i + 1];
            let x2 = src.get(i + 2).copied();
            let drop_space = matches!(x1, b's' | b'm')
                || (i + 2 < src.len()
                    && matches!((x1, x2), (b'r', Some(b'e')) | (b'v', Some(b'e'))));
            if drop_space {
                out.pop();
            }
        }
        out.push(x);
    }
    *text = out;
}

#[cfg(test)]
mod tests;

//! Reading a vocabulary from GGUF metadata (`tokenizer.ggml.*`).

use crate::{Tokenizer, TokenizerError, VocabSpec};
use edgellm_gguf::{Array, GgufFile};

/// The `tokenizer.ggml.*` keys of `file` as a [`VocabSpec`]. Missing
/// required keys (`tokenizer.ggml.model`, `tokenizer.ggml.tokens`) are errors
/// naming the key. Scores may be stored as f32 or i32, as llama.cpp accepts.
pub fn spec_from_gguf(file: &GgufFile) -> Result<VocabSpec, TokenizerError> {
    let missing = |k: &str| {
        TokenizerError::InvalidVocab(format!("the file has no tokenizer ('{k}' is missing)"))
    };
    let strings = |k: &str| {
        file.get_array(k)
            .and_then(Array::as_strings)
            .map(<[String]>::to_vec)
    };
    let id = |k: &str| file.get_u32(&format!("tokenizer.ggml.{k}_token_id"));
    Ok(VocabSpec {
        model: file
            .get_str("tokenizer.ggml.model")
            .ok_or_else(|| missing("tokenizer.ggml.model"))?
            .to_string(),
        pre: file.get_str("tokenizer.ggml.pre").map(str::to_string),
        tokens: strings("tokenizer.ggml.tokens").ok_or_else(|| missing("tokenizer.ggml.tokens"))?,
        scores: match file.get_array("tokenizer.ggml.scores") {
            Some(Array::F32(v)) => Some(v.clone()),
            Some(Array::I32(v)) => Some(v.iter().map(|&s| s as f32).collect()),
            _ => None,
        },
        token_types: file
            .get_array("tokenizer.ggml.token_type")
            .and_then(Array::as_i32)
            .map(<[i32]>::to_vec),
        merges: strings("tokenizer.ggml.merges"),
        bos: id("bos"),
        eos: id("eos"),
        eot: id("eot"),
        eom: id("eom"),
        unk: id("unknown"),
        pad: id("padding"),
        fim_pre: id("fim_pre"),
        fim_suf: id("fim_suf"),
        fim_mid: id("fim_mid"),
        fim_pad: id("fim_pad"),
        fim_rep: id("fim_rep"),
        fim_sep: id("fim_sep"),
        add_bos: file.get_bool("tokenizer.ggml.add_bos_token"),
        add_eos: file.get_bool("tokenizer.ggml.add_eos_token"),
        add_space_prefix: file.get_bool("tokenizer.ggml.add_space_prefix"),
        chat_template: file.get_str("tokenizer.chat_template").map(str::to_string),
        architecture: file
            .get_str("general.architecture")
            .unwrap_or_default()
            .to_string(),
        name: file.get_str("general.name").map(str::to_string),
    })
}

impl Tokenizer {
    /// Builds the tokenizer stored in a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer, TokenizerError> {
        Tokenizer::new(spec_from_gguf(file)?)
    }
}

//! Opening a GGUF file as a ready model: weights, tokenizer, chat template.

use crate::EngineError;
use edgellm_gguf::GgufFile;
use edgellm_model::Model;
use edgellm_tokenizer::{Tokenizer, VocabSpec};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A model and its tokenizer, shared by every session on it.
pub struct LoadedModel {
    pub path: PathBuf,
    pub model: Arc<Model>,
    pub tokenizer: Arc<Tokenizer>,
    pub load_duration: Duration,
}

impl LoadedModel {
    /// Memory-maps `path`, binds the weights and builds the tokenizer.
    pub fn load(path: &Path) -> Result<LoadedModel, EngineError> {
        let start = Instant::now();
        let file = Arc::new(GgufFile::open(path)?);
        let tokenizer = Arc::new(tokenizer_from_gguf(&file)?);
        let model = Arc::new(edgellm_model::from_gguf(Arc::clone(&file))?);
        if tokenizer.n_vocab() > model.hp.n_vocab {
            return Err(EngineError::Mismatch(format!(
                "the tokenizer has {} tokens but the embedding table has {} rows",
                tokenizer.n_vocab(),
                model.hp.n_vocab
            )));
        }
        Ok(LoadedModel {
            path: path.to_path_buf(),
            model,
            tokenizer,
            load_duration: start.elapsed(),
        })
    }
}

/// Reads the `tokenizer.ggml.*` keys into a [`VocabSpec`] and builds it.
pub fn tokenizer_from_gguf(f: &GgufFile) -> Result<Tokenizer, EngineError> {
    let missing =
        |k: &str| EngineError::Mismatch(format!("the file has no tokenizer ('{k}' is missing)"));
    let strings = |k: &str| {
        f.get_array(k)
            .and_then(|a| a.as_strings())
            .map(<[String]>::to_vec)
    };
    let id = |k: &str| f.get_u32(&format!("tokenizer.ggml.{k}_token_id"));
    let spec = VocabSpec {
        model: f
            .get_str("tokenizer.ggml.model")
            .ok_or_else(|| missing("tokenizer.ggml.model"))?
            .to_string(),
        pre: f.get_str("tokenizer.ggml.pre").map(str::to_string),
        tokens: strings("tokenizer.ggml.tokens").ok_or_else(|| missing("tokenizer.ggml.tokens"))?,
        scores: f
            .get_array("tokenizer.ggml.scores")
            .and_then(|a| a.as_f32())
            .map(<[f32]>::to_vec),
        token_types: f
            .get_array("tokenizer.ggml.token_type")
            .and_then(|a| a.as_i32())
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
        add_bos: f.get_bool("tokenizer.ggml.add_bos_token"),
        add_eos: f.get_bool("tokenizer.ggml.add_eos_token"),
        add_space_prefix: f.get_bool("tokenizer.ggml.add_space_prefix"),
        chat_template: f.get_str("tokenizer.chat_template").map(str::to_string),
        architecture: f.architecture()?.to_string(),
        name: f.get_str("general.name").map(str::to_string),
    };
    Ok(Tokenizer::new(spec)?)
}

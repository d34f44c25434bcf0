//! Opening a GGUF file as a ready model: weights, tokenizer, chat template.

use crate::grammar::{Constraint, Grammars, OutputFormat};
use crate::EngineError;
use edgellm_gguf::GgufFile;
use edgellm_model::Model;
use edgellm_tokenizer::Tokenizer;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A model and its tokenizer, shared by every session on it.
pub struct LoadedModel {
    pub path: PathBuf,
    pub model: Arc<Model>,
    pub tokenizer: Arc<Tokenizer>,
    pub load_duration: Duration,
    /// The structured-output compiler, built on first use.
    grammars: OnceLock<Result<Arc<Grammars>, String>>,
}

impl LoadedModel {
    /// Memory-maps `path`, binds the weights and builds the tokenizer.
    pub fn load(path: &Path) -> Result<LoadedModel, EngineError> {
        let start = Instant::now();
        let file = Arc::new(GgufFile::open(path)?);
        let tokenizer = Arc::new(Tokenizer::from_gguf(&file)?);
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
            grammars: OnceLock::new(),
        })
    }

    /// A constraint for one answer in `format` (an invalid schema is an error).
    pub fn constraint(&self, format: &OutputFormat) -> Result<Constraint, EngineError> {
        let grammars = self
            .grammars
            .get_or_init(|| {
                Grammars::new(&self.tokenizer)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| EngineError::Grammar(e.clone()))?;
        grammars.matcher(format)
    }
}

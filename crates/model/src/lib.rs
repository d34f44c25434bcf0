//! edgellm-model: decoder-only transformers over GGUF weights.
//!
//! [`load`] reads hyper-parameters from the file's metadata (validated),
//! binds every weight by name with its shape checked, and picks the
//! architecture from `general.architecture` in one registry `match`. Weights
//! stay in the memory map; only small norm vectors are copied to f32.

pub mod arch;
pub mod decoder;
pub mod hparams;
pub mod state;
pub mod testutil;
pub mod weights;

pub use decoder::{BatchToken, Logits, Model};
pub use hparams::HParams;
pub use state::RunState;

use edgellm_gguf::{GgufError, GgufFile};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("unknown architecture '{0}' (supported: {SUPPORTED_ARCHS})")]
    UnknownArch(String),
    #[error("missing metadata key '{0}'")]
    MissingKey(String),
    #[error("invalid hyper-parameter: {0}")]
    BadHParam(String),
    #[error("missing tensor '{0}'")]
    MissingTensor(String),
    #[error("tensor '{tensor}' has shape {found:?}, expected {expected:?}")]
    BadShape {
        tensor: String,
        expected: Vec<u64>,
        found: Vec<u64>,
    },
    #[error("tensor '{tensor}' has type {ty}, which edgellm does not support yet")]
    UnsupportedType { tensor: String, ty: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("the input is empty")]
    EmptyInput,
    #[error("token id {token} is outside the vocabulary of {n_vocab}")]
    TokenOutOfRange { token: u32, n_vocab: usize },
    #[error("the context is full: {needed} tokens needed, the context holds {capacity}")]
    ContextFull { needed: usize, capacity: usize },
}

/// Architectures in the registry.
pub const SUPPORTED_ARCHS: &str = "llama, qwen2, gemma3";

/// Opens a GGUF file (memory-mapped) and loads the model in it.
pub fn load(path: &Path) -> Result<Model, ModelError> {
    let file = Arc::new(GgufFile::open(path)?);
    from_gguf(file)
}

/// Loads the model in an already opened file.
pub fn from_gguf(file: Arc<GgufFile>) -> Result<Model, ModelError> {
    let arch = file.architecture()?.to_string();
    let b = weights::Binder { file: &file };
    let n_vocab = file
        .tensor("token_embd.weight")
        .ok_or_else(|| ModelError::MissingTensor("token_embd.weight".into()))?
        .dims
        .get(1)
        .copied()
        .unwrap_or(0) as usize;
    if n_vocab == 0 {
        return Err(ModelError::BadHParam(
            "token_embd.weight has no vocabulary dimension".into(),
        ));
    }
    let hp = HParams::from_gguf(&file, &arch, n_vocab)?;
    let (spec, parts) = match arch.as_str() {
        "llama" => arch::llama::build(&b, &hp)?,
        "qwen2" => arch::qwen2::build(&b, &hp)?,
        "gemma3" => arch::gemma3::build(&b, &hp)?,
        other => return Err(ModelError::UnknownArch(other.to_string())),
    };
    tracing::debug!(arch = %arch, n_layer = hp.n_layer, n_embd = hp.n_embd, "model bound");
    Ok(Model {
        file,
        hp,
        spec,
        tok_embd: parts.tok_embd,
        output_norm: parts.output_norm,
        output: parts.output,
        layers: parts.layers,
    })
}

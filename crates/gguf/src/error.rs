//! The one error type of this crate.
//!
//! Parse errors say *what* was being read (a field path such as
//! `header.tensor_count`, `metadata 'general.name' value` or
//! `tensor 'blk.0.attn_q.weight' (tensor info #3 at offset 1234): ne[1]`) and the
//! absolute byte offset of the offending field, so a user can open the file in a
//! hex editor and see the problem. Names and keys taken from the file are
//! escaped (`escape_debug`) before they go into a message.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing a GGUF file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// Opening, mapping, reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Writing to a caller-supplied `std::io::Write` failed.
    #[error("writing GGUF output: {0}")]
    Write(#[source] std::io::Error),

    /// The first four bytes are not `GGUF`.
    #[error("header.magic at offset 0: bytes \"{}\" are not \"GGUF\"{hint}", found.escape_ascii())]
    BadMagic { found: [u8; 4], hint: &'static str },

    /// The version field only makes sense byte-swapped: a big-endian file.
    #[error(
        "header.version at offset 4: big-endian GGUF is not supported \
         (the field reads {raw:#010x}, which is version {} byte-swapped)",
        raw.swap_bytes()
    )]
    BigEndian { raw: u32 },

    /// A version this reader does not understand.
    #[error("header.version at offset 4: GGUF version {version} is not supported: {reason}")]
    UnsupportedVersion { version: u32, reason: &'static str },

    /// The file ends before a field (or the bytes a count promises) does.
    #[error(
        "{what} at offset {offset}: truncated: needs {needed} bytes \
         but only {available} remain in the file"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        available: u64,
    },

    /// A count or length is above one of the named [`crate::limits`].
    #[error("{what} at offset {offset}: {value} exceeds the limit {limit_name} = {limit}")]
    LimitExceeded {
        what: String,
        offset: u64,
        value: u64,
        limit: u64,
        limit_name: &'static str,
    },

    /// A metadata value type (or array element type) id outside 0..=12.
    #[error("{what} at offset {offset}: unknown metadata value type id {type_id}")]
    UnknownValueType {
        what: String,
        offset: u64,
        type_id: u32,
    },

    /// A tensor's ggml type id is not one this crate knows the block layout of.
    #[error("{what} at offset {offset}: unknown ggml type id {type_id}")]
    UnknownGgmlType {
        what: String,
        offset: u64,
        type_id: u32,
    },

    /// The same metadata key appears twice.
    #[error(
        "metadata key '{}' at offset {offset}: duplicate key (first defined at offset {first_offset})",
        key.escape_debug()
    )]
    DuplicateKey {
        key: String,
        offset: u64,
        first_offset: u64,
    },

    /// The same tensor name appears twice.
    #[error(
        "tensor '{}' (tensor info #{index} at offset {offset}): duplicate tensor name \
         (first defined by tensor info #{first_index})",
        name.escape_debug()
    )]
    DuplicateTensor {
        name: String,
        index: u64,
        offset: u64,
        first_index: u64,
    },

    /// Any other invalid field: bad UTF-8, bool not 0/1, bad alignment,
    /// misaligned/out-of-file/overlapping tensor data, overflowing dims, ...
    #[error("{what} at offset {offset}: {reason}")]
    Invalid {
        what: String,
        offset: u64,
        reason: String,
    },

    /// A required metadata key is absent.
    #[error("metadata key '{}' is missing", key.escape_debug())]
    MissingKey { key: String },

    /// A metadata key holds a value of the wrong type.
    #[error(
        "metadata key '{}' at offset {offset}: expected a {expected} value, found {found}",
        key.escape_debug()
    )]
    WrongType {
        key: String,
        offset: u64,
        expected: &'static str,
        found: &'static str,
    },

    /// [`crate::GgufWriter`] was given something no reader would accept.
    #[error("GGUF writer: {what}: {reason}")]
    Writer { what: String, reason: String },
}

impl GgufError {
    /// The absolute file offset the error points at, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            GgufError::BadMagic { .. } => Some(0),
            GgufError::BigEndian { .. } | GgufError::UnsupportedVersion { .. } => Some(4),
            GgufError::Truncated { offset, .. }
            | GgufError::LimitExceeded { offset, .. }
            | GgufError::UnknownValueType { offset, .. }
            | GgufError::UnknownGgmlType { offset, .. }
            | GgufError::DuplicateKey { offset, .. }
            | GgufError::DuplicateTensor { offset, .. }
            | GgufError::Invalid { offset, .. }
            | GgufError::WrongType { offset, .. } => Some(*offset),
            GgufError::Io { .. }
            | GgufError::Write(_)
            | GgufError::MissingKey { .. }
            | GgufError::Writer { .. } => None,
        }
    }
}

//! edgellm-gguf: a GGUF reader and writer that treats every file as hostile.
//!
//! GGUF is llama.cpp's model container: a little-endian header (magic `GGUF`,
//! version, tensor count, metadata count), typed key/value metadata, a tensor
//! table (name, dims, ggml type, offset) and an aligned data section. Real
//! llama.cpp CVEs came from trusting that header: a dims product that overflows,
//! an array element type used unchecked, a 40-byte file that asks for a
//! multi-gigabyte allocation. This crate is built so that none of these can
//! happen, and so that the rest of edgellm never sees an unvalidated tensor.
//!
//! # Design
//!
//! **Parse, then validate, with limits — before allocating.** [`GgufFile::open`]
//! parses the whole header up front. Every count and length is checked against a
//! named limit in [`limits`] *and* against the bytes left in the file before any
//! `Vec` is sized by it (a claim of 2^63 array elements fails at the count, not in
//! the allocator); every size computation is checked arithmetic; each tensor's
//! dims product, block divisibility, alignment, bounds and non-overlap are
//! checked once, here. What comes out is a value whose invariants hold: a
//! [`TensorInfo`] always describes bytes that exist, so consumers can slice
//! without re-checking. Nothing panics on bad input; every error names the field
//! and the absolute byte offset (`tensor 'blk.0.attn_q.weight' (tensor info #3 at
//! offset 1234): dims at offset 1270: dims product [..] overflows u64`).
//!
//! **Zero-copy tensor data.** Metadata and the tensor table are decoded into
//! owned Rust values (they are small); tensor data is never copied:
//! [`GgufFile::tensor_data`] returns a slice of the memory map. Opening a 40 GB
//! model costs a header parse and page-table entries; pages load on first use.
//! Mapping is the crate's only `unsafe`, with its contract (the file must not be
//! modified while mapped) documented on [`GgufFile::open`].
//!
//! **One writer that agrees with the reader.** [`GgufWriter`] validates against
//! the same limits before writing a byte, so anything it writes this reader
//! accepts; `write_file` is atomic (temporary file + rename). The fuzz target
//! (`fuzz/fuzz_targets/gguf_read.rs`) checks that property on arbitrary input.
//!
//! # Decisions where the format leaves room
//!
//! - Versions 2 and 3 are read (identical little-endian layouts); version 1 (32-bit
//!   counts) is rejected with a message saying so; a byte-swapped version field
//!   is reported as "big-endian GGUF is not supported". The writer emits v3.
//! - `general.alignment` must be a `u32` nonzero power of two (default 32). The
//!   spec's "multiple of 8" is not enforced, as ggml does not.
//! - Tensor offsets must be multiples of the alignment, inside the file, and
//!   tensors must not overlap. Unlike ggml, tensors need not be packed in table
//!   order; gaps and trailing bytes are allowed, padding bytes are not checked.
//! - A dimension of 0 is allowed and gives an empty tensor (0 bytes, which
//!   overlaps nothing). `n_dims` = 0 is a scalar with one element, as in ggml.
//!   Dims and the element count must fit `i64` (ggml's `int64_t ne`).
//! - Unknown ggml type ids, unknown metadata value types, duplicate keys,
//!   duplicate tensor names, bools other than 0/1 and non-UTF-8 keys, names or
//!   strings are errors (ggml accepts some of these; we would have to guess).
//! - Nested arrays are read and written (up to [`limits::MAX_ARRAY_DEPTH`]).
//! - Big-endian files are out of scope.

mod cursor;
mod error;
pub mod limits;
mod parse;
mod reader;
mod types;
mod value;
mod writer;

pub use error::GgufError;
pub use reader::{GgufFile, TensorInfo, KEY_ALIGNMENT, KEY_ARCHITECTURE};
pub use types::GgmlType;
pub use value::{Array, Value, ValueType};
pub use writer::{GgufWriter, WRITE_VERSION};

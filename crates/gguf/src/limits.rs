//! Named limits for GGUF parsing and writing.
//!
//! Every count, length and size read from a file is checked against one of these
//! *and* against the bytes left in the file before anything is allocated. The
//! limits are generous multiples of what real models use; their job is to turn a
//! hostile header (a 40-byte file claiming 2^63 tensors) into an error instead of
//! an allocation. The writer enforces the same limits, so anything it writes the
//! reader accepts.

/// Most tensors in one file. Published models have a few hundred to ~2k tensors
/// (Llama-3-405B: 1,138; DeepSeek-V3 with fused experts: ~1,100); old conversions
/// with one tensor per MoE expert reach tens of thousands. 1 Mi bounds the tensor
/// table (~100 B per entry) at ~100 MiB in the worst case.
pub const MAX_TENSORS: u64 = 1 << 20;

/// Most metadata key/value pairs. Real files carry 20–100; 64 Ki leaves room for
/// tools that stash per-layer metadata without letting a header claim billions.
pub const MAX_KV: u64 = 1 << 16;

/// Longest metadata key in bytes. The GGUF spec caps keys at 65,535 bytes.
pub const MAX_KEY_LEN: u64 = 65_535;

/// Longest metadata string value in bytes. The largest real strings are embedded
/// `tokenizer.huggingface.json` blobs (tens of MiB) and chat templates (tens of KiB).
pub const MAX_STRING_LEN: u64 = 64 << 20;

/// Most elements in one metadata array. The largest real arrays are vocabularies
/// (262,144 tokens for Gemma 3) and BPE merge lists (~500k); 16 Mi is 32× that.
pub const MAX_ARRAY_LEN: u64 = 1 << 24;

/// Deepest nesting of arrays inside arrays (a top-level array is depth 1). Bounds
/// the parser's recursion, so a file of nested array headers cannot overflow the
/// stack. No known file nests deeper than 2, and ggml itself rejects nesting.
pub const MAX_ARRAY_DEPTH: u32 = 8;

/// Most bytes in the metadata key/value section. Real files use at most a few
/// tens of MiB (vocabulary + merges + scores); parsed values take up to ~5× their
/// encoded size in memory, so this also bounds the metadata's memory footprint.
pub const MAX_METADATA_BYTES: u64 = 256 << 20;

/// Most dimensions of a tensor: `GGML_MAX_DIMS` is 4.
pub const MAX_DIMS: u32 = 4;

/// Tensor names must be *shorter* than this many bytes: ggml stores names in a
/// `char[GGML_MAX_NAME]` (64) including the NUL and rejects lengths >= 64.
pub const MAX_NAME_LEN: u64 = 64;

/// Largest value of one tensor dimension and of a tensor's element count: ggml
/// keeps `ne` as `int64_t`, so anything above `i64::MAX` cannot be a ggml tensor.
pub const MAX_ELEMENTS: u64 = i64::MAX as u64;

/// Default alignment of the tensor data section and of each tensor
/// (`GGUF_DEFAULT_ALIGNMENT`), used when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

//! [`GgufFile`], a parsed and validated GGUF file, and [`TensorInfo`].

use std::fmt;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use crate::cursor::Result;
use crate::error::GgufError;
use crate::parse::{parse, Header};
use crate::types::GgmlType;
use crate::value::{Array, Value};

/// The metadata key holding the data alignment.
pub const KEY_ALIGNMENT: &str = "general.alignment";
/// The metadata key naming the model architecture.
pub const KEY_ARCHITECTURE: &str = "general.architecture";

/// One entry of the tensor table, validated against the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in ggml `ne` order: `dims[0]` is the innermost (contiguous)
    /// one, the row length. A PyTorch `[out, in]` weight is `[in, out]` here.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Absolute file offset of the first data byte (already including
    /// [`GgufFile::data_offset`]).
    pub offset: u64,
    /// Product of `dims` (1 for a 0-dimensional tensor).
    pub n_elements: u64,
    /// Bytes of data: `n_elements / block_size * type_size`.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Row length (`dims[0]`, 1 for a 0-dimensional tensor).
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows: every dimension but the first, multiplied.
    pub fn n_rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }
}

/// Where the file's bytes live.
enum Storage {
    Mmap(Mmap),
    Owned(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mmap(m) => m,
            Storage::Owned(v) => v,
        }
    }
}

/// A parsed, validated GGUF file: metadata and tensor table in memory, tensor
/// data borrowed zero-copy from the mapping (or owned buffer).
pub struct GgufFile {
    storage: Storage,
    header: Header,
}

impl GgufFile {
    /// Memory-maps and parses the file at `path`.
    ///
    /// # Safety note
    ///
    /// This function is safe to call but rests on one assumption Rust cannot
    /// check: **the file is not modified or truncated while the returned value
    /// lives.** The OS does not prevent another process from writing to a mapped
    /// file; a write would change bytes behind `&[u8]` slices handed out by
    /// [`GgufFile::tensor_data`] and a truncation would make reads fault
    /// (SIGBUS). This is the same contract every mmap-based model loader
    /// (llama.cpp, candle) relies on; model files are immutable once written, and
    /// [`crate::GgufWriter::write_file`] replaces files atomically by rename,
    /// which never touches a mapped inode. Use [`GgufFile::read`] to load a file
    /// that might change into memory instead.
    pub fn open(path: &Path) -> std::result::Result<GgufFile, GgufError> {
        let io = |source| GgufError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            // Nothing to map; parsing the empty buffer reports the missing header.
            return GgufFile::from_bytes(Vec::new());
        }
        // SAFETY: `Mmap::map` is unsafe because the mapped bytes can change or
        // vanish if the file is written or truncated concurrently. We require
        // callers not to do that (see "Safety note" above): model files are
        // treated as immutable and our own writer replaces files by rename. The
        // mapping is read-only and lives as long as `GgufFile`, which owns it.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        GgufFile::from_storage(Storage::Mmap(mmap))
    }

    /// Reads the whole file at `path` into memory and parses it (no mmap).
    pub fn read(path: &Path) -> std::result::Result<GgufFile, GgufError> {
        let bytes = std::fs::read(path).map_err(|source| GgufError::Io {
            path: path.to_owned(),
            source,
        })?;
        GgufFile::from_bytes(bytes)
    }

    /// Parses a GGUF file held in memory. Same parser and checks as [`open`](Self::open).
    ///
    /// Tensor data is 32-byte aligned *within the file*; in memory, a `Vec`'s
    /// base address is only as aligned as the allocator made it, so consumers
    /// must not assume more than byte alignment of [`tensor_data`](Self::tensor_data)
    /// (with [`open`](Self::open) the base is page-aligned).
    pub fn from_bytes(bytes: Vec<u8>) -> std::result::Result<GgufFile, GgufError> {
        GgufFile::from_storage(Storage::Owned(bytes))
    }

    fn from_storage(storage: Storage) -> Result<GgufFile> {
        let header = parse(storage.bytes())?;
        Ok(GgufFile { storage, header })
    }

    /// Format version from the header (2 or 3; the layouts are identical).
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// Alignment of the tensor data section and of every tensor's data.
    pub fn alignment(&self) -> u64 {
        self.header.alignment
    }

    /// Absolute file offset of the tensor data section. For a file without
    /// tensors whose writer omitted the final padding this may exceed
    /// [`file_size`](Self::file_size).
    pub fn data_offset(&self) -> u64 {
        self.header.data_offset
    }

    pub fn file_size(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// All key/value pairs in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.header.metadata
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = *self.header.metadata_index.get(key)?;
        Some(&self.header.metadata[i].1)
    }

    /// Absolute file offset of the entry for `key`, for error messages.
    pub fn metadata_offset(&self, key: &str) -> Option<u64> {
        let i = *self.header.metadata_index.get(key)?;
        Some(self.header.metadata_offsets[i])
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// Any integer value that fits in `u32`.
    pub fn get_u32(&self, key: &str) -> Option<u32> {
        self.get(key)?.as_u32()
    }

    /// Any integer value that fits in `u64`.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }

    /// Any integer value that fits in `i64`.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key)?.as_i64()
    }

    /// An `f32` or `f64` value (rounded to `f32`), or an integer value.
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    pub fn get_array(&self, key: &str) -> Option<&Array> {
        self.get(key)?.as_array()
    }

    /// The value of `key`, or [`GgufError::MissingKey`].
    pub fn require(&self, key: &str) -> Result<&Value> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_owned(),
        })
    }

    fn wrong_type(&self, key: &str, expected: &'static str, found: &Value) -> GgufError {
        GgufError::WrongType {
            key: key.to_owned(),
            offset: self.metadata_offset(key).unwrap_or(0),
            expected,
            found: found.type_name(),
        }
    }

    /// Like [`get_str`](Self::get_str) but with an error naming the key and offset.
    pub fn require_str(&self, key: &str) -> Result<&str> {
        let v = self.require(key)?;
        v.as_str().ok_or_else(|| self.wrong_type(key, "string", v))
    }

    /// Like [`get_u32`](Self::get_u32) but with an error naming the key and offset.
    pub fn require_u32(&self, key: &str) -> Result<u32> {
        let v = self.require(key)?;
        v.as_u32()
            .ok_or_else(|| self.wrong_type(key, "integer fitting u32", v))
    }

    /// Like [`get_u64`](Self::get_u64) but with an error naming the key and offset.
    pub fn require_u64(&self, key: &str) -> Result<u64> {
        let v = self.require(key)?;
        v.as_u64()
            .ok_or_else(|| self.wrong_type(key, "integer fitting u64", v))
    }

    /// Like [`get_f32`](Self::get_f32) but with an error naming the key and offset.
    pub fn require_f32(&self, key: &str) -> Result<f32> {
        let v = self.require(key)?;
        v.as_f32().ok_or_else(|| self.wrong_type(key, "number", v))
    }

    /// `general.architecture`; an error if it is missing or not a string.
    pub fn architecture(&self) -> Result<&str> {
        self.require_str(KEY_ARCHITECTURE)
    }

    /// The tensor table in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        let i = *self.header.tensor_index.get(name)?;
        Some(&self.header.tensors[i])
    }

    /// The `t.n_bytes` data bytes of tensor `t`, zero-copy.
    ///
    /// # Panics
    ///
    /// If `t` is not from this file and its range lies outside the file (a
    /// programmer error; every `TensorInfo` this file hands out is in bounds).
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        let range = usize::try_from(t.offset).ok().and_then(|start| {
            let end = start.checked_add(usize::try_from(t.n_bytes).ok()?)?;
            Some(start..end)
        });
        match range.and_then(|r| self.bytes().get(r)) {
            Some(data) => data,
            None => panic!(
                "tensor '{}' ([{}, +{}) bytes) is not from this {}-byte GGUF file",
                t.name.escape_debug(),
                t.offset,
                t.n_bytes,
                self.file_size()
            ),
        }
    }

    /// Data of the tensor called `name`, if there is one.
    pub fn tensor_bytes(&self, name: &str) -> Option<&[u8]> {
        self.tensor(name).map(|t| self.tensor_data(t))
    }
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version())
            .field("file_size", &self.file_size())
            .field("alignment", &self.alignment())
            .field("data_offset", &self.data_offset())
            .field("n_kv", &self.header.metadata.len())
            .field("n_tensors", &self.header.tensors.len())
            .field("mmap", &matches!(self.storage, Storage::Mmap(_)))
            .finish()
    }
}

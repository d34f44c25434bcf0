//! [`GgufWriter`]: builds a GGUF v3 file from metadata and tensors.
//!
//! The writer validates everything before the first byte goes out, against the
//! same limits and rules as the reader, so that whatever it writes
//! [`crate::GgufFile`] accepts, and an invalid request never leaves a partial
//! file behind.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::GgufError;
use crate::limits::*;
use crate::reader::{GgufFile, KEY_ALIGNMENT};
use crate::types::GgmlType;
use crate::value::{Array, Value};

type Result<T> = std::result::Result<T, GgufError>;

/// The version this writer produces.
pub const WRITE_VERSION: u32 = 3;

/// A tensor waiting to be written.
#[derive(Clone, Debug)]
struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    data: Vec<u8>,
}

/// Collects metadata and tensors, then writes them as one GGUF v3 file.
///
/// Metadata is written in insertion order, tensors in insertion order, each
/// tensor's data at the next multiple of the alignment (zero padding between,
/// and after the last, as ggml and gguf-py do).
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    alignment: Option<u64>,
    kvs: Vec<(String, Value)>,
    tensors: Vec<PendingTensor>,
}

/// The validated layout: the encoded header up to the data section, and where
/// each tensor's data goes.
struct Plan {
    header: Vec<u8>,
    alignment: u64,
}

fn writer_err(what: impl Into<String>, reason: impl Into<String>) -> GgufError {
    GgufError::Writer {
        what: what.into(),
        reason: reason.into(),
    }
}

fn padding(len: u64, alignment: u64) -> u64 {
    (alignment - len % alignment) % alignment
}

impl GgufWriter {
    /// An empty writer; alignment 32 unless [`set_alignment`](Self::set_alignment)
    /// is called or a `general.alignment` (u32) value is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer holding a copy of `file`'s metadata (in order) and tensors (in
    /// table order, data copied). Useful to rewrite a file with changes; it
    /// copies all tensor data into memory.
    pub fn from_gguf(file: &GgufFile) -> Self {
        let mut w = GgufWriter::new();
        for (k, v) in file.metadata() {
            w.add_kv(k.clone(), v.clone());
        }
        for t in file.tensors() {
            w.add_tensor(
                t.name.clone(),
                &t.dims,
                t.ggml_type,
                file.tensor_data(t).to_vec(),
            );
        }
        w
    }

    /// Sets the data alignment. Written as `general.alignment`; it must be a
    /// nonzero power of two that fits `u32` (checked when writing), and must
    /// agree with any `general.alignment` value added explicitly.
    pub fn set_alignment(&mut self, a: u64) {
        self.alignment = Some(a);
    }

    /// Appends a metadata entry. Duplicate keys are reported when writing.
    pub fn add_kv(&mut self, key: impl Into<String>, value: Value) {
        self.kvs.push((key.into(), value));
    }

    /// Replaces the value of `key` in place, or appends it if absent.
    pub fn set_kv(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.kvs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.kvs.push((key, value)),
        }
    }

    /// Removes every entry for `key`, returning the first removed value.
    pub fn remove_kv(&mut self, key: &str) -> Option<Value> {
        let i = self.kvs.iter().position(|(k, _)| k == key)?;
        let (_, v) = self.kvs.remove(i);
        self.kvs.retain(|(k, _)| k != key);
        Some(v)
    }

    /// Removes the tensor named `name`; returns whether there was one.
    pub fn remove_tensor(&mut self, name: &str) -> bool {
        let before = self.tensors.len();
        self.tensors.retain(|t| t.name != name);
        self.tensors.len() != before
    }

    /// The metadata added so far, in order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.kvs
    }

    /// Appends a tensor. `dims` is in ggml `ne` order (`dims[0]` = row length).
    /// The type must be known, `dims[0]` a multiple of its block size and
    /// `data.len()` exactly the tensor's byte size; violations (and duplicate
    /// names, names of 64+ bytes, more than 4 dims) are reported when writing.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ggml_type: GgmlType,
        data: Vec<u8>,
    ) {
        self.tensors.push(PendingTensor {
            name: name.into(),
            dims: dims.to_vec(),
            ggml_type,
            data,
        });
    }

    /// Writes the file to `w` (buffered internally).
    pub fn write_to<W: Write>(&self, w: W) -> Result<()> {
        let plan = self.plan()?;
        self.emit(&plan, w).map_err(GgufError::Write)
    }

    /// The whole file as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let plan = self.plan()?;
        let mut out = Vec::with_capacity(plan.header.len() + self.data_len(plan.alignment));
        self.emit(&plan, &mut out).map_err(GgufError::Write)?;
        Ok(out)
    }

    /// Writes the file to `path` atomically: into a temporary file in the same
    /// directory, synced, then renamed over `path`. Readers never see a partial
    /// file, and a process that has the old file mapped keeps its old inode.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let plan = self.plan()?;
        let io = |source| GgufError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        self.emit(&plan, tmp.as_file_mut()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    fn data_len(&self, alignment: u64) -> usize {
        self.tensors
            .iter()
            .map(|t| t.data.len() + padding(t.data.len() as u64, alignment) as usize)
            .sum()
    }

    fn emit<W: Write>(&self, plan: &Plan, w: W) -> std::io::Result<()> {
        let mut w = BufWriter::new(w);
        w.write_all(&plan.header)?;
        let zeros = vec![0u8; plan.alignment.min(4096) as usize];
        for t in &self.tensors {
            w.write_all(&t.data)?;
            let mut pad = padding(t.data.len() as u64, plan.alignment);
            while pad > 0 {
                let n = pad.min(zeros.len() as u64);
                w.write_all(&zeros[..n as usize])?;
                pad -= n;
            }
        }
        w.flush()
    }

    /// The effective alignment and whether a `general.alignment` entry must be
    /// appended for it.
    fn resolve_alignment(&self) -> Result<(u64, bool)> {
        let kv = self
            .kvs
            .iter()
            .find(|(k, _)| k == KEY_ALIGNMENT)
            .map(|(_, v)| v);
        let (a, append) = match (self.alignment, kv) {
            (_, Some(v)) if !matches!(v, Value::U32(_)) => {
                return Err(writer_err(
                    format!("metadata '{KEY_ALIGNMENT}'"),
                    format!("must be a u32 value, found {}", v.type_name()),
                ))
            }
            (Some(a), Some(Value::U32(k))) if a != u64::from(*k) => {
                return Err(writer_err(
                    "alignment",
                    format!("set_alignment({a}) conflicts with metadata '{KEY_ALIGNMENT}' = {k}"),
                ))
            }
            (Some(a), Some(_)) => (a, false),
            (Some(a), None) => (a, true),
            (None, Some(v)) => (v.as_u64().unwrap_or(0), false),
            (None, None) => (DEFAULT_ALIGNMENT, false),
        };
        if !a.is_power_of_two() || a > u64::from(u32::MAX) {
            return Err(writer_err(
                "alignment",
                format!("{a} is not a nonzero power of two that fits u32"),
            ));
        }
        Ok((a, append))
    }

    /// Validates everything and encodes the header.
    fn plan(&self) -> Result<Plan> {
        let (alignment, append_alignment) = self.resolve_alignment()?;
        let n_kv = self.kvs.len() as u64 + u64::from(append_alignment);
        if n_kv > MAX_KV {
            return Err(writer_err(
                "metadata",
                format!("{n_kv} entries exceed MAX_KV = {MAX_KV}"),
            ));
        }
        let n_tensors = self.tensors.len() as u64;
        if n_tensors > MAX_TENSORS {
            return Err(writer_err(
                "tensors",
                format!("{n_tensors} tensors exceed MAX_TENSORS = {MAX_TENSORS}"),
            ));
        }

        let mut h = Vec::new();
        h.extend_from_slice(b"GGUF");
        h.extend_from_slice(&WRITE_VERSION.to_le_bytes());
        h.extend_from_slice(&n_tensors.to_le_bytes());
        h.extend_from_slice(&n_kv.to_le_bytes());

        let meta_start = h.len();
        let mut seen: HashSet<&str> = HashSet::with_capacity(self.kvs.len());
        for (key, value) in &self.kvs {
            let what = || format!("metadata '{}'", key.escape_debug());
            if !seen.insert(key) {
                return Err(writer_err(what(), "duplicate key"));
            }
            if key.len() as u64 > MAX_KEY_LEN {
                return Err(writer_err(
                    what(),
                    format!(
                        "key length {} exceeds MAX_KEY_LEN = {MAX_KEY_LEN}",
                        key.len()
                    ),
                ));
            }
            check_value(value, 0, &what)?;
            put_str(&mut h, key);
            h.extend_from_slice(&value.value_type().id().to_le_bytes());
            put_value(&mut h, value);
        }
        if append_alignment {
            let value = Value::U32(alignment as u32);
            put_str(&mut h, KEY_ALIGNMENT);
            h.extend_from_slice(&value.value_type().id().to_le_bytes());
            put_value(&mut h, &value);
        }
        let meta_len = (h.len() - meta_start) as u64;
        if meta_len > MAX_METADATA_BYTES {
            return Err(writer_err(
                "metadata",
                format!("{meta_len} bytes exceed MAX_METADATA_BYTES = {MAX_METADATA_BYTES}"),
            ));
        }

        let mut names: HashSet<&str> = HashSet::with_capacity(self.tensors.len());
        let mut offset: u64 = 0;
        for t in &self.tensors {
            let what = || format!("tensor '{}'", t.name.escape_debug());
            if !names.insert(&t.name) {
                return Err(writer_err(what(), "duplicate tensor name"));
            }
            if t.name.len() as u64 >= MAX_NAME_LEN {
                return Err(writer_err(
                    what(),
                    format!(
                        "name is {} bytes; ggml needs fewer than {MAX_NAME_LEN}",
                        t.name.len()
                    ),
                ));
            }
            let (_, n_bytes) = t
                .ggml_type
                .tensor_size(&t.dims)
                .map_err(|r| writer_err(what(), r))?;
            if t.data.len() as u64 != n_bytes {
                return Err(writer_err(
                    what(),
                    format!(
                        "data is {} bytes but {} {:?} needs {n_bytes}",
                        t.data.len(),
                        t.ggml_type,
                        t.dims
                    ),
                ));
            }
            put_str(&mut h, &t.name);
            h.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                h.extend_from_slice(&d.to_le_bytes());
            }
            h.extend_from_slice(&t.ggml_type.0.to_le_bytes());
            h.extend_from_slice(&offset.to_le_bytes());
            offset = offset
                .checked_add(n_bytes + padding(n_bytes, alignment))
                .ok_or_else(|| writer_err(what(), "data section size overflows u64"))?;
        }
        h.resize(h.len() + padding(h.len() as u64, alignment) as usize, 0);
        Ok(Plan {
            header: h,
            alignment,
        })
    }
}

/// Checks a value against the reader's limits; `depth` is the array nesting
/// of `v` itself (0 for a top-level value).
fn check_value(v: &Value, depth: u32, what: &dyn Fn() -> String) -> Result<()> {
    match v {
        Value::String(s) => check_str(s, what),
        Value::Array(a) => check_array(a, depth + 1, what),
        _ => Ok(()),
    }
}

fn check_str(s: &str, what: &dyn Fn() -> String) -> Result<()> {
    if s.len() as u64 > MAX_STRING_LEN {
        return Err(writer_err(
            what(),
            format!(
                "string of {} bytes exceeds MAX_STRING_LEN = {MAX_STRING_LEN}",
                s.len()
            ),
        ));
    }
    Ok(())
}

fn check_array(a: &Array, depth: u32, what: &dyn Fn() -> String) -> Result<()> {
    if depth > MAX_ARRAY_DEPTH {
        return Err(writer_err(
            what(),
            format!("arrays nested {depth} deep exceed MAX_ARRAY_DEPTH = {MAX_ARRAY_DEPTH}"),
        ));
    }
    if a.len() as u64 > MAX_ARRAY_LEN {
        return Err(writer_err(
            what(),
            format!(
                "array of {} elements exceeds MAX_ARRAY_LEN = {MAX_ARRAY_LEN}",
                a.len()
            ),
        ));
    }
    match a {
        Array::String(v) => v.iter().try_for_each(|s| check_str(s, what)),
        Array::Array(v) => v.iter().try_for_each(|x| check_array(x, depth + 1, what)),
        _ => Ok(()),
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn put_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => buf.push(*x),
        Value::I8(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::U16(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => buf.push(u8::from(*x)),
        Value::String(s) => put_str(buf, s),
        Value::Array(a) => put_array(buf, a),
        Value::U64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => buf.extend_from_slice(&x.to_le_bytes()),
    }
}

fn put_array(buf: &mut Vec<u8>, a: &Array) {
    buf.extend_from_slice(&a.elem_type().id().to_le_bytes());
    buf.extend_from_slice(&(a.len() as u64).to_le_bytes());
    macro_rules! le {
        ($v:expr) => {
            for x in $v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        };
    }
    match a {
        Array::U8(v) => buf.extend_from_slice(v),
        Array::I8(v) => le!(v),
        Array::U16(v) => le!(v),
        Array::I16(v) => le!(v),
        Array::U32(v) => le!(v),
        Array::I32(v) => le!(v),
        Array::F32(v) => le!(v),
        Array::Bool(v) => buf.extend(v.iter().map(|&b| u8::from(b))),
        Array::String(v) => v.iter().for_each(|s| put_str(buf, s)),
        Array::U64(v) => le!(v),
        Array::I64(v) => le!(v),
        Array::F64(v) => le!(v),
        Array::Array(v) => v.iter().for_each(|x| put_array(buf, x)),
    }
}

//! The parser: header, metadata, tensor table, then placement checks.
//!
//! Order matters: every count is checked against its limit and against the
//! bytes left *before* the `Vec` it sizes is allocated; tensor offsets are
//! checked only once the whole table is read, because the data section starts
//! after it.

use std::collections::HashMap;

use crate::cursor::{check_limit, Cursor, Result};
use crate::error::GgufError;
use crate::limits::*;
use crate::reader::{TensorInfo, KEY_ALIGNMENT};
use crate::types::GgmlType;
use crate::value::{Array, Value, ValueType};

/// Fewest bytes one tensor info entry takes: empty name (8) + n_dims (4) + no
/// dims + ggml_type (4) + offset (8).
const MIN_TENSOR_INFO_BYTES: u64 = 24;
/// Fewest bytes one key/value entry takes: empty key (8) + type (4) + a u8 (1).
const MIN_KV_BYTES: u64 = 13;

/// Everything the parser extracts; separate from the storage it borrowed from.
pub(crate) struct Header {
    pub(crate) version: u32,
    pub(crate) alignment: u64,
    pub(crate) data_offset: u64,
    pub(crate) metadata: Vec<(String, Value)>,
    /// File offset of each metadata entry (its key's length field).
    pub(crate) metadata_offsets: Vec<u64>,
    pub(crate) metadata_index: HashMap<String, usize>,
    pub(crate) tensors: Vec<TensorInfo>,
    pub(crate) tensor_index: HashMap<String, usize>,
}

/// `what` for a tensor field: `tensor 'name' (tensor info #i at offset o): field`.
fn tensor_what(name: &str, index: u64, info_offset: u64, field: &str) -> String {
    format!(
        "tensor '{}' (tensor info #{index} at offset {info_offset}): {field}",
        name.escape_debug()
    )
}

/// Parses and validates everything but the tensor data itself.
pub(crate) fn parse(bytes: &[u8]) -> Result<Header> {
    let mut c = Cursor::new(bytes);
    let version = parse_magic_and_version(&mut c)?;

    let n_tensors_offset = c.offset();
    let n_tensors = c.u64(&|| "header.tensor_count".into())?;
    let n_kv_offset = c.offset();
    let n_kv = c.u64(&|| "header.metadata_kv_count".into())?;
    check_limit(
        n_tensors,
        MAX_TENSORS,
        "MAX_TENSORS",
        n_tensors_offset,
        &|| "header.tensor_count".into(),
    )?;
    check_limit(n_kv, MAX_KV, "MAX_KV", n_kv_offset, &|| {
        "header.metadata_kv_count".into()
    })?;
    c.ensure_room(n_kv, MIN_KV_BYTES, n_kv_offset, &|| {
        "header.metadata_kv_count".into()
    })?;
    c.ensure_room(n_tensors, MIN_TENSOR_INFO_BYTES, n_tensors_offset, &|| {
        "header.tensor_count".into()
    })?;

    let mut h = Header {
        version,
        alignment: DEFAULT_ALIGNMENT,
        data_offset: 0,
        metadata: Vec::with_capacity(n_kv as usize),
        metadata_offsets: Vec::with_capacity(n_kv as usize),
        metadata_index: HashMap::with_capacity(n_kv as usize),
        tensors: Vec::new(),
        tensor_index: HashMap::new(),
    };
    parse_metadata(&mut c, n_kv, &mut h)?;
    h.alignment = alignment_from_metadata(&h)?;

    c.ensure_room(n_tensors, MIN_TENSOR_INFO_BYTES, n_tensors_offset, &|| {
        "header.tensor_count".into()
    })?;
    let field_offsets = parse_tensor_infos(&mut c, n_tensors, &mut h)?;
    place_tensors(c.offset(), bytes.len() as u64, &field_offsets, &mut h)?;
    Ok(h)
}

fn parse_magic_and_version(c: &mut Cursor<'_>) -> Result<u32> {
    let magic = c.take(4, &|| "header.magic".into())?;
    if magic != b"GGUF" {
        let hint = match magic {
            b"lmgg" | b"fmgg" | b"tjgg" => {
                " (it is a pre-GGUF GGML/GGMF/GGJT file; re-convert the model with current tools)"
            }
            b"FUGG" => " (byte-swapped: big-endian GGUF is not supported)",
            _ => "",
        };
        let mut found = [0u8; 4];
        found.copy_from_slice(magic);
        return Err(GgufError::BadMagic { found, hint });
    }
    let version = c.u32(&|| "header.version".into())?;
    match version {
        2 | 3 => Ok(version),
        1 => Err(GgufError::UnsupportedVersion {
            version,
            reason: "GGUF v1 used 32-bit counts and lengths; re-convert the model",
        }),
        v if (1..=3).contains(&v.swap_bytes()) => Err(GgufError::BigEndian { raw: v }),
        _ => Err(GgufError::UnsupportedVersion {
            version,
            reason: "this reader understands versions 2 and 3 (same layout)",
        }),
    }
}

fn parse_metadata(c: &mut Cursor<'_>, n_kv: u64, h: &mut Header) -> Result<()> {
    let start = c.offset();
    for i in 0..n_kv {
        let kv_offset = c.offset();
        let key = c.string(MAX_KEY_LEN, "MAX_KEY_LEN", &|| {
            format!("metadata kv #{i} key")
        })?;
        if let Some(&first) = h.metadata_index.get(&key) {
            return Err(GgufError::DuplicateKey {
                key,
                offset: kv_offset,
                first_offset: h.metadata_offsets[first],
            });
        }
        let what = || format!("metadata '{}' value", key.escape_debug());
        let type_offset = c.offset();
        let type_id = c.u32(&|| format!("metadata '{}' value type", key.escape_debug()))?;
        let ty = ValueType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType {
            what: format!("metadata '{}' value type", key.escape_debug()),
            offset: type_offset,
            type_id,
        })?;
        let value = read_value(c, ty, &what, 0)?;
        check_limit(
            c.offset() - start,
            MAX_METADATA_BYTES,
            "MAX_METADATA_BYTES",
            kv_offset,
            &|| format!("metadata section (through key '{}')", key.escape_debug()),
        )?;
        h.metadata_index.insert(key.clone(), h.metadata.len());
        h.metadata_offsets.push(kv_offset);
        h.metadata.push((key, value));
    }
    Ok(())
}

fn read_value(
    c: &mut Cursor<'_>,
    ty: ValueType,
    what: &dyn Fn() -> String,
    depth: u32,
) -> Result<Value> {
    Ok(match ty {
        ValueType::U8 => Value::U8(c.u8(what)?),
        ValueType::I8 => Value::I8(c.u8(what)? as i8),
        ValueType::U16 => Value::U16(c.u16(what)?),
        ValueType::I16 => Value::I16(c.u16(what)? as i16),
        ValueType::U32 => Value::U32(c.u32(what)?),
        ValueType::I32 => Value::I32(c.u32(what)? as i32),
        ValueType::F32 => Value::F32(f32::from_bits(c.u32(what)?)),
        ValueType::U64 => Value::U64(c.u64(what)?),
        ValueType::I64 => Value::I64(c.u64(what)? as i64),
        ValueType::F64 => Value::F64(f64::from_bits(c.u64(what)?)),
        ValueType::Bool => {
            let offset = c.offset();
            Value::Bool(to_bool(c.u8(what)?, offset, what)?)
        }
        ValueType::String => Value::String(c.string(MAX_STRING_LEN, "MAX_STRING_LEN", what)?),
        ValueType::Array => Value::Array(read_array(c, what, depth + 1)?),
    })
}

fn to_bool(b: u8, offset: u64, what: &dyn Fn() -> String) -> Result<bool> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(GgufError::Invalid {
            what: what(),
            offset,
            reason: format!("bool must be 0 or 1, found {b}"),
        }),
    }
}

/// Decodes fixed-size little-endian elements.
fn le_vec<T, const N: usize>(bytes: &[u8], decode: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut a = [0u8; N];
            a.copy_from_slice(chunk);
            decode(a)
        })
        .collect()
}

/// An array value at nesting `depth` (1 for a top-level array).
fn read_array(c: &mut Cursor<'_>, what: &dyn Fn() -> String, depth: u32) -> Result<Array> {
    let type_offset = c.offset();
    let type_what = || format!("{} array element type", what());
    check_limit(
        depth.into(),
        MAX_ARRAY_DEPTH.into(),
        "MAX_ARRAY_DEPTH",
        type_offset,
        &|| format!("{} array nesting depth", what()),
    )?;
    let type_id = c.u32(&type_what)?;
    let ty = ValueType::from_id(type_id).ok_or_else(|| GgufError::UnknownValueType {
        what: type_what(),
        offset: type_offset,
        type_id,
    })?;
    let count_offset = c.offset();
    let count_what = || format!("{} array count", what());
    let count = c.u64(&count_what)?;
    check_limit(
        count,
        MAX_ARRAY_LEN,
        "MAX_ARRAY_LEN",
        count_offset,
        &count_what,
    )?;
    c.ensure_room(count, ty.min_encoded_size(), count_offset, &count_what)?;
    // Room was checked: `count * min_encoded_size` bytes exist, so `count` fits
    // in usize and every `count * size` below is at most the file size.
    let n = count as usize;
    let elem_what = |i: usize| move || format!("{} element #{i}", what());
    Ok(match ty {
        ValueType::U8 => Array::U8(c.take(count, what)?.to_vec()),
        ValueType::I8 => Array::I8(c.take(count, what)?.iter().map(|&b| b as i8).collect()),
        ValueType::U16 => Array::U16(le_vec(c.take(count * 2, what)?, u16::from_le_bytes)),
        ValueType::I16 => Array::I16(le_vec(c.take(count * 2, what)?, i16::from_le_bytes)),
        ValueType::U32 => Array::U32(le_vec(c.take(count * 4, what)?, u32::from_le_bytes)),
        ValueType::I32 => Array::I32(le_vec(c.take(count * 4, what)?, i32::from_le_bytes)),
        ValueType::F32 => Array::F32(le_vec(c.take(count * 4, what)?, f32::from_le_bytes)),
        ValueType::U64 => Array::U64(le_vec(c.take(count * 8, what)?, u64::from_le_bytes)),
        ValueType::I64 => Array::I64(le_vec(c.take(count * 8, what)?, i64::from_le_bytes)),
        ValueType::F64 => Array::F64(le_vec(c.take(count * 8, what)?, f64::from_le_bytes)),
        ValueType::Bool => {
            let offset = c.offset();
            let raw = c.take(count, what)?;
            let mut v = Vec::with_capacity(n);
            for (i, &b) in raw.iter().enumerate() {
                v.push(to_bool(b, offset + i as u64, &elem_what(i))?);
            }
            Array::Bool(v)
        }
        ValueType::String => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(c.string(MAX_STRING_LEN, "MAX_STRING_LEN", &elem_what(i))?);
            }
            Array::String(v)
        }
        ValueType::Array => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(read_array(c, &elem_what(i), depth + 1)?);
            }
            Array::Array(v)
        }
    })
}

/// `general.alignment` if present: a `u32` that is a nonzero power of two.
fn alignment_from_metadata(h: &Header) -> Result<u64> {
    let Some(&i) = h.metadata_index.get(KEY_ALIGNMENT) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    let offset = h.metadata_offsets[i];
    match h.metadata[i].1 {
        Value::U32(a) if a.is_power_of_two() => Ok(a.into()),
        Value::U32(a) => Err(GgufError::Invalid {
            what: format!("metadata '{KEY_ALIGNMENT}' value"),
            offset,
            reason: format!("alignment {a} is not a nonzero power of two"),
        }),
        ref v => Err(GgufError::WrongType {
            key: KEY_ALIGNMENT.into(),
            offset,
            expected: "u32",
            found: v.type_name(),
        }),
    }
}

/// File offsets of one tensor info entry, kept for error messages after parsing.
struct InfoOffsets {
    info: u64,
    offset_field: u64,
}

/// Reads the tensor table. Offsets are left relative to the data section.
fn parse_tensor_infos(
    c: &mut Cursor<'_>,
    n_tensors: u64,
    h: &mut Header,
) -> Result<Vec<InfoOffsets>> {
    let n = n_tensors as usize; // <= MAX_TENSORS and room-checked
    h.tensors.reserve_exact(n);
    h.tensor_index.reserve(n);
    let mut offsets = Vec::with_capacity(n);
    for i in 0..n_tensors {
        let info_offset = c.offset();
        let name = c.string(MAX_NAME_LEN - 1, "MAX_NAME_LEN - 1", &|| {
            format!("tensor info #{i} name")
        })?;
        if let Some(&first) = h.tensor_index.get(&name) {
            return Err(GgufError::DuplicateTensor {
                name,
                index: i,
                offset: info_offset,
                first_index: first as u64,
            });
        }
        let tw = |field: &str| tensor_what(&name, i, info_offset, field);
        let offset_what = || tw("data offset");

        let n_dims_offset = c.offset();
        let n_dims = c.u32(&|| tw("n_dims"))?;
        check_limit(
            n_dims.into(),
            MAX_DIMS.into(),
            "MAX_DIMS",
            n_dims_offset,
            &|| tw("n_dims"),
        )?;
        let mut dims = Vec::with_capacity(n_dims as usize);
        for j in 0..n_dims {
            dims.push(c.u64(&|| tw(&format!("ne[{j}]")))?);
        }
        let type_offset = c.offset();
        let ggml_type = GgmlType(c.u32(&|| tw("ggml_type"))?);
        if !ggml_type.is_known() {
            return Err(GgufError::UnknownGgmlType {
                what: tw("ggml_type"),
                offset: type_offset,
                type_id: ggml_type.0,
            });
        }
        let offset_field = c.offset();
        let relative = c.u64(&offset_what)?;

        let (n_elements, n_bytes) =
            ggml_type
                .tensor_size(&dims)
                .map_err(|reason| GgufError::Invalid {
                    what: tw("dims"),
                    offset: n_dims_offset + 4,
                    reason,
                })?;
        if !relative.is_multiple_of(h.alignment) {
            return Err(GgufError::Invalid {
                what: offset_what(),
                offset: offset_field,
                reason: format!(
                    "{relative} is not a multiple of the alignment {}",
                    h.alignment
                ),
            });
        }
        h.tensor_index.insert(name.clone(), h.tensors.len());
        h.tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset: relative,
            n_elements,
            n_bytes,
        });
        offsets.push(InfoOffsets {
            info: info_offset,
            offset_field,
        });
    }
    Ok(offsets)
}

/// Fixes the data section after the header, makes tensor offsets absolute and
/// checks every tensor's bytes lie inside the file without overlapping.
fn place_tensors(
    header_end: u64,
    file_size: u64,
    at: &[InfoOffsets],
    h: &mut Header,
) -> Result<()> {
    let a = h.alignment;
    // header_end <= file_size <= usize::MAX and a <= 2^31: no overflow on 64-bit;
    // checked anyway for 32-bit hosts and clarity.
    h.data_offset = header_end
        .checked_add((a - header_end % a) % a)
        .ok_or_else(|| GgufError::Invalid {
            what: "tensor data section".into(),
            offset: header_end,
            reason: "aligned start overflows u64".into(),
        })?;
    for (i, (t, at)) in h.tensors.iter_mut().zip(at).enumerate() {
        let relative = t.offset;
        let range = h
            .data_offset
            .checked_add(relative)
            .and_then(|s| Some((s, s.checked_add(t.n_bytes)?)));
        match range {
            Some((start, end)) if end <= file_size => t.offset = start,
            _ => {
                return Err(GgufError::Invalid {
                    what: tensor_what(&t.name, i as u64, at.info, "data offset"),
                    offset: at.offset_field,
                    reason: format!(
                        "{} data bytes at {relative} past the data section start {} \
                         extend beyond the end of the file ({file_size} bytes)",
                        t.n_bytes, h.data_offset
                    ),
                })
            }
        }
    }

    // Sorted by start, a tensor overlaps an earlier one iff it starts before the
    // largest end seen so far. Empty tensors occupy no bytes and cannot overlap.
    let mut order: Vec<usize> = (0..h.tensors.len())
        .filter(|&i| h.tensors[i].n_bytes > 0)
        .collect();
    order.sort_by_key(|&i| (h.tensors[i].offset, i));
    let end = |t: &TensorInfo| t.offset + t.n_bytes;
    let mut furthest: Option<&TensorInfo> = None;
    for &i in &order {
        let t = &h.tensors[i];
        if let Some(p) = furthest {
            if t.offset < end(p) {
                return Err(GgufError::Invalid {
                    what: tensor_what(&t.name, i as u64, at[i].info, "data offset"),
                    offset: at[i].offset_field,
                    reason: format!(
                        "data [{}, {}) overlaps the data [{}, {}) of tensor '{}'",
                        t.offset,
                        end(t),
                        p.offset,
                        end(p),
                        p.name.escape_debug()
                    ),
                });
            }
        }
        match furthest {
            Some(p) if end(p) >= end(t) => {}
            _ => furthest = Some(t),
        }
    }
    Ok(())
}

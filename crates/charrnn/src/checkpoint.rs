//! Checkpoints in the safetensors format.
//!
//! ```text
//! u64 LE   header length N
//! N bytes  JSON header (keys sorted, space-padded to a multiple of 8):
//!            "__metadata__": { string → string }
//!            "<tensor>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }
//! data     little-endian f32 tensors, in the order listed below, offsets
//!          relative to the end of the header
//! ```
//! Tensors (Keras names and shapes; GRU gate columns ordered `[z | r | h]`):
//!
//! | name | shape |
//! |---|---|
//! | `embedding.embeddings` | (vocab, embed) |
//! | `gru.kernel` | (embed, 3·units) |
//! | `gru.recurrent_kernel` | (units, 3·units) |
//! | `gru.bias` | (2, 3·units): input bias row, recurrent bias row |
//! | `dense.kernel` | (units, vocab) |
//! | `dense.bias` | (vocab) |
//! | `adam.m.<name>`, `adam.v.<name>` | as `<name>` (training checkpoints only) |
//!
//! Metadata: `format` = `edgellm-charrnn`, `version` = `1`, `vocab_size`,
//! `embed`, `units`, `vocab` (the known characters in id order as one
//! string; id 0 is the unknown character), and for training checkpoints
//! `train_config` and `train_state` (JSON of [`TrainConfig`] and
//! [`TrainState`]). Any safetensors reader (Python `safetensors`, numpy)
//! can load the weights.
//!
//! Writing is atomic (a temporary file renamed over the target) and
//! deterministic: the same model and state give the same bytes.

use crate::data::{Vocab, MAX_VOCAB};
use crate::model::{Dims, Model};
use crate::train::{TrainConfig, TrainState};
use crate::Error;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "edgellm-charrnn";
pub const VERSION: &str = "1";
/// Largest header accepted (a real one is a few KB; the vocabulary dominates).
pub const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Optimizer state and progress stored with the weights.
#[derive(Clone, Debug)]
pub struct TrainPart {
    pub config: TrainConfig,
    pub state: TrainState,
    pub adam_m: Vec<f32>,
    pub adam_v: Vec<f32>,
}

/// Borrowed [`TrainPart`] for saving.
#[derive(Clone, Copy)]
pub struct TrainPartRef<'a> {
    pub config: &'a TrainConfig,
    pub state: &'a TrainState,
    pub adam_m: &'a [f32],
    pub adam_v: &'a [f32],
}

/// A loaded checkpoint.
pub struct Checkpoint {
    pub model: Model,
    /// Present in training checkpoints.
    pub train: Option<TrainPart>,
}

/// Writes `model` (and, for a resumable checkpoint, the training part).
pub fn save(path: &Path, model: &Model, train: Option<TrainPartRef<'_>>) -> Result<(), Error> {
    let bytes = to_bytes(model, train);
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    tracing::debug!(path = %path.display(), bytes = bytes.len(), "charrnn checkpoint saved");
    Ok(())
}

/// The file's bytes.
pub fn to_bytes(model: &Model, train: Option<TrainPartRef<'_>>) -> Vec<u8> {
    let dims = model.dims;
    let specs = dims.tensors();
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = specs
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                s.shape.clone(),
                &model.params[s.range.clone()],
            )
        })
        .collect();
    let mut meta = BTreeMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("version".to_string(), VERSION.to_string());
    meta.insert("vocab_size".to_string(), dims.vocab.to_string());
    meta.insert("embed".to_string(), dims.embed.to_string());
    meta.insert("units".to_string(), dims.units.to_string());
    meta.insert("vocab".to_string(), model.vocab.chars().iter().collect());
    if let Some(t) = train {
        assert_eq!(t.adam_m.len(), model.params.len());
        assert_eq!(t.adam_v.len(), model.params.len());
        for (kind, buf) in [("m", t.adam_m), ("v", t.adam_v)] {
            for s in &specs {
                tensors.push((
                    format!("adam.{kind}.{}", s.name),
                    s.shape.clone(),
                    &buf[s.range.clone()],
                ));
            }
        }
        meta.insert(
            "train_config".to_string(),
            serde_json::to_string(t.config).expect("config serialises"),
        );
        meta.insert(
            "train_state".to_string(),
            serde_json::to_string(t.state).expect("state serialises"),
        );
    }
    let mut header = Map::new();
    header.insert("__metadata__".to_string(), json!(meta));
    let mut off = 0usize;
    for (name, shape, data) in &tensors {
        let end = off + data.len() * 4;
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [off, end]}),
        );
        off = end;
    }
    let mut hbytes = serde_json::to_vec(&Value::Object(header)).expect("header serialises");
    while !hbytes.len().is_multiple_of(8) {
        hbytes.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + hbytes.len() + off);
    out.extend_from_slice(&(hbytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&hbytes);
    for (_, _, data) in &tensors {
        for x in data.iter() {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out
}

/// Reads a checkpoint, validating every size, shape and offset.
pub fn load(path: &Path) -> Result<Checkpoint, Error> {
    let bytes = std::fs::read(path).map_err(|err| Error::Io {
        path: path.to_path_buf(),
        err,
    })?;
    from_bytes(&bytes).map_err(|msg| Error::Format {
        path: path.to_path_buf(),
        msg,
    })
}

/// Parses checkpoint bytes; the error says what is wrong.
pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, String> {
    if bytes.len() < 8 {
        return Err("shorter than the 8-byte header length".into());
    }
    let n_header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n_header > MAX_HEADER_BYTES || n_header > (bytes.len() - 8) as u64 {
        return Err(format!(
            "header length {n_header} exceeds the file or the limit of {MAX_HEADER_BYTES}"
        ));
    }
    let data = &bytes[8 + n_header as usize..];
    let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n_header as usize])
        .map_err(|e| format!("header is not a JSON object: {e}"))?;
    let meta = header
        .get("__metadata__")
        .and_then(Value::as_object)
        .ok_or("no __metadata__")?;
    let get = |k: &str| -> Result<&str, String> {
        meta.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("metadata `{k}` missing"))
    };
    if get("format")? != FORMAT {
        return Err(format!("format is not `{FORMAT}`"));
    }
    if get("version")? != VERSION {
        return Err(format!(
            "version {} (this build reads {VERSION})",
            get("version")?
        ));
    }
    let num = |k: &str| -> Result<usize, String> {
        get(k)?
            .parse::<usize>()
            .map_err(|_| format!("metadata `{k}` is not a number"))
    };
    let chars: Vec<char> = get("vocab")?.chars().collect();
    if chars.len() + 1 > MAX_VOCAB {
        return Err("vocabulary too large".into());
    }
    let vocab = Vocab::from_chars(chars).map_err(|e| e.to_string())?;
    if num("vocab_size")? != vocab.len() {
        return Err("vocab_size does not match the vocab string".into());
    }
    let dims = Dims {
        vocab: vocab.len(),
        embed: num("embed")?,
        units: num("units")?,
    }
    .validated()
    .map_err(|e| e.to_string())?;
    let specs = dims.tensors();
    let read = |name: &str, shape: &[usize], dst: &mut [f32]| -> Result<(), String> {
        let t = header
            .get(name)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("tensor `{name}` missing"))?;
        if t.get("dtype").and_then(Value::as_str) != Some("F32") {
            return Err(format!("tensor `{name}` is not F32"));
        }
        let got: Option<Vec<u64>> = t
            .get("shape")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect());
        let want: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        if got.as_ref() != Some(&want) {
            return Err(format!(
                "tensor `{name}` has shape {got:?}, expected {want:?}"
            ));
        }
        let offs: Vec<u64> = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let [begin, end] = offs[..] else {
            return Err(format!("tensor `{name}` has bad data_offsets"));
        };
        if begin > end || end > data.len() as u64 || end - begin != dst.len() as u64 * 4 {
            return Err(format!("tensor `{name}` data_offsets out of range"));
        }
        let src = &data[begin as usize..end as usize];
        for (d, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
            *d = f32::from_le_bytes(b.try_into().expect("4 bytes"));
        }
        Ok(())
    };
    let n = dims.n_params();
    let mut params = vec![0f32; n];
    for s in &specs {
        read(s.name, &s.shape, &mut params[s.range.clone()])?;
    }
    let model = Model {
        vocab,
        dims,
        params,
    };
    let train = if meta.contains_key("train_state") {
        let config: TrainConfig =
            serde_json::from_str(get("train_config")?).map_err(|e| format!("train_config: {e}"))?;
        let state: TrainState =
            serde_json::from_str(get("train_state")?).map_err(|e| format!("train_state: {e}"))?;
        if config.embed != dims.embed || config.units != dims.units {
            return Err("train_config disagrees with the tensor shapes".into());
        }
        let mut adam_m = vec![0f32; n];
        let mut adam_v = vec![0f32; n];
        for s in &specs {
            read(
                &format!("adam.m.{}", s.name),
                &s.shape,
                &mut adam_m[s.range.clone()],
            )?;
            read(
                &format!("adam.v.{}", s.name),
                &s.shape,
                &mut adam_v[s.range.clone()],
            )?;
        }
        Some(TrainPart {
            config,
            state,
            adam_m,
            adam_v,
        })
    } else {
        None
    };
    Ok(Checkpoint { model, train })
}

//! What `list` and `show` say about a model, read from its GGUF metadata the way Ollama
//! reports it: details (format, family, parameter size, quantization level), `model_info`
//! (the metadata as JSON), and capabilities.

use std::path::Path;

use edgellm_gguf::{Array, GgufFile, Value};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::error::{Result, StoreError};
use crate::manifest::ConfigFile;

/// Arrays longer than this are left out of `model_info` unless verbose (token lists, merges).
const MODEL_INFO_ARRAY_LEN_MAX: usize = 64;

/// Ollama's `details` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelDetails {
    pub parent_model: String,
    pub format: String,
    pub family: String,
    pub families: Option<Vec<String>>,
    pub parameter_size: String,
    pub quantization_level: String,
}

impl ModelDetails {
    pub(crate) fn from_config(config: &ConfigFile) -> ModelDetails {
        ModelDetails {
            parent_model: String::new(),
            format: config.model_format.clone(),
            family: config.model_family.clone(),
            families: config.model_families.clone(),
            parameter_size: config.model_type.clone(),
            quantization_level: config.file_type.clone(),
        }
    }

    pub(crate) fn to_config(&self, diff_ids: Vec<String>) -> ConfigFile {
        ConfigFile {
            model_format: self.format.clone(),
            model_family: self.family.clone(),
            model_families: self.families.clone(),
            model_type: self.parameter_size.clone(),
            file_type: self.quantization_level.clone(),
            architecture: std::env::consts::ARCH.replace("x86_64", "amd64"),
            os: std::env::consts::OS.to_string(),
            rootfs: crate::manifest::RootFs {
                kind: "layers".into(),
                diff_ids,
            },
        }
    }
}

/// Everything `show` needs from the GGUF, read once.
pub(crate) struct GgufInfo {
    pub details: ModelDetails,
    pub model_info: Map<String, Json>,
    pub chat_template: Option<String>,
    pub embedding_only: bool,
    pub vision: bool,
}

pub(crate) fn open(path: &Path) -> Result<GgufFile> {
    GgufFile::open(path).map_err(|err| StoreError::Gguf {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })
}

/// Details only (for writing a config blob).
pub(crate) fn details(path: &Path) -> Result<ModelDetails> {
    Ok(details_of(&open(path)?))
}

fn details_of(file: &GgufFile) -> ModelDetails {
    let arch = file
        .get_str("general.architecture")
        .unwrap_or("")
        .to_string();
    ModelDetails {
        parent_model: String::new(),
        format: "gguf".into(),
        family: arch.clone(),
        families: (!arch.is_empty()).then(|| vec![arch]),
        parameter_size: human_number(parameter_count(file)),
        quantization_level: quantization(file),
    }
}

pub(crate) fn read(path: &Path, verbose: bool) -> Result<GgufInfo> {
    let file = open(path)?;
    let arch = file
        .get_str("general.architecture")
        .unwrap_or("")
        .to_string();
    let mut model_info = Map::new();
    for (key, value) in file.metadata() {
        model_info.insert(key.clone(), to_json(value, verbose));
    }
    model_info.insert(
        "general.parameter_count".into(),
        Json::from(parameter_count(&file)),
    );
    let has = |suffix: &str| file.get(&format!("{arch}.{suffix}")).is_some();
    Ok(GgufInfo {
        details: details_of(&file),
        model_info,
        chat_template: file.get_str("tokenizer.chat_template").map(str::to_string),
        embedding_only: has("pooling_type") || matches!(arch.as_str(), "bert" | "nomic-bert"),
        vision: has("vision.block_count") || file.get("clip.has_vision_encoder").is_some(),
    })
}

fn parameter_count(file: &GgufFile) -> u64 {
    file.tensors().iter().map(|t| t.n_elements).sum()
}

fn to_json(value: &Value, verbose: bool) -> Json {
    match value {
        Value::U8(v) => Json::from(*v),
        Value::I8(v) => Json::from(*v),
        Value::U16(v) => Json::from(*v),
        Value::I16(v) => Json::from(*v),
        Value::U32(v) => Json::from(*v),
        Value::I32(v) => Json::from(*v),
        Value::U64(v) => Json::from(*v),
        Value::I64(v) => Json::from(*v),
        Value::F32(v) => float(f64::from(*v)),
        Value::F64(v) => float(*v),
        Value::Bool(v) => Json::from(*v),
        Value::String(s) => Json::from(s.clone()),
        Value::Array(a) if !verbose && a.len() > MODEL_INFO_ARRAY_LEN_MAX => Json::Null,
        Value::Array(a) => array_json(a),
    }
}

fn float(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
}

fn array_json(a: &Array) -> Json {
    fn map<T: Copy>(v: &[T], f: impl Fn(T) -> Json) -> Json {
        Json::Array(v.iter().map(|x| f(*x)).collect())
    }
    match a {
        Array::U8(v) => map(v, Json::from),
        Array::I8(v) => map(v, Json::from),
        Array::U16(v) => map(v, Json::from),
        Array::I16(v) => map(v, Json::from),
        Array::U32(v) => map(v, Json::from),
        Array::I32(v) => map(v, Json::from),
        Array::U64(v) => map(v, Json::from),
        Array::I64(v) => map(v, Json::from),
        Array::F32(v) => map(v, |x| float(f64::from(x))),
        Array::F64(v) => map(v, float),
        Array::Bool(v) => map(v, Json::from),
        Array::String(v) => Json::Array(v.iter().map(|s| Json::from(s.clone())).collect()),
        Array::Array(v) => Json::Array(v.iter().map(array_json).collect()),
    }
}

/// The quantization label: `general.file_type` (llama.cpp's `llama_ftype`) when present, else
/// the type holding most of the weight bytes.
fn quantization(file: &GgufFile) -> String {
    if let Some(name) = file
        .get("general.file_type")
        .and_then(Value::as_u32)
        .and_then(file_type_name)
    {
        return name.to_string();
    }
    let mut bytes_by_type: Vec<(u32, u64)> = Vec::new();
    for t in file.tensors() {
        let n = t.n_bytes;
        match bytes_by_type
            .iter_mut()
            .find(|(ty, _)| *ty == t.ggml_type.0)
        {
            Some((_, total)) => *total += n,
            None => bytes_by_type.push((t.ggml_type.0, n)),
        }
    }
    bytes_by_type
        .iter()
        .max_by_key(|(_, n)| *n)
        .and_then(|(ty, _)| edgellm_gguf::GgmlType(*ty).name())
        .unwrap_or("unknown")
        .to_string()
}

/// llama.cpp's `llama_ftype` names.
fn file_type_name(ftype: u32) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        _ => return None,
    })
}

/// Ollama's parameter-size style: `134.52M`, `1.5B`, `950.00K`.
pub fn human_number(n: u64) -> String {
    let n_f = n as f64;
    if n >= 1_000_000_000 {
        format!("{:.1}B", n_f / 1e9)
    } else if n >= 1_000_000 {
        format!("{:.2}M", n_f / 1e6)
    } else if n >= 1_000 {
        format!("{:.2}K", n_f / 1e3)
    } else {
        n.to_string()
    }
}

/// The capabilities `show` reports: `completion` (or `embedding` for embedding-only models),
/// `tools` when the template mentions tools, `vision` with a projector or vision tower.
pub(crate) fn capabilities(
    info: &GgufInfo,
    template: Option<&str>,
    has_projector: bool,
) -> Vec<String> {
    let mut caps = Vec::new();
    if info.embedding_only {
        caps.push("embedding".to_string());
    } else {
        caps.push("completion".to_string());
        if template.is_some_and(|t| t.contains("tools")) {
            caps.push("tools".to_string());
        }
    }
    if info.vision || has_projector {
        caps.push("vision".to_string());
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers_match_ollama() {
        assert_eq!(human_number(134_515_008), "134.52M");
        assert_eq!(human_number(1_543_714_304), "1.5B");
        assert_eq!(human_number(494_032_768), "494.03M");
        assert_eq!(human_number(950), "950");
    }
}

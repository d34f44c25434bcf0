//! Hyper-parameters read from GGUF metadata and validated once at load.

use crate::ModelError;
use edgellm_gguf::GgufFile;

/// Largest head dimension we accept (Gemma uses 256; nothing sane is bigger).
pub const MAX_HEAD_DIM: usize = 1024;
/// Largest embedding width we accept (a 400B model is 16k wide).
pub const MAX_EMBD: usize = 1 << 16;
/// Most layers we accept.
pub const MAX_LAYERS: usize = 1024;

/// The shape and numerics of a decoder-only transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct HParams {
    pub arch: String,
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Dimension of one attention head (key and value).
    pub head_dim: usize,
    /// Dimensions rotated by RoPE (≤ head_dim).
    pub n_rot: usize,
    pub n_ctx_train: usize,
    pub rms_eps: f32,
    pub rope_freq_base: f32,
    pub rope_freq_scale: f32,
}

impl HParams {
    /// Reads `<arch>.*` keys. `n_vocab` comes from the token embedding table.
    pub fn from_gguf(f: &GgufFile, arch: &str, n_vocab: usize) -> Result<HParams, ModelError> {
        let key = |k: &str| format!("{arch}.{k}");
        let req_u = |k: &str| -> Result<usize, ModelError> {
            f.get_u64(&key(k))
                .map(|v| v as usize)
                .ok_or_else(|| ModelError::MissingKey(key(k)))
        };
        let n_embd = req_u("embedding_length")?;
        let n_head = req_u("attention.head_count")?;
        let n_head_kv = f
            .get_u64(&key("attention.head_count_kv"))
            .map(|v| v as usize)
            .unwrap_or(n_head);
        let head_dim = f
            .get_u64(&key("attention.key_length"))
            .map(|v| v as usize)
            .unwrap_or(n_embd.checked_div(n_head).unwrap_or(0));
        let value_dim = f
            .get_u64(&key("attention.value_length"))
            .map(|v| v as usize)
            .unwrap_or(head_dim);
        let hp = HParams {
            arch: arch.to_string(),
            n_vocab,
            n_embd,
            n_layer: req_u("block_count")?,
            n_ff: req_u("feed_forward_length")?,
            n_head,
            n_head_kv,
            head_dim,
            n_rot: f
                .get_u64(&key("rope.dimension_count"))
                .map(|v| v as usize)
                .unwrap_or(head_dim),
            n_ctx_train: req_u("context_length")?,
            rms_eps: f
                .get_f32(&key("attention.layer_norm_rms_epsilon"))
                .ok_or_else(|| ModelError::MissingKey(key("attention.layer_norm_rms_epsilon")))?,
            rope_freq_base: f.get_f32(&key("rope.freq_base")).unwrap_or(10000.0),
            rope_freq_scale: match f.get_str(&key("rope.scaling.type")) {
                Some("linear") | None => f
                    .get_f32(&key("rope.scaling.factor"))
                    .filter(|&s| s > 0.0)
                    .map(|s| 1.0 / s)
                    .unwrap_or(1.0),
                Some("none") => 1.0,
                Some(other) => {
                    return Err(ModelError::Unsupported(format!(
                        "{arch}.rope.scaling.type = '{other}' (only linear or none)"
                    )))
                }
            },
        };
        if value_dim != head_dim {
            return Err(ModelError::BadHParam(format!(
                "{arch}.attention.value_length {value_dim} differs from key_length {head_dim}"
            )));
        }
        hp.validate()?;
        Ok(hp)
    }

    /// Checks the relations the forward pass relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::BadHParam(m));
        if self.n_embd == 0 || self.n_embd > MAX_EMBD {
            return bad(format!(
                "embedding_length {} out of range 1..={MAX_EMBD}",
                self.n_embd
            ));
        }
        if self.n_layer == 0 || self.n_layer > MAX_LAYERS {
            return bad(format!(
                "block_count {} out of range 1..={MAX_LAYERS}",
                self.n_layer
            ));
        }
        if self.n_head == 0 || self.n_head_kv == 0 || !self.n_head.is_multiple_of(self.n_head_kv) {
            return bad(format!(
                "head_count {} is not a positive multiple of head_count_kv {}",
                self.n_head, self.n_head_kv
            ));
        }
        if self.head_dim == 0 || self.head_dim > MAX_HEAD_DIM || !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "head dimension {} must be even and in 2..={MAX_HEAD_DIM}",
                self.head_dim
            ));
        }
        if self.n_rot > self.head_dim || !self.n_rot.is_multiple_of(2) {
            return bad(format!(
                "rope.dimension_count {} must be even and ≤ head dimension {}",
                self.n_rot, self.head_dim
            ));
        }
        if self.n_ff == 0 || self.n_ff > MAX_EMBD * 16 {
            return bad(format!("feed_forward_length {} out of range", self.n_ff));
        }
        if self.n_ctx_train == 0 {
            return bad("context_length is 0".into());
        }
        if !(self.rms_eps > 0.0 && self.rms_eps < 1.0) {
            return bad(format!(
                "layer_norm_rms_epsilon {} out of range (0, 1)",
                self.rms_eps
            ));
        }
        if !(self.rope_freq_base > 0.0 && self.rope_freq_base.is_finite()) {
            return bad(format!(
                "rope.freq_base {} must be positive",
                self.rope_freq_base
            ));
        }
        Ok(())
    }

    /// Query heads per KV head.
    pub fn n_group(&self) -> usize {
        self.n_head / self.n_head_kv
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Width of all KV heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }
}

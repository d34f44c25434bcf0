//! One file per architecture; each only wires the shared blocks.

pub mod gemma3;
pub mod llama;
pub mod qwen2;

use crate::decoder::{LayerSpec, LayerWeights};
use crate::hparams::HParams;
use crate::weights::{Binder, Weight};
use crate::ModelError;

/// The weights every decoder has, bound and shape-checked.
pub struct Parts {
    pub tok_embd: Weight,
    pub output_norm: Vec<f32>,
    pub output: Weight,
    pub layers: Vec<LayerWeights>,
}

/// Global attention with the file's RoPE frequencies in every layer.
pub fn uniform_layers(hp: &HParams) -> Vec<LayerSpec> {
    vec![
        LayerSpec {
            window: None,
            rope_base: hp.rope_freq_base,
            rope_scale: hp.rope_freq_scale,
        };
        hp.n_layer
    ]
}

/// Binds the llama-style tensor set: embeddings, output (tied to the
/// embeddings when `output.weight` is absent), and per layer the attention
/// and gated FFN weights; q/k/v biases when `biases`.
pub fn bind_common(b: &Binder<'_>, hp: &HParams, biases: bool) -> Result<Parts, ModelError> {
    let (d, nv) = (hp.n_embd, hp.n_vocab);
    let tok_embd = b.matrix("token_embd.weight", d, nv)?;
    let output = if b.has("output.weight") {
        b.matrix("output.weight", d, nv)?
    } else {
        tok_embd.clone()
    };
    let mut layers = Vec::with_capacity(hp.n_layer);
    for il in 0..hp.n_layer {
        let w = |s: &str| format!("blk.{il}.{s}.weight");
        let bias = |s: &str, n: usize| -> Result<Option<Vec<f32>>, ModelError> {
            if biases {
                b.opt_vector(&format!("blk.{il}.{s}.bias"), n)
            } else {
                Ok(None)
            }
        };
        layers.push(LayerWeights {
            attn_norm: b.vector(&w("attn_norm"), d)?,
            wq: b.matrix(&w("attn_q"), d, hp.q_dim())?,
            wk: b.matrix(&w("attn_k"), d, hp.kv_dim())?,
            wv: b.matrix(&w("attn_v"), d, hp.kv_dim())?,
            wo: b.matrix(&w("attn_output"), hp.q_dim(), d)?,
            bq: bias("attn_q", hp.q_dim())?,
            bk: bias("attn_k", hp.kv_dim())?,
            bv: bias("attn_v", hp.kv_dim())?,
            q_norm: None,
            k_norm: None,
            attn_post_norm: None,
            ffn_norm: b.vector(&w("ffn_norm"), d)?,
            gate: b.matrix(&w("ffn_gate"), d, hp.n_ff)?,
            up: b.matrix(&w("ffn_up"), d, hp.n_ff)?,
            down: b.matrix(&w("ffn_down"), hp.n_ff, d)?,
            ffn_post_norm: None,
        });
    }
    Ok(Parts {
        tok_embd,
        output_norm: b.vector("output_norm.weight", d)?,
        output,
        layers,
    })
}

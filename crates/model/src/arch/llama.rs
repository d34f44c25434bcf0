//! llama (SmolLM2, Llama 2/3, TinyLlama, ...): RMSNorm, SwiGLU, RoPE on
//! adjacent pairs (GGUF converters permute q/k for it), optional tied output.

use super::{bind_common, uniform_layers, Parts};
use crate::decoder::{Activation, ArchSpec};
use crate::hparams::HParams;
use crate::weights::Binder;
use crate::ModelError;
use edgellm_kernels::ops::RopeStyle;

pub fn build(b: &Binder<'_>, hp: &HParams) -> Result<(ArchSpec, Parts), ModelError> {
    let spec = ArchSpec {
        rope_style: RopeStyle::Normal,
        embed_scale: None,
        activation: Activation::Silu,
        attn_scale: 1.0 / (hp.head_dim as f32).sqrt(),
        scale_q: false,
        layers: uniform_layers(hp),
    };
    Ok((spec, bind_common(b, hp, false)?))
}

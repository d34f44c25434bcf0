//! qwen2 (Qwen2, Qwen2.5, Qwen2.5-Coder): llama blocks plus q/k/v biases and
//! NeoX-style RoPE.

use super::{bind_common, uniform_layers, Parts};
use crate::decoder::{Activation, ArchSpec};
use crate::hparams::HParams;
use crate::weights::Binder;
use crate::ModelError;
use edgellm_kernels::ops::RopeStyle;

pub fn build(b: &Binder<'_>, hp: &HParams) -> Result<(ArchSpec, Parts), ModelError> {
    let spec = ArchSpec {
        rope_style: RopeStyle::Neox,
        embed_scale: None,
        activation: Activation::Silu,
        attn_scale: 1.0 / (hp.head_dim as f32).sqrt(),
        scale_q: false,
        layers: uniform_layers(hp),
    };
    let parts = bind_common(b, hp, true)?;
    if parts
        .layers
        .iter()
        .any(|l| l.bq.is_none() || l.bk.is_none() || l.bv.is_none())
    {
        return Err(ModelError::MissingTensor(
            "blk.N.attn_{q,k,v}.bias (qwen2 needs q/k/v biases)".into(),
        ));
    }
    Ok((spec, parts))
}

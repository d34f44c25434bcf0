//! gemma3: embeddings scaled by √n_embd, per-head QK-norm, post-attention and
//! post-FFN norms, GeGLU, NeoX RoPE, and a 5:1 pattern of sliding-window
//! layers (own RoPE base 10k) and global layers (the file's RoPE base).

use super::{bind_common, Parts};
use crate::decoder::{Activation, ArchSpec, LayerSpec};
use crate::hparams::HParams;
use crate::weights::Binder;
use crate::ModelError;
use edgellm_kernels::ops::RopeStyle;

/// Every sixth layer attends globally; the others use the sliding window.
const SWA_PATTERN: usize = 6;
/// RoPE base of the sliding-window layers (fixed by the architecture).
const SWA_ROPE_BASE: f32 = 10_000.0;

pub fn build(b: &Binder<'_>, hp: &HParams) -> Result<(ArchSpec, Parts), ModelError> {
    let window = b
        .file
        .get_u64("gemma3.attention.sliding_window")
        .map(|w| w as usize)
        .filter(|&w| w > 0);
    let layers = (0..hp.n_layer)
        .map(|il| match window {
            Some(w) if il % SWA_PATTERN < SWA_PATTERN - 1 => LayerSpec {
                window: Some(w),
                rope_base: SWA_ROPE_BASE,
                rope_scale: 1.0,
            },
            _ => LayerSpec {
                window: None,
                rope_base: hp.rope_freq_base,
                rope_scale: hp.rope_freq_scale,
            },
        })
        .collect();
    // The 27B model scales by the model width per head; the others by head_dim.
    let attn_scale = if hp.n_layer == 62 {
        1.0 / ((hp.n_embd / hp.n_head) as f32).sqrt()
    } else {
        1.0 / (hp.head_dim as f32).sqrt()
    };
    let spec = ArchSpec {
        rope_style: RopeStyle::Neox,
        embed_scale: Some((hp.n_embd as f32).sqrt()),
        activation: Activation::Gelu,
        attn_scale,
        scale_q: true,
        layers,
    };
    let mut parts = bind_common(b, hp, false)?;
    for (il, l) in parts.layers.iter_mut().enumerate() {
        let name = |s: &str| format!("blk.{il}.{s}.weight");
        l.q_norm = Some(b.vector(&name("attn_q_norm"), hp.head_dim)?);
        l.k_norm = Some(b.vector(&name("attn_k_norm"), hp.head_dim)?);
        l.attn_post_norm = Some(b.vector(&name("post_attention_norm"), hp.n_embd)?);
        l.ffn_post_norm = Some(b.vector(&name("post_ffw_norm"), hp.n_embd)?);
    }
    Ok((spec, parts))
}

//! Every activation buffer of a forward pass, allocated once per session.

use crate::decoder::{BatchToken, Model, XqBuffers};

/// Scratch memory for [`Model::forward`]. Sized for `max_batch` tokens per
/// pass and a context of `n_ctx`, so the decode step allocates nothing.
pub struct RunState {
    pub max_batch: usize,
    pub n_ctx: usize,
    /// Rows of logits this state can return at once.
    pub logit_rows: usize,
    /// (max_batch, n_embd) residual stream
    pub x: Vec<f32>,
    /// (max_batch, n_embd) normed input of a block
    pub xb: Vec<f32>,
    /// (max_batch, n_head · head_dim)
    pub q: Vec<f32>,
    /// (max_batch, n_head_kv · head_dim)
    pub k: Vec<f32>,
    /// (max_batch, n_head_kv · head_dim)
    pub v: Vec<f32>,
    /// (max_batch, n_head · head_dim) attention output
    pub att: Vec<f32>,
    /// (max_batch, n_embd) block output before the residual add
    pub o: Vec<f32>,
    /// (max_batch, n_ff)
    pub gate: Vec<f32>,
    /// (max_batch, n_ff)
    pub up: Vec<f32>,
    /// (n_threads, n_ctx) attention scores, one row per pool thread
    pub scores: Vec<f32>,
    /// (n_rot / 2) RoPE angles of the current position
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    /// (logit_rows, n_vocab)
    pub logits: Vec<f32>,
    /// quantized activations, one buffer per vec_dot_type
    pub xq: XqBuffers,
    /// (max_batch) the batch being run by [`Model::forward`]
    pub items: Vec<BatchToken>,
}

impl RunState {
    /// Buffers for `model` with batches of up to `max_batch` tokens, a context
    /// of `n_ctx`, `n_threads` pool threads and `logit_rows` rows of logits.
    pub fn new(
        model: &Model,
        max_batch: usize,
        n_ctx: usize,
        n_threads: usize,
        logit_rows: usize,
    ) -> RunState {
        let hp = &model.hp;
        let b = max_batch.max(1);
        let uses = model.matrices().map(|w| (w.ty, w.n_cols));
        RunState {
            max_batch: b,
            n_ctx,
            logit_rows: logit_rows.max(1),
            x: vec![0.0; b * hp.n_embd],
            xb: vec![0.0; b * hp.n_embd],
            q: vec![0.0; b * hp.q_dim()],
            k: vec![0.0; b * hp.kv_dim()],
            v: vec![0.0; b * hp.kv_dim()],
            att: vec![0.0; b * hp.q_dim()],
            o: vec![0.0; b * hp.n_embd],
            gate: vec![0.0; b * hp.n_ff],
            up: vec![0.0; b * hp.n_ff],
            scores: vec![0.0; n_threads.max(1) * n_ctx],
            cos: vec![0.0; hp.n_rot / 2],
            sin: vec![0.0; hp.n_rot / 2],
            logits: vec![0.0; logit_rows.max(1) * hp.n_vocab],
            xq: XqBuffers::new(uses, b),
            items: Vec::with_capacity(b),
        }
    }
}

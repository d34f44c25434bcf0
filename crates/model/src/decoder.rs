//! The shared decoder-only transformer: one forward pass that every
//! architecture file configures (norms, RoPE style, activation, biases,
//! QK-norm, post-norms, sliding windows) instead of re-implementing.
//!
//! `forward` reads top to bottom like the papers:
//! embed → [norm → qkv → rope → attention → out → residual → norm → ffn →
//! residual] × layers → norm → logits.

use crate::hparams::{HParams, MAX_HEAD_DIM};
use crate::state::RunState;
use crate::weights::Weight;
use crate::ModelError;
use edgellm_gguf::GgufFile;
use edgellm_kernels::matmul::{matmul_many_where, MatJob, QMatrix};
use edgellm_kernels::ops::{self, RopeStyle};
use edgellm_kernels::pool::{split_range, SyncPtr, ThreadPool};
use edgellm_kernels::quant::{dequantize_row, quantize_row, QuantType};
use edgellm_kv::KvCache;
use half::f16;
use std::sync::Arc;

/// Gated feed-forward activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// SwiGLU: silu(gate) · up.
    Silu,
    /// GeGLU: gelu(gate) · up (tanh approximation).
    Gelu,
}

/// What differs between layers: attention span and RoPE frequencies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    /// Sliding-window size in tokens, or `None` for global attention.
    pub window: Option<usize>,
    pub rope_base: f32,
    pub rope_scale: f32,
}

/// How an architecture wires the shared blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSpec {
    pub rope_style: RopeStyle,
    /// Multiplier applied to token embeddings (Gemma: √n_embd).
    pub embed_scale: Option<f32>,
    pub activation: Activation,
    /// Multiplier on q·k (usually 1/√head_dim).
    pub attn_scale: f32,
    /// Apply `attn_scale` to q before the q·k products instead of to their
    /// results (Gemma, as llama.cpp's graph does; q is rounded to f16 after
    /// scaling, so the two orders round differently).
    pub scale_q: bool,
    pub layers: Vec<LayerSpec>,
}

/// One transformer block's weights. Optional parts are `None` where the
/// architecture has none.
pub struct LayerWeights {
    pub attn_norm: Vec<f32>,
    pub wq: Weight,
    pub wk: Weight,
    pub wv: Weight,
    pub wo: Weight,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    /// Per-head RMSNorm of q and k (Gemma3), `head_dim` weights each.
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    /// RMSNorm of the attention output before the residual (Gemma).
    pub attn_post_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: Weight,
    pub up: Weight,
    pub down: Weight,
    /// RMSNorm of the FFN output before the residual (Gemma).
    pub ffn_post_norm: Option<Vec<f32>>,
}

/// A loaded model: hyper-parameters, wiring and weights in the memory map.
pub struct Model {
    pub file: Arc<GgufFile>,
    pub hp: HParams,
    pub spec: ArchSpec,
    pub tok_embd: Weight,
    pub output_norm: Vec<f32>,
    /// The LM head (may be the token embedding, tied).
    pub output: Weight,
    pub layers: Vec<LayerWeights>,
}

/// One token of a batch that may mix sequences ([`Model::forward_multi`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchToken {
    pub token: u32,
    /// Index of the sequence's cache in the `kvs` slice.
    pub seq: usize,
    /// Position in its sequence.
    pub pos: usize,
    /// Whether this token's next-token logits are wanted.
    pub logits: bool,
    /// Part of a prompt being read (attention sums in ggml's batched order)
    /// rather than a generated token being decoded (its single-token order).
    /// Deciding per token, not per batch, keeps a sequence's numbers the same
    /// however it is chunked or batched with others.
    pub prefill: bool,
}

/// Which positions of a batch need logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last token (generation).
    Last,
    /// Every token of the batch (perplexity, scoring); the state must have
    /// been created with room for them.
    All,
}

impl Model {
    /// All weight matrices, for sizing buffers and reporting.
    pub fn matrices(&self) -> impl Iterator<Item = &Weight> {
        self.layers
            .iter()
            .flat_map(|l| [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down])
            .chain([&self.output])
    }

    fn view<'a>(&'a self, w: &Weight) -> QMatrix<'a> {
        w.view(&self.file)
    }

    /// Runs `tokens` at positions `kv.len()..` through the model, appending
    /// their keys and values to `kv`, and returns the logits requested:
    /// `n_vocab` values for [`Logits::Last`], `tokens.len() × n_vocab` for
    /// [`Logits::All`]. Long inputs are processed in batches of the state's
    /// `max_batch`.
    pub fn forward<'s>(
        &self,
        pool: &ThreadPool,
        st: &'s mut RunState,
        kv: &mut KvCache,
        tokens: &[u32],
        logits: Logits,
    ) -> Result<&'s [f32], ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        self.check_tokens(tokens.iter().copied())?;
        let need = kv.len() + tokens.len();
        if need > kv.capacity() {
            return Err(ModelError::ContextFull {
                needed: need,
                capacity: kv.capacity(),
            });
        }
        if logits == Logits::All && tokens.len() > st.logit_rows {
            return Err(ModelError::Unsupported(format!(
                "logits for {} tokens requested, state holds {}",
                tokens.len(),
                st.logit_rows
            )));
        }
        let n_vocab = self.hp.n_vocab;
        let mb = st.max_batch;
        let mut items = std::mem::take(&mut st.items);
        let mut done = 0;
        let mut result = Ok(());
        while done < tokens.len() {
            let n = (tokens.len() - done).min(mb);
            let is_last_batch = done + n == tokens.len();
            let pos0 = kv.len();
            items.clear();
            items.extend(
                tokens[done..done + n]
                    .iter()
                    .enumerate()
                    .map(|(i, &token)| BatchToken {
                        token,
                        seq: 0,
                        pos: pos0 + i,
                        logits: logits == Logits::All || (is_last_batch && i == n - 1),
                        prefill: tokens.len() > 1,
                    }),
            );
            let dst0 = if logits == Logits::All { done } else { 0 };
            result = self.forward_items(pool, st, std::slice::from_mut(kv), &items, dst0);
            if result.is_err() {
                break;
            }
            done += n;
        }
        st.items = items;
        result?;
        let rows = match logits {
            Logits::Last => 1,
            Logits::All => tokens.len(),
        };
        Ok(&st.logits[..rows * n_vocab])
    }

    /// Runs one batch that mixes several sequences (continuous batching):
    /// `items[i]` is a token of sequence `items[i].seq`, whose cache is
    /// `kvs[seq]`; each sequence's tokens must follow its cache in order
    /// (positions `kv.len()`, `kv.len() + 1`, …). Every weight matrix is read
    /// once for the whole batch. Returns one row of `n_vocab` logits per item
    /// with `logits: true`, in item order.
    pub fn forward_multi<'s>(
        &self,
        pool: &ThreadPool,
        st: &'s mut RunState,
        kvs: &mut [KvCache],
        items: &[BatchToken],
    ) -> Result<&'s [f32], ModelError> {
        if items.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        if items.len() > st.max_batch {
            return Err(ModelError::Unsupported(format!(
                "a batch of {} tokens, the state holds {}",
                items.len(),
                st.max_batch
            )));
        }
        self.check_tokens(items.iter().map(|it| it.token))?;
        let n_out = items.iter().filter(|it| it.logits).count();
        if n_out > st.logit_rows {
            return Err(ModelError::Unsupported(format!(
                "logits for {n_out} tokens requested, state holds {}",
                st.logit_rows
            )));
        }
        for (i, it) in items.iter().enumerate() {
            let Some(kv) = kvs.get(it.seq) else {
                return Err(ModelError::Unsupported(format!(
                    "batch token {i} names sequence {} of {}",
                    it.seq,
                    kvs.len()
                )));
            };
            let earlier = items[..i].iter().filter(|o| o.seq == it.seq).count();
            if it.pos != kv.len() + earlier {
                return Err(ModelError::Unsupported(format!(
                    "batch token {i} of sequence {} is at position {}, expected {}",
                    it.seq,
                    it.pos,
                    kv.len() + earlier
                )));
            }
            if it.pos >= kv.capacity() {
                return Err(ModelError::ContextFull {
                    needed: it.pos + 1,
                    capacity: kv.capacity(),
                });
            }
        }
        self.forward_items(pool, st, kvs, items, 0)?;
        Ok(&st.logits[..n_out * self.hp.n_vocab])
    }

    fn check_tokens(&self, mut tokens: impl Iterator<Item = u32>) -> Result<(), ModelError> {
        let n_vocab = self.hp.n_vocab;
        match tokens.find(|&t| t as usize >= n_vocab) {
            Some(bad) => Err(ModelError::TokenOutOfRange {
                token: bad,
                n_vocab,
            }),
            None => Ok(()),
        }
    }

    /// One validated batch of at most `max_batch` tokens. Logits of the
    /// flagged items go to `st.logits` rows `dst0..`.
    fn forward_items(
        &self,
        pool: &ThreadPool,
        st: &mut RunState,
        kvs: &mut [KvCache],
        items: &[BatchToken],
        dst0: usize,
    ) -> Result<(), ModelError> {
        let hp = &self.hp;
        let n = items.len();
        let d = hp.n_embd;

        // Embedding lookup: x[t] = E[token[t]] (· embed_scale).
        let erb = self.tok_embd.ty.row_bytes(d);
        let embd = self.view(&self.tok_embd);
        for (t, it) in items.iter().enumerate() {
            let tok = it.token as usize;
            let row = &embd.data[tok * erb..(tok + 1) * erb];
            let x = &mut st.x[t * d..(t + 1) * d];
            dequantize_row(self.tok_embd.ty, row, x);
            if let Some(s) = self.spec.embed_scale {
                ops::scale_inplace(x, s);
            }
        }

        let last = self.layers.len() - 1;
        let mut n_out = n;
        for (il, layer) in self.layers.iter().enumerate() {
            self.attention_block(pool, st, kvs, items, il, layer);
            if il == last {
                // After the last attention only the rows whose logits are
                // wanted go on (as in llama.cpp, whose last-layer matrices
                // then see that many tokens: it decides their summation
                // order, see `kernels_for`). Their rows move to the front.
                n_out = 0;
                for (t, it) in items.iter().enumerate() {
                    if it.logits {
                        st.x.copy_within(t * d..(t + 1) * d, n_out * d);
                        n_out += 1;
                    }
                }
            }
            if n_out > 0 {
                self.ffn_block(pool, st, layer, n_out);
            }
        }
        for it in items {
            let kv = &mut kvs[it.seq];
            if kv.len() <= it.pos {
                kv.set_len(it.pos + 1);
            }
        }

        // Final norm and LM head on the rows that need logits (now rows 0..n_out).
        for t in 0..n_out {
            ops::rms_norm(
                &st.x[t * d..(t + 1) * d],
                &self.output_norm,
                hp.rms_eps,
                &mut st.xb[t * d..(t + 1) * d],
            );
        }
        if n_out > 0 {
            let nv = hp.n_vocab;
            let out = &mut st.logits[dst0 * nv..(dst0 + n_out) * nv];
            let job = MatJob {
                w: self.view(&self.output),
                out,
            };
            project(pool, &mut st.xq, &st.xb[..n_out * d], n_out, d, &mut [job]);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn attention_block(
        &self,
        pool: &ThreadPool,
        st: &mut RunState,
        kvs: &mut [KvCache],
        items: &[BatchToken],
        il: usize,
        l: &LayerWeights,
    ) {
        let hp = &self.hp;
        let n = items.len();
        let (d, hd, qd, kvd) = (hp.n_embd, hp.head_dim, hp.q_dim(), hp.kv_dim());
        let ls = self.spec.layers[il];

        // xb = norm(x)
        for t in 0..n {
            ops::rms_norm(
                &st.x[t * d..(t + 1) * d],
                &l.attn_norm,
                hp.rms_eps,
                &mut st.xb[t * d..(t + 1) * d],
            );
        }
        // q, k, v = xb · W (+ b)
        {
            let (q, k, v) = (
                &mut st.q[..n * qd],
                &mut st.k[..n * kvd],
                &mut st.v[..n * kvd],
            );
            project(
                pool,
                &mut st.xq,
                &st.xb[..n * d],
                n,
                d,
                &mut [
                    MatJob {
                        w: self.view(&l.wq),
                        out: q,
                    },
                    MatJob {
                        w: self.view(&l.wk),
                        out: k,
                    },
                    MatJob {
                        w: self.view(&l.wv),
                        out: v,
                    },
                ],
            );
        }
        for (buf, bias, width) in [
            (&mut st.q, &l.bq, qd),
            (&mut st.k, &l.bk, kvd),
            (&mut st.v, &l.bv, kvd),
        ] {
            if let Some(b) = bias {
                for row in buf[..n * width].chunks_exact_mut(width) {
                    ops::add_inplace(row, b);
                }
            }
        }
        // Per-head QK-norm, then RoPE, then store K/V.
        let half = hp.n_rot / 2;
        for (t, it) in items.iter().enumerate() {
            let pos = it.pos;
            let (cos, sin) = (&mut st.cos[..half], &mut st.sin[..half]);
            ops::rope_angles(pos, hp.n_rot, ls.rope_base, ls.rope_scale, cos, sin);
            let q = &mut st.q[t * qd..(t + 1) * qd];
            let k = &mut st.k[t * kvd..(t + 1) * kvd];
            if let (Some(qn), Some(kn)) = (&l.q_norm, &l.k_norm) {
                for h in q.chunks_exact_mut(hd) {
                    ops::rms_norm_inplace(h, qn, hp.rms_eps);
                }
                for h in k.chunks_exact_mut(hd) {
                    ops::rms_norm_inplace(h, kn, hp.rms_eps);
                }
            }
            ops::rope_apply(q, hd, self.spec.rope_style, cos, sin);
            ops::rope_apply(k, hd, self.spec.rope_style, cos, sin);
            kvs[it.seq].write(il, pos, k, &st.v[t * kvd..(t + 1) * kvd]);
        }

        // Attention, one (token, head) pair at a time, split across threads.
        {
            let n_head = hp.n_head;
            let n_group = hp.n_group();
            let (q_scale, kq_scale) = if self.spec.scale_q {
                (self.spec.attn_scale, 1.0)
            } else {
                (1.0, self.spec.attn_scale)
            };
            // ggml sums single-token attention and batched attention
            // (llamafile's tinyBLAS) in different orders; follow it, per
            // token (see `BatchToken::prefill`).
            let n_ctx = st.n_ctx;
            let scores = SyncPtr::new(&mut st.scores);
            let att = SyncPtr::new(&mut st.att[..n * qd]);
            let q_all = &st.q;
            let kvs_ro: &[KvCache] = kvs;
            pool.run(|idx, nt| {
                // SAFETY: each thread owns the scratch row of its index.
                let sc_row = unsafe { scores.slice(idx * n_ctx, n_ctx) };
                // Round-robin: causal rows grow with the position, so
                // contiguous ranges would leave the last thread the longest.
                for job in (idx..n * n_head).step_by(nt) {
                    let (t, h) = (job / n_head, job % n_head);
                    let p = items[t].pos;
                    let kv_ro: &KvCache = &kvs_ro[items[t].seq];
                    let start = ls.window.map_or(0, |w| (p + 1).saturating_sub(w));
                    let g = h / n_group;
                    // Round q to f16, as the K·q product of ggml's CPU path does
                    // with an f16 cache: it keeps our scores on llama.cpp's.
                    let mut q_buf = [0.0f32; MAX_HEAD_DIM];
                    let q = &mut q_buf[..hd];
                    for (d, &s) in q
                        .iter_mut()
                        .zip(&q_all[t * qd + h * hd..t * qd + (h + 1) * hd])
                    {
                        *d = f16::from_f32(s * q_scale).to_f32();
                    }
                    let q = &*q;
                    let batched = items[t].prefill;
                    let dot = if batched {
                        ops::dot_f32_f16_batch
                    } else {
                        ops::dot_f32_f16
                    };
                    let sc = &mut sc_row[..p + 1 - start];
                    for c in kv_ro.chunks(il, start, p + 1) {
                        for tt in 0..c.n_valid {
                            let pos = c.pos0 + tt;
                            if pos >= start {
                                let krow = &c.k[tt * kvd + g * hd..tt * kvd + (g + 1) * hd];
                                sc[pos - start] = dot(q, krow) * kq_scale;
                            }
                        }
                    }
                    ops::attn_softmax(sc, start);
                    // ggml rounds the probabilities to f16 for the V product.
                    for v in sc.iter_mut() {
                        *v = f16::from_f32(*v).to_f32();
                    }
                    // SAFETY: output (t, h) belongs to this job only.
                    let out = unsafe { att.slice(t * qd + h * hd, hd) };
                    let v_row = |pos| &kv_ro.v(il, pos)[g * hd..(g + 1) * hd];
                    if batched {
                        ops::attn_values_batch(out, sc, start, v_row);
                    } else {
                        ops::attn_values(out, sc, start, v_row);
                    }
                }
            });
        }

        // o = att · Wo; optional post-norm; x += o
        project(
            pool,
            &mut st.xq,
            &st.att[..n * qd],
            n,
            qd,
            &mut [MatJob {
                w: self.view(&l.wo),
                out: &mut st.o[..n * d],
            }],
        );
        for t in 0..n {
            let o = &mut st.o[t * d..(t + 1) * d];
            if let Some(w) = &l.attn_post_norm {
                ops::rms_norm_inplace(o, w, hp.rms_eps);
            }
            ops::add_inplace(&mut st.x[t * d..(t + 1) * d], o);
        }
    }

    fn ffn_block(&self, pool: &ThreadPool, st: &mut RunState, l: &LayerWeights, n: usize) {
        let hp = &self.hp;
        let (d, ff) = (hp.n_embd, hp.n_ff);
        for t in 0..n {
            ops::rms_norm(
                &st.x[t * d..(t + 1) * d],
                &l.ffn_norm,
                hp.rms_eps,
                &mut st.xb[t * d..(t + 1) * d],
            );
        }
        project(
            pool,
            &mut st.xq,
            &st.xb[..n * d],
            n,
            d,
            &mut [
                MatJob {
                    w: self.view(&l.gate),
                    out: &mut st.gate[..n * ff],
                },
                MatJob {
                    w: self.view(&l.up),
                    out: &mut st.up[..n * ff],
                },
            ],
        );
        // The gated activation, row by row (as ggml applies it), split
        // across the pool when there are several rows.
        let act: fn(&mut [f32], &[f32]) = match self.spec.activation {
            Activation::Silu => ops::swiglu_inplace,
            Activation::Gelu => ops::geglu_inplace,
        };
        let up = &st.up[..n * ff];
        if n < 4 {
            for (g, u) in st.gate[..n * ff]
                .chunks_exact_mut(ff)
                .zip(up.chunks_exact(ff))
            {
                act(g, u);
            }
        } else {
            let gate = SyncPtr::new(&mut st.gate[..n * ff]);
            pool.run(|idx, nt| {
                for t in split_range(n, idx, nt, 1) {
                    // SAFETY: each thread owns the rows of its token range.
                    let g = unsafe { gate.slice(t * ff, ff) };
                    act(g, &up[t * ff..(t + 1) * ff]);
                }
            });
        }
        project(
            pool,
            &mut st.xq,
            &st.gate[..n * ff],
            n,
            ff,
            &mut [MatJob {
                w: self.view(&l.down),
                out: &mut st.o[..n * d],
            }],
        );
        for t in 0..n {
            let o = &mut st.o[t * d..(t + 1) * d];
            if let Some(w) = &l.ffn_post_norm {
                ops::rms_norm_inplace(o, w, hp.rms_eps);
            }
            ops::add_inplace(&mut st.x[t * d..(t + 1) * d], o);
        }
    }
}

/// Activation buffers, one per `vec_dot_type`, so that an input feeding
/// matrices of several types is quantized once per type.
pub struct XqBuffers {
    bufs: Vec<(QuantType, Vec<u8>)>,
}

impl XqBuffers {
    /// Buffers for `max_batch` rows of every (`vec_dot_type`, width) in `uses`.
    pub fn new(uses: impl Iterator<Item = (QuantType, usize)>, max_batch: usize) -> Self {
        let mut bufs: Vec<(QuantType, Vec<u8>)> = Vec::new();
        for (ty, n_cols) in uses {
            let vt = ty.vec_dot_type();
            let need = vt.row_bytes(n_cols) * max_batch;
            match bufs.iter_mut().find(|(t, _)| *t == vt) {
                Some((_, b)) if b.len() < need => b.resize(need, 0),
                Some(_) => {}
                None => bufs.push((vt, vec![0; need])),
            }
        }
        XqBuffers { bufs }
    }

    fn get(&mut self, vt: QuantType) -> &mut Vec<u8> {
        &mut self
            .bufs
            .iter_mut()
            .find(|(t, _)| *t == vt)
            .expect("activation buffer sized at load for every weight type")
            .1
    }
}

/// `out_j = x · W_j` for each job, quantizing `x` once per `vec_dot_type`.
fn project(
    pool: &ThreadPool,
    xq: &mut XqBuffers,
    x: &[f32],
    n: usize,
    n_cols: usize,
    jobs: &mut [MatJob<'_, '_>],
) {
    let mut done: [Option<QuantType>; 4] = [None; 4];
    for i in 0..jobs.len() {
        let vt = jobs[i].w.ty.vec_dot_type();
        if done.contains(&Some(vt)) {
            continue;
        }
        done[i] = Some(vt);
        let buf = xq.get(vt);
        let rb = vt.row_bytes(n_cols);
        if n >= 4 {
            edgellm_kernels::matmul::quantize_activations(
                pool,
                jobs[i].w.ty,
                x,
                n_cols,
                &mut buf[..rb * n],
            );
        } else {
            for t in 0..n {
                quantize_row(
                    vt,
                    &x[t * n_cols..(t + 1) * n_cols],
                    &mut buf[t * rb..(t + 1) * rb],
                );
            }
        }
        matmul_many_where(pool, jobs, &buf[..rb * n], n, vt);
    }
}

//! Forward pass, loss and backpropagation through time for a batch.
//!
//! Rows of every activation buffer are time-major: row `t·B + b` is time
//! step `t` of sequence `b`, so one time step is one contiguous `B`-row block
//! and the products that do not depend on the recurrence (the input kernel,
//! the dense layer and every weight gradient) run as single large GEMMs over
//! all `T·B` rows. Only `h·U` (forward) and `dhu·Uᵀ` (backward) run per time
//! step, against a recurrent kernel packed once per batch.
//!
//! Keras GRU with `reset_after=True`, gate order `[z, r, h]`:
//! ```text
//! z  = σ(x·W_z + b_z + h·U_z + rb_z)
//! r  = σ(x·W_r + b_r + h·U_r + rb_r)
//! hh = tanh(x·W_h + b_h + r ⊙ (h·U_h + rb_h))
//! h' = z ⊙ h + (1 − z) ⊙ hh
//! ```

use crate::gemm::{gemm, gemm_packed, Ctx, MatRef, PackedB};
use crate::model::Dims;
use edgellm_kernels::pool::{split_range, SyncPtr};

/// Views of the six tensors inside a flat parameter (or gradient) vector.
pub(crate) struct Parts<T> {
    pub emb: T,
    pub w: T,
    pub u: T,
    pub bias: T,
    pub wd: T,
    pub bd: T,
}

pub(crate) fn parts<'a>(dims: &Dims, p: &'a [f32]) -> Parts<&'a [f32]> {
    let t = dims.tensors();
    let r = |i: usize| &p[t[i].range.clone()];
    Parts {
        emb: r(0),
        w: r(1),
        u: r(2),
        bias: r(3),
        wd: r(4),
        bd: r(5),
    }
}

pub(crate) fn parts_mut<'a>(dims: &Dims, p: &'a mut [f32]) -> Parts<&'a mut [f32]> {
    let t = dims.tensors();
    let (emb, rest) = p.split_at_mut(t[0].range.len());
    let (w, rest) = rest.split_at_mut(t[1].range.len());
    let (u, rest) = rest.split_at_mut(t[2].range.len());
    let (bias, rest) = rest.split_at_mut(t[3].range.len());
    let (wd, bd) = rest.split_at_mut(t[4].range.len());
    Parts {
        emb,
        w,
        u,
        bias,
        wd,
        bd,
    }
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Every buffer one batch needs, sized once for `b_max` sequences of
/// `seq_len` steps (smaller batches reuse the front of each buffer).
pub struct Workspace {
    dims: Dims,
    b_max: usize,
    seq_len: usize,
    /// Current batch size.
    b: usize,
    inputs: Vec<u32>,  // (T·B) input ids
    targets: Vec<u32>, // (T·B) target ids
    xemb: Vec<f32>,    // (T·B, E) embedded inputs; backward: dL/dxemb
    /// (T·B, 3H): x·W, then `[z, r, hh]` after the forward pass, then
    /// `[dz, dr, dh]` pre-activation gradients (= dL/d(x·W + b)) after backward.
    gates: Vec<f32>,
    huh: Vec<f32>,      // (T·B, H) h_{t−1}·U_h + rb_h
    hs: Vec<f32>,       // ((T+1)·B, H) h_0 = 0, then h_1 … h_T
    hu: Vec<f32>,       // (B, 3H) one step's h·U
    logits: Vec<f32>,   // (T·B, V) logits, then dL/dlogits
    row_loss: Vec<f64>, // (T·B) cross-entropy per position
    dhs: Vec<f32>,      // (T·B, H) dL/dh_t through the dense layer
    dhu: Vec<f32>,      // (T·B, 3H) dL/d(h_{t−1}·U + rb)
    dh: Vec<f32>,       // (B, H) dL/dh flowing back in time
    packed_u: PackedB,  // U packed for h·U
    packed_ut: PackedB, // Uᵀ packed for dhu·Uᵀ
    scratch: PackedB,   // for one-off products
}

impl Workspace {
    pub fn new(dims: Dims, b_max: usize, seq_len: usize) -> Workspace {
        let (e, h, v) = (dims.embed, dims.units, dims.vocab);
        let n = b_max * seq_len;
        Workspace {
            dims,
            b_max,
            seq_len,
            b: 0,
            inputs: vec![0; n],
            targets: vec![0; n],
            xemb: vec![0.0; n * e],
            gates: vec![0.0; n * 3 * h],
            huh: vec![0.0; n * h],
            hs: vec![0.0; (n + b_max) * h],
            hu: vec![0.0; b_max * 3 * h],
            logits: vec![0.0; n * v],
            row_loss: vec![0.0; n],
            dhs: vec![0.0; n * h],
            dhu: vec![0.0; n * 3 * h],
            dh: vec![0.0; b_max * h],
            packed_u: PackedB::new(),
            packed_ut: PackedB::new(),
            scratch: PackedB::new(),
        }
    }

    /// Loads up to `b_max` chunks of `seq_len + 1` ids.
    pub fn load_batch(&mut self, chunks: &[&[u32]]) {
        let b = chunks.len();
        assert!(
            b >= 1 && b <= self.b_max,
            "batch of {b} (max {})",
            self.b_max
        );
        let t_len = self.seq_len;
        for (bi, c) in chunks.iter().enumerate() {
            assert_eq!(c.len(), t_len + 1, "chunk length");
            for t in 0..t_len {
                self.inputs[t * b + bi] = c[t];
                self.targets[t * b + bi] = c[t + 1];
            }
        }
        self.b = b;
    }

    /// Runs the forward pass on the loaded batch and returns the mean
    /// cross-entropy in nats. With `want_grad`, `logits` is replaced by
    /// dL/dlogits for [`Workspace::backward`].
    pub fn forward(&mut self, ctx: &Ctx, params: &[f32], want_grad: bool) -> f64 {
        let Dims {
            vocab: v,
            embed: e,
            units: h,
        } = self.dims;
        let (b, t_len) = (self.b, self.seq_len);
        let n = b * t_len;
        let p = parts(&self.dims, params);

        for (row, &id) in self.xemb.chunks_exact_mut(e).zip(&self.inputs[..n]) {
            let id = id as usize;
            row.copy_from_slice(&p.emb[id * e..(id + 1) * e]);
        }
        gemm(
            ctx,
            MatRef::new(&self.xemb[..n * e], n, e),
            MatRef::new(p.w, e, 3 * h),
            &mut self.gates,
            3 * h,
            false,
            &mut self.scratch,
        );
        self.packed_u.pack(ctx, MatRef::new(p.u, h, 3 * h));
        self.hs[..b * h].fill(0.0);
        let (b_in, b_rec) = p.bias.split_at(3 * h);
        for t in 0..t_len {
            gemm_packed(
                ctx,
                MatRef::new(&self.hs[t * b * h..(t + 1) * b * h], b, h),
                &self.packed_u,
                &mut self.hu,
                3 * h,
                false,
            );
            let gates = SyncPtr::new(&mut self.gates);
            let huh = SyncPtr::new(&mut self.huh);
            let hs = SyncPtr::new(&mut self.hs);
            let hu = &self.hu;
            ctx.run(b * h * 32, |ti, nt| {
                for bi in split_range(b, ti, nt, 1) {
                    let row = t * b + bi;
                    // SAFETY: each thread owns whole batch rows `bi`; the rows
                    // touched (gates/huh row t·B+bi, hs rows t·B+bi and
                    // (t+1)·B+bi) are disjoint across threads and in bounds.
                    let (g, uh, hp, hn) = unsafe {
                        (
                            gates.slice(row * 3 * h, 3 * h),
                            huh.slice(row * h, h),
                            &*hs.slice(row * h, h),
                            hs.slice((row + b) * h, h),
                        )
                    };
                    let u = &hu[bi * 3 * h..(bi + 1) * 3 * h];
                    let (gz, rest) = g.split_at_mut(h);
                    let (gr, gh) = rest.split_at_mut(h);
                    for j in 0..h {
                        let z = sigmoid(gz[j] + b_in[j] + u[j] + b_rec[j]);
                        let r = sigmoid(gr[j] + b_in[h + j] + u[h + j] + b_rec[h + j]);
                        let uhj = u[2 * h + j] + b_rec[2 * h + j];
                        let hh = (gh[j] + b_in[2 * h + j] + r * uhj).tanh();
                        gz[j] = z;
                        gr[j] = r;
                        gh[j] = hh;
                        uh[j] = uhj;
                        hn[j] = z * hp[j] + (1.0 - z) * hh;
                    }
                }
            });
        }
        gemm(
            ctx,
            MatRef::new(&self.hs[b * h..(n + b) * h], n, h),
            MatRef::new(p.wd, h, v),
            &mut self.logits,
            v,
            false,
            &mut self.scratch,
        );
        let logits = SyncPtr::new(&mut self.logits);
        let losses = SyncPtr::new(&mut self.row_loss);
        let targets = &self.targets;
        let bd = p.bd;
        let inv_n = 1.0 / n as f32;
        ctx.run(n * v * 16, |ti, nt| {
            let rows = split_range(n, ti, nt, 1);
            // SAFETY: disjoint row ranges per thread, in bounds.
            let (lg, ls) = unsafe {
                (
                    logits.slice(rows.start * v, rows.len() * v),
                    losses.slice(rows.start, rows.len()),
                )
            };
            for ((row, l), &tg) in lg.chunks_exact_mut(v).zip(ls).zip(&targets[rows]) {
                let mut mx = f32::NEG_INFINITY;
                for (x, &bj) in row.iter_mut().zip(bd) {
                    *x += bj;
                    mx = mx.max(*x);
                }
                let mut sum = 0f64;
                for x in row.iter() {
                    sum += ((x - mx) as f64).exp();
                }
                let lse = mx as f64 + sum.ln();
                *l = lse - row[tg as usize] as f64;
                if want_grad {
                    for x in row.iter_mut() {
                        *x = ((*x as f64 - lse).exp() as f32) * inv_n;
                    }
                    row[tg as usize] -= inv_n;
                }
            }
        });
        self.row_loss[..n].iter().sum::<f64>() / n as f64
    }

    /// Gradients of the mean loss of the last [`Workspace::forward`] (run
    /// with `want_grad`) into `grads` (overwritten), laid out like the params.
    pub fn backward(&mut self, ctx: &Ctx, params: &[f32], grads: &mut [f32]) {
        let Dims {
            vocab: v,
            embed: e,
            units: h,
        } = self.dims;
        let (b, t_len) = (self.b, self.seq_len);
        let n = b * t_len;
        let p = parts(&self.dims, params);
        let g = parts_mut(&self.dims, grads);

        // Dense layer.
        let dlogits = MatRef::new(&self.logits[..n * v], n, v);
        gemm(
            ctx,
            MatRef::new(&self.hs[b * h..(n + b) * h], n, h).t(),
            dlogits,
            g.wd,
            v,
            false,
            &mut self.scratch,
        );
        col_sum(ctx, &self.logits[..n * v], v, g.bd);
        gemm(
            ctx,
            dlogits,
            MatRef::new(p.wd, h, v).t(),
            &mut self.dhs,
            h,
            false,
            &mut self.scratch,
        );

        // Back through time.
        self.packed_ut.pack(ctx, MatRef::new(p.u, h, 3 * h).t());
        self.dh[..b * h].fill(0.0);
        for t in (0..t_len).rev() {
            let gates = SyncPtr::new(&mut self.gates);
            let dhu = SyncPtr::new(&mut self.dhu);
            let dh = SyncPtr::new(&mut self.dh);
            let (huh, hs, dhs) = (&self.huh, &self.hs, &self.dhs);
            ctx.run(b * h * 32, |ti, nt| {
                for bi in split_range(b, ti, nt, 1) {
                    let row = t * b + bi;
                    // SAFETY: each thread owns whole batch rows `bi`: gates and
                    // dhu row t·B+bi and dh row bi are disjoint across threads.
                    let (gr, du, dhr) = unsafe {
                        (
                            gates.slice(row * 3 * h, 3 * h),
                            dhu.slice(row * 3 * h, 3 * h),
                            dh.slice(bi * h, h),
                        )
                    };
                    let uh = &huh[row * h..(row + 1) * h];
                    let hp = &hs[row * h..(row + 1) * h];
                    let dout = &dhs[row * h..(row + 1) * h];
                    for j in 0..h {
                        let (z, r, hh) = (gr[j], gr[h + j], gr[2 * h + j]);
                        let dht = dout[j] + dhr[j];
                        let dz = dht * (hp[j] - hh);
                        let dah = dht * (1.0 - z) * (1.0 - hh * hh);
                        let dar = dah * uh[j] * r * (1.0 - r);
                        let daz = dz * z * (1.0 - z);
                        gr[j] = daz;
                        gr[h + j] = dar;
                        gr[2 * h + j] = dah;
                        du[j] = daz;
                        du[h + j] = dar;
                        du[2 * h + j] = dah * r;
                        dhr[j] = dht * z;
                    }
                }
            });
            if t > 0 {
                gemm_packed(
                    ctx,
                    MatRef::new(&self.dhu[t * b * 3 * h..(t + 1) * b * 3 * h], b, 3 * h),
                    &self.packed_ut,
                    &mut self.dh,
                    h,
                    true,
                );
            }
        }

        // Weight gradients as whole-sequence products.
        let dhu = MatRef::new(&self.dhu[..n * 3 * h], n, 3 * h);
        let dxw = MatRef::new(&self.gates[..n * 3 * h], n, 3 * h);
        gemm(
            ctx,
            MatRef::new(&self.hs[..n * h], n, h).t(),
            dhu,
            g.u,
            3 * h,
            false,
            &mut self.scratch,
        );
        gemm(
            ctx,
            MatRef::new(&self.xemb[..n * e], n, e).t(),
            dxw,
            g.w,
            3 * h,
            false,
            &mut self.scratch,
        );
        let (db_in, db_rec) = g.bias.split_at_mut(3 * h);
        col_sum(ctx, &self.gates[..n * 3 * h], 3 * h, db_in);
        col_sum(ctx, &self.dhu[..n * 3 * h], 3 * h, db_rec);

        // Embedding: dL/dx = dxw·Wᵀ, scattered to the rows of the inputs.
        gemm(
            ctx,
            dxw,
            MatRef::new(p.w, e, 3 * h).t(),
            &mut self.xemb,
            e,
            false,
            &mut self.scratch,
        );
        g.emb.fill(0.0);
        for (row, &id) in self.xemb.chunks_exact(e).zip(&self.inputs[..n]) {
            let id = id as usize;
            for (d, &x) in g.emb[id * e..(id + 1) * e].iter_mut().zip(row) {
                *d += x;
            }
        }
    }

    /// Hidden states `h_1 … h_T` of the last forward pass, `(T·B, H)`.
    pub fn hidden(&self) -> &[f32] {
        let (b, h) = (self.b, self.dims.units);
        &self.hs[b * h..(b * self.seq_len + b) * h]
    }
}

/// `out[j] = Σ_i m[i, j]` over the rows of a row-major `(_, cols)` matrix,
/// threads owning column ranges (so the order of the sum is fixed).
fn col_sum(ctx: &Ctx, m: &[f32], cols: usize, out: &mut [f32]) {
    let optr = SyncPtr::new(out);
    ctx.run(m.len(), |ti, nt| {
        let cr = split_range(cols, ti, nt, 16);
        if cr.is_empty() {
            return;
        }
        // SAFETY: disjoint column ranges per thread.
        let o = unsafe { optr.slice(cr.start, cr.len()) };
        o.fill(0.0);
        for row in m.chunks_exact(cols) {
            for (x, &y) in o.iter_mut().zip(&row[cr.clone()]) {
                *x += y;
            }
        }
    });
}

//! Quantized matrix × activations, threaded.
//!
//! Activations are quantized once per matmul input into the weight type's
//! `vec_dot_type` (q8 blocks, as ggml does), then every output is an integer
//! dot product of one weight row with one activation row. With several tokens
//! (prefill) each weight row goes through `vec_dot_x4` against four activation
//! rows at a time, so its blocks are decoded once per four tokens; the results
//! are bit-identical to per-token `vec_dot`. Several matrices
//! that read the same input (q/k/v, gate/up) run in one pool dispatch, so a
//! decode step pays one barrier for them instead of three.

use crate::pool::{split_range, SyncPtr, ThreadPool};
use crate::quant::{kernels_for, quantize_row, vec_dot_x4_with, QuantType};

/// A row-major weight matrix view: `n_rows` rows of `n_cols` values of `ty`.
#[derive(Clone, Copy, Debug)]
pub struct QMatrix<'a> {
    pub ty: QuantType,
    pub data: &'a [u8],
    pub n_rows: usize,
    pub n_cols: usize,
}

impl<'a> QMatrix<'a> {
    /// Checks that `data` holds exactly `n_rows` rows of `n_cols` values.
    pub fn new(ty: QuantType, data: &'a [u8], n_rows: usize, n_cols: usize) -> Option<Self> {
        if !n_cols.is_multiple_of(ty.block_size()) || data.len() != ty.row_bytes(n_cols) * n_rows {
            return None;
        }
        Some(QMatrix {
            ty,
            data,
            n_rows,
            n_cols,
        })
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.ty.row_bytes(self.n_cols)
    }

    /// The bytes of row `r`.
    pub fn row(&self, r: usize) -> &'a [u8] {
        let rb = self.row_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }
}

/// Bytes needed to hold `n_tok` activation rows of `n_cols` values quantized
/// for weights of type `ty`.
pub fn activation_bytes(ty: QuantType, n_cols: usize, n_tok: usize) -> usize {
    ty.vec_dot_type().row_bytes(n_cols) * n_tok
}

/// Quantizes `x` (`n_tok` rows of `n_cols`) into `dst` in the `vec_dot_type`
/// of weight type `ty`. Rows are split across the pool when there are many.
pub fn quantize_activations(
    pool: &ThreadPool,
    ty: QuantType,
    x: &[f32],
    n_cols: usize,
    dst: &mut [u8],
) {
    let vt = ty.vec_dot_type();
    let n_tok = x.len() / n_cols;
    let rb = vt.row_bytes(n_cols);
    assert_eq!(x.len(), n_tok * n_cols, "activations are not whole rows");
    assert!(dst.len() >= rb * n_tok, "activation buffer too small");
    if n_tok < 4 {
        for t in 0..n_tok {
            quantize_row(
                vt,
                &x[t * n_cols..(t + 1) * n_cols],
                &mut dst[t * rb..(t + 1) * rb],
            );
        }
        return;
    }
    let out = SyncPtr::new(dst);
    pool.run(|idx, nt| {
        for t in split_range(n_tok, idx, nt, 1) {
            // SAFETY: each thread writes only the rows of its own token range.
            let d = unsafe { out.slice(t * rb, rb) };
            quantize_row(vt, &x[t * n_cols..(t + 1) * n_cols], d);
        }
    });
}

/// One matrix of a [`matmul_many`] call and where its output goes:
/// `out[t * n_rows + r] = w.row(r) · x[t]`.
pub struct MatJob<'a, 'o> {
    pub w: QMatrix<'a>,
    pub out: &'o mut [f32],
}

/// Rows handed out per scheduling unit: keeps each thread's share of a matrix
/// contiguous and a multiple of the SIMD row tile.
const ROW_GRANULE: usize = 4;
/// Tokens processed per pass over a block of weight rows during prefill, so
/// that the quantized activations of the block stay in L2.
const TOKEN_TILE: usize = 32;
/// Weight rows per block during prefill (stay in L1 across the token tile).
/// (TOKEN_TILE 16..128 × ROW_TILE 4..64 measured within noise of 32 × 16 on a
/// Zen 4 with the multi-token kernels.)
const ROW_TILE: usize = 16;

/// `out = W · x` for one matrix; see [`matmul_many`].
pub fn matmul(pool: &ThreadPool, w: QMatrix<'_>, xq: &[u8], n_tok: usize, out: &mut [f32]) {
    matmul_many(pool, &mut [MatJob { w, out }], xq, n_tok);
}

/// Runs several matrices that share the same quantized input `xq`
/// (`n_tok` rows in the common `vec_dot_type`) in one pool dispatch.
/// All matrices must have the same `n_cols` and the same `vec_dot_type`.
pub fn matmul_many(pool: &ThreadPool, jobs: &mut [MatJob<'_, '_>], xq: &[u8], n_tok: usize) {
    let Some(vt) = jobs.first().map(|j| j.w.ty.vec_dot_type()) else {
        return;
    };
    matmul_many_where(pool, jobs, xq, n_tok, vt);
}

/// Like [`matmul_many`], but runs only the jobs whose weights use
/// `vec_dot_type` `vt` (the others are left untouched): callers with mixed
/// weight types quantize the input once per `vec_dot_type` and call this
/// once per type.
pub fn matmul_many_where(
    pool: &ThreadPool,
    jobs: &mut [MatJob<'_, '_>],
    xq: &[u8],
    n_tok: usize,
    vt: QuantType,
) {
    // Avoid allocating on the decode path: at most a handful of jobs.
    let mut small: [Option<(QMatrix<'_>, SyncPtr<f32>)>; 4] = [None, None, None, None];
    let mut n_cols = None;
    for (i, j) in jobs
        .iter_mut()
        .filter(|j| j.w.ty.vec_dot_type() == vt)
        .enumerate()
    {
        assert!(i < small.len(), "at most 4 matrices per matmul_many");
        assert_eq!(
            *n_cols.get_or_insert(j.w.n_cols),
            j.w.n_cols,
            "matrices in one matmul_many share n_cols"
        );
        assert_eq!(j.out.len(), j.w.n_rows * n_tok, "output size");
        small[i] = Some((j.w, SyncPtr::new(j.out)));
    }
    let Some(n_cols) = n_cols else { return };
    let xrb = vt.row_bytes(n_cols);
    assert!(xq.len() >= xrb * n_tok, "quantized input too short");
    let n_rows_total: usize = small.iter().flatten().map(|(w, _)| w.n_rows).sum();
    let work = |idx: usize, nt: usize| {
        let range = split_range(n_rows_total, idx, nt, ROW_GRANULE);
        // Walk the global row range, mapping it onto each matrix in turn.
        let mut base = 0;
        for (w, out) in small.iter().flatten() {
            let lo = range.start.max(base);
            let hi = range.end.min(base + w.n_rows);
            if lo < hi {
                rows_kernel(w, *out, lo - base, hi - base, xq, xrb, n_tok);
            }
            base += w.n_rows;
        }
    };
    let total_work = n_rows_total * n_tok * n_cols;
    if total_work < 1 << 14 {
        work(0, 1);
    } else {
        pool.run(work);
    }
}

/// Tokens per multi-token dot product (the weight row is decoded once for them).
const TOKEN_GROUP: usize = 4;

fn rows_kernel(
    w: &QMatrix<'_>,
    out: SyncPtr<f32>,
    r0: usize,
    r1: usize,
    xq: &[u8],
    xrb: usize,
    n_tok: usize,
) {
    let n_rows = w.n_rows;
    let n_cols = w.n_cols;
    // Hoisted dispatch: every weight row is `w.row_bytes()` bytes (`QMatrix::row`)
    // and every activation row `xrb` = `vec_dot_type().row_bytes(n_cols)` bytes
    // (checked by the caller), which is all the kernels need.
    let k = kernels_for(w.ty, n_rows, n_tok);
    debug_assert_eq!(xrb, w.ty.vec_dot_type().row_bytes(n_cols));
    let xrow = |t: usize| &xq[t * xrb..(t + 1) * xrb];
    if n_tok == 1 {
        // SAFETY: rows r0..r1 of this matrix belong to this thread only.
        let o = unsafe { out.slice(r0, r1 - r0) };
        let x = xrow(0);
        for (r, o) in (r0..r1).zip(o.iter_mut()) {
            *o = (k.vec_dot)(n_cols, w.row(r), x);
        }
        return;
    }
    for t0 in (0..n_tok).step_by(TOKEN_TILE) {
        let t1 = (t0 + TOKEN_TILE).min(n_tok);
        for rb in (r0..r1).step_by(ROW_TILE) {
            let re = (rb + ROW_TILE).min(r1);
            let mut r4 = rb;
            if let Some(g) = k.gemm_4x4 {
                // Four rows × four tokens per call (same results per element).
                while r4 + 4 <= re {
                    let ws = [w.row(r4), w.row(r4 + 1), w.row(r4 + 2), w.row(r4 + 3)];
                    let mut t = t0;
                    while t + TOKEN_GROUP <= t1 {
                        let ys = [xrow(t), xrow(t + 1), xrow(t + 2), xrow(t + 3)];
                        let v = g(n_cols, ws, ys);
                        for (j, row) in v.into_iter().enumerate() {
                            for (u, v) in row.into_iter().enumerate() {
                                // SAFETY: element (t + u, r4 + j), a row of this thread.
                                unsafe { *out.0.add((t + u) * n_rows + r4 + j) = v };
                            }
                        }
                        t += TOKEN_GROUP;
                    }
                    for t in t..t1 {
                        for (j, wr) in ws.into_iter().enumerate() {
                            let v = (k.vec_dot)(n_cols, wr, xrow(t));
                            // SAFETY: element (t, r4 + j), a row of this thread.
                            unsafe { *out.0.add(t * n_rows + r4 + j) = v };
                        }
                    }
                    r4 += 4;
                }
            }
            for r in r4..re {
                let wr = w.row(r);
                let mut t = t0;
                while t + TOKEN_GROUP <= t1 {
                    let ys = [xrow(t), xrow(t + 1), xrow(t + 2), xrow(t + 3)];
                    let v = vec_dot_x4_with(k, n_cols, wr, ys);
                    for (j, v) in v.into_iter().enumerate() {
                        // SAFETY: element (t + j, r) with r in this thread's rows.
                        unsafe { *out.0.add((t + j) * n_rows + r) = v };
                    }
                    t += TOKEN_GROUP;
                }
                for t in t..t1 {
                    let v = (k.vec_dot)(n_cols, wr, xrow(t));
                    // SAFETY: element (t, r) with r in this thread's rows.
                    unsafe { *out.0.add(t * n_rows + r) = v };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{dequantize_row, quantize_row, vec_dot};

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// matmul == per-element vec_dot, for every thread count and token count,
    /// and close to the f64 product of the dequantized operands.
    #[test]
    fn matmul_matches_vec_dot_and_dequantized_product() {
        let n_cols = 512;
        for ty in [
            QuantType::Q4_0,
            QuantType::Q4_1,
            QuantType::Q5_0,
            QuantType::Q8_0,
            QuantType::Q4_K,
            QuantType::Q5_K,
            QuantType::Q6_K,
            QuantType::Q3_K,
            QuantType::F32,
        ] {
            for n_rows in [1, 5, 64] {
                let wf = rand_vec(n_rows * n_cols, n_rows as u64);
                let mut wq = vec![0u8; ty.row_bytes(n_cols) * n_rows];
                for r in 0..n_rows {
                    let rb = ty.row_bytes(n_cols);
                    quantize_row(
                        ty,
                        &wf[r * n_cols..(r + 1) * n_cols],
                        &mut wq[r * rb..(r + 1) * rb],
                    );
                }
                let w = QMatrix::new(ty, &wq, n_rows, n_cols).unwrap();
                for n_tok in [1, 3, 4, 9, 40] {
                    let x = rand_vec(n_tok * n_cols, 99 + n_tok as u64);
                    let mut xq = vec![0u8; activation_bytes(ty, n_cols, n_tok)];
                    for threads in [1, 2, 3] {
                        let pool = ThreadPool::new(threads);
                        quantize_activations(&pool, ty, &x, n_cols, &mut xq);
                        let mut out = vec![0.0; n_rows * n_tok];
                        matmul(&pool, w, &xq, n_tok, &mut out);
                        let xrb = ty.vec_dot_type().row_bytes(n_cols);
                        for t in 0..n_tok {
                            let mut xd = vec![0.0; n_cols];
                            dequantize_row(ty.vec_dot_type(), &xq[t * xrb..(t + 1) * xrb], &mut xd);
                            for r in 0..n_rows {
                                // The row kernel of this matrix (Q4_K with a multiple of 8
                                // rows sums in ggml's repacked orders: GEMM for groups
                                // of 4 tokens, GEMV for the rest; Q6_K in batches of
                                // 8 or more in its tiled-GEMM order).
                                let k = kernels_for(ty, n_rows, n_tok);
                                let y = &xq[t * xrb..(t + 1) * xrb];
                                let want = match k.vec_dot_x4 {
                                    Some(f) if n_tok > 1 && t < n_tok - n_tok % 4 => {
                                        f(n_cols, w.row(r), [y, y, y, y])[0]
                                    }
                                    _ => (k.vec_dot)(n_cols, w.row(r), y),
                                };
                                if std::ptr::eq(k, crate::quant::kernels(ty)) {
                                    let usual =
                                        vec_dot(ty, n_cols, w.row(r), &xq[t * xrb..(t + 1) * xrb]);
                                    assert_eq!(want, usual);
                                }
                                assert_eq!(
                                    out[t * n_rows + r],
                                    want,
                                    "{ty:?} r={r} t={t} threads={threads}"
                                );
                                let mut wd = vec![0.0; n_cols];
                                dequantize_row(ty, w.row(r), &mut wd);
                                let exact: f64 =
                                    wd.iter().zip(&xd).map(|(&a, &b)| a as f64 * b as f64).sum();
                                let mag: f64 = wd
                                    .iter()
                                    .zip(&xd)
                                    .map(|(&a, &b)| (a as f64 * b as f64).abs())
                                    .sum();
                                assert!(
                                    (exact - want as f64).abs() <= 1e-3 * mag + 1e-4,
                                    "{ty:?}: {exact} vs {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn matmul_many_equals_separate_matmuls() {
        let ty = QuantType::Q8_0;
        let n_cols = 256;
        let pool = ThreadPool::new(2);
        let mats: Vec<Vec<u8>> = [7usize, 13, 64]
            .iter()
            .map(|&r| {
                let f = rand_vec(r * n_cols, r as u64);
                let mut q = vec![0u8; ty.row_bytes(n_cols) * r];
                quantize_row(ty, &f, &mut q);
                q
            })
            .collect();
        let rows = [7usize, 13, 64];
        let x = rand_vec(2 * n_cols, 5);
        let mut xq = vec![0u8; activation_bytes(ty, n_cols, 2)];
        quantize_activations(&pool, ty, &x, n_cols, &mut xq);
        let mut outs: Vec<Vec<f32>> = rows.iter().map(|&r| vec![0.0; r * 2]).collect();
        {
            let mut jobs: Vec<MatJob<'_, '_>> = outs
                .iter_mut()
                .zip(&mats)
                .zip(rows)
                .map(|((o, m), r)| MatJob {
                    w: QMatrix::new(ty, m, r, n_cols).unwrap(),
                    out: o,
                })
                .collect();
            matmul_many(&pool, &mut jobs, &xq, 2);
        }
        for ((o, m), r) in outs.iter().zip(&mats).zip(rows) {
            let mut single = vec![0.0; r * 2];
            matmul(
                &pool,
                QMatrix::new(ty, m, r, n_cols).unwrap(),
                &xq,
                2,
                &mut single,
            );
            assert_eq!(o, &single);
        }
    }
}

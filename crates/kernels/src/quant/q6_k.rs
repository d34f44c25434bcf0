//! Q6_K: 256 weights in 16 groups of 16, `w = d·sc·(q − 32)`, q ∈ 0..64, 8-bit
//! signed group scales. 210 bytes / 256 weights = 6.5625 bits per weight.
//!
//! For each 128-weight half `h` and l ∈ 0..32 (with `ql += 64h`, `qh += 32h`):
//! weight `128h + l` = low nibble of `ql[l]` | bits 0-1 of `qh[l]` << 4,
//! `+32` = low nibble of `ql[l + 32]` | bits 2-3, `+64` = high nibble of `ql[l]` |
//! bits 4-5, `+96` = high nibble of `ql[l + 32]` | bits 6-7.

use super::block::Block;
use super::k_common::make_qx_quants;
use super::q8::BlockQ8K;
use super::util::{f16_to_f32, f32_to_f16, nearest_int, QK_K};

/// One Q6_K super-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ6K {
    /// Low 4 bits (see module docs).
    pub ql: [u8; QK_K / 2],
    /// High 2 bits, four per byte (see module docs).
    pub qh: [u8; QK_K / 4],
    /// Group scales (signed).
    pub scales: [i8; QK_K / 16],
    /// Super-block scale (f16).
    pub d: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ6K>() == 210);
// SAFETY: repr(C), only u8/i8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ6K {
    const QK: usize = QK_K;
}

/// The 6-bit quant (0..64, unbiased) of weight `i` (0..256).
#[inline(always)]
fn q6_at(b: &BlockQ6K, i: usize) -> i32 {
    let (h, r) = (i / 128, i % 128);
    let (k, l) = (r / 32, r % 32);
    let ql = b.ql[64 * h + l + 32 * (k & 1)];
    let lo = if k < 2 { ql & 0x0f } else { ql >> 4 };
    let hi = (b.qh[32 * h + l] >> (2 * k)) & 3;
    (lo | (hi << 4)) as i32
}

/// ggml `quantize_row_q6_K_ref`.
pub fn quantize_row_q6_k_ref(x: &[f32], y: &mut [BlockQ6K]) {
    assert_eq!(x.len(), y.len() * QK_K);
    let mut l = [0i8; QK_K];
    let mut scales = [0f32; QK_K / 16];
    for (x, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut max_scale = 0f32;
        let mut max_abs_scale = 0f32;
        for ib in 0..QK_K / 16 {
            let scale = make_qx_quants(
                32,
                &x[16 * ib..16 * ib + 16],
                &mut l[16 * ib..16 * ib + 16],
                1,
            );
            scales[ib] = scale;
            if scale.abs() > max_abs_scale {
                max_abs_scale = scale.abs();
                max_scale = scale;
            }
        }
        if max_abs_scale < 1e-15 {
            *yb = BlockQ6K {
                ql: [0; QK_K / 2],
                qh: [0; QK_K / 4],
                scales: [0; QK_K / 16],
                d: f32_to_f16(0.0),
            };
            continue;
        }
        let iscale = -128.0 / max_scale;
        yb.d = f32_to_f16(1.0 / iscale);
        for ib in 0..QK_K / 16 {
            // C: MIN(127, nearest_int(..)) stored into an int8_t.
            yb.scales[ib] = nearest_int(iscale * scales[ib]).min(127) as i8;
        }
        let d_all = f16_to_f32(yb.d);
        for j in 0..QK_K / 16 {
            let d = d_all * yb.scales[j] as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let q = nearest_int(x[16 * j + ii] / d).clamp(-32, 31);
                l[16 * j + ii] = (q + 32) as i8;
            }
        }
        for h in 0..QK_K / 128 {
            for i in 0..32 {
                let q = |k: usize| l[128 * h + 32 * k + i] as u8;
                yb.ql[64 * h + i] = (q(0) & 0x0f) | ((q(2) & 0x0f) << 4);
                yb.ql[64 * h + i + 32] = (q(1) & 0x0f) | ((q(3) & 0x0f) << 4);
                yb.qh[32 * h + i] =
                    (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
            }
        }
    }
}

/// Q6_K → f32.
pub fn dequantize_row_q6_k_ref(x: &[BlockQ6K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK_K);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(xb.d);
        for (i, v) in yb.iter_mut().enumerate() {
            *v = d * xb.scales[i / 16] as f32 * (q6_at(xb, i) - 32) as f32;
        }
    }
}

/// The exact integer part of one block's dot product: Σ_j sc_j · Σ (q − 32)·y.
fn block_isum(xb: &BlockQ6K, yb: &BlockQ8K) -> i32 {
    let mut isum = 0i32;
    for j in 0..QK_K / 16 {
        let mut s = 0i32;
        for ii in 0..16 {
            let i = 16 * j + ii;
            s += (q6_at(xb, i) - 32) * yb.qs[i] as i32;
        }
        isum += xb.scales[j] as i32 * s;
    }
    isum
}

/// Σ x·y with y in Q8_K.
pub fn vec_dot_q6_k_q8_k_ref(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        sumf += yb.scale() * f16_to_f32(xb.d) * block_isum(xb, yb) as f32;
    }
    sumf
}

/// Σ x·y in the order of ggml's tiled K-quant GEMM (`ggml-cpu/tiled`, which
/// ggml uses on x86 for Q6_K matrices once a batch has 8 or more tokens):
/// per super-block the same exact integer sum, then
/// `acc = fma(isum · d_w, d_y, acc)` (the VNNI micro-kernel's epilogue as GCC
/// compiles it).
pub fn vec_dot_q6_k_q8_k_tiled_ref(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut acc = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        acc = (block_isum(xb, yb) as f32 * f16_to_f32(xb.d)).mul_add(yb.scale(), acc);
    }
    acc
}

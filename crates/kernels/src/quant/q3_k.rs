//! Q3_K: 256 weights in 16 groups of 16, `w = d·(sc − 32)·q`, q ∈ −4..4 (2 low bits
//! plus a high bit), 6-bit signed group scales. 110 bytes / 256 weights = 3.4375 bits per weight.
//!
//! Low bits are laid out as in Q2_K. Bit `k` of `hmask[l]` is the high bit of
//! weight `32k + l`; a *clear* high bit subtracts 4.
//! Scale `j` (0..16): low nibble from `scales[j]` (j < 8) or the high nibble of
//! `scales[j − 8]`; top two bits from bits `2·(j/4)` of `scales[8 + j % 4]`.

use super::block::Block;
use super::k_common::make_q3_quants;
use super::q8::BlockQ8K;
use super::util::{f16_to_f32, f32_to_f16, nearest_int, QK_K};

/// One Q3_K super-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ3K {
    /// High bits (see module docs).
    pub hmask: [u8; QK_K / 8],
    /// Low 2 bits, four per byte (Q2_K layout).
    pub qs: [u8; QK_K / 4],
    /// Sixteen 6-bit scales, packed (see module docs).
    pub scales: [u8; 12],
    /// Super-block scale (f16).
    pub d: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ3K>() == 110);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ3K {
    const QK: usize = QK_K;
}

/// The signed 3-bit quant (−4..4) of weight `i` (0..256).
#[inline(always)]
pub(crate) fn q3_at(b: &BlockQ3K, i: usize) -> i32 {
    let (h, r) = (i / 128, i % 128);
    let lo = ((b.qs[32 * h + r % 32] >> (2 * (r / 32))) & 3) as i32;
    let hi = (b.hmask[r % 32] >> (4 * h + r / 32)) & 1;
    lo - if hi != 0 { 0 } else { 4 }
}

/// Scale `j` (0..16) as stored, i.e. biased by 32 (0..64).
#[inline(always)]
pub(crate) fn q3_scale(scales: &[u8; 12], j: usize) -> i32 {
    let lo = if j < 8 {
        scales[j] & 0x0f
    } else {
        scales[j - 8] >> 4
    };
    let hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    (lo | (hi << 4)) as i32
}

/// ggml `quantize_row_q3_K_ref`.
pub fn quantize_row_q3_k_ref(x: &[f32], y: &mut [BlockQ3K]) {
    assert_eq!(x.len(), y.len() * QK_K);
    let mut l = [0i8; QK_K];
    let mut scales = [0f32; QK_K / 16];
    for (x, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut max_scale = 0f32;
        let mut amax = 0f32;
        for j in 0..QK_K / 16 {
            scales[j] = make_q3_quants(
                4,
                &x[16 * j..16 * j + 16],
                &mut l[16 * j..16 * j + 16],
                true,
            );
            let scale = scales[j].abs();
            if scale > amax {
                amax = scale;
                max_scale = scales[j];
            }
        }
        yb.scales = [0; 12];
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            for j in 0..QK_K / 16 {
                // C stores nearest_int into an int8_t before clamping; the value is within ±32 here.
                let q = (nearest_int(iscale * scales[j]) as i8 as i32).clamp(-32, 31) + 32;
                if j < 8 {
                    yb.scales[j] = (q & 0x0f) as u8;
                } else {
                    yb.scales[j - 8] |= ((q & 0x0f) << 4) as u8;
                }
                yb.scales[j % 4 + 8] |= ((q >> 4) << (2 * (j / 4))) as u8;
            }
            yb.d = f32_to_f16(1.0 / iscale);
        } else {
            yb.d = f32_to_f16(0.0);
        }
        let d_all = f16_to_f32(yb.d);
        for j in 0..QK_K / 16 {
            let sc = q3_scale(&yb.scales, j) - 32;
            let d = d_all * sc as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let q = nearest_int(x[16 * j + ii] / d).clamp(-4, 3);
                l[16 * j + ii] = (q + 4) as i8;
            }
        }
        yb.hmask = [0; QK_K / 8];
        for (j, lj) in l.iter_mut().enumerate() {
            if *lj > 3 {
                yb.hmask[j % 32] |= 1 << (j / 32);
                *lj -= 4;
            }
        }
        for h in 0..QK_K / 128 {
            for i in 0..32 {
                let b = 128 * h + i;
                let q = |k: usize| l[b + 32 * k] as u8;
                yb.qs[32 * h + i] = q(0) | (q(1) << 2) | (q(2) << 4) | (q(3) << 6);
            }
        }
    }
}

/// Q3_K → f32.
pub fn dequantize_row_q3_k_ref(x: &[BlockQ3K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK_K);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d_all = f16_to_f32(xb.d);
        for j in 0..QK_K / 16 {
            let dl = d_all * (q3_scale(&xb.scales, j) - 32) as f32;
            for ii in 0..16 {
                yb[16 * j + ii] = dl * q3_at(xb, 16 * j + ii) as f32;
            }
        }
    }
}

/// Σ x·y with y in Q8_K.
pub fn vec_dot_q3_k_q8_k_ref(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut isum = 0i32;
        for j in 0..QK_K / 16 {
            let mut s = 0i32;
            for ii in 0..16 {
                let i = 16 * j + ii;
                s += q3_at(xb, i) * yb.qs[i] as i32;
            }
            isum += (q3_scale(&xb.scales, j) - 32) * s;
        }
        sumf += yb.scale() * f16_to_f32(xb.d) * isum as f32;
    }
    sumf
}

//! Q5_K: Q4_K plus a fifth bit, `w = d·sc·q − dmin·m`, q ∈ 0..32.
//! 176 bytes / 256 weights = 5.5 bits per weight.
//!
//! Low nibbles as Q4_K. For chunk `c` (64 weights), bit `2c` of `qh[l]` is the
//! fifth bit of weight `64c + l` and bit `2c + 1` that of weight `64c + 32 + l`.

use super::block::Block;
use super::k_common::unpack_scale_min_k4;
use super::q4_k::quantize_k_scales;
use super::q8::BlockQ8K;
use super::util::{f16_to_f32, QK_K};

/// One Q5_K super-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ5K {
    /// Super-block scale for the group scales (f16).
    pub d: [u8; 2],
    /// Super-block scale for the group mins (f16).
    pub dmin: [u8; 2],
    /// Eight 6-bit scales and eight 6-bit mins, packed as in Q4_K.
    pub scales: [u8; 12],
    /// Fifth bits (see module docs).
    pub qh: [u8; QK_K / 8],
    /// Low 4 bits, Q4_K layout.
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ5K>() == 176);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ5K {
    const QK: usize = QK_K;
}

/// The 5-bit quant of weight `i` (0..256).
#[inline(always)]
fn q5k_at(b: &BlockQ5K, i: usize) -> i32 {
    let (c, r) = (i / 64, i % 64);
    let byte = b.qs[32 * c + r % 32];
    let lo = if r < 32 { byte & 0x0f } else { byte >> 4 };
    let hi = (b.qh[r % 32] >> (2 * c + r / 32)) & 1;
    (lo | (hi << 4)) as i32
}

/// ggml `quantize_row_q5_K_ref`.
pub fn quantize_row_q5_k_ref(x: &[f32], y: &mut [BlockQ5K]) {
    assert_eq!(x.len(), y.len() * QK_K);
    let mut l = [0u8; QK_K];
    for (x, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let (scales, d, dmin) = quantize_k_scales(x, 31, -0.5, 15, &mut l);
        yb.scales = scales;
        yb.d = d;
        yb.dmin = dmin;
        yb.qh = [0; QK_K / 8];
        for c in 0..QK_K / 64 {
            for i in 0..32 {
                let mut l1 = l[64 * c + i];
                if l1 > 15 {
                    l1 -= 16;
                    yb.qh[i] |= 1 << (2 * c);
                }
                let mut l2 = l[64 * c + 32 + i];
                if l2 > 15 {
                    l2 -= 16;
                    yb.qh[i] |= 2 << (2 * c);
                }
                yb.qs[32 * c + i] = l1 | (l2 << 4);
            }
        }
    }
}

/// Q5_K → f32.
pub fn dequantize_row_q5_k_ref(x: &[BlockQ5K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK_K);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(xb.d);
        let min = f16_to_f32(xb.dmin);
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        for j in 0..QK_K / 32 {
            let d1 = d * sc[j] as f32;
            let m1 = min * m[j] as f32;
            for ii in 0..32 {
                yb[32 * j + ii] = d1 * q5k_at(xb, 32 * j + ii) as f32 - m1;
            }
        }
    }
}

/// Σ x·y with y in Q8_K.
pub fn vec_dot_q5_k_q8_k_ref(x: &[BlockQ5K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        let mut isum = 0i32;
        let mut summ = 0i32;
        for j in 0..QK_K / 32 {
            let mut s = 0i32;
            for ii in 0..32 {
                let i = 32 * j + ii;
                s += q5k_at(xb, i) * yb.qs[i] as i32;
            }
            isum += sc[j] as i32 * s;
            summ += m[j] as i32 * (yb.bsum(2 * j) as i32 + yb.bsum(2 * j + 1) as i32);
        }
        let d = yb.scale() * f16_to_f32(xb.d);
        let dmin = yb.scale() * f16_to_f32(xb.dmin);
        sumf += d * isum as f32 - dmin * summ as f32;
    }
    sumf
}

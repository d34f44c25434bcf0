//! Q2_K: 256 weights in 16 groups of 16, `w = d·sc·q − dmin·m`, q ∈ 0..4,
//! 4-bit group scales and mins. 84 bytes / 256 weights = 2.625 bits per weight.
//!
//! Quant layout: for each 128-weight half `h`, byte `32h + l` holds weights
//! `128h + l`, `+32`, `+64`, `+96` in bit pairs 0-1, 2-3, 4-5, 6-7.

use super::block::Block;
use super::k_common::make_qkx2_quants;
use super::q8::BlockQ8K;
use super::util::{f16_to_f32, f32_to_f16, nearest_int, QK_K};

/// One Q2_K super-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ2K {
    /// Group `j`: scale in the low nibble, min in the high nibble.
    pub scales: [u8; QK_K / 16],
    /// 2-bit quants, four per byte (see module docs).
    pub qs: [u8; QK_K / 4],
    /// Super-block scale for the group scales (f16).
    pub d: [u8; 2],
    /// Super-block scale for the group mins (f16).
    pub dmin: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ2K>() == 84);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ2K {
    const QK: usize = QK_K;
}

/// The 2-bit quant of weight `i` (0..256).
#[inline(always)]
fn q2_at(qs: &[u8; 64], i: usize) -> i32 {
    let (h, r) = (i / 128, i % 128);
    ((qs[32 * h + r % 32] >> (2 * (r / 32))) & 3) as i32
}

/// ggml `quantize_row_q2_K_ref`.
pub fn quantize_row_q2_k_ref(x: &[f32], y: &mut [BlockQ2K]) {
    assert_eq!(x.len(), y.len() * QK_K);
    const Q4SCALE: f32 = 15.0;
    let mut l = [0u8; QK_K];
    let mut laux = [0u8; 16];
    let mut weights = [0f32; 16];
    let mut mins = [0f32; QK_K / 16];
    let mut scales = [0f32; QK_K / 16];
    for (x, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut max_scale = 0f32;
        let mut max_min = 0f32;
        for j in 0..QK_K / 16 {
            let xg = &x[16 * j..16 * j + 16];
            for (w, v) in weights.iter_mut().zip(xg) {
                *w = v.abs();
            }
            scales[j] = make_qkx2_quants(
                3,
                xg,
                &weights,
                &mut l[16 * j..16 * j + 16],
                &mut mins[j],
                &mut laux,
                -0.5,
                0.1,
                15,
                true,
            );
            if scales[j] > max_scale {
                max_scale = scales[j];
            }
            if mins[j] > max_min {
                max_min = mins[j];
            }
        }
        if max_scale > 0.0 {
            let iscale = Q4SCALE / max_scale;
            for j in 0..QK_K / 16 {
                yb.scales[j] = nearest_int(iscale * scales[j]) as u8;
            }
            yb.d = f32_to_f16(max_scale / Q4SCALE);
        } else {
            yb.scales = [0; QK_K / 16];
            yb.d = f32_to_f16(0.0);
        }
        if max_min > 0.0 {
            let iscale = Q4SCALE / max_min;
            for j in 0..QK_K / 16 {
                let q = nearest_int(iscale * mins[j]) as u8;
                yb.scales[j] |= q << 4;
            }
            yb.dmin = f32_to_f16(max_min / Q4SCALE);
        } else {
            yb.dmin = f32_to_f16(0.0);
        }
        let d_all = f16_to_f32(yb.d);
        let dmin_all = f16_to_f32(yb.dmin);
        for j in 0..QK_K / 16 {
            let d = d_all * (yb.scales[j] & 0x0f) as f32;
            if d == 0.0 {
                continue;
            }
            let dm = dmin_all * (yb.scales[j] >> 4) as f32;
            for ii in 0..16 {
                let q = nearest_int((x[16 * j + ii] + dm) / d).clamp(0, 3);
                l[16 * j + ii] = q as u8;
            }
        }
        for h in 0..QK_K / 128 {
            for i in 0..32 {
                let b = 128 * h + i;
                yb.qs[32 * h + i] = l[b] | (l[b + 32] << 2) | (l[b + 64] << 4) | (l[b + 96] << 6);
            }
        }
    }
}

/// Q2_K → f32.
pub fn dequantize_row_q2_k_ref(x: &[BlockQ2K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK_K);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(xb.d);
        let min = f16_to_f32(xb.dmin);
        for j in 0..QK_K / 16 {
            let sc = xb.scales[j];
            let dl = d * (sc & 0x0f) as f32;
            let ml = min * (sc >> 4) as f32;
            for ii in 0..16 {
                yb[16 * j + ii] = dl * q2_at(&xb.qs, 16 * j + ii) as f32 - ml;
            }
        }
    }
}

/// Σ x·y with y in Q8_K: the min term uses the Q8_K group sums.
pub fn vec_dot_q2_k_q8_k_ref(x: &[BlockQ2K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut summs = 0i32;
        let mut isum = 0i32;
        for j in 0..QK_K / 16 {
            summs += (xb.scales[j] >> 4) as i32 * yb.bsum(j) as i32;
            let mut s = 0i32;
            for ii in 0..16 {
                let i = 16 * j + ii;
                s += q2_at(&xb.qs, i) * yb.qs[i] as i32;
            }
            isum += (xb.scales[j] & 0x0f) as i32 * s;
        }
        let dall = yb.scale() * f16_to_f32(xb.d);
        let dmin = yb.scale() * f16_to_f32(xb.dmin);
        sumf += dall * isum as f32 - dmin * summs as f32;
    }
    sumf
}

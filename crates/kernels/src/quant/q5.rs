//! 5-bit legacy quants, 32 weights per block: Q5_0 (symmetric) and Q5_1 (scale + min).
//!
//! The low 4 bits are stored as in Q4_0 (byte `j`: weight `j` low nibble, weight
//! `j + 16` high nibble); bit `i` of the little-endian u32 `qh` is the fifth bit
//! of weight `i`.

use super::block::Block;
use super::q8::{BlockQ8_0, BlockQ8_1};
use super::util::{f16_to_f32, f32_to_f16};

/// Weights per Q5_0 / Q5_1 block.
pub const QK5: usize = 32;

/// Q5_0: `w = d · (q − 16)`, q ∈ 0..32. 22 bytes / 32 weights = 5.5 bits per weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ5_0 {
    /// Scale (f16).
    pub d: [u8; 2],
    /// Fifth bits, u32 little-endian: bit i ↔ weight i.
    pub qh: [u8; 4],
    /// Low 4 bits, nibble order as Q4_0.
    pub qs: [u8; QK5 / 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ5_0>() == 22);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ5_0 {
    const QK: usize = QK5;
}

/// Q5_1: `w = d · q + m`, q ∈ 0..32. 24 bytes / 32 weights = 6.0 bits per weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ5_1 {
    /// Scale (f16).
    pub d: [u8; 2],
    /// Minimum (f16).
    pub m: [u8; 2],
    /// Fifth bits, u32 little-endian: bit i ↔ weight i.
    pub qh: [u8; 4],
    /// Low 4 bits, nibble order as Q4_0.
    pub qs: [u8; QK5 / 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ5_1>() == 24);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ5_1 {
    const QK: usize = QK5;
}

/// The 5-bit value of weight `j` (0..32) in a block.
#[inline(always)]
fn q5_at(qs: &[u8; 16], qh: u32, j: usize) -> i32 {
    let lo = if j < 16 {
        qs[j] & 0x0f
    } else {
        qs[j - 16] >> 4
    };
    (lo as i32) | ((((qh >> j) & 1) as i32) << 4)
}

/// ggml `quantize_row_q5_0_ref`: the value of largest magnitude maps to −16.
pub fn quantize_row_q5_0_ref(x: &[f32], y: &mut [BlockQ5_0]) {
    assert_eq!(x.len(), y.len() * QK5);
    for (xb, yb) in x.chunks_exact(QK5).zip(y.iter_mut()) {
        let mut amax = 0f32;
        let mut max = 0f32;
        for &v in xb {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f32_to_f16(d);
        let mut qh = 0u32;
        for j in 0..QK5 / 2 {
            let q0 = ((xb[j] * id + 16.5) as i8).min(31) as u8;
            let q1 = ((xb[j + QK5 / 2] * id + 16.5) as i8).min(31) as u8;
            yb.qs[j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
            qh |= (((q0 & 0x10) >> 4) as u32) << j;
            qh |= (((q1 & 0x10) >> 4) as u32) << (j + QK5 / 2);
        }
        yb.qh = qh.to_le_bytes();
    }
}

/// Q5_0 → f32.
pub fn dequantize_row_q5_0_ref(x: &[BlockQ5_0], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK5);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK5)) {
        let d = f16_to_f32(xb.d);
        let qh = u32::from_le_bytes(xb.qh);
        for (j, v) in yb.iter_mut().enumerate() {
            *v = (q5_at(&xb.qs, qh, j) - 16) as f32 * d;
        }
    }
}

/// Σ x·y with y in Q8_0.
pub fn vec_dot_q5_0_q8_0_ref(x: &[BlockQ5_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let qh = u32::from_le_bytes(xb.qh);
        let mut sumi = 0i32;
        for j in 0..QK5 {
            sumi += (q5_at(&xb.qs, qh, j) - 16) * yb.qs[j] as i32;
        }
        sumf += sumi as f32 * (f16_to_f32(xb.d) * f16_to_f32(yb.d));
    }
    sumf
}

/// ggml `quantize_row_q5_1_ref`: min/max affine mapping onto 0..=31.
pub fn quantize_row_q5_1_ref(x: &[f32], y: &mut [BlockQ5_1]) {
    assert_eq!(x.len(), y.len() * QK5);
    for (xb, yb) in x.chunks_exact(QK5).zip(y.iter_mut()) {
        let mut min = f32::MAX;
        let mut max = -f32::MAX;
        for &v in xb {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f32_to_f16(d);
        yb.m = f32_to_f16(min);
        let mut qh = 0u32;
        for j in 0..QK5 / 2 {
            // ggml has no clamp here: (x − min)·id + 0.5 ≤ 31.5 already.
            let q0 = ((xb[j] - min) * id + 0.5) as u8;
            let q1 = ((xb[j + QK5 / 2] - min) * id + 0.5) as u8;
            yb.qs[j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
            qh |= (((q0 & 0x10) >> 4) as u32) << j;
            qh |= (((q1 & 0x10) >> 4) as u32) << (j + QK5 / 2);
        }
        yb.qh = qh.to_le_bytes();
    }
}

/// Q5_1 → f32.
pub fn dequantize_row_q5_1_ref(x: &[BlockQ5_1], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK5);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK5)) {
        let d = f16_to_f32(xb.d);
        let m = f16_to_f32(xb.m);
        let qh = u32::from_le_bytes(xb.qh);
        for (j, v) in yb.iter_mut().enumerate() {
            *v = q5_at(&xb.qs, qh, j) as f32 * d + m;
        }
    }
}

/// Σ x·y with y in Q8_1.
pub fn vec_dot_q5_1_q8_1_ref(x: &[BlockQ5_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let qh = u32::from_le_bytes(xb.qh);
        let mut sumi = 0i32;
        for j in 0..QK5 {
            sumi += q5_at(&xb.qs, qh, j) * yb.qs[j] as i32;
        }
        sumf += (f16_to_f32(xb.d) * f16_to_f32(yb.d)) * sumi as f32
            + f16_to_f32(xb.m) * f16_to_f32(yb.s);
    }
    sumf
}

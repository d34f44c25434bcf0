//! 4-bit legacy quants, 32 weights per block: Q4_0 (symmetric) and Q4_1 (scale + min).
//!
//! Nibble order: byte `j` holds weight `j` in its low nibble and weight `j + 16`
//! in its high nibble.

use super::block::Block;
use super::q8::{BlockQ8_0, BlockQ8_1};
use super::util::{f16_to_f32, f32_to_f16};

/// Weights per Q4_0 / Q4_1 block.
pub const QK4: usize = 32;

/// Q4_0: `w = d · (q − 8)`, q ∈ 0..16. 18 bytes / 32 weights = 4.5 bits per weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ4_0 {
    /// Scale (f16, little-endian).
    pub d: [u8; 2],
    /// Quants: low nibbles are weights 0..16, high nibbles weights 16..32.
    pub qs: [u8; QK4 / 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ4_0>() == 18);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ4_0 {
    const QK: usize = QK4;
}

/// Q4_1: `w = d · q + m`, q ∈ 0..16. 20 bytes / 32 weights = 5.0 bits per weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ4_1 {
    /// Scale (f16).
    pub d: [u8; 2],
    /// Minimum (f16).
    pub m: [u8; 2],
    /// Quants, nibble order as Q4_0.
    pub qs: [u8; QK4 / 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ4_1>() == 20);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ4_1 {
    const QK: usize = QK4;
}

/// ggml `quantize_row_q4_0_ref`: the value of largest magnitude maps to −8.
pub fn quantize_row_q4_0_ref(x: &[f32], y: &mut [BlockQ4_0]) {
    assert_eq!(x.len(), y.len() * QK4);
    for (xb, yb) in x.chunks_exact(QK4).zip(y.iter_mut()) {
        let mut amax = 0f32;
        let mut max = 0f32;
        for &v in xb {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f32_to_f16(d);
        for j in 0..QK4 / 2 {
            // `as i8` truncates toward zero like C's (int8_t) cast (the value is in 0..=16.5).
            let q0 = ((xb[j] * id + 8.5) as i8).min(15) as u8;
            let q1 = ((xb[j + QK4 / 2] * id + 8.5) as i8).min(15) as u8;
            yb.qs[j] = q0 | (q1 << 4);
        }
    }
}

/// Q4_0 → f32.
pub fn dequantize_row_q4_0_ref(x: &[BlockQ4_0], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK4);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK4)) {
        let d = f16_to_f32(xb.d);
        for j in 0..QK4 / 2 {
            yb[j] = ((xb.qs[j] & 0x0f) as i32 - 8) as f32 * d;
            yb[j + QK4 / 2] = ((xb.qs[j] >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// Σ x·y with y in Q8_0: an exact integer sum per block, scaled by `dx·dy`.
pub fn vec_dot_q4_0_q8_0_ref(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut sumi = 0i32;
        for j in 0..QK4 / 2 {
            let v0 = (xb.qs[j] & 0x0f) as i32 - 8;
            let v1 = (xb.qs[j] >> 4) as i32 - 8;
            sumi += v0 * yb.qs[j] as i32 + v1 * yb.qs[j + QK4 / 2] as i32;
        }
        sumf += sumi as f32 * (f16_to_f32(xb.d) * f16_to_f32(yb.d));
    }
    sumf
}

/// ggml `quantize_row_q4_1_ref`: min/max affine mapping onto 0..=15.
pub fn quantize_row_q4_1_ref(x: &[f32], y: &mut [BlockQ4_1]) {
    assert_eq!(x.len(), y.len() * QK4);
    for (xb, yb) in x.chunks_exact(QK4).zip(y.iter_mut()) {
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
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f32_to_f16(d);
        yb.m = f32_to_f16(min);
        for j in 0..QK4 / 2 {
            let q0 = (((xb[j] - min) * id + 0.5) as i8).min(15) as u8;
            let q1 = (((xb[j + QK4 / 2] - min) * id + 0.5) as i8).min(15) as u8;
            yb.qs[j] = q0 | (q1 << 4);
        }
    }
}

/// Q4_1 → f32.
pub fn dequantize_row_q4_1_ref(x: &[BlockQ4_1], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK4);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK4)) {
        let d = f16_to_f32(xb.d);
        let m = f16_to_f32(xb.m);
        for j in 0..QK4 / 2 {
            yb[j] = (xb.qs[j] & 0x0f) as f32 * d + m;
            yb[j + QK4 / 2] = (xb.qs[j] >> 4) as f32 * d + m;
        }
    }
}

/// Σ x·y with y in Q8_1: `dx·dy·Σq·q8 + m·s` per block (`s = dy·Σq8` is stored in the Q8_1 block).
pub fn vec_dot_q4_1_q8_1_ref(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut sumi = 0i32;
        for j in 0..QK4 / 2 {
            let v0 = (xb.qs[j] & 0x0f) as i32;
            let v1 = (xb.qs[j] >> 4) as i32;
            sumi += v0 * yb.qs[j] as i32 + v1 * yb.qs[j + QK4 / 2] as i32;
        }
        sumf += (f16_to_f32(xb.d) * f16_to_f32(yb.d)) * sumi as f32
            + f16_to_f32(xb.m) * f16_to_f32(yb.s);
    }
    sumf
}

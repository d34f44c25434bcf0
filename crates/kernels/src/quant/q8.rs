//! 8-bit quants: Q8_0 and Q8_1 (32 weights, the activation types of the legacy
//! quants) and Q8_K (256 weights, the activation type of the K-quants).
//!
//! Two rounding flavours exist in ggml for Q8_0/Q8_1:
//! - activations (`quantize_row_q8_0` on the CPU backend, x86 AVX path):
//!   `id = 127/amax`, round half to even. This is what llama.cpp uses in every
//!   matmul on x86, so [`quantize_row_q8_0_ref`] reproduces it: our dot products
//!   then see the very same int8 activations.
//! - model files (`quantize_row_q8_0_ref` in ggml-quants.c, used by
//!   llama-quantize): `id = 1/(amax/127)`, round half away from zero — here
//!   [`quantize_row_q8_0_weights_ref`].
//!
//! Q8_K has one flavour (ggml's `quantize_row_q8_K_ref`, also used at run time on x86).

use super::block::Block;
use super::util::{f16_to_f32, f32_to_f16, nearest_int, QK_K};

/// Weights per Q8_0 / Q8_1 block.
pub const QK8: usize = 32;

/// Q8_0: `w = d · q`. 34 bytes / 32 weights = 8.5 bits per weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ8_0 {
    /// Scale (f16).
    pub d: [u8; 2],
    /// Quants.
    pub qs: [i8; QK8],
}
const _: () = assert!(core::mem::size_of::<BlockQ8_0>() == 34);
// SAFETY: repr(C), only u8/i8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ8_0 {
    const QK: usize = QK8;
}

/// Q8_1: `w = d · q`, plus `s = d · Σq` for the min term of Q4_1/Q5_1 dot products.
/// 36 bytes / 32 weights = 9.0 bits per weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ8_1 {
    /// Scale (f16).
    pub d: [u8; 2],
    /// `d · Σ qs` (f16).
    pub s: [u8; 2],
    /// Quants.
    pub qs: [i8; QK8],
}
const _: () = assert!(core::mem::size_of::<BlockQ8_1>() == 36);
// SAFETY: repr(C), only u8/i8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ8_1 {
    const QK: usize = QK8;
}

/// Q8_K: `w = d · q` with an f32 scale and the sums of each 16 quants.
/// 292 bytes / 256 weights = 9.125 bits per weight (intermediate only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ8K {
    /// Scale (f32, little-endian).
    pub d: [u8; 4],
    /// Quants.
    pub qs: [i8; QK_K],
    /// Sums of the quants of each group of 16 (16 × i16, little-endian).
    pub bsums: [u8; QK_K / 8],
}
const _: () = assert!(core::mem::size_of::<BlockQ8K>() == 292);
// SAFETY: repr(C), only u8/i8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ8K {
    const QK: usize = QK_K;
}

impl BlockQ8K {
    /// The scale.
    #[inline(always)]
    pub fn scale(&self) -> f32 {
        f32::from_le_bytes(self.d)
    }

    /// Sum of quants `16·i .. 16·i + 16`.
    #[inline(always)]
    pub fn bsum(&self, i: usize) -> i16 {
        i16::from_le_bytes([self.bsums[2 * i], self.bsums[2 * i + 1]])
    }
}

/// Largest |x| of a block (NaN-free input assumed, as in ggml).
#[inline(always)]
fn abs_max(x: &[f32]) -> f32 {
    x.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Activation quantizer (ggml CPU `quantize_row_q8_0`, x86 path): `d = amax/127`,
/// `q = round_half_even(x · 127/amax)`.
pub fn quantize_row_q8_0_ref(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), y.len() * QK8);
    for (xb, yb) in x.chunks_exact(QK8).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        yb.d = f32_to_f16(d);
        for (q, &v) in yb.qs.iter_mut().zip(xb) {
            *q = (v * id).round_ties_even() as i8;
        }
    }
}

/// File quantizer (ggml `quantize_row_q8_0_ref`): `id = 1/d`, round half away from zero.
pub fn quantize_row_q8_0_weights_ref(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), y.len() * QK8);
    for (xb, yb) in x.chunks_exact(QK8).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f32_to_f16(d);
        for (q, &v) in yb.qs.iter_mut().zip(xb) {
            *q = (v * id).round() as i8;
        }
    }
}

/// Q8_0 → f32.
pub fn dequantize_row_q8_0_ref(x: &[BlockQ8_0], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK8);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK8)) {
        let d = f16_to_f32(xb.d);
        for (v, &q) in yb.iter_mut().zip(&xb.qs) {
            *v = q as f32 * d;
        }
    }
}

/// Σ x·y, both Q8_0.
pub fn vec_dot_q8_0_q8_0_ref(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let sumi: i32 = xb
            .qs
            .iter()
            .zip(&yb.qs)
            .map(|(&a, &b)| a as i32 * b as i32)
            .sum();
        sumf += sumi as f32 * (f16_to_f32(xb.d) * f16_to_f32(yb.d));
    }
    sumf
}

/// Activation quantizer (ggml CPU `quantize_row_q8_1`, x86 path): as Q8_0, plus `s = d·Σq`.
pub fn quantize_row_q8_1_ref(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), y.len() * QK8);
    for (xb, yb) in x.chunks_exact(QK8).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        yb.d = f32_to_f16(d);
        let mut sum = 0i32;
        for (q, &v) in yb.qs.iter_mut().zip(xb) {
            *q = (v * id).round_ties_even() as i8;
            sum += *q as i32;
        }
        yb.s = f32_to_f16(d * sum as f32);
    }
}

/// File quantizer (ggml `quantize_row_q8_1_ref`): `id = 1/d`, round half away from zero.
pub fn quantize_row_q8_1_weights_ref(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), y.len() * QK8);
    for (xb, yb) in x.chunks_exact(QK8).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb.d = f32_to_f16(d);
        let mut sum = 0i32;
        for (q, &v) in yb.qs.iter_mut().zip(xb) {
            *q = (v * id).round() as i8;
            sum += *q as i32;
        }
        yb.s = f32_to_f16(sum as f32 * d);
    }
}

/// Q8_1 → f32 (`s` is redundant and ignored).
pub fn dequantize_row_q8_1_ref(x: &[BlockQ8_1], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK8);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK8)) {
        let d = f16_to_f32(xb.d);
        for (v, &q) in yb.iter_mut().zip(&xb.qs) {
            *v = q as f32 * d;
        }
    }
}

/// Σ x·y, both Q8_1 (ggml has no such kernel; provided so every type has a dot).
pub fn vec_dot_q8_1_q8_1_ref(x: &[BlockQ8_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let sumi: i32 = xb
            .qs
            .iter()
            .zip(&yb.qs)
            .map(|(&a, &b)| a as i32 * b as i32)
            .sum();
        sumf += sumi as f32 * (f16_to_f32(xb.d) * f16_to_f32(yb.d));
    }
    sumf
}

/// Index of the first element of largest |x| (ggml keeps the first on ties).
#[inline(always)]
pub(crate) fn first_abs_max(x: &[f32]) -> (f32, f32) {
    let mut amax = 0f32;
    let mut max = 0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    (amax, max)
}

/// ggml `quantize_row_q8_K_ref`: `iscale = −127/max` where `max` is the signed value
/// of largest magnitude, `q = min(127, nearest_int(iscale·x))`, `d = 1/iscale`.
pub fn quantize_row_q8_k_ref(x: &[f32], y: &mut [BlockQ8K]) {
    assert_eq!(x.len(), y.len() * QK_K);
    for (xb, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let (amax, max) = first_abs_max(xb);
        if amax == 0.0 {
            // ggml leaves bsums untouched here; zero is the only sensible value.
            *yb = BlockQ8K {
                d: [0; 4],
                qs: [0; QK_K],
                bsums: [0; QK_K / 8],
            };
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in yb.qs.iter_mut().zip(xb) {
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        for g in 0..QK_K / 16 {
            let s: i32 = yb.qs[16 * g..16 * g + 16].iter().map(|&q| q as i32).sum();
            yb.bsums[2 * g..2 * g + 2].copy_from_slice(&(s as i16).to_le_bytes());
        }
        yb.d = (1.0 / iscale).to_le_bytes();
    }
}

/// Q8_K → f32.
pub fn dequantize_row_q8_k_ref(x: &[BlockQ8K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK_K);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = xb.scale();
        for (v, &q) in yb.iter_mut().zip(&xb.qs) {
            *v = d * q as f32;
        }
    }
}

/// Σ x·y, both Q8_K.
pub fn vec_dot_q8_k_q8_k_ref(x: &[BlockQ8K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let sumi: i32 = xb
            .qs
            .iter()
            .zip(&yb.qs)
            .map(|(&a, &b)| a as i32 * b as i32)
            .sum();
        sumf += sumi as f32 * (xb.scale() * yb.scale());
    }
    sumf
}

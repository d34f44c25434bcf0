//! Shared helpers of the quant tests (included with `mod`, not a test target on its own).
#![allow(dead_code)]

use edgellm_kernels::quant::{reference, QuantType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Block counts of ggml's test-quantize-fns (odd sizes catch tail bugs).
pub const BLOCK_COUNTS: [usize; 15] = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 127, 255, 1023];

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Standard normal samples (Box–Muller), with a few ×8 outliers like real weights.
pub fn gaussian(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.gen_range(1e-12..1.0);
            let u2: f64 = rng.gen_range(0.0..1.0);
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let outlier = if rng.gen_range(0..200) == 0 { 8.0 } else { 1.0 };
            (z * outlier) as f32
        })
        .collect()
}

/// Reference quantization of `x` into `ty`.
pub fn quantize_ref(ty: QuantType, x: &[f32]) -> Vec<u8> {
    let mut q = vec![0u8; ty.row_bytes(x.len())];
    reference::quantize_row_ref(ty, x, &mut q);
    q
}

/// Reference dequantization of `n` values.
pub fn dequantize_ref(ty: QuantType, q: &[u8], n: usize) -> Vec<f32> {
    let mut y = vec![0f32; n];
    reference::dequantize_row_ref(ty, q, &mut y);
    y
}

/// Σ|x_i·y_i| in f64: the scale of the rounding error a dot product may have.
pub fn abs_dot(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 * *b as f64).abs())
        .sum()
}

/// Σ x_i·y_i in f64.
pub fn dot_f64(x: &[f32], y: &[f32]) -> f64 {
    x.iter().zip(y).map(|(a, b)| *a as f64 * *b as f64).sum()
}

pub fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

pub fn rmse(a: &[f32], b: &[f32]) -> f64 {
    (a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64)
        .sqrt()
}

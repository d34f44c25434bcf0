//! Unquantized types: F32 (4 bytes), F16 (IEEE half, 2 bytes), BF16 (bfloat16, 2 bytes).
//!
//! Their `vec_dot_type` is the type itself, as in ggml: activations are rounded
//! to F16/BF16 first, then multiplied and accumulated in f32 (here: f64 in the
//! scalar reference, like ggml's `ggml_float` accumulator).

/// F32 bytes → f32.
pub fn dequantize_row_f32_ref(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 4);
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    }
}

/// f32 → F32 bytes.
pub fn quantize_row_f32_ref(src: &[f32], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 4);
    for (d, s) in dst.chunks_exact_mut(4).zip(src) {
        d.copy_from_slice(&s.to_le_bytes());
    }
}

/// Σ x·y over F32 bytes, accumulated in f64.
pub fn vec_dot_f32_ref(x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sum = 0f64;
    for (a, b) in x.chunks_exact(4).zip(y.chunks_exact(4)) {
        let a = f32::from_le_bytes([a[0], a[1], a[2], a[3]]);
        let b = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        sum += (a * b) as f64;
    }
    sum as f32
}

#[inline(always)]
fn f16_at(s: &[u8]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([s[0], s[1]])).to_f32()
}

#[inline(always)]
fn bf16_at(s: &[u8]) -> f32 {
    half::bf16::from_bits(u16::from_le_bytes([s[0], s[1]])).to_f32()
}

/// F16 bytes → f32.
pub fn dequantize_row_f16_ref(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 2);
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = f16_at(s);
    }
}

/// f32 → F16 bytes, round to nearest even.
pub fn quantize_row_f16_ref(src: &[f32], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2);
    for (d, s) in dst.chunks_exact_mut(2).zip(src) {
        d.copy_from_slice(&half::f16::from_f32(*s).to_bits().to_le_bytes());
    }
}

/// Σ x·y over F16 bytes: products in f32, accumulated in f64 (ggml's scalar path).
pub fn vec_dot_f16_ref(x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sum = 0f64;
    for (a, b) in x.chunks_exact(2).zip(y.chunks_exact(2)) {
        sum += (f16_at(a) * f16_at(b)) as f64;
    }
    sum as f32
}

/// BF16 bytes → f32 (exact: bf16 is the top half of an f32).
pub fn dequantize_row_bf16_ref(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 2);
    for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = bf16_at(s);
    }
}

/// f32 → BF16 bytes, round to nearest even (NaN stays NaN), as ggml's `GGML_FP32_TO_BF16`.
pub fn quantize_row_bf16_ref(src: &[f32], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2);
    for (d, s) in dst.chunks_exact_mut(2).zip(src) {
        d.copy_from_slice(&fp32_to_bf16_bits(*s).to_le_bytes());
    }
}

/// ggml's f32 → bf16 rounding: NaN is quieted, everything else rounds to nearest even.
#[inline(always)]
pub fn fp32_to_bf16_bits(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u + (0x7fff + ((u >> 16) & 1))) >> 16) as u16
}

/// Σ x·y over BF16 bytes: products in f32, accumulated in f64.
pub fn vec_dot_bf16_ref(x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sum = 0f64;
    for (a, b) in x.chunks_exact(2).zip(y.chunks_exact(2)) {
        sum += (bf16_at(a) * bf16_at(b)) as f64;
    }
    sum as f32
}

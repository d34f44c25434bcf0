//! Scalar helpers shared by the quant families.

/// Weights per K-quant super-block.
pub const QK_K: usize = 256;

/// f16 (little-endian bytes) → f32.
#[inline(always)]
pub fn f16_to_f32(b: [u8; 2]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes(b)).to_f32()
}

/// f32 → f16 (little-endian bytes), round to nearest even as ggml's `GGML_FP32_TO_FP16`.
#[inline(always)]
pub fn f32_to_f16(x: f32) -> [u8; 2] {
    half::f16::from_f32(x).to_bits().to_le_bytes()
}

/// ggml's `nearest_int`: round to nearest, ties to even, via the 1.5·2^23 trick.
/// Exact for |x| ≤ 4194303, which every caller guarantees.
#[inline(always)]
pub fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    (v.to_bits() as i32 & 0x007f_ffff) - 0x0040_0000
}

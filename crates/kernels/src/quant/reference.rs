//! Scalar twins of the dispatched entry points: the spec every SIMD kernel is
//! tested against. Same signatures as [`super::dequantize_row`],
//! [`super::quantize_row`] and [`super::vec_dot`].

use super::block::{as_blocks, as_blocks_mut};
use super::{float, q2_k, q3_k, q4, q4_k, q5, q5_k, q6_k, q8, Kernels, QuantType};

/// Scalar [`super::dequantize_row`].
pub fn dequantize_row_ref(ty: QuantType, src: &[u8], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        ty.row_bytes(dst.len()),
        "dequantize_row_ref: {} source bytes",
        ty.name()
    );
    (scalar_kernels(ty).dequantize_row)(src, dst)
}

/// Scalar [`super::quantize_row`].
pub fn quantize_row_ref(ty: QuantType, src: &[f32], dst: &mut [u8]) {
    assert_eq!(
        dst.len(),
        ty.row_bytes(src.len()),
        "quantize_row_ref: {} destination bytes",
        ty.name()
    );
    (scalar_kernels(ty).quantize_row)(src, dst)
}

/// Scalar [`super::vec_dot_x4`]: [`vec_dot_ref`] once per activation row.
pub fn vec_dot_x4_ref(ty: QuantType, n: usize, x: &[u8], ys: [&[u8]; 4]) -> [f32; 4] {
    ys.map(|y| vec_dot_ref(ty, n, x, y))
}

/// Scalar [`super::vec_dot`].
pub fn vec_dot_ref(ty: QuantType, n: usize, x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(
        x.len(),
        ty.row_bytes(n),
        "vec_dot_ref: {} weight bytes",
        ty.name()
    );
    assert_eq!(
        y.len(),
        ty.vec_dot_type().row_bytes(n),
        "vec_dot_ref: {} activation bytes",
        ty.name()
    );
    (scalar_kernels(ty).vec_dot)(n, x, y)
}

/// Builds a scalar [`Kernels`] from block-typed reference functions.
macro_rules! scalar_set {
    ($dq:path, $q:path, $vd:path) => {
        Kernels {
            isa: "scalar",
            dequantize_row: |s, d| $dq(as_blocks(s), d),
            quantize_row: |s, d| $q(s, as_blocks_mut(d)),
            vec_dot: |_n, x, y| $vd(as_blocks(x), as_blocks(y)),
            vec_dot_x4: Some(|_n, x, ys| ys.map(|y| $vd(as_blocks(x), as_blocks(y)))),
            gemm_4x4: None,
        }
    };
}

/// The scalar kernel set of `ty`.
pub(crate) fn scalar_kernels(ty: QuantType) -> Kernels {
    match ty {
        QuantType::F32 => Kernels {
            isa: "scalar",
            dequantize_row: float::dequantize_row_f32_ref,
            quantize_row: float::quantize_row_f32_ref,
            vec_dot: |_n, x, y| float::vec_dot_f32_ref(x, y),
            vec_dot_x4: None,
            gemm_4x4: None,
        },
        QuantType::F16 => Kernels {
            isa: "scalar",
            dequantize_row: float::dequantize_row_f16_ref,
            quantize_row: float::quantize_row_f16_ref,
            vec_dot: |_n, x, y| float::vec_dot_f16_ref(x, y),
            vec_dot_x4: None,
            gemm_4x4: None,
        },
        QuantType::BF16 => Kernels {
            isa: "scalar",
            dequantize_row: float::dequantize_row_bf16_ref,
            quantize_row: float::quantize_row_bf16_ref,
            vec_dot: |_n, x, y| float::vec_dot_bf16_ref(x, y),
            vec_dot_x4: None,
            gemm_4x4: None,
        },
        QuantType::Q4_0 => scalar_set!(
            q4::dequantize_row_q4_0_ref,
            q4::quantize_row_q4_0_ref,
            q4::vec_dot_q4_0_q8_0_ref
        ),
        QuantType::Q4_1 => scalar_set!(
            q4::dequantize_row_q4_1_ref,
            q4::quantize_row_q4_1_ref,
            q4::vec_dot_q4_1_q8_1_ref
        ),
        QuantType::Q5_0 => scalar_set!(
            q5::dequantize_row_q5_0_ref,
            q5::quantize_row_q5_0_ref,
            q5::vec_dot_q5_0_q8_0_ref
        ),
        QuantType::Q5_1 => scalar_set!(
            q5::dequantize_row_q5_1_ref,
            q5::quantize_row_q5_1_ref,
            q5::vec_dot_q5_1_q8_1_ref
        ),
        QuantType::Q8_0 => scalar_set!(
            q8::dequantize_row_q8_0_ref,
            q8::quantize_row_q8_0_ref,
            q8::vec_dot_q8_0_q8_0_ref
        ),
        QuantType::Q8_1 => scalar_set!(
            q8::dequantize_row_q8_1_ref,
            q8::quantize_row_q8_1_ref,
            q8::vec_dot_q8_1_q8_1_ref
        ),
        QuantType::Q8_K => scalar_set!(
            q8::dequantize_row_q8_k_ref,
            q8::quantize_row_q8_k_ref,
            q8::vec_dot_q8_k_q8_k_ref
        ),
        QuantType::Q2_K => scalar_set!(
            q2_k::dequantize_row_q2_k_ref,
            q2_k::quantize_row_q2_k_ref,
            q2_k::vec_dot_q2_k_q8_k_ref
        ),
        QuantType::Q3_K => scalar_set!(
            q3_k::dequantize_row_q3_k_ref,
            q3_k::quantize_row_q3_k_ref,
            q3_k::vec_dot_q3_k_q8_k_ref
        ),
        QuantType::Q4_K => scalar_set!(
            q4_k::dequantize_row_q4_k_ref,
            q4_k::quantize_row_q4_k_ref,
            q4_k::vec_dot_q4_k_q8_k_ref
        ),
        QuantType::Q5_K => scalar_set!(
            q5_k::dequantize_row_q5_k_ref,
            q5_k::quantize_row_q5_k_ref,
            q5_k::vec_dot_q5_k_q8_k_ref
        ),
        QuantType::Q6_K => scalar_set!(
            q6_k::dequantize_row_q6_k_ref,
            q6_k::quantize_row_q6_k_ref,
            q6_k::vec_dot_q6_k_q8_k_ref
        ),
    }
}

pub use super::float::fp32_to_bf16_bits;
pub use super::q2_k::{dequantize_row_q2_k_ref, quantize_row_q2_k_ref, vec_dot_q2_k_q8_k_ref};
pub use super::q3_k::{dequantize_row_q3_k_ref, quantize_row_q3_k_ref, vec_dot_q3_k_q8_k_ref};
pub use super::q4::{
    dequantize_row_q4_0_ref, dequantize_row_q4_1_ref, quantize_row_q4_0_ref, quantize_row_q4_1_ref,
    vec_dot_q4_0_q8_0_ref, vec_dot_q4_1_q8_1_ref,
};
pub use super::q4_k::{dequantize_row_q4_k_ref, quantize_row_q4_k_ref, vec_dot_q4_k_q8_k_ref};
pub use super::q5::{
    dequantize_row_q5_0_ref, dequantize_row_q5_1_ref, quantize_row_q5_0_ref, quantize_row_q5_1_ref,
    vec_dot_q5_0_q8_0_ref, vec_dot_q5_1_q8_1_ref,
};
pub use super::q5_k::{dequantize_row_q5_k_ref, quantize_row_q5_k_ref, vec_dot_q5_k_q8_k_ref};
pub use super::q6_k::{
    dequantize_row_q6_k_ref, quantize_row_q6_k_ref, vec_dot_q6_k_q8_k_ref,
    vec_dot_q6_k_q8_k_tiled_ref,
};
pub use super::q8::{
    dequantize_row_q8_0_ref, dequantize_row_q8_1_ref, dequantize_row_q8_k_ref,
    quantize_row_q8_0_ref, quantize_row_q8_0_weights_ref, quantize_row_q8_1_ref,
    quantize_row_q8_1_weights_ref, quantize_row_q8_k_ref, vec_dot_q8_0_q8_0_ref,
    vec_dot_q8_1_q8_1_ref, vec_dot_q8_k_q8_k_ref,
};

/// Scalar Q4_K dot product in repacked (`q4_K_8x8`) GEMV order, with the
/// [`super::vec_dot`] signature.
pub fn vec_dot_q4_k_interleaved_ref(_n: usize, x: &[u8], y: &[u8]) -> f32 {
    q4_k::vec_dot_q4_k_q8_k_interleaved_ref(as_blocks(x), as_blocks(y), false)
}

/// Scalar Q4_K dot product in repacked (`q4_K_8x8`) GEMM order, with the
/// [`super::vec_dot`] signature.
pub fn vec_dot_q4_k_interleaved_gemm_ref(_n: usize, x: &[u8], y: &[u8]) -> f32 {
    q4_k::vec_dot_q4_k_q8_k_interleaved_ref(as_blocks(x), as_blocks(y), true)
}

/// Scalar Q6_K dot product in ggml's tiled-GEMM order, with the
/// [`super::vec_dot`] signature.
pub fn vec_dot_q6_k_tiled_ref(_n: usize, x: &[u8], y: &[u8]) -> f32 {
    q6_k::vec_dot_q6_k_q8_k_tiled_ref(as_blocks(x), as_blocks(y))
}

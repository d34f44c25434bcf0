//! Per-ISA kernels and the run-time choice between them.

use super::{Kernels, QuantType};

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "aarch64")]
mod aarch64;

/// Appends the SIMD kernel sets usable on this CPU for `ty`, slowest first.
pub(crate) fn push_variants(ty: QuantType, v: &mut Vec<Kernels>) {
    #[cfg(target_arch = "x86_64")]
    x86_64::push_variants(ty, v);
    #[cfg(target_arch = "aarch64")]
    aarch64::push_variants(ty, v);
    let _ = (ty, &v);
}

/// The SIMD level in use, for logs.
pub(crate) fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::simd_level()
    }
    #[cfg(target_arch = "aarch64")]
    {
        aarch64::simd_level()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// The fastest Q4_K dot products in repacked (`q4_K_8x8`) GEMV and GEMM order
/// on this CPU, if it has SIMD ones.
pub(crate) fn q4_k_interleaved_dot() -> Option<[super::VecDotFn; 2]> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::q4_k_interleaved_dot()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The fastest Q4_K one-row × four-token dot product in repacked
/// (`q4_K_8x8`) GEMM order on this CPU, if it has a SIMD one.
pub(crate) fn q4_k_interleaved_gemm_x4() -> Option<super::VecDotX4Fn> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::q4_k_interleaved_gemm_x4()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The Q6_K dot products (one token, one row × four tokens) in the order of
/// ggml's tiled GEMM, where ggml uses that GEMM (x86 with AVX2); `None`
/// elsewhere, where ggml keeps its `vec_dot` for every batch size.
pub(crate) fn q6_k_tiled_dots() -> Option<(super::VecDotFn, super::VecDotX4Fn)> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::q6_k_tiled_dots()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Every SIMD variant on this CPU of the order-specific dots: Q4_K repacked
/// GEMV, Q4_K repacked GEMM, Q6_K tiled (for tests).
pub(crate) fn order_dot_variants() -> Vec<(&'static str, [super::VecDotFn; 3])> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_64::order_dot_variants()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

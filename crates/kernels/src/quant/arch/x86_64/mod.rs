//! x86-64 kernels: AVX2 + FMA + F16C, and AVX512-VNNI (256-bit `vpdpbusd`, 32
//! vector registers) for the 32-weight types where present, chosen at run time.
//! The VNNI kernels produce the same integer lanes, hence bit-identical results.
//!
//! Every kernel is a safe `#[target_feature]` function over typed block
//! slices; the only `unsafe` is the unaligned vector loads/stores (bounds
//! checked by the callers' slice types) and the call from the dispatch
//! wrappers below, which are installed only after the features were detected.

use super::super::block::{as_blocks, as_blocks_mut};
use super::super::{Kernels, QuantType};
use core::arch::x86_64::*;

mod float;
mod kquants;
mod legacy;
mod multi;
mod quantize;

/// Whether AVX2, FMA and F16C are all present (probed once by std).
fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// Whether AVX512-VNNI with 256-bit forms (AVX512VL) is present, on top of
/// [`has_avx2`].
fn has_vnni() -> bool {
    has_avx2() && is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("avx512vl")
}

pub(crate) fn simd_level() -> &'static str {
    if has_vnni() {
        "avx2+fma+f16c+avx512vnni"
    } else if has_avx2() {
        "avx2+fma+f16c"
    } else {
        "scalar"
    }
}

/// The AVX2 Q4_K dot products in repacked (`q4_K_8x8`) GEMV and GEMM order, if available.
pub(crate) fn q4_k_interleaved_dot() -> Option<[super::super::VecDotFn; 2]> {
    if has_vnni() {
        return Some([
            vnni::vec_dot_q4_k_interleaved as super::super::VecDotFn,
            vnni::vec_dot_q4_k_interleaved_gemm,
        ]);
    }
    has_avx2().then_some([
        avx2::vec_dot_q4_k_interleaved as super::super::VecDotFn,
        avx2::vec_dot_q4_k_interleaved_gemm,
    ])
}

/// Every SIMD variant on this CPU of the repacked-order Q4_K dots
/// ([GEMV, GEMM]) and the tiled-order Q6_K dot, slowest first (for tests).
pub(crate) fn order_dot_variants() -> Vec<(&'static str, [super::super::VecDotFn; 3])> {
    let mut v = Vec::new();
    if has_avx2() {
        v.push((
            "avx2",
            [
                avx2::vec_dot_q4_k_interleaved as super::super::VecDotFn,
                avx2::vec_dot_q4_k_interleaved_gemm,
                avx2::vec_dot_q6_k_tiled,
            ],
        ));
    }
    if has_vnni() {
        v.push((
            "avx512vnni",
            [
                vnni::vec_dot_q4_k_interleaved as super::super::VecDotFn,
                vnni::vec_dot_q4_k_interleaved_gemm,
                vnni::vec_dot_q6_k_tiled,
            ],
        ));
    }
    v
}

/// The AVX2 Q4_K multi-token dot product in repacked (`q4_K_8x8`) GEMM order
/// (one weight row × four tokens), if available.
pub(crate) fn q4_k_interleaved_gemm_x4() -> Option<super::super::VecDotX4Fn> {
    has_avx2().then_some(avx2::vec_dot_x4_q4_k_interleaved_gemm as super::super::VecDotX4Fn)
}

/// The AVX2 Q6_K dot products (one token, one row × four tokens) in the
/// order of ggml's tiled GEMM, if available.
pub(crate) fn q6_k_tiled_dots() -> Option<(super::super::VecDotFn, super::super::VecDotX4Fn)> {
    if has_vnni() {
        return Some((
            vnni::vec_dot_q6_k_tiled as super::super::VecDotFn,
            avx2::vec_dot_x4_q6_k_tiled as super::super::VecDotX4Fn,
        ));
    }
    has_avx2().then_some((
        avx2::vec_dot_q6_k_tiled as super::super::VecDotFn,
        avx2::vec_dot_x4_q6_k_tiled as super::super::VecDotX4Fn,
    ))
}

/// Appends the AVX2 set of `ty` (scalar entries where no AVX2 kernel exists).
pub(crate) fn push_variants(ty: QuantType, v: &mut Vec<Kernels>) {
    if !has_avx2() {
        return;
    }
    let mut k = v[0];
    k.isa = "avx2";
    // Types without an AVX2 multi-token kernel call the AVX2 `vec_dot` per row.
    k.vec_dot_x4 = None;
    match ty {
        QuantType::F32 => k.vec_dot = avx2::vec_dot_f32,
        QuantType::F16 => {
            k.vec_dot = avx2::vec_dot_f16;
            k.dequantize_row = avx2::dequantize_f16;
            k.quantize_row = avx2::quantize_f16;
        }
        QuantType::BF16 => {
            k.vec_dot = avx2::vec_dot_bf16;
            k.dequantize_row = avx2::dequantize_bf16;
            k.quantize_row = avx2::quantize_bf16;
        }
        QuantType::Q4_0 => {
            k.vec_dot = avx2::vec_dot_q4_0;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q4_0);
        }
        QuantType::Q4_1 => {
            k.vec_dot = avx2::vec_dot_q4_1;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q4_1);
        }
        QuantType::Q5_0 => {
            k.vec_dot = avx2::vec_dot_q5_0;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q5_0);
        }
        QuantType::Q5_1 => k.vec_dot = avx2::vec_dot_q5_1,
        QuantType::Q8_0 => {
            k.vec_dot = avx2::vec_dot_q8_0;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q8_0);
            k.quantize_row = avx2::quantize_q8_0;
            k.dequantize_row = avx2::dequantize_q8_0;
        }
        QuantType::Q8_1 => {
            k.vec_dot = avx2::vec_dot_q8_1;
            k.quantize_row = avx2::quantize_q8_1;
        }
        QuantType::Q8_K => {
            k.vec_dot = avx2::vec_dot_q8_k;
            k.quantize_row = avx2::quantize_q8_k;
        }
        QuantType::Q2_K => k.vec_dot = avx2::vec_dot_q2_k,
        QuantType::Q3_K => k.vec_dot = avx2::vec_dot_q3_k,
        QuantType::Q4_K => {
            k.vec_dot = avx2::vec_dot_q4_k;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q4_k);
            k.dequantize_row = avx2::dequantize_q4_k;
        }
        QuantType::Q5_K => {
            k.vec_dot = avx2::vec_dot_q5_k;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q5_k);
        }
        QuantType::Q6_K => {
            k.vec_dot = avx2::vec_dot_q6_k;
            k.vec_dot_x4 = Some(avx2::vec_dot_x4_q6_k);
            k.dequantize_row = avx2::dequantize_q6_k;
        }
    }
    v.push(k);
    if has_vnni() {
        // The 32-weight types' integer dots with `vpdpbusd`: same lanes, same results.
        k.isa = "avx512vnni";
        match ty {
            QuantType::Q4_0 => {
                k.vec_dot = vnni::vec_dot_q4_0;
                k.vec_dot_x4 = Some(vnni::vec_dot_x4_q4_0);
                k.gemm_4x4 = Some(vnni::gemm_4x4_q4_0);
            }
            QuantType::Q4_1 => {
                k.vec_dot = vnni::vec_dot_q4_1;
                k.vec_dot_x4 = Some(vnni::vec_dot_x4_q4_1);
            }
            QuantType::Q5_0 => {
                k.vec_dot = vnni::vec_dot_q5_0;
                k.vec_dot_x4 = Some(vnni::vec_dot_x4_q5_0);
                k.gemm_4x4 = Some(vnni::gemm_4x4_q5_0);
            }
            QuantType::Q5_1 => k.vec_dot = vnni::vec_dot_q5_1,
            QuantType::Q8_0 => {
                k.vec_dot = vnni::vec_dot_q8_0;
                k.vec_dot_x4 = Some(vnni::vec_dot_x4_q8_0);
                k.gemm_4x4 = Some(vnni::gemm_4x4_q8_0);
            }
            QuantType::Q8_1 => k.vec_dot = vnni::vec_dot_q8_1,
            QuantType::Q6_K => k.vec_dot = vnni::vec_dot_q6_k,
            _ => return,
        }
        v.push(k);
    }
}

/// Safe entry points for the AVX512-VNNI kernels; installed by
/// `push_variants` only after `has_vnni()` returned true, the invariant every
/// `SAFETY` below cites.
mod vnni {
    use super::*;

    macro_rules! entry_dot {
        ($name:ident, $kernel:path) => {
            pub(super) fn $name(_n: usize, x: &[u8], y: &[u8]) -> f32 {
                debug_assert!(has_vnni());
                // SAFETY: installed only when AVX2/FMA/F16C/AVX512-VNNI/VL were detected.
                unsafe { $kernel(as_blocks(x), as_blocks(y)) }
            }
        };
    }
    entry_dot!(vec_dot_q4_0, legacy::vnni::vec_dot_q4_0_q8_0);
    entry_dot!(vec_dot_q4_1, legacy::vnni::vec_dot_q4_1_q8_1);
    entry_dot!(vec_dot_q5_0, legacy::vnni::vec_dot_q5_0_q8_0);
    entry_dot!(vec_dot_q5_1, legacy::vnni::vec_dot_q5_1_q8_1);
    entry_dot!(vec_dot_q8_0, legacy::vnni::vec_dot_q8_0_q8_0);
    entry_dot!(vec_dot_q8_1, legacy::vnni::vec_dot_q8_1_q8_1);
    entry_dot!(
        vec_dot_q4_k_interleaved,
        kquants::vnni::vec_dot_q4_k_q8_k_interleaved::<false>
    );
    entry_dot!(
        vec_dot_q4_k_interleaved_gemm,
        kquants::vnni::vec_dot_q4_k_q8_k_interleaved::<true>
    );
    entry_dot!(vec_dot_q6_k, kquants::vnni::vec_dot_q6_k_q8_k::<false>);
    entry_dot!(vec_dot_q6_k_tiled, kquants::vnni::vec_dot_q6_k_q8_k::<true>);

    macro_rules! entry_dot_x4 {
        ($name:ident, $kernel:path) => {
            pub(super) fn $name(_n: usize, x: &[u8], ys: [&[u8]; 4]) -> [f32; 4] {
                debug_assert!(has_vnni());
                // SAFETY: installed only when AVX2/FMA/F16C/AVX512-VNNI/VL were detected.
                unsafe { $kernel(as_blocks(x), ys.map(as_blocks)) }
            }
        };
    }
    entry_dot_x4!(vec_dot_x4_q4_0, multi::vnni::vec_dot_q4_0_q8_0_x4);
    entry_dot_x4!(vec_dot_x4_q4_1, multi::vnni::vec_dot_q4_1_q8_1_x4);
    entry_dot_x4!(vec_dot_x4_q5_0, multi::vnni::vec_dot_q5_0_q8_0_x4);
    entry_dot_x4!(vec_dot_x4_q8_0, multi::vnni::vec_dot_q8_0_q8_0_x4);

    macro_rules! entry_gemm_4x4 {
        ($name:ident, $kernel:path) => {
            pub(super) fn $name(_n: usize, xs: [&[u8]; 4], ys: [&[u8]; 4]) -> [[f32; 4]; 4] {
                debug_assert!(has_vnni());
                // SAFETY: installed only when AVX2/FMA/F16C/AVX512-VNNI/VL were detected.
                unsafe { $kernel(xs.map(as_blocks), ys.map(as_blocks)) }
            }
        };
    }
    entry_gemm_4x4!(gemm_4x4_q4_0, multi::vnni4x4::gemm_q4_0);
    entry_gemm_4x4!(gemm_4x4_q5_0, multi::vnni4x4::gemm_q5_0);
    entry_gemm_4x4!(gemm_4x4_q8_0, multi::vnni4x4::gemm_q8_0);
}

/// Safe entry points with the [`Kernels`] signatures. They are private and
/// only reach callers through `push_variants`, which installs them after
/// `has_avx2()` returned true; that is the invariant every `SAFETY` below cites.
mod avx2 {
    use super::*;

    macro_rules! entry_dot {
        ($name:ident, $kernel:path) => {
            pub(super) fn $name(_n: usize, x: &[u8], y: &[u8]) -> f32 {
                debug_assert!(has_avx2());
                // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
                unsafe { $kernel(as_blocks(x), as_blocks(y)) }
            }
        };
    }
    entry_dot!(vec_dot_q4_0, legacy::avx2::vec_dot_q4_0_q8_0);
    entry_dot!(vec_dot_q4_1, legacy::avx2::vec_dot_q4_1_q8_1);
    entry_dot!(vec_dot_q5_0, legacy::avx2::vec_dot_q5_0_q8_0);
    entry_dot!(vec_dot_q5_1, legacy::avx2::vec_dot_q5_1_q8_1);
    entry_dot!(vec_dot_q8_0, legacy::avx2::vec_dot_q8_0_q8_0);
    entry_dot!(vec_dot_q8_1, legacy::avx2::vec_dot_q8_1_q8_1);
    entry_dot!(vec_dot_q8_k, kquants::vec_dot_q8_k_q8_k);
    entry_dot!(vec_dot_q2_k, kquants::vec_dot_q2_k_q8_k);
    entry_dot!(vec_dot_q3_k, kquants::vec_dot_q3_k_q8_k);
    entry_dot!(vec_dot_q4_k, kquants::vec_dot_q4_k_q8_k);
    entry_dot!(
        vec_dot_q4_k_interleaved,
        kquants::avx2::vec_dot_q4_k_q8_k_interleaved::<false>
    );
    entry_dot!(
        vec_dot_q4_k_interleaved_gemm,
        kquants::avx2::vec_dot_q4_k_q8_k_interleaved::<true>
    );
    entry_dot!(vec_dot_q5_k, kquants::vec_dot_q5_k_q8_k);
    entry_dot!(vec_dot_q6_k, kquants::avx2::vec_dot_q6_k_q8_k::<false>);
    entry_dot!(vec_dot_q6_k_tiled, kquants::avx2::vec_dot_q6_k_q8_k::<true>);

    macro_rules! entry_dot_x4 {
        ($name:ident, $kernel:path) => {
            pub(super) fn $name(_n: usize, x: &[u8], ys: [&[u8]; 4]) -> [f32; 4] {
                debug_assert!(has_avx2());
                // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
                unsafe { $kernel(as_blocks(x), ys.map(as_blocks)) }
            }
        };
    }
    entry_dot_x4!(vec_dot_x4_q4_0, multi::avx2::vec_dot_q4_0_q8_0_x4);
    entry_dot_x4!(vec_dot_x4_q4_1, multi::avx2::vec_dot_q4_1_q8_1_x4);
    entry_dot_x4!(vec_dot_x4_q5_0, multi::avx2::vec_dot_q5_0_q8_0_x4);
    entry_dot_x4!(vec_dot_x4_q8_0, multi::avx2::vec_dot_q8_0_q8_0_x4);
    entry_dot_x4!(vec_dot_x4_q4_k, multi::vec_dot_q4_k_q8_k_x4);
    entry_dot_x4!(
        vec_dot_x4_q4_k_interleaved_gemm,
        multi::vec_dot_q4_k_q8_k_interleaved_gemm_x4
    );
    entry_dot_x4!(vec_dot_x4_q5_k, multi::vec_dot_q5_k_q8_k_x4);
    entry_dot_x4!(vec_dot_x4_q6_k, multi::vec_dot_q6_k_q8_k_x4::<false>);
    entry_dot_x4!(vec_dot_x4_q6_k_tiled, multi::vec_dot_q6_k_q8_k_x4::<true>);

    macro_rules! entry_raw {
        ($name:ident, $kernel:path, dot) => {
            pub(super) fn $name(_n: usize, x: &[u8], y: &[u8]) -> f32 {
                debug_assert!(has_avx2());
                // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
                unsafe { $kernel(x, y) }
            }
        };
        ($name:ident, $kernel:path, quant) => {
            pub(super) fn $name(src: &[f32], dst: &mut [u8]) {
                debug_assert!(has_avx2());
                // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
                unsafe { $kernel(src, dst) }
            }
        };
        ($name:ident, $kernel:path, dequant) => {
            pub(super) fn $name(src: &[u8], dst: &mut [f32]) {
                debug_assert!(has_avx2());
                // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
                unsafe { $kernel(src, dst) }
            }
        };
    }
    entry_raw!(vec_dot_f32, float::vec_dot_f32, dot);
    entry_raw!(vec_dot_f16, float::vec_dot_f16, dot);
    entry_raw!(vec_dot_bf16, float::vec_dot_bf16, dot);
    entry_raw!(dequantize_f16, float::dequantize_f16, dequant);
    entry_raw!(quantize_f16, float::quantize_f16, quant);
    entry_raw!(dequantize_bf16, float::dequantize_bf16, dequant);
    entry_raw!(quantize_bf16, float::quantize_bf16, quant);

    pub(super) fn quantize_q8_0(src: &[f32], dst: &mut [u8]) {
        debug_assert!(has_avx2());
        // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
        unsafe { quantize::quantize_row_q8_0(src, as_blocks_mut(dst)) }
    }
    pub(super) fn quantize_q8_1(src: &[f32], dst: &mut [u8]) {
        debug_assert!(has_avx2());
        // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
        unsafe { quantize::quantize_row_q8_1(src, as_blocks_mut(dst)) }
    }
    pub(super) fn quantize_q8_k(src: &[f32], dst: &mut [u8]) {
        debug_assert!(has_avx2());
        // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
        unsafe { quantize::quantize_row_q8_k(src, as_blocks_mut(dst)) }
    }
    pub(super) fn dequantize_q8_0(src: &[u8], dst: &mut [f32]) {
        debug_assert!(has_avx2());
        // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
        unsafe { legacy::dequantize_row_q8_0(as_blocks(src), dst) }
    }
    pub(super) fn dequantize_q4_k(src: &[u8], dst: &mut [f32]) {
        debug_assert!(has_avx2());
        // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
        unsafe { kquants::dequantize_row_q4_k(as_blocks(src), dst) }
    }
    pub(super) fn dequantize_q6_k(src: &[u8], dst: &mut [f32]) {
        debug_assert!(has_avx2());
        // SAFETY: installed only when AVX2/FMA/F16C were detected (see module docs).
        unsafe { kquants::dequantize_row_q6_k(as_blocks(src), dst) }
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the kernels (all inline into their AVX2 callers).

/// Loads 32 bytes from the start of `s` (unaligned).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld256<T>(s: &[T]) -> __m256i {
    assert!(core::mem::size_of_val(s) >= 32);
    // SAFETY: `s` holds at least 32 readable bytes; loadu has no alignment requirement.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Loads 16 bytes from the start of `s` (unaligned).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld128<T>(s: &[T]) -> __m128i {
    assert!(core::mem::size_of_val(s) >= 16);
    // SAFETY: `s` holds at least 16 readable bytes; loadu has no alignment requirement.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// f16 (little-endian bytes) → f32 with F16C.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn f16x(b: [u8; 2]) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(
        _mm_cvtsi32_si128(u16::from_le_bytes(b) as i32),
    ))
}

/// Sum of the 8 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_extractf128_ps::<1>(v), _mm256_castps256_ps128(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Sum of the 4 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum_ps128(s: __m128) -> f32 {
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Sum of the 8 i32 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// 16 bytes of nibbles → 32 bytes: low nibbles in bytes 0..16, high nibbles in 16..32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn nibbles_32(qs: &[u8; 16]) -> __m256i {
    let t = ld128(qs);
    let b = _mm256_set_m128i(_mm_srli_epi16::<4>(t), t);
    _mm256_and_si256(b, _mm256_set1_epi8(0x0f))
}

/// 32 bits → 32 bytes, 0xFF where the bit is set (bit i ↔ byte i).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn bits_32(qh: [u8; 4]) -> __m256i {
    let v = _mm256_set1_epi32(i32::from_le_bytes(qh));
    let shuf = _mm256_set_epi64x(
        0x0303030303030303,
        0x0202020202020202,
        0x0101010101010101,
        0,
    );
    let bytes = _mm256_shuffle_epi8(v, shuf);
    // Set every bit except the one each byte tests; the byte is all-ones iff that bit was set.
    let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
}

/// Σ of i8·i8 over groups of 4 → 8 i32 lanes (sign trick around `maddubs`).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_i8(x: __m256i, y: __m256i) -> __m256i {
    let ax = _mm256_sign_epi8(x, x);
    let sy = _mm256_sign_epi8(y, x);
    _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))
}

/// [`dot_i8`] with one AVX512-VNNI `vpdpbusd` (same lanes: the u8·i8 pair
/// sums of `maddubs` cannot saturate for sign-trick operands, |x| ≤ 128,
/// |y| ≤ 127).
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
fn dot_i8_vnni(x: __m256i, y: __m256i) -> __m256i {
    let ax = _mm256_sign_epi8(x, x);
    let sy = _mm256_sign_epi8(y, x);
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy)
}

/// [`dot_u8i8`] with one AVX512-VNNI `vpdpbusd` (same lanes where the
/// `maddubs` pairs do not saturate, which callers guarantee).
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
fn dot_u8i8_vnni(x: __m256i, y: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y)
}

/// Σ of u8·i8 over groups of 4 → 8 i32 lanes (pairs must not overflow i16).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_u8i8(x: __m256i, y: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
}

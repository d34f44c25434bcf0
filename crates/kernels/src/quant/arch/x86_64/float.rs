//! AVX2 kernels of the float types: F32/F16/BF16 dot products (four 8-lane FMA
//! accumulators), F16C conversions and BF16 rounding.

use super::super::super::float::fp32_to_bf16_bits;
use super::{hsum_ps, ld128};
use core::arch::x86_64::*;

/// Loads 8 f32 from the start of `s` (raw little-endian bytes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_f32x8(s: &[u8]) -> __m256 {
    assert!(s.len() >= 32);
    // SAFETY: 32 readable bytes; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr().cast()) }
}

/// 8 f16 → 8 f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_f16x8(s: &[u8]) -> __m256 {
    _mm256_cvtph_ps(ld128(s))
}

/// 8 bf16 → 8 f32 (exact).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld_bf16x8(s: &[u8]) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(ld128(s))))
}

/// Generic dot: `ld` turns `w` bytes into 8 lanes; 32 values per iteration.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_lanes(
    x: &[u8],
    y: &[u8],
    w: usize,
    ld: impl Fn(&[u8]) -> __m256,
    scalar: impl Fn(&[u8], &[u8]) -> f32,
) -> f32 {
    assert_eq!(x.len(), y.len());
    let n = x.len() / w;
    let step = 8 * w;
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            let o = (i + 8 * k) * w;
            *a = _mm256_fmadd_ps(ld(&x[o..o + step]), ld(&y[o..o + step]), *a);
        }
        i += 32;
    }
    while i + 8 <= n {
        let o = i * w;
        acc[0] = _mm256_fmadd_ps(ld(&x[o..o + step]), ld(&y[o..o + step]), acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut s = hsum_ps(sum);
    if i < n {
        s += scalar(&x[i * w..], &y[i * w..]);
    }
    s
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_f32(x: &[u8], y: &[u8]) -> f32 {
    dot_lanes(
        x,
        y,
        4,
        |s| ld_f32x8(s),
        super::super::super::float::vec_dot_f32_ref,
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_f16(x: &[u8], y: &[u8]) -> f32 {
    dot_lanes(
        x,
        y,
        2,
        |s| ld_f16x8(s),
        super::super::super::float::vec_dot_f16_ref,
    )
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_bf16(x: &[u8], y: &[u8]) -> f32 {
    dot_lanes(
        x,
        y,
        2,
        |s| ld_bf16x8(s),
        super::super::super::float::vec_dot_bf16_ref,
    )
}

/// Stores 8 f32 at `dst[0..8]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn st_f32x8(dst: &mut [f32], v: __m256) {
    assert!(dst.len() >= 8);
    // SAFETY: 8 writable floats; storeu has no alignment requirement.
    unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) }
}

/// Stores 16 bytes at `dst[0..16]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn st128(dst: &mut [u8], v: __m128i) {
    assert!(dst.len() >= 16);
    // SAFETY: 16 writable bytes; storeu has no alignment requirement.
    unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 2);
    let mut s8 = src.chunks_exact(16);
    let mut d8 = dst.chunks_exact_mut(8);
    for (s, d) in (&mut s8).zip(&mut d8) {
        st_f32x8(d, ld_f16x8(s));
    }
    super::super::super::float::dequantize_row_f16_ref(s8.remainder(), d8.into_remainder());
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn quantize_f16(src: &[f32], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2);
    let mut s8 = src.chunks_exact(8);
    let mut d8 = dst.chunks_exact_mut(16);
    for (s, d) in (&mut s8).zip(&mut d8) {
        // SAFETY: `s` has 8 floats; loadu has no alignment requirement.
        let v = unsafe { _mm256_loadu_ps(s.as_ptr()) };
        st128(d, _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v));
    }
    super::super::super::float::quantize_row_f16_ref(s8.remainder(), d8.into_remainder());
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dequantize_bf16(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 2);
    let mut s8 = src.chunks_exact(16);
    let mut d8 = dst.chunks_exact_mut(8);
    for (s, d) in (&mut s8).zip(&mut d8) {
        st_f32x8(d, ld_bf16x8(s));
    }
    super::super::super::float::dequantize_row_bf16_ref(s8.remainder(), d8.into_remainder());
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn quantize_bf16(src: &[f32], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2);
    let mut s8 = src.chunks_exact(8);
    let mut d8 = dst.chunks_exact_mut(16);
    let one = _mm256_set1_epi32(1);
    let bias = _mm256_set1_epi32(0x7fff);
    let abs_mask = _mm256_set1_epi32(0x7fff_ffff);
    let inf = _mm256_set1_epi32(0x7f80_0000);
    let quiet = _mm256_set1_epi32(64);
    for (s, d) in (&mut s8).zip(&mut d8) {
        // SAFETY: `s` has 8 floats; loadu has no alignment requirement.
        let u = _mm256_castps_si256(unsafe { _mm256_loadu_ps(s.as_ptr()) });
        // Round to nearest even: add 0x7fff + the lowest kept bit, then truncate.
        let lsb = _mm256_and_si256(_mm256_srli_epi32::<16>(u), one);
        let r = _mm256_srli_epi32::<16>(_mm256_add_epi32(u, _mm256_add_epi32(bias, lsb)));
        let is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
        let nan = _mm256_or_si256(_mm256_srli_epi32::<16>(u), quiet);
        let r = _mm256_blendv_epi8(r, nan, is_nan);
        st128(
            d,
            _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256::<1>(r)),
        );
    }
    for (s, d) in s8
        .remainder()
        .iter()
        .zip(d8.into_remainder().chunks_exact_mut(2))
    {
        d.copy_from_slice(&fp32_to_bf16_bits(*s).to_le_bytes());
    }
}

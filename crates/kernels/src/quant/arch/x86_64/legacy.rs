//! Dot products of the 32-weight types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1)
//! with Q8_0/Q8_1 activations: integer `maddubs`/`madd` (AVX2) or `vpdpbusd`
//! (AVX512-VNNI) per block, one FMA per block into one accumulator (ggml's
//! order).

use super::super::super::q8::BlockQ8_0;
use super::{f16x, ld256};
use core::arch::x86_64::*;

/// `dx·dy` of two f16 scales with one conversion, broadcast to 8 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn scale2(dx: [u8; 2], dy: [u8; 2]) -> __m256 {
    let bits = u16::from_le_bytes(dx) as u32 | (u16::from_le_bytes(dy) as u32) << 16;
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)); // [dx, dy, 0, 0]
    _mm256_broadcastss_ps(_mm_mul_ss(v, _mm_movehdup_ps(v)))
}

/// For Q4_1/Q5_1 × Q8_1: `[dx·dy, m·s, ·, ·]` from the two leading f16 pairs.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn scales4(xdm: [u8; 4], yds: [u8; 4]) -> __m128 {
    let bits = u32::from_le_bytes(xdm) as u64 | (u32::from_le_bytes(yds) as u64) << 32;
    let v = _mm_cvtph_ps(_mm_cvtsi64_si128(bits as i64)); // [dx, m, dy, s]
    _mm_mul_ps(v, _mm_movehl_ps(v, v))
}

/// The dot products, stamped out once per instruction set: `$dot_i8` and
/// `$dot_u8i8` give identical integer lanes on every set (AVX2 `maddubs` +
/// `madd`, or one AVX512-VNNI `vpdpbusd`), so every set's results are
/// bit-identical; only the speed differs.
macro_rules! legacy_dots {
    ($features:literal, $dot_i8:path, $dot_u8i8:path) => {
        use super::super::super::super::q4::{BlockQ4_0, BlockQ4_1};
        use super::super::super::super::q5::{BlockQ5_0, BlockQ5_1};
        use super::super::super::super::q8::{BlockQ8_0, BlockQ8_1};
        use super::super::{bits_32, hsum_ps, ld256, nibbles_32};
        use super::{scale2, scales4};
        use core::arch::x86_64::*;

        /// Runs `block(i) -> (scale, int lanes)` over all blocks into one accumulator
        /// (the same summation order as ggml's AVX2 kernels, so results agree bit for bit).
        #[target_feature(enable = $features)]
        #[inline]
        fn accumulate(nb: usize, mut block: impl FnMut(usize) -> (__m256, __m256i)) -> f32 {
            let mut acc = _mm256_setzero_ps();
            for i in 0..nb {
                let (d, p) = block(i);
                acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
            }
            hsum_ps(acc)
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q4_0_q8_0(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f32 {
            assert_eq!(x.len(), y.len());
            let off = _mm256_set1_epi8(8);
            accumulate(x.len(), |i| {
                let (xb, yb) = (&x[i], &y[i]);
                let qx = _mm256_sub_epi8(nibbles_32(&xb.qs), off);
                (scale2(xb.d, yb.d), $dot_i8(qx, ld256(&yb.qs)))
            })
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q4_1_q8_1(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f32 {
            assert_eq!(x.len(), y.len());
            let mut acc_m = _mm_setzero_ps();
            let s = accumulate(x.len(), |i| {
                let (xb, yb) = (&x[i], &y[i]);
                let sc = scales4(
                    [xb.d[0], xb.d[1], xb.m[0], xb.m[1]],
                    [yb.d[0], yb.d[1], yb.s[0], yb.s[1]],
                );
                acc_m = _mm_add_ps(acc_m, sc);
                (
                    _mm256_broadcastss_ps(sc),
                    $dot_u8i8(nibbles_32(&xb.qs), ld256(&yb.qs)),
                )
            });
            s + _mm_cvtss_f32(_mm_movehdup_ps(acc_m))
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q5_0_q8_0(x: &[BlockQ5_0], y: &[BlockQ8_0]) -> f32 {
            assert_eq!(x.len(), y.len());
            let hi = _mm256_set1_epi8(0xf0u8 as i8);
            accumulate(x.len(), |i| {
                let (xb, yb) = (&x[i], &y[i]);
                // q − 16 as i8: a clear fifth bit makes the byte 0xF0 | nibble (= nibble − 16).
                let qx =
                    _mm256_or_si256(nibbles_32(&xb.qs), _mm256_andnot_si256(bits_32(xb.qh), hi));
                (scale2(xb.d, yb.d), $dot_i8(qx, ld256(&yb.qs)))
            })
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q5_1_q8_1(x: &[BlockQ5_1], y: &[BlockQ8_1]) -> f32 {
            assert_eq!(x.len(), y.len());
            let b4 = _mm256_set1_epi8(0x10);
            let mut acc_m = _mm_setzero_ps();
            let s = accumulate(x.len(), |i| {
                let (xb, yb) = (&x[i], &y[i]);
                let sc = scales4(
                    [xb.d[0], xb.d[1], xb.m[0], xb.m[1]],
                    [yb.d[0], yb.d[1], yb.s[0], yb.s[1]],
                );
                acc_m = _mm_add_ps(acc_m, sc);
                let qx = _mm256_or_si256(nibbles_32(&xb.qs), _mm256_and_si256(bits_32(xb.qh), b4));
                (_mm256_broadcastss_ps(sc), $dot_u8i8(qx, ld256(&yb.qs)))
            });
            s + _mm_cvtss_f32(_mm_movehdup_ps(acc_m))
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q8_0_q8_0(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
            assert_eq!(x.len(), y.len());
            accumulate(x.len(), |i| {
                let (xb, yb) = (&x[i], &y[i]);
                (scale2(xb.d, yb.d), $dot_i8(ld256(&xb.qs), ld256(&yb.qs)))
            })
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q8_1_q8_1(x: &[BlockQ8_1], y: &[BlockQ8_1]) -> f32 {
            assert_eq!(x.len(), y.len());
            accumulate(x.len(), |i| {
                let (xb, yb) = (&x[i], &y[i]);
                (scale2(xb.d, yb.d), $dot_i8(ld256(&xb.qs), ld256(&yb.qs)))
            })
        }
    };
}

/// AVX2 + FMA + F16C.
pub(super) mod avx2 {
    legacy_dots!(
        "avx2,fma,f16c",
        super::super::dot_i8,
        super::super::dot_u8i8
    );
}

/// AVX2 + AVX512-VNNI (256-bit `vpdpbusd`).
pub(super) mod vnni {
    legacy_dots!(
        "avx2,fma,f16c,avx512vnni,avx512vl",
        super::super::dot_i8_vnni,
        super::super::dot_u8i8_vnni
    );
}

/// Q8_0 → f32, 32 values per block.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dequantize_row_q8_0(x: &[BlockQ8_0], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * 32);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(32)) {
        let d = _mm256_set1_ps(f16x(xb.d));
        let q = ld256(&xb.qs);
        let parts = [
            _mm256_cvtepi8_epi32(_mm256_castsi256_si128(q)),
            _mm256_cvtepi8_epi32(_mm_srli_si128::<8>(_mm256_castsi256_si128(q))),
            _mm256_cvtepi8_epi32(_mm256_extracti128_si256::<1>(q)),
            _mm256_cvtepi8_epi32(_mm_srli_si128::<8>(_mm256_extracti128_si256::<1>(q))),
        ];
        for (k, p) in parts.into_iter().enumerate() {
            let v = _mm256_mul_ps(_mm256_cvtepi32_ps(p), d);
            // SAFETY: `yb` has 32 floats, so 8 at offset 8k (k < 4) are in bounds.
            unsafe { _mm256_storeu_ps(yb.as_mut_ptr().add(8 * k), v) };
        }
    }
}

//! AVX2 dot products of the K-quants with Q8_K activations.
//!
//! All arithmetic inside a super-block is integer (`maddubs` on unsigned quants
//! × int8 activations, then `madd` with the 16-bit group scales); a super-block
//! costs one or two FMAs. Offsets (Q3_K's −4, Q6_K's −32) and mins are folded in
//! through the Q8_K group sums (`bsums`) once per super-block instead of per
//! vector.

use super::super::super::k_common::unpack_scale_min_k4;
use super::super::super::q2_k::BlockQ2K;
use super::super::super::q3_k::BlockQ3K;
use super::super::super::q4_k::BlockQ4K;
use super::super::super::q5_k::BlockQ5K;
use super::super::super::q6_k::BlockQ6K;
use super::super::super::q8::BlockQ8K;
use super::{dot_i8, f16x, hsum_epi32, hsum_ps, hsum_ps128, ld128, ld256};
use core::arch::x86_64::*;

/// A vector whose 16-bit lanes all select 16-bit lane `i` (0..8) of each 128-bit half.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn splat_lane16(i: i16) -> __m256i {
    _mm256_set1_epi16((2 * i) | ((2 * i + 1) << 8))
}

/// Shuffle giving 16-bit lane `2s` in the low half and `2s + 1` in the high half.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn pair_lane16(s: i16) -> __m256i {
    let lo = (4 * s) | ((4 * s + 1) << 8);
    let hi = (4 * s + 2) | ((4 * s + 3) << 8);
    _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo))
}

/// The Q4_K/Q5_K 12-byte scale table → (8 scales ‖ 8 mins) as bytes, via u32 masks.
#[inline(always)]
pub(super) fn unpack_k4_u32(s: &[u8; 12]) -> [u32; 4] {
    const KMASK1: u32 = 0x3f3f3f3f;
    const KMASK2: u32 = 0x0f0f0f0f;
    const KMASK3: u32 = 0x03030303;
    let u0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let u1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let u2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    [
        u0 & KMASK1,
        (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4),
        u1 & KMASK1,
        ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4),
    ]
}

/// Mins term of Q4_K/Q5_K: Σ_j m_j · (bsum_2j + bsum_2j+1) as 4 i32 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn mins_dot(mins_scales: __m256i, bsums: &[u8; 32]) -> __m128i {
    let q8 = ld256(bsums);
    let q8s = _mm_hadd_epi16(
        _mm256_castsi256_si128(q8),
        _mm256_extracti128_si256::<1>(q8),
    );
    _mm_madd_epi16(_mm256_extracti128_si256::<1>(mins_scales), q8s)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q4_k_q8_k(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m4 = _mm256_set1_epi8(0x0f);
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (xb, yb) in x.iter().zip(y) {
        let dy = yb.scale();
        let d = dy * f16x(xb.d);
        let dmin = -dy * f16x(xb.dmin);
        let u = unpack_k4_u32(&xb.scales);
        let mins_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
            u[3] as i32,
            u[2] as i32,
            u[1] as i32,
            u[0] as i32,
        ));
        acc_m = _mm_fmadd_ps(
            _mm_set1_ps(dmin),
            _mm_cvtepi32_ps(mins_dot(mins_scales, &yb.bsums)),
            acc_m,
        );
        let sc128 = _mm256_castsi256_si128(mins_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let q4bits = ld256(&xb.qs[32 * j..]);
            let q4l = _mm256_and_si256(q4bits, m4);
            let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits), m4);
            let sl = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16));
            let sh = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16 + 1));
            let pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(q4l, ld256(&yb.qs[64 * j..])));
            let ph = _mm256_madd_epi16(sh, _mm256_maddubs_epi16(q4h, ld256(&yb.qs[64 * j + 32..])));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc) + hsum_ps128(acc_m)
}

/// The decode-path K-quant dot products, stamped out once per instruction
/// set: `$madd_acc(acc, a, b)` = `acc + madd(a, b)` (AVX2 `madd` + `add`, or
/// one AVX512-VNNI `vpdpwssd`): the same integer lanes, so bit-identical.
macro_rules! kquant_dots {
    ($features:literal, $madd_acc:path) => {
        use super::*;

        /// [`vec_dot_q4_k_q8_k`] in the order of ggml's repacked `q4_K_8x8` kernels
        /// (see `q4_k::vec_dot_q4_k_q8_k_interleaved_ref`; bit-identical to it):
        /// one fused accumulation per super-block (GEMV, `PER_64 = false`) or per
        /// 64 weights (GEMM, `PER_64 = true`).
        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q4_k_q8_k_interleaved<const PER_64: bool>(
            x: &[BlockQ4K],
            y: &[BlockQ8K],
        ) -> f32 {
            assert_eq!(x.len(), y.len());
            let m4 = _mm256_set1_epi8(0x0f);
            let (mut acc, mut accm) = (0f32, 0f32);
            for (xb, yb) in x.iter().zip(y) {
                let u = unpack_k4_u32(&xb.scales);
                let mins_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
                    u[3] as i32,
                    u[2] as i32,
                    u[1] as i32,
                    u[0] as i32,
                ));
                // Lane c: the mins term of weights 64c..64c+64.
                let mins = mins_dot(mins_scales, &yb.bsums);
                let sc128 = _mm256_castsi256_si128(mins_scales);
                let scales = _mm256_set_m128i(sc128, sc128);
                let d = f16x(xb.d) * yb.scale();
                let dmin = f16x(xb.dmin) * yb.scale();
                let mut sumi = _mm256_setzero_si256();
                let mut mins_c = [0i32; 4];
                // SAFETY: [i32; 4] and __m128i have the same size; unaligned store.
                unsafe { _mm_storeu_si128(mins_c.as_mut_ptr() as *mut __m128i, mins) };
                for (j, &mc) in mins_c.iter().enumerate() {
                    let q4bits = ld256(&xb.qs[32 * j..]);
                    let q4l = _mm256_and_si256(q4bits, m4);
                    let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits), m4);
                    let sl = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16));
                    let sh = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16 + 1));
                    let pl = _mm256_maddubs_epi16(q4l, ld256(&yb.qs[64 * j..]));
                    let ph = _mm256_maddubs_epi16(q4h, ld256(&yb.qs[64 * j + 32..]));
                    let p = $madd_acc($madd_acc(_mm256_setzero_si256(), sl, pl), sh, ph);
                    if PER_64 {
                        let isum = hsum_epi32_128(_mm_add_epi32(
                            _mm256_castsi256_si128(p),
                            _mm256_extracti128_si256::<1>(p),
                        ));
                        acc = (isum as f32).mul_add(d, acc);
                        accm = (mc as f32).mul_add(dmin, accm);
                    } else {
                        sumi = _mm256_add_epi32(sumi, p);
                    }
                }
                if !PER_64 {
                    let isum = hsum_epi32_128(_mm_add_epi32(
                        _mm256_castsi256_si128(sumi),
                        _mm256_extracti128_si256::<1>(sumi),
                    ));
                    acc = (isum as f32).mul_add(d, acc);
                    accm = (hsum_epi32_128(mins) as f32).mul_add(dmin, accm);
                }
            }
            acc - accm
        }

        /// Q6_K · Q8_K. `TILED`: in the order of ggml's tiled GEMM (per block
        /// `acc = fma(isum · d_w, d_y, acc)`, see `vec_dot_q6_k_q8_k_tiled_ref`)
        /// instead of its `vec_dot` (lane-wise `acc += (d_y · d_w) · isum`).
        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q6_k_q8_k<const TILED: bool>(
            x: &[BlockQ6K],
            y: &[BlockQ8K],
        ) -> f32 {
            assert_eq!(x.len(), y.len());
            let m4 = _mm256_set1_epi8(0x0f);
            let m3 = _mm256_set1_epi8(0x30);
            let mut acc = _mm256_setzero_ps();
            let mut acc_tiled = 0f32;
            for (xb, yb) in x.iter().zip(y) {
                let sc8 = ld128(&xb.scales);
                let sc_lo = _mm256_cvtepi8_epi16(sc8); // scales 0..16 as i16
                                                       // The −32 offset: 32 · Σ_j sc_j · bsum_j, once per block.
                let offs = _mm256_madd_epi16(sc_lo, ld256(&yb.bsums));
                let lo_pair = _mm256_permute4x64_epi64::<0b01_00_01_00>(sc_lo);
                let hi_pair = _mm256_permute4x64_epi64::<0b11_10_11_10>(sc_lo);
                let mut sumi = _mm256_setzero_si256();
                for h in 0..2 {
                    let ql0 = ld256(&xb.ql[64 * h..]);
                    let ql1 = ld256(&xb.ql[64 * h + 32..]);
                    let qh = ld256(&xb.qh[32 * h..]);
                    let q = [
                        _mm256_or_si256(
                            _mm256_and_si256(ql0, m4),
                            _mm256_and_si256(_mm256_slli_epi16::<4>(qh), m3),
                        ),
                        _mm256_or_si256(
                            _mm256_and_si256(ql1, m4),
                            _mm256_and_si256(_mm256_slli_epi16::<2>(qh), m3),
                        ),
                        _mm256_or_si256(
                            _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4),
                            _mm256_and_si256(qh, m3),
                        ),
                        _mm256_or_si256(
                            _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4),
                            _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m3),
                        ),
                    ];
                    for (k, qk) in q.into_iter().enumerate() {
                        // Group scales 8h + 2k (first 16 weights) and 8h + 2k + 1 (next 16).
                        let s = _mm256_shuffle_epi8(
                            if h == 0 { lo_pair } else { hi_pair },
                            pair_lane16(k as i16),
                        );
                        let p = _mm256_maddubs_epi16(qk, ld256(&yb.qs[128 * h + 32 * k..]));
                        sumi = $madd_acc(sumi, s, p);
                    }
                }
                sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32::<5>(offs));
                if TILED {
                    let isum = hsum_epi32(sumi) as f32;
                    acc_tiled = (isum * f16x(xb.d)).mul_add(yb.scale(), acc_tiled);
                } else {
                    let d = yb.scale() * f16x(xb.d);
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
                }
            }
            if TILED {
                acc_tiled
            } else {
                hsum_ps(acc)
            }
        }
    };
}

/// `acc + madd(a, b)` with AVX2.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn madd_acc_avx2(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
    _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
}

/// `acc + madd(a, b)` with one AVX512-VNNI `vpdpwssd` (exact, as `madd`'s
/// pair sums cannot overflow for these operands).
#[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
#[inline]
fn madd_acc_vnni(acc: __m256i, a: __m256i, b: __m256i) -> __m256i {
    _mm256_dpwssd_epi32(acc, a, b)
}

/// AVX2 + FMA + F16C.
pub(super) mod avx2 {
    kquant_dots!("avx2,fma,f16c", super::madd_acc_avx2);
}

/// AVX2 + AVX512-VNNI.
pub(super) mod vnni {
    kquant_dots!("avx2,fma,f16c,avx512vnni,avx512vl", super::madd_acc_vnni);
}

/// Sum of four i32 lanes (exact, wrapping like the vector adds).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum_epi32_128(v: __m128i) -> i32 {
    let s = _mm_add_epi32(v, _mm_shuffle_epi32::<0b01_00_11_10>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q5_k_q8_k(x: &[BlockQ5K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m4 = _mm256_set1_epi8(0x0f);
    let b4 = _mm256_set1_epi8(0x10);
    let mut acc = _mm256_setzero_ps();
    // ggml keeps the min term of Q5_K in a scalar; doing the same keeps results bit-identical.
    let mut summs = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let dy = yb.scale();
        let d = dy * f16x(xb.d);
        let dmin = -dy * f16x(xb.dmin);
        let u = unpack_k4_u32(&xb.scales);
        let mins_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
            u[3] as i32,
            u[2] as i32,
            u[1] as i32,
            u[0] as i32,
        ));
        let prod = mins_dot(mins_scales, &yb.bsums);
        let prod = _mm_hadd_epi32(
            _mm_hadd_epi32(prod, _mm_setzero_si128()),
            _mm_setzero_si128(),
        );
        summs += dmin * _mm_cvtsi128_si32(prod) as f32;
        let sc128 = _mm256_castsi256_si128(mins_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        // Bit 0 of every byte of `h` is the next fifth bit; `h` shifts right once per 32 weights
        // (bits leaking in from the neighbouring byte land at bit 7 and are never used).
        let mut h = ld256(&xb.qh);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let q5bits = ld256(&xb.qs[32 * j..]);
            let q5l = _mm256_or_si256(
                _mm256_and_si256(q5bits, m4),
                _mm256_and_si256(_mm256_slli_epi16::<4>(h), b4),
            );
            h = _mm256_srli_epi16::<1>(h);
            let q5h = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(q5bits), m4),
                _mm256_and_si256(_mm256_slli_epi16::<4>(h), b4),
            );
            h = _mm256_srli_epi16::<1>(h);
            let sl = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16));
            let sh = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16 + 1));
            let pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(q5l, ld256(&yb.qs[64 * j..])));
            let ph = _mm256_madd_epi16(sh, _mm256_maddubs_epi16(q5h, ld256(&yb.qs[64 * j + 32..])));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc) + summs
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q3_k_q8_k(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    const KMASK1: u32 = 0x03030303;
    const KMASK2: u32 = 0x0f0f0f0f;
    let m3 = _mm256_set1_epi8(3);
    let m4 = _mm256_set1_epi8(4);
    let mut acc = _mm256_setzero_ps();
    for (xb, yb) in x.iter().zip(y) {
        let d = yb.scale() * f16x(xb.d);
        let s = &xb.scales;
        let a0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let a1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
        let a2 = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
        let sc = _mm_set_epi32(
            (((a1 >> 4) & KMASK2) | (((a2 >> 6) & KMASK1) << 4)) as i32,
            (((a0 >> 4) & KMASK2) | (((a2 >> 4) & KMASK1) << 4)) as i32,
            ((a1 & KMASK2) | (((a2 >> 2) & KMASK1) << 4)) as i32,
            ((a0 & KMASK2) | ((a2 & KMASK1) << 4)) as i32,
        );
        let sc = _mm_sub_epi8(sc, _mm_set1_epi8(32));
        let sc16 = _mm256_cvtepi8_epi16(sc); // 16 signed scales
                                             // Quants are stored as q + 4 ∈ 0..8 here; subtract 4 · Σ_j sc_j · bsum_j once.
        let offs = _mm256_madd_epi16(sc16, ld256(&yb.bsums));
        let mut h = ld256(&xb.hmask);
        let mut sumi = _mm256_setzero_si256();
        for half in 0..2 {
            let q3bits = ld256(&xb.qs[32 * half..]);
            let scales = if half == 0 {
                _mm256_permute4x64_epi64::<0b01_00_01_00>(sc16)
            } else {
                _mm256_permute4x64_epi64::<0b11_10_11_10>(sc16)
            };
            for k in 0..4 {
                let lo = match k {
                    0 => _mm256_and_si256(q3bits, m3),
                    1 => _mm256_and_si256(_mm256_srli_epi16::<2>(q3bits), m3),
                    2 => _mm256_and_si256(_mm256_srli_epi16::<4>(q3bits), m3),
                    _ => _mm256_and_si256(_mm256_srli_epi16::<6>(q3bits), m3),
                };
                let q = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16::<2>(h), m4));
                h = _mm256_srli_epi16::<1>(h);
                let p = _mm256_maddubs_epi16(q, ld256(&yb.qs[128 * half + 32 * k..]));
                let s = _mm256_shuffle_epi8(scales, pair_lane16(k as i16));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s, p));
            }
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32::<2>(offs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q2_k_q8_k(x: &[BlockQ2K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m3 = _mm256_set1_epi8(3);
    let m4 = _mm_set1_epi8(0x0f);
    let mut acc = _mm256_setzero_ps();
    for (xb, yb) in x.iter().zip(y) {
        let dy = yb.scale();
        let d = dy * f16x(xb.d);
        let dmin = -dy * f16x(xb.dmin);
        let ms = ld128(&xb.scales);
        let mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16::<4>(ms), m4));
        let prod = _mm256_madd_epi16(mins, ld256(&yb.bsums));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);
        let sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(ms, m4));
        let mut sumi = _mm256_setzero_si256();
        for half in 0..2 {
            let q2bits = ld256(&xb.qs[32 * half..]);
            let scales = if half == 0 {
                _mm256_permute4x64_epi64::<0b01_00_01_00>(sc16)
            } else {
                _mm256_permute4x64_epi64::<0b11_10_11_10>(sc16)
            };
            for k in 0..4 {
                let q = match k {
                    0 => _mm256_and_si256(q2bits, m3),
                    1 => _mm256_and_si256(_mm256_srli_epi16::<2>(q2bits), m3),
                    2 => _mm256_and_si256(_mm256_srli_epi16::<4>(q2bits), m3),
                    _ => _mm256_and_si256(_mm256_srli_epi16::<6>(q2bits), m3),
                };
                let p = _mm256_maddubs_epi16(q, ld256(&yb.qs[128 * half + 32 * k..]));
                let s = _mm256_shuffle_epi8(scales, pair_lane16(k as i16));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s, p));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q8_k_q8_k(x: &[BlockQ8K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut acc = _mm256_setzero_ps();
    for (xb, yb) in x.iter().zip(y) {
        let mut sumi = _mm256_setzero_si256();
        for j in 0..8 {
            sumi = _mm256_add_epi32(
                sumi,
                dot_i8(ld256(&xb.qs[32 * j..]), ld256(&yb.qs[32 * j..])),
            );
        }
        acc = _mm256_fmadd_ps(
            _mm256_set1_ps(xb.scale() * yb.scale()),
            _mm256_cvtepi32_ps(sumi),
            acc,
        );
    }
    hsum_ps(acc)
}

/// Q4_K → f32 (exact: same float operations as the reference).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dequantize_row_q4_k(x: &[BlockQ4K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * 256);
    let m4 = _mm_set1_epi8(0x0f);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(256)) {
        let d = f16x(xb.d);
        let min = f16x(xb.dmin);
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        for j in 0..8 {
            let d1 = _mm256_set1_ps(d * sc[j] as f32);
            let m1 = _mm256_set1_ps(min * m[j] as f32);
            let c = j / 2;
            for part in 0..2 {
                let bytes = ld128(&xb.qs[32 * c + 16 * part..]);
                let q = if j.is_multiple_of(2) {
                    _mm_and_si128(bytes, m4)
                } else {
                    _mm_and_si128(_mm_srli_epi16::<4>(bytes), m4)
                };
                for half in 0..2 {
                    let qq = if half == 0 { q } else { _mm_srli_si128::<8>(q) };
                    let v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(qq));
                    // d1·q − m1 as two roundings, like the reference (no FMA).
                    let out = _mm256_sub_ps(_mm256_mul_ps(d1, v), m1);
                    let off = 32 * j + 16 * part + 8 * half;
                    // SAFETY: off + 8 ≤ 256 = yb.len().
                    unsafe { _mm256_storeu_ps(yb.as_mut_ptr().add(off), out) };
                }
            }
        }
    }
}

/// Q6_K → f32 (exact: same float operations as the reference).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dequantize_row_q6_k(x: &[BlockQ6K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * 256);
    let mut q = [0i8; 256];
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(256)) {
        let d = f16x(xb.d);
        let m4 = _mm256_set1_epi8(0x0f);
        let m3 = _mm256_set1_epi8(0x30);
        let m32 = _mm256_set1_epi8(32);
        for h in 0..2 {
            let ql0 = ld256(&xb.ql[64 * h..]);
            let ql1 = ld256(&xb.ql[64 * h + 32..]);
            let qh = ld256(&xb.qh[32 * h..]);
            let parts = [
                _mm256_or_si256(
                    _mm256_and_si256(ql0, m4),
                    _mm256_and_si256(_mm256_slli_epi16::<4>(qh), m3),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(ql1, m4),
                    _mm256_and_si256(_mm256_slli_epi16::<2>(qh), m3),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), m4),
                    _mm256_and_si256(qh, m3),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), m4),
                    _mm256_and_si256(_mm256_srli_epi16::<2>(qh), m3),
                ),
            ];
            for (k, p) in parts.into_iter().enumerate() {
                let v = _mm256_sub_epi8(p, m32);
                let off = 128 * h + 32 * k;
                // SAFETY: off + 32 ≤ 256 = q.len().
                unsafe { _mm256_storeu_si256(q.as_mut_ptr().add(off).cast(), v) };
            }
        }
        for g in 0..16 {
            let ds = _mm256_set1_ps(d * xb.scales[g] as f32);
            for half in 0..2 {
                let off = 16 * g + 8 * half;
                let v =
                    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64_arr(&q[off..off + 8])));
                // SAFETY: off + 8 ≤ 256 = yb.len().
                unsafe { _mm256_storeu_ps(yb.as_mut_ptr().add(off), _mm256_mul_ps(ds, v)) };
            }
        }
    }
}

/// Loads 8 bytes into the low half of a vector.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn _mm_loadl_epi64_arr(s: &[i8]) -> __m128i {
    assert!(s.len() >= 8);
    // SAFETY: 8 readable bytes; movq has no alignment requirement.
    unsafe { _mm_loadl_epi64(s.as_ptr().cast()) }
}

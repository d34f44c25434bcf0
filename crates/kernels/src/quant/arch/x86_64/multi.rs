//! AVX2 multi-token dot products: one weight row × four activation rows.
//!
//! Each weight block is decoded (nibbles unpacked, high bits merged, scales
//! expanded) once and then multiplied with the matching block of every
//! activation row. Per token, the float operations and their order are
//! exactly those of the single-token kernels in `legacy.rs` / `kquants.rs`
//! (integer sums may be regrouped freely: they are exact), so every result is
//! bit-identical to four `vec_dot` calls, hence to ggml.

use super::super::super::q4_k::BlockQ4K;
use super::super::super::q5_k::BlockQ5K;
use super::super::super::q6_k::BlockQ6K;
use super::super::super::q8::BlockQ8K;
use super::kquants::{mins_dot, pair_lane16, splat_lane16, unpack_k4_u32};
use super::{f16x, hsum_epi32, hsum_ps, hsum_ps128, ld128, ld256};
use core::arch::x86_64::*;

/// Tokens per call.
const T: usize = 4;

/// Checks that the four activation rows have as many blocks as the weights.
#[inline(always)]
fn check_lens<X, Y>(x: &[X], ys: &[&[Y]; T]) {
    for y in ys {
        assert_eq!(x.len(), y.len());
    }
}

/// The four tokens' f16 scales of block `i` as f32 lanes 0..4.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dy4<B>(ys: &[&[B]; T], i: usize, d: impl Fn(&B) -> [u8; 2]) -> __m128 {
    let h = |t: usize| i16::from_le_bytes(d(&ys[t][i]));
    _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, h(3), h(2), h(1), h(0)))
}

/// Lane `t` of `v` broadcast to 8 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn lane(v: __m128, t: usize) -> __m256 {
    _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_set1_epi32(t as i32))
}

/// `[a, b]` f16 pair → `[a, b, 0, 0]` f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn cvt_pair(a: [u8; 2], b: [u8; 2]) -> __m128 {
    let bits = u16::from_le_bytes(a) as u32 | (u16::from_le_bytes(b) as u32) << 16;
    _mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32))
}

/// The 32-weight-type kernels, stamped out once per instruction set (see
/// `legacy_dots!`: `$dot_u8i8` gives identical lanes on every set).
macro_rules! legacy_x4 {
    ($features:literal, $dot_u8i8:path) => {
        use super::super::super::super::q4::{BlockQ4_0, BlockQ4_1};
        use super::super::super::super::q5::BlockQ5_0;
        use super::super::super::super::q8::{BlockQ8_0, BlockQ8_1};
        use super::super::{bits_32, f16x, hsum_ps, ld256, nibbles_32};
        use super::{check_lens, cvt_pair, dy4, lane, T};
        use core::arch::x86_64::*;

        /// Q4_0/Q5_0/Q8_0 × Q8_0 over four rows: `block(i) -> (dx, signed quants)`.
        /// Per token: `dx·dy` (the same f32 product as `scale2`, four at once),
        /// the sign-trick integer dot of `dot_i8`, one FMA per block into that
        /// token's accumulator.
        #[target_feature(enable = $features)]
        #[inline]
        fn accumulate_q8_0(
            ys: &[&[BlockQ8_0]; T],
            mut block: impl FnMut(usize) -> (f32, __m256i),
        ) -> [f32; T] {
            let nb = ys[0].len();
            let mut acc = [_mm256_setzero_ps(); T];
            for i in 0..nb {
                let (dx, qx) = block(i);
                let sc = _mm_mul_ps(_mm_set1_ps(dx), dy4(ys, i, |b| b.d));
                let ax = _mm256_sign_epi8(qx, qx);
                for t in 0..T {
                    let sy = _mm256_sign_epi8(ld256(&ys[t][i].qs), qx);
                    let p = $dot_u8i8(ax, sy);
                    acc[t] = _mm256_fmadd_ps(lane(sc, t), _mm256_cvtepi32_ps(p), acc[t]);
                }
            }
            acc.map(|a| hsum_ps(a))
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q4_0_q8_0_x4(
            x: &[BlockQ4_0],
            ys: [&[BlockQ8_0]; T],
        ) -> [f32; T] {
            check_lens(x, &ys);
            let off = _mm256_set1_epi8(8);
            accumulate_q8_0(&ys, |i| {
                let xb = &x[i];
                (f16x(xb.d), _mm256_sub_epi8(nibbles_32(&xb.qs), off))
            })
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q5_0_q8_0_x4(
            x: &[BlockQ5_0],
            ys: [&[BlockQ8_0]; T],
        ) -> [f32; T] {
            check_lens(x, &ys);
            let hi = _mm256_set1_epi8(0xf0u8 as i8);
            accumulate_q8_0(&ys, |i| {
                let xb = &x[i];
                let qx =
                    _mm256_or_si256(nibbles_32(&xb.qs), _mm256_andnot_si256(bits_32(xb.qh), hi));
                (f16x(xb.d), qx)
            })
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q8_0_q8_0_x4(
            x: &[BlockQ8_0],
            ys: [&[BlockQ8_0]; T],
        ) -> [f32; T] {
            check_lens(x, &ys);
            accumulate_q8_0(&ys, |i| {
                let xb = &x[i];
                (f16x(xb.d), ld256(&xb.qs))
            })
        }

        #[target_feature(enable = $features)]
        pub(in super::super) fn vec_dot_q4_1_q8_1_x4(
            x: &[BlockQ4_1],
            ys: [&[BlockQ8_1]; T],
        ) -> [f32; T] {
            check_lens(x, &ys);
            let mut acc = [_mm256_setzero_ps(); T];
            let mut acc_m = [_mm_setzero_ps(); T];
            for (i, xb) in x.iter().enumerate() {
                let xdm = cvt_pair(xb.d, xb.m); // [dx, m, 0, 0]
                let qx = nibbles_32(&xb.qs);
                for t in 0..T {
                    let yb = &ys[t][i];
                    // [dx·dy, m·s, 0, 0]: the same two f32 products as `scales4`.
                    let sc = _mm_mul_ps(xdm, cvt_pair(yb.d, yb.s));
                    acc_m[t] = _mm_add_ps(acc_m[t], sc);
                    let p = $dot_u8i8(qx, ld256(&yb.qs));
                    acc[t] =
                        _mm256_fmadd_ps(_mm256_broadcastss_ps(sc), _mm256_cvtepi32_ps(p), acc[t]);
                }
            }
            let mut out = [0f32; T];
            for t in 0..T {
                out[t] = hsum_ps(acc[t]) + _mm_cvtss_f32(_mm_movehdup_ps(acc_m[t]));
            }
            out
        }
    };
}

/// AVX2 + FMA + F16C.
pub(super) mod avx2 {
    legacy_x4!("avx2,fma,f16c", super::super::dot_u8i8);
}

/// AVX2 + AVX512-VNNI (256-bit `vpdpbusd`).
pub(super) mod vnni {
    legacy_x4!(
        "avx2,fma,f16c,avx512vnni,avx512vl",
        super::super::dot_u8i8_vnni
    );
}

/// The Q4_K/Q5_K scale table as 16-bit (8 scales ‖ 8 mins).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn k4_mins_scales(scales: &[u8; 12]) -> __m256i {
    let u = unpack_k4_u32(scales);
    _mm256_cvtepu8_epi16(_mm_set_epi32(
        u[3] as i32,
        u[2] as i32,
        u[1] as i32,
        u[0] as i32,
    ))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q4_k_q8_k_x4(x: &[BlockQ4K], ys: [&[BlockQ8K]; T]) -> [f32; T] {
    check_lens(x, &ys);
    let m4 = _mm256_set1_epi8(0x0f);
    let mut acc = [_mm256_setzero_ps(); T];
    let mut acc_m = [_mm_setzero_ps(); T];
    for (i, xb) in x.iter().enumerate() {
        let xd = f16x(xb.d);
        let xmin = f16x(xb.dmin);
        let mins_scales = k4_mins_scales(&xb.scales);
        for t in 0..T {
            let yb = &ys[t][i];
            let dmin = -yb.scale() * xmin;
            acc_m[t] = _mm_fmadd_ps(
                _mm_set1_ps(dmin),
                _mm_cvtepi32_ps(mins_dot(mins_scales, &yb.bsums)),
                acc_m[t],
            );
        }
        let sc128 = _mm256_castsi256_si128(mins_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        let mut sumi = [_mm256_setzero_si256(); T];
        for j in 0..4 {
            let q4bits = ld256(&xb.qs[32 * j..]);
            let q4l = _mm256_and_si256(q4bits, m4);
            let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits), m4);
            let sl = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16));
            let sh = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16 + 1));
            for t in 0..T {
                let yq = &ys[t][i].qs;
                let pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(q4l, ld256(&yq[64 * j..])));
                let ph =
                    _mm256_madd_epi16(sh, _mm256_maddubs_epi16(q4h, ld256(&yq[64 * j + 32..])));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(pl, ph));
            }
        }
        for t in 0..T {
            let d = ys[t][i].scale() * xd;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    let mut out = [0f32; T];
    for t in 0..T {
        out[t] = hsum_ps(acc[t]) + hsum_ps128(acc_m[t]);
    }
    out
}

/// `kquants::vec_dot_q4_k_q8_k_interleaved::<true>` (ggml's repacked
/// `q4_K_8x8` GEMM order) over four rows: per 64 weights and token, the exact
/// integer sums, then `acc += isum·(d·d8)` and `accm += summ·(dmin·d8)`
/// (fused), `acc − accm` at the end. The four tokens' accumulators are the
/// lanes of one vector, so each FMA is that token's scalar `mul_add`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q4_k_q8_k_interleaved_gemm_x4(
    x: &[BlockQ4K],
    ys: [&[BlockQ8K]; T],
) -> [f32; T] {
    check_lens(x, &ys);
    let m4 = _mm256_set1_epi8(0x0f);
    // Lane t: token t.
    let mut acc = _mm_setzero_ps();
    let mut accm = _mm_setzero_ps();
    for (i, xb) in x.iter().enumerate() {
        let mins_scales = k4_mins_scales(&xb.scales);
        let dy = _mm_set_ps(
            ys[3][i].scale(),
            ys[2][i].scale(),
            ys[1][i].scale(),
            ys[0][i].scale(),
        );
        // The same f32 products as `f16x(xb.d) * yb.scale()`, four at once.
        let d = _mm_mul_ps(_mm_set1_ps(f16x(xb.d)), dy);
        let dmin = _mm_mul_ps(_mm_set1_ps(f16x(xb.dmin)), dy);
        // Lane c of m[t]: token t's mins term of weights 64c..64c+64;
        // transposed so that lane t of mt[c] holds it.
        let m = [0, 1, 2, 3].map(|t| mins_dot(mins_scales, &ys[t][i].bsums));
        let lo01 = _mm_unpacklo_epi32(m[0], m[1]);
        let lo23 = _mm_unpacklo_epi32(m[2], m[3]);
        let hi01 = _mm_unpackhi_epi32(m[0], m[1]);
        let hi23 = _mm_unpackhi_epi32(m[2], m[3]);
        let mt = [
            _mm_unpacklo_epi64(lo01, lo23),
            _mm_unpackhi_epi64(lo01, lo23),
            _mm_unpacklo_epi64(hi01, hi23),
            _mm_unpackhi_epi64(hi01, hi23),
        ];
        // The `accm` chain does not depend on `acc`: its four steps first.
        for mc in mt {
            accm = _mm_fmadd_ps(_mm_cvtepi32_ps(mc), dmin, accm);
        }
        let sc128 = _mm256_castsi256_si128(mins_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        for j in 0..4 {
            let q4bits = ld256(&xb.qs[32 * j..]);
            let q4l = _mm256_and_si256(q4bits, m4);
            let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits), m4);
            let sl = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16));
            let sh = _mm256_shuffle_epi8(scales, splat_lane16(2 * j as i16 + 1));
            let p = [0, 1, 2, 3].map(|t| {
                let yq = &ys[t][i].qs;
                let pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(q4l, ld256(&yq[64 * j..])));
                let ph =
                    _mm256_madd_epi16(sh, _mm256_maddubs_epi16(q4h, ld256(&yq[64 * j + 32..])));
                _mm256_add_epi32(pl, ph)
            });
            // Lane t: the (exact, wrapping) sum of p[t]'s eight lanes.
            let s = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
            let isum = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), d, acc);
        }
    }
    let mut out = [0f32; T];
    // SAFETY: [f32; 4] and __m128 have the same size; unaligned store.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), _mm_sub_ps(acc, accm)) };
    out
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q5_k_q8_k_x4(x: &[BlockQ5K], ys: [&[BlockQ8K]; T]) -> [f32; T] {
    check_lens(x, &ys);
    let m4 = _mm256_set1_epi8(0x0f);
    let b4 = _mm256_set1_epi8(0x10);
    let mut acc = [_mm256_setzero_ps(); T];
    let mut summs = [0f32; T];
    for (i, xb) in x.iter().enumerate() {
        let xd = f16x(xb.d);
        let xmin = f16x(xb.dmin);
        let mins_scales = k4_mins_scales(&xb.scales);
        for t in 0..T {
            let yb = &ys[t][i];
            let dmin = -yb.scale() * xmin;
            let prod = mins_dot(mins_scales, &yb.bsums);
            let prod = _mm_hadd_epi32(
                _mm_hadd_epi32(prod, _mm_setzero_si128()),
                _mm_setzero_si128(),
            );
            summs[t] += dmin * _mm_cvtsi128_si32(prod) as f32;
        }
        let sc128 = _mm256_castsi256_si128(mins_scales);
        let scales = _mm256_set_m128i(sc128, sc128);
        let mut h = ld256(&xb.qh);
        let mut sumi = [_mm256_setzero_si256(); T];
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
            for t in 0..T {
                let yq = &ys[t][i].qs;
                let pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(q5l, ld256(&yq[64 * j..])));
                let ph =
                    _mm256_madd_epi16(sh, _mm256_maddubs_epi16(q5h, ld256(&yq[64 * j + 32..])));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(pl, ph));
            }
        }
        for t in 0..T {
            let d = ys[t][i].scale() * xd;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    let mut out = [0f32; T];
    for t in 0..T {
        out[t] = hsum_ps(acc[t]) + summs[t];
    }
    out
}

/// `TILED`: ggml's tiled-GEMM order, as `kquants::vec_dot_q6_k_q8_k`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn vec_dot_q6_k_q8_k_x4<const TILED: bool>(
    x: &[BlockQ6K],
    ys: [&[BlockQ8K]; T],
) -> [f32; T] {
    check_lens(x, &ys);
    let m4 = _mm256_set1_epi8(0x0f);
    let m3 = _mm256_set1_epi8(0x30);
    let mut acc = [_mm256_setzero_ps(); T];
    let mut acc_tiled = [0f32; T];
    for (i, xb) in x.iter().enumerate() {
        let xd = f16x(xb.d);
        let sc_lo = _mm256_cvtepi8_epi16(ld128(&xb.scales));
        let mut sumi = [_mm256_setzero_si256(); T];
        for t in 0..T {
            // The −32 offset: 32 · Σ_j sc_j · bsum_j, once per block (subtracted below).
            let offs = _mm256_madd_epi16(sc_lo, ld256(&ys[t][i].bsums));
            sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32::<5>(offs));
        }
        for h in 0..2 {
            let pair = if h == 0 {
                _mm256_permute4x64_epi64::<0b01_00_01_00>(sc_lo)
            } else {
                _mm256_permute4x64_epi64::<0b11_10_11_10>(sc_lo)
            };
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
                let s = _mm256_shuffle_epi8(pair, pair_lane16(k as i16));
                for t in 0..T {
                    let yq = &ys[t][i].qs;
                    let p = _mm256_maddubs_epi16(qk, ld256(&yq[128 * h + 32 * k..]));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(s, p));
                }
            }
        }
        for t in 0..T {
            if TILED {
                let isum = hsum_epi32(sumi[t]) as f32;
                acc_tiled[t] = (isum * xd).mul_add(ys[t][i].scale(), acc_tiled[t]);
            } else {
                let d = ys[t][i].scale() * xd;
                acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
            }
        }
    }
    if TILED {
        acc_tiled
    } else {
        acc.map(|a| hsum_ps(a))
    }
}

/// Q4_0/Q5_0/Q8_0 × Q8_0, four weight rows × four tokens, with AVX512-VNNI
/// (and AVX512VL's 32 vector registers, which hold the 16 accumulators).
/// `decode(block) -> (dx, unsigned quants)`, the weight being
/// `dx·(quant − bias)`. Each lane's integer sum is
/// `vpdpbusd(−bias·Σy, quant, y)` = Σ (quant − bias)·y over the lane's four
/// bytes: exactly the lane of the sign-trick dot, so with the same
/// `dx·dy` and the same fused accumulation every result is bit-identical to
/// the single-row kernels.
pub(super) mod vnni4x4 {
    use super::super::super::super::q4::BlockQ4_0;
    use super::super::super::super::q5::BlockQ5_0;
    use super::super::super::super::q8::BlockQ8_0;
    use super::super::{bits_32, f16x, hsum_ps, ld256, nibbles_32};
    use super::{dy4, lane, T};
    use core::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
    #[inline]
    fn gemm<B>(
        xs: &[&[B]; T],
        ys: &[&[BlockQ8_0]; T],
        bias: u8,
        decode: impl Fn(&B) -> (f32, __m256i),
    ) -> [[f32; T]; T] {
        let nb = ys[0].len();
        for r in 0..T {
            assert_eq!(xs[r].len(), nb);
            assert_eq!(ys[r].len(), nb);
        }
        let zero = _mm256_setzero_si256();
        let bv = _mm256_set1_epi8(bias as i8);
        let mut acc = [[_mm256_setzero_ps(); T]; T];
        for i in 0..nb {
            let dy = dy4(ys, i, |b| b.d);
            let yq = [0, 1, 2, 3].map(|t| ld256(&ys[t][i].qs));
            let neg = yq.map(|y| _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, bv, y)));
            for r in 0..T {
                let (dx, qu) = decode(&xs[r][i]);
                let sc = _mm_mul_ps(_mm_set1_ps(dx), dy);
                for t in 0..T {
                    let p = _mm256_dpbusd_epi32(neg[t], qu, yq[t]);
                    acc[r][t] = _mm256_fmadd_ps(lane(sc, t), _mm256_cvtepi32_ps(p), acc[r][t]);
                }
            }
        }
        acc.map(|row| row.map(|a| hsum_ps(a)))
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
    pub(in super::super) fn gemm_q4_0(
        xs: [&[BlockQ4_0]; T],
        ys: [&[BlockQ8_0]; T],
    ) -> [[f32; T]; T] {
        gemm(&xs, &ys, 8, |xb| (f16x(xb.d), nibbles_32(&xb.qs)))
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
    pub(in super::super) fn gemm_q5_0(
        xs: [&[BlockQ5_0]; T],
        ys: [&[BlockQ8_0]; T],
    ) -> [[f32; T]; T] {
        let b4 = _mm256_set1_epi8(0x10);
        gemm(&xs, &ys, 16, |xb| {
            let qu = _mm256_or_si256(nibbles_32(&xb.qs), _mm256_and_si256(bits_32(xb.qh), b4));
            (f16x(xb.d), qu)
        })
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512vnni,avx512vl")]
    pub(in super::super) fn gemm_q8_0(
        xs: [&[BlockQ8_0]; T],
        ys: [&[BlockQ8_0]; T],
    ) -> [[f32; T]; T] {
        let flip = _mm256_set1_epi8(0x80u8 as i8);
        gemm(&xs, &ys, 128, |xb| {
            (f16x(xb.d), _mm256_xor_si256(ld256(&xb.qs), flip))
        })
    }
}

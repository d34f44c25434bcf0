//! AVX2 activation quantizers, bit-identical to the scalar references
//! (ggml's x86 `quantize_row_q8_0`/`q8_1` and `quantize_row_q8_K_ref`).

use super::super::super::q8::{BlockQ8K, BlockQ8_0, BlockQ8_1};
use super::super::super::util::f32_to_f16;
use super::hsum_epi32;
use core::arch::x86_64::*;

/// Loads 8 floats from `s[0..8]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn ld8(s: &[f32]) -> __m256 {
    assert!(s.len() >= 8);
    // SAFETY: 8 readable floats; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr()) }
}

/// Lane-wise |v|.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn abs8(v: __m256) -> __m256 {
    _mm256_andnot_ps(_mm256_set1_ps(-0.0), v)
}

/// Largest lane.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hmax(v: __m256) -> f32 {
    let m = _mm_max_ps(_mm256_extractf128_ps::<1>(v), _mm256_castps256_ps128(v));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    let m = _mm_max_ss(m, _mm_movehdup_ps(m));
    _mm_cvtss_f32(m)
}

/// `round_half_even(v · mul)` as i32 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn round_i32(v: __m256, mul: __m256) -> __m256i {
    let r =
        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(v, mul));
    _mm256_cvtps_epi32(r)
}

/// Four i32×8 → 32 saturated i8 in order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn pack_i8(i0: __m256i, i1: __m256i, i2: __m256i, i3: __m256i) -> __m256i {
    let a = _mm256_packs_epi32(i0, i1);
    let b = _mm256_packs_epi32(i2, i3);
    let p = _mm256_packs_epi16(a, b);
    // The packs work per 128-bit lane; this puts the dwords back in order.
    _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// Stores 32 bytes at the start of `dst`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn st256(dst: &mut [i8], v: __m256i) {
    assert!(dst.len() >= 32);
    // SAFETY: 32 writable bytes; storeu has no alignment requirement.
    unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) }
}

/// One 32-value block: returns (d, quants as i32 lanes).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn q8_block(x: &[f32]) -> (f32, [__m256i; 4]) {
    let v = [ld8(&x[0..]), ld8(&x[8..]), ld8(&x[16..]), ld8(&x[24..])];
    let m = _mm256_max_ps(
        _mm256_max_ps(abs8(v[0]), abs8(v[1])),
        _mm256_max_ps(abs8(v[2]), abs8(v[3])),
    );
    let amax = hmax(m);
    let d = amax / 127.0;
    let id = _mm256_set1_ps(if amax != 0.0 { 127.0 / amax } else { 0.0 });
    (d, v.map(|v| round_i32(v, id)))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), y.len() * 32);
    for (xb, yb) in x.chunks_exact(32).zip(y.iter_mut()) {
        let (d, q) = q8_block(xb);
        yb.d = f32_to_f16(d);
        st256(&mut yb.qs, pack_i8(q[0], q[1], q[2], q[3]));
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), y.len() * 32);
    for (xb, yb) in x.chunks_exact(32).zip(y.iter_mut()) {
        let (d, q) = q8_block(xb);
        yb.d = f32_to_f16(d);
        let sum = hsum_epi32(_mm256_add_epi32(
            _mm256_add_epi32(q[0], q[1]),
            _mm256_add_epi32(q[2], q[3]),
        ));
        yb.s = f32_to_f16(d * sum as f32);
        st256(&mut yb.qs, pack_i8(q[0], q[1], q[2], q[3]));
    }
}

/// Four i32×8 vectors → their four lane sums.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum4(t: [__m256i; 4]) -> __m128i {
    let h = _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3]));
    _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h))
}

#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    assert_eq!(x.len(), y.len() * 256);
    for (xb, yb) in x.chunks_exact(256).zip(y.iter_mut()) {
        let mut m = _mm256_setzero_ps();
        for c in xb.chunks_exact(8) {
            m = _mm256_max_ps(m, abs8(ld8(c)));
        }
        let amax = hmax(m);
        if amax == 0.0 {
            *yb = BlockQ8K {
                d: [0; 4],
                qs: [0; 256],
                bsums: [0; 32],
            };
            continue;
        }
        // The signed value of the first element with |x| = amax (ggml keeps the first).
        let target = _mm256_set1_ps(amax);
        let mut max = 0f32;
        for (i, c) in xb.chunks_exact(8).enumerate() {
            let hit = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(abs8(ld8(c)), target));
            if hit != 0 {
                max = xb[8 * i + hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0 / max;
        let mul = _mm256_set1_ps(iscale);
        // 16 groups of 16 values; t[g] holds group g's lane sums.
        let mut t = [_mm256_setzero_si256(); 16];
        for g in 0..8 {
            let c = &xb[32 * g..32 * g + 32];
            let q = [ld8(&c[0..]), ld8(&c[8..]), ld8(&c[16..]), ld8(&c[24..])]
                .map(|v| round_i32(v, mul));
            t[2 * g] = _mm256_add_epi32(q[0], q[1]);
            t[2 * g + 1] = _mm256_add_epi32(q[2], q[3]);
            // Quants are within ±127 by construction, so the saturating pack is the `min(127, ·)` of ggml.
            st256(&mut yb.qs[32 * g..], pack_i8(q[0], q[1], q[2], q[3]));
        }
        let s0 = hsum4([t[0], t[1], t[2], t[3]]);
        let s1 = hsum4([t[4], t[5], t[6], t[7]]);
        let s2 = hsum4([t[8], t[9], t[10], t[11]]);
        let s3 = hsum4([t[12], t[13], t[14], t[15]]);
        let lo = _mm_packs_epi32(s0, s1);
        let hi = _mm_packs_epi32(s2, s3);
        // SAFETY: bsums is 32 bytes; two unaligned 16-byte stores.
        unsafe {
            _mm_storeu_si128(yb.bsums.as_mut_ptr().cast(), lo);
            _mm_storeu_si128(yb.bsums.as_mut_ptr().add(16).cast(), hi);
        }
        yb.d = (1.0 / iscale).to_le_bytes();
    }
}

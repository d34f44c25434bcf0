//! NEON dot products of the K-quants with Q8_K activations. Every 16 weights
//! share one group scale (32 for Q4_K/Q5_K), so each 16-byte int8 dot is
//! scaled in the integer domain (`mla` by the scale) and a super-block ends
//! with one horizontal add; mins go through the Q8_K group sums.

use super::super::super::k_common::unpack_scale_min_k4;
use super::super::super::q2_k::BlockQ2K;
use super::super::super::q3_k::{q3_scale, BlockQ3K};
use super::super::super::q4_k::BlockQ4K;
use super::super::super::q5_k::BlockQ5K;
use super::super::super::q6_k::BlockQ6K;
use super::super::super::q8::BlockQ8K;
use super::{dot16, f16s, ld_s8, ld_u8};
use core::arch::aarch64::*;

/// The 16 Q8_K group sums as two int16x8.
#[target_feature(enable = "neon")]
#[inline]
fn bsums(yb: &BlockQ8K) -> (int16x8_t, int16x8_t) {
    let b = &yb.bsums;
    (
        vreinterpretq_s16_u8(ld_u8(&b[..16])),
        vreinterpretq_s16_u8(ld_u8(&b[16..])),
    )
}

/// Σ_j m_j·(bsum_2j + bsum_2j+1) for the 8 mins of Q4_K/Q5_K.
#[target_feature(enable = "neon")]
#[inline]
fn mins_dot(m: &[u8; 8], yb: &BlockQ8K) -> i32 {
    let (b0, b1) = bsums(yb);
    let pairs = vpaddq_s16(b0, b1); // 8 sums of 32 quants
                                    // SAFETY: `m` is 8 readable bytes.
    let mins = vreinterpretq_s16_u16(vmovl_u8(unsafe { vld1_u8(m.as_ptr()) }));
    let p = vmull_s16(vget_low_s16(mins), vget_low_s16(pairs));
    let p = vmlal_high_s16(p, mins, pairs);
    vaddvq_s32(p)
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q4_k_q8_k<const DOT: bool>(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m4 = vdupq_n_u8(0x0f);
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        let summ = mins_dot(&m, yb);
        let mut acc = zero;
        for j in 0..4 {
            let q0 = ld_u8(&xb.qs[32 * j..]);
            let q1 = ld_u8(&xb.qs[32 * j + 16..]);
            let y8 = &yb.qs[64 * j..];
            let lo0 = vreinterpretq_s8_u8(vandq_u8(q0, m4));
            let lo1 = vreinterpretq_s8_u8(vandq_u8(q1, m4));
            let hi0 = vreinterpretq_s8_u8(vshrq_n_u8::<4>(q0));
            let hi1 = vreinterpretq_s8_u8(vshrq_n_u8::<4>(q1));
            let pl = dot16::<DOT>(
                dot16::<DOT>(zero, lo0, ld_s8(&y8[..16])),
                lo1,
                ld_s8(&y8[16..32]),
            );
            let ph = dot16::<DOT>(
                dot16::<DOT>(zero, hi0, ld_s8(&y8[32..48])),
                hi1,
                ld_s8(&y8[48..64]),
            );
            acc = vmlaq_n_s32(acc, pl, sc[2 * j] as i32);
            acc = vmlaq_n_s32(acc, ph, sc[2 * j + 1] as i32);
        }
        let dy = yb.scale();
        sumf += dy * f16s(xb.d) * vaddvq_s32(acc) as f32 - dy * f16s(xb.dmin) * summ as f32;
    }
    sumf
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q5_k_q8_k<const DOT: bool>(x: &[BlockQ5K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m4 = vdupq_n_u8(0x0f);
    let one = vdupq_n_u8(1);
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        let summ = mins_dot(&m, yb);
        // Bit 0 of each byte is the next fifth bit; shift right once per 32 weights.
        let mut h0 = ld_u8(&xb.qh[..16]);
        let mut h1 = ld_u8(&xb.qh[16..]);
        let mut acc = zero;
        for j in 0..4 {
            let q0 = ld_u8(&xb.qs[32 * j..]);
            let q1 = ld_u8(&xb.qs[32 * j + 16..]);
            let y8 = &yb.qs[64 * j..];
            let lo0 = vorrq_u8(vandq_u8(q0, m4), vshlq_n_u8::<4>(vandq_u8(h0, one)));
            let lo1 = vorrq_u8(vandq_u8(q1, m4), vshlq_n_u8::<4>(vandq_u8(h1, one)));
            h0 = vshrq_n_u8::<1>(h0);
            h1 = vshrq_n_u8::<1>(h1);
            let hi0 = vorrq_u8(vshrq_n_u8::<4>(q0), vshlq_n_u8::<4>(vandq_u8(h0, one)));
            let hi1 = vorrq_u8(vshrq_n_u8::<4>(q1), vshlq_n_u8::<4>(vandq_u8(h1, one)));
            h0 = vshrq_n_u8::<1>(h0);
            h1 = vshrq_n_u8::<1>(h1);
            let s8 = vreinterpretq_s8_u8;
            let pl = dot16::<DOT>(
                dot16::<DOT>(zero, s8(lo0), ld_s8(&y8[..16])),
                s8(lo1),
                ld_s8(&y8[16..32]),
            );
            let ph = dot16::<DOT>(
                dot16::<DOT>(zero, s8(hi0), ld_s8(&y8[32..48])),
                s8(hi1),
                ld_s8(&y8[48..64]),
            );
            acc = vmlaq_n_s32(acc, pl, sc[2 * j] as i32);
            acc = vmlaq_n_s32(acc, ph, sc[2 * j + 1] as i32);
        }
        let dy = yb.scale();
        sumf += dy * f16s(xb.d) * vaddvq_s32(acc) as f32 - dy * f16s(xb.dmin) * summ as f32;
    }
    sumf
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q6_k_q8_k<const DOT: bool>(x: &[BlockQ6K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m4 = vdupq_n_u8(0x0f);
    let m3 = vdupq_n_u8(0x03);
    let m32 = vdupq_n_s8(32);
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut acc = zero;
        for h in 0..2 {
            for part in 0..2 {
                // 16 columns l = 16·part .. +16 of this 128-weight half.
                let o = 16 * part;
                let ql0 = ld_u8(&xb.ql[64 * h + o..]);
                let ql1 = ld_u8(&xb.ql[64 * h + 32 + o..]);
                let qh = ld_u8(&xb.qh[32 * h + o..]);
                let q = [
                    vorrq_u8(vandq_u8(ql0, m4), vshlq_n_u8::<4>(vandq_u8(qh, m3))),
                    vorrq_u8(
                        vandq_u8(ql1, m4),
                        vshlq_n_u8::<4>(vandq_u8(vshrq_n_u8::<2>(qh), m3)),
                    ),
                    vorrq_u8(
                        vshrq_n_u8::<4>(ql0),
                        vshlq_n_u8::<4>(vandq_u8(vshrq_n_u8::<4>(qh), m3)),
                    ),
                    vorrq_u8(vshrq_n_u8::<4>(ql1), vshlq_n_u8::<4>(vshrq_n_u8::<6>(qh))),
                ];
                for (k, qk) in q.into_iter().enumerate() {
                    // Weights 128h + 32k + o .. +16: group 8h + 2k + part.
                    let w0 = 128 * h + 32 * k + o;
                    let p = dot16::<DOT>(
                        zero,
                        vsubq_s8(vreinterpretq_s8_u8(qk), m32),
                        ld_s8(&yb.qs[w0..]),
                    );
                    acc = vmlaq_n_s32(acc, p, xb.scales[8 * h + 2 * k + part] as i32);
                }
            }
        }
        sumf += yb.scale() * f16s(xb.d) * vaddvq_s32(acc) as f32;
    }
    sumf
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q3_k_q8_k<const DOT: bool>(x: &[BlockQ3K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m3 = vdupq_n_u8(0x03);
    let one = vdupq_n_u8(1);
    let m4 = vdupq_n_s8(4);
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut acc = zero;
        for part in 0..2 {
            let o = 16 * part;
            // Bit 0 of each byte is the next high bit; shift right once per 32 weights.
            let mut hm = ld_u8(&xb.hmask[o..]);
            for half in 0..2 {
                let qs = ld_u8(&xb.qs[32 * half + o..]);
                for k in 0..4 {
                    let lo = match k {
                        0 => vandq_u8(qs, m3),
                        1 => vandq_u8(vshrq_n_u8::<2>(qs), m3),
                        2 => vandq_u8(vshrq_n_u8::<4>(qs), m3),
                        _ => vshrq_n_u8::<6>(qs),
                    };
                    let q = vorrq_u8(lo, vshlq_n_u8::<2>(vandq_u8(hm, one)));
                    hm = vshrq_n_u8::<1>(hm);
                    let w0 = 128 * half + 32 * k + o;
                    let p = dot16::<DOT>(
                        zero,
                        vsubq_s8(vreinterpretq_s8_u8(q), m4),
                        ld_s8(&yb.qs[w0..]),
                    );
                    acc = vmlaq_n_s32(acc, p, q3_scale(&xb.scales, w0 / 16) - 32);
                }
            }
        }
        sumf += yb.scale() * f16s(xb.d) * vaddvq_s32(acc) as f32;
    }
    sumf
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q2_k_q8_k<const DOT: bool>(x: &[BlockQ2K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let m3 = vdupq_n_u8(0x03);
    let zero = vdupq_n_s32(0);
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let sc = ld_u8(&xb.scales);
        let mins = vshrq_n_u8::<4>(sc);
        let (b0, b1) = bsums(yb);
        let m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
        let m1 = vreinterpretq_s16_u16(vmovl_high_u8(mins));
        let pm = vmlal_high_s16(vmull_s16(vget_low_s16(m0), vget_low_s16(b0)), m0, b0);
        let pm = vmlal_high_s16(vmlal_s16(pm, vget_low_s16(m1), vget_low_s16(b1)), m1, b1);
        let summ = vaddvq_s32(pm);
        let mut acc = zero;
        for half in 0..2 {
            for part in 0..2 {
                let o = 16 * part;
                let qs = ld_u8(&xb.qs[32 * half + o..]);
                for k in 0..4 {
                    let q = match k {
                        0 => vandq_u8(qs, m3),
                        1 => vandq_u8(vshrq_n_u8::<2>(qs), m3),
                        2 => vandq_u8(vshrq_n_u8::<4>(qs), m3),
                        _ => vshrq_n_u8::<6>(qs),
                    };
                    let w0 = 128 * half + 32 * k + o;
                    let p = dot16::<DOT>(zero, vreinterpretq_s8_u8(q), ld_s8(&yb.qs[w0..]));
                    acc = vmlaq_n_s32(acc, p, (xb.scales[w0 / 16] & 0x0f) as i32);
                }
            }
        }
        let dy = yb.scale();
        sumf += dy * f16s(xb.d) * vaddvq_s32(acc) as f32 - dy * f16s(xb.dmin) * summ as f32;
    }
    sumf
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q8_k_q8_k<const DOT: bool>(x: &[BlockQ8K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let mut acc = vdupq_n_s32(0);
        for j in 0..16 {
            acc = dot16::<DOT>(acc, ld_s8(&xb.qs[16 * j..]), ld_s8(&yb.qs[16 * j..]));
        }
        sumf += vaddvq_s32(acc) as f32 * (xb.scale() * yb.scale());
    }
    sumf
}

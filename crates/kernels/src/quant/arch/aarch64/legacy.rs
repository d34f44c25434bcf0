//! NEON dot products of the 32-weight types with Q8_0/Q8_1 activations.

use super::super::super::q4::{BlockQ4_0, BlockQ4_1};
use super::super::super::q5::{BlockQ5_0, BlockQ5_1};
use super::super::super::q8::{BlockQ8_0, BlockQ8_1};
use super::{dot16, f16s, ld_s8, ld_u8};
use core::arch::aarch64::*;

/// Runs `block(i) -> (scale, int lanes)` over all blocks, two accumulators.
#[target_feature(enable = "neon")]
#[inline]
fn accumulate(nb: usize, mut block: impl FnMut(usize) -> (f32, int32x4_t)) -> f32 {
    let mut acc0 = vdupq_n_f32(0.0);
    let mut acc1 = vdupq_n_f32(0.0);
    let mut i = 0;
    while i + 1 < nb {
        let (d0, p0) = block(i);
        let (d1, p1) = block(i + 1);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(p0), d0);
        acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(p1), d1);
        i += 2;
    }
    if i < nb {
        let (d0, p0) = block(i);
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(p0), d0);
    }
    vaddvq_f32(vaddq_f32(acc0, acc1))
}

/// Splits 16 bytes of nibbles into (low nibbles, high nibbles) as int8.
#[target_feature(enable = "neon")]
#[inline]
fn nibbles(qs: &[u8; 16]) -> (int8x16_t, int8x16_t) {
    let v = ld_u8(qs);
    (
        vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f))),
        vreinterpretq_s8_u8(vshrq_n_u8::<4>(v)),
    )
}

/// The 32 fifth bits of a Q5 block as two 16-byte masks (0xFF where set).
#[target_feature(enable = "neon")]
#[inline]
fn fifth_bits(qh: [u8; 4]) -> (uint8x16_t, uint8x16_t) {
    const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let bits = ld_u8(&BITS);
    let lo = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
    let hi = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
    (vtstq_u8(lo, bits), vtstq_u8(hi, bits))
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q4_0_q8_0<const DOT: bool>(x: &[BlockQ4_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len());
    let eight = vdupq_n_s8(8);
    accumulate(x.len(), |i| {
        let (xb, yb) = (&x[i], &y[i]);
        let (lo, hi) = nibbles(&xb.qs);
        let p = dot16::<DOT>(vdupq_n_s32(0), vsubq_s8(lo, eight), ld_s8(&yb.qs[..16]));
        let p = dot16::<DOT>(p, vsubq_s8(hi, eight), ld_s8(&yb.qs[16..]));
        (f16s(xb.d) * f16s(yb.d), p)
    })
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q4_1_q8_1<const DOT: bool>(x: &[BlockQ4_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut summs = 0f32;
    let s = accumulate(x.len(), |i| {
        let (xb, yb) = (&x[i], &y[i]);
        summs += f16s(xb.m) * f16s(yb.s);
        let (lo, hi) = nibbles(&xb.qs);
        let p = dot16::<DOT>(vdupq_n_s32(0), lo, ld_s8(&yb.qs[..16]));
        let p = dot16::<DOT>(p, hi, ld_s8(&yb.qs[16..]));
        (f16s(xb.d) * f16s(yb.d), p)
    });
    s + summs
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q5_0_q8_0<const DOT: bool>(x: &[BlockQ5_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len());
    let high = vdupq_n_u8(0xf0);
    accumulate(x.len(), |i| {
        let (xb, yb) = (&x[i], &y[i]);
        let (lo, hi) = nibbles(&xb.qs);
        let (h0, h1) = fifth_bits(xb.qh);
        // q − 16 as i8: a clear fifth bit makes the byte 0xF0 | nibble (= nibble − 16).
        let q0 = vorrq_s8(lo, vreinterpretq_s8_u8(vbicq_u8(high, h0)));
        let q1 = vorrq_s8(hi, vreinterpretq_s8_u8(vbicq_u8(high, h1)));
        let p = dot16::<DOT>(vdupq_n_s32(0), q0, ld_s8(&yb.qs[..16]));
        let p = dot16::<DOT>(p, q1, ld_s8(&yb.qs[16..]));
        (f16s(xb.d) * f16s(yb.d), p)
    })
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q5_1_q8_1<const DOT: bool>(x: &[BlockQ5_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len());
    let b4 = vdupq_n_u8(0x10);
    let mut summs = 0f32;
    let s = accumulate(x.len(), |i| {
        let (xb, yb) = (&x[i], &y[i]);
        summs += f16s(xb.m) * f16s(yb.s);
        let (lo, hi) = nibbles(&xb.qs);
        let (h0, h1) = fifth_bits(xb.qh);
        let q0 = vorrq_s8(lo, vreinterpretq_s8_u8(vandq_u8(h0, b4)));
        let q1 = vorrq_s8(hi, vreinterpretq_s8_u8(vandq_u8(h1, b4)));
        let p = dot16::<DOT>(vdupq_n_s32(0), q0, ld_s8(&yb.qs[..16]));
        let p = dot16::<DOT>(p, q1, ld_s8(&yb.qs[16..]));
        (f16s(xb.d) * f16s(yb.d), p)
    });
    s + summs
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q8_0_q8_0<const DOT: bool>(x: &[BlockQ8_0], y: &[BlockQ8_0]) -> f32 {
    assert_eq!(x.len(), y.len());
    accumulate(x.len(), |i| {
        let (xb, yb) = (&x[i], &y[i]);
        let p = dot16::<DOT>(vdupq_n_s32(0), ld_s8(&xb.qs[..16]), ld_s8(&yb.qs[..16]));
        let p = dot16::<DOT>(p, ld_s8(&xb.qs[16..]), ld_s8(&yb.qs[16..]));
        (f16s(xb.d) * f16s(yb.d), p)
    })
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_q8_1_q8_1<const DOT: bool>(x: &[BlockQ8_1], y: &[BlockQ8_1]) -> f32 {
    assert_eq!(x.len(), y.len());
    accumulate(x.len(), |i| {
        let (xb, yb) = (&x[i], &y[i]);
        let p = dot16::<DOT>(vdupq_n_s32(0), ld_s8(&xb.qs[..16]), ld_s8(&yb.qs[..16]));
        let p = dot16::<DOT>(p, ld_s8(&xb.qs[16..]), ld_s8(&yb.qs[16..]));
        (f16s(xb.d) * f16s(yb.d), p)
    })
}

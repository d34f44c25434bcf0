//! NEON kernels of the float types. f16 ↔ f32 use `fcvtl`/`fcvtn` through
//! inline assembly (the f16 vector intrinsics are not stable in Rust yet).

use super::super::super::float::{
    dequantize_row_bf16_ref, dequantize_row_f16_ref, quantize_row_f16_ref, vec_dot_bf16_ref,
    vec_dot_f16_ref, vec_dot_f32_ref,
};
use super::ld_u8;
use core::arch::aarch64::*;

/// 8 f16 (16 bytes) → two float32x4.
#[target_feature(enable = "neon")]
#[inline]
fn ld_f16x8(s: &[u8]) -> (float32x4_t, float32x4_t) {
    let h = ld_u8(s);
    let lo: float32x4_t;
    let hi: float32x4_t;
    // SAFETY: pure register conversions (FCVTL/FCVTL2 are base ARMv8 SIMD).
    unsafe {
        core::arch::asm!(
            "fcvtl {lo:v}.4s, {h:v}.4h",
            "fcvtl2 {hi:v}.4s, {h:v}.8h",
            h = in(vreg) h,
            lo = out(vreg) lo,
            hi = out(vreg) hi,
            options(pure, nomem, nostack),
        );
    }
    (lo, hi)
}

/// 8 bf16 (16 bytes) → two float32x4 (exact).
#[target_feature(enable = "neon")]
#[inline]
fn ld_bf16x8(s: &[u8]) -> (float32x4_t, float32x4_t) {
    let h = vreinterpretq_u16_u8(ld_u8(s));
    (
        vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(h))),
        vreinterpretq_f32_u32(vshll_high_n_u16::<16>(h)),
    )
}

/// 4 f32 from raw bytes.
#[target_feature(enable = "neon")]
#[inline]
fn ld_f32x4(s: &[u8]) -> float32x4_t {
    vreinterpretq_f32_u8(ld_u8(s))
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_f32(x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(x.len(), y.len());
    let n = x.len() / 4;
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            let o = 4 * (i + 4 * k);
            *a = vfmaq_f32(*a, ld_f32x4(&x[o..]), ld_f32x4(&y[o..]));
        }
        i += 16;
    }
    while i + 4 <= n {
        acc[0] = vfmaq_f32(acc[0], ld_f32x4(&x[4 * i..]), ld_f32x4(&y[4 * i..]));
        i += 4;
    }
    let s = vaddvq_f32(vaddq_f32(
        vaddq_f32(acc[0], acc[1]),
        vaddq_f32(acc[2], acc[3]),
    ));
    s + vec_dot_f32_ref(&x[4 * i..], &y[4 * i..])
}

/// Dot of two 2-byte float types given an 8-wide loader.
#[target_feature(enable = "neon")]
#[inline]
fn dot_half(
    x: &[u8],
    y: &[u8],
    ld: impl Fn(&[u8]) -> (float32x4_t, float32x4_t),
    tail: fn(&[u8], &[u8]) -> f32,
) -> f32 {
    assert_eq!(x.len(), y.len());
    let n = x.len() / 2;
    let mut a0 = vdupq_n_f32(0.0);
    let mut a1 = vdupq_n_f32(0.0);
    let mut i = 0;
    while i + 8 <= n {
        let (x0, x1) = ld(&x[2 * i..]);
        let (y0, y1) = ld(&y[2 * i..]);
        a0 = vfmaq_f32(a0, x0, y0);
        a1 = vfmaq_f32(a1, x1, y1);
        i += 8;
    }
    vaddvq_f32(vaddq_f32(a0, a1)) + tail(&x[2 * i..], &y[2 * i..])
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_f16(x: &[u8], y: &[u8]) -> f32 {
    dot_half(x, y, |s| ld_f16x8(s), vec_dot_f16_ref)
}

#[target_feature(enable = "neon")]
pub(super) fn vec_dot_bf16(x: &[u8], y: &[u8]) -> f32 {
    dot_half(x, y, |s| ld_bf16x8(s), vec_dot_bf16_ref)
}

/// Stores 4 f32 at `dst[0..4]`.
#[target_feature(enable = "neon")]
#[inline]
fn st_f32x4(dst: &mut [f32], v: float32x4_t) {
    assert!(dst.len() >= 4);
    // SAFETY: 4 writable floats; st1 has no alignment requirement.
    unsafe { vst1q_f32(dst.as_mut_ptr(), v) }
}

#[target_feature(enable = "neon")]
pub(super) fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 2);
    let mut s8 = src.chunks_exact(16);
    let mut d8 = dst.chunks_exact_mut(8);
    for (s, d) in (&mut s8).zip(&mut d8) {
        let (lo, hi) = ld_f16x8(s);
        st_f32x4(&mut d[..4], lo);
        st_f32x4(&mut d[4..], hi);
    }
    dequantize_row_f16_ref(s8.remainder(), d8.into_remainder());
}

#[target_feature(enable = "neon")]
pub(super) fn quantize_f16(src: &[f32], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2);
    let mut s8 = src.chunks_exact(8);
    let mut d8 = dst.chunks_exact_mut(16);
    for (s, d) in (&mut s8).zip(&mut d8) {
        // SAFETY: `s` has 8 floats; ld1 has no alignment requirement.
        let (lo, hi) = unsafe { (vld1q_f32(s.as_ptr()), vld1q_f32(s.as_ptr().add(4))) };
        let h: uint8x16_t;
        // SAFETY: pure register conversions, round to nearest even (FPCR default).
        unsafe {
            core::arch::asm!(
                "fcvtn {h:v}.4h, {lo:v}.4s",
                "fcvtn2 {h:v}.8h, {hi:v}.4s",
                lo = in(vreg) lo,
                hi = in(vreg) hi,
                h = out(vreg) h,
                options(pure, nomem, nostack),
            );
        }
        // SAFETY: `d` has 16 writable bytes.
        unsafe { vst1q_u8(d.as_mut_ptr(), h) };
    }
    quantize_row_f16_ref(s8.remainder(), d8.into_remainder());
}

#[target_feature(enable = "neon")]
pub(super) fn dequantize_bf16(src: &[u8], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len() * 2);
    let mut s8 = src.chunks_exact(16);
    let mut d8 = dst.chunks_exact_mut(8);
    for (s, d) in (&mut s8).zip(&mut d8) {
        let (lo, hi) = ld_bf16x8(s);
        st_f32x4(&mut d[..4], lo);
        st_f32x4(&mut d[4..], hi);
    }
    dequantize_row_bf16_ref(s8.remainder(), d8.into_remainder());
}

//! NEON activation quantizers, bit-identical to the scalar references
//! (`fcvtns`-style rounding: nearest, ties to even, as the x86 path ggml uses).

use super::super::super::q8::{BlockQ8K, BlockQ8_0, BlockQ8_1};
use super::super::super::util::f32_to_f16;
use core::arch::aarch64::*;

/// Loads 4 floats from `s[0..4]`.
#[target_feature(enable = "neon")]
#[inline]
fn ld4(s: &[f32]) -> float32x4_t {
    assert!(s.len() >= 4);
    // SAFETY: 4 readable floats; ld1 has no alignment requirement.
    unsafe { vld1q_f32(s.as_ptr()) }
}

/// Largest |x| of `x` (length a multiple of 4).
#[target_feature(enable = "neon")]
#[inline]
fn abs_max(x: &[f32]) -> f32 {
    let mut m = vdupq_n_f32(0.0);
    for c in x.chunks_exact(4) {
        m = vmaxq_f32(m, vabsq_f32(ld4(c)));
    }
    vmaxvq_f32(m)
}

/// Rounds `x·mul` (32 values) to nearest-even int8 into `q`; returns Σq.
#[target_feature(enable = "neon")]
#[inline]
fn round32(x: &[f32], mul: f32, q: &mut [i8; 32]) -> i32 {
    let mut sum = vdupq_n_s32(0);
    for (k, c) in x.chunks_exact(8).enumerate() {
        let a = vcvtnq_s32_f32(vmulq_n_f32(ld4(&c[..4]), mul));
        let b = vcvtnq_s32_f32(vmulq_n_f32(ld4(&c[4..]), mul));
        sum = vaddq_s32(sum, vaddq_s32(a, b));
        let n = vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
        // SAFETY: 8 writable bytes at 8k (k < 4) in a 32-byte array.
        unsafe { vst1_s8(q.as_mut_ptr().add(8 * k), n) };
    }
    vaddvq_s32(sum)
}

#[target_feature(enable = "neon")]
pub(super) fn quantize_row_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), y.len() * 32);
    for (xb, yb) in x.chunks_exact(32).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        yb.d = f32_to_f16(amax / 127.0);
        round32(xb, id, &mut yb.qs);
    }
}

#[target_feature(enable = "neon")]
pub(super) fn quantize_row_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    assert_eq!(x.len(), y.len() * 32);
    for (xb, yb) in x.chunks_exact(32).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        let d = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        yb.d = f32_to_f16(d);
        let sum = round32(xb, id, &mut yb.qs);
        yb.s = f32_to_f16(d * sum as f32);
    }
}

#[target_feature(enable = "neon")]
pub(super) fn quantize_row_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    assert_eq!(x.len(), y.len() * 256);
    for (xb, yb) in x.chunks_exact(256).zip(y.iter_mut()) {
        let amax = abs_max(xb);
        if amax == 0.0 {
            *yb = BlockQ8K {
                d: [0; 4],
                qs: [0; 256],
                bsums: [0; 32],
            };
            continue;
        }
        // The signed value of the first element with |x| = amax (ggml keeps the first).
        let max = *xb
            .iter()
            .find(|v| v.abs() == amax)
            .expect("amax is one of the values");
        let iscale = -127.0 / max;
        for g in 0..8 {
            let mut q = [0i8; 32];
            round32(&xb[32 * g..32 * g + 32], iscale, &mut q);
            yb.qs[32 * g..32 * g + 32].copy_from_slice(&q);
            for h in 0..2 {
                let s: i32 = q[16 * h..16 * h + 16].iter().map(|&v| v as i32).sum();
                let b = 2 * (2 * g + h);
                yb.bsums[b..b + 2].copy_from_slice(&(s as i16).to_le_bytes());
            }
        }
        yb.d = (1.0 / iscale).to_le_bytes();
    }
}

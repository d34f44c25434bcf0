//! aarch64 kernels: NEON (always present on aarch64), with the `sdot`
//! instruction where the CPU has the dotprod extension (probed at run time).
//!
//! Each integer kernel is written once, generic over `const DOT: bool`:
//! `true` uses `sdot` (4-way int8 dot into int32 lanes), `false` the
//! `smull` + `sadalp` sequence every ARMv8 core has. `sdot` is emitted via
//! inline assembly because its Rust intrinsic is not stable yet.

use super::super::block::{as_blocks, as_blocks_mut};
use super::super::{Kernels, QuantType};
use core::arch::aarch64::*;

mod float;
mod kquants;
mod legacy;
mod quantize;

fn has_dotprod() -> bool {
    std::arch::is_aarch64_feature_detected!("dotprod")
}

pub(crate) fn simd_level() -> &'static str {
    if has_dotprod() {
        "neon+dotprod"
    } else {
        "neon"
    }
}

/// Appends the NEON set, then the NEON+dotprod set if the CPU has it.
pub(crate) fn push_variants(ty: QuantType, v: &mut Vec<Kernels>) {
    let base = v[0];
    v.push(neon_set::<false>(ty, base));
    if has_dotprod() {
        v.push(neon_set::<true>(ty, base));
    }
}

/// Safe entry points with the [`Kernels`] signatures. NEON is part of the
/// aarch64 baseline, so calling the `neon` kernels is always sound; the
/// `DOT = true` instances are installed only after dotprod was detected.
macro_rules! entry_dot {
    ($name:ident, $kernel:path) => {
        fn $name<const DOT: bool>(_n: usize, x: &[u8], y: &[u8]) -> f32 {
            // SAFETY: see the macro docs (NEON baseline; dotprod detected for DOT).
            unsafe { $kernel(as_blocks(x), as_blocks(y)) }
        }
    };
}
entry_dot!(dot_q4_0, legacy::vec_dot_q4_0_q8_0::<DOT>);
entry_dot!(dot_q4_1, legacy::vec_dot_q4_1_q8_1::<DOT>);
entry_dot!(dot_q5_0, legacy::vec_dot_q5_0_q8_0::<DOT>);
entry_dot!(dot_q5_1, legacy::vec_dot_q5_1_q8_1::<DOT>);
entry_dot!(dot_q8_0, legacy::vec_dot_q8_0_q8_0::<DOT>);
entry_dot!(dot_q8_1, legacy::vec_dot_q8_1_q8_1::<DOT>);
entry_dot!(dot_q8_k, kquants::vec_dot_q8_k_q8_k::<DOT>);
entry_dot!(dot_q2_k, kquants::vec_dot_q2_k_q8_k::<DOT>);
entry_dot!(dot_q3_k, kquants::vec_dot_q3_k_q8_k::<DOT>);
entry_dot!(dot_q4_k, kquants::vec_dot_q4_k_q8_k::<DOT>);
entry_dot!(dot_q5_k, kquants::vec_dot_q5_k_q8_k::<DOT>);
entry_dot!(dot_q6_k, kquants::vec_dot_q6_k_q8_k::<DOT>);

macro_rules! entry_raw {
    ($name:ident, $kernel:path, dot) => {
        fn $name(_n: usize, x: &[u8], y: &[u8]) -> f32 {
            // SAFETY: NEON is part of the aarch64 baseline.
            unsafe { $kernel(x, y) }
        }
    };
    ($name:ident, $kernel:path, quant) => {
        fn $name(src: &[f32], dst: &mut [u8]) {
            // SAFETY: NEON is part of the aarch64 baseline.
            unsafe { $kernel(src, as_blocks_mut(dst)) }
        }
    };
    ($name:ident, $kernel:path, rawquant) => {
        fn $name(src: &[f32], dst: &mut [u8]) {
            // SAFETY: NEON is part of the aarch64 baseline.
            unsafe { $kernel(src, dst) }
        }
    };
    ($name:ident, $kernel:path, dequant) => {
        fn $name(src: &[u8], dst: &mut [f32]) {
            // SAFETY: NEON is part of the aarch64 baseline.
            unsafe { $kernel(src, dst) }
        }
    };
}
entry_raw!(dot_f32, float::vec_dot_f32, dot);
entry_raw!(dot_f16, float::vec_dot_f16, dot);
entry_raw!(dot_bf16, float::vec_dot_bf16, dot);
entry_raw!(dequant_f16, float::dequantize_f16, dequant);
entry_raw!(quant_f16, float::quantize_f16, rawquant);
entry_raw!(dequant_bf16, float::dequantize_bf16, dequant);
entry_raw!(quant_q8_0, quantize::quantize_row_q8_0, quant);
entry_raw!(quant_q8_1, quantize::quantize_row_q8_1, quant);
entry_raw!(quant_q8_k, quantize::quantize_row_q8_k, quant);

fn neon_set<const DOT: bool>(ty: QuantType, base: Kernels) -> Kernels {
    let mut k = base;
    k.isa = if DOT { "neon+dotprod" } else { "neon" };
    // No NEON multi-token kernels yet: per-row NEON `vec_dot` beats the scalar twin.
    k.vec_dot_x4 = None;
    match ty {
        QuantType::F32 => k.vec_dot = dot_f32,
        QuantType::F16 => {
            k.vec_dot = dot_f16;
            k.dequantize_row = dequant_f16;
            k.quantize_row = quant_f16;
        }
        QuantType::BF16 => {
            k.vec_dot = dot_bf16;
            k.dequantize_row = dequant_bf16;
        }
        QuantType::Q4_0 => k.vec_dot = dot_q4_0::<DOT>,
        QuantType::Q4_1 => k.vec_dot = dot_q4_1::<DOT>,
        QuantType::Q5_0 => k.vec_dot = dot_q5_0::<DOT>,
        QuantType::Q5_1 => k.vec_dot = dot_q5_1::<DOT>,
        QuantType::Q8_0 => {
            k.vec_dot = dot_q8_0::<DOT>;
            k.quantize_row = quant_q8_0;
        }
        QuantType::Q8_1 => {
            k.vec_dot = dot_q8_1::<DOT>;
            k.quantize_row = quant_q8_1;
        }
        QuantType::Q8_K => {
            k.vec_dot = dot_q8_k::<DOT>;
            k.quantize_row = quant_q8_k;
        }
        QuantType::Q2_K => k.vec_dot = dot_q2_k::<DOT>,
        QuantType::Q3_K => k.vec_dot = dot_q3_k::<DOT>,
        QuantType::Q4_K => k.vec_dot = dot_q4_k::<DOT>,
        QuantType::Q5_K => k.vec_dot = dot_q5_k::<DOT>,
        QuantType::Q6_K => k.vec_dot = dot_q6_k::<DOT>,
    }
    k
}

// ---------------------------------------------------------------------------
// Helpers shared by the kernels.

/// Σ over groups of 4 of `a·b` (int8) added to `acc` (int32 lanes). With
/// `DOT` this is one `sdot`; the caller guarantees the CPU has dotprod.
#[target_feature(enable = "neon")]
#[inline]
fn dot16<const DOT: bool>(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    if DOT {
        let mut acc = acc;
        // SAFETY: pure register arithmetic; `DOT` kernels are installed only
        // after `is_aarch64_feature_detected!("dotprod")` returned true.
        unsafe {
            core::arch::asm!(
                ".arch_extension dotprod",
                "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
                acc = inout(vreg) acc,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack),
            );
        }
        acc
    } else {
        let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
        let hi = vmull_high_s8(a, b);
        vpadalq_s16(vpadalq_s16(acc, lo), hi)
    }
}

/// f16 (little-endian bytes) → f32 with one `fcvt`.
#[target_feature(enable = "neon")]
#[inline]
fn f16s(b: [u8; 2]) -> f32 {
    let h = u16::from_le_bytes(b);
    let out: f32;
    // SAFETY: pure register conversion (FCVT half → single is base ARMv8 FP).
    unsafe {
        core::arch::asm!("fcvt {o:s}, {i:h}", i = in(vreg) h, o = lateout(vreg) out, options(pure, nomem, nostack));
    }
    out
}

/// Loads 16 signed bytes from the start of `s`.
#[target_feature(enable = "neon")]
#[inline]
fn ld_s8(s: &[i8]) -> int8x16_t {
    assert!(s.len() >= 16);
    // SAFETY: 16 readable bytes; ld1 has no alignment requirement.
    unsafe { vld1q_s8(s.as_ptr()) }
}

/// Loads 16 bytes from the start of `s`.
#[target_feature(enable = "neon")]
#[inline]
fn ld_u8(s: &[u8]) -> uint8x16_t {
    assert!(s.len() >= 16);
    // SAFETY: 16 readable bytes; ld1 has no alignment requirement.
    unsafe { vld1q_u8(s.as_ptr()) }
}

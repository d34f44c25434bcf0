//! Q4_K: 256 weights in 8 groups of 32, `w = d·sc·q − dmin·m`, q ∈ 0..16, with
//! 6-bit group scales and mins. 144 bytes / 256 weights = 4.5 bits per weight.
//!
//! For each 64-weight chunk `c`, byte `32c + l` holds weight `64c + l` in its low
//! nibble (group `2c`) and weight `64c + 32 + l` in its high nibble (group `2c + 1`).

use super::block::Block;
use super::k_common::{make_qkx2_quants, pack_scale_min_k4, unpack_scale_min_k4};
use super::q8::BlockQ8K;
use super::util::{f16_to_f32, f32_to_f16, nearest_int, QK_K};

/// One Q4_K super-block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ4K {
    /// Super-block scale for the group scales (f16).
    pub d: [u8; 2],
    /// Super-block scale for the group mins (f16).
    pub dmin: [u8; 2],
    /// Eight 6-bit scales and eight 6-bit mins (see `k_common::get_scale_min_k4`).
    pub scales: [u8; 12],
    /// 4-bit quants (see module docs).
    pub qs: [u8; QK_K / 2],
}
const _: () = assert!(core::mem::size_of::<BlockQ4K>() == 144);
// SAFETY: repr(C), only u8 arrays, align 1, no padding, any bit pattern is valid.
unsafe impl Block for BlockQ4K {
    const QK: usize = QK_K;
}

/// The 4-bit quant of weight `i` (0..256).
#[inline(always)]
fn q4k_at(qs: &[u8; 128], i: usize) -> i32 {
    let (c, r) = (i / 64, i % 64);
    let b = qs[32 * c + r % 32];
    (if r < 32 { b & 0x0f } else { b >> 4 }) as i32
}

/// The 6-bit scale/min search shared by the Q4_K and Q5_K reference quantizers.
/// Fills `l` (quants), returns (scales, mins, d, dmin) as stored.
pub(crate) fn quantize_k_scales(
    x: &[f32],
    nmax: i32,
    rmin: f32,
    nstep: i32,
    l: &mut [u8; QK_K],
) -> ([u8; 12], [u8; 2], [u8; 2]) {
    let mut laux = [0u8; 32];
    let mut weights = [0f32; 32];
    let mut mins = [0f32; QK_K / 32];
    let mut scales = [0f32; QK_K / 32];
    let mut max_scale = 0f32;
    let mut max_min = 0f32;
    for j in 0..QK_K / 32 {
        let xg = &x[32 * j..32 * j + 32];
        let sum_x2: f32 = xg.iter().fold(0.0, |s, v| s + v * v);
        let av_x = (sum_x2 / 32.0).sqrt();
        for (w, v) in weights.iter_mut().zip(xg) {
            *w = av_x + v.abs();
        }
        scales[j] = make_qkx2_quants(
            nmax,
            xg,
            &weights,
            &mut l[32 * j..32 * j + 32],
            &mut mins[j],
            &mut laux,
            rmin,
            0.1,
            nstep,
            false,
        );
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut ls = [0u8; 8];
    let mut lm = [0u8; 8];
    for j in 0..QK_K / 32 {
        // C stores nearest_int into a uint8_t, then clamps to 63.
        ls[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        lm[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
    }
    let packed = pack_scale_min_k4(&ls, &lm);
    let d = f32_to_f16(max_scale / 63.0);
    let dmin = f32_to_f16(max_min / 63.0);
    // Requantize with the rounded scales.
    let (sc, m) = unpack_scale_min_k4(&packed);
    for j in 0..QK_K / 32 {
        let dd = f16_to_f32(d) * sc[j] as f32;
        if dd == 0.0 {
            continue;
        }
        let dm = f16_to_f32(dmin) * m[j] as f32;
        for ii in 0..32 {
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / dd).clamp(0, nmax) as u8;
        }
    }
    (packed, d, dmin)
}

/// ggml `quantize_row_q4_K_ref`.
pub fn quantize_row_q4_k_ref(x: &[f32], y: &mut [BlockQ4K]) {
    assert_eq!(x.len(), y.len() * QK_K);
    let mut l = [0u8; QK_K];
    for (x, yb) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let (scales, d, dmin) = quantize_k_scales(x, 15, -1.0, 20, &mut l);
        yb.scales = scales;
        yb.d = d;
        yb.dmin = dmin;
        for c in 0..QK_K / 64 {
            for i in 0..32 {
                yb.qs[32 * c + i] = l[64 * c + i] | (l[64 * c + 32 + i] << 4);
            }
        }
    }
}

/// Q4_K → f32.
pub fn dequantize_row_q4_k_ref(x: &[BlockQ4K], y: &mut [f32]) {
    assert_eq!(y.len(), x.len() * QK_K);
    for (xb, yb) in x.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(xb.d);
        let min = f16_to_f32(xb.dmin);
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        for j in 0..QK_K / 32 {
            let d1 = d * sc[j] as f32;
            let m1 = min * m[j] as f32;
            for ii in 0..32 {
                yb[32 * j + ii] = d1 * q4k_at(&xb.qs, 32 * j + ii) as f32 - m1;
            }
        }
    }
}

/// Σ x·y with y in Q8_K: `d·Σ sc·Σq·q8 − dmin·Σ m·(group sums of q8)` per block.
pub fn vec_dot_q4_k_q8_k_ref(x: &[BlockQ4K], y: &[BlockQ8K]) -> f32 {
    assert_eq!(x.len(), y.len());
    let mut sumf = 0f32;
    for (xb, yb) in x.iter().zip(y) {
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        let mut isum = 0i32;
        let mut summ = 0i32;
        for j in 0..QK_K / 32 {
            let mut s = 0i32;
            for ii in 0..32 {
                let i = 32 * j + ii;
                s += q4k_at(&xb.qs, i) * yb.qs[i] as i32;
            }
            isum += sc[j] as i32 * s;
            summ += m[j] as i32 * (yb.bsum(2 * j) as i32 + yb.bsum(2 * j + 1) as i32);
        }
        let d = yb.scale() * f16_to_f32(xb.d);
        let dmin = yb.scale() * f16_to_f32(xb.dmin);
        sumf += d * isum as f32 - dmin * summ as f32;
    }
    sumf
}

/// Σ x·y in the order of ggml's repacked Q4_K GEMV (`per_64 = false`) or
/// GEMM (`per_64 = true`) (`q4_K_8x8`, which llama.cpp uses on AVX2 CPUs for
/// every Q4_K matrix with a multiple of 8 rows; the GEMM serves groups of 4
/// tokens): the same integer sums as [`vec_dot_q4_k_q8_k_ref`], accumulated
/// per super-block (GEMV) or per 64 weights (GEMM) into two f32 sums,
/// `acc += isum·(d·d8)` and `accm += summ·(dmin·d8)` (fused), `acc − accm`
/// at the end.
pub fn vec_dot_q4_k_q8_k_interleaved_ref(x: &[BlockQ4K], y: &[BlockQ8K], per_64: bool) -> f32 {
    assert_eq!(x.len(), y.len());
    let (mut acc, mut accm) = (0f32, 0f32);
    for (xb, yb) in x.iter().zip(y) {
        let (sc, m) = unpack_scale_min_k4(&xb.scales);
        let d = f16_to_f32(xb.d) * yb.scale();
        let dmin = f16_to_f32(xb.dmin) * yb.scale();
        let mut isum = 0i32;
        let mut summ = 0i32;
        for j in 0..QK_K / 32 {
            let mut s = 0i32;
            for ii in 0..32 {
                let i = 32 * j + ii;
                s += q4k_at(&xb.qs, i) * yb.qs[i] as i32;
            }
            isum += sc[j] as i32 * s;
            summ += m[j] as i32 * (yb.bsum(2 * j) as i32 + yb.bsum(2 * j + 1) as i32);
            if per_64 && j % 2 == 1 {
                acc = (isum as f32).mul_add(d, acc);
                accm = (summ as f32).mul_add(dmin, accm);
                (isum, summ) = (0, 0);
            }
        }
        if !per_64 {
            acc = (isum as f32).mul_add(d, acc);
            accm = (summ as f32).mul_add(dmin, accm);
        }
    }
    acc - accm
}

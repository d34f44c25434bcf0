//! Multi-token dot products (`vec_dot_x4`): every kernel set's result for each
//! of the four activation rows is bit-identical to that set's single-row
//! `vec_dot` (the property that keeps results equal to llama.cpp's), and the
//! SIMD sets agree with the scalar twin.

mod quant_common;
use edgellm_kernels::quant::{
    kernel_variants, kernels, reference, vec_dot, vec_dot_x4, vec_dot_x4_with, QuantType,
};
use quant_common::*;

/// The types with multi-token kernels.
const X4_TYPES: [QuantType; 7] = [
    QuantType::Q4_0,
    QuantType::Q4_1,
    QuantType::Q5_0,
    QuantType::Q8_0,
    QuantType::Q4_K,
    QuantType::Q5_K,
    QuantType::Q6_K,
];

/// Weights of `n` values and four activation rows (one with ±large values to
/// saturate the int8 range) quantized to the vec_dot type.
fn operands(ty: QuantType, n: usize, seed: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut r = rng(seed);
    let xq = quantize_ref(ty, &gaussian(&mut r, n));
    let vt = ty.vec_dot_type();
    let ys = (0..4)
        .map(|t| {
            let a: Vec<f32> = if t == 3 {
                (0..n)
                    .map(|i| if i % 3 == 0 { -5.0 } else { 5.0 })
                    .collect()
            } else {
                gaussian(&mut r, n)
            };
            let mut q = vec![0u8; vt.row_bytes(n)];
            edgellm_kernels::quant::quantize_row(vt, &a, &mut q);
            q
        })
        .collect();
    (xq, ys)
}

fn four(ys: &[Vec<u8>]) -> [&[u8]; 4] {
    [&ys[0], &ys[1], &ys[2], &ys[3]]
}

#[test]
fn x4_bit_identical_to_vec_dot_per_variant() {
    for ty in QuantType::ALL.into_iter().filter(|t| t.is_quantized()) {
        for (seed, nb) in BLOCK_COUNTS.into_iter().enumerate() {
            let n = nb * ty.block_size();
            let (xq, ys) = operands(ty, n, 5000 + seed as u64);
            for k in kernel_variants(ty) {
                let got = vec_dot_x4_with(&k, n, &xq, four(&ys));
                for t in 0..4 {
                    let want = (k.vec_dot)(n, &xq, &ys[t]);
                    assert_eq!(
                        got[t].to_bits(),
                        want.to_bits(),
                        "{} x4 ({}) nb={nb} t={t}: {} vs vec_dot {}",
                        ty.name(),
                        k.isa,
                        got[t],
                        want
                    );
                }
            }
        }
    }
}

#[test]
fn x4_kernels_exist_where_expected() {
    for ty in X4_TYPES {
        assert!(
            kernel_variants(ty)[0].vec_dot_x4.is_some(),
            "{} has no scalar x4 twin",
            ty.name()
        );
        let best = kernels(ty);
        if best.isa == "avx2" {
            assert!(
                best.vec_dot_x4.is_some(),
                "{} has no AVX2 x4 kernel",
                ty.name()
            );
        }
    }
}

#[test]
fn x4_simd_matches_scalar_twin() {
    for ty in X4_TYPES {
        for (seed, nb) in BLOCK_COUNTS.into_iter().enumerate() {
            let n = nb * ty.block_size();
            let (xq, ys) = operands(ty, n, 7000 + seed as u64);
            let want = reference::vec_dot_x4_ref(ty, n, &xq, four(&ys));
            let variants = kernel_variants(ty);
            // The scalar set's x4 is exactly the reference per row.
            let scalar = vec_dot_x4_with(&variants[0], n, &xq, four(&ys));
            assert_eq!(scalar.map(f32::to_bits), want.map(f32::to_bits));
            let vt = ty.vec_dot_type();
            let xd = dequantize_ref(ty, &xq, n);
            for k in &variants[1..] {
                let got = vec_dot_x4_with(k, n, &xq, four(&ys));
                for t in 0..4 {
                    let scale = abs_dot(&xd, &dequantize_ref(vt, &ys[t], n));
                    let err = (got[t] as f64 - want[t] as f64).abs();
                    assert!(
                        err <= 1e-5 * scale + 1e-30,
                        "{} x4 ({}) nb={nb} t={t}: {} vs ref {} (err {err:e})",
                        ty.name(),
                        k.isa,
                        got[t],
                        want[t]
                    );
                }
            }
        }
    }
}

#[test]
fn dispatched_x4_equals_dispatched_vec_dot() {
    for ty in QuantType::ALL {
        let n = 5 * ty.block_size().max(32);
        let (xq, ys) = if ty.is_quantized() {
            operands(ty, n, 11)
        } else {
            let vt = ty.vec_dot_type();
            let mut r = rng(12);
            let xq = quantize_ref(ty, &gaussian(&mut r, n));
            let ys = (0..4)
                .map(|_| quantize_ref(vt, &gaussian(&mut r, n)))
                .collect();
            (xq, ys)
        };
        let got = vec_dot_x4(ty, n, &xq, four(&ys));
        for t in 0..4 {
            let want = vec_dot(ty, n, &xq, &ys[t]);
            assert_eq!(got[t].to_bits(), want.to_bits(), "{} t={t}", ty.name());
        }
    }
}

#[test]
#[should_panic(expected = "activation bytes")]
fn x4_rejects_short_activation_row() {
    let ty = QuantType::Q4_K;
    let n = 2 * 256;
    let (xq, ys) = operands(ty, n, 1);
    let short = &ys[2][..ys[2].len() - 1];
    vec_dot_x4(ty, n, &xq, [&ys[0], &ys[1], short, &ys[3]]);
}

/// Random raw Q4_K weight bytes (every scale/min/nibble pattern, finite f16
/// `d`/`dmin` of either sign) and four Q8_K rows with full-range int8 quants
/// (including −128) and consistent `bsums`.
fn raw_q4_k_operands(nb: usize, seed: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
    use rand::Rng;
    let mut r = rng(seed);
    let f16 = |r: &mut rand::rngs::StdRng| {
        // sign, exponent 1..=20 (finite, 2^-14 .. 2^5), any mantissa
        let e: u16 = r.gen_range(1..=20);
        let bits = (r.gen_range(0..2u16) << 15) | (e << 10) | r.gen_range(0..1024u16);
        bits.to_le_bytes()
    };
    let mut x = vec![0u8; nb * 144];
    for b in x.chunks_exact_mut(144) {
        r.fill(&mut b[4..]);
        b[0..2].copy_from_slice(&f16(&mut r));
        b[2..4].copy_from_slice(&f16(&mut r));
    }
    let ys = (0..4)
        .map(|_| {
            let mut y = vec![0u8; nb * 292];
            for b in y.chunks_exact_mut(292) {
                let d: f32 = r.gen_range(1e-4..1.0);
                b[0..4].copy_from_slice(&d.to_le_bytes());
                r.fill(&mut b[4..260]);
                for g in 0..16 {
                    let s: i16 = b[4 + 16 * g..4 + 16 * g + 16]
                        .iter()
                        .map(|&q| q as i8 as i16)
                        .sum();
                    b[260 + 2 * g..262 + 2 * g].copy_from_slice(&s.to_le_bytes());
                }
            }
            y
        })
        .collect();
    (x, ys)
}

/// The Q4_K one-row × four-token kernel in repacked (`q4_K_8x8`) GEMM order
/// (`kernels_for`'s `vec_dot_x4` for row counts that are multiples of 8):
/// each result bit-identical to the scalar GEMM-order reference on that row.
#[test]
fn q4_k_interleaved_gemm_x4_bit_identical_to_gemm_ref() {
    use edgellm_kernels::quant::{kernels_for, vec_dot_q4_k_interleaved_gemm_x4};
    let ty = QuantType::Q4_K;
    let table_x4 = kernels_for(ty, 16, 4).vec_dot_x4.expect("Q4_K GEMM x4");
    for (seed, nb) in [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33]
        .into_iter()
        .enumerate()
    {
        let n = nb * 256;
        for (kind, (xq, ys)) in [
            ("quantized", operands(ty, n, 9000 + seed as u64)),
            ("raw", raw_q4_k_operands(nb, 9500 + seed as u64)),
        ] {
            let got = vec_dot_q4_k_interleaved_gemm_x4(n, &xq, four(&ys));
            let via_table = table_x4(n, &xq, four(&ys));
            for t in 0..4 {
                let want = reference::vec_dot_q4_k_interleaved_gemm_ref(n, &xq, &ys[t]);
                assert_eq!(
                    got[t].to_bits(),
                    want.to_bits(),
                    "{kind} nb={nb} t={t}: {} vs ref {}",
                    got[t],
                    want
                );
                assert_eq!(
                    via_table[t].to_bits(),
                    want.to_bits(),
                    "{kind} nb={nb} t={t}"
                );
            }
        }
    }
}

/// Random raw Q6_K weight bytes (every quant/scale pattern, finite f16 `d` of
/// either sign) with the four Q8_K rows of [`raw_q4_k_operands`].
fn raw_q6_k_operands(nb: usize, seed: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
    use rand::Rng;
    let (_, ys) = raw_q4_k_operands(nb, seed);
    let mut r = rng(seed + 1);
    let mut x = vec![0u8; nb * 210];
    for b in x.chunks_exact_mut(210) {
        r.fill(&mut b[..208]);
        let e: u16 = r.gen_range(1..=20);
        let bits = (r.gen_range(0..2u16) << 15) | (e << 10) | r.gen_range(0..1024u16);
        b[208..].copy_from_slice(&bits.to_le_bytes());
    }
    (x, ys)
}

/// Q6_K in ggml's tiled-GEMM order (`kernels_for` with 8 or more tokens, on
/// x86 with AVX2): the one-token and the one-row × four-token SIMD kernels
/// are bit-identical to the scalar tiled-order reference, and close to the
/// usual order. Fewer than 8 tokens keep the usual kernels.
#[test]
fn q6_k_tiled_order_bit_identical_to_tiled_ref() {
    use edgellm_kernels::quant::{kernels_for, TILED_MIN_BATCH};
    let ty = QuantType::Q6_K;
    assert!(std::ptr::eq(
        kernels_for(ty, 16, TILED_MIN_BATCH - 1),
        kernels(ty)
    ));
    let k = kernels_for(ty, 16, TILED_MIN_BATCH);
    if std::ptr::eq(k, kernels(ty)) {
        // No tiled path on this CPU (ggml has none there either).
        assert!(!cfg!(target_arch = "x86_64") || kernels(ty).isa == "scalar");
        return;
    }
    assert_ne!(k.isa, "scalar");
    let variants = edgellm_kernels::quant::order_dot_variants();
    for (seed, nb) in BLOCK_COUNTS.into_iter().enumerate() {
        let n = nb * 256;
        for (kind, (xq, ys)) in [
            ("quantized", operands(ty, n, 9100 + seed as u64)),
            ("raw", raw_q6_k_operands(nb, 9600 + seed as u64)),
        ] {
            let x4 = (k.vec_dot_x4.expect("tiled x4"))(n, &xq, four(&ys));
            for t in 0..4 {
                let want = reference::vec_dot_q6_k_tiled_ref(n, &xq, &ys[t]);
                let one = (k.vec_dot)(n, &xq, &ys[t]);
                assert_eq!(one.to_bits(), want.to_bits(), "{kind} nb={nb} t={t}");
                assert_eq!(x4[t].to_bits(), want.to_bits(), "{kind} nb={nb} t={t} x4");
                for (isa, dots) in &variants {
                    let v = dots[2](n, &xq, &ys[t]);
                    assert_eq!(v.to_bits(), want.to_bits(), "{isa} {kind} nb={nb} t={t}");
                }
                if kind == "quantized" {
                    let usual = vec_dot(ty, n, &xq, &ys[t]);
                    assert!(
                        (usual - want).abs() <= 1e-5 * (usual.abs() + 1.0) * nb as f32,
                        "nb={nb} t={t}: tiled {want} vs usual {usual}"
                    );
                }
            }
        }
    }
}

/// Every four-row × four-token tile (`gemm_4x4`, where a kernel set has one)
/// is bit-identical to that set's `vec_dot` per (row, token), on the issue's
/// block counts, quantized and saturating activations.
#[test]
fn gemm_4x4_bit_identical_to_vec_dot_per_variant() {
    let mut tested = 0;
    for ty in QuantType::ALL.into_iter().filter(|t| t.is_quantized()) {
        for k in kernel_variants(ty) {
            let Some(g) = k.gemm_4x4 else { continue };
            tested += 1;
            for (seed, nb) in BLOCK_COUNTS.into_iter().enumerate() {
                let n = nb * ty.block_size();
                let (_, ys) = operands(ty, n, 7000 + seed as u64);
                let xs: Vec<Vec<u8>> = (0..4)
                    .map(|r| operands(ty, n, 7100 + 10 * seed as u64 + r).0)
                    .collect();
                let got = g(n, four(&xs), four(&ys));
                for (r, row) in got.iter().enumerate() {
                    for (t, v) in row.iter().enumerate() {
                        let want = (k.vec_dot)(n, &xs[r], &ys[t]);
                        assert_eq!(
                            v.to_bits(),
                            want.to_bits(),
                            "{ty:?} {} nb={nb} r={r} t={t}: {v} vs {want}",
                            k.isa
                        );
                    }
                }
            }
        }
    }
    eprintln!("{tested} gemm_4x4 kernel sets checked");
}

/// Every SIMD variant of the repacked-order Q4_K dots (GEMV and GEMM) is
/// bit-identical to its scalar twin, on quantized and raw operands.
#[test]
fn q4_k_order_dots_every_variant_bit_identical_to_ref() {
    let ty = QuantType::Q4_K;
    for (seed, nb) in BLOCK_COUNTS.into_iter().enumerate() {
        let n = nb * 256;
        for (xq, ys) in [
            operands(ty, n, 9300 + seed as u64),
            raw_q4_k_operands(nb, 9400 + seed as u64),
        ] {
            for y in &ys {
                let gemv = reference::vec_dot_q4_k_interleaved_ref(n, &xq, y);
                let gemm = reference::vec_dot_q4_k_interleaved_gemm_ref(n, &xq, y);
                for (isa, dots) in edgellm_kernels::quant::order_dot_variants() {
                    assert_eq!(
                        dots[0](n, &xq, y).to_bits(),
                        gemv.to_bits(),
                        "{isa} gemv nb={nb}"
                    );
                    assert_eq!(
                        dots[1](n, &xq, y).to_bits(),
                        gemm.to_bits(),
                        "{isa} gemm nb={nb}"
                    );
                }
            }
        }
    }
}

//! Every SIMD kernel available on this CPU equals the scalar reference:
//! quantizers byte for byte, dequantizers exactly, dot products within
//! 1e-5·Σ|x_i·y_i| (they differ only in float summation order).

mod quant_common;
use edgellm_kernels::quant::{kernel_variants, kernels, reference, simd_level, QuantType};
use quant_common::*;

#[test]
fn reports_simd_level() {
    let level = simd_level();
    assert!(!level.is_empty());
    eprintln!("simd level: {level}");
    for ty in QuantType::ALL {
        eprintln!("{:5} best = {}", ty.name(), kernels(ty).isa);
    }
}

/// Total values tested per type: full block-count list for the cheap types,
/// a shorter one for the slow K-quant reference quantizers in debug builds.
fn counts(ty: QuantType) -> Vec<usize> {
    let bs = ty.block_size();
    let mut v: Vec<usize> = BLOCK_COUNTS.to_vec();
    if bs == 1 {
        // Float types: element counts, including ones not divisible by 8 or 32.
        v = vec![
            1,
            2,
            3,
            5,
            7,
            8,
            15,
            16,
            17,
            31,
            33,
            63,
            127,
            255,
            1023,
            4096 + 13,
        ];
    }
    v.into_iter().map(|nb| nb * bs).collect()
}

#[test]
fn quantize_simd_is_bit_identical_to_ref() {
    for ty in QuantType::ALL {
        for (seed, n) in counts(ty).into_iter().enumerate() {
            let x = gaussian(&mut rng(seed as u64 + 1), n);
            let want = quantize_ref(ty, &x);
            for k in kernel_variants(ty) {
                let mut got = vec![0xAAu8; want.len()];
                (k.quantize_row)(&x, &mut got);
                assert!(
                    got == want,
                    "{} quantize ({}) differs from ref for n={n}",
                    ty.name(),
                    k.isa
                );
            }
        }
    }
}

#[test]
fn quantize_activation_types_bit_identical_on_edge_values() {
    // Ties (x·127/amax exactly k + 0.5), zeros, equal magnitudes of both signs.
    let mut cases: Vec<Vec<f32>> = Vec::new();
    let mut tie = vec![0f32; 256];
    for (i, v) in tie.iter_mut().enumerate() {
        *v = (i as f32 - 128.0 + 0.5) / 127.0;
    }
    tie[0] = 1.0;
    cases.push(tie);
    cases.push(vec![0.0; 256]);
    let mut sym = vec![0.25f32; 256];
    sym[3] = -2.0;
    sym[200] = 2.0;
    cases.push(sym.clone());
    sym[3] = 2.0;
    sym[200] = -2.0;
    cases.push(sym);
    let mut tiny = vec![1e-30f32; 256];
    tiny[7] = -3e-30;
    cases.push(tiny);
    for ty in [QuantType::Q8_0, QuantType::Q8_1, QuantType::Q8_K] {
        for x in &cases {
            let want = quantize_ref(ty, x);
            for k in kernel_variants(ty) {
                let mut got = vec![0u8; want.len()];
                (k.quantize_row)(x, &mut got);
                assert!(
                    got == want,
                    "{} quantize ({}) differs on an edge case",
                    ty.name(),
                    k.isa
                );
            }
        }
    }
}

#[test]
fn dequantize_simd_is_exact() {
    for ty in QuantType::ALL {
        for (seed, n) in counts(ty).into_iter().enumerate() {
            let x = gaussian(&mut rng(seed as u64 + 100), n);
            let q = quantize_ref(ty, &x);
            let want = dequantize_ref(ty, &q, n);
            for k in kernel_variants(ty) {
                let mut got = vec![f32::NAN; n];
                (k.dequantize_row)(&q, &mut got);
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{} dequantize ({}) not exact for n={n}",
                    ty.name(),
                    k.isa
                );
            }
        }
    }
}

#[test]
fn vec_dot_simd_matches_ref() {
    for ty in QuantType::ALL {
        let vt = ty.vec_dot_type();
        for (seed, n) in counts(ty).into_iter().enumerate() {
            let mut r = rng(seed as u64 + 1000);
            let w = gaussian(&mut r, n);
            let a = gaussian(&mut r, n);
            let xq = quantize_ref(ty, &w);
            let yq = quantize_ref(vt, &a);
            let xd = dequantize_ref(ty, &xq, n);
            let yd = dequantize_ref(vt, &yq, n);
            let scale = abs_dot(&xd, &yd);
            let want = reference::vec_dot_ref(ty, n, &xq, &yq);
            for k in kernel_variants(ty) {
                let got = (k.vec_dot)(n, &xq, &yq);
                let err = (got as f64 - want as f64).abs();
                assert!(
                    err <= 1e-5 * scale + 1e-30,
                    "{} vec_dot ({}) n={n}: {got} vs ref {want} (err {err:e}, scale {scale:e})",
                    ty.name(),
                    k.isa
                );
            }
        }
    }
}

#[test]
fn vec_dot_extreme_activations() {
    // Activations at ±127 everywhere stress the i16 intermediate sums of maddubs.
    for ty in QuantType::ALL.into_iter().filter(|t| t.is_quantized()) {
        let vt = ty.vec_dot_type();
        let n = 4 * ty.block_size().max(256);
        let w: Vec<f32> = (0..n)
            .map(|i| if i.is_multiple_of(3) { -1.0 } else { 0.97 })
            .collect();
        let a: Vec<f32> = (0..n)
            .map(|i| if i.is_multiple_of(2) { 5.0 } else { -5.0 })
            .collect();
        let xq = quantize_ref(ty, &w);
        let yq = quantize_ref(vt, &a);
        let want = reference::vec_dot_ref(ty, n, &xq, &yq);
        let scale = abs_dot(&dequantize_ref(ty, &xq, n), &dequantize_ref(vt, &yq, n));
        for k in kernel_variants(ty) {
            let got = (k.vec_dot)(n, &xq, &yq);
            assert!(
                (got as f64 - want as f64).abs() <= 1e-5 * scale,
                "{} ({}) extreme: {got} vs {want}",
                ty.name(),
                k.isa
            );
        }
    }
}

#[test]
fn dispatched_entry_points_match_ref() {
    // The public functions (with their length checks) route to the best kernels.
    use edgellm_kernels::quant::{dequantize_row, quantize_row, vec_dot};
    for ty in QuantType::ALL {
        let n = 3 * ty.block_size().max(32);
        let x = gaussian(&mut rng(7), n);
        let mut q = vec![0u8; ty.row_bytes(n)];
        quantize_row(ty, &x, &mut q);
        assert_eq!(q, quantize_ref(ty, &x), "{}", ty.name());
        let mut d = vec![0f32; n];
        dequantize_row(ty, &q, &mut d);
        assert_eq!(d, dequantize_ref(ty, &q, n), "{}", ty.name());
        let vt = ty.vec_dot_type();
        let yq = quantize_ref(vt, &x);
        let got = vec_dot(ty, n, &q, &yq);
        let want = reference::vec_dot_ref(ty, n, &q, &yq);
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
            "{}: {got} vs {want}",
            ty.name()
        );
    }
}

#[test]
#[should_panic]
fn vec_dot_rejects_wrong_activation_length() {
    use edgellm_kernels::quant::vec_dot;
    let ty = QuantType::Q4_0;
    let x = vec![0u8; ty.row_bytes(64)];
    let y = vec![0u8; QuantType::Q8_0.row_bytes(32)];
    vec_dot(ty, 64, &x, &y);
}

#[test]
fn q4_k_interleaved_dot_simd_is_bit_identical_to_ref_and_close_to_vec_dot() {
    use edgellm_kernels::quant::{
        kernels_for, quantize_row, vec_dot, vec_dot_q4_k_interleaved, vec_dot_q4_k_interleaved_gemm,
    };
    let ty = QuantType::Q4_K;
    assert!(std::ptr::eq(kernels_for(ty, 12, 4), kernels(ty)));
    for (seed, nb) in BLOCK_COUNTS.iter().enumerate() {
        let n = nb * 256;
        let w = quantize_ref(ty, &gaussian(&mut rng(seed as u64 + 100), n));
        let x = gaussian(&mut rng(seed as u64 + 200), n);
        let mut xq = vec![0u8; QuantType::Q8_K.row_bytes(n)];
        quantize_row(QuantType::Q8_K, &x, &mut xq);
        let want = reference::vec_dot_q4_k_interleaved_ref(n, &w, &xq);
        let got = vec_dot_q4_k_interleaved(n, &w, &xq);
        assert_eq!(got.to_bits(), want.to_bits(), "n={n}");
        let want_gemm = reference::vec_dot_q4_k_interleaved_gemm_ref(n, &w, &xq);
        let got_gemm = vec_dot_q4_k_interleaved_gemm(n, &w, &xq);
        assert_eq!(got_gemm.to_bits(), want_gemm.to_bits(), "gemm n={n}");
        let k = kernels_for(ty, 16, 4);
        assert_eq!((k.vec_dot)(n, &w, &xq).to_bits(), got.to_bits());
        let x4 = (k.vec_dot_x4.unwrap())(n, &w, [&xq, &xq, &xq, &xq]);
        assert!(x4.iter().all(|v| v.to_bits() == got_gemm.to_bits()));
        assert!((got_gemm - got).abs() <= 1e-5 * (got.abs() + 1.0) * *nb as f32);
        let usual = vec_dot(ty, n, &w, &xq);
        let scale = reference::vec_dot_ref(ty, n, &w, &xq).abs().max(1.0);
        assert!(
            (got - usual).abs() <= 1e-5 * scale * *nb as f32,
            "n={n}: {got} vs {usual}"
        );
    }
}

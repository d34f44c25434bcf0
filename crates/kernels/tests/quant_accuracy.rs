//! Quantization error budgets and the meaning of `vec_dot_ref`.
//!
//! Budgets are relative RMSE (rmse / rms of the input) on Gaussian weights
//! with 0.5 % ×8 outliers, set 15–30 % above what the ggml algorithms achieve, so a
//! layout or rounding bug (which costs far more) fails them.

mod quant_common;
use edgellm_kernels::quant::{quantize_row_weights, reference, QuantType};
use quant_common::*;

/// Relative RMSE budget of quantize → dequantize.
fn budget(ty: QuantType) -> f64 {
    match ty {
        QuantType::F32 => 0.0,
        QuantType::F16 => 0.00026,
        QuantType::BF16 => 0.0023,
        QuantType::Q8_0 | QuantType::Q8_1 => 0.0095,
        QuantType::Q8_K => 0.021,
        QuantType::Q4_0 => 0.14,
        QuantType::Q4_1 => 0.11,
        QuantType::Q5_0 => 0.072,
        QuantType::Q5_1 => 0.053,
        QuantType::Q2_K => 0.40,
        QuantType::Q3_K => 0.22,
        QuantType::Q4_K => 0.10,
        QuantType::Q5_K => 0.05,
        QuantType::Q6_K => 0.028,
    }
}

#[test]
fn quantization_error_within_budget() {
    let mut report = String::new();
    let mut over = Vec::new();
    for ty in QuantType::ALL {
        let n = 64 * 256;
        let x = gaussian(&mut rng(42), n);
        let q = quantize_ref(ty, &x);
        let y = dequantize_ref(ty, &q, n);
        let rel = rmse(&x, &y) / rms(&x);
        report += &format!(
            "{:5} rel rmse {rel:.5} (budget {})\n",
            ty.name(),
            budget(ty)
        );
        if rel > budget(ty) {
            over.push(ty.name());
        }
    }
    eprintln!("{report}");
    assert!(over.is_empty(), "over budget: {over:?}\n{report}");
}

#[test]
fn quantization_error_on_odd_block_counts() {
    // The same budgets hold for every block count (tails quantize like the rest).
    for ty in QuantType::ALL.into_iter().filter(|t| t.is_quantized()) {
        for (seed, nb) in BLOCK_COUNTS.into_iter().enumerate() {
            let n = nb * ty.block_size();
            let x = gaussian(&mut rng(seed as u64 + 9), n);
            let y = dequantize_ref(ty, &quantize_ref(ty, &x), n);
            let rel = rmse(&x, &y) / rms(&x);
            // Small samples fluctuate; allow 2× the budget below 256 values.
            let b = if n < 256 {
                2.0 * budget(ty)
            } else {
                1.2 * budget(ty)
            };
            assert!(
                rel <= b,
                "{} nb={nb}: relative rmse {rel} over {b}",
                ty.name()
            );
        }
    }
}

#[test]
fn zeros_quantize_to_zeros() {
    for ty in QuantType::ALL {
        let n = 2 * ty.block_size().max(32);
        let x = vec![0f32; n];
        let y = dequantize_ref(ty, &quantize_ref(ty, &x), n);
        assert!(y.iter().all(|v| *v == 0.0), "{}: {:?}", ty.name(), &y[..4]);
    }
}

#[test]
fn constant_rows_survive() {
    // A constant row is exactly representable by every type with a min or symmetric scale.
    for ty in QuantType::ALL {
        let n = ty.block_size().max(32) * 2;
        for c in [1.0f32, -0.75, 3.5] {
            let x = vec![c; n];
            let y = dequantize_ref(ty, &quantize_ref(ty, &x), n);
            let err = rmse(&x, &y) / c.abs() as f64;
            assert!(
                err < 0.02,
                "{} const {c}: rel err {err}, first {}",
                ty.name(),
                y[0]
            );
        }
    }
}

#[test]
fn vec_dot_ref_is_the_dot_of_dequantized_values() {
    // vec_dot_ref(x, y) == Σ dequant(x)·dequant(y) up to f32 rounding of the per-block terms.
    for ty in QuantType::ALL {
        let vt = ty.vec_dot_type();
        for (seed, nb) in [1usize, 3, 17, 64].into_iter().enumerate() {
            let n = nb * ty.block_size().max(32);
            let mut r = rng(seed as u64 + 77);
            let w = gaussian(&mut r, n);
            let a = gaussian(&mut r, n);
            let xq = quantize_ref(ty, &w);
            let yq = quantize_ref(vt, &a);
            let xd = dequantize_ref(ty, &xq, n);
            let yd = dequantize_ref(vt, &yq, n);
            let exact = dot_f64(&xd, &yd);
            let got = reference::vec_dot_ref(ty, n, &xq, &yq) as f64;
            let mut tol = 2e-6 * abs_dot(&xd, &yd) + 1e-6;
            if vt == QuantType::Q8_1 {
                // The min term uses s = d·Σq stored as f16 (as ggml does): add its rounding.
                tol += min_term_rounding(ty, &xq, &yq);
            }
            assert!(
                (got - exact).abs() <= tol,
                "{} n={n}: {got} vs {exact}",
                ty.name()
            );
            // And the quantized dot approximates the float dot within the type's precision.
            let float_dot = dot_f64(&w, &a);
            let rel = (got - float_dot).abs() / (rms(&w) * rms(&a) * (n as f64).sqrt());
            let b = 4.0 * (budget(ty) + budget(vt)) + 1e-6;
            assert!(rel <= b, "{} n={n}: dot error {rel} over {b}", ty.name());
        }
    }
}

#[test]
fn weight_quantizer_of_q8_uses_round_half_away() {
    // 0.5 ulp ties: the file quantizer (ggml `_ref`) rounds away from zero, the
    // activation quantizer (ggml x86 CPU path) to even.
    let mut x = vec![0f32; 32];
    x[0] = 127.0; // amax = 127 → id = 1, so x[i] quantizes to round(x[i])
    x[1] = 2.5;
    x[2] = -3.5;
    x[3] = 0.5;
    for ty in [QuantType::Q8_0, QuantType::Q8_1] {
        let off = if ty == QuantType::Q8_0 { 2 } else { 4 };
        let mut w = vec![0u8; ty.row_bytes(32)];
        quantize_row_weights(ty, &x, &mut w);
        assert_eq!(
            &w[off..off + 4],
            &[127, 3, (-4i8) as u8, 1],
            "{} weights",
            ty.name()
        );
        let a = quantize_ref(ty, &x);
        assert_eq!(
            &a[off..off + 4],
            &[127, 2, (-4i8) as u8, 0],
            "{} activations",
            ty.name()
        );
    }
}

/// Σ_blocks |m|·|s|·2⁻¹¹: the f16 rounding of Q8_1's `s` as seen through the min term.
fn min_term_rounding(ty: QuantType, xq: &[u8], yq: &[u8]) -> f64 {
    let f16 = |b: &[u8]| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f64();
    let xs = ty.type_size();
    xq.chunks_exact(xs)
        .zip(yq.chunks_exact(36))
        .map(|(xb, yb)| (f16(&xb[2..4]) * f16(&yb[2..4])).abs() * (1.0 / 2048.0))
        .sum()
}

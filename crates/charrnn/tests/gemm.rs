//! The hand-written GEMM against a naive f64 triple loop: both kernels,
//! every transpose combination, odd shapes, accumulation, thread counts.

use edgellm_charrnn::gemm::{gemm, gemm_naive, gemm_packed, Ctx, Kernel, MatRef, PackedB};
use edgellm_charrnn::rng::Rng;

fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

fn kernels() -> Vec<Kernel> {
    [Kernel::Scalar, Kernel::Avx2]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

/// `(m, k, n)` shape, `(transpose A, transpose B, accumulate)` flags.
fn check(
    ctx: &Ctx,
    (m, k, n): (usize, usize, usize),
    (ta, tb, acc): (bool, bool, bool),
    rng: &mut Rng,
) {
    let a_store = random(m * k, rng);
    let b_store = random(k * n, rng);
    let a = if ta {
        MatRef::new(&a_store, k, m).t()
    } else {
        MatRef::new(&a_store, m, k)
    };
    let b = if tb {
        MatRef::new(&b_store, n, k).t()
    } else {
        MatRef::new(&b_store, k, n)
    };
    let ldc = n + 3;
    let c0 = random(m * ldc, rng);
    let mut want = c0.clone();
    gemm_naive(a, b, &mut want, ldc, acc);
    let mut got = c0.clone();
    gemm(ctx, a, b, &mut got, ldc, acc, &mut PackedB::new());
    for i in 0..m {
        for j in 0..ldc {
            let (g, w) = (got[i * ldc + j], want[i * ldc + j]);
            if j >= n {
                assert_eq!(g.to_bits(), c0[i * ldc + j].to_bits(), "padding written");
                continue;
            }
            let tol = 1e-5 * (k as f32).sqrt() * 4.0 + 1e-6;
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{:?} m{m} k{k} n{n} ta{ta} tb{tb} acc{acc} at ({i},{j}): {g} vs {w}",
                ctx.kernel
            );
        }
    }
}

#[test]
fn gemm_matches_naive_on_odd_shapes() {
    let mut rng = Rng::new(7);
    let dims = [1, 2, 5, 6, 7, 15, 16, 17, 31, 33, 97];
    for kernel in kernels() {
        for threads in [1, 2, 3] {
            let ctx = Ctx::with_kernel(threads, kernel);
            for (i, &m) in dims.iter().enumerate() {
                let n = dims[(i * 3 + 2) % dims.len()];
                let k = dims[(i * 5 + 1) % dims.len()];
                for (ta, tb, acc) in [
                    (false, false, false),
                    (true, false, true),
                    (false, true, false),
                    (true, true, true),
                ] {
                    check(&ctx, (m, k, n), (ta, tb, acc), &mut rng);
                }
            }
            // Crossing the KC, MC and NC block sizes.
            check(&ctx, (200, 300, 1100), (false, false, true), &mut rng);
            check(&ctx, (13, 600, 40), (true, true, false), &mut rng);
        }
    }
}

#[test]
fn simd_kernel_matches_scalar_kernel() {
    if !Kernel::Avx2.is_available() {
        return;
    }
    let mut rng = Rng::new(3);
    for (m, k, n) in [(1, 1, 1), (7, 33, 17), (64, 255, 127), (95, 513, 63)] {
        let a = random(m * k, &mut rng);
        let b = random(k * n, &mut rng);
        let mut out = Vec::new();
        for kernel in [Kernel::Scalar, Kernel::Avx2] {
            let ctx = Ctx::with_kernel(2, kernel);
            let mut c = vec![0f32; m * n];
            gemm(
                &ctx,
                MatRef::new(&a, m, k),
                MatRef::new(&b, k, n),
                &mut c,
                n,
                false,
                &mut PackedB::new(),
            );
            out.push(c);
        }
        let max_err = out[0]
            .iter()
            .zip(&out[1])
            .map(|(x, y)| (x - y).abs() / (1.0 + x.abs()))
            .fold(0f32, f32::max);
        assert!(max_err < 1e-4, "{m}x{k}x{n}: {max_err}");
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = Rng::new(11);
    let (m, k, n) = (70, 300, 90);
    let a = random(m * k, &mut rng);
    let b = random(k * n, &mut rng);
    let mut outs = Vec::new();
    for threads in [1, 2, 3, 4] {
        let ctx = Ctx::new(threads);
        let mut packed = PackedB::new();
        packed.pack(&ctx, MatRef::new(&b, k, n));
        let mut c = vec![0f32; m * n];
        gemm_packed(&ctx, MatRef::new(&a, m, k), &packed, &mut c, n, false);
        outs.push(c);
    }
    for o in &outs[1..] {
        assert!(o
            .iter()
            .zip(&outs[0])
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
